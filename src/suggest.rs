//! "Did you mean …?": the known name nearest a mistyped one, by edit distance
//! (Levenshtein, ignoring case), for the messages of the model file and the command line.

/// The candidate nearest `name`, where it is near enough to be a slip of the keyboard:
/// at most one edit for names of up to 4 characters, two up to 8, three beyond. Ties go
/// to the first candidate; the name itself is no suggestion, but the same name in another
/// case is.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = match name.chars().count() {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let d = distance(name, candidate);
        if candidate != name && d <= allowed && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Edits (insertions, deletions, substitutions) from `a` to `b`, ignoring case.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.to_lowercase().chars().collect(), b.to_lowercase().chars().collect());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb)).min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_the_name_and_strangers_find_none() {
        let fields = ["name", "size", "model", "parameters", "initial", "noise_std"];
        assert_eq!(nearest("sise", fields), Some("size"));
        assert_eq!(nearest("Size", fields), Some("size"));
        assert_eq!(nearest("size", fields), None, "a known name is no typo");
        assert_eq!(nearest("paramters", fields), Some("parameters"));
        assert_eq!(nearest("noise_sd", fields), Some("noise_std"));
        assert_eq!(nearest("tau", fields), None);
        assert_eq!(nearest("excitatory", ["exc", "inh"]), None);
        assert_eq!(nearest("ihn", ["exc", "inh"]), None, "two edits are too many for three letters");
        assert_eq!(nearest("inhh", ["exc", "inh"]), Some("inh"));
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }
}

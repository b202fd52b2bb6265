//! `--set path=value`: replaces one value of a model file before it is read, so that a
//! job script can scale a network without a copy of its model file
//! (`--set population.exc.size=80000`, `--set simulation.seed=3`,
//! `--set projection.0.weight="0.5*u"`). Arrays of tables are indexed by position or,
//! where the tables have a `name`, by name. The edited text keeps the file's layout.
//!
//! The command-line flags that replace model-file values (`--seed`, `--duration`,
//! `--out`) are applied the same way, so that every value goes through the model file's
//! own validation. Each replacement remembers where its value lies in the edited text:
//! an error there names the replacement (`--set simulation.dt=0: ...`), not a line of
//! the file that holds a valid value.

use crate::error::{Error, Result};
use std::ops::Range;
use toml_edit::{DocumentMut, Item, Table, Value};

/// One replacement of a model-file value from the command line.
#[derive(Clone, Debug)]
pub struct Replacement {
    /// How the user wrote it: `--set simulation.dt=0`, `--duration -5ms`.
    pub label: String,
    /// The dotted path of the value (`simulation.dt`).
    pub path: String,
    /// The value as TOML.
    pub value: Value,
}

impl Replacement {
    /// `--set path=value`: a value that is not TOML (a bare word) is taken as a string.
    pub fn from_set(set: &str) -> Result<Replacement> {
        Replacement::from_set_by(set, "--set")
    }

    /// `path=value` given by `flag`, which its errors name (`--set`, or Python's `set`).
    pub fn from_set_by(set: &str, flag: &str) -> Result<Replacement> {
        let (path, raw) = set.split_once('=').ok_or_else(|| Error::Option {
            option: format!("{flag} {set}"),
            message: "expected path=value, e.g. population.exc.size=80000".into(),
        })?;
        let value: Value = raw.trim().parse().unwrap_or_else(|_| Value::from(raw.trim()));
        Ok(Replacement { label: format!("{flag} {set}"), path: path.trim().to_string(), value })
    }

    /// A flag that replaces the value at `path` with the string `text` (`--duration`).
    pub fn flag_text(flag: &str, path: &str, text: &str) -> Replacement {
        Replacement { label: format!("{flag} {text}"), path: path.into(), value: Value::from(text) }
    }
}

/// The edited text and, for each replacement, its label and dotted path; where each lies
/// in the text (the byte range of its key and value) is found when an error asks, so
/// that a model of many listed synapses is not parsed once more for nothing.
pub struct Edited {
    pub text: String,
    replaced: Vec<(String, String)>,
    spans: std::cell::OnceCell<Vec<(String, Range<usize>)>>,
}

impl Edited {
    /// A text no replacement edited.
    pub fn unchanged(text: &str) -> Edited {
        Edited { text: text.to_string(), replaced: Vec::new(), spans: std::cell::OnceCell::new() }
    }

    /// The replacement whose key or value covers `offset`, if any.
    pub fn replacement_at(&self, offset: usize) -> Option<&str> {
        self.spans().iter().rev().find(|(_, span)| span.contains(&offset)).map(|(label, _)| label.as_str())
    }

    /// Each replacement's label and range in the text (the text read back with positions).
    fn spans(&self) -> &[(String, Range<usize>)] {
        self.spans.get_or_init(|| {
            if self.replaced.is_empty() {
                return Vec::new();
            }
            let Ok(located) = toml_edit::Document::parse(self.text.as_str()) else { return Vec::new() };
            self.replaced
                .iter()
                .filter_map(|(label, path)| {
                    let keys: Vec<&str> = path.split('.').map(str::trim).collect();
                    Some((label.clone(), span_of(located.as_table(), &keys)?))
                })
                .collect()
        })
    }
}

/// Applies each replacement to the model-file text.
pub fn apply(text: &str, file: &str, replacements: &[Replacement]) -> Result<Edited> {
    if replacements.is_empty() {
        return Ok(Edited::unchanged(text));
    }
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| Error::Model {
        file: file.to_string(),
        location: String::new(),
        field: "model file".into(),
        message: e.message().to_string(),
    })?;
    for r in replacements {
        let keys: Vec<&str> = r.path.split('.').map(str::trim).collect();
        // [output] is optional in a model file: a replacement inside it creates it.
        if keys.len() > 1 && keys[0] == "output" && !doc.contains_key("output") {
            doc.insert("output", Item::Table(Table::new()));
        }
        set_in(doc.as_table_mut(), &keys, r.value.clone()).map_err(|m| Error::Option { option: r.label.clone(), message: m })?;
    }
    let replaced = replacements.iter().map(|r| (r.label.clone(), r.path.clone())).collect();
    Ok(Edited { text: doc.to_string(), replaced, spans: std::cell::OnceCell::new() })
}

/// Index of the table of an array named by position or by its `name` key.
fn index_in(array: &toml_edit::ArrayOfTables, key: &str, which: &str) -> std::result::Result<usize, String> {
    match which.parse::<usize>() {
        Ok(i) if i < array.len() => Ok(i),
        Ok(_) => Err(format!("there are only {} [[{key}]] tables", array.len())),
        Err(_) => {
            let names: Vec<&str> = array.iter().filter_map(|t| t.get("name").and_then(|n| n.as_str())).collect();
            array.iter().position(|t| t.get("name").and_then(|n| n.as_str()) == Some(which)).ok_or_else(|| {
                let listed = names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
                match crate::suggest::nearest(which, names.iter().copied()) {
                    Some(near) => format!("no [[{key}]] named '{which}': did you mean '{near}'? (the names are {listed})"),
                    None if names.is_empty() => {
                        format!("no [[{key}]] named '{which}': its tables have no names; name one by its index, e.g. {key}.0")
                    }
                    None => format!("no [[{key}]] named '{which}': the names are {listed}, or an index from 0"),
                }
            })
        }
    }
}

fn set_in(table: &mut Table, keys: &[&str], value: Value) -> std::result::Result<(), String> {
    let key = keys[0];
    if key.is_empty() {
        return Err("expected a dotted path of names, e.g. population.exc.size".into());
    }
    if keys.len() == 1 {
        if matches!(table.get(key), Some(Item::Table(_) | Item::ArrayOfTables(_))) {
            return Err("the path names a whole table, not a value".into());
        }
        table.insert(key, Item::Value(value));
        return Ok(());
    }
    match table.get_mut(key) {
        Some(Item::Table(inner)) => set_in(inner, &keys[1..], value),
        Some(Item::ArrayOfTables(array)) => {
            let index = index_in(array, key, keys[1])?;
            let inner = array.get_mut(index).expect("index checked");
            if keys.len() == 2 {
                return Err("the path names a whole table, not a value".into());
            }
            set_in(inner, &keys[2..], value)
        }
        Some(Item::Value(Value::InlineTable(inline))) if keys.len() == 2 => {
            inline.insert(keys[1], value);
            Ok(())
        }
        Some(_) => Err(format!("'{key}' is not a table")),
        None => match key.strip_suffix(']').and_then(|k| k.split_once('[')) {
            // `weights[0]`: the index is a key of its own in the path.
            Some((name, index)) if matches!(table.get(name), Some(Item::ArrayOfTables(_))) => {
                Err(format!("no table '{key}' in the model file: name a table of [[{name}]] as {name}.{index}"))
            }
            _ => Err(format!("no table '{key}' in the model file")),
        },
    }
}

/// The byte range from the key to the end of the value at `keys`, in a parsed document.
fn span_of(table: &Table, keys: &[&str]) -> Option<Range<usize>> {
    let key = keys[0];
    if keys.len() == 1 {
        let value = table.get(key)?.span()?;
        let start = table.key(key).and_then(|k| k.span()).map_or(value.start, |k| k.start.min(value.start));
        return Some(start..value.end);
    }
    match table.get(key)? {
        Item::Table(inner) => span_of(inner, &keys[1..]),
        Item::ArrayOfTables(array) => span_of(array.get(index_in(array, key, keys[1]).ok()?)?, &keys[2..]),
        Item::Value(Value::InlineTable(inline)) if keys.len() == 2 => {
            let value = inline.get(keys[1])?.span()?;
            let start = inline.key(keys[1]).and_then(|k| k.span()).map_or(value.start, |k| k.start.min(value.start));
            Some(start..value.end)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[simulation]\nseed = 1\n\n[[population]]\nname = \"exc\"\nsize = 800\n\n[[population]]\nname = \"inh\"\nsize = 200\n[[projection]]\nconnection = { rule = \"fixed_indegree\", k = 800 }\n";

    fn set(sets: &[&str]) -> std::result::Result<Edited, String> {
        let r: Vec<Replacement> = sets.iter().map(|s| Replacement::from_set(s)).collect::<Result<_>>().map_err(|e| e.to_string())?;
        apply(TEXT, "m.toml", &r).map_err(|e| e.to_string())
    }

    #[test]
    fn sets_by_name_index_and_inline_table() {
        let out =
            set(&["population.inh.size=50", "population.0.size=80000", "simulation.seed=7", "projection.0.connection.k=100"]).unwrap();
        let text = &out.text;
        assert!(
            text.contains("size = 80000") && text.contains("size = 50") && text.contains("seed = 7") && text.contains("k = 100"),
            "{text}"
        );
        // Layout kept: the line count is unchanged.
        assert_eq!(text.lines().count(), TEXT.lines().count());
        // Each replacement knows where its value is.
        let at = |needle: &str| out.replacement_at(text.find(needle).unwrap() + needle.len() - 1);
        assert_eq!(at("size = 50"), Some("--set population.inh.size=50"));
        assert_eq!(at("seed = 7"), Some("--set simulation.seed=7"));
        assert_eq!(at("k = 100"), Some("--set projection.0.connection.k=100"));
        assert_eq!(at("name = \"exc\""), None);
    }

    #[test]
    fn bad_paths_are_errors() {
        let err = |s: &str| set(&[s]).err().unwrap();
        assert_eq!(
            err("population.gaba.size=5"),
            "--set population.gaba.size=5: no [[population]] named 'gaba': the names are 'exc', 'inh', or an index from 0"
        );
        assert_eq!(err("population.inhh.size=5").split(": ").nth(2), Some("did you mean 'inh'? (the names are 'exc', 'inh')"));
        assert_eq!(err("population.9.size=5"), "--set population.9.size=5: there are only 2 [[population]] tables");
        assert_eq!(err("nothing.x=5"), "--set nothing.x=5: no table 'nothing' in the model file");
        assert_eq!(
            err("population[1].size=5"),
            "--set population[1].size=5: no table 'population[1]' in the model file: name a table of [[population]] as population.1"
        );
        assert_eq!(err("simulation.seed"), "--set simulation.seed: expected path=value, e.g. population.exc.size=80000");
        assert_eq!(err("simulation=5"), "--set simulation=5: the path names a whole table, not a value");
    }
}

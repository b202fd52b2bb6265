//! TOML's own errors (syntax, and values of the wrong type for the schema) said in the
//! model file's terms: the field as the other errors name it (`population[1].size`, not
//! `population.size`), and what was expected in words (`an integer`, not `i64`).

use std::ops::Range;

/// The field of the key on the line where a TOML error starts (best effort): the key,
/// prefixed by the table it sits in, with the entry's index where that table is an entry
/// of an array of tables (`[[population]]`). A `[name]` header where `name` must be an
/// array of tables is the field `name` itself.
pub(super) fn field_at(text: &str, span: Option<Range<usize>>) -> Option<String> {
    let (line_start, line) = line_at(text, span?);
    let above = &text[..line_start];
    if let Some(name) = single_table_header(line) {
        return Some(in_arrays(above, name));
    }
    // A `[[name]]` header: the entry it opens (a field missing from it is reported here).
    if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()).map(str::trim) {
        return Some(format!("{name}[{}]", array_entries(above, name)));
    }
    let key = line.split('=').next()?.trim();
    if key.is_empty() || !line.contains('=') || key.starts_with('[') {
        return None;
    }
    // The table the key sits in: the nearest header above it.
    let Some(header) = above.lines().rev().map(str::trim).find(|l| l.starts_with('[')) else {
        return Some(key.to_string());
    };
    let table = header.trim_matches(|c| c == '[' || c == ']').trim();
    Some(format!("{}.{key}", in_arrays(above, table)))
}

/// `table` (a dotted name) with the entry's index where it lies in an array of tables:
/// the longest prefix of its name with `[[…]]` headers above (`population.parameters`
/// below the second `[[population]]`: population[1].parameters; `output.report` below
/// `[[output.report]]` headers: output.report[i]), its index from their count.
fn in_arrays(above: &str, table: &str) -> String {
    let mut prefixes: Vec<&str> = table.match_indices('.').map(|(i, _)| &table[..i]).collect();
    prefixes.push(table);
    for array in prefixes.into_iter().rev() {
        let entries = array_entries(above, array);
        if entries > 0 {
            return format!("{array}[{}]{}", entries - 1, &table[array.len()..]);
        }
    }
    table.to_string()
}

/// How many `[[array]]` headers `above` holds.
fn array_entries(above: &str, array: &str) -> usize {
    above
        .lines()
        .map(str::trim)
        .filter(|l| l.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")).is_some_and(|h| h.trim() == array))
        .count()
}

/// Where the line holding `span`'s start begins, and the line, trimmed.
fn line_at(text: &str, span: Range<usize>) -> (usize, &str) {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    (line_start, text[line_start..].lines().next().unwrap_or("").trim())
}

/// `name` of a `[name]` or `[a.name]` header (one table, not `[[name]]`).
fn single_table_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix('[')?.split(']').next()?;
    (!line.starts_with("[[")).then(|| inner.trim())
}

/// serde's message for a value of the wrong type, in the model file's words:
/// "invalid type: string \"ten\", expected i64" → "expected an integer, got \"ten\"".
/// Other messages pass unchanged (TOML syntax errors are already plain).
/// `header` names the table of a `[name]` header the error is at.
pub(super) fn plain_message(message: &str, header: Option<&str>) -> String {
    if message.starts_with("data did not match any variant of untagged enum ParameterValue") {
        return "expected a number, a string or a list of numbers (one per neuron)".to_string();
    }
    if message.starts_with("data did not match any variant of untagged enum") {
        return "expected a number or a string".to_string();
    }
    if let Some(hint) = unknown_name_hint(message) {
        return hint;
    }
    let Some(rest) = message.strip_prefix("invalid type: ") else {
        return message.to_string();
    };
    let Some((got, expected)) = rest.rsplit_once(", expected ") else {
        return message.to_string();
    };
    // An integer beyond i64 (TOML's range): "integer `18446744073709551616` as i128".
    if let Some(number) = rest.strip_prefix("integer `").and_then(|r| r.split_once("` as i128")).map(|(n, _)| n) {
        return format!("expected an integer from -2^63 to 2^63 - 1 (TOML's), got {number}");
    }
    if let (Some(name), "a sequence") = (header, expected) {
        return format!("expected [[{name}]] tables, one per entry, got a single [{name}] table");
    }
    let expected = match expected {
        "i64" | "i32" | "u64" | "u32" | "usize" | "u16" | "u8" => "an integer",
        "f64" | "f32" => "a number",
        "a sequence" => "an array",
        "a map" | "struct" => "a table",
        other => other,
    };
    let got = match got {
        "map" => "a table".to_string(),
        "sequence" => "an array".to_string(),
        g => {
            // `floating point `2.5``, `integer `3``, `boolean `true``, `string "ten"`.
            let value = g.split_once(' ').map_or(g, |(kind, v)| if kind == "floating" { v.trim_start_matches("point ") } else { v });
            value.trim_matches('`').to_string()
        }
    };
    format!("expected {expected}, got {got}")
}

/// serde's "unknown field `sise`, expected one of `name`, `size`, …" (or variant), with
/// the nearest known name first where one is near: "unknown field `sise`: did you mean
/// `size`? (expected one of …)".
fn unknown_name_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("unknown variant `"))?;
    let (name, expected) = rest.split_once("`, ")?;
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let near = crate::suggest::nearest(name, known.iter().copied())?;
    let what = &message[..message.find('`')?];
    Some(format!("{what}`{name}`: did you mean `{near}`? ({expected})"))
}

/// Whether the error's line is a `[name]` header.
pub(super) fn at_table_header(text: &str, span: Option<Range<usize>>) -> bool {
    span.is_some_and(|span| single_table_header(line_at(text, span).1).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_types_are_said_in_words() {
        for (serde, plain) in [
            ("invalid type: string \"ten\", expected i64", "expected an integer, got \"ten\""),
            ("invalid type: floating point `10.5`, expected i64", "expected an integer, got 10.5"),
            ("invalid type: boolean `true`, expected u64", "expected an integer, got true"),
            ("invalid type: string \"8 Hz\", expected f64", "expected a number, got \"8 Hz\""),
            ("invalid type: integer `5`, expected a string", "expected a string, got 5"),
            (
                "invalid type: integer `18446744073709551616` as i128, expected any valid TOML value",
                "expected an integer from -2^63 to 2^63 - 1 (TOML's), got 18446744073709551616",
            ),
            ("invalid type: sequence, expected a string", "expected a string, got an array"),
            ("data did not match any variant of untagged enum Value", "expected a number or a string"),
            (
                "data did not match any variant of untagged enum ParameterValue",
                "expected a number, a string or a list of numbers (one per neuron)",
            ),
            ("invalid TOML value, did you mean to use a quoted string?", "invalid TOML value, did you mean to use a quoted string?"),
            (
                "unknown field `sise`, expected one of `name`, `size`, `model`",
                "unknown field `sise`: did you mean `size`? (expected one of `name`, `size`, `model`)",
            ),
            ("unknown field `tau`, expected one of `name`, `size`", "unknown field `tau`, expected one of `name`, `size`"),
            (
                "unknown variant `izhikevic`, expected one of `izhikevich`, `hh`",
                "unknown variant `izhikevic`: did you mean `izhikevich`? (expected one of `izhikevich`, `hh`)",
            ),
            (
                "unknown variant `exakt`, expected `exact` or `compact`",
                "unknown variant `exakt`: did you mean `exact`? (expected `exact` or `compact`)",
            ),
        ] {
            assert_eq!(plain_message(serde, None), plain, "{serde}");
        }
        assert_eq!(
            plain_message("invalid type: map, expected a sequence", Some("stimulus")),
            "expected [[stimulus]] tables, one per entry, got a single [stimulus] table"
        );
    }

    #[test]
    fn fields_carry_the_entry_of_an_array_of_tables() {
        let text = "[simulation]\ndt = \"0.1 ms\"\n[[population]]\nname = \"a\"\nsize = 1\n[[population]]\nname = \"b\"\nsize = \"x\"\n\
                    [population.parameters]\ntau_m = [1]\n[stimulus]\npopulation = \"a\"\n\
                    [output]\nspikes = \"s.h5\"\n[[output.report]]\nfile = \"v.h5\"\n[[output.report]]\nfile = 3\n";
        let at = |needle: &str| {
            let i = text.find(needle).unwrap();
            field_at(text, Some(i..i + 1))
        };
        assert_eq!(at("dt =").as_deref(), Some("simulation.dt"));
        assert_eq!(at("size = 1").as_deref(), Some("population[0].size"));
        assert_eq!(at("size = \"x\"").as_deref(), Some("population[1].size"));
        assert_eq!(at("tau_m").as_deref(), Some("population[1].parameters.tau_m"));
        assert_eq!(at("[stimulus]").as_deref(), Some("stimulus"));
        assert_eq!(at("spikes").as_deref(), Some("output.spikes"));
        assert_eq!(at("file = 3").as_deref(), Some("output.report[1].file"));
        assert_eq!(at("[[population]]\nname = \"b\"").as_deref(), Some("population[1]"));
        assert_eq!(at("[population.parameters]").as_deref(), Some("population[1].parameters"));
        let header = text.find("[stimulus]").unwrap();
        assert!(at_table_header(text, Some(header..header + 1)));
        let dt = text.find("dt").unwrap();
        assert!(!at_table_header(text, Some(dt..dt + 1)));
    }
}

//! `--set path=value`: replaces one value of a model file before it is read, so that a
//! job script can scale a network without a copy of its model file
//! (`--set population.exc.size=80000`, `--set simulation.seed=3`,
//! `--set projection.0.weight="0.5*u"`). Arrays of tables are indexed by position or,
//! where the tables have a `name`, by name. The edited text keeps the file's layout, so
//! errors still point at the right lines.

use crate::error::{Error, Result};
use toml_edit::{DocumentMut, Item, Table, Value};

/// Applies each `path=value` to the model-file text.
pub fn apply(text: &str, file: &str, sets: &[String]) -> Result<String> {
    if sets.is_empty() {
        return Ok(text.to_string());
    }
    let bad = |set: &str, message: String| Error::Option { option: format!("--set {set}"), message };
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| Error::Model {
        file: file.to_string(),
        location: String::new(),
        field: "model file".into(),
        message: e.message().to_string(),
    })?;
    for set in sets {
        let (path, raw) = set.split_once('=').ok_or_else(|| bad(set, "expected path=value, e.g. population.exc.size=80000".into()))?;
        // A value that is not TOML (a bare word) is taken as a string.
        let value: Value = raw.trim().parse().unwrap_or_else(|_| Value::from(raw.trim()));
        let keys: Vec<&str> = path.trim().split('.').collect();
        set_in(doc.as_table_mut(), &keys, value).map_err(|m| bad(set, m))?;
    }
    Ok(doc.to_string())
}

fn set_in(table: &mut Table, keys: &[&str], value: Value) -> std::result::Result<(), String> {
    let key = keys[0];
    if keys.len() == 1 {
        table.insert(key, Item::Value(value));
        return Ok(());
    }
    match table.get_mut(key) {
        Some(Item::Table(inner)) => set_in(inner, &keys[1..], value),
        Some(Item::ArrayOfTables(array)) => {
            let which = keys[1];
            let index = match which.parse::<usize>() {
                Ok(i) => i,
                Err(_) => array
                    .iter()
                    .position(|t| t.get("name").and_then(|n| n.as_str()) == Some(which))
                    .ok_or_else(|| format!("no [[{key}]] named '{which}'"))?,
            };
            let count = array.len();
            let inner = array.get_mut(index).ok_or_else(|| format!("there are only {count} [[{key}]] tables"))?;
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
        None => Err(format!("no table '{key}' in the model file")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[simulation]\nseed = 1\n\n[[population]]\nname = \"exc\"\nsize = 800\n\n[[population]]\nname = \"inh\"\nsize = 200\n[[projection]]\nconnection = { rule = \"fixed_indegree\", k = 800 }\n";

    fn set(sets: &[&str]) -> std::result::Result<String, String> {
        apply(TEXT, "m.toml", &sets.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map_err(|e| e.to_string())
    }

    #[test]
    fn sets_by_name_index_and_inline_table() {
        let out =
            set(&["population.inh.size=50", "population.0.size=80000", "simulation.seed=7", "projection.0.connection.k=100"]).unwrap();
        assert!(out.contains("size = 80000") && out.contains("size = 50") && out.contains("seed = 7") && out.contains("k = 100"), "{out}");
        // Layout kept: the line count is unchanged.
        assert_eq!(out.lines().count(), TEXT.lines().count());
    }

    #[test]
    fn bad_paths_are_errors() {
        assert_eq!(set(&["population.gaba.size=5"]).unwrap_err(), "--set population.gaba.size=5: no [[population]] named 'gaba'");
        assert_eq!(set(&["population.9.size=5"]).unwrap_err(), "--set population.9.size=5: there are only 2 [[population]] tables");
        assert_eq!(set(&["nothing.x=5"]).unwrap_err(), "--set nothing.x=5: no table 'nothing' in the model file");
        assert_eq!(set(&["simulation.seed"]).unwrap_err(), "--set simulation.seed: expected path=value, e.g. population.exc.size=80000");
    }
}

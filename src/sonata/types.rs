//! SONATA's node and edge type tables: CSV separated by white space (bmtk writes single
//! spaces), a header row, fields in double quotes where they hold spaces, `NULL` for a
//! missing value.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct TypeTable {
    pub path: PathBuf,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl TypeTable {
    pub fn read(path: &Path) -> Result<TypeTable> {
        let bad = |message: String| Error::Input { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let columns = fields(lines.next().ok_or_else(|| bad("expected a header row of column names".into()))?);
        let mut rows = Vec::new();
        for (k, line) in lines.enumerate() {
            let row = fields(line);
            if row.len() != columns.len() {
                return Err(bad(format!("row {}: {} fields where the header names {} columns", k + 1, row.len(), columns.len())));
            }
            rows.push(row);
        }
        Ok(TypeTable { path: path.to_path_buf(), columns, rows })
    }

    /// Column `name`'s index, or an error naming the file, the column and what it is for.
    pub fn column(&self, name: &str, for_what: &str) -> Result<usize> {
        self.columns.iter().position(|c| c == name).ok_or_else(|| Error::Input {
            path: self.path.clone(),
            message: format!("expected a column {name} ({for_what}); the columns are: {}", self.columns.join(" ")),
        })
    }

    /// Row `row`'s value in column `column` (None: absent column or NULL).
    pub fn get(&self, row: usize, column: Option<usize>) -> Option<&str> {
        column.map(|c| self.rows[row][c].as_str()).filter(|v| *v != "NULL" && !v.is_empty())
    }

    /// The row whose `id_column` holds `id`.
    pub fn row_of(&self, id_column: usize, id: i64) -> Option<usize> {
        self.rows.iter().position(|r| r[id_column].parse::<i64>() == Ok(id))
    }
}

/// The fields of one line: split at white space outside double quotes.
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut field, mut quoted, mut any) = (String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut field));
                    any = false;
                }
            }
            c => {
                field.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(field);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_at_spaces_outside_quotes() {
        assert_eq!(fields("100 e \"a b\"  NULL"), vec!["100", "e", "a b", "NULL"]);
        assert_eq!(fields("  x\ty "), vec!["x", "y"]);
    }
}

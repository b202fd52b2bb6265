//! What every output file records about the run that wrote it (root attributes): the
//! volley that ran, the model as run, and each piece of the run — a run resumed from a
//! checkpoint is a second piece appending to the same files — so that a file can be
//! reproduced whole (`volley stats --model`) and told apart from another run's.
//!
//! Root attributes: `volley_version`, `git_revision`, `model` (the first piece's text, as
//! run), `seed`, `run_id` (the same in every file of one run, whatever its pieces),
//! `outputs` (the files of that run, relative to its output directory), `backend`, and
//! the first piece's `command_line`, `ranks`, `threads`, `start_time`; `pieces` holds
//! one entry per piece, each a TOML inline table (`from_ms`, `started`, `ranks`,
//! `threads`, `backend`, `command_line`). A piece covers the simulated time from its
//! `from_ms` to the next piece's (the last one: to the file's `duration_ms`).

use super::appender::text_attr;
use hdf5::types::VarLenUnicode;
use std::path::Path;
use std::str::FromStr;

#[derive(Clone, Debug, Default)]
pub struct Provenance {
    pub volley_version: String,
    pub git_revision: String,
    /// The model file's text as run, after the command line's replacements.
    pub model: String,
    pub seed: u64,
    pub command_line: String,
    pub ranks: u64,
    pub threads: u64,
    /// UTC, ISO 8601.
    pub start_time: String,
    /// Identifies the run (all its pieces): the same in each of its files.
    pub run_id: String,
    /// The files the run writes, relative to its output directory.
    pub outputs: Vec<String>,
    /// What integrates the neurons: "cpu (avx512)", or "gpu" and the adapter.
    pub backend: String,
    /// Where this piece starts (ms of simulated time: 0, or a checkpoint's time).
    pub from_ms: f64,
}

impl Provenance {
    /// This piece as one TOML inline table.
    pub fn piece(&self) -> String {
        let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
        format!(
            "{{ from_ms = {:?}, started = {}, ranks = {}, threads = {}, backend = {}, command_line = {} }}",
            self.from_ms,
            quoted(&self.start_time),
            self.ranks,
            self.threads,
            quoted(&self.backend),
            quoted(&self.command_line)
        )
    }

    /// Writes the provenance as root attributes of a new file (collective).
    pub fn write(&self, file: &hdf5::File) -> hdf5::Result<()> {
        text_attr(file, "volley_version", &self.volley_version)?;
        text_attr(file, "git_revision", &self.git_revision)?;
        text_attr(file, "model", &self.model)?;
        file.new_attr::<u64>().create("seed")?.write_scalar(&self.seed)?;
        text_attr(file, "command_line", &self.command_line)?;
        file.new_attr::<u64>().create("ranks")?.write_scalar(&self.ranks)?;
        file.new_attr::<u64>().create("threads")?.write_scalar(&self.threads)?;
        text_attr(file, "start_time", &self.start_time)?;
        text_attr(file, "run_id", &self.run_id)?;
        text_attr(file, "backend", &self.backend)?;
        text_list_attr(file, "outputs", &self.outputs)?;
        text_list_attr(file, "pieces", &[self.piece()])
    }

    /// Adds this piece to a file a resumed run appends to (collective): pieces of the
    /// file that started at or after this one's start were cut back with the file and
    /// are dropped.
    pub fn add_piece(&self, file: &hdf5::File) -> hdf5::Result<()> {
        let mut pieces = read_text_list(file, "pieces").unwrap_or_default();
        pieces.retain(|p| piece_from_ms(p).is_some_and(|from| from < self.from_ms));
        pieces.push(self.piece());
        if file.attr("pieces").is_ok() {
            file.delete_attr("pieces")?;
        }
        text_list_attr(file, "pieces", &pieces)
    }
}

/// The `from_ms` of a piece's entry.
pub fn piece_from_ms(piece: &str) -> Option<f64> {
    piece_field(piece, "from_ms")?.as_float()
}

/// A field of a piece's entry.
pub fn piece_field(piece: &str, key: &str) -> Option<toml::Value> {
    let table: toml::Table = format!("piece = {piece}").parse().ok()?;
    table.get("piece")?.get(key).cloned()
}

/// An attribute holding a list of texts.
pub fn text_list_attr(location: &hdf5::Location, name: &str, values: &[String]) -> hdf5::Result<()> {
    let texts: Vec<VarLenUnicode> = values.iter().map(|v| VarLenUnicode::from_str(&v.replace('\0', "")).unwrap_or_default()).collect();
    location.new_attr::<VarLenUnicode>().shape(texts.len()).create(name)?.write(&texts)
}

/// An attribute holding a list of texts (a scalar text reads as a list of one).
pub fn read_text_list(location: &hdf5::Location, name: &str) -> hdf5::Result<Vec<String>> {
    let attr = location.attr(name)?;
    match attr.read_raw::<VarLenUnicode>() {
        Ok(list) => Ok(list.iter().map(|v| v.as_str().to_string()).collect()),
        Err(_) => Ok(vec![attr.read_scalar::<VarLenUnicode>()?.as_str().to_string()]),
    }
}

/// Refuses to show `other` (a report, rate traces) beside the spike file `spikes` when
/// the two were written by different runs: an earlier run's file left in the same
/// directory is not part of this one.
pub fn same_run(spikes: &Path, other: &Path) -> crate::Result<()> {
    let id =
        |path: &Path| hdf5::File::open(path).ok()?.attr("run_id").ok()?.read_scalar::<VarLenUnicode>().ok().map(|v| v.as_str().to_string());
    match (id(spikes), id(other)) {
        (Some(a), Some(b)) if a != b => Err(crate::Error::Input {
            path: other.to_path_buf(),
            message: format!(
                "written by another run (run_id {b}) than {} (run_id {a}): a file left by an earlier run into the same directory? \
                 Plot it with the spike file of its own run",
                spikes.display()
            ),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_toml_tables_and_a_resumed_piece_replaces_those_it_cut_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = hdf5::File::create(dir.path().join("f.h5")).unwrap();
        let first =
            Provenance { command_line: "volley run \"m.toml\"".into(), backend: "cpu".into(), ranks: 1, threads: 2, ..Default::default() };
        first.write(&file).unwrap();
        let second = Provenance { from_ms: 500.0, command_line: "volley run --resume c.h5".into(), ranks: 2, ..first.clone() };
        second.add_piece(&file).unwrap();
        let pieces = read_text_list(&file, "pieces").unwrap();
        assert_eq!(pieces.len(), 2);
        assert_eq!(piece_field(&pieces[0], "command_line").unwrap().as_str(), Some("volley run \"m.toml\""));
        assert_eq!(piece_from_ms(&pieces[1]), Some(500.0));
        assert_eq!(piece_field(&pieces[1], "ranks").unwrap().as_integer(), Some(2));
        // Resumed again from 300 ms: the piece from 500 ms was cut back.
        Provenance { from_ms: 300.0, ..second }.add_piece(&file).unwrap();
        let from: Vec<Option<f64>> = read_text_list(&file, "pieces").unwrap().iter().map(|p| piece_from_ms(p)).collect();
        assert_eq!(from, vec![Some(0.0), Some(300.0)]);
    }
}

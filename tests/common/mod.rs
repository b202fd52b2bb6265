//! Helpers shared by the integration tests: running the `volley` binary and finding the
//! examples.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example(name: &str) -> PathBuf {
    repo().join("examples").join(name)
}

/// Runs the release-built `volley` binary with `args`, in `dir`.
pub fn volley(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_volley")).args(args).current_dir(dir).output().expect("volley binary runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that the run succeeded, showing its output if not.
pub fn assert_ok(out: &Output) {
    assert!(out.status.success(), "volley failed: {:?}\nstdout:\n{}\nstderr:\n{}", out.status, stdout(out), stderr(out));
}

/// Simulates `desc` in this process on the CPU backend; returns the spikes and the
/// backend (for its final state).
pub fn simulate(
    desc: &volley::network::Description,
    options: volley::backend::cpu::CpuOptions,
) -> (Vec<volley::spike::Spike>, volley::backend::cpu::CpuBackend) {
    use volley::backend::Backend;
    let mut backend = volley::backend::cpu::CpuBackend::new(desc, 0..desc.total_neurons(), options);
    let mut recorder = volley::record::MemoryRecorder::default();
    volley::engine::Simulation::new(&mut backend as &mut dyn Backend, &mut volley::comm::LocalComm, desc.epoch_steps(), desc.steps)
        .run(&mut recorder)
        .expect("simulation runs");
    (recorder.spikes, backend)
}

/// The 2003 example with `from` replaced by `to` (first occurrence), written into `dir`
/// as `name`; returns its path.
pub fn variant(dir: &Path, name: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(example("izhikevich2003.toml")).unwrap();
    assert!(text.contains(from), "example contains {from:?}");
    let path = dir.join(name);
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path.to_str().unwrap().to_string()
}

/// Writes `text` as `name` in a fresh directory and runs `volley check` on it: it must be
/// refused with exit code 2 and one line, no panic. Returns the line, the file's path
/// written as `name`.
pub fn check_refuses(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let out = volley(dir.path(), &["check", path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err.replace(path.to_str().unwrap(), name).trim().to_string()
}

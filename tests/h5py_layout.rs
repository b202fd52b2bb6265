//! The spike file opens in h5py and libsonata with no code of ours and follows the SONATA
//! layout, also when the run was cut short. Needs Python with h5py and libsonata:
//! scripts/test.sh provides it (VOLLEY_PYTHON); without it this test fails with
//! instructions rather than being skipped.

mod common;

use common::*;

fn check_with_python(out: &std::path::Path) {
    let python = std::env::var("VOLLEY_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = repo().join("tests/check_sonata.py");
    let result = common::command(&python).arg(&script).arg(out.join("spikes.h5")).args(["exc=800", "inh=200"]).output();
    let result = result.unwrap_or_else(|e| panic!("cannot run {python}: {e}; run scripts/test.sh, which sets up Python with h5py"));
    let (o, e) = (String::from_utf8_lossy(&result.stdout), String::from_utf8_lossy(&result.stderr));
    assert!(
        !e.contains("No module named 'h5py'"),
        "h5py is missing for {python}: run scripts/test.sh (or pip install h5py and set VOLLEY_PYTHON)"
    );
    assert!(
        !e.contains("No module named 'libsonata'"),
        "libsonata is missing for {python}: run scripts/test.sh (or pip install libsonata and set VOLLEY_PYTHON)"
    );
    assert!(result.status.success(), "h5py / libsonata check failed:\n{o}\n{e}");
    assert!(o.contains("exc: libsonata reads the same") && o.contains("inh: libsonata reads the same"), "{o}");
}

#[test]
fn h5py_and_libsonata_read_the_sonata_spike_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich2003.toml");
    let out = dir.path().join("out");
    assert_ok(&volley(dir.path(), &["run", model.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q", "--duration", "200ms"]));
    check_with_python(&out);
}

#[test]
fn the_file_of_a_run_stopped_on_a_non_finite_state_reads_in_both() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich2003.toml");
    let out = dir.path().join("out");
    let run = volley(
        dir.path(),
        &[
            "run",
            model.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
            "--set",
            "projection.0.weight=\"5000*u\"",
            "--set",
            "output.flush_every=\"5 ms\"",
        ],
    );
    assert_eq!(run.status.code(), Some(3), "{}", stderr(&run));
    check_with_python(&out);
}

//! Output integrity when writing fails (issue 8, class 1): a run whose file system fills
//! up, or whose file reaches `ulimit -f`, stops on all ranks with one line saying which
//! file, what failed, the simulated time reached and what the file holds; the file left
//! holds exactly what its `duration_ms` says (the spikes of a complete run of that
//! length), or no file is left and a previous run's file is untouched.

mod common;

use common::{assert_ok, example, stderr, SmallDisk};
use std::path::Path;
use std::process::Output;
use volley::record::sonata::{read_spike_file, SpikeFile};

/// The sparse example at 10,000 neurons, appending every 100 ms.
const NETWORK: [&str; 6] =
    ["--set", "population.exc.size=8000", "--set", "population.inh.size=2000", "--set", "output.flush_every=\"100 ms\""];

fn model() -> String {
    example("izhikevich_sparse.toml").to_str().unwrap().to_string()
}

/// `volley run` of NETWORK for `duration` into `out`, under `bash -c` with `limit_kb` as
/// the file-size limit (bash's ulimit -f, in KiB) when given.
fn run_limited(dir: &Path, out: &Path, duration: &str, limit_kb: Option<u64>, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec!["run".into(), "-q".into(), model(), "--duration".into(), duration.into(), "--out".into()];
    args.push(out.to_str().unwrap().into());
    args.extend(NETWORK.iter().map(|s| s.to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    let quoted: Vec<String> = args.iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
    let limit = limit_kb.map_or(String::new(), |kb| format!("ulimit -f {kb}; "));
    let script = format!("{limit}exec '{}' {}", env!("CARGO_BIN_EXE_volley"), quoted.join(" "));
    common::command("bash").arg("-c").arg(script).current_dir(dir).output().expect("sh runs")
}

/// The spikes of a complete run of `ms` of the same network.
fn complete(dir: &Path, ms: f64) -> SpikeFile {
    let out = dir.join(format!("complete-{ms}"));
    assert_ok(&run_limited(dir, &out, &format!("{ms} ms"), None, &[]));
    read_spike_file(&out.join("spikes.h5")).unwrap()
}

/// The error line of a run that failed writing: exit 4, one line, no panic.
fn write_failure(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(4), "exit code 4 for a failed write; stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err.trim().to_string()
}

/// Whatever a failed run left: the file holds exactly a complete run of its
/// `duration_ms`, and the message says so; or there is no file, and the message says
/// why. Returns the duration held (0 if no file).
fn left_consistent(dir: &Path, out: &Path, err: &str) -> f64 {
    let path = out.join("spikes.h5");
    assert!(!out.join("spikes.partial.h5").exists(), "no temporary file left");
    if !path.exists() {
        assert!(err.contains("was removed") || err.contains("no spike file was kept"), "{err}");
        return 0.0;
    }
    let file = read_spike_file(&path).expect("the file left opens and reads");
    let held = file.duration_ms.unwrap();
    assert!(held > 0.0 && held % 100.0 == 0.0, "whole appends: {held}");
    assert!(err.contains(&format!("the file holds the first {held} ms")), "{err}");
    let mut expected = complete(dir, held);
    expected.provenance.clear();
    let mut got = file;
    got.provenance.clear();
    assert_eq!(got, expected, "the file holds exactly the spikes of the first {held} ms");
    held
}

#[test]
fn a_file_size_limit_stops_the_run_before_the_file_is_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("limited");
    // 1 MiB: room for some appends, not for 2 s.
    let run = run_limited(dir.path(), &out, "2 s", Some(1024), &["--expected-rate", "1"]);
    let err = write_failure(&run);
    assert!(
        err.starts_with(&format!(
            "error: writing {} failed: the file size limit was reached (ulimit -f): the next append needs up to",
            out.join("spikes.h5").display()
        )),
        "{err}"
    );
    assert!(err.contains("ms of simulated time"), "{err}");
    assert!(left_consistent(dir.path(), &out, &err) >= 100.0, "appends before the limit are kept");
}

#[test]
fn the_file_size_limit_is_respected_even_without_the_space_check() {
    // --skip-space-check skips the free-space estimates, not the limit: a write past it
    // could only fail (and leave a superblock pointing past the end of the file).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("limited");
    let run = run_limited(dir.path(), &out, "2 s", Some(1024), &["--skip-space-check"]);
    let err = write_failure(&run);
    assert!(err.contains("the file size limit was reached (ulimit -f): the next append needs up to"), "{err}");
    assert!(left_consistent(dir.path(), &out, &err) >= 100.0);
}

#[test]
fn a_run_that_cannot_fit_is_refused_before_it_starts_with_both_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("refused");
    let run = run_limited(dir.path(), &out, "2 s", Some(1024), &[]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    // One line of error with a way to fit, then the planner's table.
    let err = stderr(&run);
    assert_eq!(
        err.lines().next().unwrap(),
        format!(
            "error: cannot write output to {}: spikes.h5 is expected to take 3.3 MB (10000 neurons at 10 Hz for 2 s) but the file size limit (ulimit -f) is 1.0 MB; spikes.h5 alone needs 3.3 MB: a run of 500 ms (--duration 500ms) fits; or lower --expected-rate if the network fires less, or --skip-space-check",
            out.display()
        )
    );
    assert!(err.lines().skip(1).all(|l| l.starts_with("  ")) && err.contains("spikes/exc/{timestamps, node_ids}"), "{err}");
    assert!(!out.exists(), "nothing created");
    let run = run_limited(dir.path(), &out, "2 s", None, &["--max-output", "1MB"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run)
        .contains("spikes.h5 and raster.png are expected to take 4.3 MB (10000 neurons at 10 Hz for 2 s) but --max-output allows 1.0 MB"));
}

#[test]
fn a_file_that_cannot_even_be_created_leaves_the_previous_results_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("res");
    assert_ok(&run_limited(dir.path(), &out, "200 ms", None, &[]));
    let before = std::fs::read(out.join("spikes.h5")).unwrap();
    // 4 KiB: not even the layout fits.
    let run = run_limited(dir.path(), &out, "200 ms", Some(4), &["--skip-space-check"]);
    let err = stderr(&run);
    assert!(matches!(run.status.code(), Some(2) | Some(4)), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("file size limit") || err.contains("File too large"), "{err}");
    assert_eq!(std::fs::read(out.join("spikes.h5")).unwrap(), before, "the previous run's file is untouched");
    assert!(!out.join("spikes.partial.h5").exists());
}

#[test]
fn a_full_disk_stops_the_run_with_the_file_as_its_last_append_left_it() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(dir.path(), "2m");
    let out = disk.0.join("out");
    let run = run_limited(dir.path(), &out, "2 s", None, &["--expected-rate", "1"]);
    let err = write_failure(&run);
    assert!(err.contains("failed: no space left on the device: the next append needs up to"), "{err}");
    assert!(left_consistent(dir.path(), &out, &err) >= 100.0);
}

#[test]
fn writes_that_fail_on_a_full_disk_are_cut_back_to_the_last_good_append() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(dir.path(), "2m");
    disk.fill(500);
    let out = disk.0.join("out");
    let run = run_limited(dir.path(), &out, "2 s", None, &["--skip-space-check"]);
    let err = write_failure(&run);
    assert!(err.contains("failed: no space left on the device; stopped at"), "{err}");
    left_consistent(dir.path(), &out, &err);
}

#[test]
fn a_disk_full_at_creation_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(dir.path(), "1m");
    disk.fill(0);
    let out = disk.0.join("out");
    let refused = run_limited(dir.path(), &out, "200 ms", None, &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("are free there"), "{}", stderr(&refused));
    let run = run_limited(dir.path(), &out, "200 ms", None, &["--skip-space-check"]);
    let err = stderr(&run);
    assert!(matches!(run.status.code(), Some(2) | Some(4)), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("No space left on device") || err.contains("no space left on the device"), "{err}");
    assert!(!out.join("spikes.h5").exists() && !out.join("spikes.partial.h5").exists(), "no unreadable file left");
}

//! Runs cut short: a run killed outright (SIGKILL) leaves a valid spike file holding
//! every spike up to its last flush; a run stopped by SIGTERM (Slurm's time limit)
//! stops all ranks at the same step, closes the file and exits with 128 + 15. Either
//! file equals that of a complete run of the time it covers.

mod common;

use common::{assert_ok, example, volley};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use volley::record::sonata::{read_spike_file, SpikeFile};

/// The sparse example at N = 20,000, long enough (20 s) never to finish in these tests,
/// appending to its file every 50 ms.
fn long_run(out: &Path) -> Child {
    common::command(env!("CARGO_BIN_EXE_volley"))
        .args(["run", "--threads", "2", "--progress-every", "0.001", "--duration", "20 s", "--out"])
        .arg(out)
        .arg(example("izhikevich_sparse.toml"))
        .args(["--set", "population.exc.size=16000", "--set", "population.inh.size=4000", "--set", "output.flush_every=\"50 ms\""])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("volley starts")
}

/// Reads the run's progress lines until it reports at least `ms` simulated; a thread
/// keeps draining stderr afterwards so that the run never writes into a closed pipe.
fn wait_until_simulated(child: &mut Child, ms: f64) {
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let done: Option<f64> = line.strip_prefix("volley: ").and_then(|r| r.split(" ms of").next()).and_then(|x| x.parse().ok());
            let _ = tx.send(done);
        }
    });
    for done in rx {
        if done.is_some_and(|d| d >= ms) {
            return;
        }
    }
    panic!("the run ended before simulating {ms} ms");
}

/// A complete run of `duration_ms` with the same model, for comparison.
fn complete_run(dir: &Path, duration_ms: f64) -> SpikeFile {
    let out = dir.join("complete");
    let duration = format!("{duration_ms} ms");
    let run = volley(
        dir,
        &[
            "run",
            "-q",
            "--duration",
            &duration,
            "--out",
            out.to_str().unwrap(),
            example("izhikevich_sparse.toml").to_str().unwrap(),
            "--set",
            "population.exc.size=16000",
            "--set",
            "population.inh.size=4000",
        ],
    );
    assert_ok(&run);
    read_spike_file(&out.join("spikes.h5")).unwrap()
}

#[test]
fn a_killed_run_leaves_a_valid_file_with_every_spike_up_to_its_last_flush() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed");
    let mut child = long_run(&out);
    wait_until_simulated(&mut child, 230.0);
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    let file = read_spike_file(&out.join("spikes.h5")).expect("the killed run's file opens and reads");
    let covered = file.duration_ms.expect("duration_ms says what the file covers");
    assert!(covered >= 200.0 && covered % 50.0 == 0.0, "flushed every 50 ms, killed after 230 ms: covers {covered} ms");
    let spikes: usize = file.populations.iter().map(|p| p.node_ids.len()).sum();
    assert!(spikes > 0);
    assert_eq!(file, complete_run(dir.path(), covered), "the file holds exactly the spikes of the first {covered} ms");
}

#[test]
fn sigterm_stops_the_run_closes_the_file_and_exits_143() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stopped");
    let mut child = long_run(&out);
    wait_until_simulated(&mut child, 120.0);
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "128 + SIGTERM");
    let mut summary = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut summary).unwrap();
    assert!(summary.contains("stopped by a signal"), "{summary}");
    assert!(out.join("raster.png").exists(), "the raster is drawn from what was simulated");
    let file = read_spike_file(&out.join("spikes.h5")).unwrap();
    let covered = file.duration_ms.unwrap();
    assert!((120.0..20_000.0).contains(&covered), "{covered}");
    assert_eq!(file, complete_run(dir.path(), covered));
}

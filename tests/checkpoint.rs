//! Checkpoints and --resume: a run to T and a run to T/2 resumed to T write the same
//! bytes in every output dataset, with another number of threads too (other ranks:
//! tests/mpi.rs); a run stopped by SIGTERM leaves readable outputs and a checkpoint;
//! outputs appended past an older checkpoint are cut back to it; foreign, corrupt,
//! truncated checkpoints are refused with one line.

mod common;

use common::{assert_ok, assert_same_datasets, example, hh_delays, small_sparse, stderr, volley};
use std::path::{Path, PathBuf};
use std::process::Output;
use volley::record::sonata::read_spike_file;

/// The sparse Izhikevich example at 1000 neurons with exponential current synapses (two
/// kinds) and delays of 1–20 ms, so that spikes are in flight at any checkpoint, and a
/// report of u.
fn izhikevich_exp(dir: &Path) -> PathBuf {
    let exc = "weight = \"2*u\"\nsynapse = { model = \"exp_current\", tau = \"5 ms\" }";
    let inh = "weight = \"-4*u\"\nsynapse = { model = \"exp_current\", tau = \"10 ms\" }";
    let report = "\n[[output.report]]\nfile = \"u.h5\"\nvariable = \"u\"\nneurons = { fraction = 0.05, seed = 3 }\ninterval = \"2 ms\"\n";
    let path = small_sparse(dir, "izhikevich_exp.toml", exc, inh, report);
    // Rate traces in bins of 7 ms: checkpoints fall inside a bin.
    let text = std::fs::read_to_string(&path).unwrap().replace("[output]", "[output]\nrates = \"rates.h5\"\nrate_bin = \"7 ms\"");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["run", "-q"];
    all.extend_from_slice(args);
    volley(dir, &all)
}

/// The outputs of `out` that a checkpointed run appends to.
fn outputs(out: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "h5") && !p.file_name().unwrap().to_string_lossy().contains("checkpoint"))
        .collect();
    files.sort();
    files
}

fn assert_same_outputs(expected: &Path, got: &Path) {
    let (a, b) = (outputs(expected), outputs(got));
    assert_eq!(a.iter().map(|p| p.file_name().unwrap()).collect::<Vec<_>>(), b.iter().map(|p| p.file_name().unwrap()).collect::<Vec<_>>());
    assert!(!a.is_empty());
    for (x, y) in a.iter().zip(&b) {
        assert_same_datasets(x, y);
    }
}

/// Spikes in flight the checkpoint holds.
fn in_flight(checkpoint: &Path) -> usize {
    hdf5::File::open(checkpoint).unwrap().dataset("in_flight/step").unwrap().size()
}

/// Runs `model` to `full` on `t2` threads, and to `half` on `t1` threads with a
/// checkpoint there, resumed to `full` on `t2` threads (from the checkpoint's own model
/// text, or the model file again): the same bytes in every output.
fn resumed_equals_uninterrupted(model: &Path, extra: &[&str], half: &str, full: &str, t1: &str, t2: &str, model_again: bool) -> PathBuf {
    let dir = tempfile::tempdir().unwrap().keep();
    let m = model.to_str().unwrap();
    assert_ok(&run(&dir, &[&[m, "--out", "full", "--duration", full, "--threads", t2], extra].concat()));
    assert_ok(&run(&dir, &[&[m, "--out", "part", "--duration", half, "--threads", t1, "--checkpoint-every", half], extra].concat()));
    let checkpoint = dir.join("part/checkpoint.h5");
    assert!(checkpoint.is_file(), "the checkpoint at the end of the first part");
    let mut resume = vec!["--resume", "part/checkpoint.h5", "--duration", full, "--threads", t2];
    if model_again {
        resume.splice(0..0, [m, "--out", "part"]);
        resume.extend_from_slice(extra);
    }
    let out = run(&dir, &resume);
    assert_ok(&out);
    assert!(
        common::stdout(&out).contains(&format!("(resumed at {}, to {})", half.replace("ms", " ms"), full.replace("ms", " ms"))),
        "{}",
        common::stdout(&out)
    );
    assert_same_outputs(&dir.join("full"), &dir.join("part"));
    dir
}

#[test]
fn a_resumed_izhikevich_2003_run_writes_the_bytes_of_an_uninterrupted_one() {
    let dir = resumed_equals_uninterrupted(&example("izhikevich2003.toml"), &[], "200ms", "400ms", "1", "1", false);
    let part = read_spike_file(&dir.join("part/spikes.h5")).unwrap();
    assert_eq!(part.duration_ms, Some(400.0));
    assert!(part.populations.iter().all(|p| p.node_ids.len() > 500), "the network fires");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn resumed_runs_with_exponential_synapses_and_long_delays_match_on_other_thread_counts() {
    let models = tempfile::tempdir().unwrap();
    let izh = izhikevich_exp(models.path());
    for (t1, t2, again) in [("1", "2", false), ("2", "1", true)] {
        let dir = resumed_equals_uninterrupted(&izh, &[], "150ms", "300ms", t1, t2, again);
        assert!(in_flight(&dir.join("part/checkpoint.h5")) > 0, "spikes in flight at the checkpoint");
        std::fs::remove_dir_all(dir).unwrap();
    }
    let hh = hh_delays(models.path());
    for (t1, t2) in [("1", "2"), ("2", "1")] {
        let dir = resumed_equals_uninterrupted(&hh, &[], "65ms", "130ms", t1, t2, false);
        assert!(in_flight(&dir.join("part/checkpoint.h5")) > 0, "spikes in flight at the checkpoint");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Shards cut anew by their measured times mid-run (`--rebalance always`: once, at the
/// first progress stop past 400 ms, by the times since the one past 200 ms) write the bytes of a run that keeps its cut, in every output (spikes, samples,
/// rates), and a checkpoint taken after the re-cut resumes to them too: the Izhikevich
/// network with exponential synapses and long delays on two shards, and the
/// Hodgkin–Huxley network on eight (four per thread), part of it integrated by RK4.
#[test]
fn a_run_whose_shards_are_cut_anew_writes_the_bytes_of_one_that_is_not() {
    let models = tempfile::tempdir().unwrap();
    // Both models' costs lie far from where the equal-count cut puts them, so that the
    // measured cut moves on any machine: a sink of inputs from a fast-firing population
    // in the Izhikevich network, RK4 (about ten times exponential Euler's cost) for the
    // HH network's inhibitory neurons, whose f64 state moves with them.
    let izh = izhikevich_exp(models.path());
    std::fs::write(&izh, std::fs::read_to_string(&izh).unwrap() + common::DRIVEN_SINK).unwrap();
    let hh = hh_delays(models.path());
    let text = std::fs::read_to_string(&hh).unwrap();
    assert_eq!(text.matches("size = 200\n").count(), 1, "the inhibitory population");
    std::fs::write(&hh, text.replace("size = 200\n", "size = 200\nintegrator = \"rk4\"\n")).unwrap();
    for (model, full, part) in [(izh, "600ms", "500ms"), (hh, "460ms", "430ms")] {
        let dir = tempfile::tempdir().unwrap();
        let m = model.to_str().unwrap();
        let kept = run(dir.path(), &[m, "--out", "kept", "--duration", full, "--threads", "2", "--rebalance", "never"]);
        assert_ok(&kept);
        assert!(!common::stdout(&kept).contains("re-cut"), "{}", common::stdout(&kept));
        let cut = run(dir.path(), &[m, "--out", "cut", "--duration", full, "--threads", "2", "--rebalance", "always"]);
        assert_ok(&cut);
        let said = common::stdout(&cut);
        let at = said.split("| shards re-cut at ").nth(1).and_then(|s| s.split(" ms by their busy times (the busiest ").next());
        assert!(at.is_some_and(|ms| (400.0..410.0).contains(&ms.parse::<f64>().unwrap())), "{said}");
        assert_same_outputs(&dir.path().join("kept"), &dir.path().join("cut"));
        let args = [m, "--out", "part", "--duration", part, "--threads", "2", "--rebalance", "always", "--checkpoint-every", part];
        assert_ok(&run(dir.path(), &args));
        assert_ok(&run(dir.path(), &["--resume", "part/checkpoint.h5", "--duration", full, "--threads", "1"]));
        assert_same_outputs(&dir.path().join("kept"), &dir.path().join("part"));
    }
}

/// RK4 keeps f64 copies of the state: the checkpoint holds them too.
#[test]
fn an_rk4_population_resumes_from_its_f64_state() {
    let set = ["--set", "population.axon.integrator=\"rk4\""];
    let dir = resumed_equals_uninterrupted(&example("hh_classic.toml"), &set, "20ms", "40ms", "1", "2", true);
    let file = hdf5::File::open(dir.join("part/checkpoint.h5")).unwrap();
    assert_eq!(file.dataset("state/axon/v.f64").unwrap().read_raw::<f64>().unwrap().len(), 10);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Outputs appended after a checkpoint (the run went on, then was killed or resumed from
/// an older checkpoint) are cut back to it, and the run goes on from there.
#[test]
fn outputs_written_past_an_older_checkpoint_are_cut_back_to_it() {
    let models = tempfile::tempdir().unwrap();
    let model = izhikevich_exp(models.path());
    let dir = tempfile::tempdir().unwrap();
    let (d, m) = (dir.path(), model.to_str().unwrap());
    assert_ok(&run(d, &[m, "--out", "full", "--duration", "300ms"]));
    assert_ok(&run(d, &[m, "--out", "part", "--duration", "100ms", "--checkpoint", "ck.h5"]));
    std::fs::copy(d.join("ck.h5"), d.join("at100.h5")).unwrap();
    assert_ok(&run(d, &["--resume", "ck.h5", "--duration", "200ms"]));
    assert_eq!(read_spike_file(&d.join("part/spikes.h5")).unwrap().duration_ms, Some(200.0));
    let out = run(d, &["--resume", "at100.h5", "--duration", "300ms", "--checkpoint", "ck.h5"]);
    assert_ok(&out);
    assert_same_outputs(&d.join("full"), &d.join("part"));
}

/// SIGTERM (what Slurm sends at the time limit; SIGUSR1 before it) stops the run at its
/// next progress point with a checkpoint and exit code 75; its outputs read as they are,
/// and the run resumed from the checkpoint ends where an uninterrupted one does.
#[test]
fn a_sigterm_leaves_readable_outputs_and_a_checkpoint_that_resumes_to_the_same_result() {
    let models = tempfile::tempdir().unwrap();
    let model = hh_delays(models.path());
    let dir = tempfile::tempdir().unwrap();
    let (d, m) = (dir.path(), model.to_str().unwrap());
    let child = common::command(env!("CARGO_BIN_EXE_volley"))
        .args(["run", "-q", m, "--out", "part", "--duration", "100s", "--threads", "1", "--checkpoint", "ck.h5"])
        .args(["--set", "output.flush_every=\"10 ms\""])
        .current_dir(d)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signalled once it has appended (the spike file exists) — well inside its 100 s.
    let started = std::time::Instant::now();
    while !d.join("part/spikes.h5").exists() {
        assert!(started.elapsed().as_secs() < 60, "the run did not start writing");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(err.contains("checkpoint written to ck.h5") && err.contains("volley run --resume ck.h5"), "{err}");
    let checkpoint = volley::checkpoint::Checkpoint::open(&d.join("ck.h5")).unwrap();
    let at = checkpoint.time_ms();
    assert!(at > 0.0 && at < 100_000.0, "stopped at {at} ms");
    let spikes = read_spike_file(&d.join("part/spikes.h5")).unwrap();
    assert_eq!(spikes.duration_ms, Some(at), "the spike file holds what the checkpoint does");
    assert!(spikes.validate().is_ok());
    let status =
        hdf5::File::open(d.join("part/spikes.h5")).unwrap().attr("status").unwrap().read_scalar::<hdf5::types::VarLenUnicode>().unwrap();
    assert_eq!(status.as_str(), "stopped by signal 15");
    drop(checkpoint);
    let end = format!("{}ms", at + 30.0);
    assert_ok(&run(d, &["--resume", "ck.h5", "--duration", &end, "--threads", "2"]));
    assert_ok(&run(d, &[m, "--out", "full", "--duration", &end, "--set", "output.flush_every=\"10 ms\""]));
    assert_same_outputs(&d.join("full"), &d.join("part"));
}

/// Refused, before anything is written, with one line naming the file and what is wrong.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn foreign_corrupt_and_truncated_checkpoints_are_refused() {
    let models = tempfile::tempdir().unwrap();
    let model = izhikevich_exp(models.path());
    let dir = tempfile::tempdir().unwrap();
    let (d, m) = (dir.path(), model.to_str().unwrap());
    assert_ok(&run(d, &[m, "--out", "part", "--duration", "100ms", "--checkpoint", "ck.h5"]));
    let spikes_before = std::fs::read(d.join("part/spikes.h5")).unwrap();

    // Another model: a weight changed, or another file altogether.
    let other = d.join("other.toml");
    std::fs::write(&other, std::fs::read_to_string(&model).unwrap().replacen("weight = \"2*u\"", "weight = \"3*u\"", 1)).unwrap();
    let err = refused(d, &[other.to_str().unwrap(), "--resume", "ck.h5", "--duration", "200ms"]);
    assert!(err.contains("ck.h5") && err.contains("belongs to another model: projection 0 differs from"), "{err}");
    let err = refused(d, &[example("izhikevich2003.toml").to_str().unwrap(), "--resume", "ck.h5", "--duration", "200ms"]);
    assert!(
        err.contains(
            "belongs to another model: projection 0, projection 1, projection 2, projection 3, output.rates, report 'u.h5' differ from"
        ),
        "{err}"
    );
    let err = refused(d, &[m, "--resume", "ck.h5", "--duration", "200ms", "--seed", "7"]);
    assert!(err.contains("simulation.seed differs"), "{err}");

    // Not beyond the checkpoint.
    let err = refused(d, &["--resume", "ck.h5", "--duration", "100ms"]);
    assert!(err.contains("--duration: the checkpoint ck.h5 is at 100 ms: expected a duration beyond it, got 100 ms"), "{err}");

    // Not a checkpoint, or not there.
    let err = refused(d, &["--resume", "part/spikes.h5", "--duration", "200ms"]);
    assert!(err.contains("cannot read part/spikes.h5: not a volley checkpoint"), "{err}");
    let err = refused(d, &["--resume", "missing.h5", "--duration", "200ms"]);
    assert!(err.contains("cannot read missing.h5: no such file"), "{err}");

    // Truncated.
    let bytes = std::fs::read(d.join("ck.h5")).unwrap();
    std::fs::write(d.join("truncated.h5"), &bytes[..bytes.len() / 2]).unwrap();
    let err = refused(d, &["--resume", "truncated.h5", "--duration", "200ms"]);
    assert!(err.contains("cannot read truncated.h5: not a readable HDF5 file: truncated or damaged?"), "{err}");

    // A value changed inside a state array: its checksum no longer matches.
    let offset = hdf5::File::open(d.join("ck.h5")).unwrap().dataset("state/exc/v").unwrap().offset().expect("contiguous") as usize;
    let mut damaged = bytes.clone();
    damaged[offset + 4 * 17] ^= 0x40;
    std::fs::write(d.join("damaged.h5"), &damaged).unwrap();
    let err = refused(d, &["--resume", "damaged.h5", "--duration", "200ms"]);
    assert!(err.contains("cannot read damaged.h5: damaged: the values of state/exc/v do not match their checksum"), "{err}");

    // The spike file the checkpoint's run wrote is gone.
    std::fs::rename(d.join("part/spikes.h5"), d.join("moved.h5")).unwrap();
    let err = refused(d, &["--resume", "ck.h5", "--duration", "200ms"]);
    assert!(err.contains("part/spikes.h5: the spike file the checkpoint's run wrote cannot be opened to append to"), "{err}");
    std::fs::rename(d.join("moved.h5"), d.join("part/spikes.h5")).unwrap();

    // Another program (here this one) has the spike file open: HDF5's lock refuses the append.
    let held = hdf5::File::open(d.join("part/spikes.h5")).unwrap();
    let err = refused(d, &["--resume", "ck.h5", "--duration", "200ms"]);
    assert!(err.contains("part/spikes.h5: another program has the file open (HDF5 locks it)"), "{err}");
    drop(held);
    assert_eq!(std::fs::read(d.join("part/spikes.h5")).unwrap(), spikes_before, "refusals leave the outputs untouched");
    assert!(std::fs::read_dir(d).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("partial")));
}

#[test]
fn bad_checkpoint_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let m = m.to_str().unwrap();
    let err = refused(dir.path(), &[m, "--checkpoint-every", "0ms"]);
    assert!(err.contains("--checkpoint-every: expected a simulated time > 0, got 0 ms"), "{err}");
    let err = refused(dir.path(), &[m, "--checkpoint-every", "soon"]);
    assert!(err.contains("--checkpoint-every: expected a time such as"), "{err}");
    // Checkpoints that could not be written are refused before the run, not found at the
    // first checkpoint hours in.
    std::fs::create_dir(dir.path().join("a-dir")).unwrap();
    let err = refused(dir.path(), &[m, "--checkpoint", "a-dir"]);
    assert!(err.contains("--checkpoint: a-dir is a directory: expected a file name"), "{err}");
    let err = refused(dir.path(), &[m, "--out", "o", "--checkpoint", "o/spikes.h5"]);
    assert!(err.contains("--checkpoint: o/spikes.h5 is an output file of the run: expected another name"), "{err}");
    std::fs::write(dir.path().join("a-file"), b"x").unwrap();
    let err = refused(dir.path(), &[m, "--checkpoint-every", "5ms", "--checkpoint", "a-file/ck.h5"]);
    assert!(err.contains("--checkpoint: cannot write a-file/ck.h5: a-file is not a writable directory"), "{err}");
    assert!(!dir.path().join("o").exists() && !dir.path().join("out").exists(), "nothing written");
    let out = run(dir.path(), &["--duration", "10ms"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("the following required arguments were not provided:\n  <MODEL>"), "{}", stderr(&out));
    // Another output directory than the checkpoint's run wrote to.
    assert_ok(&run(dir.path(), &[m, "--out", "part", "--duration", "20ms", "--checkpoint", "ck.h5"]));
    let err = refused(dir.path(), &[m, "--resume", "ck.h5", "--duration", "40ms"]);
    assert!(err.contains("the checkpoint's run wrote its outputs to part, and they are not in out/izhikevich2003 (spikes.h5 is missing): give --out part"), "{err}");
}

/// A synaptic conductance (`synapse.1`, the first exponential kind) is a report variable
/// like v; its sample at t is the state the checkpoint at t holds.
#[test]
fn synaptic_conductances_are_sampled_as_the_checkpoint_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(hh_delays(dir.path())).unwrap()
        + "\n[[output.report]]\nfile = \"g.h5\"\nvariable = \"synapse.1\"\npopulations = [\"exc\"]\nneurons = { range = [0, 50] }\ninterval = \"1 ms\"\n";
    let model = dir.path().join("g.toml");
    std::fs::write(&model, text).unwrap();
    let (d, m) = (dir.path(), model.to_str().unwrap());
    assert_ok(&run(d, &[m, "--out", "full", "--duration", "60ms", "--threads", "2"]));
    assert_ok(&run(d, &[m, "--out", "part", "--duration", "50ms", "--checkpoint", "ck.h5", "--threads", "1"]));
    let report = hdf5::File::open(d.join("full/g.h5")).unwrap();
    let data = report.dataset("report/exc/data").unwrap();
    let units = data.attr("units").unwrap().read_scalar::<hdf5::types::VarLenUnicode>().unwrap();
    assert_eq!(units.as_str(), "weight units (exp_conductance, tau 5 ms, e_rev 0)");
    let values = data.read_2d::<f32>().unwrap();
    assert_eq!(values.shape(), [60, 50]);
    assert!(values.iter().all(|g| g.is_finite() && *g >= 0.0) && values.iter().any(|g| *g > 0.0), "conductances from excitatory spikes");
    let held = hdf5::File::open(d.join("ck.h5")).unwrap().dataset("state/exc/synapse.1").unwrap().read_raw::<f32>().unwrap();
    let row: Vec<u32> = values.row(50).iter().map(|g| g.to_bits()).collect();
    assert_eq!(row, held[..50].iter().map(|g| g.to_bits()).collect::<Vec<_>>(), "the sample at 50 ms is the state at 50 ms");
}

/// Rate traces count every spike of each population per bin: the spike file's spikes,
/// binned, whatever the threads.
#[test]
fn rate_traces_are_the_spike_counts_per_bin() {
    let models = tempfile::tempdir().unwrap();
    let model = izhikevich_exp(models.path());
    let dir = tempfile::tempdir().unwrap();
    let (d, m) = (dir.path(), model.to_str().unwrap());
    assert_ok(&run(d, &[m, "--out", "out", "--duration", "300ms", "--threads", "2"]));
    let spikes = read_spike_file(&d.join("out/spikes.h5")).unwrap();
    let rates = hdf5::File::open(d.join("out/rates.h5")).unwrap();
    assert_eq!(rates.attr("duration_ms").unwrap().read_scalar::<f64>().unwrap(), 300.0);
    for p in &spikes.populations {
        let counts = rates.dataset(&format!("rates/{}/counts", p.name)).unwrap();
        assert_eq!(counts.attr("bin_ms").unwrap().read_scalar::<f64>().unwrap(), 7.0);
        let counts = counts.read_raw::<u32>().unwrap();
        assert_eq!(counts.len(), 42, "300 ms in whole bins of 7 ms");
        let mut expected = vec![0u32; 42];
        for &t in &p.timestamps_ms {
            // A spike's time is the end of its step: bin k holds times in (7k, 7k + 7].
            if let Some(c) = expected.get_mut(((t / 7.0 - 1e-9).ceil() - 1.0) as usize) {
                *c += 1;
            }
        }
        assert_eq!(counts, expected, "{}", p.name);
        assert!(counts.iter().sum::<u32>() > 100);
    }
}

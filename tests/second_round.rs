//! Hardening, second round (issue 24): one run per output directory, checkpoints whose
//! every byte is checked, plans of absurd rank counts, the limits a run meets, duplicate
//! names, the history of a resumed file, silent nonsense, one estimate of the disk,
//! partial recordings read right, paths checked before the build. Each section is one
//! class of the issue; each test checks the message or the files.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use volley::record::sonata::read_spike_file;

fn one_line_error(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err.trim().to_string()
}

/// `volley run` of the 2003 example into `out` with `extra`, started in the background
/// with progress lines on stderr; returns once it has printed its first one (it holds
/// its locks from before its checks to its end).
fn start_run(dir: &Path, out: &Path, extra: &[&str]) -> Child {
    let m = example("izhikevich2003.toml");
    let mut child = command(env!("CARGO_BIN_EXE_volley"))
        .args(["run", m.to_str().unwrap(), "--out", out.to_str().unwrap(), "--progress-every", "0.001"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("volley starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a progress line").unwrap();
    assert!(first.contains("ms"), "a progress line: {first}");
    // Keep reading so that the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    child
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

// ---- 1. One run per output directory ----

#[test]
fn a_second_run_into_a_directory_in_use_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let mut first = start_run(dir.path(), &out, &["--duration", "2000s"]);
    let m = example("izhikevich2003.toml");
    let second =
        volley(dir.path(), &["run", "-q", m.to_str().unwrap(), "--out", out.to_str().unwrap(), "--duration", "50ms", "--seed", "3"]);
    let err = one_line_error(&second, 2);
    assert!(
        err.contains("the output directory is in use by another volley run (host ")
            && err.contains(&format!(", pid {}, started 20", first.id()))
            && err.contains("--duration 2000s")
            && err.ends_with("wait for it to end, or choose another --out"),
        "{err}"
    );
    // The first run goes on untouched: stopped, its file holds what it says, not the
    // second run's 50 ms.
    signal(&first, libc::SIGTERM);
    assert_eq!(first.wait().unwrap().code(), Some(143));
    let file = read_spike_file(&out.join("spikes.h5")).unwrap();
    file.validate().unwrap();
    assert!(file.duration_ms.unwrap() > 0.0);
    assert!(file.provenance.iter().any(|(k, v)| k == "command_line" && v.contains("2000s")), "the first run's file");
    assert!(!out.join(".volley.lock").exists(), "the lock file goes with the run");
}

#[test]
fn two_runs_started_together_into_one_directory_one_is_refused_and_the_others_files_are_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let m = example("izhikevich2003.toml");
    let spawn = |seed: &str| {
        command(env!("CARGO_BIN_EXE_volley"))
            .args(["run", "-q", m.to_str().unwrap(), "--out", out.to_str().unwrap(), "--duration", "100s", "--seed", seed])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("1"), spawn("2"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(codes.contains(&Some(0)) && codes.contains(&Some(2)), "one runs, one is refused: {codes:?} {} {}", stderr(&a), stderr(&b));
    let (ran, refused) = if a.status.success() { ("1", &b) } else { ("2", &a) };
    assert!(one_line_error(refused, 2).contains("is in use by another volley run"));
    let file = read_spike_file(&out.join("spikes.h5")).unwrap();
    file.validate().unwrap();
    assert_eq!(file.duration_ms, Some(100_000.0));
    assert!(file.provenance.iter().any(|(k, v)| k == "seed" && v == ran), "the file is the run's that ran");
    assert!(out.join("raster.png").exists());
}

#[test]
fn a_lock_left_by_a_killed_run_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let mut first = start_run(dir.path(), &out, &["--duration", "2000s"]);
    signal(&first, libc::SIGKILL);
    first.wait().unwrap();
    assert!(out.join(".volley.lock").exists(), "a killed run leaves its lock file");
    let m = example("izhikevich2003.toml");
    assert_ok(&volley(dir.path(), &["run", "-q", m.to_str().unwrap(), "--out", out.to_str().unwrap(), "--duration", "100ms"]));
}

#[test]
fn a_checkpoint_in_use_by_another_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("c.h5");
    let mut first = start_run(dir.path(), &dir.path().join("a"), &["--duration", "2000s", "--checkpoint", checkpoint.to_str().unwrap()]);
    let m = example("izhikevich2003.toml");
    let b = dir.path().join("b");
    let second =
        volley(dir.path(), &["run", "-q", m.to_str().unwrap(), "--out", b.to_str().unwrap(), "--checkpoint", checkpoint.to_str().unwrap()]);
    let err = one_line_error(&second, 2);
    assert!(err.contains("the checkpoint is in use by another volley run") && err.ends_with("or choose another --checkpoint"), "{err}");
    assert!(!b.exists(), "the refused run made nothing");
    signal(&first, libc::SIGTERM);
    assert_eq!(first.wait().unwrap().code(), Some(75), "stopped with a checkpoint written");
}

/// An old report beside a new run's spike file: the spike file lists its run's outputs,
/// and plot refuses to draw the old report with it.
#[test]
fn an_earlier_runs_report_is_not_taken_for_this_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let with_report = variant(dir.path(), "r.toml", "[output]", "[output]\n");
    std::fs::write(&with_report, std::fs::read_to_string(&with_report).unwrap() + REPORTS).unwrap();
    let o = out.to_str().unwrap();
    assert_ok(&volley(dir.path(), &["run", "-q", &with_report, "--out", o, "--duration", "500ms"]));
    let m = example("izhikevich2003.toml");
    assert_ok(&volley(dir.path(), &["run", "-q", m.to_str().unwrap(), "--out", o, "--duration", "300ms", "--seed", "9"]));
    let file = read_spike_file(&out.join("spikes.h5")).unwrap();
    let outputs = file.provenance.iter().find(|(k, _)| k == "outputs").map(|(_, v)| v.clone()).unwrap();
    assert_eq!(outputs, "spikes.h5, raster.png", "the second run's outputs, not the first's v.h5");
    let plot = volley(
        dir.path(),
        &["plot", out.join("spikes.h5").to_str().unwrap(), "--report", out.join("v.h5").to_str().unwrap(), "-o", "f.png"],
    );
    let err = one_line_error(&plot, 2);
    assert!(err.contains("v.h5: written by another run (run_id ") && err.contains("Plot it with the spike file of its own run"), "{err}");
    assert!(!dir.path().join("f.png").exists());
}

// ---- 2. Checkpoints whose every byte is checked ----

/// Every name in an HDF5 file: attributes as `path@name`, datasets as paths.
fn items(file: &hdf5::File) -> Vec<String> {
    fn walk(group: &hdf5::Group, path: &str, out: &mut Vec<String>) {
        for a in group.attr_names().unwrap() {
            out.push(format!("{path}@{a}"));
        }
        for name in group.member_names().unwrap() {
            let at = format!("{path}/{name}");
            match group.dataset(&name) {
                Ok(d) => {
                    out.extend(d.attr_names().unwrap().into_iter().map(|a| format!("{at}@{a}")));
                    out.push(at);
                }
                Err(_) => walk(&group.group(&name).unwrap(), &at, out),
            }
        }
    }
    let mut out = Vec::new();
    walk(file, "", &mut out);
    out
}

/// Changes the first value of the item `at` (an attribute `path@name` or a dataset) in
/// place, keeping its type: a number by one, a text by a letter. False where it holds
/// no value to change.
fn tamper(path: &Path, at: &str) -> bool {
    use hdf5::types::{FloatSize, IntSize, TypeDescriptor, VarLenUnicode};
    let file = hdf5::File::open_rw(path).unwrap();
    let container: hdf5::Container = match at.split_once('@') {
        Some(("", a)) => (*file.attr(a).unwrap()).clone(),
        Some((p, a)) => match file.dataset(p) {
            Ok(d) => (*d.attr(a).unwrap()).clone(),
            Err(_) => (*file.group(p).unwrap().attr(a).unwrap()).clone(),
        },
        None => (*file.dataset(at).unwrap()).clone(),
    };
    if container.size() == 0 {
        return false;
    }
    macro_rules! bump {
        ($t:ty, $f:expr) => {{
            let mut v = container.read_raw::<$t>().unwrap();
            v[0] = $f(v[0]);
            if container.is_scalar() {
                container.as_writer().write_scalar(&v[0]).unwrap();
            } else {
                container.as_writer().write_raw(&v).unwrap();
            }
        }};
    }
    match container.dtype().unwrap().to_descriptor().unwrap() {
        TypeDescriptor::Float(FloatSize::U8) => bump!(f64, |x: f64| if x.is_nan() { 1.0 } else { x + 1.0 }),
        TypeDescriptor::Float(FloatSize::U4) => bump!(f32, |x: f32| x + 1.0),
        TypeDescriptor::Unsigned(IntSize::U8) => bump!(u64, |x: u64| x ^ 1),
        TypeDescriptor::Unsigned(IntSize::U4) => bump!(u32, |x: u32| x ^ 1),
        TypeDescriptor::VarLenUnicode => {
            let mut v = container.read_raw::<VarLenUnicode>().unwrap();
            v[0] = format!("{}x", v[0]).parse().unwrap();
            if container.is_scalar() {
                container.as_writer().write_scalar(&v[0]).unwrap();
            } else {
                container.as_writer().write_raw(&v).unwrap();
            }
        }
        other => panic!("{at}: {other:?}"),
    }
    true
}

#[test]
fn a_change_to_any_value_of_a_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = small_sparse(dir.path(), "m.toml", "weight = \"0.5*u\"", "weight = \"-u\"", "");
    let text = std::fs::read_to_string(&m).unwrap().replace("[output]", "[output]\nrates = \"rates.h5\"");
    std::fs::write(&m, text).unwrap();
    let m = m.to_str().unwrap();
    let out = dir.path().join("o");
    let checkpoint = dir.path().join("c.h5");
    let (o, c) = (out.to_str().unwrap(), checkpoint.to_str().unwrap());
    assert_ok(&volley(dir.path(), &["run", "-q", m, "--out", o, "--duration", "500ms", "--checkpoint", c]));
    let pristine = std::fs::read(&checkpoint).unwrap();
    let spikes = std::fs::read(out.join("spikes.h5")).unwrap();
    let all = items(&hdf5::File::open(&checkpoint).unwrap());
    // The counts and the step the issue changed, among every other value.
    for expected in ["@step", "/outputs/file0/lengths", "/state/exc/v", "/in_flight/gid", "/state/exc/v@checksum", "@digest"] {
        assert!(all.iter().any(|i| i == expected), "{expected} in {all:?}");
    }
    let mut refused = 0;
    for at in &all {
        std::fs::write(&checkpoint, &pristine).unwrap();
        std::fs::write(out.join("spikes.h5"), &spikes).unwrap();
        if !tamper(&checkpoint, at) {
            continue;
        }
        let run = volley(dir.path(), &["run", "-q", "--resume", c, "--duration", "600ms"]);
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{at} changed: the resume must be refused; it gave {:?}: {err}", run.status);
        assert!(err.contains("damaged") || err.contains("checkpoint"), "{at}: {err}");
        refused += 1;
    }
    assert!(refused > 30, "every value: {refused}");
    // Untouched, it resumes.
    std::fs::write(&checkpoint, &pristine).unwrap();
    std::fs::write(out.join("spikes.h5"), &spikes).unwrap();
    assert_ok(&volley(dir.path(), &["run", "-q", "--resume", c, "--duration", "600ms"]));
}

#[test]
fn a_resume_refuses_outputs_changed_cut_or_replaced_since_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let m = m.to_str().unwrap();
    let out = dir.path().join("o");
    let checkpoint = dir.path().join("c.h5");
    let (o, c) = (out.to_str().unwrap(), checkpoint.to_str().unwrap());
    assert_ok(&volley(dir.path(), &["run", "-q", m, "--out", o, "--duration", "500ms", "--checkpoint", c]));
    let spikes = out.join("spikes.h5");
    let pristine = std::fs::read(&spikes).unwrap();
    let resume = || volley(dir.path(), &["run", "-q", "--resume", c, "--duration", "1000ms"]);

    // One spike's time changed.
    {
        let f = hdf5::File::open_rw(&spikes).unwrap();
        let d = f.dataset("spikes/exc/timestamps").unwrap();
        let mut t = d.read_raw::<f64>().unwrap();
        t[3] += 1.0;
        d.write_raw(&t).unwrap();
    }
    let err = one_line_error(&resume(), 2);
    assert!(err.contains("the first") && err.contains("rows of spikes/exc/timestamps are not those the checkpoint's run wrote"), "{err}");

    // The last spike's time changed: named with its index.
    std::fs::write(&spikes, &pristine).unwrap();
    {
        let f = hdf5::File::open_rw(&spikes).unwrap();
        let d = f.dataset("spikes/inh/timestamps").unwrap();
        let mut t = d.read_raw::<f64>().unwrap();
        *t.last_mut().unwrap() -= 1.0;
        d.write_raw(&t).unwrap();
    }
    let err = one_line_error(&resume(), 2);
    assert!(err.contains("spikes/inh/timestamps[") && err.contains("where the checkpoint's run wrote its last spike at"), "{err}");

    // Replaced by another run's file (same model, another seed, longer).
    let other = dir.path().join("other");
    assert_ok(&volley(dir.path(), &["run", "-q", m, "--out", other.to_str().unwrap(), "--duration", "700ms", "--seed", "5"]));
    std::fs::copy(other.join("spikes.h5"), &spikes).unwrap();
    let err = one_line_error(&resume(), 2);
    assert!(err.contains("written by another run (run_id") && err.contains("the checkpoint's spike file was replaced since"), "{err}");

    // As the checkpoint's run left it: resumes, and equals an uninterrupted run.
    std::fs::write(&spikes, &pristine).unwrap();
    assert_ok(&resume());
    let whole = dir.path().join("whole");
    assert_ok(&volley(dir.path(), &["run", "-q", m, "--out", whole.to_str().unwrap(), "--duration", "1000ms"]));
    let (a, b) = (read_spike_file(&spikes).unwrap(), read_spike_file(&whole.join("spikes.h5")).unwrap());
    assert_eq!(a, b);
}

// ---- 3. Plans of absurd rank counts ----

#[test]
fn more_ranks_than_blocks_of_neurons_are_refused_and_large_plans_are_per_shape() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let m = m.to_str().unwrap();
    let small = ["--set", "population.exc.size=80", "--set", "population.inh.size=20"];
    for command in ["plan", "check"] {
        for ranks in ["10000000", "1000000000", "3"] {
            let out = volley(dir.path(), &[&[command, m, "--ranks", ranks][..], &small].concat());
            let err = one_line_error(&out, 2);
            assert!(
                err.contains(&format!(
                    "--ranks: expected at most 2 rank(s) for 100 neurons, got {ranks}: ranks own whole blocks of 64 neurons"
                )),
                "{err}"
            );
        }
    }
    // 10^8 neurons on 1,562,500 ranks (one block each): three shapes, planned once each
    // (rank 0 also draws the raster).
    let big = ["--set", "population.exc.size=80000000", "--set", "population.inh.size=20000000"];
    let sparse = example("izhikevich_sparse.toml");
    let out = volley(dir.path(), &[&["plan", sparse.to_str().unwrap(), "--ranks", "1562500"][..], &big].concat());
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("per rank (1562500 rank(s) × "), "{text}");
    assert!(text.contains("one row per shape of rank"), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("0        1 ")), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("1  1249999 ")), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("1250000   312500 ")), "{text}");
    let out = volley(dir.path(), &[&["plan", sparse.to_str().unwrap(), "--ranks", "1562501"][..], &big].concat());
    assert!(one_line_error(&out, 2).contains("expected at most 1562500 rank(s) for 100000000 neurons"));
}

// ---- 4. Limits the run knows before it starts ----

/// `volley` with `args` under `bash -c` with `limits` (ulimit options) and `env`.
fn limited(dir: &Path, limits: &str, env: &str, args: &[&str]) -> Output {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!("{limits}; exec env {env} '{}' {}", env!("CARGO_BIN_EXE_volley"), quoted.join(" "));
    command("bash").arg("-c").arg(script).current_dir(dir).output().unwrap()
}

#[test]
fn an_address_space_limit_refuses_the_run_before_its_build() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich_sparse.toml");
    for kb in ["40000", "70000"] {
        let out =
            limited(dir.path(), &format!("ulimit -v {kb}"), "", &["run", "-q", m.to_str().unwrap(), "--out", "o", "--duration", "100ms"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        let first = err.lines().next().unwrap();
        assert!(
            first.starts_with("error: the run needs ")
                && first.contains("but the address-space limit (ulimit -v) of ")
                && first.ends_with("raise that limit, or use fewer neurons"),
            "{first}"
        );
        assert!(!err.contains("memory allocation") && !dir.path().join("o").exists(), "{err}");
    }
    // With room, the same run runs.
    assert_ok(&limited(dir.path(), "ulimit -v 400000", "", &["run", "-q", m.to_str().unwrap(), "--out", "o", "--duration", "100ms"]));
}

#[test]
fn threads_that_cannot_start_are_an_error_naming_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    // A stack larger than any address space: no thread can start.
    let out =
        limited(dir.path(), "true", "RUST_MIN_STACK=100000000000000", &["run", "-q", m.to_str().unwrap(), "--out", "o", "--threads", "2"]);
    let err = one_line_error(&out, 1);
    assert!(err.starts_with("error: cannot start 2 threads (") && err.contains("RUST_MIN_STACK"), "{err}");
}

// ---- 5. Duplicate names ----

#[test]
fn duplicate_gate_and_channel_names_are_refused_at_parse() {
    let text = std::fs::read_to_string(example("hh_classic.toml")).unwrap();
    let gates = text.replacen("{ name = \"h\", power = 1", "{ name = \"m\", power = 1", 1);
    assert_eq!(
        check_refuses("m.toml", &gates),
        "error: m.toml:25:1: population[0].channel[0].gates[1]: expected a distinct, non-empty gate name in channel 'na', got \"m\""
    );
    let channels = text.replacen("name = \"k\"", "name = \"na\"", 1);
    assert_eq!(
        check_refuses("m.toml", &channels),
        "error: m.toml:34:1: population[0].channel[1]: expected a distinct, non-empty channel name, got \"na\""
    );
}

// ---- 6. A resumed file remembers its history ----

#[test]
fn a_resumed_file_records_every_piece_and_its_model_reproduces_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let (out, checkpoint) = (dir.path().join("o"), dir.path().join("c.h5"));
    let (o, c) = (out.to_str().unwrap(), checkpoint.to_str().unwrap());
    assert_ok(&volley(
        dir.path(),
        &["run", "-q", m.to_str().unwrap(), "--out", o, "--duration", "500ms", "--checkpoint", c, "--threads", "1"],
    ));
    assert_ok(&volley(dir.path(), &["run", "-q", "--resume", c, "--duration", "1000ms", "--threads", "2"]));
    let spikes = out.join("spikes.h5");
    let stats = stdout(&volley(dir.path(), &["stats", spikes.to_str().unwrap()]));
    let piece = |k: usize| {
        stats.lines().find(|l| l.trim_start().starts_with(&format!("piece {k} "))).unwrap_or_else(|| panic!("piece {k}: {stats}"))
    };
    assert!(piece(1).contains("from_ms = 0.0") && piece(1).contains("threads = 1") && piece(1).contains("--duration 500ms"), "{stats}");
    assert!(piece(2).contains("from_ms = 500.0") && piece(2).contains("threads = 2") && piece(2).contains("--resume"), "{stats}");
    assert!(stats.contains("  backend        cpu ("), "{stats}");
    let model = volley(dir.path(), &["stats", "--model", spikes.to_str().unwrap()]);
    assert_ok(&model);
    let text = stdout(&model);
    assert!(text.contains("duration = \"1000 ms\"") && text.contains("backend = \"cpu\""), "{text}");
    let again = dir.path().join("again.toml");
    std::fs::write(&again, text).unwrap();
    let second = dir.path().join("second");
    assert_ok(&volley(dir.path(), &["run", "-q", again.to_str().unwrap(), "--out", second.to_str().unwrap()]));
    assert_eq!(read_spike_file(&spikes).unwrap(), read_spike_file(&second.join("spikes.h5")).unwrap());
}

// ---- 7. Silent nonsense ----

#[test]
fn hodgkin_huxley_dt_too_long_is_warned_and_an_unreachable_threshold_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("hh_classic.toml");
    let m = m.to_str().unwrap();
    let out = volley(dir.path(), &["check", m, "--set", "simulation.dt=\"1 ms\""]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains("warning: population 'axon': dt = 1 ms is more than a quarter of the time constant of its fastest gate (gate m of channel na: 0.111 ms")
            && err.contains("dt ≤ 0.027 ms keeps them within a step"),
        "{err}"
    );
    assert!(stderr(&volley(dir.path(), &["check", m])).is_empty(), "the example's 0.01 ms is not warned");
    let out = volley(dir.path(), &["check", m, "--set", "population.axon.parameters.threshold=200"]);
    let err = one_line_error(&out, 2);
    assert!(err.ends_with("population[0].parameters.threshold: a threshold of 200 mV is never crossed: v stays below 50.0 mV (the highest reversal potential, or e_l + the largest injected current / g_l); expected a threshold below it"), "{err}");
    // With noise, v has no ceiling: the same threshold is the user's to choose.
    let network = example("hh_network.toml");
    assert_ok(&volley(dir.path(), &["check", network.to_str().unwrap(), "--set", "population.exc.parameters.threshold=200"]));
}

#[test]
fn progress_every_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let out = volley(dir.path(), &["run", m.to_str().unwrap(), "--out", "o", "--progress-every", "0"]);
    assert_eq!(one_line_error(&out, 2), "error: --progress-every: expected a number of seconds > 0 (--quiet prints no progress), got 0");
}

// ---- 8. One estimate of the disk; space given back ----

#[test]
fn a_run_the_pre_run_check_passes_fits_and_its_files_keep_no_reserved_space() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(dir.path(), "200k");
    let m = example("izhikevich2003.toml");
    let small = ["--set", "population.exc.size=80", "--set", "population.inh.size=20"];
    let o = disk.0.join("o");
    let run = |extra: &[&str]| {
        volley(dir.path(), &[&["run", "-q", m.to_str().unwrap(), "--out", o.to_str().unwrap()][..], &small, extra].concat())
    };
    // With its raster (planned at up to 1 MB) it cannot fit: refused before it starts.
    let refused = run(&[]);
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.lines().next().unwrap().contains("spikes.h5 and raster.png are expected to take") && err.contains("raster = \"\""),
        "{err}"
    );
    assert!(!o.exists());
    // Without, it fits, and runs to its end.
    let ran = run(&["--set", "output.raster=\"\""]);
    assert_ok(&ran);
    let file = o.join("spikes.h5");
    read_spike_file(&file).unwrap().validate().unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    assert!(
        meta.blocks() * 512 <= meta.len().div_ceil(4096) * 4096,
        "the appends' reservations are given back: {} blocks for {} bytes",
        meta.blocks(),
        meta.len()
    );
}

/// The planner's size of each file is at least what the run writes, at the rate the
/// run fires (the estimate both the pre-run check and the appends use).
#[test]
fn planned_file_sizes_bound_the_files_written() {
    let dir = tempfile::tempdir().unwrap();
    let model = variant(dir.path(), "m.toml", "[output]", "[output]\nrates = \"rates.h5\"\n");
    std::fs::write(&model, std::fs::read_to_string(&model).unwrap() + REPORTS).unwrap();
    let out = dir.path().join("o");
    assert_ok(&volley(dir.path(), &["run", "-q", &model, "--out", out.to_str().unwrap(), "--duration", "2000ms"]));
    let plan = stdout(&volley(dir.path(), &["plan", &model, "--duration", "2000ms", "--expected-rate", "8"]));
    for file in ["spikes.h5", "rates.h5", "v.h5", "u_inh.h5", "edges_w0.h5", "edges_w1.h5"] {
        let line = plan.lines().find(|l| l.trim_start().starts_with(&format!("{file} "))).unwrap_or_else(|| panic!("{file} in {plan}"));
        let planned: Vec<&str> = line.split_whitespace().collect();
        let scale = match planned[2] {
            "KB" => 1e3,
            "MB" => 1e6,
            "B" => 1.0,
            other => panic!("{other}"),
        };
        let planned = planned[1].parse::<f64>().unwrap() * scale;
        let written = std::fs::metadata(out.join(file)).unwrap().len() as f64;
        assert!(planned >= written, "{file}: planned {planned} bytes, written {written}");
    }
}

// ---- 9. Partial recordings read right ----

#[test]
fn a_partial_recording_says_which_neurons_it_holds_and_rates_use_them() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let (all, part) = (dir.path().join("all"), dir.path().join("part"));
    assert_ok(&volley(dir.path(), &["run", "-q", m.to_str().unwrap(), "--out", all.to_str().unwrap(), "--duration", "2000ms"]));
    let fraction = ["--set", "output.spike_neurons={ fraction = 0.1, seed = 4 }"];
    assert_ok(&volley(
        dir.path(),
        &[&["run", "-q", m.to_str().unwrap(), "--out", part.to_str().unwrap(), "--duration", "2000ms"][..], &fraction].concat(),
    ));
    let file = hdf5::File::open(part.join("spikes.h5")).unwrap();
    let group = file.group("spikes/exc").unwrap();
    let ids: Vec<u64> = group.dataset("recorded_node_ids").unwrap().read_raw().unwrap();
    let n = group.attr("n_recorded").unwrap().read_scalar::<u64>().unwrap();
    assert_eq!(ids.len() as u64, n);
    assert!((40..=120).contains(&n), "about a tenth of 800: {n}");
    let spikes = read_spike_file(&part.join("spikes.h5")).unwrap();
    assert!(spikes.populations[0].node_ids.iter().all(|i| ids.binary_search(i).is_ok()), "spikes of recorded neurons only");
    let rate = |dir: &Path| -> f64 {
        let text = stdout(&volley(dir, &["stats", dir.join("spikes.h5").to_str().unwrap()]));
        let line = text.lines().find(|l| l.trim_start().starts_with("exc ")).unwrap().to_string();
        line.split("rate").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap()
    };
    let (full, partial) = (rate(&all), rate(&part));
    assert!((partial - full).abs() < 0.25 * full, "the recorded tenth fires as the population does: {partial} Hz against {full} Hz");
    let text = stdout(&volley(dir.path(), &["stats", part.join("spikes.h5").to_str().unwrap()]));
    assert!(text.contains(&format!("800 neurons ({n} recorded)")), "{text}");
}

#[test]
fn populations_keep_the_models_order() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(example("izhikevich2003.toml")).unwrap().replace("\"exc\"", "\"zeta\"").replace("\"inh\"", "\"alpha\"");
    let m = dir.path().join("m.toml");
    std::fs::write(&m, text).unwrap();
    let out = dir.path().join("o");
    assert_ok(&volley(dir.path(), &["run", "-q", m.to_str().unwrap(), "--out", out.to_str().unwrap(), "--duration", "200ms"]));
    let file = read_spike_file(&out.join("spikes.h5")).unwrap();
    let names: Vec<&str> = file.populations.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha"]);
    let stats = stdout(&volley(dir.path(), &["stats", out.join("spikes.h5").to_str().unwrap()]));
    assert!(stats.find("  zeta ").unwrap() < stats.find("  alpha ").unwrap(), "{stats}");
}

#[test]
fn check_describe_shows_the_files_values_beside_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[simulation]\ndt = \"0.1 ms\"\nduration = \"10 ms\"\n[[population]]\nname = \"a\"\nsize = 10\nmodel = \"iaf_psc_exp\"\nparameters = { e_l = -65, tau_syn_ex = 0.5, tau_syn_in = 0.5 }\ninitial = { v = \"-70 + r\" }\n";
    let m = dir.path().join("m.toml");
    std::fs::write(&m, text).unwrap();
    let run = volley(dir.path(), &["check", m.to_str().unwrap(), "--describe"]);
    assert_ok(&run);
    let out = stdout(&run);
    assert!(out.contains("e_l [mV] = -65 (default -70)") && out.contains("tau_syn_ex [ms] = 0.5 (default 2)"), "{out}");
    assert!(out.contains("tau_m [ms] = 10 (default)") && out.contains("v [mV] = -70 + r (default e_l)"), "{out}");
}

// ---- 10. Every path checked before the build ----

#[test]
fn a_bad_report_csv_path_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    for (csv, message) in [
        ("/proc/x.csv", "error: --report-csv: cannot write /proc/x.csv: No such file or directory (os error 2)"),
        ("/tmp", "error: --report-csv: /tmp is a directory: expected a file name"),
    ] {
        let out = volley(dir.path(), &["run", "-q", m.to_str().unwrap(), "--out", "o", "--report-csv", csv]);
        assert_eq!(one_line_error(&out, 2), message);
        assert!(!dir.path().join("o").exists(), "nothing written");
    }
}

// ---- Smaller ----

#[test]
fn a_long_expression_is_quoted_around_its_fault() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("{}2 * * 3", "1+".repeat(5000));
    let m = variant(dir.path(), "m.toml", "c = \"-65 + 15*r^2\"", &format!("c = \"{long}\""));
    let err = one_line_error(&volley(dir.path(), &["check", &m]), 2);
    assert!(err.len() < 300, "{} characters: {err}", err.len());
    assert!(err.contains("in expression '…") && err.contains("2 * * 3' (characters ") && err.contains(" of 10007)"), "{err}");
}

#[test]
fn a_truncated_report_is_called_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let model = variant(dir.path(), "m.toml", "[output]", "[output]\n");
    std::fs::write(&model, std::fs::read_to_string(&model).unwrap() + REPORTS).unwrap();
    let out = dir.path().join("o");
    assert_ok(&volley(dir.path(), &["run", "-q", &model, "--out", out.to_str().unwrap(), "--duration", "500ms"]));
    let v = out.join("v.h5");
    let bytes = std::fs::read(&v).unwrap();
    std::fs::write(&v, &bytes[..bytes.len() / 2]).unwrap();
    let plot = volley(dir.path(), &["plot", out.join("spikes.h5").to_str().unwrap(), "--report", v.to_str().unwrap(), "-o", "f.png"]);
    let err = one_line_error(&plot, 2);
    assert!(err.contains("v.h5: an HDF5 file that cannot be opened, truncated or damaged"), "{err}");
}

/// A report window beyond the first piece's end does not block it: the resumed run
/// samples it.
#[test]
fn report_windows_beyond_a_first_pieces_end_are_sampled_when_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let window = "\n[[output.report]]\nfile = \"late.h5\"\nvariable = \"v\"\nneurons = { range = [0, 4] }\nwindows = [[\"100 ms\", \"200 ms\"], [\"600 ms\", \"800 ms\"]]\n";
    let model = variant(dir.path(), "m.toml", "[output]", "[output]\n");
    std::fs::write(&model, std::fs::read_to_string(&model).unwrap() + window).unwrap();
    let (out, checkpoint) = (dir.path().join("o"), dir.path().join("c.h5"));
    let first = volley(
        dir.path(),
        &["run", "-q", &model, "--out", out.to_str().unwrap(), "--duration", "500ms", "--checkpoint", checkpoint.to_str().unwrap()],
    );
    assert_ok(&first);
    assert!(
        stderr(&first).contains("output.report[0] (late_w1.h5) samples from 600 ms, beyond this run's end (500 ms)"),
        "{}",
        stderr(&first)
    );
    assert_ok(&volley(dir.path(), &["run", "-q", "--resume", checkpoint.to_str().unwrap(), "--duration", "1000ms"]));
    let f = hdf5::File::open(out.join("late_w1.h5")).unwrap();
    assert_eq!(f.dataset("report/exc/data").unwrap().shape(), [200, 4]);
}

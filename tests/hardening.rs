//! What a user types or a model does may not crash volley, corrupt a file or pass
//! silently (issue 8): expressions that would overflow a stack, values that are not
//! finite at build or during the run, outputs checked before the build, signals during
//! the build, degenerate spike files, files that explain themselves.

mod common;

use common::*;
use std::path::Path;
use std::process::{Output, Stdio};
use volley::record::sonata::read_spike_file;

fn one_line_error(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {err}");
    assert!(!err.contains("panicked") && !err.contains("overflow"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err.trim().to_string()
}

fn run_in(dir: &Path, model: &str, extra: &[&str]) -> Output {
    let out = dir.join("out");
    volley(dir, &[&["run", "-q", model, "--out", out.to_str().unwrap()], extra].concat())
}

// ---- 2. Expressions that would crash the process ----

#[test]
fn deeply_nested_expressions_are_refused_with_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in
        [format!("{}r{}", "(".repeat(10_000), ")".repeat(10_000)), format!("{}r", "-".repeat(10_000)), format!("r{}", "^r".repeat(10_000))]
            .iter()
            .enumerate()
    {
        let m = variant(dir.path(), &format!("m{i}.toml"), "c = \"-65 + 15*r^2\"", &format!("c = \"{text}\""));
        for command in ["check", "run"] {
            let out = volley(dir.path(), &[command, &m]);
            let err = one_line_error(&out, 2);
            assert!(
                err.contains("population[0].parameters.c: in expression")
                    && err.ends_with("nested deeper than 64 levels (parentheses, signs, powers and function calls)"),
                "{err}"
            );
        }
    }
    let huge = format!("c = \"{}\"", "1+".repeat(5_000_000) + "1");
    let m = variant(dir.path(), "huge.toml", "c = \"-65 + 15*r^2\"", &huge);
    let err = one_line_error(&volley(dir.path(), &["check", &m]), 2);
    assert!(err.ends_with("expected at most 65536 characters, got 10000001"), "{}", &err[err.len() - 80..]);
}

#[test]
fn a_flat_sum_of_30000_terms_runs_in_the_worker_threads() {
    let dir = tempfile::tempdir().unwrap();
    // Exactly 0.5*u, written as 30,000 terms: the shard threads evaluate it at build.
    let sum = vec!["u"; 30_000].join("+");
    let m = variant(dir.path(), "m.toml", "weight = \"0.5*u\"", &format!("weight = \"0.5*({sum})/30000\""));
    let out = run_in(dir.path(), &m, &["--duration", "100ms", "--threads", "2"]);
    assert_ok(&out);
}

// ---- 3. Non-finite values ----

#[test]
fn non_finite_parameters_initial_values_and_weights_are_refused_at_build() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let m = m.to_str().unwrap();
    let file = m.to_string();
    let cases = [
        ("population.exc.parameters.c=\"1/0\"", "--set population.exc.parameters.c=\"1/0\": population[0].parameters.c: evaluates to inf: expected a finite number".to_string()),
        ("population.exc.parameters.c=\"ln(0)\"", "--set population.exc.parameters.c=\"ln(0)\": population[0].parameters.c: evaluates to -inf: expected a finite number".to_string()),
        ("population.inh.parameters.a=\"sqrt(-1)\"", "--set population.inh.parameters.a=\"sqrt(-1)\": population[1].parameters.a: evaluates to NaN: expected a finite number".to_string()),
        ("population.exc.initial.v=\"sqrt(-1)\"", "--set population.exc.initial.v=\"sqrt(-1)\": population[0].initial.v: evaluates to NaN: expected a finite number".to_string()),
        ("projection.0.weight=\"1/0\"", "--set projection.0.weight=\"1/0\": projection[0].weight: evaluates to inf: expected a finite number".to_string()),
        ("projection.1.weight=\"ln(u-0.3)\"", "--set projection.1.weight=\"ln(u-0.3)\": projection[1].weight: evaluates to NaN at u = 0: expected a finite number".to_string()),
        // TOML's own nan and inf, as numbers (not read as names of an expression).
        ("projection.0.weight=nan", "--set projection.0.weight=nan: projection[0].weight: expected a finite number, got NaN".to_string()),
        ("projection.0.weight=-inf", "--set projection.0.weight=-inf: projection[0].weight: expected a finite number, got -inf".to_string()),
        // Only for some neurons: named with its id and r, at build.
        (
            "population.exc.parameters.d=\"sqrt(r-0.5)\"",
            format!("{file}: population[0].parameters.d: evaluates to NaN for neuron 1 of 'exc' (r = 0.41978968345240675): expected a finite number"),
        ),
        (
            "population.exc.parameters.d=\"1e300*r\"",
            format!("{file}: population[0].parameters.d: evaluates to 7.097874837935422e299, beyond the range of f32 (±3.4e38) for neuron 0 of 'exc' (r = 0.7097874837935422): expected a finite number"),
        ),
    ];
    for (set, expected) in cases {
        let out = run_in(dir.path(), m, &["--set", set]);
        assert_eq!(one_line_error(&out, 2), format!("error: {expected}"), "{set}");
        assert!(!dir.path().join("out").exists(), "nothing written for {set}");
    }
}

/// A stimulus's value that is finite but beyond f32 is said to be so (not "expected a
/// finite number, got 1000000000000000000000000000000000000000").
#[test]
fn a_stimulus_value_beyond_f32_is_named_so() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("hh_classic.toml");
    let out = run_in(dir.path(), m.to_str().unwrap(), &["--set", "stimulus.0.amplitudes=[0, 1e39]"]);
    assert_eq!(
        one_line_error(&out, 2),
        "error: --set stimulus.0.amplitudes=[0, 1e39]: stimulus[0].amplitudes[1]: expected a finite number, got 1e39, beyond the range of f32 (±3.4e38)"
    );
}

#[test]
fn a_stored_synapse_whose_weight_is_not_finite_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // Finite on the grid of u the validation searches, NaN for one synapse's u only: the
    // u of synapse 0 (from exc 0) in the row of exc 0 of projection 0, seed 1.
    let key = volley::rng::row_key(volley::rng::projection_key(1, 0), 0);
    let [a, b] = volley::rng::threefry2x32([0, volley::rng::lane::WEIGHT], key);
    let u = volley::rng::unit_f64(a, b);
    let m = example("izhikevich2003.toml");
    let w = format!("projection.0.weight=\"0.5*u + 0/(u - {u:?})\"");
    let out = run_in(dir.path(), m.to_str().unwrap(), &["--set", &w]);
    let err = one_line_error(&out, 2);
    assert!(
        err.contains(&format!(
            "projection[0].weight: evaluates to NaN for the synapse from exc 0 to exc 0 (u = {u:?}): expected a finite number"
        )),
        "{err}"
    );
}

#[test]
fn a_state_that_leaves_the_finite_numbers_stops_the_run_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let out = run_in(dir.path(), m.to_str().unwrap(), &["--set", "projection.0.weight=\"5000*u\"", "--set", "output.flush_every=\"5 ms\""]);
    let err = one_line_error(&out, 3);
    let file = dir.path().join("out/spikes.h5");
    assert_eq!(
        err,
        format!(
            "error: the state left the finite numbers: v of neuron 0 of 'exc' became inf in the step to 11 ms (step 10); {} holds every spike up to then; smaller weights, inputs or dt keep it finite",
            file.display()
        )
    );
    let f = read_spike_file(&file).unwrap();
    assert_eq!(f.duration_ms, Some(11.0));
    f.validate().unwrap();
    assert!(f.provenance.iter().any(|(k, v)| k == "status" && v == "stopped: a state became non-finite at 11 ms"), "{:?}", f.provenance);
    // Its first 10 ms are those of a run of 10 ms, which ends before the state leaves
    // the finite numbers; the step to 11 ms is kept as well.
    let short = dir.path().join("short");
    assert_ok(&volley(
        dir.path(),
        &[
            "run",
            "-q",
            m.to_str().unwrap(),
            "--out",
            short.to_str().unwrap(),
            "--duration",
            "10ms",
            "--set",
            "projection.0.weight=\"5000*u\"",
        ],
    ));
    let g = read_spike_file(&short.join("spikes.h5")).unwrap();
    for (p, q) in f.populations.iter().zip(&g.populations) {
        let n = p.timestamps_ms.iter().filter(|&&t| t <= 10.0).count();
        assert_eq!((&p.timestamps_ms[..n], &p.node_ids[..n]), (&q.timestamps_ms[..], &q.node_ids[..]));
        assert!(p.timestamps_ms[n..].iter().all(|&t| t == 11.0));
    }
}

// ---- 5. Problems found only after the work is done ----

#[test]
fn outputs_are_checked_before_anything_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "raster = \"raster.png\"", "raster = \"raster.jpg\"");
    let err = one_line_error(&run_in(dir.path(), &m, &[]), 2);
    assert!(err.ends_with("output.raster: expected a file name ending in .png (the raster is a PNG), got \"raster.jpg\""), "{err}");
    // An output name taken by a directory: refused before the build, previous results
    // untouched.
    let model = example("izhikevich2003.toml");
    let model = model.to_str().unwrap();
    assert_ok(&run_in(dir.path(), model, &["--duration", "50ms"]));
    let before = std::fs::read(dir.path().join("out/spikes.h5")).unwrap();
    std::fs::remove_file(dir.path().join("out/raster.png")).unwrap();
    std::fs::create_dir(dir.path().join("out/raster.png")).unwrap();
    let out = run_in(dir.path(), model, &["--duration", "60ms"]);
    let err = one_line_error(&out, 2);
    assert_eq!(
        err,
        format!(
            "error: cannot write output to {}: a directory has this name: choose another file name",
            dir.path().join("out/raster.png").display()
        )
    );
    assert!(stdout(&out).is_empty(), "nothing simulated");
    assert_eq!(std::fs::read(dir.path().join("out/spikes.h5")).unwrap(), before);
    // An output directory under a file.
    std::fs::write(dir.path().join("plain"), b"x").unwrap();
    let out = volley(dir.path(), &["run", "-q", model, "--out", dir.path().join("plain/sub").to_str().unwrap()]);
    assert!(one_line_error(&out, 2).contains("plain is not a directory; choose a directory this user can write"));
}

#[test]
fn a_signal_during_the_build_stops_it_promptly_and_leaves_the_previous_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sparse = example("izhikevich_sparse.toml");
    let args = |n: &str| {
        vec![
            "run".to_string(),
            "-q".into(),
            sparse.to_str().unwrap().into(),
            "--out".into(),
            out.to_str().unwrap().into(),
            "--duration".into(),
            "20ms".into(),
            "--set".into(),
            format!("population.exc.size={n}"),
        ]
    };
    assert_ok(&common::command(env!("CARGO_BIN_EXE_volley")).args(args("800")).output().unwrap());
    let before = std::fs::read(out.join("spikes.h5")).unwrap();
    // 400,000 neurons × 1000 synapses: a build of many seconds.
    let mut child =
        common::command(env!("CARGO_BIN_EXE_volley")).args(args("400000")).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let sent = std::time::Instant::now();
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(sent.elapsed().as_secs_f64() < 1.0, "stopped within a second: {:?}", sent.elapsed());
    assert_eq!(status.code(), Some(143));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(err.trim(), "volley: stopped by a signal while building the network; nothing was written");
    assert_eq!(std::fs::read(out.join("spikes.h5")).unwrap(), before, "previous outputs untouched");
    assert!(!out.join("spikes.partial.h5").exists());
}

// ---- 7. Analysis of degenerate files ----

/// A copy of a real spike file with one dataset replaced.
fn doctored(dir: &Path, name: &str, dataset: &str, edit: impl Fn(&mut Vec<f64>)) -> std::path::PathBuf {
    let model = example("izhikevich2003.toml");
    let src = dir.join("src");
    if !src.exists() {
        assert_ok(&volley(dir, &["run", "-q", model.to_str().unwrap(), "--out", src.to_str().unwrap(), "--duration", "100ms"]));
    }
    let path = dir.join(name);
    std::fs::copy(src.join("spikes.h5"), &path).unwrap();
    let f = hdf5::File::open_rw(&path).unwrap();
    let d = f.dataset(dataset).unwrap();
    let mut values: Vec<f64> = d.read_raw::<f64>().unwrap();
    edit(&mut values);
    if dataset.ends_with("node_ids") {
        d.write_raw(&values.iter().map(|&x| x as u64).collect::<Vec<u64>>()).unwrap();
    } else {
        d.write_raw(&values).unwrap();
    }
    path
}

#[test]
fn stats_on_degenerate_files_says_what_is_missing_or_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let stats = |path: &Path| volley(dir.path(), &["stats", path.to_str().unwrap()]);
    // No spikes at all.
    let m = example("izhikevich2003.toml");
    let quiet = dir.path().join("quiet");
    assert_ok(&volley(
        dir.path(),
        &[
            "run",
            "-q",
            m.to_str().unwrap(),
            "--out",
            quiet.to_str().unwrap(),
            "--duration",
            "3ms",
            "--set",
            "population.exc.noise_std=0",
            "--set",
            "population.inh.noise_std=0",
        ],
    ));
    let out = stats(&quiet.join("spikes.h5"));
    assert_ok(&out);
    let text = stdout(&out);
    assert!(!text.contains("NaN"), "{text}");
    assert!(text.contains("largest peak < 15 Hz   n/a (no spikes)") && text.contains("CV(ISI) n/a (no neuron with 3 spikes)"), "{text}");
    // A file that covers 0 ms.
    let zero = doctored(dir.path(), "zero.h5", "spikes/exc/timestamps", |_| {});
    hdf5::File::open_rw(&zero).unwrap().attr("duration_ms").unwrap().write_scalar(&0.0f64).unwrap();
    let out = stats(&zero);
    let err = one_line_error(&out, 2);
    assert!(err.contains("is beyond the file's duration_ms = 0"), "{err}");
    // A file of no time at all.
    let empty = dir.path().join("empty.h5");
    let pops = vec![volley::record::sonata::PopulationRange { name: "a".into(), first_gid: 0, size: 10 }];
    let comm = volley::comm::LocalComm;
    let layout = volley::record::writer::SpikeDatasets { chunk: 1024, recorded: None };
    let w = volley::record::writer::SpikeWriter::create(&empty, pops, vec![layout], 1.0, &Default::default(), &comm).unwrap();
    w.finish(0, "complete", &comm).unwrap();
    let out = stats(&empty);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("rate n/a (the file covers 0 ms)") && !text.contains("NaN"), "{text}");
    // Ids beyond the population and negative or unsorted times.
    let ids = doctored(dir.path(), "ids.h5", "spikes/exc/node_ids", |v| v[3] = 800.0);
    assert_eq!(
        one_line_error(&stats(&ids), 2),
        format!("error: cannot read {}: /spikes/exc/node_ids[3] = 800 is not below the population's n_nodes = 800", ids.display())
    );
    let negative = doctored(dir.path(), "neg.h5", "spikes/inh/timestamps", |v| v[0] = -1.0);
    assert!(one_line_error(&stats(&negative), 2).ends_with("/spikes/inh/timestamps[0] = -1 ms: expected a time ≥ 0"));
    let unsorted = doctored(dir.path(), "unsorted.h5", "spikes/exc/timestamps", |v| v.swap(0, 40));
    assert!(one_line_error(&stats(&unsorted), 2).contains("the spikes are not sorted by time"));
    // Missing, foreign, damaged, and a directory: each its own message.
    let missing = dir.path().join("missing.h5");
    assert_eq!(
        one_line_error(&stats(&missing), 2),
        format!("error: cannot read {}: No such file or directory (os error 2)", missing.display())
    );
    let foreign = dir.path().join("notes.h5");
    std::fs::write(&foreign, b"these are notes").unwrap();
    assert_eq!(
        one_line_error(&stats(&foreign), 2),
        format!("error: cannot read {}: not an HDF5 file (15 bytes, without HDF5's signature)", foreign.display())
    );
    let truncated = dir.path().join("truncated.h5");
    std::fs::write(&truncated, &std::fs::read(quiet.join("spikes.h5")).unwrap()[..3000]).unwrap();
    assert!(one_line_error(&stats(&truncated), 2).contains("an HDF5 file that cannot be opened, truncated or damaged"));
    assert!(one_line_error(&stats(dir.path()), 2).ends_with("it is a directory, not a spike file"));
    // The plot refuses them too.
    let out = volley(dir.path(), &["plot", ids.to_str().unwrap(), "-o", dir.path().join("p.png").to_str().unwrap()]);
    one_line_error(&out, 2);
}

// ---- 8. Files that explain themselves ----

#[test]
fn a_spike_file_records_its_run_and_the_recorded_model_runs_again_to_the_same_spikes() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let first = dir.path().join("first");
    let args =
        ["run", "-q", m.to_str().unwrap(), "--out", first.to_str().unwrap(), "--seed", "18446744073709551557", "--duration", "300ms"];
    assert_ok(&volley(dir.path(), &[&args[..], &["--set", "population.inh.noise_std=3"]].concat()));
    let out = volley(dir.path(), &["stats", first.join("spikes.h5").to_str().unwrap()]);
    assert_ok(&out);
    let text = stdout(&out);
    for line in [
        "  status         complete",
        "  volley_version ",
        "  git_revision   ",
        "  seed           18446744073709551557",
        "  ranks          1",
        "  start_time     20",
        "  command_line   ",
        "  model          ",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    // The model as run (seed and --set included) reproduces the spikes.
    let model = volley(dir.path(), &["stats", "--model", first.join("spikes.h5").to_str().unwrap()]);
    assert_ok(&model);
    let recorded = stdout(&model);
    assert!(recorded.contains("seed = \"18446744073709551557\"") && recorded.contains("noise_std = 3"), "{recorded}");
    let again = dir.path().join("again.toml");
    std::fs::write(&again, recorded).unwrap();
    let second = dir.path().join("second");
    assert_ok(&volley(dir.path(), &["run", "-q", again.to_str().unwrap(), "--out", second.to_str().unwrap()]));
    let (a, b) = (read_spike_file(&first.join("spikes.h5")).unwrap(), read_spike_file(&second.join("spikes.h5")).unwrap());
    assert_eq!(a.populations, b.populations);
    assert_eq!(a.duration_ms, b.duration_ms);
}

#[test]
fn small_runs_give_small_files() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let out = dir.path().join("small");
    assert_ok(&volley(
        dir.path(),
        &[
            "run",
            "-q",
            m.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--set",
            "population.exc.size=80",
            "--set",
            "population.inh.size=20",
        ],
    ));
    let size = std::fs::metadata(out.join("spikes.h5")).unwrap().len();
    assert!(size < 100_000, "a 1000 ms run of 100 neurons: {size} bytes");
    let spikes: usize = read_spike_file(&out.join("spikes.h5")).unwrap().populations.iter().map(|p| p.node_ids.len()).sum();
    assert!(spikes > 300, "{spikes}");
}

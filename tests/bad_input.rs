//! Every kind of bad input gets one clear message naming the file, the place, the field
//! and what was expected; exit code 2; no panic; no output left behind.

mod common;

use common::*;
use std::path::Path;

/// Runs `volley run` on a bad model file and returns its one-line error.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = volley(dir, args);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "panic: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(stdout(&out).is_empty());
    assert!(!dir.join("out").exists(), "no output directory for a refused run");
    err.trim().to_string()
}

fn run_args<'a>(model: &'a str, dir: &'a Path) -> Vec<&'a str> {
    vec!["run", model, "--out", dir.join("out").to_str().unwrap().to_string().leak()]
}

#[test]
fn missing_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = refused(dir.path(), &run_args("nowhere.toml", dir.path()));
    assert_eq!(err, "error: cannot read nowhere.toml: No such file or directory (os error 2)");
}

#[test]
fn toml_syntax_error() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "[simulation]", "[simulation");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert!(err.starts_with(&format!("error: {m}:7:12: ")), "{err}");
    assert!(err.contains("expected `]`"), "{err}");
}

#[test]
fn unknown_field() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "seed = 1 ", "colour = \"red\"\nseed = 1 ");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert_eq!(
        err,
        format!("error: {m}:10:1: simulation.colour: unknown field `colour`, expected one of `dt`, `duration`, `seed`, `backend`")
    );
}

#[test]
fn unknown_model_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "a = 0.02\n", "a = 0.02\nalpha = 3\n");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert_eq!(err, format!("error: {m}:21:9: population[0].parameters.alpha: unknown name 'alpha' for the izhikevich model (expected one of: a, b, c, d, v_peak)"));
}

#[test]
fn negative_size() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "size = 800", "size = -5");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert_eq!(err, format!("error: {m}:16:8: population[0].size: expected a positive number of neurons, got -5"));
}

#[test]
fn expression_that_does_not_parse() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "c = \"-65 + 15*r^2\"", "c = \"-65 + 15*r^^2\"");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert_eq!(err, format!("error: {m}:22:17: population[0].parameters.c: in expression '-65 + 15*r^^2': unexpected '^'"));
}

#[test]
fn expression_with_unknown_name() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "d = \"8 - 6*r^2\"", "d = \"8 - 6*q^2\"");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert_eq!(err, format!("error: {m}:23:12: population[0].parameters.d: in expression '8 - 6*q^2': unknown name 'q' (known here: r)"));
}

#[test]
fn weight_with_unknown_name() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "weight = \"-u\"", "weight = \"-r\"");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert!(err.ends_with("projection[2].weight: in expression '-r': unknown name 'r' (known here: u, u2, u3)"), "{err}");
}

#[test]
fn unknown_population_in_projection() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "target = \"exc\"", "target = \"exx\"");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert_eq!(err, format!("error: {m}:51:10: projection[0].target: unknown population 'exx' (defined: exc, inh)"));
}

#[test]
fn unknown_neuron_model() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "model = \"izhikevich\"", "model = \"hodgkin\"");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert_eq!(
        err,
        format!("error: {m}:17:9: population[0].model: unknown neuron model 'hodgkin' (known: izhikevich, hh, iaf_psc_exp, iaf_psc_alpha, iaf_psc_delta, iaf_cond_exp, iaf_cond_alpha, izhikevich_nest, hh_cond_exp_traub, spike_source)")
    );
}

#[test]
fn non_positive_dt() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, shown) in [("dt = 0", "0"), ("dt = \"-1 ms\"", "-1 ms")] {
        let m = variant(dir.path(), "m.toml", "dt = \"1 ms\"", bad);
        let err = refused(dir.path(), &run_args(&m, dir.path()));
        assert_eq!(err, format!("error: {m}:8:6: simulation.dt: expected a time greater than 0, got {shown}"));
    }
}

#[test]
fn time_without_known_unit() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "duration = \"1000 ms\"", "duration = \"1000 parsecs\"");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert!(err.contains("simulation.duration: expected a time such as \"1000 ms\""), "{err}");
}

#[test]
fn delay_not_a_whole_number_of_steps() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "delay = \"1 ms\"", "delay = \"1.5 ms\"");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert!(err.ends_with("projection[0].delay: expected a whole number (at least 1) of steps of dt = 1 ms, got 1.5 ms"), "{err}");
}

#[test]
fn unwritable_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-file"), b"").unwrap();
    let target = dir.path().join("a-file").join("sub");
    let model = example("izhikevich2003.toml");
    let err = refused(dir.path(), &["run", model.to_str().unwrap(), "--out", target.to_str().unwrap()]);
    assert_eq!(
        err,
        format!(
            "error: cannot write output to {}: {} is not a directory; choose a directory this user can write: --out DIR, or output.dir in the model file",
            target.display(),
            dir.path().join("a-file").display()
        )
    );
}

#[test]
fn bad_command_line_values() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich2003.toml");
    let m = model.to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    assert_eq!(refused(dir.path(), &["run", m, "--out", o, "--threads", "0"]), "error: --threads: expected at least 1 thread");
    assert_eq!(
        refused(dir.path(), &["run", m, "--out", o, "--progress-every=-1"]),
        "error: --progress-every: expected a number of seconds > 0 (--quiet prints no progress), got -1"
    );
    assert_eq!(
        refused(dir.path(), &["run", m, "--out", o, "--max-memory", "lots"]),
        "error: --max-memory: expected a size such as \"8GB\" or \"512MiB\", got \"lots\""
    );
    assert_eq!(
        refused(dir.path(), &["run", m, "--out", o, "--duration", "5 parsecs"]),
        "error: --duration 5 parsecs: simulation.duration: expected a time such as \"1000 ms\", \"2 s\" or \"1e-3 s\" (units ms, s, us, min), got \"5 parsecs\""
    );
}

#[test]
fn command_line_values_go_through_the_model_file_validation() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich2003.toml");
    let m = model.to_str().unwrap();
    let o = dir.path().join("out");
    let o = o.to_str().unwrap();
    let run = |extra: &[&str]| refused(dir.path(), &[&["run", m, "--out", o], extra].concat());
    assert_eq!(run(&["--duration=-5ms"]), "error: --duration -5ms: simulation.duration: expected a time greater than 0, got -5ms");
    assert_eq!(run(&["--duration", "0ms"]), "error: --duration 0ms: simulation.duration: expected a time greater than 0, got 0ms");
    assert_eq!(
        run(&["--duration", "2.5ms"]),
        "error: --duration 2.5ms: simulation.duration: expected a whole number of steps of dt = 1 ms, got 2.5 ms"
    );
    // The error names the override, not the file's line, which holds a valid dt.
    assert_eq!(run(&["--set", "simulation.dt=0"]), "error: --set simulation.dt=0: simulation.dt: expected a time greater than 0, got 0");
    assert_eq!(
        run(&["--set", "projection.0.connection.k=10"]),
        "error: --set projection.0.connection.k=10: projection[0].connection.k: rule all_to_all does not use 'k' (its keys: rule, autapses)"
    );
    assert_eq!(
        run(&["--set", "population.exc.size=-1"]),
        "error: --set population.exc.size=-1: population[0].size: expected a positive number of neurons, got -1"
    );
    // A value inside an inline table, given by --set, is the option's error too.
    let microcircuit = example("microcircuit.toml");
    let out = volley(dir.path(), &["check", microcircuit.to_str().unwrap(), "--set", "projection.0.connection.n=-5"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "error: --set projection.0.connection.n=-5: projection[0].connection.n: expected n ≥ 0 synapses, got -5"
    );
    // `check` validates the same way.
    let out = volley(dir.path(), &["check", m, "--duration", "0 s"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).trim(), "error: --duration 0 s: simulation.duration: expected a time greater than 0, got 0 s");
}

#[test]
fn a_refused_duration_leaves_the_previous_results_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich2003.toml");
    let out = dir.path().join("res");
    let o = out.to_str().unwrap();
    assert_ok(&volley(dir.path(), &["run", "-q", model.to_str().unwrap(), "--out", o, "--duration", "50ms"]));
    let before = std::fs::read(out.join("spikes.h5")).unwrap();
    for bad in ["--duration=-5ms", "--duration=0ms"] {
        let run = volley(dir.path(), &["run", "-q", model.to_str().unwrap(), "--out", o, bad]);
        assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    }
    assert_eq!(std::fs::read(out.join("spikes.h5")).unwrap(), before);
}

#[test]
fn a_connection_key_its_rule_does_not_use() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "{ rule = \"all_to_all\", autapses = true }", "{ rule = \"all_to_all\", k = 10 }");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert_eq!(err, format!("error: {m}:52:37: projection[0].connection.k: rule all_to_all does not use 'k' (its keys: rule, autapses)"));
    let s = sparse_variant(dir.path(), "rule = \"fixed_indegree\", k = 800", "rule = \"fixed_indegree\", k = 800, p = 0.1");
    let err = refused(dir.path(), &run_args(&s, dir.path()));
    assert!(
        err.ends_with("projection[0].connection.p: rule fixed_indegree does not use 'p' (its keys: rule, k, autapses, multapses)"),
        "{err}"
    );
}

#[test]
fn seeds_of_the_whole_u64_range_can_be_written_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let big = "18446744073709551615";
    let m = variant(dir.path(), "m.toml", "seed = 1 ", &format!("seed = \"{big}\" "));
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert_ok(&volley(dir.path(), &["run", "-q", &m, "--duration", "100ms", "--out", a.to_str().unwrap()]));
    let model = example("izhikevich2003.toml");
    let flag = ["run", "-q", model.to_str().unwrap(), "--duration", "100ms", "--seed", big, "--out", b.to_str().unwrap()];
    assert_ok(&volley(dir.path(), &flag));
    let read = |p: &Path| volley::record::sonata::read_spike_file(&p.join("spikes.h5")).unwrap();
    assert_eq!(read(&a), read(&b), "the file's seed and --seed give the same spikes");
    // An integer literal that TOML cannot hold says how to write it.
    let m = variant(dir.path(), "m2.toml", "seed = 1 ", "seed = 9223372036854775808 ");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert!(err.ends_with("simulation.seed: u64 value was too large (seeds from 2^63 to 2^64 - 1 are written as strings: seed = \"18446744073709551615\")"), "{err}");
}

#[test]
fn times_with_exponents() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "duration = \"1000 ms\"", "duration = \"2e-2 s\"");
    let o = dir.path().join("o");
    let out = volley(dir.path(), &["check", &m]);
    assert_ok(&out);
    assert!(stdout(&out).contains("20 steps (20 ms)"), "{}", stdout(&out));
    assert_ok(&volley(dir.path(), &["run", "-q", &m, "--out", o.to_str().unwrap()]));
}

#[test]
fn more_threads_than_cores_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich2003.toml");
    let o = dir.path().join("o");
    let out = volley(
        dir.path(),
        &["run", "-q", model.to_str().unwrap(), "--duration", "20ms", "--threads", "1000", "--out", o.to_str().unwrap()],
    );
    assert_ok(&out);
    let cores = std::thread::available_parallelism().unwrap().get();
    assert!(
        stderr(&out).contains(&format!("volley: warning: --threads 1000 is more than the {cores} cores this process may use")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn not_a_spike_file() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.h5");
    std::fs::write(&bogus, b"not hdf5").unwrap();
    let err = refused(dir.path(), &["stats", bogus.to_str().unwrap()]);
    assert!(err.starts_with(&format!("error: cannot read {}: not an HDF5 file", bogus.display())), "{err}");
}

#[test]
fn check_reports_sizes_without_running() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich2003.toml");
    let out = volley(dir.path(), &["check", model.to_str().unwrap()]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("neurons 1000, synapses 1000000"), "{text}");
    assert!(text.contains("memory: state 16.0 KB, synapses 4.0 MB"), "{text}");
    assert!(!dir.path().join("out").exists());
}

/// The sparse example with `from` replaced by `to`.
fn sparse_variant(dir: &Path, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(example("izhikevich_sparse.toml")).unwrap();
    assert!(text.contains(from), "sparse example contains {from:?}");
    let path = dir.join("sparse.toml");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn procedural_needs_rows_drawn_per_source() {
    let dir = tempfile::tempdir().unwrap();
    let m = sparse_variant(dir.path(), "storage = \"compact\"", "procedural = true");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert!(
        err.ends_with("projection[0].storage: procedural rows are drawn again per source at delivery: only rule fixed_outdegree draws rows per source"),
        "{err}"
    );
}

#[test]
fn unknown_storage() {
    let dir = tempfile::tempdir().unwrap();
    let m = sparse_variant(dir.path(), "storage = \"compact\"", "storage = \"zip\"");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert!(err.ends_with("projection[0].storage: unknown storage 'zip' (known: exact, compact, procedural)"), "{err}");
}

#[test]
fn too_many_partners_without_multapses() {
    let dir = tempfile::tempdir().unwrap();
    let m =
        sparse_variant(dir.path(), "{ rule = \"fixed_indegree\", k = 200 }", "{ rule = \"fixed_indegree\", k = 5000, multapses = false }");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert!(
        err.ends_with("projection[2].connection.k: k = 5000 without multapses needs at least 5000 distinct partners, but there are 2000"),
        "{err}"
    );
}

#[test]
fn probability_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let m = sparse_variant(dir.path(), "{ rule = \"fixed_indegree\", k = 800 }", "{ rule = \"fixed_probability\", p = 1.5 }");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert!(err.ends_with("projection[0].connection.p: expected a probability p in [0, 1], got 1.5"), "{err}");
}

#[test]
fn weight_distribution_with_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let m = sparse_variant(dir.path(), "weight = \"-u\"", "weight = { distribution = \"normal\", mean = -1, sd = 0.1 }");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert!(err.ends_with("projection[2].weight: unknown key 'sd' for a normal weight (expected: mean, std, min, max, redraw)"), "{err}");
}

#[test]
fn set_of_an_unknown_population() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich_sparse.toml");
    let mut args = run_args(model.to_str().unwrap(), dir.path());
    args.extend(["--set", "population.gaba.size=5"]);
    assert_eq!(
        refused(dir.path(), &args),
        "error: --set population.gaba.size=5: no [[population]] named 'gaba': the names are 'exc', 'inh', or an index from 0"
    );
}

#[test]
fn more_memory_than_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich_sparse.toml");
    let mut args = run_args(model.to_str().unwrap(), dir.path());
    args.extend(["--max-memory", "10MB"]);
    // One line of error, then the planner's table.
    let out = volley(dir.path(), &args);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let mut lines = err.lines();
    let first = lines.next().unwrap();
    // Buffers: delay rings, scratch and (since issue 26) the received spikes in flight,
    // held once per rank.
    assert!(
        first.starts_with(
            "error: the run needs 52.7 MB (state 160.0 KB, synapses 40.1 MB, buffers 74.4 KB, recording 12.4 MB) but --max-memory allows 10.0 MB"
        ) && first.ends_with("or about 6 ranks (`volley plan --ranks 6`)"),
        "{err}"
    );
    assert!(lines.all(|l| l.starts_with("  ")), "the table follows, indented: {err}");
    assert!(err.contains("recording") && err.contains("wall time"), "{err}");
    assert!(!dir.path().join("out").exists());
    // `check` refuses the same way, and a machine-sized network is refused by default.
    let check = volley(dir.path(), &["check", model.to_str().unwrap(), "--set", "population.exc.size=4000000000"]);
    assert_eq!(check.status.code(), Some(2));
    assert!(stderr(&check).contains("available on this machine"), "{}", stderr(&check));
}

#[test]
fn flush_interval_not_a_whole_number_of_steps() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "[output]", "[output]\nflush_every = \"2.5 ms\"");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert!(err.starts_with(&format!("error: {m}:")), "{err}");
    assert!(err.ends_with("output.flush_every: expected a whole number of steps of dt = 1 ms, got 2.5 ms"), "{err}");
}

#[test]
fn several_tasks_without_mpi() {
    // srun --mpi=none -n 4 would start four copies that each run the whole network.
    let dir = tempfile::tempdir().unwrap();
    let args = run_args(example("izhikevich2003.toml").to_str().unwrap().to_string().leak(), dir.path());
    let out = common::command(env!("CARGO_BIN_EXE_volley"))
        .args(&args)
        .env("SLURM_STEP_NUM_TASKS", "4")
        .env_remove("OMPI_COMM_WORLD_SIZE")
        .env_remove("PMIX_RANK")
        .env_remove("PMI_RANK")
        .env_remove("PMI_SIZE")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "error: launch: started as one of 4 tasks but without an MPI launcher's environment: use `srun --mpi=pmix` or `mpirun`"
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn check_for_many_ranks_shows_the_largest_rank_and_refuses_beyond_max_memory() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich_sparse.toml");
    let args = ["check", model.to_str().unwrap(), "--set", "population.exc.size=800000", "--set", "population.inh.size=200000"];
    let out = volley(dir.path(), &[&args[..], &["--ranks", "8", "--threads", "1"]].concat());
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("memory of the largest of 8 ranks, 1 thread(s) each: "), "{text}");
    assert!(text.contains("memory of all 8 ranks: "), "{text}");
    // About 125,000 neurons × 1000 stored synapses per rank, 8 bytes each on a GPU; the
    // largest rank holds 75,008 excitatory targets of 800 excitatory inputs each.
    assert!(text.contains("on a GPU, the largest of 8 ranks: device memory state "), "{text}");
    assert!(text.contains("synapses 1.0 GB"), "{text}");
    assert!(text.contains("the largest projection stores 60006400 synapses on one rank (240.0 MB of targets"), "{text}");
    let out = volley(dir.path(), &[&args[..], &["--ranks", "8", "--threads", "1", "--max-memory", "100MB"]].concat());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error: the largest of 8 ranks needs "), "{err}");
    assert!(err.trim_end().ends_with("but --max-memory allows 100.0 MB per rank: use more ranks"), "{err}");
    let out = volley(dir.path(), &[&args[..], &["--ranks", "0"]].concat());
    assert_eq!(stderr(&out).trim(), "error: --ranks: expected at least 1 rank");
}

#[test]
fn non_finite_toml_numbers_and_bad_plot_names() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "a = 0.02\n", "a = nan\n");
    let err = refused(dir.path(), &run_args(&m, dir.path()));
    assert_eq!(err, format!("error: {m}:20:5: population[0].parameters.a: expected a finite number, got NaN"));
    let model = example("izhikevich2003.toml");
    let spikes = dir.path().join("s");
    assert_ok(&volley(dir.path(), &["run", "-q", model.to_str().unwrap(), "--out", spikes.to_str().unwrap(), "--duration", "20ms"]));
    let file = spikes.join("spikes.h5");
    for (output, expected) in [
        ("r.jpg".to_string(), "error: --output: expected a file name ending in .png, got \"r.jpg\"".to_string()),
        (
            dir.path().join("nowhere/r.png").display().to_string(),
            format!("error: --output: {} is not a directory", dir.path().join("nowhere").display()),
        ),
    ] {
        let out = volley(dir.path(), &["plot", file.to_str().unwrap(), "-o", &output]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(stderr(&out).trim(), expected);
    }
    let out = volley(dir.path(), &["run", "-q", model.to_str().unwrap(), "--threads", "100000"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).trim(), "error: --threads: expected at most 4096 threads, got 100000");
}

#[test]
fn more_synapses_onto_one_thread_than_its_store_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich_sparse.toml");
    // Two ranks of one thread, 8 million neurons each: 6.4·10⁹ synapses onto each.
    let size = "population.exc.size=16000000";
    let args = ["check", model.to_str().unwrap(), "--ranks", "2", "--threads", "1", "--set", size, "--set", "population.inh.size=100"];
    let out = volley(dir.path(), &args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: one projection puts about 64000")
            && err.trim().ends_with(
                "synapses onto one thread's neurons, more than the 2^32 - 1 a thread's store indexes: use more threads or ranks"
            ),
        "{err}"
    );
}

/// Values of the wrong type for the schema (TOML's own errors) are said in the model
/// file's words: the field with its entry's index, as every other error names it, and
/// what was expected in words, not Rust's type names; a `[name]` header where entries
/// of `[[name]]` are expected says so.
#[test]
fn values_of_the_wrong_type_are_said_in_words() {
    let dir = tempfile::tempdir().unwrap();
    for (from, to, expected) in [
        ("size = 200", "size = \"two hundred\"", ":32:8: population[1].size: expected an integer, got \"two hundred\""),
        ("size = 800", "size = 800.5", ":16:8: population[0].size: expected an integer, got 800.5"),
        ("name = \"inh\"", "name = 5", ":31:8: population[1].name: expected a string, got 5"),
        (
            "v_peak = 30\n[population.initial]",
            "v_peak = true\n[population.initial]",
            ":24:10: population[0].parameters.v_peak: expected a number, a string or a list of numbers (one per neuron)",
        ),
        ("model = \"izhikevich\"", "model = [\"izhikevich\"]", ":17:9: population[0].model: expected a string, got an array"),
    ] {
        let m = variant(dir.path(), "m.toml", from, to);
        let err = refused(dir.path(), &run_args(&m, dir.path()));
        assert!(err.starts_with(&format!("error: {m}")) && err.contains(expected), "{to}: {err}");
        assert!(!err.contains("i64") && !err.contains("invalid type"), "{err}");
    }
    let text = std::fs::read_to_string(example("izhikevich2003.toml")).unwrap()
        + "\n[stimulus]\npopulation = \"exc\"\nkind = \"constant\"\namplitude = 1.0\n";
    let err = check_refuses("m.toml", &text);
    assert!(err.starts_with("error: m.toml:"), "{err}");
    assert!(err.contains(": stimulus: expected [[stimulus]] tables, one per entry, got a single [stimulus] table"), "{err}");
}

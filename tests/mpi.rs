//! Distributed runs under `mpirun`: the spike file is the same, dataset for dataset and
//! bit for bit, with 1, 2 or 4 ranks (4 oversubscribed on 2 cores), with either
//! exchange, and without MPI at all (a build with `--no-default-features` against serial
//! HDF5, given as VOLLEY_NO_MPI_BIN by scripts/test.sh). These tests need OpenMPI's
//! `mpirun` and that second binary; without them they fail, saying what is missing.

mod common;

use common::{assert_ok, example, stdout};
use std::path::{Path, PathBuf};
use std::process::Output;
use volley::record::sonata::{read_spike_file, SpikeFile};

fn mpirun() -> PathBuf {
    let found = common::command("sh").args(["-c", "command -v mpirun"]).output().expect("sh runs");
    assert!(found.status.success(), "mpirun not found: these tests need OpenMPI (apt-get install openmpi-bin libopenmpi-dev)");
    PathBuf::from(String::from_utf8_lossy(&found.stdout).trim())
}

fn no_mpi_binary() -> PathBuf {
    let path = std::env::var_os("VOLLEY_NO_MPI_BIN").map(PathBuf::from).expect(
        "VOLLEY_NO_MPI_BIN is not set: it names volley built without MPI \
         (HDF5_DIR=<serial hdf5> cargo build --release --no-default-features --target-dir target/no-mpi); scripts/test.sh does this",
    );
    assert!(path.is_file(), "VOLLEY_NO_MPI_BIN={} does not exist", path.display());
    path
}

/// Runs `volley run` on `ranks` MPI ranks with one thread each, unless `args` say.
fn run_mpi(ranks: usize, out: &Path, args: &[&str]) -> Output {
    let threads: &[&str] = if args.contains(&"--threads") { &[] } else { &["--threads", "1"] };
    common::command(mpirun())
        .args(["-np", &ranks.to_string(), "--oversubscribe", "--bind-to", "none"])
        .arg(env!("CARGO_BIN_EXE_volley"))
        .args(["run", "-q"])
        .args(threads)
        .arg("--out")
        .arg(out)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("mpirun runs")
}

fn run_plain(binary: &Path, out: &Path, args: &[&str]) -> Output {
    common::command(binary).args(["run", "-q", "--threads", "2", "--out"]).arg(out).args(args).output().expect("volley runs")
}

fn spikes(out: &Path) -> SpikeFile {
    read_spike_file(&out.join("spikes.h5")).expect("spike file readable")
}

/// The reference (no MPI, 2 threads) against 1, 2 and 4 ranks and the given exchanges.
fn same_for_every_rank_count(model: &Path, extra: &[&str], cases: &[(usize, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![model.to_str().unwrap()];
    args.extend_from_slice(extra);
    let reference_dir = dir.path().join("no-mpi");
    let reference = run_plain(&no_mpi_binary(), &reference_dir, &args);
    assert_ok(&reference);
    let expected = spikes(&reference_dir);
    let total: usize = expected.populations.iter().map(|p| p.node_ids.len()).sum();
    assert!(total > 100, "the reference run should spike: {total} spikes");
    for &(ranks, exchange) in cases {
        let out = dir.path().join(format!("np{ranks}-{exchange}"));
        let mut with = args.clone();
        with.extend_from_slice(&["--exchange", exchange]);
        let run = run_mpi(ranks, &out, &with);
        assert_ok(&run);
        let text = stdout(&run);
        if ranks > 1 {
            assert!(text.contains(&format!("over {ranks} ranks")), "per-rank timers expected:\n{text}");
            // One thread per rank: the ranks' busy times are the shards' spread.
            assert!(text.contains("shards busy "), "the ranks' spread of busy time expected:\n{text}");
        }
        assert_eq!(spikes(&out), expected, "{ranks} ranks, {exchange} exchange: spike datasets differ from the run without MPI");
        eprintln!("{} ranks, {exchange}: {total} spikes identical; {}", ranks, text.lines().nth(1).unwrap_or(""));
    }
}

#[test]
fn izhikevich_2003_is_identical_on_1_2_and_4_ranks() {
    same_for_every_rank_count(
        &example("izhikevich2003.toml"),
        &[],
        &[(1, "auto"), (2, "all-gather"), (2, "directed"), (4, "all-gather"), (4, "directed")],
    );
}

/// Hodgkin–Huxley neurons with conductance synapses and delays of 1–5 ms (500 steps).
#[test]
fn hh_network_is_identical_on_1_2_and_4_ranks() {
    same_for_every_rank_count(&example("hh_network.toml"), &["--duration", "150 ms"], &[(1, "auto"), (2, "auto"), (4, "auto")]);
}

#[test]
fn sparse_network_of_20000_with_delays_of_1_to_20_ms_is_identical_on_1_2_and_4_ranks() {
    same_for_every_rank_count(
        &example("izhikevich_sparse.toml"),
        &[
            "--duration",
            "500 ms",
            "--set",
            "population.exc.size=16000",
            "--set",
            "population.inh.size=4000",
            "--set",
            "projection.0.delay={ distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }",
            "--set",
            "projection.1.delay={ distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }",
        ],
        &[(1, "auto"), (2, "all-gather"), (4, "auto"), (4, "directed")],
    );
}

/// Many ranks (issue 26): 64 ranks of 64 to 128 neurons each, 5000 neurons with 100
/// synapses each from sources all over the network (about 13 Hz), delays of 1–20 ms and
/// exponential current synapses. Each rank holds synapses from fewer than all sources, so its rows
/// exist only for the sources present (`RowIndex::Present`); the spike file is that of
/// one process, byte for byte, under the all-gather and under the directed exchange on
/// 3 ranks.
#[test]
fn sixty_four_ranks_give_the_spikes_of_one() {
    let delays = "{ distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }";
    let synapse = "{ model = \"exp_current\", tau = \"5 ms\" }";
    let mut extra = vec!["--duration".to_string(), "300 ms".into()];
    for (path, value) in [
        ("population.exc.size", "4000"),
        ("population.inh.size", "1000"),
        ("projection.0.connection.k", "80"),
        ("projection.1.connection.k", "80"),
        ("projection.2.connection.k", "20"),
        ("projection.3.connection.k", "20"),
        ("projection.0.weight", "\"1*u\""),
        ("projection.1.weight", "\"1*u\""),
        ("projection.2.weight", "\"-2*u\""),
        ("projection.3.weight", "\"-2*u\""),
        ("projection.0.synapse", synapse),
        ("projection.1.synapse", synapse),
    ] {
        extra.extend(["--set".to_string(), format!("{path}={value}")]);
    }
    for k in 0..4 {
        let (path, value) = (format!("projection.{k}.delay"), delays);
        extra.extend(["--set".to_string(), format!("{path}={value}")]);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    same_for_every_rank_count(&example("izhikevich_sparse.toml"), &extra, &[(64, "all-gather"), (3, "directed")]);
}

/// The Potjans–Diesmann microcircuit at scale 0.1 (neurons and in-degrees, the published
/// compensation): LIF neurons, Poisson input keyed per neuron and step,
/// fixed_total_number in-degrees drawn down a keyed tree, normal delays from 0.1 ms (an
/// exchange every step).
#[test]
fn microcircuit_at_scale_0_1_is_identical_on_1_2_and_4_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::microcircuit(dir.path(), "mc.toml", &["--n-scaling", "0.1", "--k-scaling", "0.1", "--duration-ms", "200"]);
    same_for_every_rank_count(&model, &[], &[(1, "auto"), (2, "auto"), (4, "directed")]);
}

/// Each rank's shards cut anew by their measured times at 400 ms (2 ranks × 2
/// threads, `--rebalance always`): the spikes of the run without MPI, bit for bit.
#[test]
fn shards_cut_anew_on_every_rank_change_no_spike() {
    let dir = tempfile::tempdir().unwrap();
    // A sink of inputs from a fast-firing population, dearer than the partition's
    // estimate: on the rank that holds it, the shards' measured times differ severalfold.
    let model = common::small_sparse(dir.path(), "m.toml", "weight = \"0.5*u\"", "weight = \"-u\"", common::DRIVEN_SINK);
    let reference = dir.path().join("no-mpi");
    assert_ok(&run_plain(&no_mpi_binary(), &reference, &[model.to_str().unwrap(), "--duration", "600ms"]));
    let out = dir.path().join("np2");
    let run = common::command(mpirun())
        .args(["-np", "2", "--oversubscribe", "--bind-to", "none"])
        .arg(env!("CARGO_BIN_EXE_volley"))
        .args(["run", "-q", "--threads", "2", "--duration", "600ms", "--rebalance", "always", "--out"])
        .arg(&out)
        .arg(&model)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("mpirun runs");
    assert_ok(&run);
    assert!(stdout(&run).contains(" ms by their busy times (the busiest "), "{}", stdout(&run));
    assert_eq!(spikes(&out), spikes(&reference), "spikes differ after the re-cut");
}

/// Plastic synapses (stdp on the 2003 network's excitatory synapses, 100 inputs each,
/// delays of 1–20 ms): each update depends on the arrivals and on the target's spikes,
/// both on the target's rank, in an order fixed by the rule. The same spikes and the
/// same weight snapshots (`[[output.weights]]`, written by every rank) as one process.
#[test]
fn plastic_network_and_its_weights_are_identical_on_1_2_and_4_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example("izhikevich2003.toml")).unwrap();
    let all_to_all = "connection = { rule = \"all_to_all\", autapses = true }\nweight = \"0.5*u\"\ndelay = \"1 ms\"";
    assert!(text.contains(all_to_all));
    let plastic = "connection = { rule = \"fixed_indegree\", k = 100 }\nweight = \"6*u\"\n\
                   delay = { distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }\n\
                   plasticity = { rule = \"stdp\", lambda = 0.01, alpha = 1.05, Wmax = 10 }";
    let model = dir.path().join("stdp.toml");
    let snapshots = "\n[[output.weights]]\nfile = \"weights.h5\"\nprojection = 0\ninterval = \"200 ms\"\n";
    std::fs::write(&model, text.replacen(all_to_all, plastic, 1) + snapshots).unwrap();
    let args = [model.to_str().unwrap(), "--duration", "500 ms"];
    let reference = dir.path().join("no-mpi");
    assert_ok(&run_plain(&no_mpi_binary(), &reference, &args));
    for (ranks, exchange) in [(1, "auto"), (2, "directed"), (4, "all-gather")] {
        let out = dir.path().join(format!("np{ranks}"));
        let mut with = args.to_vec();
        with.extend_from_slice(&["--exchange", exchange]);
        assert_ok(&run_mpi(ranks, &out, &with));
        assert_eq!(spikes(&out), spikes(&reference), "{ranks} ranks: spikes differ");
        // Every rank writes the edges onto its neurons: the same file as one process's.
        common::assert_same_datasets(&reference.join("weights.h5"), &out.join("weights.h5"));
    }
}

/// Izhikevich's polychronization network (examples/spnet.toml: izhikevich2006 on the
/// excitatory synapses, delays 1–20 ms) for 20 s: 1, 2 and 4 ranks with 1 and 2 threads
/// give one process's spikes and weight snapshots; a checkpoint at 10 s written on 2
/// ranks resumes on 4 ranks and on 1 process with 2 threads to the same bytes at 20 s
/// (weights, the derivatives, both traces and the spikes in flight carried over).
#[test]
fn spnet_spikes_and_weights_are_identical_on_any_ranks_threads_and_resumption() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("spnet.toml");
    let m = model.to_str().unwrap();
    let args = [m, "--duration", "20 s", "--set", "output.weights.0.interval=\"2 s\""];
    let reference = dir.path().join("no-mpi");
    assert_ok(&run_plain(&no_mpi_binary(), &reference, &args));
    let files = ["spikes.h5", "weights.h5"];
    for (ranks, threads) in [(1, "2"), (2, "1"), (2, "2"), (4, "1")] {
        let out = dir.path().join(format!("np{ranks}-t{threads}"));
        let mut with = args.to_vec();
        with.extend_from_slice(&["--threads", threads]);
        assert_ok(&run_mpi(ranks, &out, &with));
        for file in files {
            common::assert_same_datasets(&reference.join(file), &out.join(file));
        }
    }
    let out = dir.path().join("resumed");
    let checkpoint = out.join("ck.h5");
    let c = checkpoint.to_str().unwrap();
    let mut half = args.to_vec();
    half[2] = "10 s";
    half.extend_from_slice(&["--checkpoint", c]);
    assert_ok(&run_mpi(2, &out, &half));
    let saved = out.join("saved.h5");
    std::fs::copy(&checkpoint, &saved).unwrap();
    let resume = [m, "--duration", "20 s", "--resume", c, "--set", "output.weights.0.interval=\"2 s\""];
    assert_ok(&run_mpi(4, &out, &resume));
    for file in files {
        common::assert_same_datasets(&reference.join(file), &out.join(file));
    }
    // The same checkpoint, in one process on 2 threads, into a copy of the outputs as
    // they were at 10 s (the resumed run cuts back what a run appended after it).
    let c = saved.to_str().unwrap();
    assert_ok(&run_plain(env!("CARGO_BIN_EXE_volley").as_ref(), &out, &[m, "--duration", "20 s", "--resume", c, "--set", args[4]]));
    for file in files {
        common::assert_same_datasets(&reference.join(file), &out.join(file));
    }
}

/// Procedural rows (drawn again from the keyed streams at every spike, on every rank
/// that holds targets): 3 ranks, an odd split.
#[test]
fn procedural_network_is_identical_on_3_ranks() {
    same_for_every_rank_count(
        &example("izhikevich_procedural.toml"),
        &["--duration", "100 ms", "--set", "population.exc.size=4000", "--set", "population.inh.size=1000"],
        &[(3, "auto")],
    );
}

/// 100 neurons on 4 ranks: ids are cut at multiples of 64, so two ranks hold none and
/// still take part in every collective.
#[test]
fn ranks_without_neurons_take_part_and_change_nothing() {
    same_for_every_rank_count(
        &example("izhikevich2003.toml"),
        &["--set", "population.exc.size=80", "--set", "population.inh.size=20"],
        &[(4, "all-gather"), (4, "directed")],
    );
}

/// A network where a source reaches few ranks (two inputs per neuron): auto picks the
/// directed exchange, which sends a spike to fewer ranks and still gives the same file.
#[test]
fn directed_exchange_is_chosen_for_sparse_fan_out_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich_sparse.toml");
    let mut args = vec![model.to_str().unwrap(), "--duration", "300 ms"];
    let sets = [
        "population.exc.size=8000",
        "population.inh.size=2000",
        "projection.0.connection={ rule = \"fixed_indegree\", k = 1 }",
        "projection.1.connection={ rule = \"fixed_indegree\", k = 1 }",
        "projection.2.connection={ rule = \"fixed_indegree\", k = 1 }",
        "projection.3.connection={ rule = \"fixed_indegree\", k = 1 }",
    ];
    for s in &sets {
        args.extend_from_slice(&["--set", s]);
    }
    let reference_dir = dir.path().join("no-mpi");
    assert_ok(&run_plain(&no_mpi_binary(), &reference_dir, &args));
    let out = dir.path().join("np4");
    let run = run_mpi(4, &out, &args);
    assert_ok(&run);
    let text = stdout(&run);
    let share: f64 = text
        .split("a spike to ")
        .nth(1)
        .and_then(|rest| rest.split('%').next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("auto should pick the directed exchange here:\n{text}"));
    assert!(share < 50.0, "one input per projection: a spike reaches fewer than half of 4 ranks, got {share}%");
    assert_eq!(spikes(&out), spikes(&reference_dir));
}

/// A bad model file under mpirun: one error line (from rank 0), exit code 2, no file.
/// mpirun passes on the code of whichever rank exits first, so every rank must exit with
/// the failing rank's code; three runs give the other ranks a chance to exit first.
#[test]
fn errors_under_mpirun_are_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(example("izhikevich2003.toml")).unwrap().replace("size = 800", "size = -800");
    std::fs::write(&model, text).unwrap();
    let out = dir.path().join("out");
    for ranks in [2, 3, 4] {
        let run = run_mpi(ranks, &out, &[model.to_str().unwrap()]);
        assert_eq!(run.status.code(), Some(2), "{ranks} ranks: {run:?}");
        let stderr = common::stderr(&run);
        assert_eq!(stderr.matches("error").count(), 1, "one error line expected:\n{stderr}");
        assert!(stderr.contains("population[0].size"), "{stderr}");
        assert!(!out.join("spikes.h5").exists());
    }
}

/// SIGUSR1 to mpirun (forwarded to every rank; what Slurm sends before a time limit):
/// all ranks stop at the same step, the file is completed and equals a run of that
/// length without MPI.
#[test]
fn sigusr1_stops_every_rank_at_the_same_step() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("np2");
    let model = example("izhikevich_sparse.toml");
    let sizes = ["--set", "population.exc.size=16000", "--set", "population.inh.size=4000"];
    let mut child = common::command(mpirun())
        .args(["-np", "2", "--oversubscribe", "--bind-to", "none"])
        .arg(env!("CARGO_BIN_EXE_volley"))
        .args(["run", "--threads", "1", "--progress-every", "0.001", "--duration", "60 s", "--out"])
        .arg(&out)
        .arg(&model)
        .args(sizes)
        .args(["--set", "output.flush_every=\"50 ms\""])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    for line in rx.iter() {
        if line.starts_with("volley: ") && line.contains(" ms of 60000 ms") && !line.starts_with("volley: 0 ms") {
            break;
        }
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(138), "128 + SIGUSR1");
    let stopped = spikes(&out);
    let covered = stopped.duration_ms.unwrap();
    assert!(covered > 0.0 && covered < 60_000.0, "{covered}");
    let reference_dir = dir.path().join("no-mpi");
    let duration = format!("{covered} ms");
    let mut args = vec![model.to_str().unwrap(), "--duration", &duration];
    args.extend_from_slice(&sizes);
    assert_ok(&run_plain(&no_mpi_binary(), &reference_dir, &args));
    assert_eq!(stopped, spikes(&reference_dir));
}

/// A state that becomes non-finite under mpirun: every rank exits 3 (the code of the rank
/// that found it first), with one error line, and the file is complete up to that step.
#[test]
fn a_non_finite_state_under_mpirun_exits_3_on_every_rank() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let model = example("izhikevich2003.toml");
    let run = run_mpi(3, &out, &[model.to_str().unwrap(), "--set", "projection.0.weight=\"5000*u\""]);
    assert_eq!(run.status.code(), Some(3), "{run:?}");
    let stderr = common::stderr(&run);
    assert_eq!(stderr.matches("error").count(), 1, "one error line expected:\n{stderr}");
    assert!(stderr.contains("the state left the finite numbers"), "{stderr}");
}

/// Reports are written by all ranks together, each its own block of columns: the same
/// bytes on 3 ranks as without MPI, for neurons spread over every rank.
#[test]
fn reports_are_identical_on_3_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example("izhikevich2003.toml")).unwrap()
        + "\n[[output.report]]\nfile = \"v.h5\"\nvariable = \"v\"\nneurons = { fraction = 0.05, seed = 3 }\ninterval = \"2 ms\"\n";
    let model = dir.path().join("model.toml");
    std::fs::write(&model, text).unwrap();
    let args = [model.to_str().unwrap(), "--duration", "300ms"];
    let reference_dir = dir.path().join("no-mpi");
    assert_ok(&run_plain(&no_mpi_binary(), &reference_dir, &args));
    let out = dir.path().join("np3");
    assert_ok(&run_mpi(3, &out, &args));
    let read = |dir: &Path, name: &str| {
        let file = hdf5::File::open(dir.join("v.h5")).unwrap();
        let data = file.dataset(&format!("report/{name}/data")).unwrap();
        let ids = file.dataset(&format!("report/{name}/mapping/node_ids")).unwrap().read_raw::<u64>().unwrap();
        (data.shape(), data.read_raw::<f32>().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>(), ids)
    };
    for name in ["exc", "inh"] {
        let (expected, got) = (read(&reference_dir, name), read(&out, name));
        assert_eq!(expected.0[0], 150, "{name}: 150 samples of 2 ms");
        assert!(expected.2.len() > 3, "{name}: neurons spread over the ranks: {:?}", expected.2);
        assert_eq!(got, expected, "{name}: the report differs on 3 ranks");
    }
}

/// A checkpoint written on some number of ranks resumes on another (1 → 2, 2 → 1,
/// 2 → 2, 1 → 3) to the bytes of an uninterrupted run, in the spike file and the report:
/// the HH network with exponential conductances and 1–20 ms delays (spikes in flight).
#[test]
fn checkpoints_resume_on_other_numbers_of_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::hh_delays(dir.path());
    let m = model.to_str().unwrap();
    let full = dir.path().join("full");
    assert_ok(&run_plain(&no_mpi_binary(), &full, &[m, "--duration", "120ms"]));
    for (first, then) in [(1, 2), (2, 1), (2, 2), (1, 3)] {
        let out = dir.path().join(format!("np{first}-np{then}"));
        let checkpoint = out.join("ck.h5");
        let c = checkpoint.to_str().unwrap();
        let half = [m, "--duration", "60ms", "--checkpoint", c];
        let ran = if first == 1 { run_plain(&no_mpi_binary(), &out, &half) } else { run_mpi(first, &out, &half) };
        assert_ok(&ran);
        let resume = [m, "--duration", "120ms", "--resume", c];
        let ran = if then == 1 { run_plain(env!("CARGO_BIN_EXE_volley").as_ref(), &out, &resume) } else { run_mpi(then, &out, &resume) };
        assert_ok(&ran);
        for file in ["spikes.h5", "v.h5"] {
            common::assert_same_datasets(&full.join(file), &out.join(file));
        }
    }
}

/// On the GPU backend (lavapipe in CI: each rank opens the software driver), ranks sum
/// each target's input as fixed-point integers: 1, 2 and 4 ranks write the same spikes.
#[test]
fn gpu_runs_are_identical_on_1_2_and_4_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = common::runtime_dir();
    // The 2003 network (stored rows) on 1, 2 and 4 ranks; the procedural example (rows
    // drawn on each rank's GPU, kept where they reach its neurons) on 1 and 2; the sparse
    // example at dt = 0.5 ms with delays of 1–20 ms on 1 and 2 — on 2 ranks each epoch's
    // exchange overlaps the next epoch (epochs of half the shortest delay, spikes
    // delivered one epoch later), on 1 it does not.
    let dense = example("izhikevich2003.toml");
    let procedural = example("izhikevich_procedural.toml");
    let delayed = common::small_sparse(dir.path(), "delayed.toml", "weight = \"0.5*u\"", "weight = \"-u\"", "");
    let runs = [(&dense, 1), (&dense, 2), (&dense, 4), (&procedural, 1), (&procedural, 2), (&delayed, 1), (&delayed, 2)];
    let mut expected = None;
    for (model, ranks) in runs {
        if ranks == 1 {
            expected = None;
        }
        let mut args = vec![model.to_str().unwrap(), "--backend", "gpu", "--duration", "300ms"];
        if model == &delayed {
            args.extend(["--set", "simulation.dt=\"0.5 ms\""]);
        }
        let name = model.file_stem().unwrap().to_str().unwrap();
        let out = dir.path().join(format!("{name}_np{ranks}"));
        let run = common::command(mpirun())
            .args(["-np", &ranks.to_string(), "--oversubscribe", "--bind-to", "none", "-x", "XDG_RUNTIME_DIR"])
            .arg(env!("CARGO_BIN_EXE_volley"))
            .args(["run", "-q", "--out"])
            .arg(&out)
            .args(&args)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .output()
            .expect("mpirun runs");
        assert_ok(&run);
        assert!(stdout(&run).contains("| gpu "), "{}", stdout(&run));
        if model == &delayed {
            // dt 0.5 ms, shortest delay 2 steps: 300 epochs of 2 steps, 600 of 1 overlapped.
            let epochs = if ranks == 1 { "300 epochs" } else { "600 epochs" };
            assert!(stdout(&run).contains(epochs), "{epochs}: {}", stdout(&run));
        }
        let got = spikes(&out);
        match &expected {
            None => {
                let total: usize = got.populations.iter().map(|p| p.node_ids.len()).sum();
                assert!(total > 100, "the run should spike: {total} spikes");
                expected = Some(got);
            }
            Some(e) => assert_eq!(&got, e, "{name}, {ranks} ranks on the GPU: spike datasets differ from 1 rank"),
        }
    }
}

/// A dry run holds what the real run's rank holds (issue 26): the microcircuit at 0.05
/// (neurons and in-degrees) on 4 ranks, rank 1's state, synapses and buffers (spikes in
/// flight at the end included) from `--ranks-csv`, against the dry run of rank 1 at the
/// real run's rates: each within 5%, and the same neurons.
#[test]
fn a_dry_run_holds_what_the_real_runs_rank_holds() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::microcircuit(dir.path(), "mc.toml", &["--n-scaling", "0.05", "--k-scaling", "0.05", "--duration-ms", "300"]);
    let real = dir.path().join("real");
    let (model, real_csv) = (model.to_str().unwrap(), real.join("ranks.csv"));
    let out = run_mpi(4, &real, &[model, "--ranks-csv", real_csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let spikes = real.join("spikes.h5");
    let dry_csv = dir.path().join("dry.csv");
    let args = ["run", model, "--threads", "1", "--dry-run", "4", "--dry-run-rank", "1", "--rates-from"];
    let out = common::volley(dir.path(), &[&args[..], &[spikes.to_str().unwrap(), "--ranks-csv", dry_csv.to_str().unwrap()]].concat());
    common::assert_ok(&out);
    let row = |path: &Path, rank: &str| -> Vec<f64> {
        let table = std::fs::read_to_string(path).unwrap();
        let line = table.lines().find(|l| l.split(',').next() == Some(rank)).unwrap_or_else(|| panic!("rank {rank} in {table}"));
        line.split(',').map(|f| f.parse().unwrap()).collect()
    };
    let (real, dry) = (row(&real_csv, "1"), row(&dry_csv, "1"));
    assert_eq!(real[1..3], dry[1..3], "the same neurons");
    for (k, kind) in [(3, "state"), (4, "synapses"), (5, "buffers")] {
        assert!((dry[k] - real[k]).abs() <= 0.05 * real[k], "{kind}: dry run {} bytes, real rank {} bytes", dry[k], real[k]);
    }
}

//! Plastic projections in whole runs: the same spikes and the same weights whatever the
//! threads and shards (ranks: tests/mpi.rs), weights that move and stay within the
//! rule's bounds, and one clear line for each model-file mistake and each thing a
//! plastic run cannot do yet. The rules' kernels are tested in src/plasticity/tests.rs.

mod common;

use common::{assert_ok, check_refuses, example, stderr, volley};
use std::path::{Path, PathBuf};
use volley::backend::cpu::CpuOptions;
use volley::backend::Backend;
use volley::connectivity::PlasticSynapse;

const EXC_TO_EXC: &str = "connection = { rule = \"all_to_all\", autapses = true }\nweight = \"0.5*u\"\ndelay = \"1 ms\"";

/// The 2003 network with its excitatory-to-excitatory synapses plastic under `rule` (a
/// `plasticity` table's inside): 100 inputs each, delays of 1–20 ms.
fn plastic_2003(dir: &Path, name: &str, rule: &str, weight: &str) -> PathBuf {
    let text = std::fs::read_to_string(example("izhikevich2003.toml")).unwrap();
    assert!(text.contains(EXC_TO_EXC), "the example's first projection");
    let plastic = format!(
        "connection = {{ rule = \"fixed_indegree\", k = 100 }}\nweight = \"{weight}\"\n\
         delay = {{ distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }}\nplasticity = {{ {rule} }}"
    );
    let path = dir.join(name);
    std::fs::write(&path, text.replacen(EXC_TO_EXC, &plastic, 1)).unwrap();
    path
}

const STDP: &str = "rule = \"stdp\", tau_plus = \"20 ms\", lambda = 0.01, alpha = 1.05, Wmax = 10";
const IZHIKEVICH: &str = "rule = \"izhikevich2006\", w_max = 10, period = \"100 ms\"";

/// The run's spikes and the plastic projection's synapses after `ms`, on `threads`.
fn run_in_process(model: &Path, ms: &str, threads: usize) -> (Vec<volley::spike::Spike>, Vec<PlasticSynapse>) {
    let overrides = volley::config::Overrides { duration: Some(ms.into()), ..Default::default() };
    let desc = volley::config::load(model, &overrides).unwrap();
    let (spikes, mut backend) = common::simulate(&desc, CpuOptions { threads, min_shard_neurons: 64, ..CpuOptions::default() });
    // Postsynaptic spikes reach NEST-like rules' synapses at their next arrival: all now.
    backend.settle_plastic(desc.steps);
    (spikes, backend.plastic_synapses(0))
}

#[test]
fn spikes_and_weights_are_the_same_on_one_two_and_three_threads() {
    let dir = tempfile::tempdir().unwrap();
    for (name, rule, w_max) in [("stdp.toml", STDP, 10.0), ("izh.toml", IZHIKEVICH, 10.0)] {
        let model = plastic_2003(dir.path(), name, rule, "6*u");
        let (spikes, synapses) = run_in_process(&model, "1000 ms", 1);
        assert!(spikes.len() > 1000, "{name}: {} spikes", spikes.len());
        assert_eq!(synapses.len(), 800 * 100, "{name}: every synapse listed once");
        // Drawn as 6·u; the rule has moved them, within its bounds.
        let moved = synapses.iter().filter(|s| s.weight != 0.0 && s.weight != 10.0).count();
        assert!(synapses.iter().all(|s| (0.0..=w_max).contains(&s.weight)), "{name}: a weight outside [0, {w_max}]");
        assert!(moved > 0, "{name}: no weight within (0, w_max)");
        let at_start = run_in_process(&model, "1 ms", 1).1;
        let changed = synapses.iter().zip(&at_start).filter(|(a, b)| a.weight != b.weight).count();
        assert!(changed > synapses.len() / 2, "{name}: only {changed} weights changed");
        for threads in [2, 3] {
            let (s, w) = run_in_process(&model, "1000 ms", threads);
            assert!(s == spikes, "{name}: spikes differ on {threads} threads");
            assert!(w == synapses, "{name}: weights differ on {threads} threads");
        }
    }
}

#[test]
fn a_plastic_projection_is_listed_in_id_order_with_its_delays() {
    let dir = tempfile::tempdir().unwrap();
    let model = plastic_2003(dir.path(), "m.toml", STDP, "6*u");
    let (_, synapses) = run_in_process(&model, "1 ms", 2);
    assert!(synapses.windows(2).all(|w| w[0].target <= w[1].target), "targets ascend");
    assert!(synapses.iter().all(|s| s.source < 800 && s.target < 800 && (1..=20).contains(&s.delay)));
    let per_target = synapses.iter().filter(|s| s.target == 17).count();
    assert_eq!(per_target, 100);
}

#[test]
fn plasticity_changes_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let plastic = plastic_2003(dir.path(), "p.toml", STDP, "6*u");
    // The same synapses, fixed: a rule whose steps are zero.
    let fixed = plastic_2003(dir.path(), "f.toml", "rule = \"stdp\", lambda = 0, Wmax = 10", "6*u");
    let (a, _) = run_in_process(&plastic, "1000 ms", 1);
    let (b, w) = run_in_process(&fixed, "1000 ms", 1);
    assert!(a != b, "the rule changed nothing");
    let (_, w0) = run_in_process(&fixed, "1 ms", 1);
    assert!(w == w0, "lambda = 0 moved a weight");
}

#[test]
fn plasticity_tables_are_checked_with_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let text = |rule: &str, weight: &str| std::fs::read_to_string(plastic_2003(dir.path(), "m.toml", rule, weight)).unwrap();
    let cases = [
        (text("rule = \"stpd\"", "6*u"), "projection[0].plasticity.rule: unknown rule 'stpd' (known: stdp, stdp_pl_hom, izhikevich2006)"),
        (
            text("rule = \"stdp\", tau = 20", "6*u"),
            "projection[0].plasticity.tau: unknown parameter of rule stdp (its parameters: tau_plus, tau_minus, lambda, alpha, mu_plus, mu_minus, Wmax)",
        ),
        (text("rule = \"stdp\", tau_plus = \"0 ms\"", "6*u"), "projection[0].plasticity.tau_plus: expected a time greater than 0, got 0 ms"),
        (text("rule = \"stdp\", lambda = -0.1", "6*u"), "projection[0].plasticity.lambda: expected a step size ≥ 0, got -0.1"),
        (text("rule = \"stdp\", alpha = \"x\"", "6*u"), "projection[0].plasticity.alpha: expected a number, got \"x\""),
        (text("rule = \"stdp\", Wmax = 0", "6*u"), "projection[0].plasticity.Wmax: expected a finite weight other than 0, got 0"),
        (
            text(STDP, "20*u"),
            "projection[0].weight: ranges over [0, 20]: a plastic projection's weights must lie within its rule's bounds: expected a weight in [0, 10] (the rule's bounds)",
        ),
        (
            text(IZHIKEVICH, "-1"),
            "projection[0].weight: is -1: a plastic projection's weights must lie within its rule's bounds: expected a weight in [0, 10] (the rule's bounds)",
        ),
        (
            text(STDP, "6*u").replacen("plasticity =", "storage = \"compact\"\nplasticity =", 1),
            "projection[0].plasticity: a plastic projection is stored exact: compact rows hold 16-bit weight codes, which a rule's small steps would not move",
        ),
        (text("", "6*u"), "projection[0].plasticity.rule: expected one of stdp, stdp_pl_hom, izhikevich2006"),
    ];
    for (text, expected) in cases {
        let err = check_refuses("m.toml", &text);
        assert!(err.ends_with(expected), "{err}\nexpected the end: {expected}");
    }
}

#[test]
fn a_plastic_run_on_the_gpu_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = plastic_2003(dir.path(), "m.toml", STDP, "6*u");
    let m = model.to_str().unwrap();
    let out = volley(dir.path(), &["run", "-q", m, "--duration", "10ms", "--out", "o", "--backend", "gpu"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("projection 0: plastic synapses run on the CPU backend only (--backend cpu)"), "{err}");
}

/// Shards cut anew by their measured times (`--rebalance always`) carry the plastic
/// state over (weights, derivatives, traces): the same spikes and weight snapshots as
/// the run left as first cut; and a checkpoint of one thread resumes on two to the same
/// bytes.
#[test]
fn plastic_state_moves_with_a_re_cut_and_through_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("spnet.toml");
    let m = m.to_str().unwrap();
    let args = |out: &str| -> Vec<String> {
        [m, "--duration", "3 s", "--threads", "2", "--out", out, "--set", "output.weights.0.interval=\"500 ms\""]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let run = |extra: &[&str], out: &str| {
        let mut a: Vec<String> = vec!["run".into()];
        a.extend(args(out));
        a.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        let ran = volley(dir.path(), &a);
        assert_ok(&ran);
        ran
    };
    run(&["--rebalance", "never"], "cut");
    let ran = run(&["--rebalance", "always"], "recut");
    assert!(common::stdout(&ran).contains("shards re-cut at"), "{}", common::stdout(&ran));
    // One thread to 1.5 s, a checkpoint, then two threads on.
    let ck = dir.path().join("ck.h5");
    let ck = ck.to_str().unwrap();
    let mut first = args("resumed");
    (first[2], first[4]) = ("1500 ms".into(), "1".into());
    first.extend(["--checkpoint".to_string(), ck.to_string()]);
    let mut a = vec!["run".to_string()];
    a.extend(first);
    assert_ok(&volley(dir.path(), &a.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
    assert_ok(&volley(dir.path(), &["run", "-q", "--resume", ck, "--duration", "3 s", "--threads", "2"]));
    for out in ["recut", "resumed"] {
        for file in ["spikes.h5", "weights.h5"] {
            common::assert_same_datasets(&dir.path().join("cut").join(file), &dir.path().join(out).join(file));
        }
    }
}

const SNAPSHOTS: &str = "\n[[output.weights]]\nfile = \"weights.h5\"\nprojection = 0\ninterval = \"250 ms\"\n";

/// `[[output.weights]]`: snapshots at 0, 250, 500 ms and the end (600 ms) in the SONATA
/// edges layout, read by h5py and libsonata (tests/check_weights.py), the same bytes on
/// one and two threads, and the weights the backend holds at the end.
#[test]
fn weight_snapshots_are_sonata_edges_read_by_libsonata_and_the_same_on_any_threads() {
    let dir = tempfile::tempdir().unwrap();
    let model = plastic_2003(dir.path(), "m.toml", STDP, "6*u");
    std::fs::write(&model, std::fs::read_to_string(&model).unwrap() + SNAPSHOTS).unwrap();
    let m = model.to_str().unwrap();
    for threads in ["1", "2"] {
        assert_ok(&volley(dir.path(), &["run", "-q", m, "--duration", "600ms", "--threads", threads, "--out", &format!("t{threads}")]));
    }
    let (one, two) = (dir.path().join("t1/weights.h5"), dir.path().join("t2/weights.h5"));
    common::assert_same_datasets(&one, &two);
    let python = std::env::var("VOLLEY_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = common::repo().join("tests/check_weights.py");
    let args = [one.to_str().unwrap(), "exc_to_exc", "exc", "exc", "80000", "0,250,500,600", "0", "10"];
    let result = common::command(&python).arg(&script).args(args).output().expect("python runs");
    let (o, e) = (String::from_utf8_lossy(&result.stdout), String::from_utf8_lossy(&result.stderr));
    assert!(!e.contains("No module named"), "h5py or libsonata is missing for {python}: run scripts/test.sh\n{e}");
    assert!(result.status.success() && o.contains("libsonata reads the same"), "{o}\n{e}");
    // The last snapshot is the backend's weights at the end, in its order.
    let (_, synapses) = run_in_process(&model, "600 ms", 2);
    let file = hdf5::File::open(&one).unwrap();
    let last = file.dataset("edges/exc_to_exc/0/syn_weight").unwrap().read_raw::<f32>().unwrap();
    assert!(last == synapses.iter().map(|s| s.weight).collect::<Vec<f32>>(), "the file's last weights are the run's");
    let targets = file.dataset("edges/exc_to_exc/target_node_id").unwrap().read_raw::<u64>().unwrap();
    assert!(targets == synapses.iter().map(|s| s.target).collect::<Vec<u64>>());
}

#[test]
fn weight_outputs_are_checked_with_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(plastic_2003(dir.path(), "m.toml", STDP, "6*u")).unwrap();
    let cases = [
        (
            SNAPSHOTS.replace("projection = 0", "projection = 3"),
            "output.weights[0].projection: projection 3 is not plastic: its weights stay as built (plastic: 0)",
        ),
        (
            SNAPSHOTS.replace("projection = 0", "projection = 9"),
            "output.weights[0].projection: no projection 9: expected the index of a [[projection]] in file order, from 0 (plastic: 0)",
        ),
        (
            SNAPSHOTS.replace("weights.h5", "w.txt"),
            "output.weights[0].file: expected a file name ending in .h5 (SONATA edges), got \"w.txt\"",
        ),
        (SNAPSHOTS.replace("weights.h5", "spikes.h5"), "output.weights[0].file: \"spikes.h5\" is already the name of another output file"),
        (SNAPSHOTS.replace("interval = \"250 ms\"", "tau = 1"), "unknown field `tau`, expected one of `file`, `projection`, `interval`"),
    ];
    for (table, expected) in cases {
        let err = check_refuses("m.toml", &(base.clone() + &table));
        assert!(err.ends_with(expected), "{err}\nexpected the end: {expected}");
    }
}

/// `distribution = "spread"`: delays in equal shares over each drawn row (Izhikevich's
/// 2006 network, five synapses per delay), with the uniform delay's keys and errors.
#[test]
fn spread_delays_are_checked_like_uniform_ones() {
    let dir = tempfile::tempdir().unwrap();
    let spread = "delay = { distribution = \"spread\", low = \"1 ms\", high = \"20 ms\" }";
    let base = std::fs::read_to_string(plastic_2003(dir.path(), "m.toml", STDP, "6*u")).unwrap();
    let uniform = "delay = { distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }";
    assert!(base.contains(uniform));
    let ok = dir.path().join("ok.toml");
    std::fs::write(&ok, base.replacen(uniform, spread, 1)).unwrap();
    let (_, synapses) = run_in_process(&ok, "1 ms", 1);
    // fixed_indegree rows are the targets': each target's 100 inputs, five per delay.
    let of_17: Vec<u32> = synapses.iter().filter(|s| s.target == 17).map(|s| s.delay).collect();
    let mut counts = [0; 21];
    of_17.iter().for_each(|&d| counts[d as usize] += 1);
    assert!(counts[1..].iter().all(|&c| c == 5), "{counts:?}");
    let err = check_refuses("m.toml", &base.replacen(uniform, "delay = { distribution = \"spread\", low = \"1 ms\" }", 1));
    assert!(err.ends_with("projection[0].delay: a spread delay needs low and high"), "{err}");
    let err = check_refuses("m.toml", &base.replacen(uniform, "delay = { distribution = \"spreads\", low = 1, high = 2 }", 1));
    assert!(err.contains("{ distribution = \"spread\", low = ..., high = ... }"), "{err}");
}

/// The store in a real run, against the rule's kernel: one source and one target, each
/// made to spike once by a one-step pulse, the source's spike `lag` ms before or after
/// the target's, through a synapse with a delay of 3 ms. The weight at the end is the
/// kernel's for the offset of the target's spike (its stamp) from the arrival (the
/// start of the step it acts in): an arrival in the target's own step counts as before
/// it, a target spike stamped at the arrival as neither.
#[test]
fn a_single_pair_in_a_run_moves_the_weight_by_the_kernel() {
    let (tau_plus, tau_minus, lambda, alpha, w0, w_max) = (16.8f64, 33.7f64, 0.01, 1.2, 4.0f64, 10.0f64);
    for pre_at in [20u32, 25, 26, 27, 28, 30] {
        let text = format!(
            "[simulation]\ndt = \"1 ms\"\nduration = \"60 ms\"\n\
             [[population]]\nname = \"pre\"\nsize = 1\nmodel = \"izhikevich\"\nparameters = {{ a = 0.02, b = 0.2, c = -65, d = 8 }}\n\
             [[population]]\nname = \"post\"\nsize = 1\nmodel = \"izhikevich\"\nparameters = {{ a = 0.02, b = 0.2, c = -65, d = 8 }}\n\
             [[stimulus]]\npopulation = \"pre\"\nkind = \"step\"\ntimes = [\"{pre_at} ms\", \"{} ms\"]\namplitudes = [2000, 0]\n\
             [[stimulus]]\npopulation = \"post\"\nkind = \"step\"\ntimes = [\"30 ms\", \"31 ms\"]\namplitudes = [2000, 0]\n\
             [[projection]]\nsource = \"pre\"\ntarget = \"post\"\nconnection = {{ rule = \"all_to_all\" }}\nweight = {w0}\ndelay = \"3 ms\"\n\
             plasticity = {{ rule = \"stdp\", tau_plus = \"{tau_plus} ms\", tau_minus = \"{tau_minus} ms\", lambda = {lambda}, alpha = {alpha}, Wmax = {w_max} }}\n",
            pre_at + 1
        );
        let desc = volley::config::parse(&text, "pair.toml", &Default::default()).unwrap();
        let (spikes, mut backend) = common::simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() });
        backend.settle_plastic(desc.steps);
        let step_of = |gid: u32| {
            let steps: Vec<u64> = spikes.iter().filter(|s| s.gid == gid).map(|s| s.step as u64).collect();
            assert_eq!(steps.len(), 1, "one spike of neuron {gid}: {steps:?}");
            steps[0]
        };
        let (pre, post) = (step_of(0), step_of(1));
        let arrival = pre + 3;
        let lag = (post + 1) as f64 - arrival as f64;
        // NEST's multiplicative default (mu_plus = mu_minus = 1).
        let expected = if lag > 0.0 {
            w0 + w_max * lambda * (1.0 - w0 / w_max) * (-lag / tau_plus).exp()
        } else if lag < 0.0 {
            w0 - w_max * alpha * lambda * (w0 / w_max) * (lag / tau_minus).exp()
        } else {
            w0
        };
        let w = backend.plastic_synapses(0)[0].weight as f64;
        assert!((w - expected).abs() < 1e-5, "pre spike at step {pre}, post at {post} (lag {lag} ms): {w} against {expected}");
    }
}

/// `volley plot --weights`: the weights' distribution at each snapshot, as a PNG; a
/// file without snapshots is refused with one line.
#[test]
fn plot_draws_the_weight_distribution_of_a_weight_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = plastic_2003(dir.path(), "m.toml", STDP, "6*u");
    std::fs::write(&model, std::fs::read_to_string(&model).unwrap() + SNAPSHOTS).unwrap();
    assert_ok(&volley(dir.path(), &["run", "-q", model.to_str().unwrap(), "--duration", "500ms", "--out", "o"]));
    let plot = volley(dir.path(), &["plot", "--weights", "o/weights.h5", "-o", "w.png"]);
    assert_ok(&plot);
    let png = std::fs::read(dir.path().join("w.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{} bytes", png.len());
    let refused = volley(dir.path(), &["plot", "--weights", "o/spikes.h5", "-o", "x.png"]);
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim(),
        "error: cannot read o/spikes.h5: has no /edges group: expected a weight file of [[output.weights]] (/edges/<population>/snapshots/syn_weight and time)"
    );
    assert!(!dir.path().join("x.png").exists());
}

/// NEST-like rules take postsynaptic spikes lazily, at each synapse's next arrival (and
/// when weights are written, saved or moved): the same operations in the same order as
/// the index at every spike (`VOLLEY_PLASTIC_UPDATES=index`), so the same spikes and
/// weight snapshots, bit for bit, for stdp and stdp_pl_hom (1.6 s: past the horizon of
/// their traces, 1.0 and 1.4 s, at which every synapse is settled).
#[test]
fn lazy_postsynaptic_updates_give_the_bits_of_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let pl = "rule = \"stdp_pl_hom\", tau_plus = \"15 ms\", tau_minus = \"30 ms\", lambda = 0.1, alpha = 0.0513, mu = 0.4";
    for (name, rule) in [("stdp.toml", STDP), ("pl.toml", pl)] {
        let model = plastic_2003(dir.path(), name, rule, "6*u");
        std::fs::write(&model, std::fs::read_to_string(&model).unwrap() + SNAPSHOTS).unwrap();
        for mode in ["lazy", "index"] {
            let out = dir.path().join(format!("{name}-{mode}"));
            let ran = common::command(env!("CARGO_BIN_EXE_volley"))
                .args(["run", "-q", model.to_str().unwrap(), "--duration", "1600ms", "--threads", "2", "--out"])
                .arg(&out)
                .env("VOLLEY_PLASTIC_UPDATES", mode)
                .output()
                .unwrap();
            assert_ok(&ran);
        }
        for file in ["spikes.h5", "weights.h5"] {
            let (lazy, index) = (dir.path().join(format!("{name}-lazy/{file}")), dir.path().join(format!("{name}-index/{file}")));
            common::assert_same_datasets(&index, &lazy);
        }
        let snapshots = hdf5::File::open(dir.path().join(format!("{name}-lazy/weights.h5"))).unwrap();
        let w = snapshots.dataset("edges/exc_to_exc/snapshots/syn_weight").unwrap().read_2d::<f32>().unwrap();
        assert!(w.row(0) != w.row(w.nrows() - 1), "{name}: the weights moved");
    }
}

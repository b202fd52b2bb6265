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
    let (spikes, backend) = common::simulate(&desc, CpuOptions { threads, min_shard_neurons: 64, ..CpuOptions::default() });
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
fn what_a_plastic_run_cannot_do_yet_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = plastic_2003(dir.path(), "m.toml", STDP, "6*u");
    let m = model.to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--checkpoint", "c.h5"],
            "--checkpoint: projection[0] is plastic (rule stdp), and checkpoints do not hold plastic weights and traces yet: run without --checkpoint",
        ),
        (
            &["--rebalance", "always"],
            "--rebalance: projection[0] is plastic (rule stdp), and plastic synapses do not move between shards yet: use --rebalance never (auto leaves such runs as cut)",
        ),
        (&["--backend", "gpu"], "projection 0: plastic synapses run on the CPU backend only (--backend cpu)"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["run", "-q", m, "--duration", "10ms", "--out", "o"];
        args.extend_from_slice(extra);
        let out = volley(dir.path(), &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(expected), "{err}\nexpected: {expected}");
    }
    assert_ok(&volley(dir.path(), &["run", "-q", m, "--duration", "10ms", "--out", "o"]));
}

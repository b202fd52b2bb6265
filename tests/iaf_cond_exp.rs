//! `model = "iaf_cond_exp"`: NEST's conductance-based LIF, its conductances the
//! exp_conductance synapses of the projections onto it; what it refuses, and a network of
//! it the same on any number of threads. (Against NEST itself: pynn/tests, IF_cond_exp.)

mod common;

use common::{check_refuses, simulate, volley};
use volley::backend::cpu::CpuOptions;
use volley::config::{self, Overrides};

/// 200 cells fired by a constant current above rheobase, started from spread potentials,
/// coupled by recurrent excitation and inhibition as two conductances.
const NETWORK: &str = r#"
[simulation]
dt = "0.1 ms"
duration = "200 ms"
seed = 3

[[population]]
name = "cells"
size = 200
model = "iaf_cond_exp"
[population.parameters]
i_e = 350
[population.initial]
v = "-70 + 15*r"

[[projection]]
source = "cells"
target = "cells"
connection = { rule = "fixed_probability", p = 0.1 }
weight = { distribution = "uniform", low = 1.0, high = 4.0 }
delay = { distribution = "uniform", low = "0.5 ms", high = "3 ms" }
synapse = { model = "exp_conductance", tau = "0.2 ms", e_rev = 0 }

[[projection]]
source = "cells"
target = "cells"
connection = { rule = "fixed_indegree", k = 10 }
weight = 8.0
delay = "1 ms"
synapse = { model = "exp_conductance", tau = "2 ms", e_rev = -85 }
"#;

#[test]
fn a_network_of_it_gives_the_same_spikes_on_any_threads() {
    let desc = config::parse(NETWORK, "net.toml", &Overrides::default()).expect("valid");
    let one = simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() }).0;
    let three = simulate(&desc, CpuOptions { threads: 3, ..CpuOptions::default() }).0;
    assert!(one.len() > 500, "{} spikes", one.len());
    assert_eq!(one, three);
    // Without its inhibition it fires more: the second conductance pulls v down.
    let excited =
        config::parse(NETWORK, "net.toml", &Overrides { sets: vec!["projection.1.weight=0".into()], ..Overrides::default() }).unwrap();
    assert!(simulate(&excited, CpuOptions { threads: 1, ..CpuOptions::default() }).0.len() > one.len());
}

#[test]
fn spikes_reach_it_as_conductances_only() {
    let delta = NETWORK.replace("synapse = { model = \"exp_conductance\", tau = \"2 ms\", e_rev = -85 }\n", "");
    let e = check_refuses("net.toml", &delta);
    assert!(
        e.ends_with(
            "projection[1].synapse: population 'cells' (iaf_cond_exp) takes spikes as conductances: expected synapse = { model = \"exp_conductance\", tau = \"...\", e_rev = ... } \
             (NEST's g_ex: tau_syn_ex 0.2 ms, E_ex 0 mV; g_in: tau_syn_in 2 ms, E_in -85 mV), got delta"
        ),
        "{e}"
    );
    let current =
        NETWORK.replace("{ model = \"exp_conductance\", tau = \"2 ms\", e_rev = -85 }", "{ model = \"exp_current\", tau = \"2 ms\" }");
    assert!(check_refuses("net.toml", &current).ends_with("got exp_current, tau 2 ms"));
    let poisson = format!("{NETWORK}\n[[stimulus]]\npopulation = \"cells\"\nkind = \"poisson\"\nrate = 10\nweight = 5\n");
    let e = check_refuses("net.toml", &poisson);
    assert!(
        e.ends_with(
            "stimulus[0].population: population 'cells' (iaf_cond_exp) takes spikes as conductances, and a poisson stimulus adds its weights as currents: \
             drive it with a spike source through a projection with an exp_conductance synapse"
        ),
        "{e}"
    );
    let reset = NETWORK.replace("i_e = 350", "i_e = 0\nv_reset = -50");
    assert!(check_refuses("net.toml", &reset).ends_with("expected v_reset below v_th (-55 mV), got -50 mV"));
}

/// NETWORK as `iaf_cond_alpha` (NEST's), its two conductances of alpha shape.
fn alpha_network() -> String {
    NETWORK.replace("model = \"iaf_cond_exp\"", "model = \"iaf_cond_alpha\"").replace("exp_conductance", "alpha_conductance")
}

#[test]
fn a_network_of_iaf_cond_alpha_gives_the_same_spikes_on_any_threads() {
    let desc = config::parse(&alpha_network(), "net.toml", &Overrides::default()).expect("valid");
    let one = simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() }).0;
    let three = simulate(&desc, CpuOptions { threads: 3, ..CpuOptions::default() }).0;
    assert!(one.len() > 500, "{} spikes", one.len());
    assert_eq!(one, three);
    // An alpha conductance of peak w carries e times the charge of an exponential one of
    // jump w: the same weights give another network.
    let exp = config::parse(NETWORK, "net.toml", &Overrides::default()).unwrap();
    assert_ne!(simulate(&exp, CpuOptions { threads: 1, ..CpuOptions::default() }).0, one);
}

#[test]
fn iaf_cond_alpha_takes_alpha_conductances_only_and_iaf_cond_exp_exponential_ones() {
    let alpha = alpha_network();
    let exp_onto_alpha = alpha.replace("{ model = \"alpha_conductance\", tau = \"2 ms\"", "{ model = \"exp_conductance\", tau = \"2 ms\"");
    let e = check_refuses("net.toml", &exp_onto_alpha);
    assert!(
        e.ends_with(
            "projection[1].synapse: population 'cells' (iaf_cond_alpha) takes spikes as conductances: expected synapse = { model = \"alpha_conductance\", tau = \"...\", e_rev = ... } \
             (NEST's g_ex: tau_syn_ex 0.2 ms, E_ex 0 mV; g_in: tau_syn_in 2 ms, E_in -85 mV), got exp_conductance, tau 2 ms, e_rev -85"
        ),
        "{e}"
    );
    let alpha_onto_exp =
        NETWORK.replace("{ model = \"exp_conductance\", tau = \"2 ms\"", "{ model = \"alpha_conductance\", tau = \"2 ms\"");
    assert!(check_refuses("net.toml", &alpha_onto_exp).ends_with("got alpha_conductance, tau 2 ms, e_rev -85"));
    let no_reversal = alpha.replace(", tau = \"2 ms\", e_rev = -85 }", ", tau = \"2 ms\" }");
    let e = check_refuses("net.toml", &no_reversal);
    assert!(e.ends_with("projection[1].synapse: alpha_conductance needs e_rev, the reversal potential (mV)"), "{e}");
    let poisson = format!("{alpha}\n[[stimulus]]\npopulation = \"cells\"\nkind = \"poisson\"\nrate = 10\nweight = 5\n");
    assert!(check_refuses("net.toml", &poisson).ends_with("through a projection with an alpha_conductance synapse"));
}

/// A conductance synapse's weights are conductances: one below zero is refused, with
/// what NEST does with it and what to write instead, for both shapes.
#[test]
fn negative_conductances_are_refused_naming_the_inhibitory_synapse() {
    for (network, kind) in [(NETWORK.to_string(), "exp_conductance"), (alpha_network(), "alpha_conductance")] {
        let negative = network.replace("weight = 8.0", "weight = -8.0");
        let e = check_refuses("net.toml", &negative);
        assert!(
            e.ends_with(&format!(
                "projection[1].weight: weights down to -8: a conductance synapse ({kind}, tau 2 ms, e_rev -85) takes conductances, expected weights ≥ 0 (nS) \
                 (NEST turns a negative weight into a positive one onto its inhibitory conductance: give that conductance's synapse, its own e_rev, positive weights)"
            )),
            "{e}"
        );
        let spread = network.replace("low = 1.0, high = 4.0", "low = -1.0, high = 4.0");
        assert!(check_refuses("net.toml", &spread).contains("projection[0].weight: weights down to -1: a conductance synapse"));
        // A normal weight without a lower bound (PyNN's normal(0.5, 0.01)) is its author's.
        let normal = network
            .replace("{ distribution = \"uniform\", low = 1.0, high = 4.0 }", "{ distribution = \"normal\", mean = 2.0, std = 0.1 }");
        config::parse(&normal, "net.toml", &Overrides::default()).expect("an unbounded normal weight");
    }
}

/// A run resumed from a checkpoint writes the bytes of one that was not: the checkpoint
/// holds each alpha conductance's rise as well as its value (a report of g shows it).
#[test]
fn an_iaf_cond_alpha_run_resumes_from_its_checkpoint_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = "\n[output]\nspikes = \"spikes.h5\"\n[[output.report]]\nfile = \"g.h5\"\nvariable = \"synapse.1\"\nneurons = { range = [0, 20] }\ninterval = \"0.1 ms\"\n";
    std::fs::write(d.join("net.toml"), alpha_network() + report).unwrap();
    let run = |args: &[&str]| {
        let out = volley(d, &[&["run", "-q", "net.toml"], args].concat());
        common::assert_ok(&out);
    };
    run(&["--out", "full"]);
    // 101 ms: a checkpoint where conductances are mid-rise.
    run(&["--out", "part", "--duration", "101ms", "--checkpoint-every", "101ms"]);
    run(&["--out", "part", "--resume", "part/checkpoint.h5"]);
    for file in ["spikes.h5", "g.h5"] {
        common::assert_same_datasets(&d.join("full").join(file), &d.join("part").join(file));
    }
}

#[test]
fn the_gpu_backend_refuses_alpha_conductances_naming_what_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("alpha.toml"), alpha_network()).unwrap();
    // Onto a current-based model too (as g·(e_rev − v)), which the GPU runs otherwise.
    let onto_izhikevich = alpha_network()
        .replace("model = \"iaf_cond_alpha\"", "model = \"izhikevich\"")
        .replace("i_e = 350", "a = 0.02\nb = 0.2\nc = -65\nd = 8");
    std::fs::write(d.join("izhikevich.toml"), onto_izhikevich).unwrap();
    for (file, expected) in [
        ("alpha.toml", "--backend gpu: population 'cells': iaf_cond_alpha is integrated on the CPU backend only (use --backend cpu)"),
        ("izhikevich.toml", "--backend gpu: projection 0: alpha_conductance synapses run on the CPU backend only (--backend cpu)"),
    ] {
        let out = volley(d, &["run", file, "--backend", "gpu", "--out", "out"]);
        let err = common::stderr(&out);
        assert_eq!((out.status.code(), err.lines().count()), (Some(2), 1), "{err}");
        assert!(err.contains(expected), "{err}");
        assert!(!d.join("out").exists(), "nothing written");
    }
}

/// Weights set between runs onto a conductance synapse keep to conductances: a negative
/// one is refused, naming it, and the weights are left as they were.
#[test]
fn weights_set_between_runs_keep_conductances_positive() {
    use volley::run::session::Session;
    let desc = config::parse(&alpha_network(), "net.toml", &Overrides::default()).expect("valid");
    let options = volley::run::RunOptions {
        backend: volley::backend::BackendChoice::Cpu,
        cpu: CpuOptions { threads: 1, ..CpuOptions::default() },
        progress: false,
        ..volley::run::RunOptions::default()
    };
    let mut session = Session::new(desc, &options, Box::new(volley::comm::LocalComm)).unwrap();
    session.run(100).unwrap();
    let held = session.synapses(1).unwrap();
    let mut weights: Vec<f32> = held.iter().map(|s| s.2).collect();
    weights[3] = -1.0;
    let e = session.set_weights(1, &weights).unwrap_err().to_string();
    assert!(
        e.contains("projection 1: weight 3 (") && e.ends_with("is -1: this projection feeds a conductance (nS): expected a weight ≥ 0"),
        "{e}"
    );
    assert_eq!(session.synapses(1).unwrap(), held, "nothing set");
    weights[3] = 2.0;
    session.set_weights(1, &weights).unwrap();
    assert_eq!(session.synapses(1).unwrap()[3].2, 2.0);
}

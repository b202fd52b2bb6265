//! `model = "iaf_cond_exp"`: NEST's conductance-based LIF, its conductances the
//! exp_conductance synapses of the projections onto it; what it refuses, and a network of
//! it the same on any number of threads. (Against NEST itself: pynn/tests, IF_cond_exp.)

mod common;

use common::{check_refuses, simulate};
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

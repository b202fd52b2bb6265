//! `model = "izhikevich_nest"`: NEST's izhikevich (forward Euler, weights jumping v), from
//! the model file: a network of it the same on any number of threads, what it refuses.
//! (Its step against NEST's: the model's unit test; against NEST itself: pynn/tests,
//! Izhikevich.)

mod common;

use common::{check_refuses, simulate};
use volley::backend::cpu::CpuOptions;
use volley::config::{self, Overrides};

/// 300 regular-spiking cells under a spread of constant currents, coupled by excitation
/// and inhibition with delays of 1–3 ms.
const NETWORK: &str = r#"
[simulation]
dt = "0.1 ms"
duration = "300 ms"
seed = 5

[[population]]
name = "cells"
size = 300
model = "izhikevich_nest"
[population.parameters]
d = 6
i_e = 4
[population.initial]
v = "-70 + 10*r"
u = -14

[[stimulus]]
population = "cells"
kind = "constant"
amplitude = 3
neurons = { ids = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }

[[projection]]
source = "cells"
target = "cells"
connection = { rule = "fixed_indegree", k = 20 }
weight = { distribution = "uniform", low = 0.0, high = 1.0 }
delay = { distribution = "uniform", low = "1 ms", high = "3 ms" }

[[projection]]
source = "cells"
target = "cells"
connection = { rule = "fixed_indegree", k = 5 }
weight = -1.5
delay = "1 ms"
"#;

#[test]
fn a_network_of_it_gives_the_same_spikes_on_any_threads() {
    let desc = config::parse(NETWORK, "net.toml", &Overrides::default()).expect("valid");
    let one = simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() }).0;
    let three = simulate(&desc, CpuOptions { threads: 3, ..CpuOptions::default() }).0;
    assert!(one.len() > 500, "{} spikes", one.len());
    assert_eq!(one, three);
    // Without its excitation it fires less.
    let calmer =
        config::parse(NETWORK, "net.toml", &Overrides { sets: vec!["projection.0.weight=0".into()], ..Overrides::default() }).unwrap();
    assert!(simulate(&calmer, CpuOptions { threads: 1, ..CpuOptions::default() }).0.len() < one.len());
    let why = volley::backend::gpu::unsupported(&desc).expect("refused");
    assert!(why.contains("izhikevich_nest is stepped on the CPU backend only"), "{why}");
}

#[test]
fn weights_jump_v_so_it_takes_delta_synapses_only() {
    let exp = NETWORK.replace("delay = \"1 ms\"\n", "delay = \"1 ms\"\nsynapse = { model = \"exp_current\", tau = \"2 ms\" }\n");
    let e = check_refuses("net.toml", &exp);
    assert!(
        e.ends_with(
            "projection[1].synapse: population 'cells' (izhikevich_nest) takes the weights arriving itself (each a jump of its synaptic current, or of v): leave out 'synapse'"
        ),
        "{e}"
    );
}

//! Same seed, same spikes, whatever the split into shards and threads (DESIGN.md §1).
//! The CLI keeps a 1000-neuron network on one shard (it is fastest there), so this test
//! forces small shards to exercise the multi-shard path on the same network.

mod common;

use volley::backend::cpu::CpuOptions;
use volley::backend::Backend;
use volley::config::{self, Overrides};
use volley::spike::Spike;

fn simulate(threads: usize, min_shard_neurons: usize, seed: u64) -> (Vec<Spike>, Vec<f32>, usize) {
    let desc = config::load(
        &common::example("izhikevich2003.toml"),
        &Overrides { seed: Some(seed), duration: Some("300ms".into()), ..Overrides::default() },
    )
    .unwrap();
    let (spikes, backend) = common::simulate(&desc, CpuOptions { threads, min_shard_neurons });
    (spikes, backend.voltages(), backend.shard_count())
}

#[test]
fn shards_and_threads_do_not_change_a_single_bit() {
    let (reference, v_ref, shards) = simulate(1, 4096, 11);
    assert_eq!(shards, 1);
    assert!(reference.len() > 1000, "network is active: {} spikes", reference.len());
    for (threads, min_shard) in [(2, 64), (3, 64), (4, 200)] {
        let (spikes, v, shards) = simulate(threads, min_shard, 11);
        assert_eq!(shards, threads.min(1000 / min_shard), "threads {threads}");
        assert_eq!(spikes, reference, "spikes differ with {threads} threads");
        assert!(v.iter().zip(&v_ref).all(|(a, b)| a.to_bits() == b.to_bits()), "final voltages differ with {threads} threads");
    }
}

#[test]
fn another_seed_gives_another_raster() {
    let (a, _, _) = simulate(1, 4096, 11);
    let (b, _, _) = simulate(1, 4096, 12);
    assert_ne!(a, b);
}

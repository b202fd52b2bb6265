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
    let (spikes, backend) = common::simulate(&desc, CpuOptions { threads, min_shard_neurons, ..CpuOptions::default() });
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

/// Every kernel is compiled for the baseline, AVX2 and AVX-512 and picked at run time
/// (`VOLLEY_SIMD` narrows the choice): the same model gives the same spike file with
/// each, Izhikevich and Hodgkin–Huxley (tables, gathers, exp) alike.
#[test]
fn every_instruction_set_gives_the_same_spikes() {
    let dir = tempfile::tempdir().unwrap();
    let runs: [(&str, &[&str]); 3] = [
        ("izhikevich2003.toml", &["--duration", "300ms"]),
        ("hh_five_current.toml", &["--duration", "80ms", "--set", "population.cells.size=300"]),
        ("hh_network.toml", &["--duration", "60ms"]),
    ];
    for (model, args) in runs {
        let mut files = Vec::new();
        for level in ["baseline", "avx2", "widest"] {
            let out_dir = dir.path().join(format!("{model}-{level}"));
            let out = common::command(env!("CARGO_BIN_EXE_volley"))
                .args(["run", common::example(model).to_str().unwrap(), "-q", "--out", out_dir.to_str().unwrap()])
                .args(args)
                .env("VOLLEY_SIMD", level)
                .output()
                .unwrap();
            common::assert_ok(&out);
            let text = common::stdout(&out) + &common::stderr(&out);
            let used = text.split("| kernels ").nth(1).and_then(|s| s.split_whitespace().next());
            let widest = if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") {
                "avx512"
            } else if is_x86_feature_detected!("avx2") {
                "avx2"
            } else {
                "baseline"
            };
            let expected = match level {
                "baseline" => "baseline",
                "avx2" if widest != "baseline" => "avx2",
                _ => widest,
            };
            assert_eq!(used, Some(expected), "{model} with VOLLEY_SIMD={level}:\n{text}");
            files.push(volley::record::sonata::read_spike_file(&out_dir.join("spikes.h5")).unwrap());
        }
        let spikes: usize = files[0].populations.iter().map(|p| p.node_ids.len()).sum();
        assert!(spikes > 100, "{model}: {spikes} spikes");
        assert!(files[1] == files[0] && files[2] == files[0], "{model}: spikes differ between instruction sets");
    }
}

/// The Hodgkin–Huxley kernel reads its rate table with AVX-512 gathers or with AVX2 by
/// rows, whichever this CPU does faster (measured at start, or named by
/// `VOLLEY_TABLE_READS`): the same spikes either way, and the run summary says which.
#[test]
fn table_reads_by_gathers_or_loads_give_the_same_spikes() {
    let dir = tempfile::tempdir().unwrap();
    let avx512 = is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl");
    let mut files = Vec::new();
    for reads in ["gathers", "rows", "measured"] {
        let out_dir = dir.path().join(reads);
        let out = common::command(env!("CARGO_BIN_EXE_volley"))
            .args(["run", common::example("hh_five_current.toml").to_str().unwrap(), "-q", "--out", out_dir.to_str().unwrap()])
            .args(["--duration", "80ms", "--set", "population.cells.size=300"])
            .env("VOLLEY_TABLE_READS", reads)
            .env_remove("VOLLEY_SIMD")
            .output()
            .unwrap();
        common::assert_ok(&out);
        let text = common::stdout(&out) + &common::stderr(&out);
        let kernels = text.split("| kernels ").nth(1).map(|s| s.lines().next().unwrap_or("").to_string());
        match reads {
            "rows" if avx512 => assert_eq!(kernels.as_deref(), Some("avx512 (cells: avx2)"), "{text}"),
            "gathers" if avx512 => assert_eq!(kernels.as_deref(), Some("avx512"), "{text}"),
            _ => assert!(kernels.is_some(), "{text}"),
        }
        files.push(volley::record::sonata::read_spike_file(&out_dir.join("spikes.h5")).unwrap());
    }
    let spikes: usize = files[0].populations.iter().map(|p| p.node_ids.len()).sum();
    assert!(spikes > 100, "{spikes} spikes");
    assert!(files[1] == files[0] && files[2] == files[0], "spikes differ between table reads");
}

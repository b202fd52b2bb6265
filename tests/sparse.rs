//! Sparse networks: the scaled Izhikevich example's statistics, bit-identity across
//! shards with delays of 1–20 ms, stored rows against procedural rows, and the
//! exponential synapse models.

mod common;

use common::*;
use volley::analysis::{population_rate, population_stats, welch_spectrum};
use volley::backend::cpu::CpuOptions;
use volley::config::{self, Overrides};
use volley::network::Description;
use volley::record::sonata::read_spike_file;

fn load(file: &str, sets: &[&str], duration: &str) -> Description {
    let overrides =
        Overrides { sets: sets.iter().map(|s| s.to_string()).collect(), duration: Some(duration.into()), ..Overrides::default() };
    config::load(&example(file), &overrides).unwrap()
}

#[test]
fn sparse_example_at_10k_has_the_paper_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let model = example("izhikevich_sparse.toml");
    let result = volley(dir.path(), &["run", model.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]);
    assert_ok(&result);
    assert!(stdout(&result).contains("10000 neurons, 10000000 synapses"), "{}", stdout(&result));
    let file = read_spike_file(&out.join("spikes.h5")).unwrap();
    let rate = |name: &str| {
        let p = file.populations.iter().find(|p| p.name == name).unwrap();
        population_stats(p, p.size.unwrap(), 1000.0).rate_hz
    };
    let (exc, inh) = (rate("exc"), rate("inh"));
    let spectrum = welch_spectrum(&population_rate(&file.populations, 1.0, 1000.0), 1.0, 1000.0);
    let (alpha, _) = spectrum.peak_in(1.0, 15.0).unwrap();
    eprintln!("N = 10,000: exc {exc:.2} Hz, inh {inh:.2} Hz, largest peak below 15 Hz at {alpha} Hz");
    assert!((6.5..=9.0).contains(&exc), "excitatory rate {exc}");
    assert!((6.0..=9.0).contains(&inh), "inhibitory rate {inh}");
    assert!((5.0..=12.0).contains(&alpha), "alpha peak at {alpha} Hz");
}

/// The sparse example at N = 2000 with excitatory delays uniform in 1–20 ms (Izhikevich
/// 2006) and exact weights.
fn with_delays() -> Description {
    let sets = [
        "population.exc.size=1600",
        "population.inh.size=400",
        "projection.0.delay={ distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }",
        "projection.1.delay={ distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }",
        "projection.2.storage=\"exact\"",
    ];
    load("izhikevich_sparse.toml", &sets, "400 ms")
}

#[test]
fn delays_of_1_to_20_ms_give_the_same_bits_for_any_split() {
    let desc = with_delays();
    assert_eq!((desc.min_delay_steps(), desc.max_delay_steps()), (1, 20));
    let (reference, backend) = simulate(&desc, CpuOptions { threads: 1, min_shard_neurons: 1 << 20, ..CpuOptions::default() });
    assert!(reference.len() > 2000, "{} spikes", reference.len());
    let v_ref = volley::backend::Backend::voltages(&backend);
    for threads in [2, 3, 4] {
        let (spikes, backend) = simulate(&desc, CpuOptions { threads, min_shard_neurons: 64, ..CpuOptions::default() });
        assert_eq!(backend.shard_count(), threads);
        assert_eq!(spikes, reference, "{threads} shards");
        let v = volley::backend::Backend::voltages(&backend);
        assert!(v.iter().zip(&v_ref).all(|(a, b)| a.to_bits() == b.to_bits()), "{threads} shards: voltages");
    }
}

#[test]
fn procedural_rows_give_the_stored_spikes() {
    let small = ["population.exc.size=1600", "population.inh.size=400"];
    let procedural = load("izhikevich_procedural.toml", &small, "300 ms");
    let mut stored_sets = small.to_vec();
    stored_sets.extend([
        "projection.0.procedural=false",
        "projection.1.procedural=false",
        "projection.2.procedural=false",
        "projection.3.procedural=false",
    ]);
    let stored = load("izhikevich_procedural.toml", &stored_sets, "300 ms");
    let (p1, backend) = simulate(&procedural, CpuOptions { threads: 1, min_shard_neurons: 1 << 20, ..CpuOptions::default() });
    assert_eq!(volley::backend::Backend::synapse_count(&backend), 0, "procedural stores nothing");
    let (s1, backend) = simulate(&stored, CpuOptions { threads: 1, min_shard_neurons: 1 << 20, ..CpuOptions::default() });
    assert_eq!(volley::backend::Backend::synapse_count(&backend), 2_000_000);
    assert!(s1.len() > 1000);
    assert_eq!(p1, s1, "procedural vs stored, one shard");
    let (p2, _) = simulate(&procedural, CpuOptions { threads: 2, min_shard_neurons: 64, ..CpuOptions::default() });
    let (s2, _) = simulate(&stored, CpuOptions { threads: 2, min_shard_neurons: 64, ..CpuOptions::default() });
    assert_eq!(p2, s1, "procedural, two shards");
    assert_eq!(s2, s1, "stored, two shards");
}

/// A driver firing regularly onto a target that fires on its own bias current.
fn driven(synapse: &str, weight: f64) -> usize {
    let text = format!(
        "[simulation]\ndt = \"0.5 ms\"\nduration = \"1000 ms\"\n\
         [[population]]\nname = \"driver\"\nsize = 1\nmodel = \"izhikevich\"\nbias_current = 14\n[population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n\
         [[population]]\nname = \"target\"\nsize = 1\nmodel = \"izhikevich\"\nbias_current = 5\n[population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n\
         [[projection]]\nsource = \"driver\"\ntarget = \"target\"\nconnection = {{ rule = \"all_to_all\" }}\nweight = {weight}\ndelay = \"1 ms\"\nsynapse = {synapse}\n"
    );
    let desc = config::parse(&text, "driven.toml", &Overrides::default()).unwrap();
    let (spikes, _) = simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() });
    spikes.iter().filter(|s| s.gid == 1).count()
}

#[test]
fn exponential_synapses_excite_and_inhibit() {
    let alone = driven("\"delta\"", 0.0);
    assert!(alone > 5, "the target fires on its own: {alone}");
    let current = driven("{ model = \"exp_current\", tau = \"5 ms\" }", 10.0);
    let longer = driven("{ model = \"exp_current\", tau = \"20 ms\" }", 10.0);
    let excitatory = driven("{ model = \"exp_conductance\", tau = \"5 ms\", e_rev = 0 }", 0.5);
    let inhibitory = driven("{ model = \"exp_conductance\", tau = \"5 ms\", e_rev = -80 }", 2.0);
    eprintln!("target spikes: alone {alone}, exp_current τ=5 {current}, τ=20 {longer}, g_exc {excitatory}, g_inh {inhibitory}");
    assert!(current > alone, "an excitatory current adds spikes");
    assert!(longer > current, "a slower current carries more charge");
    assert!(excitatory > alone, "an excitatory conductance adds spikes");
    assert!(inhibitory < alone, "an inhibitory conductance removes spikes");
}

/// `check` and the memory refusal rely on the estimate: it must cover what the backend
/// holds, and not by much more.
#[test]
fn memory_estimate_covers_what_is_held() {
    use volley::backend::cpu::{memory_estimate, CpuBackend};
    use volley::backend::Backend;
    for file in ["izhikevich2003.toml", "izhikevich_sparse.toml", "izhikevich_procedural.toml", "hh_network.toml", "hh_five_current.toml"] {
        let desc = config::load(&example(file), &Overrides::default()).unwrap();
        for threads in [1, 2] {
            let held =
                CpuBackend::new(&desc, 0..desc.total_neurons(), CpuOptions { threads, ..CpuOptions::default() }).memory_bytes() as u64;
            let estimate = memory_estimate(&desc, 0..desc.total_neurons(), threads).total();
            assert!(
                held <= estimate && held as f64 >= 0.99 * estimate as f64,
                "{file}, {threads} threads: held {held}, estimated {estimate}"
            );
        }
        // Each rank's slice, as `check --ranks` and the per-rank refusal estimate it.
        for ranks in [2, 3] {
            for range in volley::partition::partition(&desc, ranks) {
                let held = CpuBackend::new(&desc, range.clone(), CpuOptions { threads: 1, ..CpuOptions::default() }).memory_bytes() as u64;
                let estimate = memory_estimate(&desc, range.clone(), 1).total();
                assert!(
                    held <= estimate && held as f64 >= 0.98 * estimate as f64,
                    "{file}, rank {range:?} of {ranks}: held {held}, estimated {estimate}"
                );
            }
        }
    }
}

//! Kernel costs: Gaussian noise per draw, Izhikevich update per neuron-step, spike
//! delivery per synaptic event, and the whole 1000-neuron net.m network per simulated
//! second. `cargo bench --bench kernels`; figures go to BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::path::Path;
use volley::backend::cpu::{CpuBackend, CpuOptions};
use volley::backend::Backend;
use volley::comm::LocalComm;
use volley::config::{self, Overrides};
use volley::connectivity::DelayRing;
use volley::connectivity::LocalSynapses;
use volley::engine::Simulation;
use volley::model::{Group, NeuronGroup, StepInput};
use volley::record::MemoryRecorder;
use volley::rng;
use volley::spike::Spike;
use volley::synapse::Synaptic;

fn example(size_exc: u64, size_inh: u64) -> volley::network::Description {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/izhikevich2003.toml")).unwrap();
    let text = text.replace("size = 800", &format!("size = {size_exc}")).replace("size = 200", &format!("size = {size_inh}"));
    config::parse(&text, "izhikevich2003.toml", &Overrides::default()).unwrap()
}

fn sparse(n: u64, storage: &str) -> volley::network::Description {
    let file = if storage == "procedural" { "examples/izhikevich_procedural.toml" } else { "examples/izhikevich_sparse.toml" };
    let mut sets = vec![format!("population.exc.size={}", n * 4 / 5), format!("population.inh.size={}", n / 5)];
    if storage == "exact" {
        sets.extend((0..4).map(|p| format!("projection.{p}.storage=\"exact\"")));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    config::load(&path, &Overrides { sets, ..Overrides::default() }).unwrap()
}

/// 2000 distinct random sources spiking in one step, sorted: one step of a large network.
fn random_spikes(n: u64) -> Vec<Spike> {
    let mut gids: Vec<u32> = (0..2000u64).map(|k| (k.wrapping_mul(2_654_435_761) % n) as u32).collect();
    gids.sort_unstable();
    gids.dedup();
    gids.into_iter().map(|gid| Spike { step: 0, gid }).collect()
}

fn noise(c: &mut Criterion) {
    let mut g = c.benchmark_group("noise");
    let n = 100_000usize;
    let mut out = vec![0f32; n];
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("gaussian_draws", |b| {
        let mut step = 0;
        b.iter(|| {
            step += 1;
            rng::fill_noise_normals(1, step, 0, &mut out);
            black_box(&out);
        })
    });
    // The Threefry blocks alone (two words per neuron), for what a draw adds to them.
    let (mut words_a, mut words_b) = (vec![0u32; n], vec![0u32; n]);
    g.bench_function("threefry_blocks", |b| {
        let mut step = 0u32;
        b.iter(|| {
            step += 1;
            rng::fill_blocks([1, 2], step, 0, &mut words_a, &mut words_b);
            black_box(&words_a);
        })
    });
    // Poisson input of the microcircuit: λ = 2000 × 8 Hz × 0.1 ms = 1.6 events per
    // neuron-step, the count's weight added into each neuron's input.
    let lambda = 1.6f64;
    let table = rng::PoissonTable::new(lambda);
    g.bench_function("poisson_events_lambda_1.6", |b| {
        let mut step = 0u32;
        b.iter(|| {
            step += 1;
            rng::add_poisson_events(rng::poisson_key(1, 0, step as u64), step, 0, &table, 87.8, &mut out);
            black_box(&out);
        })
    });
    g.finish();
}

fn neuron_update(c: &mut Criterion) {
    for (exc, inh) in [(800, 200), (80_000, 20_000)] {
        neuron_update_size(c, exc, inh);
    }
}

fn neuron_update_size(c: &mut Criterion, exc: u64, inh: u64) {
    let mut g = c.benchmark_group(format!("izhikevich_update_{exc}"));
    let desc = example(exc, inh);
    let pop = &desc.populations[0];
    let NeuronGroup::Izhikevich(mut state) = pop.model.build(pop.gids().map(|g| desc.neuron_uniform(g))).unwrap() else {
        panic!("the example is Izhikevich neurons")
    };
    let n = state.len();
    let mut input = vec![0f32; n];
    let mut normals = vec![0f32; n];
    let stimuli = volley::stimulus::for_group(&desc.stimuli, 0, pop.first_gid, pop.first_gid, n);
    g.throughput(Throughput::Elements(n as u64));
    let none = Synaptic::none();
    g.bench_function("step_without_noise_generation", |b| {
        b.iter(|| state.step(&StepInput { input: &input, currents: None, common: 0.0, synaptic: &none, dt: 1.0, step: 0 }))
    });
    // What a step of the population costs: its stimuli (net.m's noise) into the input,
    // the update, the spikes, and the input cleared for a later step.
    g.bench_function("step_with_noise_generation", |b| {
        let mut step = 0;
        b.iter(|| {
            step += 1;
            let common = volley::stimulus::apply(&stimuli, 1, step, &mut input, &mut normals);
            state.step(&StepInput { input: &input, currents: None, common, synaptic: &none, dt: 1.0, step: 0 });
            input.fill(0.0);
            let mut count = 0;
            state.collect_spikes(|_| count += 1);
            black_box(count)
        })
    });
    g.finish();
}

/// The five-current Hodgkin–Huxley model (examples/hh_five_current.toml): one step of
/// 10,000 neurons with exponential Euler and tables, firing under the 18 pA step.
fn hh_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("hh_five_current_update_10000");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hh_five_current.toml")).unwrap();
    let desc = config::parse(
        &text,
        "hh_five_current.toml",
        &Overrides { sets: vec!["population.cells.size=10000".into()], ..Overrides::default() },
    )
    .unwrap();
    let pop = &desc.populations[0];
    let mut state = pop.model.build(pop.gids().map(|g| desc.neuron_uniform(g))).unwrap();
    let n = state.len();
    let input = vec![18f32; n];
    // Into the firing regime first, so that the states are spread over the spike cycle.
    for _ in 0..20_000 {
        state.step(&StepInput { input: &input, currents: None, common: 0.0, synaptic: &Synaptic::none(), dt: 0.01, step: 0 });
    }
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("exponential_euler_step", |b| {
        b.iter(|| {
            black_box(state.step(&StepInput {
                input: &input,
                currents: None,
                common: 0.0,
                synaptic: &Synaptic::none(),
                dt: 0.01,
                step: 0,
            }));
        })
    });
    g.finish();
}

/// The microcircuit's LIF neuron (iaf_psc_exp, exact propagators): one step of 100,000
/// neurons, with weights arriving and a per-neuron current (the stimuli's path), firing;
/// "step" with the parameters shared, "step_own_parameters" with tau_m and v_th of each
/// neuron (PyNN's random parameters: each neuron's constants read with it).
fn lif_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("iaf_psc_exp_update_100000");
    for (name, own) in [("step", ""), ("step_own_parameters", "tau_m = \"9 + 2*r\"\nv_th = \"-51 + 2*r\"\n")] {
        let text = format!(
            "[simulation]\ndt = \"0.1 ms\"\nduration = \"1 ms\"\n[[population]]\nname = \"p\"\nsize = 100000\nmodel = \"iaf_psc_exp\"\n\
             [population.parameters]\ne_l = -65\nv_th = -50\nv_reset = -65\ntau_syn_ex = 0.5\ntau_syn_in = 0.5\ni_e = 300\n{own}\
             [population.initial]\nv = \"-65 + 15*r\"\n"
        )
        .replace("v_th = -50\n", if own.is_empty() { "v_th = -50\n" } else { "" });
        let desc = config::parse(&text, "lif.toml", &Overrides::default()).unwrap();
        let pop = &desc.populations[0];
        let mut state = pop.model.build(pop.gids().map(|g| desc.neuron_uniform(g))).unwrap();
        let n = state.len();
        let weights: Vec<f32> = (0..n).map(|i| if i % 3 == 0 { 87.8 } else { 0.0 }).collect();
        let currents: Vec<f32> = (0..n).map(|i| (i % 100) as f32).collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name, |b| {
            let step = StepInput { input: &weights, currents: Some(&currents), common: 0.0, synaptic: &Synaptic::none(), dt: 0.1, step: 0 };
            b.iter(|| black_box(state.step(&step)));
        });
    }
    g.finish();
}

/// NEST's conductance-based models (RK4 on substeps, f64): one step of `size` neurons
/// under two conductances (COBA's: τ 5 ms, E 0 mV and τ 10 ms, E −80 mV) at a steady
/// level. iaf_cond_exp at 10,000 neurons; hh_cond_exp_traub (twenty substeps of Traub's
/// gates) at 1,000.
fn cond_update(c: &mut Criterion) {
    use volley::synapse::{Exponential, SynapseModel};
    for (model, size, parameters) in [("iaf_cond_exp", 10_000, "i_e = 200"), ("hh_cond_exp_traub", 1_000, "i_e = 200")] {
        let mut g = c.benchmark_group(format!("{model}_update_{size}"));
        let text = format!(
            "[simulation]\ndt = \"0.1 ms\"\nduration = \"1 ms\"\n[[population]]\nname = \"p\"\nsize = {size}\nmodel = \"{model}\"\n\
             [population.parameters]\n{parameters}\n[population.initial]\nv = \"-70 + 15*r\"\n"
        );
        let desc = config::parse(&text, "cond.toml", &Overrides::default()).unwrap();
        let pop = &desc.populations[0];
        let mut state = pop.model.build(pop.gids().map(|g| desc.neuron_uniform(g))).unwrap();
        let n = state.len();
        let mut kinds = vec![
            Exponential::new(SynapseModel::ExpConductance { tau_ms: 5.0, e_rev: 0.0 }, n, 0.1),
            Exponential::new(SynapseModel::ExpConductance { tau_ms: 10.0, e_rev: -80.0 }, n, 0.1),
        ];
        // Twice: the conductances a step begins with are the last step's.
        for _ in 0..2 {
            kinds[0].advance(&vec![4.0; n]);
            kinds[1].advance(&vec![20.0; n]);
        }
        let input = vec![0f32; n];
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function("step", |b| {
            let synaptic = Synaptic::new(&kinds, 0..n);
            let step = StepInput { input: &input, currents: None, common: 0.0, synaptic: &synaptic, dt: 0.1, step: 0 };
            b.iter(|| black_box(state.step(&step)));
        });
        g.finish();
    }
}

/// NEST's izhikevich (volley's izhikevich_nest): one Euler step of 10,000 neurons.
fn izhikevich_nest_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("izhikevich_nest_update_10000");
    let text =
        "[simulation]\ndt = \"0.1 ms\"\nduration = \"1 ms\"\n[[population]]\nname = \"p\"\nsize = 10000\nmodel = \"izhikevich_nest\"\n\
                [population.parameters]\ni_e = 5\n[population.initial]\nv = \"-70 + 15*r\"\n";
    let desc = config::parse(text, "izh.toml", &Overrides::default()).unwrap();
    let pop = &desc.populations[0];
    let mut state = pop.model.build(pop.gids().map(|g| desc.neuron_uniform(g))).unwrap();
    let n = state.len();
    let input = vec![0f32; n];
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("step", |b| {
        let synaptic = Synaptic::none();
        let step = StepInput { input: &input, currents: None, common: 0.0, synaptic: &synaptic, dt: 0.1, step: 0 };
        b.iter(|| black_box(state.step(&step)));
    });
    g.finish();
}

fn delivery(c: &mut Criterion) {
    let mut g = c.benchmark_group("delivery");
    // Dense rows: the 2003 network, 100 spikes × 1000 targets, rows in cache.
    let desc = example(800, 200);
    let mut synapses = LocalSynapses::build(&desc, 0..1000).unwrap();
    let mut rings = vec![DelayRing::new(1000, 1)];
    let spikes: Vec<Spike> = (0..100).map(|k| Spike { step: 0, gid: k * 10 }).collect();
    g.throughput(Throughput::Elements(spikes.len() as u64 * 1000));
    g.bench_function("dense_rows_1000_targets", |b| {
        b.iter(|| {
            synapses.deliver_all(&spikes, &mut rings);
            black_box(rings[0].slot_mut(1)[0])
        })
    });
    // Sparse rows of the 100,000-neuron example (10^8 synapses, 1 delay): spikes of
    // 2000 random sources, as in one step of the network, so that rows come from DRAM.
    for storage in ["compact", "exact", "procedural"] {
        let desc = sparse(100_000, storage);
        let n = desc.total_neurons();
        let mut synapses = LocalSynapses::build(&desc, 0..n).unwrap();
        let mut rings = vec![DelayRing::new(n as usize, 1)];
        let spikes = random_spikes(n);
        // Every neuron has 1000 outgoing synapses on average (exactly, for procedural).
        g.throughput(Throughput::Elements(spikes.len() as u64 * 1000));
        g.sample_size(if storage == "procedural" { 10 } else { 20 });
        g.bench_function(format!("sparse_rows_100k_{storage}"), |b| {
            b.iter(|| {
                synapses.deliver_all(&spikes, &mut rings);
                black_box(rings[0].slot_mut(1)[0])
            })
        });
    }
    // The same delivery after the caches were swept, as the update step between two
    // epochs sweeps them in the network (4 MB of state and input per step at this size).
    {
        let desc = sparse(100_000, "compact");
        let mut synapses = LocalSynapses::build(&desc, 0..100_000).unwrap();
        let mut rings = vec![DelayRing::new(100_000, 1)];
        let spikes = random_spikes(100_000);
        let mut sweep = vec![1f32; 1 << 20];
        g.throughput(Throughput::Elements(spikes.len() as u64 * 1000));
        g.sample_size(20);
        g.bench_function("sparse_rows_100k_compact_after_cache_sweep", |b| {
            b.iter_custom(|iterations| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iterations {
                    sweep.iter_mut().for_each(|x| *x += 1.0);
                    black_box(&sweep);
                    let start = std::time::Instant::now();
                    synapses.deliver_all(&spikes, &mut rings);
                    total += start.elapsed();
                }
                total
            })
        });
    }
    // One rank of many: a rank holding 1000 or 10,000 of the 10^6 neurons of the sparse
    // example receives every spike (all-gather) but holds about 1 or 10 synapses from
    // each source. Throughput counts received spikes: the per-spike cost of the row
    // lookup that bounds strong scaling (BENCHMARKS.md, scaling model).
    {
        let desc = sparse(1_000_000, "compact");
        let mut gids: Vec<u32> = (0..10_000u64).map(|k| (k.wrapping_mul(2_654_435_761) % 1_000_000) as u32).collect();
        gids.sort_unstable();
        gids.dedup();
        let spikes: Vec<Spike> = gids.into_iter().map(|gid| Spike { step: 0, gid }).collect();
        for targets in [1000usize, 10_000] {
            let mut synapses = LocalSynapses::build(&desc, 0..targets as u64).unwrap();
            let mut rings = vec![DelayRing::new(targets, 1)];
            g.throughput(Throughput::Elements(spikes.len() as u64));
            g.sample_size(20);
            g.bench_function(format!("received_spike_rank_of_{targets}_in_1M"), |b| {
                b.iter(|| {
                    synapses.deliver_all(&spikes, &mut rings);
                    black_box(rings[0].slot_mut(1)[0])
                })
            });
        }
    }
    // The same rows cut into stores of fewer targets, whose input arrays fit in L1/L2
    // (faster here, 2000 spikes a pass; not in the network, ~750 spikes an epoch:
    // BENCHMARKS.md).
    let desc = sparse(100_000, "compact");
    let spikes = random_spikes(100_000);
    for stores in [4u64, 8, 16] {
        let size = 100_000 / stores;
        let mut parts: Vec<(LocalSynapses, Vec<DelayRing>)> = (0..stores)
            .map(|k| (LocalSynapses::build(&desc, k * size..(k + 1) * size).unwrap(), vec![DelayRing::new(size as usize, 1)]))
            .collect();
        g.throughput(Throughput::Elements(spikes.len() as u64 * 1000));
        g.sample_size(20);
        g.bench_function(format!("sparse_rows_100k_compact_{stores}_stores"), |b| {
            b.iter(|| {
                for (synapses, rings) in &mut parts {
                    synapses.deliver_all(&spikes, rings);
                }
                black_box(parts[0].1[0].slot_mut(1)[0])
            })
        });
    }
    g.finish();
}

/// The machine's memory system, for scale: streaming read bandwidth and random
/// read-modify-writes into arrays the size of one ring slot (L2) and of 10^8 synapses.
fn memory_system(c: &mut Criterion) {
    let mut g = c.benchmark_group("memory_system");
    g.sample_size(10);
    let big: Vec<u64> = (0..(256u64 << 20) / 8).collect();
    g.throughput(Throughput::Bytes(256 << 20));
    g.bench_function("stream_read_256MiB", |b| b.iter(|| black_box(big.iter().fold(0u64, |a, &x| a.wrapping_add(x)))));
    for (name, len) in [("random_add_32KB", 8192usize), ("random_add_400KB", 100_000), ("random_add_400MB", 100_000_000)] {
        let mut target = vec![0f32; len];
        let index: Vec<u32> = (0..1_000_000u64).map(|k| ((k.wrapping_mul(2_654_435_761) >> 3) % len as u64) as u32).collect();
        g.throughput(Throughput::Elements(index.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                for &i in &index {
                    target[i as usize] += 1.0;
                }
                black_box(target[0])
            })
        });
    }
    // The bound of delivery (issue 28): a stream of (target, weight) records, each added
    // into its random target among 10^5, 10^6 and 10^7 floats (0.4, 4 and 40 MB: L2, the
    // L3 of many machines, DRAM). A delivery of 8-byte records cannot beat this; the
    // microcircuit's ring slot is 77,169 floats, its rings of 90 slots 6.9 million.
    let records: Vec<(u32, f32)> =
        (0..4_000_000u64).map(|k| ((k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as u32, 0.25 + (k % 7) as f32)).collect();
    for (name, len) in [("scatter_pairs_1e5", 100_000u32), ("scatter_pairs_1e6", 1_000_000), ("scatter_pairs_1e7", 10_000_000)] {
        let pairs: Vec<(u32, f32)> = records.iter().map(|&(t, w)| (t % len, w)).collect();
        let mut target = vec![0f32; len as usize];
        g.throughput(Throughput::Elements(pairs.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                for &(t, w) in &pairs {
                    // SAFETY: t < len by construction.
                    unsafe { *target.get_unchecked_mut(t as usize) += w };
                }
                black_box(target[0])
            })
        });
    }
    // The same into 10^5 floats from 4-byte compact records (u16 target, u16 weight code,
    // decoded as delivery decodes it): what the decode adds to the bound.
    let codec = volley::connectivity::generate::WeightCodec::new((0.0, 175.6));
    let compact: Vec<(u16, u16)> = records.iter().map(|&(t, w)| ((t % 65_536) as u16, codec.encode(w))).collect();
    let mut target = vec![0f32; 65_536];
    g.throughput(Throughput::Elements(compact.len() as u64));
    g.bench_function("scatter_compact_65536", |b| {
        b.iter(|| {
            for &(t, code) in &compact {
                // SAFETY: t < 65,536 by its type.
                unsafe { *target.get_unchecked_mut(t as usize) += codec.decode(code) };
            }
            black_box(target[0])
        })
    });
    g.finish();
}

/// A microcircuit shard's far arrivals of one step (`DelayRing::try_deferring`): 48,000
/// coded records onto 38,528 targets appended to a slot's list in pieces of 30 (one row
/// and delay each), the weight code changing every 16 pieces (from one block to the
/// next, excitatory and inhibitory), then the list added into its slot as the slot comes
/// near. Per record: the append and the add.
fn far_lists(c: &mut Criterion) {
    use volley::connectivity::generate::WeightCodec;
    let mut g = c.benchmark_group("far_lists");
    let (targets, records, piece) = (38_528u32, 48_000usize, 30usize);
    let codecs = [WeightCodec::new((0.0, 175.6)), WeightCodec::new((-702.5, 0.0))];
    let mut x = 0x9E37_79B9u32;
    let words: Vec<u32> = (0..records)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % targets) | (x >> 16) << 16
        })
        .collect();
    let mut ring = DelayRing::try_deferring(targets as usize, 90, 1, volley::connectivity::Entry::Coded).unwrap();
    let mut step = 0u64;
    g.throughput(Throughput::Elements(records as u64));
    g.bench_function("append_and_add_48000_coded", |b| {
        b.iter(|| {
            ring.begin_step(step);
            for (k, chunk) in words.chunks(piece).enumerate() {
                ring.defer_coded(step + 10, codecs[(k / 16) % 2], chunk.iter().copied());
            }
            ring.slot_mut(step).fill(0.0);
            step += 1;
            // Ten steps on, the slot comes near: its list is added into it.
            black_box(ring.slot_mut(step)[0])
        })
    });
    g.finish();
}

fn network(c: &mut Criterion) {
    let mut g = c.benchmark_group("izhikevich2003_network");
    g.sample_size(20);
    let desc = example(800, 200);
    for threads in [1usize, 2] {
        g.bench_with_input(BenchmarkId::new("simulate_1000ms_threads", threads), &threads, |b, &threads| {
            // Only the simulation is timed: building the network, starting the shard
            // threads and joining them happen outside.
            b.iter_custom(|iterations| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iterations {
                    let mut backend = CpuBackend::new(&desc, 0..1000, CpuOptions { threads, ..CpuOptions::default() });
                    let mut comm = LocalComm;
                    let mut recorder = MemoryRecorder::default();
                    let start = std::time::Instant::now();
                    Simulation::new(&mut backend as &mut dyn Backend, &mut comm, 1, desc.steps).run(&mut recorder).unwrap();
                    total += start.elapsed();
                    black_box(recorder.spikes.len());
                }
                total
            })
        });
    }
    g.bench_function("build", |b| {
        b.iter(|| CpuBackend::new(&desc, 0..1000, CpuOptions { threads: 2, ..CpuOptions::default() }).memory_bytes())
    });
    g.finish();
}

criterion_group!(
    benches,
    noise,
    neuron_update,
    hh_update,
    lif_update,
    cond_update,
    izhikevich_nest_update,
    delivery,
    memory_system,
    far_lists,
    network
);
criterion_main!(benches);

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
use volley::connectivity::LocalSynapses;
use volley::engine::{DelayRing, Simulation};
use volley::model::NeuronGroup;
use volley::record::MemoryRecorder;
use volley::rng;

fn example(size_exc: u64, size_inh: u64) -> volley::network::Description {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/izhikevich2003.toml")).unwrap();
    let text = text.replace("size = 800", &format!("size = {size_exc}")).replace("size = 200", &format!("size = {size_inh}"));
    config::parse(&text, "izhikevich2003.toml", &Overrides::default()).unwrap()
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
    let NeuronGroup::Izhikevich(mut state) = pop.model.build(pop.gids().map(|g| desc.neuron_uniform(g)));
    let n = state.len();
    let mut input = vec![0f32; n];
    let mut normals = vec![0f32; n];
    rng::fill_noise_normals(1, 0, 0, &mut normals);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("step_without_noise_generation", |b| b.iter(|| state.step(&mut input, &normals, 5.0, 0.0, 1.0)));
    g.bench_function("step_with_noise_generation", |b| {
        let mut step = 0;
        b.iter(|| {
            step += 1;
            rng::fill_noise_normals(1, step, 0, &mut normals);
            state.step(&mut input, &normals, 5.0, 0.0, 1.0);
            let mut count = 0;
            state.collect_spikes(|_| count += 1);
            black_box(count)
        })
    });
    g.finish();
}

fn delivery(c: &mut Criterion) {
    let mut g = c.benchmark_group("delivery");
    let desc = example(800, 200);
    let synapses = LocalSynapses::build(&desc, 0..1000);
    let mut ring = DelayRing::new(1000, 1);
    // 100 spikes of excitatory and inhibitory sources: 1000 targets each.
    let sources: Vec<u64> = (0..100).map(|k| k * 10).collect();
    g.throughput(Throughput::Elements(sources.len() as u64 * 1000));
    g.bench_function("dense_rows_1000_targets", |b| {
        b.iter(|| {
            for &s in &sources {
                synapses.deliver(s, 0, &mut ring);
            }
            black_box(ring.slot_mut(1)[0])
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
            b.iter_batched(
                || CpuBackend::new(&desc, 0..1000, CpuOptions { threads, ..CpuOptions::default() }),
                |mut backend| {
                    let mut comm = LocalComm;
                    let mut recorder = MemoryRecorder::default();
                    Simulation::new(&mut backend as &mut dyn Backend, &mut comm, 1, desc.steps).run(&mut recorder).unwrap();
                    recorder.spikes.len()
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.bench_function("build", |b| {
        b.iter(|| CpuBackend::new(&desc, 0..1000, CpuOptions { threads: 2, ..CpuOptions::default() }).memory_bytes())
    });
    g.finish();
}

criterion_group!(benches, noise, neuron_update, delivery, network);
criterion_main!(benches);

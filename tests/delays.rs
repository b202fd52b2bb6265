//! Delays many steps long (small dt): the delay rings hold a window of steps and the
//! synapses of spikes in flight are delivered when due (`connectivity::InFlight`). The window
//! must change no result, and delay memory must not grow with 1/dt.

mod common;

use common::*;
use volley::backend::cpu::{memory_estimate, CpuBackend, CpuOptions};
use volley::backend::Backend;
use volley::config::{self, Overrides};
use volley::network::Description;
use volley::spike::Spike;

fn load(file: &str, sets: &[&str], duration: &str) -> Description {
    let overrides =
        Overrides { sets: sets.iter().map(|s| s.to_string()).collect(), duration: Some(duration.into()), ..Overrides::default() };
    config::load(&example(file), &overrides).unwrap()
}

fn simulate_with(desc: &Description, threads: usize, ring_slots: u32) -> (Vec<Spike>, Vec<f32>) {
    simulate_deferring(desc, threads, ring_slots, usize::MAX)
}

/// Asserts that a run's spikes and voltages are the reference's, bit for bit.
fn assert_same((spikes, v): &(Vec<Spike>, Vec<f32>), (reference, v_ref): (&[Spike], &[f32]), what: &str) {
    let first_difference = spikes.iter().zip(reference).position(|(a, b)| a != b);
    assert!(spikes == reference, "{what}: {} spikes against {}, first difference at {first_difference:?}", spikes.len(), reference.len());
    assert!(v.iter().zip(v_ref).all(|(a, b)| a.to_bits() == b.to_bits()), "{what}: voltages");
}

/// `simulate_with`, rings of more than `defer_rings_above` bytes deferring their far
/// arrivals (`DelayRing::try_deferring`).
fn simulate_deferring(desc: &Description, threads: usize, ring_slots: u32, defer_rings_above: usize) -> (Vec<Spike>, Vec<f32>) {
    let options = CpuOptions { threads, min_shard_neurons: 64, defer_rings_above };
    let mut backend = CpuBackend::build_with_ring_slots(desc, 0..desc.total_neurons(), options, ring_slots).unwrap();
    let mut recorder = volley::record::MemoryRecorder::default();
    volley::engine::Simulation::new(&mut backend as &mut dyn Backend, &mut volley::comm::LocalComm, desc.epoch_steps(), desc.steps)
        .run(&mut recorder)
        .unwrap();
    (recorder.spikes, backend.voltages())
}

/// The sparse Izhikevich example at dt = 0.1 ms with delays of 1–20 ms (10–200 steps)
/// on every layout feeding one ring: compact and exact CSR rows, procedural rows with
/// several delays, and dense rows of one delay; an exponential current on a second ring.
fn many_steps_of_delay() -> Description {
    let sets = many_steps_sets();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    load("izhikevich_sparse.toml", &sets, "150 ms")
}

fn many_steps_sets() -> Vec<String> {
    let delays = "{ distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }";
    let sets = [
        "simulation.dt=\"0.1 ms\"".to_string(),
        "population.exc.size=1000".into(),
        "population.inh.size=250".into(),
        // At dt = 0.1 ms the example's noise, drawn per step, averages out: a bias drives.
        "population.exc.bias_current=5".into(),
        "population.inh.bias_current=5".into(),
        format!("projection.0.delay={delays}"),
        format!("projection.1.delay={delays}"),
        "projection.1.connection={ rule = \"fixed_outdegree\", k = 50 }".into(),
        "projection.1.storage=\"procedural\"".into(),
        format!("projection.2.delay={delays}"),
        "projection.2.storage=\"exact\"".into(),
        "projection.2.synapse={ model = \"exp_current\", tau = \"3 ms\" }".into(),
        "projection.3.connection={ rule = \"all_to_all\" }".into(),
        "projection.3.weight=-0.02".into(),
        "projection.3.delay=\"2.5 ms\"".into(),
        "projection.3.storage=\"exact\"".into(),
    ];
    sets.to_vec()
}

#[test]
fn the_ring_window_changes_no_result() {
    let desc = many_steps_of_delay();
    assert_eq!((desc.min_delay_steps(), desc.max_delay_steps()), (10, 200));
    // Procedural rows with several delays: the rings hold every delay by default.
    assert_eq!(desc.ring_slots(), 200);
    let (reference, v_ref) = simulate_with(&desc, 1, 200);
    assert!(reference.len() > 1000, "{} spikes", reference.len());
    for (threads, slots) in [(1, 1), (1, 7), (2, 10), (2, 32), (1, 199), (2, 200)] {
        let run = simulate_with(&desc, threads, slots);
        assert_same(&run, (&reference, &v_ref), &format!("{slots} ring slots, {threads} threads"));
    }
}

/// Far arrivals held in lists and added when their slot comes near sum every target's
/// inputs in the order the rings alone do: the same spikes and voltages, bit for bit,
/// with every delay in the ring or in windows, on one shard or several, whether one
/// ring defers (a kind fed by CSR rows only) or both, lists of records as words (a ring
/// fed by 4-byte records only, with a codec per projection) or of (target, weight).
#[test]
fn deferring_far_arrivals_changes_no_result() {
    let stored = [
        "projection.1.storage=\"exact\"",
        "projection.3.connection={ rule = \"fixed_indegree\", k = 40 }",
        "projection.3.storage=\"compact\"",
    ];
    let coded = ["projection.0.storage=\"compact\"", "projection.1.storage=\"compact\"", stored[1], stored[2]];
    let variants = [("two layouts on ring 0", &[][..]), ("CSR rows on both rings", &stored[..]), ("4-byte records on ring 0", &coded[..])];
    for (variant, extra) in variants {
        let mut desc = many_steps_of_delay();
        if !extra.is_empty() {
            let sets: Vec<String> = many_steps_sets().into_iter().chain(extra.iter().map(|s| s.to_string())).collect();
            desc = load("izhikevich_sparse.toml", &sets.iter().map(String::as_str).collect::<Vec<_>>(), "150 ms");
        }
        let (reference, v_ref) = simulate_with(&desc, 1, 200);
        assert!(reference.len() > 1000, "{variant}: {} spikes", reference.len());
        for (threads, slots) in [(1, 200), (2, 200), (1, 7), (2, 32)] {
            let run = simulate_deferring(&desc, threads, slots, 0);
            assert_same(&run, (&reference, &v_ref), &format!("{variant}, {slots} ring slots, {threads} threads"));
        }
    }
}

/// The case the issue names: 10,000 neurons at dt = 0.01 ms with delays of 1–20 ms (up
/// to 2000 steps) held 80 MB of rings per synaptic kind; now 32 slots each.
#[test]
fn delay_memory_does_not_grow_with_one_over_dt() {
    let delays = "{ distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }";
    let sets = [
        "population.exc.size=8000".to_string(),
        "population.inh.size=2000".into(),
        "projection.0.connection={ rule = \"fixed_indegree\", k = 20 }".into(),
        "projection.1.connection={ rule = \"fixed_indegree\", k = 20 }".into(),
        "projection.2.connection={ rule = \"fixed_indegree\", k = 5 }".into(),
        "projection.3.connection={ rule = \"fixed_indegree\", k = 5 }".into(),
        format!("projection.0.delay={delays}"),
        format!("projection.1.delay={delays}"),
        "projection.2.synapse={ model = \"exp_conductance\", tau = \"5 ms\", e_rev = -80 }".into(),
        "projection.3.synapse={ model = \"exp_conductance\", tau = \"5 ms\", e_rev = -80 }".into(),
        // Conductances: the inhibitory weights' size, as conductances ≥ 0.
        "projection.2.weight=\"u\"".into(),
        "projection.3.weight=\"u\"".into(),
    ];
    let mb = |b: u64| b as f64 / 1e6;
    let mut buffers = Vec::new();
    for dt in ["0.1 ms", "0.01 ms"] {
        let mut sets = sets.to_vec();
        sets.push(format!("simulation.dt=\"{dt}\""));
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let desc = load("izhikevich_sparse.toml", &sets, "3 ms");
        // Every delay where the whole network's rings take at most RING_BYTES (dt = 0.1
        // ms: 200 slots, 16 MB), else windows of 32 slots (dt = 0.01 ms: 2000 would be 160 MB).
        let whole = 4 * desc.total_neurons() * desc.max_delay_steps() as u64 * 2;
        let expected = if whole <= volley::network::RING_BYTES { desc.max_delay_steps() } else { 32 };
        assert_eq!(desc.ring_slots(), expected, "dt = {dt}");
        let estimate = memory_estimate(&desc, 0..desc.total_neurons(), 1);
        eprintln!("dt = {dt}: delay rings and kind state {:.1} MB, synapses {:.1} MB", mb(estimate.buffers), mb(estimate.synapses));
        assert!(estimate.buffers < 20_000_000, "dt = {dt}: {:.1} MB of delay buffers", mb(estimate.buffers));
        buffers.push(estimate.buffers);
        let (spikes, _) = simulate_with(&desc, 1, desc.ring_slots());
        assert!(spikes.iter().all(|s| (s.step as u64) < desc.steps));
    }
    assert!(buffers[1] <= buffers[0], "the same delays in ms at a tenth of the step: no more ring memory ({buffers:?})");
}

/// Runs `desc` epoch by epoch on `threads` threads, sampling v of every 37th neuron every
/// 3rd step; at each step of `recuts` (on the epoch grid) the shards are cut anew as
/// given. `batched`: the epochs between two of those stops, and between samplings every
/// 7th epoch, are run in one call (`Backend::run_epochs_alone`, as one rank runs them).
/// Returns the spikes, the final voltages and the samples.
fn simulate_recut(
    desc: &Description,
    threads: usize,
    ring_slots: u32,
    defer: usize,
    recuts: &[(u64, Vec<std::ops::Range<u64>>)],
    batched: bool,
) -> (Vec<Spike>, Vec<f32>, Vec<f32>) {
    use volley::backend::Probe;
    use volley::network::Schedule;
    let options = CpuOptions { threads, min_shard_neurons: 64, defer_rings_above: defer };
    let mut backend = CpuBackend::build_with_ring_slots(desc, 0..desc.total_neurons(), options, ring_slots).unwrap();
    let exc = desc.populations[0].size;
    let gids: Vec<u64> = (0..exc).step_by(37).collect();
    let probe =
        backend.add_probe(Probe { gids, variable: 0, schedule: Schedule { start_step: 5, stop_step: desc.steps, interval_steps: 3 } });
    let (mut spikes, mut pending, mut local, mut samples) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let epoch = desc.epoch_steps() as u64;
    let mut step = 0;
    while step < desc.steps {
        if let Some((_, ranges)) = recuts.iter().find(|(at, _)| *at == step) {
            backend.recut(desc, ranges.clone(), step).unwrap();
            assert_eq!(&backend.shard_ranges(), ranges);
        }
        if batched {
            let next_recut = recuts.iter().map(|(at, _)| *at).filter(|&at| at > step).min().unwrap_or(u64::MAX);
            let stop = ((step / (7 * epoch) + 1) * 7 * epoch).min(next_recut).min(desc.steps);
            let epochs: Vec<(u64, u32)> = (step..stop).step_by(epoch as usize).map(|f| (f, epoch.min(stop - f) as u32)).collect();
            backend.run_epochs_alone(&epochs, &mut pending, &mut spikes);
            step = stop;
        } else {
            let n = epoch.min(desc.steps - step) as u32;
            local.clear();
            backend.run_epoch(&pending, step, n, &mut local);
            spikes.extend_from_slice(&local);
            std::mem::swap(&mut pending, &mut local);
            step += n as u64;
        }
        if step % (7 * epoch) == 0 {
            backend.take_samples(probe, &mut samples);
        }
    }
    backend.take_samples(probe, &mut samples);
    (spikes, backend.voltages(), samples)
}

/// Shards built again at other cuts in the middle of a run (a measured re-cut, run
/// after a warm-up) go on exactly as the shards before would have: the same spikes,
/// voltages and samples, bit for bit, with the spikes in flight delivered again into the
/// new rings whole or in windows, deferred or not, into more shards or fewer, twice.
#[test]
fn shards_cut_anew_mid_run_change_no_result() {
    let desc = many_steps_of_delay();
    let n = desc.total_neurons();
    let epoch = desc.epoch_steps() as u64;
    let (reference, v_ref, samples_ref) = simulate_recut(&desc, 1, 200, usize::MAX, &[], false);
    assert!(reference.len() > 1000 && samples_ref.len() > 1000, "{} spikes, {} samples", reference.len(), samples_ref.len());
    let recuts = [
        vec![(30 * epoch, vec![0..64, 64..n])],
        vec![(41 * epoch, vec![0..1216, 1216..n]), (90 * epoch, vec![0..320, 320..640, 640..n])],
        vec![(7 * epoch, std::iter::once(0..n).collect()), (50 * epoch, vec![0..704, 704..n])],
    ];
    let runs = [(2, 200, usize::MAX, false), (2, 7, usize::MAX, true), (1, 200, 0, true), (2, 32, 0, false), (3, 200, usize::MAX, true)];
    for (threads, slots, defer, batched) in runs {
        for cuts in &recuts {
            let (spikes, v, samples) = simulate_recut(&desc, threads, slots, defer, cuts, batched);
            let what = format!("{threads} threads, {slots} slots, deferring above {defer} bytes, batched {batched}, cut at {cuts:?}");
            assert_same(&(spikes, v), (&reference, &v_ref), &what);
            assert!(
                samples.len() == samples_ref.len() && samples.iter().zip(&samples_ref).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{what}: samples"
            );
        }
    }
}

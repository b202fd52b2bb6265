//! `[[stimulus]]`: noise, constant and step currents on populations and subsets.

mod common;

use common::{example, simulate};
use volley::backend::cpu::CpuOptions;
use volley::config::{self, Overrides};

/// `noise_std` on a population is shorthand for a noise stimulus on all of it: the same
/// spikes, bit for bit.
#[test]
fn noise_std_is_a_noise_stimulus_on_the_whole_population() {
    let text = std::fs::read_to_string(example("izhikevich2003.toml")).unwrap();
    assert!(text.contains("noise_std = 5.0") && text.contains("noise_std = 2.0"));
    let as_stimuli = text.replacen("noise_std = 5.0", "", 1).replacen("noise_std = 2.0", "", 1)
        + "\n[[stimulus]]\npopulation = \"exc\"\nkind = \"noise\"\nstd = 5.0\n\
           [[stimulus]]\npopulation = \"inh\"\nkind = \"noise\"\nstd = 2.0\n";
    let short = config::parse(&text, "a.toml", &Overrides { duration: Some("300 ms".into()), ..Overrides::default() }).unwrap();
    let long = config::parse(&as_stimuli, "b.toml", &Overrides { duration: Some("300 ms".into()), ..Overrides::default() }).unwrap();
    assert_eq!(short.stimuli, long.stimuli);
    let (a, _) = simulate(&short, CpuOptions { threads: 1, ..CpuOptions::default() });
    let (b, _) = simulate(&long, CpuOptions { threads: 1, ..CpuOptions::default() });
    assert!(a.len() > 1000);
    assert_eq!(a, b);
}

fn lone_neurons(stimuli: &str) -> String {
    format!(
        "[simulation]\ndt = \"0.5 ms\"\nduration = \"400 ms\"\n\
         [[population]]\nname = \"cells\"\nsize = 200\nmodel = \"izhikevich\"\n\
         [population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n{stimuli}"
    )
}

/// A step current on a range fires exactly those neurons, from its start on; a second
/// step back to 0 silences them; ids and fractions pick their neurons; results do not
/// depend on the number of threads.
#[test]
fn step_currents_reach_the_chosen_neurons_only_and_only_while_on() {
    let text = lone_neurons(
        "[[stimulus]]\npopulation = \"cells\"\nkind = \"step\"\ntimes = [\"0 ms\", \"100 ms\", \"300 ms\"]\namplitudes = [0, 10, 0]\n\
         neurons = { range = [20, 90] }\n\
         [[stimulus]]\npopulation = \"cells\"\nkind = \"constant\"\namplitude = 12\nneurons = { ids = [150, 3, 199] }\n\
         [[population]]\nname = \"others\"\nsize = 200\nmodel = \"izhikevich\"\n\
         [population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n\
         [[stimulus]]\npopulation = \"others\"\nkind = \"noise\"\nstd = 30\nneurons = { fraction = 0.25, seed = 5 }\n",
    );
    let desc = config::parse(&text, "lone.toml", &Overrides::default()).unwrap();
    let (one, _) = simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() });
    let (three, _) = simulate(&desc, CpuOptions { threads: 3, min_shard_neurons: 64, ..CpuOptions::default() });
    assert_eq!(one, three, "the same spikes on 3 shards");
    let dt = 0.5;
    let stepped: Vec<_> = one.iter().filter(|s| (20..90).contains(&s.gid)).collect();
    assert!(!stepped.is_empty());
    let first = stepped.iter().map(|s| s.step as f64 * dt).fold(f64::INFINITY, f64::min);
    let last = stepped.iter().map(|s| s.step as f64 * dt).fold(0.0, f64::max);
    assert!((100.0..130.0).contains(&first), "the step starts at 100 ms: first spike at {first} ms");
    assert!(last < 310.0, "the step ends at 300 ms: last spike at {last} ms");
    let every_stepped = (20..90).all(|g| stepped.iter().any(|s| s.gid == g));
    assert!(every_stepped, "10 pA fires every neuron of the range");
    for g in [3, 150, 199] {
        assert!(one.iter().filter(|s| s.gid == g).count() > 5, "neuron {g} is driven by the constant current");
    }
    let quiet = (0..200).filter(|g| !(20..90).contains(g) && ![3, 150, 199].contains(g));
    assert!(quiet.clone().all(|g| one.iter().all(|s| s.gid != g)), "the other cells get no current");
    // Of the other population, only the noise's quarter fires.
    let noisy: std::collections::BTreeSet<u32> = one.iter().map(|s| s.gid).filter(|&g| g >= 200).collect();
    assert!((25..75).contains(&noisy.len()), "about a quarter of 200 get noise and fire: {}", noisy.len());
}

fn error_of(stimulus: &str) -> String {
    common::check_refuses("stim.toml", &lone_neurons(stimulus))
}

#[test]
fn bad_stimuli_are_refused_with_the_field_and_what_was_expected() {
    let s = |body: &str| format!("[[stimulus]]\npopulation = \"cells\"\n{body}\n");
    assert_eq!(
        error_of("[[stimulus]]\npopulation = \"cell\"\nkind = \"noise\"\nstd = 1\n"),
        "error: stim.toml:14:14: stimulus[0].population: unknown population 'cell' (defined: cells)"
    );
    assert_eq!(
        error_of(&s("kind = \"pulse\"")),
        "error: stim.toml:15:8: stimulus[0].kind: unknown stimulus kind 'pulse' (known: noise, constant, step, poisson, pick, sine)"
    );
    assert_eq!(
        error_of(&s("kind = \"poisson\"\nrate = 10\nweight = 1\nstd = 3")),
        "error: stim.toml:18:7: stimulus[0].std: a poisson stimulus does not use 'std' (its keys: population, kind, neurons, rate, weight, indegree)"
    );
    assert_eq!(
        error_of(&s("kind = \"noise\"\nstd = 1\namplitude = 3")),
        "error: stim.toml:17:13: stimulus[0].amplitude: a noise stimulus does not use 'amplitude' (its keys: population, kind, neurons, std, start, stop, interval)"
    );
    assert_eq!(error_of(&s("kind = \"noise\"\nstd = -1")), "error: stim.toml:16:7: stimulus[0].std: expected a finite number ≥ 0, got -1");
    assert!(error_of(&s("kind = \"constant\"")).ends_with("stimulus[0].amplitude: missing: a constant stimulus needs amplitude"));
    assert_eq!(
        error_of(&s("kind = \"step\"\ntimes = [0, 50]\namplitudes = [1]")),
        "error: stim.toml:17:14: stimulus[0].amplitudes: expected one amplitude for each of the times, at least one: got 2 times and 1 amplitudes"
    );
    assert_eq!(
        error_of(&s("kind = \"step\"\ntimes = [\"50 ms\", \"20 ms\"]\namplitudes = [1, 2]")),
        "error: stim.toml:16:9: stimulus[0].times[1]: expected times in increasing order, got 20 ms after an equal or later time"
    );
    assert_eq!(
        error_of(&s("kind = \"step\"\ntimes = [0.25]\namplitudes = [1]")),
        "error: stim.toml:16:9: stimulus[0].times[0]: expected a time ≥ 0 that is a whole number of steps of dt = 0.5 ms, got 0.25"
    );
    assert_eq!(
        error_of(&s("kind = \"constant\"\namplitude = 1\nneurons = { range = [10, 500] }")),
        "error: stim.toml:17:11: stimulus[0].neurons: expected range = [first, end] with 0 ≤ first < end ≤ 200 (the population's size), got [10, 500]"
    );
    assert_eq!(
        error_of(&s("kind = \"constant\"\namplitude = 1\nneurons = { ids = [4, 9, 4] }")),
        "error: stim.toml:17:11: stimulus[0].neurons: index 4 is listed twice"
    );
    assert_eq!(
        error_of(&s("kind = \"constant\"\namplitude = 1\nneurons = { range = [0, 5], fraction = 0.5 }")),
        "error: stim.toml:17:11: stimulus[0].neurons: expected exactly one of range = [first, end], ids = [...] or fraction = p (with an optional seed)"
    );
    assert_eq!(
        error_of(&s("kind = \"constant\"\namplitude = 1\nneurons = { fraction = 1.5 }")),
        "error: stim.toml:17:11: stimulus[0].neurons: expected a fraction in [0, 1], got 1.5"
    );
    assert!(error_of(&s("kind = \"noise\"\nstd = 1\nfrequency = 3")).ends_with("stimulus[0].frequency: a noise stimulus does not use 'frequency' (its keys: population, kind, neurons, std, start, stop, interval)"));
    assert!(error_of(&s("kind = \"noise\"\nstd = 1\nphasse = 3")).contains("unknown field `phasse`"));
    // Windows, intervals and sines (PyNN's NoisyCurrentSource and ACSource).
    assert!(error_of(&s("kind = \"sine\"\namplitude = 1"))
        .ends_with("stimulus[0].frequency: missing: a sine stimulus needs amplitude and frequency"));
    assert!(error_of(&s("kind = \"sine\"\namplitude = 1\nfrequency = -2"))
        .ends_with("stimulus[0].frequency: expected a finite number ≥ 0, got -2"));
    assert!(error_of(&s("kind = \"sine\"\namplitude = 1\nfrequency = 2\nstart = \"50 ms\"\nstop = \"20 ms\""))
        .ends_with("stimulus[0].stop: expected stop after start (step 100), got step 40"),);
    assert!(error_of(&s("kind = \"noise\"\nstd = 1\ninterval = \"0.75 ms\""))
        .ends_with("stimulus[0].interval: expected a whole number of steps of dt = 0.5 ms, got 0.75 ms"));
    assert!(
        error_of(&s("kind = \"noise\"\nstd = 1\ninterval = 0")).ends_with("stimulus[0].interval: expected a time greater than 0, got 0")
    );
    assert!(error_of(&s("kind = \"sine\"\namplitude = 1\nfrequency = 2\ninterval = 1")).ends_with("stimulus[0].interval: a sine stimulus does not use 'interval' (its keys: population, kind, neurons, amplitude, frequency, phase, offset, start, stop)"));
}

/// A sine stimulus (NEST's ac_generator, PyNN's ACSource) and held, windowed noise (NEST's
/// noise_generator with dt, start and stop) drive their neurons only while on; the same
/// spikes on 1 and 3 threads; the GPU backend names them as CPU-only.
#[test]
fn sine_and_windowed_noise_act_while_on() {
    let text = lone_neurons(
        "[[stimulus]]\npopulation = \"cells\"\nkind = \"sine\"\namplitude = 10\noffset = 5\nfrequency = 20\nphase = 90\n\
         start = \"100 ms\"\nstop = \"300 ms\"\nneurons = { range = [0, 100] }\n\
         [[stimulus]]\npopulation = \"cells\"\nkind = \"noise\"\nstd = 30\ninterval = \"2 ms\"\nstart = \"50 ms\"\nstop = \"150 ms\"\nneurons = { range = [100, 200] }\n",
    );
    let desc = config::parse(&text, "stim.toml", &Overrides::default()).unwrap();
    let (one, _) = simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() });
    let (three, _) = simulate(&desc, CpuOptions { threads: 3, ..CpuOptions::default() });
    assert_eq!(one, three);
    let dt = 0.5;
    let sine: Vec<f64> = one.iter().filter(|s| s.gid < 100).map(|s| s.step as f64 * dt).collect();
    let noisy: Vec<f64> = one.iter().filter(|s| s.gid >= 100).map(|s| s.step as f64 * dt).collect();
    assert!(sine.len() > 100 && sine.iter().all(|&t| (100.0..310.0).contains(&t)), "{:?}", &sine[..sine.len().min(5)]);
    assert!(noisy.len() > 20 && noisy.iter().all(|&t| (50.0..160.0).contains(&t)), "{:?}", &noisy[..noisy.len().min(5)]);
    let why = volley::backend::gpu::unsupported(&desc).expect("refused");
    assert!(why.contains("sine stimuli and noise with a window or an interval run on the CPU backend only"), "{why}");
}

/// A pick stimulus draws `count` neurons per step from the pool of its populations: a
/// current strong enough to fire a neuron in one step makes each draw a spike one step
/// later, spread over both populations in proportion to their sizes, the same on 1 and
/// 3 shards; a list of populations for another kind gives each population the stimulus.
#[test]
fn a_pick_stimulus_fires_count_neurons_per_step_across_its_populations() {
    let others = "[[population]]\nname = \"others\"\nsize = 100\nmodel = \"izhikevich\"\n\
                  [population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n";
    let text = lone_neurons(&format!(
        "{others}[[stimulus]]\npopulation = [\"cells\", \"others\"]\nkind = \"pick\"\ncount = 2\namplitude = 2000\n"
    ));
    let desc = config::parse(&text, "pick.toml", &Overrides::default()).unwrap();
    let (one, _) = simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() });
    let (three, _) = simulate(&desc, CpuOptions { threads: 3, min_shard_neurons: 64, ..CpuOptions::default() });
    assert_eq!(one, three, "the same spikes on 3 shards");
    // 800 steps, two draws each; a neuron drawn twice within its refractory few steps
    // fires once.
    assert!((1400..=1600).contains(&one.len()), "{} spikes from 1600 draws", one.len());
    let in_others = one.iter().filter(|s| s.gid >= 200).count() as f64 / one.len() as f64;
    assert!((0.27..0.40).contains(&in_others), "a third of the pool is 'others': {in_others}");
    let per_step = one.iter().fold(std::collections::BTreeMap::<u32, u32>::new(), |mut m, s| {
        *m.entry(s.step).or_default() += 1;
        m
    });
    assert!(per_step.values().all(|&n| n <= 2), "at most two picks fire per step");

    let listed = lone_neurons(&format!("{others}[[stimulus]]\npopulation = [\"cells\", \"others\"]\nkind = \"noise\"\nstd = 3\n"));
    let separate = lone_neurons(&format!(
        "{others}[[stimulus]]\npopulation = \"cells\"\nkind = \"noise\"\nstd = 3\n\
         [[stimulus]]\npopulation = \"others\"\nkind = \"noise\"\nstd = 3\n"
    ));
    let parse = |t: &str| config::parse(t, "a.toml", &Overrides::default()).unwrap().stimuli;
    assert_eq!(parse(&listed), parse(&separate));
}

#[test]
fn bad_pick_stimuli_and_population_lists_are_refused() {
    let s = |body: &str| format!("[[stimulus]]\npopulation = [\"cells\"]\n{body}\n");
    assert_eq!(
        error_of(&s("kind = \"pick\"\namplitude = 20\ncount = 201")),
        "error: stim.toml:17:9: stimulus[0].count: expected a number of neurons drawn per step from 1 to 200 (the pool's size), got 201"
    );
    assert_eq!(
        error_of(&s("kind = \"pick\"\namplitude = 20\nneurons = { range = [0, 5] }")),
        "error: stim.toml:17:11: stimulus[0].neurons: a pick stimulus draws from whole populations: list them in population = [...] instead of choosing neurons"
    );
    assert_eq!(
        error_of(&s("kind = \"pick\"\ncount = 1")),
        "error: stim.toml:13:1: stimulus[0].amplitude: missing: a pick stimulus needs amplitude"
    );
    assert_eq!(
        error_of("[[stimulus]]\npopulation = [\"cells\", \"cells\"]\nkind = \"noise\"\nstd = 1\n"),
        "error: stim.toml:14:14: stimulus[0].population: population 'cells' is listed twice"
    );
    assert_eq!(
        error_of("[[stimulus]]\npopulation = []\nkind = \"noise\"\nstd = 1\n"),
        "error: stim.toml:14:14: stimulus[0].population: expected a population's name or a list of at least one"
    );
    assert_eq!(
        error_of(&s("kind = \"noise\"\nstd = 1\ncount = 3")),
        "error: stim.toml:17:9: stimulus[0].count: a noise stimulus does not use 'count' (its keys: population, kind, neurons, std, start, stop, interval)"
    );
}

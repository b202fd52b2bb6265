//! Hodgkin–Huxley populations: accuracy of exponential Euler with tables against RK4 on
//! the exact functions, the classic squid axon's firing, determinism, memory, errors.

mod common;

use common::{assert_ok, example, simulate, stderr, stdout, volley};
use volley::backend::cpu::CpuOptions;
use volley::config::{self, Overrides};
use volley::network::Description;
use volley::spike::Spike;

fn load(file: &str, sets: &[&str]) -> Description {
    let sets = sets.iter().map(|s| s.to_string()).collect();
    config::load(&example(file), &Overrides { sets, ..Overrides::default() }).unwrap()
}

/// Spike times in ms of neuron `gid`.
fn times(spikes: &[Spike], gid: u32, dt: f64) -> Vec<f64> {
    spikes.iter().filter(|s| s.gid == gid).map(|s| (s.step as f64 + 1.0) * dt).collect()
}

/// The accuracy target: 20 neurons of the five-current model (initial v = −80·r),
/// 1 s, default tables and exponential Euler at dt = 0.01 ms, against RK4 on the exact
/// functions in f64 at dt = 0.001 ms: firing rate within 1 %, every neuron's first ten
/// spike times within 0.1 ms.
#[test]
fn five_current_model_with_tables_matches_rk4_on_the_exact_functions() {
    let fast = load("hh_five_current.toml", &["population.cells.size=20"]);
    let reference =
        load("hh_five_current.toml", &["population.cells.size=20", "population.cells.integrator=\"rk4\"", "simulation.dt=\"0.001 ms\""]);
    let options = CpuOptions { threads: 1, ..CpuOptions::default() };
    let (a, _) = simulate(&fast, options);
    let (b, _) = simulate(&reference, options);
    let rate_error = (a.len() as f64 - b.len() as f64).abs() / b.len() as f64;
    eprintln!("spikes: exponential Euler {} , RK4 {} ({:.3} % apart)", a.len(), b.len(), 100.0 * rate_error);
    assert!(b.len() > 20 * 20, "the step current makes every neuron fire repetitively: {}", b.len());
    assert!(rate_error < 0.01, "rates within 1 %: {} against {}", a.len(), b.len());
    let mut worst: f64 = 0.0;
    for gid in 0..20 {
        let (ta, tb) = (times(&a, gid, 0.01), times(&b, gid, 0.001));
        assert!(ta.len() >= 10 && tb.len() >= 10, "neuron {gid} fires ten times");
        for (x, y) in ta.iter().zip(&tb).take(10) {
            worst = worst.max((x - y).abs());
        }
    }
    eprintln!("largest difference of the first ten spike times: {worst:.4} ms");
    assert!(worst <= 0.1, "first ten spike times within 0.1 ms: {worst} ms");
}

/// Hodgkin & Huxley's axon: silent after its first transient under 2 µA/cm², repetitive
/// firing under 10 µA/cm²; the rheobase of repetitive firing for a step, found by
/// bisection, lies where the literature puts it (≈ 6.2 µA/cm²).
#[test]
fn the_classic_axon_fires_repetitively_above_its_rheobase_only() {
    let spikes_at = |current: f64| -> Vec<f64> {
        let text = std::fs::read_to_string(example("hh_classic.toml")).unwrap();
        let head = &text[..text.find("# Axon k").unwrap()];
        let one = format!(
            "{}\n[[stimulus]]\npopulation = \"axon\"\nkind = \"step\"\ntimes = [\"0 ms\", \"10 ms\"]\namplitudes = [0, {current}]\n",
            head.replace("size = 10", "size = 1")
        );
        let desc = config::parse(&one, "one.toml", &Overrides::default()).unwrap();
        let (spikes, _) = simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() });
        times(&spikes, 0, desc.dt_ms)
    };
    let weak = spikes_at(2.0);
    assert!(weak.iter().all(|&t| t < 30.0), "at 2 µA/cm² at most the onset transient fires: {weak:?}");
    let strong = spikes_at(10.0);
    assert!(strong.len() >= 10 && *strong.last().unwrap() > 180.0, "repetitive firing at 10 µA/cm²: {strong:?}");
    // Repetitive: still firing in the last 50 ms of 200.
    let repetitive = |i: f64| spikes_at(i).iter().any(|&t| t > 150.0);
    let (mut lo, mut hi) = (2.0, 10.0);
    for _ in 0..10 {
        let mid = 0.5 * (lo + hi);
        if repetitive(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    eprintln!("rheobase of repetitive firing for a step current: {lo:.3}–{hi:.3} µA/cm²");
    assert!((5.5..7.0).contains(&hi), "rheobase {hi} µA/cm²");
}

#[test]
fn hh_results_do_not_depend_on_the_split_and_state_is_under_100_bytes_per_neuron() {
    let desc = load("hh_five_current.toml", &["population.cells.size=300", "simulation.duration=\"120 ms\""]);
    let (one, _) = simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() });
    let (three, _) = simulate(&desc, CpuOptions { threads: 3, min_shard_neurons: 64, ..CpuOptions::default() });
    assert!(one.len() > 100);
    assert_eq!(one, three);
    let bytes = desc.populations[0].model.bytes_per_neuron();
    assert!(bytes < 100, "{bytes} bytes of state per neuron");
}

fn hh_error(body: &str) -> String {
    hh_error_with("", body)
}

/// `keys` go into the population's own table, `body` after its parameters.
fn hh_error_with(keys: &str, body: &str) -> String {
    let text = format!(
        "[simulation]\ndt = \"0.01 ms\"\nduration = \"10 ms\"\n[[population]]\nname = \"c\"\nsize = 2\nmodel = \"hh\"\n{keys}\
         [population.parameters]\ncm = 1\ng_l = 0.3\ne_l = -54\n{body}"
    );
    common::check_refuses("hh.toml", &text)
}

#[test]
fn bad_hh_populations_are_refused_with_the_field_and_what_was_expected() {
    let channel = |gate: &str| format!("[[population.channel]]\nname = \"na\"\ng = 120\ne_rev = 50\ngates = [ {gate} ]\n");
    assert_eq!(
        hh_error("v_rest = 3\n"),
        "error: hh.toml:12:10: population[0].parameters.v_rest: unknown name 'v_rest' for the hh model (expected one of: cm, g_l, e_l, threshold)"
    );
    assert!(hh_error(&channel("{ name = \"m\", power = 3, inf = \"1/(1+exp(-v))\" }"))
        .ends_with("population[0].channel[0].gates[0]: gate 'm': expected either inf and tau, or alpha and beta (expressions of v)"));
    assert!(hh_error(&channel("{ name = \"m\", power = 0, inf = \"0.5\", tau = \"1\" }"))
        .ends_with("population[0].channel[0].gates[0]: power: expected a whole number from 1 to 8, got 0"));
    assert!(hh_error(&channel("{ name = \"m\", inf = \"1/(1+exp(-w))\", tau = \"1\" }"))
        .ends_with("population[0].channel[0].gates[0]: inf: in expression '1/(1+exp(-w))': unknown name 'w' (known here: v)"));
    assert!(hh_error(&channel("{ name = \"m\", inf = \"0.5\", tau = \"v\" }")).ends_with(
        "population[0].channel[0].gates[0]: gate 'm' of channel 'na' at v = -94.000 mV: expected x_inf in [0, 1] and tau > 0, got x_inf = 0.5, tau = -94"
    ));
    assert!(hh_error(&channel("{ name = \"m\", inf = \"0.5\", tau = \"1\", initial = 2 }"))
        .ends_with("population[0].channel[0].gates[0]: initial: expected a number in [0, 1] or \"steady\", got 2"));
    assert!(hh_error_with("integrator = \"euler\"\n", "")
        .contains("population[0].integrator: unknown integrator 'euler' (known: exponential_euler, rk4)"));
    assert!(hh_error_with("table = { v_min = 10, v_max = -10 }\n", "").contains("population[0].table: expected v_min < v_max"));
    // A table too fine to hold: refused before anything is allocated.
    let fine = hh_error_with("table = { dv = 1e-7 }\n", &channel("{ name = \"m\", inf = \"0.5\", tau = \"1\" }"));
    assert!(
        fine.contains(
            "population[0].table: expected v_min < v_max and 0 < dv with at most 4194304 points for 1 gate(s) (a table of at most 64 MB)"
        ),
        "{fine}"
    );
    // Keys of the hh model on another model are errors, not ignored.
    let dir = tempfile::tempdir().unwrap();
    let path = common::variant(dir.path(), "izh.toml", "model = \"izhikevich\"", "model = \"izhikevich\"\nintegrator = \"rk4\"");
    let out = volley(dir.path(), &["check", &path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("population[0].integrator: the izhikevich model has no 'integrator' (only model = \"hh\" does)"),
        "{}",
        stderr(&out)
    );
}

/// v outside the rate tables takes their edge values, is counted, and the run ends with
/// a warning naming the population and what to widen.
#[test]
fn leaving_the_tables_is_counted_and_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("hh_classic.toml");
    let out = dir.path().join("out");
    let narrow = ["run", model.to_str().unwrap(), "-q", "--out", out.to_str().unwrap(), "--duration", "50 ms"];
    let run = volley(dir.path(), &[&narrow[..], &["--set", "population.axon.table={ v_min = -80, v_max = -30 }"]].concat());
    common::assert_ok(&run);
    let err = stderr(&run);
    assert!(
        err.contains("warning: population 'axon': v left the rate tables in ")
            && err.contains("widen population.axon.table (v_min, v_max)"),
        "{err}"
    );
    let run = volley(dir.path(), &narrow);
    common::assert_ok(&run);
    assert!(!stderr(&run).contains("warning"), "the default tables hold every v: {}", stderr(&run));
}

/// An unconnected population runs epochs of 1 ms (100 steps at dt = 0.01 ms), cut short
/// where a run's chunk ends: the spikes are those of one-step epochs, bit for bit.
#[test]
fn epochs_of_any_length_give_the_same_spikes() {
    use volley::backend::Backend;
    let desc = load("hh_five_current.toml", &["population.cells.size=64", "simulation.duration=\"80 ms\""]);
    assert_eq!(desc.epoch_steps(), 100);
    let with_epochs = |epoch: u32, chunk: u64| {
        let mut backend = volley::backend::cpu::CpuBackend::new(&desc, 0..64, CpuOptions { threads: 1, ..CpuOptions::default() });
        let mut recorder = volley::record::MemoryRecorder::default();
        let mut comm = volley::comm::LocalComm;
        let mut sim = volley::engine::Simulation::new(&mut backend as &mut dyn Backend, &mut comm, epoch, desc.steps);
        while !sim.finished() {
            sim.advance(chunk, &mut recorder).unwrap();
        }
        recorder.spikes
    };
    let one = with_epochs(1, 1000);
    assert!(one.len() > 30);
    assert_eq!(with_epochs(100, 1000), one);
    assert_eq!(with_epochs(100, 333), one, "epochs cut at chunks of 333 steps");
}

/// A membrane without leak or channels integrates its current (g_total = 0, where
/// v_inf = g_e / g_total is undefined): dv/dt = I/cm, with either integrator.
#[test]
fn a_membrane_without_conductance_integrates_its_current() {
    use volley::backend::Backend;
    for integrator in ["exponential_euler", "rk4"] {
        let text = format!(
            "[simulation]\ndt = \"0.01 ms\"\nduration = \"10 ms\"\n[[population]]\nname = \"c\"\nsize = 3\nmodel = \"hh\"\n\
             integrator = \"{integrator}\"\n[population.parameters]\ncm = 2\ng_l = 0\ne_l = -65\n\
             [[stimulus]]\npopulation = \"c\"\nkind = \"constant\"\namplitude = 1\n"
        );
        let desc = config::parse(&text, "passive.toml", &Overrides::default()).unwrap();
        let (spikes, backend) = simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() });
        assert!(spikes.is_empty());
        for v in backend.voltages() {
            assert!((v - (-65.0 + 1.0 * 10.0 / 2.0)).abs() < 1e-3, "{integrator}: v = {v}, expected −60 mV");
        }
    }
}

/// `check --describe` prints each population's model as it declares itself: the five-
/// current model's membrane parameters, v and its distinct gate states (the m gates of
/// the two sodium currents are one), its tables, and its bytes per neuron.
#[test]
fn check_describes_each_model_from_its_declaration() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("hh_five_current.toml");
    let out = volley(dir.path(), &["check", model.to_str().unwrap(), "--describe"]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("population cells               50000 neurons  (ids 0..50000)  hh, 37 bytes of state per neuron"), "{text}");
    assert!(text.contains("    parameters: cm [pF] = 4, per population; g_l [nS] = 0.39, per population; e_l [mV] = -65, per population; threshold [mV] = -20, per population"), "{text}");
    assert!(
        text.contains("    state: v [mV] = -80*r (default -65), naf.m (= nas.m), naf.h, nas.h, kv.m, ka.m, ka.h, ks.m, ks.h"),
        "{text}"
    );
    assert!(text.contains("13 distinct columns at 4381 points from -121 to 98 mV"), "{text}");
    let model = example("izhikevich2003.toml");
    let text = stdout(&volley(dir.path(), &["check", model.to_str().unwrap(), "--describe"]));
    assert!(text.contains("    state: v [mV] = -65, u [mV/ms] = b*v"), "{text}");
    assert!(text.contains("reset: v ← c, u ← u + d"), "{text}");
}

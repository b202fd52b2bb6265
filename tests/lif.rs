//! Leaky integrate-and-fire neurons (NEST's iaf_psc_exp) and Poisson stimuli from the
//! model file: their errors, a population driven by Poisson input against the theory of
//! its mean input, and the same spikes whatever the threads.

mod common;

use common::*;
use volley::backend::cpu::CpuOptions;

/// A population of the microcircuit's L4 excitatory neurons (its parameters) with the
/// published external drive: 2100 Poisson sources at 8 Hz of 87.81 pA, dt = 0.1 ms.
fn l4e(size: u64, extra: &str) -> String {
    format!(
        "[simulation]\ndt = \"0.1 ms\"\nduration = \"{{duration}}\"\nseed = 3\n\
         [[population]]\nname = \"l4e\"\nsize = {size}\nmodel = \"iaf_psc_exp\"\n\
         [population.parameters]\ntau_m = 10\nc_m = 250\ne_l = -65\nv_th = -50\nv_reset = -65\nt_ref = 2\ntau_syn_ex = 0.5\ntau_syn_in = 0.5\n\
         [population.initial]\nv = \"-63.33 + 4.74*(r - 0.5)\"\n\
         [[stimulus]]\npopulation = \"l4e\"\nkind = \"poisson\"\nrate = 8.0\nindegree = 2100\nweight = 87.81\n{extra}"
    )
}

#[test]
fn model_file_errors_name_the_field_and_what_was_expected() {
    let base = l4e(10, "").replace("{duration}", "10 ms");
    for (from, to, expected) in [
        ("v_reset = -65", "v_reset = -50", "population[0].parameters.v_reset: expected v_reset below v_th (-50 mV), got -50 mV"),
        ("c_m = 250", "c_m = 0", "population[0].parameters.c_m: expected a capacitance > 0, got 0"),
        ("tau_syn_ex = 0.5", "tau_syn_ex = \"0.5 + r\"", "population[0].parameters.tau_syn_ex: expected a constant (one value for the whole population)"),
        (
            "tau_syn_ex = 0.5",
            "tau_syn_ex = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6]",
            "population[0].parameters.tau_syn_ex: expected one value for the whole population (the iaf_psc_exp model holds one tau_syn_ex), got a list of 10",
        ),
        ("tau_m = 10", "tau_m = [10, 11]", "population[0].parameters.tau_m: expected one value per neuron (10), got a list of 2"),
        ("c_m = 250", "c_m = [250, 250, 250, 0, 250, 250, 250, 250, 250, 250]", "population[0].parameters.c_m[3]: expected a capacitance > 0, got 0"),
        ("c_m = 250", "c_m = [250, 250, 250, 250, 250, 250, 250, 250, 250, 1e300]", "population[0].parameters.c_m[9]: expected a finite number, got 1e300"),
        ("c_m = 250", "c_m = [250, \"x\"]", "population[0].parameters.c_m"),
        ("weight = 87.81", "", "stimulus[0].weight: missing: a poisson stimulus needs rate and weight"),
        ("indegree = 2100", "indegree = 0", "stimulus[0].indegree: expected a number of sources ≥ 1, got 0"),
        (
            "indegree = 2100",
            "indegree = 2000000",
            "stimulus[0].rate: rate × indegree × dt = 1600 events expected per neuron and step, more than the 100 a Poisson stimulus draws",
        ),
        ("rate = 8.0", "rate = -8.0", "stimulus[0].rate: expected a finite number ≥ 0, got -8"),
        (
            "kind = \"poisson\"",
            "kind = \"poison\"",
            "stimulus[0].kind: unknown stimulus kind 'poison' (known: noise, constant, step, poisson, pick, sine)",
        ),
    ] {
        assert!(base.contains(from), "{from}");
        let err = check_refuses("lif.toml", &base.replacen(from, to, 1));
        assert!(err.contains(expected), "{to}: {err}");
        assert!(err.contains("lif.toml"), "names the file: {err}");
    }
    let projection =
        "[[projection]]\nsource = \"l4e\"\ntarget = \"l4e\"\nconnection = { rule = \"fixed_indegree\", k = 5 }\nweight = \"87.8\"\n";
    let exp = format!("{base}{projection}synapse = {{ model = \"exp_current\", tau = \"2 ms\" }}\n");
    let err = check_refuses("lif.toml", &exp);
    assert!(
        err.contains(
            "projection[0].synapse: population 'l4e' (iaf_psc_exp) takes the weights arriving itself (each a jump of its synaptic current, or of v): leave out 'synapse'"
        ),
        "{err}"
    );

    // The microcircuit's redrawn weights and normal delays, and their errors.
    let normal = |weight: &str, delay: &str| {
        format!("{base}{}delay = {delay}\n", projection.replace("weight = \"87.8\"", &format!("weight = {weight}")))
    };
    let good = normal(
        "{ distribution = \"normal\", mean = 87.8, std = 8.78, min = 0.0, redraw = true }",
        "{ distribution = \"normal\", mean = \"1.5 ms\", std = \"0.75 ms\" }",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.toml"), &good).unwrap();
    let out = volley(dir.path(), &["check", "good.toml"]);
    assert_ok(&out);
    for (weight, delay, expected) in [
        (
            "{ distribution = \"normal\", mean = 87.8, std = 8.78, min = 200.0, redraw = true }",
            "\"1.5 ms\"",
            "projection[0].weight: a normal weight redrawn into [200, inf] falls there with probability",
        ),
        ("{ distribution = \"normal\", mean = 87.8, std = 8.78, redraw = 1 }", "\"1.5 ms\"", "projection[0].weight: redraw: expected true or false, got 1"),
        ("87.8", "{ distribution = \"normal\", mean = \"1.5 ms\", sd = \"0.75 ms\" }", "projection[0].delay: unknown key 'sd' for a normal delay (expected: mean, std, min, max)"),
        ("87.8", "{ distribution = \"normal\", mean = \"1.5 ms\" }", "projection[0].delay: a normal delay needs mean and std"),
        (
            "87.8",
            "{ distribution = \"normal\", mean = \"1.5 ms\", std = \"1000 ms\" }",
            "projection[0].delay: expected delays of at most 65535 steps, got max = 10001.5 ms (100015 steps; max defaults to mean + 10 std)",
        ),
        (
            "87.8",
            "{ distribution = \"normal\", mean = \"1.5 ms\", std = \"0.1 ms\", min = \"5 ms\" }",
            "projection[0].delay: expected std ≥ 0 and min ≤ max, got std = 0.1 ms, min = 5 ms, max = 2.5 ms",
        ),
        (
            "87.8",
            "{ distribution = \"normal\", mean = \"1.5 ms\", std = \"0.1 ms\", min = \"5 ms\", max = \"6 ms\" }",
            "projection[0].delay: a normal delay redrawn into [5, 6] ms falls there with probability",
        ),
    ] {
        let err = check_refuses("lif.toml", &normal(weight, delay));
        assert!(err.contains(expected), "{weight} {delay}: {err}");
    }
}

/// Without recurrence, Poisson input of K sources at ν, weight J, filtered by τ_syn, is a
/// current of mean J·K·ν·τ_syn (737.5 pA for L4e: the published DC equivalent) and the
/// membrane's free mean v − E_L = R·that = 29.5 mV. With the threshold out of reach the
/// population's mean v over the last 100 ms of 200 ms is that, within the fluctuations'
/// error over 400 neurons × 1000 samples; and the same neurons at threshold −50 mV fire
/// (suprathreshold drive) at the rate of that mean current within 5%, each one
/// regularly (CV of ISIs below 0.5), never within t_ref.
#[test]
fn poisson_input_drives_the_membrane_to_its_mean_and_fires_it() {
    let dir = tempfile::tempdir().unwrap();
    let report = "[[output.report]]\nfile = \"v.h5\"\nvariable = \"v\"\npopulations = [\"l4e\"]\ninterval = \"0.1 ms\"\n";
    let text = l4e(400, report).replace("{duration}", "200 ms").replace("v_th = -50", "v_th = 1000");
    let model = dir.path().join("sub.toml");
    std::fs::write(&model, text).unwrap();
    let out = volley(dir.path(), &["run", model.to_str().unwrap(), "-q", "--out", "sub"]);
    assert_ok(&out);
    let v = hdf5::File::open(dir.path().join("sub/v.h5")).unwrap().dataset("report/l4e/data").unwrap().read_raw::<f32>().unwrap();
    assert_eq!(v.len(), 2000 * 400);
    let late: Vec<f32> = v.chunks(400).skip(1000).flatten().copied().collect();
    let mean = late.iter().map(|&x| x as f64).sum::<f64>() / late.len() as f64 + 65.0;
    let expected = 87.81 * 2100.0 * 8.0 * 0.5e-3 * 10.0 / 250.0;
    assert!((mean - expected).abs() < 0.3, "mean v − E_L {mean} mV, expected {expected} mV");

    let text = l4e(400, "").replace("{duration}", "500 ms");
    let model = dir.path().join("supra.toml");
    std::fs::write(&model, text).unwrap();
    let out = volley(dir.path(), &["run", model.to_str().unwrap(), "-q", "--out", "supra"]);
    assert_ok(&out);
    let spikes = volley::record::sonata::read_spike_file(&dir.path().join("supra/spikes.h5")).unwrap();
    let p = &spikes.populations[0];
    let rate = p.node_ids.len() as f64 / 400.0 / 0.5;
    // The DC equivalent fires every t_ref + τ_m·ln(RI/(RI − θ)) (on the 0.1 ms grid):
    // 2 ms + 7.2 ms, 108.7 Hz; the fluctuations move it by little this far above threshold.
    let dc = 1000.0 / (2.0 + (10.0 * (expected / (expected - 15.0)).ln() / 0.1).ceil() * 0.1);
    assert!((rate / dc - 1.0).abs() < 0.05, "{rate} Hz, the DC equivalent {dc} Hz");
    let mut cvs = Vec::new();
    for id in 0..400u64 {
        let t: Vec<f64> = p.timestamps_ms.iter().zip(&p.node_ids).filter(|(_, &n)| n == id).map(|(&t, _)| t).collect();
        let isi: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        if isi.len() > 3 {
            let m = isi.iter().sum::<f64>() / isi.len() as f64;
            let sd = (isi.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / isi.len() as f64).sqrt();
            cvs.push(sd / m);
            assert!(isi.iter().all(|&x| x >= 2.0), "t_ref holds: {isi:?}");
        }
    }
    let cv = cvs.iter().sum::<f64>() / cvs.len() as f64;
    assert!(cvs.len() > 350 && cv < 0.5 && cv > 0.01, "{} neurons, mean CV {cv}", cvs.len());
}

/// The Poisson counts are keyed by (seed, stream, neuron, step): the same spikes on 1 and
/// 2 threads, and for a population split into shards.
#[test]
fn poisson_driven_lif_neurons_spike_alike_whatever_the_threads() {
    let text = l4e(3000, "").replace("{duration}", "100 ms");
    let desc = volley::config::parse(&text, "lif.toml", &Default::default()).unwrap();
    let (one, _) = simulate(&desc, CpuOptions { threads: 1, ..Default::default() });
    let (two, _) = simulate(&desc, CpuOptions { threads: 2, ..Default::default() });
    assert!(one.len() > 3000, "{} spikes", one.len());
    assert!(one == two, "{} and {} spikes", one.len(), two.len());
}

/// Parameters that differ between neurons (listed one per neuron, or expressions of r):
/// each neuron has its own propagators, and the spikes are the same on 1 and 3 threads;
/// a neuron's values that cannot be simulated stop the run before it starts, naming the
/// neuron; the GPU backend refuses them by name.
#[test]
fn parameters_of_each_neuron_spike_alike_whatever_the_threads() {
    let n = 300;
    let tau_m: Vec<String> = (0..n).map(|k| format!("{}", 8.0 + 4.0 * k as f64 / n as f64)).collect();
    let text = l4e(n, "")
        .replace("{duration}", "100 ms")
        .replace("tau_m = 10\n", &format!("tau_m = [{}]\n", tau_m.join(", ")))
        .replace("v_th = -50\n", "v_th = \"-52 + 4*r\"\n");
    let desc = volley::config::parse(&text, "lif.toml", &Default::default()).unwrap();
    let (one, _) = simulate(&desc, CpuOptions { threads: 1, ..Default::default() });
    let (three, _) = simulate(&desc, CpuOptions { threads: 3, ..Default::default() });
    assert!(one.len() > 300, "{} spikes", one.len());
    assert!(one == three, "{} and {} spikes", one.len(), three.len());
    // Faster membranes fire more: the first third of the neurons (tau_m near 8 ms)
    // against the last (near 12 ms), under the same drive.
    let count = |ids: std::ops::Range<u32>| one.iter().filter(|s| ids.contains(&s.gid)).count();
    assert!(count(0..100) < count(200..300), "{} spikes of tau_m ≈ 8 ms, {} of ≈ 12 ms", count(0..100), count(200..300));

    let dir = tempfile::tempdir().unwrap();
    let bad = text.replace("v_reset = -65\n", "v_reset = \"-65 + 20*r\"\n");
    std::fs::write(dir.path().join("bad.toml"), &bad).unwrap();
    let out = volley(dir.path(), &["run", "bad.toml", "-q"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("population[0].parameters.v_reset: evaluates to -46.4") && err.contains("): expected v_reset below v_th (-48.28"),
        "{err}"
    );
    assert!(!dir.path().join("out").join("spikes.h5").exists(), "no output from a run that did not start");
    std::fs::write(dir.path().join("good.toml"), &text).unwrap();
    let out = volley(dir.path(), &["run", "good.toml", "-q", "--backend", "gpu"]);
    assert!(stderr(&out).contains("iaf_psc_exp with parameters differing between neurons"), "{}", stderr(&out));
}

/// iaf_psc_exp with tau_syn_in ≠ tau_syn_ex, as NEST's: negative weights decay with
/// tau_syn_in in a current of their own (the synaptic kind of the projections whose
/// weights are all negative), positive ones with tau_syn_ex. 400 neurons driven by
/// Poisson input, with recurrent excitation and inhibition (delays spread so that
/// deliveries cross epochs): the same spikes on 1 and 3 threads; a longer tau_syn_in
/// inhibits more (the same total charge per spike, w·tau_syn_in, is larger); a
/// projection of weights of both signs is refused, naming what to do.
#[test]
fn inhibition_with_its_own_time_constant_as_nest_routes_it_by_sign() {
    inhibition_of_its_own_time_constant("iaf_psc_exp", "exp_current");
}

/// The same for iaf_psc_alpha (NEST's routes weights by sign into two alpha currents):
/// its inhibitory current an alpha_current kind.
#[test]
fn alpha_inhibition_with_its_own_time_constant_as_nest_routes_it_by_sign() {
    inhibition_of_its_own_time_constant("iaf_psc_alpha", "alpha_current");
}

fn inhibition_of_its_own_time_constant(model: &str, kind: &str) {
    let network = |tau_in: &str, inhibitory_weight: &str| {
        let base = l4e(400, "").replace("{duration}", "200 ms").replace("tau_syn_in = 0.5", &format!("tau_syn_in = {tau_in}"));
        let base = base.replace("model = \"iaf_psc_exp\"", &format!("model = \"{model}\""));
        format!(
            "{base}[[projection]]\nsource = \"l4e\"\ntarget = \"l4e\"\nconnection = {{ rule = \"fixed_indegree\", k = 20 }}\nweight = 40.0\n\
             delay = {{ distribution = \"uniform\", low = \"0.5 ms\", high = \"3 ms\" }}\n\
             [[projection]]\nsource = \"l4e\"\ntarget = \"l4e\"\nconnection = {{ rule = \"fixed_indegree\", k = 20 }}\nweight = {inhibitory_weight}\ndelay = \"1 ms\"\n"
        )
    };
    let parse = |text: &str| volley::config::parse(text, "lif.toml", &Default::default()).unwrap();
    let desc = parse(&network("2.0", "-160.0"));
    assert_eq!(desc.synapse_kinds().len(), 2, "delta (the input current) and tau_syn_in's current");
    assert!(volley::synapse::describe_kind(desc.synapse_kinds()[1]).starts_with(kind));
    let (one, _) = simulate(&desc, CpuOptions { threads: 1, ..Default::default() });
    let (three, _) = simulate(&desc, CpuOptions { threads: 3, ..Default::default() });
    assert!(one.len() > 1000, "{} spikes", one.len());
    assert!(one == three, "{} and {} spikes", one.len(), three.len());
    let (longer, _) = simulate(&parse(&network("4.0", "-160.0")), CpuOptions { threads: 1, ..Default::default() });
    assert!(longer.len() < one.len() * 9 / 10, "{} spikes with tau_syn_in 4 ms, {} with 2 ms", longer.len(), one.len());
    let err = check_refuses("lif.toml", &network("2.0", "{ distribution = \"uniform\", low = -160.0, high = 10.0 }"));
    assert!(
        err.ends_with(
            &format!(
                "projection[1].weight: ranges over [-160, 10]: population 'l4e' ({model}) filters negative weights with tau_syn_in (2 ms) and positive ones \
                 with tau_syn_ex, as NEST routes them by sign; volley routes a projection's synapses together: expected weights of one sign (split the projection \
                 into its excitatory and inhibitory parts)"
            )
        ),
        "{err}"
    );
    // Named explicitly (as pyNN.volley names an inhibitory projection), the inhibitory
    // current takes weights ≤ 0 only; a poisson stimulus of negative weights cannot reach it.
    let named = network("2.0", "40.0").replace(
        "weight = 40.0\ndelay = \"1 ms\"\n",
        &format!("weight = 40.0\ndelay = \"1 ms\"\nsynapse = {{ model = \"{kind}\", tau = \"2 ms\" }}\n"),
    );
    let err = check_refuses("lif.toml", &named);
    assert!(
        err.ends_with(&format!(
            "projection[1].synapse: population 'l4e' ({model}) takes negative weights in this current (its tau_syn_in): expected weights ≤ 0, got weights up to 40"
        )),
        "{err}"
    );
    let poisson = network("2.0", "-160.0").replace("weight = 87.81", "weight = -87.81");
    let err = check_refuses("lif.toml", &poisson);
    assert!(
        err.contains(&format!(
            "stimulus[0].weight: population 'l4e' ({model}) filters negative weights with tau_syn_in, a current of their own that a poisson stimulus does not reach"
        )),
        "{err}"
    );
    // The GPU backend says what it cannot run yet.
    let why = volley::backend::gpu::unsupported(&desc).expect("refused");
    assert!(why.contains(&format!("{model} with tau_syn_in ≠ tau_syn_ex")), "{why}");
}

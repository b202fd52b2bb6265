//! Each rule against its kernel written out by hand: one presynaptic and one
//! postsynaptic spike at offsets of −40…+40 ms, for delays of 1 and 20 ms, with the
//! events in the order a step takes them (`connectivity/plastic.rs`).

use super::*;

/// A synapse of weight `w` whose source spikes in step `pre` with a delay of `delay`
/// steps, and whose target spikes in step `post`: the weight and the rule's state
/// after both, the events taken in step order (arrivals, then spikes, in a step).
fn pair(rule: &PlasticityRule, w: f32, delay: u64, pre: u64, post: u64) -> (f32, f32) {
    let (mut w, mut extra) = (w, 0f32);
    let (mut x, mut y) = (PreTrace::default(), PostTrace::default());
    let arrival = pre + delay;
    let arrive = |w: &mut f32, extra: &mut f32, x: &mut PreTrace, y: &PostTrace| {
        rule.on_arrival(w, extra, y.at(arrival, rule.post_decay(), rule.post_counts_simultaneous()));
        x.arrive(arrival, rule.pre_decay());
    };
    let spike = |w: &mut f32, extra: &mut f32, x: &PreTrace, y: &mut PostTrace| {
        rule.on_post(w, extra, x.at(rule.pre_read_step(post), rule.pre_decay()));
        y.spike(post, rule.post_decay());
    };
    if arrival <= post {
        arrive(&mut w, &mut extra, &mut x, &y);
        spike(&mut w, &mut extra, &x, &mut y);
    } else {
        spike(&mut w, &mut extra, &x, &mut y);
        arrive(&mut w, &mut extra, &mut x, &y);
    }
    (w, extra)
}

fn stdp(values: [f64; 7], dt: f64) -> PlasticityRule {
    PlasticityRule::new("stdp", &values, dt).unwrap()
}

/// The offset of the postsynaptic spike's stamp from the arrival, in steps, for every
/// (pre, post) pair with it in −span..=span, given the delay.
fn offsets(delay: u64, span: i64) -> impl Iterator<Item = (u64, u64, i64)> {
    let base = 1000u64;
    (-span..=span).map(move |k| {
        // Arrival in step base (time base·dt); the post spike stamped at (post + 1)·dt.
        let pre = base - delay;
        let post = (base as i64 + k - 1) as u64;
        (pre, post, k)
    })
}

#[test]
fn stdp_follows_the_exponential_window_over_minus_to_plus_40_ms() {
    for dt in [1.0, 0.1] {
        let (tau_plus, tau_minus, lambda, alpha, w_max) = (16.8, 33.7, 0.01, 1.2, 100.0);
        for mu in [0.0, 1.0] {
            let rule = stdp([tau_plus, tau_minus, lambda, alpha, mu, mu, w_max], dt);
            let w0 = 40.0f64;
            for delay_ms in [1.0, 20.0] {
                let delay = (delay_ms / dt) as u64;
                let span = (40.0 / dt) as i64;
                for (pre, post, k) in offsets(delay, span) {
                    let (w, _) = pair(&rule, w0 as f32, delay, pre, post);
                    let lag = k as f64 * dt; // t_post − t_arrival, ms
                    let expected = if lag > 0.0 {
                        w0 + w_max * lambda * (1.0 - w0 / w_max).powf(mu) * (-lag / tau_plus).exp()
                    } else if lag < 0.0 {
                        w0 - w_max * alpha * lambda * (w0 / w_max).powf(mu) * (lag / tau_minus).exp()
                    } else {
                        // A postsynaptic spike stamped at the arrival pairs with neither
                        // side (NEST: the history strictly before the arrival; the
                        // arrival's own trace after the spike).
                        w0
                    };
                    let tol = 1e-6 * w0;
                    assert!(
                        (w as f64 - expected).abs() <= tol,
                        "dt {dt}, mu {mu}, delay {delay_ms} ms, lag {lag} ms: {w} against {expected}"
                    );
                }
            }
        }
    }
}

#[test]
fn stdp_keeps_the_weight_within_zero_and_wmax() {
    let rule = stdp([20.0, 20.0, 5.0, 1.0, 0.0, 0.0, 10.0], 1.0);
    let (up, _) = pair(&rule, 9.0, 1, 100, 101);
    assert_eq!(up, 10.0, "clipped at Wmax");
    let (down, _) = pair(&rule, 1.0, 1, 100, 98);
    assert_eq!(down, 0.0, "clipped at 0");
}

#[test]
fn stdp_pairs_every_arrival_with_every_spike() {
    // Two arrivals before one postsynaptic spike: all-to-all pairing sums both.
    let rule = stdp([20.0, 20.0, 0.01, 1.0, 0.0, 0.0, 100.0], 1.0);
    let (mut w, mut extra) = (50f32, 0f32);
    let (mut x, mut y) = (PreTrace::default(), PostTrace::default());
    for arrival in [10u64, 15] {
        rule.on_arrival(&mut w, &mut extra, y.at(arrival, rule.post_decay(), false));
        x.arrive(arrival, rule.pre_decay());
    }
    rule.on_post(&mut w, &mut extra, x.at(21, rule.pre_decay()));
    y.spike(20, rule.post_decay());
    let expected = 50.0 + 100.0 * 0.01 * ((-11.0f64 / 20.0).exp() + (-6.0f64 / 20.0).exp());
    assert!((w as f64 - expected).abs() < 1e-4, "{w} against {expected}");
}

#[test]
fn stdp_pl_hom_follows_its_power_law_window() {
    let (tau_plus, tau_minus, lambda, alpha, mu) = (15.0, 30.0, 0.1, 0.0513, 0.4);
    let rule = PlasticityRule::new("stdp_pl_hom", &[tau_plus, tau_minus, lambda, alpha, mu], 0.1).unwrap();
    let w0 = 45.61f64;
    for (pre, post, k) in offsets(15, 400) {
        let (w, _) = pair(&rule, w0 as f32, 15, pre, post);
        let lag = k as f64 * 0.1;
        let expected = if lag > 0.0 {
            w0 + lambda * w0.powf(mu) * (-lag / tau_plus).exp()
        } else if lag < 0.0 {
            w0 - lambda * alpha * w0 * (lag / tau_minus).exp()
        } else {
            w0
        };
        assert!((w as f64 - expected).abs() <= 1e-6 * w0, "lag {lag} ms: {w} against {expected}");
    }
}

/// Izhikevich's window, as the reading of `poly_spnet.cpp` gives it for
/// the step c in which the target crossed threshold and the arrival step t_a,
/// Δ = c − t_a: sd += 0.1·0.95^Δ for Δ ≥ 0, sd −= 0.12·0.95^(−Δ−1) for Δ ≤ −1 (an
/// arrival in the step after the crossing, with the spike stamped at it, is depressed
/// by the whole 0.12); the weight moves only at the period.
#[test]
fn izhikevich2006_follows_poly_spnet_window_and_moves_weights_only_at_the_period() {
    let rule = PlasticityRule::new("izhikevich2006", &[0.1, 0.12, 0.95, 10.0, 0.01, 0.9, 1000.0], 1.0).unwrap();
    for delay in [1u64, 20] {
        for (pre, post, k) in offsets(delay, 40) {
            let (w, sd) = pair(&rule, 6.0, delay, pre, post);
            assert_eq!(w, 6.0, "the weight waits for the period");
            // k: the post stamp's offset from the arrival; the crossing step is one before.
            let delta = k - 1;
            let expected = if delta >= 0 { 0.1 * 0.95f64.powi(delta as i32) } else { -0.12 * 0.95f64.powi((-delta - 1) as i32) };
            assert!((sd as f64 - expected).abs() < 1e-7, "delay {delay}, Δ {delta}: sd {sd} against {expected}");
        }
    }
}

#[test]
fn izhikevich2006_decays_sd_before_moving_the_weight_and_clips_it() {
    let rule = PlasticityRule::new("izhikevich2006", &[0.1, 0.12, 0.95, 10.0, 0.01, 0.9, 1000.0], 1.0).unwrap();
    let (mut w, mut sd) = (6.0f32, 0.5f32);
    rule.periodic(&mut w, &mut sd);
    // poly_spnet.cpp: sd *= 0.9; s += 0.01 + sd (spnet.m would give 6.51).
    assert_eq!(sd, 0.45);
    assert!((w - 6.46).abs() < 1e-6, "{w}");
    let (mut w, mut sd) = (9.9f32, 1.0f32);
    rule.periodic(&mut w, &mut sd);
    assert_eq!(w, 10.0, "clipped at w_max");
    let (mut w, mut sd) = (0.1f32, -2.0f32);
    rule.periodic(&mut w, &mut sd);
    assert_eq!(w, 0.0, "clipped at 0");
}

/// Izhikevich's traces are set, not added: of two arrivals before a spike only the
/// later counts (nearest neighbour), where NEST's stdp sums both (above).
#[test]
fn izhikevich2006_pairs_the_nearest_arrival_only() {
    let rule = PlasticityRule::new("izhikevich2006", &[0.1, 0.12, 0.95, 10.0, 0.01, 0.9, 1000.0], 1.0).unwrap();
    let (mut w, mut sd) = (6f32, 0f32);
    let mut x = PreTrace::default();
    let y = PostTrace::default();
    for arrival in [10u64, 15] {
        rule.on_arrival(&mut w, &mut sd, y.at(arrival, rule.post_decay(), true));
        x.arrive(arrival, rule.pre_decay());
    }
    rule.on_post(&mut w, &mut sd, x.at(rule.pre_read_step(20), rule.pre_decay()));
    assert!((sd as f64 - 0.1 * 0.95f64.powi(5)).abs() < 1e-8, "{sd}");
}

/// NEST's rules, updated lazily: 8 bytes (target and weight); Izhikevich's, through the
/// index at every spike: 8 more, and 4 for sd. A trace without a horizon (a table that
/// runs out before the trace reaches 0) takes the index too.
#[test]
fn a_synapse_takes_eight_bytes_lazily_and_twenty_through_the_index_with_a_derivative() {
    let nest = stdp([20.0, 20.0, 0.01, 1.0, 1.0, 1.0, 100.0], 1.0);
    let izh = PlasticityRule::new("izhikevich2006", &[0.1, 0.12, 0.95, 10.0, 0.01, 0.9, 1000.0], 1.0).unwrap();
    assert_eq!((nest.bytes_per_synapse(), nest.holds_extra(), nest.lazy_horizon()), (8, false, Some(1383)));
    assert_eq!((izh.bytes_per_synapse(), izh.holds_extra(), izh.lazy_horizon()), (20, true, None));
    let endless = stdp([1e9, 20.0, 0.01, 1.0, 1.0, 1.0, 100.0], 1.0);
    assert_eq!((endless.bytes_per_synapse(), endless.lazy_horizon()), (16, None));
}

/// A block's presynaptic traces kept apart (`PreTraces`) read and move as one
/// `PreTrace` per group would, to the bit, for a trace that adds up (NEST's) and one
/// that is set (Izhikevich's, which keeps only the step: 4 bytes a group, not 12).
#[test]
fn traces_kept_apart_read_as_one_trace_per_group() {
    let nest = stdp([20.0, 20.0, 0.01, 1.0, 1.0, 1.0, 100.0], 1.0);
    let izh = PlasticityRule::new("izhikevich2006", &[0.1, 0.12, 0.95, 10.0, 0.01, 0.9, 1000.0], 1.0).unwrap();
    for (rule, bytes) in [(&nest, 12), (&izh, 4)] {
        let decay = rule.pre_decay();
        let mut apart = PreTraces::new(3, decay);
        let mut whole = [PreTrace::default(); 3];
        assert_eq!(apart.bytes(), 3 * bytes);
        assert_eq!(PreTraces::bytes_per_group(decay), bytes);
        // Arrivals at groups 0 and 2 (two in the same step at group 2), read at later steps.
        for (g, step) in [(0, 5u64), (2, 7), (2, 7), (0, 30), (2, 40)] {
            apart.arrive(g, step, decay);
            whole[g].arrive(step, decay);
            for (g, trace) in whole.iter().enumerate() {
                assert_eq!(apart.get(g), *trace, "group {g} after step {step}");
                for later in [step, step + 1, step + 25, step + 5000] {
                    assert_eq!(apart.at(g, later, decay).to_bits(), trace.at(later, decay).to_bits(), "group {g} at {later}");
                }
            }
        }
        // A checkpoint's trace set back.
        let mut restored = PreTraces::new(3, decay);
        (0..3).for_each(|g| restored.set(g, whole[g]));
        assert_eq!(restored, apart);
    }
}

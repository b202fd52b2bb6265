// A Hodgkin–Huxley membrane with the model file's ion channels, one exponential-Euler
// step as src/model/hh.rs takes it (exp_euler_block): each gate state relaxes towards
// x_inf over the step with v held, read with its decay exp(−dt/τ) from the rate table by
// linear interpolation; the open channels' conductances and the synaptic conductances
// join the leak in the membrane's balance; v relaxes towards g_e / g_total, written with
// φ(x) = (1 − e^−x)/x so that it stays finite where g_total is 0.
//
// State: v (0), then each distinct gate state (1..). Parameter 0 is the rate table:
// (value, rise to the next point) for each column at each point. Constants: 0 g_l,
// 1 g_l·e_l, 2 threshold, 3 dt/cm, 4 v_min, 5 1/dv, 6 the last point, then as u32 bits:
// 7 columns per point, 8 states, 9 channels, then per state its (x_inf, decay) columns,
// then per channel g, e_rev (f32), its gate count, and per gate (state, power).
// Flags: 1 spiked, 2 not finite, 4 v outside the table (counted, as on the CPU).

fn hh_word(k: u32) -> u32 {
    return bitcast<u32>(constant(k));
}

// x^power for a small integer power.
fn raised(x: f32, power: u32) -> f32 {
    var p = 1.0;
    for (var k = 0u; k < power; k++) {
        p = p * x;
    }
    return p;
}

// φ(x) = (1 − e^−x)/x: its series to x^7 where |x| ≤ 1/2 (hh.rs's phi_series).
fn phi(x: f32) -> f32 {
    if abs(x) > 0.5 {
        return (1.0 - exp(-x)) / x;
    }
    var p = -1.0 / 40320.0;
    p = p * x + 1.0 / 5040.0;
    p = p * x - 1.0 / 720.0;
    p = p * x + 1.0 / 120.0;
    p = p * x - 1.0 / 24.0;
    p = p * x + 1.0 / 6.0;
    p = p * x - 1.0 / 2.0;
    p = p * x + 1.0;
    return p;
}

fn model_step(i: u32, inputs: Inputs, dt: f32, g_syn: f32, g_syn_e: f32) -> u32 {
    let current = inputs.total;
    let v0 = state_get(0u, i);
    let columns = hh_word(7u);
    let states = hh_word(8u);
    let channels = hh_word(9u);
    // The table bin and the fraction into it; outside the table, its edge (NaN: the
    // first point).
    let last = constant(6u);
    var at = (v0 - constant(4u)) * constant(5u);
    let outside = !(at >= 0.0 && at < last);
    at = select(0.0, at, at >= 0.0);
    at = select(last, at, at < last);
    let k = min(u32(at), u32(last) - 1u);
    let f = at - f32(k);
    let row = 2u * k * columns;
    // Gate states relax over the step.
    for (var s = 0u; s < states; s++) {
        let inf_at = row + 2u * hh_word(10u + 2u * s);
        let decay_at = row + 2u * hh_word(11u + 2u * s);
        let inf = table(0u, inf_at) + f * table(0u, inf_at + 1u);
        let decay = table(0u, decay_at) + f * table(0u, decay_at + 1u);
        let x = inf + (state_get(1u + s, i) - inf) * decay;
        state_set(1u + s, i, x);
    }
    // The membrane's balance: leak, open channels, synaptic conductances; currents in g_e.
    var g_total = constant(0u);
    var g_e = constant(1u) + current;
    var p = 10u + 2u * states;
    for (var c = 0u; c < channels; c++) {
        let g = constant(p);
        let e_rev = constant(p + 1u);
        let gates = hh_word(p + 2u);
        p = p + 3u;
        var open = 1.0;
        for (var j = 0u; j < gates; j++) {
            open = open * raised(state_get(1u + hh_word(p), i), hh_word(p + 1u));
            p = p + 2u;
        }
        g_total = g_total + g * open;
        g_e = g_e + g * open * e_rev;
    }
    g_total = g_total + g_syn;
    g_e = g_e + g_syn_e;
    let dt_over_cm = constant(3u);
    let vn = v0 + dt_over_cm * (g_e - g_total * v0) * phi(dt_over_cm * g_total);
    state_set(0u, i, vn);
    let threshold = constant(2u);
    let spiked = v0 < threshold && vn >= threshold;
    return select(0u, 1u, spiked) | select(0u, 2u, !is_finite(vn)) | select(0u, 4u, outside);
}

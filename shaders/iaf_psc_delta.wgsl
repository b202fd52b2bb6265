// NEST's iaf_psc_delta step, as src/model/iaf_psc_delta.rs does it (exact propagators,
// NEST's order): state v (0), refractory steps left (1), the input kept while refractory
// (2, mV); constants p33, p30, e_l, v_th, v_reset, i_e, steps_ref, v_min − e_l, keep
// (0..8). The arriving weights (`inputs.weights`, mV) move v at the end of the step they
// arrive in, after the propagation; while refractory they are dropped, or kept decayed
// where keep = 1. The stimuli's currents (`inputs.currents` onto some neurons,
// `inputs.on_all` onto all) act through p30 as i_e does. Returns bit 0 if the neuron
// spiked, bit 1 if its state left the finite numbers.
fn model_step(i: u32, inputs: Inputs, dt: f32, g_syn: f32, g_syn_e: f32) -> u32 {
    let p33 = constant(0u);
    let e_l = constant(2u);
    var v = state_get(0u, i);
    var left = state_get(1u, i);
    var kept = state_get(2u, i);
    let bias = constant(5u) + inputs.on_all;
    if left == 0.0 {
        let rel = constant(1u) * (bias + inputs.currents) + p33 * (v - e_l) + inputs.weights + p33 * kept;
        v = e_l + max(rel, constant(7u));
        kept = 0.0;
    } else {
        left = left - 1.0;
        kept = p33 * kept + constant(8u) * inputs.weights;
    }
    let fired = v >= constant(3u);
    if fired {
        v = constant(4u);
        left = constant(6u);
    }
    state_set(0u, i, v);
    state_set(1u, i, left);
    state_set(2u, i, kept);
    return select(0u, 1u, fired) | select(0u, 2u, !(is_finite(v) && is_finite(kept)));
}

// NEST's iaf_psc_alpha step, as src/model/iaf_psc_alpha.rs does it (exact propagators,
// NEST's order): state v (0), di_syn (1), i_syn (2), refractory steps left (3);
// constants p11, p21, p33, p30, p31, p32, psc_initial, e_l, v_th, v_reset, steps_ref,
// i_e (0..11). The arriving weights (`inputs.weights`, pA) jump di_syn by psc_initial
// times themselves after the membrane and i_syn have been advanced with the old values;
// the stimuli's currents (`inputs.currents` onto some neurons, `inputs.on_all` onto all)
// act through p30 as i_e does. Returns bit 0 if the neuron spiked, bit 1 if its state
// left the finite numbers.
fn model_step(i: u32, inputs: Inputs, dt: f32, g_syn: f32, g_syn_e: f32) -> u32 {
    let p11 = constant(0u);
    let e_l = constant(7u);
    var v = state_get(0u, i);
    let di = state_get(1u, i);
    let i_syn = state_get(2u, i);
    var left = state_get(3u, i);
    let bias = constant(11u) + inputs.on_all;
    if left == 0.0 {
        v = e_l + (constant(2u) * (v - e_l) + constant(4u) * di + constant(5u) * i_syn + constant(3u) * (bias + inputs.currents));
    } else {
        left = left - 1.0;
    }
    let s = constant(1u) * di + p11 * i_syn;
    let d = p11 * di + constant(6u) * inputs.weights;
    let fired = v >= constant(8u);
    if fired {
        v = constant(9u);
        left = constant(10u);
    }
    state_set(0u, i, v);
    state_set(1u, i, d);
    state_set(2u, i, s);
    state_set(3u, i, left);
    return select(0u, 1u, fired) | select(0u, 2u, !(is_finite(v) && is_finite(s) && is_finite(d)));
}

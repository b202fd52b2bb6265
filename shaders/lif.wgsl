// NEST's iaf_psc_exp step, as src/model/lif.rs does it (exact propagators, NEST's order):
// state v (0), i_syn (1), refractory steps left (2); constants p11, p21, p22, p20, e_l,
// v_th, v_reset, steps_ref, i_e (0..8). The arriving weights (`inputs.weights`, pA) jump
// i_syn after the membrane has been advanced with the old one; the stimuli's currents
// (`inputs.currents` onto some neurons, `inputs.on_all` onto all) act through p20 as
// i_e does. Returns bit 0 if the neuron spiked, bit 1 if its state left the finite numbers.
fn model_step(i: u32, inputs: Inputs, dt: f32, g_syn: f32, g_syn_e: f32) -> u32 {
    let p11 = constant(0u);
    let p21 = constant(1u);
    let p22 = constant(2u);
    let p20 = constant(3u);
    let e_l = constant(4u);
    let v_th = constant(5u);
    var v = state_get(0u, i);
    let i_syn = state_get(1u, i);
    var left = state_get(2u, i);
    let bias = constant(8u) + inputs.on_all;
    if left == 0.0 {
        v = e_l + (p22 * (v - e_l) + p21 * i_syn + p20 * (bias + inputs.currents));
    } else {
        left = left - 1.0;
    }
    let s = p11 * i_syn + inputs.weights;
    let fired = v >= v_th;
    if fired {
        v = constant(6u);
        left = constant(7u);
    }
    state_set(0u, i, v);
    state_set(1u, i, s);
    state_set(2u, i, left);
    return select(0u, 1u, fired) | select(0u, 2u, !(is_finite(v) && is_finite(s)));
}

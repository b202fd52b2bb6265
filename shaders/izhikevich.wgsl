// The Izhikevich (2003) step, as src/model/izhikevich.rs does it (net.m's arithmetic):
// state v (0), u (1); parameters a, b, c, d (0..3); constant v_peak (0). Returns bit 0
// if the neuron spiked (v ≥ v_peak at the end of the step), bit 1 if its state left the
// finite numbers. Synaptic conductances reach it as currents (g_syn is 0).
fn model_step(i: u32, inputs: Inputs, dt: f32, g_syn: f32, g_syn_e: f32) -> u32 {
    let current = inputs.total;
    let v_peak = constant(0u);
    var v = state_get(0u, i);
    var u = state_get(1u, i);
    if v >= v_peak {
        v = param(2u, i);
        u = u + param(3u, i);
    }
    let half = 0.5 * dt;
    v = v + half * (0.04 * (v * v) + 5.0 * v + 140.0 - u + current);
    v = v + half * (0.04 * (v * v) + 5.0 * v + 140.0 - u + current);
    u = u + dt * (param(0u, i) * (param(1u, i) * v - u));
    state_set(0u, i, v);
    state_set(1u, i, u);
    return select(0u, 1u, v >= v_peak) | select(0u, 2u, !(is_finite(v) && is_finite(u)));
}

// One step of one group of neurons (a population's neurons on this rank): read and clear
// the neuron's slot of the delay ring (fixed-point sums of the weights that arrive in
// this step), add the stimuli, step the model (`model_step`, from the model's own file),
// and append the neurons that spiked: first to a list per workgroup, then with one
// global atomic per workgroup (GeNN's pattern). The list's order depends on scheduling;
// the host sorts it.
//
// Bindings: group 0 the step (a dynamic offset into one uniform buffer per epoch),
// group 1 the group's buffers. `info` holds the group's constants (HEADER_*: layout.rs),
// its stimuli and the epoch's amplitudes; `state` its state variables, variable k of
// neuron i at k·n + i; `params` its parameters, at offset + i·stride (stride 0: one
// value for the population).

// `now`: the step (shaders/step.wgsl).
@group(1) @binding(0) var<storage, read> info: array<u32>;
@group(1) @binding(1) var<storage, read_write> state: array<f32>;
@group(1) @binding(2) var<storage, read> params: array<f32>;
@group(1) @binding(3) var<storage, read_write> ring: array<i32>;
@group(1) @binding(4) var<storage, read_write> spikes: array<atomic<u32>>;
@group(1) @binding(5) var<storage, read> gauss: array<vec2<f32>>;
@group(1) @binding(6) var<storage, read_write> syn: array<f32>;
// Per group, the neuron-steps whose v left a rate table (a model's flag 4): a 64-bit
// count as (low, high) words at 2·HEADER_GROUP.
@group(1) @binding(7) var<storage, read_write> clamps: array<atomic<u32>>;

// The header's words, HEADER_OFFSET ... HEADER_APART, and STIMULUS_WORDS are declared once
// in Rust (src/backend/gpu/layout.rs, `GroupHeader`) and their constants put before this
// file.

// What reaches a neuron in a step. `total`: everything as one current, for the models that
// take it so (Izhikevich, Hodgkin–Huxley). A model that filters arriving weights reads
// them apart: `weights` (the ring's and the Poisson events'), `currents` (stimuli onto
// some neurons) and `on_all` (currents onto all of them) — stimulus::apply's split.
struct Inputs {
    total: f32,
    weights: f32,
    currents: f32,
    on_all: f32,
}
const WORKGROUP: u32 = 64u;

fn state_get(k: u32, i: u32) -> f32 {
    return state[k * info[HEADER_N] + i];
}

fn state_set(k: u32, i: u32, x: f32) {
    state[k * info[HEADER_N] + i] = x;
}

fn param(k: u32, i: u32) -> f32 {
    let at = info[HEADER_PARAMS_AT] + 2u * k;
    return params[info[at] + i * info[at + 1u]];
}

// Word `index` of parameter k held whole (a table), whatever the neuron.
fn table(k: u32, index: u32) -> f32 {
    return params[info[info[HEADER_PARAMS_AT] + 2u * k] + index];
}

fn constant(k: u32) -> f32 {
    return bitcast<f32>(info[info[HEADER_CONSTANTS_AT] + k]);
}

fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7F800000u) != 0x7F800000u;
}

// Whether stimulus record `s` reaches neuron i of the group.
fn reaches(s: u32, i: u32) -> bool {
    let reach = info[s + 3u];
    if reach == 0u {
        return true;
    }
    if reach == 1u {
        return i >= info[s + 4u] && i < info[s + 5u];
    }
    let word = info[info[s + 6u] + (i >> 5u)];
    return ((word >> (i & 31u)) & 1u) == 1u;
}

// Poisson stimulus record `s` (kind 2): its key's first word at s + 1, its table at
// info[s + 2] with s + 7 the CDF's length L: the key's second word; for k < L the 53-bit
// threshold ceil(CDF(k)·2⁵³) as (high, low) words; for k ≤ L the weight of k events (the
// CPU's f32 of k·w). The neuron's uniform is block (gid, step) (rng::poisson_count) as a
// 53-bit integer: compared with the thresholds it gives the CPU's count exactly
// (rng::poisson_thresholds, rng::PoissonTable).
fn poisson_weight(s: u32, gid_lo: u32) -> f32 {
    let table = info[s + 2u];
    let entries = info[s + 7u];
    let key = vec2<u32>(info[s + 1u], info[table] ^ (now.step_hi * 0x9E3779B9u));
    let block = threefry2x32(vec2<u32>(gid_lo, now.step_lo), key);
    let u_hi = (block.x >> 11u) & 0x1FFFFFu;
    let u_lo = (block.x << 21u) ^ (block.y >> 11u);
    var k = 0u;
    loop {
        if k >= entries {
            break;
        }
        let t_hi = info[table + 1u + 2u * k];
        let t_lo = info[table + 2u + 2u * k];
        if u_hi < t_hi || (u_hi == t_hi && u_lo < t_lo) {
            break;
        }
        k = k + 1u;
    }
    return bitcast<f32>(info[table + 1u + 2u * entries + k]);
}

var<workgroup> fired_count: atomic<u32>;
var<workgroup> fired: array<u32, WORKGROUP>;
var<workgroup> fired_base: u32;
var<workgroup> clamped_count: atomic<u32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.x + wg.y * groups.x) * WORKGROUP + lid;
    let n = info[HEADER_N];
    let in_group = i < n;
    if lid == 0u {
        atomicStore(&fired_count, 0u);
        atomicStore(&clamped_count, 0u);
    }
    workgroupBarrier();
    if in_group {
        // This step's synaptic input: the ring slot, cleared for a later step.
        let at = now.slot * info[HEADER_RING_ROW] + info[HEADER_OFFSET] + i;
        var input = f32(ring[at]) * bitcast<f32>(info[HEADER_INV_SCALE]);
        ring[at] = 0;
        // Exponential kinds (synapse::Exponential): decay, this step's arrivals from the
        // kind's ring, and into the input as a current — a conductance as g·(e_rev − v)
        // with v at the start of the step (synapse::add_as_currents).
        let kinds_at = info[HEADER_KINDS_AT];
        let kinds = info[kinds_at];
        let slots = info[kinds_at + 1u];
        let ring_row = info[HEADER_RING_ROW];
        let v_start = state_get(0u, i);
        let integrates = info[HEADER_CONDUCTANCES] != 0u;
        var g_syn = 0.0;
        var g_syn_e = 0.0;
        for (var k = 1u; k <= kinds; k++) {
            let kind = kinds_at + 2u + 4u * (k - 1u);
            let at_k = (k * slots + now.slot) * ring_row + info[HEADER_OFFSET] + i;
            let arrived = f32(ring[at_k]) * bitcast<f32>(info[kind + 1u]);
            ring[at_k] = 0;
            let g_at = (k - 1u) * ring_row + info[HEADER_OFFSET] + i;
            let g = syn[g_at] * bitcast<f32>(info[kind]) + arrived;
            syn[g_at] = g;
            if info[kind + 2u] == 0u {
                input = input + g;
            } else if integrates {
                g_syn = g_syn + g;
                g_syn_e = g_syn_e + g * bitcast<f32>(info[kind + 3u]);
            } else {
                input = input + g * (bitcast<f32>(info[kind + 3u]) - v_start);
            }
        }
        // Stimuli in the model file's order (stimulus::apply): noise and currents onto
        // some neurons into the input, currents onto all of them into `bias`.
        var bias = 0.0;
        let apart = info[HEADER_APART] != 0u;
        var currents = 0.0;
        let gid_lo = info[HEADER_FIRST_GID_LO] + i;
        let gid_hi = info[HEADER_FIRST_GID_HI] + select(0u, 1u, gid_lo < i);
        let key = vec2<u32>(info[HEADER_NOISE_KEY_X], info[HEADER_NOISE_KEY_Y]);
        let count = info[HEADER_STIMULI];
        for (var k = 0u; k < count; k++) {
            let s = info[HEADER_STIMULI_AT] + k * STIMULUS_WORDS;
            if !reaches(s, i) {
                continue;
            }
            if info[s] == 0u {
                let z = noise_normal(key, info[s + 1u], now.step_lo, now.step_hi, gid_lo, gid_hi);
                let x = bitcast<f32>(info[s + 2u]) * z;
                if apart {
                    currents = currents + x;
                } else {
                    input = input + x;
                }
            } else if info[s] == 1u {
                let amplitude = bitcast<f32>(info[info[HEADER_AMPLITUDES_AT] + now.index_in_epoch * count + k]);
                if amplitude != 0.0 {
                    if info[s + 3u] == 0u {
                        bias = bias + amplitude;
                    } else if apart {
                        currents = currents + amplitude;
                    } else {
                        input = input + amplitude;
                    }
                }
            }
        }
        // Poisson events after the currents (stimulus::apply_events), into the weights.
        for (var k = 0u; k < count; k++) {
            let s = info[HEADER_STIMULI_AT] + k * STIMULUS_WORDS;
            if info[s] == 2u && reaches(s, i) {
                input = input + poisson_weight(s, gid_lo);
            }
        }
        let inputs = Inputs(input + bias, input, currents, bias);
        let flags = model_step(i, inputs, bitcast<f32>(info[HEADER_DT]), g_syn, g_syn_e);
        if (flags & 1u) != 0u {
            fired[atomicAdd(&fired_count, 1u)] = i;
        }
        if (flags & 2u) != 0u {
            atomicMin(&spikes[1], now.step_lo);
        }
        if (flags & 4u) != 0u {
            atomicAdd(&clamped_count, 1u);
        }
    }
    workgroupBarrier();
    let count = atomicLoad(&fired_count);
    if lid == 0u && count > 0u {
        fired_base = atomicAdd(&spikes[0], count);
    }
    let clamped = atomicLoad(&clamped_count);
    if lid == 0u && clamped > 0u {
        // The carry into the high word when the low one wraps: exact whatever the order.
        let at = 2u * info[HEADER_GROUP];
        let before = atomicAdd(&clamps[at], clamped);
        if before > 0xFFFFFFFFu - clamped {
            atomicAdd(&clamps[at + 1u], 1u);
        }
    }
    workgroupBarrier();
    let capacity = info[HEADER_SPIKE_CAPACITY];
    for (var k = lid; k < count; k += WORKGROUP) {
        let slot = fired_base + k;
        if slot < capacity {
            atomicStore(&spikes[2u + 2u * slot], now.step_lo);
            atomicStore(&spikes[3u + 2u * slot], info[HEADER_FIRST_GID_LO] + fired[k]);
        }
    }
}

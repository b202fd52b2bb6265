// Delivery of received spikes through procedural rows (GeNN's PROCEDURAL): nothing is
// stored; one workgroup per spike draws the source's row again, its threads striding over
// the row's synapses, each drawn on its own from the counter-based generator
// (connectivity.wgsl) — the synapses the CPU draws for the same seed. A synapse onto one
// of the rank's neurons that arrives in [due_lo, due_hi) adds its weight, in the kind's
// fixed point, with an integer atomic (order-free sums, as in deliver.wgsl).
//
// Rules: fixed_outdegree with multapses (each synapse one independent draw).
// `block` holds: 0 first source gid, 1 sources, 2 first delay (steps), 3 delays, 4 ring
// row (neurons of the rank), 5 ring slots, 6 the ring's first word (the synaptic kind),
// 7 k, 8 first candidate gid, 9 candidates, 10 whether the source is left out of its own
// candidates (autapses off), 11 first gid of the rank, 12 one past its last, 13 and 14
// the projection's key, 15 the fixed-point scale 2^e (f32 bits).
// Each projection's shader appends `fn weight(u: f32, u2: f32, u3: f32) -> f32` and
// `const WEIGHT_UNIFORMS: u32` (how many of u, u2, u3 it reads).

@group(1) @binding(0) var<storage, read> block: array<u32>;
@group(1) @binding(1) var<storage, read> arrivals: array<u32>;
@group(1) @binding(2) var<storage, read_write> ring: array<atomic<i32>>;

const WORKGROUP: u32 = 64u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let s = wg.x + wg.y * groups.x;
    if s >= now.spikes_count {
        return;
    }
    let at = now.spikes_at + 2u * s;
    let step = arrivals[at];
    let gid = arrivals[at + 1u];
    if gid < block[0] || gid - block[0] >= block[1] {
        return;
    }
    let first_delay = block[2];
    let delays = block[3];
    let ring_row = block[4];
    let slots = block[5];
    let base = block[6];
    let k = block[7];
    let first_candidate = block[8];
    let pool = block[9];
    let rank_lo = block[11];
    let rank_hi = block[12];
    let scale = bitcast<f32>(block[15]);
    // The source's index among the candidates, when it is left out of them.
    var skip = 0xFFFFFFFFu;
    if block[10] != 0u && gid >= first_candidate && gid - first_candidate <= pool {
        skip = gid - first_candidate;
    }
    let key = row_key(vec2<u32>(block[13], block[14]), gid);
    for (var j = lid; j < k; j += WORKGROUP) {
        let x = below(synapse_block(key, j, 0u), pool);
        let post = first_candidate + x + select(0u, 1u, x >= skip);
        if post < rank_lo || post >= rank_hi {
            continue;
        }
        var delay = first_delay;
        if delays > 1u {
            delay = first_delay + below(synapse_block(key, j, 4u), delays);
        }
        let arrival = step + delay;
        if arrival < now.due_lo || arrival >= now.due_hi {
            continue;
        }
        var u = vec3<f32>(0.0);
        for (var m = 0u; m < WEIGHT_UNIFORMS; m++) {
            u[m] = unit_f32(synapse_block(key, j, 1u + m));
        }
        let fixed = i32(round(weight(u.x, u.y, u.z) * scale));
        atomicAdd(&ring[base + (arrival % slots) * ring_row + (post - rank_lo)], fixed);
    }
}

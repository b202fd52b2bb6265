// Delivery of received spikes into the fixed-point delay rings: one workgroup per spike,
// its threads striding over the spike's row of one projection (targets, weights already
// in fixed point, delays), each synapse arriving in [due_lo, due_hi) added with an
// integer atomic. Integer sums do not depend on the order of the additions, so the rings
// hold the same bits whatever the scheduling; the scale was chosen so that no target's
// sum can overflow (src/backend/gpu/fixed.rs).
//
// `block` holds: 0 first source gid, 1 rows, 2 first delay (steps), 3 whether delays
// vary (then `delays` packs one u16 per synapse, two per word), 4 ring row (neurons of
// the rank), 5 ring slots, 6 the ring's first word (the projection's synaptic kind).

// `now`: the step (shaders/step.wgsl).
@group(1) @binding(0) var<storage, read> block: array<u32>;
@group(1) @binding(1) var<storage, read> offsets: array<u32>;
@group(1) @binding(2) var<storage, read> targets: array<u32>;
@group(1) @binding(3) var<storage, read> weights: array<i32>;
@group(1) @binding(4) var<storage, read> delays: array<u32>;
@group(1) @binding(5) var<storage, read> arrivals: array<u32>;
@group(1) @binding(6) var<storage, read_write> ring: array<atomic<i32>>;

const WORKGROUP: u32 = 64u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let k = wg.x + wg.y * groups.x;
    if k >= now.spikes_count {
        return;
    }
    let at = now.spikes_at + 2u * k;
    let step = arrivals[at];
    let gid = arrivals[at + 1u];
    let row = gid - block[0];
    if gid < block[0] || row >= block[1] {
        return;
    }
    let first_delay = block[2];
    let per_synapse = block[3] != 0u;
    let ring_row = block[4];
    let slots = block[5];
    let base = block[6];
    let end = offsets[row + 1u];
    for (var j = offsets[row] + lid; j < end; j += WORKGROUP) {
        var delay = first_delay;
        if per_synapse {
            delay = first_delay + ((delays[j >> 1u] >> ((j & 1u) * 16u)) & 0xFFFFu);
        }
        let arrival = step + delay;
        if arrival >= now.due_lo && arrival < now.due_hi {
            atomicAdd(&ring[base + (arrival % slots) * ring_row + targets[j]], weights[j]);
        }
    }
}

// A probe's samples (Arbor's samplers): before a due step is integrated, the values of
// one state variable of chosen neurons of a group, as one row of the probe's samples.
// `probe` holds: 0 the neurons sampled (m), 1 the variable's first word in `state`, 2
// where the row of each step of the epoch is (one word per step), then the neurons'
// indices in the group.

// `now`: the step (shaders/step.wgsl).
@group(1) @binding(0) var<storage, read> probe: array<u32>;
@group(1) @binding(1) var<storage, read> state: array<f32>;
@group(1) @binding(2) var<storage, read_write> samples: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let j = (wg.x + wg.y * groups.x) * 64u + lid;
    let m = probe[0];
    if j >= m {
        return;
    }
    let row = probe[probe[2] + now.index_in_epoch];
    samples[row * m + j] = state[probe[1] + probe[3u + j]];
}

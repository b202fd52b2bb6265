//! The GPU's random numbers run against their Rust twins (`rng`, `gaussian`,
//! `connectivity::generate`): shaders that write the Threefry words and noise normals of a
//! range of neurons at one step, and the synapses of one procedural row, for tests/gpu.rs
//! to compare with what the CPU draws for the same keys.

use super::device::Gpu;

const SHADER: &str = r#"
@group(0) @binding(0) var<storage, read> args: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<storage, read> gauss: array<vec2<f32>>;

// args: noise key (2), stream, step (lo, hi), first gid (lo, hi), count.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i >= args[7] {
        return;
    }
    let key = vec2<u32>(args[0], args[1]);
    let gid_lo = args[5] + i;
    let gid_hi = args[6] + select(0u, 1u, gid_lo < i);
    let words = threefry2x32(vec2<u32>(args[3], gid_lo), key);
    out[3u * i] = words.x;
    out[3u * i + 1u] = words.y;
    out[3u * i + 2u] = bitcast<u32>(noise_normal(key, args[2], args[3], args[4], gid_lo, gid_hi));
}
"#;

/// For neurons `first_gid .. first_gid + count` at step `step` of noise stream `stream`
/// under `seed`: the Threefry block of counter (step, gid) under the noise key, and the
/// neuron's noise normal, as the GPU computes them.
pub fn noise_on_gpu(gpu: &Gpu, seed: u64, stream: u32, step: u64, first_gid: u64, count: u32) -> Vec<([u32; 2], f32)> {
    let key = crate::rng::key_for(seed, crate::rng::Purpose::Noise);
    let args = [key[0], key[1], stream, step as u32, (step >> 32) as u32, first_gid as u32, (first_gid >> 32) as u32, count];
    let source = [include_str!("../../../shaders/rng.wgsl"), include_str!("../../../shaders/noise.wgsl"), SHADER].join("\n");
    let gauss: Vec<[f32; 2]> = crate::gaussian::table().entries().collect();
    let gauss = gpu.storage("gaussian table", &gauss, wgpu::BufferUsages::empty());
    let bytes = run(gpu, &source, &args, count, 3, Some(&gauss));
    let words: &[u32] = bytemuck::cast_slice(&bytes);
    words.chunks_exact(3).map(|w| ([w[0], w[1]], f32::from_bits(w[2]))).collect()
}

const ROW_SHADER: &str = r#"
@group(0) @binding(0) var<storage, read> args: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

// args: projection key (2), gid, k, first candidate, candidates, left out (0/1), first
// delay, delays. out per synapse j: the other end, the delay, the weight's f32 bits.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    if j >= args[3] {
        return;
    }
    let gid = args[2];
    var skip = 0xFFFFFFFFu;
    if args[6] != 0u && gid >= args[4] && gid - args[4] <= args[5] {
        skip = gid - args[4];
    }
    let key = row_key(vec2<u32>(args[0], args[1]), gid);
    let x = below(synapse_block(key, j, 0u), args[5]);
    out[3u * j] = args[4] + x + select(0u, 1u, x >= skip);
    var delay = args[7];
    if args[8] > 1u {
        delay = args[7] + below(synapse_block(key, j, 4u), args[8]);
    }
    out[3u * j + 1u] = delay;
    var u = vec3<f32>(0.0);
    for (var m = 0u; m < WEIGHT_UNIFORMS; m++) {
        u[m] = unit_f32(synapse_block(key, j, 1u + m));
    }
    out[3u * j + 2u] = bitcast<u32>(weight(u.x, u.y, u.z));
}
"#;

/// The synapses of the procedural row of source `gid` in projection `p` of `desc` as the
/// GPU draws them (connectivity.wgsl, the weight in f32): (target, delay in steps,
/// weight) in drawing order.
pub fn row_on_gpu(gpu: &Gpu, desc: &crate::network::Description, p: &crate::network::Projection, gid: u64) -> Vec<(u64, u32, f32)> {
    let words = super::procedural::block_words(desc, p, &(0..desc.total_neurons()), 1, 0, super::fixed::FixedScale { exponent: 0 });
    let k = words[7];
    let key = crate::rng::projection_key(desc.seed, p.id);
    let args = [key[0], key[1], gid as u32, k, words[8], words[9], words[10], words[2], words[3]];
    let source = [
        include_str!("../../../shaders/rng.wgsl"),
        include_str!("../../../shaders/connectivity.wgsl"),
        ROW_SHADER,
        &super::procedural::weight_source(&p.weight),
    ]
    .join("\n");
    let bytes = run(gpu, &source, &args, k, 3, None);
    let words: &[u32] = bytemuck::cast_slice(&bytes);
    words.chunks_exact(3).map(|w| (w[0] as u64, w[1], f32::from_bits(w[2]))).collect()
}

/// Runs `source`'s `main` over `count` invocations with `args` at binding 0, an output of
/// `per` words per invocation at binding 1 and `extra` at binding 2; the output's bytes.
fn run(gpu: &Gpu, source: &str, args: &[u32], count: u32, per: u64, extra: Option<&wgpu::Buffer>) -> Vec<u8> {
    let module = gpu.shader("twin", source);
    let pipeline = gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("twin"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let args = gpu.storage("args", args, wgpu::BufferUsages::empty());
    let out = gpu.buffer("out", count as u64 * per * 4, wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC);
    let mut buffers = vec![&args, &out];
    buffers.extend(extra);
    let bind = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("twin"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &super::entries(&buffers),
    });
    let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("twin") });
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("twin"), timestamp_writes: None });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(count.div_ceil(64).max(1), 1, 1);
    }
    gpu.queue.submit([encoder.finish()]);
    gpu.read(&out, 0, count as u64 * per * 4)
}

//! The GPU's random numbers run against their Rust twins (`rng`, `gaussian`): a shader
//! that writes the Threefry words and the noise normal of a range of neurons at one step,
//! for tests/gpu.rs to compare with what the CPU draws for the same keys.

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
    let source = format!("{}\n{SHADER}", include_str!("../../../shaders/rng.wgsl"));
    let module = gpu.shader("rng twin", &source);
    let pipeline = gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("rng twin"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let args = gpu.storage("args", &args, wgpu::BufferUsages::empty());
    let out = gpu.buffer("out", count as u64 * 12, wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC);
    let gauss: Vec<[f32; 2]> = crate::gaussian::table().entries().collect();
    let gauss = gpu.storage("gaussian table", &gauss, wgpu::BufferUsages::empty());
    let bind = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("rng twin"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &super::entries(&[&args, &out, &gauss]),
    });
    let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("rng twin") });
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("rng twin"), timestamp_writes: None });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(count.div_ceil(64), 1, 1);
    }
    gpu.queue.submit([encoder.finish()]);
    let bytes = gpu.read(&out, 0, count as u64 * 12);
    let words: &[u32] = bytemuck::cast_slice(&bytes);
    words.chunks_exact(3).map(|w| ([w[0], w[1]], f32::from_bits(w[2]))).collect()
}

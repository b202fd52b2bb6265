//! The shaders as compiled (each assembled from its parts: the step record, the header's
//! constants, the random numbers) and the bind group layouts the pipelines share.

use super::layout::{self, StepRecord};
use super::Gpu;
use std::num::NonZeroU64;

/// Workgroups per dimension of one dispatch (WebGPU's minimum, lavapipe's maximum).
pub(super) const MAX_WORKGROUPS: u32 = 65_535;

pub(super) fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

pub(super) fn entries<'a>(buffers: &[&'a wgpu::Buffer]) -> Vec<wgpu::BindGroupEntry<'a>> {
    buffers.iter().enumerate().map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() }).collect()
}

/// Workgroups (x, y) for `count` workgroups in all: x at most 65,535.
pub(super) fn grid(count: u32) -> (u32, u32) {
    let x = count.clamp(1, MAX_WORKGROUPS);
    (x, count.div_ceil(x).max(1))
}

pub(super) const STEP: &str = include_str!("../../../shaders/step.wgsl");
pub(super) const DELIVER: &str = include_str!("../../../shaders/deliver.wgsl");
pub(super) const RNG: &str = include_str!("../../../shaders/rng.wgsl");
pub(super) const CONNECTIVITY: &str = include_str!("../../../shaders/connectivity.wgsl");
pub(super) const DELIVER_PROCEDURAL: &str = include_str!("../../../shaders/deliver_procedural.wgsl");
pub(super) const SAMPLE: &str = include_str!("../../../shaders/sample.wgsl");

/// A shader that reads the step record: the record's declaration, then its source.
pub(super) fn with_step(source: &str) -> String {
    format!("{STEP}\n{source}")
}

/// The update shader of a model: the step record, the header's constants (declared once,
/// in `layout`), the update loop and the model's own step.
pub(super) fn update_source(model: &str) -> String {
    let header = layout::header_constants();
    with_step(&[RNG, include_str!("../../../shaders/noise.wgsl"), &header, include_str!("../../../shaders/update.wgsl"), model].join("\n"))
}

/// The delivery shader of a procedural projection whose weight is `weight`
/// (`procedural::weight_source`).
pub(super) fn procedural_source(weight: &str) -> String {
    with_step(&[RNG, CONNECTIVITY, DELIVER_PROCEDURAL, weight].join("\n"))
}

pub(super) const STEP_BYTES: u64 = std::mem::size_of::<StepRecord>() as u64;

/// The bind group layouts: the step record (a dynamic uniform), a group's buffers, a
/// block's, a probe's and a procedural projection's.
pub(super) struct Layouts {
    pub step: wgpu::BindGroupLayout,
    pub group: wgpu::BindGroupLayout,
    pub block: wgpu::BindGroupLayout,
}

impl Layouts {
    pub(super) fn new(gpu: &Gpu) -> Layouts {
        let device = &gpu.device;
        let step = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("step"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: NonZeroU64::new(STEP_BYTES),
                },
                count: None,
            }],
        });
        let group = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("group"),
            entries: &[
                storage_entry(0, true),
                storage_entry(1, false),
                storage_entry(2, true),
                storage_entry(3, false),
                storage_entry(4, false),
                storage_entry(5, true),
                storage_entry(6, false),
                storage_entry(7, false),
            ],
        });
        let block = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("block"),
            entries: &[
                storage_entry(0, true),
                storage_entry(1, true),
                storage_entry(2, true),
                storage_entry(3, true),
                storage_entry(4, true),
                storage_entry(5, true),
                storage_entry(6, false),
            ],
        });
        Layouts { step, group, block }
    }

    /// The compute pipeline of `source` (entry point `main`), binding the step record
    /// at group 0 and `layout` at group 1.
    pub(super) fn pipeline(&self, gpu: &Gpu, label: &str, source: &str, layout: &wgpu::BindGroupLayout) -> wgpu::ComputePipeline {
        let device = &gpu.device;
        let module = gpu.shader(label, source);
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(label),
            bind_group_layouts: &[Some(&self.step), Some(layout)],
            immediate_size: 0,
        });
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: Some(&layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        })
    }
}

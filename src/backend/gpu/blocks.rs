//! The synapses of a rank on the GPU: the stored rows of each projection onto it, cut
//! into blocks of whole rows that each fit one storage binding, and the procedural
//! projections, whose rows are drawn again by a shader that holds the weight.

use super::pipelines::{procedural_source, storage_entry, Layouts};
use super::rows::{self, RowsError};
use super::{device, fixed, procedural, Gpu, GpuBackend, InvalidBuild};
use crate::error::Error;
use crate::network::Description;
use std::ops::Range;

/// A procedural projection on the GPU: its pipeline (the shader holds the weight) and
/// parameters.
pub(super) struct ProceduralBlock {
    pub(super) pipeline: wgpu::ComputePipeline,
    pub(super) bind: wgpu::BindGroup,
    pub(super) sources: Range<u64>,
    pub(super) words: wgpu::Buffer,
}

/// One projection's rows on the GPU.
pub(super) struct Block {
    pub(super) bind: wgpu::BindGroup,
    /// Global ids of the sources that have synapses onto the rank (for the exchange);
    /// the rows themselves live on the GPU only.
    pub(super) sources: Vec<u64>,
    pub(super) synapses: u64,
    pub(super) buffers: [wgpu::Buffer; 5],
}

/// What the synapses of a rank are built against.
pub(super) struct BlockSetup<'a> {
    pub desc: &'a Description,
    pub neurons: &'a Range<u64>,
    pub gpu: &'a Gpu,
    pub layouts: &'a Layouts,
    /// Each synaptic kind's fixed-point scale.
    pub scales: &'a [fixed::FixedScale],
    /// The received spikes of an epoch, and the delay rings the deliveries add into.
    pub arrivals: &'a wgpu::Buffer,
    pub ring: &'a wgpu::Buffer,
}

/// The stored blocks, the procedural blocks and the procedural blocks' layout.
pub(super) fn build(setup: &BlockSetup) -> Result<(Vec<Block>, Vec<ProceduralBlock>, wgpu::BindGroupLayout), InvalidBuild> {
    let BlockSetup { desc, neurons, gpu, layouts, scales, arrivals, ring } = *setup;
    let device = &gpu.device;
    let n_rank = (neurons.end - neurons.start) as usize;
    let slots = desc.ring_slots();
    let kinds = desc.synapse_kinds();
    let binding = gpu.limits.max_storage_buffer_binding_size.min(gpu.limits.max_buffer_size);
    let block_layout = &layouts.block;
    let pipeline = |label: &str, source: &str, layout: &wgpu::BindGroupLayout| layouts.pipeline(gpu, label, source, layout);
    let built = rows::build(desc, neurons.clone(), scales).map_err(|e| match e {
        RowsError::Weight(w) => crate::backend::build_error::invalid_weight(desc, w),
        RowsError::Range { projection, target, sum, limit } => InvalidBuild {
            key: target as f64,
            error: Error::Model {
                file: desc.model_file.clone(),
                location: String::new(),
                field: format!("projection[{projection}].weight"),
                message: format!(
                    "the synaptic input of neuron {target} can reach {sum}, beyond the ±{limit} the GPU's fixed-point sums hold for this model: use --backend cpu"
                ),
            },
        },
    })?;
    let mut chunked = Vec::with_capacity(built.len());
    for r in built {
        let chunks = r.chunks(binding / 4).map_err(|long| InvalidBuild {
            key: -1.0,
            error: Error::Option {
                option: "--backend gpu".into(),
                message: format!(
                    "neuron {} has {} synapses of projection {} onto this rank, more than one storage binding of the GPU {} \
                     holds ({} MB): use more ranks, or --backend cpu",
                    long.source,
                    long.synapses,
                    r.projection,
                    device::describe(&gpu.info),
                    binding >> 20
                ),
            },
        })?;
        chunked.push((r, chunks));
    }
    let procedural_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("procedural"),
        entries: &[storage_entry(0, true), storage_entry(1, true), storage_entry(2, false)],
    });
    let mut procedural = Vec::new();
    for p in desc.projections.iter().filter(|p| p.storage == crate::network::Storage::Procedural) {
        let targets = desc.populations[p.target].gids();
        if targets.end <= neurons.start || targets.start >= neurons.end {
            continue;
        }
        let kind = kinds.iter().position(|k| *k == p.synapse).expect("listed");
        let words = procedural::block_words(desc, p, neurons, slots, kind, scales[kind]);
        let words = gpu.storage("procedural block", &words, wgpu::BufferUsages::empty());
        let bind = GpuBackend::procedural_bind(gpu, &procedural_layout, &words, arrivals, ring);
        let source = procedural_source(&procedural::weight_source(&p.weight));
        procedural.push(ProceduralBlock {
            pipeline: pipeline("deliver procedural", &source, &procedural_layout),
            bind,
            sources: desc.populations[p.source].gids(),
            words,
        });
    }
    let mut blocks = Vec::new();
    for (r, chunks) in chunked {
        for chunk in chunks {
            let rows::ChunkArrays { offsets, targets, weights, delays } = r.chunk_arrays(&chunk);
            let first_source = r.sources.start + chunk.rows.start as u64;
            let meta = [
                first_source as u32,
                chunk.rows.len() as u32,
                r.first_delay,
                r.varying_delays as u32,
                n_rank as u32,
                slots,
                // The first word of the ring of the projection's synaptic kind.
                r.kind as u32 * slots * n_rank as u32,
            ];
            let buffers = [
                gpu.storage("block", &meta, wgpu::BufferUsages::empty()),
                gpu.storage("offsets", &offsets, wgpu::BufferUsages::empty()),
                gpu.storage("targets", targets, wgpu::BufferUsages::empty()),
                gpu.storage("weights", weights, wgpu::BufferUsages::empty()),
                gpu.storage("delays", &delays, wgpu::BufferUsages::empty()),
            ];
            let bind = GpuBackend::block_bind(gpu, block_layout, &buffers, arrivals, ring);
            let sources = offsets.windows(2).enumerate().filter(|(_, w)| w[1] > w[0]).map(|(row, _)| first_source + row as u64);
            blocks.push(Block { bind, sources: sources.collect(), synapses: targets.len() as u64, buffers });
        }
        // The host keeps no copy of the rows (`r` is dropped here): at 10^9 synapses
        // that would be 8 GB.
    }
    Ok((blocks, procedural, procedural_layout))
}

//! The GPU backend: a rank's neurons integrated on one GPU through wgpu, with the WGSL
//! shaders of shaders/ (DESIGN.md §2, §3).
//!
//! An epoch is recorded as one command buffer: for each step, the deliveries that fall
//! due (the same `InFlight` bookkeeping as the CPU: rings of `ring_slots` slots, the
//! synapses of spikes in flight delivered in windows), then one update dispatch per group
//! of neurons; then the epoch's spike list is copied back — the only readback per epoch.
//! State comes back only when asked for (checkpoints, tests, a state that left the
//! finite numbers).
//!
//! Determinism: the delay rings hold fixed-point integers (`fixed`), summed with integer
//! atomics, so a target's input is the same bits whatever the order the GPU runs the
//! additions in, and the same for any number of ranks; noise comes from the same keyed
//! Threefry as on the CPU (`shaders/rng.wgsl`). The GPU's results are not the CPU's bit
//! for bit (the CPU sums floats in canonical order; a GPU may fuse multiply-adds), but
//! their statistics are (tests/gpu.rs).

pub mod device;
pub mod estimate;
pub mod fixed;
pub mod layout;
mod procedural;
pub mod rows;
pub mod twin;

use super::{Backend, InvalidBuild, Probe, StatePiece};
use crate::connectivity::InFlight;
use crate::error::{Error, Result};
use crate::model::{NeuronGroup, NonFinite};
use crate::network::Description;
use crate::spike::Spike;
use crate::stimulus::{self, Reach, StimulusKind};
use device::Gpu;
use layout::{GroupHeader, StepRecord, HEADER_WORDS, STIMULUS_WORDS};
use rows::RowsError;
use std::num::NonZeroU64;
use std::ops::Range;
use std::time::{Duration, Instant};

const WORKGROUP: u32 = 64;
/// Workgroups per dimension of one dispatch (WebGPU's minimum, lavapipe's maximum).
const MAX_WORKGROUPS: u32 = 65_535;

/// The neurons of one population on this rank.
struct Group {
    population: usize,
    first_gid: u64,
    /// Index of its first neuron among the rank's.
    offset: usize,
    n: usize,
    /// The state as last read back (or as built): the host's view for checkpoints,
    /// voltages and the search for a non-finite state.
    host: NeuronGroup,
    state: wgpu::Buffer,
    params: wgpu::Buffer,
    info: wgpu::Buffer,
    /// Word of `info` where the epoch's amplitudes go, and the stimuli they are of.
    amplitudes_at: usize,
    stimuli: Vec<StimulusKind>,
    bind: wgpu::BindGroup,
    pipeline: usize,
}

/// A probe as the GPU takes it: rows of samples in a buffer, read back at
/// `take_samples` or when the buffer is full.
struct GpuProbe {
    probe: Probe,
    m: usize,
    info: wgpu::Buffer,
    /// Word of `info` where the row of each step of the epoch goes.
    rows_at: usize,
    samples: wgpu::Buffer,
    capacity: usize,
    /// Rows on the GPU not read back yet.
    rows: usize,
    /// Rows read back (when the buffer filled) and not yet handed over.
    pending: Vec<f32>,
    bind: Option<wgpu::BindGroup>,
}

/// A procedural projection on the GPU: its pipeline (the shader holds the weight) and
/// parameters.
struct ProceduralBlock {
    pipeline: wgpu::ComputePipeline,
    bind: wgpu::BindGroup,
    sources: Range<u64>,
    words: wgpu::Buffer,
}

/// One projection's rows on the GPU.
struct Block {
    bind: wgpu::BindGroup,
    /// Global ids of the sources that have synapses onto the rank (for the exchange);
    /// the rows themselves live on the GPU only.
    sources: Vec<u64>,
    synapses: u64,
    buffers: [wgpu::Buffer; 5],
}

pub struct GpuBackend {
    gpu: Gpu,
    neurons: Range<u64>,
    groups: Vec<Group>,
    blocks: Vec<Block>,
    procedural: Vec<ProceduralBlock>,
    procedural_layout: wgpu::BindGroupLayout,
    /// Update pipelines, one per model shader, with the shader's source.
    pipelines: Vec<(&'static str, wgpu::ComputePipeline)>,
    deliver: wgpu::ComputePipeline,
    sample: wgpu::ComputePipeline,
    probe_layout: wgpu::BindGroupLayout,
    probes: Vec<GpuProbe>,
    /// Steps between appends of the outputs, and of an epoch: what sizes a probe's rows.
    flush_steps: u64,
    epoch_steps: u64,
    step_layout: wgpu::BindGroupLayout,
    block_layout: wgpu::BindGroupLayout,
    steps: wgpu::Buffer,
    step_bind: wgpu::BindGroup,
    step_capacity: usize,
    /// Bytes between step records: the device's uniform offset alignment.
    step_stride: u64,
    arrivals: wgpu::Buffer,
    arrivals_capacity: usize,
    ring: wgpu::Buffer,
    slots: u32,
    /// The exponential kinds' state, and the host's copy of it (with the groups').
    syn: wgpu::Buffer,
    syn_host: Vec<Vec<f32>>,
    /// Per group, the neuron-steps whose v left a rate table, as (low, high) words.
    clamps: wgpu::Buffer,
    n_rank: usize,
    spikes: wgpu::Buffer,
    spike_capacity: u32,
    /// Entries read back with the count in one go: twice the last epoch's.
    readback_guess: usize,
    /// Where the epoch's spike list is copied for reading back, and the bytes copied.
    spike_staging: wgpu::Buffer,
    staged: u64,
    in_flight: InFlight,
    non_finite: Option<NonFinite>,
    epoch_time: Duration,
    /// Set when the host's copy of the state is older than the GPU's.
    host_stale: bool,
}

/// What the GPU backend cannot run yet, as one sentence; None if it can run `desc`.
pub fn unsupported(desc: &Description) -> Option<String> {
    for p in &desc.populations {
        if let Some(why) = p.model.gpu_unsupported() {
            return Some(format!("population '{}': {why}", p.name));
        }
    }
    for p in desc.projections.iter().filter(|p| p.storage == crate::network::Storage::Procedural) {
        if let Some(why) = procedural::unsupported(p) {
            return Some(why);
        }
    }
    if let Some(p) = desc.projections.iter().find(|p| p.delay.count() > 1 << 16) {
        return Some(format!("projection {}: more than 65,536 distinct delays", p.id));
    }
    None
}

/// A Poisson stimulus's table as `poisson_weight` (shaders/update.wgsl) reads it: the
/// CDF's 53-bit thresholds (`rng::poisson_thresholds`, as the CPU compares them) as
/// (high, low) words, then the f32 weight of k events for k = 0 ..= the CDF's length, as
/// the CPU rounds k·w.
fn poisson_table(thresholds: &[i64], weight: f64) -> Vec<u32> {
    let mut words = Vec::with_capacity(3 * thresholds.len() + 1);
    for &t in thresholds {
        words.extend([(t >> 32) as u32, t as u32]);
    }
    words.extend((0..=thresholds.len()).map(|k| ((k as f64 * weight) as f32).to_bits()));
    words
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
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

fn entries<'a>(buffers: &[&'a wgpu::Buffer]) -> Vec<wgpu::BindGroupEntry<'a>> {
    buffers.iter().enumerate().map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() }).collect()
}

/// Workgroups (x, y) for `count` workgroups in all: x at most 65,535.
fn grid(count: u32) -> (u32, u32) {
    let x = count.clamp(1, MAX_WORKGROUPS);
    (x, count.div_ceil(x).max(1))
}

const STEP: &str = include_str!("../../../shaders/step.wgsl");
const DELIVER: &str = include_str!("../../../shaders/deliver.wgsl");
const RNG: &str = include_str!("../../../shaders/rng.wgsl");
const CONNECTIVITY: &str = include_str!("../../../shaders/connectivity.wgsl");
const DELIVER_PROCEDURAL: &str = include_str!("../../../shaders/deliver_procedural.wgsl");
const SAMPLE: &str = include_str!("../../../shaders/sample.wgsl");

/// A shader that reads the step record: the record's declaration, then its source.
fn with_step(source: &str) -> String {
    format!("{STEP}\n{source}")
}

/// The update shader of a model: the shared random numbers and step, then the model's
/// `model_step`.
/// The update shader of a model: the step record, the header's constants (declared once,
/// in `layout`), the update loop and the model's own step.
fn update_source(model: &str) -> String {
    let header = layout::header_constants();
    with_step(&[RNG, include_str!("../../../shaders/noise.wgsl"), &header, include_str!("../../../shaders/update.wgsl"), model].join("\n"))
}

/// The delivery shader of a procedural projection whose weight is `weight`
/// (`procedural::weight_source`).
fn procedural_source(weight: &str) -> String {
    with_step(&[RNG, CONNECTIVITY, DELIVER_PROCEDURAL, weight].join("\n"))
}

const STEP_BYTES: u64 = std::mem::size_of::<StepRecord>() as u64;

impl GpuBackend {
    /// Builds the state and synapses of the neurons `neurons` of `desc` on `gpu`.
    pub fn build(desc: &Description, neurons: Range<u64>, gpu: Gpu) -> std::result::Result<GpuBackend, InvalidBuild> {
        if let Some(why) = unsupported(desc) {
            return Err(InvalidBuild {
                key: -1.0,
                error: Error::Option { option: "--backend gpu".into(), message: format!("{why}: use --backend cpu") },
            });
        }
        let n_rank = (neurons.end - neurons.start) as usize;
        let slots = desc.ring_slots();
        let epoch_steps = desc.epoch_steps() as usize;
        let scales = fixed::scales(desc);
        let device = &gpu.device;
        let usage = wgpu::BufferUsages::COPY_SRC;
        // A device that cannot hold the model fails its allocations: caught here and
        // reported as one error with what the model needs (the writes into a buffer that
        // failed to allocate are validation errors, caught by the outer scope).
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out_of_memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);

        // Layouts and pipelines.
        let step_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
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
        let group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
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
        let block_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
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
        let pipeline = |label: &str, source: &str, layout: &wgpu::BindGroupLayout| {
            let module = gpu.shader(label, source);
            let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(label),
                bind_group_layouts: &[Some(&step_layout), Some(layout)],
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
        };
        let deliver = pipeline("deliver", &with_step(DELIVER), &block_layout);
        let probe_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("probe"),
            entries: &[storage_entry(0, true), storage_entry(1, true), storage_entry(2, false)],
        });
        let sample = pipeline("sample", &with_step(SAMPLE), &probe_layout);

        // Shared buffers.
        let step_stride = STEP_BYTES.next_multiple_of(gpu.limits.min_uniform_buffer_offset_alignment as u64);
        let step_capacity = 2 * epoch_steps + 8;
        let steps = gpu.buffer("steps", step_capacity as u64 * step_stride, wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST);
        let step_bind = Self::step_bind(&gpu, &step_layout, &steps);
        let kinds = desc.synapse_kinds();
        let ring_words = kinds.len() as u64 * slots as u64 * n_rank as u64;
        // Arrays over neurons must each fit one storage binding, checked from the
        // description before anything is drawn or allocated; a rank past that (tens of
        // millions of neurons at a 4 GiB binding) takes more ranks. Synapses, which grow
        // with in-degree, are cut into chunks of whole rows instead (`GpuRows::chunks`).
        let binding = gpu.limits.max_storage_buffer_binding_size.min(gpu.limits.max_buffer_size);
        let fits = |what: String, bytes: u64| -> std::result::Result<(), InvalidBuild> {
            if bytes <= binding {
                return Ok(());
            }
            Err(InvalidBuild {
                key: -1.0,
                error: Error::Option {
                    option: "--backend gpu".into(),
                    message: format!(
                        "{what} of this rank take {} MB, more than the {} MB of one storage binding of the GPU {} \
                         (arrays over neurons are not split across bindings): use more ranks, or --backend cpu",
                        bytes.div_ceil(1 << 20),
                        binding >> 20,
                        device::describe(&gpu.info)
                    ),
                },
            })
        };
        fits("the delay rings".into(), ring_words * 4)?;
        for p in &desc.populations {
            let local = p.first_gid.max(neurons.start)..(p.first_gid + p.size).min(neurons.end);
            let n = local.end.saturating_sub(local.start);
            let vars = p.model.declaration().state.len() as u64;
            fits(format!("the state of population '{}'", p.name), vars * n * 4)?;
        }
        // The exponential kinds' state, kind after kind over the rank's neurons.
        let syn_host = vec![vec![0f32; n_rank]; kinds.len() - 1];
        let syn = gpu.buffer(
            "synaptic state",
            ((kinds.len() - 1) * n_rank * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | usage,
        );
        let mut kind_words = vec![(kinds.len() - 1) as u32, slots];
        for (k, kind) in kinds.iter().enumerate().skip(1) {
            let (tau, conductance, e_rev) = match *kind {
                crate::network::SynapseModel::ExpCurrent { tau_ms } => (tau_ms, 0, 0.0),
                crate::network::SynapseModel::ExpConductance { tau_ms, e_rev } => (tau_ms, 1, e_rev),
                crate::network::SynapseModel::Delta => unreachable!("kind 0 is the only delta kind"),
            };
            let decay = (-desc.dt_ms / tau).exp() as f32;
            kind_words.extend([decay.to_bits(), scales[k].inverse().to_bits(), conductance, (e_rev as f32).to_bits()]);
        }
        let ring = gpu.buffer("ring", ring_words * 4, wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | usage);
        // One entry per neuron-step of an epoch: the list cannot overflow, whatever the
        // activity (refused here if that does not fit one binding).
        let spike_entries = (n_rank as u64 * epoch_steps as u64).max(1024);
        fits("the spike list of one epoch".into(), 8 + spike_entries * 8)?;
        let spikes = gpu.buffer(
            "spikes",
            8 + spike_entries * 8,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        );
        let total = desc.total_neurons() as usize;
        let arrivals_capacity = (2 * total.max(1024)).min(gpu.limits.max_storage_buffer_binding_size as usize / 4);
        let arrivals = gpu.buffer("arrivals", arrivals_capacity as u64 * 4, wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST);
        let gauss: Vec<[f32; 2]> = crate::gaussian::table().entries().collect();
        let gauss = gpu.storage("gaussian table", &gauss, wgpu::BufferUsages::empty());

        // Neurons: at most one group per population on a rank.
        let group_count =
            desc.populations.iter().filter(|p| p.first_gid.max(neurons.start) < (p.first_gid + p.size).min(neurons.end)).count();
        let clamps = gpu.storage("clamps", &vec![0u32; 2 * group_count.max(1)], wgpu::BufferUsages::COPY_SRC);
        let mut groups = Vec::new();
        let mut pipelines: Vec<(&'static str, wgpu::ComputePipeline)> = Vec::new();
        let noise_key = crate::rng::key_for(desc.seed, crate::rng::Purpose::Noise);
        for (index, pop) in desc.populations.iter().enumerate() {
            let (lo, hi) = (pop.first_gid.max(neurons.start), (pop.first_gid + pop.size).min(neurons.end));
            if lo >= hi {
                continue;
            }
            let n = (hi - lo) as usize;
            let host =
                pop.model.build((lo..hi).map(|g| desc.neuron_uniform(g))).map_err(|e| super::cpu::invalid_value(desc, index, lo, e))?;
            let model = host.gpu_model().expect("checked by `unsupported`");
            let shader = model.shader;
            let pipeline_index = match pipelines.iter().position(|(s, _)| *s == shader) {
                Some(k) => k,
                None => {
                    pipelines.push((shader, pipeline(pop.model.declaration().model, &update_source(shader), &group_layout)));
                    pipelines.len() - 1
                }
            };
            let state: Vec<f32> = model.state.concat();
            let mut params = Vec::new();
            let mut layout = Vec::new();
            for (values, per_neuron) in &model.parameters {
                layout.extend([params.len() as u32, *per_neuron as u32]);
                params.extend_from_slice(values);
            }
            let reached = stimulus::for_group(&desc.stimuli, index, pop.first_gid, lo, n);
            // The header's words are filled in as the parts after it are laid out.
            let mut header = GroupHeader {
                offset: (lo - neurons.start) as u32,
                n: n as u32,
                first_gid_lo: lo as u32,
                first_gid_hi: (lo >> 32) as u32,
                ring_row: n_rank as u32,
                dt: (desc.dt_ms as f32).to_bits(),
                inv_scale: scales[0].inverse().to_bits(),
                noise_key_x: noise_key[0],
                noise_key_y: noise_key[1],
                stimuli: reached.len() as u32,
                ..GroupHeader::default()
            };
            let mut info = vec![0u32; HEADER_WORDS];
            header.params_at = info.len() as u32;
            info.extend(&layout);
            header.constants_at = info.len() as u32;
            info.extend(model.constants.iter().map(|c| c.to_bits()));
            header.stimuli_at = info.len() as u32;
            let stimuli_at = info.len();
            info.resize(stimuli_at + STIMULUS_WORDS * reached.len(), 0);
            for (k, s) in reached.iter().enumerate() {
                let at = stimuli_at + k * STIMULUS_WORDS;
                match s.kind() {
                    StimulusKind::Noise { std, stream } => {
                        info[at + 1] = *stream;
                        info[at + 2] = (*std as f32).to_bits();
                    }
                    StimulusKind::Poisson { weight, stream, .. } => {
                        info[at] = 2;
                        // The key of step 0; the shader mixes in the step's high word.
                        let key = crate::rng::poisson_key(desc.seed, *stream, 0);
                        info[at + 1] = key[0];
                        info[at + 2] = info.len() as u32;
                        info[at + 7] = s.thresholds().len() as u32;
                        info.push(key[1]);
                        info.extend(poisson_table(s.thresholds(), *weight));
                    }
                    _ => info[at] = 1,
                }
                match s.reach() {
                    Reach::All => info[at + 3] = 0,
                    Reach::Range(r) => {
                        info[at + 3] = 1;
                        info[at + 4] = r.start as u32;
                        info[at + 5] = r.end as u32;
                    }
                    Reach::List(ids) => {
                        info[at + 3] = 2;
                        let mask_at = info.len();
                        info[at + 6] = mask_at as u32;
                        info.resize(mask_at + n.div_ceil(32), 0);
                        for &i in ids {
                            info[mask_at + i as usize / 32] |= 1 << (i % 32);
                        }
                    }
                }
            }
            let amplitudes_at = info.len();
            header.amplitudes_at = amplitudes_at as u32;
            info.resize(amplitudes_at + epoch_steps * reached.len(), 0);
            header.spike_capacity = spike_entries as u32;
            header.conductances = host.integrates_conductances() as u32;
            header.group = groups.len() as u32;
            header.apart = host.takes_currents_apart() as u32;
            header.kinds_at = info.len() as u32;
            info.extend(&kind_words);
            info[..HEADER_WORDS].copy_from_slice(header.words());
            let state_buffer = gpu.storage("state", &state, usage);
            let params = gpu.storage("parameters", &params, wgpu::BufferUsages::empty());
            let info_buffer = gpu.storage("group", &info, wgpu::BufferUsages::empty());
            let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("group"),
                layout: &group_layout,
                entries: &entries(&[&info_buffer, &state_buffer, &params, &ring, &spikes, &gauss, &syn, &clamps]),
            });
            groups.push(Group {
                population: index,
                first_gid: lo,
                offset: (lo - neurons.start) as usize,
                n,
                host,
                state: state_buffer,
                info: info_buffer,
                params,
                amplitudes_at,
                stimuli: reached.iter().map(|s| s.kind().clone()).collect(),
                bind,
                pipeline: pipeline_index,
            });
        }

        // Synapses.
        let built = rows::build(desc, neurons.clone(), &scales).map_err(|e| match e {
            RowsError::Weight(w) => super::cpu::invalid_weight(desc, w),
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
            let words = procedural::block_words(desc, p, &neurons, slots, kind, scales[kind]);
            let words = gpu.storage("procedural block", &words, wgpu::BufferUsages::empty());
            let bind = Self::procedural_bind(&gpu, &procedural_layout, &words, &arrivals, &ring);
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
                let bind = Self::block_bind(&gpu, &block_layout, &buffers, &arrivals, &ring);
                let sources = offsets.windows(2).enumerate().filter(|(_, w)| w[1] > w[0]).map(|(row, _)| first_source + row as u64);
                blocks.push(Block { bind, sources: sources.collect(), synapses: targets.len() as u64, buffers });
            }
            // The host keeps no copy of the rows (`r` is dropped here): at 10^9 synapses
            // that would be 8 GB.
        }
        let spike_staging = gpu.buffer("spike readback", 8 + 1024 * 8, wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        gpu.wait();
        let (oom, invalid) = (pollster::block_on(out_of_memory.pop()), pollster::block_on(validation.pop()));
        if let Some(e) = oom {
            let needed = estimate::memory_estimate(desc, neurons.clone()).total();
            return Err(InvalidBuild {
                key: -1.0,
                error: Error::Option {
                    option: "--backend gpu".into(),
                    message: format!(
                        "the GPU {} ran out of memory building this rank ({e}); the rank needs about {} of device memory \
                         (`volley plan --backend gpu`): use more ranks, procedural = true, or --backend cpu",
                        device::describe(&gpu.info),
                        crate::units::fmt_bytes(needed)
                    ),
                },
            });
        }
        if let Some(e) = invalid {
            panic!("GPU {}: {e}", device::describe(&gpu.info));
        }
        Ok(GpuBackend {
            in_flight: InFlight::new(slots, desc.min_delay_steps(), desc.max_delay_steps()),
            gpu,
            neurons,
            groups,
            blocks,
            procedural,
            procedural_layout,
            pipelines,
            deliver,
            sample,
            probe_layout,
            probes: Vec::new(),
            flush_steps: desc.flush_steps(),
            epoch_steps: epoch_steps as u64,
            step_layout,
            block_layout,
            steps,
            step_bind,
            step_capacity,
            step_stride,
            arrivals,
            arrivals_capacity,
            ring,
            slots,
            syn,
            syn_host,
            clamps,
            n_rank,
            spikes,
            spike_capacity: spike_entries as u32,
            readback_guess: 1024,
            spike_staging,
            staged: 0,
            non_finite: None,
            epoch_time: Duration::ZERO,
            host_stale: false,
        })
    }

    /// Records and submits an epoch: the deliveries and updates of its steps in one
    /// command buffer, ending with the copy of the head of its spike list into the
    /// staging buffer that `collect_epoch` maps. Returns without waiting for the GPU.
    fn submit_epoch(&mut self, arrivals: &[Spike], first_step: u64, steps: u32) {
        self.in_flight.receive(arrivals);
        enum Op {
            Deliver { record: usize, spikes: u32 },
            Update { record: usize },
        }
        let (mut records, mut words, mut ops) = (Vec::new(), Vec::<u32>::new(), Vec::new());
        for k in 0..steps {
            let step = first_step + k as u64;
            if k == 0 || self.in_flight.due(step) {
                self.in_flight.deliver_due(step, |list, due| {
                    let at = words.len() as u32;
                    words.extend(list.iter().flat_map(|s| [s.step, s.gid]));
                    records.push(StepRecord {
                        spikes_at: at,
                        spikes_count: list.len() as u32,
                        due_lo: due.start as u32,
                        due_hi: due.end.min(u32::MAX as u64) as u32,
                        ..StepRecord::default()
                    });
                    ops.push(Op::Deliver { record: records.len() - 1, spikes: list.len() as u32 });
                });
            }
            records.push(StepRecord {
                step_lo: step as u32,
                step_hi: (step >> 32) as u32,
                slot: (step % self.slots as u64) as u32,
                index_in_epoch: k,
                ..StepRecord::default()
            });
            ops.push(Op::Update { record: records.len() - 1 });
        }
        self.reserve(records.len(), words.len());
        let sampled = self.plan_samples(first_step, steps);
        let queue = &self.gpu.queue;
        let mut bytes = vec![0u8; records.len() * self.step_stride as usize];
        for (k, r) in records.iter().enumerate() {
            let at = k * self.step_stride as usize;
            bytes[at..at + STEP_BYTES as usize].copy_from_slice(bytemuck::bytes_of(r));
        }
        queue.write_buffer(&self.steps, 0, &bytes);
        if !words.is_empty() {
            queue.write_buffer(&self.arrivals, 0, bytemuck::cast_slice(&words));
        }
        for g in &self.groups {
            if g.stimuli.iter().any(|s| !matches!(s, StimulusKind::Noise { .. })) {
                let amplitudes: Vec<u32> = (0..steps as u64)
                    .flat_map(|k| g.stimuli.iter().map(move |s| (s.amplitude_at(first_step + k) as f32).to_bits()))
                    .collect();
                queue.write_buffer(&g.info, g.amplitudes_at as u64 * 4, bytemuck::cast_slice(&amplitudes));
            }
        }
        queue.write_buffer(&self.spikes, 0, bytemuck::cast_slice(&[0u32, u32::MAX]));
        let mut encoder = self.gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("epoch") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("epoch"), timestamp_writes: None });
            for op in &ops {
                match *op {
                    Op::Deliver { record, spikes } => {
                        if spikes == 0 {
                            continue;
                        }
                        let (x, y) = grid(spikes);
                        if !self.blocks.is_empty() {
                            pass.set_pipeline(&self.deliver);
                            pass.set_bind_group(0, &self.step_bind, &[(record as u64 * self.step_stride) as u32]);
                            for b in &self.blocks {
                                pass.set_bind_group(1, &b.bind, &[]);
                                pass.dispatch_workgroups(x, y, 1);
                            }
                        }
                        for b in &self.procedural {
                            pass.set_pipeline(&b.pipeline);
                            pass.set_bind_group(0, &self.step_bind, &[(record as u64 * self.step_stride) as u32]);
                            pass.set_bind_group(1, &b.bind, &[]);
                            pass.dispatch_workgroups(x, y, 1);
                        }
                    }
                    Op::Update { record } => {
                        let k = records[record].index_in_epoch as usize;
                        for (p, due) in self.probes.iter().zip(&sampled) {
                            if let (true, Some(bind)) = (due[k], &p.bind) {
                                pass.set_pipeline(&self.sample);
                                pass.set_bind_group(0, &self.step_bind, &[(record as u64 * self.step_stride) as u32]);
                                pass.set_bind_group(1, bind, &[]);
                                let (x, y) = grid((p.m as u32).div_ceil(WORKGROUP));
                                pass.dispatch_workgroups(x, y, 1);
                            }
                        }
                        for g in &self.groups {
                            pass.set_pipeline(&self.pipelines[g.pipeline].1);
                            pass.set_bind_group(0, &self.step_bind, &[(record as u64 * self.step_stride) as u32]);
                            pass.set_bind_group(1, &g.bind, &[]);
                            let (x, y) = grid((g.n as u32).div_ceil(WORKGROUP));
                            pass.dispatch_workgroups(x, y, 1);
                        }
                    }
                }
            }
        }
        // The head of the spike list (count, non-finite step, the entries guessed from the
        // last epoch) into the persistent staging buffer, in the epoch's own submission.
        let guess = self.readback_guess.min(self.spike_capacity as usize);
        let staged = 8 + guess as u64 * 8;
        if self.spike_staging.size() < staged {
            self.spike_staging =
                self.gpu.buffer("spike readback", staged.next_power_of_two(), wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        }
        encoder.copy_buffer_to_buffer(&self.spikes, 0, &self.spike_staging, 0, staged);
        self.staged = staged;
        self.gpu.queue.submit([encoder.finish()]);
        self.host_stale = true;
    }

    /// Waits for the submitted epoch and appends its spikes, sorted, to `spikes`; names
    /// the first non-finite state if the epoch's update saw one.
    fn collect_epoch(&mut self, spikes: &mut Vec<Spike>) {
        let non_finite = self.read_spikes(spikes);
        if non_finite != u32::MAX && self.non_finite.is_none() {
            self.sync_host();
            let found = self
                .groups
                .iter()
                .find_map(|g| g.host.first_non_finite().map(|(i, variable, value)| (g.first_gid + i as u64, variable, value)));
            if let Some((gid, variable, value)) = found {
                self.non_finite = Some(NonFinite { gid, step: non_finite as u64, variable, value });
            }
        }
    }

    fn step_bind(gpu: &Gpu, layout: &wgpu::BindGroupLayout, steps: &wgpu::Buffer) -> wgpu::BindGroup {
        gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("step"),
            layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: steps,
                    offset: 0,
                    size: NonZeroU64::new(STEP_BYTES),
                }),
            }],
        })
    }

    fn block_bind(
        gpu: &Gpu,
        layout: &wgpu::BindGroupLayout,
        b: &[wgpu::Buffer; 5],
        arrivals: &wgpu::Buffer,
        ring: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("block"),
            layout,
            entries: &entries(&[&b[0], &b[1], &b[2], &b[3], &b[4], arrivals, ring]),
        })
    }

    fn procedural_bind(
        gpu: &Gpu,
        layout: &wgpu::BindGroupLayout,
        words: &wgpu::Buffer,
        arrivals: &wgpu::Buffer,
        ring: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("procedural"),
            layout,
            entries: &entries(&[words, arrivals, ring]),
        })
    }

    /// The adapter this backend runs on, in words.
    /// Blocks of stored rows on the GPU: one per projection onto the rank, more where a
    /// projection's arrays exceed one storage binding.
    pub fn stored_blocks(&self) -> usize {
        self.blocks.len()
    }

    pub fn adapter(&self) -> String {
        device::describe(&self.gpu.info)
    }

    /// Copies the GPU's state into the host's groups.
    fn sync_host(&mut self) {
        if !self.host_stale {
            return;
        }
        for g in &mut self.groups {
            let mut arrays = g.host.gpu_state_mut();
            let bytes = self.gpu.read(&g.state, 0, (arrays.len() * g.n * 4) as u64);
            let values: &[f32] = bytemuck::cast_slice(&bytes);
            for (k, array) in arrays.iter_mut().enumerate() {
                array.copy_from_slice(&values[k * g.n..(k + 1) * g.n]);
            }
        }
        if !self.syn_host.is_empty() {
            let bytes = self.gpu.read(&self.syn, 0, (self.syn_host.len() * self.n_rank * 4) as u64);
            let values: &[f32] = bytemuck::cast_slice(&bytes);
            for (k, kind) in self.syn_host.iter_mut().enumerate() {
                kind.copy_from_slice(&values[k * self.n_rank..(k + 1) * self.n_rank]);
            }
        }
        self.host_stale = false;
    }

    /// Copies the host's groups' state to the GPU.
    fn upload_host(&mut self) {
        for g in &mut self.groups {
            let arrays = g.host.gpu_state_mut();
            let values: Vec<f32> = arrays.iter().flat_map(|a| a.iter().copied()).collect();
            self.gpu.queue.write_buffer(&g.state, 0, bytemuck::cast_slice(&values));
        }
        if !self.syn_host.is_empty() {
            self.gpu.queue.write_buffer(&self.syn, 0, bytemuck::cast_slice(&self.syn_host.concat()));
        }
        self.gpu.wait();
    }

    /// Makes room for `records` step records and `words` words of arrivals.
    fn reserve(&mut self, records: usize, words: usize) {
        if records > self.step_capacity {
            self.step_capacity = records.next_power_of_two();
            self.steps = self.gpu.buffer(
                "steps",
                self.step_capacity as u64 * self.step_stride,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            );
            self.step_bind = Self::step_bind(&self.gpu, &self.step_layout, &self.steps);
        }
        if words > self.arrivals_capacity {
            let most = self.gpu.limits.max_storage_buffer_binding_size as usize / 4;
            assert!(words <= most, "spikes in flight ({} words) beyond one GPU binding ({most} words)", words);
            self.arrivals_capacity = words.next_power_of_two().min(most);
            self.arrivals =
                self.gpu.buffer("arrivals", self.arrivals_capacity as u64 * 4, wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST);
            // Every bind group that reads the arrivals reads the new buffer.
            for b in &mut self.blocks {
                b.bind = Self::block_bind(&self.gpu, &self.block_layout, &b.buffers, &self.arrivals, &self.ring);
            }
            for b in &mut self.procedural {
                b.bind = Self::procedural_bind(&self.gpu, &self.procedural_layout, &b.words, &self.arrivals, &self.ring);
            }
        }
    }

    /// Moves the rows of probe `k` on the GPU to its pending rows.
    fn read_samples(&mut self, k: usize) {
        let p = &mut self.probes[k];
        if p.rows == 0 || p.m == 0 {
            p.rows = 0;
            return;
        }
        let bytes = self.gpu.read(&p.samples, 0, (p.rows * p.m * 4) as u64);
        p.pending.extend_from_slice(bytemuck::cast_slice(&bytes));
        p.rows = 0;
    }

    /// For each probe, the steps of the epoch `first_step..+steps` it samples: reads back
    /// what would not fit, and writes the row of each due step.
    fn plan_samples(&mut self, first_step: u64, steps: u32) -> Vec<Vec<bool>> {
        let mut due = Vec::with_capacity(self.probes.len());
        for k in 0..self.probes.len() {
            let at: Vec<bool> = (0..steps as u64).map(|i| self.probes[k].probe.schedule.samples_at(first_step + i)).collect();
            let count = at.iter().filter(|&&d| d).count();
            if self.probes[k].m == 0 || count == 0 {
                due.push(vec![false; steps as usize]);
                continue;
            }
            if self.probes[k].rows + count > self.probes[k].capacity {
                self.read_samples(k);
            }
            let p = &mut self.probes[k];
            let mut rows = vec![0u32; steps as usize];
            for (i, &d) in at.iter().enumerate() {
                if d {
                    rows[i] = p.rows as u32;
                    p.rows += 1;
                }
            }
            self.gpu.queue.write_buffer(&p.info, p.rows_at as u64 * 4, bytemuck::cast_slice(&rows));
            due.push(at);
        }
        due
    }

    /// Reads the epoch's spikes back: the count, then the entries.
    fn read_spikes(&mut self, out: &mut Vec<Spike>) -> u32 {
        let guess = (self.staged as usize - 8) / 8;
        let bytes = self.gpu.map_and_read(&self.spike_staging, self.staged, self.staged);
        let words: &[u32] = bytemuck::cast_slice(&bytes);
        let (count, non_finite) = (words[0], words[1]);
        // An invariant, not a limit: the list holds one entry per neuron-step of an epoch.
        assert!(
            count <= self.spike_capacity,
            "{count} spikes in one epoch on this rank, more than the {} neuron-steps the GPU's list holds",
            self.spike_capacity
        );
        let start = out.len();
        let mut push = |w: &[u32]| out.extend(w.chunks_exact(2).map(|p| Spike { step: p[0], gid: p[1] }));
        push(&words[2..2 + 2 * (count as usize).min(guess)]);
        if count as usize > guess {
            let rest = self.gpu.read(&self.spikes, 8 + guess as u64 * 8, (count as u64 - guess as u64) * 8);
            push(bytemuck::cast_slice(&rest));
        }
        self.readback_guess = (2 * count as usize).max(1024);
        out[start..].sort_unstable();
        non_finite
    }
}

impl Backend for GpuBackend {
    fn add_probe(&mut self, probe: Probe) -> usize {
        let found = self.groups.iter().enumerate().find_map(|(k, g)| {
            let range = g.first_gid..g.first_gid + g.n as u64;
            let indices: Vec<u32> = probe.gids.iter().filter(|gid| range.contains(gid)).map(|&gid| (gid - g.first_gid) as u32).collect();
            (!indices.is_empty()).then_some((k, indices))
        });
        let (group, indices) = match found {
            Some((k, indices)) => (Some(k), indices),
            None => (None, Vec::new()),
        };
        let m = indices.len();
        // Rows of a flush period, at least an epoch's: read back early only if a flush
        // period's samples exceed a binding.
        let interval = probe.schedule.interval_steps.max(1);
        let per_epoch = self.epoch_steps.div_ceil(interval) as usize + 1;
        let most = (self.gpu.limits.max_storage_buffer_binding_size as usize / 4 / m.max(1)).max(per_epoch);
        let capacity = (self.flush_steps.div_ceil(interval) as usize + 1).max(per_epoch).min(most);
        // A declared state variable of the group, or beyond them, the state of an
        // exponential kind (`synapse.k`).
        let (n, declared, offset) = group.map_or((0, 0, 0), |k| {
            let g = &self.groups[k];
            (g.n, g.host.gpu_state_count(), g.offset)
        });
        let synaptic = probe.variable >= declared;
        let first = if synaptic { (probe.variable - declared) * self.n_rank + offset } else { probe.variable * n };
        let mut info = vec![m as u32, first as u32, 0];
        info.extend(&indices);
        let rows_at = info.len();
        info[2] = rows_at as u32;
        info.resize(rows_at + self.epoch_steps as usize, 0);
        let info = self.gpu.storage("probe", &info, wgpu::BufferUsages::empty());
        let samples = self.gpu.buffer("samples", (capacity * m * 4) as u64, wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC);
        let bind = group.map(|k| {
            self.gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("probe"),
                layout: &self.probe_layout,
                entries: &entries(&[&info, if synaptic { &self.syn } else { &self.groups[k].state }, &samples]),
            })
        });
        self.probes.push(GpuProbe { probe, m, info, rows_at, samples, capacity, rows: 0, pending: Vec::new(), bind });
        self.probes.len() - 1
    }

    fn take_samples(&mut self, probe: usize, out: &mut Vec<f32>) {
        self.read_samples(probe);
        out.append(&mut self.probes[probe].pending);
    }

    fn run_epoch(&mut self, arrivals: &[Spike], first_step: u64, steps: u32, spikes: &mut Vec<Spike>) {
        self.run_epoch_overlapped(arrivals, first_step, steps, spikes, &mut || {});
    }

    fn run_epoch_overlapped(
        &mut self,
        arrivals: &[Spike],
        first_step: u64,
        steps: u32,
        spikes: &mut Vec<Spike>,
        meanwhile: &mut dyn FnMut(),
    ) {
        let t0 = Instant::now();
        self.submit_epoch(arrivals, first_step, steps);
        let submitted = t0.elapsed();
        meanwhile();
        let t1 = Instant::now();
        self.collect_epoch(spikes);
        self.epoch_time += submitted + t1.elapsed();
    }

    fn overlaps_exchange(&self) -> bool {
        true
    }

    fn visit_state(&mut self, visit: &mut dyn FnMut(StatePiece<'_>) -> Result<()>) -> Result<()> {
        self.sync_host();
        for g in &mut self.groups {
            let (population, first_gid) = (g.population, g.first_gid);
            let arrays = g.host.checkpoint_arrays_mut();
            let model_arrays = arrays.len();
            for (array, values) in arrays.into_iter().enumerate() {
                visit(StatePiece { population, first_gid, array, values })?;
            }
            for (k, kind) in self.syn_host.iter_mut().enumerate() {
                let values = crate::model::StateArrayMut::F32(&mut kind[g.offset..g.offset + g.n]);
                visit(StatePiece { population, first_gid, array: model_arrays + k, values })?;
            }
        }
        // The visitor may have restored the state: the GPU takes the host's.
        self.upload_host();
        Ok(())
    }

    fn restore_in_flight(&mut self, epochs: &[Vec<Spike>], from_step: u64) {
        self.in_flight.restore(epochs, from_step);
    }

    fn neurons(&self) -> Range<u64> {
        self.neurons.clone()
    }

    fn memory_bytes(&self) -> usize {
        let groups: usize = self.groups.iter().map(|g| (g.state.size() + g.params.size() + g.info.size()) as usize).sum();
        let blocks: usize = self.blocks.iter().flat_map(|b| b.buffers.iter().map(|x| x.size() as usize)).sum();
        groups + blocks + (self.ring.size() + self.spikes.size() + self.arrivals.size() + self.steps.size()) as usize
    }

    fn non_finite(&self) -> Option<NonFinite> {
        self.non_finite.clone()
    }

    fn synapse_count(&self) -> u64 {
        self.blocks.iter().map(|b| b.synapses).sum()
    }

    fn voltages(&self) -> Vec<f32> {
        // The host's copy may be stale: read v (state variable 0) of each group.
        self.groups
            .iter()
            .flat_map(|g| {
                let bytes = self.gpu.read(&g.state, 0, g.n as u64 * 4);
                bytemuck::cast_slice::<u8, f32>(&bytes).to_vec()
            })
            .collect()
    }

    fn needed_sources(&self, total: u64) -> Vec<u64> {
        let mut needed = vec![0u64; total.div_ceil(64) as usize];
        for gid in self.blocks.iter().flat_map(|b| b.sources.iter().copied()) {
            needed[(gid / 64) as usize] |= 1 << (gid % 64);
        }
        // A procedural row may reach the rank from any source.
        for b in &self.procedural {
            for gid in b.sources.clone() {
                needed[(gid / 64) as usize] |= 1 << (gid % 64);
            }
        }
        needed
    }

    fn work_times(&self) -> (Duration, Duration) {
        // Delivery and update run in one submission per epoch: counted as update.
        (Duration::ZERO, self.epoch_time)
    }

    fn table_clamps(&self, populations: usize) -> Vec<u64> {
        let mut out = vec![0; populations];
        let bytes = self.gpu.read(&self.clamps, 0, self.groups.len() as u64 * 8);
        let words: &[u32] = bytemuck::cast_slice(&bytes);
        for (g, count) in self.groups.iter().zip(words.chunks_exact(2)) {
            out[g.population] += count[0] as u64 | (count[1] as u64) << 32;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The step record the shaders declare (shaders/step.wgsl) has the layout of the
    /// one the host writes (`StepRecord`): the same size, so no field is read shifted.
    #[test]
    fn the_shaders_step_record_is_the_hosts() {
        let module = wgpu::naga::front::wgsl::parse_str(STEP).unwrap();
        let step = module.types.iter().find(|(_, t)| t.name.as_deref() == Some("Step")).expect("struct Step");
        let wgpu::naga::TypeInner::Struct { members, span } = &step.1.inner else { panic!("Step is a struct") };
        assert_eq!(*span as u64, STEP_BYTES);
        let names: Vec<&str> = members.iter().map(|m| m.name.as_deref().unwrap_or("")).collect();
        assert_eq!(names, StepRecord::FIELDS, "the shader's fields are the host's, in order");
        assert!(members.iter().enumerate().all(|(k, m)| m.offset as usize == 4 * k), "one u32 per field");
    }

    /// Every shader parses and validates (naga, as wgpu compiles them): caught here
    /// without a GPU, not at the first run on one.
    #[test]
    fn every_shader_compiles() {
        use wgpu::naga;
        let models = [
            crate::model::izhikevich::IzhikevichGroup::gpu_shader(),
            crate::model::hh::HhGroup::gpu_shader(),
            crate::model::lif::LifGroup::gpu_shader(),
        ];
        let sources: Vec<(String, String)> = [("deliver".to_string(), with_step(DELIVER)), ("sample".to_string(), with_step(SAMPLE))]
            .into_iter()
            .chain(models.iter().map(|m| ("update".to_string(), update_source(m))))
            .chain(
                [
                    "0.5*u",
                    "-u",
                    "u^2 - 1/(u2 + 1) + exp(-u3)",
                    "min(u, 0.3)*2^-2 + abs(ln(1 - u))",
                    "sqrt(u)^1.5",
                    "3",
                    "1 + 0.1*probit(u)",
                ]
                .into_iter()
                .map(|text| {
                    let expr = crate::expr::Expr::parse(text, &["u", "u2", "u3"]).unwrap();
                    let weight = crate::network::WeightSpec::Expr { uniforms: expr.slots_used(), expr };
                    (format!("procedural {text}"), procedural_source(&procedural::weight_source(&weight)))
                }),
            )
            .chain(std::iter::once((
                "procedural normal".to_string(),
                procedural_source(&procedural::weight_source(&crate::network::WeightSpec::Normal {
                    mean: 1.0,
                    std: 0.5,
                    min: 0.0,
                    max: 2.0,
                    redraw: false,
                })),
            )))
            .collect();
        for (name, source) in sources {
            let module = naga::front::wgsl::parse_str(&source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)));
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
                .validate(&module)
                .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)));
        }
    }
}

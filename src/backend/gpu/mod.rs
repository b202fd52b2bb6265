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

mod blocks;
pub mod device;
mod epoch;
pub mod estimate;
pub mod fixed;
mod groups;
pub mod layout;
mod pipelines;
mod procedural;
pub mod rows;
pub mod twin;

use super::{Backend, InvalidBuild, Probe, StatePiece};
use crate::connectivity::InFlight;
use crate::error::{Error, Result};
use crate::model::NonFinite;
use crate::network::Description;
use crate::spike::Spike;
use crate::stimulus::StimulusKind;
use blocks::{Block, BlockSetup, ProceduralBlock};
use device::Gpu;
use groups::{Group, GroupSetup};
use layout::StepRecord;
use pipelines::*;
use std::num::NonZeroU64;
use std::ops::Range;
use std::time::{Duration, Instant};

const WORKGROUP: u32 = 64;

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

/// Refuses, before anything is drawn or allocated, a rank whose arrays over neurons (the
/// delay rings, a population's state, the spike list of an epoch) do not each fit one
/// storage binding: a rank past that (tens of millions of neurons at a 4 GiB binding)
/// takes more ranks. Synapses, which grow with in-degree, are cut into chunks of whole
/// rows instead (`GpuRows::chunks`).
fn fits_bindings(
    desc: &Description,
    neurons: &Range<u64>,
    gpu: &Gpu,
    ring_words: u64,
    spike_entries: u64,
) -> std::result::Result<(), InvalidBuild> {
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
    fits("the spike list of one epoch".into(), 8 + spike_entries * 8)
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
    if let Some(s) = desc.stimuli.iter().find(|s| s.kind.cpu_only()) {
        return Some(format!(
            "population '{}': sine stimuli and noise with a window or an interval run on the CPU backend only (--backend cpu)",
            desc.populations[s.population].name
        ));
    }
    if let Some(s) = desc.stimuli.iter().find(|s| matches!(s.kind, crate::stimulus::StimulusKind::Pick { .. })) {
        return Some(format!(
            "population '{}': pick stimuli (a few neurons drawn per step) run on the CPU backend only (--backend cpu)",
            desc.populations[s.population].name
        ));
    }
    if let Some(p) = desc.projections.iter().find(|p| p.synapse.is_alpha()) {
        return Some(format!(
            "projection {}: {} synapses run on the CPU backend only (--backend cpu)",
            p.id,
            crate::synapse::describe_kind(p.synapse).split(',').next().unwrap_or_default()
        ));
    }
    if let Some(p) = desc.projections.iter().find(|p| p.plasticity.is_some()) {
        return Some(format!("projection {}: plastic synapses run on the CPU backend only (--backend cpu)", p.id));
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
        let layouts = Layouts::new(&gpu);
        let (step_layout, block_layout) = (&layouts.step, &layouts.block);
        let pipeline = |label: &str, source: &str, layout: &wgpu::BindGroupLayout| layouts.pipeline(&gpu, label, source, layout);
        let deliver = pipeline("deliver", &with_step(DELIVER), block_layout);
        let probe_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("probe"),
            entries: &[storage_entry(0, true), storage_entry(1, true), storage_entry(2, false)],
        });
        let sample = pipeline("sample", &with_step(SAMPLE), &probe_layout);

        // Shared buffers.
        let step_stride = STEP_BYTES.next_multiple_of(gpu.limits.min_uniform_buffer_offset_alignment as u64);
        let step_capacity = 2 * epoch_steps + 8;
        let steps = gpu.buffer("steps", step_capacity as u64 * step_stride, wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST);
        let step_bind = Self::step_bind(&gpu, step_layout, &steps);
        let kinds = desc.synapse_kinds();
        let ring_words = kinds.len() as u64 * slots as u64 * n_rank as u64;
        // One entry per neuron-step of an epoch: the list cannot overflow, whatever the
        // activity (refused here if that does not fit one binding).
        let spike_entries = (n_rank as u64 * epoch_steps as u64).max(1024);
        fits_bindings(desc, &neurons, &gpu, ring_words, spike_entries)?;
        // The exponential kinds' state, kind after kind over the rank's neurons.
        let syn_host = vec![vec![0f32; n_rank]; kinds.len() - 1];
        let syn = gpu.buffer(
            "synaptic state",
            ((kinds.len() - 1) * n_rank * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | usage,
        );
        let kind_words = groups::kind_words(desc, &scales);
        let ring = gpu.buffer("ring", ring_words * 4, wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | usage);
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
        let setup = GroupSetup {
            desc,
            neurons: neurons.clone(),
            epoch_steps,
            inv_scale: scales[0].inverse(),
            spike_entries,
            kind_words: &kind_words,
            gpu: &gpu,
            layouts: &layouts,
            shared: [&ring, &spikes, &gauss, &syn, &clamps],
        };
        let (groups, pipelines) = groups::build(&setup)?;
        // Synapses.
        let (blocks, procedural, procedural_layout) = blocks::build(&BlockSetup {
            desc,
            neurons: &neurons,
            gpu: &gpu,
            layouts: &layouts,
            scales: &scales,
            arrivals: &arrivals,
            ring: &ring,
        })?;
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
            step_layout: step_layout.clone(),
            block_layout: block_layout.clone(),
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

    /// Blocks of stored rows on the GPU: one per projection onto the rank, more where a
    /// projection's arrays exceed one storage binding.
    pub fn stored_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The adapter this backend runs on, in words.
    pub fn adapter(&self) -> String {
        device::describe(&self.gpu.info)
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
        let lists: Vec<std::sync::Arc<Vec<Spike>>> = epochs.iter().map(|e| std::sync::Arc::new(e.clone())).collect();
        self.in_flight.restore(&lists, from_step);
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

    fn work_times(&self) -> super::WorkTimes {
        // Delivery and update run in one submission per epoch: counted as update.
        super::WorkTimes { update: self.epoch_time, ..Default::default() }
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
        // Models without a WGSL twin (spike sources) are refused by the GPU backend.
        let models: Vec<&str> = crate::model::KINDS.iter().map(|k| k.shader).filter(|s| !s.is_empty()).collect();
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

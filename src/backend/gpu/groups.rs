//! The neurons of a rank on the GPU: one group per population, each with its state,
//! parameters and `info` buffer (the header of `layout`, then the parameters' layout, the
//! model's constants, the stimuli's records and the epoch's amplitudes), and the update
//! pipeline of its model.

use super::layout::{GroupHeader, HEADER_WORDS, STIMULUS_WORDS};
use super::pipelines::{entries, update_source, Layouts};
use super::{poisson_table, Gpu, InvalidBuild};
use crate::model::NeuronGroup;
use crate::network::Description;
use crate::stimulus::{self, Reach, StimulusKind};
use std::ops::Range;

/// The neurons of one population on this rank.
pub(super) struct Group {
    pub(super) population: usize,
    pub(super) first_gid: u64,
    /// Index of its first neuron among the rank's.
    pub(super) offset: usize,
    pub(super) n: usize,
    /// The state as last read back (or as built): the host's view for checkpoints,
    /// voltages and the search for a non-finite state.
    pub(super) host: NeuronGroup,
    pub(super) state: wgpu::Buffer,
    pub(super) params: wgpu::Buffer,
    pub(super) info: wgpu::Buffer,
    /// Word of `info` where the epoch's amplitudes go, and the stimuli they are of.
    pub(super) amplitudes_at: usize,
    pub(super) stimuli: Vec<StimulusKind>,
    pub(super) bind: wgpu::BindGroup,
    pub(super) pipeline: usize,
}

/// The update pipelines of a rank's models, each with its model's shader.
pub(super) type Pipelines = Vec<(&'static str, wgpu::ComputePipeline)>;

/// What the groups of a rank are built against.
pub(super) struct GroupSetup<'a> {
    pub desc: &'a Description,
    pub neurons: Range<u64>,
    pub epoch_steps: usize,
    /// 1 / the fixed-point scale of the delta ring.
    pub inv_scale: f32,
    /// Entries of the spike list.
    pub spike_entries: u64,
    /// The exponential synaptic kinds, as the header's `kinds_at` points to them.
    pub kind_words: &'a [u32],
    pub gpu: &'a Gpu,
    pub layouts: &'a Layouts,
    /// The rank's buffers every group binds: the ring, the spike list, the Gaussian
    /// table, the synaptic state, the table clamps.
    pub shared: [&'a wgpu::Buffer; 5],
}

/// The groups of the rank's neurons, and the update pipelines of their models (one per
/// model, in order of first use).
pub(super) fn build(setup: &GroupSetup) -> Result<(Vec<Group>, Pipelines), InvalidBuild> {
    let GroupSetup { desc, epoch_steps, spike_entries, kind_words, gpu, layouts, .. } = *setup;
    let neurons = &setup.neurons;
    let n_rank = (neurons.end - neurons.start) as usize;
    let device = &gpu.device;
    let usage = wgpu::BufferUsages::COPY_SRC;
    let group_layout = &layouts.group;
    let [ring, spikes, gauss, syn, clamps] = setup.shared;
    let mut groups = Vec::new();
    let mut pipelines: Pipelines = Vec::new();
    let noise_key = crate::rng::key_for(desc.seed, crate::rng::Purpose::Noise);
    for (index, pop) in desc.populations.iter().enumerate() {
        let (lo, hi) = (pop.first_gid.max(neurons.start), (pop.first_gid + pop.size).min(neurons.end));
        if lo >= hi {
            continue;
        }
        let n = (hi - lo) as usize;
        let host = pop
            .model
            .build_at(lo - pop.first_gid, (lo..hi).map(|g| desc.neuron_uniform(g)))
            .map_err(|e| crate::backend::build_error::invalid_value(desc, index, lo, e))?;
        let model = host.gpu_model().expect("checked by `unsupported`");
        let shader = model.shader;
        let pipeline_index = match pipelines.iter().position(|(s, _)| *s == shader) {
            Some(k) => k,
            None => {
                pipelines.push((shader, layouts.pipeline(gpu, pop.model.declaration().model, &update_source(shader), group_layout)));
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
            inv_scale: setup.inv_scale.to_bits(),
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
                StimulusKind::Noise { std, stream, .. } => {
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
        info.extend(kind_words);
        info[..HEADER_WORDS].copy_from_slice(header.words());
        let state_buffer = gpu.storage("state", &state, usage);
        let params = gpu.storage("parameters", &params, wgpu::BufferUsages::empty());
        let info_buffer = gpu.storage("group", &info, wgpu::BufferUsages::empty());
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("group"),
            layout: group_layout,
            entries: &entries(&[&info_buffer, &state_buffer, &params, ring, spikes, gauss, syn, clamps]),
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

    Ok((groups, pipelines))
}

/// The exponential synaptic kinds as a group's header points to them (`kinds_at`): their
/// count and the ring's slots, then per kind exp(-dt/tau), the fixed-point inverse scale,
/// 1 for a conductance (0 for a current), and e_rev.
pub(super) fn kind_words(desc: &Description, scales: &[super::fixed::FixedScale]) -> Vec<u32> {
    let kinds = desc.synapse_kinds();
    let mut words = vec![(kinds.len() - 1) as u32, desc.ring_slots()];
    for (k, kind) in kinds.iter().enumerate().skip(1) {
        let (tau, conductance, e_rev) = match *kind {
            crate::network::SynapseModel::ExpCurrent { tau_ms } => (tau_ms, 0, 0.0),
            crate::network::SynapseModel::ExpConductance { tau_ms, e_rev } => (tau_ms, 1, e_rev),
            crate::network::SynapseModel::AlphaConductance { .. } | crate::network::SynapseModel::AlphaCurrent { .. } => {
                unreachable!("refused by gpu::unsupported")
            }
            crate::network::SynapseModel::Delta => unreachable!("kind 0 is the only delta kind"),
        };
        let decay = (-desc.dt_ms / tau).exp() as f32;
        words.extend([decay.to_bits(), scales[k].inverse().to_bits(), conductance, (e_rev as f32).to_bits()]);
    }
    words
}

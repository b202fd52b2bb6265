//! Running an epoch on the GPU: the deliveries and updates of its steps recorded into one
//! command buffer and submitted, the spike list read back and sorted, the probes' rows
//! planned and read, and the host's copy of the state kept in step for checkpoints.

use super::*;

impl GpuBackend {
    /// Records and submits an epoch: the deliveries and updates of its steps in one
    /// command buffer, ending with the copy of the head of its spike list into the
    /// staging buffer that `collect_epoch` maps. Returns without waiting for the GPU.
    pub(super) fn submit_epoch(&mut self, arrivals: &[Spike], first_step: u64, steps: u32) {
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
    pub(super) fn collect_epoch(&mut self, spikes: &mut Vec<Spike>) {
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

    /// Copies the GPU's state into the host's groups.
    pub(super) fn sync_host(&mut self) {
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
    pub(super) fn upload_host(&mut self) {
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
    pub(super) fn reserve(&mut self, records: usize, words: usize) {
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
    pub(super) fn read_samples(&mut self, k: usize) {
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
    pub(super) fn plan_samples(&mut self, first_step: u64, steps: u32) -> Vec<Vec<bool>> {
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
    pub(super) fn read_spikes(&mut self, out: &mut Vec<Spike>) -> u32 {
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

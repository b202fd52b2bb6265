//! A population's neurons on one shard: their state, the two integrators (exponential
//! Euler from the tables, RK4 on the exact functions), and the bridges to checkpoints
//! and the GPU.

use super::*;

/// The f64 state RK4 integrates: v, then state s of neuron i at `x[s · n + i]`.
#[derive(Clone, Debug)]
pub(super) struct Exact {
    pub(super) v: Vec<f64>,
    pub(super) x: Vec<f64>,
}

#[derive(Clone, Debug)]
pub struct HhGroup {
    pub(super) spec: HhSpec,
    pub(super) sharing: Sharing,
    pub(super) table: GateTable,
    pub v: Vec<f32>,
    /// Gate states (`Sharing::states`): state s of neuron i at `x[s · n + i]`, so that
    /// each state's values of a block of neurons are contiguous.
    pub(super) x: Vec<f32>,
    pub(super) exact: Option<Exact>,
    /// 1 where v crossed the threshold upwards in the last step (bytes, so that the scan
    /// for spikes reads eight neurons at a time).
    pub(super) crossed: Vec<u8>,
    /// Neuron-steps whose v lay outside the table.
    pub clamped: u64,
    /// What the kernel needs, worked out once: the channels' terms, each state's table
    /// columns, and room for every column's interpolated values of one block.
    pub(super) channels: Vec<ChannelTerms>,
    pub(super) state_columns: Vec<(usize, usize)>,
    pub(super) columns: Vec<f32>,
}

/// What the exponential-Euler kernel needs of a population, in f32.
#[derive(Clone, Copy)]
pub(super) struct Membrane {
    pub(super) g_l: f32,
    pub(super) g_l_e_l: f32,
    pub(super) threshold: f32,
    pub(super) dt_over_cm: f32,
    pub(super) v_min: f32,
    pub(super) inv_dv: f32,
    /// Last table point index, as f32.
    pub(super) last: f32,
    /// Words per table point.
    pub(super) columns: usize,
}

/// One channel's terms: maximal conductance, reversal, its gates.
#[derive(Clone, Debug)]
pub(super) struct ChannelTerms {
    pub(super) g: f32,
    pub(super) e_rev: f32,
    pub(super) gates: Vec<GateTerm>,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct GateTerm {
    pub(super) state: usize,
    pub(super) power: u32,
    /// The first gate (channels in order) with this state: it updates the state.
    pub(super) first: bool,
}

impl Group for HhGroup {
    fn len(&self) -> usize {
        self.v.len()
    }

    /// The state per neuron and the rate tables.
    fn bytes(&self) -> usize {
        self.len() * self.spec.bytes_per_neuron() + self.table.bytes()
    }

    /// One step of every neuron with input current `input[i] + common` (pA) and the
    /// synaptic currents and conductances `synaptic` (a conductance joins the ion
    /// channels: g and g·E in the membrane's balance). Returns true if some state is no
    /// longer finite.
    fn step(&mut self, step: &StepInput) -> bool {
        debug_assert!(step.currents.is_none(), "one input current: the stimuli's are in `input`");
        match self.spec.integrator {
            Integrator::ExponentialEuler => self.step_exponential_euler(step.input, step.common, step.synaptic, step.dt),
            Integrator::Rk4 => self.step_rk4(step.input, step.common, step.synaptic, step.dt as f64),
        }
    }

    #[inline]
    fn collect_spikes(&self, emit: impl FnMut(usize)) {
        crate::simd::each_nonzero(&self.crossed, emit)
    }

    fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        self.v.iter().position(|v| !v.is_finite()).map(|i| (i, "v", self.v[i]))
    }

    /// The `k`-th state variable of the declaration: v, then each distinct gate state.
    fn state_variable(&self, k: usize) -> Option<&[f32]> {
        let n = self.v.len();
        match k {
            0 => Some(&self.v),
            k if k <= self.sharing.states.len() => Some(&self.x[(k - 1) * n..k * n]),
            _ => None,
        }
    }

    /// Every array of state a step reads that a checkpoint must restore, in the order
    /// of `HhSpec::checkpoint_names`: v and each shared gate state (f32), then, under
    /// RK4, their f64 copies. (`crossed` is rewritten by every step before it is read.)
    fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
        let n = self.v.len();
        let mut out: Vec<StateArrayMut<'_>> = vec![StateArrayMut::F32(&mut self.v)];
        if n > 0 {
            out.extend(self.x.chunks_exact_mut(n).map(StateArrayMut::F32));
        } else {
            out.extend((0..self.sharing.states.len()).map(|_| StateArrayMut::F32(&mut [])));
        }
        if let Some(exact) = self.exact.as_mut() {
            out.push(StateArrayMut::F64(&mut exact.v));
            if n > 0 {
                out.extend(exact.x.chunks_exact_mut(n).map(StateArrayMut::F64));
            } else {
                out.extend((0..self.sharing.states.len()).map(|_| StateArrayMut::F64(&mut [])));
            }
        }
        out
    }

    /// The group as the GPU steps it (`shaders/hh.wgsl`): state v and the gate states;
    /// the rate table as one flat parameter; the membrane and the channels' structure as
    /// constants. None under RK4 (f64, which not every GPU has).
    fn gpu_model(&self) -> Option<GpuModel> {
        if self.spec.integrator != Integrator::ExponentialEuler {
            return None;
        }
        let (spec, t) = (&self.spec, &self.table);
        let word = |u: usize| f32::from_bits(u as u32);
        let mut constants = vec![
            spec.g_l as f32,
            (spec.g_l * spec.e_l) as f32,
            spec.threshold as f32,
            spec.dt_ms as f32 / spec.cm as f32,
            t.v_min as f32,
            (1.0 / t.dv) as f32,
            (t.points - 1) as f32,
            word(t.columns),
            word(self.state_columns.len()),
            word(self.channels.len()),
        ];
        for &(inf, decay) in &self.state_columns {
            constants.extend([word(inf), word(decay)]);
        }
        for c in &self.channels {
            constants.extend([c.g, c.e_rev, word(c.gates.len())]);
            for g in &c.gates {
                constants.extend([word(g.state), word(g.power as usize)]);
            }
        }
        let table: Vec<f32> =
            t.data[..t.points * t.columns].iter().flat_map(|&w| [f32::from_bits(w as u32), f32::from_bits((w >> 32) as u32)]).collect();
        let n = self.v.len();
        let mut state = vec![self.v.clone()];
        state.extend((0..self.sharing.states.len()).map(|s| self.x[s * n..(s + 1) * n].to_vec()));
        Some(GpuModel { shader: HhSpec::KIND.shader, state, parameters: vec![(table, false)], constants })
    }

    /// v, then each distinct gate state.
    fn gpu_state_count(&self) -> usize {
        1 + self.sharing.states.len()
    }

    /// The state arrays of `gpu_model`: v, then each gate state.
    fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        let n = self.v.len();
        let mut out: Vec<&mut [f32]> = vec![&mut self.v];
        if n > 0 {
            out.extend(self.x.chunks_exact_mut(n));
        }
        out
    }

    fn clamped(&self) -> u64 {
        self.clamped
    }
}

impl HhGroup {
    pub(super) fn step_exponential_euler(&mut self, input: &[f32], common: f32, synaptic: &Synaptic, dt: f32) -> bool {
        let spec = &self.spec;
        let table = &self.table;
        let membrane = Membrane {
            g_l: spec.g_l as f32,
            g_l_e_l: (spec.g_l * spec.e_l) as f32,
            threshold: spec.threshold as f32,
            dt_over_cm: dt / spec.cm as f32,
            v_min: table.v_min as f32,
            inv_dv: (1.0 / table.dv) as f32,
            last: (table.points - 1) as f32,
            columns: table.columns,
        };
        let (non_finite, clamped) = exp_euler_dispatch(
            &mut self.v,
            &mut self.x,
            &mut self.crossed,
            input,
            common,
            &table.data,
            &membrane,
            &self.state_columns,
            &self.channels,
            synaptic,
            &mut self.columns,
        );
        self.clamped += clamped;
        non_finite
    }

    /// dv/dt of neurons `v` with gate states `x` (state s of neuron i at x[s·n + i]) and
    /// input current `i_app`, and each state's dx/dt into `dx`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn derivatives(
        spec: &HhSpec,
        sharing: &Sharing,
        v: &[f64],
        x: &[f64],
        i_app: &[f64],
        conductances: &[(f64, &[f32])],
        dv: &mut [f64],
        dx: &mut [f64],
        scratch: &mut Scratch,
    ) {
        let n = v.len();
        for i in 0..n {
            dv[i] = i_app[i] - spec.g_l * (v[i] - spec.e_l);
        }
        for &(e_rev, g) in conductances {
            for i in 0..n {
                dv[i] += g[i] as f64 * (e_rev - v[i]);
            }
        }
        scratch.vars.resize(1, Vec::new());
        scratch.vars[0].clear();
        scratch.vars[0].extend_from_slice(v);
        let vars = &scratch.vars[..];
        let gates: Vec<&GateSpec> = spec.gates().collect();
        for (s, &j) in sharing.states.iter().enumerate() {
            // The rate functions of all neurons at once: one pass of each program.
            match &gates[j].rates {
                Rates::InfTau { inf, tau } => {
                    inf.eval_batch(n, vars, &mut scratch.inf);
                    tau.eval_batch(n, vars, &mut scratch.tau);
                }
                Rates::AlphaBeta { alpha, beta } => {
                    alpha.eval_batch(n, vars, &mut scratch.inf);
                    beta.eval_batch(n, vars, &mut scratch.tau);
                    for (a, b) in scratch.inf.iter_mut().zip(scratch.tau.iter_mut()) {
                        let sum = *a + *b;
                        (*a, *b) = (*a / sum, 1.0 / sum);
                    }
                }
            }
            for i in 0..n {
                dx[s * n + i] = (scratch.inf[i] - x[s * n + i]) / scratch.tau[i];
            }
        }
        let mut j = 0;
        for c in &spec.channels {
            scratch.open.clear();
            scratch.open.resize(n, 1.0);
            for g in &c.gates {
                let s = sharing.gates[j].state;
                for (o, &xv) in scratch.open.iter_mut().zip(&x[s * n..(s + 1) * n]) {
                    *o *= xv.powi(g.power as i32);
                }
                j += 1;
            }
            for i in 0..n {
                dv[i] -= c.g * scratch.open[i] * (v[i] - c.e_rev);
            }
        }
        dv.iter_mut().for_each(|d| *d /= spec.cm);
    }

    /// Classic RK4 in f64 on the exact rate functions: the reference.
    #[allow(clippy::needless_range_loop)] // stages and state in lockstep, by index
    pub(super) fn step_rk4(&mut self, input: &[f32], common: f32, synaptic: &Synaptic, dt: f64) -> bool {
        let spec = &self.spec;
        let exact = self.exact.as_mut().expect("RK4 keeps f64 state");
        let n = exact.v.len();
        let g = self.sharing.states.len();
        let mut i_app: Vec<f64> = input[..n].iter().map(|&x| x as f64 + common as f64).collect();
        // Synaptic currents, and conductances with their reversal potentials, held over
        // the step (they change by their own dynamics, step by step).
        let mut conductances: Vec<(f64, &[f32])> = Vec::new();
        for kind in synaptic.iter() {
            match kind {
                SynapticInput::Current { i: c, .. } => i_app.iter_mut().zip(c).for_each(|(i, &c)| *i += c as f64),
                SynapticInput::Conductance { g, e_rev, .. } => conductances.push((e_rev as f64, g)),
            }
        }
        let mut scratch = Scratch::default();
        let (mut kv, mut kx): (Vec<Vec<f64>>, Vec<Vec<f64>>) =
            ((0..4).map(|_| vec![0.0; n]).collect(), (0..4).map(|_| vec![0.0; g * n]).collect());
        let (mut v_mid, mut x_mid) = (vec![0.0; n], vec![0.0; g * n]);
        for stage in 0..4 {
            let h = [0.0, 0.5, 0.5, 1.0][stage] * dt;
            if stage == 0 {
                v_mid.copy_from_slice(&exact.v);
                x_mid.copy_from_slice(&exact.x);
            } else {
                for i in 0..n {
                    v_mid[i] = exact.v[i] + h * kv[stage - 1][i];
                }
                for k in 0..g * n {
                    x_mid[k] = exact.x[k] + h * kx[stage - 1][k];
                }
            }
            let (dv, dx) = (&mut kv[stage], &mut kx[stage]);
            Self::derivatives(spec, &self.sharing, &v_mid, &x_mid, &i_app, &conductances, dv, dx, &mut scratch);
        }
        let mut non_finite = false;
        for i in 0..n {
            let v0 = exact.v[i];
            let v = v0 + dt / 6.0 * (kv[0][i] + 2.0 * kv[1][i] + 2.0 * kv[2][i] + kv[3][i]);
            exact.v[i] = v;
            self.crossed[i] = (v0 < spec.threshold && v >= spec.threshold) as u8;
            self.v[i] = v as f32;
            non_finite |= !v.is_finite();
        }
        for k in 0..g * n {
            exact.x[k] += dt / 6.0 * (kx[0][k] + 2.0 * kx[1][k] + 2.0 * kx[2][k] + kx[3][k]);
            self.x[k] = exact.x[k] as f32;
        }
        non_finite
    }

    /// The value of gate `j` (channels in order, their gates in order) of every neuron.
    pub fn gate(&self, j: usize) -> &[f32] {
        let (n, s) = (self.v.len(), self.sharing.gates[j].state);
        &self.x[s * n..(s + 1) * n]
    }
}

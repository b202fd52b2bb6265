//! The backend kinds, and what each answers for itself before anything is built: whether
//! it can run a model and, if not, why; how much memory a rank's share needs; the host's
//! peak beside it. `plan`, `check` and `run` ask the kind the run's choice resolves to,
//! and never choose by name; `backend::build` builds the same kind.

use super::BackendChoice;
use crate::model::NeuronModel;
use crate::network::{Description, Storage};
use std::ops::Range;

/// Bytes a backend will allocate for a rank's share, computed without allocating: on
/// the host for the CPU backend, on the device for a GPU.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryEstimate {
    pub state: u64,
    pub synapses: u64,
    pub buffers: u64,
    /// The most synapses one projection puts onto one thread's shard (CPU: CSR offsets
    /// are u32, so at most 2^32 - 1) or one rank (GPU).
    pub largest_shard_projection: u64,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.state + self.synapses + self.buffers
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// CPU threads (shards on worker threads).
    Cpu,
    /// A GPU through wgpu.
    Gpu,
}

impl BackendKind {
    /// The kind `choice` runs `desc` on here: `auto` takes a hardware GPU where this
    /// machine has one and it runs the model, else the CPU.
    pub fn resolve(choice: BackendChoice, desc: &Description) -> BackendKind {
        match choice {
            BackendChoice::Cpu => BackendKind::Cpu,
            BackendChoice::Gpu => BackendKind::Gpu,
            BackendChoice::Auto if BackendKind::Gpu.unsupported(desc).is_none() && gpu_hardware_present() => BackendKind::Gpu,
            BackendChoice::Auto => BackendKind::Cpu,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Gpu => "gpu",
        }
    }

    /// Why this kind cannot run `desc`, if so (one line, without "use --backend cpu").
    pub fn unsupported(self, desc: &Description) -> Option<String> {
        match self {
            BackendKind::Cpu => None,
            #[cfg(feature = "gpu")]
            BackendKind::Gpu => super::gpu::unsupported(desc),
            #[cfg(not(feature = "gpu"))]
            BackendKind::Gpu => {
                let _ = desc;
                Some("this volley was built without the GPU backend (cargo feature `gpu`)".into())
            }
        }
    }

    /// What one step of one neuron of `model` costs on one thread, in ns (noise and
    /// synapses aside), measured on the reference machine (BENCHMARKS.md "Planner"):
    /// the model's own figure on the CPU. No GPU figure has been measured yet, so the
    /// planner's time is the CPU's.
    pub fn neuron_step_ns(self, model: &NeuronModel) -> Option<f64> {
        match self {
            BackendKind::Cpu => Some(model.step_cost_ns()),
            BackendKind::Gpu => None,
        }
    }

    /// What the backend allocates for the neurons `neurons` of `desc` on `threads`
    /// threads: host memory for the CPU, device memory for a GPU.
    pub fn memory_estimate(self, desc: &Description, neurons: Range<u64>, threads: usize) -> MemoryEstimate {
        match self {
            BackendKind::Cpu => super::cpu::memory_estimate(desc, neurons, threads),
            #[cfg(feature = "gpu")]
            BackendKind::Gpu => super::gpu::estimate::memory_estimate(desc, neurons),
            #[cfg(not(feature = "gpu"))]
            BackendKind::Gpu => MemoryEstimate::default(),
        }
    }

    /// The host's peak for the backend itself, beside recording and the process: the
    /// CPU backend's whole estimate; for a GPU, the state's host copy (the CPU's groups)
    /// and the largest projection's rows as drawn before upload (a u32 target, an i32
    /// weight, a u16 delay where delays vary, a u64 offset per source).
    pub fn host_bytes(self, desc: &Description, neurons: Range<u64>, threads: usize) -> u64 {
        let cpu = BackendKind::Cpu.memory_estimate(desc, neurons.clone(), threads);
        match self {
            BackendKind::Cpu => cpu.total(),
            BackendKind::Gpu => {
                let rows = desc
                    .projections
                    .iter()
                    .filter(|p| p.storage != Storage::Procedural)
                    .map(|p| {
                        let target = &desc.populations[p.target];
                        let mine = neurons.end.min(target.first_gid + target.size).saturating_sub(neurons.start.max(target.first_gid));
                        let onto = desc.projection_synapses(p) as f64 * mine as f64 / target.size.max(1) as f64;
                        let per = if p.delay.count() > 1 { 10.0 } else { 8.0 };
                        (onto * per) as u64 + 8 * (desc.populations[p.source].size + 1)
                    })
                    .max()
                    .unwrap_or(0);
                cpu.state + rows
            }
        }
    }
}

/// Whether this machine has a hardware GPU adapter.
fn gpu_hardware_present() -> bool {
    #[cfg(feature = "gpu")]
    return super::gpu::device::hardware_present();
    #[cfg(not(feature = "gpu"))]
    false
}

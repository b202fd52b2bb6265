// The step a dispatch is for: one record per dispatch of an epoch, each at a dynamic
// offset of one uniform buffer (src/backend/gpu/mod.rs, `StepRecord`). Updates read the
// step and its ring slot; deliveries the received spikes (`spikes_at`, `spikes_count`)
// and the arrival steps due now [due_lo, due_hi); probes the index in the epoch.

struct Step {
    step_lo: u32,
    step_hi: u32,
    slot: u32,
    index_in_epoch: u32,
    spikes_at: u32,
    spikes_count: u32,
    due_lo: u32,
    due_hi: u32,
}

@group(0) @binding(0) var<uniform> now: Step;

//! The layouts the host and the shaders share, each declared once, here: the step record
//! (shaders/step.wgsl's `struct Step`, held to this one field by field by a test that
//! parses the shader with naga) and a group's header, the first words of its `info`
//! buffer — whose WGSL constants (`HEADER_OFFSET`, ...) are generated from this list and
//! put before shaders/update.wgsl (`header_constants`), so that no index is written twice.

/// Declares a `#[repr(C)]` record of u32 words with its field names in order.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($(#[$field_meta:meta])* $field:ident),* $(,)? }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: u32,)*
        }

        impl $name {
            /// The fields' names, in layout order.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
        }
    };
}

words! {
    /// One dispatch's step, as shaders read it (`struct Step`): the step, its ring slot,
    /// where the received spikes of a delivery are and how many, and the arrival steps
    /// due now [due_lo, due_hi).
    StepRecord { step_lo, step_hi, slot, index_in_epoch, spikes_at, spikes_count, due_lo, due_hi }
}

words! {
    /// The fixed words at the start of a group's `info` buffer (a population's neurons on
    /// this rank); what follows them (parameters' layout, constants, stimuli, amplitudes,
    /// kinds) is found through the `*_at` words.
    GroupHeader {
        /// Index of the group's first neuron among the rank's.
        offset,
        n,
        first_gid_lo,
        first_gid_hi,
        /// Neurons of the rank: the length of a ring row.
        ring_row,
        /// dt, f32 bits.
        dt,
        /// 1 / the fixed-point scale of the delta ring, f32 bits.
        inv_scale,
        noise_key_x,
        noise_key_y,
        /// Stimuli reaching the group, and where their records start.
        stimuli,
        stimuli_at,
        /// Where the epoch's amplitudes of each stimulus go.
        amplitudes_at,
        /// Where the parameters' (offset, per-neuron) pairs are, and the model's constants.
        params_at,
        constants_at,
        /// Entries of the spike list.
        spike_capacity,
        /// Where the exponential synaptic kinds are described: their count, the ring's
        /// slots, then per kind exp(-dt/tau), the fixed-point inverse scale, 1 for a
        /// conductance, e_rev.
        kinds_at,
        /// 1 if the model integrates synaptic conductances itself (a Hodgkin–Huxley
        /// membrane), else they reach it as currents.
        conductances,
        /// The group's index among the rank's groups (its words of `clamps`).
        group,
        /// 1 if the model filters arriving weights (iaf_psc_exp): it takes the stimuli's
        /// currents apart from them (`Inputs`).
        apart,
    }
}

/// Words of the header.
pub const HEADER_WORDS: usize = GroupHeader::FIELDS.len();
/// Words of one stimulus's record after the header: its kind, stream or key, amplitude
/// or table, reach (all, range, list) with its range or mask, and the Poisson table's
/// length.
pub const STIMULUS_WORDS: usize = 8;

impl GroupHeader {
    /// The header as the first words of `info`.
    pub fn words(&self) -> &[u32] {
        bytemuck::cast_slice(std::slice::from_ref(self))
    }
}

/// The WGSL constants of the header's words: `const HEADER_OFFSET: u32 = 0u;` ...
pub fn header_constants() -> String {
    let header = GroupHeader::FIELDS.iter().enumerate().map(|(k, f)| format!("const HEADER_{}: u32 = {k}u;\n", f.to_ascii_uppercase()));
    header.chain(std::iter::once(format!("const STIMULUS_WORDS: u32 = {STIMULUS_WORDS}u;\n"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_records_are_their_fields_in_order() {
        assert_eq!(std::mem::size_of::<GroupHeader>(), 4 * HEADER_WORDS);
        assert_eq!(std::mem::size_of::<StepRecord>(), 4 * StepRecord::FIELDS.len());
        let header = GroupHeader { n: 7, apart: 1, ..Default::default() };
        assert_eq!(header.words()[GroupHeader::FIELDS.iter().position(|&f| f == "n").unwrap()], 7);
        assert_eq!(*header.words().last().unwrap(), 1);
        assert!(header_constants().starts_with("const HEADER_OFFSET: u32 = 0u;\nconst HEADER_N: u32 = 1u;\n"));
    }
}

//! Run-time choice of instruction set. Hot loops are written once, branch-free, and
//! compiled three times: for the baseline (SSE2 on x86-64), for AVX2 and for AVX-512
//! (whose `vprold` makes Threefry's rotations one instruction), picked at run time.
//! Rust never contracts a·b + c into a fused multiply-add on its own, so every version
//! gives the same bits and a binary built anywhere runs everywhere with identical output.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Baseline,
    Avx2,
    Avx512,
}

impl Level {
    /// As `VOLLEY_SIMD` and the run summary name it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }
}

/// The instruction set the kernels use: the widest this CPU has, or a narrower one named
/// by `VOLLEY_SIMD` (`baseline`, `avx2`), so that tests and benchmarks can run every
/// version on one machine. Decided once per process.
#[inline]
pub fn level() -> Level {
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        let widest = widest();
        let asked = match std::env::var("VOLLEY_SIMD").as_deref() {
            Ok("baseline") => Level::Baseline,
            Ok("avx2") => Level::Avx2,
            _ => widest,
        };
        asked.min(widest)
    })
}

/// The widest instruction set this CPU has.
fn widest() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl") {
            return Level::Avx512;
        }
        if std::is_x86_feature_detected!("avx2") {
            return Level::Avx2;
        }
    }
    Level::Baseline
}

/// Defines `$name` calling the `#[inline(always)]` kernel `$kernel` compiled for the
/// widest instruction set available at run time.
/// `; LEVEL` after the kernel's name picks by that expression instead (a kernel that
/// knows better than the widest, see `model::hh::kernel_level`); it must never name a
/// level above `level()`, which is what the CPU was checked to have.
macro_rules! dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $kernel:ident) => {
        $crate::simd::dispatch!($(#[$meta])* $vis fn $name($($arg: $ty),*) -> () => $kernel);
    };
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty => $kernel:ident) => {
        $crate::simd::dispatch!($(#[$meta])* $vis fn $name($($arg: $ty),*) -> $ret => $kernel; $crate::simd::level());
    };
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty => $kernel:ident; $level:expr) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments, clippy::unused_unit)]
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512($($arg: $ty),*) -> $ret { $kernel($($arg),*) }
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) -> $ret { $kernel($($arg),*) }
                match $level {
                    // SAFETY: the CPU has the instruction set (checked at run time).
                    $crate::simd::Level::Avx512 => return unsafe { avx512($($arg),*) },
                    $crate::simd::Level::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::simd::Level::Baseline => {}
                }
            }
            $kernel($($arg),*)
        }
    };
}
pub(crate) use dispatch;

/// Asks the CPU to bring the cache line holding `ptr` into L1 ahead of use. A hint: it
/// never faults, whatever the address.
#[inline(always)]
pub fn prefetch<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint and never faults; SSE is part of the x86-64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Calls `emit(i)` for each nonzero byte `flags[i]`, in ascending order. Spikes are rare
/// (the microcircuit: 3 in 10,000 neurons a step), so 64 quiet neurons are passed over
/// with one test of eight words: a byte at a time, the LIF groups' scan took 8% of the
/// microcircuit's time (BENCHMARKS.md).
pub fn each_nonzero(flags: &[u8], mut emit: impl FnMut(usize)) {
    const SPAN: usize = 64;
    let spans = flags.chunks_exact(SPAN);
    let tail = spans.remainder();
    for (s, span) in spans.enumerate() {
        let any = span.chunks_exact(8).fold(0u64, |any, word| any | u64::from_ne_bytes(word.try_into().expect("8 bytes")));
        if any != 0 {
            span.iter().enumerate().filter(|(_, &f)| f != 0).for_each(|(k, _)| emit(s * SPAN + k));
        }
    }
    let start = flags.len() - tail.len();
    tail.iter().enumerate().filter(|(_, &f)| f != 0).for_each(|(k, _)| emit(start + k));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every nonzero byte is found, in order, at the edges of the 64-byte spans and in
    /// the tail after the last whole span.
    #[test]
    fn each_nonzero_finds_every_set_byte_in_order() {
        for len in [0, 1, 63, 64, 65, 200] {
            let set: Vec<usize> = (0..len).filter(|i| i % 64 == 0 || i % 64 == 63 || i % 37 == 5 || *i + 1 == len).collect();
            let mut flags = vec![0u8; len];
            set.iter().for_each(|&i| flags[i] = 1 + (i % 200) as u8);
            let mut found = Vec::new();
            each_nonzero(&flags, |i| found.push(i));
            assert_eq!(found, set, "{len} flags");
        }
    }
}

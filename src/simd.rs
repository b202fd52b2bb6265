//! Run-time choice of instruction set. Hot loops are written once, branch-free, and
//! compiled twice: for the baseline (SSE2 on x86-64) and for AVX2, picked at run time.
//! Neither version uses fused multiply-add, so both give the same bits and a binary
//! built anywhere runs everywhere with identical output.

/// Whether this CPU has AVX2 (std caches the answer).
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

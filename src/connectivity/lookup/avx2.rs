//! The lookup of received spikes four at a time, with AVX2: `avx512`'s method in
//! 64-bit lanes, the popcount by nibbles (`vpshufb`) and the compression of the rows
//! kept by a table of permutations.

use super::DueRow;
use crate::connectivity::present::{PresentSources, COUNT_SHIFT, PER_BLOCK, PER_WORD};
use crate::spike::Spike;
use std::arch::x86_64::*;
use std::mem::offset_of;

/// How many spikes ahead the lookup asks for a block's line.
const AHEAD: usize = 48;

/// For each mask of the four lanes kept, the 32-bit halves of the kept 64-bit lanes,
/// in order, first.
const COMPRESS: [[i32; 8]; 16] = {
    let mut table = [[0; 8]; 16];
    let mut mask = 0;
    while mask < 16 {
        let mut at = 0;
        let mut lane = 0;
        while lane < 4 {
            if mask >> lane & 1 != 0 {
                table[mask][2 * at] = 2 * lane;
                table[mask][2 * at + 1] = 2 * lane + 1;
                at += 1;
            }
            lane += 1;
        }
        mask += 1;
    }
    table
};

/// `avx512::find_rows` for CPUs with AVX2: the rows of the first `4·⌊n/4⌋` spikes.
///
/// # Safety
/// The CPU has AVX2; every spike's source is one of `index`'s; `room` points to
/// `run.len()` writable places.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn find_rows(run: &[Spike], first_source: u64, index: &PresentSources, due: DueRow, room: *mut DueRow) -> (usize, usize) {
    let base = index.blocks().as_ptr() as *const u8;
    assert!(index.befores().len() >= index.blocks().len(), "a source index not counted");
    let befores = index.befores().as_ptr() as *const i32;
    let full = run.len() / 4 * 4;
    let spikes = run.as_ptr() as *const u8;
    let first = _mm256_set1_epi64x(first_source as i64);
    // ⌊s/385⌋ = s·⌈2⁴⁰/385⌉ >> 40 for every s below 2³², and ⌊r/55⌋ = r·⌈2¹⁶/55⌉ >> 16
    // for r below 385 (`avx512`).
    let per_block = _mm256_set1_epi64x(((1u64 << 40) / PER_BLOCK as u64 + 1) as i64);
    let per_word = _mm256_set1_epi64x(((1u64 << 16) / PER_WORD as u64 + 1) as i64);
    let (block_size, word_size) = (_mm256_set1_epi64x(PER_BLOCK as i64), _mm256_set1_epi64x(PER_WORD as i64));
    let words_at = _mm256_set1_epi64x((offset_of!(crate::connectivity::present::Block, words) / 8) as i64);
    let one = _mm256_set1_epi64x(1);
    let zero = _mm256_setzero_si256();
    let nibble = _mm256_set1_epi8(0x0f);
    let ones_in = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    // Two due rows a register: rows from lanes 0 and 2 (or 4 and 6) of the compressed
    // rows, then the step and the due delays from `template`.
    let template =
        _mm256_setr_epi32(0, due.step as i32, due.first as i32, due.end as i32, 0, due.step as i32, due.first as i32, due.end as i32);
    let (pair_01, pair_23) = (_mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2), _mm256_setr_epi32(4, 4, 4, 4, 6, 6, 6, 6));
    let mut kept = 0;
    let mut k = 0;
    while k < full {
        // Every other spike's line, as `avx512` asks for them.
        for ahead in [AHEAD, AHEAD + 2] {
            if let Some(later) = run.get(k + ahead) {
                index.prefetch((later.gid as u64 - first_source) as usize);
            }
        }
        let source = _mm256_sub_epi64(_mm256_srli_epi64::<32>(_mm256_loadu_si256(spikes.add(k * 8) as *const _)), first);
        let block = _mm256_srli_epi64::<40>(_mm256_mul_epu32(source, per_block));
        let at = _mm256_sub_epi64(source, _mm256_mul_epu32(block, block_size));
        let word = _mm256_srli_epi64::<16>(_mm256_mul_epu32(at, per_word));
        let bit = _mm256_sub_epi64(at, _mm256_mul_epu32(word, word_size));
        let index = _mm256_add_epi64(_mm256_add_epi64(_mm256_slli_epi64::<3>(block), words_at), word);
        let bits = _mm256_i64gather_epi64::<8>(base as *const i64, index);
        let before = _mm256_cvtepu32_epi64(_mm256_i64gather_epi32::<4>(befores, block));
        let below = _mm256_sllv_epi64(one, bit);
        let absent = _mm256_cmpeq_epi64(_mm256_and_si256(bits, below), zero);
        let has = !_mm256_movemask_pd(_mm256_castsi256_pd(absent)) as usize & 0xF;
        let under = _mm256_and_si256(bits, _mm256_sub_epi64(below, one));
        let ones = _mm256_add_epi8(
            _mm256_shuffle_epi8(ones_in, _mm256_and_si256(under, nibble)),
            _mm256_shuffle_epi8(ones_in, _mm256_and_si256(_mm256_srli_epi16::<4>(under), nibble)),
        );
        let within = _mm256_add_epi64(_mm256_srli_epi64::<{ COUNT_SHIFT as i32 }>(bits), _mm256_sad_epu8(ones, zero));
        let rows = _mm256_add_epi64(before, within);
        let packed = _mm256_permutevar8x32_epi32(rows, _mm256_loadu_si256(COMPRESS[has].as_ptr() as *const _));
        // Four due rows written whatever the count kept: kept ≤ k, so they lie within
        // the room of the first k + 4 spikes.
        _mm256_storeu_si256(
            room.add(kept) as *mut _,
            _mm256_blend_epi32::<0b1110_1110>(_mm256_permutevar8x32_epi32(packed, pair_01), template),
        );
        _mm256_storeu_si256(
            room.add(kept + 2) as *mut _,
            _mm256_blend_epi32::<0b1110_1110>(_mm256_permutevar8x32_epi32(packed, pair_23), template),
        );
        kept += has.count_ones() as usize;
        k += 4;
    }
    (full, kept)
}

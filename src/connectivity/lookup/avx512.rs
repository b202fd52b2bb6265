//! The lookup of received spikes sixteen at a time, with AVX-512 (F and VPOPCNTDQ).
//!
//! A rank of a large network looks up every spike the network fires, and the scalar
//! lookup is bound by its instructions (about forty a spike), not by the index's
//! memory: a second pass over the same spikes, index in cache, cost as much as the
//! first (BENCHMARKS.md, "The lookup in vector lanes"). Here a
//! spike's block, word and bit are computed in vector lanes, the block's count and the
//! word gathered, the popcount masked in lanes, and the rows of the present sources
//! compressed into place, each with its step and due delays.

use super::DueRow;
use crate::connectivity::present::{Block, PresentSources, COUNT_SHIFT, PER_BLOCK, PER_WORD};
use crate::spike::Spike;
use std::arch::x86_64::*;
use std::mem::offset_of;

/// How many spikes ahead the lookup asks for the blocks' lines.
const AHEAD: usize = 48;

/// Writes the rows of the first `16·⌊n/16⌋` spikes of `run` (ids ascending, from
/// sources numbered from `first_source`) into `room` as `find_rows` does — the row of
/// each present source, in order, as `due` with its row — and returns how many spikes
/// it took and how many rows it kept. Places of `room` past the rows kept may be
/// written too.
///
/// # Safety
/// The CPU has AVX-512 F and VPOPCNTDQ; every spike's source is one of `index`'s;
/// `room` points to `run.len()` writable places.
#[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
pub(super) unsafe fn find_rows(run: &[Spike], first_source: u64, index: &PresentSources, due: DueRow, room: *mut DueRow) -> (usize, usize) {
    let blocks = index.blocks();
    let base = blocks.as_ptr() as *const u8;
    let befores = index.befores();
    // Read sixteen at a time from any block's: the index was counted (`count`).
    assert!(befores.len() >= blocks.len() + 16, "a source index not counted");
    // Gathers take 32-bit indices: they reach an index below 2 GB (5.7·10⁹ sources).
    assert!(std::mem::size_of_val(blocks) < 1 << 31, "a source index beyond 2 GB");
    let full = run.len() / 16 * 16;
    let spikes = run.as_ptr() as *const u8;
    // Sources start below 2³²: gids are 32 bits.
    let first = _mm512_set1_epi32(first_source as u32 as i32);
    let ids = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    // ⌊s/385⌋ = s·⌈2⁴⁰/385⌉ >> 40 for every s below 2³² (the error, below 2³²·0.4/2⁴⁰,
    // stays under 1/385).
    let per_block = _mm512_set1_epi64(((1u64 << 40) / PER_BLOCK as u64 + 1) as i64);
    // ⌊r/55⌋ = r·⌈2¹⁶/55⌉ >> 16 for r below 385.
    let per_word = _mm512_set1_epi32(((1u32 << 16) / PER_WORD as u32 + 1) as i32);
    let one = _mm512_set1_epi64(1);
    // A due row: the row from the compressed rows (lane 4j + i), then the step and the
    // due delays from `template` (lanes 1–3 of the second source, 16 + 1..3).
    let template = _mm512_setr_epi32(0, due.step as i32, due.first as i32, due.end as i32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    let expand = |j: i32| _mm512_setr_epi32(4 * j, 17, 18, 19, 4 * j + 1, 17, 18, 19, 4 * j + 2, 17, 18, 19, 4 * j + 3, 17, 18, 19);
    let expands = [expand(0), expand(1), expand(2), expand(3)];
    let words_at = _mm512_set1_epi32((offset_of!(Block, words) / 8) as i32);
    // The sources of spikes k..k + 16 and their blocks, the even and odd lanes apart.
    let sources_and_blocks = |k: usize| {
        let v0 = _mm512_loadu_si512(spikes.add(k * 8) as *const _);
        let v1 = _mm512_loadu_si512(spikes.add(k * 8 + 64) as *const _);
        let source = _mm512_sub_epi32(_mm512_permutex2var_epi32(v0, ids, v1), first);
        let even = _mm512_srli_epi64::<40>(_mm512_mul_epu32(source, per_block));
        let odd = _mm512_srli_epi64::<40>(_mm512_mul_epu32(_mm512_srli_epi64::<32>(source), per_block));
        (source, _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64::<32>(odd)))
    };
    let mut kept = 0;
    let mut k = 0;
    while k < full {
        // The lines of the spikes a few groups on, asked for every other spike (a line
        // holds ~3 spikes of an epoch of a large network): without, the lookup took
        // four times as long alone on a core; every fourth spike was slower beside
        // another thread's delivery, every spike slower alone.
        for ahead in (AHEAD..AHEAD + 16).step_by(2) {
            if let Some(later) = run.get(k + ahead) {
                index.prefetch((later.gid as u64 - first_source) as usize);
            }
        }
        let (source, block) = sources_and_blocks(k);
        let at = _mm512_sub_epi32(source, _mm512_mullo_epi32(block, _mm512_set1_epi32(PER_BLOCK as i32)));
        let word = _mm512_srli_epi32::<16>(_mm512_mullo_epi32(at, per_word));
        let bit = _mm512_sub_epi32(at, _mm512_mullo_epi32(word, _mm512_set1_epi32(PER_WORD as i32)));
        // The count before the block (its first 4 bytes) and the word (8-byte steps).
        let line = _mm512_slli_epi32::<6>(block);
        // The counts before the blocks: sixteen sorted spikes lie in at most sixteen
        // blocks from the first's, almost always, whose counts are one line apart.
        let first_block = _mm512_broadcastd_epi32(_mm512_castsi512_si128(block));
        let from_first = _mm512_sub_epi32(block, first_block);
        let before = if _mm512_cmpge_epu32_mask(from_first, _mm512_set1_epi32(16)) == 0 {
            let at = _mm_cvtsi128_si32(_mm512_castsi512_si128(block)) as usize;
            _mm512_permutexvar_epi32(from_first, _mm512_loadu_si512(befores.as_ptr().add(at) as *const _))
        } else {
            _mm512_i32gather_epi32::<1>(line, base as *const i32)
        };
        let word_index = _mm512_add_epi32(_mm512_add_epi32(_mm512_slli_epi32::<3>(block), words_at), word);
        let lo = _mm512_i32gather_epi64::<8>(_mm512_castsi512_si256(word_index), base as *const i64);
        let hi = _mm512_i32gather_epi64::<8>(_mm512_extracti64x4_epi64::<1>(word_index), base as *const i64);
        let below_lo = _mm512_sllv_epi64(one, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(bit)));
        let below_hi = _mm512_sllv_epi64(one, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64::<1>(bit)));
        let has = _mm512_test_epi64_mask(lo, below_lo) as u16 | (_mm512_test_epi64_mask(hi, below_hi) as u16) << 8;
        // Within the block: the word's count and the sources below the bit.
        let within = |w: __m512i, below: __m512i| {
            _mm512_cvtepi64_epi32(_mm512_add_epi64(
                _mm512_srli_epi64::<{ COUNT_SHIFT }>(w),
                _mm512_popcnt_epi64(_mm512_and_si512(w, _mm512_sub_epi64(below, one))),
            ))
        };
        let within = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(within(lo, below_lo)), within(hi, below_hi));
        let rows = _mm512_maskz_compress_epi32(has, _mm512_add_epi32(before, within));
        // Sixteen due rows written whatever the count kept: kept ≤ k, so they lie
        // within the room of the first k + 16 spikes.
        for (j, expand) in expands.iter().enumerate() {
            _mm512_storeu_si512(room.add(kept + 4 * j) as *mut _, _mm512_permutex2var_epi32(rows, *expand, template));
        }
        kept += has.count_ones() as usize;
        k += 16;
    }
    (full, kept)
}

//! What each rank reads of the data a description points to, before the build, all
//! ranks together: the spike sources' trains of its own neurons (the repeats the file
//! had in a step counted over all ranks, for one warning), and the rows of the synapses
//! given as data (SONATA edges) onto its neurons. Through the file's `indices/target_to_source`
//! each rank reads its own targets' edges alone; without it the ranks split the file:
//! in each round, rank r reads chunk `round · ranks + r` of the edges and sends each
//! synapse to the rank owning its target (one all-to-all per round), so that no rank
//! reads or holds more than a chunk beyond its own rows. A chunk's synapses arrive in
//! rank order, which is file order, so every row is in file order whatever the split.
//! The ranks then agree on the most synapses onto one target (the GPU's fixed-point
//! scale must be one for all).

use crate::comm::{agree, Communicator};
use crate::error::Result;
use crate::network::{ConnectionRule, Description, EdgeSource, TargetRows};
use crate::sonata::edges;
use std::ops::Range;
use std::sync::Arc;

/// Reads and keeps the spike trains and every data projection's rows of this rank's
/// neurons (collective: every rank calls it with the same `parts`, every rank's
/// neurons). Rank 0 warns of the repeats in a step dropped from the trains.
pub fn load_shared(desc: &Description, parts: &[Range<u64>], comm: &dyn Communicator) -> Result<()> {
    let mine = &parts[comm.rank()];
    let dropped = agree(comm, desc.load_trains(mine))?;
    let (_, dropped) = comm.prefix_and_total(&dropped);
    for (k, &n) in dropped.iter().enumerate() {
        let Some(trains) = desc.populations[k].model.spike_trains() else { continue };
        let warning = crate::sonata::spikes::dropped_warning(&trains.file(), &desc.populations[k].name, n);
        if let Some(w) = warning.filter(|_| comm.rank() == 0) {
            eprintln!("volley: warning: {w}");
        }
    }
    for p in &desc.projections {
        let ConnectionRule::Explicit { edges, .. } = p.rule else { continue };
        let source = &desc.edges[edges as usize];
        // Listed in the model file (or set between runs): held already, nothing to read.
        if source.given {
            continue;
        }
        let pop = desc.populations[p.target].gids();
        let local = crate::network::overlap(&pop, mine);
        let rows = if source.indexed || comm.size() == 1 {
            agree(comm, if local.is_empty() { Ok(TargetRows::default()) } else { edges::load_rows(source, local.clone()) })?
        } else {
            split_scan(source, &local, parts, comm)?
        };
        let most = comm.all_gather_f64(&[rows.max_row() as f64]).into_iter().fold(0f64, f64::max);
        source.learn_max_indegree(most as u64);
        if !local.is_empty() {
            source.keep(Arc::new(rows));
        }
    }
    Ok(())
}

/// The rows of `source` onto `local` (this rank's targets), the edges file read by all
/// ranks in turn and each synapse sent to its target's rank.
fn split_scan(source: &EdgeSource, local: &Range<u64>, parts: &[Range<u64>], comm: &dyn Communicator) -> Result<TargetRows> {
    let (rank, ranks) = (comm.rank(), comm.size());
    let data = agree(comm, edges::open(&source.file, &source.population))?;
    // Rank 0's chunk length (each reads its own environment), cut so that a round's
    // chunks together hold at most 2^22 synapses: in a file sorted by target they may all
    // go to one rank (64 MB received, and MPI's counts far within i32).
    let per_read = comm.all_gather_f64(&[crate::sonata::entries_per_read() as f64])[0] as usize;
    let per_read = per_read.min(((1usize << 22) / ranks).max(64));
    let chunks = data.count.div_ceil(per_read);
    let owner = |gid: u64| parts.partition_point(|r| r.end <= gid);
    let mut found: Vec<(u32, u32, f32, u32)> = Vec::new();
    for round in 0..chunks.div_ceil(ranks) {
        let c = round * ranks + rank;
        let chunk = if c < chunks {
            Some(data.chunk(c * per_read..((c + 1) * per_read).min(data.count), &source.file, &source.population))
        } else {
            None
        };
        let chunk = agree(comm, chunk.transpose())?;
        // Per synapse, two words: its target and source; its weight's bits and delay.
        let mut sends = vec![Vec::new(); ranks];
        if let Some(chunk) = &chunk {
            for (t, s, w, d) in (0..chunk.targets.len()).filter_map(|k| edges::synapse_of(source, chunk, k)) {
                sends[owner(t as u64)].extend([t as u64 | (s as u64) << 32, w.to_bits() as u64 | (d as u64) << 32]);
            }
        }
        let received = comm.all_to_all_u64(&sends);
        drop(sends);
        for words in received.chunks_exact(2) {
            let (t, s) = (words[0] as u32, (words[0] >> 32) as u32);
            debug_assert!(local.contains(&(t as u64)), "a synapse sent to the rank of its target");
            found.push((t, s, f32::from_bits(words[1] as u32), (words[1] >> 32) as u32));
        }
    }
    Ok(TargetRows::from_found(local.clone(), &found))
}

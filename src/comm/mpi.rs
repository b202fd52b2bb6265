//! The MPI communicator (rsmpi over the system's OpenMPI). One binary: started directly
//! it is one rank, under `mpirun` or `srun` it is many.
//!
//! An epoch's spikes travel as gaps between ascending ids, one to three bytes each,
//! behind their count (`wire`), either to
//! every rank (all-gather: one collective, every rank receives everything) or only to
//! the ranks that hold synapses from the source (directed: an all-to-all of counts,
//! then of messages; Arbor's design). Both give each rank the spikes it needs in the
//! canonical order, so delivery sums every input in the same order for any rank count.

use super::{wire, Communicator, ExchangeMode, Routes};
use crate::spike::Spike;
use mpi::collective::SystemOperation;
use mpi::datatype::{Partition, PartitionMut};
use mpi::environment::Universe;
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::traits::*;
use mpi::Count;
use std::ops::Range;

pub struct MpiComm {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    on_node: usize,
    rank_on_node: usize,
    /// Set when the exchange is directed: who wants this rank's neurons.
    routes: Option<Routes>,
    /// Each rank's first neuron (from `set_exchange`; 0 before it): what its ids are
    /// coded from.
    bases: Vec<u64>,
    send: Vec<u8>,
    recv: Vec<u8>,
    send_counts: Vec<Count>,
    recv_counts: Vec<Count>,
    /// Bytes and spikes sent (`Communicator::wire_traffic`).
    sent: (u64, u64),
    // Dropped last: finalises MPI after everything above is gone.
    _universe: Universe,
}

impl MpiComm {
    /// Initialises MPI (once per process). None if it was already initialised.
    pub fn init() -> Option<MpiComm> {
        let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Funneled)?;
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        let node = world.split_shared(rank as i32);
        let (on_node, rank_on_node) = (node.size() as usize, node.rank() as usize);
        Some(MpiComm {
            world,
            rank,
            size,
            on_node,
            rank_on_node,
            routes: None,
            bases: vec![0; size],
            send: Vec::new(),
            recv: Vec::new(),
            send_counts: vec![0; size],
            recv_counts: vec![0; size],
            sent: (0, 0),
            _universe: universe,
        })
    }

    fn all_gather(&mut self, first_step: u64, steps: u32, local: &[Spike], global: &mut Vec<Spike>) {
        self.send.clear();
        wire::encode(first_step, steps, self.bases[self.rank], local.iter(), &mut self.send);
        let len = self.send.len() as Count;
        // Every other rank receives the message.
        self.sent.0 += self.send.len() as u64 * (self.size as u64 - 1);
        self.sent.1 += local.len() as u64 * (self.size as u64 - 1);
        self.world.all_gather_into(&len, &mut self.recv_counts[..]);
        let displs = displacements(&self.recv_counts);
        self.recv.resize(self.recv_counts.iter().map(|&c| c as usize).sum(), 0);
        self.world.all_gather_varcount_into(&self.send[..], &mut PartitionMut::new(&mut self.recv[..], &self.recv_counts[..], &displs[..]));
        decode_all(first_step, steps, &self.bases, &self.recv, &self.recv_counts, global);
    }

    fn directed(&mut self, first_step: u64, steps: u32, local: &[Spike], global: &mut Vec<Spike>) {
        let routes = self.routes.as_ref().expect("routes set");
        self.send.clear();
        for (r, count) in self.send_counts.iter_mut().enumerate() {
            let before = self.send.len();
            let wanted = local.iter().filter(|s| routes.wants(r, s.gid as u64));
            if r != self.rank {
                self.sent.1 += wanted.clone().count() as u64;
            }
            wire::encode(first_step, steps, self.bases[self.rank], wanted, &mut self.send);
            *count = (self.send.len() - before) as Count;
            if r != self.rank {
                self.sent.0 += *count as u64;
            }
        }
        self.world.all_to_all_into(&self.send_counts[..], &mut self.recv_counts[..]);
        let send_displs = displacements(&self.send_counts);
        let recv_displs = displacements(&self.recv_counts);
        self.recv.resize(self.recv_counts.iter().map(|&c| c as usize).sum(), 0);
        self.world.all_to_all_varcount_into(
            &Partition::new(&self.send[..], &self.send_counts[..], &send_displs[..]),
            &mut PartitionMut::new(&mut self.recv[..], &self.recv_counts[..], &recv_displs[..]),
        );
        decode_all(first_step, steps, &self.bases, &self.recv, &self.recv_counts, global);
    }
}

/// Decodes the messages of every rank (`lengths[r]` bytes from rank r, whose ids are
/// coded from `bases[r]`), in rank order, into `global`, sorted by step then id. Ranks
/// own ascending id ranges, so for one-step epochs the concatenation is already sorted.
fn decode_all(first_step: u64, steps: u32, bases: &[u64], messages: &[u8], lengths: &[Count], global: &mut Vec<Spike>) {
    global.clear();
    let mut at = 0;
    for (&base, &len) in bases.iter().zip(lengths) {
        let message = &messages[at..at + len as usize];
        let used = wire::decode(first_step, steps, base, message, global);
        debug_assert_eq!(used, message.len(), "one message per rank");
        at += len as usize;
    }
    if !global.is_sorted() {
        global.sort_unstable();
    }
}

fn displacements(counts: &[Count]) -> Vec<Count> {
    counts
        .iter()
        .scan(0, |sum, &c| {
            let d = *sum;
            *sum += c;
            Some(d)
        })
        .collect()
}

impl Communicator for MpiComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn exchange(&mut self, first_step: u64, steps: u32, local: &[Spike], global: &mut Vec<Spike>) {
        if self.size == 1 {
            global.clear();
            global.extend_from_slice(local);
        } else if self.routes.is_some() {
            self.directed(first_step, steps, local, global);
        } else {
            self.all_gather(first_step, steps, local, global);
        }
    }

    fn prefix_and_total(&self, values: &[u64]) -> (Vec<u64>, Vec<u64>) {
        let mut before = vec![0u64; values.len()];
        let mut total = vec![0u64; values.len()];
        if values.is_empty() {
            return (before, total);
        }
        self.world.exclusive_scan_into(values, &mut before[..], SystemOperation::sum());
        if self.rank == 0 {
            // MPI leaves rank 0's exclusive scan undefined.
            before.iter_mut().for_each(|x| *x = 0);
        }
        self.world.all_reduce_into(values, &mut total[..], SystemOperation::sum());
        (before, total)
    }

    fn all_gather_f64(&self, values: &[f64]) -> Vec<f64> {
        let mut out = vec![0f64; values.len() * self.size];
        self.world.all_gather_into(values, &mut out[..]);
        out
    }

    fn any(&self, flag: bool) -> bool {
        let mut any = 0i32;
        self.world.all_reduce_into(&(flag as i32), &mut any, SystemOperation::max());
        any != 0
    }

    fn set_exchange(&mut self, mode: ExchangeMode, partition: &[Range<u64>], needed: &[u64]) -> (ExchangeMode, f64) {
        self.bases = partition.iter().map(|r| r.start).collect();
        if self.size == 1 || mode == ExchangeMode::AllGather {
            self.routes = None;
            return (ExchangeMode::AllGather, 1.0);
        }
        // Send each rank the words of `needed` covering its range; receive from each
        // rank the words covering ours.
        let words = |r: &Range<u64>| if r.is_empty() { 0..0 } else { (r.start / 64) as usize..r.end.div_ceil(64) as usize };
        let mine = &partition[self.rank];
        let mut send = Vec::new();
        let mut send_counts = Vec::with_capacity(self.size);
        for r in partition {
            let w = words(r);
            send_counts.push(w.len() as Count);
            send.extend_from_slice(&needed[w]);
        }
        let n_mine = words(mine).len();
        let recv_counts = vec![n_mine as Count; self.size];
        let mut recv = vec![0u64; n_mine * self.size];
        let send_displs = displacements(&send_counts);
        let recv_displs = displacements(&recv_counts);
        self.world.all_to_all_varcount_into(
            &Partition::new(&send[..], &send_counts[..], &send_displs[..]),
            &mut PartitionMut::new(&mut recv[..], &recv_counts[..], &recv_displs[..]),
        );
        // Bits of `needed` words before our start were about other ranks' neurons in the
        // same word only if ranges were not 64-aligned; partition guarantees they are.
        let routes = Routes { first_gid: mine.start, wanted: recv.chunks(n_mine.max(1)).map(|c| c.to_vec()).collect() };
        // Mean over all neurons of the fraction of ranks their spikes would go to.
        let local = [routes.fan_out(mine.end - mine.start) * (mine.end - mine.start) as f64, (mine.end - mine.start) as f64];
        let mut sum = [0f64; 2];
        self.world.all_reduce_into(&local[..], &mut sum[..], SystemOperation::sum());
        let fan_out = sum[0] / sum[1].max(1.0);
        let directed = match mode {
            ExchangeMode::Directed => true,
            ExchangeMode::Auto => fan_out < 0.5,
            ExchangeMode::AllGather => false,
        };
        self.routes = directed.then_some(routes);
        (if directed { ExchangeMode::Directed } else { ExchangeMode::AllGather }, fan_out)
    }

    fn wire_traffic(&self) -> (u64, u64) {
        self.sent
    }

    fn ranks_on_node(&self) -> usize {
        self.on_node
    }

    fn rank_on_node(&self) -> usize {
        self.rank_on_node
    }

    fn mpi(&self) -> Option<&SimpleCommunicator> {
        Some(&self.world)
    }

    fn all_to_all_u64(&self, sends: &[Vec<u64>]) -> Vec<u64> {
        let send_counts: Vec<Count> = sends.iter().map(|s| s.len() as Count).collect();
        let mut recv_counts = vec![0 as Count; self.size];
        self.world.all_to_all_into(&send_counts[..], &mut recv_counts[..]);
        let send: Vec<u64> = sends.concat();
        let mut recv = vec![0u64; recv_counts.iter().map(|&c| c as usize).sum()];
        let (send_displs, recv_displs) = (displacements(&send_counts), displacements(&recv_counts));
        self.world.all_to_all_varcount_into(
            &Partition::new(&send[..], &send_counts[..], &send_displs[..]),
            &mut PartitionMut::new(&mut recv[..], &recv_counts[..], &recv_displs[..]),
        );
        recv
    }

    fn sharing(&self) -> crate::sonata::Sharing {
        if self.size == 1 {
            return crate::sonata::Sharing(None);
        }
        // A communicator of its own: the circuit's collectives never meet the run's.
        let world = self.world.duplicate();
        // Rank 0's chunk length for all (each process reads its environment).
        let mut per_read = crate::sonata::entries_per_read() as u64;
        world.process_at_rank(0).broadcast_into(&mut per_read);
        crate::sonata::Sharing(Some(std::rc::Rc::new(ReadingRanks {
            world,
            rank: self.rank,
            size: self.size,
            per_read: per_read as usize,
        })))
    }
}

/// The ranks reading a circuit together (`sonata::Share`).
struct ReadingRanks {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    per_read: usize,
}

impl crate::sonata::Share for ReadingRanks {
    fn part(&self) -> usize {
        self.rank
    }

    fn parts(&self) -> usize {
        self.size
    }

    fn per_read(&self) -> usize {
        self.per_read
    }

    fn all_gather(&self, words: &[u64]) -> Vec<Vec<u64>> {
        let mut counts = vec![0 as Count; self.size];
        self.world.all_gather_into(&(words.len() as Count), &mut counts[..]);
        let displs = displacements(&counts);
        let mut all = vec![0u64; counts.iter().map(|&c| c as usize).sum()];
        self.world.all_gather_varcount_into(words, &mut PartitionMut::new(&mut all[..], &counts[..], &displs[..]));
        counts.iter().zip(&displs).map(|(&c, &d)| all[d as usize..(d + c) as usize].to_vec()).collect()
    }
}

//! Communicators move the spikes of an epoch between ranks and do the few collective
//! sums the run needs (file offsets, totals, timers). The engine knows only this trait;
//! the single-process implementation is `LocalComm`, the MPI one `mpi::MpiComm`.

pub mod drawn;
#[cfg(feature = "mpi")]
pub mod mpi;
#[cfg(any(feature = "mpi", test))]
mod wire;

use crate::spike::Spike;
use std::ops::Range;

/// How spikes travel between ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeMode {
    /// Every rank receives every spike (one all-gather per epoch).
    AllGather,
    /// A spike goes only to the ranks holding synapses from its source (all-to-all;
    /// Arbor's directed exchange).
    Directed,
    /// Directed when, on average, a source has targets on fewer than half the ranks.
    Auto,
}

pub trait Communicator {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;

    /// Gathers the spikes of the epoch of `steps` steps starting at `first_step`: every
    /// rank's `local` spikes (each sorted by step then id) that this rank needs go into
    /// `global`, sorted by step then id. Spikes of sources this rank holds no synapses
    /// from may be left out (directed exchange); the order of the rest is the same
    /// whatever the number of ranks.
    fn exchange(&mut self, first_step: u64, steps: u32, local: &[Spike], global: &mut Vec<Spike>);

    /// Element-wise sums of `values` over ranks: (over the ranks before this one, over
    /// all ranks). Every rank passes the same length.
    fn prefix_and_total(&self, values: &[u64]) -> (Vec<u64>, Vec<u64>);

    /// Every rank's `values` (the same length on every rank), concatenated in rank order.
    fn all_gather_f64(&self, values: &[f64]) -> Vec<f64>;

    /// True on every rank if `flag` is true on any.
    fn any(&self, flag: bool) -> bool;

    /// Sends `sends[r]` to rank r (collective); returns what every rank sent to this
    /// one, concatenated in rank order.
    fn all_to_all_u64(&self, sends: &[Vec<u64>]) -> Vec<u64>;

    /// The ranks as the processes that read a circuit together (None: one process).
    fn sharing(&self) -> crate::sonata::Sharing {
        crate::sonata::Sharing(None)
    }

    /// Chooses how spikes travel (collective). `partition` gives every rank's neurons;
    /// `needed` is a bit set over all global ids of the sources this rank holds synapses
    /// from. Returns the mode chosen and the mean fraction of ranks a spike would go to
    /// under the directed exchange.
    fn set_exchange(&mut self, mode: ExchangeMode, partition: &[Range<u64>], needed: &[u64]) -> (ExchangeMode, f64) {
        let _ = (mode, partition, needed);
        (ExchangeMode::AllGather, 1.0)
    }

    /// What this rank has sent in its exchanges so far: (bytes, spikes), a spike counted
    /// once per rank it went to. (0, 0) where nothing travels (one rank).
    fn wire_traffic(&self) -> (u64, u64) {
        (0, 0)
    }

    /// Ranks sharing this rank's node (they share its memory).
    fn ranks_on_node(&self) -> usize {
        1
    }

    /// This rank's index among the ranks of its node (which of the node's GPUs it takes).
    fn rank_on_node(&self) -> usize {
        0
    }

    /// The MPI communicator, for parallel HDF5.
    #[cfg(feature = "mpi")]
    fn mpi(&self) -> Option<&::mpi::topology::SimpleCommunicator> {
        None
    }
}

/// The communicator: MPI when a launcher (mpirun, srun) started this process, or when
/// VOLLEY_MPI=1; otherwise one process without MPI (no start-up cost). Several copies
/// started without MPI would each run the whole network into the same file: refused.
pub fn from_launcher() -> crate::Result<Box<dyn Communicator>> {
    let var = |name: &str| std::env::var(name).ok();
    let copies = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"].iter().filter_map(|v| var(v)?.parse::<u64>().ok()).max();
    #[cfg(feature = "mpi")]
    {
        let launched = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].iter().any(|v| var(v).is_some());
        if launched || var("VOLLEY_MPI").is_some_and(|v| v == "1") {
            if let Some(comm) = mpi::MpiComm::init() {
                return Ok(Box::new(comm));
            }
        }
        if let Some(n) = copies.filter(|&n| n > 1) {
            return Err(crate::Error::Option {
                option: "launch".into(),
                message: format!(
                    "started as one of {n} tasks but without an MPI launcher's environment: use `srun --mpi=pmix` or `mpirun`"
                ),
            });
        }
    }
    #[cfg(not(feature = "mpi"))]
    if let Some(n) = copies.filter(|&n| n > 1) {
        return Err(crate::Error::Option {
            option: "launch".into(),
            message: format!("started as one of {n} tasks, but this volley was built without MPI (cargo feature `mpi`): each copy would run the whole network"),
        });
    }
    Ok(Box::new(LocalComm))
}

/// Makes an error on one rank an error on all: every rank calls this at the same point,
/// so that no rank goes on into a collective that the failed one will never join. The
/// lowest failing rank keeps its own error, to be printed; the others get
/// `Error::OtherRank`, printed by none, so that a failure is reported in one line.
pub fn agree<T>(comm: &dyn Communicator, result: crate::Result<T>) -> crate::Result<T> {
    // A rank that knows only that another failed (`OtherRank`, from a collective read)
    // yields to the ranks that hold the error.
    let key = match &result {
        Ok(_) => f64::INFINITY,
        Err(crate::Error::OtherRank { .. }) => f64::MAX,
        Err(_) => comm.rank() as f64,
    };
    agree_first(comm, result, key)
}

/// Rank 0's `text` on every rank (collective): what ranks write into one attribute of a
/// parallel file must be the same bytes on each.
pub fn broadcast_text(comm: &dyn Communicator, text: &str) -> String {
    if comm.size() == 1 {
        return text.to_string();
    }
    let mine = |v: u64| if comm.rank() == 0 { v } else { 0 };
    let len = comm.prefix_and_total(&[mine(text.len() as u64)]).1[0] as usize;
    let mut words = vec![0u64; len.div_ceil(8)];
    if comm.rank() == 0 {
        for (w, chunk) in words.iter_mut().zip(text.as_bytes().chunks(8)) {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            *w = u64::from_le_bytes(bytes);
        }
    }
    let words = comm.prefix_and_total(&words).1;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).take(len).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Like `agree`, but the failing rank with the smallest `key` keeps its error (ties: the
/// lower rank): the first failure in an order that does not depend on the split.
pub fn agree_first<T>(comm: &dyn Communicator, result: crate::Result<T>, key: f64) -> crate::Result<T> {
    if comm.size() == 1 {
        return result;
    }
    let failed = comm.any(result.is_err());
    if !failed {
        return result;
    }
    // Each rank's key and exit code: the others exit with the first failure's code.
    let mine = match &result {
        Err(e) => [key, e.exit_code() as f64],
        Ok(_) => [f64::INFINITY, 0.0],
    };
    let all = comm.all_gather_f64(&mine);
    let keys: Vec<f64> = all.chunks(2).map(|pair| pair[0]).collect();
    let first = (0..keys.len()).min_by(|&a, &b| keys[a].total_cmp(&keys[b]).then(a.cmp(&b))).unwrap_or(0);
    match result {
        Err(e) if first == comm.rank() => Err(e),
        _ => Err(crate::Error::OtherRank { exit_code: all[2 * first + 1] as i32 }),
    }
}

/// One process: the local spikes are all the spikes.
#[derive(Debug, Default)]
pub struct LocalComm;

impl Communicator for LocalComm {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn exchange(&mut self, _first_step: u64, _steps: u32, local: &[Spike], global: &mut Vec<Spike>) {
        global.clear();
        global.extend_from_slice(local);
    }

    fn prefix_and_total(&self, values: &[u64]) -> (Vec<u64>, Vec<u64>) {
        (vec![0; values.len()], values.to_vec())
    }

    fn all_gather_f64(&self, values: &[f64]) -> Vec<f64> {
        values.to_vec()
    }

    fn any(&self, flag: bool) -> bool {
        flag
    }

    fn all_to_all_u64(&self, sends: &[Vec<u64>]) -> Vec<u64> {
        sends.first().cloned().unwrap_or_default()
    }
}

/// Mean seconds per exchange of `spikes` spikes per rank per epoch of `steps` steps
/// (all ranks together, after a warm-up), for the scaling model: each rank sends ids
/// spread over its own range of `10^6` ids.
pub fn time_exchange(comm: &mut dyn Communicator, spikes: usize, steps: u32, epochs: usize) -> f64 {
    let first = comm.rank() as u64 * 1_000_000;
    let mut local: Vec<Spike> = (0..spikes)
        .map(|i| Spike { step: (i % steps as usize) as u32, gid: (first + (i as u64 * 1_000_000 / spikes.max(1) as u64)) as u32 })
        .collect();
    local.sort_unstable();
    let mut global = Vec::new();
    let mut run = |epochs: usize, comm: &mut dyn Communicator| {
        let t = std::time::Instant::now();
        for e in 0..epochs {
            let shift = (e as u32) * steps;
            let epoch: Vec<Spike> = local.iter().map(|s| Spike { step: s.step + shift, gid: s.gid }).collect();
            comm.exchange(shift as u64, steps, &epoch, &mut global);
        }
        t.elapsed().as_secs_f64() / epochs.max(1) as f64
    };
    run(epochs / 10 + 1, comm);
    comm.any(false);
    run(epochs, comm)
}

/// Which ranks hold synapses from each of this rank's neurons: one bit set per rank
/// over the rank's id range (`wanted[r]` bit i: rank r needs local neuron i).
#[derive(Clone, Debug, Default)]
pub struct Routes {
    pub first_gid: u64,
    pub wanted: Vec<Vec<u64>>,
}

impl Routes {
    #[inline]
    pub fn wants(&self, rank: usize, gid: u64) -> bool {
        let i = (gid - self.first_gid) as usize;
        self.wanted[rank][i / 64] >> (i % 64) & 1 == 1
    }

    /// The mean fraction of ranks a local neuron's spikes go to.
    pub fn fan_out(&self, local_neurons: u64) -> f64 {
        let bits: u64 = self.wanted.iter().flatten().map(|w| w.count_ones() as u64).sum();
        bits as f64 / (local_neurons.max(1) * self.wanted.len().max(1) as u64) as f64
    }
}

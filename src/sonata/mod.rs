//! SONATA files read as input: circuits (configs, node and edge populations, their type
//! tables) to be simulated, and spike trains for spike sources to replay. (The outputs
//! volley writes in SONATA's layout are `record`'s.)

pub mod circuit;
pub mod config;
pub mod edges;
pub mod spikes;
pub mod survey;
pub mod types;

/// The processes that read a circuit together. When the description is made, each scans
/// its share of every edge population (chunks `part`, `part + parts`, …) and what they
/// found is combined, so that no process reads every edge; alone, one process reads
/// them all. Every process calls `all_gather` the same number of times (collective).
pub trait Share {
    fn part(&self) -> usize;
    fn parts(&self) -> usize;
    /// Every process's `words`, in process order.
    fn all_gather(&self, words: &[u64]) -> Vec<Vec<u64>>;
}

/// Who shares the reading of a circuit: nobody (this process reads it all) by default.
#[derive(Clone, Default)]
pub struct Sharing(pub Option<std::rc::Rc<dyn Share>>);

impl std::fmt::Debug for Sharing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(s) => write!(f, "Sharing({} of {})", s.part(), s.parts()),
            None => write!(f, "Sharing(alone)"),
        }
    }
}

impl Sharing {
    /// (this process's part, the number of parts).
    pub fn split(&self) -> (usize, usize) {
        self.0.as_ref().map_or((0, 1), |s| (s.part(), s.parts()))
    }
}

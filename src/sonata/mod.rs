//! SONATA files read as input: circuits (configs, node and edge populations, their type
//! tables) to be simulated, and spike trains for spike sources to replay. (The outputs
//! volley writes in SONATA's layout are `record`'s.)

pub mod circuit;
pub mod config;
pub mod edges;
pub mod spikes;
pub mod survey;
pub mod types;

/// Entries (edges, spikes) read from a file at a time: `VOLLEY_ENTRIES_PER_READ` where
/// set (fewer bound a process's memory further, at the cost of more reads; the tests
/// use few, to read in many rounds), else 2^20 (about 40 MB of an edge population's ids,
/// types, weights and delays).
pub fn entries_per_read() -> usize {
    static PER_READ: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PER_READ.get_or_init(|| match std::env::var("VOLLEY_ENTRIES_PER_READ") {
        Err(_) => 1 << 20,
        Ok(text) => text.trim().parse::<usize>().ok().filter(|&n| n > 0).unwrap_or_else(|| {
            eprintln!("volley: warning: VOLLEY_ENTRIES_PER_READ={text:?} is not a number of entries > 0: reading 1048576 at a time");
            1 << 20
        }),
    })
}

/// The processes that read a circuit together. When the description is made, each scans
/// its share of every edge population (chunks `part`, `part + parts`, …) and what they
/// found is combined, so that no process reads every edge; alone, one process reads
/// them all. Every process calls `all_gather` the same number of times (collective).
pub trait Share {
    fn part(&self) -> usize;
    fn parts(&self) -> usize;
    /// Every process's `words`, in process order.
    fn all_gather(&self, words: &[u64]) -> Vec<Vec<u64>>;

    /// Entries read at a time (`entries_per_read`), one value for all the processes:
    /// their shares of a file are cut by it.
    fn per_read(&self) -> usize;
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

    /// Entries read at a time, the same for all the processes.
    pub fn per_read(&self) -> usize {
        self.0.as_ref().map_or_else(entries_per_read, |s| s.per_read())
    }
}

/// A text as words, behind its length in bytes (what processes gather of an error).
pub(crate) fn text_words(text: &str) -> Vec<u64> {
    let mut words = vec![text.len() as u64];
    words.extend(text.as_bytes().chunks(8).map(|c| {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        u64::from_le_bytes(b)
    }));
    words
}

/// The text of `text_words`.
pub(crate) fn words_text(words: &[u64]) -> String {
    let len = words.first().copied().unwrap_or(0) as usize;
    let bytes: Vec<u8> = words.iter().skip(1).flat_map(|w| w.to_le_bytes()).take(len).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

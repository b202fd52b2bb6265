//! SONATA files read as input: spike trains for spike sources to replay (`spikes`).
//! (The outputs volley writes in SONATA's layout are `record`'s.)

pub mod spikes;

//! Progress while a run goes: a bar on a terminal, plain lines in batch logs.

use super::RunOptions;
use crate::network::Description;
use std::io::IsTerminal;
use std::time::Instant;

/// A progress bar with ETA on a terminal; plain periodic lines when stderr is a file
/// (Slurm logs), so that a log shows how far a batch job got.
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    interval: f64,
    last: Instant,
    start: Instant,
    total: u64,
    dt_ms: f64,
}

impl Progress {
    pub(super) fn new(options: &RunOptions, desc: &Description, shown: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (shown && options.progress && terminal).then(|| {
            let bar = indicatif::ProgressBar::new(desc.steps);
            bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% {msg} ETA {eta}").expect("valid template"));
            bar
        });
        Progress {
            bar,
            plain: shown && options.progress && !terminal,
            interval: options.progress_interval,
            last: Instant::now(),
            start: Instant::now(),
            total: desc.steps,
            dt_ms: desc.dt_ms,
        }
    }

    pub(super) fn update(&mut self, step: u64) {
        let bio_ms = step as f64 * self.dt_ms;
        if let Some(bar) = &self.bar {
            bar.set_position(step);
            bar.set_message(format!("{bio_ms:.0} ms"));
        } else if self.plain && self.last.elapsed().as_secs_f64() >= self.interval {
            self.last = Instant::now();
            let elapsed = self.start.elapsed().as_secs_f64();
            let eta = elapsed * (self.total - step) as f64 / step.max(1) as f64;
            eprintln!(
                "volley: {bio_ms:.0} ms of {:.0} ms simulated ({:.0}%), {}, ETA {eta:.0} s",
                self.total as f64 * self.dt_ms,
                100.0 * step as f64 / self.total.max(1) as f64,
                crate::units::real_time(bio_ms / 1000.0 / elapsed.max(1e-9))
            );
        }
    }

    pub(super) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

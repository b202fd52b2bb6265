//! What a run prints and appends when it ends: the summary lines, the CSV line, and the
//! formatting of sizes and durations.

use super::{phase, RunReport, PHASES};
use crate::comm::ExchangeMode;
use crate::error::{Error, Result};
use crate::network::Description;
pub use crate::units::fmt_bytes;
use std::path::Path;
use std::time::Duration;

/// The summary printed at the end of every run: one line of totals, then one line of
/// per-rank timers (min / median / max over ranks) that shows load imbalance.
pub fn summary(desc: &Description, report: &RunReport) -> String {
    // A resumed run counts (and times) only what it simulated itself.
    let from_ms = report.first_step as f64 * desc.dt_ms;
    let duration_ms = report.steps as f64 * desc.dt_ms - from_ms;
    let rates: Vec<String> = desc
        .populations
        .iter()
        .zip(&report.spike_counts)
        .map(|(p, &n)| format!("{} {:.2} Hz", p.name, n as f64 / p.size.max(1) as f64 / (duration_ms / 1000.0).max(1e-12)))
        .collect();
    let rtf = duration_ms / 1000.0 / report.simulate.as_secs_f64().max(1e-9);
    let ranks = report.rank_phases.len();
    let peak = match (report.peak_memory.iter().cloned().fold(0.0, f64::max), ranks) {
        (p, _) if p <= 0.0 => "unknown".to_string(),
        (p, 1) => fmt_bytes(p as u64),
        (p, _) => format!("{} per rank (max), {} in all", fmt_bytes(p as u64), fmt_bytes(report.peak_memory.iter().sum::<f64>() as u64)),
    };
    let mut stopped = if report.stopped_by_signal.is_some() { " (stopped by a signal)".to_string() } else { String::new() };
    if report.first_step > 0 {
        stopped += &format!(" (resumed at {from_ms} ms, to {} ms)", from_ms + duration_ms);
    }
    let mut out = format!(
        "volley: {} neurons, {} synapses, {} spikes ({}) in {} ms{stopped} | build {}, simulate {}, write {} | {} | peak memory {peak}",
        report.neurons,
        report.synapses,
        report.spike_counts.iter().sum::<u64>(),
        rates.join(", "),
        duration_ms,
        fmt_duration(report.build),
        fmt_duration(report.simulate),
        fmt_duration(report.write),
        crate::units::real_time(rtf),
    );
    let stat = |k: usize| {
        let mut v: Vec<f64> = report.rank_phases.iter().map(|p| p[k]).collect();
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2], v[v.len() - 1])
    };
    let shown: Vec<String> = [phase::DELIVER, phase::UPDATE, phase::EXCHANGE, phase::WRITE]
        .iter()
        .map(|&k| {
            let (lo, mid, hi) = stat(k);
            let figure =
                if ranks == 1 { format!("{} {:.3}", PHASES[k], mid) } else { format!("{} {:.3}/{:.3}/{:.3}", PHASES[k], lo, mid, hi) };
            match report.deliver_ns_per_event {
                // What the bound of the machine's memory system is measured in (benches/bound.sh).
                Some(ns) if k == phase::DELIVER => format!("{figure} ({ns:.2} ns per synaptic event)"),
                _ => figure,
            }
        })
        .collect();
    let (_, exchange, _) = stat(phase::EXCHANGE);
    let epochs = report.phases.epochs.max(1);
    let mode = match report.exchange {
        ExchangeMode::Directed => format!("directed, a spike to {:.0}% of ranks", report.fan_out * 100.0),
        _ => "all-gather".to_string(),
    };
    let mode = match report.wire_bytes_per_spike {
        Some(b) => format!("{mode}, {b:.2} bytes per spike sent"),
        None => mode,
    };
    let what = if ranks == 1 { "s".to_string() } else { format!("s, min/median/max over {ranks} ranks") };
    // The CPU's instruction set and the exceptions to it, or the GPU run on.
    let runs_on = if report.backend == "cpu" {
        format!("kernels {}{}", crate::simd::level().name(), kernel_exceptions(desc))
    } else {
        report.backend.clone()
    };
    // Threads wait for the busiest shard at the end of every epoch: its excess over the
    // least busy is the imbalance.
    let shards = match report.shard_busy {
        Some((lo, hi)) if hi > 0.0 => {
            let (lo_shown, hi_shown) = (fmt_duration(Duration::from_secs_f64(lo)), fmt_duration(Duration::from_secs_f64(hi)));
            format!(" | shards busy {lo_shown}–{hi_shown} (the busiest {:.0}% over the least)", (hi / lo.max(1e-12) - 1.0) * 100.0)
        }
        _ => String::new(),
    };
    out.push_str(&format!(
        "\nphases ({what}): {}{shards}{} | {} epochs, exchange {:.1} us per epoch ({mode}) | {runs_on}",
        shown.join(", "),
        super::balance::describe(&report.rebalance),
        epochs,
        exchange / epochs as f64 * 1e6,
    ));
    out
}

/// The populations whose kernels run with another instruction set than the widest, as
/// " (name: level, ...)" (empty where none does).
fn kernel_exceptions(desc: &Description) -> String {
    let widest = crate::simd::level();
    let other: Vec<String> = desc
        .populations
        .iter()
        .filter_map(|p| Some(p.model.kernel_level()).filter(|&level| level != widest).map(|level| format!("{}: {}", p.name, level.name())))
        .collect();
    if other.is_empty() {
        String::new()
    } else {
        format!(" ({})", other.join(", "))
    }
}

/// Columns of `--report-csv`: one line per run, for scaling studies.
pub const CSV_HEADER: &str = "ranks,threads,neurons,synapses,steps,dt_ms,spikes,build_s,simulate_s,\
deliver_max_s,update_max_s,exchange_median_s,exchange_max_s,write_max_s,epochs,exchange_us_per_epoch,exchange_mode,fan_out,peak_rss_max_mb,peak_rss_total_mb";

/// The run as one CSV line (see `CSV_HEADER`): maxima over ranks show the slowest rank,
/// which sets the pace.
pub fn csv_line(desc: &Description, report: &RunReport, threads: usize) -> String {
    let column = |k: usize| report.rank_phases.iter().map(|p| p[k]).collect::<Vec<f64>>();
    let max = |k: usize| column(k).into_iter().fold(0.0, f64::max);
    let median = |k: usize| {
        let mut v = column(k);
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let epochs = report.phases.epochs.max(1);
    let mode = if report.exchange == ExchangeMode::Directed { "directed" } else { "all-gather" };
    format!(
        "{},{threads},{},{},{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{epochs},{:.2},{mode},{:.3},{:.1},{:.1}",
        report.rank_phases.len(),
        report.neurons,
        report.synapses,
        report.steps,
        desc.dt_ms,
        report.spike_counts.iter().sum::<u64>(),
        max(phase::BUILD),
        max(phase::SIMULATE),
        max(phase::DELIVER),
        max(phase::UPDATE),
        median(phase::EXCHANGE),
        max(phase::EXCHANGE),
        max(phase::WRITE),
        median(phase::EXCHANGE) / epochs as f64 * 1e6,
        report.fan_out,
        report.peak_memory.iter().cloned().fold(0.0, f64::max) / 1e6,
        report.peak_memory.iter().sum::<f64>() / 1e6,
    )
}

/// The columns of `rank_table`: one line per rank.
pub const RANK_CSV_HEADER: &str = "rank,first_gid,end_gid,state_bytes,synapse_bytes,buffer_bytes,peak_rss_bytes,\
build_s,deliver_s,update_s,exchange_s,write_s,simulate_s";

/// Every rank's share, memory by kind and phase times, one CSV line each after
/// `RANK_CSV_HEADER` (`volley run --ranks-csv`): where a scaling study sees which rank
/// sets the pace and why.
pub fn rank_table(desc: &Description, report: &RunReport) -> String {
    let parts = crate::partition::partition(desc, report.rank_phases.len());
    let mut out = format!("{RANK_CSV_HEADER}\n");
    for (rank, ((range, memory), phases)) in parts.iter().zip(&report.rank_memory).zip(&report.rank_phases).enumerate() {
        let peak = report.peak_memory.get(rank).copied().unwrap_or(0.0) as u64;
        out += &format!(
            "{rank},{},{},{},{},{},{peak},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6}\n",
            range.start,
            range.end,
            memory[0],
            memory[1],
            memory[2],
            phases[phase::BUILD],
            phases[phase::DELIVER],
            phases[phase::UPDATE],
            phases[phase::EXCHANGE],
            phases[phase::WRITE],
            phases[phase::SIMULATE]
        );
    }
    out
}

/// Appends `line` to the CSV file at `path`, writing the header first if the file is
/// new. One `write` of the whole line on a file opened for appending, so that the array
/// tasks of a scaling study can share one file.
pub fn append_csv(path: &Path, line: &str) -> Result<()> {
    use std::io::Write;
    let fail = |e: std::io::Error| Error::Output { path: path.to_path_buf(), message: e.to_string() };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(fail)?;
    let header = if file.metadata().map_err(fail)?.len() == 0 { format!("{CSV_HEADER}\n") } else { String::new() };
    file.write_all(format!("{header}{line}\n").as_bytes()).map_err(fail)
}

pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

/// Peak resident memory of this process (VmHWM), where the OS reports it.
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

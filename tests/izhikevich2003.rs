//! The Izhikevich (2003) network end to end through the CLI: the paper's statistics over
//! seeds 1..10, thread-count independence, and the raster and spike file on disk.

mod common;

use common::*;
use volley::analysis::{population_rate, population_stats, welch_spectrum, Spectrum};
use volley::record::sonata::{read_spike_file, SpikeFile};

fn run_seed(dir: &std::path::Path, seed: u64, threads: usize) -> SpikeFile {
    let out = dir.join(format!("seed{seed}-t{threads}"));
    let model = example("izhikevich2003.toml");
    let result = volley(
        dir,
        &[
            "run",
            model.to_str().unwrap(),
            "--seed",
            &seed.to_string(),
            "--threads",
            &threads.to_string(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert_ok(&result);
    let summary = stdout(&result);
    assert!(summary.contains("1000 neurons, 1000000 synapses"), "summary: {summary}");
    assert!(out.join("raster.png").metadata().unwrap().len() > 10_000, "raster written");
    read_spike_file(&out.join("spikes.h5")).unwrap()
}

#[test]
fn paper_statistics_over_seeds_1_to_10() {
    let dir = tempfile::tempdir().unwrap();
    let (mut exc, mut inh) = (Vec::new(), Vec::new());
    let mut spectra: Vec<Spectrum> = Vec::new();
    for seed in 1..=10 {
        let file = run_seed(dir.path(), seed, 2);
        assert_eq!(file.duration_ms, Some(1000.0));
        let rate = |name: &str| {
            let p = file.populations.iter().find(|p| p.name == name).unwrap();
            population_stats(p, p.size.unwrap(), 1000.0).rate_hz
        };
        exc.push(rate("exc"));
        inh.push(rate("inh"));
        spectra.push(welch_spectrum(&population_rate(&file.populations, 1.0, 1000.0), 1.0, 1000.0));
    }
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let (exc_hz, inh_hz) = (mean(&exc), mean(&inh));
    eprintln!("exc {exc:.2?} mean {exc_hz:.2} Hz; inh {inh:.2?} mean {inh_hz:.2} Hz");
    assert!((6.5..=9.0).contains(&exc_hz), "excitatory rate {exc_hz} Hz outside 6.5-9");
    assert!((6.0..=9.0).contains(&inh_hz), "inhibitory rate {inh_hz} Hz outside 6-9");

    let spectrum = Spectrum::average(&spectra);
    let (alpha_f, _) = spectrum.peak_in(1.0, 15.0).unwrap();
    let (gamma_f, gamma_p) = spectrum.peak_in(30.0, 50.0).unwrap();
    eprintln!("largest peak below 15 Hz at {alpha_f} Hz; gamma peak at {gamma_f} Hz, {:.1}x the mean", gamma_p / spectrum.mean_power());
    assert!((5.0..=12.0).contains(&alpha_f), "alpha peak at {alpha_f} Hz");
    assert!(gamma_p > spectrum.mean_power(), "gamma peak not above the mean power");

    // Different seeds give different rasters.
    assert_ne!(exc[0], exc[1]);
}

#[test]
fn threads_1_and_2_write_byte_identical_spike_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let one = run_seed(dir.path(), 7, 1);
    let two = run_seed(dir.path(), 7, 2);
    assert_eq!(one, two);
    let raw = |t: usize, name: &str, ds: &str| -> Vec<u8> {
        let f = hdf5::File::open(dir.path().join(format!("seed7-t{t}/spikes.h5"))).unwrap();
        let d = f.dataset(&format!("spikes/{name}/{ds}")).unwrap();
        match ds {
            "timestamps" => d.read_raw::<f64>().unwrap().iter().flat_map(|x| x.to_le_bytes()).collect(),
            _ => d.read_raw::<u64>().unwrap().iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    };
    for name in ["exc", "inh"] {
        for ds in ["timestamps", "node_ids"] {
            let a = raw(1, name, ds);
            assert!(!a.is_empty());
            assert_eq!(a, raw(2, name, ds), "{name}/{ds}");
        }
    }
}

#[test]
fn stats_and_plot_commands_read_the_spike_file() {
    let dir = tempfile::tempdir().unwrap();
    run_seed(dir.path(), 3, 1);
    let spikes = dir.path().join("seed3-t1/spikes.h5");
    let out = volley(dir.path(), &["stats", spikes.to_str().unwrap()]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("exc") && text.contains("inh") && text.contains("CV(ISI)") && text.contains("gamma"), "{text}");
    let png = dir.path().join("again.png");
    let out = volley(dir.path(), &["plot", spikes.to_str().unwrap(), "-o", png.to_str().unwrap()]);
    assert_ok(&out);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn batch_logs_get_plain_progress_lines() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich2003.toml");
    let out = dir.path().join("out");
    let args = ["run", model.to_str().unwrap(), "--duration", "10s", "--out", out.to_str().unwrap(), "--progress-every", "0.002"];
    // stderr is a pipe here, as in a Slurm job: periodic plain lines, no bar.
    let result = volley(dir.path(), &args);
    assert_ok(&result);
    let log = stderr(&result);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("ms of 10000 ms simulated")).collect();
    assert!(lines.len() >= 2, "progress lines: {log}");
    assert!(lines.iter().all(|l| l.starts_with("volley: ") && l.contains("real time, ETA")), "{log}");
    let quiet = volley(dir.path(), &[&args[..], &["-q"]].concat());
    assert_ok(&quiet);
    assert!(stderr(&quiet).is_empty(), "quiet run printed: {}", stderr(&quiet));
}

/// The summary's phase line shows how evenly the threads' shards were loaded: the least
/// and most busy shard, where a rank runs several; nothing where it runs one; and the
/// delivery's time per synaptic event.
#[test]
fn the_phase_line_shows_the_shards_spread_where_there_are_several() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich2003.toml");
    let run = |threads: &str| {
        let out = dir.path().join(format!("t{threads}"));
        let result = volley(
            dir.path(),
            &["run", model.to_str().unwrap(), "--threads", threads, "--duration", "100ms", "--out", out.to_str().unwrap(), "-q"],
        );
        assert!(result.status.success(), "{}", stderr(&result));
        stderr(&result)
            .lines()
            .chain(String::from_utf8_lossy(&result.stdout).lines())
            .find(|l| l.starts_with("phases"))
            .unwrap()
            .to_string()
    };
    let two = run("2");
    let spread = two.split("shards busy ").nth(1).unwrap_or_else(|| panic!("no shards' spread: {two}"));
    let (times, rest) = spread.split_once(" (the busiest ").unwrap();
    assert_eq!(times.split('–').count(), 2, "{two}");
    let percent: f64 = rest.split_once("% over the least)").unwrap().0.parse().unwrap();
    assert!(percent >= 0.0, "{two}");
    let one = run("1");
    assert!(!one.contains("shards busy"), "{one}");
    // Delivery per synaptic event (benches/bound.sh compares it with the machine's bound).
    for line in [&one, &two] {
        let ns = line.split_once(" ns per synaptic event)").unwrap_or_else(|| panic!("no time per event: {line}")).0;
        let ns: f64 = ns.rsplit_once('(').unwrap().1.parse().unwrap();
        assert!(ns > 0.0 && ns < 1000.0, "{line}");
    }
}

//! `volley plan`, and `volley run` refusing on the planner's figures: per-rank memory by
//! kind, output by file and dataset, expected spikes and time; the seed-era mistake (v of
//! 50,000 neurons every 0.01 ms for 50 s) refused before anything is built, with the
//! figure and a way to make it fit. How close the figures come to real runs is measured
//! in benches/plan_vs_reality.sh (BENCHMARKS.md, "Planner").

mod common;

use common::{example, stderr, stdout, volley};

fn figure(line: &str, key: &str) -> f64 {
    let at = line.find(&format!("{key}=")).unwrap_or_else(|| panic!("{key} in {line}")) + key.len() + 1;
    line[at..].split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn the_plan_shows_every_rank_every_file_and_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.toml");
    let text = std::fs::read_to_string(example("izhikevich_sparse.toml")).unwrap()
        + "\n[[output.report]]\nfile = \"v.h5\"\nvariable = \"v\"\nneurons = { range = [0, 100] }\npopulations = [\"exc\"]\ninterval = \"1 ms\"\n";
    std::fs::write(&model, text).unwrap();
    let out = volley(dir.path(), &["plan", model.to_str().unwrap(), "--ranks", "3", "--threads", "2", "--expected-rate", "8"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("per rank (3 rank(s) × 2 thread(s))"), "{text}");
    for rank in ["0", "1", "2"] {
        assert!(text.lines().any(|l| l.split_whitespace().take(2).eq([rank, "1"])), "rank row {rank:?}: {text}");
    }
    assert!(
        text.contains("spikes/exc/{timestamps, node_ids}") && text.contains("report/exc/data") && text.contains("1000 × 100 f32"),
        "{text}"
    );
    assert!(text.contains("expected: 80000 spikes, 8.000e7 synaptic events"), "{text}");
    assert!(text.contains("wall time (slowest rank): build"), "{text}");
    let line = text.lines().find(|l| l.starts_with("plan: ")).expect("the machine-readable line");
    // 100 neurons × 1000 samples × 4 bytes, and 16 bytes per spike, rounded to chunks.
    assert!(figure(line, "output_bytes") > 400_000.0 + 80_000.0 * 16.0, "{line}");
    assert_eq!(figure(line, "spikes"), 80_000.0);
    // Three ranks share 10^7 synapses: the largest holds about a third, plus the process,
    // and (rank 0) the raster it draws at the end.
    let memory = figure(line, "memory_bytes");
    let raster = volley::plan::FIGURE_BYTES as f64;
    assert!(memory > 13e6 + 21e6 + raster && memory < 20e6 + 25e6 + raster, "{line}");

    let calibrated = volley(dir.path(), &["plan", model.to_str().unwrap(), "--calibrate", "--duration", "100ms"]);
    assert!(calibrated.status.success(), "{}", stderr(&calibrated));
    assert!(stdout(&calibrated).contains("calibrated here on 5000 neurons for 100 ms: update ×"), "{}", stdout(&calibrated));

    for (args, message) in [
        (vec!["--ranks", "0"], "--ranks: expected at least 1 rank"),
        (vec!["--expected-rate=-3"], "--expected-rate: expected a rate in Hz ≥ 0, got -3"),
    ] {
        let mut all = vec!["plan", model.to_str().unwrap()];
        all.extend(args);
        let out = volley(dir.path(), &all);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
}

/// The mistake of the seed era: every neuron's v at every step of a long run. Refused
/// before anything is built (nothing is created), with the size and a way to fit.
#[test]
fn every_neurons_v_every_step_for_50_s_is_refused_with_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.toml");
    let text = std::fs::read_to_string(example("hh_five_current.toml")).unwrap()
        + "\n[[output.report]]\nfile = \"v.h5\"\nvariable = \"v\"\ninterval = \"0.01 ms\"\n";
    std::fs::write(&model, text).unwrap();
    let out_dir = dir.path().join("out");
    let out = volley(
        dir.path(),
        &["run", model.to_str().unwrap(), "--duration", "50s", "--out", out_dir.to_str().unwrap(), "--max-output", "100GB"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let first = err.lines().next().unwrap();
    assert!(first.contains("expected to take 1.0 TB (50000 neurons at 10 Hz for 50 s) but --max-output allows 100.0 GB"), "{first}");
    assert!(first.contains("v.h5 alone needs 1.0 TB: sample every 0.11 ms (interval = \"0.11 ms\"), or 1 neuron in 11"), "{first}");
    assert!(err.contains("report/cells/data") && err.contains("5000000 × 50000 f32"), "the plan: {err}");
    assert!(!out_dir.exists(), "nothing created");
}

/// Between appends the reports buffer at most 64 MB of samples (all ranks together):
/// the appends come more often instead of memory growing with what is sampled.
#[test]
fn report_buffers_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.toml");
    let text = std::fs::read_to_string(example("hh_five_current.toml")).unwrap()
        + "\n[[output.report]]\nfile = \"v.h5\"\nvariable = \"v\"\ninterval = \"0.01 ms\"\n";
    std::fs::write(&model, text).unwrap();
    let out = volley(dir.path(), &["check", model.to_str().unwrap(), "--duration", "50s"]);
    let text = stdout(&out);
    assert!(text.contains("buffered for 3 ms between appends"), "{text}");
    assert!(text.contains("(buffered: 60.0 MB per rank at most)"), "{text}");
}

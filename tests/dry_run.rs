//! The dry run (issue 26): one process builds one rank's share of a larger run and
//! simulates it with the other ranks' spikes drawn at given rates. Its memory against a
//! real run's rank is in tests/mpi.rs (it needs mpirun); here what it receives, where
//! its rates come from, and its refusals.

mod common;

use std::path::Path;

/// The model of these tests: the sparse example at 20,000 neurons.
const SPARSE: [&str; 5] = ["--set", "population.exc.size=16000", "--set", "population.inh.size=4000", "--threads=1"];

fn dry(dir: &Path, extra: &[&str]) -> std::process::Output {
    let model = common::example("izhikevich_sparse.toml");
    let mut args = vec!["run", model.to_str().unwrap()];
    args.extend(SPARSE);
    args.extend(extra);
    common::volley(dir, &args)
}

/// The number after `label` in `text` ("spikes: 123 received": label "spikes: ").
fn number_after(text: &str, label: &str) -> f64 {
    let at = text.find(label).unwrap_or_else(|| panic!("{label:?} in {text}")) + label.len();
    text[at..].split(|c: char| !(c.is_ascii_digit() || c == '.')).next().unwrap().parse().unwrap()
}

/// The spikes a dry run receives are the other ranks' neurons firing at the rate asked:
/// their count lies within five standard deviations of (neurons not its own) × rate ×
/// time.
#[test]
fn the_spikes_received_follow_the_rate_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dry(dir.path(), &["--duration", "200ms", "--dry-run", "4", "--dry-run-rank", "2", "--expected-rate", "20"]);
    common::assert_ok(&out);
    let text = common::stdout(&out);
    assert!(text.contains("dry run of rank 2 of 4"), "{text}");
    let own = number_after(&text, "(");
    let received = number_after(&text, "spikes: ");
    let expected = (20_000.0 - own) * 20.0 * 0.2;
    assert!((received - expected).abs() < 5.0 * expected.sqrt(), "{received} spikes received, expected {expected}:\n{text}");
    assert!(text.contains("other ranks drawn as Poisson trains: exc 20.00 Hz, inh 20.00 Hz"), "{text}");
    assert!(!dir.path().join("out").exists(), "a dry run writes no output");
    // The receive/lookup is timed, and is part of delivery (ns per received spike).
    let per_spike = |label: &str| number_after(&text[text.find(label).unwrap_or_else(|| panic!("{label:?} in {text}"))..], "(");
    let (deliver, lookup) = (per_spike("deliver "), per_spike("receive/lookup "));
    assert!(lookup > 0.0 && lookup <= deliver, "lookup {lookup} ns of delivery {deliver} ns per received spike:\n{text}");
}

/// With --rates-from, each population fires at its mean rate in that spike file: the
/// rates the run itself printed.
#[test]
fn rates_come_from_an_earlier_runs_spike_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::example("izhikevich_sparse.toml");
    let mut args = vec!["run", model.to_str().unwrap(), "--duration", "200ms", "--out", "real", "-q"];
    args.extend(SPARSE);
    let real = common::volley(dir.path(), &args);
    common::assert_ok(&real);
    let summary = common::stdout(&real);
    let rate = |name: &str| number_after(&summary, &format!("{name} "));
    let out = dry(dir.path(), &["--duration", "200ms", "--dry-run", "4", "--rates-from", "real/spikes.h5"]);
    common::assert_ok(&out);
    let text = common::stdout(&out);
    let drawn = format!("other ranks drawn as Poisson trains: exc {:.2} Hz, inh {:.2} Hz", rate("exc"), rate("inh"));
    assert!(text.contains(&drawn), "expected {drawn:?} in\n{text}\n(the run: {summary})");
}

/// Its rank's line in the form of `--ranks-csv`, with the memory it holds by kind.
#[test]
fn a_dry_run_writes_its_ranks_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dry(dir.path(), &["--duration", "50ms", "--dry-run", "4", "--dry-run-rank", "3", "--ranks-csv", "rank.csv"]);
    common::assert_ok(&out);
    let table = std::fs::read_to_string(dir.path().join("rank.csv")).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("rank,first_gid,end_gid,state_bytes,synapse_bytes,buffer_bytes"), "{table}");
    let fields: Vec<u64> = lines[1].split(',').take(6).map(|f| f.parse().unwrap()).collect();
    assert_eq!(fields[0], 3);
    assert_eq!(fields[2], 20_000, "the last rank ends with the network");
    // 1000 synapses onto each of its neurons, 4 or 6 bytes each.
    let neurons = fields[2] - fields[1];
    assert!(fields[4] >= neurons * 1000 * 4 && fields[4] <= neurons * 1000 * 7, "{table}");
}

#[test]
fn bad_dry_runs_are_refused_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--dry-run", "0"], "--dry-run: expected at least 1 rank"),
        (&["--dry-run", "4", "--dry-run-rank", "4"], "--dry-run-rank: expected a rank below 4 (the ranks of the dry run), got 4"),
        (&["--dry-run", "1000"], "--dry-run: expected at most 313 rank(s) for 20000 neurons, got 1000"),
        (&["--dry-run", "4", "--rates-from", "missing.h5"], "missing.h5"),
        (&["--dry-run", "4", "--expected-rate=-1"], "--expected-rate: expected a rate in Hz ≥ 0, got -1"),
    ];
    for (extra, message) in cases {
        let out = dry(dir.path(), extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", common::stderr(&out));
        let err = common::stderr(&out);
        assert!(err.contains(message), "{extra:?}: expected {message:?} in {err}");
        assert_eq!(err.lines().filter(|l| !l.trim().is_empty()).count(), 1, "one line: {err}");
    }
    let out = dry(dir.path(), &["--dry-run-rank", "1"]);
    assert!(!out.status.success() && common::stderr(&out).contains("--dry-run"), "{}", common::stderr(&out));
}

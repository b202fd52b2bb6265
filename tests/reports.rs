//! Sampled state in SONATA reports (`[[output.report]]`): the layout, read by h5py and
//! libsonata (tests/check_report.py; VOLLEY_PYTHON as set by scripts/test.sh — without
//! them the test fails with instructions), the samples at the requested steps and
//! neurons, the same bytes whatever the threads, and the errors of a bad table.

mod common;

use common::*;
use std::path::Path;

fn model_with(dir: &Path, tables: &str) -> String {
    let text = std::fs::read_to_string(example("izhikevich2003.toml")).unwrap() + tables;
    let path = dir.join("model.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn check_with_python(args: &[String]) {
    let python = std::env::var("VOLLEY_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = repo().join("tests/check_report.py");
    let result = common::command(&python).arg(&script).args(args).output();
    let result = result.unwrap_or_else(|e| panic!("cannot run {python}: {e}; run scripts/test.sh, which sets up Python with h5py"));
    let (o, e) = (String::from_utf8_lossy(&result.stdout), String::from_utf8_lossy(&result.stderr));
    assert!(
        !e.contains("No module named"),
        "h5py or libsonata is missing for {python}: run scripts/test.sh (or pip install h5py libsonata and set VOLLEY_PYTHON)\n{e}"
    );
    assert!(result.status.success(), "h5py / libsonata check failed:\n{o}\n{e}");
    assert!(o.contains("libsonata reads the same"), "{o}");
}

fn data(path: &Path, population: &str) -> Vec<f32> {
    let file = hdf5::File::open(path).unwrap();
    file.dataset(&format!("report/{population}/data")).unwrap().read_raw::<f32>().unwrap()
}

#[test]
fn reports_read_in_h5py_and_libsonata_and_show_each_spike_at_its_peak() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_with(dir.path(), REPORTS);
    let mut runs = Vec::new();
    for threads in ["2", "1"] {
        let out = dir.path().join(format!("out{threads}"));
        let run = volley(dir.path(), &["run", &model, "--out", out.to_str().unwrap(), "-q", "--duration", "500ms", "--threads", threads]);
        assert_ok(&run);
        runs.push(out);
    }
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = &runs[0];
    // Each sample is the state before a step: v at 0 ms is the initial −65 mV, and a
    // spike at t (emitted in the step to t) shows as v ≥ 30 mV in the sample at t.
    let args = [s(&out.join("v.h5")), "exc".into(), "0".into(), "500".into(), "1".into(), "0,3,17,420,799".into()];
    check_with_python(&[&args[..], &[s(&out.join("spikes.h5")), "30".into()]].concat());
    assert!(data(&out.join("v.h5"), "exc")[..5].iter().all(|&v| v == -65.0));
    let units = |file: &str, population: &str| {
        let f = hdf5::File::open(out.join(file)).unwrap();
        let attr = f.dataset(&format!("report/{population}/data")).unwrap().attr("units").unwrap();
        attr.read_scalar::<hdf5::types::VarLenUnicode>().unwrap().to_string()
    };
    assert_eq!((units("v.h5", "exc"), units("u_inh.h5", "inh")), ("mV".to_string(), "mV/ms".to_string()));
    let ids: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    check_with_python(&[s(&out.join("u_inh.h5")), "inh".into(), "10".into(), "50".into(), "2".into(), ids.join(",")]);
    // Windows: one file each, each a regular series of its own.
    for (file, from, to) in [("edges_w0.h5", "0", "20"), ("edges_w1.h5", "480", "500")] {
        for population in ["exc", "inh"] {
            check_with_python(&[s(&out.join(file)), population.into(), from.into(), to.into(), "5".into(), "100,101,102,103".into()]);
        }
    }
    assert!(!out.join("edges.h5").exists());
    // `volley plot` draws chosen neurons' traces below the raster and the rate.
    let fig = out.join("fig.png");
    let plot = |extra: &[&str]| {
        let (spikes, report) = (s(&out.join("spikes.h5")), s(&out.join("v.h5")));
        let args = [&["plot", spikes.as_str(), "-o", fig.to_str().unwrap(), "--report", report.as_str()], extra].concat();
        volley(dir.path(), &args)
    };
    assert_ok(&plot(&["--neurons", "0,3,420"]));
    let png = std::fs::read(&fig).unwrap();
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (1200, 1100), "width and height of the figure with traces");
    let missing = plot(&["--neurons", "5"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("neuron 5 of exc is not in the report (it has: 0, 3, 17, 420, 799)"), "{}", stderr(&missing));
    let unknown = plot(&["--population", "inh"]);
    assert!(stderr(&unknown).contains("no population \"inh\" in the report (it has: exc)"), "{}", stderr(&unknown));
    // The same bytes with one thread as with two.
    for (file, population) in [("v.h5", "exc"), ("u_inh.h5", "inh")] {
        let (a, b) = (data(&runs[0].join(file), population), data(&runs[1].join(file), population));
        assert!(!a.is_empty() && a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()) && a.len() == b.len(), "{file}");
    }
}

#[test]
fn report_tables_are_checked_field_by_field() {
    let example_text = std::fs::read_to_string(example("izhikevich2003.toml")).unwrap();
    let table = |body: &str| format!("{example_text}\n[[output.report]]\n{body}\n");
    let cases = [
        (
            r#"file = "w.h5"
variable = "w""#,
            "output.report[0].variable: no population's model has a state variable \"w\" (expected one of izhikevich: v, u)",
        ),
        (
            r#"file = "w.h5"
variable = "w"
populations = ["inh"]"#,
            "output.report[0].variable: population \"inh\" (izhikevich) has no state variable \"w\" (expected one of: v, u)",
        ),
        (
            r#"file = "v.h5"
variable = "v"
interval = "1.5 ms""#,
            "output.report[0].interval: expected a whole number of steps of dt = 1 ms, got 1.5 ms",
        ),
        (
            r#"file = "v.h5"
variable = "v"
start = "100 ms"
stop = "50 ms""#,
            "output.report[0].start: expected start < stop, got start 100 ms, stop 50 ms",
        ),
        (
            r#"file = "spikes.h5"
variable = "v""#,
            "output.report[0].file: \"spikes.h5\" is already the name of another output file",
        ),
        (
            r#"file = "v.txt"
variable = "v""#,
            "output.report[0].file: expected a file name ending in .h5 (a SONATA report), got \"v.txt\"",
        ),
        (
            r#"file = "v.h5"
variable = "v"
populations = ["nope"]"#,
            "output.report[0].populations: no population is named \"nope\" (expected one of: exc, inh)",
        ),
        (
            r#"file = "v.h5"
variable = "v"
neurons = { ids = [800] }"#,
            "output.report[0].neurons: expected indices from 0 to 799",
        ),
        (
            r#"file = "v.h5"
variable = "v"
windows = [["0 ms", "50 ms"], ["40 ms", "60 ms"]]"#,
            "output.report[0].windows: expected windows in increasing time, apart: window 1 starts at 40 ms, before the end of the one before (50 ms)",
        ),
        (
            r#"file = "v.h5"
variable = "v"
windows = [["0 ms", "50 ms"]]
start = "10 ms""#,
            "output.report[0].windows: expected either windows or start and stop, not both",
        ),
        (
            r#"file = "v.h5"
variable = "v"
windows = [["50 ms", "20 ms"]]"#,
            "output.report[0].windows: expected start < stop in window 0, got [50 ms, 20 ms]",
        ),
        (
            r#"file = "v.h5"
variable = "v"
every = "1 ms""#,
            "unknown field `every`",
        ),
    ];
    for (body, expected) in cases {
        let line = check_refuses("model.toml", &table(body));
        assert!(line.contains(expected), "{line}\nexpected: {expected}");
        assert!(line.contains("model.toml"), "{line}");
    }
}

/// Synaptic kinds are report variables (`synapse.k`) on the populations they reach; the
/// message for an unknown variable lists them.
#[test]
fn synaptic_kinds_are_named_in_the_report_message() {
    let text = std::fs::read_to_string(common::example("hh_network.toml")).unwrap()
        + "\n[[output.report]]\nfile = \"g.h5\"\nvariable = \"synapse.7\"\n";
    let err = common::check_refuses("m.toml", &text);
    assert!(
        err.ends_with("output.report[0].variable: no population's model has a state variable \"synapse.7\" (expected one of hh: v, na.m, na.h, k.n; synapse.1: exp_conductance, tau 5 ms, e_rev 0; synapse.2: exp_conductance, tau 10 ms, e_rev -80)"),
        "{err}"
    );
}

/// `output.spike_populations` and `output.spike_neurons` limit the spike file to those
/// neurons: exactly the spikes of the full file from them, the other populations absent;
/// the run's summary still counts every population.
#[test]
fn spike_recording_can_be_limited_to_populations_and_neurons() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::example("izhikevich2003.toml");
    let m = model.to_str().unwrap();
    let d = dir.path();
    let all = common::volley(d, &["run", "-q", m, "--out", "all", "--duration", "300ms"]);
    common::assert_ok(&all);
    let all_summary = common::stdout(&all);
    let at = all_summary.find("(exc ").expect("rates in the summary");
    let rates = &all_summary[at..at + all_summary[at..].find(')').unwrap() + 1];
    for (selection, keep) in [
        ("output.spike_neurons={ range = [10, 60] }", (|i: u64| (10..60).contains(&i)) as fn(u64) -> bool),
        ("output.spike_neurons={ ids = [0, 7, 150] }", |i: u64| [0, 7, 150].contains(&i)),
    ] {
        let out = common::volley(
            d,
            &["run", "-q", m, "--out", "some", "--duration", "300ms", "--set", "output.spike_populations=[\"inh\"]", "--set", selection],
        );
        common::assert_ok(&out);
        assert!(
            common::stdout(&out).contains(rates),
            "every population in the summary, as when all are recorded {rates}: {}",
            common::stdout(&out)
        );
        let all = volley::record::sonata::read_spike_file(&d.join("all/spikes.h5")).unwrap();
        let some = volley::record::sonata::read_spike_file(&d.join("some/spikes.h5")).unwrap();
        assert_eq!(some.populations.len(), 1, "only inh");
        let (a, s) = (all.populations.iter().find(|p| p.name == "inh").unwrap(), &some.populations[0]);
        let expected: Vec<(u64, u64)> =
            a.node_ids.iter().zip(&a.timestamps_ms).filter(|(i, _)| keep(**i)).map(|(i, t)| (*i, t.to_bits())).collect();
        let got: Vec<(u64, u64)> = s.node_ids.iter().zip(&s.timestamps_ms).map(|(i, t)| (*i, t.to_bits())).collect();
        assert!(!expected.is_empty());
        assert_eq!(got, expected, "{selection}");
    }
    let err = common::check_refuses(
        "m.toml",
        &(std::fs::read_to_string(&model).unwrap() + "").replace("[output]", "[output]\nspike_populations = [\"gaba\"]"),
    );
    assert!(err.ends_with("output.spike_populations: no population is named \"gaba\" (expected one of: exc, inh)"), "{err}");
}

#[test]
fn rate_trace_fields_are_checked() {
    let text = std::fs::read_to_string(common::example("izhikevich2003.toml")).unwrap();
    let with = |lines: &str| text.replace("[output]", &format!("[output]\n{lines}"));
    let err = common::check_refuses("m.toml", &with("rate_bin = \"2 ms\""));
    assert!(err.ends_with("output.rate_bin: a bin for rate traces that are not written: name their file with output.rates"), "{err}");
    let err = common::check_refuses("m.toml", &with("rates = \"rates.txt\""));
    assert!(err.ends_with("output.rates: expected a file name ending in .h5, got \"rates.txt\""), "{err}");
    let err = common::check_refuses("m.toml", &with("rates = \"r.h5\"\nrate_bin = \"0.3 ms\""));
    assert!(err.ends_with("output.rate_bin: expected a whole number of steps of dt = 1 ms, got 0.3 ms"), "{err}");
}

//! Messages that say how to fix what is wrong (issue 27): a mistyped name gets the
//! nearest known one, a single table written for an array of tables gets the header to
//! write, an entry missing a field is named by its index, a bare array of neurons gets
//! the table to write, a size without a unit is refused, a report given where a spike
//! file belongs gets the command that plots it, an output directory that cannot be made
//! says where else to write, and planning for a cluster does not warn about this
//! machine's cores.

mod common;

use common::*;
use std::path::Path;

/// `volley ARGS` in `dir`, refused with exit code 2 and one line, no panic: the line.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = volley(dir, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err.trim().to_string()
}

/// The error of `volley check` on the 2003 example with `from` replaced by `to`.
fn check_variant(from: &str, to: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", from, to);
    check_refused(dir.path(), &m)
}

/// The 2003 example with `text` added at its end, written in `dir`.
fn with_appended(dir: &Path, text: &str) -> String {
    let path = dir.join("m.toml");
    std::fs::write(&path, std::fs::read_to_string(example("izhikevich2003.toml")).unwrap() + text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The error of `volley check` on `m`, after its file name.
fn check_refused(dir: &Path, m: &str) -> String {
    let err = refused(dir, &["check", m]);
    err.strip_prefix(&format!("error: {m}:")).map(str::to_string).unwrap_or(err)
}

#[test]
fn mistyped_names_get_the_nearest_known_one() {
    let err = check_variant("size = 800", "sise = 800");
    assert!(
        err.ends_with("population[0].sise: unknown field `sise`: did you mean `size`? (expected one of `name`, `size`, `model`, `parameters`, `initial`, `noise_std`, `bias_current`, `channel`, `integrator`, `table`, `spikes`)"),
        "{err}"
    );
    let err = check_variant("model = \"izhikevich\"", "model = \"izhikevic\"");
    assert!(
        err.ends_with(
            "population[0].model: unknown neuron model 'izhikevic': did you mean 'izhikevich'? (known: izhikevich, hh, iaf_psc_exp, iaf_psc_alpha, iaf_psc_delta, iaf_cond_exp, iaf_cond_alpha, izhikevich_nest, hh_cond_exp_traub, spike_source)"
        ),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let err = refused(dir.path(), &["check", m.to_str().unwrap(), "--set", "population.excitatory.size=5"]);
    assert_eq!(
        err,
        "error: --set population.excitatory.size=5: no [[population]] named 'excitatory': the names are 'exc', 'inh', or an index from 0"
    );
}

#[test]
fn tables_and_entries_are_named_as_the_file_must_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let m = with_appended(dir.path(), "\n[output.report]\nfile = \"v.h5\"\nvariable = \"v\"\ninterval = \"1 ms\"\n");
    let err = check_refused(dir.path(), &m);
    assert!(err.ends_with("output.report: expected [[output.report]] tables, one per entry, got a single [output.report] table"), "{err}");
    let err = check_variant("size = 200", "");
    assert!(err.ends_with("population[1]: missing field `size`"), "{err}");
    let m =
        with_appended(dir.path(), "\n[[output.report]]\nfile = \"v.h5\"\nvariable = \"v\"\ninterval = \"1 ms\"\nneurons = [0, 3, 17]\n");
    let err = check_refused(dir.path(), &m);
    assert!(
        err.ends_with(
            "output.report[0].neurons: expected a table, got an array: write { ids = [0, 3, 17] } for these neurons (or { range = [0, 20] }, the end left out, or { fraction = 0.1, seed = 1 })"
        ),
        "{err}"
    );
}

#[test]
fn a_size_without_a_unit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    let err = refused(dir.path(), &["check", m.to_str().unwrap(), "--max-memory", "10"]);
    assert_eq!(err, "error: --max-memory: 10 what? a size needs its unit, e.g. \"10GB\", \"10MiB\" or \"10B\"");
    // With a unit, bytes are still bytes.
    let err = refused(dir.path(), &["check", m.to_str().unwrap(), "--max-memory", "10B"]);
    assert!(err.contains("--max-memory allows 10.0 B"), "{err}");
}

#[test]
fn a_report_given_for_spikes_is_named_with_the_command_that_plots_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = with_appended(
        dir.path(),
        "\n[[output.report]]\nfile = \"v.h5\"\nvariable = \"v\"\ninterval = \"1 ms\"\nneurons = { range = [0, 5] }\n",
    );
    let out = dir.path().join("out");
    let run = volley(dir.path(), &["run", &m, "--out", out.to_str().unwrap(), "--duration", "20ms", "--quiet"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let v = out.join("v.h5");
    let err = refused(dir.path(), &["plot", v.to_str().unwrap()]);
    assert_eq!(
        err,
        format!(
            "error: cannot read {0}: a report of sampled state (/report), not a spike file: plot it beside its run's spikes, `volley plot SPIKES.h5 --report {0}`",
            v.display()
        )
    );
}

#[test]
fn a_rates_file_is_plotted_and_named_where_spikes_are_expected() {
    let dir = tempfile::tempdir().unwrap();
    let m = variant(dir.path(), "m.toml", "[output]\n", "[output]\nrates = \"rates.h5\"\n");
    let out = dir.path().join("out");
    let run = volley(dir.path(), &["run", &m, "--out", out.to_str().unwrap(), "--duration", "20ms", "--quiet"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let rates = out.join("rates.h5");
    let err = refused(dir.path(), &["stats", rates.to_str().unwrap()]);
    assert_eq!(
        err,
        format!(
            "error: cannot read {0}: a file of population rates (/rates), not a spike file: draw it with `volley plot {0}`, or give the spike file of the same run",
            rates.display()
        )
    );
    // `volley plot RATES.h5` draws the populations' rates: a 1200 x 500 PNG.
    let png = dir.path().join("rates.png");
    let plot = volley(dir.path(), &["plot", rates.to_str().unwrap(), "-o", png.to_str().unwrap()]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let (width, height) = (u32::from_be_bytes(bytes[16..20].try_into().unwrap()), u32::from_be_bytes(bytes[20..24].try_into().unwrap()));
    assert_eq!((width, height), (1200, 500));
    let err = refused(dir.path(), &["plot", rates.to_str().unwrap(), "--report", "v.h5", "-o", png.to_str().unwrap()]);
    assert_eq!(
        err,
        format!("error: --report: {} is a rate file: a report's traces are drawn beside the spike file of its run", rates.display())
    );
}

#[test]
fn stats_draws_the_isi_distributions_where_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = volley(
        dir.path(),
        &["run", example("izhikevich2003.toml").to_str().unwrap(), "--out", out.to_str().unwrap(), "--duration", "200ms", "--quiet"],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let spikes = out.join("spikes.h5");
    let png = dir.path().join("isi.png");
    let stats = volley(dir.path(), &["stats", spikes.to_str().unwrap(), "--plot", png.to_str().unwrap()]);
    assert!(stats.status.success(), "{}", stderr(&stats));
    assert!(String::from_utf8_lossy(&stats.stdout).ends_with(&format!("wrote {}\n", png.display())));
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    let err = refused(dir.path(), &["stats", spikes.to_str().unwrap(), "--plot", "isi.txt"]);
    assert_eq!(err, "error: --plot: expected a file name ending in .png, got \"isi.txt\"");
}

#[test]
fn an_output_directory_that_cannot_be_made_says_where_else_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a_file");
    std::fs::write(&blocker, "").unwrap();
    let m = example("izhikevich2003.toml");
    // Below a file, and where no directory can be made (root may write /proc's entry,
    // but no directory appears there).
    for out in [blocker.join("out"), Path::new("/proc/volley-nowhere/out").to_path_buf()] {
        let err = refused(dir.path(), &["run", m.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert!(err.starts_with(&format!("error: cannot write output to {}: ", out.display())), "{err}");
        assert!(err.ends_with("; choose a directory this user can write: --out DIR, or output.dir in the model file"), "{err}");
    }
}

#[test]
fn planning_for_a_cluster_says_nothing_of_this_machines_cores() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("izhikevich2003.toml");
    for args in [
        ["check", m.to_str().unwrap(), "--threads", "4096", "--ranks", "2"],
        ["plan", m.to_str().unwrap(), "--threads", "4096", "--ranks", "2"],
    ] {
        let out = volley(dir.path(), &args);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!stderr(&out).contains("cores"), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn check_and_plan_explain_every_option() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["check", "plan"] {
        let help = stdout(&volley(dir.path(), &[command, "--help"]));
        for (option, text) in [
            ("--duration <DURATION>", "Replaces simulation.duration"),
            ("--set <PATH=VALUE>", "Replace a model-file value"),
            ("<MODEL>", "The model file"),
        ] {
            let line = help.lines().find(|l| l.trim_start().starts_with(option)).unwrap_or_else(|| panic!("{command}: {option} in {help}"));
            assert!(line.contains(text), "{command} {option}: {line}");
        }
    }
    let help = stdout(&volley(dir.path(), &["check", "--help"]));
    assert!(help.lines().any(|l| l.contains("--max-memory <SIZE>") && l.contains("Refuse if the run is estimated")), "{help}");
}

/// A small LIF network written with plain numbers or with the same values in units.
fn lif_model(tau_m: &str, c_m: &str, e_l: &str, t_ref: &str, i_e: &str, v: &str) -> String {
    format!(
        "[simulation]\ndt = \"0.1 ms\"\nduration = \"100 ms\"\nseed = 3\n\
         [[population]]\nname = \"cells\"\nsize = 200\nmodel = \"iaf_psc_exp\"\nnoise_std = 200.0\n\
         [population.parameters]\ntau_m = {tau_m}\nc_m = {c_m}\ne_l = {e_l}\nt_ref = {t_ref}\ni_e = {i_e}\n\
         [population.initial]\nv = {v}\n\
         [[projection]]\nsource = \"cells\"\ntarget = \"cells\"\nconnection = {{ rule = \"fixed_indegree\", k = 20 }}\nweight = \"40*u\"\ndelay = \"1.5 ms\"\n"
    )
}

#[test]
fn parameters_with_units_are_converted_to_the_models_units() {
    let dir = tempfile::tempdir().unwrap();
    let plain = lif_model("10", "250", "-65", "2", "300", "\"-65 + 10*r\"");
    let units = lif_model("\"0.01 s\"", "\"0.25 nF\"", "\"-65 mV\"", "\"2ms\"", "\"0.3 nA\"", "\"-65 + 10*r\"");
    let mut files = Vec::new();
    for (name, text) in [("plain", &plain), ("units", &units)] {
        let model = dir.path().join(format!("{name}.toml"));
        std::fs::write(&model, text).unwrap();
        let out = dir.path().join(name);
        let run = volley(dir.path(), &["run", model.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]);
        assert!(run.status.success(), "{name}: {}", stderr(&run));
        files.push(out.join("spikes.h5"));
    }
    let spikes = datasets(&files[0]);
    assert!(spikes.values().any(|(shape, _)| shape.first().is_some_and(|&n| n > 100)), "the network spikes: {spikes:?}");
    assert_same_datasets(&files[0], &files[1]);
}

#[test]
fn units_of_another_dimension_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (text, message) in [
        (
            lif_model("\"10 mV\"", "250", "-65", "2", "0", "-65"),
            "population[0].parameters.tau_m: expected a time in ms (e.g. \"10 ms\"), got \"10 mV\"",
        ),
        (
            lif_model("10", "\"250 pA\"", "-65", "2", "0", "-65"),
            "population[0].parameters.c_m: expected a capacitance in pF (e.g. \"250 pF\"), got \"250 pA\"",
        ),
        (
            lif_model("10", "250", "-65", "2", "0", "\"-65 ms\""),
            "population[0].initial.v: expected a voltage in mV (e.g. \"-65 mV\"), got \"-65 ms\"",
        ),
    ] {
        let model = dir.path().join("m.toml");
        std::fs::write(&model, text).unwrap();
        let err = refused(dir.path(), &["check", model.to_str().unwrap()]);
        assert!(err.ends_with(message), "{err}");
    }
    let err = check_variant("b = 0.2", "b = \"0.2 mV\"");
    assert!(err.ends_with("population[0].parameters.b: expected a plain number (this value has no unit), got \"0.2 mV\""), "{err}");
}

//! SONATA circuits in: a network built with bmtk run by volley and by NEST
//! (`tests/sonata_bmtk.py`), the same spikes on any number of ranks and threads, and
//! each refused feature's message.

mod common;

use common::{assert_ok, assert_same_datasets, command, stderr, stdout, volley};
use std::path::{Path, PathBuf};

fn python() -> String {
    std::env::var("VOLLEY_PYTHON").expect("VOLLEY_PYTHON names the test virtualenv's python, with bmtk and NEST (scripts/test.sh sets it)")
}

fn mpirun() -> PathBuf {
    let found = command("sh").args(["-c", "command -v mpirun"]).output().expect("sh runs");
    assert!(found.status.success(), "mpirun not found: this test needs OpenMPI (apt-get install openmpi-bin libopenmpi-dev)");
    PathBuf::from(String::from_utf8_lossy(&found.stdout).trim())
}

/// bmtk builds it, volley and NEST 3.10 run it: node and edge counts identical, spike
/// counts within 2%, the first 50 ms of spikes identical (the script's checks). Then
/// volley on 1 and 3 threads and on 2 and 3 MPI ranks writes the same spike file.
#[test]
fn a_bmtk_network_runs_in_volley_as_in_nest_on_any_split() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = common::repo().join("tests/sonata_bmtk.py");
    let out = command(python()).arg(&script).arg(env!("CARGO_BIN_EXE_volley")).arg(d).output().expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.trim_end().ends_with("ok"), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let config = d.join("simulation_config.json");
    let config = config.to_str().unwrap();
    let reference = d.join("output/spikes.h5");
    for threads in ["1", "3"] {
        let o = d.join(format!("t{threads}"));
        assert_ok(&volley(d, &["run", "-q", config, "--threads", threads, "--out", o.to_str().unwrap()]));
        assert_same_datasets(&reference, &o.join("spikes.h5"));
    }
    let on_ranks = |ranks: &str, o: &Path, per_read: &str| {
        let run = command(mpirun())
            .args(["-np", ranks, "--oversubscribe", "--bind-to", "none"])
            .arg(env!("CARGO_BIN_EXE_volley"))
            .args(["run", "-q", config, "--threads", "1", "--out", o.to_str().unwrap()])
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .env("VOLLEY_ENTRIES_PER_READ", per_read)
            .output()
            .expect("mpirun runs");
        assert_ok(&run);
        assert_same_datasets(&reference, &o.join("spikes.h5"));
    };
    for ranks in ["2", "3"] {
        on_ranks(ranks, &d.join(format!("r{ranks}")), "1048576");
    }
    // Without `indices/target_to_source` the ranks split the edges files between them
    // and send each synapse to its target's rank; read 100 edges at a time, in many
    // rounds, the spikes are still the same.
    let mut indexed = 0;
    for entry in
        std::fs::read_dir(d.join("network")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.to_string_lossy().ends_with("_edges.h5"))
    {
        let file = hdf5::File::open_rw(&entry).unwrap();
        for population in file.group("edges").unwrap().member_names().unwrap() {
            if file.link_exists(&format!("edges/{population}/indices")) {
                file.unlink(&format!("edges/{population}/indices")).unwrap();
                indexed += 1;
            }
        }
    }
    assert!(indexed > 0, "bmtk writes an index by target (what the runs above read through)");
    for ranks in ["1", "2", "3"] {
        on_ranks(ranks, &d.join(format!("scan{ranks}")), "100");
    }
}

/// A small circuit written by hand: node population `net` (`types` per node, from
/// `net_node_types.csv`), edges `net_to_net` from `sources` onto `targets` with per-edge
/// weights and delays, and a circuit config with a run section.
struct Circuit {
    node_types: String,
    types: Vec<u64>,
    sources: Vec<u64>,
    targets: Vec<u64>,
    delays: Vec<f64>,
    edge_types: String,
    per_node_params: bool,
    edge_groups: usize,
    /// cell.json, the node type's dynamics_params.
    cell: String,
    weight: f64,
}

impl Default for Circuit {
    fn default() -> Self {
        Circuit {
            node_types: "node_type_id model_type model_template dynamics_params\n100 point_neuron nest:iaf_psc_delta cell.json\n".into(),
            types: vec![100; 4],
            sources: vec![0, 1, 2],
            targets: vec![1, 2, 3],
            delays: vec![1.0, 1.5, 2.0],
            edge_types: "edge_type_id model_template\n7 static_synapse\n".into(),
            per_node_params: false,
            edge_groups: 1,
            cell: r#"{"V_th": -50.0, "I_e": 600.0}"#.into(),
            weight: 2.0,
        }
    }
}

impl Circuit {
    fn write(&self, d: &Path) -> PathBuf {
        std::fs::write(d.join("cell.json"), &self.cell).unwrap();
        std::fs::write(d.join("net_node_types.csv"), &self.node_types).unwrap();
        std::fs::write(d.join("net_net_edge_types.csv"), &self.edge_types).unwrap();
        let nodes = hdf5::File::create(d.join("net_nodes.h5")).unwrap();
        let g = nodes.create_group("nodes/net").unwrap();
        g.new_dataset_builder().with_data(&self.types).create("node_type_id").unwrap();
        let group = g.create_group("0").unwrap();
        if self.per_node_params {
            group
                .create_group("dynamics_params")
                .unwrap()
                .new_dataset_builder()
                .with_data(&vec![1.0f64; self.types.len()])
                .create("I_e")
                .unwrap();
        }
        let edges = hdf5::File::create(d.join("net_net_edges.h5")).unwrap();
        let e = edges.create_group("edges/net_to_net").unwrap();
        for (name, ids) in [("source_node_id", &self.sources), ("target_node_id", &self.targets)] {
            let ds = e.new_dataset_builder().with_data(ids).create(name).unwrap();
            let value: hdf5::types::VarLenUnicode = "net".parse().unwrap();
            ds.new_attr::<hdf5::types::VarLenUnicode>().create("node_population").unwrap().write_scalar(&value).unwrap();
        }
        e.new_dataset_builder().with_data(&vec![7u32; self.sources.len()]).create("edge_type_id").unwrap();
        for k in 0..self.edge_groups {
            let group = e.create_group(&k.to_string()).unwrap();
            group.new_dataset_builder().with_data(&vec![self.weight; self.sources.len()]).create("syn_weight").unwrap();
            group.new_dataset_builder().with_data(&self.delays).create("delay").unwrap();
        }
        let config = d.join("circuit_config.json");
        std::fs::write(
            &config,
            r#"{"manifest": {"$BASE": "${configdir}"}, "run": {"dt": 0.1, "tstop": 50.0},
                "networks": {"nodes": [{"nodes_file": "$BASE/net_nodes.h5", "node_types_file": "$BASE/net_node_types.csv"}],
                             "edges": [{"edges_file": "$BASE/net_net_edges.h5", "edge_types_file": "$BASE/net_net_edge_types.csv"}]}}"#,
        )
        .unwrap();
        config
    }

    /// `volley check` on it: the one line of its refusal, the folder written DIR.
    fn refused(&self) -> String {
        let dir = tempfile::tempdir().unwrap();
        let config = self.write(dir.path());
        let out = volley(dir.path(), &["check", config.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        err.trim().replace(&dir.path().display().to_string(), "DIR")
    }
}

/// The circuit as written runs; its spikes are written as node population `net` with
/// SONATA's node ids.
#[test]
fn a_hand_written_circuit_runs_and_writes_its_node_population() {
    let dir = tempfile::tempdir().unwrap();
    let config = Circuit::default().write(dir.path());
    let o = dir.path().join("out");
    assert_ok(&volley(dir.path(), &["run", "-q", config.to_str().unwrap(), "--out", o.to_str().unwrap()]));
    let file = volley::record::sonata::read_spike_file(&o.join("spikes.h5")).unwrap();
    assert_eq!(file.populations.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["net"]);
    assert!(file.populations[0].node_ids.len() > 4, "I_e = 600 pA fires the cells");
}

#[test]
fn each_refused_feature_is_one_line_naming_the_file_and_what_was_found() {
    let c = Circuit { per_node_params: true, ..Circuit::default() };
    assert_eq!(
        c.refused(),
        "error: cannot read DIR/net_nodes.h5: /nodes/net/0/dynamics_params: per-node dynamics_params are not supported (as in NEST): give each set of values a node type of its own"
    );
    let c = Circuit {
        node_types: "node_type_id model_type model_template dynamics_params\n100 point_neuron nest:aeif_cond_exp cell.json\n".into(),
        ..Circuit::default()
    };
    assert_eq!(
        c.refused(),
        "error: cannot read DIR/net_node_types.csv: node type 100: model_template \"nest:aeif_cond_exp\" is not one volley runs (known: nest:iaf_psc_exp, nest:iaf_psc_alpha, nest:iaf_psc_delta, nest:izhikevich, pynn:IF_curr_exp, pynn:IF_curr_alpha, pynn:IF_curr_delta)"
    );
    let c = Circuit { node_types: "node_type_id model_type dynamics_params\n100 point_neuron cell.json\n".into(), ..Circuit::default() };
    assert_eq!(
        c.refused(),
        "error: cannot read DIR/net_node_types.csv: expected a column model_template (the NEST model of each neuron type, nest:iaf_psc_alpha for one); the columns are: node_type_id model_type dynamics_params"
    );
    let c = Circuit {
        node_types: "node_type_id model_type model_template dynamics_params\n100 biophysical nest:iaf_psc_delta cell.json\n".into(),
        ..Circuit::default()
    };
    assert_eq!(c.refused(), "error: cannot read DIR/net_node_types.csv: node type 100: model_type \"biophysical\" is not supported: point_neuron, point_process or virtual");
    let c = Circuit { targets: vec![1, 2, 4], ..Circuit::default() };
    assert_eq!(c.refused(), "error: cannot read DIR/net_net_edges.h5: /edges/net_to_net/target_node_id: edge 2 names node 4, outside node population 'net' of 4 nodes");
    let c = Circuit { delays: vec![1.0, 0.04, 2.0], ..Circuit::default() };
    assert_eq!(
        c.refused(),
        "error: cannot read DIR/net_net_edges.h5: /edges/net_to_net: edge 1 has delay 0.04 ms: expected at least one step (0.1 ms)"
    );
    let c = Circuit { edge_groups: 2, ..Circuit::default() };
    assert_eq!(
        c.refused(),
        "error: cannot read DIR/net_net_edges.h5: /edges/net_to_net: 2 edge groups (0, 1): only one edge group (0) is supported, as in NEST; write the edges with one set of per-edge properties"
    );
    let c = Circuit { edge_types: "edge_type_id model_template\n7 stdp_synapse\n".into(), ..Circuit::default() };
    assert_eq!(
        c.refused(),
        "error: cannot read DIR/net_net_edge_types.csv: edge type 7: model_template \"stdp_synapse\" is not supported: static_synapse"
    );
    let c = Circuit { edge_types: "edge_type_id model_template\n8 static_synapse\n".into(), ..Circuit::default() };
    assert_eq!(
        c.refused(),
        "error: cannot read DIR/net_net_edge_types.csv: no edge type 7 (edge 0 of /edges/net_to_net in DIR/net_net_edges.h5 has it)"
    );
    let c = Circuit { node_types: "node_type_id model_type\n100 virtual\n".into(), ..Circuit::default() };
    assert_eq!(
        c.refused(),
        "error: cannot read DIR/circuit_config.json: node population 'net' is virtual (node type 100 of DIR/net_node_types.csv): expected an input of input_type \"spikes\" with node_set \"net\""
    );
    // A parameter the model does not have: the node type and the field named.
    let c = Circuit {
        node_types: "node_type_id model_type model_template dynamics_params\n100 point_neuron nest:iaf_psc_delta bad.json\n".into(),
        ..Circuit::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let config = c.write(dir.path());
    std::fs::write(dir.path().join("bad.json"), r#"{"tau_syn_ex": 2.0}"#).unwrap();
    let out = volley(dir.path(), &["check", config.to_str().unwrap()]);
    let err = stderr(&out).trim().replace(&dir.path().display().to_string(), "DIR");
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: DIR/net_node_types.csv: node type 100: parameters.tau_syn_ex: "), "{err}");
}

/// Ranks that read a circuit together (each its share of the edges, here one edge each)
/// report the first bad edge of the file, as one process does, in one line.
#[test]
fn ranks_reading_a_circuit_together_report_its_first_bad_edge() {
    let dir = tempfile::tempdir().unwrap();
    let c = Circuit { delays: vec![1.0, 0.04, 2.0], targets: vec![1, 2, 4], ..Circuit::default() };
    let config = c.write(dir.path());
    let run = command(mpirun())
        .args(["-np", "3", "--oversubscribe", "--bind-to", "none"])
        .arg(env!("CARGO_BIN_EXE_volley"))
        .args(["run", "-q", config.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("VOLLEY_ENTRIES_PER_READ", "1")
        .output()
        .expect("mpirun runs");
    let err = stderr(&run).trim().replace(&dir.path().display().to_string(), "DIR");
    assert_eq!(run.status.code(), Some(2), "{err}");
    // (mpirun adds its own lines after volley's.)
    let ours: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        ours,
        ["error: cannot read DIR/net_net_edges.h5: /edges/net_to_net: edge 1 has delay 0.04 ms: expected at least one step (0.1 ms)"],
        "{err}"
    );
}

/// `volley export` writes the network a model draws (rules, weights as held, delays)
/// as a SONATA circuit and a model file that reads its synapses back: the same spikes,
/// bit for bit, for all-to-all dense rows (the 2003 network), the microcircuit at a tenth
/// of its neurons (fixed_total_number, compact weights, normal delays, Poisson input) and
/// the HH network (exponential conductances of two kinds).
#[test]
fn an_exported_model_reads_back_to_the_same_spikes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let microcircuit = common::microcircuit(d, "mc.toml", &["--n-scaling", "0.1", "--duration-ms", "100"]);
    let cases = [(common::example("izhikevich2003.toml"), "300ms"), (microcircuit, "100ms"), (common::example("hh_network.toml"), "100ms")];
    for (k, (model, duration)) in cases.iter().enumerate() {
        let circuit = d.join(format!("circuit{k}"));
        let out = volley(d, &["export", model.to_str().unwrap(), "--out", circuit.to_str().unwrap()]);
        assert_ok(&out);
        for file in ["nodes.h5", "node_types.csv", "edge_types.csv", "circuit_config.json", "model.toml"] {
            assert!(circuit.join(file).is_file(), "{file}");
        }
        // Three ranks, each drawing and writing its own targets' synapses, write the
        // same files.
        let by_ranks = d.join(format!("circuit{k}_ranks"));
        let run = command(mpirun())
            .args(["-np", "3", "--oversubscribe", "--bind-to", "none"])
            .arg(env!("CARGO_BIN_EXE_volley"))
            .args(["export", model.to_str().unwrap(), "--out", by_ranks.to_str().unwrap()])
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .output()
            .expect("mpirun runs");
        assert_ok(&run);
        assert!(stdout(&run).contains("by 3 ranks"), "{}", stdout(&run));
        let mut files = vec![PathBuf::from("nodes.h5")];
        files.extend(std::fs::read_dir(circuit.join("edges")).unwrap().map(|e| Path::new("edges").join(e.unwrap().file_name())));
        for file in &files {
            assert_same_datasets(&circuit.join(file), &by_ranks.join(file));
        }
        for file in ["node_types.csv", "edge_types.csv", "model.toml"] {
            assert_eq!(std::fs::read(circuit.join(file)).unwrap(), std::fs::read(by_ranks.join(file)).unwrap(), "{file}");
        }
        let (a, b) = (d.join(format!("a{k}")), d.join(format!("b{k}")));
        for (m, o) in [(model.clone(), &a), (circuit.join("model.toml"), &b)] {
            assert_ok(&volley(
                d,
                &["run", "-q", m.to_str().unwrap(), "--duration", duration, "--threads", "2", "--out", o.to_str().unwrap()],
            ));
        }
        assert_same_datasets(&a.join("spikes.h5"), &b.join("spikes.h5"));
        let spikes = volley::record::sonata::read_spike_file(&a.join("spikes.h5")).unwrap();
        assert!(spikes.populations.iter().map(|p| p.node_ids.len()).sum::<usize>() > 100, "{}: it fires", model.display());
    }
}

/// A `pynn:IF_curr_exp` node type (PyNN's names and units: nF, nA; weights in nA) runs
/// as the `nest:iaf_psc_exp` type with the same values in NEST's (pF, pA): the same
/// spikes; PyNN's defaults fill what the values leave out.
#[test]
fn pynn_cells_run_as_their_nest_twins() {
    let run = |c: Circuit| {
        let dir = tempfile::tempdir().unwrap();
        let config = c.write(dir.path());
        let o = dir.path().join("out");
        assert_ok(&volley(dir.path(), &["run", "-q", config.to_str().unwrap(), "--out", o.to_str().unwrap()]));
        volley::record::sonata::read_spike_file(&o.join("spikes.h5")).unwrap()
    };
    let types = |template: &str| format!("node_type_id model_type model_template dynamics_params\n100 point_neuron {template} cell.json\n");
    let pynn = Circuit {
        node_types: types("pynn:IF_curr_exp"),
        cell: r#"{"cm": 0.25, "tau_m": 10.0, "tau_refrac": 2.0, "tau_syn_E": 2.0, "tau_syn_I": 2.0, "v_rest": -70.0, "v_thresh": -55.0, "v_reset": -70.0, "i_offset": 0.6, "v": -70.0}"#.into(),
        weight: 0.05,
        ..Circuit::default()
    };
    let nest = Circuit {
        node_types: types("nest:iaf_psc_exp"),
        cell: r#"{"C_m": 250.0, "tau_m": 10.0, "t_ref": 2.0, "tau_syn_ex": 2.0, "tau_syn_in": 2.0, "E_L": -70.0, "V_th": -55.0, "V_reset": -70.0, "I_e": 600.0, "V_m": -70.0}"#.into(),
        weight: 50.0,
        ..Circuit::default()
    };
    let (a, b) = (run(pynn), run(nest));
    assert!(a.populations[0].node_ids.len() > 4, "the cells fire");
    assert_eq!(a.populations, b.populations);
    // PyNN's defaults (v_rest −65 mV, v_thresh −50 mV, cm 1 nF, tau_m 20 ms, ...) with
    // i_offset 1 nA: NEST's iaf_psc_exp with PyNN's values in pA and pF.
    let defaults = Circuit { node_types: types("pynn:IF_curr_exp"), cell: r#"{"i_offset": 1.0}"#.into(), ..Circuit::default() };
    let twin = Circuit {
        node_types: types("iaf_psc_exp"),
        cell: r#"{"C_m": 1000.0, "tau_m": 20.0, "t_ref": 0.1, "tau_syn_ex": 5.0, "tau_syn_in": 5.0, "E_L": -65.0, "V_th": -50.0, "V_reset": -65.0, "I_e": 1000.0, "V_m": -65.0}"#.into(),
        weight: 2000.0,
        ..Circuit::default()
    };
    let (a, b) = (run(defaults), run(twin));
    assert!(a.populations[0].node_ids.len() > 4, "the cells fire");
    assert_eq!(a.populations, b.populations);
}

//! `model = "spike_source"`: a population that replays the spike trains of a SONATA spike
//! file (PyNN's SpikeSourceArray), as the source of projections; and its errors.

mod common;

use common::{check_refuses, simulate};
use std::path::Path;
use volley::backend::cpu::CpuOptions;
use volley::config::{self, Overrides};

/// Writes a SONATA spike file: `/spikes/<group>/{timestamps, node_ids}`, or with `group`
/// None the older flat layout `/spikes/{timestamps, gids}`.
fn spike_file(path: &Path, group: Option<&str>, times: &[f64], ids: &[u64]) {
    let file = hdf5::File::create(path).unwrap();
    let spikes = file.create_group("spikes").unwrap();
    let (g, ids_name) = match group {
        Some(name) => (spikes.create_group(name).unwrap(), "node_ids"),
        None => (spikes, "gids"),
    };
    g.new_dataset_builder().with_data(times).create("timestamps").unwrap();
    g.new_dataset_builder().with_data(ids).create(ids_name).unwrap();
}

/// A spike source of 3 nodes replaying `spikes` onto 2 iaf_psc_delta neurons.
fn network(spikes: &str) -> String {
    format!(
        "[simulation]\ndt = \"0.1 ms\"\nduration = \"20 ms\"\n\
         [[population]]\nname = \"input\"\nsize = 3\nmodel = \"spike_source\"\nspikes = \"{spikes}\"\n\
         [[population]]\nname = \"cells\"\nsize = 2\nmodel = \"iaf_psc_delta\"\n\
         [[projection]]\nsource = \"input\"\ntarget = \"cells\"\nconnection = {{ rule = \"all_to_all\" }}\nweight = 1.0\n"
    )
}

fn spikes_of(desc: &volley::network::Description) -> Vec<(u32, u32)> {
    let (spikes, _) = simulate(desc, CpuOptions { threads: 1, ..CpuOptions::default() });
    spikes.iter().map(|s| (s.step, s.gid)).collect()
}

/// The trains come out as given: a time on the grid is the end of the step the source
/// spikes in; one between steps goes to the end of its step (NEST's rounding), counted in
/// a warning; a second spike of a node in one step is dropped, counted too. A target
/// fired by them spikes the delay later. Both layouts read the same.
#[test]
fn a_spike_source_replays_its_file_on_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let times = [1.0, 2.5, 3.05, 3.1, 7.0, 0.1];
    let ids = [0u64, 2, 1, 1, 0, 2];
    spike_file(&d.join("in.h5"), Some("input"), &times, &ids);
    spike_file(&d.join("flat.h5"), None, &times, &ids);
    let text = "[simulation]\ndt = \"0.1 ms\"\nduration = \"20 ms\"\n\
         [[population]]\nname = \"input\"\nsize = 3\nmodel = \"spike_source\"\nspikes = \"in.h5\"\n\
         [[population]]\nname = \"cells\"\nsize = 3\nmodel = \"iaf_psc_delta\"\n\
         [[projection]]\nsource = \"input\"\ntarget = \"cells\"\nconnection = { rule = \"fixed_indegree\", k = 1, autapses = true }\n\
         weight = 15.0\ndelay = \"1 ms\"\n";
    let model = d.join("m.toml");
    std::fs::write(&model, text).unwrap();
    let desc = config::load(&model, &Overrides::default()).unwrap();
    assert_eq!(
        desc.warnings,
        vec![format!(
            "spike file {} (population 'input'): 1 spike between steps moved to the end of their step of 0.1 ms",
            d.join("in.h5").display()
        )]
    );
    // The repeat in one step is found where the trains are read, for the neurons read.
    assert_eq!(desc.load_trains(&(0..6)).unwrap(), vec![1, 0]);
    desc.forget_trains();
    assert_eq!(desc.load_trains(&(0..1)).unwrap(), vec![0, 0], "node 1's repeat is not node 0's");
    desc.forget_trains();
    // `volley run` warns of both, once.
    let alone = common::volley(d, &["run", "-q", model.to_str().unwrap(), "--out", d.join("o1").to_str().unwrap()]);
    assert_eq!(
        warnings(&alone, d),
        [
            "volley: warning: spike file DIR/in.h5 (population 'input'): 1 spike between steps moved to the end of their step of 0.1 ms",
            "volley: warning: spike file DIR/in.h5 (population 'input'): 1 spike in a step in which their node already spiked dropped",
        ]
    );
    let spikes = spikes_of(&desc);
    // Emitted in the step that ends at the time: 0.1 ms → step 0, 1.0 → 9, 2.5 → 24,
    // 3.05 and 3.1 → 30 (once), 7.0 → 69.
    let sources: Vec<(u32, u32)> = spikes.iter().copied().filter(|&(_, gid)| gid < 3).collect();
    assert_eq!(sources, vec![(0, 2), (9, 0), (24, 2), (30, 1), (69, 0)]);
    // Each cell takes one source at 15 mV: it fires in the step the spike arrives, 10
    // steps later (unless refractory: 2 ms).
    let cells: Vec<(u32, u32)> = spikes.iter().copied().filter(|&(_, gid)| gid >= 3).collect();
    assert!(!cells.is_empty() && cells.iter().all(|&(step, _)| sources.iter().any(|&(s, _)| s + 10 == step)), "{cells:?}");
    let flat = config::load(&model, &Overrides { sets: vec!["population.0.spikes=\"flat.h5\"".into()], ..Overrides::default() }).unwrap();
    assert_eq!(spikes_of(&flat), spikes);
    for threads in [2, 3] {
        let (again, _) = simulate(&desc, CpuOptions { threads, min_shard_neurons: 1, ..CpuOptions::default() });
        assert_eq!(again.iter().map(|s| (s.step, s.gid)).collect::<Vec<_>>(), spikes, "{threads} threads");
    }
}

/// The run's warnings, sorted, the folder `d` written DIR.
fn warnings(out: &std::process::Output, d: &Path) -> Vec<String> {
    let err = String::from_utf8_lossy(&out.stderr).replace(&d.display().to_string(), "DIR");
    assert!(out.status.success(), "{err}");
    let mut lines: Vec<String> = err.lines().filter(|l| l.starts_with("volley: warning:")).map(String::from).collect();
    lines.sort();
    lines
}

/// On three ranks, each checks its share of the spike file (a few entries at a time)
/// and reads only its own neurons' trains: the same spikes as one process, the same
/// warnings once, and a bad entry found by any rank reported as one process reports it.
#[test]
fn ranks_read_their_own_neurons_trains() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 300 inputs over 20 ms, some times between steps, some repeats in a step.
    let (mut times, mut ids) = (Vec::new(), Vec::new());
    for k in 0..900u64 {
        let id = (k * 37) % 300;
        times.push(0.1 * (1 + (k * 7919) % 190) as f64 + if k % 11 == 0 { 0.05 } else { 0.0 });
        ids.push(id);
    }
    times.extend([1.0, 1.0]);
    ids.extend([250, 250]);
    spike_file(&d.join("in.h5"), Some("input"), &times, &ids);
    let model = d.join("m.toml");
    std::fs::write(&model, network("in.h5").replace("size = 3", "size = 300")).unwrap();
    let run = |ranks: &str, out: &str| {
        common::command("mpirun")
            .args(["-np", ranks, "--oversubscribe", "--bind-to", "none"])
            .arg(env!("CARGO_BIN_EXE_volley"))
            .args(["run", "-q", model.to_str().unwrap(), "--threads", "1", "--out", d.join(out).to_str().unwrap()])
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .env("VOLLEY_ENTRIES_PER_READ", "50")
            .output()
            .expect("mpirun runs (OpenMPI: apt-get install openmpi-bin libopenmpi-dev)")
    };
    let (one, three) = (run("1", "o1"), run("3", "o3"));
    assert_eq!(warnings(&three, d), warnings(&one, d));
    assert_eq!(warnings(&one, d).len(), 2, "{:?}", warnings(&one, d));
    common::assert_same_datasets(&d.join("o1/spikes.h5"), &d.join("o3/spikes.h5"));
    // Entries 650 and 850 bad (in chunks 13 and 17, checked by ranks 1 and 2): entry
    // 650's is reported.
    ids[850] = 300;
    times[650] = -1.0;
    spike_file(&d.join("in.h5"), Some("input"), &times, &ids);
    let bad = run("3", "o4");
    let err = String::from_utf8_lossy(&bad.stderr).replace(&d.display().to_string(), "DIR");
    let ours: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(ours.len(), 1, "{err}");
    assert!(ours[0].ends_with("/spikes/input/timestamps: -1 ms (entry 650, node 50): expected a finite time after 0 ms (a spike is stamped at the end of its step)"), "{err}");
}

/// Each way a spike source can be wrong is one line naming the file, the field and what
/// was expected.
#[test]
fn spike_source_errors_name_the_file_and_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    spike_file(&d.join("outside.h5"), Some("input"), &[1.0, 2.0], &[0, 3]);
    spike_file(&d.join("zero.h5"), Some("input"), &[1.0, 0.0], &[0, 1]);
    spike_file(&d.join("two.h5"), Some("a"), &[1.0], &[0]);
    {
        let file = hdf5::File::open_rw(d.join("two.h5")).unwrap();
        let b = file.group("spikes").unwrap().create_group("b").unwrap();
        b.new_dataset_builder().with_data(&[1.0f64]).create("timestamps").unwrap();
        b.new_dataset_builder().with_data(&[0u64]).create("node_ids").unwrap();
    }
    let at = |file: &Path| check_refuses("m.toml", &network(file.to_str().unwrap())).replace(&d.display().to_string(), "DIR");
    assert_eq!(
        at(&d.join("outside.h5")),
        format!("error: m.toml:8:10: population[0].spikes: DIR/outside.h5: /spikes/input: node id 3 (entry 1) is outside population 'input' of 3 nodes (ids 0 to 2)")
    );
    assert!(at(&d.join("zero.h5")).ends_with(
        "population[0].spikes: DIR/zero.h5: /spikes/input/timestamps: 0 ms (entry 1, node 1): expected a finite time after 0 ms (a spike is stamped at the end of its step)"
    ));
    assert!(at(&d.join("two.h5")).ends_with("population[0].spikes: DIR/two.h5: expected a group /spikes/input (the file has: a, b)"));
    assert!(at(&d.join("missing.h5")).contains("population[0].spikes: DIR/missing.h5: not an HDF5 file a spike train can be read from"));

    spike_file(&d.join("in.h5"), Some("input"), &[1.0], &[0]);
    let base = network(d.join("in.h5").to_str().unwrap());
    let e = check_refuses("m.toml", &base.replace(&format!("spikes = \"{}\"\n", d.join("in.h5").display()), ""));
    assert!(
        e.ends_with("population[0].spikes: expected the SONATA spike file whose trains a spike_source replays: spikes = \"FILE.h5\""),
        "{e}"
    );
    let e = check_refuses("m.toml", &base.replace("model = \"iaf_psc_delta\"\n", "model = \"iaf_psc_delta\"\nspikes = \"x.h5\"\n"));
    assert!(e.ends_with("population[1].spikes: the iaf_psc_delta model replays no spikes (only model = \"spike_source\" does)"), "{e}");
    let e = check_refuses("m.toml", &base.replace("source = \"input\"\ntarget = \"cells\"", "source = \"cells\"\ntarget = \"input\""));
    assert!(
        e.ends_with("projection[0].target: population 'input' is a spike_source: it replays its spike trains and takes no input"),
        "{e}"
    );
}

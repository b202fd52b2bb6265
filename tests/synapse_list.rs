//! `connection = { rule = "list", ... }`: synapses listed in the model file (PyNN's
//! FromListConnector) or in a SONATA edges file, each with its weight and delay; the
//! same network as a rule's, and what a list refuses.

mod common;

use common::{check_refuses, simulate};
use volley::backend::cpu::CpuOptions;
use volley::config::{self, Overrides};

/// 30 driven cells onto 12, each of their synapses with a weight and a delay of its own.
fn network(connection: &str, weight: &str, delay: &str) -> String {
    format!(
        "[simulation]\ndt = \"0.1 ms\"\nduration = \"300 ms\"\n\
         [[population]]\nname = \"a\"\nsize = 30\nmodel = \"iaf_psc_exp\"\n[population.parameters]\ni_e = 400\n\
         [population.initial]\nv = \"-70 + 15*r\"\n\
         [[population]]\nname = \"b\"\nsize = 12\nmodel = \"iaf_psc_exp\"\n[population.parameters]\ni_e = 370\n\
         [[projection]]\nsource = \"a\"\ntarget = \"b\"\nconnection = {connection}\nweight = {weight}\ndelay = {delay}\n"
    )
}

fn spikes(text: &str, threads: usize) -> Vec<(u32, u32)> {
    spikes_of(text, "m.toml", threads)
}

/// The spikes of model `text` read as the file `file` (a list's file is found beside it).
fn spikes_of(text: &str, file: &str, threads: usize) -> Vec<(u32, u32)> {
    let desc = config::parse(text, file, &Overrides::default()).expect("valid");
    simulate(&desc, CpuOptions { threads, ..CpuOptions::default() }).0.iter().map(|s| (s.step, s.gid)).collect()
}

/// Every pair listed target by target, sources in order, with the rule's weight and delay:
/// the all_to_all projection's spikes, bit for bit (each target sums the same weights in
/// the same order).
#[test]
fn a_list_of_every_pair_is_the_all_to_all_rule() {
    let (mut sources, mut targets) = (Vec::new(), Vec::new());
    for t in 0..12 {
        for s in 0..30 {
            sources.push(s.to_string());
            targets.push(t.to_string());
        }
    }
    let list = format!("{{ rule = \"list\", sources = [{}], targets = [{}] }}", sources.join(", "), targets.join(", "));
    let rule = spikes(&network("{ rule = \"all_to_all\" }", "45.0", "\"1.5 ms\""), 1);
    assert!(rule.iter().filter(|s| s.1 >= 30).count() > 20, "the targets fire");
    assert_eq!(spikes(&network(&list, "45.0", "\"1.5 ms\""), 1), rule);
    assert_eq!(spikes(&network(&list, "45.0", "\"1.5 ms\""), 3), rule);
}

/// Each synapse its own weight and delay: a target with one synapse of weight 0 never
/// fires from it; another of a large weight fires one step after each arrival.
#[test]
fn each_listed_synapse_has_its_weight_and_delay() {
    let text = network("{ rule = \"list\", sources = [0, 1], targets = [0, 1] }", "[0.0, 100000.0]", "[\"1 ms\", 2.5]")
        .replace("i_e = 370", "i_e = 0");
    let fired = spikes(&text, 2);
    let source_1: Vec<u32> = fired.iter().filter(|s| s.1 == 1).map(|s| s.0).collect();
    let target_1: Vec<u32> = fired.iter().filter(|s| s.1 == 31).map(|s| s.0).collect();
    assert!(!source_1.is_empty() && !fired.iter().any(|s| s.1 == 30));
    // Arrival 25 steps after the spike, v from the next step: a spike 26 steps later
    // (and more while the large current decays), none before.
    let expected: Vec<u32> = source_1.iter().map(|s| s + 26).filter(|&s| s < 3000).collect();
    assert!(expected.iter().all(|t| target_1.contains(t)), "{target_1:?}");
    assert_eq!(target_1.first(), expected.first());
}

#[test]
fn a_list_refuses_what_it_cannot_hold() {
    let refuse = |connection: &str, weight: &str, delay: &str, extra: &str| {
        check_refuses("m.toml", &format!("{}{extra}", network(connection, weight, delay)))
    };
    let pairs = "{ rule = \"list\", sources = [0, 1], targets = [0, 1] }";
    let cases = [
        (
            refuse("{ rule = \"list\", sources = [0, 1], targets = [0] }", "1.0", "1.0", ""),
            "projection[0].connection.targets: 1 targets for 2 sources: expected one target per source",
        ),
        (
            refuse("{ rule = \"list\", sources = [0, 30], targets = [0, 1] }", "1.0", "1.0", ""),
            "projection[0].connection.sources: entry 1 is 30: expected an id of population 'a' (0 to 29)",
        ),
        (
            refuse("{ rule = \"list\", sources = [0, 1], targets = [0, -1] }", "1.0", "1.0", ""),
            "projection[0].connection.targets: entry 1 is -1: expected an id of population 'b' (0 to 11)",
        ),
        (
            refuse(pairs, "[1.0, 2.0, 3.0]", "1.0", ""),
            "projection[0].weight: 3 values for 2 listed synapses: expected one per synapse, or one for all",
        ),
        (refuse(pairs, "[1.0, \"x\"]", "1.0", ""), "projection[0].weight[1]: expected a finite number, got \"x\""),
        (
            refuse(pairs, "1.0", "[1.0, 0.05]", ""),
            "projection[0].delay[1]: expected a whole number (at least 1) of steps of dt = 0.1 ms, got 0.05 ms",
        ),
        (
            refuse("{ rule = \"list\", sources = [0], targets = [0], k = 3 }", "1.0", "1.0", ""),
            "projection[0].connection.k: rule list does not use 'k' (its keys: rule, sources, targets; or rule, file, edges)",
        ),
        (
            refuse("{ rule = \"list\", targets = [0] }", "1.0", "1.0", ""),
            "projection[0].connection: rule list needs sources and targets (population-local ids, one pair per synapse), or a SONATA edges file: file = \"FILE.h5\"",
        ),
        (
            refuse("{ rule = \"all_to_all\", sources = [0] }", "1.0", "1.0", ""),
            "projection[0].connection.sources: rule all_to_all draws its synapses: 'sources' is rule list's",
        ),
        (
            refuse(pairs, "1.0", "1.0", "storage = \"compact\"\n"),
            "projection[0].storage: listed synapses are stored exact (u32 target + f32 weight): leave out storage",
        ),
    ];
    for (got, expected) in cases {
        assert!(got.ends_with(expected), "{got}\n  expected the end: {expected}");
    }
}

/// `volley export` writes a listed projection's synapses as it writes drawn ones: its
/// edge file holds the list, pair by pair (by target).
#[test]
fn a_listed_projection_is_exported() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.toml");
    let text = network("{ rule = \"list\", sources = [4, 1, 2], targets = [3, 0, 3] }", "[1.0, 2.0, 3.0]", "[1.0, 2.0, 0.5]");
    std::fs::write(&model, text).unwrap();
    let out = common::volley(dir.path(), &["export", model.to_str().unwrap(), "--out", dir.path().join("c").to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let file = hdf5::File::open(dir.path().join("c/edges/a_to_b.h5")).unwrap();
    let group = file.group("edges/a_to_b").unwrap();
    let read = |name: &str| group.dataset(name).unwrap().read_raw::<u64>().unwrap();
    assert_eq!(read("source_node_id"), vec![1, 4, 2]);
    assert_eq!(read("target_node_id"), vec![0, 3, 3]);
    assert_eq!(group.dataset("0/syn_weight").unwrap().read_raw::<f32>().unwrap(), vec![2.0, 1.0, 3.0]);
}

/// Synapses of `a` onto `b` in an order that is not by target, with repeats: (sources,
/// targets, weights, delays in ms).
#[allow(clippy::type_complexity)]
fn scattered_synapses() -> (Vec<u64>, Vec<u64>, Vec<f32>, Vec<f64>) {
    let n = 200;
    let sources: Vec<u64> = (0..n).map(|k| (k * 7 + 3) % 30).collect();
    let targets: Vec<u64> = (0..n).map(|k| (k * 5 + k / 13) % 12).collect();
    let weights: Vec<f32> = (0..n).map(|k| 20.0 + (k % 17) as f32 * 3.5).collect();
    let delays: Vec<f64> = (0..n).map(|k| 0.1 * (1 + k % 23) as f64).collect();
    (sources, targets, weights, delays)
}

fn write_list(path: &std::path::Path, (sources, targets, weights, delays): &(Vec<u64>, Vec<u64>, Vec<f32>, Vec<f64>)) {
    let list = volley::record::edge_file::EdgeList {
        source_population: "a",
        target_population: "b",
        target_size: 12,
        sources,
        targets,
        weights,
        delays_ms: delays,
    };
    volley::record::edge_file::write(path, "a_to_b", &list).unwrap();
}

fn numbers<T: ToString>(values: &[T]) -> String {
    values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
}

/// The same synapses listed in an edges file (written by `record::edge_file`, as
/// Python's `volley.write_edges`; found beside the model file), their weights and delays
/// the file's: the spikes of the list in the model file, bit for bit, on 1 and 3
/// threads; a weight given in the model file is every synapse's, as for a list there.
#[test]
fn a_list_in_an_edges_file_is_the_list_in_the_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let synapses = scattered_synapses();
    write_list(&dir.path().join("listed.h5"), &synapses);
    let (sources, targets, weights, delays) = &synapses;
    let pairs = format!("{{ rule = \"list\", sources = [{}], targets = [{}] }}", numbers(sources), numbers(targets));
    let text = network(&pairs, &format!("[{}]", numbers(weights)), &format!("[{}]", numbers(delays)));
    let listed = spikes(&text, 1);
    assert!(listed.iter().filter(|s| s.1 >= 30).count() > 20, "the targets fire");
    let from_file = network("{ rule = \"list\", file = \"listed.h5\" }", "0", "0").replace("weight = 0\ndelay = 0\n", "");
    let model = dir.path().join("m.toml");
    let model = model.to_str().unwrap();
    assert_eq!(spikes_of(&from_file, model, 1), listed);
    assert_eq!(spikes_of(&from_file, model, 3), listed);
    // One weight and delay of the model file's for all.
    let text = network(&pairs, "45.0", "\"1.5 ms\"");
    let from_file = network("{ rule = \"list\", file = \"listed.h5\", edges = \"a_to_b\" }", "45.0", "\"1.5 ms\"");
    assert_eq!(spikes_of(&from_file, model, 2), spikes(&text, 1));
}

/// A file of edges that are not the projection's, or not a list's, is refused naming the
/// model file's field, the edges file, the dataset, the edge and what was expected.
#[test]
fn a_list_in_an_edges_file_refuses_what_it_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let synapses = scattered_synapses();
    let good = dir.path().join("good.h5");
    write_list(&good, &synapses);
    let edit = |name: &str, change: &dyn Fn(&hdf5::Group)| {
        let path = dir.path().join(name);
        std::fs::copy(&good, &path).unwrap();
        change(&hdf5::File::open_rw(&path).unwrap().group("edges/a_to_b").unwrap());
        path.to_str().unwrap().to_string()
    };
    let far_source = edit("far.h5", &|g| g.dataset("source_node_id").unwrap().write_slice(&[30u64], 5..6).unwrap());
    let short_delay = edit("short.h5", &|g| g.dataset("0/delay").unwrap().write_slice(&[0.05f64], 7..8).unwrap());
    let no_weights = edit("noweights.h5", &|g| g.unlink("0/syn_weight").unwrap());
    let no_delays = edit("nodelays.h5", &|g| g.unlink("0/delay").unwrap());
    let (mut mixed_sources, mut mixed_targets, ..) = synapses.clone();
    mixed_sources.truncate(3);
    mixed_targets.truncate(3);
    let other = dir.path().join("other.h5");
    let list = volley::record::edge_file::EdgeList {
        source_population: "x",
        target_population: "b",
        target_size: 12,
        sources: &mixed_sources,
        targets: &mixed_targets,
        weights: &[1.0; 3],
        delays_ms: &[1.0; 3],
    };
    volley::record::edge_file::write(&other, "x_to_b", &list).unwrap();
    let other = other.to_str().unwrap();
    let refuse = |connection: String, weight: Option<&str>| {
        let text = network(&connection, weight.unwrap_or("0"), "0").replace("delay = 0\n", "");
        let text = if weight.is_none() { text.replace("weight = 0\n", "") } else { text };
        check_refuses("m.toml", &text).replace(dir.path().to_str().unwrap(), "DIR")
    };
    let file = |path: &str| format!("{{ rule = \"list\", file = \"{path}\" }}");
    let cases = [
        (refuse(file(&far_source), None), "projection[0].connection.file: DIR/far.h5: /edges/a_to_b/source_node_id[5] is 30: expected an id of population 'a' (0 to 29)"),
        (refuse(file(&short_delay), None), "projection[0].connection.file: DIR/short.h5: /edges/a_to_b/0/delay[7] is 0.05 ms: expected a whole number of steps of dt = 0.1 ms, from 1 to 65535"),
        (refuse(file(&no_weights), None), "projection[0].weight: missing: expected one weight for all the listed synapses or one each (or a file whose edges hold them, 0/syn_weight)"),
        (refuse(file(&no_delays), Some("1.0")), "projection[0].delay: missing: the file's edges hold no delays (0/delay): give the projection's delay, one for all or one each"),
        (refuse(file(other), Some("1.0")), "projection[0].connection.file: DIR/other.h5: /edges/x_to_b joins node populations 'x' to 'b': expected 'a' to 'b', the projection's source and target"),
        (refuse(format!("{{ rule = \"list\", file = \"{other}\", edges = \"a_to_b\" }}"), Some("1.0")), "projection[0].connection.file: DIR/other.h5: expected a group /edges/a_to_b"),
        (refuse(file("DIR/none.h5").replace("DIR", dir.path().to_str().unwrap()), Some("1.0")), "projection[0].connection.file: DIR/none.h5: not an HDF5 file of SONATA edges"),
        (refuse(format!("{{ rule = \"list\", file = \"{other}\", sources = [0], targets = [0] }}"), Some("1.0")), "projection[0].connection.sources: rule list takes its synapses from sources and targets or from a file, not both"),
        (refuse("{ rule = \"list\", sources = [0], targets = [0], edges = \"a_to_b\" }".into(), Some("1.0")), "projection[0].connection.edges: 'edges' names an edge population of connection.file: give the file, or leave it out"),
        (refuse("{ rule = \"list\", sources = [0], targets = [0] }".into(), None), "projection[0].weight: missing: expected one weight for all the listed synapses or one each (or a file whose edges hold them, 0/syn_weight)"),
        (refuse("{ rule = \"all_to_all\" }".into(), None), "projection[0].weight: missing: expected a number, an expression of per-synapse uniforms u, u2, u3, or { distribution = \"uniform\" | \"normal\", ... }"),
        (refuse(format!("{{ rule = \"all_to_all\", file = \"{other}\" }}"), Some("1.0")), "projection[0].connection.file: rule all_to_all draws its synapses: 'file' is rule list's"),
    ];
    for (got, expected) in cases {
        // The message ends with the expected text (the missing file's, HDF5's reason after it).
        let end = if expected.ends_with("SONATA edges") { got.rsplit_once(" (").map_or(got.as_str(), |g| g.0) } else { got.as_str() };
        assert!(end.ends_with(expected), "{got}\n  expected the end: {expected}");
    }
}

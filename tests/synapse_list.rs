//! `connection = { rule = "list", ... }`: synapses listed in the model file (PyNN's
//! FromListConnector), each with its weight and delay; the same network as a rule's,
//! and what a list refuses.

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
    let desc = config::parse(text, "m.toml", &Overrides::default()).expect("valid");
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
            "projection[0].connection.k: rule list does not use 'k' (its keys: rule, sources, targets)",
        ),
        (
            refuse("{ rule = \"list\", targets = [0] }", "1.0", "1.0", ""),
            "projection[0].connection: rule list needs sources and targets (population-local ids, one pair per synapse)",
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

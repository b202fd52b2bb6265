//! Validation of a projection whose synapses are listed in the model file
//! (`connection = { rule = "list", sources = [...], targets = [...] }`, PyNN's
//! `FromListConnector`): the pairs, one weight and one delay each (or one for all), held
//! as data (`EdgeSource::given`) that every rank's store reads its own targets' rows
//! from, as it reads a SONATA edge population's.

use super::schema;
use super::Validator;
use crate::error::{Error, Result};
use crate::network::{ConnectionRule, DelaySpec, EdgeSource, Population, TargetRows, WeightSpec};
use crate::sonata::edges;
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

/// What a listed projection is: its rule (the index of its synapses among the
/// description's edge sources), its weights' and delays' ranges.
pub(super) struct Listed {
    pub rule: ConnectionRule,
    pub weight: WeightSpec,
    pub delay: DelaySpec,
}

impl Validator<'_> {
    /// The synapses listed by projection `i` from `source` onto `target` — in the model
    /// file, or in a SONATA edges file (`connection.file`) — their `weight` and `delay`
    /// (one number each, one per synapse, or the file's), pushed to `edges`.
    pub(super) fn listed_synapses(
        &self,
        i: usize,
        c: &Spanned<schema::Connection>,
        (weight, delay): (Option<&Spanned<toml::Value>>, Option<&Spanned<toml::Value>>),
        (source, target): (&Population, &Population),
        (dt_ms, edges): (f64, &mut Vec<Arc<EdgeSource>>),
    ) -> Result<Listed> {
        let at = |field: &str| format!("projection[{i}].{field}");
        let conn = c.get_ref();
        let key_err = |key: &str, m: String| self.error(self.key_span(c.span(), key), at(&format!("connection.{key}")), m);
        let unused = [
            ("k", conn.k.is_some()),
            ("n", conn.n.is_some()),
            ("p", conn.p.is_some()),
            ("autapses", conn.autapses.is_some()),
            ("multapses", conn.multapses.is_some()),
        ];
        if let Some((key, _)) = unused.iter().find(|(_, given)| *given) {
            return Err(key_err(key, format!("rule list does not use '{key}' (its keys: rule, sources, targets; or rule, file, edges)")));
        }
        let listed = match (&conn.file, &conn.sources, &conn.targets) {
            (Some(file), None, None) => self.synapses_in_file(i, file, conn.edges.as_ref(), (source, target), dt_ms)?,
            (Some(_), ..) => {
                let key = if conn.sources.is_some() { "sources" } else { "targets" };
                return Err(key_err(key, "rule list takes its synapses from sources and targets or from a file, not both".into()));
            }
            (None, Some(sources), Some(targets)) => {
                if conn.edges.is_some() {
                    return Err(key_err("edges", "'edges' names an edge population of connection.file: give the file, or leave it out".into()));
                }
                self.synapses_in_text(sources, targets, &key_err, (source, target))?
            }
            (None, ..) => {
                return Err(self.error(
                    c.span(),
                    at("connection"),
                    "rule list needs sources and targets (population-local ids, one pair per synapse), or a SONATA edges file: file = \"FILE.h5\"",
                ))
            }
        };
        let FromList { sources, targets, weights: file_weights, delays: file_delays } = listed;
        let n = sources.len();
        let weights =
            match (weight, file_weights) {
                (Some(weight), _) => self.per_synapse(weight, n, &at("weight"), |v, field| match v {
                    toml::Value::Integer(x) => Ok(*x as f64),
                    toml::Value::Float(x) if x.is_finite() && (*x as f32).is_finite() => Ok(*x),
                    other => Err(self.error(weight.span(), field, format!("expected a finite number, got {other}"))),
                })?,
                (None, Some(w)) => w,
                (None, None) => return Err(self.error(
                    c.span(),
                    at("weight"),
                    "missing: expected one weight for all the listed synapses or one each (or a file whose edges hold them, 0/syn_weight)",
                )),
            };
        let delays = match (delay, file_delays) {
            (Some(d), _) => self.per_synapse(d, n, &at("delay"), |v, field| self.steps(v, d.span(), field, dt_ms))?,
            (None, Some(d)) => d,
            // A file's edges without delays: theirs may be in edge types this list does not
            // read; not one step in silence.
            (None, None) if conn.file.is_some() => {
                return Err(self.error(
                    c.span(),
                    at("delay"),
                    "missing: the file's edges hold no delays (0/delay): give the projection's delay, one for all or one each",
                ))
            }
            (None, None) => vec![1; n],
        };
        let found: Vec<(u32, u32, f32, u32)> = (0..n)
            .map(|k| ((target.first_gid + targets[k]) as u32, (source.first_gid + sources[k]) as u32, weights[k] as f32, delays[k]))
            .collect();
        let rows = TargetRows::from_found(target.gids(), &found);
        let range = |x: &mut dyn Iterator<Item = f64>| x.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = range(&mut weights.iter().copied());
        let (min, max) = if n == 0 { (0.0, 0.0) } else { (lo, hi) };
        let (d_lo, d_hi) = range(&mut delays.iter().map(|&d| d as f64));
        let (min_steps, max_steps) = if n == 0 { (1, 1) } else { (d_lo as u32, d_hi as u32) };
        edges.push(Arc::new(EdgeSource::given(rows.clone(), n as u64, rows.max_row(), dt_ms)));
        Ok(Listed {
            rule: ConnectionRule::Explicit { edges: (edges.len() - 1) as u32, count: n as u64 },
            weight: WeightSpec::Data { min, max },
            delay: DelaySpec { min_steps, max_steps, normal: None, spread: false },
        })
    }

    /// The pairs of a list in the model file, checked against the populations' sizes.
    fn synapses_in_text(
        &self,
        sources: &[i64],
        targets: &[i64],
        key_err: &dyn Fn(&str, String) -> crate::error::Error,
        (source, target): (&Population, &Population),
    ) -> Result<FromList> {
        if sources.len() != targets.len() {
            return Err(key_err(
                "targets",
                format!("{} targets for {} sources: expected one target per source", targets.len(), sources.len()),
            ));
        }
        let id = |ids: &[i64], key: &str, p: &Population| -> Result<Vec<u64>> {
            match ids.iter().position(|&x| x < 0 || x as u64 >= p.size) {
                Some(k) => Err(key_err(
                    key,
                    format!("entry {k} is {}: expected an id of population '{}' (0 to {})", ids[k], p.name, p.size.saturating_sub(1)),
                )),
                None => Ok(ids.iter().map(|&x| x as u64).collect()),
            }
        };
        Ok(FromList { sources: id(sources, "sources", source)?, targets: id(targets, "targets", target)?, weights: None, delays: None })
    }

    /// The synapses of a SONATA edge population (`connection.file`, and `edges` where the
    /// file holds several): its ids checked against the projection's populations, which
    /// its `node_population` attributes must name, and group 0's `syn_weight` and `delay`
    /// (ms, whole steps) where it has them. Read whole, as a list in the model file is.
    fn synapses_in_file(
        &self,
        i: usize,
        file: &Spanned<String>,
        edges: Option<&Spanned<String>>,
        (source, target): (&Population, &Population),
        dt_ms: f64,
    ) -> Result<FromList> {
        let field = format!("projection[{i}].connection.file");
        let path = self.beside_model(file.get_ref());
        let fail = |message: String| self.error(file.span(), field.as_str(), format!("{}: {message}", path.display()));
        let as_fail = |e: Error| match e {
            Error::Input { message, .. } => fail(message),
            other => other,
        };
        let name = match edges {
            Some(name) => name.get_ref().clone(),
            None => only_edge_population(&path).map_err(fail)?,
        };
        let data = edges::open(&path, &name).map_err(as_fail)?;
        let at = format!("/edges/{name}");
        if (data.source_population.as_str(), data.target_population.as_str()) != (source.name.as_str(), target.name.as_str()) {
            return Err(fail(format!(
                "{at} joins node populations '{}' to '{}': expected '{}' to '{}', the projection's source and target",
                data.source_population, data.target_population, source.name, target.name
            )));
        }
        let mut out = FromList {
            sources: Vec::with_capacity(data.count),
            targets: Vec::with_capacity(data.count),
            weights: data.weights.is_some().then(|| Vec::with_capacity(data.count)),
            delays: data.delays.is_some().then(|| Vec::with_capacity(data.count)),
        };
        let scanned = data.scan(&path, &name, |chunk| {
            for k in 0..chunk.targets.len() {
                let edge = chunk.first + k;
                for (ids, dataset, p) in [(&chunk.sources, "source_node_id", source), (&chunk.targets, "target_node_id", target)] {
                    if ids[k] >= p.size {
                        return Err(fail(format!(
                            "{at}/{dataset}[{edge}] is {}: expected an id of population '{}' (0 to {})",
                            ids[k],
                            p.name,
                            p.size.saturating_sub(1)
                        )));
                    }
                }
                out.sources.push(chunk.sources[k]);
                out.targets.push(chunk.targets[k]);
                if let (Some(weights), Some(w)) = (out.weights.as_mut(), chunk.weights.as_ref().map(|w| w[k])) {
                    if !(w.is_finite() && (w as f32).is_finite()) {
                        return Err(fail(format!("{at}/0/syn_weight[{edge}] is {w}: expected a finite number")));
                    }
                    weights.push(w);
                }
                if let (Some(delays), Some(ms)) = (out.delays.as_mut(), chunk.delays.as_ref().map(|d| d[k])) {
                    match crate::units::whole_steps(ms, dt_ms).filter(|s| (1..=65_535).contains(s)) {
                        Some(steps) => delays.push(steps as u32),
                        None => {
                            return Err(fail(format!(
                                "{at}/0/delay[{edge}] is {ms} ms: expected a whole number of steps of dt = {dt_ms} ms, from 1 to 65535"
                            )))
                        }
                    }
                }
            }
            Ok(())
        });
        scanned.map_err(as_fail)?;
        Ok(out)
    }

    /// `value` as one value per synapse: an array of `n`, or one value for all, each
    /// read by `read`.
    fn per_synapse<T: Clone>(
        &self,
        value: &Spanned<toml::Value>,
        n: usize,
        field: &str,
        read: impl Fn(&toml::Value, &str) -> Result<T>,
    ) -> Result<Vec<T>> {
        match value.get_ref() {
            toml::Value::Array(items) if items.len() == n => {
                items.iter().enumerate().map(|(k, v)| read(v, &format!("{field}[{k}]"))).collect()
            }
            toml::Value::Array(items) => Err(self.error(
                value.span(),
                field,
                format!("{} values for {n} listed synapses: expected one per synapse, or one for all", items.len()),
            )),
            v => Ok(vec![read(v, field)?; n]),
        }
    }
}

/// A list's pairs (population-local ids) and, from a file, the weights and delays (steps)
/// it holds.
struct FromList {
    sources: Vec<u64>,
    targets: Vec<u64>,
    weights: Option<Vec<f64>>,
    delays: Option<Vec<u32>>,
}

/// The name of the one edge population of the edges file at `path`.
fn only_edge_population(path: &Path) -> std::result::Result<String, String> {
    let file = hdf5::File::open(path).map_err(|e| format!("not an HDF5 file of SONATA edges ({e})"))?;
    let names = file.group("edges").and_then(|g| g.member_names()).map_err(|_| "expected a group /edges".to_string())?;
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err("/edges holds no edge population".into()),
        several => Err(format!("/edges holds {} edge populations ({}): name one with connection.edges", several.len(), several.join(", "))),
    }
}

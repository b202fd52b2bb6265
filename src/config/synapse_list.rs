//! Validation of a projection whose synapses are listed in the model file
//! (`connection = { rule = "list", sources = [...], targets = [...] }`, PyNN's
//! `FromListConnector`): the pairs, one weight and one delay each (or one for all), held
//! as data (`EdgeSource::given`) that every rank's store reads its own targets' rows
//! from, as it reads a SONATA edge population's.

use super::schema;
use super::Validator;
use crate::error::Result;
use crate::network::{ConnectionRule, DelaySpec, EdgeSource, Population, TargetRows, WeightSpec};
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
    /// The synapses listed by projection `i` from `source` onto `target`, their
    /// `weight` and `delay` (one number each, or one per synapse), pushed to `edges`.
    pub(super) fn listed_synapses(
        &self,
        i: usize,
        c: &Spanned<schema::Connection>,
        (weight, delay): (&Spanned<toml::Value>, Option<&Spanned<toml::Value>>),
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
            return Err(key_err(key, format!("rule list does not use '{key}' (its keys: rule, sources, targets)")));
        }
        let (Some(sources), Some(targets)) = (&conn.sources, &conn.targets) else {
            return Err(self.error(
                c.span(),
                at("connection"),
                "rule list needs sources and targets (population-local ids, one pair per synapse)",
            ));
        };
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
        let (sources, targets) = (id(sources, "sources", source)?, id(targets, "targets", target)?);
        let n = sources.len();
        let weights = self.per_synapse(weight, n, &at("weight"), |v, field| match v {
            toml::Value::Integer(x) => Ok(*x as f64),
            toml::Value::Float(x) if x.is_finite() && (*x as f32).is_finite() => Ok(*x),
            other => Err(self.error(weight.span(), field, format!("expected a finite number, got {other}"))),
        })?;
        let delays = match delay {
            None => vec![1; n],
            Some(d) => self.per_synapse(d, n, &at("delay"), |v, field| self.steps(v, d.span(), field, dt_ms))?,
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

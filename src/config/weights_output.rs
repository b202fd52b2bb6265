//! Validation of `[[output.weights]]` tables: which plastic projection, into which file,
//! how often.

use super::schema;
use super::Validator;
use crate::error::Result;
use crate::network::{Projection, WeightsPlan};
use toml::Spanned;

impl Validator<'_> {
    /// The weight snapshots of the model file, in file order; `taken` holds the other
    /// output files' names.
    pub(super) fn weights_outputs(
        &self,
        raw: &[Spanned<schema::Weights>],
        projections: &[Projection],
        (dt_ms, steps): (f64, u64),
        taken: &[String],
    ) -> Result<Vec<WeightsPlan>> {
        let min_delay = projections.iter().map(|p| p.delay.min_steps).min().unwrap_or(1).max(1) as u64;
        let mut out: Vec<WeightsPlan> = Vec::new();
        for (i, w) in raw.iter().enumerate() {
            let at = |field: &str| format!("output.weights[{i}].{field}");
            let w = w.get_ref();
            let file = w.file.get_ref().trim().to_string();
            if !file.to_ascii_lowercase().ends_with(".h5") || file.contains('/') {
                return Err(self.error(
                    w.file.span(),
                    at("file"),
                    format!("expected a file name ending in .h5 (SONATA edges), got {file:?}"),
                ));
            }
            if taken.contains(&file) || out.iter().any(|o| o.file == file) {
                return Err(self.error(w.file.span(), at("file"), format!("{file:?} is already the name of another output file")));
            }
            let index = *w.projection.get_ref();
            let plastic: Vec<String> = projections.iter().filter(|p| p.plasticity.is_some()).map(|p| p.id.to_string()).collect();
            let known = if plastic.is_empty() { "the model has none".to_string() } else { format!("plastic: {}", plastic.join(", ")) };
            let Some(p) = usize::try_from(index).ok().and_then(|k| projections.get(k)) else {
                return Err(self.error(
                    w.projection.span(),
                    at("projection"),
                    format!("no projection {index}: expected the index of a [[projection]] in file order, from 0 ({known})"),
                ));
            };
            if p.plasticity.is_none() {
                return Err(self.error(
                    w.projection.span(),
                    at("projection"),
                    format!("projection {index} is not plastic: its weights stay as built ({known})"),
                ));
            }
            // Snapshots fall between epochs: the interval is whole epochs.
            let interval_steps = match &w.interval {
                None => steps.max(1),
                Some(v) => {
                    let n = self.whole_steps(v, &at("interval"), dt_ms, false)?;
                    if !n.is_multiple_of(min_delay) {
                        return Err(self.error(
                            v.span(),
                            at("interval"),
                            format!(
                                "expected a multiple of the shortest delay, {} ms (snapshots are taken between exchanges), got {} ms",
                                min_delay as f64 * dt_ms,
                                n as f64 * dt_ms
                            ),
                        ));
                    }
                    n
                }
            };
            out.push(WeightsPlan { file, projection: p.id, interval_steps });
        }
        Ok(out)
    }
}

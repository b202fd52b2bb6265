//! Validation of `[[output.report]]` tables: which state variable, of which neurons, at
//! which steps.

use super::schema::{self, Value};
use super::{parse_time, Validator};
use crate::error::Result;
use crate::network::{Population, Projection, ReportPlan, ReportedPopulation, Schedule};
use crate::stimulus::Selection;
use toml::Spanned;

impl Validator<'_> {
    /// The reports of the model file, in file order; `taken` holds the output's other
    /// file names (spikes, raster).
    pub(super) fn reports(
        &self,
        raw: &[Spanned<schema::Report>],
        (populations, projections): (&[Population], &[Projection]),
        dt_ms: f64,
        steps: u64,
        seed: u64,
        (taken, warnings): (&[String], &mut Vec<String>),
    ) -> Result<Vec<ReportPlan>> {
        let kinds = crate::synapse::kinds_of(projections.iter().map(|p| p.synapse));
        let synaptic = |p: usize, variable: &str| synaptic_index(populations, projections, p, variable);
        let index = |p: usize, variable: &str| probe_variable(populations, projections, p, variable);
        let mut out: Vec<ReportPlan> = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let at = |field: &str| format!("output.report[{i}].{field}");
            let r = r.get_ref();
            let file = r.file.get_ref().trim().to_string();
            if !file.to_ascii_lowercase().ends_with(".h5") || file.contains('/') {
                return Err(self.error(
                    r.file.span(),
                    at("file"),
                    format!("expected a file name ending in .h5 (a SONATA report), got {file:?}"),
                ));
            }
            let variable = r.variable.get_ref().trim().to_string();
            let chosen: Vec<usize> = match &r.populations {
                Some(names) => self.population_list(names, &at("populations"), populations, "expected at least one population")?,
                None => (0..populations.len()).filter(|&p| index(p, &variable).is_some()).collect(),
            };
            let mut reported = Vec::new();
            let mut unit = String::new();
            for &p in &chosen {
                let population = &populations[p];
                let Some(k) = index(p, &variable) else {
                    let mut names: Vec<String> = population.model.declaration().state.iter().map(|s| s.name.clone()).collect();
                    names.extend(
                        (1..kinds.len()).filter_map(|k| synaptic(p, &crate::synapse::kind_name(k)).map(|_| crate::synapse::kind_name(k))),
                    );
                    return Err(self.error(
                        r.variable.span(),
                        at("variable"),
                        format!(
                            "population {:?} ({}) has no state variable {variable:?} (expected one of: {})",
                            population.name,
                            population.model.declaration().model,
                            names.join(", ")
                        ),
                    ));
                };
                let declared = population.model.declaration().state;
                unit = match declared.get(k) {
                    Some(v) => v.unit.to_string(),
                    None => format!("weight units ({})", crate::synapse::describe_kind(kinds[k - declared.len() + 1])),
                };
                let selection = match &r.neurons {
                    None => Selection::All,
                    Some(n) => self.selection(n, &at("neurons"), population.size, seed)?,
                };
                let neurons = selection.indices(population.size, population.first_gid);
                reported.push(ReportedPopulation { population: p, variable: k, neurons });
            }
            if reported.is_empty() {
                let mut known: Vec<String> = Vec::new();
                for p in populations {
                    let d = p.model.declaration();
                    let names: Vec<&str> = d.state.iter().map(|s| s.name.as_str()).collect();
                    let line = format!("{}: {}", d.model, names.join(", "));
                    if !known.contains(&line) {
                        known.push(line);
                    }
                }
                for (k, &kind) in kinds.iter().enumerate().skip(1) {
                    known.push(format!("{}: {}", crate::synapse::kind_name(k), crate::synapse::describe_kind(kind)));
                }
                return Err(self.error(
                    r.variable.span(),
                    at("variable"),
                    format!("no population's model has a state variable {variable:?} (expected one of {})", known.join("; ")),
                ));
            }
            if reported.iter().all(|p| p.neurons.is_empty()) {
                let span = r.neurons.as_ref().map_or(r.variable.span(), |n| n.span());
                return Err(self.error(span, at("neurons"), "the selection holds no neuron"));
            }
            let interval_steps = match &r.interval {
                None => 1,
                Some(v) => self.whole_steps(v, &at("interval"), dt_ms, false)?,
            };
            let windows = match &r.windows {
                None => vec![self.window(r, &at, dt_ms, steps)?],
                Some(w) => {
                    if r.start.is_some() || r.stop.is_some() {
                        return Err(self.error(w.span(), at("windows"), "expected either windows or start and stop, not both"));
                    }
                    self.windows(w, &at("windows"), dt_ms)?
                }
            };
            let several = windows.len() > 1;
            for (k, (start_step, stop_step)) in windows.into_iter().enumerate() {
                // One file per window: a SONATA report's times are one regular series.
                let file = if several { format!("{}_w{k}.h5", &file[..file.len() - 3]) } else { file.clone() };
                if taken.contains(&file) || out.iter().any(|o| o.file == file) {
                    return Err(self.error(r.file.span(), at("file"), format!("{file:?} is already the name of another output file")));
                }
                if start_step >= steps {
                    warnings.push(format!(
                        "output.report[{i}] ({file}) samples from {} ms, beyond this run's end ({} ms): its file stays empty unless the run is resumed past it",
                        start_step as f64 * dt_ms,
                        steps as f64 * dt_ms
                    ));
                }
                out.push(ReportPlan {
                    file,
                    variable: variable.clone(),
                    unit: unit.clone(),
                    populations: reported.clone(),
                    schedule: Schedule { start_step, stop_step, interval_steps },
                });
            }
        }
        Ok(out)
    }

    /// The one window of `start` and `stop` (the whole run by default), in steps.
    fn window(&self, r: &schema::Report, at: &dyn Fn(&str) -> String, dt_ms: f64, steps: u64) -> Result<(u64, u64)> {
        let start_step = match &r.start {
            None => 0,
            Some(v) => self.whole_steps(v, &at("start"), dt_ms, true)?,
        };
        let stop_step = match &r.stop {
            None => steps,
            Some(v) => self.whole_steps(v, &at("stop"), dt_ms, false)?,
        };
        if start_step >= stop_step {
            let span = r.start.as_ref().or(r.stop.as_ref()).map_or(0..0, |v| v.span());
            return Err(self.error(
                span,
                at("start"),
                format!("expected start < stop, got start {} ms, stop {} ms", start_step as f64 * dt_ms, stop_step as f64 * dt_ms),
            ));
        }
        // A window beyond this run's end is kept: a run resumed from a checkpoint samples
        // it (`beyond_the_run` warns).
        Ok((start_step, stop_step))
    }

    /// `windows = [[start, stop], ...]`: increasing, apart, within the run, in steps.
    fn windows(&self, w: &Spanned<Vec<Vec<Value>>>, field: &str, dt_ms: f64) -> Result<Vec<(u64, u64)>> {
        let err = |m: String| self.error(w.span(), field, m);
        if w.get_ref().is_empty() {
            return Err(err("expected at least one window [start, stop]".into()));
        }
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (k, pair) in w.get_ref().iter().enumerate() {
            let [start, stop] = &pair[..] else {
                return Err(err(format!("expected each window as [start, stop], got {} values in window {k}", pair.len())));
            };
            let spanned = |v: &Value| Spanned::new(w.span(), v.clone());
            let start = self.whole_steps(&spanned(start), field, dt_ms, true)?;
            let stop = self.whole_steps(&spanned(stop), field, dt_ms, false)?;
            let ms = |s: u64| s as f64 * dt_ms;
            if start >= stop {
                return Err(err(format!("expected start < stop in window {k}, got [{} ms, {} ms]", ms(start), ms(stop))));
            }
            if let Some(&(_, last)) = out.last().filter(|&&(_, last)| start < last) {
                return Err(err(format!(
                    "expected windows in increasing time, apart: window {k} starts at {} ms, before the end of the one before ({} ms)",
                    ms(start),
                    ms(last)
                )));
            }
            out.push((start, stop));
        }
        Ok(out)
    }

    /// A time that is a whole number of steps of `dt_ms` (0 allowed where `zero`).
    /// Indices of the populations `names` lists, in its order: each must exist, once;
    /// `empty` is the message for an empty list.
    pub(super) fn population_list(
        &self,
        names: &Spanned<Vec<String>>,
        field: &str,
        populations: &[Population],
        empty: &str,
    ) -> Result<Vec<usize>> {
        let mut chosen = Vec::new();
        for name in names.get_ref() {
            let Some(p) = populations.iter().position(|p| &p.name == name) else {
                let known: Vec<&str> = populations.iter().map(|p| p.name.as_str()).collect();
                return Err(self.error(
                    names.span(),
                    field,
                    format!("no population is named {name:?} (expected one of: {})", known.join(", ")),
                ));
            };
            if chosen.contains(&p) {
                return Err(self.error(names.span(), field, format!("{name:?} is listed twice")));
            }
            chosen.push(p);
        }
        if chosen.is_empty() {
            return Err(self.error(names.span(), field, empty));
        }
        Ok(chosen)
    }

    pub(super) fn whole_steps(&self, value: &Spanned<Value>, field: &str, dt_ms: f64, zero: bool) -> Result<u64> {
        let ms = match value.get_ref() {
            Value::Number(x) => *x,
            Value::Text(s) => parse_time(s).map_err(|m| self.error(value.span(), field, m))?,
        };
        if !(ms.is_finite() && (ms > 0.0 || (zero && ms == 0.0))) {
            let least = if zero { "0 or more" } else { "greater than 0" };
            return Err(self.error(value.span(), field, format!("expected a time {least}, got {}", value.get_ref().as_text())));
        }
        match crate::units::whole_steps(ms, dt_ms).filter(|&s| s < u32::MAX as u64) {
            Some(steps) => Ok(steps),
            None => Err(self.error(value.span(), field, format!("expected a whole number of steps of dt = {dt_ms} ms, got {ms} ms"))),
        }
    }
}

/// The index a probe of `variable` on population `p` takes (`backend::Probe::variable`): a
/// declared state variable's (by name or alias), or the synaptic state of exponential kind
/// k where some projection of that kind targets the population (the declared ones' count
/// + k - 1). What a report samples, and what an in-process session records.
pub fn probe_variable(populations: &[Population], projections: &[Projection], p: usize, variable: &str) -> Option<usize> {
    state_index(&populations[p], variable).or_else(|| synaptic_index(populations, projections, p, variable))
}

fn synaptic_index(populations: &[Population], projections: &[Projection], p: usize, variable: &str) -> Option<usize> {
    let kinds = crate::synapse::kinds_of(projections.iter().map(|p| p.synapse));
    let k = (1..kinds.len()).find(|&k| crate::synapse::kind_name(k) == variable)?;
    let targeted = projections.iter().any(|pr| pr.target == p && pr.synapse == kinds[k]);
    targeted.then(|| populations[p].model.declaration().state.len() + k - 1)
}

/// The index of `variable` (a name or an alias) among the population's declared state
/// variables.
fn state_index(population: &Population, variable: &str) -> Option<usize> {
    population.model.declaration().state.iter().position(|s| s.name == variable || s.aliases.iter().any(|a| a == variable))
}

//! Validation of `[[stimulus]]` tables and of the populations' shorthands for them
//! (`noise_std`, `bias_current`).

use super::schema::{self, Value};
use super::Validator;
use crate::error::Result;
use crate::network::Population;
use crate::stimulus::{Selection, Stimulus, StimulusKind, Window};
use toml::Spanned;

/// The keys each kind uses besides `population`, `kind` and `neurons`.
const KEYS: [(&str, &[&str]); 6] = [
    ("noise", &["std", "start", "stop", "interval"]),
    ("sine", &["amplitude", "frequency", "phase", "offset", "start", "stop"]),
    ("constant", &["amplitude"]),
    ("step", &["times", "amplitudes"]),
    ("poisson", &["rate", "weight", "indegree"]),
    ("pick", &["amplitude", "count"]),
];

/// The keys a kind may leave out.
const OPTIONAL: [&str; 7] = ["indegree", "count", "start", "stop", "interval", "phase", "offset"];

/// A stimulus's number field checked finite (and ≥ 0 where asked), by field name.
type FiniteField<'a> = dyn Fn(&Spanned<f64>, &str, bool) -> Result<f64> + 'a;

/// The most Poisson events expected per neuron and step: the count is drawn by inversion,
/// which takes about that many operations (and e^−λ must stay a normal f64).
pub const MAX_POISSON_EVENTS_PER_STEP: f64 = 100.0;

impl Validator<'_> {
    /// A noise stimulus of `std`, in its window, each value held for its interval (NEST's
    /// noise_generator dt; one step when absent).
    fn noise(&self, s: &schema::Stimulus, at: &dyn Fn(&str) -> String, dt_ms: f64, std: f64) -> Result<StimulusKind> {
        let hold_steps = s.interval.as_ref().map(|v| self.whole_steps(v, &at("interval"), dt_ms, false)).transpose()?.unwrap_or(1);
        Ok(StimulusKind::Noise { std, stream: 0, window: self.stimulus_window(s, at, dt_ms)?, hold_steps })
    }

    /// A sine stimulus's fields (NEST's ac_generator; the phase in degrees at t = 0).
    fn sine(
        &self,
        s: &schema::Stimulus,
        at: &dyn Fn(&str) -> String,
        dt_ms: f64,
        finite: &FiniteField,
        missing: &dyn Fn(&str) -> crate::error::Error,
    ) -> Result<StimulusKind> {
        let amplitude = finite(s.amplitude.as_ref().ok_or_else(|| missing("amplitude"))?, "amplitude", false)?;
        let frequency = finite(s.frequency.as_ref().ok_or_else(|| missing("frequency"))?, "frequency", true)?;
        let phase = s.phase.as_ref().map(|x| finite(x, "phase", false)).transpose()?.unwrap_or(0.0);
        let offset = s.offset.as_ref().map(|x| finite(x, "offset", false)).transpose()?.unwrap_or(0.0);
        let radians_per_step = 2.0 * std::f64::consts::PI * frequency * dt_ms / 1000.0;
        Ok(StimulusKind::Sine {
            amplitude,
            offset,
            radians_per_step,
            phase: phase.to_radians(),
            window: self.stimulus_window(s, at, dt_ms)?,
        })
    }

    /// A poisson stimulus's events join the input current: a population that filters
    /// negative weights in a current of their own cannot take negative ones from it.
    fn poisson_reaches(
        &self,
        s: &schema::Stimulus,
        at: &dyn Fn(&str) -> String,
        weight: f64,
        targets: &[usize],
        populations: &[Population],
    ) -> Result<()> {
        if let Some(&t) = targets.iter().find(|&&t| weight < 0.0 && populations[t].model.inhibitory_kind().is_some()) {
            return Err(self.error(
                s.weight.as_ref().expect("given").span(),
                at("weight"),
                format!(
                    "population '{}' ({}) filters negative weights with tau_syn_in, a current of their own that a poisson stimulus does not reach: \
                     drive it with a spike source through a projection of negative weights",
                    populations[t].name,
                    populations[t].model.declaration().model
                ),
            ));
        }
        Ok(())
    }

    /// The steps a noise or sine stimulus acts in: from `start` (0) until `stop` (never).
    fn stimulus_window(&self, s: &schema::Stimulus, at: &dyn Fn(&str) -> String, dt_ms: f64) -> Result<Window> {
        let start = s.start.as_ref().map(|v| self.whole_steps(v, &at("start"), dt_ms, true)).transpose()?.unwrap_or(0);
        let stop = s.stop.as_ref().map(|v| self.whole_steps(v, &at("stop"), dt_ms, false)).transpose()?.unwrap_or(u64::MAX);
        if stop <= start {
            let span = s.stop.as_ref().map_or(0..0, |v| v.span());
            return Err(self.error(span, at("stop"), format!("expected stop after start (step {start}), got step {stop}")));
        }
        Ok(Window { start, stop })
    }

    /// The stimuli of the model file: first each population's shorthands (noise, then the
    /// constant current: net.m's order), then the `[[stimulus]]` tables in file order.
    /// Noise stimuli on one population draw from streams 0, 1, ... in that order, so the
    /// first noise of a population is the one `noise_std` has always drawn.
    pub(super) fn stimuli(
        &self,
        shorthands: &[(f64, f64)],
        tables: &[Spanned<schema::Stimulus>],
        populations: &[Population],
        dt_ms: f64,
        seed: u64,
    ) -> Result<Vec<Stimulus>> {
        let mut out = Vec::new();
        for (population, &(noise_std, bias)) in shorthands.iter().enumerate() {
            if noise_std != 0.0 {
                let kind = StimulusKind::Noise { std: noise_std, stream: 0, window: Window::ALWAYS, hold_steps: 1 };
                out.push(Stimulus { population, neurons: Selection::All, kind });
            }
            if bias != 0.0 {
                out.push(Stimulus { population, neurons: Selection::All, kind: StimulusKind::Constant { amplitude: bias } });
            }
        }
        for (i, table) in tables.iter().enumerate() {
            for mut s in self.stimulus(i, table, populations, dt_ms, seed)? {
                if let StimulusKind::Poisson { stream, .. } = &mut s.kind {
                    // Poisson stimuli on one population draw from streams 0, 1, ... in order.
                    *stream = out.iter().filter(|o| o.population == s.population && matches!(o.kind, StimulusKind::Poisson { .. })).count()
                        as u32;
                }
                if let StimulusKind::Noise { stream, .. } = &mut s.kind {
                    *stream =
                        out.iter().filter(|o| o.population == s.population && matches!(o.kind, StimulusKind::Noise { .. })).count() as u32;
                }
                if let StimulusKind::Pick { stream, .. } = &mut s.kind {
                    // One stream per table: the populations of one pool share its draws.
                    *stream = i as u32;
                }
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Whether a stimulus of `kind_name` may reach the populations `targets`: a Poisson
    /// stimulus's weights are currents, not how spikes reach a conductance model.
    fn stimulus_reaches(
        &self,
        s: &schema::Stimulus,
        targets: &[usize],
        populations: &[Population],
        kind_name: &str,
        at: &dyn Fn(&str) -> String,
    ) -> Result<()> {
        let shape = |t: usize| populations[t].model.declaration().conductance_synapses;
        let Some((t, shape)) = targets.iter().find_map(|&t| shape(t).filter(|_| kind_name == "poisson").map(|shape| (t, shape))) else {
            return Ok(());
        };
        Err(self.error(
            s.population.span(),
            at("population"),
            format!(
                "population '{}' ({}) takes spikes as conductances, and a poisson stimulus adds its weights as currents: \
                 drive it with a spike source through a projection with an {} synapse",
                populations[t].name,
                populations[t].model.declaration().model,
                shape.synapse_name()
            ),
        ))
    }

    /// The stimulus of table `i`: one for each population it names.
    fn stimulus(
        &self,
        i: usize,
        table: &Spanned<schema::Stimulus>,
        populations: &[Population],
        dt_ms: f64,
        seed: u64,
    ) -> Result<Vec<Stimulus>> {
        let at = |field: &str| format!("stimulus[{i}].{field}");
        let s = table.get_ref();
        let targets = self.stimulus_populations(&s.population, &at("population"), populations)?;
        if let Some(&t) = targets.iter().find(|&&t| populations[t].model.declaration().takes_no_input()) {
            return Err(self.error(s.population.span(), at("population"), no_input(&populations[t])));
        }
        let kind_name = s.kind.get_ref().as_str();
        let Some((_, uses)) = KEYS.iter().find(|(k, _)| *k == kind_name) else {
            return Err(self.error(
                s.kind.span(),
                at("kind"),
                format!("unknown stimulus kind '{kind_name}' (known: noise, constant, step, poisson, pick, sine)"),
            ));
        };
        let given = [
            ("std", s.std.as_ref().map(|x| x.span())),
            ("amplitude", s.amplitude.as_ref().map(|x| x.span())),
            ("times", s.times.as_ref().map(|x| x.span())),
            ("amplitudes", s.amplitudes.as_ref().map(|x| x.span())),
            ("rate", s.rate.as_ref().map(|x| x.span())),
            ("weight", s.weight.as_ref().map(|x| x.span())),
            ("indegree", s.indegree.as_ref().map(|x| x.span())),
            ("count", s.count.as_ref().map(|x| x.span())),
            ("start", s.start.as_ref().map(|x| x.span())),
            ("stop", s.stop.as_ref().map(|x| x.span())),
            ("interval", s.interval.as_ref().map(|x| x.span())),
            ("frequency", s.frequency.as_ref().map(|x| x.span())),
            ("phase", s.phase.as_ref().map(|x| x.span())),
            ("offset", s.offset.as_ref().map(|x| x.span())),
        ];
        if let Some((key, span)) = given.iter().find_map(|(k, span)| span.clone().filter(|_| !uses.contains(k)).map(|s| (k, s))) {
            return Err(self.error(
                span,
                at(key),
                format!("a {kind_name} stimulus does not use '{key}' (its keys: population, kind, neurons, {})", uses.join(", ")),
            ));
        }
        let needed: Vec<&str> = uses.iter().copied().filter(|k| !OPTIONAL.contains(k)).collect();
        let missing =
            |key: &str| self.error(table.span(), at(key), format!("missing: a {kind_name} stimulus needs {}", needed.join(" and ")));
        let finite = |x: &Spanned<f64>, field: &str, non_negative: bool| -> Result<f64> {
            let v = *x.get_ref();
            if v.is_finite() && (!non_negative || v >= 0.0) && (v as f32).is_finite() {
                Ok(v)
            } else {
                let what = if non_negative { "a finite number ≥ 0" } else { "a finite number" };
                Err(self.error(x.span(), at(field), format!("expected {what}, got {}", crate::units::describe_value(v))))
            }
        };
        self.stimulus_reaches(s, &targets, populations, kind_name, &at)?;
        let kind = match kind_name {
            "noise" => self.noise(s, &at, dt_ms, finite(s.std.as_ref().ok_or_else(|| missing("std"))?, "std", true)?)?,
            "sine" => self.sine(s, &at, dt_ms, &finite, &missing)?,
            "constant" => {
                StimulusKind::Constant { amplitude: finite(s.amplitude.as_ref().ok_or_else(|| missing("amplitude"))?, "amplitude", false)? }
            }
            "poisson" => {
                let rate = finite(s.rate.as_ref().ok_or_else(|| missing("rate"))?, "rate", true)?;
                let weight = finite(s.weight.as_ref().ok_or_else(|| missing("weight"))?, "weight", false)?;
                let indegree = match &s.indegree {
                    None => 1,
                    Some(k) if *k.get_ref() >= 1 && *k.get_ref() <= u32::MAX as i64 => *k.get_ref() as u64,
                    Some(k) => {
                        return Err(self.error(k.span(), at("indegree"), format!("expected a number of sources ≥ 1, got {}", k.get_ref())))
                    }
                };
                let lambda = rate * indegree as f64 * dt_ms / 1000.0;
                if lambda > MAX_POISSON_EVENTS_PER_STEP {
                    return Err(self.error(
                        s.rate.as_ref().expect("given").span(),
                        at("rate"),
                        format!(
                            "rate × indegree × dt = {lambda} events expected per neuron and step, more than the {MAX_POISSON_EVENTS_PER_STEP} a Poisson stimulus draws: use a constant current (kind = \"constant\") for input this dense"
                        ),
                    ));
                }
                self.poisson_reaches(s, &at, weight, &targets, populations)?;
                StimulusKind::Poisson { lambda, weight, stream: 0 }
            }
            "pick" => {
                let amplitude = finite(s.amplitude.as_ref().ok_or_else(|| missing("amplitude"))?, "amplitude", false)?;
                return self.pick(s, &at, amplitude, &targets, populations);
            }
            _ => {
                let times = s.times.as_ref().ok_or_else(|| missing("times"))?;
                let amplitudes = s.amplitudes.as_ref().ok_or_else(|| missing("amplitudes"))?;
                if times.get_ref().is_empty() || times.get_ref().len() != amplitudes.get_ref().len() {
                    return Err(self.error(
                        amplitudes.span(),
                        at("amplitudes"),
                        format!(
                            "expected one amplitude for each of the times, at least one: got {} times and {} amplitudes",
                            times.get_ref().len(),
                            amplitudes.get_ref().len()
                        ),
                    ));
                }
                let mut starts: Vec<u64> = Vec::new();
                for (k, t) in times.get_ref().iter().enumerate() {
                    let field = at(&format!("times[{k}]"));
                    let ms = match t {
                        Value::Number(x) => *x,
                        Value::Text(text) => super::parse_time(text).map_err(|m| self.error(times.span(), &field, m))?,
                    };
                    let Some(step) = crate::units::whole_steps(ms, dt_ms).filter(|_| ms >= 0.0) else {
                        return Err(self.error(
                            times.span(),
                            field,
                            format!("expected a time ≥ 0 that is a whole number of steps of dt = {dt_ms} ms, got {}", t.as_text()),
                        ));
                    };
                    if starts.last().is_some_and(|&last| step <= last) {
                        return Err(self.error(
                            times.span(),
                            field,
                            format!("expected times in increasing order, got {} after an equal or later time", t.as_text()),
                        ));
                    }
                    starts.push(step);
                }
                let mut values = Vec::new();
                for (k, &a) in amplitudes.get_ref().iter().enumerate() {
                    values.push(finite(&Spanned::new(amplitudes.span(), a), &format!("amplitudes[{k}]"), false)?);
                }
                StimulusKind::Step { starts, amplitudes: values }
            }
        };
        let neurons = match (&s.neurons, &targets[..]) {
            (None, _) => Selection::All,
            (Some(n), &[population]) => self.selection(n, &at("neurons"), populations[population].size, seed)?,
            (Some(n), _) => {
                return Err(self.error(
                    n.span(),
                    at("neurons"),
                    "neurons chooses within one population: write one [[stimulus]] for each population to choose neurons in several",
                ))
            }
        };
        Ok(targets.into_iter().map(|population| Stimulus { population, neurons: neurons.clone(), kind: kind.clone() }).collect())
    }

    /// The populations a stimulus names, by index: one name or a list of distinct ones.
    fn stimulus_populations(&self, names: &Spanned<schema::Names>, field: &str, populations: &[Population]) -> Result<Vec<usize>> {
        let mut targets: Vec<usize> = Vec::new();
        for name in names.get_ref().as_slice() {
            let index = populations.iter().position(|p| &p.name == name).ok_or_else(|| {
                let known: Vec<&str> = populations.iter().map(|p| p.name.as_str()).collect();
                self.error(names.span(), field, format!("unknown population '{name}' (defined: {})", known.join(", ")))
            })?;
            if targets.contains(&index) {
                return Err(self.error(names.span(), field, format!("population '{name}' is listed twice")));
            }
            targets.push(index);
        }
        if targets.is_empty() {
            return Err(self.error(names.span(), field, "expected a population's name or a list of at least one"));
        }
        Ok(targets)
    }

    /// A pick stimulus: one `Stimulus` per population of its pool, each knowing where
    /// its neurons start in the pool.
    fn pick(
        &self,
        s: &schema::Stimulus,
        at: &dyn Fn(&str) -> String,
        amplitude: f64,
        targets: &[usize],
        populations: &[Population],
    ) -> Result<Vec<Stimulus>> {
        let pool: u64 = targets.iter().map(|&t| populations[t].size).sum();
        let count = match &s.count {
            None => 1,
            Some(c) if *c.get_ref() >= 1 && (*c.get_ref() as u64) <= pool => *c.get_ref() as u32,
            Some(c) => {
                return Err(self.error(
                    c.span(),
                    at("count"),
                    format!("expected a number of neurons drawn per step from 1 to {pool} (the pool's size), got {}", c.get_ref()),
                ))
            }
        };
        if let Some(n) = &s.neurons {
            return Err(self.error(
                n.span(),
                at("neurons"),
                "a pick stimulus draws from whole populations: list them in population = [...] instead of choosing neurons",
            ));
        }
        let mut first = 0;
        let mut out = Vec::new();
        for &population in targets {
            out.push(Stimulus {
                population,
                neurons: Selection::All,
                kind: StimulusKind::Pick { amplitude, count, pool, first, stream: 0 },
            });
            first += populations[population].size;
        }
        Ok(out)
    }

    pub(super) fn selection(&self, n: &Spanned<schema::Neurons>, field: &str, size: u64, seed: u64) -> Result<Selection> {
        let sel = n.get_ref();
        let err = |m: String| self.error(n.span(), field, m);
        let forms = [sel.range.is_some(), sel.ids.is_some(), sel.fraction.is_some()].iter().filter(|&&x| x).count();
        if forms != 1 {
            return Err(err("expected exactly one of range = [first, end], ids = [...] or fraction = p (with an optional seed)".into()));
        }
        if sel.seed.is_some() && sel.fraction.is_none() {
            return Err(err("seed is only for fraction".into()));
        }
        if let Some(r) = &sel.range {
            return match r[..] {
                [lo, hi] if 0 <= lo && lo < hi && hi as u64 <= size => Ok(Selection::Range(lo as u64..hi as u64)),
                _ => Err(err(format!("expected range = [first, end] with 0 ≤ first < end ≤ {size} (the population's size), got {r:?}"))),
            };
        }
        if let Some(ids) = &sel.ids {
            if let Some(bad) = ids.iter().find(|&&i| i < 0 || i as u64 >= size) {
                return Err(err(format!("expected indices from 0 to {} (the population's size − 1), got {bad}", size - 1)));
            }
            let mut sorted: Vec<u64> = ids.iter().map(|&i| i as u64).collect();
            sorted.sort_unstable();
            if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                return Err(err(format!("index {} is listed twice", w[0])));
            }
            if sorted.is_empty() {
                return Err(err("expected at least one index in ids".into()));
            }
            return Ok(Selection::List(sorted));
        }
        let fraction = sel.fraction.expect("one form given");
        if !(0.0..=1.0).contains(&fraction) {
            return Err(err(format!("expected a fraction in [0, 1], got {fraction}")));
        }
        let own_seed = match sel.seed {
            Some(s) if s >= 0 => s as u64,
            Some(s) => return Err(err(format!("expected a seed ≥ 0, got {s}"))),
            None => seed,
        };
        Ok(Selection::Fraction { fraction, seed: own_seed })
    }
}

/// Why population `p`, whose model takes no input (a spike source), cannot be a
/// stimulus's or a projection's target.
pub(super) fn no_input(p: &Population) -> String {
    format!("population '{}' is a {}: it replays its spike trains and takes no input", p.name, p.model.declaration().model)
}

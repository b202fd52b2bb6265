//! Validation of `[[projection]]` tables: the populations they join, the connection
//! rule, the weights (numbers, expressions of per-synapse uniforms, distributions), the
//! delays (whole steps) and the synapse model.

use super::schema::{self, Value};
use super::Validator;
use crate::error::Result;
use crate::network::{ConnectionRule, DelaySpec, Population, Projection, Storage, SynapseModel, WeightSpec};
use std::ops::Range;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn projection(
        &self,
        i: usize,
        p: &schema::Projection,
        populations: &[Population],
        (dt_ms, edges): (f64, &mut Vec<std::sync::Arc<crate::network::EdgeSource>>),
    ) -> Result<Projection> {
        let at = |field: &str| format!("projection[{i}].{field}");
        let find = |name: &Spanned<String>, field: &str| {
            populations.iter().position(|q| &q.name == name.get_ref()).ok_or_else(|| {
                let known: Vec<&str> = populations.iter().map(|q| q.name.as_str()).collect();
                self.error(name.span(), at(field), format!("unknown population '{}' (defined: {})", name.get_ref(), known.join(", ")))
            })
        };
        let source = find(&p.source, "source")?;
        let target = find(&p.target, "target")?;
        if populations[target].model.declaration().takes_no_input() {
            return Err(self.error(p.target.span(), at("target"), super::stimulus::no_input(&populations[target])));
        }
        let listed = p.connection.get_ref().rule == "list";
        // Where an error about the weights points: the weight, or the connection that
        // takes them from a file.
        let weight_span = p.weight.as_ref().map_or(p.connection.span(), |w| w.span());
        let (rule, weight, delay) = if listed {
            let l = self.listed_synapses(
                i,
                &p.connection,
                (p.weight.as_ref(), p.delay.as_ref()),
                (&populations[source], &populations[target]),
                (dt_ms, edges),
            )?;
            (l.rule, l.weight, l.delay)
        } else {
            self.drawn(i, p, (source, target), populations, dt_ms)?
        };
        let synapse = match &p.synapse {
            None => SynapseModel::Delta,
            Some(s) => self.synapse(s, &at("synapse"))?,
        };
        let declaration = populations[target].model.declaration();
        if let Some(shape) = declaration.conductance_synapses.filter(|shape| !shape.takes(synapse)) {
            let span = p.synapse.as_ref().map_or(p.target.span(), |s| s.span());
            return Err(self.error(
                span,
                at("synapse"),
                format!(
                    "population '{}' ({}) takes spikes as conductances: expected synapse = {{ model = \"{}\", tau = \"...\", e_rev = ... }} (NEST's g_ex: tau_syn_ex 0.2 ms, E_ex 0 mV; g_in: tau_syn_in 2 ms, E_in -85 mV), got {}",
                    populations[target].name,
                    declaration.model,
                    shape.synapse_name(),
                    crate::synapse::describe_kind(synapse)
                ),
            ));
        }
        let synapse = match (&p.synapse, routed_by_sign(&populations[target], &weight)) {
            (None, Ok(Some(kind))) => kind,
            (None, Err(message)) => return Err(self.error(weight_span, at("weight"), message)),
            _ => synapse,
        };
        if let Err(message) = nonnegative_conductance(synapse, &weight) {
            return Err(self.error(weight_span, at("weight"), message));
        }
        let inhibitory = populations[target].model.inhibitory_kind() == Some(synapse);
        if let (Some(s), true) = (&p.synapse, inhibitory) {
            self.negative_only(s, &at("synapse"), &populations[target], &weight)?;
        }
        if let (Some(s), false) = (&p.synapse, inhibitory) {
            if synapse != SynapseModel::Delta && declaration.filters_weights {
                return Err(self.error(
                    s.span(),
                    at("synapse"),
                    format!(
                        "population '{}' ({}) takes the weights arriving itself (each a jump of its synaptic current, or of v): leave out 'synapse'",
                        populations[target].name, declaration.model
                    ),
                ));
            }
        }
        let storage = match (&p.storage, &p.procedural) {
            (Some(s), Some(pr)) if *pr.get_ref() != (s.get_ref() == "procedural") => {
                return Err(self.error(
                    pr.span(),
                    at("procedural"),
                    format!("procedural = {} conflicts with storage = \"{}\"", pr.get_ref(), s.get_ref()),
                ));
            }
            (_, Some(pr)) if *pr.get_ref() => Storage::Procedural,
            (None, _) => Storage::Exact,
            (Some(s), _) => match s.get_ref().as_str() {
                "exact" => Storage::Exact,
                "compact" => Storage::Compact,
                "procedural" => Storage::Procedural,
                other => {
                    return Err(self.error(
                        s.span(),
                        at("storage"),
                        format!("unknown storage '{other}' (known: exact, compact, procedural)"),
                    ))
                }
            },
        };
        if storage == Storage::Procedural && !rule.per_source() {
            let span = p.procedural.as_ref().map(|x| x.span()).or(p.storage.as_ref().map(|x| x.span())).unwrap_or(0..0);
            return Err(self.error(
                span,
                at("storage"),
                "procedural rows are drawn again per source at delivery: only rule fixed_outdegree draws rows per source",
            ));
        }
        if storage == Storage::Compact {
            if let WeightSpec::Normal { min, max, .. } = weight {
                if !(min.is_finite() && max.is_finite()) {
                    return Err(self.error(
                        weight_span,
                        at("weight"),
                        "compact storage needs a bounded weight: give the normal distribution finite min and max",
                    ));
                }
            }
        }
        if listed && storage != Storage::Exact {
            let span = p.storage.as_ref().map(|x| x.span()).or(p.procedural.as_ref().map(|x| x.span())).unwrap_or(0..0);
            return Err(self.error(span, at("storage"), "listed synapses are stored exact (u32 target + f32 weight): leave out storage"));
        }
        if let (true, Some(v)) = (listed, &p.plasticity) {
            return Err(self.error(v.span(), at("plasticity"), "plastic synapses are drawn by a rule: listed synapses stay as listed"));
        }
        let plasticity = match &p.plasticity {
            None => None,
            Some(v) => Some(self.plasticity(v, &at("plasticity"), storage, dt_ms)?),
        };
        // The weights drawn must be weights the rule can hold (each is checked again as
        // built: an expression's range here is searched on a grid).
        if let Some(rule) = &plasticity {
            let (lo, hi) = crate::connectivity::generate::weight_bounds(&weight);
            if let Some(expected) = [lo, hi].iter().find_map(|&w| rule.check_weight(w).err()) {
                // Grid sums are a few ulps off the bounds the user wrote: shown at 9 digits.
                let nice = |x: f64| (x * 1e9).round() / 1e9;
                let range = if lo == hi { format!("is {}", nice(lo)) } else { format!("ranges over [{}, {}]", nice(lo), nice(hi)) };
                return Err(self.error(
                    weight_span,
                    at("weight"),
                    format!("{range}: a plastic projection's weights must lie within its rule's bounds: expected {expected}"),
                ));
            }
        }
        Ok(Projection { id: i as u32, source, target, rule, weight, delay, synapse, storage, plasticity })
    }

    /// A drawn projection's rule, weights and delays.
    fn drawn(
        &self,
        i: usize,
        p: &schema::Projection,
        (source, target): (usize, usize),
        populations: &[Population],
        dt_ms: f64,
    ) -> Result<(ConnectionRule, WeightSpec, DelaySpec)> {
        let at = |field: &str| format!("projection[{i}].{field}");
        let rule = self.rule(&p.connection, &at("connection"), &populations[source], &populations[target], source == target)?;
        let Some(given) = &p.weight else {
            return Err(self.error(
                p.connection.span(),
                at("weight"),
                "missing: expected a number, an expression of per-synapse uniforms u, u2, u3, or { distribution = \"uniform\" | \"normal\", ... }",
            ));
        };
        let weight = self.weight(given, &at("weight"))?;
        let weight_span = given.span();
        // Searched on a grid of its uniforms: constants and ranges that fail are caught
        // here, with their place in the file; stored synapses are checked one by one
        // when built, procedural ones (drawn during the run) by the run's state check.
        if let Some((u, value)) = crate::connectivity::generate::weight_failure(&weight) {
            let WeightSpec::Expr { uniforms, .. } = &weight else { unreachable!("only expressions are searched") };
            let at_u: Vec<String> = ["u", "u2", "u3"].iter().zip(u).take(*uniforms).map(|(n, x)| format!("{n} = {x}")).collect();
            let at_u = if at_u.is_empty() { String::new() } else { format!(" at {}", at_u.join(", ")) };
            return Err(self.error(
                weight_span,
                at("weight"),
                format!("evaluates to {}{at_u}: expected a finite number", crate::units::describe_value(value)),
            ));
        }
        let delay = match &p.delay {
            None => DelaySpec::constant(1),
            Some(d) => self.delay(d, &at("delay"), dt_ms)?,
        };
        Ok((rule, weight, delay))
    }

    fn rule(
        &self,
        c: &Spanned<schema::Connection>,
        field: &str,
        source: &Population,
        target: &Population,
        same: bool,
    ) -> Result<ConnectionRule> {
        let conn = c.get_ref();
        let err = |m: String| self.error(c.span(), field, m);
        // An error about one key's value points at that key (and names it), so that a
        // value given by --set is reported as the option's.
        let key_err = |key: &str, m: String| self.error(self.key_span(c.span(), key), format!("{field}.{key}"), m);
        let need_k = || -> Result<u64> {
            match conn.k {
                Some(k) if k >= 0 => Ok(k as u64),
                Some(k) => Err(key_err("k", format!("expected k ≥ 0, got {k}"))),
                None => Err(err(format!("rule {} needs k (the number of synapses per neuron)", conn.rule))),
            }
        };
        // Keys a rule does not use are errors, like unknown fields: a `k` given to
        // all_to_all would otherwise be silently ignored.
        let uses: &[&str] = match conn.rule.as_str() {
            "all_to_all" => &["autapses"],
            "fixed_probability" => &["p", "autapses"],
            "fixed_indegree" | "fixed_outdegree" => &["k", "autapses", "multapses"],
            "fixed_total_number" => &["n", "autapses", "multapses"],
            "one_to_one" => &[],
            _ => &[],
        };
        let listing = [
            ("sources", conn.sources.is_some()),
            ("targets", conn.targets.is_some()),
            ("file", conn.file.is_some()),
            ("edges", conn.edges.is_some()),
        ];
        if let Some(key) = listing.iter().find(|k| k.1).map(|k| k.0) {
            return Err(key_err(key, format!("rule {} draws its synapses: '{key}' is rule list's", conn.rule)));
        }
        let given = [
            ("k", conn.k.is_some()),
            ("n", conn.n.is_some()),
            ("p", conn.p.is_some()),
            ("autapses", conn.autapses.is_some()),
            ("multapses", conn.multapses.is_some()),
        ];
        if !uses.is_empty() {
            if let Some((key, _)) = given.iter().find(|(key, present)| *present && !uses.contains(key)) {
                return Err(self.error(
                    self.key_span(c.span(), key),
                    format!("{field}.{key}"),
                    format!("rule {} does not use '{key}' (its keys: rule, {})", conn.rule, uses.join(", ")),
                ));
            }
        }
        let autapses = conn.autapses.unwrap_or(true);
        let multapses = conn.multapses.unwrap_or(true);
        let rule = match conn.rule.as_str() {
            "all_to_all" => ConnectionRule::AllToAll { autapses },
            "one_to_one" => ConnectionRule::OneToOne,
            "fixed_probability" => match conn.p {
                Some(p) if (0.0..=1.0).contains(&p) => ConnectionRule::FixedProbability { p, autapses },
                Some(p) => return Err(key_err("p", format!("expected a probability p in [0, 1], got {p}"))),
                None => return Err(err("rule fixed_probability needs p".into())),
            },
            "fixed_indegree" => ConnectionRule::FixedIndegree { k: need_k()?, autapses, multapses },
            "fixed_outdegree" => ConnectionRule::FixedOutdegree { k: need_k()?, autapses, multapses },
            "fixed_total_number" => {
                let n = match conn.n {
                    Some(n) if n >= 0 => n as u64,
                    Some(n) => return Err(key_err("n", format!("expected n ≥ 0 synapses, got {n}"))),
                    None => return Err(err("rule fixed_total_number needs n (the number of synapses in all)".into())),
                };
                if !multapses {
                    return Err(self.error(
                        self.key_span(c.span(), "multapses"),
                        format!("{field}.multapses"),
                        "rule fixed_total_number draws with multapses (NEST's default, the microcircuit's): expected true",
                    ));
                }
                let pool = source.size - (same && !autapses) as u64;
                if n > 0 && (pool == 0 || target.size == 0) {
                    return Err(err("no partner to draw: the only candidate is the neuron itself and autapses are off".into()));
                }
                // A target's in-degree is held in 32 bits; the mean leaves room for its spread.
                if n / target.size.max(1) >= u32::MAX as u64 / 2 {
                    return Err(key_err("n", format!("expected fewer than 2^31 synapses per target on average, got n = {n} onto {} targets", target.size)));
                }
                ConnectionRule::FixedTotalNumber { n, autapses }
            }
            other => {
                return Err(err(format!(
                    "unknown connection rule '{other}' (known: all_to_all, fixed_probability, fixed_indegree, fixed_outdegree, fixed_total_number, one_to_one, list)"
                )))
            }
        };
        // A neuron cannot draw partners where there are none, nor, without multapses, more
        // distinct partners than there are.
        if let ConnectionRule::FixedIndegree { k, autapses, multapses } | ConnectionRule::FixedOutdegree { k, autapses, multapses } = rule {
            let pool = if rule.per_source() { target.size } else { source.size } - (same && !autapses) as u64;
            if k > 0 && pool == 0 {
                return Err(err("no partner to draw: the only candidate is the neuron itself and autapses are off".into()));
            }
            if k >= u32::MAX as u64 {
                return Err(key_err("k", format!("expected k below 2^32 (synapses of a row are counted in 32 bits), got {k}")));
            }
            if !multapses && k > pool {
                return Err(key_err("k", format!("k = {k} without multapses needs at least {k} distinct partners, but there are {pool}")));
            }
        }
        Ok(rule)
    }

    fn weight(&self, value: &Spanned<toml::Value>, field: &str) -> Result<WeightSpec> {
        let names = ["u", "u2", "u3"];
        let expr = |text: &str| -> Result<WeightSpec> {
            let expr = self.expression(&Spanned::new(value.span(), Value::Text(text.to_string())), field, &names)?;
            Ok(WeightSpec::Expr { uniforms: expr.slots_used(), expr })
        };
        let err = |m: String| self.error(value.span(), field, m);
        match value.get_ref() {
            toml::Value::Integer(x) => expr(&format!("{x}")),
            toml::Value::Float(x) if !x.is_finite() => Err(err(format!("expected a finite number, got {x}"))),
            toml::Value::Float(x) => expr(&format!("{x:?}")),
            toml::Value::String(s) => expr(s),
            toml::Value::Table(t) => {
                let number = |key: &str| -> Result<Option<f64>> {
                    match t.get(key) {
                        None => Ok(None),
                        Some(toml::Value::Integer(x)) => Ok(Some(*x as f64)),
                        Some(toml::Value::Float(x)) if x.is_finite() => Ok(Some(*x)),
                        Some(other) => Err(err(format!("{key}: expected a finite number, got {other}"))),
                    }
                };
                let dist = t.get("distribution").and_then(|d| d.as_str()).unwrap_or("");
                let allowed: &[&str] = match dist {
                    "uniform" => &["distribution", "low", "high"],
                    "normal" => &["distribution", "mean", "std", "min", "max", "redraw"],
                    _ => return Err(err("expected distribution = \"uniform\" or \"normal\"".to_string())),
                };
                if let Some(k) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
                    return Err(err(format!("unknown key '{k}' for a {dist} weight (expected: {})", allowed[1..].join(", "))));
                }
                if dist == "uniform" {
                    let (Some(lo), Some(hi)) = (number("low")?, number("high")?) else {
                        return Err(err("a uniform weight needs low and high".into()));
                    };
                    if hi < lo {
                        return Err(err(format!("expected low ≤ high, got low = {lo}, high = {hi}")));
                    }
                    expr(&format!("{lo:?} + ({hi:?} - {lo:?})*u"))
                } else {
                    let (Some(mean), Some(std)) = (number("mean")?, number("std")?) else {
                        return Err(err("a normal weight needs mean and std".into()));
                    };
                    if std < 0.0 {
                        return Err(err(format!("expected std ≥ 0, got {std}")));
                    }
                    let (min, max) = (number("min")?.unwrap_or(f64::NEG_INFINITY), number("max")?.unwrap_or(f64::INFINITY));
                    if max < min {
                        return Err(err(format!("expected min ≤ max, got min = {min}, max = {max}")));
                    }
                    let redraw = match t.get("redraw") {
                        None => false,
                        Some(toml::Value::Boolean(b)) => *b,
                        Some(other) => return Err(err(format!("redraw: expected true or false, got {other}"))),
                    };
                    let mass = crate::connectivity::generate::normal_mass(mean, std, min, max);
                    if redraw && mass < 1e-3 {
                        return Err(err(format!(
                            "a normal weight redrawn into [{min}, {max}] falls there with probability {mass:.1e}: expected a range holding at least 10⁻³ of it"
                        )));
                    }
                    Ok(WeightSpec::Normal { mean, std, min, max, redraw })
                }
            }
            other => Err(err(format!("expected a number, an expression of u, u2, u3, or a distribution table, got {other}"))),
        }
    }

    /// A whole number of steps from a TOML time value.
    pub(super) fn steps(&self, v: &toml::Value, span: Range<usize>, field: &str, dt_ms: f64) -> Result<u32> {
        let as_value = match v {
            toml::Value::Integer(x) => Value::Number(*x as f64),
            toml::Value::Float(x) => Value::Number(*x),
            toml::Value::String(s) => Value::Text(s.clone()),
            other => return Err(self.error(span, field, format!("expected a time, got {other}"))),
        };
        let ms = self.time(&Spanned::new(span.clone(), as_value), field)?;
        let Some(steps) = crate::units::whole_steps(ms, dt_ms).filter(|&s| s >= 1) else {
            return Err(self.error(span, field, format!("expected a whole number (at least 1) of steps of dt = {dt_ms} ms, got {ms} ms")));
        };
        if steps > 65_535 {
            return Err(self.error(span, field, format!("expected at most 65535 steps, got {steps}")));
        }
        Ok(steps as u32)
    }

    fn delay(&self, value: &Spanned<toml::Value>, field: &str, dt_ms: f64) -> Result<DelaySpec> {
        match value.get_ref() {
            toml::Value::Table(t) if t.get("distribution").and_then(|d| d.as_str()) == Some("normal") => {
                self.normal_delay(t, value.span(), field, dt_ms)
            }
            toml::Value::Table(t) => {
                let shape = "expected a time, { distribution = \"uniform\", low = ..., high = ... }, { distribution = \"spread\", low = ..., high = ... } or { distribution = \"normal\", mean = ..., std = ... }";
                let distribution = t.get("distribution").and_then(|d| d.as_str()).unwrap_or("");
                if !["uniform", "spread"].contains(&distribution)
                    || t.keys().any(|k| !["distribution", "low", "high"].contains(&k.as_str()))
                {
                    return Err(self.error(value.span(), field, shape));
                }
                let (Some(lo), Some(hi)) = (t.get("low"), t.get("high")) else {
                    return Err(self.error(value.span(), field, format!("a {distribution} delay needs low and high")));
                };
                let (lo, hi) = (self.steps(lo, value.span(), field, dt_ms)?, self.steps(hi, value.span(), field, dt_ms)?);
                if hi < lo {
                    return Err(self.error(value.span(), field, "expected low ≤ high"));
                }
                Ok(DelaySpec { min_steps: lo, max_steps: hi, normal: None, spread: distribution == "spread" })
            }
            v => Ok(DelaySpec::constant(self.steps(v, value.span(), field, dt_ms)?)),
        }
    }

    /// A Gaussian delay, redrawn into [min, max] (min: dt when absent, as NEST redraws
    /// below the resolution; max: mean + 10 std) and rounded to whole steps.
    fn normal_delay(&self, t: &toml::map::Map<String, toml::Value>, span: Range<usize>, field: &str, dt_ms: f64) -> Result<DelaySpec> {
        let err = |m: String| self.error(span.clone(), field, m);
        let allowed = ["distribution", "mean", "std", "min", "max"];
        if let Some(k) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(err(format!("unknown key '{k}' for a normal delay (expected: {})", allowed[1..].join(", "))));
        }
        let time = |key: &str| -> Result<Option<f64>> {
            let v = match t.get(key) {
                None => return Ok(None),
                Some(toml::Value::Integer(x)) => Value::Number(*x as f64),
                Some(toml::Value::Float(x)) => Value::Number(*x),
                Some(toml::Value::String(s)) => Value::Text(s.clone()),
                Some(other) => return Err(err(format!("{key}: expected a time, got {other}"))),
            };
            self.time(&Spanned::new(span.clone(), v), &format!("{field}.{key}")).map(Some)
        };
        let (Some(mean), Some(std)) = (time("mean")?, time("std")?) else {
            return Err(err("a normal delay needs mean and std".into()));
        };
        let min = time("min")?.unwrap_or(dt_ms).max(dt_ms);
        let max = time("max")?.unwrap_or(mean + 10.0 * std);
        if !(std >= 0.0 && max >= min) {
            return Err(err(format!("expected std ≥ 0 and min ≤ max, got std = {std} ms, min = {min} ms, max = {max} ms")));
        }
        let (min_steps, max_steps) = ((min / dt_ms).round().max(1.0), (max / dt_ms).round());
        if max_steps > 65_535.0 {
            return Err(err(format!(
                "expected delays of at most 65535 steps, got max = {max} ms ({max_steps} steps; max defaults to mean + 10 std)"
            )));
        }
        let mass = crate::connectivity::generate::normal_mass(mean, std, min, max);
        if mass < 1e-3 {
            return Err(err(format!(
                "a normal delay redrawn into [{min}, {max}] ms falls there with probability {mass:.1e}: expected a range holding at least 10⁻³ of it"
            )));
        }
        let normal = crate::network::NormalDelay { mean: mean / dt_ms, std: std / dt_ms, lo: min / dt_ms, hi: max / dt_ms };
        Ok(DelaySpec { min_steps: min_steps as u32, max_steps: max_steps as u32, normal: Some(normal), spread: false })
    }

    fn synapse(&self, value: &Spanned<toml::Value>, field: &str) -> Result<SynapseModel> {
        let err = |m: &str| self.error(value.span(), field, m.to_string());
        let known = "expected \"delta\", { model = \"exp_current\" | \"alpha_current\", tau = ... } \
                     or { model = \"exp_conductance\" | \"alpha_conductance\", tau = ..., e_rev = ... }";
        match value.get_ref() {
            toml::Value::String(s) if s == "delta" => Ok(SynapseModel::Delta),
            toml::Value::Table(t) => {
                let model = t.get("model").and_then(|m| m.as_str()).unwrap_or("");
                let allowed: &[&str] = match model {
                    "delta" => &["model"],
                    "exp_current" | "alpha_current" => &["model", "tau"],
                    "exp_conductance" | "alpha_conductance" => &["model", "tau", "e_rev"],
                    _ => return Err(err(known)),
                };
                if let Some(k) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
                    return Err(err(&format!("unknown key '{k}' for {model} (expected: {})", allowed.join(", "))));
                }
                if model == "delta" {
                    return Ok(SynapseModel::Delta);
                }
                let tau = match t.get("tau") {
                    Some(toml::Value::Integer(x)) => Value::Number(*x as f64),
                    Some(toml::Value::Float(x)) => Value::Number(*x),
                    Some(toml::Value::String(s)) => Value::Text(s.clone()),
                    _ => return Err(err(&format!("{model} needs tau, a time"))),
                };
                let tau_ms = self.time(&Spanned::new(value.span(), tau), &format!("{field}.tau"))?;
                match model {
                    "exp_current" => return Ok(SynapseModel::ExpCurrent { tau_ms }),
                    "alpha_current" => return Ok(SynapseModel::AlphaCurrent { tau_ms }),
                    _ => {}
                }
                let e_rev = match t.get("e_rev") {
                    Some(toml::Value::Integer(x)) => *x as f64,
                    Some(toml::Value::Float(x)) if x.is_finite() => *x,
                    _ => return Err(err(&format!("{model} needs e_rev, the reversal potential (mV)"))),
                };
                Ok(if model == "alpha_conductance" {
                    SynapseModel::AlphaConductance { tau_ms, e_rev }
                } else {
                    SynapseModel::ExpConductance { tau_ms, e_rev }
                })
            }
            _ => Err(err(known)),
        }
    }
}

impl Validator<'_> {
    /// A projection naming the inhibitory current of `target` (as pyNN.volley names an
    /// inhibitory projection's): its weights must all be ≤ 0, as NEST routes them.
    fn negative_only(&self, synapse: &Spanned<toml::Value>, field: &str, target: &Population, weight: &WeightSpec) -> Result<()> {
        let (_, hi) = crate::connectivity::generate::weight_bounds(weight);
        if hi > 0.0 {
            return Err(self.error(
                synapse.span(),
                field,
                format!(
                    "population '{}' ({}) takes negative weights in this current (its tau_syn_in): expected weights ≤ 0, got weights up to {}",
                    target.name,
                    target.model.declaration().model,
                    (hi * 1e9).round() / 1e9
                ),
            ));
        }
        Ok(())
    }
}

/// The kind a projection's synapses take onto `target` where its model routes weights by
/// sign (`NeuronModel::inhibitory_kind`: iaf_psc_exp with tau_syn_in ≠ tau_syn_ex, as
/// NEST's): weights all below zero take that kind, weights none below zero the input
/// current (None). volley routes a projection's synapses together, so weights of both
/// signs are refused, with what to do.
pub(super) fn routed_by_sign(target: &Population, weight: &WeightSpec) -> std::result::Result<Option<SynapseModel>, String> {
    let Some(kind) = target.model.inhibitory_kind() else { return Ok(None) };
    let (lo, hi) = crate::connectivity::generate::weight_bounds(weight);
    if lo >= 0.0 {
        return Ok(None);
    }
    if hi <= 0.0 {
        return Ok(Some(kind));
    }
    let tau_ms = kind.tau_ms().expect("a current of its own");
    // An expression's bounds are searched on a grid, a few ulps off what was written.
    let (lo, hi) = ((lo * 1e9).round() / 1e9, (hi * 1e9).round() / 1e9);
    Err(format!(
        "ranges over [{lo}, {hi}]: population '{}' ({}) filters negative weights with tau_syn_in ({tau_ms} ms) and positive ones with tau_syn_ex, as NEST routes them by sign; \
         volley routes a projection's synapses together: expected weights of one sign (split the projection into its excitatory and inhibitory parts)",
        target.name,
        target.model.declaration().model
    ))
}

/// A conductance synapse's weights are conductances (nS), none below zero: NEST's
/// conductance models take a negative weight as a positive one onto their inhibitory
/// conductance, which volley names as a synapse of its own (its time constant and
/// reversal potential), so a negative weight is refused with that.
pub(super) fn nonnegative_conductance(synapse: SynapseModel, weight: &WeightSpec) -> std::result::Result<(), String> {
    if synapse.e_rev().is_none() {
        return Ok(());
    }
    let (lo, _) = crate::connectivity::generate::weight_bounds(weight);
    // A normal weight without a lower bound (PyNN's normal(0.5, 0.01)) is taken as its
    // author meant it: the bound refused is one the weights are given or drawn within.
    if lo >= 0.0 || lo == f64::NEG_INFINITY {
        return Ok(());
    }
    // An expression's bounds are searched on a grid, a few ulps off what was written.
    Err(format!(
        "weights down to {}: a conductance synapse ({}) takes conductances, expected weights ≥ 0 (nS) \
         (NEST turns a negative weight into a positive one onto its inhibitory conductance: give that conductance's synapse, its own e_rev, positive weights)",
        (lo * 1e9).round() / 1e9,
        crate::synapse::describe_kind(synapse)
    ))
}

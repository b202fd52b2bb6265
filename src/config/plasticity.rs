//! Validation of a projection's `plasticity = { rule = ..., <parameters> }`: the rule
//! by its name, each parameter by the rule's declaration (a number, or a time for
//! those in ms), and what a plastic projection cannot be (compact or procedural rows).

use super::schema::Value;
use super::Validator;
use crate::error::Result;
use crate::network::Storage;
use crate::plasticity::{PlasticityRule, RULES};
use std::ops::Range;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn plasticity(&self, value: &Spanned<toml::Value>, field: &str, storage: Storage, dt_ms: f64) -> Result<PlasticityRule> {
        let err = |span: Range<usize>, field: String, m: String| self.error(span, field, m);
        let toml::Value::Table(table) = value.get_ref() else {
            return Err(err(
                value.span(),
                field.to_string(),
                format!("expected a table {{ rule = \"...\", ... }} (rules: {})", RULES.join(", ")),
            ));
        };
        let rule = match table.get("rule") {
            Some(toml::Value::String(s)) => s.as_str(),
            _ => return Err(err(value.span(), format!("{field}.rule"), format!("expected one of {}", RULES.join(", ")))),
        };
        let Some(declaration) = PlasticityRule::declaration_of(rule) else {
            let span = self.key_span(value.span(), "rule");
            return Err(err(span, format!("{field}.rule"), format!("unknown rule '{rule}' (known: {})", RULES.join(", "))));
        };
        let names = declaration.parameter_names();
        if let Some(k) = table.keys().find(|k| k.as_str() != "rule" && !names.contains(&k.as_str())) {
            let span = self.key_span(value.span(), k);
            return Err(err(
                span,
                format!("{field}.{k}"),
                format!("unknown parameter of rule {rule} (its parameters: {})", names.join(", ")),
            ));
        }
        let mut values = Vec::with_capacity(names.len());
        for p in &declaration.parameters {
            let at = format!("{field}.{}", p.name);
            let span = self.key_span(value.span(), p.name);
            let x = match table.get(p.name) {
                None => p.default,
                Some(v) if p.unit == "ms" => {
                    let v = match v {
                        toml::Value::Integer(x) => Value::Number(*x as f64),
                        toml::Value::Float(x) => Value::Number(*x),
                        toml::Value::String(s) => Value::Text(s.clone()),
                        other => return Err(err(span, at, format!("expected a time (\"20 ms\" or a number of ms), got {other}"))),
                    };
                    self.time(&Spanned::new(span.clone(), v), &at)?
                }
                Some(toml::Value::Integer(x)) => *x as f64,
                Some(toml::Value::Float(x)) if x.is_finite() => *x,
                Some(other) => return Err(err(span, at, format!("expected a number, got {other}"))),
            };
            if let Some((min, strict, what)) = p.bound {
                if !(if strict { x > min } else { x >= min }) {
                    let op = if strict { ">" } else { "≥" };
                    return Err(err(span, at, format!("expected {what} {op} {min}, got {x}")));
                }
            }
            values.push(x);
        }
        let why = match storage {
            Storage::Exact => None,
            Storage::Compact => Some("compact rows hold 16-bit weight codes, which a rule's small steps would not move"),
            Storage::Procedural => Some("procedural rows are drawn again at every spike, so a weight changed by a rule would be lost"),
        };
        if let Some(why) = why {
            return Err(err(value.span(), field.to_string(), format!("a plastic projection is stored exact: {why}")));
        }
        let rule = PlasticityRule::new(rule, &values, dt_ms).expect("a declared rule");
        if let PlasticityRule::Stdp(s) = &rule {
            if s.w_max == 0.0 || !s.w_max.is_finite() {
                let span = self.key_span(value.span(), "Wmax");
                return Err(err(span, format!("{field}.Wmax"), format!("expected a finite weight other than 0, got {}", s.w_max)));
            }
        }
        Ok(rule)
    }
}

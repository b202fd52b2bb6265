//! Formatting for people, with no knowledge of networks: sizes in bytes, values that
//! are not finite f32, the time of day.

/// "71.7 MB": decimal units (as disks and `--max-memory` count), one decimal.
pub fn fmt_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut x = b as f64;
    let mut i = 0;
    while x >= 1000.0 && i + 1 < UNITS.len() {
        x /= 1000.0;
        i += 1;
    }
    format!("{x:.1} {}", UNITS[i])
}

/// A value as an error gives it: itself, "NaN", "inf", or a finite value beyond f32 with
/// that said.
pub fn describe_value(value: f64) -> String {
    if (value as f32).is_finite() {
        format!("{value}")
    } else if value.is_finite() {
        format!("{value:e}, beyond the range of f32 (±3.4e38)")
    } else {
        format!("{value}")
    }
}

/// The current time as ISO 8601 UTC ("2026-12-01T15:23:42Z").
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

/// `ms` as a whole number of steps of `dt_ms`, or None: within a relative 10⁻⁶, as
/// times written in decimal ("0.3 ms" at dt = 0.1 ms) fall on the grid only to rounding.
pub fn whole_steps(ms: f64, dt_ms: f64) -> Option<u64> {
    let steps = ms / dt_ms;
    let rounded = steps.round();
    (steps.is_finite() && rounded >= 0.0 && (steps - rounded).abs() <= 1e-6 * rounded.max(1.0)).then_some(rounded as u64)
}

/// NEST's tics per ms (its default resolution of time).
const TICS_PER_MS: f64 = 1000.0;

/// A refractory period of `t_ref_ms` in whole steps of `dt_ms`, as NEST counts it
/// (`Time(Time::ms(t_ref)).get_steps()`): rounded to whole tics of 0.001 ms, then up to
/// whole steps, in integers. At dt = 0.1 ms, 0.15 ms is 2 steps and 0.21 ms 3 (t_ref/dt
/// rounded to the nearest step gave 1 and 2: 0.15/0.1 is 1.4999999999999998).
pub fn refractory_steps(t_ref_ms: f64, dt_ms: f64) -> u64 {
    let tics = (t_ref_ms * TICS_PER_MS + 0.5).floor().max(0.0) as u64;
    let tics_per_step = ((dt_ms * TICS_PER_MS).round() as u64).max(1);
    tics.div_ceil(tics_per_step)
}

/// How fast simulated time went against the wall clock, `factor` simulated seconds per
/// second: "12.3x real time", "0.45x real time", or, below a tenth, "250x slower than
/// real time" (where "0.0x real time" said nothing).
pub fn real_time(factor: f64) -> String {
    if !(factor > 0.0 && factor.is_finite()) {
        return "real time not measured".to_string();
    }
    if factor >= 1.0 {
        return format!("{factor:.1}x real time");
    }
    if factor >= 0.1 {
        return format!("{factor:.2}x real time");
    }
    // Two significant digits of the slowdown.
    let slower = 1.0 / factor;
    let scale = 10f64.powi(slower.log10().floor() as i32 - 1).max(1.0);
    format!("{}x slower than real time", ((slower / scale).round() * scale) as u64)
}

/// A physical dimension a parameter's value may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dimension {
    Time,
    Voltage,
    Current,
    Conductance,
    Capacitance,
    Resistance,
    Rate,
}

impl Dimension {
    fn name(self) -> &'static str {
        match self {
            Dimension::Time => "a time",
            Dimension::Voltage => "a voltage",
            Dimension::Current => "a current",
            Dimension::Conductance => "a conductance",
            Dimension::Capacitance => "a capacitance",
            Dimension::Resistance => "a resistance",
            Dimension::Rate => "a rate",
        }
    }
}

/// The units a value may be written in: each with its dimension and its size as
/// 10^exponent × factor of the dimension's SI unit (factor 60 for minutes).
const UNITS: &[(&str, Dimension, i32, f64)] = &[
    ("s", Dimension::Time, 0, 1.0),
    ("ms", Dimension::Time, -3, 1.0),
    ("us", Dimension::Time, -6, 1.0),
    ("µs", Dimension::Time, -6, 1.0),
    ("min", Dimension::Time, 0, 60.0),
    ("V", Dimension::Voltage, 0, 1.0),
    ("mV", Dimension::Voltage, -3, 1.0),
    ("uV", Dimension::Voltage, -6, 1.0),
    ("µV", Dimension::Voltage, -6, 1.0),
    ("A", Dimension::Current, 0, 1.0),
    ("mA", Dimension::Current, -3, 1.0),
    ("uA", Dimension::Current, -6, 1.0),
    ("µA", Dimension::Current, -6, 1.0),
    ("nA", Dimension::Current, -9, 1.0),
    ("pA", Dimension::Current, -12, 1.0),
    ("S", Dimension::Conductance, 0, 1.0),
    ("mS", Dimension::Conductance, -3, 1.0),
    ("uS", Dimension::Conductance, -6, 1.0),
    ("µS", Dimension::Conductance, -6, 1.0),
    ("nS", Dimension::Conductance, -9, 1.0),
    ("pS", Dimension::Conductance, -12, 1.0),
    ("F", Dimension::Capacitance, 0, 1.0),
    ("uF", Dimension::Capacitance, -6, 1.0),
    ("µF", Dimension::Capacitance, -6, 1.0),
    ("nF", Dimension::Capacitance, -9, 1.0),
    ("pF", Dimension::Capacitance, -12, 1.0),
    ("Ohm", Dimension::Resistance, 0, 1.0),
    ("kOhm", Dimension::Resistance, 3, 1.0),
    ("MOhm", Dimension::Resistance, 6, 1.0),
    ("GOhm", Dimension::Resistance, 9, 1.0),
    ("Hz", Dimension::Rate, 0, 1.0),
    ("kHz", Dimension::Rate, 3, 1.0),
    // Declared units only: a value is written in Hz or kHz (`split_unit` takes letters).
    ("1/s", Dimension::Rate, 0, 1.0),
    ("1/ms", Dimension::Rate, 3, 1.0),
];

fn unit(name: &str) -> Option<(Dimension, i32, f64)> {
    UNITS.iter().find(|u| u.0 == name).map(|&(_, d, e, f)| (d, e, f))
}

/// A value written with its unit (`"10 ms"`, `"0.25nF"`) in the unit `to` a model
/// declares, as Brian2 and NEST users write them: None where `text` is not a number
/// followed by a unit (an expression, read as before, in the declared unit). Refused: a
/// unit of another dimension, any unit on a value the model declares without one, or on
/// one whose declared unit is a compound this table lacks (`mV/pA`).
pub fn in_declared_unit(text: &str, to: &str) -> Option<Result<f64, String>> {
    let t = text.trim();
    let (number, written) = split_unit(t);
    let value: f64 = number.parse().ok()?;
    let from = unit(written)?;
    let expected = |what: &str| format!("expected {what}, got {:?}", t);
    if to.is_empty() {
        return Some(Err(expected("a plain number (this value has no unit)")));
    }
    let Some(target) = unit(to) else {
        return Some(Err(expected(&format!("a plain number in {to} (units are not converted to {to})"))));
    };
    Some(scale(value, from, target).ok_or_else(|| expected(&format!("{} in {to} (e.g. \"{number} {to}\")", target.0.name()))))
}

/// `value` in unit `from` (a name of the table) as a number of `to`, where both are
/// known and of one dimension (`parse_time`'s times, for instance).
pub fn convert(value: f64, from: &str, to: &str) -> Option<f64> {
    scale(value, unit(from)?, unit(to)?)
}

fn scale(
    value: f64,
    (from_dim, from_exp, from_factor): (Dimension, i32, f64),
    (to_dim, to_exp, to_factor): (Dimension, i32, f64),
) -> Option<f64> {
    if from_dim != to_dim {
        return None;
    }
    // Powers of ten as exact multiplications or correctly rounded divisions.
    let shift = from_exp - to_exp;
    let scaled = if shift >= 0 { value * 10f64.powi(shift) } else { value / 10f64.powi(-shift) };
    Some(scaled * from_factor / to_factor)
}

/// Splits "1e-3 s" into the number ("1e-3") and its unit ("s"): the unit is the run of
/// letters at the end, so that an exponent's `e` stays with the number.
pub fn split_unit(text: &str) -> (&str, &str) {
    let t = text.trim();
    let unit_start = t.char_indices().rev().take_while(|(_, c)| c.is_alphabetic()).last().map_or(t.len(), |(i, _)| i);
    (t[..unit_start].trim(), &t[unit_start..])
}

#[cfg(test)]
mod tests {
    use super::real_time;

    /// NEST's refractory steps: whole tics, then up to whole steps.
    #[test]
    fn refractory_periods_are_counted_in_steps_as_nest_counts_them() {
        use super::refractory_steps;
        let cases =
            [(2.0, 0.1, 20), (0.15, 0.1, 2), (0.21, 0.1, 3), (0.25, 0.1, 3), (0.3, 0.1, 3), (0.0, 0.1, 0), (2.0, 1.0, 2), (0.5, 0.1, 5)];
        for (t_ref, dt, steps) in cases {
            assert_eq!(refractory_steps(t_ref, dt), steps, "t_ref = {t_ref} ms at dt = {dt} ms");
        }
        // Less than half a tic over a whole step: still that step.
        assert_eq!(refractory_steps(0.3000004, 0.1), 3);
    }

    #[test]
    fn whole_steps_within_rounding() {
        assert_eq!(super::whole_steps(0.3, 0.1), Some(3));
        assert_eq!(super::whole_steps(0.25, 0.1), None);
        assert_eq!(super::whole_steps(-1.0, 0.1), None);
        assert_eq!(super::whole_steps(f64::INFINITY, 0.1), None);
        assert_eq!(super::whole_steps(0.0, 0.1), Some(0));
    }

    #[test]
    fn sizes_in_decimal_units() {
        assert_eq!(super::fmt_bytes(999), "999.0 B");
        assert_eq!(super::fmt_bytes(70_000 * 1024), "71.7 MB");
    }

    #[test]
    fn real_time_factors_read_at_every_speed() {
        assert_eq!(real_time(12.345), "12.3x real time");
        assert_eq!(real_time(1.0), "1.0x real time");
        assert_eq!(real_time(0.456), "0.46x real time");
        assert_eq!(real_time(0.1), "0.10x real time");
        assert_eq!(real_time(0.04), "25x slower than real time");
        assert_eq!(real_time(1.0 / 253.0), "250x slower than real time");
        assert_eq!(real_time(1.0 / 12345.0), "12000x slower than real time");
        assert_eq!(real_time(0.0), "real time not measured");
    }

    #[test]
    fn values_with_units_are_converted_to_the_declared_unit() {
        use super::in_declared_unit as conv;
        assert_eq!(conv("10 ms", "ms"), Some(Ok(10.0)));
        assert_eq!(conv("0.01 s", "ms"), Some(Ok(10.0)));
        assert_eq!(conv("0.25nF", "pF"), Some(Ok(250.0)));
        assert_eq!(conv("140 nS", "nS"), Some(Ok(140.0)));
        assert_eq!(conv("-65 mV", "mV"), Some(Ok(-65.0)));
        assert_eq!(conv("0.02 kHz", "1/ms"), Some(Ok(0.02)));
        assert_eq!(conv("1 min", "ms"), Some(Ok(60_000.0)));
        assert_eq!(conv("10", "ms"), None, "a plain number keeps its meaning");
        assert_eq!(conv("-65 + 15*r^2", "mV"), None, "an expression keeps its meaning");
        assert_eq!(conv("10 mV", "ms"), Some(Err("expected a time in ms (e.g. \"10 ms\"), got \"10 mV\"".to_string())));
        assert_eq!(conv("2 ms", ""), Some(Err("expected a plain number (this value has no unit), got \"2 ms\"".to_string())));
        assert_eq!(
            conv("2 mV", "mV/pA"),
            Some(Err("expected a plain number in mV/pA (units are not converted to mV/pA), got \"2 mV\"".to_string()))
        );
    }
}

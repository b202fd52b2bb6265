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

/// "NaN", "inf", or a finite value beyond f32 with that said.
pub fn describe_value(value: f64) -> String {
    if value.is_finite() {
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

#[cfg(test)]
mod tests {
    use super::real_time;

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
}

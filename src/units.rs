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

#[cfg(test)]
mod tests {
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
}

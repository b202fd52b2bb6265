//! Formatting of quantities for people: sizes in bytes.

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

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_in_decimal_units() {
        assert_eq!(super::fmt_bytes(999), "999.0 B");
        assert_eq!(super::fmt_bytes(70_000 * 1024), "71.7 MB");
    }
}

//! Calendar arithmetic and the ISO-8601 text `java.time` prints, for the
//! temporal conversions (proleptic Gregorian calendar, as `java.time`).

pub(crate) const MICROS_PER_SECOND: i64 = 1_000_000;
pub(crate) const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub(crate) use logtap_core::human::civil_from_days;

pub(crate) fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Whether `LocalDate.of(y, m, d)` accepts the date.
pub(crate) fn valid_date(y: i64, m: u32, d: u32) -> bool {
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Debezium's `enable.time.adjuster` (`BinlogValueConverters.adjustTemporal`):
/// two-digit years 00-69 are 2000-2069, 70-99 are 1970-1999.
pub(crate) fn adjust_year(y: i64) -> i64 {
    match y {
        0..=69 => y + 2000,
        70..=99 => y + 1900,
        _ => y,
    }
}

/// `ISO_LOCAL_DATE`: four-digit year (a sign beyond 9999), month, day.
pub(crate) fn format_date(out: &mut String, y: i64, m: u32, d: u32) {
    if y > 9999 {
        out.push('+');
    } else if y < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:04}-{m:02}-{d:02}", y.unsigned_abs()));
}

/// `ISO_LOCAL_TIME` with `fixed` fraction digits, or as few as needed (none
/// for a whole second) when `fixed` is `None`.
pub(crate) fn format_time(
    out: &mut String,
    h: u32,
    mi: u32,
    s: u32,
    nanos: u32,
    fixed: Option<u32>,
) {
    out.push_str(&format!("{h:02}:{mi:02}:{s:02}"));
    format_fraction(out, nanos, fixed);
}

/// `.fraction` of a nano-of-second: `appendFraction(NANO_OF_SECOND, w, w,
/// true)` for a fixed width (truncating), `(0, 9, true)` otherwise.
pub(crate) fn format_fraction(out: &mut String, nanos: u32, fixed: Option<u32>) {
    let digits = format!("{nanos:09}");
    match fixed {
        Some(w) if w > 0 => {
            out.push('.');
            out.push_str(&digits[..w.min(9) as usize]);
        }
        _ => {
            let trimmed = digits.trim_end_matches('0');
            if !trimmed.is_empty() {
                out.push('.');
                out.push_str(trimmed);
            }
        }
    }
}

/// `yyyy-MM-ddTHH:mm:ss[.f]Z` of epoch microseconds (UTC).
pub(crate) fn iso_instant(epoch_micros: i64, fixed: Option<u32>) -> String {
    let days = epoch_micros.div_euclid(MICROS_PER_DAY);
    let of_day = epoch_micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = of_day / MICROS_PER_SECOND;
    let micros = of_day % MICROS_PER_SECOND;
    let mut out = String::with_capacity(32);
    format_date(&mut out, y, m, d);
    out.push('T');
    format_time(
        &mut out,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
        (micros * 1000) as u32,
        fixed,
    );
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for &(y, m, d, days) in &[
            (1970, 1, 1, 0),
            (2018, 6, 20, 17702),
            (1969, 12, 31, -1),
            (1000, 1, 1, -354285),
            (9999, 12, 31, 2932896),
            (2000, 2, 29, 11016),
        ] {
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
            assert_eq!(civil_from_days(days), (y, m, d));
        }
        assert!(valid_date(2000, 2, 29));
        assert!(!valid_date(1900, 2, 29));
        assert!(!valid_date(2020, 4, 31));
        assert!(!valid_date(2020, 13, 1));
    }

    #[test]
    fn iso_text() {
        assert_eq!(iso_instant(1_529_501_823_000_000, None), "2018-06-20T13:37:03Z");
        assert_eq!(iso_instant(1_529_501_823_120_000, None), "2018-06-20T13:37:03.12Z");
        assert_eq!(iso_instant(1_529_501_823_120_000, Some(3)), "2018-06-20T13:37:03.120Z");
        assert_eq!(iso_instant(1_529_501_823_000_001, Some(6)), "2018-06-20T13:37:03.000001Z");
        assert_eq!(iso_instant(-1, None), "1969-12-31T23:59:59.999999Z");
        let mut s = String::new();
        format_date(&mut s, 50, 1, 2);
        assert_eq!(s, "0050-01-02");
    }
}

//! Figures as a person reads them, for `logtap status` and messages:
//! UTC times in ISO 8601, how long ago, sizes in binary units. Pure: the
//! caller passes "now".

/// The civil date (year, month, day) of a day number counted from
/// 1970-01-01 (Howard Hinnant's `civil_from_days`); the one both sources'
/// date conversions use.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `ms` since the epoch as `2026-12-07T05:11:24Z`.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// How long before `now_ms` the time `ms` was: `12 s ago`, `4 min ago`,
/// `3 h ago`, `2 days ago` (`in the future` for a clock behind).
pub fn ago(ms: i64, now_ms: i64) -> String {
    let s = (now_ms - ms) / 1000;
    match s {
        s if s < 0 => "in the future (clocks differ)".to_string(),
        s if s < 120 => format!("{s} s ago"),
        s if s < 7200 => format!("{} min ago", s / 60),
        s if s < 172_800 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

/// A byte count in binary units: `512 bytes`, `27.7 MiB`, `3.2 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes_read_as_a_person_reads_them() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_796_613_091_058), "2026-12-07T03:11:31Z");
        assert_eq!(utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(ago(0, 12_000), "12 s ago");
        assert_eq!(ago(0, 27 * 60_000), "27 min ago");
        assert_eq!(ago(0, 5 * 3_600_000), "5 h ago");
        assert_eq!(ago(0, 3 * 86_400_000), "3 days ago");
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(27_698_288), "26.4 MiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
    }
}

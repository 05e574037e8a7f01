//! `interval` values. Debezium reads the text with pgjdbc's `PGInterval`
//! (years, months, days, hours, minutes as `int`, seconds as a `double`
//! rounded to microseconds) and then either sums everything into
//! microseconds with average month lengths (`MicroDuration`, 365.25/12 days
//! a month) or prints an ISO-8601 period (`Interval`). Both are reproduced
//! here operation for operation, in `f64`, so the results match to the bit.
//!
//! Only PostgreSQL's default `IntervalStyle = postgres` output
//! (`1 year 2 mons 3 days 04:05:06.789`, `-1 days +00:00:00.5`) is read, plus
//! `postgres_verbose` (`@ 1 year 2 mons ago`), as pgjdbc does.

/// The fields of a `PGInterval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PgInterval {
    pub years: i32,
    pub months: i32,
    pub days: i32,
    pub hours: i32,
    pub minutes: i32,
    pub whole_seconds: i32,
    pub micro_seconds: i32,
}

impl PgInterval {
    /// `PGInterval.setValue(String)` for the postgres styles.
    pub fn parse(text: &str) -> Result<PgInterval, String> {
        if text.starts_with('P') {
            return Self::parse_iso_8601(text);
        }
        let verbose = text.starts_with('@');
        let lowered = text.replace(['+', '@'], " ").to_lowercase();
        let mut years = 0;
        let mut months = 0;
        let mut days = 0;
        let mut hours = 0;
        let mut minutes = 0;
        let mut seconds = 0.0_f64;
        let mut value: Option<&str> = None;
        let mut seen_any = false;
        for (i, token) in lowered.split_whitespace().enumerate() {
            seen_any = true;
            if i % 2 == 0 {
                if verbose && token == "ago" {
                    continue;
                }
                let Some(end_hours) = token.find(':') else {
                    value = Some(token);
                    continue;
                };
                let negative = token.starts_with('-');
                let start = usize::from(negative);
                let field = |r: std::ops::Range<usize>| {
                    token.get(r).map(Some).ok_or_else(|| format!("bad time {token:?}"))
                };
                hours = parse_int(field(start..end_hours)?)?;
                minutes = parse_int(field(end_hours + 1..end_hours + 3)?)?;
                if let Some(end_minutes) = token[end_hours + 1..].find(':') {
                    seconds = parse_double(&token[end_hours + 1 + end_minutes + 1..])?;
                }
                if negative {
                    hours = -hours;
                    minutes = -minutes;
                    seconds = -seconds;
                }
                value = None;
            } else if token.starts_with("year") {
                years = parse_int(value.take())?;
            } else if token.starts_with("mon") {
                months = parse_int(value.take())?;
            } else if token.starts_with("day") {
                days = parse_int(value.take())?;
            } else if token.starts_with("hour") {
                hours = parse_int(value.take())?;
            } else if token.starts_with("min") {
                minutes = parse_int(value.take())?;
            } else if token.starts_with("sec") {
                seconds = value.take().map(parse_double).transpose()?.unwrap_or(0.0);
            } else if token == "ago" && verbose {
            } else {
                return Err(format!("unknown interval unit {token:?}"));
            }
        }
        if !seen_any {
            return Err("empty interval".into());
        }
        // A number without a unit: not an output PostgreSQL produces in the
        // postgres styles (except verbose "@ 0"); sql_standard is one.
        if value.is_some_and(|v| !(verbose && v == "0")) {
            return Err("a number without a unit (is IntervalStyle sql_standard?)".into());
        }
        if verbose && lowered.trim_end().ends_with("ago") {
            years = -years;
            months = -months;
            days = -days;
            hours = -hours;
            minutes = -minutes;
            seconds = -seconds;
        }
        let mut iv = PgInterval { years, months, days, hours, minutes, ..Default::default() };
        iv.set_seconds(seconds)?;
        Ok(iv)
    }

    /// `IntervalStyle = iso_8601` output (`P1Y2M3DT4H5M6.78S`,
    /// `P-1Y-2M3DT-4H-5M-6S`, `PT0S`), as pgjdbc's ISO branch reads it.
    fn parse_iso_8601(text: &str) -> Result<PgInterval, String> {
        let body = &text[1..];
        let (date, time) = match body.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (body, None),
        };
        let mut iv = PgInterval::default();
        let mut seconds = 0.0;
        for (part, is_time) in [(date, false), (time.unwrap_or(""), true)] {
            let mut rest = part;
            while !rest.is_empty() {
                let end = rest
                    .find(|c: char| c.is_ascii_alphabetic())
                    .ok_or_else(|| format!("number without a unit in {text:?}"))?;
                let (number, unit) = (&rest[..end], &rest[end..=end]);
                rest = &rest[end + 1..];
                match (is_time, unit) {
                    (false, "Y") => iv.years = parse_int(Some(number))?,
                    (false, "M") => iv.months = parse_int(Some(number))?,
                    (false, "W") => iv.days = parse_int(Some(number))?.saturating_mul(7),
                    (false, "D") => iv.days = parse_int(Some(number))?,
                    (true, "H") => iv.hours = parse_int(Some(number))?,
                    (true, "M") => iv.minutes = parse_int(Some(number))?,
                    (true, "S") => seconds = parse_double(number)?,
                    _ => return Err(format!("unknown unit {unit:?}")),
                }
            }
        }
        if body.is_empty() || time == Some("") {
            return Err("empty ISO-8601 interval".into());
        }
        iv.set_seconds(seconds)?;
        Ok(iv)
    }

    /// `PGInterval.setSeconds(double)`: rounded to microseconds with
    /// `Math.round`, split into whole seconds and microseconds.
    fn set_seconds(&mut self, seconds: f64) -> Result<(), String> {
        if seconds.is_nan() {
            return Err("seconds are NaN".into());
        }
        let total_micros = java_math_round(seconds * 1_000_000.0);
        let whole = total_micros / 1_000_000;
        self.whole_seconds =
            i32::try_from(whole).map_err(|_| "seconds out of range".to_string())?;
        self.micro_seconds = (total_micros % 1_000_000) as i32;
        Ok(())
    }

    /// `PGInterval.getSeconds()`.
    pub fn seconds(&self) -> f64 {
        f64::from(self.whole_seconds) + f64::from(self.micro_seconds) / 1_000_000.0
    }

    /// `MicroDuration.durationMicros(..., DAYS_PER_MONTH_AVG)`.
    pub fn micro_duration(&self) -> i64 {
        let days_per_month_avg = 365.25 / 12.0_f64;
        let months = self.years.wrapping_mul(12).wrapping_add(self.months);
        let number_of_days = f64::from(months) * days_per_month_avg + f64::from(self.days);
        let number_of_seconds = ((number_of_days * 24.0 + f64::from(self.hours)) * 60.0
            + f64::from(self.minutes))
            * 60.0
            + self.seconds();
        // Java's (long) cast: truncation, saturating, NaN to 0; as Rust's `as`.
        (number_of_seconds * 1e6 + 0.0) as i64
    }

    /// `Interval.toIsoString(years, months, days, hours, minutes,
    /// BigDecimal.valueOf(seconds))`: `PnYnMnDTnHnMnS`, the seconds as the
    /// plain string of the shortest decimal of the double, trailing zeros
    /// stripped, at most 9 decimals.
    pub fn iso_string(&self) -> String {
        format!(
            "P{}Y{}M{}DT{}H{}M{}S",
            self.years,
            self.months,
            self.days,
            self.hours,
            self.minutes,
            plain_seconds(self.seconds())
        )
    }
}

/// Java's `Math.round(double)`: the closest `long`, ties toward positive
/// infinity, saturating.
fn java_math_round(x: f64) -> i64 {
    let floor = x.floor();
    let r = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    r as i64
}

fn parse_int(s: Option<&str>) -> Result<i32, String> {
    match s {
        None => Ok(0),
        Some(s) => {
            let t = s.strip_prefix('+').unwrap_or(s);
            if t.is_empty() || !t.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{s:?} is not an integer"));
            }
            t.parse::<i32>().map_err(|_| format!("{s:?} is out of the int range"))
        }
    }
}

fn parse_double(s: &str) -> Result<f64, String> {
    let ok = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'e' | b'E'));
    if !ok {
        return Err(format!("{s:?} is not a number"));
    }
    s.parse::<f64>().map_err(|_| format!("{s:?} is not a number"))
}

/// `BigDecimal.valueOf(d).stripTrailingZeros().toPlainString()` with the
/// scale capped at 9 (rounding down).
fn plain_seconds(d: f64) -> String {
    // Rust prints the shortest decimal that reads back as `d`, without an
    // exponent, as Java's Double.toString picks the shortest digits.
    let mut s = format!("{d}");
    if let Some(point) = s.find('.') {
        if s.len() - point - 1 > 9 {
            s.truncate(point + 10);
        }
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn iv(s: &str) -> PgInterval {
        PgInterval::parse(s).unwrap()
    }

    #[test]
    fn parses_postgres_style() {
        let v = iv("1 year 2 mons 3 days 04:05:06.789");
        assert_eq!(
            v,
            PgInterval {
                years: 1,
                months: 2,
                days: 3,
                hours: 4,
                minutes: 5,
                whole_seconds: 6,
                micro_seconds: 789_000
            }
        );
        let v = iv("-1 years -2 mons +3 days -04:05:06");
        assert_eq!(
            (v.years, v.months, v.days, v.hours, v.minutes, v.whole_seconds),
            (-1, -2, 3, -4, -5, -6)
        );
        let v = iv("-1 days +00:00:00.5");
        assert_eq!((v.days, v.whole_seconds, v.micro_seconds), (-1, 0, 500_000));
        let v = iv("-00:00:00.000001");
        assert_eq!((v.whole_seconds, v.micro_seconds), (0, -1));
        assert_eq!(iv("00:00:00"), PgInterval::default());
        assert_eq!(iv("27:00:00").hours, 27);
        assert_eq!(iv("@ 1 year 2 mons ago").years, -1);
        assert_eq!(iv("@ 0"), PgInterval::default());
        // IntervalStyle = iso_8601.
        assert_eq!(iv("P1Y2M3DT4H5M6.78S"), iv("1 year 2 mons 3 days 04:05:06.78"));
        assert_eq!(iv("P-1Y-2M3DT-4H-5M-6S"), iv("-1 years -2 mons +3 days -04:05:06"));
        assert_eq!(iv("PT0S"), PgInterval::default());
        assert_eq!(iv("PT-0.5S").micro_seconds, -500_000);
        for bad in [
            "",
            "1 fortnight",
            "x days",
            "1 day 0a:00:00",
            "99999999999 days",
            "1-2",
            "1 2:03:04",
            "P",
            "P1",
            "P1X",
            "PT",
            "P1YT1Y",
        ] {
            assert!(PgInterval::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn micro_duration_matches_debezium() {
        // Debezium's own expectation for 'P1Y2M3DT4H5M6.78S':
        // MicroDuration.durationMicros(1, 2, 3, 4, 5, 6, 780000, DAYS_PER_MONTH_AVG)
        // = 37_091_106_780_000 (computed with the JDK).
        assert_eq!(iv("1 year 2 mons 3 days 04:05:06.78").micro_duration(), 37_091_106_780_000);
        assert_eq!(iv("1 mon").micro_duration(), 2_629_800_000_000);
        assert_eq!(iv("1 day").micro_duration(), 86_400_000_000);
        assert_eq!(iv("-1 days +00:00:00.5").micro_duration(), -86_399_500_000);
        assert_eq!(iv("00:00:00").micro_duration(), 0);
        // The rest computed with the same Java code on JDK 17.
        assert_eq!(iv("1 year 2 mons 3 days 04:05:06.789").micro_duration(), 37_091_106_789_000);
        assert_eq!(iv("-1 years -2 mons +3 days -04:05:06").micro_duration(), -36_572_706_000_000);
        assert_eq!(iv("178000000 years").micro_duration(), i64::MAX);
        assert_eq!(iv("00:00:00.000001").micro_duration(), 1);
    }

    #[test]
    fn iso_strings() {
        assert_eq!(iv("1 year 2 mons 3 days 04:05:06.78").iso_string(), "P1Y2M3DT4H5M6.78S");
        assert_eq!(iv("00:00:00").iso_string(), "P0Y0M0DT0H0M0S");
        assert_eq!(iv("-1 years -2 mons +3 days -04:05:06").iso_string(), "P-1Y-2M3DT-4H-5M-6S");
        assert_eq!(iv("-00:00:00.000001").iso_string(), "P0Y0M0DT0H0M-0.000001S");
        assert_eq!(iv("00:00:10").iso_string(), "P0Y0M0DT0H0M10S");
        assert_eq!(iv("00:00:00.5").iso_string(), "P0Y0M0DT0H0M0.5S");
    }

    #[test]
    fn rounding_is_javas() {
        assert_eq!(java_math_round(2.5), 3);
        assert_eq!(java_math_round(-2.5), -2);
        assert_eq!(java_math_round(-2.6), -3);
        assert_eq!(java_math_round(f64::INFINITY), i64::MAX);
    }
}

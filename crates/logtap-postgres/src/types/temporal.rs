//! Dates and times: parsing PostgreSQL's ISO output (`DateStyle = ISO`, the
//! default, which is what the walsender uses) and printing the strings Java's
//! `java.time` formatters print for Debezium.
//!
//! Calendar arithmetic is the proleptic Gregorian calendar with astronomical
//! year numbering (1 BC is year 0), which is what both PostgreSQL and
//! `java.time` use, so BC dates convert without surprises.

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Debezium's epoch day for `date 'infinity'`: `LocalDate -5877611-06-21`,
/// which is PostgreSQL's `DATEVAL_NOEND` wrapped into an `int`.
pub const DATE_POSITIVE_INFINITY_DAYS: i32 = -2_147_472_692;
/// Debezium's epoch day for `date '-infinity'` (`LocalDate -5877611-06-22`).
pub const DATE_NEGATIVE_INFINITY_DAYS: i32 = -2_147_472_691;
/// Debezium's epoch microseconds for `timestamp 'infinity'`
/// (pgjdbc's `PGStatement.DATE_POSITIVE_INFINITY`, read as microseconds).
pub const TIMESTAMP_POSITIVE_INFINITY_MICROS: i64 = 9_223_372_036_825_200_000;
/// Debezium's epoch microseconds for `timestamp '-infinity'`.
pub const TIMESTAMP_NEGATIVE_INFINITY_MICROS: i64 = -9_223_372_036_832_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (astronomical year).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
pub use logtap_core::human::civil_from_days;

fn is_leap(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// A `date`, `timestamp` or `timestamptz` value: finite or one of the
/// infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporal<T> {
    Finite(T),
    PosInf,
    NegInf,
}

/// A small cursor over ASCII text.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s: s.as_bytes(), pos: 0 }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected {:?} at offset {}", char::from(c), self.pos))
        }
    }
    /// Between `min` and `max` ASCII digits, as a number.
    fn digits(&mut self, min: usize, max: usize) -> Result<i64, String> {
        let start = self.pos;
        while self.pos - start < max && self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let n = self.pos - start;
        if n < min {
            return Err(format!("expected {min} digits at offset {start}"));
        }
        let mut v: i64 = 0;
        for &c in &self.s[start..self.pos] {
            v = v * 10 + i64::from(c - b'0');
        }
        Ok(v)
    }
    fn at_end(&self) -> bool {
        self.pos == self.s.len()
    }
    fn rest(&self) -> &'a [u8] {
        &self.s[self.pos..]
    }
}

/// `yyyy-MM-dd` with a year of 4 to 10 digits (the year of era).
fn parse_ymd(c: &mut Cursor<'_>) -> Result<(i64, u32, u32), String> {
    let year = c.digits(4, 10)?;
    c.expect(b'-')?;
    let month = c.digits(2, 2)? as u32;
    c.expect(b'-')?;
    let day = c.digits(2, 2)? as u32;
    Ok((year, month, day))
}

/// The optional ` BC`/` AD` suffix; turns a year of era into an
/// astronomical year and validates the date.
fn finish_date(c: &mut Cursor<'_>, (year, month, day): (i64, u32, u32)) -> Result<i64, String> {
    let bc = match c.rest() {
        b" BC" => true,
        b" AD" => false,
        b"" => false,
        _ => return Err(format!("unexpected text at offset {}", c.pos)),
    };
    c.pos = c.s.len();
    if year == 0 {
        return Err("year 0 does not exist".into());
    }
    let year = if bc { 1 - year } else { year };
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err("no such date".into());
    }
    Ok(days_from_civil(year, month, day))
}

/// `date` text (`2024-01-02`, `0044-03-15 BC`, `infinity`) as epoch days.
pub fn parse_date(s: &str) -> Result<Temporal<i64>, String> {
    match s {
        "infinity" => return Ok(Temporal::PosInf),
        "-infinity" => return Ok(Temporal::NegInf),
        _ => {}
    }
    let mut c = Cursor::new(s);
    let ymd = parse_ymd(&mut c)?;
    finish_date(&mut c, ymd).map(Temporal::Finite)
}

/// `HH:mm[:ss[.fffffffff]]` (Java's `ISO_LOCAL_TIME`) as nanoseconds of day.
fn parse_iso_local_time(c: &mut Cursor<'_>) -> Result<i64, String> {
    let h = c.digits(2, 2)?;
    c.expect(b':')?;
    let m = c.digits(2, 2)?;
    let mut s = 0;
    let mut nanos = 0;
    if c.eat(b':') {
        s = c.digits(2, 2)?;
        if c.eat(b'.') {
            nanos = parse_fraction_nanos(c, 9)?;
        }
    }
    if h > 23 || m > 59 || s > 59 {
        return Err("time of day out of range".into());
    }
    Ok(((h * 60 + m) * 60 + s) * 1_000_000_000 + nanos)
}

/// Up to `max` fraction digits after a point, as nanoseconds.
fn parse_fraction_nanos(c: &mut Cursor<'_>, max: usize) -> Result<i64, String> {
    let start = c.pos;
    let v = c.digits(1, max)?;
    let n = c.pos - start;
    Ok(v * 10_i64.pow((9 - n) as u32))
}

/// `+HH`, `+HH:MM` or `+HH:MM:SS` as seconds east of UTC.
fn parse_offset(c: &mut Cursor<'_>) -> Result<i64, String> {
    let sign = match c.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(format!("expected a UTC offset at offset {}", c.pos)),
    };
    c.pos += 1;
    let h = c.digits(2, 2)?;
    let mut m = 0;
    let mut s = 0;
    if c.eat(b':') {
        m = c.digits(2, 2)?;
        if c.eat(b':') {
            s = c.digits(2, 2)?;
        }
    }
    if h > 18 || m > 59 || s > 59 {
        return Err("UTC offset out of range".into());
    }
    Ok(sign * (h * 3600 + m * 60 + s))
}

/// Epoch microseconds, wide: PostgreSQL's last timestamps (294276 AD) do
/// not fit an `i64` of microseconds since 1970, though they fit millis.
fn epoch_micros(days: i64, nanos_of_day: i64) -> i128 {
    i128::from(days) * i128::from(MICROS_PER_DAY) + i128::from(nanos_of_day / 1000)
}

/// `timestamp` text (`2024-01-02 03:04:05.123456`, `... BC`, `infinity`) as
/// microseconds since the epoch, the time read as UTC.
pub fn parse_timestamp(s: &str) -> Result<Temporal<i128>, String> {
    match s {
        "infinity" => return Ok(Temporal::PosInf),
        "-infinity" => return Ok(Temporal::NegInf),
        _ => {}
    }
    let mut c = Cursor::new(s);
    let ymd = parse_ymd(&mut c)?;
    c.expect(b' ')?;
    let nanos = parse_iso_local_time(&mut c)?;
    let days = finish_date(&mut c, ymd)?;
    Ok(Temporal::Finite(epoch_micros(days, nanos)))
}

/// `timestamptz` text (`2024-01-02 03:04:05.123456+05:30`, `... BC`,
/// `infinity`) as UTC microseconds since the epoch.
pub fn parse_timestamptz(s: &str) -> Result<Temporal<i128>, String> {
    match s {
        "infinity" => return Ok(Temporal::PosInf),
        "-infinity" => return Ok(Temporal::NegInf),
        _ => {}
    }
    let mut c = Cursor::new(s);
    let ymd = parse_ymd(&mut c)?;
    c.expect(b' ')?;
    let nanos = parse_iso_local_time(&mut c)?;
    let offset = if matches!(c.peek(), Some(b'+' | b'-')) { parse_offset(&mut c)? } else { 0 };
    let days = finish_date(&mut c, ymd)?;
    Ok(Temporal::Finite(epoch_micros(days, nanos) - i128::from(offset * MICROS_PER_SECOND)))
}

/// `time` text the way Debezium's `Strings.asDuration` reads it
/// (`H:M:S[.F]`, any number of digits, so `24:00:00` is one day), as
/// nanoseconds.
pub fn parse_time_nanos(s: &str) -> Result<i64, String> {
    let mut parts = s.splitn(3, ':');
    let (Some(h), Some(m), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected H:M:S".into());
    };
    let (sec, frac) = match rest.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (rest, None),
    };
    let num = |t: &str| -> Result<i64, String> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err("expected digits".into());
        }
        t.parse::<i64>().map_err(|_| "number out of range".into())
    };
    let (h, m, sec) = (num(h)?, num(m)?, num(sec)?);
    let nanos = match frac {
        None => 0,
        Some(f) => {
            let f = if f.len() > 9 { &f[..9] } else { f };
            let v = if f.is_empty() { 0 } else { num(f)? };
            v * 10_i64.pow(9 - f.len() as u32)
        }
    };
    h.checked_mul(3600)
        .and_then(|v| v.checked_add(m.checked_mul(60)?))
        .and_then(|v| v.checked_add(sec))
        .and_then(|v| v.checked_mul(1_000_000_000))
        .and_then(|v| v.checked_add(nanos))
        .ok_or_else(|| "time out of range".into())
}

/// `timetz` text (`13:51:30.123789+02`) converted to UTC, formatted as
/// Debezium's `ZonedTime` (`11:51:30.123789Z`). `24:00:00` at offset zero
/// stays `24:00:00Z`, as in Debezium; other values wrap around midnight as
/// `OffsetTime.withOffsetSameInstant` does.
pub fn timetz_to_zoned_time(s: &str) -> Result<String, String> {
    let mut c = Cursor::new(s);
    let h = c.digits(2, 2)?;
    c.expect(b':')?;
    let m = c.digits(2, 2)?;
    c.expect(b':')?;
    let sec = c.digits(2, 2)?;
    let nanos = if c.eat(b'.') { parse_fraction_nanos(&mut c, 6)? } else { 0 };
    let offset = if c.eat(b'Z') { 0 } else { parse_offset(&mut c)? };
    if !c.at_end() {
        return Err(format!("unexpected text at offset {}", c.pos));
    }
    if h > 24 || m > 59 || sec > 59 || (h == 24 && (m, sec, nanos) != (0, 0, 0)) {
        return Err("time of day out of range".into());
    }
    if h == 24 && offset == 0 {
        return Ok("24:00:00Z".into());
    }
    let day_nanos = MICROS_PER_DAY * 1000;
    let local = ((h * 60 + m) * 60 + sec) * 1_000_000_000 + nanos;
    let utc = (local - offset * 1_000_000_000).rem_euclid(day_nanos);
    let mut out = String::with_capacity(20);
    push_time_of_day(&mut out, utc, None);
    out.push('Z');
    Ok(out)
}

/// `HH:mm:ss` then the fraction: `width` digits exactly when given (Java's
/// `appendFraction(NANO_OF_SECOND, w, w, true)`), otherwise as
/// `ISO_LOCAL_TIME` prints it (trailing zeros dropped, nothing when zero).
fn push_time_of_day(out: &mut String, nanos_of_day: i64, width: Option<usize>) {
    use std::fmt::Write;
    let secs = nanos_of_day / 1_000_000_000;
    let nanos = nanos_of_day % 1_000_000_000;
    let _ = write!(out, "{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    let frac = format!("{nanos:09}");
    match width {
        Some(w) => {
            out.push('.');
            out.push_str(&frac[..w]);
        }
        None if nanos != 0 => {
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        None => {}
    }
}

/// Java's `ISO_LOCAL_DATE` year: at least 4 digits, `+` above 9999, `-`
/// below zero.
fn push_iso_date(out: &mut String, days: i64) {
    use std::fmt::Write;
    let (y, m, d) = civil_from_days(days);
    let _ = if y > 9999 {
        write!(out, "+{y}")
    } else if y < 0 {
        write!(out, "-{:04}", -y)
    } else {
        write!(out, "{y:04}")
    };
    let _ = write!(out, "-{m:02}-{d:02}");
}

/// Debezium's `ZonedTimestamp` string of a UTC instant given in epoch
/// microseconds: ISO-8601 with `Z`, and `fraction` digits of fraction when
/// 1..=9 (the column's precision, so `timestamptz` prints 6 digits even when
/// they are zeros), or `ISO_OFFSET_DATE_TIME`'s trimmed fraction when 0.
pub fn zoned_timestamp(utc_micros: i128, fraction: i32) -> String {
    let per_day = i128::from(MICROS_PER_DAY);
    // Days fit an i64 for any year of 10 digits.
    let days = utc_micros.div_euclid(per_day) as i64;
    let nanos_of_day = utc_micros.rem_euclid(per_day) as i64 * 1000;
    let mut out = String::with_capacity(32);
    push_iso_date(&mut out, days);
    out.push('T');
    let width = (1..=9).contains(&fraction).then_some(fraction as usize);
    push_time_of_day(&mut out, nanos_of_day, width);
    out.push('Z');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2016, 11, 4), 17109);
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        assert_eq!(days_from_civil(-5_877_611, 6, 21), i64::from(DATE_POSITIVE_INFINITY_DAYS));
        for d in [-1_000_000_i64, -719_468, -1, 0, 59, 365, 11_016, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2016-11-04").unwrap(), Temporal::Finite(17109));
        // 44 BC is astronomical year -43.
        assert_eq!(
            parse_date("0044-03-15 BC").unwrap(),
            Temporal::Finite(days_from_civil(-43, 3, 15))
        );
        assert_eq!(
            parse_date("0001-01-01 BC").unwrap(),
            Temporal::Finite(days_from_civil(0, 1, 1))
        );
        assert_eq!(parse_date("infinity").unwrap(), Temporal::PosInf);
        assert_eq!(parse_date("-infinity").unwrap(), Temporal::NegInf);
        assert_eq!(
            parse_date("21016-11-04").unwrap(),
            Temporal::Finite(days_from_civil(21016, 11, 4))
        );
        for bad in [
            "2016-02-30",
            "2016-13-01",
            "16-01-01",
            "2016-01-01 XX",
            "",
            "2016/01/01",
            "0000-01-01",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00").unwrap(), Temporal::Finite(0));
        assert_eq!(
            parse_timestamp("2016-11-04 13:51:30.123456").unwrap(),
            Temporal::Finite(1_478_267_490_123_456)
        );
        // Debezium's test expectation for '4713-12-31T23:59:59.999999 BC'.
        assert_eq!(
            parse_timestamp("4713-12-31 23:59:59.999999 BC").unwrap(),
            Temporal::Finite(-210_831_897_600_000_001)
        );
        assert_eq!(
            parse_timestamp("294247-01-01 23:59:59.999999").unwrap(),
            Temporal::Finite(9_223_371_331_200_000_000 - 1)
        );
        assert_eq!(
            parse_timestamptz("2016-11-04 13:51:30.123456+02").unwrap(),
            Temporal::Finite(1_478_260_290_123_456)
        );
        assert_eq!(
            parse_timestamptz("2024-01-02 03:04:05+05:30").unwrap(),
            parse_timestamptz("2024-01-01 21:34:05+00").unwrap()
        );
        assert_eq!(
            parse_timestamptz("1883-11-18 12:00:00-04:56:02").unwrap(),
            parse_timestamptz("1883-11-18 16:56:02+00").unwrap()
        );
        assert!(parse_timestamp("2016-11-04 24:00:00").is_err());
        assert!(parse_timestamp("2016-11-04T13:51:30").is_err());
        assert!(parse_timestamptz("2016-11-04 13:51:30+2").is_err());
    }

    #[test]
    fn zoned_strings() {
        let t = |s: &str| match parse_timestamptz(s).unwrap() {
            Temporal::Finite(v) => v,
            _ => unreachable!(),
        };
        assert_eq!(
            zoned_timestamp(t("2016-11-04 13:51:30.123456+02"), 6),
            "2016-11-04T11:51:30.123456Z"
        );
        assert_eq!(zoned_timestamp(t("2020-04-01 11:51:02+00"), 6), "2020-04-01T11:51:02.000000Z");
        assert_eq!(zoned_timestamp(t("2019-07-09 02:28:57+00"), 0), "2019-07-09T02:28:57Z");
        assert_eq!(zoned_timestamp(t("2019-07-09 02:28:57.1+00"), 1), "2019-07-09T02:28:57.1Z");
        assert_eq!(
            zoned_timestamp(t("21016-11-04 13:51:30.123456+07"), 6),
            "+21016-11-04T06:51:30.123456Z"
        );
        assert_eq!(
            zoned_timestamp(t("4714-12-31 23:59:59.999999+00 BC"), 6),
            "-4713-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            zoned_timestamp(t("0001-01-01 00:00:00+00 BC"), 6),
            "0000-01-01T00:00:00.000000Z"
        );
        assert_eq!(zoned_timestamp(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            zoned_timestamp(t("294276-12-31 23:59:59.999999+00"), 6),
            "+294276-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn times() {
        assert_eq!(parse_time_nanos("13:51:30").unwrap(), 49_890_000_000_000);
        assert_eq!(parse_time_nanos("13:51:30.123").unwrap(), 49_890_123_000_000);
        assert_eq!(parse_time_nanos("24:00:00").unwrap(), 86_400_000_000_000);
        assert!(parse_time_nanos("13:51").is_err());
        assert!(parse_time_nanos("aa:bb:cc").is_err());
        assert_eq!(timetz_to_zoned_time("13:51:30.123789+02").unwrap(), "11:51:30.123789Z");
        assert_eq!(timetz_to_zoned_time("13:51:30.123+02").unwrap(), "11:51:30.123Z");
        assert_eq!(timetz_to_zoned_time("13:51:30+05:30").unwrap(), "08:21:30Z");
        assert_eq!(timetz_to_zoned_time("01:00:00+02").unwrap(), "23:00:00Z");
        assert_eq!(timetz_to_zoned_time("23:00:00-02").unwrap(), "01:00:00Z");
        assert_eq!(timetz_to_zoned_time("24:00:00+00").unwrap(), "24:00:00Z");
        assert_eq!(timetz_to_zoned_time("24:00:00+02").unwrap(), "22:00:00Z");
        assert_eq!(timetz_to_zoned_time("00:00:00+00").unwrap(), "00:00:00Z");
        assert!(timetz_to_zoned_time("13:51:30").is_err());
        assert!(timetz_to_zoned_time("25:00:00+00").is_err());
    }
}

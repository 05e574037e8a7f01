//! Arbitrary-precision decimals, as much of Java's `BigDecimal` as
//! Debezium uses: parse decimal text (Java's `new BigDecimal(String)`
//! syntax, or MySQL's plain form), rescale (rounding half up, or exactly),
//! strip trailing zeros, print the plain string, the nearest double, and
//! the unscaled value as `BigInteger.toByteArray()` does (big-endian two's
//! complement, minimal length, at least one byte). Shared by the sources for
//! `decimal.handling.mode`.

/// A finite decimal: `(-1)^negative * digits * 10^-scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigDec {
    negative: bool,
    /// Decimal digits of the unscaled value (values 0..=9), most significant
    /// first, without leading zeros; empty for zero.
    digits: Vec<u8>,
    scale: i64,
}

/// Scales beyond this are not PostgreSQL output; refusing them bounds the
/// memory a malformed exponent could ask for.
const MAX_SCALE: i64 = 1_000_000;

impl BigDec {
    pub fn parse(text: &str) -> Result<BigDec, String> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if let Some(&c) = bytes.first() {
            if c == b'-' || c == b'+' {
                negative = c == b'-';
                i = 1;
            }
        }
        let mut digits = Vec::with_capacity(bytes.len());
        let mut scale: i64 = 0;
        let mut seen_digit = false;
        let mut seen_point = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_digit() {
                seen_digit = true;
                if !(digits.is_empty() && c == b'0') {
                    digits.push(c - b'0');
                }
                if seen_point {
                    scale += 1;
                }
            } else if c == b'.' && !seen_point {
                seen_point = true;
            } else {
                break;
            }
            i += 1;
        }
        if !seen_digit {
            return Err("not a number".into());
        }
        if i < bytes.len() {
            if bytes[i] != b'e' && bytes[i] != b'E' {
                return Err(format!("unexpected character {:?}", char::from(bytes[i])));
            }
            let exp: i64 = text[i + 1..]
                .strip_prefix('+')
                .unwrap_or(&text[i + 1..])
                .parse()
                .map_err(|_| "bad exponent".to_string())?;
            if exp.abs() > MAX_SCALE {
                return Err("exponent out of range".into());
            }
            scale -= exp;
        }
        if scale.abs() > MAX_SCALE {
            return Err("scale out of range".into());
        }
        Ok(BigDec { negative: negative && !digits.is_empty(), digits, scale })
    }

    pub fn scale(&self) -> i64 {
        self.scale
    }

    /// `setScale(target, RoundingMode.HALF_UP)`: pads with zeros, or drops
    /// digits rounding half away from zero (PostgreSQL's own rounding).
    pub fn rescale(&mut self, target: i64) -> Result<(), String> {
        if target.abs() > MAX_SCALE {
            return Err("scale out of range".into());
        }
        if target >= self.scale {
            if !self.digits.is_empty() {
                let pad = (target - self.scale) as usize;
                self.digits.resize(self.digits.len() + pad, 0);
            }
            self.scale = target;
            return Ok(());
        }
        let drop = (self.scale - target) as usize;
        self.scale = target;
        if drop > self.digits.len() {
            self.digits.clear();
            self.negative = false;
            return Ok(());
        }
        let keep = self.digits.len() - drop;
        let round_up = self.digits[keep] >= 5;
        self.digits.truncate(keep);
        if round_up {
            let mut i = self.digits.len();
            loop {
                if i == 0 {
                    self.digits.insert(0, 1);
                    break;
                }
                i -= 1;
                if self.digits[i] == 9 {
                    self.digits[i] = 0;
                } else {
                    self.digits[i] += 1;
                    break;
                }
            }
        }
        let lead = self.digits.iter().take_while(|&&d| d == 0).count();
        self.digits.drain(..lead);
        if self.digits.is_empty() {
            self.negative = false;
        }
        Ok(())
    }

    /// `stripTrailingZeros()` followed by `setScale(0)` when the scale went
    /// negative: Debezium's normalisation for `VariableScaleDecimal`.
    pub fn strip_trailing_zeros_keep_integer(&mut self) {
        if self.digits.is_empty() {
            self.scale = 0;
            return;
        }
        while self.scale > 0 && self.digits.last() == Some(&0) {
            self.digits.pop();
            self.scale -= 1;
        }
        if self.scale < 0 {
            let pad = (-self.scale) as usize;
            self.digits.resize(self.digits.len() + pad, 0);
            self.scale = 0;
        }
    }

    /// `toPlainString()`.
    pub fn to_plain_string(&self) -> String {
        let mut s = String::with_capacity(self.digits.len() + 3);
        if self.negative {
            s.push('-');
        }
        let digits: Vec<u8> = if self.digits.is_empty() { vec![0] } else { self.digits.clone() };
        let push = |s: &mut String, d: &[u8]| s.extend(d.iter().map(|&d| char::from(b'0' + d)));
        if self.scale <= 0 {
            push(&mut s, &digits);
            if !self.digits.is_empty() {
                s.extend(std::iter::repeat_n('0', (-self.scale) as usize));
            }
        } else {
            let scale = self.scale as usize;
            if digits.len() > scale {
                let (int, frac) = digits.split_at(digits.len() - scale);
                push(&mut s, int);
                s.push('.');
                push(&mut s, frac);
            } else {
                s.push_str("0.");
                s.extend(std::iter::repeat_n('0', scale - digits.len()));
                push(&mut s, &digits);
            }
        }
        s
    }

    /// `doubleValue()`: the nearest double (Rust's parser rounds correctly,
    /// as Java's does).
    pub fn to_f64(&self) -> f64 {
        let mut s = String::with_capacity(self.digits.len() + 24);
        if self.negative {
            s.push('-');
        }
        if self.digits.is_empty() {
            s.push('0');
        } else {
            s.extend(self.digits.iter().map(|&d| char::from(b'0' + d)));
        }
        s.push('e');
        s.push_str(&(-self.scale).to_string());
        s.parse().unwrap_or(f64::NAN)
    }

    /// `unscaledValue().toByteArray()`.
    pub fn unscaled_twos_complement(&self) -> Vec<u8> {
        let magnitude = decimal_digits_to_be_bytes(&self.digits);
        twos_complement(&magnitude, self.negative)
    }
}

/// Big-endian magnitude of a decimal digit string, without leading zero
/// bytes (empty for zero). Schoolbook base conversion in 10^9 chunks: about
/// 10^8 word operations for PostgreSQL's largest numerics, and a handful for
/// ordinary ones.
fn decimal_digits_to_be_bytes(digits: &[u8]) -> Vec<u8> {
    let mut limbs: Vec<u32> = Vec::with_capacity(digits.len() / 9 + 1); // little-endian base 2^32
    let first = digits.len() % 9;
    let mut chunks: Vec<&[u8]> = Vec::with_capacity(digits.len() / 9 + 1);
    if first > 0 {
        chunks.push(&digits[..first]);
    }
    chunks.extend(digits[first..].chunks(9));
    for chunk in chunks {
        let mut mul: u64 = 1;
        let mut add: u64 = 0;
        for &d in chunk {
            mul *= 10;
            add = add * 10 + u64::from(d);
        }
        let mut carry = add;
        for limb in limbs.iter_mut() {
            let v = u64::from(*limb) * mul + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let mut out = Vec::with_capacity(limbs.len() * 4);
    for limb in limbs.iter().rev() {
        out.extend_from_slice(&limb.to_be_bytes());
    }
    let lead = out.iter().take_while(|&&b| b == 0).count();
    out.drain(..lead);
    out
}

/// Minimal big-endian two's complement of `±magnitude`, at least one byte,
/// like `BigInteger.toByteArray()`.
fn twos_complement(magnitude: &[u8], negative: bool) -> Vec<u8> {
    if magnitude.is_empty() {
        return vec![0];
    }
    if !negative {
        let mut out = Vec::with_capacity(magnitude.len() + 1);
        if magnitude[0] & 0x80 != 0 {
            out.push(0);
        }
        out.extend_from_slice(magnitude);
        return out;
    }
    let mut t: Vec<u8> = magnitude.iter().map(|b| !b).collect();
    for b in t.iter_mut().rev() {
        let (v, overflow) = b.overflowing_add(1);
        *b = v;
        if !overflow {
            break;
        }
    }
    if t[0] & 0x80 == 0 {
        t.insert(0, 0xff);
    }
    t
}

impl BigDec {
    /// An integer.
    pub fn from_u64(v: u64) -> BigDec {
        let digits =
            if v == 0 { Vec::new() } else { v.to_string().bytes().map(|b| b - b'0').collect() };
        BigDec { negative: false, digits, scale: 0 }
    }

    /// Parses a plain `[-+]digits[.digits]` (no exponent), the form MySQL
    /// prints its DECIMAL values in.
    pub fn parse_plain(text: &str) -> Result<BigDec, String> {
        let body = text.strip_prefix(['-', '+']).unwrap_or(text);
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err("not a decimal number".into());
        }
        BigDec::parse(text)
    }

    /// Changes the scale to `target` without rounding: appends zeros, or
    /// drops trailing zero digits; refuses to drop a non-zero digit (Kafka
    /// Connect's `Decimal` requires the value's scale to be the schema's).
    pub fn rescale_exact(&mut self, target: i64) -> Result<(), String> {
        if target < self.scale {
            let drop = (self.scale - target) as usize;
            let keep = self.digits.len().saturating_sub(drop);
            if self.digits[keep..].iter().any(|&d| d != 0) {
                return Err(format!("has more than {target} decimal digits"));
            }
        }
        self.rescale(target)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Vec<u8> {
        BigDec::parse(s).unwrap().unscaled_twos_complement()
    }

    #[test]
    fn to_byte_array_matches_java_big_integer() {
        // Values checked against java.math.BigInteger#toByteArray.
        assert_eq!(bytes("0"), vec![0]);
        assert_eq!(bytes("-0.00"), vec![0]);
        assert_eq!(bytes("127"), vec![127]);
        assert_eq!(bytes("128"), vec![0, 0x80]);
        assert_eq!(bytes("-128"), vec![0x80]);
        assert_eq!(bytes("-129"), vec![0xff, 0x7f]);
        assert_eq!(bytes("255"), vec![0, 0xff]);
        assert_eq!(bytes("256"), vec![1, 0]);
        assert_eq!(bytes("-256"), vec![0xff, 0]);
        assert_eq!(bytes("-32768"), vec![0x80, 0]);
        assert_eq!(bytes("-32769"), vec![0xff, 0x7f, 0xff]);
        assert_eq!(bytes("1.50"), vec![0, 150]);
        assert_eq!(bytes("-1.50"), vec![0xff, 0x6a]);
        assert_eq!(bytes("-1.10"), vec![0x92]);
        assert_eq!(bytes("4294967296"), vec![1, 0, 0, 0, 0]);
        assert_eq!(bytes("18446744073709551615"), vec![0, 255, 255, 255, 255, 255, 255, 255, 255]);
        assert_eq!(bytes("-18446744073709551616"), vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        // 10^30
        assert_eq!(
            bytes("1000000000000000000000000000000"),
            vec![0x0c, 0x9f, 0x2c, 0x9c, 0xd0, 0x46, 0x74, 0xed, 0xea, 0x40, 0x00, 0x00, 0x00]
        );
    }

    #[test]
    fn huge_numeric_converts() {
        // 10^131071 - 1: 131071 nines. 2^435411 < 10^131071 < 2^435412.
        let nines = "9".repeat(131_071);
        let b = bytes(&nines);
        assert_eq!(b.len(), 435_412 / 8 + 1);
        assert_eq!(b.last(), Some(&0xff));
        let with_scale = format!("-{}.{}", "1".repeat(1000), "2".repeat(16383));
        let d = BigDec::parse(&with_scale).unwrap();
        assert_eq!(d.scale(), 16383);
        assert!(d.unscaled_twos_complement()[0] & 0x80 != 0);
    }

    #[test]
    fn rescale_and_strip() {
        let mut d = BigDec::parse("1.5").unwrap();
        d.rescale(2).unwrap();
        assert_eq!(d.to_plain_string(), "1.50");
        assert_eq!(d.unscaled_twos_complement(), vec![0, 150]);
        let mut d = BigDec::parse("-2.345").unwrap();
        d.rescale(2).unwrap();
        assert_eq!(d.to_plain_string(), "-2.35");
        let mut d = BigDec::parse("9.995").unwrap();
        d.rescale(2).unwrap();
        assert_eq!(d.to_plain_string(), "10.00");
        let mut d = BigDec::parse("-0.004").unwrap();
        d.rescale(2).unwrap();
        assert_eq!(d.to_plain_string(), "0.00");
        let mut d = BigDec::parse("22.2200").unwrap();
        d.strip_trailing_zeros_keep_integer();
        assert_eq!((d.to_plain_string(), d.scale()), ("22.22".to_string(), 2));
        let mut d = BigDec::parse("100").unwrap();
        d.strip_trailing_zeros_keep_integer();
        assert_eq!((d.to_plain_string(), d.scale()), ("100".to_string(), 0));
        let mut d = BigDec::parse("0.000").unwrap();
        d.strip_trailing_zeros_keep_integer();
        assert_eq!((d.to_plain_string(), d.scale()), ("0".to_string(), 0));
        let mut d = BigDec::parse("1E+3").unwrap();
        d.strip_trailing_zeros_keep_integer();
        assert_eq!((d.to_plain_string(), d.scale()), ("1000".to_string(), 0));
    }

    #[test]
    fn plain_strings() {
        for (i, o) in [
            ("0.001", "0.001"),
            ("-0.001", "-0.001"),
            ("-0.00", "0.00"),
            ("12", "12"),
            ("1e-3", "0.001"),
            ("1.5E2", "150"),
        ] {
            assert_eq!(BigDec::parse(i).unwrap().to_plain_string(), o, "{i}");
        }
        assert!(BigDec::parse("").is_err());
        assert!(BigDec::parse("-").is_err());
        assert!(BigDec::parse("1.2.3").is_err());
        assert!(BigDec::parse("12a").is_err());
        assert!(BigDec::parse("1e99999999").is_err());
        assert_eq!(BigDec::parse("0.1").unwrap().to_f64(), 0.1);
        assert_eq!(BigDec::parse("-22.22").unwrap().to_f64(), -22.22);
    }
}

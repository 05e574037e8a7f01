//! MySQL's decimals beyond what `logtap_core::decimal::BigDec` does: the
//! binary DECIMAL format (inside binary JSON), and the exact decimal
//! expansion of a double (`new BigDecimal(double)`) and Java's
//! `Double.toString`, which the JSON renderer needs.

use logtap_core::decimal::BigDec;

/// Decodes MySQL's binary DECIMAL(precision, scale) (as in JSON opaque
/// values): groups of nine digits in four big-endian bytes, shorter
/// leading and trailing groups, the sign in the inverted first bit, all
/// bits inverted for a negative number. Malformed input is an error
/// (mysql_common's decoder panics on some).
pub(crate) fn from_mysql_binary(precision: u8, scale: u8, data: &[u8]) -> Result<BigDec, String> {
    const DIG_TO_BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
    if precision == 0 || precision > 65 || scale > 30 || scale > precision {
        return Err(format!("bad DECIMAL({precision},{scale})"));
    }
    let (intg, frac) = (usize::from(precision - scale), usize::from(scale));
    let groups: Vec<usize> = std::iter::once(intg % 9)
        .chain(std::iter::repeat_n(9, intg / 9))
        .chain(std::iter::repeat_n(9, frac / 9))
        .chain(std::iter::once(frac % 9))
        .collect();
    let size: usize = groups.iter().map(|&g| DIG_TO_BYTES[g]).sum();
    let mut b = data.get(..size).ok_or("decimal shorter than its precision")?.to_vec();
    b[0] ^= 0x80;
    let negative = b[0] & 0x80 != 0;
    if negative {
        for x in b.iter_mut() {
            *x = !*x;
        }
    }
    let (mut int_digits, mut frac_digits) = (String::new(), String::new());
    let mut pos = 0;
    for (i, &g) in groups.iter().enumerate() {
        let n = DIG_TO_BYTES[g];
        let v = b[pos..pos + n].iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
        pos += n;
        if v >= 10u64.pow(g as u32) {
            return Err("malformed decimal digits".into());
        }
        if g > 0 {
            // Groups 0..=intg/9 hold the integer part.
            let target = if i <= intg / 9 { &mut int_digits } else { &mut frac_digits };
            target.push_str(&format!("{v:0g$}"));
        }
    }
    let mut text = String::with_capacity(intg + frac + 3);
    if negative {
        text.push('-');
    }
    text.push_str(if int_digits.is_empty() { "0" } else { &int_digits });
    if !frac_digits.is_empty() {
        text.push('.');
        text.push_str(&frac_digits);
    }
    BigDec::parse_plain(&text)
}

/// `new BigDecimal(v).toPlainString()` for a finite double: its exact value,
/// with the smallest scale that holds it.
pub(crate) fn exact_plain_string(v: f64) -> String {
    let bits = v.to_bits();
    let negative = bits >> 63 == 1;
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    let (mut mantissa, mut exp) =
        if exp_bits == 0 { (frac, -1074) } else { (frac | (1 << 52), exp_bits - 1075) };
    if mantissa == 0 {
        // BigDecimal has no negative zero.
        return "0".into();
    }
    while mantissa & 1 == 0 {
        mantissa >>= 1;
        exp += 1;
    }
    // value = mantissa * 2^exp; as a decimal, mantissa * 5^-exp / 10^-exp
    // when exp < 0 (an odd number times 5^k has no trailing zero).
    let mut limbs = Limbs::from_u64(mantissa);
    let scale = if exp >= 0 {
        for _ in 0..exp {
            limbs.mul_small(2);
        }
        0
    } else {
        for _ in 0..-exp {
            limbs.mul_small(5);
        }
        (-exp) as usize
    };
    let digits = limbs.to_decimal();
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    if scale == 0 {
        s.push_str(&digits);
    } else if digits.len() > scale {
        let (i, f) = digits.split_at(digits.len() - scale);
        s.push_str(i);
        s.push('.');
        s.push_str(f);
    } else {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', scale - digits.len()));
        s.push_str(&digits);
    }
    s
}

/// A non-negative big integer in base 10^9, least significant limb first.
struct Limbs(Vec<u32>);

const LIMB: u64 = 1_000_000_000;

impl Limbs {
    fn from_u64(mut v: u64) -> Self {
        let mut l = Vec::new();
        while v > 0 {
            l.push((v % LIMB) as u32);
            v /= LIMB;
        }
        Limbs(l)
    }

    fn mul_small(&mut self, m: u64) {
        let mut carry = 0u64;
        for limb in self.0.iter_mut() {
            let v = u64::from(*limb) * m + carry;
            *limb = (v % LIMB) as u32;
            carry = v / LIMB;
        }
        while carry > 0 {
            self.0.push((carry % LIMB) as u32);
            carry /= LIMB;
        }
    }

    fn to_decimal(&self) -> String {
        let mut s = String::new();
        for (i, limb) in self.0.iter().rev().enumerate() {
            if i == 0 {
                s.push_str(&limb.to_string());
            } else {
                s.push_str(&format!("{limb:09}"));
            }
        }
        if s.is_empty() {
            s.push('0');
        }
        s
    }
}

/// Java's `Double.toString(v)` for a finite double (the shortest digits
/// that round-trip, JDK 19+): plain notation with at least one fractional
/// digit for 10^-3 <= |v| < 10^7, computerized scientific notation
/// (`1.0E7`, `1.2E-5`) otherwise.
pub(crate) fn java_double_to_string(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "d.ddde±x".
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut s = String::new();
    if v < 0.0 {
        s.push('-');
    }
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                s.push_str(&digits);
                s.extend(std::iter::repeat_n('0', int_len - digits.len()));
                s.push_str(".0");
            } else {
                s.push_str(&digits[..int_len]);
                s.push('.');
                s.push_str(&digits[int_len..]);
            }
        } else {
            s.push_str("0.");
            s.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            s.push_str(&digits);
        }
    } else {
        s.push_str(&digits[..1]);
        s.push('.');
        if digits.len() > 1 {
            s.push_str(&digits[1..]);
        } else {
            s.push('0');
        }
        s.push('E');
        s.push_str(&exp.to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Vec<u8> {
        BigDec::parse_plain(text).unwrap().unscaled_twos_complement()
    }

    #[test]
    fn big_integer_to_byte_array() {
        assert_eq!(bytes("0"), vec![0]);
        assert_eq!(bytes("0.00"), vec![0]);
        assert_eq!(bytes("-0.00"), vec![0]);
        assert_eq!(bytes("1"), vec![1]);
        assert_eq!(bytes("127"), vec![127]);
        assert_eq!(bytes("128"), vec![0, 128]);
        assert_eq!(bytes("255"), vec![0, 255]);
        assert_eq!(bytes("256"), vec![1, 0]);
        assert_eq!(bytes("-1"), vec![0xff]);
        assert_eq!(bytes("-128"), vec![0x80]);
        assert_eq!(bytes("-129"), vec![0xff, 0x7f]);
        assert_eq!(bytes("-256"), vec![0xff, 0x00]);
        assert_eq!(bytes("-32768"), vec![0x80, 0x00]);
        assert_eq!(bytes("1.50"), vec![0, 150]);
        assert_eq!(bytes("-1.50"), vec![0xff, 0x6a]);
        assert_eq!(BigDec::from_u64(u64::MAX).unscaled_twos_complement(), {
            let mut v = vec![0u8];
            v.extend([0xff; 8]);
            v
        });
    }

    #[test]
    fn mysql_binary_decimals() {
        let d = |p, s, b: &[u8]| from_mysql_binary(p, s, b).map(|d| d.to_plain_string());
        assert_eq!(d(5, 2, &[0x80, 0x7b, 0x2d]), Ok("123.45".into()));
        assert_eq!(d(3, 2, &[0x7e, 0xcd]), Ok("-1.50".into()));
        assert_eq!(d(4, 4, &[0x93, 0x88]).unwrap(), "0.5000");
        // 1234567890.1 as DECIMAL(11,1): groups of 1, 9 and 1 digits.
        assert_eq!(d(11, 1, &[0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x01]).unwrap(), "1234567890.1");
        assert_eq!(d(2, 0, &[0x80]).ok(), Some("0".into()));
        assert!(d(2, 0, &[0x80 | 100]).is_err());
        assert!(d(1, 2, &[0x80]).is_err());
        assert!(d(5, 2, &[0x80]).is_err());
    }

    #[test]
    fn plain_strings() {
        assert_eq!(BigDec::parse_plain("-0.50").unwrap().to_plain_string(), "-0.50");
        assert_eq!(BigDec::parse_plain("-0.00").unwrap().to_plain_string(), "0.00");
        assert_eq!(BigDec::parse_plain("0.0001").unwrap().to_plain_string(), "0.0001");
        assert_eq!(BigDec::parse_plain("12345").unwrap().to_plain_string(), "12345");
        assert_eq!(BigDec::parse_plain("0").unwrap().to_plain_string(), "0");
        let mut d = BigDec::parse_plain("1.5").unwrap();
        d.rescale_exact(3).unwrap();
        assert_eq!(d.to_plain_string(), "1.500");
        assert!(d.rescale_exact(0).is_err());
        assert!(BigDec::parse_plain("1e5").is_err());
        assert!(BigDec::parse_plain("").is_err());
        assert!(BigDec::parse_plain(".").is_err());
    }

    #[test]
    fn doubles() {
        assert_eq!(java_double_to_string(1.5), "1.5");
        assert_eq!(java_double_to_string(100.0), "100.0");
        assert_eq!(java_double_to_string(0.001), "0.001");
        assert_eq!(java_double_to_string(9999999.0), "9999999.0");
        assert_eq!(java_double_to_string(1e7), "1.0E7");
        assert_eq!(java_double_to_string(1.2e-5), "1.2E-5");
        assert_eq!(java_double_to_string(-0.0), "-0.0");
        assert_eq!(java_double_to_string(0.1), "0.1");
        assert_eq!(exact_plain_string(1e7), "10000000");
        assert_eq!(exact_plain_string(1e20), "100000000000000000000");
        assert_eq!(exact_plain_string(0.5), "0.5");
        assert_eq!(exact_plain_string(-0.25), "-0.25");
        assert_eq!(
            exact_plain_string(1e-5),
            "0.000010000000000000000818030539140313095458623138256371021270751953125"
        );
        assert_eq!(exact_plain_string(1.5e300).len(), 301);
    }
}

//! Debezium's value options that every source shares, with Debezium's
//! spellings and defaults: `decimal.handling.mode` and
//! `binary.handling.mode` (and the encodings the latter applies). The
//! options that differ between connectors (`time.precision.mode`, ...)
//! stay with their source.

use crate::schema::Value;
use base64::Engine;

/// `decimal.handling.mode`: how exact decimals are sent. Configured with
/// Debezium's spelling (`precise`, `double`, `string`), checked once when
/// the configuration is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecimalMode {
    /// Connect `Decimal` (bytes of the unscaled value), or Debezium's
    /// `VariableScaleDecimal` where the scale is not fixed.
    #[default]
    Precise,
    /// `double`.
    Double,
    /// The plain decimal string.
    String,
}

/// `binary.handling.mode`: how binary column values are sent. Debezium's
/// spelling: `bytes`, `base64`, `base64-url-safe`, `hex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BinaryMode {
    #[default]
    Bytes,
    Base64,
    Base64UrlSafe,
    Hex,
}

impl BinaryMode {
    /// A binary value in this mode: Connect bytes, or a string.
    pub fn encode(self, bytes: Vec<u8>) -> Value {
        match self {
            BinaryMode::Bytes => Value::Bytes(bytes),
            BinaryMode::Base64 => Value::String(base64(&bytes, false)),
            BinaryMode::Base64UrlSafe => Value::String(base64(&bytes, true)),
            BinaryMode::Hex => Value::String(hex(&bytes)),
        }
    }
}

/// Lower-case hex, as Debezium's `HexConverter`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Padded base64, standard or URL-safe alphabet, as `java.util.Base64`'s
/// encoders write it.
pub fn base64(bytes: &[u8], url_safe: bool) -> String {
    if url_safe {
        base64::engine::general_purpose::URL_SAFE.encode(bytes)
    } else {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(hex(&[1, 2, 3, 0xab]), "010203ab");
        assert_eq!(base64(&[1, 2, 3], false), "AQID");
        assert_eq!(base64(b"'fat' <-> 'cat'", false), "J2ZhdCcgPC0+ICdjYXQn");
        assert_eq!(base64(b"'fat' <-> 'cat'", true), "J2ZhdCcgPC0-ICdjYXQn");
        assert_eq!(base64(b"a", false), "YQ==");
        assert_eq!(base64(b"ab", false), "YWI=");
        assert_eq!(base64(b"", false), "");
    }

    #[test]
    fn modes_parse_debeziums_names_and_encode() {
        let mode = |s: &str| serde_json::from_value::<DecimalMode>(s.into()).ok();
        assert_eq!(mode("double"), Some(DecimalMode::Double));
        assert_eq!(mode("exact"), None);
        let mode = |s: &str| serde_json::from_value::<BinaryMode>(s.into()).ok();
        assert_eq!(mode("base64-url-safe"), Some(BinaryMode::Base64UrlSafe));
        assert_eq!(mode("base64url"), None);
        assert_eq!(BinaryMode::Bytes.encode(vec![0xff]), Value::Bytes(vec![0xff]));
        assert_eq!(BinaryMode::Base64.encode(vec![0xfb, 0xff]), Value::String("+/8=".into()));
        assert_eq!(
            BinaryMode::Base64UrlSafe.encode(vec![0xfb, 0xff]),
            Value::String("-_8=".into())
        );
        assert_eq!(BinaryMode::Hex.encode(vec![0xfb, 0xff]), Value::String("fbff".into()));
    }
}

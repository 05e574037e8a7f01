//! Byte decodings PostgreSQL needs: `bytea` text, and
//! `UUID.nameUUIDFromBytes` (for the unchanged-TOAST placeholder of
//! `uuid[]`). The encodings of `binary.handling.mode` are in
//! `logtap_core::convert`.

use logtap_core::convert::hex;

/// Decodes `bytea` output: `\x` followed by hex digits (`bytea_output =
/// hex`, the default), or the legacy escape format.
pub fn decode_bytea(text: &str) -> Result<Vec<u8>, String> {
    if let Some(hex) = text.strip_prefix("\\x") {
        let b = hex.as_bytes();
        if b.len() % 2 != 0 {
            return Err("odd number of hex digits".into());
        }
        return b
            .chunks(2)
            .map(|p| match (hex_val(p[0]), hex_val(p[1])) {
                (Some(h), Some(l)) => Ok(h << 4 | l),
                _ => Err("not a hex digit".to_string()),
            })
            .collect();
    }
    // bytea_output = escape: printable bytes as is, `\\` and `\ooo`.
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let oct = b.get(i + 1..i + 4).ok_or("bad escape")?;
            if !oct.iter().all(|c| (b'0'..=b'7').contains(c)) || oct[0] > b'3' {
                return Err("bad escape".into());
            }
            out.push((oct[0] - b'0') << 6 | (oct[1] - b'0') << 3 | (oct[2] - b'0'));
            i += 4;
        }
    }
    Ok(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// MD5, only for [`name_uuid_from_bytes`] (OpenSSL's, which logtap links
/// for TLS anyway). `None` if OpenSSL refuses MD5 (a FIPS-only build).
fn md5(input: &[u8]) -> Option<[u8; 16]> {
    let digest = openssl::hash::hash(openssl::hash::MessageDigest::md5(), input).ok()?;
    digest.as_ref().try_into().ok()
}

/// `java.util.UUID.nameUUIDFromBytes(bytes).toString()` (a version 3 UUID).
pub fn name_uuid_from_bytes(bytes: &[u8]) -> Option<String> {
    let mut h = md5(bytes)?;
    h[6] = (h[6] & 0x0f) | 0x30;
    h[8] = (h[8] & 0x3f) | 0x80;
    let x = hex(&h);
    Some(format!("{}-{}-{}-{}-{}", &x[..8], &x[8..12], &x[12..16], &x[16..20], &x[20..]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bytea() {
        assert_eq!(decode_bytea("\\x0102ff").unwrap(), vec![1, 2, 255]);
        assert_eq!(decode_bytea("\\x").unwrap(), Vec::<u8>::new());
        assert_eq!(decode_bytea("\\xABcd").unwrap(), vec![0xab, 0xcd]);
        assert_eq!(decode_bytea("a\\\\b\\001").unwrap(), vec![b'a', b'\\', b'b', 1]);
        for bad in ["\\x0", "\\xzz", "\\9", "\\"] {
            assert!(decode_bytea(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn md5_and_uuid() {
        assert_eq!(hex(&md5(b"").unwrap()), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            hex(&md5(b"The quick brown fox jumps over the lazy dog").unwrap()),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
        assert_eq!(hex(&md5(&[b'a'; 64]).unwrap()), "014842d480b571495a4a0363793f7367");
        // java.util.UUID.nameUUIDFromBytes of Debezium's default placeholder.
        assert_eq!(
            name_uuid_from_bytes(b"__debezium_unavailable_value").unwrap(),
            "b68a35a7-17ad-35b3-af2a-ae46edb4545a"
        );
    }
}

//! Byte encodings Debezium applies: `bytea` text decoding, base64 (standard
//! and URL-safe, both padded, as `java.util.Base64`'s encoders), lower-case
//! hex, and `UUID.nameUUIDFromBytes` (for the unchanged-TOAST placeholder of
//! `uuid[]`).

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

/// Padded base64, standard or URL-safe alphabet.
pub fn base64(bytes: &[u8], url_safe: bool) -> String {
    let alphabet: &[u8; 64] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= chunk.len() {
                s.push(char::from(alphabet[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// MD5 (RFC 1321), only for [`name_uuid_from_bytes`].
fn md5(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> =
        (0..64).map(|i: i32| ((f64::from(i) + 1.0).sin().abs() * 4_294_967_296.0) as u32).collect();
    let mut msg = input.to_vec();
    let bit_len = (input.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    let (mut a0, mut b0, mut c0, mut d0) =
        (0x6745_2301_u32, 0xefcd_ab89_u32, 0x98ba_dcfe_u32, 0x1032_5476_u32);
    for block in msg.chunks(64) {
        let m: Vec<u32> =
            block.chunks(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, w) in [a0, b0, c0, d0].iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// `java.util.UUID.nameUUIDFromBytes(bytes).toString()` (a version 3 UUID).
pub fn name_uuid_from_bytes(bytes: &[u8]) -> String {
    let mut h = md5(bytes);
    h[6] = (h[6] & 0x0f) | 0x30;
    h[8] = (h[8] & 0x3f) | 0x80;
    let x = hex(&h);
    format!("{}-{}-{}-{}-{}", &x[..8], &x[8..12], &x[12..16], &x[16..20], &x[20..])
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
    fn md5_and_uuid() {
        assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            hex(&md5(b"The quick brown fox jumps over the lazy dog")),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
        assert_eq!(hex(&md5(&[b'a'; 64])), "014842d480b571495a4a0363793f7367");
        // java.util.UUID.nameUUIDFromBytes of Debezium's default placeholder.
        assert_eq!(
            name_uuid_from_bytes(b"__debezium_unavailable_value"),
            "b68a35a7-17ad-35b3-af2a-ae46edb4545a"
        );
    }
}

//! CRC-32 as binlog checksums use it (`binlog_checksum=CRC32`).
//!
//! MySQL and MariaDB checksum every event with zlib's `crc32()`: the IEEE
//! 802.3 polynomial in its reflected form (0xEDB88320), initial value and
//! final XOR 0xFFFFFFFF. The 4-byte little-endian result is appended to the
//! event and covers the common header and the body (for a
//! FORMAT_DESCRIPTION_EVENT also the algorithm byte, computed with the
//! "binlog in use" header flag cleared, see [`super::event_crc32`]).
//!
//! `crc32fast` computes it (with the CPU's carry-less multiply where there
//! is one: every event of the stream is checksummed, and a byte-at-a-time
//! table was several times slower); the tests below hold it to the standard
//! test vector (`crc32("123456789") == 0xCBF43926`) and the golden tests to
//! checksums MariaDB wrote into real binlog files (tests/golden/mariadb).

/// Incremental CRC-32, for checksumming a header and a body that live in
/// different buffers without copying them together.
#[derive(Debug, Clone)]
pub struct Crc32 {
    hasher: crc32fast::Hasher,
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    /// A hasher with nothing fed yet.
    pub fn new() -> Self {
        Self { hasher: crc32fast::Hasher::new() }
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// The checksum of everything fed so far.
    pub fn finalize(&self) -> u32 {
        self.hasher.clone().finalize()
    }
}

/// CRC-32 (IEEE, zlib's `crc32`) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut h = Crc32::new();
    h.update(data);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for split in [0, 1, 19, 500, 999, 1000] {
            let mut h = Crc32::new();
            h.update(&data[..split]);
            h.update(&data[split..]);
            assert_eq!(h.finalize(), crc32(&data), "split at {split}");
        }
    }
}

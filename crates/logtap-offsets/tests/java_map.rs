//! The file offset store reader against bytes a JVM wrote
//! (`ObjectOutputStream` of a `HashMap<byte[], byte[]>`, as Kafka Connect's
//! `FileOffsetBackingStore.save` does), and against damaged copies of them.

use logtap_offsets::java_map;
use proptest::prelude::*;

const TWO: &[u8] = include_bytes!("data/file-store-two-entries.dat");

#[test]
fn reads_what_a_jvm_wrote() {
    let entries = java_map::read(TWO).unwrap();
    assert_eq!(entries.len(), 2);
    let (k, v) = &entries[0];
    assert_eq!(k.as_slice(), br#"["pg-conn",{"server":"ho"}]"#);
    let v: serde_json::Value = serde_json::from_slice(v.as_ref().unwrap()).unwrap();
    assert_eq!(v["lsn_commit"], 12300);
    assert_eq!(entries[1], (br#"["gone",{"server":"x"}]"#.to_vec(), None));
}

#[test]
fn refuses_other_files_naming_the_byte() {
    let e = java_map::read(b"{\"not\": \"java\"}").unwrap_err();
    assert_eq!(e.at, 0);
    let mut wrong = TWO.to_vec();
    wrong[0x51] = 0x74; // the first key is no longer an array
    let e = java_map::read(&wrong).unwrap_err();
    assert_eq!(e.at, 0x51, "{e}");
}

#[test]
fn what_it_writes_is_what_a_jvm_writes() {
    // The header, class descriptions, load factor, threshold, capacity and
    // size are the JVM's bytes; the entries the same ones (a HashMap's
    // order is the JVM's hashing of each array).
    let entries = java_map::read(TWO).unwrap();
    let written = java_map::write(&entries);
    assert_eq!(written[..0x51], TWO[..0x51]);
    assert_eq!(written.len(), TWO.len());
    assert_eq!(java_map::read(&written).unwrap(), entries);
}

proptest! {
    /// Whatever is written reads back the same.
    #[test]
    fn written_maps_read_back(entries in proptest::collection::vec(
        (proptest::collection::vec(any::<u8>(), 0..40),
         proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40))), 0..20)) {
        let written = java_map::write(&entries);
        prop_assert_eq!(java_map::read(&written).unwrap(), entries);
    }

    /// Truncated or flipped anywhere: an error or a map, never a panic.
    #[test]
    fn damaged_bytes_never_panic(cut in 0usize..TWO.len(), at in 0usize..TWO.len(), b: u8) {
        let _ = java_map::read(&TWO[..cut]);
        let mut flipped = TWO.to_vec();
        flipped[at] = b;
        let _ = java_map::read(&flipped);
    }
}

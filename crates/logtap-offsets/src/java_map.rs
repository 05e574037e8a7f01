//! Reads Kafka Connect's file offset store (`offset.storage.file.filename`
//! of Debezium Server and the embedded engine): one `java.util.HashMap<byte[],
//! byte[]>` written by `ObjectOutputStream`. Only that shape is accepted;
//! anything else is refused with the byte offset it stopped at, never guessed.

/// A map entry: key and value bytes (a null value removes the key).
pub type Entry = (Vec<u8>, Option<Vec<u8>>);

/// Why the bytes are not a serialized `HashMap<byte[], byte[]>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Kafka Connect file offset store (a serialized HashMap<byte[], byte[]>): at byte {at}: {what}")]
pub struct JavaMapError {
    pub at: usize,
    pub what: String,
}

const MAGIC: [u8; 4] = [0xAC, 0xED, 0x00, 0x05];
const TC_NULL: u8 = 0x70;
const TC_REFERENCE: u8 = 0x71;
const TC_CLASSDESC: u8 = 0x72;
const TC_OBJECT: u8 = 0x73;
const TC_ARRAY: u8 = 0x75;
const TC_BLOCKDATA: u8 = 0x77;
const TC_ENDBLOCKDATA: u8 = 0x78;
/// The first handle `ObjectOutputStream` assigns.
const BASE_HANDLE: u32 = 0x7E_0000;

/// The entries of the map, in the order they were written.
pub fn read(bytes: &[u8]) -> Result<Vec<Entry>, JavaMapError> {
    let mut r = Reader { bytes, at: 0, handles: Vec::new() };
    if !bytes.starts_with(&MAGIC) {
        return Err(r.fail("no Java serialization header (AC ED 00 05)"));
    }
    r.at = MAGIC.len();
    r.expect(TC_OBJECT, "an object")?;
    let class = r.class_desc()?;
    if class != "java.util.HashMap" {
        return Err(r.fail(format!("the object is a {class}, not a java.util.HashMap")));
    }
    r.handles.push(Handle::Other); // the map itself
    r.take(8)?; // loadFactor (float), threshold (int)
    r.expect(TC_BLOCKDATA, "HashMap's block data")?;
    if r.u8()? != 8 {
        return Err(r.fail("HashMap's block data is not 8 bytes (capacity, size)"));
    }
    r.u32()?; // capacity
    let size = r.u32()? as usize;
    let mut entries = Vec::with_capacity(size.min(1 << 16));
    for _ in 0..size {
        let key = r.bytes_or_null()?.ok_or_else(|| r.fail("a null key"))?;
        let value = r.bytes_or_null()?;
        entries.push((key, value));
    }
    r.expect(TC_ENDBLOCKDATA, "the end of the map")?;
    Ok(entries)
}

#[derive(Clone)]
enum Handle {
    ByteArrayClass,
    Bytes(Vec<u8>),
    Other,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    handles: Vec<Handle>,
}

impl Reader<'_> {
    fn fail(&self, what: impl Into<String>) -> JavaMapError {
        JavaMapError { at: self.at, what: what.into() }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], JavaMapError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end =
            end.ok_or_else(|| self.fail(format!("{n} more bytes expected, the file ends")))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, JavaMapError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, JavaMapError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, JavaMapError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn expect(&mut self, tag: u8, what: &str) -> Result<(), JavaMapError> {
        let got = self.u8()?;
        if got != tag {
            self.at -= 1;
            return Err(self.fail(format!("expected {what} (0x{tag:02X}), found 0x{got:02X}")));
        }
        Ok(())
    }

    fn utf(&mut self) -> Result<String, JavaMapError> {
        let n = self.u16()? as usize;
        let s = self.take(n)?;
        Ok(String::from_utf8_lossy(s).into_owned())
    }

    /// A new class description (after TC_CLASSDESC); returns its name.
    /// Fields are skipped: only HashMap's two primitives and `[B` occur.
    fn class_desc(&mut self) -> Result<String, JavaMapError> {
        self.expect(TC_CLASSDESC, "a class description")?;
        let name = self.utf()?;
        self.take(8)?; // serialVersionUID
        self.u8()?; // flags
        let fields = self.u16()?;
        for _ in 0..fields {
            let code = self.u8()?;
            self.utf()?;
            if code == b'L' || code == b'[' {
                return Err(self.fail(format!("class {name} has an object field")));
            }
        }
        self.expect(TC_ENDBLOCKDATA, "the end of the class annotation")?;
        self.expect(TC_NULL, "no superclass")?;
        self.handles.push(if name == "[B" { Handle::ByteArrayClass } else { Handle::Other });
        Ok(name)
    }

    fn handle(&mut self) -> Result<Handle, JavaMapError> {
        let h = self.u32()?;
        let i = h.checked_sub(BASE_HANDLE).map(|i| i as usize);
        match i.and_then(|i| self.handles.get(i)) {
            Some(h) => Ok(h.clone()),
            None => Err(self.fail(format!("reference to unknown handle 0x{h:08X}"))),
        }
    }

    /// A `byte[]` (new or a back reference) or null.
    fn bytes_or_null(&mut self) -> Result<Option<Vec<u8>>, JavaMapError> {
        match self.u8()? {
            TC_NULL => Ok(None),
            TC_REFERENCE => match self.handle()? {
                Handle::Bytes(b) => Ok(Some(b)),
                _ => Err(self.fail("a reference to something that is not a byte[]")),
            },
            TC_ARRAY => {
                let class = match self.bytes.get(self.at) {
                    Some(&TC_REFERENCE) => {
                        self.at += 1;
                        self.handle()?
                    }
                    _ => {
                        let name = self.class_desc()?;
                        if name == "[B" {
                            Handle::ByteArrayClass
                        } else {
                            Handle::Other
                        }
                    }
                };
                if !matches!(class, Handle::ByteArrayClass) {
                    return Err(self.fail("an array that is not a byte[]"));
                }
                let n = self.u32()? as usize;
                let b = self.take(n)?.to_vec();
                self.handles.push(Handle::Bytes(b.clone()));
                Ok(Some(b))
            }
            other => {
                self.at -= 1;
                Err(self.fail(format!("expected a byte[] or null, found 0x{other:02X}")))
            }
        }
    }
}

/// The bytes `FileOffsetBackingStore.save` writes for `entries`: an
/// `ObjectOutputStream` with one `HashMap<byte[], byte[]>` (no null keys).
pub fn write(entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Vec<u8> {
    const HASHMAP_UID: [u8; 8] = [0x05, 0x07, 0xDA, 0xC1, 0xC3, 0x16, 0x60, 0xD1];
    const BYTES_UID: [u8; 8] = [0xAC, 0xF3, 0x17, 0xF8, 0x06, 0x08, 0x54, 0xE0];
    let mut out = MAGIC.to_vec();
    out.extend([TC_OBJECT, TC_CLASSDESC]);
    utf(&mut out, "java.util.HashMap");
    out.extend(HASHMAP_UID);
    out.push(0x03); // SC_SERIALIZABLE | SC_WRITE_METHOD
    out.extend(2u16.to_be_bytes());
    out.push(b'F');
    utf(&mut out, "loadFactor");
    out.push(b'I');
    utf(&mut out, "threshold");
    out.extend([TC_ENDBLOCKDATA, TC_NULL]);
    // Handles: 0 the HashMap class, 1 the map, 2 the byte[] class.
    let capacity = (entries.len() * 4 / 3 + 1).next_power_of_two().max(16) as u32;
    out.extend(0.75f32.to_be_bytes());
    out.extend((capacity / 4 * 3).to_be_bytes());
    out.extend([TC_BLOCKDATA, 8]);
    out.extend(capacity.to_be_bytes());
    out.extend((entries.len() as u32).to_be_bytes());
    let mut class_written = false;
    let mut array = |out: &mut Vec<u8>, b: &[u8]| {
        out.push(TC_ARRAY);
        if class_written {
            out.push(TC_REFERENCE);
            out.extend((BASE_HANDLE + 2).to_be_bytes());
        } else {
            out.push(TC_CLASSDESC);
            utf(out, "[B");
            out.extend(BYTES_UID);
            out.extend([0x02, 0, 0, TC_ENDBLOCKDATA, TC_NULL]); // SC_SERIALIZABLE, no fields
            class_written = true;
        }
        out.extend((b.len() as u32).to_be_bytes());
        out.extend(b);
    };
    for (k, v) in entries {
        array(&mut out, k);
        match v {
            Some(v) => array(&mut out, v),
            None => out.push(TC_NULL),
        }
    }
    out.push(TC_ENDBLOCKDATA);
    out
}

fn utf(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u16).to_be_bytes());
    out.extend(s.as_bytes());
}

//! Packs: many blobs in one file, so small items cost one upload per ~16 MiB,
//! not one per item. Layout: `blob… || seal(header) || u32 LE header length`.
//! The header makes a pack self-describing: the index can be rebuilt from packs.

use crate::error::{Error, Result};
use crate::format::Codec;
use crate::id::Id;

/// What a blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobKind {
    /// A piece of item content.
    Data,
    /// An object tree or folder listing page (JSON).
    Tree,
}

impl BlobKind {
    fn code(self) -> u8 {
        match self {
            BlobKind::Data => 0,
            BlobKind::Tree => 1,
        }
    }
    fn from_code(c: u8) -> Option<BlobKind> {
        match c {
            0 => Some(BlobKind::Data),
            1 => Some(BlobKind::Tree),
            _ => None,
        }
    }
}

/// One blob's entry in a pack header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackEntry {
    pub id: Id,
    pub kind: BlobKind,
    pub compressed: bool,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
}

const ENTRY_LEN: usize = 1 + 1 + 4 + 4 + 32;

/// Accumulates encoded blobs into a pack in memory.
#[derive(Debug, Default)]
pub struct PackBuilder {
    pub buf: Vec<u8>,
    pub entries: Vec<PackEntry>,
    /// Bytes to reserve on first use (target pack size plus one blob).
    pub capacity_hint: usize,
}

impl PackBuilder {
    pub fn with_target(pack_size: u64) -> PackBuilder {
        PackBuilder {
            capacity_hint: pack_size as usize + (1 << 20),
            ..PackBuilder::default()
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn add(
        &mut self,
        id: Id,
        kind: BlobKind,
        stored: &[u8],
        compressed: bool,
        raw_length: u32,
    ) {
        if self.buf.capacity() == 0 {
            // One allocation of the whole pack: growing by doubling would copy
            // it several times and end at twice the target.
            self.buf.reserve_exact(self.capacity_hint);
        }
        let offset = self.buf.len() as u32;
        self.buf.extend_from_slice(stored);
        self.entries.push(PackEntry {
            id,
            kind,
            compressed,
            offset,
            length: stored.len() as u32,
            raw_length,
        });
    }

    /// Finish the pack: returns (pack id, file bytes, entries).
    pub fn finish(mut self, codec: &Codec) -> Result<(Id, Vec<u8>, Vec<PackEntry>)> {
        let mut header = Vec::with_capacity(self.entries.len() * ENTRY_LEN);
        for e in &self.entries {
            header.push(e.kind.code());
            header.push(u8::from(e.compressed));
            header.extend_from_slice(&e.length.to_le_bytes());
            header.extend_from_slice(&e.raw_length.to_le_bytes());
            header.extend_from_slice(&e.id.0);
        }
        let sealed = if codec.encrypted {
            codec.key.seal(&header)?
        } else {
            header
        };
        self.buf.extend_from_slice(&sealed);
        self.buf
            .extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        let id = Id::hash(&self.buf);
        Ok((id, self.buf, self.entries))
    }
}

/// Parse a whole pack file's header (used by verify and index recovery).
pub fn read_header(codec: &Codec, pack: &[u8], name: &str) -> Result<Vec<PackEntry>> {
    if pack.len() < 4 {
        return Err(Error::corrupt(
            name,
            "truncated: shorter than the header length field",
        ));
    }
    let hlen_bytes: [u8; 4] = pack[pack.len() - 4..]
        .try_into()
        .map_err(|_| Error::corrupt(name, "truncated"))?;
    let hlen = u32::from_le_bytes(hlen_bytes) as usize;
    if hlen + 4 > pack.len() {
        return Err(Error::corrupt(
            name,
            format!(
                "header length {hlen} exceeds the pack size {} (truncated?)",
                pack.len()
            ),
        ));
    }
    let sealed = &pack[pack.len() - 4 - hlen..pack.len() - 4];
    let header = if codec.encrypted {
        codec.key.open(sealed, name)?
    } else {
        sealed.to_vec()
    };
    if header.len() % ENTRY_LEN != 0 {
        return Err(Error::corrupt(
            name,
            "header size is not a multiple of the entry size",
        ));
    }
    let blobs_end = (pack.len() - 4 - hlen) as u64;
    let mut offset: u64 = 0;
    let mut out = Vec::with_capacity(header.len() / ENTRY_LEN);
    for raw in header.chunks_exact(ENTRY_LEN) {
        let kind = BlobKind::from_code(raw[0])
            .ok_or_else(|| Error::corrupt(name, format!("unknown blob type code {}", raw[0])))?;
        let le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let length = le(&raw[2..6]);
        let raw_length = le(&raw[6..10]);
        let mut id = [0u8; 32];
        id.copy_from_slice(&raw[10..42]);
        if offset + u64::from(length) > blobs_end {
            return Err(Error::corrupt(
                name,
                "a blob extends past the end of the blob area",
            ));
        }
        out.push(PackEntry {
            id: Id(id),
            kind,
            compressed: raw[1] & 1 == 1,
            offset: offset as u32,
            length,
            raw_length,
        });
        offset += u64::from(length);
    }
    Ok(out)
}

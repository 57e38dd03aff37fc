//! The index: which pack holds each blob. Index files (`index/<id>`) are written
//! after the packs they describe; the in-memory map costs about 70 bytes per
//! unique blob (32-byte id, pack number, offset, lengths, hash-map overhead), so
//! memory grows with unique data only (64 KiB average chunks: ~1.1 MB per GiB).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::id::Id;
use crate::pack::{BlobKind, PackEntry};

/// Where a blob lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLocation {
    pub pack: u32,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
    pub kind: BlobKind,
    pub compressed: bool,
}

/// Index file contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexFile {
    pub packs: Vec<IndexPack>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexPack {
    pub id: Id,
    pub size: u64,
    pub blobs: Vec<IndexBlob>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexBlob {
    pub id: Id,
    #[serde(rename = "type")]
    pub kind: BlobKind,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
    pub compressed: bool,
}

impl IndexPack {
    pub fn from_entries(id: Id, size: u64, entries: &[PackEntry]) -> IndexPack {
        IndexPack {
            id,
            size,
            blobs: entries
                .iter()
                .map(|e| IndexBlob {
                    id: e.id,
                    kind: e.kind,
                    offset: e.offset,
                    length: e.length,
                    raw_length: e.raw_length,
                    compressed: e.compressed,
                })
                .collect(),
        }
    }
}

/// All loaded index files, merged.
#[derive(Debug, Default)]
pub struct Index {
    packs: Vec<(Id, u64)>,
    pack_numbers: HashMap<Id, u32>,
    blobs: HashMap<Id, BlobLocation>,
}

impl Index {
    pub fn add_pack(&mut self, p: &IndexPack) {
        let n = match self.pack_numbers.get(&p.id) {
            Some(n) => *n,
            None => {
                let n = self.packs.len() as u32;
                self.packs.push((p.id, p.size));
                self.pack_numbers.insert(p.id, n);
                n
            }
        };
        for b in &p.blobs {
            // First location wins; duplicates (two sessions wrote the same chunk)
            // are harmless and removed by prune.
            self.blobs.entry(b.id).or_insert(BlobLocation {
                pack: n,
                offset: b.offset,
                length: b.length,
                raw_length: b.raw_length,
                kind: b.kind,
                compressed: b.compressed,
            });
        }
    }

    pub fn get(&self, id: &Id) -> Option<BlobLocation> {
        self.blobs.get(id).copied()
    }

    pub fn contains(&self, id: &Id) -> bool {
        self.blobs.contains_key(id)
    }

    pub fn pack(&self, n: u32) -> (Id, u64) {
        self.packs[n as usize]
    }

    pub fn blobs(&self) -> impl Iterator<Item = (&Id, &BlobLocation)> {
        self.blobs.iter()
    }
}

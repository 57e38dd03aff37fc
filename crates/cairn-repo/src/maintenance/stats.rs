//! `stats`: how much is protected, how much is stored, and why they differ.

use std::collections::HashMap;

use crate::error::Result;
use crate::format::DATA_DIR;
use crate::pack::BlobKind;
use crate::repository::Repository;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub restore_points: usize,
    pub organizations: usize,
    pub protected_objects: usize,
    /// Items in the latest restore point of each object.
    pub latest_items: u64,
    /// Bytes of items in the latest restore point of each object.
    pub latest_logical_bytes: u64,
    /// Bytes of items summed over all restore points (what full copies would take).
    pub total_logical_bytes: u64,
    /// Distinct data chunks and their uncompressed size.
    pub unique_chunks: usize,
    pub unique_bytes: u64,
    /// Tree blobs (listings) count.
    pub tree_blobs: usize,
    /// Bytes of pack files (what the storage bills).
    pub stored_bytes: u64,
    pub packs: usize,
    /// total_logical_bytes / unique_bytes.
    pub dedup_ratio: f64,
    /// unique_bytes / stored data bytes.
    pub compression_ratio: f64,
}

impl Repository {
    pub async fn stats(&self) -> Result<Stats> {
        self.refresh_index().await?;
        let mut s = Stats::default();
        let rps = self.restore_points().await?;
        s.restore_points = rps.len();
        let mut latest: HashMap<(String, String), (u64, u64)> = HashMap::new();
        for rp in &rps {
            for o in &rp.objects {
                s.total_logical_bytes += o.bytes;
                latest.insert(
                    (rp.organization.id.clone(), o.object.id.clone()),
                    (o.items, o.bytes),
                );
            }
        }
        s.organizations = self.organizations().await?.len();
        s.protected_objects = latest.len();
        for (items, bytes) in latest.values() {
            s.latest_items += items;
            s.latest_logical_bytes += bytes;
        }
        let mut stored_data = 0u64;
        {
            let idx = self.index_read()?;
            for (_, loc) in idx.blobs() {
                match loc.kind {
                    BlobKind::Data => {
                        s.unique_chunks += 1;
                        s.unique_bytes += u64::from(loc.raw_length);
                        stored_data += u64::from(loc.length);
                    }
                    BlobKind::Tree => s.tree_blobs += 1,
                }
            }
        }
        for o in self.backend.list(DATA_DIR).await? {
            s.packs += 1;
            s.stored_bytes += o.size;
        }
        if s.unique_bytes > 0 {
            s.dedup_ratio = s.total_logical_bytes as f64 / s.unique_bytes as f64;
        }
        if stored_data > 0 {
            s.compression_ratio = s.unique_bytes as f64 / stored_data as f64;
        }
        Ok(s)
    }
}

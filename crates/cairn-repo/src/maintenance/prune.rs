//! `prune`: under an exclusive lock, keep what restore points and checkpoints
//! reference, repack packs that are mostly garbage, and delete the rest.
//!
//! Crash-safe order: (1) upload repacked packs, (2) write a new complete index,
//! (3) delete the old index files, (4) delete obsolete packs. A crash after (1)
//! leaves unindexed packs; after (2) duplicate index entries; after (3)
//! unindexed packs — all harmless, all cleaned by the next prune. A process
//! killed mid-write (a backup or a prune) can also leave temporary files on the
//! local backend; prune removes those last.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;

use crate::error::Result;
use crate::format::{
    DATA_DIR, INDEX_DIR, KEYS_DIR, LOCKS_DIR, RESTORE_POINTS_DIR, SESSIONS_DIR, pack_id_from_name,
    pack_name,
};
use crate::id::Id;
use crate::index::{IndexFile, IndexPack};
use crate::lock::LockKind;
use crate::pack::PackBuilder;
use crate::repository::Repository;

#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Repack a pack when more than this share of its bytes is unused.
    pub repack_threshold: f64,
    /// Report what would be done without changing anything.
    pub dry_run: bool,
    /// Test hook: stop (as if killed) after this many steps (1..=4).
    pub stop_after_step: Option<u8>,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            repack_threshold: 0.2,
            dry_run: false,
            stop_after_step: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub used_blobs: usize,
    pub packs_deleted: usize,
    pub packs_repacked: usize,
    pub packs_written: usize,
    pub unindexed_packs_deleted: usize,
    /// Temporary files of writes a killed process never finished.
    pub incomplete_writes_removed: usize,
    pub bytes_freed: u64,
}

/// Where temporary files of killed writes are removed, with the age they must
/// have. Only lock holders write to the first four, so under the exclusive lock
/// no write there is live. `locks/` and `keys/` are written without a lock
/// (taking a lock, changing a password): only files older than any such write
/// can take are removed there.
pub(crate) const INCOMPLETE_WRITES: [(&str, Duration); 6] = [
    (DATA_DIR, Duration::ZERO),
    (INDEX_DIR, Duration::ZERO),
    (RESTORE_POINTS_DIR, Duration::ZERO),
    (SESSIONS_DIR, Duration::ZERO),
    (LOCKS_DIR, Duration::from_secs(3600)),
    (KEYS_DIR, Duration::from_secs(3600)),
];

const INDEX_FILE_MAX_PACKS: usize = 4096;

impl Repository {
    pub async fn prune(&self, opts: &PruneOptions) -> Result<PruneReport> {
        let lock = self.lock(LockKind::Exclusive, "prune").await?;
        let res = self.prune_locked(opts).await;
        lock.release().await?;
        res
    }

    async fn prune_locked(&self, opts: &PruneOptions) -> Result<PruneReport> {
        let mut report = PruneReport::default();
        self.reset_index()?;
        self.refresh_index().await?;
        let used = self.used_blobs().await?;
        report.used_blobs = used.len();

        // Every indexed pack with all its blobs (not the merged view, which
        // hides duplicates).
        let index_files: Vec<String> = self
            .backend
            .list(INDEX_DIR)
            .await?
            .into_iter()
            .map(|o| o.name)
            .collect();
        let mut packs: HashMap<Id, IndexPack> = HashMap::new();
        for name in &index_files {
            for p in self.read_index_file(name).await?.packs {
                packs.insert(p.id, p);
            }
        }
        let present: HashMap<Id, u64> = self
            .backend
            .list(DATA_DIR)
            .await?
            .into_iter()
            .filter_map(|o| pack_id_from_name(&o.name).map(|id| (id, o.size)))
            .collect();

        // Decide per pack, visiting fully kept packs first so a blob stored
        // twice is kept where it costs nothing.
        let mut keep: Vec<IndexPack> = Vec::new();
        let mut repack: Vec<IndexPack> = Vec::new();
        let mut delete: Vec<Id> = Vec::new();
        let mut kept_blobs: HashSet<Id> = HashSet::new();
        let mut order: Vec<&IndexPack> = packs
            .values()
            .filter(|p| present.contains_key(&p.id))
            .collect();
        order.sort_by_key(|p| {
            let unused: u64 = p
                .blobs
                .iter()
                .filter(|b| !used.contains(&b.id))
                .map(|b| u64::from(b.length))
                .sum();
            (unused, p.id)
        });
        for p in order {
            let mut useful = 0u64;
            let mut total = 0u64;
            for b in &p.blobs {
                total += u64::from(b.length);
                if used.contains(&b.id) && !kept_blobs.contains(&b.id) {
                    useful += u64::from(b.length);
                }
            }
            if useful == 0 {
                delete.push(p.id);
            } else if total > 0 && (total - useful) as f64 / total as f64 > opts.repack_threshold {
                repack.push(p.clone());
                delete.push(p.id);
            } else {
                kept_blobs.extend(p.blobs.iter().map(|b| b.id));
                keep.push(p.clone());
            }
        }
        let unindexed: Vec<Id> = present
            .keys()
            .filter(|id| !packs.contains_key(id))
            .copied()
            .collect();
        report.unindexed_packs_deleted = unindexed.len();
        report.packs_repacked = repack.len();
        report.packs_deleted = delete.len() - repack.len();
        let mut incomplete = Vec::new();
        for (dir, age) in INCOMPLETE_WRITES {
            incomplete.extend(self.backend.incomplete(dir, age).await?);
        }
        report.incomplete_writes_removed = incomplete.len();
        report.bytes_freed = delete
            .iter()
            .chain(unindexed.iter())
            .filter_map(|id| present.get(id))
            .sum::<u64>()
            + incomplete.iter().map(|o| o.size).sum::<u64>();
        if opts.dry_run {
            return Ok(report);
        }
        // One line per step, so an operator (and the kill test) sees where a
        // long prune is.
        tracing::info!(
            used_blobs = report.used_blobs,
            keep = keep.len(),
            "prune step 1/4: repacking {} packs",
            repack.len()
        );

        // (1) Repack: copy still-used blobs as stored (no re-encryption).
        let mut builder = PackBuilder::with_target(self.config.pack_size);
        let mut new_packs: Vec<IndexPack> = Vec::new();
        for p in &repack {
            let name = pack_name(&p.id);
            let data = self.backend.get(&name).await?;
            for b in &p.blobs {
                if !used.contains(&b.id) || kept_blobs.contains(&b.id) {
                    continue;
                }
                let (start, end) = (b.offset as usize, b.offset as usize + b.length as usize);
                if end > data.len() {
                    return Err(crate::error::Error::corrupt(
                        &name,
                        "truncated; run `cairn repo check` before prune",
                    ));
                }
                builder.add(b.id, b.kind, &data[start..end], b.compressed, b.raw_length);
                kept_blobs.insert(b.id);
                if builder.len() as u64 >= self.config.pack_size {
                    new_packs.push(
                        self.upload_pack(std::mem::replace(
                            &mut builder,
                            PackBuilder::with_target(self.config.pack_size),
                        ))
                        .await?,
                    );
                }
            }
        }
        if !builder.is_empty() {
            new_packs.push(self.upload_pack(builder).await?);
        }
        report.packs_written = new_packs.len();
        if opts.stop_after_step == Some(1) {
            return Ok(report);
        }

        // (2) New complete index.
        tracing::info!(
            packs_written = new_packs.len(),
            "prune step 2/4: writing the new index"
        );
        let all: Vec<IndexPack> = keep.into_iter().chain(new_packs).collect();
        let mut written = Vec::new();
        for chunk in all.chunks(INDEX_FILE_MAX_PACKS) {
            let file = IndexFile {
                packs: chunk.to_vec(),
            };
            let name = format!("{INDEX_DIR}{}", Id::random());
            self.backend
                .put(&name, Bytes::from(self.codec.encode_file(&file)?))
                .await?;
            written.push(name);
        }
        if opts.stop_after_step == Some(2) {
            return Ok(report);
        }

        // (3) Old index files.
        tracing::info!(
            "prune step 3/4: deleting {} old index files",
            index_files.len()
        );
        for name in &index_files {
            if !written.contains(name) {
                self.backend.delete(name).await?;
            }
        }
        if opts.stop_after_step == Some(3) {
            return Ok(report);
        }

        // (4) Obsolete and unindexed packs.
        tracing::info!(
            "prune step 4/4: deleting {} packs",
            delete.len() + unindexed.len()
        );
        for id in delete.iter().chain(unindexed.iter()) {
            self.backend.delete(&pack_name(id)).await?;
        }
        for o in &incomplete {
            self.backend.delete(&o.name).await?;
        }
        self.reset_index()?;
        self.refresh_index().await?;
        Ok(report)
    }

    async fn upload_pack(&self, builder: PackBuilder) -> Result<IndexPack> {
        let codec = self.codec.clone();
        let (id, bytes, entries) = tokio::task::spawn_blocking(move || builder.finish(&codec))
            .await
            .map_err(|e| crate::error::Error::Task(e.to_string()))??;
        let size = bytes.len() as u64;
        self.backend
            .put(&pack_name(&id), Bytes::from(bytes))
            .await?;
        Ok(IndexPack::from_entries(id, size, &entries))
    }
}

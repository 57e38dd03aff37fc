//! Checkpoint and commit: what makes a session's work durable. Folder pages
//! and object trees are written, every pack is uploaded and indexed, then the
//! checkpoint or restore point names them; only then do the written pages become
//! the folders' base (they can be read back once indexed).

use bytes::Bytes;

use super::Session;
use crate::error::{Error, Result};
use crate::format::{RESTORE_POINTS_DIR, SESSIONS_DIR, now_rfc3339};
use crate::manifest::{Checkpoint, FolderEntry, ObjectEntry, ObjectTree, RestorePoint};

impl Session {
    /// Write the trees of every changed object and return the entries of all.
    /// Written listings are released (only their page references stay), and an
    /// object unchanged since its last write costs only its entry.
    async fn object_entries(&self) -> Result<Vec<ObjectEntry>> {
        let works: Vec<_> = self.inner.objects.lock().await.values().cloned().collect();
        let mut entries = Vec::with_capacity(works.len());
        for w in works {
            let mut w = w.lock().await;
            if !w.changed
                && let Some(entry) = &w.entry
            {
                entries.push(entry.clone());
                continue;
            }
            let mut tree = ObjectTree::default();
            let (mut items, mut bytes) = (0u64, 0u64);
            for (fid, f) in w.folders.iter_mut() {
                f.listing.write(self).await?;
                let (pages, count, size) = f.listing.written();
                items += count;
                bytes += size;
                tree.folders.push(FolderEntry {
                    id: fid.clone(),
                    name: f.name.clone(),
                    parent: f.parent.clone(),
                    pages: pages.to_vec(),
                    items: count,
                    bytes: size,
                });
            }
            let tree_id = self.store_tree(&tree).await?;
            let entry = ObjectEntry {
                object: w.object.clone(),
                state: w.state.clone(),
                tree: tree_id,
                items,
                bytes,
            };
            w.entry = Some(entry.clone());
            w.changed = false;
            entries.push(entry);
        }
        entries.sort_by(|a, b| a.object.id.cmp(&b.object.id));
        Ok(entries)
    }

    /// After the pages written by `object_entries` are indexed: make them the
    /// folders' base and release the changes they hold.
    async fn apply_written(&self) {
        let works: Vec<_> = self.inner.objects.lock().await.values().cloned().collect();
        for w in works {
            for f in w.lock().await.folders.values_mut() {
                f.listing.apply();
            }
        }
    }

    /// Write every changed object, upload and index every pack, then make the
    /// written pages the folders' base; returns the entries of all objects.
    /// Callers hold `checkpointing`.
    async fn write_all(&self) -> Result<Vec<ObjectEntry>> {
        let objects = self.object_entries().await?;
        self.flush_all().await?;
        self.apply_written().await;
        Ok(objects)
    }

    /// Make everything written so far durable and resumable
    /// (`Repository::resume_session`).
    pub async fn checkpoint(&self) -> Result<()> {
        let _one = self.inner.checkpointing.lock().await;
        let objects = self.write_all().await?;
        let cp = Checkpoint {
            version: 1,
            session: self.inner.id,
            organization: self.inner.opts.organization.clone(),
            job: self.inner.opts.job.clone(),
            started: self.inner.started.clone(),
            checkpointed: now_rfc3339(),
            objects,
        };
        let repo = &self.inner.repo;
        let data = repo.codec.encode_file(&cp)?;
        repo.backend
            .put(
                &format!("{SESSIONS_DIR}{}", self.inner.id),
                Bytes::from(data),
            )
            .await?;
        Ok(())
    }

    /// Finish the session: write the restore point, drop the checkpoint, unlock.
    /// Call after every `put_item` has returned.
    pub async fn commit(self) -> Result<RestorePoint> {
        let _one = self.inner.checkpointing.lock().await;
        let objects = self.write_all().await?;
        let rp = RestorePoint {
            version: 1,
            id: uuid::Uuid::new_v4(),
            session: self.inner.id,
            organization: self.inner.opts.organization.clone(),
            job: self.inner.opts.job.clone(),
            started: self.inner.started.clone(),
            created: now_rfc3339(),
            objects,
        };
        let repo = &self.inner.repo;
        let data = repo.codec.encode_file(&rp)?;
        let name = format!("{RESTORE_POINTS_DIR}{}", rp.id);
        if !repo.backend.put_if_absent(&name, Bytes::from(data)).await? {
            return Err(Error::Invalid(format!(
                "restore point {name} already exists"
            )));
        }
        repo.backend
            .delete(&format!("{SESSIONS_DIR}{}", self.inner.id))
            .await?;
        if let Some(lock) = self.inner.lock.lock().await.take() {
            lock.release().await?;
        }
        Ok(rp)
    }

    /// Give up: release the lock. What was uploaded stays until prune (or a
    /// resume, if the session had checkpointed).
    pub async fn abort(self) -> Result<()> {
        if let Some(lock) = self.inner.lock.lock().await.take() {
            lock.release().await?;
        }
        Ok(())
    }
}

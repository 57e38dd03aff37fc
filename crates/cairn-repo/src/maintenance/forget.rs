//! `forget`: remove restore points the operator no longer wants to keep. Only
//! the manifests go; the data they alone referenced becomes garbage that the
//! next `prune` frees. Deleting a manifest is a single atomic delete, so a crash
//! leaves each restore point either whole or gone.

use crate::error::{Error, Result};
use crate::format::RESTORE_POINTS_DIR;
use crate::lock::LockKind;
use crate::repository::Repository;

impl Repository {
    /// Delete the manifests of the given restore points. All ids are checked
    /// before anything is deleted: an unknown id deletes nothing. Holds a shared
    /// lock so it never interleaves with a prune deciding what is garbage.
    pub async fn forget_restore_points(&self, ids: &[uuid::Uuid]) -> Result<()> {
        let lock = self.lock(LockKind::Shared, "forget restore points").await?;
        let res = self.forget_locked(ids).await;
        lock.release().await?;
        res
    }

    async fn forget_locked(&self, ids: &[uuid::Uuid]) -> Result<()> {
        // Manifest names by restore point id (the file name is the id, but the
        // manifest is what says so).
        self.restore_points().await?;
        let names: Vec<String> = {
            let cache = self
                .restore_points
                .lock()
                .map_err(|_| Error::Task("restore point cache poisoned".into()))?;
            let mut names = Vec::with_capacity(ids.len());
            for id in ids {
                let name = cache
                    .iter()
                    .find(|(name, rp)| rp.id == *id && name.starts_with(RESTORE_POINTS_DIR))
                    .map(|(name, _)| name.clone())
                    .ok_or_else(|| Error::NotFound {
                        what: format!("restore point {id} (see `cairn repo show` for the ids)"),
                    })?;
                names.push(name);
            }
            names
        };
        for name in &names {
            self.backend.delete(name).await?;
            self.restore_points
                .lock()
                .map_err(|_| Error::Task("restore point cache poisoned".into()))?
                .remove(name);
        }
        Ok(())
    }
}

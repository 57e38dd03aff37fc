//! Maintenance: `check` (structure and references, optionally reading and
//! re-hashing data), `forget` (remove restore points), `prune` (drop what no
//! restore point references, repack partly used packs) and `stats`.

mod check;
mod forget;
mod prune;
mod stats;

pub use check::{CheckOptions, CheckReport, Problem};
pub use prune::{PruneOptions, PruneReport};
pub use stats::Stats;

use std::collections::HashSet;

use crate::error::Result;
use crate::format::SESSIONS_DIR;
use crate::id::Id;
use crate::manifest::{Checkpoint, ListingPage, ObjectEntry, ObjectTree};
use crate::repository::Repository;

impl Repository {
    /// Every object entry that keeps data alive: restore points and checkpoints
    /// of unfinished sessions, with a label for messages.
    pub(crate) async fn roots(&self) -> Result<Vec<(String, ObjectEntry)>> {
        let mut out = Vec::new();
        for rp in self.restore_points().await? {
            for o in &rp.objects {
                out.push((format!("restore point {}", rp.id), o.clone()));
            }
        }
        for obj in self.backend.list(SESSIONS_DIR).await? {
            let data = self.backend.get(&obj.name).await?;
            let cp: Checkpoint = self.codec.decode_file(&data, &obj.name)?;
            for o in cp.objects {
                out.push((format!("checkpoint {}", obj.name), o));
            }
        }
        Ok(out)
    }

    /// All blob ids reachable from the roots. Fails on the first unreadable tree:
    /// prune must never run on a partial picture.
    pub(crate) async fn used_blobs(&self) -> Result<HashSet<Id>> {
        let mut used = HashSet::new();
        for (_, o) in self.roots().await? {
            if !used.insert(o.tree) {
                continue;
            }
            let tree: ObjectTree = self.load_tree(&o.tree).await?;
            for f in tree.folders {
                for p in f.pages {
                    if !used.insert(p.blob) {
                        continue;
                    }
                    let page: ListingPage = self.load_tree(&p.blob).await?;
                    for item in page.items {
                        used.extend(item.chunks);
                    }
                }
            }
        }
        Ok(used)
    }
}

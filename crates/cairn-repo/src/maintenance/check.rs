//! `check`: every index, pack, restore point, checkpoint, tree and item
//! reference, reporting every problem found (not stopping at the first), with
//! damaged items named. With `read_data`, packs are read and every blob
//! decrypted, decompressed and re-hashed (`verify`), all or a sample.

use std::collections::{HashMap, HashSet};

use crate::error::Result;
use crate::format::{DATA_DIR, INDEX_DIR, KEYS_DIR, pack_id_from_name, pack_name};
use crate::id::Id;
use crate::index::IndexPack;
use crate::manifest::{ListingPage, ObjectTree};
use crate::pack::read_header;
use crate::repository::Repository;

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Read and re-hash blob data (verify).
    pub read_data: bool,
    /// With `read_data`: percentage of packs to read (1..=100); 100 if `None`.
    pub sample_percent: Option<u8>,
}

/// One problem, naming the damaged object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub object: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.object, self.message)
    }
}

#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub problems: Vec<Problem>,
    /// Harmless findings (unreferenced packs left by a crash…).
    pub warnings: Vec<String>,
    pub packs: usize,
    pub packs_read: usize,
    pub blobs: usize,
    pub restore_points: usize,
    pub items: u64,
    /// Items that cannot be restored, `object/folder/item` per entry.
    pub damaged_items: Vec<String>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, object: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            object: object.into(),
            message: message.into(),
        });
    }
}

impl Repository {
    pub async fn check(&self, opts: &CheckOptions) -> Result<CheckReport> {
        let mut r = CheckReport::default();

        // Key slots must at least parse.
        for obj in self.backend.list(KEYS_DIR).await? {
            match self.backend.get(&obj.name).await {
                Ok(d) => {
                    if let Err(e) = serde_json::from_slice::<crate::crypto::KeySlot>(&d) {
                        r.problem(&obj.name, format!("invalid key slot: {e}"));
                    }
                }
                Err(e) => r.problem(&obj.name, e.to_string()),
            }
        }

        // Index files, read afresh.
        let mut packs: HashMap<Id, IndexPack> = HashMap::new();
        for obj in self.backend.list(INDEX_DIR).await? {
            match self.read_index_file(&obj.name).await {
                Ok(f) => {
                    for p in f.packs {
                        packs.insert(p.id, p);
                    }
                }
                Err(e) => r.problem(&obj.name, format!("unreadable index: {e}")),
            }
        }
        self.refresh_index().await?;

        // Packs present vs indexed.
        let present: HashMap<Id, u64> = self
            .backend
            .list(DATA_DIR)
            .await?
            .into_iter()
            .filter_map(|o| pack_id_from_name(&o.name).map(|id| (id, o.size)))
            .collect();
        r.packs = present.len();
        // Blobs that cannot be read, with the reason.
        let mut bad: HashMap<Id, String> = HashMap::new();
        let mut blob_ids: HashSet<Id> = HashSet::new();
        for p in packs.values() {
            let name = pack_name(&p.id);
            for b in &p.blobs {
                blob_ids.insert(b.id);
            }
            match present.get(&p.id) {
                None => {
                    r.problem(
                        &name,
                        format!("pack is missing ({} blobs lost)", p.blobs.len()),
                    );
                    for b in &p.blobs {
                        bad.insert(b.id, format!("its pack {name} is missing"));
                    }
                }
                Some(&size) if size != p.size => {
                    r.problem(
                        &name,
                        format!(
                            "pack is {size} bytes, the index says {} (truncated or replaced)",
                            p.size
                        ),
                    );
                    for b in &p.blobs {
                        if u64::from(b.offset) + u64::from(b.length) > size || size > p.size {
                            bad.insert(b.id, format!("its pack {name} is truncated"));
                        }
                    }
                }
                Some(_) => {}
            }
        }
        for id in present.keys() {
            if !packs.contains_key(id) {
                r.warnings.push(format!(
                    "{} is not in any index (left by an interrupted run; prune removes it)",
                    pack_name(id)
                ));
            }
        }
        r.blobs = blob_ids.len();
        let mut incomplete = 0;
        for (dir, age) in super::prune::INCOMPLETE_WRITES {
            incomplete += self.backend.incomplete(dir, age).await?.len();
        }
        if incomplete > 0 {
            r.warnings.push(format!(
                "{incomplete} temporary files of unfinished writes (left by an interrupted run; prune removes them)"
            ));
        }

        if opts.read_data {
            self.read_packs(opts, &packs, &present, &mut bad, &mut r)
                .await?;
        }

        // Restore points, checkpoints and everything they reference.
        let rps = match self.restore_points().await {
            Ok(v) => v,
            Err(e) => {
                r.problem("restorepoints/", e.to_string());
                Vec::new()
            }
        };
        r.restore_points = rps.len();
        let mut roots = Vec::new();
        for rp in &rps {
            for o in &rp.objects {
                roots.push((format!("restore point {}", rp.id), o.clone()));
            }
        }
        match self.roots().await {
            Ok(all) => roots.extend(all.into_iter().filter(|(l, _)| l.starts_with("checkpoint"))),
            Err(e) => r.problem("sessions/", format!("unreadable checkpoint: {e}")),
        }
        let blob_ok = |id: &Id, bad: &HashMap<Id, String>| -> Option<String> {
            if let Some(reason) = bad.get(id) {
                return Some(reason.clone());
            }
            if !blob_ids.contains(id) {
                return Some("it is not in any index".into());
            }
            None
        };
        let mut seen_pages: HashSet<Id> = HashSet::new();
        let mut seen_trees: HashSet<Id> = HashSet::new();
        let mut damaged: HashSet<String> = HashSet::new();
        for (label, o) in roots {
            if !seen_trees.insert(o.tree) {
                continue;
            }
            let what = format!("{label}, object {} ({})", o.object.id, o.object.name);
            let tree: ObjectTree = match self.load_tree(&o.tree).await {
                Ok(t) => t,
                Err(e) => {
                    r.problem(&what, format!("object tree {} unreadable: {e}", o.tree));
                    continue;
                }
            };
            for f in tree.folders {
                for p in &f.pages {
                    if !seen_pages.insert(p.blob) {
                        continue;
                    }
                    let page: ListingPage = match self.load_tree(&p.blob).await {
                        Ok(pg) => pg,
                        Err(e) => {
                            r.problem(
                                format!("{what}, folder {}", f.id),
                                format!(
                                    "listing page {} unreadable ({} items lost): {e}",
                                    p.blob, p.count
                                ),
                            );
                            continue;
                        }
                    };
                    for item in page.items {
                        r.items += 1;
                        let reasons: Vec<String> = item
                            .chunks
                            .iter()
                            .filter_map(|c| {
                                blob_ok(c, &bad).map(|why| format!("chunk {} ({why})", c.short()))
                            })
                            .collect();
                        if !reasons.is_empty() {
                            let key = format!("{}/{}/{}", o.object.id, f.id, item.id);
                            if damaged.insert(format!("{key}@{}", item.version)) {
                                r.problem(
                                    format!("{what}, folder {}, item {}", f.id, item.id),
                                    format!("cannot be restored: {}", reasons.join(", ")),
                                );
                                r.damaged_items.push(key);
                            }
                        }
                    }
                }
            }
        }
        r.damaged_items.sort();
        r.damaged_items.dedup();
        Ok(r)
    }

    async fn read_packs(
        &self,
        opts: &CheckOptions,
        packs: &HashMap<Id, IndexPack>,
        present: &HashMap<Id, u64>,
        bad: &mut HashMap<Id, String>,
        r: &mut CheckReport,
    ) -> Result<()> {
        let pct = u64::from(opts.sample_percent.unwrap_or(100).clamp(1, 100));
        for p in packs.values() {
            if !present.contains_key(&p.id) {
                continue;
            }
            // Deterministic sample by pack id: a different subset per pack set.
            if pct < 100 && u64::from(p.id.0[0]) * 100 / 256 >= pct {
                continue;
            }
            r.packs_read += 1;
            let name = pack_name(&p.id);
            let data = match self.backend.get(&name).await {
                Ok(d) => d,
                Err(e) => {
                    r.problem(&name, format!("unreadable: {e}"));
                    for b in &p.blobs {
                        bad.insert(b.id, format!("its pack {name} is unreadable"));
                    }
                    continue;
                }
            };
            let codec = self.codec.clone();
            let pack = p.clone();
            let pname = name.clone();
            let (problems, damaged) = tokio::task::spawn_blocking(move || {
                let mut problems = Vec::new();
                let mut damaged = Vec::new();
                if Id::hash(&data) != pack.id {
                    problems.push(format!(
                        "content does not match the pack id (modified or truncated), {} bytes",
                        data.len()
                    ));
                }
                if let Err(e) = read_header(&codec, &data, &pname) {
                    problems.push(format!("header unreadable: {e}"));
                }
                for b in &pack.blobs {
                    let end = b.offset as usize + b.length as usize;
                    let res = if end > data.len() {
                        Err("outside the pack (truncated)".to_string())
                    } else {
                        codec
                            .decode_blob(
                                &data[b.offset as usize..end],
                                b.compressed,
                                b.raw_length,
                                &b.id,
                            )
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    };
                    if let Err(e) = res {
                        damaged.push((b.id, e));
                    }
                }
                (problems, damaged)
            })
            .await
            .map_err(|e| crate::error::Error::Task(e.to_string()))?;
            for m in problems {
                r.problem(&name, m);
            }
            for (id, e) in damaged {
                r.problem(format!("blob {id} in {name}"), e);
                bad.insert(id, format!("damaged in {name}"));
            }
        }
        Ok(())
    }
}

//! Listing pages kept for lookups (`ObjectWriter::item`, `locate`), as their JSON
//! text: a probe finds one item by binary search, parsing only the ids it
//! compares and then the one entry it returns.
//!
//! Why not decoded pages: an incremental session probes many folders per changed
//! item (a new item may be a move from a folder not read yet), and decoding a
//! whole page of up to 2,048 entries (metadata maps, hex chunk ids) on each miss
//! was most of that session's CPU. Text is also what the budget measures, so the
//! cache holds what it says.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::id::Id;
use crate::manifest::ItemEntry;
use crate::repository::Repository;
use crate::session::poisoned;

/// A listing page's entries, each kept as its JSON text (sorted by id).
#[derive(Deserialize)]
struct LazyPage {
    items: Vec<Box<RawValue>>,
}

/// The one field a probe needs; the rest of the entry is skipped, not built.
#[derive(Deserialize)]
struct EntryId<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

impl LazyPage {
    fn find(&self, id: &str, page: &Id) -> Result<Option<ItemEntry>> {
        let bad = |e: serde_json::Error| {
            Error::corrupt(
                format!("listing page {page}"),
                format!("invalid entry: {e}"),
            )
        };
        let (mut lo, mut hi) = (0, self.items.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let raw = self.items[mid].get();
            let probe: EntryId = serde_json::from_str(raw).map_err(bad)?;
            match probe.id.as_ref().cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    return serde_json::from_str(raw).map(Some).map_err(bad);
                }
            }
        }
        Ok(None)
    }
}

/// Listing pages recently probed, bounded by their JSON size, most recently used
/// last.
pub(crate) struct PageCache {
    pages: Mutex<VecDeque<(Id, Arc<LazyPage>, usize)>>,
    budget: usize,
}

impl PageCache {
    pub(crate) fn new(budget: usize) -> PageCache {
        PageCache {
            pages: Mutex::new(VecDeque::new()),
            budget,
        }
    }

    /// The entry `item` of the listing page `page`, if there.
    pub(crate) async fn find(
        &self,
        repo: &Repository,
        page: &Id,
        item: &str,
    ) -> Result<Option<ItemEntry>> {
        self.page(repo, page).await?.find(item, page)
    }

    async fn page(&self, repo: &Repository, id: &Id) -> Result<Arc<LazyPage>> {
        {
            let mut pages = self.pages.lock().map_err(poisoned)?;
            if let Some(pos) = pages.iter().position(|(p, _, _)| p == id)
                && let Some(hit) = pages.remove(pos)
            {
                let page = hit.1.clone();
                pages.push_back(hit);
                return Ok(page);
            }
        }
        let data = repo.load_blob(id).await?;
        let page: LazyPage = serde_json::from_slice(&data).map_err(|e| {
            Error::corrupt(format!("listing page {id}"), format!("invalid JSON: {e}"))
        })?;
        let page = Arc::new(page);
        let mut pages = self.pages.lock().map_err(poisoned)?;
        pages.push_back((*id, page.clone(), data.len()));
        let mut total: usize = pages.iter().map(|(_, _, s)| s).sum();
        while total > self.budget && pages.len() > 1 {
            if let Some((_, _, s)) = pages.pop_front() {
                total -= s;
            }
        }
        Ok(page)
    }
}

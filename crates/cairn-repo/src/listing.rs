//! A folder's listing while a session changes it: the base pages (from the
//! restore point or checkpoint the session started from, or from its own last
//! checkpoint) plus this session's changes ([`ChangeSet`], bounded in memory).
//! Nothing of the base is held but its page references: lookups binary-search
//! the pages by their first id and read one page (a small cache of page texts
//! serves repeated probes, [`cache`]); writing streams base pages ⊕ changes into new pages,
//! reusing untouched pages as they are, so memory does not grow with the folder.

use crate::error::{Error, Result};
use crate::id::Id;
use crate::manifest::{ItemEntry, ListingPage, PageRef};
use crate::repository::Repository;
use crate::session::Session;
use crate::spill::{ChangeSet, Merge, SpillBound};

mod cache;

pub(crate) use cache::PageCache;

/// Pages end after an item whose keyed id hash starts with 0 or at this size.
pub(crate) const PAGE_MAX_ITEMS: usize = 2048;

/// Read one listing page (not cached); also returns its plaintext size.
async fn load_page(repo: &Repository, id: &Id) -> Result<(ListingPage, usize)> {
    let data = repo.load_blob(id).await?;
    let page = serde_json::from_slice(&data)
        .map_err(|e| Error::corrupt(format!("listing page {id}"), format!("invalid JSON: {e}")))?;
    Ok((page, data.len()))
}

/// A folder's items: base pages plus this session's changes.
///
/// Pages written at a checkpoint cannot be read back before their pack is
/// indexed at the end of that checkpoint, so writing is two steps: `write`
/// freezes the changes and writes the new pages aside (`pending`); lookups keep
/// using the old base and the frozen changes; `apply`, once the pages are
/// indexed, makes them the base and releases the frozen changes.
#[derive(Default)]
pub(crate) struct Listing {
    pages: Vec<PageRef>,
    /// Total size of the items in `pages`.
    bytes: u64,
    /// Changes being written, oldest first (more than one only after a failed
    /// checkpoint).
    frozen: Vec<ChangeSet>,
    /// Pages (and their bytes) written from `pages` ⊕ `frozen`, not yet indexed.
    pending: Option<(Vec<PageRef>, u64)>,
    changes: ChangeSet,
}

impl Listing {
    pub(crate) fn new(pages: Vec<PageRef>, bytes: u64) -> Listing {
        Listing {
            pages,
            bytes,
            ..Listing::default()
        }
    }

    /// Pages, item count and bytes as last written.
    pub(crate) fn written(&self) -> (&[PageRef], u64, u64) {
        let (pages, bytes) = match &self.pending {
            Some((pages, bytes)) => (pages.as_slice(), *bytes),
            None => (self.pages.as_slice(), self.bytes),
        };
        let count = pages.iter().map(|p| u64::from(p.count)).sum();
        (pages, count, bytes)
    }

    /// The pages last written are indexed: make them the base.
    pub(crate) fn apply(&mut self) {
        if let Some((pages, bytes)) = self.pending.take() {
            self.pages = pages;
            self.bytes = bytes;
            self.frozen.clear();
        }
    }

    /// Every change set, oldest first.
    fn all_changes(&self) -> Vec<&ChangeSet> {
        self.frozen.iter().chain([&self.changes]).collect()
    }

    pub(crate) fn put(&mut self, entry: ItemEntry, bound: SpillBound) -> Result<()> {
        self.changes.put(entry.id.clone(), Some(entry), bound)
    }

    pub(crate) fn delete(&mut self, id: &str, bound: SpillBound) -> Result<()> {
        self.changes.put(id.to_string(), None, bound)
    }

    /// The item as currently recorded (changes first, then one base page).
    pub(crate) async fn get(
        &self,
        repo: &Repository,
        cache: &PageCache,
        id: &str,
    ) -> Result<Option<ItemEntry>> {
        for set in self.all_changes().into_iter().rev() {
            if let Some(change) = set.get(id)? {
                return Ok(change);
            }
        }
        let at = self.pages.partition_point(|p| p.first.as_str() <= id);
        let Some(page) = at.checked_sub(1).and_then(|i| self.pages.get(i)) else {
            return Ok(None);
        };
        cache.find(repo, &page.blob, id).await
    }

    /// Ids of every item currently recorded, in order (one page in memory at a time).
    pub(crate) async fn ids(&self, repo: &Repository) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut changes = Merge::over(&self.all_changes())?;
        for p in &self.pages {
            let (page, _) = load_page(repo, &p.blob).await?;
            for item in page.items {
                while let Some(id) = changes.peek_id()
                    && id < item.id.as_str()
                {
                    if let Some((id, Some(_))) = changes.next()? {
                        out.push(id);
                    }
                }
                if changes.peek_id() == Some(item.id.as_str()) {
                    if let Some((id, Some(_))) = changes.next()? {
                        out.push(id);
                    }
                } else {
                    out.push(item.id);
                }
            }
        }
        while let Some(c) = changes.next()? {
            if let (id, Some(_)) = c {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Write the listing as pages (base ⊕ changes, streamed) aside, as
    /// `pending`; the changes so far are frozen until `apply`.
    pub(crate) async fn write(&mut self, session: &Session) -> Result<()> {
        if !self.changes.is_empty() {
            self.frozen.push(std::mem::take(&mut self.changes));
        }
        if self.frozen.is_empty() {
            return Ok(());
        }
        let repo = session.inner.repo.clone();
        let mut out = PageWriter::default();
        let mut replaced_bytes = 0u64;
        {
            let frozen: Vec<&ChangeSet> = self.frozen.iter().collect();
            let mut changes = Merge::over(&frozen)?;
            for (i, page) in self.pages.iter().enumerate() {
                let upper = self.pages.get(i + 1).map(|p| p.first.as_str());
                // Changes before the first page.
                while let Some(id) = changes.peek_id()
                    && id < page.first.as_str()
                {
                    if let Some((_, Some(e))) = changes.next()? {
                        out.push(session, e).await?;
                    }
                }
                let touched = changes
                    .peek_id()
                    .is_some_and(|id| upper.is_none_or(|u| id < u));
                if !touched && out.is_empty() {
                    // A page starting fresh with the same items ends at the same
                    // place: keep it as it is (same blob, nothing to read).
                    out.pages.push(page.clone());
                    continue;
                }
                let (base, _) = load_page(&repo, &page.blob).await?;
                for item in base.items {
                    replaced_bytes += item.size;
                    while let Some(id) = changes.peek_id()
                        && id < item.id.as_str()
                    {
                        if let Some((_, Some(e))) = changes.next()? {
                            out.push(session, e).await?;
                        }
                    }
                    if changes.peek_id() == Some(item.id.as_str()) {
                        if let Some((_, Some(e))) = changes.next()? {
                            out.push(session, e).await?;
                        }
                    } else {
                        out.push(session, item).await?;
                    }
                }
                if let Some(u) = upper {
                    while let Some(id) = changes.peek_id()
                        && id < u
                    {
                        if let Some((_, Some(e))) = changes.next()? {
                            out.push(session, e).await?;
                        }
                    }
                }
            }
            while let Some(c) = changes.next()? {
                if let (_, Some(e)) = c {
                    out.push(session, e).await?;
                }
            }
            out.flush(session).await?;
        }
        let bytes = self.bytes.saturating_sub(replaced_bytes) + out.bytes;
        self.pending = Some((out.pages, bytes));
        Ok(())
    }
}

/// Cuts a sorted stream of items into pages at content-defined boundaries.
#[derive(Default)]
struct PageWriter {
    page: Vec<ItemEntry>,
    pages: Vec<PageRef>,
    /// Bytes of the items written (not of reused pages).
    bytes: u64,
}

impl PageWriter {
    fn is_empty(&self) -> bool {
        self.page.is_empty()
    }

    async fn push(&mut self, session: &Session, item: ItemEntry) -> Result<()> {
        // Content-defined page ends: inserting one item changes one page.
        let boundary = session.inner.repo.codec.blob_id(item.id.as_bytes()).0[0] == 0;
        self.bytes += item.size;
        self.page.push(item);
        if boundary || self.page.len() >= PAGE_MAX_ITEMS {
            self.flush(session).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, session: &Session) -> Result<()> {
        let Some(first) = self.page.first().map(|i| i.id.clone()) else {
            return Ok(());
        };
        let count = self.page.len() as u32;
        let blob = session
            .store_tree(&ListingPage {
                items: std::mem::take(&mut self.page),
            })
            .await?;
        self.pages.push(PageRef { blob, first, count });
        Ok(())
    }
}

//! A folder's changes in a session, with bounded memory. Upserts and deletions
//! are kept in memory up to a bound; beyond it they are spilled as a sorted run
//! to an anonymous local temporary file (gone when dropped, even after a crash).
//! Runs are merged pairwise when they grow alike (like a binary counter), so a
//! folder of n changes has at most log2(n / bound) runs and each change is
//! rewritten log times at most. A lookup probes the memory, then each run through
//! a sparse in-memory index (one id every `SPARSE` records): one block read per run.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use crate::error::{Error, Result};
use crate::manifest::ItemEntry;

/// One change: the item's new entry, or `None` for a deletion.
pub(crate) type Change = (String, Option<ItemEntry>);

/// Every `SPARSE`th id of a run is kept in memory.
const SPARSE: usize = 32;

/// In-memory bounds before a spill (entries, approximate bytes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpillBound {
    pub(crate) entries: usize,
    pub(crate) bytes: usize,
}

impl Default for SpillBound {
    fn default() -> Self {
        // Measured on `cairn bench exchange`: 4,096 / 4 MiB still let peak
        // RSS follow mailbox size (15 × 4,000 messages: 407 MiB vs 280 at 1,000).
        SpillBound {
            entries: 1024,
            bytes: 1 << 20,
        }
    }
}

fn io_error(what: &str, source: std::io::Error) -> Error {
    Error::Io {
        path: format!(
            "temporary file of a folder's changes ({what}) in {}",
            std::env::temp_dir().display()
        ),
        source,
    }
}

/// Approximate heap size of an entry (for the memory bound).
fn approx_size(id: &str, e: &Option<ItemEntry>) -> usize {
    fn json(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::String(s) => 24 + s.len(),
            serde_json::Value::Array(a) => 24 + a.iter().map(json).sum::<usize>(),
            serde_json::Value::Object(o) => {
                48 + o.iter().map(|(k, v)| 32 + k.len() + json(v)).sum::<usize>()
            }
            _ => 16,
        }
    }
    let entry = e.as_ref().map_or(0, |e| {
        96 + e.id.len() + e.chunks.len() * 32 + json(&e.metadata)
    });
    64 + id.len() + entry
}

/// A sorted run in its own temporary file.
struct Run {
    file: File,
    count: usize,
    /// (id, byte offset) of records 0, SPARSE, 2·SPARSE…
    sparse: Vec<(String, u64)>,
}

fn write_record(w: &mut impl Write, c: &Change, offset: &mut u64) -> Result<()> {
    let json = serde_json::to_vec(c)
        .map_err(|e| Error::Invalid(format!("cannot encode item {}: {e}", c.0)))?;
    let len = u32::try_from(json.len())
        .map_err(|_| Error::Invalid(format!("item {} entry is larger than 4 GiB", c.0)))?;
    w.write_all(&len.to_le_bytes())
        .and_then(|()| w.write_all(&json))
        .map_err(|e| io_error("write", e))?;
    *offset += 4 + json.len() as u64;
    Ok(())
}

fn read_record(r: &mut impl Read) -> Result<Change> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).map_err(|e| io_error("read", e))?;
    let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut buf).map_err(|e| io_error("read", e))?;
    serde_json::from_slice(&buf).map_err(|e| {
        Error::corrupt(
            "temporary file of a folder's changes",
            format!("unreadable record: {e}"),
        )
    })
}

impl Run {
    /// Write a sorted sequence of changes as a run.
    fn write(changes: impl Iterator<Item = Result<Change>>) -> Result<Run> {
        let file = tempfile::tempfile().map_err(|e| io_error("create", e))?;
        let mut w = BufWriter::with_capacity(64 << 10, &file);
        let (mut count, mut offset, mut sparse) = (0usize, 0u64, Vec::new());
        for c in changes {
            let c = c?;
            if count % SPARSE == 0 {
                sparse.push((c.0.clone(), offset));
            }
            write_record(&mut w, &c, &mut offset)?;
            count += 1;
        }
        w.flush().map_err(|e| io_error("write", e))?;
        drop(w);
        Ok(Run {
            file,
            count,
            sparse,
        })
    }

    fn reader(&self) -> Result<RunReader<'_>> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| io_error("seek", e))?;
        let mut r = RunReader {
            reader: BufReader::with_capacity(64 << 10, file),
            remaining: self.count,
            head: None,
        };
        r.advance()?;
        Ok(r)
    }

    /// The change recorded for `id` in this run, if any.
    fn find(&self, id: &str) -> Result<Option<Option<ItemEntry>>> {
        let block = self.sparse.partition_point(|(s, _)| s.as_str() <= id);
        if block == 0 {
            return Ok(None);
        }
        let (_, offset) = &self.sparse[block - 1];
        let mut file = &self.file;
        file.seek(SeekFrom::Start(*offset))
            .map_err(|e| io_error("seek", e))?;
        let mut r = BufReader::with_capacity(16 << 10, file);
        let n = SPARSE.min(self.count - (block - 1) * SPARSE);
        for _ in 0..n {
            let (rid, entry) = read_record(&mut r)?;
            match rid.as_str().cmp(id) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return Ok(Some(entry)),
                std::cmp::Ordering::Greater => break,
            }
        }
        Ok(None)
    }
}

/// Streams one run in order.
struct RunReader<'a> {
    reader: BufReader<&'a File>,
    remaining: usize,
    head: Option<Change>,
}

impl RunReader<'_> {
    fn advance(&mut self) -> Result<()> {
        self.head = if self.remaining == 0 {
            None
        } else {
            self.remaining -= 1;
            Some(read_record(&mut self.reader)?)
        };
        Ok(())
    }
}

/// A folder's changes in this session.
#[derive(Default)]
pub(crate) struct ChangeSet {
    mem: BTreeMap<String, Option<ItemEntry>>,
    mem_bytes: usize,
    /// Oldest first; a newer run's change wins.
    runs: Vec<Run>,
}

impl ChangeSet {
    pub(crate) fn is_empty(&self) -> bool {
        self.mem.is_empty() && self.runs.is_empty()
    }

    /// Record a change (replacing any earlier one for the same id).
    pub(crate) fn put(
        &mut self,
        id: String,
        entry: Option<ItemEntry>,
        bound: SpillBound,
    ) -> Result<()> {
        self.mem_bytes += approx_size(&id, &entry);
        self.mem.insert(id, entry);
        if self.mem.len() >= bound.entries || self.mem_bytes >= bound.bytes {
            self.spill()?;
        }
        Ok(())
    }

    /// The change recorded for `id`: `Some(None)` if deleted, `None` if untouched.
    pub(crate) fn get(&self, id: &str) -> Result<Option<Option<ItemEntry>>> {
        if let Some(e) = self.mem.get(id) {
            return Ok(Some(e.clone()));
        }
        for run in self.runs.iter().rev() {
            if let Some(e) = run.find(id)? {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    fn spill(&mut self) -> Result<()> {
        let mem = std::mem::take(&mut self.mem);
        self.mem_bytes = 0;
        self.runs.push(Run::write(mem.into_iter().map(Ok))?);
        // Merge the two newest runs while the older is not bigger: run sizes
        // then halve from oldest to newest, so there are log-many of them.
        while self.runs.len() >= 2
            && self.runs[self.runs.len() - 2].count <= self.runs[self.runs.len() - 1].count
        {
            let newer = self.runs.pop();
            let older = self.runs.pop();
            let (Some(older), Some(newer)) = (older, newer) else {
                break; // unreachable: the length was checked
            };
            let merged = {
                let mut m = Merge {
                    sources: vec![Source::Run(older.reader()?), Source::Run(newer.reader()?)],
                };
                Run::write(std::iter::from_fn(|| m.next().transpose()))?
            };
            self.runs.push(merged);
        }
        Ok(())
    }

    /// The sources of this set, oldest first.
    fn sources(&self) -> Result<Vec<Source<'_>>> {
        let mut out = self
            .runs
            .iter()
            .map(|r| r.reader().map(Source::Run))
            .collect::<Result<Vec<_>>>()?;
        let mut iter = self.mem.iter();
        let head = iter.next().map(|(k, v)| (k.clone(), v.clone()));
        out.push(Source::Mem(MemSource { iter, head }));
        Ok(out)
    }
}

struct MemSource<'a> {
    iter: std::collections::btree_map::Iter<'a, String, Option<ItemEntry>>,
    head: Option<Change>,
}

enum Source<'a> {
    Run(RunReader<'a>),
    Mem(MemSource<'a>),
}

impl Source<'_> {
    fn head(&self) -> Option<&Change> {
        match self {
            Source::Run(r) => r.head.as_ref(),
            Source::Mem(m) => m.head.as_ref(),
        }
    }

    fn take(&mut self) -> Result<Option<Change>> {
        Ok(match self {
            Source::Run(r) => {
                let head = r.head.take();
                r.advance()?;
                head
            }
            Source::Mem(m) => {
                let head = m.head.take();
                m.head = m.iter.next().map(|(k, v)| (k.clone(), v.clone()));
                head
            }
        })
    }
}

/// A k-way merge of change sets in id order, without consuming them.
pub(crate) struct Merge<'a> {
    /// Oldest first: for an id in several sources, the last one's change wins.
    sources: Vec<Source<'a>>,
}

impl<'a> Merge<'a> {
    /// Merge `sets`, given oldest first.
    pub(crate) fn over(sets: &[&'a ChangeSet]) -> Result<Merge<'a>> {
        let mut sources = Vec::new();
        for set in sets {
            sources.extend(set.sources()?);
        }
        Ok(Merge { sources })
    }

    /// The id of the next change, if any.
    pub(crate) fn peek_id(&self) -> Option<&str> {
        let mut min: Option<&str> = None;
        for s in &self.sources {
            if let Some((id, _)) = s.head()
                && min.is_none_or(|m| id.as_str() < m)
            {
                min = Some(id.as_str());
            }
        }
        min
    }

    /// The next change in id order; for an id changed in several sources, the
    /// newest source's change.
    pub(crate) fn next(&mut self) -> Result<Option<Change>> {
        let Some(id) = self.peek_id().map(str::to_string) else {
            return Ok(None);
        };
        let mut winner: Option<Change> = None;
        for s in &mut self.sources {
            if s.head().is_some_and(|h| h.0 == id) {
                winner = s.take()?;
            }
        }
        Ok(winner)
    }
}

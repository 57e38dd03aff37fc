//! Backup sessions: the writer the backup engine feeds. Many tasks put items
//! concurrently; content is chunked, deduplicated against the index, compressed,
//! encrypted and packed; `checkpoint()` makes everything so far durable and
//! resumable; `commit()` writes the restore point.
//!
//! Order of writes (crash safety): packs, then the index files naming them,
//! then tree blobs (in packs, indexed the same way), then the checkpoint or
//! restore point. Anything written before a crash is either referenced by a
//! complete chain or unreferenced (and removed by prune), never half-referenced.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tokio::sync::Semaphore;

use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::format::{INDEX_DIR, SESSIONS_DIR, now_rfc3339, pack_name};
use crate::id::Id;
use crate::index::{IndexFile, IndexPack};
use crate::listing::{Listing, PageCache};
use crate::lock::{LockGuard, LockKind};
use crate::manifest::{Checkpoint, ObjectEntry, ObjectRef, ObjectTree, OrganizationRef};
use crate::object_writer::{FolderWork, ObjectWork, ObjectWriter};
use crate::pack::{BlobKind, PackBuilder};
use crate::repository::Repository;
use crate::spill::SpillBound;

mod checkpoint;

const UPLOAD_SLOTS: u32 = 3;
/// Largest pack this writer builds, whatever the repository's `pack_size` hint:
/// pack buffers (one filling, `UPLOAD_SLOTS` uploading) are the bulk of a
/// session's fixed memory. Measured on `scripts/bench-repo` 10×: 16 MiB packs
/// peak at ~125–140 MiB RSS, 4 MiB packs at ~82 MiB, same MB/s.
const WRITE_PACK_MAX: u64 = 4 << 20;
/// Batches of one stream encoded at once (each about four maximum chunk sizes).
const STREAM_BATCHES: usize = 2;
const INDEX_EVERY_PACKS: usize = 4;
const INDEX_EVERY: Duration = Duration::from_secs(10);
/// Listing pages kept for lookups (their JSON text, see `listing::cache`).
const PAGE_CACHE_BYTES: usize = 8 << 20;

/// What a session backs up.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub organization: OrganizationRef,
    /// The job that runs the session, for display.
    pub job: Option<String>,
}

/// Counters of a session.
#[derive(Debug, Default)]
pub struct SessionStats {
    pub items: AtomicU64,
    pub bytes: AtomicU64,
    pub new_blobs: AtomicU64,
    pub new_bytes_raw: AtomicU64,
    pub packs: AtomicU64,
    pub pack_bytes: AtomicU64,
}

/// A blob ready to pack (or already known).
struct Prepared {
    id: Id,
    encoded: Option<(Vec<u8>, bool, u32)>,
}

#[derive(Default)]
struct Pending {
    packs: Vec<IndexPack>,
    since: Option<Instant>,
}

pub(crate) struct Inner {
    pub(crate) repo: Arc<Repository>,
    id: uuid::Uuid,
    opts: SessionOptions,
    started: String,
    data_pack: Mutex<PackBuilder>,
    tree_pack: Mutex<PackBuilder>,
    /// Blobs this session has claimed but that are not yet in the repository's
    /// index: `false` while being encoded, `true` once in a pack builder.
    known: Mutex<HashMap<Id, bool>>,
    pending: tokio::sync::Mutex<Pending>,
    uploads: Semaphore,
    /// Target size of the packs this session writes.
    pack_target: u64,
    /// Chunking, hashing, compression and encryption, on the encoding pool.
    encoder: Encoder,
    objects: tokio::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<ObjectWork>>>>,
    /// Objects restored from a checkpoint, not yet opened.
    resumed: Mutex<HashMap<String, ObjectEntry>>,
    lock: tokio::sync::Mutex<Option<LockGuard>>,
    pub(crate) stats: SessionStats,
    /// Listing pages probed by lookups (`ObjectWriter::item`, `locate`).
    pub(crate) pages: PageCache,
    /// How many changes of one folder stay in memory before spilling to disk.
    spill_bound: Mutex<SpillBound>,
    /// One checkpoint (or commit) at a time: pages one writes are read back by
    /// the next only after they are indexed.
    checkpointing: tokio::sync::Mutex<()>,
}

/// A running backup session; clone it freely into tasks.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({})", self.inner.id)
    }
}

pub(crate) fn poisoned<T>(_: T) -> Error {
    Error::Task("a session lock was poisoned by a panicking task".into())
}

impl Repository {
    /// Start a backup session (takes a shared lock until commit or abort).
    pub async fn start_session(self: &Arc<Self>, opts: SessionOptions) -> Result<Session> {
        self.begin(uuid::Uuid::new_v4(), opts, now_rfc3339(), Vec::new())
            .await
    }

    /// Sessions that checkpointed but never committed (killed jobs).
    pub async fn incomplete_sessions(&self) -> Result<Vec<Checkpoint>> {
        let mut out = Vec::new();
        for obj in self.backend.list(SESSIONS_DIR).await? {
            let data = self.backend.get(&obj.name).await?;
            out.push(self.codec.decode_file::<Checkpoint>(&data, &obj.name)?);
        }
        Ok(out)
    }

    /// Resume a session from its last checkpoint: objects come back with the
    /// state (delta tokens) and items they had at the checkpoint.
    pub async fn resume_session(self: &Arc<Self>, session: uuid::Uuid) -> Result<Session> {
        let name = format!("{SESSIONS_DIR}{session}");
        let data = match self.backend.get(&name).await {
            Ok(d) => d,
            Err(e) if e.is_not_found() => {
                return Err(Error::NotFound {
                    what: format!("checkpoint of session {session}"),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let cp: Checkpoint = self.codec.decode_file(&data, &name)?;
        let opts = SessionOptions {
            organization: cp.organization,
            job: cp.job,
        };
        self.begin(session, opts, cp.started, cp.objects).await
    }

    async fn begin(
        self: &Arc<Self>,
        id: uuid::Uuid,
        opts: SessionOptions,
        started: String,
        resumed: Vec<ObjectEntry>,
    ) -> Result<Session> {
        let lock = self
            .lock(LockKind::Shared, &format!("backup session {id}"))
            .await?;
        self.refresh_index().await?;
        let pack_target = self.config.pack_size.min(WRITE_PACK_MAX);
        Ok(Session {
            inner: Arc::new(Inner {
                repo: self.clone(),
                id,
                opts,
                started,
                data_pack: Mutex::new(PackBuilder::with_target(pack_target)),
                tree_pack: Mutex::new(PackBuilder::default()),
                known: Mutex::new(HashMap::new()),
                pending: tokio::sync::Mutex::new(Pending::default()),
                uploads: Semaphore::new(UPLOAD_SLOTS as usize),
                pack_target,
                encoder: Encoder::new(),
                objects: tokio::sync::Mutex::new(HashMap::new()),
                resumed: Mutex::new(
                    resumed
                        .into_iter()
                        .map(|o| (o.object.id.clone(), o))
                        .collect(),
                ),
                lock: tokio::sync::Mutex::new(Some(lock)),
                stats: SessionStats::default(),
                pages: PageCache::new(PAGE_CACHE_BYTES),
                spill_bound: Mutex::new(SpillBound::default()),
                checkpointing: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

impl Session {
    pub fn id(&self) -> uuid::Uuid {
        self.inner.id
    }

    pub fn stats(&self) -> &SessionStats {
        &self.inner.stats
    }

    /// Set how many changes of one folder (and about how many bytes of them) are
    /// kept in memory before they spill to a temporary file. For tests that
    /// exercise spilling with few items; the default suits production.
    #[doc(hidden)]
    pub fn set_listing_memory_bound(&self, entries: usize, bytes: usize) -> Result<()> {
        *self.inner.spill_bound.lock().map_err(poisoned)? = SpillBound {
            entries: entries.max(1),
            bytes: bytes.max(1),
        };
        Ok(())
    }

    pub(crate) fn spill_bound(&self) -> Result<SpillBound> {
        Ok(*self.inner.spill_bound.lock().map_err(poisoned)?)
    }

    /// Open a protected object for writing. It starts from the object's state in
    /// the checkpoint being resumed, else in the latest restore point of this
    /// organization, else empty: items not touched are carried forward.
    pub async fn object(&self, object: ObjectRef) -> Result<ObjectWriter> {
        let mut map = self.inner.objects.lock().await;
        if let Some(w) = map.get(&object.id) {
            return Ok(ObjectWriter {
                session: self.clone(),
                work: w.clone(),
            });
        }
        let repo = &self.inner.repo;
        let resumed = self
            .inner
            .resumed
            .lock()
            .map_err(poisoned)?
            .remove(&object.id);
        let base = match resumed {
            Some(entry) => Some(entry),
            None => {
                repo.latest_object_entry(&self.inner.opts.organization.id, &object.id)
                    .await?
            }
        };
        let mut work = ObjectWork {
            object: object.clone(),
            state: serde_json::Value::Null,
            folders: BTreeMap::new(),
            entry: None,
            changed: true,
        };
        if let Some(entry) = base {
            work.state = entry.state;
            let tree: ObjectTree = repo.load_tree(&entry.tree).await?;
            for f in tree.folders {
                work.folders.insert(
                    f.id.clone(),
                    FolderWork {
                        name: f.name,
                        parent: f.parent,
                        listing: Listing::new(f.pages, f.bytes),
                    },
                );
            }
        }
        let work = Arc::new(tokio::sync::Mutex::new(work));
        map.insert(object.id.clone(), work.clone());
        Ok(ObjectWriter {
            session: self.clone(),
            work,
        })
    }

    // ---- content ----

    fn claim(&self, id: &Id) -> Result<bool> {
        // true: must be encoded and packed by the caller.
        if self.inner.repo.index_read()?.contains(id) {
            return Ok(false);
        }
        let mut known = self.inner.known.lock().map_err(poisoned)?;
        match known.get(id) {
            Some(true) => Ok(false),
            // Another task is encoding it; encode too rather than wait, so an
            // item is only finished once all its chunks are in a pack builder.
            Some(false) => Ok(true),
            None => {
                known.insert(*id, false);
                Ok(true)
            }
        }
    }

    fn prepare(&self, chunks: &[&[u8]]) -> Result<Vec<Prepared>> {
        let codec = &self.inner.repo.codec;
        let mut out = Vec::with_capacity(chunks.len());
        for c in chunks {
            let id = codec.blob_id(c);
            let encoded = if self.claim(&id)? {
                let (stored, compressed) = codec.encode_blob(c)?;
                Some((stored, compressed, c.len() as u32))
            } else {
                None
            };
            out.push(Prepared { id, encoded });
        }
        Ok(out)
    }

    /// Run CPU-bound encoding on the encoding pool.
    async fn on_cpu<T: Send + 'static>(
        &self,
        work: impl FnOnce(Session) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let me = self.clone();
        self.inner.encoder.run(move || work(me)).await
    }

    async fn prepare_blocking(&self, chunks: Vec<Bytes>) -> Result<Vec<Prepared>> {
        self.on_cpu(move |me| {
            let slices: Vec<&[u8]> = chunks.iter().map(|c| c.as_ref()).collect();
            me.prepare(&slices)
        })
        .await
    }

    async fn add_blobs(&self, kind: BlobKind, blobs: Vec<Prepared>) -> Result<Vec<Id>> {
        // Back-pressure: a full pack is handed to an upload before more is
        // added, so pack buffers stay one filling plus `UPLOAD_SLOTS` uploading.
        while self.pack_full(kind)? {
            self.flush_pack(kind, false).await?;
        }
        let mut ids = Vec::with_capacity(blobs.len());
        let full = {
            let mut p = self.packer(kind).lock().map_err(poisoned)?;
            let mut known = self.inner.known.lock().map_err(poisoned)?;
            let index = self.inner.repo.index_read()?;
            for b in blobs {
                // Another task may have packed it meanwhile, and its pack may even
                // be indexed already (and so gone from `known`).
                if let Some((stored, compressed, raw)) = b.encoded
                    && known.get(&b.id) != Some(&true)
                    && !index.contains(&b.id)
                {
                    p.add(b.id, kind, &stored, compressed, raw);
                    known.insert(b.id, true);
                    self.inner.stats.new_blobs.fetch_add(1, Ordering::Relaxed);
                    self.inner
                        .stats
                        .new_bytes_raw
                        .fetch_add(u64::from(raw), Ordering::Relaxed);
                }
                ids.push(b.id);
            }
            self.is_full(&p)
        };
        if full {
            self.flush_pack(kind, false).await?;
        }
        Ok(ids)
    }

    /// Store bytes; returns the chunk ids. Chunking, hashing, compression and
    /// encryption run on the encoding pool, so concurrent items use every core.
    pub(crate) async fn store_bytes(&self, data: Bytes) -> Result<Vec<Id>> {
        // Packing happens after the encoding job: `add_blobs` may wait for an
        // upload slot, and a pool thread must not sit idle meanwhile.
        let prepared = self
            .on_cpu(move |me| {
                let chunker = me.inner.repo.chunker.clone();
                let chunks: Vec<&[u8]> = chunker.split(&data).collect();
                me.prepare(&chunks)
            })
            .await?;
        self.add_blobs(BlobKind::Data, prepared).await
    }

    /// Store a stream. Reading and the encoding of up to `STREAM_BATCHES`
    /// batches of chunks overlap, so one large item keeps every core busy;
    /// memory stays bounded (about four maximum chunk sizes per batch).
    pub(crate) async fn store_stream<S>(&self, item: &str, mut stream: S) -> Result<(Vec<Id>, u64)>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Unpin,
    {
        let chunker = self.inner.repo.chunker.clone();
        let max = chunker.max_size();
        let mut buf = BytesMut::with_capacity(max * 4);
        let mut ids = Vec::new();
        let mut total = 0u64;
        let mut eof = false;
        // Batches being encoded, in stream order (their ids are added in order).
        let mut encoding: VecDeque<tokio::task::JoinHandle<Result<Vec<Prepared>>>> =
            VecDeque::new();
        while !eof || !buf.is_empty() {
            while !eof && buf.len() < max * 4 {
                match stream.next().await {
                    Some(Ok(b)) => {
                        total += b.len() as u64;
                        buf.extend_from_slice(&b);
                    }
                    Some(Err(source)) => {
                        return Err(Error::Content {
                            item: item.to_string(),
                            source,
                        });
                    }
                    None => eof = true,
                }
            }
            let mut batch = Vec::new();
            while !buf.is_empty() && (eof || buf.len() >= max) {
                let n = chunker.cut(&buf, eof);
                // Chunks share the read buffer's memory, no copy.
                batch.push(buf.split_to(n).freeze());
            }
            if batch.is_empty() {
                continue;
            }
            if encoding.len() >= STREAM_BATCHES
                && let Some(first) = encoding.pop_front()
            {
                let prepared = first.await.map_err(|e| Error::Task(e.to_string()))??;
                ids.extend(self.add_blobs(BlobKind::Data, prepared).await?);
            }
            let me = self.clone();
            encoding.push_back(tokio::spawn(
                async move { me.prepare_blocking(batch).await },
            ));
        }
        while let Some(next) = encoding.pop_front() {
            let prepared = next.await.map_err(|e| Error::Task(e.to_string()))??;
            ids.extend(self.add_blobs(BlobKind::Data, prepared).await?);
        }
        Ok((ids, total))
    }

    pub(crate) async fn store_tree<T: serde::Serialize>(&self, value: &T) -> Result<Id> {
        let json = serde_json::to_vec(value)
            .map_err(|e| Error::Invalid(format!("cannot encode tree: {e}")))?;
        let prepared = self.prepare_blocking(vec![Bytes::from(json)]).await?;
        let ids = self.add_blobs(BlobKind::Tree, prepared).await?;
        ids.into_iter()
            .next()
            .ok_or_else(|| Error::Task("tree blob vanished".into()))
    }

    fn packer(&self, kind: BlobKind) -> &Mutex<PackBuilder> {
        match kind {
            BlobKind::Data => &self.inner.data_pack,
            BlobKind::Tree => &self.inner.tree_pack,
        }
    }

    fn is_full(&self, p: &PackBuilder) -> bool {
        p.len() as u64 >= self.inner.pack_target
    }

    fn pack_full(&self, kind: BlobKind) -> Result<bool> {
        let p = self.packer(kind).lock().map_err(poisoned)?;
        Ok(self.is_full(&p))
    }

    /// Upload the current pack of `kind` if it is full (or any size with `force`).
    async fn flush_pack(&self, kind: BlobKind, force: bool) -> Result<()> {
        // The upload slot first: the pack is taken only when it can go, so full
        // packs never queue in memory behind slow uploads.
        let _permit = self
            .inner
            .uploads
            .acquire()
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        let builder = {
            let mut p = self.packer(kind).lock().map_err(poisoned)?;
            let ready = if force {
                !p.is_empty()
            } else {
                self.is_full(&p)
            };
            if !ready {
                return Ok(());
            }
            let hint = p.capacity_hint;
            std::mem::replace(
                &mut *p,
                PackBuilder {
                    capacity_hint: hint,
                    ..PackBuilder::default()
                },
            )
        };
        let codec = self.inner.repo.codec.clone();
        let (id, bytes, entries) = tokio::task::spawn_blocking(move || builder.finish(&codec))
            .await
            .map_err(|e| Error::Task(e.to_string()))??;
        let size = bytes.len() as u64;
        self.inner
            .repo
            .backend
            .put(&pack_name(&id), Bytes::from(bytes))
            .await?;
        self.inner.stats.packs.fetch_add(1, Ordering::Relaxed);
        self.inner
            .stats
            .pack_bytes
            .fetch_add(size, Ordering::Relaxed);
        let due = {
            let mut pending = self.inner.pending.lock().await;
            pending
                .packs
                .push(IndexPack::from_entries(id, size, &entries));
            let since = *pending.since.get_or_insert_with(Instant::now);
            pending.packs.len() >= INDEX_EVERY_PACKS || since.elapsed() >= INDEX_EVERY
        };
        if due {
            self.write_index().await?;
        }
        Ok(())
    }

    /// Write an index file for uploaded packs not yet indexed.
    async fn write_index(&self) -> Result<()> {
        let mut pending = self.inner.pending.lock().await;
        if pending.packs.is_empty() {
            return Ok(());
        }
        let file = IndexFile {
            packs: std::mem::take(&mut pending.packs),
        };
        pending.since = None;
        let repo = &self.inner.repo;
        let data = repo.codec.encode_file(&file)?;
        let name = format!("{INDEX_DIR}{}", Id::random());
        repo.backend.put(&name, Bytes::from(data)).await?;
        repo.note_index_file(&name, &file)?;
        let mut known = self.inner.known.lock().map_err(poisoned)?;
        for p in &file.packs {
            for b in &p.blobs {
                known.remove(&b.id);
            }
        }
        Ok(())
    }

    /// Upload every pack builder and index everything uploaded.
    async fn flush_all(&self) -> Result<()> {
        self.flush_pack(BlobKind::Data, true).await?;
        self.flush_pack(BlobKind::Tree, true).await?;
        // Wait for uploads started by other tasks.
        let all = self
            .inner
            .uploads
            .acquire_many(UPLOAD_SLOTS)
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        drop(all);
        self.write_index().await
    }
}

//! Opening and creating a repository, key slots, and reading blobs and files.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;

use crate::backend::Backend;
use crate::chunker::Chunker;
use crate::crypto::{KdfParams, KeySlot, MasterKey};
use crate::error::{Error, Result};
use crate::format::{
    CONFIG, ChunkerParams, Codec, Config, FORMAT_NAME, FORMAT_VERSION, INDEX_DIR, KEYS_DIR,
    UnencryptedKeys, now_rfc3339, pack_name,
};
use crate::id::Id;
use crate::index::{Index, IndexFile};
use crate::lock::{self, LockGuard, LockKind};
use crate::manifest::RestorePoint;

/// How to create a repository.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// `None` creates an unencrypted repository (only when asked explicitly).
    pub password: Option<Vec<u8>>,
    pub kdf: KdfParams,
    pub chunker: ChunkerParams,
    pub pack_size: u64,
}

impl CreateOptions {
    pub fn encrypted(password: impl Into<Vec<u8>>) -> Self {
        CreateOptions {
            password: Some(password.into()),
            kdf: KdfParams::default(),
            chunker: ChunkerParams::default(),
            pack_size: 16 << 20,
        }
    }

    pub fn unencrypted() -> Self {
        CreateOptions {
            password: None,
            ..CreateOptions::encrypted(Vec::new())
        }
    }
}

/// Summary of one key slot.
#[derive(Debug, Clone)]
pub struct KeySlotInfo {
    pub id: String,
    pub label: String,
    pub created: String,
    pub current: bool,
}

/// An open repository. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct Repository {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) config: Config,
    pub(crate) codec: Codec,
    pub(crate) chunker: Arc<Chunker>,
    pub(crate) index: RwLock<Index>,
    loaded_indexes: Mutex<HashSet<String>>,
    pub(crate) restore_points: Mutex<HashMap<String, Arc<RestorePoint>>>,
    /// Decoded tree blobs and their total size (bounded by `TREE_CACHE_BYTES`).
    pub(crate) tree_cache: Mutex<TreeCache>,
    opened_slot: Option<String>,
}

/// Decoded tree blobs kept by `load_tree`.
const TREE_CACHE_BYTES: usize = 16 << 20;

/// Tree blobs by id, and their total size.
type TreeCache = (HashMap<Id, Arc<Vec<u8>>>, usize);

fn lock_poisoned<T>(_: T) -> Error {
    Error::Task("a repository lock was poisoned by a panicking task".into())
}

impl Repository {
    /// Create a new, empty repository on `backend`.
    pub async fn create(backend: Arc<dyn Backend>, opts: CreateOptions) -> Result<Repository> {
        let encrypted = opts.password.is_some();
        let master = MasterKey::generate()?;
        let config = Config {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            id: uuid::Uuid::new_v4(),
            created: now_rfc3339(),
            encryption: if encrypted { "aes-256-gcm" } else { "none" }.into(),
            compression: "zstd".into(),
            chunker: opts.chunker,
            pack_size: opts.pack_size,
            unencrypted_keys: if encrypted {
                None
            } else {
                Some(UnencryptedKeys {
                    id_key: B64.encode(master.id_key()),
                    chunker_seed: master.chunker_seed(),
                })
            },
        };
        let config_bytes = serde_json::to_vec_pretty(&config)
            .map_err(|e| Error::Invalid(format!("cannot encode config: {e}")))?;
        // Validate what we write with the same code that reads it.
        Config::parse(&config_bytes)?;
        let mut slot_name = None;
        if let Some(pw) = &opts.password {
            let slot = KeySlot::create(&master, pw, opts.kdf, "initial")?;
            let name = format!("{KEYS_DIR}{}", uuid::Uuid::new_v4().simple());
            let bytes = serde_json::to_vec_pretty(&slot)
                .map_err(|e| Error::Invalid(format!("cannot encode key slot: {e}")))?;
            // Key first, config last: a repository exists once `config` does.
            backend.put(&name, Bytes::from(bytes)).await?;
            slot_name = Some(name);
        }
        if !backend
            .put_if_absent(CONFIG, Bytes::from(config_bytes))
            .await?
        {
            if let Some(n) = &slot_name {
                let _ = backend.delete(n).await;
            }
            return Err(Error::AlreadyExists {
                location: backend.describe(),
            });
        }
        let master = if encrypted {
            master
        } else {
            MasterKey::unencrypted(*master.id_key(), master.chunker_seed())
        };
        Ok(Self::assemble(backend, config, master, slot_name))
    }

    fn assemble(
        backend: Arc<dyn Backend>,
        config: Config,
        master: MasterKey,
        opened_slot: Option<String>,
    ) -> Repository {
        let chunker = Arc::new(Chunker::new(config.chunker, master.chunker_seed()));
        let codec = Codec {
            key: Arc::new(master),
            encrypted: config.encrypted(),
        };
        Repository {
            backend,
            config,
            codec,
            chunker,
            index: RwLock::new(Index::default()),
            loaded_indexes: Mutex::new(HashSet::new()),
            restore_points: Mutex::new(HashMap::new()),
            tree_cache: Mutex::new((HashMap::new(), 0)),
            opened_slot,
        }
    }

    /// Read `config` only (no password needed): format version, encryption, id.
    pub async fn read_config(backend: &Arc<dyn Backend>) -> Result<Config> {
        let data = match backend.get(CONFIG).await {
            Ok(d) => d,
            Err(e) if e.is_not_found() => {
                return Err(Error::NotARepository {
                    location: backend.describe(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        Config::parse(&data)
    }

    /// Open a repository: check the format version, unlock the master key with
    /// `password` (any key slot), load the index.
    pub async fn open(backend: Arc<dyn Backend>, password: Option<&[u8]>) -> Result<Repository> {
        let config = Self::read_config(&backend).await?;
        let (master, slot) = if config.encrypted() {
            let pw = password.ok_or(Error::PasswordRequired)?;
            let (m, s) = Self::unlock(&backend, pw).await?;
            (m, Some(s))
        } else {
            let keys = config.unencrypted_keys.as_ref().ok_or_else(|| {
                Error::corrupt(CONFIG, "unencrypted repository without `unencrypted_keys`")
            })?;
            let raw = B64
                .decode(&keys.id_key)
                .map_err(|e| Error::corrupt(CONFIG, format!("bad id_key: {e}")))?;
            let id_key: [u8; 32] = raw
                .as_slice()
                .try_into()
                .map_err(|_| Error::corrupt(CONFIG, "id_key is not 32 bytes"))?;
            (MasterKey::unencrypted(id_key, keys.chunker_seed), None)
        };
        let repo = Self::assemble(backend, config, master, slot);
        repo.refresh_index().await?;
        Ok(repo)
    }

    async fn unlock(backend: &Arc<dyn Backend>, password: &[u8]) -> Result<(MasterKey, String)> {
        let slots = backend.list(KEYS_DIR).await?;
        let mut damaged = Vec::new();
        for obj in &slots {
            let data = backend.get(&obj.name).await?;
            let slot: KeySlot = match serde_json::from_slice(&data) {
                Ok(s) => s,
                Err(e) => {
                    damaged.push(format!("{}: {e}", obj.name));
                    continue;
                }
            };
            if let Some(m) = slot.open(password, &obj.name)? {
                return Ok((m, obj.name.clone()));
            }
        }
        if slots.is_empty() || damaged.len() == slots.len() {
            return Err(Error::corrupt(
                KEYS_DIR,
                format!("no readable key slot ({})", damaged.join("; ")),
            ));
        }
        Err(Error::WrongPassword)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    pub fn chunker(&self) -> &Chunker {
        &self.chunker
    }

    /// Load index files written since the last load (by this or other processes).
    pub async fn refresh_index(&self) -> Result<()> {
        let names = self.backend.list(INDEX_DIR).await?;
        for obj in names {
            if self
                .loaded_indexes
                .lock()
                .map_err(lock_poisoned)?
                .contains(&obj.name)
            {
                continue;
            }
            let file = self.read_index_file(&obj.name).await?;
            let mut idx = self.index.write().map_err(lock_poisoned)?;
            for p in &file.packs {
                idx.add_pack(p);
            }
            self.loaded_indexes
                .lock()
                .map_err(lock_poisoned)?
                .insert(obj.name);
        }
        Ok(())
    }

    pub(crate) async fn read_index_file(&self, name: &str) -> Result<IndexFile> {
        let data = self.backend.get(name).await?;
        self.codec.decode_file(&data, name)
    }

    /// Replace the in-memory index (after prune).
    pub(crate) fn reset_index(&self) -> Result<()> {
        *self.index.write().map_err(lock_poisoned)? = Index::default();
        self.loaded_indexes.lock().map_err(lock_poisoned)?.clear();
        Ok(())
    }

    pub(crate) fn index_read(&self) -> Result<std::sync::RwLockReadGuard<'_, Index>> {
        self.index.read().map_err(lock_poisoned)
    }

    pub(crate) fn index_write(&self) -> Result<std::sync::RwLockWriteGuard<'_, Index>> {
        self.index.write().map_err(lock_poisoned)
    }

    /// Read and decode one blob, checking its id.
    pub async fn load_blob(&self, id: &Id) -> Result<Vec<u8>> {
        let loc = self
            .index_read()?
            .get(id)
            .ok_or_else(|| Error::BlobNotFound { blob: id.to_hex() })?;
        let (pack, _) = self.index_read()?.pack(loc.pack);
        let name = pack_name(&pack);
        let stored = match self
            .backend
            .get_range(
                &name,
                u64::from(loc.offset)..u64::from(loc.offset) + u64::from(loc.length),
            )
            .await
        {
            Ok(b) => b,
            Err(e) if e.is_not_found() => {
                return Err(Error::corrupt(
                    &name,
                    format!("pack is missing (it holds blob {id}); run `cairn repo check`"),
                ));
            }
            Err(e) => {
                return Err(Error::corrupt(&name, format!("cannot read blob {id}: {e}")));
            }
        };
        let codec = self.codec.clone();
        let id = *id;
        tokio::task::spawn_blocking(move || {
            codec
                .decode_blob(&stored, loc.compressed, loc.raw_length, &id)
                .map_err(|e| match e {
                    Error::Corrupt { object, reason } => {
                        Error::corrupt(format!("{object} in {name}"), reason)
                    }
                    other => other,
                })
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
    }

    /// Load a tree blob (JSON), cached.
    pub(crate) async fn load_tree<T: serde::de::DeserializeOwned>(&self, id: &Id) -> Result<T> {
        let cached = self
            .tree_cache
            .lock()
            .map_err(lock_poisoned)?
            .0
            .get(id)
            .cloned();
        let data = match cached {
            Some(d) => d,
            None => {
                let d = Arc::new(self.load_blob(id).await?);
                let mut cache = self.tree_cache.lock().map_err(lock_poisoned)?;
                // Bounded by size: listing pages of large items' metadata are
                // not small, and a restore may walk many.
                if cache.1 + d.len() > TREE_CACHE_BYTES {
                    cache.0.clear();
                    cache.1 = 0;
                }
                if cache.0.insert(*id, d.clone()).is_none() {
                    cache.1 += d.len();
                }
                d
            }
        };
        serde_json::from_slice(&data)
            .map_err(|e| Error::corrupt(format!("tree blob {id}"), format!("invalid JSON: {e}")))
    }

    pub(crate) async fn lock(&self, kind: LockKind, purpose: &str) -> Result<LockGuard> {
        lock::acquire(self.backend.clone(), &self.codec, kind, purpose).await
    }

    /// Remove stale locks (or all with `all`: only when no Cairn process uses the repository).
    pub async fn break_locks(&self, all: bool) -> Result<Vec<String>> {
        lock::break_locks(&self.backend, &self.codec, all).await
    }

    /// All locks currently present, as descriptions (stale ones marked).
    pub async fn locks(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for (name, info) in lock::list_locks(&self.backend, &self.codec).await? {
            out.push(match info {
                Ok(i) => format!(
                    "{name}: {}{}",
                    i.describe(),
                    if i.is_stale() { " [stale]" } else { "" }
                ),
                Err(e) => format!("{name}: unreadable ({e})"),
            });
        }
        Ok(out)
    }

    // ---- key slots ----

    /// Key slots of the repository.
    pub async fn key_slots(&self) -> Result<Vec<KeySlotInfo>> {
        let mut out = Vec::new();
        for obj in self.backend.list(KEYS_DIR).await? {
            let data = self.backend.get(&obj.name).await?;
            let slot: KeySlot = serde_json::from_slice(&data)
                .map_err(|e| Error::corrupt(&obj.name, format!("invalid key slot: {e}")))?;
            out.push(KeySlotInfo {
                current: self.opened_slot.as_deref() == Some(obj.name.as_str()),
                id: obj.name.trim_start_matches(KEYS_DIR).to_string(),
                label: slot.label,
                created: slot.created,
            });
        }
        Ok(out)
    }

    /// Add a key slot for another password. Returns the slot id.
    pub async fn add_key(&self, password: &[u8], label: &str, kdf: KdfParams) -> Result<String> {
        if !self.config.encrypted() {
            return Err(Error::Invalid(
                "an unencrypted repository has no passwords".into(),
            ));
        }
        let slot = KeySlot::create(&self.codec.key, password, kdf, label)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let bytes = serde_json::to_vec_pretty(&slot)
            .map_err(|e| Error::Invalid(format!("cannot encode key slot: {e}")))?;
        self.backend
            .put(&format!("{KEYS_DIR}{id}"), Bytes::from(bytes))
            .await?;
        Ok(id)
    }

    /// Remove a key slot; the last one cannot be removed.
    pub async fn remove_key(&self, slot_id: &str) -> Result<()> {
        let slots = self.key_slots().await?;
        if !slots.iter().any(|s| s.id == slot_id) {
            return Err(Error::NotFound {
                what: format!("key slot {slot_id}"),
            });
        }
        if slots.len() <= 1 {
            return Err(Error::Invalid(
                "refusing to remove the last key slot: the data would be unreadable".into(),
            ));
        }
        self.backend.delete(&format!("{KEYS_DIR}{slot_id}")).await?;
        Ok(())
    }

    /// Change the password of the slot this repository was opened with: a new
    /// slot is written first, then the old one removed (a crash between leaves
    /// both passwords valid, never none). Data is not rewritten.
    pub async fn change_password(&self, new_password: &[u8], kdf: KdfParams) -> Result<String> {
        let old = self
            .opened_slot
            .clone()
            .ok_or_else(|| Error::Invalid("an unencrypted repository has no passwords".into()))?;
        let label = self
            .key_slots()
            .await?
            .into_iter()
            .find(|s| s.current)
            .map(|s| s.label)
            .unwrap_or_else(|| "changed".into());
        let id = self.add_key(new_password, &label, kdf).await?;
        self.backend.delete(&old).await?;
        Ok(id)
    }
}

impl Repository {
    pub(crate) fn mark_index_loaded(&self, name: &str) -> Result<()> {
        self.loaded_indexes
            .lock()
            .map_err(lock_poisoned)?
            .insert(name.to_string());
        Ok(())
    }
}

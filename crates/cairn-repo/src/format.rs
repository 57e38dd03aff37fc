//! The on-disk format's fixed parts: the `config` file, object names, and how
//! files and blobs are encoded (zstd, then AES-256-GCM unless the repository was
//! created unencrypted). `docs/repository-format.md` is the contract; this module
//! and `pack.rs` implement it.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::id::Id;

/// The format version this code writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
pub const FORMAT_NAME: &str = "cairn-repository";

pub const CONFIG: &str = "config";
pub const KEYS_DIR: &str = "keys/";
pub const DATA_DIR: &str = "data/";
pub const INDEX_DIR: &str = "index/";
pub const RESTORE_POINTS_DIR: &str = "restorepoints/";
pub const SESSIONS_DIR: &str = "sessions/";
pub const LOCKS_DIR: &str = "locks/";

/// Content-defined chunking parameters (FastCDC 2020, normalization level 1).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkerParams {
    pub min_size: u32,
    pub avg_size: u32,
    pub max_size: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        ChunkerParams {
            min_size: 16 * 1024,
            avg_size: 64 * 1024,
            max_size: 512 * 1024,
        }
    }
}

/// `config`: plain JSON, readable without the password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub format: String,
    pub version: u32,
    pub id: uuid::Uuid,
    pub created: String,
    /// `aes-256-gcm` or `none`.
    pub encryption: String,
    /// `zstd`.
    pub compression: String,
    pub chunker: ChunkerParams,
    /// Target size of a pack file in bytes.
    pub pack_size: u64,
    /// Only for unencrypted repositories: the (public) id key and chunker seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unencrypted_keys: Option<UnencryptedKeys>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnencryptedKeys {
    pub id_key: String,
    pub chunker_seed: u64,
}

impl Config {
    pub fn encrypted(&self) -> bool {
        self.encryption != "none"
    }

    /// Parse and validate `config`; unknown versions are refused.
    pub fn parse(data: &[u8]) -> Result<Config> {
        // Check the version before the rest, so a newer format with other fields
        // still gets the clear "unsupported version" error.
        let raw: serde_json::Value = serde_json::from_slice(data)
            .map_err(|e| Error::corrupt(CONFIG, format!("not valid JSON: {e}")))?;
        if raw.get("format").and_then(|v| v.as_str()) != Some(FORMAT_NAME) {
            return Err(Error::corrupt(
                CONFIG,
                "not a Cairn repository config (field `format`)",
            ));
        }
        let version = raw
            .get("version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| Error::corrupt(CONFIG, "missing field `version`"))?;
        if version != u64::from(FORMAT_VERSION) {
            return Err(Error::UnsupportedVersion {
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
        let cfg: Config = serde_json::from_value(raw)
            .map_err(|e| Error::corrupt(CONFIG, format!("invalid: {e}")))?;
        match cfg.encryption.as_str() {
            "aes-256-gcm" | "none" => {}
            other => {
                return Err(Error::corrupt(
                    CONFIG,
                    format!("unknown encryption `{other}`"),
                ));
            }
        }
        if cfg.compression != "zstd" {
            return Err(Error::corrupt(
                CONFIG,
                format!("unknown compression `{}`", cfg.compression),
            ));
        }
        let c = cfg.chunker;
        // The limits of fastcdc's v2020 chunker.
        let in_range = (64..=1 << 20).contains(&c.min_size)
            && (256..=4 << 20).contains(&c.avg_size)
            && (1024..=16 << 20).contains(&c.max_size)
            && c.min_size <= c.avg_size
            && c.avg_size <= c.max_size;
        if !in_range {
            return Err(Error::corrupt(CONFIG, "chunker sizes out of range"));
        }
        Ok(cfg)
    }
}

/// Name of a pack file: `data/<first two hex digits>/<pack id>`.
pub fn pack_name(id: &Id) -> String {
    let h = id.to_hex();
    format!("{DATA_DIR}{}/{h}", &h[..2])
}

/// The pack id from a pack file name, if it is one.
pub fn pack_id_from_name(name: &str) -> Option<Id> {
    let rest = name.strip_prefix(DATA_DIR)?;
    let (_, file) = rest.split_once('/')?;
    Id::from_hex(file)
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Encoder/decoder for everything except `config` and key slots, bound to the
/// repository's key material and encryption mode.
#[derive(Debug, Clone)]
pub struct Codec {
    pub(crate) key: std::sync::Arc<MasterKey>,
    pub(crate) encrypted: bool,
}

/// zstd level: 3 is zstd's default, a good speed/ratio balance for mail.
pub const ZSTD_LEVEL: i32 = 3;

impl Codec {
    pub fn blob_id(&self, data: &[u8]) -> Id {
        self.key.blob_id(data)
    }

    fn seal(&self, data: Vec<u8>) -> Result<Vec<u8>> {
        if self.encrypted {
            self.key.seal(&data)
        } else {
            Ok(data)
        }
    }

    fn open(&self, data: &[u8], what: &str) -> Result<Vec<u8>> {
        if self.encrypted {
            self.key.open(data, what)
        } else {
            Ok(data.to_vec())
        }
    }

    /// A whole file (index, restore point, checkpoint, lock):
    /// `seal(zstd(JSON))`.
    pub fn encode_file<T: Serialize>(&self, value: &T) -> Result<Vec<u8>> {
        let json =
            serde_json::to_vec(value).map_err(|e| Error::Invalid(format!("cannot encode: {e}")))?;
        let z = zstd::bulk::compress(&json, ZSTD_LEVEL)
            .map_err(|e| Error::Invalid(format!("zstd: {e}")))?;
        self.seal(z)
    }

    pub fn decode_file<T: DeserializeOwned>(&self, data: &[u8], what: &str) -> Result<T> {
        let z = self.open(data, what)?;
        let json = zstd::stream::decode_all(&z[..])
            .map_err(|e| Error::corrupt(what, format!("zstd: {e}")))?;
        serde_json::from_slice(&json)
            .map_err(|e| Error::corrupt(what, format!("invalid JSON: {e}")))
    }

    /// A blob as stored in a pack: `seal(zstd(data))`, or `seal(data)` when
    /// compression does not shrink it. Returns (stored bytes, compressed?).
    pub fn encode_blob(&self, data: &[u8]) -> Result<(Vec<u8>, bool)> {
        let z = compress(data)?;
        if z.len() < data.len() {
            Ok((self.seal(z)?, true))
        } else {
            Ok((self.seal(data.to_vec())?, false))
        }
    }

    /// Decode a stored blob and check it hashes to `id`.
    pub fn decode_blob(
        &self,
        stored: &[u8],
        compressed: bool,
        raw_len: u32,
        id: &Id,
    ) -> Result<Vec<u8>> {
        let what = format!("blob {id}");
        let plain = self.open(stored, &what)?;
        let data = if compressed {
            decompress(&plain, raw_len as usize)
                .map_err(|e| Error::corrupt(&what, format!("zstd: {e}")))?
        } else {
            plain
        };
        if data.len() != raw_len as usize {
            return Err(Error::corrupt(
                &what,
                format!("length {} instead of {raw_len}", data.len()),
            ));
        }
        if self.blob_id(&data) != *id {
            return Err(Error::corrupt(&what, "content does not match its id"));
        }
        Ok(data)
    }
}

// zstd contexts are reused (creating one per blob costs more than compressing a
// small chunk) from a pool, so their number is bounded by how many threads
// compress at once, not by how many threads the runtime ever used.
static COMPRESSORS: std::sync::Mutex<Vec<zstd::bulk::Compressor<'static>>> =
    std::sync::Mutex::new(Vec::new());
static DECOMPRESSORS: std::sync::Mutex<Vec<zstd::bulk::Decompressor<'static>>> =
    std::sync::Mutex::new(Vec::new());

fn compress(data: &[u8]) -> Result<Vec<u8>> {
    let zerr = |e: std::io::Error| Error::Invalid(format!("zstd: {e}"));
    let pooled = COMPRESSORS.lock().ok().and_then(|mut p| p.pop());
    let mut c = match pooled {
        Some(c) => c,
        None => zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(zerr)?,
    };
    let out = c.compress(data).map_err(zerr);
    if let Ok(mut p) = COMPRESSORS.lock() {
        p.push(c);
    }
    out
}

fn decompress(data: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    let pooled = DECOMPRESSORS.lock().ok().and_then(|mut p| p.pop());
    let mut d = match pooled {
        Some(d) => d,
        None => zstd::bulk::Decompressor::new()?,
    };
    let out = d.decompress(data, capacity);
    if let Ok(mut p) = DECOMPRESSORS.lock() {
        p.push(d);
    }
    out
}

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

    fn seal(&self, data: &[u8]) -> Result<Vec<u8>> {
        if self.encrypted {
            self.key.seal(data)
        } else {
            Ok(data.to_vec())
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
        self.seal(&z)
    }

    pub fn decode_file<T: DeserializeOwned>(&self, data: &[u8], what: &str) -> Result<T> {
        let z = self.open(data, what)?;
        let json = zstd::stream::decode_all(&z[..])
            .map_err(|e| Error::corrupt(what, format!("zstd: {e}")))?;
        serde_json::from_slice(&json)
            .map_err(|e| Error::corrupt(what, format!("invalid JSON: {e}")))
    }

    /// A blob as stored in a pack: `seal(zstd(data))`, or `seal(data)` when
    /// compression does not shrink it or the data looks incompressible.
    /// Returns (stored bytes, compressed?).
    pub fn encode_blob(&self, data: &[u8]) -> Result<(Vec<u8>, bool)> {
        if looks_incompressible(data) {
            return Ok((self.seal(data)?, false));
        }
        let z = compress(data)?;
        if z.len() < data.len() {
            Ok((self.seal(&z)?, true))
        } else {
            Ok((self.seal(data)?, false))
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

/// Bytes of each sample [`looks_incompressible`] measures.
const SAMPLE_LEN: usize = 4096;
/// Byte entropy (bits per byte) above which a sample counts as incompressible:
/// 4 KiB of random bytes measure about 7.95; text about 4.5, base64 about 6.
const INCOMPRESSIBLE_BITS: f64 = 7.9;

/// Whether `data` looks random, encrypted or already compressed (JPEG, ZIP,
/// Office files, PDF streams: common attachments): the byte entropy of a sample
/// at its start, middle and end is all near 8 bits. Measuring costs a few
/// microseconds; zstd would spend far longer to gain nothing. A chunk judged
/// wrongly is merely stored uncompressed.
pub(crate) fn looks_incompressible(data: &[u8]) -> bool {
    if data.len() < 3 * SAMPLE_LEN {
        return false;
    }
    let middle = data.len() / 2 - SAMPLE_LEN / 2;
    [0, middle, data.len() - SAMPLE_LEN]
        .iter()
        .all(|&at| byte_entropy(&data[at..at + SAMPLE_LEN]) > INCOMPRESSIBLE_BITS)
}

/// Shannon entropy of the byte distribution, in bits per byte.
fn byte_entropy(sample: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in sample {
        counts[usize::from(b)] += 1;
    }
    let n = sample.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(encrypted: bool) -> Codec {
        let key = if encrypted {
            MasterKey::generate().expect("key")
        } else {
            MasterKey::unencrypted([7; 32], 42)
        };
        Codec {
            key: std::sync::Arc::new(key),
            encrypted,
        }
    }

    /// Deterministic pseudo-random bytes (BLAKE3 in XOF mode).
    fn random(len: usize, seed: u8) -> Vec<u8> {
        let mut out = vec![0u8; len];
        blake3::Hasher::new()
            .update(&[seed])
            .finalize_xof()
            .fill(&mut out);
        out
    }

    fn text(len: usize) -> Vec<u8> {
        let words = [
            "meeting", "budget", "please", "review", "attached", "thanks", "regards",
        ];
        let mut out = Vec::with_capacity(len + 16);
        let mut i = 0usize;
        while out.len() < len {
            out.extend_from_slice(words[(i * 7 + i / 3) % words.len()].as_bytes());
            out.push(if i % 11 == 10 { b'\n' } else { b' ' });
            i += 1;
        }
        out.truncate(len);
        out
    }

    #[test]
    fn incompressible_data_is_recognised_and_text_is_not() {
        assert!(looks_incompressible(&random(64 << 10, 1)));
        assert!(!looks_incompressible(&text(64 << 10)));
        // Base64 (6 bits a byte) still compresses by a quarter: not skipped.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(random(48 << 10, 2));
        assert!(!looks_incompressible(b64.as_bytes()));
        // Too short to sample: compression decides.
        assert!(!looks_incompressible(&random(8 << 10, 3)));
        // Random at the start and middle but text at the end: compressed.
        let mut mixed = random(48 << 10, 4);
        mixed.extend_from_slice(&text(16 << 10));
        assert!(!looks_incompressible(&mixed));
    }

    #[test]
    fn blobs_round_trip_raw_when_incompressible_and_compressed_otherwise() {
        for encrypted in [true, false] {
            let c = codec(encrypted);
            for (data, want_compressed) in [
                (random(200 << 10, 5), false),
                (text(200 << 10), true),
                (random(100, 6), false),
                (Vec::new(), false),
            ] {
                let id = c.blob_id(&data);
                let (stored, compressed) = c.encode_blob(&data).expect("encode");
                assert_eq!(compressed, want_compressed, "{} bytes", data.len());
                let overhead = if encrypted {
                    crate::crypto::OVERHEAD
                } else {
                    0
                };
                if !compressed {
                    assert_eq!(stored.len(), data.len() + overhead);
                } else {
                    assert!(stored.len() < data.len() / 2);
                }
                let back = c
                    .decode_blob(&stored, compressed, data.len() as u32, &id)
                    .expect("decode");
                assert!(back == data, "blob of {} bytes differs", data.len());
            }
        }
    }

    #[test]
    fn a_tampered_raw_blob_is_refused() {
        let c = codec(true);
        let data = random(64 << 10, 8);
        let id = c.blob_id(&data);
        let (mut stored, compressed) = c.encode_blob(&data).expect("encode");
        assert!(!compressed);
        stored[100] ^= 1;
        let err = c
            .decode_blob(&stored, compressed, data.len() as u32, &id)
            .expect_err("tampered blob must fail");
        assert!(err.to_string().contains("authentication failed"), "{err}");
    }
}

//! Encryption and keys. One random repository master key (an AES-256-GCM key, a
//! BLAKE3 key for blob ids and a seed for the chunker) is stored only wrapped, in
//! key slots: each slot encrypts the master key under a key derived from a
//! password with Argon2id. Changing a password rewrites one slot, never data.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::id::Id;

pub const TAG_LEN: usize = 16;
/// Bytes added to every encrypted payload: nonce + tag.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Keys, salts and nonces come from the operating system's generator
/// (getrandom): aws-lc's own generator would first seed itself from CPU jitter,
/// tens of milliseconds at every process start.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    use rand::TryRngCore as _;
    let mut b = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| Error::Kdf(format!("the system random generator failed: {e}")))?;
    Ok(b)
}

/// The repository's secret material.
#[derive(Clone)]
pub struct MasterKey {
    enc: [u8; 32],
    id_key: [u8; 32],
    chunker_seed: u64,
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.enc.zeroize();
        self.id_key.zeroize();
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Serialized form of the master key inside a key slot.
#[derive(Serialize, Deserialize)]
struct MasterKeyJson {
    encryption: String,
    id_key: String,
    chunker_seed: u64,
}

impl MasterKey {
    pub fn generate() -> Result<MasterKey> {
        Ok(MasterKey {
            enc: random_bytes()?,
            id_key: random_bytes()?,
            chunker_seed: u64::from_le_bytes(random_bytes()?),
        })
    }

    /// Key material for an unencrypted repository: ids are still keyed (so the
    /// format is the same) but the key is public, in `config`.
    pub fn unencrypted(id_key: [u8; 32], chunker_seed: u64) -> MasterKey {
        MasterKey {
            enc: [0; 32],
            id_key,
            chunker_seed,
        }
    }

    pub fn id_key(&self) -> &[u8; 32] {
        &self.id_key
    }

    pub fn chunker_seed(&self) -> u64 {
        self.chunker_seed
    }

    /// Blob id of plaintext.
    pub fn blob_id(&self, data: &[u8]) -> Id {
        Id(*blake3::keyed_hash(&self.id_key, data).as_bytes())
    }

    fn aead(&self) -> Result<LessSafeKey> {
        let key = UnboundKey::new(&AES_256_GCM, &self.enc)
            .map_err(|_| Error::Kdf("invalid AES-256 key length".into()))?;
        Ok(LessSafeKey::new(key))
    }

    /// `nonce || ciphertext || tag` with a random 96-bit nonce.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        seal_with(&self.aead()?, plaintext)
    }

    /// Inverse of [`seal`](Self::seal); `what` names the object in errors.
    pub fn open(&self, sealed: &[u8], what: &str) -> Result<Vec<u8>> {
        open_with(&self.aead()?, sealed, what)
    }

    fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let j = MasterKeyJson {
            encryption: B64.encode(self.enc),
            id_key: B64.encode(self.id_key),
            chunker_seed: self.chunker_seed,
        };
        // Serializing a struct of strings and an integer cannot fail.
        Zeroizing::new(serde_json::to_vec(&j).unwrap_or_default())
    }

    fn from_json(data: &[u8], what: &str) -> Result<MasterKey> {
        let j: MasterKeyJson = serde_json::from_slice(data)
            .map_err(|e| Error::corrupt(what, format!("master key is not valid JSON: {e}")))?;
        let dec = |s: &str| -> Result<[u8; 32]> {
            let v = Zeroizing::new(
                B64.decode(s)
                    .map_err(|e| Error::corrupt(what, format!("bad base64: {e}")))?,
            );
            v.as_slice()
                .try_into()
                .map_err(|_| Error::corrupt(what, "master key part is not 32 bytes"))
        };
        Ok(MasterKey {
            enc: dec(&j.encryption)?,
            id_key: dec(&j.id_key)?,
            chunker_seed: j.chunker_seed,
        })
    }
}

fn seal_with(key: &LessSafeKey, plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce_bytes: [u8; NONCE_LEN] = random_bytes()?;
    // One allocation and one copy of the plaintext, encrypted in place.
    let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(plaintext);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::empty(),
            &mut out[NONCE_LEN..],
        )
        .map_err(|_| Error::Kdf("encryption failed".into()))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

fn open_with(key: &LessSafeKey, sealed: &[u8], what: &str) -> Result<Vec<u8>> {
    if sealed.len() < OVERHEAD {
        return Err(Error::corrupt(
            what,
            format!(
                "truncated: {} bytes is shorter than nonce and tag",
                sealed.len()
            ),
        ));
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| Error::corrupt(what, "bad nonce"))?;
    let mut buf = body.to_vec();
    let plain_len = key
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
        .map_err(|_| {
            Error::corrupt(
                what,
                "authentication failed (the data was modified, truncated or written with another key)",
            )
        })?
        .len();
    buf.truncate(plain_len);
    Ok(buf)
}

/// Argon2id cost parameters of a key slot.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes. The
    /// lanes are computed on all cores (about 0.1 s on two), so the cost to a
    /// defender falls while an attacker's memory × time per guess stays the same.
    /// Slots keep the parameters they were created with.
    fn default() -> Self {
        KdfParams {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 4,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests only.
    pub fn insecure_for_tests() -> Self {
        KdfParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        }
    }
}

/// A key slot file (`keys/<id>`), stored as plain JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeySlot {
    pub version: u32,
    pub kdf: String,
    #[serde(flatten)]
    pub params: KdfParams,
    /// Base64 of the 16-byte salt.
    pub salt: String,
    /// Base64 of `nonce || AES-256-GCM(master key JSON) || tag`.
    pub wrapped: String,
    pub label: String,
    pub created: String,
}

fn derive(password: &[u8], salt: &[u8], p: &KdfParams) -> Result<Zeroizing<[u8; 32]>> {
    let params = argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32))
        .map_err(|e| Error::Kdf(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password, salt, out.as_mut())
        .map_err(|e| Error::Kdf(e.to_string()))?;
    Ok(out)
}

fn wrapping_key(password: &[u8], salt: &[u8], p: &KdfParams) -> Result<LessSafeKey> {
    let k = derive(password, salt, p)?;
    let key = UnboundKey::new(&AES_256_GCM, k.as_ref())
        .map_err(|_| Error::Kdf("invalid wrapping key length".into()))?;
    Ok(LessSafeKey::new(key))
}

impl KeySlot {
    pub fn create(
        master: &MasterKey,
        password: &[u8],
        params: KdfParams,
        label: &str,
    ) -> Result<KeySlot> {
        let salt: [u8; 16] = random_bytes()?;
        let key = wrapping_key(password, &salt, &params)?;
        let wrapped = seal_with(&key, &master.to_json())?;
        Ok(KeySlot {
            version: 1,
            kdf: "argon2id".into(),
            params,
            salt: B64.encode(salt),
            wrapped: B64.encode(wrapped),
            label: label.to_string(),
            created: crate::format::now_rfc3339(),
        })
    }

    /// The master key if `password` opens this slot, `None` if it does not.
    pub fn open(&self, password: &[u8], what: &str) -> Result<Option<MasterKey>> {
        if self.kdf != "argon2id" {
            return Err(Error::corrupt(
                what,
                format!("unknown key derivation `{}`", self.kdf),
            ));
        }
        let salt = B64
            .decode(&self.salt)
            .map_err(|e| Error::corrupt(what, format!("bad salt: {e}")))?;
        let wrapped = B64
            .decode(&self.wrapped)
            .map_err(|e| Error::corrupt(what, format!("bad wrapped key: {e}")))?;
        let key = wrapping_key(password, &salt, &self.params)?;
        match open_with(&key, &wrapped, what) {
            Ok(plain) => {
                let plain = Zeroizing::new(plain);
                Ok(Some(MasterKey::from_json(&plain, what)?))
            }
            Err(Error::Corrupt { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

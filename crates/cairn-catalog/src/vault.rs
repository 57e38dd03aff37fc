//! Sealing of secrets kept in the catalog (certificate private keys, storage
//! credentials).
//!
//! Secrets are encrypted with AES-256-GCM under a 32-byte key that lives beside the
//! catalog in `<data-dir>/secret.key` (created with mode 0600), so a copied catalog
//! database alone reveals nothing. Each sealed value is bound to a context string (for
//! example `organization/contoso/private-key`) through the AEAD's associated data, so a
//! sealed value cannot be moved to another row unnoticed.
//!
//! Sealed format: `0x01 || nonce (12 bytes) || ciphertext || tag (16 bytes)`.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

const KEY_FILE: &str = "secret.key";
const KEY_LEN: usize = 32;
const FORMAT_V1: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("cannot read or create the secret key {path}: {source}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the secret key {path} is not {KEY_LEN} bytes; restore it from your backup of the data directory"
    )]
    KeyLength { path: PathBuf },
    #[error(
        "a sealed secret ({context}) cannot be opened: it was sealed under another secret key or is damaged"
    )]
    Open { context: String },
    #[error("the system random generator failed")]
    Random,
}

/// The key that seals the catalog's secrets.
pub struct Vault {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault { .. }")
    }
}

impl Vault {
    /// Opens the vault of a data directory, creating its key on first use.
    pub fn open_or_create(data_dir: &Path) -> Result<Self, VaultError> {
        let path = data_dir.join(KEY_FILE);
        let key_err = |source| VaultError::KeyFile {
            path: path.clone(),
            source,
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = SystemRandom::new();
                let mut fresh = Zeroizing::new(vec![0u8; KEY_LEN]);
                rng.fill(&mut fresh).map_err(|_| VaultError::Random)?;
                write_private_file(&path, &fresh).map_err(key_err)?;
                fresh
            }
            Err(e) => return Err(key_err(e)),
        };
        Self::from_key_bytes(&bytes).ok_or(VaultError::KeyLength { path })
    }

    fn from_key_bytes(bytes: &[u8]) -> Option<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(Self {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// Encrypts `plaintext`, bound to `context`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| VaultError::Random)?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| VaultError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts a value sealed with the same `context`.
    pub fn unseal(&self, context: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let open_err = || VaultError::Open {
            context: context.to_owned(),
        };
        let (version, rest) = sealed.split_first().ok_or_else(open_err)?;
        if *version != FORMAT_V1 || rest.len() < NONCE_LEN {
            return Err(open_err());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| open_err())?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| open_err())?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// Writes a file readable by its owner only, atomically (temp file + rename).
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_roundtrip_and_context_binding() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open_or_create(dir.path()).unwrap();
        let sealed = vault.seal("organization/a/key", b"private").unwrap();
        assert_ne!(&sealed[13..20], b"private");
        assert_eq!(
            &vault.unseal("organization/a/key", &sealed).unwrap()[..],
            b"private"
        );
        assert!(matches!(
            vault.unseal("organization/b/key", &sealed),
            Err(VaultError::Open { .. })
        ));
        // Reopening reads the same key from disk.
        let again = Vault::open_or_create(dir.path()).unwrap();
        assert_eq!(
            &again.unseal("organization/a/key", &sealed).unwrap()[..],
            b"private"
        );
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        Vault::open_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn damaged_key_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        assert!(matches!(
            Vault::open_or_create(dir.path()),
            Err(VaultError::KeyLength { .. })
        ));
    }
}

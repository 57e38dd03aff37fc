//! Certificates the simulator makes: its own CA (clients trust it instead of the public
//! roots), one server certificate covering every cloud's host names, and RSA credentials
//! (token signing key, pre-registered apps' certificates). Existing files in the state
//! directory are reused so a CA a user trusted stays valid across restarts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::digest;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::SimError;

fn cert_err(what: &str, e: impl std::fmt::Display) -> SimError {
    SimError::Certificate {
        what: what.to_string(),
        detail: e.to_string(),
    }
}

fn write(path: &Path, text: &str) -> Result<(), SimError> {
    std::fs::write(path, text).map_err(|source| SimError::StateFile {
        path: path.to_path_buf(),
        source,
    })
}

fn validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(825);
}

/// The simulator's certificate authority.
pub struct Authority {
    /// CA certificate PEM (what clients trust).
    pub pem: String,
    /// Where the PEM is written.
    pub path: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    /// Loads `<state_dir>/ca.pem` + `ca-key.pem`, or creates and writes them.
    pub fn load_or_create(state_dir: &Path) -> Result<Authority, SimError> {
        let path = state_dir.join("ca.pem");
        let key_path = state_dir.join("ca-key.pem");
        if let (Ok(pem), Ok(key_pem)) = (
            std::fs::read_to_string(&path),
            std::fs::read_to_string(&key_path),
        ) && let Ok(key) = KeyPair::from_pem(&key_pem)
            && let Ok(issuer) = Issuer::from_ca_cert_pem(&pem, key)
        {
            return Ok(Authority { pem, path, issuer });
        }
        let key = KeyPair::generate().map_err(|e| cert_err("simulator CA key", e))?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "Cairn tenant simulator root CA");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Cairn simulator");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
        let cert = params
            .self_signed(&key)
            .map_err(|e| cert_err("simulator CA", e))?;
        let pem = cert.pem();
        write(&key_path, &key.serialize_pem())?;
        write(&path, &pem)?;
        Ok(Authority {
            pem,
            path,
            issuer: Issuer::new(params, key),
        })
    }

    /// A rustls server configuration with a fresh certificate for `hosts`.
    pub fn server_config(&self, hosts: &[&str]) -> Result<Arc<rustls::ServerConfig>, SimError> {
        let key = KeyPair::generate().map_err(|e| cert_err("server key", e))?;
        let mut names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        names.push("127.0.0.1".into());
        names.push("::1".into());
        let mut params =
            CertificateParams::new(names).map_err(|e| cert_err("server certificate", e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "Cairn tenant simulator");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| cert_err("server certificate", e))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// An RSA certificate with its private key (app credentials, the token signing key).
#[derive(Clone)]
pub struct RsaCredential {
    /// DER of the certificate.
    pub cert_der: Vec<u8>,
    /// Certificate PEM followed by the PKCS#8 private key PEM.
    pub pem: String,
    /// PKCS#8 DER of the private key.
    pub key_pkcs8: Vec<u8>,
}

impl std::fmt::Debug for RsaCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("RsaCredential")
            .field("sha1", &hex::encode(sha1(&self.cert_der)))
            .finish()
    }
}

impl RsaCredential {
    /// Reads a certificate (+ key, if present) PEM file, or generates a self-signed RSA
    /// certificate with `common_name` and writes it there when `generate` is set.
    pub fn load_or_generate(
        path: &Path,
        common_name: &str,
        generate: bool,
    ) -> Result<RsaCredential, SimError> {
        if let Ok(text) = std::fs::read_to_string(path) {
            return RsaCredential::from_pem(&text).ok_or_else(|| {
                cert_err(
                    &path.display().to_string(),
                    "the file holds no PEM CERTIFICATE block; give a certificate PEM or delete it to regenerate",
                )
            });
        }
        if !generate {
            return Err(SimError::StateFile {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
            });
        }
        let key =
            KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(|e| cert_err(common_name, e))?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        validity(&mut params);
        let cert = params
            .self_signed(&key)
            .map_err(|e| cert_err(common_name, e))?;
        let pem = format!("{}{}", cert.pem(), key.serialize_pem());
        write(path, &pem)?;
        Ok(RsaCredential {
            cert_der: cert.der().to_vec(),
            pem,
            key_pkcs8: key.serialize_der(),
        })
    }

    /// Parses the first certificate and (optional) private key of a PEM text.
    pub fn from_pem(text: &str) -> Option<RsaCredential> {
        let blocks = pem::parse_many(text).ok()?;
        let cert = blocks.iter().find(|b| b.tag() == "CERTIFICATE")?;
        let key = blocks
            .iter()
            .find(|b| b.tag() == "PRIVATE KEY")
            .map(|b| b.contents().to_vec())
            .unwrap_or_default();
        Some(RsaCredential {
            cert_der: cert.contents().to_vec(),
            pem: text.to_string(),
            key_pkcs8: key,
        })
    }
}

/// SHA-1 of a certificate DER (the `x5t` thumbprint).
pub fn sha1(der: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der)
        .as_ref()
        .to_vec()
}

/// SHA-256 of a certificate DER (the `x5t#S256` thumbprint).
pub fn sha256(der: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, der).as_ref().to_vec()
}

/// The RSA public key (n, e, big-endian without leading zeros) of a certificate, and the
/// PKCS#1 RSAPublicKey DER aws-lc-rs verifies with.
pub fn rsa_public_key(cert_der: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let spki = cert.public_key();
    let pkcs1 = spki.subject_public_key.data.to_vec();
    match spki.parsed().ok()? {
        x509_parser::public_key::PublicKey::RSA(rsa) => {
            let strip = |b: &[u8]| {
                let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
                b[first..].to_vec()
            };
            Some((strip(rsa.modulus), strip(rsa.exponent), pkcs1))
        }
        _ => None,
    }
}

/// DER of a base64 certificate (as Graph's keyCredentials carry it).
pub fn certificate_from_base64(b64: &str) -> Option<CertificateDer<'static>> {
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    x509_parser::parse_x509_certificate(&der).ok()?;
    Some(CertificateDer::from(der))
}

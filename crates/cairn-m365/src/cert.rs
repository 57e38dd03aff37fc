//! The backup application's certificate: Cairn signs in as its application with a
//! certificate, never a secret. Generated here (self-signed RSA-2048, as Entra accepts
//! for application credentials) or loaded from the admin's PFX / PEM file.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// A certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// Generating the key or certificate failed.
    #[error("cannot generate the application certificate: {0}")]
    Generate(String),
    /// The PFX could not be opened.
    #[error("cannot open the PFX/PKCS#12 file: {0} (is the password right?)")]
    Pfx(String),
    /// The PFX or PEM holds no certificate or no key.
    #[error("{0}")]
    Incomplete(String),
    /// The key is not an RSA key Cairn can sign with.
    #[error("the private key is not a usable RSA key ({0}): give an RSA key (PKCS#8 or PKCS#1)")]
    Key(String),
    /// The PEM text could not be parsed.
    #[error("cannot parse PEM: {0}")]
    Pem(String),
    /// Signing failed.
    #[error("cannot sign with the application key: {0}")]
    Sign(String),
}

/// A certificate (DER) and its RSA private key (PKCS#8 DER, wiped on drop).
pub struct AppCertificate {
    cert_der: Vec<u8>,
    key_pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for AppCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCertificate")
            .field("x5t", &self.x5t())
            .finish_non_exhaustive()
    }
}

impl Clone for AppCertificate {
    fn clone(&self) -> Self {
        Self {
            cert_der: self.cert_der.clone(),
            key_pkcs8: self.key_pkcs8.clone(),
        }
    }
}

impl AppCertificate {
    /// A new self-signed RSA-2048 certificate valid for two years, named `CN=<common_name>`.
    pub fn generate(common_name: &str) -> Result<Self, CertificateError> {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .map_err(|e| CertificateError::Generate(e.to_string()))?;
        let mut params = rcgen::CertificateParams::default();
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::CommonName, common_name);
        params.distinguished_name = name;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(730);
        let cert = params
            .self_signed(&key)
            .map_err(|e| CertificateError::Generate(e.to_string()))?;
        Ok(Self {
            cert_der: cert.der().to_vec(),
            key_pkcs8: Zeroizing::new(key.serialize_der()),
        })
    }

    /// From PEM text holding a `CERTIFICATE` block and a `PRIVATE KEY` (PKCS#8) or
    /// `RSA PRIVATE KEY` (PKCS#1) block, in one text or two concatenated.
    pub fn from_pem(pem_text: &[u8]) -> Result<Self, CertificateError> {
        let blocks = pem::parse_many(pem_text).map_err(|e| CertificateError::Pem(e.to_string()))?;
        let cert = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| {
                CertificateError::Incomplete(
                    "the PEM holds no CERTIFICATE block: give the certificate and its private key"
                        .into(),
                )
            })?;
        let key = blocks
            .iter()
            .find(|b| b.tag() == "PRIVATE KEY" || b.tag() == "RSA PRIVATE KEY")
            .ok_or_else(|| {
                CertificateError::Incomplete(
                    "the PEM holds no PRIVATE KEY or RSA PRIVATE KEY block: give the certificate and its private key".into(),
                )
            })?;
        let pkcs8 = if key.tag() == "RSA PRIVATE KEY" {
            let pair = RsaKeyPair::from_der(key.contents())
                .map_err(|e| CertificateError::Key(e.to_string()))?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> = pair
                .as_der()
                .map_err(|e| CertificateError::Key(e.to_string()))?;
            der.as_ref().to_vec()
        } else {
            key.contents().to_vec()
        };
        Self::from_der(cert.contents().to_vec(), pkcs8)
    }

    /// From a PFX / PKCS#12 file and its password.
    pub fn from_pfx(data: &[u8], password: &str) -> Result<Self, CertificateError> {
        let store = p12_keystore::KeyStore::from_pkcs12(
            data,
            password,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|e| CertificateError::Pfx(e.to_string()))?;
        let (_, chain) = store.private_key_chain().ok_or_else(|| {
            CertificateError::Incomplete(
                "the PFX holds no private key: export the certificate with its private key".into(),
            )
        })?;
        let cert = chain.certs().first().ok_or_else(|| {
            CertificateError::Incomplete("the PFX holds a key but no certificate for it".into())
        })?;
        Self::from_der(cert.as_der().to_vec(), chain.key().as_der().to_vec())
    }

    /// From DER certificate and PKCS#8 DER key; checks that the key can sign.
    pub fn from_der(cert_der: Vec<u8>, key_pkcs8: Vec<u8>) -> Result<Self, CertificateError> {
        let key_pkcs8 = Zeroizing::new(key_pkcs8);
        RsaKeyPair::from_pkcs8(&key_pkcs8).map_err(|e| CertificateError::Key(e.to_string()))?;
        x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| CertificateError::Pem(format!("certificate: {e}")))?;
        Ok(Self {
            cert_der,
            key_pkcs8,
        })
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The certificate, PEM (public: safe to store and show).
    pub fn cert_pem(&self) -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE", self.cert_der.clone()))
    }

    /// The private key, PKCS#8 PEM (secret: seal before storing).
    pub fn key_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            self.key_pkcs8.to_vec(),
        )))
    }

    /// Base64 of the DER certificate: the `key` of a Graph `keyCredential`.
    pub fn cert_base64(&self) -> String {
        STANDARD.encode(&self.cert_der)
    }

    /// `x5t`: base64url SHA-1 thumbprint of the DER certificate.
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sha1())
    }

    /// SHA-1 thumbprint, upper-case hex (as Entra and Windows show it).
    pub fn thumbprint(&self) -> String {
        hex::encode_upper(self.sha1())
    }

    fn sha1(&self) -> Vec<u8> {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.cert_der)
            .as_ref()
            .to_vec()
    }

    /// End of validity, from the certificate.
    pub fn not_after(&self) -> Option<time::OffsetDateTime> {
        let (_, cert) = x509_parser::parse_x509_certificate(&self.cert_der).ok()?;
        Some(cert.validity().not_after.to_datetime())
    }

    /// RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    pub fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, CertificateError> {
        let pair = RsaKeyPair::from_pkcs8(&self.key_pkcs8)
            .map_err(|e| CertificateError::Key(e.to_string()))?;
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
            .map_err(|e| CertificateError::Sign(e.to_string()))?;
        Ok(signature)
    }
}

/// SHA-1 thumbprint (upper-case hex) of the first certificate in PEM text.
pub fn thumbprint_of_pem(pem_text: &str) -> Option<String> {
    let block = pem::parse_many(pem_text)
        .ok()?
        .into_iter()
        .find(|b| b.tag() == "CERTIFICATE")?;
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        block.contents(),
    );
    Some(hex::encode_upper(digest.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_round_trips_through_pem() {
        let cert = AppCertificate::generate("Cairn Backup test").expect("generate");
        let mut pem_text = cert.cert_pem();
        pem_text.push_str(&cert.key_pem());
        let loaded = AppCertificate::from_pem(pem_text.as_bytes()).expect("load");
        assert_eq!(loaded.cert_der(), cert.cert_der());
        assert_eq!(loaded.x5t(), cert.x5t());
        assert_eq!(loaded.thumbprint().len(), 40);
        assert_eq!(thumbprint_of_pem(&pem_text), Some(cert.thumbprint()));
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.cert_der()).expect("x509");
        assert!(parsed.subject().to_string().contains("Cairn Backup test"));
        assert!(
            cert.not_after()
                .is_some_and(|t| t > time::OffsetDateTime::now_utc())
        );
    }

    #[test]
    fn signature_verifies_with_the_certificate_key() {
        let cert = AppCertificate::generate("sig").expect("generate");
        let sig = cert.sign_rs256(b"header.claims").expect("sign");
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.cert_der()).expect("x509");
        let spki = parsed.public_key().subject_public_key.data.to_vec();
        let public = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            spki,
        );
        assert!(public.verify(b"header.claims", &sig).is_ok());
        assert!(public.verify(b"header.claimz", &sig).is_err());
    }

    #[test]
    fn pem_without_key_is_explained() {
        let cert = AppCertificate::generate("nokey").expect("generate");
        let err = AppCertificate::from_pem(cert.cert_pem().as_bytes())
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("PRIVATE KEY")));
    }

    #[test]
    fn pfx_round_trips() {
        let cert = AppCertificate::generate("pfx").expect("generate");
        let mut store = p12_keystore::KeyStore::new();
        let key = p12_keystore::PrivateKey::from_der(&cert.key_pkcs8).expect("key");
        let c = p12_keystore::Certificate::from_der(cert.cert_der()).expect("cert");
        let chain = p12_keystore::PrivateKeyChain::new(vec![1u8], key, vec![c]);
        store.add_entry("cairn", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        let pfx = store.writer("pw").write().expect("write pfx");
        let loaded = AppCertificate::from_pfx(&pfx, "pw").expect("load pfx");
        assert_eq!(loaded.cert_der(), cert.cert_der());
        assert!(AppCertificate::from_pfx(&pfx, "wrong").is_err());
    }
}

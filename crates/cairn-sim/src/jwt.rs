//! JSON Web Tokens: signing the simulator's access tokens (RS256, `kid` published in the
//! JWKS like Entra's) and checking tokens and client assertions it receives.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, RsaKeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::error::SimError;
use crate::pki::{self, RsaCredential};

/// Base64url without padding, as JOSE wants.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The key that signs every token the simulator issues.
pub struct TokenSigner {
    key: RsaKeyPair,
    rng: SystemRandom,
    kid: String,
    x5c: String,
    n: String,
    e: String,
    pkcs1: Vec<u8>,
}

impl TokenSigner {
    /// Wraps an RSA credential (certificate + PKCS#8 key).
    pub fn new(cred: &RsaCredential) -> Result<TokenSigner, SimError> {
        let bad = |detail: &str| SimError::Certificate {
            what: "token signing key".into(),
            detail: detail.into(),
        };
        let key = RsaKeyPair::from_pkcs8(&cred.key_pkcs8)
            .map_err(|e| bad(&format!("private key rejected: {e}")))?;
        let (n, e, pkcs1) =
            pki::rsa_public_key(&cred.cert_der).ok_or_else(|| bad("certificate is not RSA"))?;
        Ok(TokenSigner {
            key,
            rng: SystemRandom::new(),
            // Entra's kid equals the x5t thumbprint of the signing certificate.
            kid: b64url(&pki::sha1(&cred.cert_der)),
            x5c: STANDARD.encode(&cred.cert_der),
            n: b64url(&n),
            e: b64url(&e),
            pkcs1,
        })
    }

    /// The key id in token headers and the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs claims into a compact JWT.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        // Signing with a valid key into a buffer of the modulus length only fails on
        // allocation failure inside aws-lc; an empty signature then fails verification.
        if self
            .key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &self.rng,
                input.as_bytes(),
                &mut sig,
            )
            .is_err()
        {
            sig.clear();
        }
        format!("{input}.{}", b64url(&sig))
    }

    /// The JWKS document (`/discovery/v2.0/keys`).
    pub fn jwks(&self, issuer: &str) -> Value {
        json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
            "x5c": [self.x5c],
            "issuer": issuer,
        }]})
    }

    /// Decodes a token and checks it was signed by this key.
    pub fn verify(&self, token: &str) -> Option<Jwt> {
        let jwt = Jwt::decode(token)?;
        if jwt.header.get("kid").and_then(Value::as_str) != Some(self.kid.as_str()) {
            return None;
        }
        verify_signature(&self.pkcs1, "RS256", &jwt).then_some(jwt)
    }
}

/// A decoded (not yet trusted) JWT.
#[derive(Debug, Clone)]
pub struct Jwt {
    /// JOSE header.
    pub header: Value,
    /// Claims.
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jwt {
    /// Splits and decodes a compact JWT; `None` when malformed.
    pub fn decode(token: &str) -> Option<Jwt> {
        let mut parts = token.trim().split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
        let signature = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
        if !header.is_object() || !claims.is_object() {
            return None;
        }
        Some(Jwt {
            header,
            claims,
            signing_input: format!("{h}.{c}"),
            signature,
        })
    }

    /// A string claim.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric claim.
    pub fn num(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_f64().map(|f| f as i64))
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    }

    /// A string header field.
    pub fn head(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }
}

/// Verifies a JWT's signature with an RSA public key (PKCS#1 DER) for RS256 or PS256.
pub fn verify_signature(pkcs1: &[u8], alg: &str, jwt: &Jwt) -> bool {
    let algorithm: &dyn signature::VerificationAlgorithm = match alg {
        "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        _ => return false,
    };
    UnparsedPublicKey::new(algorithm, pkcs1)
        .verify(jwt.signing_input.as_bytes(), &jwt.signature)
        .is_ok()
}

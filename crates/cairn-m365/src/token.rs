//! Entra ID sign-in (OAuth 2.0 v2 token endpoint): the password grant for an admin,
//! client credentials with a certificate assertion or a secret for an application.
//! Tokens are cached per (tenant, client, resource) until shortly before they expire.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::cert::AppCertificate;
use crate::error::{EntraError, Error, Result};
use crate::region::Region;

/// Microsoft Graph Command Line Tools (Graph PowerShell): public client for the
/// admin's Graph sign-in.
pub const GRAPH_CLI_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
/// Microsoft Exchange Online PowerShell (EXO V3): public client for the admin's
/// Exchange sign-in.
pub const EXO_POWERSHELL_CLIENT_ID: &str = "fb78d390-0c51-40cd-8e17-fdbfab77341b";

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Microsoft Graph.
    Graph,
    /// Exchange Online (admin API).
    Exchange,
}

impl Resource {
    /// The resource id in `region` (`https://graph.microsoft.us`, …).
    pub fn id(self, region: Region) -> String {
        match self {
            Resource::Graph => region.graph_resource(),
            Resource::Exchange => region.exchange_resource(),
        }
    }
}

/// Who signs in.
#[derive(Clone)]
pub enum Credential {
    /// An administrator with user name and password (ROPC), through Microsoft's
    /// public clients. The password is wiped from memory on drop.
    Password {
        /// UPN.
        username: String,
        /// Password.
        password: Zeroizing<String>,
    },
    /// An application with a certificate (client assertion, RS256 + `x5t`).
    Certificate {
        /// Application (client) id.
        client_id: String,
        /// Its certificate and key.
        certificate: Box<AppCertificate>,
    },
    /// An application with a client secret.
    Secret {
        /// Application (client) id.
        client_id: String,
        /// The secret.
        secret: Zeroizing<String>,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Password { username, .. } => write!(f, "Password({username})"),
            Credential::Certificate { client_id, .. } => write!(f, "Certificate({client_id})"),
            Credential::Secret { client_id, .. } => write!(f, "Secret({client_id})"),
        }
    }
}

impl Credential {
    /// The client id used for `resource`.
    pub fn client_id(&self, resource: Resource) -> &str {
        match self {
            Credential::Password { .. } => match resource {
                Resource::Graph => GRAPH_CLI_CLIENT_ID,
                Resource::Exchange => EXO_POWERSHELL_CLIENT_ID,
            },
            Credential::Certificate { client_id, .. } | Credential::Secret { client_id, .. } => {
                client_id
            }
        }
    }

    /// Whether tokens are app-only (no signed-in user).
    pub fn is_app_only(&self) -> bool {
        !matches!(self, Credential::Password { .. })
    }
}

/// The claims Cairn reads from an access token (not verified: the token is for the
/// service, Cairn only looks at what it was granted).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenClaims {
    /// Tenant id.
    #[serde(default)]
    pub tid: Option<String>,
    /// Object id of the user or service principal.
    #[serde(default)]
    pub oid: Option<String>,
    /// Client id.
    #[serde(default)]
    pub appid: Option<String>,
    /// Application permissions (app-only tokens).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Delegated scopes (user tokens), space-separated.
    #[serde(default)]
    pub scp: Option<String>,
    /// Audience.
    #[serde(default)]
    pub aud: Option<String>,
    /// The signed-in user's UPN.
    #[serde(default)]
    pub upn: Option<String>,
}

impl TokenClaims {
    /// Decodes the payload of a JWT; `None` if it is not one.
    pub fn from_jwt(token: &str) -> Option<Self> {
        let payload = token.split('.').nth(1)?;
        let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// A bearer token and what it carries.
pub struct AccessToken {
    secret: Zeroizing<String>,
    expires_at: Instant,
    /// Its claims.
    pub claims: TokenClaims,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl AccessToken {
    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.secret.as_str())
    }

    fn is_fresh(&self) -> bool {
        // Renew five minutes early, so that a call never starts with a dying token.
        self.expires_at > Instant::now() + Duration::from_secs(300)
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// Signs in to one tenant of one cloud and hands out (cached) tokens.
pub struct Authenticator {
    http: reqwest::Client,
    region: Region,
    tenant: String,
    credential: Credential,
    cache: Mutex<HashMap<(String, String, Resource), Arc<AccessToken>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("region", &self.region)
            .field("tenant", &self.tenant)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// `tenant` is a tenant id or one of its domains.
    pub fn new(
        http: reqwest::Client,
        region: Region,
        tenant: impl Into<String>,
        credential: Credential,
    ) -> Self {
        Self {
            http,
            region,
            tenant: tenant.into(),
            credential,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The cloud.
    pub fn region(&self) -> Region {
        self.region
    }

    /// The tenant as given.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Who signs in.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// The HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The token endpoint URL.
    pub fn token_endpoint(&self) -> String {
        format!(
            "https://{}/{}/oauth2/v2.0/token",
            self.region.authority_host(),
            self.tenant
        )
    }

    /// A token for `resource`, from the cache while it is fresh.
    pub async fn token(&self, resource: Resource) -> Result<Arc<AccessToken>> {
        let key = (
            self.tenant.to_ascii_lowercase(),
            self.credential.client_id(resource).to_owned(),
            resource,
        );
        let mut cache = self.cache.lock().await;
        if let Some(token) = cache.get(&key).filter(|t| t.is_fresh()) {
            return Ok(token.clone());
        }
        let token = Arc::new(self.request(resource).await?);
        cache.insert(key, token.clone());
        Ok(token)
    }

    /// Forgets cached tokens (after permissions changed, a new token shows them).
    pub async fn forget_tokens(&self) {
        self.cache.lock().await.clear();
    }

    async fn request(&self, resource: Resource) -> Result<AccessToken> {
        let url = self.token_endpoint();
        let scope = format!("{}/.default", resource.id(self.region));
        let client_id = self.credential.client_id(resource).to_owned();
        let mut form: Vec<(&str, String)> =
            vec![("client_id", client_id.clone()), ("scope", scope)];
        match &self.credential {
            Credential::Password { username, password } => {
                form.push(("grant_type", "password".into()));
                form.push(("username", username.clone()));
                form.push(("password", password.to_string()));
            }
            Credential::Certificate { certificate, .. } => {
                form.push(("grant_type", "client_credentials".into()));
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push((
                    "client_assertion",
                    client_assertion(certificate, &client_id, &url)?,
                ));
            }
            Credential::Secret { secret, .. } => {
                form.push(("grant_type", "client_credentials".into()));
                form.push(("client_secret", secret.to_string()));
            }
        }
        let sent_at = Instant::now();
        let response = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|source| Error::Transport {
                url: url.clone(),
                source,
            });
        // The form holds the password or secret: wipe our copy now.
        for (_, value) in form.iter_mut() {
            zeroize::Zeroize::zeroize(value);
        }
        let response = response?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|source| Error::Transport {
            url: url.clone(),
            source,
        })?;
        if !(200..300).contains(&status) {
            let error = EntraError::parse(status, &body).unwrap_or_else(|| EntraError {
                status,
                error: "unexpected_response".into(),
                codes: Vec::new(),
                description: String::from_utf8_lossy(&body).chars().take(300).collect(),
                correlation_id: None,
            });
            return Err(Error::SignIn {
                tenant: self.tenant.clone(),
                error: Box::new(error),
            });
        }
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| Error::Decode {
            url: url.clone(),
            what: format!("token response: {e}"),
        })?;
        // expires_in is a number, though some servers send it as a string.
        let expires_in = match parsed.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(3599),
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or(3599),
            _ => 3599,
        };
        let claims = TokenClaims::from_jwt(&parsed.access_token).unwrap_or_default();
        Ok(AccessToken {
            secret: Zeroizing::new(parsed.access_token),
            expires_at: sent_at + Duration::from_secs(expires_in),
            claims,
        })
    }
}

/// The signed JWT proving possession of the application's certificate.
pub fn client_assertion(
    certificate: &AppCertificate,
    client_id: &str,
    audience: &str,
) -> Result<String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": certificate.x5t()});
    let claims = serde_json::json!({
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = certificate.sign_rs256(signing_input.as_bytes())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertion_has_the_documented_shape() {
        let cert = AppCertificate::generate("assert").expect("generate");
        let aud = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let jwt = client_assertion(&cert, "app-1", aud).expect("assertion");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t"], cert.x5t());
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        assert_eq!(claims["aud"], aud);
        assert_eq!(claims["iss"], "app-1");
        assert_eq!(claims["sub"], "app-1");
        let exp = claims["exp"].as_u64().expect("exp");
        let nbf = claims["nbf"].as_u64().expect("nbf");
        assert_eq!(exp - nbf, 600);
    }

    #[test]
    fn claims_are_read_from_the_payload() {
        let payload = URL_SAFE_NO_PAD
            .encode(br#"{"tid":"t-1","roles":["User.Read.All","Sites.Read.All"],"appid":"a"}"#);
        let token = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
        let claims = TokenClaims::from_jwt(&token).expect("claims");
        assert_eq!(claims.tid.as_deref(), Some("t-1"));
        assert_eq!(claims.roles, ["User.Read.All", "Sites.Read.All"]);
        assert!(TokenClaims::from_jwt("opaque").is_none());
    }

    #[test]
    fn password_sign_in_uses_microsofts_public_clients() {
        let credential = Credential::Password {
            username: "admin@contoso.com".into(),
            password: Zeroizing::new("s3cret-Passw0rd".into()),
        };
        assert_eq!(credential.client_id(Resource::Graph), GRAPH_CLI_CLIENT_ID);
        assert_eq!(
            credential.client_id(Resource::Exchange),
            EXO_POWERSHELL_CLIENT_ID
        );
        assert!(!credential.is_app_only());
        // Debug output (what logs would show) never carries the password.
        let shown = format!("{credential:?}");
        assert!(shown.contains("admin@contoso.com") && !shown.contains("s3cret"));
        assert_eq!(
            Resource::Exchange.id(Region::UsGovDod),
            "https://outlook-dod.office365.us"
        );
    }
}

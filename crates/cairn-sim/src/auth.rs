//! Checking the bearer tokens Microsoft Graph and Exchange Online receive: signature,
//! lifetime, audience of this cloud's resource, tenant; and who the caller is.

use http::HeaderMap;
use uuid::Uuid;

use crate::entra::token::Resource;
use crate::jwt::Jwt;
use crate::server::{Origin, Shared};

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// App-only token.
    App {
        /// Client application id.
        app_id: String,
        /// Granted application permissions.
        roles: Vec<String>,
    },
    /// Delegated token.
    User {
        /// Signed-in user.
        user_id: Uuid,
        /// UPN.
        upn: String,
        /// Consented scopes.
        scp: Vec<String>,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Tenant of the token.
    pub tenant: Uuid,
    /// Principal.
    pub principal: Principal,
}

impl Caller {
    /// Whether an app-only token holds one of the roles, or a delegated one holds one of
    /// the scopes.
    pub fn has_permission(&self, app_roles: &[&str], scopes: &[&str]) -> bool {
        match &self.principal {
            Principal::App { roles, .. } => roles.iter().any(|r| app_roles.contains(&r.as_str())),
            Principal::User { scp, .. } => scp.iter().any(|s| scopes.contains(&s.as_str())),
        }
    }
}

/// Why a token was refused (Graph's InvalidAuthenticationToken messages).
#[derive(Debug, Clone)]
pub struct AuthFailure(pub &'static str);

/// Validates the bearer token of a request for `resource`.
pub fn authenticate(
    sim: &Shared,
    origin: &Origin,
    headers: &HeaderMap,
    resource: Resource,
) -> Result<Caller, AuthFailure> {
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthFailure("Access token is empty."))?;
    if Jwt::decode(token).is_none() {
        return Err(AuthFailure(
            "IDX14100: JWT is not well formed, there are no dots (.).",
        ));
    }
    let jwt = sim
        .signer
        .verify(token)
        .ok_or(AuthFailure("Access token validation failure."))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if jwt.num("exp").is_none_or(|e| e < now) {
        return Err(AuthFailure(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    let cloud = origin.cloud();
    let aud = jwt.claim("aud").unwrap_or_default();
    if aud.trim_end_matches('/') != resource.audience(cloud) && aud != resource.app_id() {
        return Err(AuthFailure(
            "Access token validation failure. Invalid audience.",
        ));
    }
    let tenant = jwt
        .claim("tid")
        .and_then(|t| Uuid::parse_str(t).ok())
        .ok_or(AuthFailure("Access token validation failure."))?;
    let state = sim.read();
    let Some(t) = state.tenant_by_id(tenant).filter(|t| t.cloud == cloud) else {
        return Err(AuthFailure(
            "Access token validation failure. Invalid issuer.",
        ));
    };
    let principal = match jwt.claim("idtyp") {
        Some("app") => Principal::App {
            app_id: jwt.claim("appid").unwrap_or_default().to_string(),
            roles: jwt
                .claims
                .get("roles")
                .and_then(|r| r.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        },
        _ => {
            let user = jwt
                .claim("oid")
                .and_then(|o| Uuid::parse_str(o).ok())
                .and_then(|o| t.user_by_id(o))
                .ok_or(AuthFailure("Access token validation failure."))?;
            if !user.account_enabled {
                return Err(AuthFailure("The user account is disabled."));
            }
            Principal::User {
                user_id: user.id,
                upn: user.upn.clone(),
                scp: jwt
                    .claim("scp")
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(String::from)
                    .collect(),
            }
        }
    };
    Ok(Caller { tenant, principal })
}

//! The token endpoint: client credentials (secret or certificate assertion), password
//! (ROPC) for the first-party public clients, and refresh tokens; issues signed v1-format
//! access tokens for Microsoft Graph and Exchange Online, as Entra does for those APIs.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::client_auth::{authenticate_client, basic_auth};
use super::errors::AadError;
use super::resolve_tenant;
use crate::catalog;
use crate::cloud::Cloud;
use crate::jwt::b64url;
use crate::server::{Origin, Shared, json_response};
use crate::state::TenantState;

/// Lifetime of issued access tokens, in seconds.
pub const TOKEN_LIFETIME: i64 = 3599;

/// What a refresh token stands for.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    /// Tenant.
    pub tenant: Uuid,
    /// User.
    pub user: Uuid,
    /// Client.
    pub client_id: String,
}

/// The API a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Microsoft Graph.
    Graph,
    /// Exchange Online.
    Exchange,
}

impl Resource {
    /// Application id of the resource.
    pub fn app_id(self) -> &'static str {
        match self {
            Resource::Graph => catalog::GRAPH_APP_ID,
            Resource::Exchange => catalog::EXCHANGE_APP_ID,
        }
    }

    /// Token audience in a cloud.
    pub fn audience(self, cloud: Cloud) -> String {
        match self {
            Resource::Graph => cloud.graph_resource(),
            Resource::Exchange => cloud.exchange_resource(),
        }
    }
}

/// A form-encoded request body.
pub(super) struct Form(pub(super) Vec<(String, String)>);

impl Form {
    /// A non-empty parameter.
    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token_v2(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(sim, origin, tenant, headers, body, true)
}

/// `POST /{tenant}/oauth2/token` (v1, `resource=`).
pub async fn token_v1(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(sim, origin, tenant, headers, body, false)
}

fn token(
    sim: Shared,
    origin: Origin,
    tenant: String,
    headers: HeaderMap,
    body: Bytes,
    v2: bool,
) -> Response {
    let correlation = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let form = Form(url::form_urlencoded::parse(&body).into_owned().collect());
    match issue(&sim, &origin, &tenant, &headers, &form, v2) {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.at(&origin.base(), correlation).into_response(),
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Parses `scope` (v2) or `resource` (v1) into the resource and the requested scopes.
fn requested_resource(
    form: &Form,
    tenant: &TenantState,
    v2: bool,
) -> Result<(Resource, Vec<String>, Vec<String>), AadError> {
    let cloud = tenant.cloud;
    let resolve = |r: &str| -> Result<Resource, AadError> {
        let r = r.trim_end_matches('/');
        if r.eq_ignore_ascii_case(catalog::GRAPH_APP_ID) {
            return Ok(Resource::Graph);
        }
        if r.eq_ignore_ascii_case(catalog::EXCHANGE_APP_ID) {
            return Ok(Resource::Exchange);
        }
        let host = url::Url::parse(r)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        if host == cloud.graph_host() {
            Ok(Resource::Graph)
        } else if host == cloud.exchange_host()
            || (cloud == Cloud::Worldwide && host == "outlook.office.com")
        {
            Ok(Resource::Exchange)
        } else {
            Err(AadError::invalid_resource(
                500011,
                format!(
                    "The resource principal named {r} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                    tenant.display_name
                ),
            ))
        }
    };
    if !v2 {
        let r = form
            .get("resource")
            .ok_or_else(|| AadError::missing("resource"))?;
        return Ok((resolve(r)?, vec![".default".into()], Vec::new()));
    }
    let scope = form
        .get("scope")
        .ok_or_else(|| AadError::missing("scope"))?;
    let mut oidc = Vec::new();
    let mut resource = None;
    let mut names = Vec::new();
    for s in scope.split_whitespace() {
        if ["openid", "profile", "offline_access", "email"].contains(&s) {
            oidc.push(s.to_string());
            continue;
        }
        let (res, name) = match s.rsplit_once('/') {
            Some((prefix, name)) if !prefix.is_empty() => (resolve(prefix)?, name.to_string()),
            _ => (Resource::Graph, s.to_string()),
        };
        if resource.is_some_and(|r| r != res) {
            return Err(AadError::invalid_scope(
                28000,
                "Provide value for the input parameter scope. Scopes for more than one resource were requested; ask for one resource per token.",
            ));
        }
        resource = Some(res);
        names.push(name);
    }
    match resource {
        Some(r) => Ok((r, names, oidc)),
        // Only OIDC scopes: Entra gives a Graph token with User.Read.
        None => Ok((Resource::Graph, vec!["User.Read".into()], oidc)),
    }
}

fn issue(
    sim: &Shared,
    origin: &Origin,
    tenant_key: &str,
    headers: &HeaderMap,
    form: &Form,
    v2: bool,
) -> Result<Value, AadError> {
    let grant = form
        .get("grant_type")
        .ok_or_else(|| AadError::missing("grant_type"))?;
    let state = sim.read();
    let tenant_key = if super::is_multi_tenant_alias(tenant_key) {
        // Only a user name can say which tenant "common" means.
        match form.get("username").and_then(|u| u.rsplit_once('@')) {
            Some((_, domain)) if grant == "password" => domain.to_string(),
            _ => {
                return Err(AadError::invalid_request(
                    50059,
                    "No tenant-identifying information found in either the request or implied by any provided credentials.",
                ));
            }
        }
    } else {
        tenant_key.to_string()
    };
    let resolved = resolve_tenant(&state, origin, &tenant_key)?;
    let Some(tenant) = state.tenant_by_id(resolved.id) else {
        return Err(AadError::tenant_not_found(&tenant_key));
    };
    let (basic_id, basic_secret) = basic_auth(headers);
    let client_id = form
        .get("client_id")
        .map(String::from)
        .or(basic_id)
        .ok_or_else(|| AadError::missing("client_id"))?;
    match grant {
        "client_credentials" => {
            let (resource, scopes, _) = requested_resource(form, tenant, v2)?;
            if v2 && scopes.iter().any(|s| s != ".default") {
                return Err(AadError::invalid_scope(
                    1002012,
                    format!(
                        "The provided value for scope {} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
                        form.get("scope").unwrap_or_default()
                    ),
                ));
            }
            let secret = form.get("client_secret").map(String::from).or(basic_secret);
            let appidacr =
                authenticate_client(origin, tenant, &client_id, secret.as_deref(), form, true)?;
            let Some(sp) = tenant.sp_by_app_id(&client_id) else {
                return Err(AadError::invalid_client(
                    7000229,
                    format!(
                        "The client application {client_id} is missing service principal in the tenant {}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
                        tenant.id
                    ),
                ));
            };
            let roles = tenant.granted_roles(&client_id, resource.app_id());
            // An app nobody consented to at all is refused; one with permissions on other
            // resources gets a token without `roles`, as Entra issues it.
            if !tenant
                .app_role_assignments
                .iter()
                .any(|a| a.principal_id == sp.id)
            {
                return Err(AadError::invalid_grant(
                    65001,
                    format!(
                        "The user or administrator has not consented to use the application with ID '{client_id}' named '{}'. Send an interactive authorization request for this user and resource.",
                        sp.display_name
                    ),
                ));
            }
            let t = now();
            let mut claims =
                base_claims(tenant, resource, &client_id, &sp.display_name, appidacr, t);
            claims["idtyp"] = json!("app");
            claims["idp"] = json!(tenant.cloud.v1_issuer(&tenant.id));
            claims["oid"] = json!(sp.id.to_string());
            claims["sub"] = json!(sp.id.to_string());
            if !roles.is_empty() {
                claims["roles"] = json!(roles);
            }
            // Directory roles of the service principal, then the template every app token carries.
            let mut wids = sp.directory_roles.clone();
            wids.push("0997a1d0-0d1d-4acb-b408-d5ca73121e90".into());
            claims["wids"] = json!(wids);
            let access_token = sim.signer.sign(&claims);
            let mut body = json!({
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": access_token,
            });
            if !v2 {
                v1_fields(&mut body, resource, tenant.cloud, t);
            }
            Ok(body)
        }
        "password" | "refresh_token" => {
            let (resource, scopes, oidc) = requested_resource(form, tenant, v2)?;
            let first_party = catalog::first_party_client(&client_id);
            let client_name = match first_party {
                Some(c) => c.display_name.to_string(),
                None => {
                    // A tenant's own confidential app may use the password grant with its secret.
                    let secret = form.get("client_secret").map(String::from).or(basic_secret);
                    authenticate_client(
                        origin,
                        tenant,
                        &client_id,
                        secret.as_deref(),
                        form,
                        false,
                    )?;
                    tenant
                        .application_by_app_id(&client_id)
                        .map(|a| a.display_name.clone())
                        .unwrap_or_default()
                }
            };
            let user = if grant == "password" {
                password_user(tenant, form, resource)?
            } else {
                let rt = form
                    .get("refresh_token")
                    .ok_or_else(|| AadError::missing("refresh_token"))?;
                let grants = sim.refresh_tokens.lock().unwrap_or_else(|e| e.into_inner());
                let bad = || {
                    AadError::invalid_grant(
                        9002313,
                        "Invalid request. Request is malformed or invalid.",
                    )
                };
                let g = grants.get(rt).ok_or_else(bad)?;
                if g.tenant != tenant.id || !g.client_id.eq_ignore_ascii_case(&client_id) {
                    return Err(bad());
                }
                let u = tenant.user_by_id(g.user).ok_or_else(bad)?;
                if !u.account_enabled {
                    return Err(AadError::invalid_grant(
                        50057,
                        "The user account is disabled.",
                    ));
                }
                u
            };
            let granted: Vec<String> = if scopes.iter().any(|s| s == ".default") {
                match resource {
                    Resource::Graph => catalog::GRAPH_ADMIN_SCOPES
                        .iter()
                        .filter(|s| !["openid", "profile", "email"].contains(s))
                        .map(|s| s.to_string())
                        .collect(),
                    Resource::Exchange => catalog::EXCHANGE_ADMIN_SCOPES
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                }
            } else {
                scopes.clone()
            };
            let t = now();
            let mut claims = base_claims(tenant, resource, &client_id, &client_name, 0, t);
            let mut wids: Vec<String> = user.directory_roles.clone();
            wids.push(catalog::MEMBER_USER_TEMPLATE.into());
            claims["idtyp"] = json!("user");
            claims["acr"] = json!("1");
            claims["amr"] = json!(["pwd"]);
            claims["oid"] = json!(user.id.to_string());
            claims["sub"] = json!(b64url(user.id.as_bytes()));
            claims["name"] = json!(user.display_name);
            if let Some(g) = &user.given_name {
                claims["given_name"] = json!(g);
            }
            if let Some(s) = &user.surname {
                claims["family_name"] = json!(s);
            }
            claims["ipaddr"] = json!("127.0.0.1");
            claims["scp"] = json!(granted.join(" "));
            claims["upn"] = json!(user.upn);
            claims["unique_name"] = json!(user.upn);
            claims["wids"] = json!(wids);
            let access_token = sim.signer.sign(&claims);
            let audience = resource.audience(tenant.cloud);
            let mut scope_out: Vec<String> =
                granted.iter().map(|s| format!("{audience}/{s}")).collect();
            scope_out.extend(oidc.iter().cloned());
            let mut body = json!({
                "token_type": "Bearer",
                "scope": scope_out.join(" "),
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": access_token,
            });
            if !v2 {
                v1_fields(&mut body, resource, tenant.cloud, t);
            }
            if oidc.iter().any(|s| s == "offline_access") || grant == "refresh_token" || !v2 {
                let rt = format!(
                    "0.A{}",
                    b64url(
                        &Uuid::new_v4()
                            .as_bytes()
                            .iter()
                            .chain(Uuid::new_v4().as_bytes())
                            .copied()
                            .collect::<Vec<u8>>()
                    )
                );
                sim.refresh_tokens
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(
                        rt.clone(),
                        RefreshGrant {
                            tenant: tenant.id,
                            user: user.id,
                            client_id: client_id.clone(),
                        },
                    );
                body["refresh_token"] = json!(rt);
            }
            if oidc.iter().any(|s| s == "openid") {
                let id_token = sim.signer.sign(&json!({
                    "aud": client_id,
                    "iss": format!("{}/{}/v2.0", origin.base(), tenant.id),
                    "iat": t, "nbf": t, "exp": t + TOKEN_LIFETIME,
                    "name": user.display_name,
                    "oid": user.id.to_string(),
                    "preferred_username": user.upn,
                    "sub": b64url(user.id.as_bytes()),
                    "tid": tenant.id.to_string(),
                    "ver": "2.0",
                }));
                body["id_token"] = json!(id_token);
            }
            if form.get("client_info") == Some("1") {
                let info = json!({"uid": user.id.to_string(), "utid": tenant.id.to_string()});
                body["client_info"] = json!(b64url(info.to_string().as_bytes()));
            }
            Ok(body)
        }
        other => Err(AadError::unsupported_grant_type(other)),
    }
}

fn v1_fields(body: &mut Value, resource: Resource, cloud: Cloud, t: i64) {
    body["expires_on"] = json!((t + TOKEN_LIFETIME).to_string());
    body["not_before"] = json!(t.to_string());
    body["resource"] = json!(resource.audience(cloud));
    body["expires_in"] = json!(TOKEN_LIFETIME.to_string());
    body["ext_expires_in"] = json!(TOKEN_LIFETIME.to_string());
}

fn base_claims(
    tenant: &TenantState,
    resource: Resource,
    client_id: &str,
    client_name: &str,
    appidacr: u8,
    t: i64,
) -> Value {
    json!({
        "aud": resource.audience(tenant.cloud),
        "iss": tenant.cloud.v1_issuer(&tenant.id),
        "iat": t,
        "nbf": t,
        "exp": t + TOKEN_LIFETIME,
        "aio": b64url(Uuid::new_v4().as_bytes()),
        "app_displayname": client_name,
        "appid": client_id.to_ascii_lowercase(),
        "azp": client_id.to_ascii_lowercase(),
        "appidacr": appidacr.to_string(),
        "rh": "0.AAAA",
        "tid": tenant.id.to_string(),
        "uti": b64url(&Uuid::new_v4().as_bytes()[..12]),
        "ver": "1.0",
    })
}

fn password_user<'t>(
    tenant: &'t TenantState,
    form: &Form,
    resource: Resource,
) -> Result<&'t crate::state::User, AadError> {
    let username = form
        .get("username")
        .ok_or_else(|| AadError::missing("username"))?;
    let password = form.get("password").unwrap_or_default();
    let Some(user) = tenant
        .users
        .iter()
        .find(|u| u.upn.eq_ignore_ascii_case(username))
    else {
        return Err(AadError::invalid_grant(
            50034,
            format!(
                "The user account {username} does not exist in the {} directory. To sign into this application, the account must be added to the directory.",
                tenant.initial_domain()
            ),
        ));
    };
    if user.locked {
        return Err(AadError::invalid_grant(
            50053,
            "The account is locked, you've tried to sign in too many times with an incorrect user ID or password.",
        ));
    }
    if user.password.as_deref() != Some(password) {
        return Err(AadError::invalid_grant(
            50126,
            "Error validating credentials due to invalid username or password.",
        ));
    }
    if !user.account_enabled {
        return Err(AadError::invalid_grant(
            50057,
            "The user account is disabled.",
        ));
    }
    if user.password_expired {
        return Err(AadError::invalid_grant(
            50055,
            "The password is expired. The user must change it before signing in.",
        ));
    }
    if user.mfa {
        return Err(AadError::invalid_grant(
            50076,
            format!(
                "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{}'.",
                resource.app_id()
            ),
        )
        .with_suberror("basic_action"));
    }
    Ok(user)
}

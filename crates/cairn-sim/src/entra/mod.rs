//! Entra ID on every cloud's authority host: OpenID metadata, instance discovery, user
//! realm, JWKS and the token endpoints (v2 and v1).

mod client_auth;
pub mod errors;
pub mod token;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::server::{Origin, Shared, json_response};
use crate::state::SimState;
use errors::AadError;

/// Routes of the login hosts.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/common/discovery/instance", get(instance_discovery))
        .route("/common/userrealm/{username}", get(user_realm))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(metadata_v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(metadata_v1),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/{tenant}/discovery/keys", get(jwks))
        .route("/{tenant}/oauth2/v2.0/token", post(token::token_v2))
        .route("/{tenant}/oauth2/token", post(token::token_v1))
        .fallback(not_found)
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "cairn-sim: no such Entra endpoint").into_response()
}

/// A tenant as the login host sees it.
#[derive(Debug, Clone)]
pub struct ResolvedTenant {
    /// Tenant id.
    pub id: Uuid,
    /// Name.
    pub name: String,
}

/// Resolves `{tenant}` of a path on a login host: GUID or verified domain, in this
/// host's clouds; 90002 when nowhere, 90038 when in another cloud.
pub fn resolve_tenant(
    state: &SimState,
    origin: &Origin,
    key: &str,
) -> Result<ResolvedTenant, AadError> {
    let Some(t) = state.tenants.iter().find(|t| {
        t.id.to_string().eq_ignore_ascii_case(key)
            || t.domains.iter().any(|d| d.eq_ignore_ascii_case(key))
    }) else {
        return Err(AadError::tenant_not_found(key));
    };
    if !origin.site.clouds.contains(&t.cloud) {
        return Err(AadError::national_cloud(
            key,
            t.cloud.instance_name(),
            origin.cloud().instance_name(),
        ));
    }
    Ok(ResolvedTenant {
        id: t.id,
        name: t.name.clone(),
    })
}

fn is_multi_tenant_alias(key: &str) -> bool {
    ["common", "organizations", "consumers"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(key))
}

fn region_scope(cloud: crate::cloud::Cloud) -> &'static str {
    use crate::cloud::Cloud::*;
    match cloud {
        Worldwide => "NA",
        UsgovGcchigh | UsgovDod => "USGov",
        China => "AS",
        Germany => "EU",
    }
}

/// The metadata document for `tenant_segment` (a tenant id or "common").
fn metadata(sim: &Shared, origin: &Origin, tenant: &str, v2: bool) -> Response {
    let (segment, cloud) = if is_multi_tenant_alias(tenant) {
        (tenant.to_ascii_lowercase(), origin.cloud())
    } else {
        let state = sim.read();
        // A tenant of another cloud still gets its metadata (with that cloud's instance
        // name, which is how clients learn where to go); its token requests fail 90038.
        match state.tenants.iter().find(|t| {
            t.id.to_string().eq_ignore_ascii_case(tenant)
                || t.domains.iter().any(|d| d.eq_ignore_ascii_case(tenant))
        }) {
            Some(t) => (t.id.to_string(), t.cloud),
            None => {
                // The metadata endpoint names the OAuth error "invalid_tenant".
                let mut e = AadError::tenant_not_found(tenant).at(&origin.base(), None);
                e.error = "invalid_tenant";
                return e.into_response();
            }
        }
    };
    let base = origin.base();
    let issuer_tenant = if is_multi_tenant_alias(&segment) {
        "{tenantid}".to_string()
    } else {
        segment.clone()
    };
    let (ver, issuer) = if v2 {
        ("/v2.0", format!("{base}/{issuer_tenant}/v2.0"))
    } else {
        ("", cloud.v1_issuer_string(&issuer_tenant))
    };
    let oauth = if v2 { "oauth2/v2.0" } else { "oauth2" };
    let body = json!({
        "token_endpoint": format!("{base}/{segment}/{oauth}/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{segment}/discovery{ver}/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("https://{}/oidc/userinfo", cloud.graph_host()),
        "authorization_endpoint": format!("{base}/{segment}/{oauth}/authorize"),
        "device_authorization_endpoint": format!("{base}/{segment}/{oauth}/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{segment}/{oauth}/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{base}/{segment}/kerberos"),
        "tenant_region_scope": region_scope(cloud),
        "cloud_instance_name": cloud.instance_name(),
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": cloud.graph_host(),
        "rbac_url": "https://pas.windows.net",
    });
    json_response(StatusCode::OK, &body)
}

async fn metadata_v2(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(tenant): Path<String>,
) -> Response {
    metadata(&sim, &origin, &tenant, true)
}

async fn metadata_v1(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(tenant): Path<String>,
) -> Response {
    metadata(&sim, &origin, &tenant, false)
}

async fn jwks(State(sim): State<Shared>, Extension(origin): Extension<Origin>) -> Response {
    let issuer = format!("{}/{{tenantid}}/v2.0", origin.base());
    json_response(StatusCode::OK, &sim.signer.jwks(&issuer))
}

#[derive(serde::Deserialize)]
struct DiscoveryQuery {
    authorization_endpoint: Option<String>,
}

async fn instance_discovery(
    Extension(origin): Extension<Origin>,
    axum::extract::Query(q): axum::extract::Query<DiscoveryQuery>,
) -> Response {
    // The authorization endpoint names the tenant segment the client will use.
    let tenant = q
        .authorization_endpoint
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next().map(String::from))
        })
        .unwrap_or_else(|| "common".into());
    let base = origin.base();
    let cloud = origin.cloud();
    let aliases: Vec<String> = cloud.login_hosts().iter().map(|h| h.to_string()).collect();
    let mut aliases_with_host = vec![origin.host.clone()];
    aliases_with_host.extend(aliases.into_iter().filter(|a| a != &origin.host));
    json_response(
        StatusCode::OK,
        &json!({
            "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
            "api-version": "1.1",
            "metadata": [{
                "preferred_network": origin.host,
                "preferred_cache": origin.host,
                "aliases": aliases_with_host,
            }],
        }),
    )
}

async fn user_realm(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(username): Path<String>,
) -> Response {
    let domain = username.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    let state = sim.read();
    let tenant = state.tenants.iter().find(|t| {
        origin.site.clouds.contains(&t.cloud)
            && t.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    });
    let body = match tenant {
        Some(t) => json!({
            "ver": "1.0",
            "account_type": "Managed",
            "domain_name": domain.to_ascii_lowercase(),
            "cloud_instance_name": t.cloud.instance_name(),
            "cloud_audience_urn": "urn:federation:MicrosoftOnline",
        }),
        None => json!({
            "ver": "1.0",
            "account_type": "Unknown",
            "cloud_instance_name": origin.cloud().instance_name(),
        }),
    };
    json_response(StatusCode::OK, &body)
}

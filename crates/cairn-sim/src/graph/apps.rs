//! App registrations and service principals, with
//! Graph's authorization: delegated callers need an administrator role, app-only callers
//! the matching application permission.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};

use super::directory::with_tenant;
use super::{GraphError, ListQuery, caller, collection, entity};
use crate::auth::{Caller, Principal};
use crate::catalog;
use crate::server::{Origin, Shared, json_response};
use crate::state::build::key_credential;
use crate::state::{
    Application, PasswordCredential, ServicePrincipal, SimState, TenantState, created_time,
};

type Params = Query<HashMap<String, String>>;

const APP_ADMIN_ROLES: &[&str] = &[
    "Global Administrator",
    "Application Administrator",
    "Cloud Application Administrator",
];

/// Who may make a change: delegated, a user holding one of `roles` with one of
/// `scopes` in the token; app-only, an app holding one of `app_roles`.
pub(super) struct Grant {
    pub roles: &'static [&'static str],
    pub scopes: &'static [&'static str],
    pub app_roles: &'static [&'static str],
}

/// Changing applications and service principals.
const APP_WRITE: Grant = Grant {
    roles: APP_ADMIN_ROLES,
    scopes: &["Application.ReadWrite.All", "Directory.AccessAsUser.All"],
    app_roles: &["Application.ReadWrite.All"],
};

/// Registering an application: Application Developers may too.
const APP_CREATE: Grant = Grant {
    roles: &[
        "Global Administrator",
        "Application Administrator",
        "Cloud Application Administrator",
        "Application Developer",
    ],
    ..APP_WRITE
};

/// Checks `grant` for the caller.
pub(super) fn authorize(t: &TenantState, c: &Caller, grant: &Grant) -> Result<(), GraphError> {
    let ok = match &c.principal {
        Principal::App { roles: granted, .. } => granted
            .iter()
            .any(|r| grant.app_roles.contains(&r.as_str())),
        Principal::User { user_id, scp, .. } => {
            t.user_by_id(*user_id)
                .is_some_and(|u| u.has_any_role(grant.roles))
                && scp.iter().any(|s| grant.scopes.contains(&s.as_str()))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(GraphError::denied())
    }
}

/// The caller's tenant, to change; with `grant`, only if the caller holds it.
pub(super) fn tenant_to_change<'s>(
    state: &'s mut SimState,
    c: &Caller,
    grant: Option<&Grant>,
) -> Result<&'s mut TenantState, GraphError> {
    let t = state
        .tenant_mut(c.tenant)
        .ok_or_else(|| GraphError::not_found(&c.tenant.to_string()))?;
    if let Some(g) = grant {
        authorize(t, c, g)?;
    }
    Ok(t)
}

/// The caller may read applications and service principals.
pub(super) fn require_app_read(c: &Caller) -> Result<(), GraphError> {
    if c.has_permission(APP_READ, APP_READ_SCOPES) {
        Ok(())
    } else {
        Err(GraphError::denied())
    }
}

/// An object by its object id, or by Graph's alternate key `(appId='…')`.
fn by_key<'t, T>(
    items: &'t [T],
    id: &str,
    keys: impl Fn(&T) -> (uuid::Uuid, uuid::Uuid),
) -> Result<&'t T, GraphError> {
    let app_id = id
        .strip_prefix("(appId='")
        .and_then(|s| s.strip_suffix("')"));
    items
        .iter()
        .find(|x| {
            let (object_id, app) = keys(x);
            match app_id {
                Some(k) => app.to_string().eq_ignore_ascii_case(k),
                None => object_id.to_string().eq_ignore_ascii_case(id),
            }
        })
        .ok_or_else(|| GraphError::not_found(id))
}

fn application_json(t: &TenantState, a: &Application) -> Value {
    json!({
        "id": a.id.to_string(),
        "deletedDateTime": null,
        "appId": a.app_id.to_string(),
        "createdDateTime": a.created_date_time,
        "displayName": a.display_name,
        "publisherDomain": t.default_domain,
        "signInAudience": a.sign_in_audience,
        "identifierUris": [],
        "tags": [],
        "keyCredentials": a.key_credentials.iter().map(|k| json!({
            "customKeyIdentifier": hex::encode_upper(&k.sha1),
            "displayName": k.display_name,
            "endDateTime": k.end_date_time,
            "key": null,
            "keyId": k.key_id.to_string(),
            "startDateTime": k.start_date_time,
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
        })).collect::<Vec<_>>(),
        "passwordCredentials": a.password_credentials.iter().map(|p| json!({
            "customKeyIdentifier": null,
            "displayName": p.display_name,
            "endDateTime": p.end_date_time,
            "hint": p.hint,
            "keyId": p.key_id.to_string(),
            "secretText": null,
            "startDateTime": p.start_date_time,
        })).collect::<Vec<_>>(),
        "requiredResourceAccess": a.required_resource_access,
        "web": {"redirectUris": [], "homePageUrl": null, "logoutUrl": null},
        "publicClient": {"redirectUris": []},
    })
}

fn sp_json(sp: &ServicePrincipal) -> Value {
    json!({
        "id": sp.id.to_string(),
        "deletedDateTime": null,
        "accountEnabled": true,
        "appDisplayName": sp.display_name,
        "appId": sp.app_id.to_string(),
        "appOwnerOrganizationId": sp.app_owner_organization_id.to_string(),
        "displayName": sp.display_name,
        "servicePrincipalNames": [sp.app_id.to_string()],
        "servicePrincipalType": "Application",
        "signInAudience": "AzureADMultipleOrgs",
        "tags": [],
        "appRoles": sp.app_roles.iter().map(|r| json!({
            "allowedMemberTypes": ["Application"],
            "description": r.value,
            "displayName": r.value,
            "id": r.id.to_string(),
            "isEnabled": true,
            "origin": "Application",
            "value": r.value,
        })).collect::<Vec<_>>(),
        "oauth2PermissionScopes": [],
    })
}

pub(super) fn lq<'a>(
    p: &'a HashMap<String, String>,
    h: &'a HeaderMap,
    uri: &'a Uri,
    ctx: &str,
) -> ListQuery<'a> {
    ListQuery {
        params: p,
        headers: h,
        path: uri.path(),
        context: ctx.to_string(),
        page_size: 100,
    }
}

pub(super) const APP_READ: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
];
pub(super) const APP_READ_SCOPES: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "User.Read",
];

pub(super) async fn list_applications(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require_app_read(&c)?;
    let items = with_tenant(&sim, &c, |t| {
        Ok(t.applications
            .iter()
            .map(|a| application_json(t, a))
            .collect())
    })?;
    collection(&origin, lq(&p, &headers, &uri, "applications"), items)
}

fn find_app<'t>(t: &'t TenantState, id: &str) -> Result<&'t Application, GraphError> {
    by_key(&t.applications, id, |a| (a.id, a.app_id))
}

pub(super) async fn get_application(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require_app_read(&c)?;
    let v = with_tenant(&sim, &c, |t| Ok(application_json(t, find_app(t, &id)?)))?;
    Ok(entity(&origin, "applications/$entity", v, p.get("$select")))
}

pub(super) fn parse_body(body: &[u8]) -> Result<Value, GraphError> {
    serde_json::from_slice(body).map_err(|e| {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format. ({e})"),
        )
    })
}

/// Turns `keyCredentials` of a request into credentials; keeps existing ones named by keyId.
fn key_credentials(
    t: &TenantState,
    existing: &[crate::state::KeyCredential],
    items: &Value,
    serial: u64,
) -> Result<Vec<crate::state::KeyCredential>, GraphError> {
    let bad = || {
        GraphError::bad_request(
            "Invalid value specified for property 'keyCredentials' of resource 'Application'.",
        )
    };
    let Some(items) = items.as_array() else {
        return Err(bad());
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.get("key").and_then(Value::as_str) {
            Some(key) => {
                if item.get("type").and_then(Value::as_str) != Some("AsymmetricX509Cert") {
                    return Err(bad());
                }
                let der = crate::pki::certificate_from_base64(key).ok_or_else(bad)?;
                let mut k = key_credential(t.id, &der, serial * 100 + i as u64);
                if let Some(name) = item.get("displayName").and_then(Value::as_str) {
                    k.display_name = name.to_string();
                }
                out.push(k);
            }
            None => {
                let id = item
                    .get("keyId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let k = existing
                    .iter()
                    .find(|k| k.key_id.to_string().eq_ignore_ascii_case(id))
                    .ok_or_else(bad)?;
                out.push(k.clone());
            }
        }
    }
    Ok(out)
}

pub(super) async fn create_application(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let body = parse_body(&body)?;
    let mut state = sim.write();
    let t = tenant_to_change(&mut state, &c, Some(&APP_CREATE))?;
    let Some(name) = body
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(GraphError::bad_request(
            "Invalid value specified for property 'displayName' of resource 'Application'.",
        ));
    };
    let serial = t.next_serial();
    let seed = format!("{serial}/{name}");
    let keys = match body.get("keyCredentials") {
        Some(k) => key_credentials(t, &[], k, serial)?,
        None => Vec::new(),
    };
    let app = Application {
        id: catalog::derived_id(&t.id, "application-object", &seed),
        app_id: catalog::derived_id(&t.id, "application-appid", &seed),
        display_name: name.to_string(),
        sign_in_audience: body
            .get("signInAudience")
            .and_then(Value::as_str)
            .unwrap_or("AzureADMyOrg")
            .to_string(),
        created_date_time: created_time(serial),
        key_credentials: keys,
        password_credentials: Vec::new(),
        required_resource_access: body
            .get("requiredResourceAccess")
            .cloned()
            .unwrap_or_else(|| json!([])),
    };
    let mut v = application_json(t, &app);
    t.applications.push(app);
    v["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#applications/$entity",
        origin.base()
    ));
    Ok(json_response(StatusCode::CREATED, &v))
}

pub(super) async fn patch_application(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let body = parse_body(&body)?;
    let mut state = sim.write();
    let t = tenant_to_change(&mut state, &c, Some(&APP_WRITE))?;
    let app_id = find_app(t, &id)?.id;
    let serial = t.next_serial();
    let keys = match body.get("keyCredentials") {
        Some(k) => {
            let existing = find_app(t, &id)?.key_credentials.clone();
            Some(key_credentials(t, &existing, k, serial)?)
        }
        None => None,
    };
    let Some(app) = t.applications.iter_mut().find(|a| a.id == app_id) else {
        return Err(GraphError::not_found(&id));
    };
    if let Some(k) = keys {
        app.key_credentials = k;
    }
    if let Some(n) = body.get("displayName").and_then(Value::as_str) {
        app.display_name = n.to_string();
    }
    if let Some(r) = body.get("requiredResourceAccess") {
        app.required_resource_access = r.clone();
    }
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

pub(super) async fn add_password(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let body = if body.is_empty() {
        json!({})
    } else {
        parse_body(&body)?
    };
    let mut state = sim.write();
    let t = tenant_to_change(&mut state, &c, Some(&APP_WRITE))?;
    let app_id = find_app(t, &id)?.id;
    let serial = t.next_serial();
    let secret: String = {
        use rand::Rng;
        let mut rng = rand::rng();
        (0..40)
            .map(|_| {
                const CHARS: &[u8] =
                    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789~._-";
                CHARS[rng.random_range(0..CHARS.len())] as char
            })
            .collect()
    };
    let display = body
        .get("passwordCredential")
        .and_then(|p| p.get("displayName"))
        .and_then(Value::as_str)
        .map(String::from);
    let cred = PasswordCredential {
        key_id: catalog::derived_id(&t.id, "passwordCredential", &format!("{app_id}/{serial}")),
        display_name: display,
        hint: secret.chars().take(3).collect(),
        secret: secret.clone(),
        start_date_time: created_time(serial),
        end_date_time: "2028-01-05T09:00:00Z".into(),
    };
    let v = json!({
        "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.passwordCredential", origin.base()),
        "customKeyIdentifier": null,
        "displayName": cred.display_name,
        "endDateTime": cred.end_date_time,
        "hint": cred.hint,
        "keyId": cred.key_id.to_string(),
        "secretText": secret,
        "startDateTime": cred.start_date_time,
    });
    if let Some(app) = t.applications.iter_mut().find(|a| a.id == app_id) {
        app.password_credentials.push(cred);
    }
    Ok(json_response(StatusCode::OK, &v))
}

pub(super) async fn list_service_principals(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require_app_read(&c)?;
    let items = with_tenant(&sim, &c, |t| {
        Ok(t.service_principals.iter().map(sp_json).collect())
    })?;
    collection(&origin, lq(&p, &headers, &uri, "servicePrincipals"), items)
}

pub(super) fn find_sp<'t>(
    t: &'t TenantState,
    id: &str,
) -> Result<&'t ServicePrincipal, GraphError> {
    by_key(&t.service_principals, id, |s| (s.id, s.app_id))
}

pub(super) async fn get_service_principal(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require_app_read(&c)?;
    let v = with_tenant(&sim, &c, |t| Ok(sp_json(find_sp(t, &id)?)))?;
    Ok(entity(
        &origin,
        "servicePrincipals/$entity",
        v,
        p.get("$select"),
    ))
}

pub(super) async fn create_service_principal(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let body = parse_body(&body)?;
    let mut state = sim.write();
    let t = tenant_to_change(&mut state, &c, Some(&APP_WRITE))?;
    let app_id = body
        .get("appId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if t.sp_by_app_id(app_id).is_some() {
        return Err(GraphError::new(
            StatusCode::CONFLICT,
            "Request_MultipleObjectsWithSameKeyValue",
            "The service principal cannot be created, updated, or restored because the service principal name {appId} is already in use.".replace("{appId}", app_id),
        ));
    }
    let Some(app) = t.application_by_app_id(app_id) else {
        return Err(GraphError::bad_request(format!(
            "The appId '{app_id}' of the service principal does not reference a valid application object."
        )));
    };
    let sp = ServicePrincipal {
        id: catalog::derived_id(&t.id, "servicePrincipal", &app.app_id.to_string()),
        app_id: app.app_id,
        display_name: app.display_name.clone(),
        app_roles: Vec::new(),
        app_owner_organization_id: t.id,
        directory_roles: Vec::new(),
    };
    let mut v = sp_json(&sp);
    t.service_principals.push(sp);
    v["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#servicePrincipals/$entity",
        origin.base()
    ));
    Ok(json_response(StatusCode::CREATED, &v))
}

/// `POST /applications/{id}/addKey`: adds a certificate, proven by a JWT signed with the
/// key of a certificate the application already has (aud `00000002-0000-0000-c000-000000000000`,
/// iss = the application's object id). The application may call it on itself.
pub(super) async fn add_key(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let body = parse_body(&body)?;
    let mut state = sim.write();
    let t = tenant_to_change(&mut state, &c, None)?;
    let app = find_app(t, &id)?.clone();
    let is_self = matches!(&c.principal, Principal::App { app_id, .. } if app_id.eq_ignore_ascii_case(&app.app_id.to_string()));
    if !is_self {
        authorize(t, &c, &APP_WRITE)?;
    }
    let proof = body
        .get("proof")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bad_proof = || {
        GraphError::bad_request(
            "Proof of possession is invalid: sign a JWT (aud 00000002-0000-0000-c000-000000000000, iss = the application's object id, valid up to 10 minutes) with the key of one of the application's current certificates.",
        )
    };
    let jwt = crate::jwt::Jwt::decode(proof).ok_or_else(bad_proof)?;
    let signed_by_existing = app.key_credentials.iter().any(|k| {
        crate::pki::rsa_public_key(&k.der)
            .is_some_and(|(_, _, pkcs1)| crate::jwt::verify_signature(&pkcs1, "RS256", &jwt))
    });
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims_ok = jwt.claim("aud") == Some("00000002-0000-0000-c000-000000000000")
        && jwt
            .claim("iss")
            .is_some_and(|i| i.eq_ignore_ascii_case(&app.id.to_string()))
        && jwt.num("exp").is_some_and(|e| e >= now)
        && jwt.num("nbf").is_none_or(|n| n <= now + 300);
    if !signed_by_existing || !claims_ok {
        return Err(bad_proof());
    }
    let item = body
        .get("keyCredential")
        .cloned()
        .ok_or_else(|| GraphError::bad_request("keyCredential is required."))?;
    let serial = t.next_serial();
    let mut added = key_credentials(t, &[], &json!([item]), serial)?;
    let Some(k) = added.pop() else {
        return Err(GraphError::bad_request("keyCredential is required."));
    };
    let v = json!({
        "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.keyCredential", origin.base()),
        "customKeyIdentifier": hex::encode_upper(&k.sha1),
        "displayName": k.display_name,
        "endDateTime": k.end_date_time,
        "key": null,
        "keyId": k.key_id.to_string(),
        "startDateTime": k.start_date_time,
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    });
    if let Some(a) = t.applications.iter_mut().find(|a| a.id == app.id) {
        a.key_credentials.push(k);
    }
    Ok(json_response(StatusCode::OK, &v))
}

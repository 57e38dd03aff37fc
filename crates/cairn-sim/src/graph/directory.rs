//! Directory reads: organization, domains, users, groups and members, directory roles
//! and role assignments.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, Uri};
use serde_json::{Value, json};

use super::{GraphError, ListQuery, caller, collection, entity};
use crate::auth::{Caller, Principal};
use crate::catalog;
use crate::scenario::GroupKind;
use crate::server::{Origin, Shared};
use crate::state::{Group, TenantState, User};

type Params = Query<HashMap<String, String>>;

const USER_READ_ROLES: &[&str] = &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All"];
const USER_READ_SCOPES: &[&str] = &[
    "User.Read",
    "User.Read.All",
    "User.ReadBasic.All",
    "Directory.Read.All",
];

/// Graph's JSON of a user: every property; `$select` trims, and without `$select` only
/// the default set is returned, as Graph does.
pub fn user_json(u: &User) -> Value {
    json!({
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": u.given_name,
        "jobTitle": null,
        "mail": u.mail(),
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": null,
        "surname": u.surname,
        "userPrincipalName": u.upn,
        "id": u.id.to_string(),
        "accountEnabled": u.account_enabled,
        "department": u.department,
        "mailNickname": u.alias(),
        "userType": "Member",
        "assignedLicenses": if u.licensed {
            json!([{"disabledPlans": [], "skuId": catalog::LICENSE_SKU_ID}])
        } else {
            json!([])
        },
    })
}

const USER_DEFAULT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

pub(super) fn default_user(v: &Value) -> Value {
    let f: Vec<String> = USER_DEFAULT.iter().map(|s| s.to_string()).collect();
    super::query::select(v, &f)
}

/// Graph's JSON of a group.
pub fn group_json(g: &Group, t: &TenantState) -> Value {
    let unified = g.kind == GroupKind::Microsoft365;
    json!({
        "id": g.id.to_string(),
        "deletedDateTime": null,
        "createdDateTime": "2026-01-05T09:00:00Z",
        "description": null,
        "displayName": g.display_name,
        "groupTypes": if unified { json!(["Unified"]) } else { json!([]) },
        "mail": if unified { json!(format!("{}@{}", g.mail_nickname, t.default_domain)) } else { Value::Null },
        "mailEnabled": unified,
        "mailNickname": g.mail_nickname,
        "securityEnabled": !unified,
        "visibility": if unified { json!("Private") } else { Value::Null },
    })
}

pub(super) fn list_query<'a>(
    params: &'a HashMap<String, String>,
    headers: &'a HeaderMap,
    uri: &'a Uri,
    context: &str,
) -> ListQuery<'a> {
    ListQuery {
        params,
        headers,
        path: uri.path(),
        context: context.to_string(),
        page_size: 100,
    }
}

/// Runs `f` with the caller's tenant.
pub fn with_tenant<R>(
    sim: &Shared,
    c: &Caller,
    f: impl FnOnce(&TenantState) -> Result<R, GraphError>,
) -> Result<R, GraphError> {
    let state = sim.read();
    let t = state
        .tenant_by_id(c.tenant)
        .ok_or_else(|| GraphError::not_found(&c.tenant.to_string()))?;
    f(t)
}

pub(super) fn require(c: &Caller, roles: &[&str], scopes: &[&str]) -> Result<(), GraphError> {
    if c.has_permission(roles, scopes) {
        Ok(())
    } else {
        Err(GraphError::denied())
    }
}

pub(super) async fn organization(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require(
        &c,
        &[
            "Organization.Read.All",
            "Directory.Read.All",
            "User.Read.All",
        ],
        &["User.Read", "Organization.Read.All", "Directory.Read.All"],
    )?;
    let item = with_tenant(&sim, &c, |t| {
        Ok(json!({
            "id": t.id.to_string(),
            "displayName": t.display_name,
            "tenantType": "AAD",
            "countryLetterCode": "US",
            "verifiedDomains": t.domains.iter().enumerate().map(|(i, d)| json!({
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": *d == t.default_domain,
                "isInitial": i == 0,
                "name": d,
                "type": "Managed",
            })).collect::<Vec<_>>(),
        }))
    })?;
    collection(
        &origin,
        list_query(&p, &headers, &uri, "organization"),
        vec![item],
    )
}

pub(super) async fn domains(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require(
        &c,
        &["Domain.Read.All", "Directory.Read.All"],
        &["Domain.Read.All", "Directory.Read.All", "User.Read"],
    )?;
    let items = with_tenant(&sim, &c, |t| {
        Ok(t.domains
            .iter()
            .enumerate()
            .map(|(i, d)| {
                json!({
                    "authenticationType": "Managed",
                    "availabilityStatus": null,
                    "id": d,
                    "isAdminManaged": true,
                    "isDefault": *d == t.default_domain,
                    "isInitial": i == 0,
                    "isRoot": true,
                    "isVerified": true,
                    "supportedServices": ["Email", "OfficeCommunicationsOnline"],
                })
            })
            .collect())
    })?;
    collection(&origin, list_query(&p, &headers, &uri, "domains"), items)
}

pub(super) async fn users(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require(&c, USER_READ_ROLES, USER_READ_SCOPES)?;
    let items: Vec<Value> = with_tenant(&sim, &c, |t| Ok(t.users.iter().map(user_json).collect()))?;
    let resp = collection(&origin, list_query(&p, &headers, &uri, "users"), items)?;
    if p.contains_key("$select") {
        return Ok(resp);
    }
    trim_defaults(resp).await
}

/// Without `$select` Graph returns the default property set only.
async fn trim_defaults(resp: Response) -> Result<Response, GraphError> {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|_| GraphError::bad_request("internal"))?;
    let mut v: Value =
        serde_json::from_slice(&bytes).map_err(|_| GraphError::bad_request("internal"))?;
    if let Some(items) = v.get_mut("value").and_then(Value::as_array_mut) {
        for i in items.iter_mut() {
            *i = default_user(i);
        }
    }
    Ok(crate::server::json_response(parts.status, &v))
}

fn find_user<'t>(t: &'t TenantState, c: &Caller, id: &str) -> Result<&'t User, GraphError> {
    if id == "me" {
        if let Principal::User { user_id, .. } = &c.principal {
            return t
                .user_by_id(*user_id)
                .ok_or_else(|| GraphError::not_found(id));
        }
        return Err(GraphError::bad_request(
            "/me request is only valid with delegated authentication flow.",
        ));
    }
    t.user(id).ok_or_else(|| GraphError::not_found(id))
}

pub(super) async fn user(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let is_self = matches!(&c.principal, Principal::User { user_id, upn, .. }
        if user_id.to_string().eq_ignore_ascii_case(&id) || upn.eq_ignore_ascii_case(&id));
    if !is_self {
        require(&c, USER_READ_ROLES, USER_READ_SCOPES)?;
    }
    let v = with_tenant(&sim, &c, |t| Ok(user_json(find_user(t, &c, &id)?)))?;
    let v = if p.contains_key("$select") {
        v
    } else {
        default_user(&v)
    };
    Ok(entity(&origin, "users/$entity", v, p.get("$select")))
}

pub(super) async fn me(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let v = with_tenant(&sim, &c, |t| Ok(user_json(find_user(t, &c, "me")?)))?;
    let v = if p.contains_key("$select") {
        v
    } else {
        default_user(&v)
    };
    Ok(entity(&origin, "users/$entity", v, p.get("$select")))
}

pub(super) fn role_object_id(t: &TenantState, template: &str) -> String {
    catalog::derived_id(&t.id, "directoryRole", template).to_string()
}

pub(super) fn directory_role_json(t: &TenantState, r: &catalog::DirectoryRoleTemplate) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.directoryRole",
        "id": role_object_id(t, r.template_id),
        "deletedDateTime": null,
        "description": r.description,
        "displayName": r.display_name,
        "roleTemplateId": r.template_id,
    })
}

fn member_of_json(t: &TenantState, u: &User) -> Vec<Value> {
    let mut out: Vec<Value> = catalog::DIRECTORY_ROLES
        .iter()
        .filter(|r| u.directory_roles.iter().any(|id| id == r.template_id))
        .map(|r| directory_role_json(t, r))
        .collect();
    for g in t.groups.iter().filter(|g| g.members.contains(&u.id)) {
        let mut v = group_json(g, t);
        v["@odata.type"] = json!("#microsoft.graph.group");
        out.push(v);
    }
    out
}

pub(super) async fn my_member_of(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let items = with_tenant(&sim, &c, |t| Ok(member_of_json(t, find_user(t, &c, "me")?)))?;
    collection(
        &origin,
        list_query(&p, &headers, &uri, "directoryObjects"),
        items,
    )
}

pub(super) async fn member_of(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require(
        &c,
        &["Directory.Read.All", "GroupMember.Read.All"],
        &["Directory.Read.All", "User.Read.All"],
    )?;
    let items = with_tenant(&sim, &c, |t| Ok(member_of_json(t, find_user(t, &c, &id)?)))?;
    collection(
        &origin,
        list_query(&p, &headers, &uri, "directoryObjects"),
        items,
    )
}

const GROUP_READ_ROLES: &[&str] = &[
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
];
const GROUP_READ_SCOPES: &[&str] = &["Group.Read.All", "Directory.Read.All", "User.Read.All"];

pub(super) async fn groups(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require(&c, GROUP_READ_ROLES, GROUP_READ_SCOPES)?;
    let items = with_tenant(&sim, &c, |t| {
        Ok(t.groups.iter().map(|g| group_json(g, t)).collect())
    })?;
    collection(&origin, list_query(&p, &headers, &uri, "groups"), items)
}

fn find_group<'t>(t: &'t TenantState, id: &str) -> Result<&'t Group, GraphError> {
    t.groups
        .iter()
        .find(|g| g.id.to_string().eq_ignore_ascii_case(id))
        .ok_or_else(|| GraphError::not_found(id))
}

pub(super) async fn group(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require(&c, GROUP_READ_ROLES, GROUP_READ_SCOPES)?;
    let v = with_tenant(&sim, &c, |t| Ok(group_json(find_group(t, &id)?, t)))?;
    Ok(entity(&origin, "groups/$entity", v, p.get("$select")))
}

/// The members of `g`: users and nested groups; with `transitive`, also the members
/// of nested groups, all the way down, each object once (cycles are cut).
fn members_of(t: &TenantState, g: &Group, transitive: bool) -> (Vec<uuid::Uuid>, Vec<uuid::Uuid>) {
    let (mut users, mut groups) = (Vec::new(), Vec::new());
    let mut todo = vec![g.id];
    let mut seen = std::collections::HashSet::from([g.id]);
    while let Some(id) = todo.pop() {
        let Some(group) = t.groups.iter().find(|x| x.id == id) else {
            continue;
        };
        for u in &group.members {
            if !users.contains(u) {
                users.push(*u);
            }
        }
        for n in &group.member_groups {
            if seen.insert(*n) {
                groups.push(*n);
                if transitive {
                    todo.push(*n);
                }
            }
        }
    }
    (users, groups)
}

/// `groups/{id}/members` and `groups/{id}/transitiveMembers` (api/group-list-members.md,
/// api/group-list-transitivemembers.md), optionally cast to `microsoft.graph.user` or
/// `microsoft.graph.group`: users and groups as `directoryObject`s with `@odata.type`.
pub(super) async fn group_members(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(path): Path<HashMap<String, String>>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require(&c, GROUP_READ_ROLES, GROUP_READ_SCOPES)?;
    let id = path.get("id").cloned().unwrap_or_default();
    let transitive = uri.path().contains("/transitiveMembers");
    let cast = path.get("cast").map(String::as_str);
    let (want_users, want_groups, context) = match cast {
        None => (true, true, "directoryObjects"),
        Some("microsoft.graph.user") => (true, false, "users"),
        Some("microsoft.graph.group") => (false, true, "groups"),
        Some(other) => {
            return Err(GraphError::bad_request(format!(
                "'{other}' is not a type a group member can be cast to (microsoft.graph.user, microsoft.graph.group)"
            )));
        }
    };
    let items = with_tenant(&sim, &c, |t| {
        let (users, groups) = members_of(t, find_group(t, &id)?, transitive);
        let mut out: Vec<Value> = Vec::new();
        if want_users {
            out.extend(users.iter().filter_map(|m| t.user_by_id(*m)).map(|u| {
                let mut v = default_user(&user_json(u));
                v["@odata.type"] = json!("#microsoft.graph.user");
                v
            }));
        }
        if want_groups {
            out.extend(
                groups
                    .iter()
                    .filter_map(|n| t.groups.iter().find(|x| x.id == *n))
                    .map(|x| {
                        let mut v = group_json(x, t);
                        v["@odata.type"] = json!("#microsoft.graph.group");
                        v
                    }),
            );
        }
        Ok(out)
    })?;
    collection(&origin, list_query(&p, &headers, &uri, context), items)
}

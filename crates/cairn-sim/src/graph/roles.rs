//! Directory roles: activated roles and their members, and role assignments
//! (`roleManagement/directory/roleAssignments`, GET and POST) for users and service
//! principals. Assigning needs Global Administrator or Privileged Role Administrator.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};
use uuid::Uuid;

use super::directory::{
    default_user, directory_role_json, list_query, require, role_object_id, user_json, with_tenant,
};
use super::{GraphError, caller, collection, entity};
use crate::auth::Principal;
use crate::catalog;
use crate::server::{Origin, Shared, json_response};
use crate::state::TenantState;

type Params = Query<HashMap<String, String>>;

const ROLE_READ_ROLES: &[&str] = &["RoleManagement.Read.Directory", "Directory.Read.All"];
const ROLE_READ_SCOPES: &[&str] = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "User.Read",
];

fn active_roles(t: &TenantState) -> Vec<&'static catalog::DirectoryRoleTemplate> {
    catalog::DIRECTORY_ROLES
        .iter()
        .filter(|r| !holders(t, r.template_id).is_empty())
        .collect()
}

/// (principal id, JSON as a directory object) of everyone holding a role.
fn holders(t: &TenantState, template: &str) -> Vec<(Uuid, Value)> {
    let mut out: Vec<(Uuid, Value)> = t
        .users
        .iter()
        .filter(|u| u.directory_roles.iter().any(|x| x == template))
        .map(|u| {
            let mut v = default_user(&user_json(u));
            v["@odata.type"] = json!("#microsoft.graph.user");
            (u.id, v)
        })
        .collect();
    out.extend(
        t.service_principals
            .iter()
            .filter(|s| s.directory_roles.iter().any(|x| x == template))
            .map(|s| {
                (
                    s.id,
                    json!({
                        "@odata.type": "#microsoft.graph.servicePrincipal",
                        "id": s.id.to_string(),
                        "appId": s.app_id.to_string(),
                        "displayName": s.display_name,
                    }),
                )
            }),
    );
    out
}

fn assignment_id(t: &TenantState, principal: Uuid, template: &str) -> String {
    crate::jwt::b64url(
        catalog::derived_id(&t.id, "roleAssignment", &format!("{principal}/{template}")).as_bytes(),
    )
}

fn assignment_json(t: &TenantState, principal: Uuid, template: &str) -> Value {
    json!({
        "id": assignment_id(t, principal, template),
        "principalId": principal.to_string(),
        "roleDefinitionId": template,
        "directoryScopeId": "/",
    })
}

pub(super) async fn directory_roles(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require(&c, ROLE_READ_ROLES, ROLE_READ_SCOPES)?;
    let items = with_tenant(&sim, &c, |t| {
        Ok(active_roles(t)
            .into_iter()
            .map(|r| {
                let mut v = directory_role_json(t, r);
                if let Some(m) = v.as_object_mut() {
                    m.remove("@odata.type");
                }
                v
            })
            .collect())
    })?;
    collection(
        &origin,
        list_query(&p, &headers, &uri, "directoryRoles"),
        items,
    )
}

fn find_role(
    t: &TenantState,
    id: &str,
) -> Result<&'static catalog::DirectoryRoleTemplate, GraphError> {
    // Accepts the object id or, like `directoryRoles(roleTemplateId='…')`, the template id.
    let id = id
        .trim_start_matches('(')
        .trim_end_matches(')')
        .strip_prefix("roleTemplateId=")
        .map(|s| s.trim_matches('\''))
        .unwrap_or(id);
    active_roles(t)
        .into_iter()
        .find(|r| r.template_id.eq_ignore_ascii_case(id) || role_object_id(t, r.template_id) == id)
        .ok_or_else(|| GraphError::not_found(id))
}

pub(super) async fn directory_role(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require(&c, ROLE_READ_ROLES, ROLE_READ_SCOPES)?;
    let v = with_tenant(&sim, &c, |t| {
        let mut v = directory_role_json(t, find_role(t, &id)?);
        if let Some(m) = v.as_object_mut() {
            m.remove("@odata.type");
        }
        Ok(v)
    })?;
    Ok(entity(&origin, "directoryRoles/$entity", v, None))
}

pub(super) async fn directory_role_members(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require(&c, ROLE_READ_ROLES, ROLE_READ_SCOPES)?;
    let items = with_tenant(&sim, &c, |t| {
        let r = find_role(t, &id)?;
        Ok(holders(t, r.template_id)
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    })?;
    collection(
        &origin,
        list_query(&p, &headers, &uri, "directoryObjects"),
        items,
    )
}

pub(super) async fn role_assignments(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require(&c, ROLE_READ_ROLES, ROLE_READ_SCOPES)?;
    let items = with_tenant(&sim, &c, |t| {
        let mut out = Vec::new();
        for r in catalog::DIRECTORY_ROLES {
            for (principal, _) in holders(t, r.template_id) {
                out.push(assignment_json(t, principal, r.template_id));
            }
        }
        Ok(out)
    })?;
    // `$filter=principalId eq '…'` is a plain equality; not an advanced query.
    collection(
        &origin,
        list_query(
            &p,
            &headers,
            &uri,
            "roleManagement/directory/roleAssignments",
        ),
        items,
    )
    .map(IntoResponse::into_response)
}

/// `POST /roleManagement/directory/roleAssignments`: assigns a built-in role tenant-wide.
pub(super) async fn create_role_assignment(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| GraphError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let mut state = sim.write();
    let t = state
        .tenant_mut(c.tenant)
        .ok_or_else(|| GraphError::not_found(&c.tenant.to_string()))?;
    let allowed = match &c.principal {
        Principal::App { roles, .. } => roles
            .iter()
            .any(|r| r == "RoleManagement.ReadWrite.Directory"),
        Principal::User { user_id, scp, .. } => {
            t.user_by_id(*user_id).is_some_and(|u| {
                u.has_any_role(&["Global Administrator", "Privileged Role Administrator"])
            }) && scp
                .iter()
                .any(|s| s == "RoleManagement.ReadWrite.Directory")
        }
    };
    if !allowed {
        return Err(GraphError::denied());
    }
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (principal, template, scope) = (
        field("principalId"),
        field("roleDefinitionId"),
        field("directoryScopeId"),
    );
    if scope != "/" {
        return Err(GraphError::bad_request(
            "The simulator assigns roles tenant-wide only: use directoryScopeId \"/\".",
        ));
    }
    let Some(role) = catalog::DIRECTORY_ROLES
        .iter()
        .find(|r| r.template_id.eq_ignore_ascii_case(&template))
    else {
        return Err(GraphError::not_found(&template));
    };
    let pid = Uuid::parse_str(&principal).map_err(|_| GraphError::not_found(&principal))?;
    let held = if let Some(u) = t.users.iter_mut().find(|u| u.id == pid) {
        &mut u.directory_roles
    } else if let Some(s) = t.service_principals.iter_mut().find(|s| s.id == pid) {
        &mut s.directory_roles
    } else {
        return Err(GraphError::not_found(&principal));
    };
    if held.iter().any(|r| r == role.template_id) {
        return Err(GraphError::bad_request(
            "A conflicting object with one or more of the specified property values is present in the directory.",
        ));
    }
    held.push(role.template_id.to_string());
    let mut v = assignment_json(t, pid, role.template_id);
    v["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#roleManagement/directory/roleAssignments/$entity",
        origin.base()
    ));
    Ok(json_response(StatusCode::CREATED, &v))
}

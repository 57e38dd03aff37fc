//! Admin consent: application permissions granted to a service principal
//! (`appRoleAssignedTo` / `appRoleAssignments`); granting needs Global Administrator or
//! Privileged Role Administrator (delegated) or AppRoleAssignment.ReadWrite.All (app-only).

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};
use uuid::Uuid;

use super::apps::{Grant, find_sp, lq, parse_body, require_app_read, tenant_to_change};
use super::directory::with_tenant;
use super::{GraphError, caller, collection};
use crate::server::{Origin, Shared, json_response};
use crate::state::build::assignment_id;
use crate::state::{AppRoleAssignment, created_time};

type Params = Query<HashMap<String, String>>;

/// Admin consent: Global Administrator or Privileged Role Administrator.
const CONSENT: Grant = Grant {
    roles: &["Global Administrator", "Privileged Role Administrator"],
    scopes: &[
        "AppRoleAssignment.ReadWrite.All",
        "Directory.AccessAsUser.All",
    ],
    app_roles: &["AppRoleAssignment.ReadWrite.All"],
};

fn assignment_json(a: &AppRoleAssignment) -> Value {
    json!({
        "id": a.id,
        "deletedDateTime": null,
        "appRoleId": a.app_role_id.to_string(),
        "createdDateTime": a.created_date_time,
        "principalDisplayName": a.principal_display_name,
        "principalId": a.principal_id.to_string(),
        "principalType": "ServicePrincipal",
        "resourceDisplayName": a.resource_display_name,
        "resourceId": a.resource_id.to_string(),
    })
}

/// `servicePrincipals/{id}/appRoleAssignedTo` (the permissions granted on this resource)
/// and `…/appRoleAssignments` (those granted to this principal).
pub(super) async fn app_role_assignments(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    require_app_read(&c)?;
    let assigned_to = uri.path().ends_with("/appRoleAssignedTo");
    let items = with_tenant(&sim, &c, |t| {
        let sp = find_sp(t, &id)?;
        Ok(t.app_role_assignments
            .iter()
            .filter(|a| {
                if assigned_to {
                    a.resource_id == sp.id
                } else {
                    a.principal_id == sp.id
                }
            })
            .map(assignment_json)
            .collect())
    })?;
    let relation = if assigned_to {
        "appRoleAssignedTo"
    } else {
        "appRoleAssignments"
    };
    collection(
        &origin,
        lq(
            &p,
            &headers,
            &uri,
            &format!("servicePrincipals('{id}')/{relation}"),
        ),
        items,
    )
}

/// Admin consent to an application permission (`POST …/appRoleAssignedTo` or
/// `…/appRoleAssignments`).
pub(super) async fn grant_app_role(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let body = parse_body(&body)?;
    let mut state = sim.write();
    let t = tenant_to_change(&mut state, &c, Some(&CONSENT))?;
    let get = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| {
                GraphError::bad_request(format!(
                    "Invalid value specified for property '{k}' of resource 'AppRoleAssignment'."
                ))
            })
    };
    let (principal_id, resource_id, role_id) =
        (get("principalId")?, get("resourceId")?, get("appRoleId")?);
    let principal = t
        .service_principals
        .iter()
        .find(|s| s.id == principal_id)
        .ok_or_else(|| GraphError::not_found(&principal_id.to_string()))?;
    let resource = t
        .service_principals
        .iter()
        .find(|s| s.id == resource_id)
        .ok_or_else(|| GraphError::not_found(&resource_id.to_string()))?;
    if !resource.app_roles.iter().any(|r| r.id == role_id) {
        return Err(GraphError::bad_request(
            "Permission being assigned was not found on application",
        ));
    }
    if t.app_role_assignments.iter().any(|a| {
        a.principal_id == principal_id && a.resource_id == resource_id && a.app_role_id == role_id
    }) {
        return Err(GraphError::bad_request(
            "Permission being assigned already exists on the object",
        ));
    }
    let a = AppRoleAssignment {
        id: assignment_id(t.id, principal_id, role_id),
        principal_id,
        principal_display_name: principal.display_name.clone(),
        resource_id,
        resource_display_name: resource.display_name.clone(),
        app_role_id: role_id,
        created_date_time: String::new(),
    };
    let serial = t.next_serial();
    let a = AppRoleAssignment {
        created_date_time: created_time(serial),
        ..a
    };
    let mut v = assignment_json(&a);
    t.app_role_assignments.push(a);
    v["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#servicePrincipals('{resource_id}')/appRoleAssignedTo/$entity",
        origin.base()
    ));
    Ok(json_response(StatusCode::CREATED, &v))
}

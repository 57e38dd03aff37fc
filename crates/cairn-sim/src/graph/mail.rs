//! Mailbox endpoints (`/users/{id}/mailFolders`, `/messages`). Who may read a mailbox is
//! decided as Exchange Online does for applications: an RBAC for Applications role
//! assignment whose scope covers the mailbox; delegated callers reach their own mailbox.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{GraphError, ListQuery, caller, collection, entity};
use crate::auth::{Caller, Principal};
use crate::scenario::MailboxKind;
use crate::server::{Origin, Shared};
use crate::state::{MailFolder, Mailbox, TenantState};

type Params = Query<HashMap<String, String>>;

const MAIL_ROLES: &[&str] = &["Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic"];

fn access_denied() -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
    )
}

/// Finds the mailbox of `id` if the caller may read it.
fn mailbox_for<'t>(
    t: &'t TenantState,
    c: &Caller,
    id: &str,
) -> Result<(Uuid, &'t Mailbox), GraphError> {
    let user = match (&c.principal, id) {
        (Principal::User { user_id, .. }, "me") => t.user_by_id(*user_id),
        _ => t.user(id),
    };
    let Some(user) = user else {
        return Err(GraphError::new(
            StatusCode::NOT_FOUND,
            "ErrorInvalidUser",
            format!("The requested user '{id}' is invalid."),
        ));
    };
    let store = t
        .mailboxes
        .get(&user.id)
        .filter(|_| user.mailbox != MailboxKind::None);
    let Some(store) = store else {
        return Err(GraphError::new(
            StatusCode::NOT_FOUND,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        ));
    };
    let allowed = match &c.principal {
        Principal::App { app_id, .. } => {
            Uuid::parse_str(app_id).is_ok_and(|a| t.mailbox_role_covers(a, user))
        }
        Principal::User { user_id, scp, .. } => {
            *user_id == user.id && scp.iter().any(|s| MAIL_ROLES.contains(&s.as_str()))
        }
    };
    if !allowed {
        return Err(access_denied());
    }
    Ok((user.id, &store.primary))
}

fn folder_json(m: &Mailbox, f: &MailFolder) -> Value {
    let (total, unread) = m.counts(&f.id);
    json!({
        "id": f.id,
        "displayName": f.display_name,
        "parentFolderId": f.parent_folder_id,
        "childFolderCount": m.children(&f.id).count(),
        "unreadItemCount": unread,
        "totalItemCount": total,
        "sizeInBytes": 0,
        "isHidden": f.is_hidden,
    })
}

fn lq<'a>(
    p: &'a HashMap<String, String>,
    h: &'a HeaderMap,
    uri: &'a Uri,
    ctx: String,
    size: usize,
) -> ListQuery<'a> {
    ListQuery {
        params: p,
        headers: h,
        path: uri.path(),
        context: ctx,
        page_size: size,
    }
}

pub(super) async fn folders(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let hidden = p.get("includeHiddenFolders").is_some_and(|v| v == "true");
    let (uid, items) = {
        let state = sim.read();
        let t = state
            .tenant_by_id(c.tenant)
            .ok_or_else(|| GraphError::not_found(&id))?;
        let (uid, m) = mailbox_for(t, &c, &id)?;
        let items: Vec<Value> = m
            .children(&m.root_id)
            .filter(|f| hidden || !f.is_hidden)
            .map(|f| folder_json(m, f))
            .collect();
        (uid, items)
    };
    let mut params = p.clone();
    params.remove("includeHiddenFolders");
    let ctx = format!("users('{uid}')/mailFolders");
    collection(&origin, lq(&params, &headers, &uri, ctx, 10), items)
}

pub(super) async fn folder(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, fid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let state = sim.read();
    let t = state
        .tenant_by_id(c.tenant)
        .ok_or_else(|| GraphError::not_found(&id))?;
    let (uid, m) = mailbox_for(t, &c, &id)?;
    let f = m.folder(&fid).ok_or_else(|| {
        GraphError::new(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        )
    })?;
    Ok(entity(
        &origin,
        &format!("users('{uid}')/mailFolders/$entity"),
        folder_json(m, f),
        p.get("$select"),
    ))
}

pub(super) async fn child_folders(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, fid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let (uid, items) = {
        let state = sim.read();
        let t = state
            .tenant_by_id(c.tenant)
            .ok_or_else(|| GraphError::not_found(&id))?;
        let (uid, m) = mailbox_for(t, &c, &id)?;
        let parent = m.folder(&fid).ok_or_else(|| {
            GraphError::new(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
            )
        })?;
        let items: Vec<Value> = m.children(&parent.id).map(|f| folder_json(m, f)).collect();
        (uid, items)
    };
    let ctx = format!("users('{uid}')/mailFolders('{fid}')/childFolders");
    collection(&origin, lq(&p, &headers, &uri, ctx, 10), items)
}

fn message_json(m: &crate::state::Message) -> Value {
    json!({
        "id": m.id,
        "parentFolderId": m.parent_folder_id,
        "subject": m.subject,
        "isRead": m.is_read,
        "receivedDateTime": m.received_date_time,
    })
}

pub(super) async fn messages(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let (uid, items) = {
        let state = sim.read();
        let t = state
            .tenant_by_id(c.tenant)
            .ok_or_else(|| GraphError::not_found(&id))?;
        let (uid, m) = mailbox_for(t, &c, &id)?;
        (uid, m.messages.iter().map(message_json).collect::<Vec<_>>())
    };
    collection(
        &origin,
        lq(&p, &headers, &uri, format!("users('{uid}')/messages"), 10),
        items,
    )
}

pub(super) async fn folder_messages(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, fid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let (uid, items) = {
        let state = sim.read();
        let t = state
            .tenant_by_id(c.tenant)
            .ok_or_else(|| GraphError::not_found(&id))?;
        let (uid, m) = mailbox_for(t, &c, &id)?;
        let f = m.folder(&fid).ok_or_else(|| {
            GraphError::new(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
            )
        })?;
        let items: Vec<Value> = m
            .messages
            .iter()
            .filter(|x| x.parent_folder_id == f.id)
            .map(message_json)
            .collect();
        (uid, items)
    };
    collection(
        &origin,
        lq(
            &p,
            &headers,
            &uri,
            format!("users('{uid}')/mailFolders('{fid}')/messages"),
            10,
        ),
        items,
    )
}

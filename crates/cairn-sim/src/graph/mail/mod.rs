//! Outlook's data plane through Graph: mail folders, messages (with their MIME), calendar
//! and contacts, each with its delta query, and the in-place archive through the beta
//! mailbox export API. Who may read a mailbox is decided as Exchange Online does for
//! applications: an RBAC for Applications role assignment whose scope covers the mailbox;
//! delegated callers reach their own mailbox. All routes sit behind the throttle layer.

mod archive;
mod calendar;
mod contacts;
mod delta;
mod folders;
mod messages;

use axum::Router;
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use uuid::Uuid;

use super::GraphError;
use crate::auth::{Caller, Principal};
use crate::scenario::MailboxKind;
use crate::server::Shared;
use crate::state::{Mailbox, TenantState};

const MAIL_ROLES: &[&str] = &["Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic"];

/// Routes of the mail data plane (v1.0 and beta), throttled.
pub fn router(sim: Shared) -> Router<Shared> {
    let u = "/v1.0/users/{id}";
    Router::new()
        .route(&format!("{u}/mailFolders"), get(folders::list))
        .route(&format!("{u}/mailFolders/delta"), get(folders::delta))
        .route(&format!("{u}/mailFolders/delta()"), get(folders::delta))
        .route(&format!("{u}/mailFolders/{{fid}}"), get(folders::get))
        .route(
            &format!("{u}/mailFolders/{{fid}}/childFolders"),
            get(folders::children),
        )
        .route(
            &format!("{u}/mailFolders/{{fid}}/messages"),
            get(messages::list_in_folder),
        )
        .route(
            &format!("{u}/mailFolders/{{fid}}/messages/delta"),
            get(messages::delta),
        )
        .route(
            &format!("{u}/mailFolders/{{fid}}/messages/delta()"),
            get(messages::delta),
        )
        .route(
            &format!("{u}/mailFolders/{{fid}}/messages/{{mid}}"),
            get(messages::get_in_folder),
        )
        .route(
            &format!("{u}/mailFolders/{{fid}}/messages/{{mid}}/$value"),
            get(messages::value_in_folder),
        )
        .route(&format!("{u}/messages"), get(messages::list))
        .route(&format!("{u}/messages/{{mid}}"), get(messages::get))
        .route(
            &format!("{u}/messages/{{mid}}/$value"),
            get(messages::value),
        )
        .route(
            &format!("{u}/calendarView/delta"),
            get(calendar::view_delta),
        )
        .route(
            &format!("{u}/calendarView/delta()"),
            get(calendar::view_delta),
        )
        .route(&format!("{u}/calendarView"), get(calendar::view))
        .route(&format!("{u}/events"), get(calendar::list))
        .route(&format!("{u}/events/{{eid}}"), get(calendar::get))
        .route(
            &format!("{u}/events/{{eid}}/instances"),
            get(calendar::instances),
        )
        .route("/beta/users/{id}/events/delta", get(calendar::events_delta))
        .route(
            "/beta/users/{id}/events/delta()",
            get(calendar::events_delta),
        )
        .route("/beta/users/{id}/events/{eid}", get(calendar::get_beta))
        .route(&format!("{u}/contactFolders"), get(contacts::folders))
        .route(
            &format!("{u}/contactFolders/delta"),
            get(contacts::folders_delta),
        )
        .route(
            &format!("{u}/contactFolders/delta()"),
            get(contacts::folders_delta),
        )
        .route(
            &format!("{u}/contactFolders/{{fid}}"),
            get(contacts::folder),
        )
        .route(
            &format!("{u}/contactFolders/{{fid}}/childFolders"),
            get(contacts::child_folders),
        )
        .route(
            &format!("{u}/contactFolders/{{fid}}/contacts"),
            get(contacts::list),
        )
        .route(
            &format!("{u}/contactFolders/{{fid}}/contacts/delta"),
            get(contacts::delta),
        )
        .route(
            &format!("{u}/contactFolders/{{fid}}/contacts/delta()"),
            get(contacts::delta),
        )
        .route(&format!("{u}/contacts"), get(contacts::list))
        .route(&format!("{u}/contacts/delta"), get(contacts::delta))
        .route(&format!("{u}/contacts/delta()"), get(contacts::delta))
        .route(&format!("{u}/contacts/{{cid}}"), get(contacts::get))
        .route(
            "/beta/users/{id}/settings/exchange",
            get(archive::exchange_settings),
        )
        .route(
            "/beta/admin/exchange/mailboxes/{mbx}/folders",
            get(archive::folders),
        )
        .route(
            "/beta/admin/exchange/mailboxes/{mbx}/folders/delta",
            get(archive::folders_delta),
        )
        .route(
            "/beta/admin/exchange/mailboxes/{mbx}/folders/delta()",
            get(archive::folders_delta),
        )
        .route(
            "/beta/admin/exchange/mailboxes/{mbx}/folders/{fid}",
            get(archive::folder),
        )
        .route(
            "/beta/admin/exchange/mailboxes/{mbx}/folders/{fid}/childFolders",
            get(archive::child_folders),
        )
        .route(
            "/beta/admin/exchange/mailboxes/{mbx}/folders/{fid}/items",
            get(archive::items),
        )
        .route(
            "/beta/admin/exchange/mailboxes/{mbx}/folders/{fid}/items/delta",
            get(archive::items_delta),
        )
        .route(
            "/beta/admin/exchange/mailboxes/{mbx}/folders/{fid}/items/{iid}",
            get(archive::item),
        )
        .route(
            "/beta/admin/exchange/mailboxes/{mbx}/folders/{fid}/items/delta()",
            get(archive::items_delta),
        )
        .route(
            "/beta/admin/exchange/mailboxes/{mbx}/exportItems",
            post(archive::export_items),
        )
        .layer(axum::middleware::from_fn_with_state(
            sim,
            crate::throttle::throttle_layer,
        ))
}

pub(super) fn access_denied() -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
    )
}

pub(super) fn item_not_found() -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

/// The user owning mailbox id `key` (`MBX:{guid}@{tenant}` or a bare GUID), primary or
/// archive.
pub fn mailbox_owner(t: &TenantState, key: &str) -> Option<Uuid> {
    let guid = key
        .strip_prefix("MBX:")
        .unwrap_or(key)
        .split('@')
        .next()
        .unwrap_or_default();
    let guid = Uuid::parse_str(guid).ok()?;
    t.mailboxes.iter().find_map(|(uid, s)| {
        (s.primary.guid == guid || s.archive.as_ref().is_some_and(|a| a.guid == guid))
            .then_some(*uid)
    })
}

/// Finds the user `id` names and checks the caller may read their mailbox.
pub(super) fn authorize(t: &TenantState, c: &Caller, id: &str) -> Result<Uuid, GraphError> {
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
    if user.mailbox == MailboxKind::None || !t.mailboxes.contains_key(&user.id) {
        return Err(GraphError::new(
            StatusCode::NOT_FOUND,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        ));
    }
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
    Ok(user.id)
}

/// Runs `f` on the primary mailbox of `id` after authentication and authorization.
pub(super) fn with_mailbox<R>(
    sim: &Shared,
    c: &Caller,
    id: &str,
    f: impl FnOnce(Uuid, &Mailbox) -> Result<R, GraphError>,
) -> Result<R, GraphError> {
    let state = sim.read();
    let t = state
        .tenant_by_id(c.tenant)
        .ok_or_else(|| GraphError::not_found(id))?;
    let uid = authorize(t, c, id)?;
    let store = t
        .mailboxes
        .get(&uid)
        .ok_or_else(|| GraphError::not_found(id))?;
    f(uid, &store.primary)
}

/// `odata.maxpagesize` from the Prefer headers (there may be several).
pub(super) fn max_page_size(headers: &HeaderMap) -> Option<usize> {
    headers
        .get_all("Prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| {
            p.trim()
                .strip_prefix("odata.maxpagesize=")
                .and_then(|n| n.trim().parse::<usize>().ok())
        })
        .filter(|n| *n > 0)
}

/// Now, Unix seconds.
pub(super) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// One page of a Graph collection built from `items`: Graph's default page of 10 unless
/// the client asks for another size, with nextLink paging (shared by every mail list).
pub(super) fn page_of(
    origin: &crate::server::Origin,
    params: &std::collections::HashMap<String, String>,
    headers: &HeaderMap,
    uri: &http::Uri,
    context: String,
    items: Vec<serde_json::Value>,
) -> Result<axum::response::Response, GraphError> {
    crate::graph::collection(
        origin,
        crate::graph::ListQuery {
            params,
            headers,
            path: uri.path(),
            context,
            page_size: 10,
        },
        items,
    )
}

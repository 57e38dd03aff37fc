//! The mailbox import/export API (beta, worldwide only), the one Graph way to reach an
//! in-place archive: `/users/{id}/settings/exchange` names the primary and archive
//! mailboxes; `/admin/exchange/mailboxes/{id}/folders` (+ `childFolders`, `delta`),
//! `…/folders/{id}/items` (+ `delta`, + one item by id) and `POST …/exportItems` (at
//! most 20 items).
//!
//! Simulator-only: Exchange exports each item as an opaque FastTransfer stream (a MAPI
//! property stream meant only for `importItem`); imitating that format would be a
//! project of its own and nothing outside Exchange can read it. The simulator puts the
//! item's MIME (base64) in `data` instead; see docs/simulator.md.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use base64::Engine;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};
use uuid::Uuid;

use super::delta::{Asked, Tracked};
use super::{authorize, item_not_found, mailbox_owner, page_of};
use crate::auth::Caller;
use crate::cloud::Cloud;
use crate::graph::{GraphError, caller, entity};
use crate::server::{Origin, Shared, json_response};
use crate::state::mailbox::{Kind, change_key};
use crate::state::{MailFolder, Mailbox};

type Params = Query<HashMap<String, String>>;

/// At most this many items per exportItems request.
const EXPORT_LIMIT: usize = 20;

fn worldwide_only(origin: &Origin) -> Result<(), GraphError> {
    if origin.cloud() == Cloud::Worldwide {
        Ok(())
    } else {
        Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The mailbox import and export APIs are available in the global service only.",
        ))
    }
}

fn mailbox_id(guid: Uuid, tenant: Uuid) -> String {
    format!("MBX:{}@{tenant}", guid.simple())
}

fn beta_context(origin: &Origin, fragment: &str) -> String {
    format!("{}/beta/$metadata#{fragment}", origin.base())
}

/// Runs `f` on the mailbox (primary or archive) that `mbx` names.
fn with_mbx<R>(
    sim: &Shared,
    c: &Caller,
    mbx: &str,
    f: impl FnOnce(&Mailbox) -> Result<R, GraphError>,
) -> Result<R, GraphError> {
    let state = sim.read();
    let t = state
        .tenant_by_id(c.tenant)
        .ok_or_else(|| GraphError::not_found(mbx))?;
    let not_found = || {
        GraphError::new(
            StatusCode::NOT_FOUND,
            "ErrorMailboxNotFound",
            format!("The mailbox '{mbx}' was not found."),
        )
    };
    let owner = mailbox_owner(t, mbx).ok_or_else(not_found)?;
    authorize(t, c, &owner.to_string())?;
    let store = t.mailboxes.get(&owner).ok_or_else(not_found)?;
    let guid = mbx
        .strip_prefix("MBX:")
        .unwrap_or(mbx)
        .split('@')
        .next()
        .and_then(|g| Uuid::parse_str(g).ok());
    let m = match &store.archive {
        Some(a) if Some(a.guid) == guid => a,
        _ => &store.primary,
    };
    f(m)
}

pub(super) async fn exchange_settings(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    worldwide_only(&origin)?;
    let c = caller(&sim, &origin, &headers)?;
    let state = sim.read();
    let t = state
        .tenant_by_id(c.tenant)
        .ok_or_else(|| GraphError::not_found(&id))?;
    let uid = authorize(t, &c, &id)?;
    let store = t
        .mailboxes
        .get(&uid)
        .ok_or_else(|| GraphError::not_found(&id))?;
    let body = json!({
        "@odata.context": beta_context(&origin, &format!("users('{uid}')/settings/exchange/$entity")),
        "id": uid.to_string(),
        "primaryMailboxId": mailbox_id(store.primary.guid, t.id),
        "inPlaceArchiveMailboxId": store.archive.as_ref().map(|a| mailbox_id(a.guid, t.id)),
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn folder_json(m: &Mailbox, f: &MailFolder) -> Value {
    let (total, _) = m.counts(&f.id);
    json!({
        "id": f.id,
        "displayName": f.display_name,
        "parentFolderId": f.parent_folder_id,
        "childFolderCount": m.children(&f.id).count(),
        "totalItemCount": total,
        "type": "IPF.Note",
    })
}

fn item_json(m: &Mailbox, x: &crate::state::Message) -> Value {
    let p = m.props(x);
    json!({
        "id": x.id,
        "createdDateTime": crate::state::message::graph_time(x.created),
        "lastModifiedDateTime": crate::state::message::graph_time(x.modified),
        "changeKey": change_key(&x.id, x.version),
        "categories": p.categories,
        "type": "IPM.Note",
        "size": m.mime(&x.id).map(|b| b.len()).unwrap_or(0),
    })
}

pub(super) async fn folders(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(mbx): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    worldwide_only(&origin)?;
    let c = caller(&sim, &origin, &headers)?;
    let items = with_mbx(&sim, &c, &mbx, |m| {
        Ok(m.children(&m.root_id)
            .map(|f| folder_json(m, f))
            .collect::<Vec<_>>())
    })?;
    page_of(
        &origin,
        &p,
        &headers,
        &uri,
        format!("admin/exchange/mailboxes('{mbx}')/folders"),
        items,
    )
}

pub(super) async fn folder(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((mbx, fid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    worldwide_only(&origin)?;
    let c = caller(&sim, &origin, &headers)?;
    let json = with_mbx(&sim, &c, &mbx, |m| {
        let f = m.folder(&fid).ok_or_else(item_not_found)?;
        Ok(folder_json(m, f))
    })?;
    Ok(entity(
        &origin,
        &format!("admin/exchange/mailboxes('{mbx}')/folders/$entity"),
        json,
        p.get("$select"),
    ))
}

pub(super) async fn child_folders(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((mbx, fid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    worldwide_only(&origin)?;
    let c = caller(&sim, &origin, &headers)?;
    let items = with_mbx(&sim, &c, &mbx, |m| {
        let parent = m.folder_id(&fid).ok_or_else(item_not_found)?;
        Ok(m.children(&parent)
            .map(|f| folder_json(m, f))
            .collect::<Vec<_>>())
    })?;
    page_of(
        &origin,
        &p,
        &headers,
        &uri,
        format!("admin/exchange/mailboxes('{mbx}')/folders('{fid}')/childFolders"),
        items,
    )
}

pub(super) async fn folders_delta(
    Path(mbx): Path<String>,
    asked: Asked,
) -> Result<Response, GraphError> {
    archive_delta(asked, &mbx, |m| {
        Ok(Tracked {
            kind: Kind::Folder,
            container: String::new(),
            present: m.visible_folders().map(|f| (f.seq, f.id.clone())).collect(),
            render: Box::new(move |id| m.folder(id).map(|f| folder_json(m, f))),
            context: "Collection(mailboxFolder)".into(),
            odata_type: "#microsoft.graph.mailboxFolder",
        })
    })
}

/// A beta delta answer over the mailbox (primary or archive) `mbx` names.
fn archive_delta(
    asked: Asked,
    mbx: &str,
    f: impl for<'m> FnOnce(&'m Mailbox) -> Result<Tracked<'m>, GraphError>,
) -> Result<Response, GraphError> {
    worldwide_only(&asked.origin)?;
    let c = caller(&asked.sim, &asked.origin, &asked.headers)?;
    let max_age = asked.sim.plane.token_max_age();
    with_mbx(&asked.sim, &c, mbx, |m| {
        let t = f(m)?;
        asked.answer(m, t, "/beta", max_age)
    })
}

pub(super) async fn items(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((mbx, fid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    worldwide_only(&origin)?;
    let c = caller(&sim, &origin, &headers)?;
    let items = with_mbx(&sim, &c, &mbx, |m| {
        let folder = m.folder_id(&fid).ok_or_else(item_not_found)?;
        Ok(m.messages_in(&folder)
            .map(|x| item_json(m, x))
            .collect::<Vec<_>>())
    })?;
    page_of(
        &origin,
        &p,
        &headers,
        &uri,
        format!("admin/exchange/mailboxes('{mbx}')/folders('{fid}')/items"),
        items,
    )
}

/// `GET …/folders/{id}/items/{id}`: one item, 404 ErrorItemNotFound when it is not
/// (or no longer) in that folder.
pub(super) async fn item(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((mbx, fid, iid)): Path<(String, String, String)>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    worldwide_only(&origin)?;
    let c = caller(&sim, &origin, &headers)?;
    let json = with_mbx(&sim, &c, &mbx, |m| {
        let folder = m.folder_id(&fid).ok_or_else(item_not_found)?;
        let x = m
            .messages
            .get(&iid)
            .filter(|x| x.parent_folder_id == folder)
            .ok_or_else(item_not_found)?;
        Ok(item_json(m, x))
    })?;
    Ok(entity(
        &origin,
        &format!("admin/exchange/mailboxes('{mbx}')/folders('{fid}')/items/$entity"),
        json,
        p.get("$select"),
    ))
}

pub(super) async fn items_delta(
    Path((mbx, fid)): Path<(String, String)>,
    asked: Asked,
) -> Result<Response, GraphError> {
    archive_delta(asked, &mbx, |m| {
        let folder = m.folder_id(&fid).ok_or_else(item_not_found)?;
        Ok(Tracked {
            kind: Kind::Message,
            present: m
                .messages_in(&folder)
                .map(|x| (x.seq, x.id.clone()))
                .collect(),
            container: folder,
            render: Box::new(move |id| m.messages.get(id).map(|x| item_json(m, x))),
            context: "Collection(mailboxItem)".into(),
            odata_type: "#microsoft.graph.mailboxItem",
        })
    })
}

pub(super) async fn export_items(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(mbx): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, GraphError> {
    worldwide_only(&origin)?;
    let c = caller(&sim, &origin, &headers)?;
    let req: Value = serde_json::from_slice(&body)
        .map_err(|_| GraphError::bad_request("The request body must be JSON with 'itemIds'."))?;
    let ids: Vec<String> = req["itemIds"]
        .as_array()
        .ok_or_else(|| GraphError::bad_request("'itemIds' is required."))?
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    if ids.is_empty() || ids.len() > EXPORT_LIMIT {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            format!(
                "itemIds must hold between 1 and {EXPORT_LIMIT} ids; {} given.",
                ids.len()
            ),
        ));
    }
    let sources = with_mbx(&sim, &c, &mbx, |m| {
        Ok(ids
            .iter()
            .map(|id| {
                let found = m
                    .messages
                    .get(id)
                    .filter(|_| !m.unreadable.contains(id))
                    .and_then(|x| m.mime_source(id).map(|s| (change_key(id, x.version), s)));
                (id.clone(), found)
            })
            .collect::<Vec<_>>())
    })?;
    // Building messages is CPU work: off the reactor and outside the state lock.
    let value = tokio::task::spawn_blocking(move || {
        sources
            .into_iter()
            .map(|(id, found)| match found.and_then(|(ck, s)| s.build().map(|b| (ck, b))) {
                Some((ck, mime)) => json!({
                    "itemId": id,
                    "changeKey": ck,
                    "data": base64::engine::general_purpose::STANDARD.encode(mime),
                }),
                None => json!({
                    "itemId": id,
                    "error": {"code": "ErrorItemNotFound", "message": "The specified object was not found in the store."},
                }),
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|_| GraphError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "Export failed inside the simulator."))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "@odata.context": beta_context(&origin, "Collection(microsoft.graph.exportItemResponse)"),
            "value": value,
        }),
    ))
}

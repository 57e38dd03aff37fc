//! Messages: lists, one message, its MIME (`$value`) and the per-folder delta.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use serde_json::Value;

use super::delta::{Asked, Tracked};
use super::{item_not_found, page_of, with_mailbox};
use crate::graph::{GraphError, caller, entity};
use crate::server::{Origin, Shared};
use crate::state::Mailbox;
use crate::state::mailbox::Kind;

type Params = Query<HashMap<String, String>>;

/// Messages of the IPM subtree (what `/messages` lists), newest first.
fn listed<'m>(m: &'m Mailbox, folder: Option<&str>) -> Vec<&'m crate::state::Message> {
    let mut out: Vec<_> = m
        .messages
        .values()
        .filter(|x| match folder {
            Some(f) => x.parent_folder_id == f,
            None => m
                .folders
                .iter()
                .any(|f| f.id == x.parent_folder_id && f.visible_tree),
        })
        .collect();
    out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    out
}

async fn list_impl(
    sim: Shared,
    origin: Origin,
    id: String,
    fid: Option<String>,
    p: HashMap<String, String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let (uid, items) = with_mailbox(&sim, &c, &id, |uid, m| {
        let folder = match &fid {
            Some(f) => Some(m.folder_id(f).ok_or_else(item_not_found)?),
            None => None,
        };
        let items: Vec<Value> = listed(m, folder.as_deref())
            .into_iter()
            .map(|x| m.message_json(x))
            .collect();
        Ok((uid, items))
    })?;
    let context = match &fid {
        Some(f) => format!("users('{uid}')/mailFolders('{f}')/messages"),
        None => format!("users('{uid}')/messages"),
    };
    page_of(&origin, &p, &headers, &uri, context, items)
}

pub(super) async fn list(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    list_impl(sim, origin, id, None, p, headers, uri).await
}

pub(super) async fn list_in_folder(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, fid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    list_impl(sim, origin, id, Some(fid), p, headers, uri).await
}

fn get_impl(
    sim: &Shared,
    origin: &Origin,
    id: &str,
    fid: Option<&str>,
    mid: &str,
    p: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(sim, origin, headers)?;
    let (uid, json) = with_mailbox(sim, &c, id, |uid, m| {
        let x = m.messages.get(mid).ok_or_else(item_not_found)?;
        if let Some(f) = fid
            && m.folder_id(f).as_deref() != Some(x.parent_folder_id.as_str())
        {
            return Err(item_not_found());
        }
        Ok((uid, m.message_json(x)))
    })?;
    Ok(entity(
        origin,
        &format!("users('{uid}')/messages/$entity"),
        json,
        p.get("$select"),
    ))
}

pub(super) async fn get(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, mid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    get_impl(&sim, &origin, &id, None, &mid, &p, &headers)
}

pub(super) async fn get_in_folder(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, fid, mid)): Path<(String, String, String)>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    get_impl(&sim, &origin, &id, Some(&fid), &mid, &p, &headers)
}

async fn value_impl(
    sim: &Shared,
    origin: &Origin,
    id: &str,
    fid: Option<&str>,
    mid: &str,
    headers: &HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(sim, origin, headers)?;
    let source = with_mailbox(sim, &c, id, |_, m| {
        let x = m.messages.get(mid).ok_or_else(item_not_found)?;
        if let Some(f) = fid
            && m.folder_id(f).as_deref() != Some(x.parent_folder_id.as_str())
        {
            return Err(item_not_found());
        }
        if m.unreadable.contains(mid) {
            return Err(item_not_found());
        }
        m.mime_source(mid).ok_or_else(item_not_found)
    })?;
    // Building a generated message is CPU work: off the reactor and outside the lock.
    let mime = tokio::task::spawn_blocking(move || source.build())
        .await
        .ok()
        .flatten()
        .ok_or_else(item_not_found)?;
    let mut r = Response::new(Body::from(mime));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    Ok(r)
}

pub(super) async fn value(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, mid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    value_impl(&sim, &origin, &id, None, &mid, &headers).await
}

pub(super) async fn value_in_folder(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, fid, mid)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    value_impl(&sim, &origin, &id, Some(&fid), &mid, &headers).await
}

pub(super) async fn delta(
    Path((id, fid)): Path<(String, String)>,
    asked: Asked,
) -> Result<Response, GraphError> {
    asked.mailbox(&id, |uid, m| {
        let folder = m.folder_id(&fid).ok_or_else(|| {
            GraphError::new(
                StatusCode::NOT_FOUND,
                "ErrorSyncFolderNotFound",
                "The specified folder could not be found in the store.",
            )
        })?;
        Ok(Tracked {
            kind: Kind::Message,
            present: m
                .messages_in(&folder)
                .map(|x| (x.seq, x.id.clone()))
                .collect(),
            container: folder,
            render: Box::new(move |mid| m.messages.get(mid).map(|x| m.message_json(x))),
            context: format!("Collection(message)/users('{uid}')/mailFolders('{fid}')"),
            odata_type: "#microsoft.graph.message",
        })
    })
}

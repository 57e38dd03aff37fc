//! `mailFolders`: the top level (hidden folders only with `includeHiddenFolders=true`),
//! one folder by id or well-known name, `childFolders`, and the hierarchy delta.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, Uri};
use serde_json::{Value, json};

use super::delta::{Asked, Tracked};
use super::{item_not_found, with_mailbox};
use crate::graph::{GraphError, ListQuery, caller, collection, entity};
use crate::server::{Origin, Shared};
use crate::state::mailbox::Kind;
use crate::state::{MailFolder, Mailbox};

type Params = Query<HashMap<String, String>>;

pub(super) fn folder_json(m: &Mailbox, f: &MailFolder) -> Value {
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

fn root_json(m: &Mailbox) -> Value {
    json!({
        "id": m.root_id,
        "displayName": "Top of Information Store",
        "parentFolderId": crate::state::mailbox::item_id(m.guid, "root"),
        "childFolderCount": m.children(&m.root_id).count(),
        "unreadItemCount": 0,
        "totalItemCount": 0,
        "sizeInBytes": 0,
        "isHidden": false,
    })
}

fn list_query<'a>(
    p: &'a HashMap<String, String>,
    h: &'a HeaderMap,
    uri: &'a Uri,
    context: String,
) -> ListQuery<'a> {
    ListQuery {
        params: p,
        headers: h,
        path: uri.path(),
        context,
        page_size: 10,
    }
}

pub(super) async fn list(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let hidden = p.get("includeHiddenFolders").is_some_and(|v| v == "true");
    let (uid, items) = with_mailbox(&sim, &c, &id, |uid, m| {
        let items = m
            .children(&m.root_id)
            .filter(|f| hidden || !f.is_hidden)
            .map(|f| folder_json(m, f))
            .collect::<Vec<_>>();
        Ok((uid, items))
    })?;
    let ctx = format!("users('{uid}')/mailFolders");
    collection(&origin, list_query(&p, &headers, &uri, ctx), items)
}

pub(super) async fn get(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, fid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let (uid, json) = with_mailbox(&sim, &c, &id, |uid, m| {
        if fid == m.root_id || fid.eq_ignore_ascii_case("msgfolderroot") {
            return Ok((uid, root_json(m)));
        }
        let f = m.folder(&fid).ok_or_else(item_not_found)?;
        Ok((uid, folder_json(m, f)))
    })?;
    Ok(entity(
        &origin,
        &format!("users('{uid}')/mailFolders/$entity"),
        json,
        p.get("$select"),
    ))
}

pub(super) async fn children(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, fid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let hidden = p.get("includeHiddenFolders").is_some_and(|v| v == "true");
    let (uid, items) = with_mailbox(&sim, &c, &id, |uid, m| {
        let parent = m.folder_id(&fid).ok_or_else(item_not_found)?;
        let items = m
            .children(&parent)
            .filter(|f| hidden || !f.is_hidden)
            .map(|f| folder_json(m, f))
            .collect::<Vec<_>>();
        Ok((uid, items))
    })?;
    let ctx = format!("users('{uid}')/mailFolders('{fid}')/childFolders");
    collection(&origin, list_query(&p, &headers, &uri, ctx), items)
}

pub(super) async fn delta(Path(id): Path<String>, asked: Asked) -> Result<Response, GraphError> {
    asked.mailbox(&id, |uid, m| {
        // Hierarchy sync covers every folder of the IPM subtree, hidden ones included.
        Ok(Tracked {
            kind: Kind::Folder,
            container: String::new(),
            present: m.visible_folders().map(|f| (f.seq, f.id.clone())).collect(),
            render: Box::new(move |id| m.folder(id).map(|f| folder_json(m, f))),
            context: format!("Collection(mailFolder)/users('{uid}')"),
            odata_type: "#microsoft.graph.mailFolder",
        })
    })
}

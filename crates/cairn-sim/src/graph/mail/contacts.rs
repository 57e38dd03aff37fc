//! Contacts: `contactFolders` (the folders inside the default Contacts folder, as Graph
//! lists them), `childFolders` (nested folders), `contactFolders/delta` (the whole
//! hierarchy), contacts of a folder and their delta; `/contacts` and `/contacts/delta`
//! are the default Contacts folder's.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, Uri};
use serde_json::{Value, json};

use super::delta::{Asked, Tracked};
use super::{item_not_found, page_of, with_mailbox};
use crate::graph::{GraphError, caller, entity};
use crate::server::{Origin, Shared};
use crate::state::mailbox::Kind;
use crate::state::{MailFolder, Mailbox};

type Params = Query<HashMap<String, String>>;

fn folder_json(f: &MailFolder) -> Value {
    json!({"id": f.id, "displayName": f.display_name, "parentFolderId": f.parent_folder_id})
}

fn default_folder(m: &Mailbox) -> Result<String, GraphError> {
    m.contact_folders
        .first()
        .map(|f| f.id.clone())
        .ok_or_else(item_not_found)
}

/// The contact folder `fid` names, or the default Contacts folder.
fn folder_of(m: &Mailbox, fid: Option<&String>) -> Result<String, GraphError> {
    match fid {
        Some(f) => Ok(m.contact_folder(f).ok_or_else(item_not_found)?.id.clone()),
        None => default_folder(m),
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
    let (uid, items) = with_mailbox(&sim, &c, &id, |uid, m| {
        let root = default_folder(m)?;
        let items = m
            .contact_folders
            .iter()
            .filter(|f| f.parent_folder_id == root)
            .map(folder_json)
            .collect::<Vec<_>>();
        Ok((uid, items))
    })?;
    page_of(
        &origin,
        &p,
        &headers,
        &uri,
        format!("users('{uid}')/contactFolders"),
        items,
    )
}

pub(super) async fn folder(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, fid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let (uid, json) = with_mailbox(&sim, &c, &id, |uid, m| {
        let f = m.contact_folder(&fid).ok_or_else(item_not_found)?;
        Ok((uid, folder_json(f)))
    })?;
    Ok(entity(
        &origin,
        &format!("users('{uid}')/contactFolders/$entity"),
        json,
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
    let (uid, items) = with_mailbox(&sim, &c, &id, |uid, m| {
        let parent = m
            .contact_folder(&fid)
            .ok_or_else(item_not_found)?
            .id
            .clone();
        let items = m
            .contact_folders
            .iter()
            .filter(|f| f.parent_folder_id == parent)
            .map(folder_json)
            .collect::<Vec<_>>();
        Ok((uid, items))
    })?;
    page_of(
        &origin,
        &p,
        &headers,
        &uri,
        format!("users('{uid}')/contactFolders('{fid}')/childFolders"),
        items,
    )
}

/// `contacts` (the default folder's) and `contactFolders/{fid}/contacts`.
pub(super) async fn list(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(path): Path<HashMap<String, String>>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let id = path.get("id").cloned().unwrap_or_default();
    let (uid, items) = with_mailbox(&sim, &c, &id, |uid, m| {
        let folder = folder_of(m, path.get("fid"))?;
        let items = m
            .contacts
            .values()
            .filter(|e| e.folder == folder)
            .map(|e| m.entry_json(e, Kind::Contact))
            .collect::<Vec<_>>();
        Ok((uid, items))
    })?;
    page_of(
        &origin,
        &p,
        &headers,
        &uri,
        format!("users('{uid}')/contacts"),
        items,
    )
}

pub(super) async fn get(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, cid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let (uid, json) = with_mailbox(&sim, &c, &id, |uid, m| {
        let e = m.contacts.get(&cid).ok_or_else(item_not_found)?;
        Ok((uid, m.entry_json(e, Kind::Contact)))
    })?;
    Ok(entity(
        &origin,
        &format!("users('{uid}')/contacts/$entity"),
        json,
        p.get("$select"),
    ))
}

/// `contacts/delta` (the default folder's) and `contactFolders/{fid}/contacts/delta`.
pub(super) async fn delta(
    Path(path): Path<HashMap<String, String>>,
    asked: Asked,
) -> Result<Response, GraphError> {
    let id = path.get("id").cloned().unwrap_or_default();
    asked.mailbox(&id, |uid, m| {
        let folder = folder_of(m, path.get("fid"))?;
        Ok(Tracked {
            kind: Kind::Contact,
            present: m
                .contacts
                .values()
                .filter(|e| e.folder == folder)
                .map(|e| (e.seq, e.id.clone()))
                .collect(),
            container: folder,
            render: Box::new(move |cid| {
                m.contacts.get(cid).map(|e| m.entry_json(e, Kind::Contact))
            }),
            context: format!("Collection(contact)/users('{uid}')/contacts"),
            odata_type: "#microsoft.graph.contact",
        })
    })
}

/// `contactFolders/delta`: every contact folder of the mailbox below the default
/// Contacts folder, nested ones included, flat with `parentFolderId`
/// (api/contactfolder-delta.md); deleted folders as `@removed`.
pub(super) async fn folders_delta(
    Path(id): Path<String>,
    asked: Asked,
) -> Result<Response, GraphError> {
    asked.mailbox(&id, |uid, m| {
        Ok(Tracked {
            kind: Kind::Folder,
            container: Mailbox::CONTACT_FOLDERS.into(),
            present: m
                .contact_folders
                .iter()
                .filter(|f| f.well_known_name.is_none())
                .map(|f| (f.seq, f.id.clone()))
                .collect(),
            render: Box::new(move |fid| {
                m.contact_folders
                    .iter()
                    .find(|f| f.id == fid)
                    .map(folder_json)
            }),
            context: format!("Collection(contactFolder)/users('{uid}')/contactFolders"),
            odata_type: "#microsoft.graph.contactFolder",
        })
    })
}

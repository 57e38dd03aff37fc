//! The primary calendar: `events`, `calendarView` and `calendarView/delta` over a
//! `startDateTime`..`endDateTime` window (series masters are returned as themselves,
//! not expanded into occurrences).

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, Uri};
use serde_json::Value;

use super::delta::{DeltaRequest, respond};
use super::{item_not_found, page_of, with_mailbox};
use crate::graph::{GraphError, caller, entity};
use crate::server::{Origin, Shared};
use crate::state::Mailbox;
use crate::state::mailbox::Kind;

type Params = Query<HashMap<String, String>>;

fn instant(p: &HashMap<String, String>, key: &str) -> Result<i64, GraphError> {
    let raw = p.get(key).ok_or_else(|| {
        GraphError::new(
            http::StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            format!("This request requires a time window specified by the query string parameters StartDateTime and EndDateTime; '{key}' is missing."),
        )
    })?;
    let bad = || {
        GraphError::new(
            http::StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            format!("'{raw}' is not a valid ISO 8601 date and time for {key}."),
        )
    };
    let trimmed = raw.trim_end_matches('Z');
    let trimmed = trimmed.split('.').next().unwrap_or(trimmed);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(trimmed, fmt)
        .map(|t| t.assume_utc().unix_timestamp())
        .or_else(|_| {
            time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
                .map(|t| t.unix_timestamp())
        })
        .map_err(|_| bad())
}

fn in_window(m: &Mailbox, start: i64, end: i64) -> Vec<(u64, String)> {
    m.events
        .values()
        .filter(|e| e.window.is_none_or(|(s, en)| s < end && en > start))
        .map(|e| (e.seq, e.id.clone()))
        .collect()
}

pub(super) async fn view_delta(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let max_age = sim.plane.token_max_age();
    let tokened = p.contains_key("$skiptoken") || p.contains_key("$deltatoken");
    let window = if tokened && !p.contains_key("startDateTime") {
        None
    } else {
        Some((instant(&p, "startDateTime")?, instant(&p, "endDateTime")?))
    };
    with_mailbox(&sim, &c, &id, |uid, m| {
        let (start, end) = window.unwrap_or((i64::MIN, i64::MAX));
        let present = in_window(m, start, end);
        let render = |eid: &str| m.events.get(eid).map(|e| m.entry_json(e, Kind::Event));
        respond(
            m,
            Kind::Event,
            &m.calendar_id(),
            present,
            &render,
            DeltaRequest {
                origin: &origin,
                path: uri.path(),
                params: &p,
                headers: &headers,
                context: format!("Collection(event)/users('{uid}')/calendarView"),
                odata_type: "#microsoft.graph.event",
                default_size: 10,
                max_age,
                version: "/v1.0",
            },
        )
    })
}

pub(super) async fn view(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let (start, end) = (instant(&p, "startDateTime")?, instant(&p, "endDateTime")?);
    let (uid, items) = with_mailbox(&sim, &c, &id, |uid, m| {
        let items: Vec<Value> = in_window(m, start, end)
            .into_iter()
            .filter_map(|(_, eid)| m.events.get(&eid).map(|e| m.entry_json(e, Kind::Event)))
            .collect();
        Ok((uid, items))
    })?;
    page_of(
        &origin,
        &p,
        &headers,
        &uri,
        format!("users('{uid}')/calendarView"),
        items,
    )
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
    let (uid, items) = with_mailbox(&sim, &c, &id, |uid, m| {
        let items: Vec<Value> = m
            .events
            .values()
            .map(|e| m.entry_json(e, Kind::Event))
            .collect();
        Ok((uid, items))
    })?;
    page_of(
        &origin,
        &p,
        &headers,
        &uri,
        format!("users('{uid}')/events"),
        items,
    )
}

pub(super) async fn get(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, eid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let (uid, json) = with_mailbox(&sim, &c, &id, |uid, m| {
        let e = m.events.get(&eid).ok_or_else(item_not_found)?;
        Ok((uid, m.entry_json(e, Kind::Event)))
    })?;
    Ok(entity(
        &origin,
        &format!("users('{uid}')/events/$entity"),
        json,
        p.get("$select"),
    ))
}

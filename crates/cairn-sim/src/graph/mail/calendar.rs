//! The primary calendar: `events` (single instances and series masters),
//! `calendarView` and `calendarView/delta` over a `startDateTime`..`endDateTime` window
//! (single instances, occurrences and exceptions of series: masters are expanded),
//! `events/{id}/instances`, and beta's `events/delta` (masters and single instances)
//! with the master's `cancelledOccurrences` / `exceptionOccurrences`.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, Uri};
use serde_json::{Value, json};

use super::delta::{Asked, Tracked};
use super::{item_not_found, page_of, with_mailbox};
use crate::graph::{GraphError, caller, entity};
use crate::server::json_response;
use crate::server::{Origin, Shared};
use crate::state::mailbox::Kind;
use crate::state::series::is_master;

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

pub(super) async fn view_delta(
    Path(id): Path<String>,
    asked: Asked,
) -> Result<Response, GraphError> {
    let p = &asked.params;
    let tokened = p.contains_key("$skiptoken") || p.contains_key("$deltatoken");
    let (start, end) = if tokened && !p.contains_key("startDateTime") {
        (i64::MIN, i64::MAX)
    } else {
        (instant(p, "startDateTime")?, instant(p, "endDateTime")?)
    };
    asked.mailbox(&id, |uid, m| {
        let view = m.calendar_view(start, end);
        let present = view.iter().map(|(seq, id, _)| (*seq, id.clone())).collect();
        let json: HashMap<String, Value> = view.into_iter().map(|(_, id, j)| (id, j)).collect();
        Ok(Tracked {
            kind: Kind::Event,
            container: m.calendar_id(),
            present,
            render: Box::new(move |eid| json.get(eid).cloned()),
            context: format!("Collection(event)/users('{uid}')/calendarView"),
            odata_type: "#microsoft.graph.event",
        })
    })
}

/// Beta `events/delta`: single instances and series masters, not bounded by a window,
/// each with only `id`, `type`, `start` and `end` (api/event-delta.md, beta: "Client
/// to subsequently use GET /events/{id} to expand any events").
pub(super) async fn events_delta(
    Path(id): Path<String>,
    asked: Asked,
) -> Result<Response, GraphError> {
    let from = match asked.params.get("startDateTime") {
        Some(_) => instant(&asked.params, "startDateTime")?,
        None => i64::MIN,
    };
    let c = caller(&asked.sim, &asked.origin, &asked.headers)?;
    let max_age = asked.sim.plane.token_max_age();
    with_mailbox(&asked.sim, &c, &id, |uid, m| {
        let present = m
            .events
            .values()
            .filter(|e| is_master(e) || e.window.is_none_or(|(s, _)| s >= from))
            .map(|e| (e.seq.max(e.series.seq), e.id.clone()))
            .collect();
        let render = move |eid: &str| {
            let full = m.events.get(eid).map(|e| m.entry_json(e, Kind::Event))?;
            Some(json!({
                "@odata.type": "#microsoft.graph.event",
                "id": full["id"],
                "type": full["type"],
                "start": full["start"],
                "end": full["end"],
            }))
        };
        let tracked = Tracked {
            kind: Kind::Event,
            container: m.events_container(),
            present,
            render: Box::new(render),
            context: format!("Collection(event)/users('{uid}')/events"),
            odata_type: "#microsoft.graph.event",
        };
        asked.answer(m, tracked, "/beta", max_age)
    })
}

/// `events/{id}/instances`: the occurrences and exceptions of a series master in a
/// window (api/event-list-instances.md); a single instance is its own only instance.
pub(super) async fn instances(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, eid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let (start, end) = (instant(&p, "startDateTime")?, instant(&p, "endDateTime")?);
    let overlaps = |(s, en): (i64, i64)| s < end && en > start;
    let (uid, items) = with_mailbox(&sim, &c, &id, |uid, m| {
        let e = m.events.get(&eid).ok_or_else(item_not_found)?;
        let items: Vec<Value> = if is_master(e) {
            m.instances(e)
                .into_iter()
                .filter(|i| overlaps(i.window))
                .map(|i| i.json)
                .collect()
        } else {
            e.window
                .is_none_or(overlaps)
                .then(|| m.entry_json(e, Kind::Event))
                .into_iter()
                .collect()
        };
        Ok((uid, items))
    })?;
    page_of(
        &origin,
        &p,
        &headers,
        &uri,
        format!("users('{uid}')/events('{eid}')/instances"),
        items,
    )
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
        let items: Vec<Value> = m
            .calendar_view(start, end)
            .into_iter()
            .map(|(_, _, j)| j)
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
        Ok((uid, m.event_json(&eid).ok_or_else(item_not_found)?))
    })?;
    Ok(entity(
        &origin,
        &format!("users('{uid}')/events/$entity"),
        json,
        p.get("$select"),
    ))
}

/// Beta `GET /events/{id}`: the event, and for a series master the ids of its
/// cancelled occurrences (`OID.{master}.{date}`) and exceptions when `$select`ed.
pub(super) async fn get_beta(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path((id, eid)): Path<(String, String)>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let c = caller(&sim, &origin, &headers)?;
    let (uid, mut json) = with_mailbox(&sim, &c, &id, |uid, m| {
        let mut json = m.event_json(&eid).ok_or_else(item_not_found)?;
        if let Some(e) = m.events.get(&eid).filter(|e| is_master(e)) {
            let (cancelled, exceptions) = m.series_ids(e);
            json["cancelledOccurrences"] = json!(cancelled);
            json["exceptionOccurrences"] = json!(exceptions);
        }
        Ok((uid, json))
    })?;
    // The two series properties come only when asked for, as in Graph.
    let select: Option<Vec<String>> = p
        .get("$select")
        .map(|s| s.split(',').map(|f| f.trim().to_string()).collect());
    json = match &select {
        Some(fields) => {
            let mut v = crate::graph::query::select(&json, fields);
            v["id"] = json["id"].clone();
            v
        }
        None => {
            if let Some(o) = json.as_object_mut() {
                o.remove("cancelledOccurrences");
                o.remove("exceptionOccurrences");
            }
            json
        }
    };
    json["@odata.context"] = json!(format!(
        "{}/beta/$metadata#users('{uid}')/events/$entity",
        origin.base()
    ));
    Ok(json_response(http::StatusCode::OK, &json))
}

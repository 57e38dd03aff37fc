//! Graph's delta response for any tracked container: pages of items and `@removed`
//! entries, `@odata.nextLink` with a `$skiptoken` mid-round, `@odata.deltaLink` with a
//! `$deltatoken` at the end, page size from `Prefer: odata.maxpagesize` (answered with
//! `Preference-Applied`), and Exchange's errors for expired or foreign tokens.

use std::collections::HashMap;

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};

use super::{max_page_size, now, with_mailbox};
use crate::graph::{GraphError, caller, query};
use crate::server::{Origin, Shared, json_response};
use crate::state::Mailbox;
use crate::state::delta::{self, Change, Present, SyncState, TokenError};
use crate::state::mailbox::Kind;

/// What a delta request asked.
pub(super) struct DeltaRequest<'a> {
    pub origin: &'a Origin,
    pub path: &'a str,
    pub params: &'a HashMap<String, String>,
    pub headers: &'a HeaderMap,
    /// `@odata.context` fragment, e.g. `Collection(message)`.
    pub context: String,
    /// `@odata.type` of removed entries.
    pub odata_type: &'static str,
    /// Page size without a Prefer header.
    pub default_size: usize,
    /// Tokens older than this many seconds expire.
    pub max_age: Option<u64>,
    /// `/v1.0` or `/beta`.
    pub version: &'static str,
}

impl<'a> DeltaRequest<'a> {
    /// A v1.0 delta request with Graph's default page of 10.
    pub fn v1(
        origin: &'a Origin,
        uri: &'a http::Uri,
        params: &'a HashMap<String, String>,
        headers: &'a HeaderMap,
        context: String,
        odata_type: &'static str,
        max_age: Option<u64>,
    ) -> Self {
        DeltaRequest {
            origin,
            path: uri.path(),
            params,
            headers,
            context,
            odata_type,
            default_size: 10,
            max_age,
            version: "/v1.0",
        }
    }
}

/// Renders an item of a delta page from its id (None: gone meanwhile).
pub(super) type Render<'m> = Box<dyn Fn(&str) -> Option<Value> + 'm>;

/// What a delta handler tracks: the container's items now and how to render one.
pub(super) struct Tracked<'m> {
    pub kind: Kind,
    /// Folder id (or another container key) the tokens are bound to.
    pub container: String,
    pub present: Present,
    pub render: Render<'m>,
    /// `@odata.context` fragment.
    pub context: String,
    /// `@odata.type` of removed entries.
    pub odata_type: &'static str,
}

/// The request a delta handler answers (an extractor: the simulator, where the request
/// arrived, its URI, query and headers).
pub(super) struct Asked {
    pub sim: Shared,
    pub origin: Origin,
    pub uri: http::Uri,
    pub params: HashMap<String, String>,
    pub headers: HeaderMap,
}

impl axum::extract::FromRequestParts<Shared> for Asked {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &Shared,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let axum::Extension(origin) = axum::Extension::<Origin>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let axum::extract::Query(params) =
            axum::extract::Query::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        Ok(Asked {
            sim: state.clone(),
            origin,
            uri: parts.uri.clone(),
            params,
            headers: parts.headers.clone(),
        })
    }
}

impl Asked {
    /// Answers one page of what `f` tracks in the primary mailbox of user `id`
    /// (v1.0), after authentication and authorization.
    pub fn mailbox(
        &self,
        id: &str,
        f: impl for<'m> FnOnce(uuid::Uuid, &'m Mailbox) -> Result<Tracked<'m>, GraphError>,
    ) -> Result<Response, GraphError> {
        let c = caller(&self.sim, &self.origin, &self.headers)?;
        let max_age = self.sim.plane.token_max_age();
        with_mailbox(&self.sim, &c, id, |uid, m| {
            let t = f(uid, m)?;
            self.answer(m, t, "/v1.0", max_age)
        })
    }

    /// Answers one page of `t` in mailbox `m`.
    pub fn answer(
        &self,
        m: &Mailbox,
        t: Tracked<'_>,
        version: &'static str,
        max_age: Option<u64>,
    ) -> Result<Response, GraphError> {
        let req = DeltaRequest::v1(
            &self.origin,
            &self.uri,
            &self.params,
            &self.headers,
            t.context,
            t.odata_type,
            max_age,
        );
        respond(
            m,
            t.kind,
            &t.container,
            t.present,
            &*t.render,
            DeltaRequest { version, ..req },
        )
    }
}

fn token_error(e: TokenError) -> GraphError {
    match e {
        TokenError::Expired => GraphError::new(
            StatusCode::GONE,
            "syncStateNotFound",
            "The sync state could not be found: it expired or was reset. Start a new synchronization without a token.",
        ),
        TokenError::Invalid => GraphError::new(
            StatusCode::BAD_REQUEST,
            "syncStateInvalid",
            "The sync state is not valid for this folder. Start a new synchronization without a token.",
        ),
    }
}

/// Answers one delta page over `present` (the container's items now, with their JSON).
pub(super) fn respond(
    m: &Mailbox,
    kind: Kind,
    container: &str,
    present: Present,
    render: &dyn Fn(&str) -> Option<Value>,
    req: DeltaRequest<'_>,
) -> Result<Response, GraphError> {
    let now = now();
    let state = if let Some(t) = req.params.get("$skiptoken") {
        SyncState::decode(t, m, container, now, req.max_age).map_err(token_error)?
    } else if let Some(t) = req.params.get("$deltatoken") {
        let last = SyncState::decode(t, m, container, now, req.max_age).map_err(token_error)?;
        SyncState::start(m, container, last.base, now)
    } else {
        SyncState::start(m, container, None, now)
    };
    let asked = max_page_size(req.headers);
    // `$top` also bounds a delta page (Graph supports it on message deltas).
    let top = req
        .params
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .filter(|n| *n > 0);
    let size = asked.or(top).unwrap_or(req.default_size).min(1000);
    let page = delta::page(m, kind, &state, present, size, render);
    let select: Option<Vec<String>> = req
        .params
        .get("$select")
        .map(|s| s.split(',').map(|f| f.trim().to_string()).collect());
    let value: Vec<Value> = page
        .changes
        .into_iter()
        .map(|c| match c {
            Change::Item(j) => match &select {
                Some(f) => {
                    let mut v = query::select(&j, f);
                    if let (Some(map), Some(id)) = (v.as_object_mut(), j.get("id")) {
                        map.insert("id".into(), id.clone());
                    }
                    v
                }
                None => j,
            },
            Change::Removed(id) => json!({
                "@odata.type": req.odata_type,
                "id": id,
                "@removed": {"reason": "deleted"},
            }),
        })
        .collect();
    let link = |key: &str, token: String| -> Result<String, GraphError> {
        let mut url = url::Url::parse(&format!("{}{}", req.origin.base(), req.path))
            .map_err(|_| GraphError::bad_request("bad request path"))?;
        {
            let mut pairs = url.query_pairs_mut();
            let mut keys: Vec<_> = req
                .params
                .iter()
                .filter(|(k, _)| *k != "$skiptoken" && *k != "$deltatoken")
                .collect();
            keys.sort();
            for (k, v) in keys {
                pairs.append_pair(k, v);
            }
            pairs.append_pair(key, &token);
        }
        // Graph writes system query options with a literal `$`.
        Ok(url.to_string().replace("%24", "$"))
    };
    let mut body = serde_json::Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!(
            "{}{}/$metadata#{}",
            req.origin.base(),
            req.version,
            req.context
        )),
    );
    if let Some(next) = page.next {
        body.insert(
            "@odata.nextLink".into(),
            json!(link("$skiptoken", next.encode())?),
        );
    }
    if let Some(mut d) = page.delta {
        d.issued = now;
        body.insert(
            "@odata.deltaLink".into(),
            json!(link("$deltatoken", d.encode())?),
        );
    }
    body.insert("value".into(), Value::Array(value));
    let mut r = json_response(StatusCode::OK, &Value::Object(body));
    if let Some(n) = asked
        && let Ok(v) = HeaderValue::from_str(&format!("odata.maxpagesize={}", n.min(1000)))
    {
        r.headers_mut().insert("Preference-Applied", v);
    }
    Ok(r)
}

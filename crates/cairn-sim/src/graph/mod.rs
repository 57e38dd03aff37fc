//! Microsoft Graph v1.0 on each cloud's Graph host: the directory (organization, domains,
//! users, groups, applications, service principals, consents, directory roles) and the
//! mailbox endpoints whose access Exchange RBAC decides. JSON shaped as Graph returns it.

mod apps;
mod consent;
mod directory;
pub mod mail;
pub mod query;
mod roles;

use std::collections::HashMap;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::auth::{self, Caller};
use crate::entra::token::Resource;
use crate::server::{Origin, Shared, json_response};

/// Routes of the Graph hosts.
pub fn router(sim: Shared) -> Router<Shared> {
    Router::new()
        .merge(mail::router(sim))
        .route("/v1.0/organization", get(directory::organization))
        .route("/v1.0/domains", get(directory::domains))
        .route("/v1.0/me", get(directory::me))
        .route("/v1.0/me/memberOf", get(directory::my_member_of))
        .route("/v1.0/users", get(directory::users))
        .route("/v1.0/users/{id}", get(directory::user))
        .route("/v1.0/users/{id}/memberOf", get(directory::member_of))
        .route("/v1.0/groups", get(directory::groups))
        .route("/v1.0/groups/{id}", get(directory::group))
        .route("/v1.0/groups/{id}/members", get(directory::group_members))
        .route(
            "/v1.0/groups/{id}/members/{cast}",
            get(directory::group_members),
        )
        .route(
            "/v1.0/groups/{id}/transitiveMembers",
            get(directory::group_members),
        )
        .route(
            "/v1.0/groups/{id}/transitiveMembers/{cast}",
            get(directory::group_members),
        )
        .route("/v1.0/directoryRoles", get(roles::directory_roles))
        .route("/v1.0/directoryRoles/{id}", get(roles::directory_role))
        .route(
            "/v1.0/directoryRoles/{id}/members",
            get(roles::directory_role_members),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignments",
            get(roles::role_assignments).post(roles::create_role_assignment),
        )
        .route(
            "/v1.0/applications",
            get(apps::list_applications).post(apps::create_application),
        )
        .route(
            "/v1.0/applications/{id}",
            get(apps::get_application).patch(apps::patch_application),
        )
        .route(
            "/v1.0/applications/{id}/addPassword",
            post(apps::add_password),
        )
        .route("/v1.0/applications/{id}/addKey", post(apps::add_key))
        .route(
            "/v1.0/servicePrincipals",
            get(apps::list_service_principals).post(apps::create_service_principal),
        )
        .route(
            "/v1.0/servicePrincipals/{id}",
            get(apps::get_service_principal),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignedTo",
            get(consent::app_role_assignments).post(consent::grant_app_role),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignments",
            get(consent::app_role_assignments).post(consent::grant_app_role),
        )
        .fallback(unknown_segment)
}

async fn unknown_segment(uri: http::Uri) -> Response {
    let segment = uri
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Resource not found for the segment '{segment}'."),
    )
    .into_response()
}

/// A Graph error answer `{"error":{"code","message","innerError":{…}}}`.
#[derive(Debug)]
pub struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl GraphError {
    /// Any error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> GraphError {
        GraphError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 403 Authorization_RequestDenied.
    pub fn denied() -> GraphError {
        GraphError::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    /// 404 Request_ResourceNotFound.
    pub fn not_found(id: &str) -> GraphError {
        GraphError::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    /// 400 Request_BadRequest.
    pub fn bad_request(message: impl Into<String>) -> GraphError {
        GraphError::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let id = uuid::Uuid::new_v4().to_string();
        let mut r = json_response(
            self.status,
            &json!({"error": {
                "code": self.code,
                "message": self.message,
                "innerError": {"date": date, "request-id": id, "client-request-id": id},
            }}),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"\", error=\"invalid_token\""),
            );
        }
        r
    }
}

/// Authenticates a Graph request.
pub fn caller(sim: &Shared, origin: &Origin, headers: &HeaderMap) -> Result<Caller, GraphError> {
    auth::authenticate(sim, origin, headers, Resource::Graph)
        .map_err(|f| GraphError::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", f.0))
}

/// Query options of a collection request.
pub struct ListQuery<'a> {
    /// Raw query parameters.
    pub params: &'a HashMap<String, String>,
    /// Request headers (ConsistencyLevel).
    pub headers: &'a HeaderMap,
    /// Path after the host (for nextLink), e.g. `/v1.0/users`.
    pub path: &'a str,
    /// Context fragment, e.g. `users`.
    pub context: String,
    /// Default page size.
    pub page_size: usize,
}

/// Applies `$filter`, `$count`, `$select`, `$top`/`$skiptoken` and wraps the page.
pub fn collection(
    origin: &Origin,
    q: ListQuery<'_>,
    items: Vec<Value>,
) -> Result<Response, GraphError> {
    let eventual = q
        .headers
        .get("ConsistencyLevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
    let count = q.params.get("$count").is_some_and(|v| v == "true");
    let mut items = items;
    if let Some(f) = q.params.get("$filter") {
        let expr = query::parse_filter(f).ok_or_else(|| {
            GraphError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid filter clause",
            )
        })?;
        if expr.is_advanced() && !(eventual && count) {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                "Unsupported Query.",
            ));
        }
        items.retain(|i| query::eval(&expr, i));
    }
    if count && !eventual {
        return Err(GraphError::bad_request(
            "$count is not currently supported.",
        ));
    }
    let top = match q.params.get("$top") {
        Some(t) => match t.parse::<usize>() {
            Ok(n @ 1..=999) => n,
            _ => {
                return Err(GraphError::bad_request(format!(
                    "Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive."
                )));
            }
        },
        None => q.page_size,
    };
    let skip = match q.params.get("$skiptoken") {
        Some(t) => decode_skiptoken(t)
            .ok_or_else(|| GraphError::bad_request("Specified skip token is not valid."))?,
        None => 0,
    };
    let total = items.len();
    let select: Option<Vec<String>> = q
        .params
        .get("$select")
        .map(|s| s.split(',').map(|f| f.trim().to_string()).collect());
    let page: Vec<Value> = items
        .into_iter()
        .skip(skip)
        .take(top)
        .map(|i| match &select {
            Some(f) => query::select(&i, f),
            None => i,
        })
        .collect();
    let context = match &select {
        Some(f) => format!("{}({})", q.context, f.join(",")),
        None => q.context.clone(),
    };
    let mut body = serde_json::Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#{context}", origin.base())),
    );
    if count && skip == 0 {
        body.insert("@odata.count".into(), json!(total));
    }
    if skip.saturating_add(top) < total {
        let mut next = url::Url::parse(&format!("{}{}", origin.base(), q.path))
            .map_err(|_| GraphError::bad_request("bad request path"))?;
        {
            let mut pairs = next.query_pairs_mut();
            let mut keys: Vec<_> = q
                .params
                .iter()
                .filter(|(k, _)| *k != "$skiptoken")
                .collect();
            keys.sort();
            for (k, v) in keys {
                pairs.append_pair(k, v);
            }
            pairs.append_pair("$skiptoken", &encode_skiptoken(skip + top));
        }
        body.insert("@odata.nextLink".into(), json!(next.to_string()));
    }
    body.insert("value".into(), Value::Array(page));
    Ok(json_response(StatusCode::OK, &Value::Object(body)))
}

fn encode_skiptoken(offset: usize) -> String {
    // Opaque to clients, like Graph's; carries the offset.
    format!(
        "RFNwdAIAAQAAA{}",
        crate::jwt::b64url(format!("offset:{offset}").as_bytes())
    )
}

fn decode_skiptoken(t: &str) -> Option<usize> {
    use base64::Engine;
    let rest = t.strip_prefix("RFNwdAIAAQAAA")?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(rest)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

/// A single entity with its `@odata.context`.
pub fn entity(
    origin: &Origin,
    context: &str,
    mut value: Value,
    select: Option<&String>,
) -> Response {
    if let Some(s) = select {
        let fields: Vec<String> = s.split(',').map(|f| f.trim().to_string()).collect();
        value = query::select(&value, &fields);
    }
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "@odata.context".into(),
            json!(format!("{}/v1.0/$metadata#{context}", origin.base())),
        );
    }
    json_response(StatusCode::OK, &value)
}

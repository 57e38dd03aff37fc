//! Exchange Online's admin API (`POST /adminapi/beta/{tenant}/InvokeCommand`, what the
//! EXO V3 PowerShell module speaks): the cmdlets of RBAC for Applications, management
//! scopes and mailboxes, with Exchange's authorization (Organization Management for
//! changes; app-only callers need Exchange.ManageAsApp and an Exchange role).

mod cmdlets;
pub mod opath;

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::auth::{self, Caller, Principal};
use crate::entra::token::Resource;
use crate::server::{Origin, Shared, json_response};
use crate::state::TenantState;

/// Routes of the Exchange hosts.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/adminapi/beta/{tenant}/InvokeCommand", post(invoke))
        .route("/adminapi/v1.0/{tenant}/InvokeCommand", post(invoke))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "cairn-sim: no such Exchange endpoint",
            )
        })
}

/// A cmdlet failure, reported the way the admin API does: an OData error whose message
/// is `|ExceptionType|text`.
#[derive(Debug)]
pub struct CmdletError {
    status: StatusCode,
    exception: &'static str,
    message: String,
}

impl CmdletError {
    /// Any failure (400).
    pub fn new(exception: &'static str, message: impl Into<String>) -> CmdletError {
        CmdletError {
            status: StatusCode::BAD_REQUEST,
            exception,
            message: message.into(),
        }
    }

    /// Object not found.
    pub fn not_found(identity: &str) -> CmdletError {
        CmdletError::new(
            "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            format!(
                "The operation couldn't be performed because object '{identity}' couldn't be found on 'SIM01PR00A001.PROD.OUTLOOK.COM'."
            ),
        )
    }

    /// Caller not allowed (403).
    pub fn access_denied(message: impl Into<String>) -> CmdletError {
        CmdletError {
            status: StatusCode::FORBIDDEN,
            exception: "Microsoft.Exchange.Management.Tasks.CmdletAccessDeniedException",
            message: message.into(),
        }
    }

    fn unauthorized(message: &str) -> CmdletError {
        CmdletError {
            status: StatusCode::UNAUTHORIZED,
            exception: "Microsoft.Exchange.Security.Authorization.UnauthorizedAccessException",
            message: message.into(),
        }
    }
}

impl IntoResponse for CmdletError {
    fn into_response(self) -> Response {
        let text = format!("|{}|{}", self.exception, self.message);
        let code = match self.status {
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::FORBIDDEN => "Forbidden",
            _ => "BadRequest",
        };
        let mut r = json_response(
            self.status,
            &json!({"error": {
                "code": code,
                "message": text,
                "details": [{"code": "Context", "target": "", "message": format!("Ex{}{text}", &hex::encode_upper(crate::pki::sha1(self.exception.as_bytes()))[..6])}],
                "innererror": {
                    "message": self.message,
                    "type": self.exception,
                    "stacktrace": "",
                },
                "adminapi.warnings@odata.type": "#Collection(String)",
                "adminapi.warnings": [],
            }}),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        r
    }
}

/// Whether the caller may run administrative (changing) cmdlets, or only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rights {
    /// Organization Management (or Exchange Administrator / Global Administrator).
    Manage,
    /// View-only (Global Reader).
    View,
    /// Nothing.
    None,
}

/// The Exchange rights of a caller.
pub fn rights(t: &TenantState, c: &Caller) -> Rights {
    match &c.principal {
        Principal::User { user_id, .. } => match t.user_by_id(*user_id) {
            Some(u)
                if u.is_organization_management()
                    || u.has_any_role(&["Global Administrator", "Exchange Administrator"]) =>
            {
                Rights::Manage
            }
            Some(u) if u.has_role("Global Reader") => Rights::View,
            _ => Rights::None,
        },
        // Simplification: an app holding Exchange.ManageAsApp (checked before) may run the
        // read cmdlets; changes need an administrator role on its service principal.
        Principal::App { app_id, .. } => match t.sp_by_app_id(app_id) {
            Some(sp)
                if sp.has_role("Exchange Administrator") || sp.has_role("Global Administrator") =>
            {
                Rights::Manage
            }
            Some(_) => Rights::View,
            None => Rights::None,
        },
    }
}

/// Who the caller is, for messages.
pub fn caller_name(c: &Caller) -> String {
    match &c.principal {
        Principal::User { upn, .. } => upn.clone(),
        Principal::App { app_id, .. } => app_id.clone(),
    }
}

async fn invoke(
    State(sim): State<Shared>,
    Extension(origin): Extension<Origin>,
    Path(tenant_key): Path<String>,
    headers: HeaderMap,
    uri: http::Uri,
    body: axum::body::Bytes,
) -> Result<Response, CmdletError> {
    let c = auth::authenticate(&sim, &origin, &headers, Resource::Exchange)
        .map_err(|f| CmdletError::unauthorized(f.0))?;
    {
        let state = sim.read();
        let t = state
            .tenant_by_id(c.tenant)
            .ok_or_else(|| CmdletError::unauthorized("Unknown organization."))?;
        if !t.matches(&tenant_key) {
            return Err(CmdletError::unauthorized(
                "The token's tenant does not match the organization in the request URL.",
            ));
        }
        if let Principal::App { roles, .. } = &c.principal
            && !roles.iter().any(|r| r == "Exchange.ManageAsApp")
        {
            return Err(CmdletError::unauthorized(
                "The application does not hold the Exchange.ManageAsApp permission; grant it (admin consent on Office 365 Exchange Online) to use the admin API app-only.",
            ));
        }
    }
    let request: Value = serde_json::from_slice(&body).map_err(|e| {
        CmdletError::new(
            "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    let input = request.get("CmdletInput").cloned().unwrap_or(Value::Null);
    let name = input
        .get("CmdletName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let params = input
        .get("Parameters")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let rows = {
        let mut state = sim.write();
        let t = state
            .tenant_mut(c.tenant)
            .ok_or_else(|| CmdletError::unauthorized("Unknown organization."))?;
        cmdlets::run(t, &c, &name, &params)?
    };
    // Pages as the admin API does: `Prefer: odata.maxpagesize=N` (default 1000), and an
    // `@odata.nextLink` the client POSTs the same body to.
    let page_size = headers
        .get_all("Prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1000);
    let skip = uri
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "$skiptoken")
                .map(|(_, v)| v.into_owned())
        })
        .map(|v| {
            v.parse::<usize>().map_err(|_| {
                CmdletError::new(
                    "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                    "The skip token is not valid; follow @odata.nextLink as given.",
                )
            })
        })
        .transpose()?
        .unwrap_or(0);
    let total = rows.len();
    let page: Vec<Value> = rows.into_iter().skip(skip).take(page_size).collect();
    let mut body = json!({
        "@odata.context": format!("{}/adminapi/beta/{tenant_key}/$metadata#Collection(Exchange.GenericHashTable)", origin.base()),
        "adminapi.warnings@odata.type": "#Collection(String)",
        "adminapi.warnings": [],
        "value": page,
    });
    let next = skip.saturating_add(page_size);
    if next < total {
        body["@odata.nextLink"] =
            json!(format!("{}{}?$skiptoken={next}", origin.base(), uri.path()));
    }
    Ok(json_response(StatusCode::OK, &body))
}

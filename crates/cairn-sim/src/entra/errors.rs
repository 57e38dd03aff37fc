//! Entra ID's OAuth error answers: `error`, `error_description` starting "AADSTSnnnnn: ",
//! `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`, with the HTTP
//! status Microsoft uses for each.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::server::json_response;

/// One AADSTS error.
#[derive(Debug, Clone)]
pub struct AadError {
    /// HTTP status.
    pub status: StatusCode,
    /// OAuth `error`.
    pub error: &'static str,
    /// AADSTS number.
    pub code: u32,
    /// Message after "AADSTSnnnnn: ".
    pub message: String,
    /// `suberror`, when Entra sends one.
    pub suberror: Option<&'static str>,
    /// Correlation id (the client's `client-request-id` when sent).
    pub correlation_id: Option<String>,
    /// `https://host` for `error_uri`.
    pub base: String,
}

impl AadError {
    fn new(status: StatusCode, error: &'static str, code: u32, message: String) -> AadError {
        AadError {
            status,
            error,
            code,
            message,
            suberror: None,
            correlation_id: None,
            base: "https://login.microsoftonline.com".into(),
        }
    }

    /// 400 invalid_request.
    pub fn invalid_request(code: u32, message: impl Into<String>) -> AadError {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            code,
            message.into(),
        )
    }

    /// 400 invalid_grant.
    pub fn invalid_grant(code: u32, message: impl Into<String>) -> AadError {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            code,
            message.into(),
        )
    }

    /// 401 invalid_client.
    pub fn invalid_client(code: u32, message: impl Into<String>) -> AadError {
        AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            code,
            message.into(),
        )
    }

    /// 400 unauthorized_client.
    pub fn unauthorized_client(code: u32, message: impl Into<String>) -> AadError {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            code,
            message.into(),
        )
    }

    /// 400 invalid_scope.
    pub fn invalid_scope(code: u32, message: impl Into<String>) -> AadError {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            code,
            message.into(),
        )
    }

    /// 400 invalid_resource.
    pub fn invalid_resource(code: u32, message: impl Into<String>) -> AadError {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            code,
            message.into(),
        )
    }

    /// 400 unsupported_grant_type.
    pub fn unsupported_grant_type(grant: &str) -> AadError {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }

    /// Adds a suberror.
    pub fn with_suberror(mut self, s: &'static str) -> AadError {
        self.suberror = Some(s);
        self
    }

    /// Records where the request came from.
    pub fn at(mut self, base: &str, correlation_id: Option<String>) -> AadError {
        self.base = base.to_string();
        self.correlation_id = correlation_id;
        self
    }

    /// A required form parameter is missing (AADSTS900144).
    pub fn missing(param: &str) -> AadError {
        AadError::invalid_request(
            900144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    /// Tenant does not exist (AADSTS90002).
    pub fn tenant_not_found(tenant: &str) -> AadError {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    /// Tenant lives in another cloud (AADSTS90038).
    pub fn national_cloud(tenant: &str, tenant_cloud: &str, this_cloud: &str) -> AadError {
        AadError::invalid_request(
            90038,
            format!(
                "NationalCloudTenantRedirection - The specified tenant '{tenant}' belongs to the National Cloud '{tenant_cloud}'. Current cloud instance '{this_cloud}' does not federate with '{tenant_cloud}'. Please sign in at that cloud's authority."
            ),
        )
    }
}

impl IntoResponse for AadError {
    fn into_response(self) -> Response {
        let trace = Uuid::new_v4();
        let correlation = self
            .correlation_id
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        let timestamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]Z"
            ))
            .unwrap_or_default();
        let description = format!(
            "AADSTS{}: {} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}",
            self.code, self.message
        );
        let mut body = json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace.to_string(),
            "correlation_id": correlation,
            "error_uri": format!("{}/error?code={}", self.base, self.code),
        });
        if let Some(s) = self.suberror {
            body["suberror"] = json!(s);
        }
        json_response(self.status, &body)
    }
}

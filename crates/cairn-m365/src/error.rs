//! Errors of the Microsoft 365 client.
//!
//! Policy: every failure says which call or object it concerns; Microsoft's error bodies
//! are parsed into typed values (Entra's AADSTS codes, Graph's and Exchange's `code`) so
//! that callers branch on codes, never on message text; each error knows whether it is
//! temporary (worth retrying later: throttling, 5xx, transport) or permanent.

use std::time::Duration;

use serde::Deserialize;

use crate::cert::CertificateError;
use crate::network::NetworkError;

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to Microsoft 365.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The network could not be set up.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The request did not get an HTTP answer (DNS, TLS, connection, timeout).
    #[error("cannot reach {url}: {source}")]
    Transport {
        /// What was called.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// Entra ID refused to issue a token.
    #[error("sign-in to tenant {tenant} failed: {error}")]
    SignIn {
        /// The tenant (GUID or domain) asked.
        tenant: String,
        /// Entra's answer.
        error: Box<EntraError>,
    },
    /// Microsoft Graph or the Exchange admin API answered with an error.
    #[error("{method} {url} failed: {error}")]
    Service {
        /// HTTP method.
        method: String,
        /// What was called.
        url: String,
        /// The service's answer.
        error: Box<ServiceError>,
    },
    /// An answer could not be understood.
    #[error("unexpected answer from {url}: {what}")]
    Decode {
        /// What was called.
        url: String,
        /// What was wrong.
        what: String,
    },
    /// A certificate or key is unusable.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
}

impl Error {
    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Service { error, .. } => error.is_temporary(),
            Error::SignIn { error, .. } => error.status >= 500,
            _ => false,
        }
    }

    /// The Entra error, when sign-in failed.
    pub fn sign_in(&self) -> Option<&EntraError> {
        match self {
            Error::SignIn { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The service error, when Graph or Exchange answered with one.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            Error::Service { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Entra ID's error answer from the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraError {
    /// HTTP status.
    pub status: u16,
    /// OAuth `error` (`invalid_grant`, `invalid_client`, …).
    pub error: String,
    /// AADSTS codes (`error_codes`), the first one decides.
    pub codes: Vec<u32>,
    /// `error_description`, for humans only.
    pub description: String,
    /// `correlation_id`, to quote to Microsoft support.
    pub correlation_id: Option<String>,
}

#[derive(Deserialize)]
struct EntraBody {
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
    #[serde(default)]
    correlation_id: Option<String>,
}

impl EntraError {
    /// Parses a token endpoint error body; `None` if it is not Entra's JSON.
    pub fn parse(status: u16, body: &[u8]) -> Option<Self> {
        let parsed: EntraBody = serde_json::from_slice(body).ok()?;
        let mut codes = parsed.error_codes;
        if codes.is_empty() {
            // Some answers carry the code only in the description ("AADSTS50126: …").
            if let Some(code) = aadsts_in(&parsed.error_description) {
                codes.push(code);
            }
        }
        Some(Self {
            status,
            error: parsed.error,
            codes,
            description: parsed.error_description,
            correlation_id: parsed.correlation_id,
        })
    }

    /// The deciding AADSTS code.
    pub fn code(&self) -> Option<u32> {
        self.codes.first().copied()
    }

    /// What the code means for the user.
    pub fn kind(&self) -> SignInFailure {
        SignInFailure::from_code(self.code())
    }
}

impl std::fmt::Display for EntraError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first_line = self.description.lines().next().unwrap_or_default();
        match self.code() {
            Some(code) => write!(f, "{} (AADSTS{code}): {first_line}", self.error),
            None => write!(f, "{}: {first_line}", self.error),
        }
    }
}

fn aadsts_in(text: &str) -> Option<u32> {
    let start = text.find("AADSTS")? + "AADSTS".len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Why Entra refused a sign-in, from its AADSTS code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInFailure {
    /// 50126: wrong user name or password.
    WrongPassword,
    /// 50034: no such user.
    UserNotFound,
    /// 50053: account locked.
    Locked,
    /// 50057: account disabled.
    Disabled,
    /// 50055: password expired.
    PasswordExpired,
    /// 50076 / 50079: multi-factor authentication required (or its registration).
    MfaRequired,
    /// 90002: the tenant does not exist (in this cloud).
    TenantNotFound,
    /// 90038: the tenant lives in another national cloud.
    OtherCloud,
    /// 7000215 / 7000222: invalid or expired client secret.
    BadClientSecret,
    /// 700027: the certificate assertion's signature is not valid for the application.
    BadCertificate,
    /// 700016: no such application in the tenant.
    AppNotFound,
    /// 65001: consent missing.
    ConsentMissing,
    /// Another code, or none.
    Other(Option<u32>),
}

impl SignInFailure {
    /// Maps an AADSTS code.
    pub fn from_code(code: Option<u32>) -> Self {
        match code {
            Some(50126) => Self::WrongPassword,
            Some(50034) => Self::UserNotFound,
            Some(50053) => Self::Locked,
            Some(50057) => Self::Disabled,
            Some(50055) => Self::PasswordExpired,
            Some(50076 | 50079) => Self::MfaRequired,
            Some(90002) => Self::TenantNotFound,
            Some(90038) => Self::OtherCloud,
            Some(7000215 | 7000222) => Self::BadClientSecret,
            Some(700027) => Self::BadCertificate,
            Some(700016) => Self::AppNotFound,
            Some(65001) => Self::ConsentMissing,
            other => Self::Other(other),
        }
    }
}

/// Which service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Microsoft Graph.
    Graph,
    /// The Exchange Online admin API (Exchange Online PowerShell).
    Exchange,
}

/// An error answer of Graph or the Exchange admin API:
/// `{"error":{"code","message","innerError":{"request-id",…}}}`.
#[derive(Debug, Clone)]
pub struct ServiceError {
    /// Who answered.
    pub service: Service,
    /// HTTP status.
    pub status: u16,
    /// `error.code` (`ErrorAccessDenied`, `Authorization_RequestDenied`, …); empty if absent.
    pub code: String,
    /// `error.message`, for humans.
    pub message: String,
    /// `request-id`, to quote to Microsoft support.
    pub request_id: Option<String>,
    /// `Retry-After`, when the service asked to wait.
    pub retry_after: Option<Duration>,
    /// The whole body, as sent (JSON or not).
    pub raw: String,
}

#[derive(Deserialize)]
struct ServiceBody {
    error: ServiceBodyError,
}

#[derive(Deserialize)]
struct ServiceBodyError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "innerError", alias = "innererror")]
    inner: Option<serde_json::Value>,
}

impl ServiceError {
    /// Parses an error answer; bodies that are not the usual JSON keep their text as
    /// the message.
    pub fn parse(
        service: Service,
        status: u16,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> Self {
        let raw = String::from_utf8_lossy(body).into_owned();
        match serde_json::from_slice::<ServiceBody>(body) {
            Ok(parsed) => {
                let request_id = parsed.error.inner.as_ref().and_then(|inner| {
                    inner
                        .get("request-id")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                });
                Self {
                    service,
                    status,
                    code: parsed.error.code,
                    message: parsed.error.message,
                    request_id,
                    retry_after,
                    raw,
                }
            }
            Err(_) => Self {
                service,
                status,
                code: String::new(),
                message: raw.chars().take(500).collect(),
                request_id: None,
                retry_after,
                raw,
            },
        }
    }

    /// Throttling and server-side trouble are temporary.
    pub fn is_temporary(&self) -> bool {
        matches!(self.status, 429 | 500 | 502 | 503 | 504)
    }

    /// The caller lacks a right (401/403 or an access-denied code).
    pub fn is_access_denied(&self) -> bool {
        self.status == 401
            || self.status == 403
            || matches!(
                self.code.as_str(),
                "Authorization_RequestDenied" | "ErrorAccessDenied" | "AccessDenied"
            )
    }

    /// The object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status == 404
            || matches!(
                self.code.as_str(),
                "Request_ResourceNotFound" | "ErrorItemNotFound" | "ManagementObjectNotFound"
            )
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = if self.code.is_empty() {
            "no code"
        } else {
            &self.code
        };
        write!(f, "HTTP {} {code}: {}", self.status, self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request-id {id})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_error_parses_codes_not_text() {
        let body = br#"{"error":"invalid_grant","error_description":"AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication.\r\nTrace ID: x","error_codes":[50076],"timestamp":"2026-01-01 00:00:00Z","trace_id":"t","correlation_id":"c-1","error_uri":"https://login.microsoftonline.com/error?code=50076"}"#;
        let err = EntraError::parse(400, body).expect("entra json");
        assert_eq!(err.code(), Some(50076));
        assert_eq!(err.kind(), SignInFailure::MfaRequired);
        assert_eq!(err.error, "invalid_grant");
        assert_eq!(err.correlation_id.as_deref(), Some("c-1"));
        assert!(err.to_string().contains("AADSTS50076"));
    }

    #[test]
    fn entra_code_from_description_when_codes_missing() {
        let body = br#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."}"#;
        let err = EntraError::parse(400, body).expect("entra json");
        assert_eq!(err.kind(), SignInFailure::TenantNotFound);
    }

    #[test]
    fn each_documented_code_maps() {
        for (code, kind) in [
            (50126, SignInFailure::WrongPassword),
            (50053, SignInFailure::Locked),
            (50057, SignInFailure::Disabled),
            (50079, SignInFailure::MfaRequired),
            (90038, SignInFailure::OtherCloud),
            (700027, SignInFailure::BadCertificate),
            (7000222, SignInFailure::BadClientSecret),
        ] {
            assert_eq!(SignInFailure::from_code(Some(code)), kind);
        }
        assert_eq!(
            SignInFailure::from_code(Some(1)),
            SignInFailure::Other(Some(1))
        );
    }

    #[test]
    fn not_entra_json_is_none() {
        assert!(EntraError::parse(500, b"<html>").is_none());
    }

    #[test]
    fn graph_error_parses() {
        let body = br#"{"error":{"code":"TooManyRequests","message":"Please retry.","innerError":{"code":"429","date":"2026-01-01T00:00:00","request-id":"r-9","client-request-id":"r-9"}}}"#;
        let err = ServiceError::parse(Service::Graph, 429, Some(Duration::from_secs(3)), body);
        assert_eq!(err.code, "TooManyRequests");
        assert_eq!(err.request_id.as_deref(), Some("r-9"));
        assert!(err.is_temporary());
        assert!(!err.is_access_denied());
        let denied = ServiceError::parse(
            Service::Graph,
            403,
            None,
            br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#,
        );
        assert!(denied.is_access_denied() && !denied.is_temporary());
    }

    #[test]
    fn non_json_error_keeps_text() {
        let err = ServiceError::parse(Service::Exchange, 502, None, b"Bad Gateway");
        assert_eq!(err.message, "Bad Gateway");
        assert!(err.code.is_empty() && err.is_temporary());
    }
}

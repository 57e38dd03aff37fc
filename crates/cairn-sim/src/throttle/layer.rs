//! The middleware in front of the mailbox endpoints: finds (app, mailbox) of a request,
//! asks [`super::Throttle`] and answers 429/5xx the way Graph does, or serves the request
//! and adds the configured latency.

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde_json::json;

use super::{Fault, Verdict};
use crate::auth::{self, Principal};
use crate::entra::token::Resource;
use crate::server::{Origin, Shared, json_response};

/// The mailbox a request path addresses, as written (user id/UPN or mailbox id).
fn mailbox_segment(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/v1.0/users/")
        .or_else(|| path.strip_prefix("/beta/users/"))
        .or_else(|| path.strip_prefix("/beta/admin/exchange/mailboxes/"))?;
    let (id, tail) = rest.split_once('/')?;
    (!tail.is_empty()).then_some(id)
}

/// The canonical key of a mailbox: the owner's user id (so a UPN and an id count as one).
fn mailbox_key(sim: &Shared, tenant: uuid::Uuid, raw: &str) -> String {
    let raw = percent_decode(raw);
    let state = sim.read();
    let Some(t) = state.tenant_by_id(tenant) else {
        return raw.to_ascii_lowercase();
    };
    if let Some(u) = t.user(&raw) {
        return u.id.to_string();
    }
    if let Some(uid) = crate::graph::mail::mailbox_owner(t, &raw) {
        return uid.to_string();
    }
    raw.to_ascii_lowercase()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

fn throttled(code: &str, message: &str, retry_after: Option<u64>, status: StatusCode) -> Response {
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let id = uuid::Uuid::new_v4().to_string();
    let mut r = json_response(
        status,
        &json!({"error": {
            "code": code,
            "message": message,
            "innerError": {"code": status.as_u16().to_string(), "date": date, "request-id": id, "client-request-id": id},
        }}),
    );
    if let Some(s) = retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    r
}

fn fault_response(f: Fault, retry_after: u64) -> Response {
    match f {
        Fault::Internal => throttled(
            "InternalServerError",
            "An internal server error occurred. The operation failed.",
            None,
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        Fault::Unavailable => throttled(
            "ServiceUnavailable",
            "The service is temporarily unavailable. Try again later.",
            Some(retry_after),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        Fault::GatewayTimeout => throttled(
            "GatewayTimeout",
            "The server, while acting as a proxy, did not receive a timely response.",
            None,
            StatusCode::GATEWAY_TIMEOUT,
        ),
        Fault::Reset => {
            // Headers, a few bytes, then an error: the connection is dropped mid-answer.
            let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
                Ok(bytes::Bytes::from_static(b"{\"value\":[")),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "cairn-sim injected connection reset",
                )),
            ];
            let mut r = Response::new(Body::from_stream(futures::stream::iter(chunks)));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
    }
}

/// A request slot of a mailbox, given back on drop.
struct Slot<'a> {
    throttle: &'a super::Throttle,
    app: &'a str,
    mailbox: &'a str,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.throttle.release(self.app, self.mailbox);
    }
}

/// Throttles mailbox requests (axum middleware on the mail routes).
pub async fn throttle_layer(State(sim): State<Shared>, req: Request, next: Next) -> Response {
    let Some(raw) = mailbox_segment(req.uri().path()).map(String::from) else {
        return next.run(req).await;
    };
    let origin = req.extensions().get::<Origin>().cloned();
    let caller =
        origin.and_then(|o| auth::authenticate(&sim, &o, req.headers(), Resource::Graph).ok());
    // Unauthenticated requests are not counted: the handler answers 401.
    let Some(caller) = caller else {
        return next.run(req).await;
    };
    let app = match &caller.principal {
        Principal::App { app_id, .. } => app_id.clone(),
        Principal::User { user_id, .. } => format!("user:{user_id}"),
    };
    let mailbox = mailbox_key(&sim, caller.tenant, &raw);
    let throttle = &sim.plane.throttle;
    let response = match throttle.admit(&app, &mailbox) {
        Verdict::Concurrency => throttled(
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
            None,
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Verdict::Budget(secs) => throttled(
            "TooManyRequests",
            "The request has been throttled: the application is over its request limit for this mailbox.",
            Some(secs),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Verdict::Fault(f) => fault_response(f, throttle.config().fault_retry_after_secs),
        Verdict::Serve => {
            // Released when this future ends, even if the client went away mid-request.
            let _slot = Slot {
                throttle,
                app: &app,
                mailbox: &mailbox,
            };
            let response = next.run(req).await;
            let size = response.body().size_hint().exact().unwrap_or(0) as usize;
            let delay = throttle.latency(size);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            return response;
        }
    };
    let delay = throttle.latency(0);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response.into_response()
}

#[cfg(test)]
mod tests {
    use super::mailbox_segment;

    #[test]
    fn mailbox_paths() {
        assert_eq!(
            mailbox_segment("/v1.0/users/alice@contoso.com/mailFolders"),
            Some("alice@contoso.com")
        );
        assert_eq!(
            mailbox_segment("/beta/admin/exchange/mailboxes/MBX:x@y/folders"),
            Some("MBX:x@y")
        );
        assert_eq!(mailbox_segment("/v1.0/users/alice@contoso.com"), None);
        assert_eq!(mailbox_segment("/v1.0/users"), None);
    }
}

//! One place where requests to Graph and the Exchange admin API are sent: error bodies
//! become [`ServiceError`]s and throttling (429/503 with `Retry-After`) is retried,
//! waiting exactly as long as the service asked, else with exponential backoff.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::{Method, RequestBuilder, Response};

use crate::error::{Error, Result, Service, ServiceError};

/// How many times a temporary failure is retried.
pub const MAX_RETRIES: usize = 6;

/// Sends the request `build()` makes, retrying temporary failures; returns the
/// successful (2xx/3xx) response.
pub(crate) async fn send<F>(
    service: Service,
    method: &Method,
    url: &str,
    build: F,
) -> Result<Response>
where
    F: Fn() -> RequestBuilder,
{
    let attempt = || async {
        let response = build().send().await.map_err(|source| Error::Transport {
            url: url.to_owned(),
            source,
        })?;
        let status = response.status();
        if status.is_success() || status.is_redirection() {
            return Ok(response);
        }
        let retry_after = retry_after(&response);
        let body = response.bytes().await.unwrap_or_default();
        Err(Error::Service {
            method: method.to_string(),
            url: url.to_owned(),
            error: Box::new(ServiceError::parse(
                service,
                status.as_u16(),
                retry_after,
                &body,
            )),
        })
    };
    attempt
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(60))
                .with_max_times(MAX_RETRIES)
                .with_jitter(),
        )
        .when(Error::is_temporary)
        .adjust(wait_before_retry)
        .notify(|err: &Error, wait| {
            tracing::debug!(%err, ?wait, "temporary failure, retrying");
        })
        .await
}

/// How long to wait before the next attempt: the service's own `Retry-After`, exactly,
/// else our exponential backoff (`None` once the retries are used up).
fn wait_before_retry(err: &Error, backoff: Option<Duration>) -> Option<Duration> {
    match (err.service().and_then(|e| e.retry_after), backoff) {
        (Some(wait), Some(_)) => Some(wait),
        (_, backoff) => backoff,
    }
}

/// `Retry-After` in seconds (the form Graph and Exchange use).
pub(crate) fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let seconds: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// Reads a JSON body.
pub(crate) async fn json<T: serde::de::DeserializeOwned>(
    url: &str,
    response: Response,
) -> Result<T> {
    let body = response.bytes().await.map_err(|source| Error::Transport {
        url: url.to_owned(),
        source,
    })?;
    serde_json::from_slice(&body).map_err(|e| Error::Decode {
        url: url.to_owned(),
        what: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn throttled(retry_after: Option<u64>) -> Error {
        Error::Service {
            method: "GET".into(),
            url: "u".into(),
            error: Box::new(ServiceError::parse(
                Service::Graph,
                429,
                retry_after.map(Duration::from_secs),
                b"{}",
            )),
        }
    }

    #[test]
    fn retry_after_wins_over_backoff_until_retries_run_out() {
        let backoff = Some(Duration::from_millis(700));
        assert_eq!(
            wait_before_retry(&throttled(Some(7)), backoff),
            Some(Duration::from_secs(7))
        );
        assert_eq!(wait_before_retry(&throttled(None), backoff), backoff);
        assert_eq!(wait_before_retry(&throttled(Some(7)), None), None);
    }

    /// A loopback server answering 429 + Retry-After, then 200: the call succeeds after
    /// exactly one retry; a 403 is not retried.
    #[tokio::test]
    async fn throttled_request_is_retried_and_permanent_error_is_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let request = String::from_utf8_lossy(&buf).into_owned();
                let reply = if request.starts_with("GET /denied") {
                    let body =
                        r#"{"error":{"code":"ErrorAccessDenied","message":"Access denied"}}"#;
                    format!(
                        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else if n == 0 {
                    let body = r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#;
                    format!(
                        "HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"value\":1}".to_owned()
                };
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/ok");
        let response = send(Service::Graph, &Method::GET, &url, || client.get(&url))
            .await
            .unwrap();
        let body: serde_json::Value = json(&url, response).await.unwrap();
        assert_eq!(body["value"], 1);
        assert_eq!(hits.load(Ordering::SeqCst), 2);

        let url = format!("http://{addr}/denied");
        let err = send(Service::Graph, &Method::GET, &url, || client.get(&url))
            .await
            .unwrap_err();
        assert_eq!(
            hits.load(Ordering::SeqCst),
            3,
            "a permanent error is not retried"
        );
        let service = err.service().unwrap();
        assert_eq!(service.code, "ErrorAccessDenied");
        assert!(service.is_access_denied() && !err.is_temporary());
    }
}

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
        .adjust(|err: &Error, backoff| {
            // The service's own Retry-After wins over our backoff, exactly.
            match err.service().and_then(|e| e.retry_after) {
                Some(wait) => Some(wait),
                None => backoff,
            }
        })
        .notify(|err: &Error, wait| {
            tracing::debug!(%err, ?wait, "temporary failure, retrying");
        })
        .await
}

/// `Retry-After` in seconds (the form Graph and Exchange use).
fn retry_after(response: &Response) -> Option<Duration> {
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

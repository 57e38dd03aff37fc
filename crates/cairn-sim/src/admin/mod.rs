//! The simulator's own mutation API (not Microsoft's): change mailboxes while the
//! simulator runs (add, edit, move, delete messages and folders, events and contacts,
//! import mail, expire delta tokens), tune throttling, read counters. Served under
//! `/_sim/` on `localhost` / `127.0.0.1` only, with a bearer token kept in the state
//! directory (`admin-token`).

use std::path::Path;

use crate::error::SimError;

/// File of the mutation API's bearer token in the state directory.
pub const TOKEN_FILE: &str = "admin-token";

/// Reads `<dir>/admin-token`, creating a random one the first time.
pub fn load_or_create_token(dir: &Path) -> Result<String, SimError> {
    let path = dir.join(TOKEN_FILE);
    if let Ok(t) = std::fs::read_to_string(&path)
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    }
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    let token = hex::encode(bytes);
    std::fs::write(&path, format!("{token}\n")).map_err(|source| SimError::StateFile {
        path: path.clone(),
        source,
    })?;
    Ok(token)
}

mod handle;
pub mod mutation;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use serde_json::json;

pub use handle::{StoredItem, target};
pub use mutation::{AdminError, Mutation, Target};

use crate::server::{Shared, json_response};

/// Routes of the mutation API: `POST /_sim/mutate` with a [`Mutation`] as JSON.
pub fn router() -> Router<Shared> {
    Router::new().route("/_sim/mutate", post(mutate))
}

async fn mutate(
    State(sim): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let presented = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !constant_time_eq(presented.as_bytes(), sim.plane.admin_token.as_bytes()) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "send the token of <state dir>/admin-token as 'Authorization: Bearer …'"}),
        );
    }
    let m: Mutation = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("not a mutation: {e} (see docs/simulator.md, 'Mutation API')")}),
            );
        }
    };
    // Import reads files and a big mailbox edit takes the write lock: off the reactor.
    let s = sim.clone();
    match tokio::task::spawn_blocking(move || mutation::apply(&s, m)).await {
        Ok(Ok(v)) => json_response(StatusCode::OK, &v),
        Ok(Err(e)) => {
            let status = match e {
                AdminError::NoTenant(_) | AdminError::NoMailbox(_) | AdminError::NoArchive(_) => {
                    StatusCode::NOT_FOUND
                }
                _ => StatusCode::BAD_REQUEST,
            };
            json_response(status, &json!({"error": e.to_string()}))
        }
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": "the mutation failed inside the simulator (a bug); see its log"}),
        ),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

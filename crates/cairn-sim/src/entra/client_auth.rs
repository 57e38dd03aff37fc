//! Client authentication at the token endpoint: client secrets (form or HTTP Basic) and
//! certificate assertions (RS256 with `x5t`, PS256 with `x5t#S256`) checked against the
//! application's registered key credentials.

use base64::Engine;
use http::HeaderMap;

use super::errors::AadError;
use super::token::Form;
use crate::cloud::Site;
use crate::jwt::{self, Jwt};
use crate::server::Origin;
use crate::state::TenantState;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub(super) fn basic_auth(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let Some(v) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return (None, None);
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(v.trim()) else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(&decoded).into_owned();
    match text.split_once(':') {
        Some((id, secret)) => {
            let dec = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (Some(dec(id)), Some(dec(secret)))
        }
        None => (None, None),
    }
}

/// Authenticates a confidential client; returns `appidacr` (1 secret, 2 certificate).
pub(super) fn authenticate_client(
    origin: &Origin,
    tenant: &TenantState,
    client_id: &str,
    secret: Option<&str>,
    form: &Form,
    required: bool,
) -> Result<u8, AadError> {
    let Some(app) = tenant.application_by_app_id(client_id) else {
        return Err(AadError::unauthorized_client(
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                tenant.display_name
            ),
        ));
    };
    if let Some(secret) = secret {
        if app.password_credentials.iter().any(|p| p.secret == secret) {
            return Ok(1);
        }
        return Err(AadError::invalid_client(
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        ));
    }
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type")
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(AadError::invalid_request(
                50027,
                "Invalid client_assertion_type; use urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            ));
        }
        verify_assertion(origin, tenant, app, client_id, assertion)?;
        return Ok(2);
    }
    if required {
        return Err(AadError::invalid_client(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    Err(AadError::invalid_client(
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ))
}

fn verify_assertion(
    origin: &Origin,
    tenant: &TenantState,
    app: &crate::state::Application,
    client_id: &str,
    assertion: &str,
) -> Result<(), AadError> {
    let malformed = |why: &str| {
        AadError::invalid_client(50027, format!("JWT token is invalid or malformed: {why}."))
    };
    let jwt = Jwt::decode(assertion).ok_or_else(|| malformed("not a compact JWT"))?;
    let alg = jwt.head("alg").unwrap_or_default().to_string();
    let (thumb, sha256) = match (jwt.head("x5t#S256"), jwt.head("x5t")) {
        (Some(t), _) => (t.to_string(), true),
        (None, Some(t)) => (t.to_string(), false),
        _ => return Err(malformed("the header names no x5t or x5t#S256 thumbprint")),
    };
    let thumb_bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(thumb.trim_end_matches('='))
        .unwrap_or_default();
    let key = app.key_credentials.iter().find(|k| {
        if sha256 {
            k.sha256 == thumb_bytes
        } else {
            k.sha1 == thumb_bytes
        }
    });
    let Some(key) = key else {
        return Err(AadError::invalid_client(
            700027,
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments if you are not using the global cloud.]",
                hex::encode_upper(&thumb_bytes)
            ),
        ));
    };
    let Some((_, _, pkcs1)) = crate::pki::rsa_public_key(&key.der) else {
        return Err(malformed("the registered certificate has no RSA key"));
    };
    if !["RS256", "PS256"].contains(&alg.as_str()) || !jwt::verify_signature(&pkcs1, &alg, &jwt) {
        return Err(AadError::invalid_client(
            700027,
            "Client assertion failed signature validation.",
        ));
    }
    let (iss, sub) = (jwt.claim("iss"), jwt.claim("sub"));
    if iss.map(str::to_ascii_lowercase) != Some(client_id.to_ascii_lowercase()) {
        return Err(AadError::invalid_client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    if sub != iss {
        return Err(AadError::invalid_client(
            50048,
            "Subject mismatches Issuer claim in the client assertion.",
        ));
    }
    // The audience must be this cloud's token endpoint for the same tenant.
    let aud_ok = jwt
        .claim("aud")
        .and_then(|a| url::Url::parse(a).ok())
        .is_some_and(|u| {
            let host_ok = u
                .host_str()
                .and_then(Site::of_host)
                .is_some_and(|s| s.clouds.contains(&tenant.cloud));
            let mut segs = u.path_segments().into_iter().flatten();
            let seg = segs.next().unwrap_or_default();
            let tenant_ok = tenant.matches(seg) || super::is_multi_tenant_alias(seg);
            let rest: Vec<&str> = segs.collect();
            let path_ok = matches!(
                rest.as_slice(),
                ["oauth2", "v2.0", "token"] | ["oauth2", "token"] | ["v2.0"]
            );
            host_ok && tenant_ok && path_ok && u.scheme() == "https"
        });
    if !aud_ok {
        return Err(AadError::invalid_client(
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'. The audience must be the token endpoint, e.g. {}/{}/oauth2/v2.0/token.",
                jwt.claim("aud").unwrap_or_default(),
                origin.base(),
                tenant.id
            ),
        ));
    }
    let t = now();
    let skew = 300;
    let exp = jwt.num("exp");
    let nbf = jwt.num("nbf").or(jwt.num("iat")).unwrap_or(t);
    if exp.is_none_or(|e| e.saturating_add(skew) < t) || nbf.saturating_sub(skew) > t {
        return Err(AadError::invalid_client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {t}, assertion valid from {nbf}, expiry time of assertion {}.",
                exp.unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

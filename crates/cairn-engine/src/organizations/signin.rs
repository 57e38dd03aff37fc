//! Turning a refused sign-in into a message that says what to do: wrong region (and
//! which one is right), wrong password, MFA (use authentication B), locked or disabled
//! account, unknown tenant, unknown application or certificate.

use cairn_m365::{Error, Region, SignInFailure};

/// Finds the cloud a tenant lives in. Entra answers a tenant's OpenID metadata from any
/// cloud's authority, naming the tenant's own cloud (`msgraph_host`,
/// `cloud_instance_name`): that is how clients learn where to go.
pub(crate) async fn discover_region(
    http: &reqwest::Client,
    tenant: &str,
    asked: Region,
) -> Option<Region> {
    let url = format!(
        "https://{}/{tenant}/v2.0/.well-known/openid-configuration",
        asked.authority_host()
    );
    let response = http.get(&url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let meta = response.json::<serde_json::Value>().await.ok()?;
    let graph = meta.get("msgraph_host").and_then(|v| v.as_str());
    if let Some(region) = Region::ALL
        .into_iter()
        .find(|r| Some(r.graph_host()) == graph)
    {
        return Some(region);
    }
    let instance = meta.get("cloud_instance_name").and_then(|v| v.as_str())?;
    Region::ALL
        .into_iter()
        .find(|r| r.authority_host().ends_with(instance))
}

/// Who was signing in, for the messages.
pub(crate) enum Who<'a> {
    /// An administrator (authentication A).
    Admin(&'a str),
    /// The application (authentication B, or `org check`).
    App(&'a str),
}

/// The message for a refused sign-in.
pub(crate) async fn explain(
    err: &Error,
    who: Who<'_>,
    region: Region,
    tenant: &str,
    http: &reqwest::Client,
) -> String {
    let Some(entra) = err.sign_in() else {
        return format!(
            "cannot reach Microsoft Entra ID at {} ({err}): check the network and the region",
            region.authority_host()
        );
    };
    let germany = if region == Region::Germany {
        " Microsoft Cloud Deutschland closed on 29 October 2021 and its tenants moved to the worldwide cloud: try --region worldwide."
    } else {
        ""
    };
    let code = entra
        .code()
        .map(|c| format!(" [AADSTS{c}]"))
        .unwrap_or_default();
    let text = match (entra.kind(), &who) {
        (SignInFailure::OtherCloud, _) | (SignInFailure::TenantNotFound, _) => {
            match discover_region(http, tenant, region)
                .await
                .filter(|r| *r != region)
            {
                Some(right) => format!(
                    "the tenant {tenant} is not in the {region} cloud but in {right}: run again with --region {right}"
                ),
                None if entra.kind() == SignInFailure::OtherCloud => format!(
                    "the tenant {tenant} lives in another Microsoft cloud than {region}: choose its region with --region (worldwide, usgov-gcchigh, usgov-dod, china, germany).{germany}"
                ),
                None => format!(
                    "no tenant {tenant} exists in any Microsoft cloud: check the domain of the user name (or --tenant).{germany}"
                ),
            }
        }
        (SignInFailure::WrongPassword, Who::Admin(upn)) => {
            format!("wrong user name or password for {upn}: check both and try again")
        }
        (SignInFailure::UserNotFound, Who::Admin(upn)) => {
            format!("no user {upn} in tenant {tenant}: check the user name")
        }
        (SignInFailure::Locked, Who::Admin(upn)) => format!(
            "the account {upn} is locked (too many failed sign-ins): wait for the lock to expire or unlock it in Microsoft Entra, or use another administrator"
        ),
        (SignInFailure::Disabled, Who::Admin(upn)) => format!(
            "the account {upn} is disabled: enable it in Microsoft Entra (Users > {upn} > Account enabled) or use another administrator"
        ),
        (SignInFailure::PasswordExpired, Who::Admin(upn)) => {
            format!("the password of {upn} has expired: change it, then try again")
        }
        (SignInFailure::MfaRequired, Who::Admin(upn)) => format!(
            "{upn} must use multi-factor authentication, which a password sign-in cannot do: use authentication B instead: register an application with a certificate in Microsoft Entra (or let Cairn do it with an administrator without MFA), then run cairn org add NAME --app-id APP_ID --certificate FILE --tenant {tenant}"
        ),
        (SignInFailure::AppNotFound, Who::App(app)) => format!(
            "no application {app} in tenant {tenant}: check --app-id, and that the application was not deleted"
        ),
        (SignInFailure::BadCertificate, Who::App(app)) => format!(
            "the certificate is not one of application {app}'s credentials: upload its public certificate to the application (App registrations > Certificates & secrets) or give the right certificate file"
        ),
        (SignInFailure::BadClientSecret, Who::App(app)) => {
            format!("the client secret of application {app} is wrong or expired: create a new one")
        }
        (SignInFailure::ConsentMissing, _) => format!(
            "admin consent is missing for the application's permissions: grant admin consent in Microsoft Entra (App registrations > API permissions){germany}"
        ),
        _ => format!("Microsoft Entra ID refused the sign-in: {entra}.{germany}"),
    };
    format!("{text}{code}")
}

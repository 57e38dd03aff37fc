//! The `organizations` table: the Microsoft 365 organizations Cairn backs up, how it
//! signs in to each (its application and certificate, the private key sealed by the
//! [`Vault`](crate::Vault)), and the result of the last check.

use sqlx::Row as _;
use zeroize::Zeroizing;

use crate::{Catalog, CatalogError, Result};

const KIND: &str = "organization";

/// An organization as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Unique name chosen by the user.
    pub name: String,
    /// Microsoft cloud (`worldwide`, `germany`, `china`, `usgov-gcchigh`, `usgov-dod`).
    pub region: String,
    /// Deployment type (`microsoft365`).
    pub deployment: String,
    /// Services backed up (`exchange`, `sharepoint`, `teams`, `teams-posts`).
    pub services: Vec<String>,
    /// Tenant id (GUID).
    pub tenant_id: String,
    /// The tenant's initial domain.
    pub initial_domain: String,
    /// `admin-password` or `app-certificate`.
    pub auth_kind: String,
    /// The admin who added it (authentication A); the password is never stored.
    pub admin_upn: Option<String>,
    /// Cairn's backup application (client) id.
    pub application_id: String,
    /// Its certificate (public PEM).
    pub certificate_pem: String,
    /// When it was added (RFC 3339).
    pub created_at: String,
    /// JSON of the last check, if any.
    pub last_check: Option<String>,
}

fn key_context(name: &str) -> String {
    format!("organization/{name}/private-key")
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Organization> {
    let get = |col: &str| -> Result<String> {
        row.try_get::<String, _>(col)
            .map_err(CatalogError::query("reading an organization"))
    };
    let services = get("services")?;
    Ok(Organization {
        name: get("name")?,
        region: get("region")?,
        deployment: get("deployment")?,
        services: services
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        tenant_id: get("tenant_id")?,
        initial_domain: get("initial_domain")?,
        auth_kind: get("auth_kind")?,
        admin_upn: row
            .try_get::<Option<String>, _>("admin_upn")
            .map_err(CatalogError::query("reading an organization"))?,
        application_id: get("application_id")?,
        certificate_pem: get("certificate_pem")?,
        created_at: get("created_at")?,
        last_check: row
            .try_get::<Option<String>, _>("last_check")
            .map_err(CatalogError::query("reading an organization"))?,
    })
}

/// The SELECT of every column but the sealed key (a macro so queries stay `'static`).
macro_rules! select_organizations {
    () => {
        "SELECT name, region, deployment, services, tenant_id, initial_domain, auth_kind, \
         admin_upn, application_id, certificate_pem, created_at, last_check FROM organizations"
    };
}

/// Stores a new organization; its certificate's private key (PEM) is sealed.
pub async fn insert(catalog: &Catalog, org: &Organization, private_key_pem: &[u8]) -> Result<()> {
    if get(catalog, &org.name).await?.is_some() {
        return Err(CatalogError::AlreadyExists {
            kind: KIND,
            name: org.name.clone(),
        });
    }
    let sealed = catalog
        .vault()
        .seal(&key_context(&org.name), private_key_pem)?;
    sqlx::query(
        "INSERT INTO organizations (name, region, deployment, services, tenant_id, initial_domain, \
         auth_kind, admin_upn, application_id, certificate_pem, private_key, created_at, last_check) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&org.name)
    .bind(&org.region)
    .bind(&org.deployment)
    .bind(org.services.join(","))
    .bind(&org.tenant_id)
    .bind(&org.initial_domain)
    .bind(&org.auth_kind)
    .bind(org.admin_upn.clone())
    .bind(&org.application_id)
    .bind(&org.certificate_pem)
    .bind(sealed)
    .bind(&org.created_at)
    .bind(org.last_check.clone())
    .execute(catalog.pool())
    .await
    .map_err(CatalogError::query("adding an organization"))?;
    Ok(())
}

/// The organization named `name`, if any.
pub async fn get(catalog: &Catalog, name: &str) -> Result<Option<Organization>> {
    let row = sqlx::query(concat!(select_organizations!(), " WHERE name = $1"))
        .bind(name)
        .fetch_optional(catalog.pool())
        .await
        .map_err(CatalogError::query("reading an organization"))?;
    row.as_ref().map(from_row).transpose()
}

/// The organization named `name`, or a not-found error naming it.
pub async fn require(catalog: &Catalog, name: &str) -> Result<Organization> {
    get(catalog, name)
        .await?
        .ok_or_else(|| CatalogError::NotFound {
            kind: KIND,
            name: name.to_owned(),
        })
}

/// Every organization, by name.
pub async fn list(catalog: &Catalog) -> Result<Vec<Organization>> {
    let rows = sqlx::query(concat!(select_organizations!(), " ORDER BY name"))
        .fetch_all(catalog.pool())
        .await
        .map_err(CatalogError::query("listing organizations"))?;
    rows.iter().map(from_row).collect()
}

/// The unsealed private key (PEM) of the organization's certificate.
pub async fn private_key(catalog: &Catalog, name: &str) -> Result<Zeroizing<Vec<u8>>> {
    let row = sqlx::query("SELECT private_key FROM organizations WHERE name = $1")
        .bind(name)
        .fetch_optional(catalog.pool())
        .await
        .map_err(CatalogError::query("reading an organization's key"))?
        .ok_or_else(|| CatalogError::NotFound {
            kind: KIND,
            name: name.to_owned(),
        })?;
    let sealed: Vec<u8> = row
        .try_get("private_key")
        .map_err(CatalogError::query("reading an organization's key"))?;
    Ok(catalog.vault().unseal(&key_context(name), &sealed)?)
}

/// Records the result of the latest check.
pub async fn set_last_check(catalog: &Catalog, name: &str, check_json: &str) -> Result<()> {
    let done = sqlx::query("UPDATE organizations SET last_check = $1 WHERE name = $2")
        .bind(check_json)
        .bind(name)
        .execute(catalog.pool())
        .await
        .map_err(CatalogError::query("saving an organization's check"))?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound {
            kind: KIND,
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Removes an organization; not-found if there is none of that name.
pub async fn remove(catalog: &Catalog, name: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM organizations WHERE name = $1")
        .bind(name)
        .execute(catalog.pool())
        .await
        .map_err(CatalogError::query("removing an organization"))?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound {
            kind: KIND,
            name: name.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Organization {
        Organization {
            name: name.into(),
            region: "worldwide".into(),
            deployment: "microsoft365".into(),
            services: vec!["exchange".into(), "sharepoint".into()],
            tenant_id: "8f6c5a34-0c7e-4c41-9a3e-1c2b3d4e5f60".into(),
            initial_domain: "contoso.onmicrosoft.com".into(),
            auth_kind: "admin-password".into(),
            admin_upn: Some("admin@contoso.onmicrosoft.com".into()),
            application_id: "app".into(),
            certificate_pem: "-----BEGIN CERTIFICATE-----".into(),
            created_at: "2026-11-29T12:00:00Z".into(),
            last_check: None,
        }
    }

    #[tokio::test]
    async fn insert_get_list_check_remove() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).await.unwrap();
        let org = sample("contoso");
        insert(&catalog, &org, b"PRIVATE KEY PEM").await.unwrap();
        assert_eq!(get(&catalog, "contoso").await.unwrap(), Some(org.clone()));
        let dup = insert(&catalog, &org, b"x").await.unwrap_err();
        assert!(matches!(dup, CatalogError::AlreadyExists { .. }));
        assert_eq!(
            private_key(&catalog, "contoso").await.unwrap().as_slice(),
            b"PRIVATE KEY PEM"
        );
        // The key is not stored in clear.
        let raw: (Vec<u8>,) = sqlx::query_as("SELECT private_key FROM organizations")
            .fetch_one(catalog.pool())
            .await
            .unwrap();
        assert!(!raw.0.windows(11).any(|w| w == b"PRIVATE KEY"));
        set_last_check(&catalog, "contoso", r#"{"status":"success"}"#)
            .await
            .unwrap();
        insert(&catalog, &sample("adatum"), b"k").await.unwrap();
        let all = list(&catalog).await.unwrap();
        assert_eq!(
            all.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            ["adatum", "contoso"]
        );
        assert_eq!(
            all[1].last_check.as_deref(),
            Some(r#"{"status":"success"}"#)
        );
        remove(&catalog, "contoso").await.unwrap();
        assert!(get(&catalog, "contoso").await.unwrap().is_none());
        assert!(matches!(
            remove(&catalog, "contoso").await,
            Err(CatalogError::NotFound { .. })
        ));
    }
}

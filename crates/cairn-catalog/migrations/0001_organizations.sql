-- Microsoft 365 organizations Cairn backs up, and the result of their last check.
-- Portable SQL (SQLite now, PostgreSQL later): TEXT / INTEGER / BLOB only.
CREATE TABLE organizations (
    name             TEXT PRIMARY KEY,
    region           TEXT NOT NULL,
    deployment       TEXT NOT NULL,
    -- comma-separated service names: exchange,sharepoint,teams,teams-posts
    services         TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    initial_domain   TEXT NOT NULL,
    -- how Cairn was connected: 'admin-password' (A) or 'app-certificate' (B)
    auth_kind        TEXT NOT NULL,
    -- who added it (the admin's UPN for A; NULL for B); the password is never stored
    admin_upn        TEXT,
    application_id   TEXT NOT NULL,
    certificate_pem  TEXT NOT NULL,
    -- the certificate's private key, sealed by the catalog's vault
    private_key      BLOB NOT NULL,
    created_at       TEXT NOT NULL,
    -- JSON: {"status": …, "checked_at": …, "steps": [{"name", "status", "message"}]}
    last_check       TEXT
);

-- Backup repositories: configuration only. What a repository holds is read from the
-- repository itself; this table can be rebuilt by attaching the repositories again.
CREATE TABLE repositories (
    name           TEXT PRIMARY KEY,
    -- location URL without secrets: file:///…, s3://bucket/prefix?…, az://container/prefix?…
    location       TEXT NOT NULL,
    -- the repository's own id (its `config` file), to recognise it when re-attached
    repository_id  TEXT NOT NULL,
    encrypted      INTEGER NOT NULL,
    -- storage credentials as JSON, sealed by the catalog's vault; NULL = from the environment
    credentials    BLOB,
    created_at     TEXT NOT NULL
);

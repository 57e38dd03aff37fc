-- Backup jobs, their sessions, and the repository passwords kept for unattended runs.
-- Portable SQL (SQLite now, PostgreSQL later): TEXT / INTEGER / BLOB only.
CREATE TABLE jobs (
    name          TEXT PRIMARY KEY,
    -- organization and repository by name; checked by the engine (no foreign key, so
    -- an organization can be re-added under the same name without losing its jobs)
    organization  TEXT NOT NULL,
    repository    TEXT NOT NULL,
    -- JSON: selection, processing, exclusions, schedule, retries (cairn_engine::jobs::JobSpec)
    definition    TEXT NOT NULL,
    enabled       INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
-- One row per run of a job. Counters are updated while the session runs so that
-- `job show` / `session show` are live; `pid` is the process running it (for `stop`
-- and to detect a session left Running by a killed process).
CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    job                TEXT NOT NULL,
    -- Running, Success, Warning, Failed, Stopped, Interrupted
    status             TEXT NOT NULL,
    started_at         TEXT NOT NULL,
    ended_at           TEXT,
    updated_at         TEXT NOT NULL,
    pid                INTEGER,
    objects_total      INTEGER NOT NULL,
    objects_done       INTEGER NOT NULL,
    items              INTEGER NOT NULL,
    bytes_read         INTEGER NOT NULL,
    bytes_stored       INTEGER NOT NULL,
    duration_ms        INTEGER NOT NULL,
    throttled_ms       INTEGER NOT NULL,
    target_wait_ms     INTEGER NOT NULL,
    requests           INTEGER NOT NULL,
    throttled_requests INTEGER NOT NULL
);
CREATE INDEX sessions_by_job ON sessions (job, started_at);
-- How each protected object fared in a session.
CREATE TABLE session_objects (
    session        TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    object_id      TEXT NOT NULL,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    items          INTEGER NOT NULL,
    new_versions   INTEGER NOT NULL,
    deletions      INTEGER NOT NULL,
    bytes_read     INTEGER NOT NULL,
    bytes_stored   INTEGER NOT NULL,
    restore_point  TEXT,
    PRIMARY KEY (session, object_id, kind)
);
-- Warnings and errors of a session, with the object and item they concern.
CREATE TABLE session_messages (
    session   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    at        TEXT NOT NULL,
    -- warning, error, info
    severity  TEXT NOT NULL,
    object    TEXT,
    item      TEXT,
    message   TEXT NOT NULL,
    PRIMARY KEY (session, seq)
);
-- Repository passwords kept, with the user's consent, for unattended runs (scheduler,
-- `job start` without a prompt); sealed by the catalog's vault.
CREATE TABLE repository_passwords (
    repository  TEXT PRIMARY KEY REFERENCES repositories(name) ON DELETE CASCADE,
    password    BLOB NOT NULL,
    stored_at   TEXT NOT NULL
);

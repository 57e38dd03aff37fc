//! The `sessions`, `session_objects` and `session_messages` tables: the history of job
//! runs — counters kept live while a session runs, how each protected object fared,
//! and the warnings and errors with the item they concern.

use sqlx::Row as _;

use crate::{Catalog, CatalogError, Result};

const KIND: &str = "session";

/// One run of a job.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionRecord {
    pub id: String,
    pub job: String,
    /// `Running`, `Success`, `Warning`, `Failed`, `Stopped`, `Interrupted`.
    pub status: String,
    /// RFC 3339.
    pub started_at: String,
    pub ended_at: Option<String>,
    pub updated_at: String,
    /// The process running it while `Running`.
    pub pid: Option<u32>,
    pub counters: SessionCounters,
}

/// What a session has done so far (or in all, once finished).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionCounters {
    pub objects_total: u64,
    pub objects_done: u64,
    pub items: u64,
    pub bytes_read: u64,
    pub bytes_stored: u64,
    pub duration_ms: u64,
    /// Time spent waiting on Microsoft's throttling.
    pub throttled_ms: u64,
    /// Time spent waiting on the repository.
    pub target_wait_ms: u64,
    pub requests: u64,
    pub throttled_requests: u64,
}

/// How one protected object fared in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionObject {
    pub object_id: String,
    pub kind: String,
    pub name: String,
    pub outcome: String,
    pub items: u64,
    pub new_versions: u64,
    pub deletions: u64,
    pub bytes_read: u64,
    pub bytes_stored: u64,
    pub restore_point: Option<String>,
}

/// A warning or error of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMessage {
    pub at: String,
    /// `warning`, `error` or `info`.
    pub severity: String,
    /// The object's name (SMTP address), when it concerns one.
    pub object: Option<String>,
    pub item: Option<String>,
    pub message: String,
}

// SQLite INTEGER is i64; counters never come near i64::MAX, so saturate rather than fail.
fn to_db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_db(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

macro_rules! select_sessions {
    () => {
        "SELECT id, job, status, started_at, ended_at, updated_at, pid, objects_total, \
         objects_done, items, bytes_read, bytes_stored, duration_ms, throttled_ms, \
         target_wait_ms, requests, throttled_requests FROM sessions"
    };
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<SessionRecord> {
    let e = || CatalogError::query("reading a session");
    let s = |c: &str| row.try_get::<String, _>(c).map_err(e());
    let n = |c: &str| row.try_get::<i64, _>(c).map(from_db).map_err(e());
    Ok(SessionRecord {
        id: s("id")?,
        job: s("job")?,
        status: s("status")?,
        started_at: s("started_at")?,
        ended_at: row.try_get::<Option<String>, _>("ended_at").map_err(e())?,
        updated_at: s("updated_at")?,
        pid: row
            .try_get::<Option<i64>, _>("pid")
            .map_err(e())?
            .and_then(|p| u32::try_from(p).ok()),
        counters: SessionCounters {
            objects_total: n("objects_total")?,
            objects_done: n("objects_done")?,
            items: n("items")?,
            bytes_read: n("bytes_read")?,
            bytes_stored: n("bytes_stored")?,
            duration_ms: n("duration_ms")?,
            throttled_ms: n("throttled_ms")?,
            target_wait_ms: n("target_wait_ms")?,
            requests: n("requests")?,
            throttled_requests: n("throttled_requests")?,
        },
    })
}

macro_rules! insert_session {
    () => {
        "INSERT INTO sessions (id, job, status, started_at, ended_at, updated_at, pid, \
         objects_total, objects_done, items, bytes_read, bytes_stored, duration_ms, \
         throttled_ms, target_wait_ms, requests, throttled_requests) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17"
    };
}

/// Records a new session (normally `Running`, with its pid).
pub async fn insert(catalog: &Catalog, s: &SessionRecord) -> Result<()> {
    insert_where(catalog, s, false).await.map(|_| ())
}

/// Records a new `Running` session unless the job already has one; false if it has.
/// One statement, so two processes starting the same job cannot both succeed.
pub async fn insert_if_idle(catalog: &Catalog, s: &SessionRecord) -> Result<bool> {
    insert_where(catalog, s, true).await
}

async fn insert_where(catalog: &Catalog, s: &SessionRecord, if_idle: bool) -> Result<bool> {
    let c = &s.counters;
    let sql = if if_idle {
        concat!(
            insert_session!(),
            " WHERE NOT EXISTS (SELECT 1 FROM sessions WHERE job = $18 AND status = 'Running')"
        )
    } else {
        insert_session!()
    };
    let mut query = sqlx::query(sql)
        .bind(&s.id)
        .bind(&s.job)
        .bind(&s.status)
        .bind(&s.started_at)
        .bind(&s.ended_at)
        .bind(&s.updated_at)
        .bind(s.pid.map(i64::from))
        .bind(to_db(c.objects_total))
        .bind(to_db(c.objects_done))
        .bind(to_db(c.items))
        .bind(to_db(c.bytes_read))
        .bind(to_db(c.bytes_stored))
        .bind(to_db(c.duration_ms))
        .bind(to_db(c.throttled_ms))
        .bind(to_db(c.target_wait_ms))
        .bind(to_db(c.requests))
        .bind(to_db(c.throttled_requests));
    if if_idle {
        query = query.bind(&s.job);
    }
    let done = query
        .execute(catalog.pool())
        .await
        .map_err(CatalogError::query("recording a session"))?;
    Ok(done.rows_affected() == 1)
}

/// Updates a session's counters (live progress).
pub async fn update_counters(
    catalog: &Catalog,
    id: &str,
    c: &SessionCounters,
    updated_at: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE sessions SET objects_total = $1, objects_done = $2, items = $3, \
         bytes_read = $4, bytes_stored = $5, duration_ms = $6, throttled_ms = $7, \
         target_wait_ms = $8, requests = $9, throttled_requests = $10, updated_at = $11 \
         WHERE id = $12",
    )
    .bind(to_db(c.objects_total))
    .bind(to_db(c.objects_done))
    .bind(to_db(c.items))
    .bind(to_db(c.bytes_read))
    .bind(to_db(c.bytes_stored))
    .bind(to_db(c.duration_ms))
    .bind(to_db(c.throttled_ms))
    .bind(to_db(c.target_wait_ms))
    .bind(to_db(c.requests))
    .bind(to_db(c.throttled_requests))
    .bind(updated_at)
    .bind(id)
    .execute(catalog.pool())
    .await
    .map_err(CatalogError::query("updating a session"))?;
    Ok(())
}

/// Ends a session: final status, end time, counters; the pid is cleared.
pub async fn finish(
    catalog: &Catalog,
    id: &str,
    status: &str,
    c: &SessionCounters,
    ended_at: &str,
) -> Result<()> {
    update_counters(catalog, id, c, ended_at).await?;
    let done =
        sqlx::query("UPDATE sessions SET status = $1, ended_at = $2, pid = NULL WHERE id = $3")
            .bind(status)
            .bind(ended_at)
            .bind(id)
            .execute(catalog.pool())
            .await
            .map_err(CatalogError::query("finishing a session"))?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound {
            kind: KIND,
            name: id.to_owned(),
        });
    }
    Ok(())
}

pub async fn get(catalog: &Catalog, id: &str) -> Result<Option<SessionRecord>> {
    let row = sqlx::query(concat!(select_sessions!(), " WHERE id = $1"))
        .bind(id)
        .fetch_optional(catalog.pool())
        .await
        .map_err(CatalogError::query("reading a session"))?;
    row.as_ref().map(from_row).transpose()
}

/// Finds a session by id or by a unique prefix of its id.
pub async fn find(catalog: &Catalog, id_or_prefix: &str) -> Result<SessionRecord> {
    if let Some(s) = get(catalog, id_or_prefix).await? {
        return Ok(s);
    }
    let pattern = format!("{}%", id_or_prefix.replace(['%', '_'], ""));
    let rows = sqlx::query(concat!(select_sessions!(), " WHERE id LIKE $1 LIMIT 2"))
        .bind(pattern)
        .fetch_all(catalog.pool())
        .await
        .map_err(CatalogError::query("finding a session"))?;
    match rows.as_slice() {
        [one] => from_row(one),
        _ => Err(CatalogError::NotFound {
            kind: KIND,
            name: id_or_prefix.to_owned(),
        }),
    }
}

/// A job's sessions, newest first.
pub async fn list_for_job(catalog: &Catalog, job: &str) -> Result<Vec<SessionRecord>> {
    let rows = sqlx::query(concat!(
        select_sessions!(),
        " WHERE job = $1 ORDER BY started_at DESC, id"
    ))
    .bind(job)
    .fetch_all(catalog.pool())
    .await
    .map_err(CatalogError::query("listing a job's sessions"))?;
    rows.iter().map(from_row).collect()
}

/// A job's newest session, if it ever ran.
pub async fn latest(catalog: &Catalog, job: &str) -> Result<Option<SessionRecord>> {
    let row = sqlx::query(concat!(
        select_sessions!(),
        " WHERE job = $1 ORDER BY started_at DESC, id LIMIT 1"
    ))
    .bind(job)
    .fetch_optional(catalog.pool())
    .await
    .map_err(CatalogError::query("reading a job's latest session"))?;
    row.as_ref().map(from_row).transpose()
}

/// Sessions recorded as `Running` (some may belong to processes that died).
pub async fn running(catalog: &Catalog) -> Result<Vec<SessionRecord>> {
    let rows = sqlx::query(concat!(
        select_sessions!(),
        " WHERE status = 'Running' ORDER BY started_at"
    ))
    .fetch_all(catalog.pool())
    .await
    .map_err(CatalogError::query("listing running sessions"))?;
    rows.iter().map(from_row).collect()
}

/// Records (or replaces) how an object fared.
pub async fn put_object(catalog: &Catalog, session: &str, o: &SessionObject) -> Result<()> {
    sqlx::query("DELETE FROM session_objects WHERE session = $1 AND object_id = $2 AND kind = $3")
        .bind(session)
        .bind(&o.object_id)
        .bind(&o.kind)
        .execute(catalog.pool())
        .await
        .map_err(CatalogError::query("replacing a session object"))?;
    sqlx::query(
        "INSERT INTO session_objects (session, object_id, kind, name, outcome, items, \
         new_versions, deletions, bytes_read, bytes_stored, restore_point) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(session)
    .bind(&o.object_id)
    .bind(&o.kind)
    .bind(&o.name)
    .bind(&o.outcome)
    .bind(to_db(o.items))
    .bind(to_db(o.new_versions))
    .bind(to_db(o.deletions))
    .bind(to_db(o.bytes_read))
    .bind(to_db(o.bytes_stored))
    .bind(&o.restore_point)
    .execute(catalog.pool())
    .await
    .map_err(CatalogError::query("recording a session object"))?;
    Ok(())
}

pub async fn objects(catalog: &Catalog, session: &str) -> Result<Vec<SessionObject>> {
    let rows = sqlx::query(
        "SELECT object_id, kind, name, outcome, items, new_versions, deletions, bytes_read, \
         bytes_stored, restore_point FROM session_objects WHERE session = $1 ORDER BY name, kind",
    )
    .bind(session)
    .fetch_all(catalog.pool())
    .await
    .map_err(CatalogError::query("listing a session's objects"))?;
    rows.iter()
        .map(|row| {
            let e = || CatalogError::query("reading a session object");
            let s = |c: &str| row.try_get::<String, _>(c).map_err(e());
            let n = |c: &str| row.try_get::<i64, _>(c).map(from_db).map_err(e());
            Ok(SessionObject {
                object_id: s("object_id")?,
                kind: s("kind")?,
                name: s("name")?,
                outcome: s("outcome")?,
                items: n("items")?,
                new_versions: n("new_versions")?,
                deletions: n("deletions")?,
                bytes_read: n("bytes_read")?,
                bytes_stored: n("bytes_stored")?,
                restore_point: row
                    .try_get::<Option<String>, _>("restore_point")
                    .map_err(e())?,
            })
        })
        .collect()
}

/// Appends a warning or error to a session.
pub async fn add_message(catalog: &Catalog, session: &str, m: &SessionMessage) -> Result<()> {
    let (next,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(seq), 0) + 1 FROM session_messages WHERE session = $1")
            .bind(session)
            .fetch_one(catalog.pool())
            .await
            .map_err(CatalogError::query("numbering a session message"))?;
    sqlx::query(
        "INSERT INTO session_messages (session, seq, at, severity, object, item, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(session)
    .bind(next)
    .bind(&m.at)
    .bind(&m.severity)
    .bind(&m.object)
    .bind(&m.item)
    .bind(&m.message)
    .execute(catalog.pool())
    .await
    .map_err(CatalogError::query("recording a session message"))?;
    Ok(())
}

pub async fn messages(catalog: &Catalog, session: &str) -> Result<Vec<SessionMessage>> {
    let rows = sqlx::query(
        "SELECT at, severity, object, item, message FROM session_messages \
         WHERE session = $1 ORDER BY seq",
    )
    .bind(session)
    .fetch_all(catalog.pool())
    .await
    .map_err(CatalogError::query("listing a session's messages"))?;
    rows.iter()
        .map(|row| {
            let e = || CatalogError::query("reading a session message");
            Ok(SessionMessage {
                at: row.try_get("at").map_err(e())?,
                severity: row.try_get("severity").map_err(e())?,
                object: row.try_get("object").map_err(e())?,
                item: row.try_get("item").map_err(e())?,
                message: row.try_get("message").map_err(e())?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn session_lifecycle_objects_and_messages() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).await.unwrap();
        let mut s = SessionRecord {
            id: "0b6c1a9e-1111-4d35-9a51-2f7b7d3e1a10".into(),
            job: "nightly".into(),
            status: "Running".into(),
            started_at: "2026-11-29T12:00:00Z".into(),
            updated_at: "2026-11-29T12:00:00Z".into(),
            pid: Some(4242),
            ..Default::default()
        };
        assert!(insert_if_idle(&catalog, &s).await.unwrap());
        let second = SessionRecord {
            id: "second".into(),
            ..s.clone()
        };
        assert!(!insert_if_idle(&catalog, &second).await.unwrap());
        assert!(get(&catalog, "second").await.unwrap().is_none());
        assert_eq!(running(&catalog).await.unwrap(), vec![s.clone()]);
        let c = SessionCounters {
            objects_total: 3,
            objects_done: 1,
            items: 120,
            bytes_read: 1 << 20,
            bytes_stored: 1 << 19,
            duration_ms: 1500,
            throttled_ms: 300,
            target_wait_ms: 20,
            requests: 40,
            throttled_requests: 2,
        };
        update_counters(&catalog, &s.id, &c, "2026-11-29T12:00:01Z")
            .await
            .unwrap();
        let o = SessionObject {
            object_id: "u1".into(),
            kind: "mailbox".into(),
            name: "adele@contoso.com".into(),
            outcome: "warning".into(),
            items: 120,
            new_versions: 120,
            deletions: 0,
            bytes_read: 1 << 20,
            bytes_stored: 1 << 19,
            restore_point: Some("rp1".into()),
        };
        put_object(&catalog, &s.id, &o).await.unwrap();
        put_object(&catalog, &s.id, &o).await.unwrap();
        assert_eq!(objects(&catalog, &s.id).await.unwrap(), vec![o]);
        let m = SessionMessage {
            at: "2026-11-29T12:00:01Z".into(),
            severity: "warning".into(),
            object: Some("adele@contoso.com".into()),
            item: Some("AAMkAD…=".into()),
            message: "corrupt MIME".into(),
        };
        add_message(&catalog, &s.id, &m).await.unwrap();
        add_message(&catalog, &s.id, &m).await.unwrap();
        assert_eq!(messages(&catalog, &s.id).await.unwrap().len(), 2);
        finish(&catalog, &s.id, "Warning", &c, "2026-11-29T12:00:02Z")
            .await
            .unwrap();
        s.status = "Warning".into();
        s.ended_at = Some("2026-11-29T12:00:02Z".into());
        s.updated_at = "2026-11-29T12:00:02Z".into();
        s.pid = None;
        s.counters = c;
        assert_eq!(find(&catalog, "0b6c1a9e").await.unwrap(), s);
        assert_eq!(
            latest(&catalog, "nightly").await.unwrap().as_ref(),
            Some(&s)
        );
        assert_eq!(list_for_job(&catalog, "nightly").await.unwrap(), vec![s]);
        assert!(latest(&catalog, "other").await.unwrap().is_none());
        assert!(running(&catalog).await.unwrap().is_empty());
        assert!(find(&catalog, "ffff").await.is_err());
    }
}

//! Hidden test-data commands: `put-dir` writes a directory tree into a repository
//! as items of one protected object (one backup session, checkpointed, resumed
//! after a crash), `get-dir` restores a restore point into a directory. The
//! crash test kills `put-dir` with SIGKILL; the benchmark times both.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use bytes::{Bytes, BytesMut};
use cairn_catalog::Catalog;
use cairn_repo::{ObjectRef, ObjectWriter, OrganizationRef, SessionOptions};
use futures::TryStreamExt;
use tokio::io::AsyncReadExt;

use super::{PasswordArgs, human, open, path_arg};

/// Files larger than this are streamed instead of read whole.
const STREAM_ABOVE: u64 = 8 << 20;

#[derive(Debug, clap::Args)]
pub struct PutDirArgs {
    pub name: String,
    pub dir: PathBuf,
    /// Organization id recorded in the restore point.
    #[arg(long, default_value = "test-data")]
    pub org: String,
    /// Protected object id the files are stored under.
    #[arg(long, default_value = "files")]
    pub object: String,
    /// Items written concurrently.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Checkpoint after every N items (0: never).
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_every: u64,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, clap::Args)]
pub struct GetDirArgs {
    pub name: String,
    pub dest: PathBuf,
    /// Restore point id (default: the latest).
    #[arg(long)]
    pub restore_point: Option<uuid::Uuid>,
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub password: PasswordArgs,
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf, u64)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(root, &p, out)?;
        } else if ft.is_file() {
            let rel = p.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
            out.push((rel, p.clone(), e.metadata()?.len()));
        }
    }
    Ok(())
}

fn file_stream(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Unpin {
    Box::pin(futures::stream::try_unfold(file, |mut f| async move {
        // Read into spare capacity: no zeroing of a fresh buffer per read.
        let mut buf = BytesMut::with_capacity(1 << 20);
        let n = f.read_buf(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some((buf.freeze(), f)))
    }))
}

pub async fn put_dir(catalog: &Catalog, args: PutDirArgs) -> Result<ExitCode> {
    let dir = path_arg(&args.dir)?;
    let mut files = Vec::new();
    walk(&dir, &dir, &mut files)?;
    let repo = open(catalog, &args.name, args.password.password_stdin).await?;
    let job = format!("put-dir {}", dir.display());
    let started = Instant::now();
    // A previous run of the same job that was killed: resume its checkpoint.
    let resumable = repo
        .incomplete_sessions()
        .await?
        .into_iter()
        .filter(|s| s.job.as_deref() == Some(job.as_str()) && s.organization.id == args.org)
        .max_by(|a, b| a.checkpointed.cmp(&b.checkpointed));
    let (session, resumed) = match resumable {
        Some(cp) => (repo.resume_session(cp.session).await?, true),
        None => (
            repo.start_session(SessionOptions {
                organization: OrganizationRef {
                    id: args.org.clone(),
                    name: args.org.clone(),
                },
                job: Some(job.clone()),
            })
            .await?,
            false,
        ),
    };
    let writer = session
        .object(ObjectRef {
            id: args.object.clone(),
            kind: "files".into(),
            name: dir.display().to_string(),
        })
        .await?;
    let done = Arc::new(AtomicU64::new(0));
    let every = args.checkpoint_every;
    let total = files.len() as u64;
    let item_done = {
        let session = session.clone();
        let done = done.clone();
        move || {
            let session = session.clone();
            let done = done.clone();
            async move {
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                // None after the last item: the commit that follows makes it durable.
                if every > 0 && n.is_multiple_of(every) && n < total {
                    session.checkpoint().await?;
                }
                anyhow::Ok(())
            }
        }
    };
    // Large (streamed) files go one after another in their own lane, started
    // first: each stream already encodes on every core, they overlap with the
    // small items instead of trailing after them, and an edited copy of a large
    // file finds the original's chunks stored instead of encoding them again.
    let (large, small): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|(_, _, size)| *size > STREAM_ABOVE);
    let mut tasks = tokio::task::JoinSet::new();
    {
        let writer = writer.clone();
        let item_done = item_done.clone();
        tasks.spawn(async move {
            for (rel, path, size) in large {
                put_file(&writer, &rel, &path, size).await?;
                item_done().await?;
            }
            anyhow::Ok(())
        });
    }
    // Each small item is its own task so the runtime spreads them over all cores.
    let limit = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    for (rel, path, size) in small {
        let permit = limit.clone().acquire_owned().await?;
        let writer = writer.clone();
        let item_done = item_done.clone();
        tasks.spawn(async move {
            let _permit = permit;
            put_file(&writer, &rel, &path, size).await?;
            item_done().await
        });
        // Surface failures early instead of after the whole tree.
        while let Some(res) = tasks.try_join_next() {
            res??;
        }
    }
    while let Some(res) = tasks.join_next().await {
        res??;
    }
    // Figures after the commit, which uploads the last packs.
    let counted = session.clone();
    let rp = session.commit().await?;
    let st = counted.stats();
    let (items, bytes) = (
        st.items.load(Ordering::Relaxed),
        st.bytes.load(Ordering::Relaxed),
    );
    let (new_raw, uploaded) = (
        st.new_bytes_raw.load(Ordering::Relaxed),
        st.pack_bytes.load(Ordering::Relaxed),
    );
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "restore_point": rp.id, "resumed": resumed, "items": items, "bytes": bytes,
                "new_bytes": new_raw, "uploaded_bytes": uploaded, "seconds": secs,
            })
        );
    } else {
        println!(
            "restore point {}{}: {items} items, {} read, {} new data, {} uploaded, {:.1}s ({:.0} items/s, {:.1} MB/s)",
            rp.id,
            if resumed { " (resumed)" } else { "" },
            human(bytes),
            human(new_raw),
            human(uploaded),
            secs,
            items as f64 / secs,
            bytes as f64 / 1e6 / secs
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn put_file(writer: &ObjectWriter, rel: &str, path: &Path, size: u64) -> Result<()> {
    let folder = match rel.rfind('/') {
        Some(i) => rel[..i].to_string(),
        None => "/".to_string(),
    };
    let meta = serde_json::json!({ "size": size });
    if size > STREAM_ABOVE {
        let f = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        writer
            .put_item_stream(&folder, rel, meta, file_stream(f))
            .await?;
    } else {
        let data = tokio::fs::read(path)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        writer
            .put_item(&folder, rel, meta, Bytes::from(data))
            .await?;
    }
    Ok(())
}

/// A safe relative path for an item id (no absolute paths, no `..`).
fn safe_relative(id: &str) -> PathBuf {
    let mut p = PathBuf::new();
    for part in id.split('/') {
        match part {
            "" | "." | ".." => continue,
            other => p.push(other.replace(['\\', ':'], "_")),
        }
    }
    p
}

pub async fn get_dir(catalog: &Catalog, args: GetDirArgs) -> Result<ExitCode> {
    let dest = path_arg(&args.dest)?;
    let repo = open(catalog, &args.name, args.password.password_stdin).await?;
    let rp = match args.restore_point {
        Some(id) => repo.restore_point(id).await?,
        None => repo
            .restore_points()
            .await?
            .pop()
            .context("the repository has no restore points")?,
    };
    let started = Instant::now();
    let bytes = Arc::new(AtomicU64::new(0));
    let mut count = 0u64;
    for o in &rp.objects {
        let items = repo.list_items(&rp, &o.object.id).await?;
        count += items.len() as u64;
        let base = dest.join(safe_relative(&o.object.id));
        futures::stream::iter(items.into_iter().map(Ok::<_, anyhow::Error>))
            .try_for_each_concurrent(args.concurrency.max(1), |li| {
                let repo = repo.clone();
                let bytes = bytes.clone();
                let target = base.join(safe_relative(&li.item.id));
                async move {
                    if let Some(parent) = target.parent() {
                        tokio::fs::create_dir_all(parent).await?;
                    }
                    let mut f = tokio::fs::File::create(&target)
                        .await
                        .with_context(|| format!("cannot create {}", target.display()))?;
                    let n = repo.read_item_to(&li.item, &mut f).await?;
                    tokio::io::AsyncWriteExt::flush(&mut f).await?;
                    bytes.fetch_add(n, Ordering::Relaxed);
                    Ok(())
                }
            })
            .await?;
    }
    let secs = started.elapsed().as_secs_f64();
    let total = bytes.load(Ordering::Relaxed);
    if args.json {
        println!(
            "{}",
            serde_json::json!({"restore_point": rp.id, "items": count, "bytes": total, "seconds": secs})
        );
    } else {
        println!(
            "restored {count} items ({}) of restore point {} into {} in {:.1}s ({:.1} MB/s)",
            human(total),
            rp.id,
            dest.display(),
            secs,
            total as f64 / 1e6 / secs
        );
    }
    Ok(ExitCode::SUCCESS)
}

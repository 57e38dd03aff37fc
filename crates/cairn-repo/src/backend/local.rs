//! Local directory backend. Writes go to a temporary file in the target's
//! directory, are fsynced, then renamed (put) or hard-linked (put-if-absent, which
//! fails atomically if the name exists); the directory is fsynced afterwards so
//! the new name survives a power loss.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use super::{Backend, BackendError, BackendResult, ObjectInfo};

#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBackend { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Objects (or temporary files at least this old) whose name starts with
    /// `prefix`, sorted.
    fn walk_prefix<'a>(
        &'a self,
        prefix: &'a str,
        temporary: Option<Duration>,
    ) -> BoxFuture<'a, BackendResult<Vec<ObjectInfo>>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        Box::pin(async move {
            let p = prefix.clone();
            blocking(&prefix, move || {
                // List from the deepest directory the prefix names, then filter.
                let dir_part = match p.rfind('/') {
                    Some(i) => &p[..i],
                    None => "",
                };
                let mut out = Vec::new();
                walk(&root, &root.join(dir_part), temporary, &mut out)?;
                out.retain(|o| o.name.starts_with(&p));
                out.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(out)
            })
            .await
        })
    }
}

fn io_err(name: &str, err: std::io::Error) -> BackendError {
    if err.kind() == std::io::ErrorKind::NotFound {
        return BackendError::NotFound {
            name: name.to_string(),
        };
    }
    let transient = matches!(
        err.kind(),
        std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut
    );
    BackendError::Storage {
        name: name.to_string(),
        transient,
        source: Box::new(err),
    }
}

async fn blocking<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> BackendResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(res) => res.map_err(|e| io_err(name, e)),
        Err(join) => Err(BackendError::Storage {
            name: name.to_string(),
            transient: false,
            source: Box::new(join),
        }),
    }
}

/// Write `data` to a fresh temporary file next to `dest` and fsync it.
fn write_temp(dest: &Path, data: &[u8]) -> std::io::Result<PathBuf> {
    let dir = dest
        .parent()
        .ok_or_else(|| std::io::Error::other("object path has no parent directory"))?;
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut file = fs::File::create(&tmp)?;
    file.write_all(data)?;
    file.sync_all()?;
    Ok(tmp)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Files under `dir`: the objects, or (`temporary: Some(age)`) only the
/// temporary files of unfinished writes at least `age` old.
fn walk(
    root: &Path,
    dir: &Path,
    temporary: Option<Duration>,
    out: &mut Vec<ObjectInfo>,
) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let file_type = entry.file_type()?;
        let path = entry.path();
        if file_type.is_dir() {
            walk(root, &path, temporary, out)?;
        } else if file_type.is_file() {
            let fname = entry.file_name();
            // Temporary files of unfinished writes are not objects.
            if fname.to_string_lossy().starts_with(".tmp-") != temporary.is_some() {
                continue;
            }
            let metadata = entry.metadata()?;
            if let Some(age) = temporary {
                // A modification time in the future is not old.
                let old = metadata
                    .modified()?
                    .elapsed()
                    .is_ok_and(|elapsed| elapsed >= age);
                if !old {
                    continue;
                }
            }
            let rel = path
                .strip_prefix(root)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            out.push(ObjectInfo {
                name: rel,
                size: metadata.len(),
            });
        }
    }
    Ok(())
}

impl Backend for LocalBackend {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, BackendResult<Vec<ObjectInfo>>> {
        self.walk_prefix(prefix, None)
    }

    fn incomplete<'a>(
        &'a self,
        prefix: &'a str,
        older_than: Duration,
    ) -> BoxFuture<'a, BackendResult<Vec<ObjectInfo>>> {
        self.walk_prefix(prefix, Some(older_than))
    }

    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, BackendResult<Bytes>> {
        let path = self.path(name);
        Box::pin(blocking(name, move || fs::read(path).map(Bytes::from)))
    }

    fn get_range<'a>(
        &'a self,
        name: &'a str,
        range: Range<u64>,
    ) -> BoxFuture<'a, BackendResult<Bytes>> {
        let path = self.path(name);
        Box::pin(blocking(name, move || {
            let mut file = fs::File::open(path)?;
            let len = file.metadata()?.len();
            if range.end > len || range.start > range.end {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "range {}..{} is outside the object (size {len})",
                        range.start, range.end
                    ),
                ));
            }
            file.seek(SeekFrom::Start(range.start))?;
            let mut buf = vec![0u8; (range.end - range.start) as usize];
            file.read_exact(&mut buf)?;
            Ok(Bytes::from(buf))
        }))
    }

    fn put<'a>(&'a self, name: &'a str, data: Bytes) -> BoxFuture<'a, BackendResult<()>> {
        let dest = self.path(name);
        Box::pin(blocking(name, move || {
            let tmp = write_temp(&dest, &data)?;
            if let Err(e) = fs::rename(&tmp, &dest) {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            if let Some(dir) = dest.parent() {
                sync_dir(dir)?;
            }
            Ok(())
        }))
    }

    fn put_if_absent<'a>(
        &'a self,
        name: &'a str,
        data: Bytes,
    ) -> BoxFuture<'a, BackendResult<bool>> {
        let dest = self.path(name);
        Box::pin(blocking(name, move || {
            let tmp = write_temp(&dest, &data)?;
            // link(2) fails with EEXIST if the name exists: an atomic create.
            let res = fs::hard_link(&tmp, &dest);
            let _ = fs::remove_file(&tmp);
            match res {
                Ok(()) => {
                    if let Some(dir) = dest.parent() {
                        sync_dir(dir)?;
                    }
                    Ok(true)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            }
        }))
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, BackendResult<()>> {
        let path = self.path(name);
        Box::pin(blocking(name, move || match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }))
    }
}

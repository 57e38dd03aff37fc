//! A directory tree of `.eml` files, one message per file.

use std::path::{Path, PathBuf};

use super::{ImportedMessage, metadata};
use crate::error::{Error, Result};

/// Every `*.eml` file (extension matched case-insensitively) under `dir`, recursively, in
/// sorted path order. Only the listing happens now; files are read one at a time as the
/// iterator advances. Symbolic links to directories are not followed (no cycles).
pub fn eml_dir(dir: impl AsRef<Path>) -> Result<EmlDir> {
    let mut files = Vec::new();
    collect(dir.as_ref(), &mut files)?;
    files.sort();
    Ok(EmlDir {
        files: files.into_iter(),
    })
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            collect(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("eml"))
        {
            // Regular files and symlinks to files both count; a dangling link fails at read.
            out.push(path);
        }
    }
    Ok(())
}

/// Iterator over the messages of an .eml directory (see [`eml_dir`]).
#[derive(Debug)]
pub struct EmlDir {
    files: std::vec::IntoIter<PathBuf>,
}

impl EmlDir {
    /// Files not yet read.
    pub fn remaining(&self) -> usize {
        self.files.len()
    }
}

impl Iterator for EmlDir {
    type Item = Result<ImportedMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.files.next()?;
        Some(match std::fs::read(&path) {
            Ok(raw) => metadata(&path, 0, raw),
            Err(source) => Err(Error::Io { path, source }),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.files.len(), Some(self.files.len()))
    }
}

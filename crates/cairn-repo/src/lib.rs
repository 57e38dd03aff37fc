//! Cairn's backup repository: the storage engine every backup writes into and
//! every restore reads from. It is self-describing (a repository alone, plus its
//! password, lists and restores everything in it), deduplicated (content-defined
//! chunks named by keyed BLAKE3), compressed (zstd), encrypted (AES-256-GCM under
//! a random master key wrapped by Argon2id-derived keys in several key slots),
//! and stored through small backend primitives (local directory, S3, Azure Blob).
//! The on-disk format is specified in `docs/repository-format.md`.
//!
//! # Writing and reading a restore point
//!
//! ```no_run
//! # async fn demo() -> cairn_repo::Result<()> {
//! use std::sync::Arc;
//! use cairn_repo::{Credentials, Location, ObjectRef, OrganizationRef, Repository, SessionOptions};
//!
//! let location = Location::parse("/var/lib/cairn/repositories/main")?;
//! let repo = Arc::new(Repository::open_location(&location, &Credentials::from_env(), Some(b"secret")).await?);
//!
//! // One session per backup job run; many tasks may write concurrently.
//! let session = repo
//!     .start_session(SessionOptions {
//!         organization: OrganizationRef { id: "tenant-id".into(), name: "Contoso".into() },
//!         job: Some("daily mail".into()),
//!     })
//!     .await?;
//! let mailbox = session
//!     .object(ObjectRef { id: "user-id".into(), kind: "mailbox".into(), name: "adele@contoso.com".into() })
//!     .await?;
//! let tokens = mailbox.state().await; // delta tokens of the previous restore point
//! mailbox.set_folder("inbox", "Inbox", None).await?;
//! let mime = bytes::Bytes::from_static(b"From: a@b\r\n\r\nhello");
//! mailbox.put_item("inbox", "AAMkAD...", serde_json::json!({"subject": "hello", "isRead": false}), mime).await?;
//! mailbox.set_state(serde_json::json!({"inbox": {"deltaLink": "..."}})).await;
//! session.checkpoint().await?; // a killed job resumes from here (Repository::resume_session)
//! let rp = session.commit().await?;
//!
//! // Reading back, as of any restore point.
//! for item in repo.list_items(&rp, "user-id").await? {
//!     let content = repo.read_item(&item.item).await?;
//!     # let _ = content;
//! }
//! let history = repo.item_history("tenant-id", "user-id", "AAMkAD...").await?;
//! # let _ = (tokens, history);
//! # Ok(()) }
//! ```

pub mod backend;
mod chunker;
mod crypto;
mod encoder;
mod error;
mod format;
mod id;
mod index;
mod listing;
mod location;
mod lock;
pub mod maintenance;
mod manifest;
mod object_writer;
mod pack;
mod reader;
mod repository;
mod session;
mod spill;

pub use chunker::Chunker;
pub use crypto::KdfParams;
pub use error::{Error, Result};
pub use format::{ChunkerParams, Config, FORMAT_VERSION};
pub use id::Id;
pub use location::{Credentials, Location};
pub use lock::{LockInfo, LockKind};
pub use maintenance::{CheckOptions, CheckReport, Problem, PruneOptions, PruneReport, Stats};
pub use manifest::{
    Checkpoint, FolderEntry, ItemEntry, ObjectEntry, ObjectRef, OrganizationRef, PageRef,
    RestorePoint,
};
pub use object_writer::ObjectWriter;
pub use reader::{ItemVersion, ListedItem, ProtectedObject};
pub use repository::{CreateOptions, KeySlotInfo, Repository};
pub use session::{Session, SessionOptions, SessionStats};

impl Repository {
    /// Open the repository at `location` with `password` (`None` only for an
    /// unencrypted repository).
    pub async fn open_location(
        location: &Location,
        creds: &Credentials,
        password: Option<&[u8]>,
    ) -> Result<Repository> {
        Repository::open(location.backend(creds)?, password).await
    }

    /// Create a repository at `location`.
    pub async fn create_at(
        location: &Location,
        creds: &Credentials,
        opts: CreateOptions,
    ) -> Result<Repository> {
        Repository::create(location.backend(creds)?, opts).await
    }
}

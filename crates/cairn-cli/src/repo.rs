//! `cairn repo …`: backup repositories — create, attach, list, show, check,
//! verify, forget, prune, stats, passwd, unlock — plus hidden commands that write and
//! read test data (`put-dir`, `get-dir`) for the crash test and the benchmark.
//!
//! The repository password comes from `--password-stdin`, `CAIRN_REPO_PASSWORD`
//! or a prompt, never from an argument. Storage credentials come from the
//! environment and are kept sealed in the catalog unless `--no-store-credentials`.
//!
//! Exit status: 0 success, 1 when check/verify found problems, 2 on errors.

mod data;
mod password;
mod report;

use password::{read_new_password, read_password, read_second_password};
use report::{check, show};

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cairn_catalog::Catalog;
use cairn_catalog::repositories::{self as records, RepositoryRecord};
use cairn_repo::{
    CheckOptions, CreateOptions, Credentials, KdfParams, Location, PruneOptions, Repository,
};
use zeroize::Zeroizing;

#[derive(Debug, clap::Args)]
pub struct PasswordArgs {
    /// Read the repository password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum RepoCommand {
    /// Create a repository (default: local, under <data-dir>/repositories/NAME).
    Create {
        name: String,
        /// file:///…, a path, s3://bucket/prefix?endpoint=…&region=…&path_style=true&allow_http=true,
        /// az://container/prefix?account=…&endpoint=…
        #[arg(long)]
        location: Option<String>,
        /// Store data unencrypted (no password). Only when you mean it.
        #[arg(long)]
        unencrypted: bool,
        /// Read credentials from the environment at each use instead of sealing them in the catalog.
        #[arg(long)]
        no_store_credentials: bool,
        #[command(flatten)]
        password: PasswordArgs,
        /// Argon2id memory in MiB for the key slot (default 64).
        #[arg(long, hide = true)]
        kdf_memory_mib: Option<u32>,
        /// Target pack size in MiB (default 16).
        #[arg(long, hide = true)]
        pack_size_mib: Option<u64>,
    },
    /// Attach an existing repository (e.g. to a new installation): everything in
    /// it is listed and restorable from the repository alone.
    Attach {
        name: String,
        location: String,
        #[arg(long)]
        no_store_credentials: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List repositories.
    List,
    /// Show a repository: configuration, key slots, locks, organizations,
    /// protected objects and restore points.
    Show {
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Check structure and references (with --read-data: also every blob).
    Check {
        name: String,
        #[arg(long)]
        read_data: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Read and re-hash every chunk, or a sample (--sample PERCENT).
    Verify {
        name: String,
        #[arg(long, value_name = "PERCENT")]
        sample: Option<u8>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Remove restore points (their manifests); `prune` then frees the data
    /// only they referenced.
    Forget {
        name: String,
        /// Restore point ids, as `cairn repo show` lists them.
        #[arg(required = true, value_name = "RESTORE_POINT")]
        restore_points: Vec<uuid::Uuid>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Remove data no restore point references; repack partly used packs.
    Prune {
        name: String,
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Logical size, stored size, dedup and compression ratios.
    Stats {
        name: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Change the password (new one from the second stdin line, CAIRN_REPO_NEW_PASSWORD
    /// or a prompt); --add adds a key slot instead; --remove SLOT removes one.
    Passwd {
        name: String,
        #[arg(long, conflicts_with = "remove")]
        add: bool,
        #[arg(long, default_value = "added")]
        label: String,
        #[arg(long, value_name = "SLOT")]
        remove: Option<String>,
        #[command(flatten)]
        password: PasswordArgs,
        /// Argon2id memory in MiB for the new key slot (default 64).
        #[arg(long, hide = true)]
        kdf_memory_mib: Option<u32>,
    },
    /// Remove stale locks (--all: every lock; only when nothing uses the repository).
    Unlock {
        name: String,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Test data: write every file under DIR as an item (benchmark, crash test).
    #[command(hide = true)]
    PutDir(data::PutDirArgs),
    /// Test data: restore every item of a restore point into DEST.
    #[command(hide = true)]
    GetDir(data::GetDirArgs),
}

pub async fn run(data_dir: &Path, cmd: RepoCommand) -> Result<ExitCode> {
    let catalog = Catalog::open(data_dir)
        .await
        .with_context(|| format!("cannot open the catalog in {}", data_dir.display()))?;
    match cmd {
        RepoCommand::Create {
            name,
            location,
            unencrypted,
            no_store_credentials,
            password,
            kdf_memory_mib,
            pack_size_mib,
        } => {
            let location = match location {
                Some(l) => Location::parse(&l)?,
                None => Location::Local(data_dir.join("repositories").join(&name)),
            };
            let location = absolute(location)?;
            if records::get(&catalog, &name).await?.is_some() {
                bail!("a repository named {name:?} already exists in this catalog");
            }
            let mut opts = if unencrypted {
                CreateOptions::unencrypted()
            } else {
                CreateOptions::encrypted(read_new_password(password.password_stdin, true)?.to_vec())
            };
            opts.kdf = kdf_params(kdf_memory_mib);
            if let Some(p) = pack_size_mib {
                opts.pack_size = p.max(1) << 20;
            }
            let creds = Credentials::from_env();
            let repo = Repository::create_at(&location, &creds, opts).await?;
            register(
                &catalog,
                &name,
                &location,
                &repo,
                &creds,
                no_store_credentials,
            )
            .await?;
            println!(
                "created repository {name} at {} ({})",
                location.to_url(),
                if repo.config().encrypted() {
                    "encrypted"
                } else {
                    "UNENCRYPTED"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Attach {
            name,
            location,
            no_store_credentials,
            password,
        } => {
            let location = absolute(Location::parse(&location)?)?;
            if records::get(&catalog, &name).await?.is_some() {
                bail!("a repository named {name:?} already exists in this catalog");
            }
            let creds = Credentials::from_env();
            let backend = location.backend(&creds)?;
            let config = Repository::read_config(&backend).await?;
            let pw = if config.encrypted() {
                Some(read_password(password.password_stdin)?)
            } else {
                None
            };
            let repo = Repository::open(backend, pw.as_ref().map(|p| p.as_slice())).await?;
            register(
                &catalog,
                &name,
                &location,
                &repo,
                &creds,
                no_store_credentials,
            )
            .await?;
            let rps = repo.restore_points().await?;
            let objects = repo.protected_objects(None).await?;
            println!(
                "attached repository {name} at {}: {} organizations, {} protected objects, {} restore points",
                location.to_url(),
                repo.organizations().await?.len(),
                objects.len(),
                rps.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::List => {
            let list = records::list(&catalog).await?;
            if list.is_empty() {
                println!("no repositories (create one with `cairn repo create NAME`)");
            }
            for r in list {
                println!(
                    "{}\t{}\t{}",
                    r.name,
                    r.location,
                    if r.encrypted {
                        "encrypted"
                    } else {
                        "unencrypted"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Show { name, password } => {
            let repo = open(&catalog, &name, password.password_stdin).await?;
            show(&repo).await?;
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Check {
            name,
            read_data,
            password,
        } => {
            let repo = open(&catalog, &name, password.password_stdin).await?;
            check(
                &repo,
                CheckOptions {
                    read_data,
                    sample_percent: None,
                },
            )
            .await
        }
        RepoCommand::Verify {
            name,
            sample,
            password,
        } => {
            let repo = open(&catalog, &name, password.password_stdin).await?;
            check(
                &repo,
                CheckOptions {
                    read_data: true,
                    sample_percent: sample,
                },
            )
            .await
        }
        RepoCommand::Forget {
            name,
            restore_points,
            password,
        } => {
            let repo = open(&catalog, &name, password.password_stdin).await?;
            repo.forget_restore_points(&restore_points).await?;
            for id in &restore_points {
                println!("forgot restore point {id}");
            }
            println!("run `cairn repo prune {name}` to free the data only they referenced");
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Prune {
            name,
            dry_run,
            password,
        } => {
            let repo = open(&catalog, &name, password.password_stdin).await?;
            let r = repo
                .prune(&PruneOptions {
                    dry_run,
                    ..Default::default()
                })
                .await?;
            println!(
                "{}{} blobs in use; {} packs deleted, {} repacked into {}, {} unindexed packs and {} temporary files removed; {} freed",
                if dry_run { "dry run: " } else { "" },
                r.used_blobs,
                r.packs_deleted,
                r.packs_repacked,
                r.packs_written,
                r.unindexed_packs_deleted,
                r.incomplete_writes_removed,
                human(r.bytes_freed)
            );
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Stats {
            name,
            json,
            password,
        } => {
            let repo = open(&catalog, &name, password.password_stdin).await?;
            let s = repo.stats().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("restore points:      {}", s.restore_points);
                println!("organizations:       {}", s.organizations);
                println!("protected objects:   {}", s.protected_objects);
                println!("items (latest):      {}", s.latest_items);
                println!("logical (latest):    {}", human(s.latest_logical_bytes));
                println!("logical (all RPs):   {}", human(s.total_logical_bytes));
                println!(
                    "unique data:         {} in {} chunks",
                    human(s.unique_bytes),
                    s.unique_chunks
                );
                println!(
                    "stored:              {} in {} packs",
                    human(s.stored_bytes),
                    s.packs
                );
                println!("dedup ratio:         {:.2}", s.dedup_ratio);
                println!("compression ratio:   {:.2}", s.compression_ratio);
            }
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Passwd {
            name,
            add,
            label,
            remove,
            password,
            kdf_memory_mib,
        } => {
            let repo = open(&catalog, &name, password.password_stdin).await?;
            let kdf = kdf_params(kdf_memory_mib);
            if let Some(slot) = remove {
                repo.remove_key(&slot).await?;
                println!("removed key slot {slot}");
                return Ok(ExitCode::SUCCESS);
            }
            let new = read_second_password(password.password_stdin)?;
            if add {
                let id = repo.add_key(&new, &label, kdf).await?;
                println!("added key slot {id} ({label})");
            } else {
                let id = repo.change_password(&new, kdf).await?;
                println!("password changed (key slot {id}); no data was rewritten");
            }
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Unlock {
            name,
            all,
            password,
        } => {
            let repo = open(&catalog, &name, password.password_stdin).await?;
            let removed = repo.break_locks(all).await?;
            for r in &removed {
                println!("removed {r}");
            }
            for l in repo.locks().await? {
                println!("kept {l}");
            }
            if removed.is_empty() {
                println!("no stale locks");
            }
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::PutDir(args) => data::put_dir(&catalog, args).await,
        RepoCommand::GetDir(args) => data::get_dir(&catalog, args).await,
    }
}

/// Key slot parameters: the default, or a lower memory cost (tests, small machines).
fn kdf_params(memory_mib: Option<u32>) -> KdfParams {
    match memory_mib {
        Some(m) => KdfParams {
            memory_kib: m.max(1) * 1024,
            ..KdfParams::default()
        },
        None => KdfParams::default(),
    }
}

fn absolute(location: Location) -> Result<Location> {
    Ok(match location {
        Location::Local(p) if !p.is_absolute() => Location::Local(std::env::current_dir()?.join(p)),
        other => other,
    })
}

async fn register(
    catalog: &Catalog,
    name: &str,
    location: &Location,
    repo: &Repository,
    creds: &Credentials,
    no_store: bool,
) -> Result<()> {
    let sealed = if no_store || creds.is_empty() {
        None
    } else {
        Some(Zeroizing::new(serde_json::to_vec(&serde_json::json!({
            "aws_access_key_id": creds.aws_access_key_id,
            "aws_secret_access_key": creds.aws_secret_access_key,
            "azure_account_name": creds.azure_account_name,
            "azure_account_key": creds.azure_account_key,
        }))?))
    };
    let rec = RepositoryRecord {
        name: name.to_string(),
        location: location.to_url(),
        repository_id: repo.config().id.to_string(),
        encrypted: repo.config().encrypted(),
        has_credentials: sealed.is_some(),
        created_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)?,
    };
    records::insert(catalog, &rec, sealed.as_ref().map(|s| s.as_slice())).await?;
    Ok(())
}

/// Open a repository configured in the catalog.
pub(crate) async fn open(
    catalog: &Catalog,
    name: &str,
    password_stdin: bool,
) -> Result<Arc<Repository>> {
    let rec = records::require(catalog, name).await?;
    let mut creds = Credentials::default();
    if let Some(json) = records::credentials(catalog, name).await? {
        let v: serde_json::Value =
            serde_json::from_slice(&json).context("stored credentials are damaged")?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        creds = Credentials {
            aws_access_key_id: s("aws_access_key_id"),
            aws_secret_access_key: s("aws_secret_access_key"),
            azure_account_name: s("azure_account_name"),
            azure_account_key: s("azure_account_key"),
        };
    }
    let creds = creds.or(Credentials::from_env());
    let location = Location::parse(&rec.location)?;
    let backend = location.backend(&creds)?;
    let pw = if rec.encrypted {
        Some(read_password(password_stdin)?)
    } else {
        None
    };
    let repo = Repository::open(backend, pw.as_ref().map(|p| p.as_slice()))
        .await
        .with_context(|| format!("cannot open repository {name} at {}", rec.location))?;
    if rec.encrypted && !repo.config().encrypted() {
        bail!(
            "the repository at {} now claims to be unencrypted but was registered encrypted: its config may have been tampered with",
            rec.location
        );
    }
    if repo.config().id.to_string() != rec.repository_id {
        bail!(
            "the repository at {} is not the one registered as {name} (id {} instead of {}); re-attach it",
            rec.location,
            repo.config().id,
            rec.repository_id
        );
    }
    Ok(Arc::new(repo))
}

pub(crate) fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

pub(crate) fn path_arg(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

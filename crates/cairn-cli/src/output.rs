//! Shared plumbing of the binary: where the data lives, logging, and how errors
//! reach the user.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

/// The data directory: the flag (or `CAIRN_HOME`, via clap), else the platform's
/// data directory (`$XDG_DATA_HOME/cairn`, `~/.local/share/cairn`).
pub fn resolve_data_dir(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("cairn"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .context("cannot find a data directory: set --data-dir or CAIRN_HOME")?;
    Ok(PathBuf::from(home).join(".local/share/cairn"))
}

/// `cairn … | head` closes stdout early; `println!` then panics with "failed printing
/// to stdout". Like other Unix tools, end quietly instead. (Restoring the default
/// SIGPIPE disposition would need `unsafe`, which the workspace forbids.)
pub fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Logs go to stderr, filtered by `CAIRN_LOG` (default: warnings only), so that
/// stdout stays the command's output.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Print an error with its chain of causes and return the failure exit code.
pub fn report(err: anyhow::Error) -> ExitCode {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    ExitCode::from(2)
}

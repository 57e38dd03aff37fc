//! The repository password: from standard input (`--password-stdin`: line 1 the
//! password, line 2 a new one for `passwd`), the environment, or a prompt; never
//! from an argument, so it stays out of shell history and process listings.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, bail};
use zeroize::Zeroizing;

fn stdin_lines() -> &'static std::sync::Mutex<Vec<String>> {
    static LINES: std::sync::OnceLock<std::sync::Mutex<Vec<String>>> = std::sync::OnceLock::new();
    LINES.get_or_init(|| {
        let lines: Vec<String> = std::io::stdin()
            .lock()
            .lines()
            .take(2)
            .map_while(|l| l.ok())
            .collect();
        std::sync::Mutex::new(lines.into_iter().rev().collect())
    })
}

fn next_stdin_line(what: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut lines = stdin_lines()
        .lock()
        .map_err(|_| anyhow::anyhow!("stdin lock poisoned"))?;
    let line = lines
        .pop()
        .with_context(|| format!("--password-stdin: no {what} on standard input"))?;
    Ok(Zeroizing::new(line.into_bytes()))
}

/// The current password: stdin line 1, `CAIRN_REPO_PASSWORD`, or a prompt.
pub(super) fn read_password(from_stdin: bool) -> Result<Zeroizing<Vec<u8>>> {
    if from_stdin {
        return next_stdin_line("password");
    }
    if let Ok(p) = std::env::var("CAIRN_REPO_PASSWORD") {
        return Ok(Zeroizing::new(p.into_bytes()));
    }
    if !std::io::stdin().is_terminal() {
        bail!("no repository password: use --password-stdin, CAIRN_REPO_PASSWORD or a terminal");
    }
    Ok(Zeroizing::new(
        rpassword::prompt_password("repository password: ")?.into_bytes(),
    ))
}

/// A new password for `create` (asked twice at a prompt).
pub(super) fn read_new_password(from_stdin: bool, confirm: bool) -> Result<Zeroizing<Vec<u8>>> {
    let pw = if from_stdin || std::env::var("CAIRN_REPO_PASSWORD").is_ok() {
        read_password(from_stdin)?
    } else {
        if !std::io::stdin().is_terminal() {
            bail!(
                "no repository password: use --password-stdin, CAIRN_REPO_PASSWORD or a terminal"
            );
        }
        let a =
            Zeroizing::new(rpassword::prompt_password("new repository password: ")?.into_bytes());
        if confirm {
            let b = Zeroizing::new(rpassword::prompt_password("repeat it: ")?.into_bytes());
            if a != b {
                bail!("the passwords differ");
            }
        }
        a
    };
    if pw.is_empty() {
        bail!("the password is empty (use --unencrypted for no encryption)");
    }
    Ok(pw)
}

/// The new password of `passwd`: stdin line 2, `CAIRN_REPO_NEW_PASSWORD`, or a prompt.
pub(super) fn read_second_password(from_stdin: bool) -> Result<Zeroizing<Vec<u8>>> {
    if from_stdin {
        return next_stdin_line("new password (second line)");
    }
    if let Ok(p) = std::env::var("CAIRN_REPO_NEW_PASSWORD") {
        return Ok(Zeroizing::new(p.into_bytes()));
    }
    read_new_password(false, true)
}

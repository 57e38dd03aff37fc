//! The process running a session: whether a recorded pid is still that process (to
//! detect a session left `Running` by a killed process, even after a reboot gave its pid
//! to another process) and asking it to stop (SIGTERM, which the session handles by
//! checkpointing and ending as `Stopped`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, SysconfVar, sysconf};

/// Clock and rounding slack when comparing a process's start with a session's.
const START_SLACK: Duration = Duration::from_secs(2);

/// True if a process with this pid exists (signal 0 probes without delivering).
pub fn alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    match kill(Pid::from_raw(raw), None) {
        Ok(()) => true,
        // It exists but belongs to someone else.
        Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// When a process started, from Linux's /proc (`None` where that is unavailable).
pub fn started(pid: u32) -> Option<SystemTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command (field 2) is in parentheses and may hold spaces: count from after it.
    // Field 22, the start time in clock ticks since boot, is the 20th after it.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let ticks: u64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let hz = u64::try_from(sysconf(SysconfVar::CLK_TCK).ok()??).ok()?;
    if hz == 0 {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs(boot) + Duration::from_millis(ticks * 1000 / hz))
}

/// True if `pid` is alive and is not a process that started after the session did
/// (a recorded pid reused by another process after a crash or reboot).
pub fn runs_session(pid: u32, session_started: SystemTime) -> bool {
    alive(pid) && started(pid).is_none_or(|t| t <= session_started + START_SLACK)
}

/// Sends SIGTERM; false if the process is gone.
pub fn terminate(pid: u32) -> Result<bool, std::io::Error> {
    let raw = i32::try_from(pid)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "pid out of range"))?;
    match kill(Pid::from_raw(raw), Signal::SIGTERM) {
        Ok(()) => Ok(true),
        Err(Errno::ESRCH) => Ok(false),
        Err(e) => Err(std::io::Error::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_reaped_child_is_not() {
        assert!(alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!alive(pid));
        assert!(!terminate(pid).unwrap());
        assert!(!alive(0));
    }

    #[test]
    fn a_pid_reused_after_the_session_started_is_not_the_session() {
        let now = SystemTime::now();
        assert!(runs_session(std::process::id(), now));
        let long_ago = now - Duration::from_secs(3600);
        #[cfg(target_os = "linux")]
        {
            let me = started(std::process::id()).unwrap();
            assert!(me <= now && me > long_ago);
            // This process started after a session recorded an hour ago: not its process.
            assert!(!runs_session(std::process::id(), long_ago));
        }
    }

    #[test]
    fn terminate_stops_a_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert!(alive(child.id()));
        assert!(terminate(child.id()).unwrap());
        let status = child.wait().unwrap();
        assert!(!status.success());
    }
}

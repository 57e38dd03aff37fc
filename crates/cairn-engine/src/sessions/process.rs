//! The process running a session: whether a recorded pid is still alive (to detect a
//! session left `Running` by a killed process) and asking it to stop (SIGTERM, which the
//! session handles by checkpointing and ending as `Stopped`).

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

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

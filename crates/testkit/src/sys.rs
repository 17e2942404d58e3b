//! The few OS calls the server harness needs: users, signals, `/proc`.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

/// An unprivileged account to run PostgreSQL as when we are root.
#[derive(Debug, Clone)]
pub(crate) struct RunAs {
    pub(crate) name: &'static str,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// `None` when we are not root (PostgreSQL runs as us); otherwise the
/// `postgres` system user (Debian's package creates it), or `nobody`.
pub(crate) fn run_as() -> anyhow::Result<Option<RunAs>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Some((uid, gid)) = lookup_user(name) {
            if uid != 0 {
                return Ok(Some(RunAs { name, uid, gid }));
            }
        }
    }
    anyhow::bail!(
        "running as root, and PostgreSQL refuses to run as root, but there is no `postgres` (nor `nobody`) user \
         to run it as: install Debian's postgresql package (scripts/test does), or run the tests as a normal user"
    )
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let cname = CString::new(name).ok()?;
    // SAFETY: passwd is plain data; getpwnam_r fills it, pointing into buf,
    // which outlives every use (we copy out the two integers).
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(cname.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc != 0 || result.is_null() {
            return None;
        }
        Some((pwd.pw_uid, pwd.pw_gid))
    }
}

/// Runs the command as `run_as` (no shell: `setgid`/`setuid` in the child;
/// std also drops supplementary groups), and, on Linux, asks the kernel to
/// SIGKILL the child when the thread that spawned it dies. The server
/// harness spawns the postmaster from a thread that lives as long as the
/// whole process, so a test binary that dies without cleaning up (a panic
/// with abort, SIGKILL, Ctrl-C) takes its PostgreSQL down with it.
pub(crate) fn prepare(cmd: &mut Command, run_as: Option<&RunAs>, die_with_parent: bool) {
    if let Some(user) = run_as {
        cmd.uid(user.uid).gid(user.gid);
    }
    #[cfg(target_os = "linux")]
    if die_with_parent {
        // SAFETY: getpid is async-signal-safe; read before fork.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the closure runs in the forked child before exec and only
        // calls async-signal-safe functions (prctl, getppid, _exit). std runs
        // it after setuid, which would otherwise clear the death signal.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent died between fork and prctl: nobody would stop us.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = die_with_parent;
}

pub(crate) fn chown(path: &std::path::Path, user: &RunAs) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
}

/// Sends `signal` to `pid`; false if there is no such process.
pub(crate) fn signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// True while `pid` exists and is not a zombie (a zombie holds no resources:
/// no sockets, no shared memory, no files).
pub(crate) fn is_running(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(stat_state(&stat), Some('Z' | 'X')),
        Err(_) => {
            // No /proc (not Linux): ask the kernel.
            if std::path::Path::new("/proc/self").exists() {
                false
            } else {
                // SAFETY: signal 0 only checks for existence.
                unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
            }
        }
    }
}

/// The state letter and the parent pid from a `/proc/<pid>/stat` line
/// (`pid (comm) S ppid ...`; comm may hold spaces and parentheses).
fn stat_fields(stat: &str) -> Option<(char, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

fn stat_state(stat: &str) -> Option<char> {
    stat_fields(stat).map(|(state, _)| state)
}

/// The live children of `pid` (from `/proc`; empty elsewhere).
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| stat_fields(&stat))
                .is_some_and(|(state, ppid)| ppid == pid && !matches!(state, 'Z' | 'X'))
        })
        .collect()
}

/// The executable name of `pid` (`/proc/<pid>/comm`), if known.
pub(crate) fn process_name(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|name| name.trim().to_string())
}

/// Polls until none of `pids` is running, for at most `timeout`; returns the
/// ones still running.
pub(crate) fn wait_gone(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&pid| is_running(pid)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines_with_odd_command_names() {
        assert_eq!(stat_fields("42 (postgres) S 7 42 42 0"), Some(('S', 7)));
        assert_eq!(stat_fields("43 (a) b (c) Z 1 43"), Some(('Z', 1)));
        assert_eq!(stat_fields("garbage"), None);
    }

    #[test]
    fn sees_itself_running_and_a_reaped_child_gone() {
        assert!(is_running(std::process::id()));
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_running(pid) || process_name(pid).as_deref() != Some("true"));
    }
}

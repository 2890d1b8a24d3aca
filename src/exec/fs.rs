//! Files and folders on the host: umask, mkdir, the busybox copy and links, cgroupfs writes,
//! unlink, rmdir, the lock, state.json.

use std::io::Write as _;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::ctx::{Handles, Journal};
use crate::error::Failure;
use crate::host::procfs;
use crate::plan::{Plan, Value};
use crate::sys;

pub fn umask(mask: u32) -> Result<(), Failure> {
    nix::sys::stat::umask(Mode::from_bits_truncate(mask));
    Ok(())
}

pub fn mkdir(path: &Path, mode: u32, exist_ok: bool) -> Result<(), Failure> {
    match nix::unistd::mkdir(path, Mode::from_bits_truncate(mode)) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) if exist_ok => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub fn copy_file(from: &Path, to: &Path, mode: u32) -> Result<(), Failure> {
    let src = nix::fcntl::open(from, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Failure::new(e, format!("cannot open {}", from.display())))?;
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC;
    let dst = nix::fcntl::open(to, flags, Mode::from_bits_truncate(mode))?;
    while sys::copy_file_range(src.as_fd(), dst.as_fd(), 1 << 30)? > 0 {}
    Ok(())
}

pub fn symlinks(target: &str, dir: &Path, names: &[String]) -> Result<(), Failure> {
    for name in names {
        std::os::unix::fs::symlink(target, dir.join(name))
            .map_err(|e| Failure::from(e).with_detail(name.clone()))?;
    }
    Ok(())
}

/// write(2) of one value to a cgroupfs file (never creating it).
pub fn write(path: &Path, value: &Value, h: &Handles) -> Result<(), Failure> {
    let text = match value {
        Value::Text(t) => t.clone(),
        Value::ChildPid => h.child.ok_or_else(|| Failure::new(Errno::ESRCH, "no child yet"))?.to_string(),
        Value::SelfPid => std::process::id().to_string(),
    };
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

pub fn unlink(path: &Path) -> Result<(), Failure> {
    nix::unistd::unlink(path)?;
    Ok(())
}

/// rmdir, retried while the kernel still holds the folder (a cgroup just after its last exit).
pub fn rmdir(dir: &Path) -> Result<(), Failure> {
    let start = Instant::now();
    loop {
        let errno = match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) => Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        };
        match errno {
            Errno::EBUSY if start.elapsed() < Duration::from_secs(2) => {
                std::thread::sleep(Duration::from_millis(5))
            }
            e => return Err(e.into()),
        }
    }
}

/// open + flock(LOCK_EX|LOCK_NB): a second jail of the same name stops here. The supervisor
/// that held the lock last unlinks it before it lets go; a lock taken on the file it unlinked
/// locks nothing that a third could not take too, so while `path` is not the file locked (its
/// device and inode differ, or it is gone), it is opened and locked again.
pub fn lock(path: &Path, h: &mut Handles) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt as _;
    for _ in 0..16 {
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(path)?;
        if let Err(errno) = sys::flock(file.as_fd(), libc::LOCK_EX | libc::LOCK_NB) {
            let who = procfs::lock_holder(path)
                .map_or("another procjail".to_string(), |p| format!("procjail pid {p}"));
            return Err(Failure::new(
                errno,
                format!("a jail of this name is running: {who} holds {}", path.display()),
            ));
        }
        let held = file.metadata()?;
        if std::fs::metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == (held.dev(), held.ino())) {
            h.lock = Some(file.into());
            return Ok(());
        }
    }
    Err(Failure::new(Errno::EAGAIN, format!("{} was removed under each lock taken", path.display())))
}

/// Writes NAME.json.tmp and renames it over NAME.json, so readers never see half a file. The
/// first time (SaveState) without the plan; again with it (`with_plan`, the Wait step once the
/// jail has run 100 ms), with the pids and times of the first.
pub fn save_state(
    path: &Path,
    plan: &Plan,
    h: &Handles,
    j: &mut Journal,
    with_plan: bool,
) -> Result<(), Failure> {
    let pids = *j.saved.get_or_insert_with(|| {
        let (me, start) = procfs::self_start_time().unwrap_or((std::process::id() as i32, 0));
        let init = h.child.map_or(0, |p| p.as_raw());
        crate::state::Pids {
            supervisor: (me, start),
            init: (init, procfs::start_time(init).unwrap_or(0)),
            started_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    });
    let file = std::path::absolute(&plan.file).unwrap_or_else(|_| plan.file.clone());
    let sha = plan.facts.file_sha256.clone();
    let state = crate::state::State::of(plan, file, sha, pids, with_plan);
    // Compact, and in one write: it is read by programs (`jq .` shows it to a person). The
    // buffer is made big enough at once (the busybox jail's is 9 KB, 55 KB with the plan): no
    // copy as it grows.
    let mut text = Vec::with_capacity(if with_plan { 64 << 10 } else { 16 << 10 });
    serde_json::to_writer(&mut text, &state).map_err(|e| Failure::new(Errno::EIO, e.to_string()))?;
    let tmp = crate::host::user::state_tmp(path);
    let f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o644).open(&tmp)?;
    let written = (&f).write_all(&text).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // A full disk, say: the half-written file goes, not left for `gc`.
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(written?)
}

//! Paths resolved inside the rootfs: openat2 with RESOLVE_IN_ROOT, so `..` and symlinks
//! (absolute or relative) stay under the rootfs, as if it were `/`. A symlink in the rootfs
//! pointing at /etc leads to the rootfs's etc, never the host's.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{Mode, SFlag, fstatat, mkdirat, mknodat};

use crate::error::Failure;

/// The path relative to the rootfs: "/dev/pts" → "dev/pts" ("." for "/").
fn relative(path: &Path) -> &Path {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() { Path::new(".") } else { rel }
}

/// Opens `path` inside the root. `no_symlinks`: refuse any symlink on the way.
pub fn open(root: &impl AsFd, path: &Path, flags: OFlag, no_symlinks: bool) -> Result<OwnedFd, Errno> {
    let mut resolve = ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS;
    if no_symlinks {
        resolve |= ResolveFlag::RESOLVE_NO_SYMLINKS;
    }
    let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(resolve);
    openat2(root.as_fd(), relative(path), how)
}

/// Makes the mount point `path` unless it exists: a directory or an empty file, as the entry
/// `name` of the folder `parent` (the plan makes each folder as a step, and says how the step
/// reaches it). `no_symlinks`: it must be a real directory (/proc, /dev). Only when it already
/// exists is it looked at (fstatat, not following a symlink).
pub fn make(parent: BorrowedFd<'_>, path: &Path, dir: bool, no_symlinks: bool) -> Result<(), Failure> {
    let Some(name) = path.file_name() else { return Ok(()) };
    let made = if dir {
        mkdirat(parent, name, Mode::from_bits_truncate(0o755))
    } else {
        mknodat(parent, name, SFlag::S_IFREG, Mode::from_bits_truncate(0o644), 0)
    };
    match made {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => check_existing(parent, name, path, dir, no_symlinks),
        Err(e) => Err(e.into()),
    }
}

/// An existing entry must be a directory where a directory is wanted; /proc and /dev must not
/// be symlinks. Other symlinks are fine: the mount resolves them inside the root.
fn check_existing(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    dir: bool,
    no_symlinks: bool,
) -> Result<(), Failure> {
    let st = fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind == SFlag::S_IFLNK {
        if no_symlinks {
            let msg = format!("{} in the rootfs is a symlink; it must be a real directory", path.display());
            return Err(Failure::new(Errno::ELOOP, msg));
        }
        return Ok(());
    }
    if dir && kind != SFlag::S_IFDIR {
        return Err(Failure::new(
            Errno::ENOTDIR,
            format!("{} in the rootfs is not a directory", path.display()),
        ));
    }
    Ok(())
}

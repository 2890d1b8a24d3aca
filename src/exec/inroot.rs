//! Paths resolved inside the rootfs: openat2 with RESOLVE_IN_ROOT, so `..` and symlinks
//! (absolute or relative) stay under the rootfs, as if it were `/`. A symlink in the rootfs
//! pointing at /etc leads to the rootfs's etc, never the host's.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{Mode, SFlag, fstat, mkdirat};

use super::{Failure, StepResult};

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

/// Makes a mount point at `path` in the root if it is missing: a directory (parents too) or an
/// empty file. `real_dir`: it must be a real directory, reached without symlinks (/proc, /dev).
pub fn make(root: &impl AsFd, path: &Path, dir: bool, real_dir: bool) -> StepResult {
    match open(root, path, OFlag::O_PATH, real_dir) {
        Ok(fd) => {
            let st = fstat(&fd)?;
            let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
            if dir && !is_dir {
                return Err(Failure::new(
                    Errno::ENOTDIR,
                    format!("{} in the rootfs is not a directory", path.display()),
                ));
            }
            Ok(())
        }
        Err(Errno::ELOOP) if real_dir => Err(Failure::new(
            Errno::ELOOP,
            format!("{} in the rootfs is a symlink; it must be a real directory", path.display()),
        )),
        Err(Errno::ENOENT) => create(root, path, dir),
        Err(e) => Err(e.into()),
    }
}

fn create(root: &impl AsFd, path: &Path, dir: bool) -> StepResult {
    let names: Vec<&OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let mut parent = std::path::PathBuf::from("/");
    for (i, name) in names.iter().enumerate() {
        let last = i + 1 == names.len();
        let parent_fd = open(root, &parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY, false)?;
        if last && !dir {
            let how = OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            match nix::fcntl::openat(&parent_fd, *name, how, Mode::from_bits_truncate(0o644)) {
                Ok(_) | Err(Errno::EEXIST) | Err(Errno::ELOOP) => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            match mkdirat(&parent_fd, *name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
        parent.push(name);
    }
    Ok(())
}

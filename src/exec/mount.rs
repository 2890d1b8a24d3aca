//! The rootfs and the mount table: rootfd, mount points in the rootfs, mount, pivot_root,
//! umount2, chdir, chroot.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};

use super::ctx::{Done, Handles};
use super::inroot;
use crate::error::Failure;
use crate::plan::{Target, Via};

fn root(h: &Handles) -> Result<&std::os::fd::OwnedFd, Failure> {
    h.rootfd.as_ref().ok_or_else(|| Failure::new(Errno::EBADF, "the rootfs is not open"))
}

pub fn open_root(path: &Path, h: &mut Handles) -> Result<(), Failure> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    h.rootfd = Some(nix::fcntl::open(path, flags, nix::sys::stat::Mode::empty())?);
    Ok(())
}

/// mount(2). A target in the rootfs is opened there (no symlink leads out) and mounted on
/// through its descriptor, as runc does; with `trace`, the note says where it led.
pub fn mount(
    source: Option<&str>,
    target: &Target,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    h: &Handles,
    trace: bool,
) -> Result<Done, Failure> {
    match target {
        Target::Path(p) => {
            nix::mount::mount(source, p, fstype, flags, data)?;
            Ok(Done::Ok)
        }
        Target::InRoot(p) => {
            let fd = inroot::open(root(h)?, p, OFlag::O_PATH, false)
                .map_err(|e| Failure::new(e, format!("cannot open {} in the rootfs", p.display())))?;
            let via = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            let note = trace.then(|| {
                let real = std::fs::read_link(&via).map_or("?".into(), |r| r.display().to_string());
                format!("$fd = {}: {real}", fd.as_raw_fd())
            });
            nix::mount::mount(source, &via, fstype, flags, data)?;
            Ok(note.map_or(Done::Ok, Done::Note))
        }
    }
}

/// The folder an entry at `at` is made in, as the step reaches it: rootfd, the folder an
/// OpenDir step holds, or its own lookup (kept in `opened` while it is used).
fn parent<'h>(
    at: &Path,
    via: Via,
    no_symlinks: bool,
    h: &'h Handles,
    opened: &'h mut Option<OwnedFd>,
) -> Result<BorrowedFd<'h>, Failure> {
    match via {
        Via::Root => Ok(root(h)?.as_fd()),
        Via::Dir => {
            h.dir.as_ref().map(|d| d.as_fd()).ok_or_else(|| Failure::new(Errno::EBADF, "no open folder"))
        }
        Via::Lookup => {
            let p = at.parent().unwrap_or(Path::new("/"));
            let fd = inroot::open(root(h)?, p, OFlag::O_RDONLY | OFlag::O_DIRECTORY, no_symlinks)
                .map_err(|e| Failure::new(e, format!("cannot open {} in the rootfs", p.display())))?;
            let fd: &'h OwnedFd = Option::insert(opened, fd);
            Ok(fd.as_fd())
        }
    }
}

pub fn mount_point(at: &Path, dir: bool, no_symlinks: bool, via: Via, h: &Handles) -> Result<(), Failure> {
    let mut opened = None;
    inroot::make(parent(at, via, no_symlinks, h, &mut opened)?, at, dir, no_symlinks)
}

pub fn symlink_in(target: &str, at: &Path, via: Via, h: &Handles) -> Result<(), Failure> {
    let name = at.file_name().ok_or(Errno::EINVAL)?;
    let mut opened = None;
    nix::unistd::symlinkat(target, parent(at, via, false, h, &mut opened)?, name)?;
    Ok(())
}

/// OpenDir: the folder the next entries are made in.
pub fn open_dir(at: &Path, no_symlinks: bool, h: &mut Handles) -> Result<(), Failure> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
    let fd = inroot::open(root(h)?, at, flags, no_symlinks)
        .map_err(|e| Failure::new(e, format!("cannot open {} in the rootfs", at.display())))?;
    h.dir = Some(fd);
    Ok(())
}

pub fn chdir(path: &Path) -> Result<(), Failure> {
    nix::unistd::chdir(path).map_err(|e| Failure::new(e, format!("cannot enter {}", path.display())))
}

pub fn pivot_root() -> Result<(), Failure> {
    nix::unistd::pivot_root(".", ".")?;
    Ok(())
}

pub fn umount2(target: &Path, flags: MntFlags) -> Result<(), Failure> {
    nix::mount::umount2(target, flags)?;
    Ok(())
}

/// fchdir to the jail's root (opened before setns) and chroot there.
pub fn chroot(h: &Handles) -> Result<(), Failure> {
    nix::unistd::fchdir(root(h)?)?;
    nix::unistd::chroot(".")?;
    nix::unistd::chdir("/")?;
    Ok(())
}

/// /dev/null, opened O_PATH, must be the real char 1:3: a bind of anything else over a masked
/// path would unmask it (the runc CVE-2025-31133 class).
pub fn open_null(path: &Path, h: &mut Handles) -> Result<(), Failure> {
    let fd = nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())?;
    let st = nix::sys::stat::fstat(&fd)?;
    let is_char = nix::sys::stat::SFlag::from_bits_truncate(st.st_mode) & nix::sys::stat::SFlag::S_IFMT
        == nix::sys::stat::SFlag::S_IFCHR;
    if !is_char || crate::sys::major_minor(st.st_rdev) != (1, 3) {
        let msg = format!("{} is not the char device 1:3", path.display());
        return Err(Failure::new(Errno::EPERM, msg));
    }
    h.nullfd = Some(fd);
    Ok(())
}

/// A folder: an empty read-only tmpfs over it (the first), or bound over it (the others); a
/// file: /dev/null bound over it.
/// The step's `$fd = openat2(rootfd, at, O_PATH)`: the descriptor its condition's lookup made
/// (`if it exists in the jail`), or made now.
fn found(at: &Path, h: &mut Handles) -> Result<OwnedFd, Failure> {
    match h.found.take() {
        Some(fd) => Ok(fd),
        None => inroot::open(root(h)?, at, OFlag::O_PATH, false)
            .map_err(|e| Failure::new(e, format!("cannot open {} in the rootfs", at.display()))),
    }
}

pub fn mask(at: &Path, h: &mut Handles) -> Result<(), Failure> {
    let fd = found(at, h)?;
    let target = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    let st = nix::sys::stat::fstat(&fd)?;
    let dir = nix::sys::stat::SFlag::from_bits_truncate(st.st_mode) & nix::sys::stat::SFlag::S_IFMT
        == nix::sys::stat::SFlag::S_IFDIR;
    if let (true, Some(fs)) = (dir, &h.maskfs) {
        // A bind keeps the mount's flags: read-only, nosuid, nodev, noexec, as the tmpfs is.
        let source = PathBuf::from(format!("/proc/self/fd/{}", fs.as_raw_fd()));
        nix::mount::mount(Some(&source), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)?;
    } else if dir {
        let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        nix::mount::mount(Some("tmpfs"), &target, Some("tmpfs"), flags, Some("nr_inodes=1,mode=0555"))?;
        // The tmpfs is on top now: opened again, the path leads to its root.
        h.maskfs = Some(found(at, h)?);
    } else {
        let null = h.nullfd.as_ref().ok_or_else(|| Failure::new(Errno::EBADF, "no checked /dev/null"))?;
        let source = PathBuf::from(format!("/proc/self/fd/{}", null.as_raw_fd()));
        nix::mount::mount(Some(&source), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)?;
    }
    Ok(())
}

/// Bound onto itself, then made read-only with mount_setattr, which keeps its other flags
/// (a remount would have to name nosuid, nodev, noexec again, and would drop them if it missed one).
pub fn read_only(at: &Path, h: &mut Handles) -> Result<(), Failure> {
    let fd = found(at, h)?;
    let p = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    nix::mount::mount(Some(&p), &p, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)?;
    // The bind is on top now: opened again, the path leads to it.
    let top = found(at, h)?;
    crate::sys::mount_setattr(Some(top.as_fd()), c"", true, crate::sys::MOUNT_ATTR_RDONLY)?;
    Ok(())
}

pub fn setattr(target: &Target, set: u64, recursive: bool, h: &Handles) -> Result<(), Failure> {
    match target {
        Target::InRoot(p) if p == Path::new("/") => {
            crate::sys::mount_setattr(Some(root(h)?.as_fd()), c"", recursive, set)?
        }
        Target::InRoot(p) => {
            let fd = inroot::open(root(h)?, p, OFlag::O_PATH, false)?;
            crate::sys::mount_setattr(Some(fd.as_fd()), c"", recursive, set)?
        }
        Target::Path(p) => {
            let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
            crate::sys::mount_setattr(None, &c, recursive, set)?
        }
    }
    Ok(())
}

/// A namespaced sysctl, through the jail's own /proc (resolved in the rootfs).
pub fn sysctl(key: &str, value: &str, h: &Handles) -> Result<(), Failure> {
    let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
    let fd = inroot::open(root(h)?, &path, OFlag::O_WRONLY, false)
        .map_err(|e| Failure::new(e, format!("cannot open {} in the jail", path.display())))?;
    nix::unistd::write(&fd, value.as_bytes())?;
    Ok(())
}

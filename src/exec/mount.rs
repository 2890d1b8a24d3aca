//! The rootfs and the mount table: rootfd, mount points in the rootfs, mount, pivot_root,
//! umount2, chdir, chroot.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};

use super::ctx::{Done, Handles};
use super::inroot;
use crate::error::Failure;
use crate::plan::Target;

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

pub fn mount_point(at: &Path, dir: bool, no_symlinks: bool, h: &Handles) -> Result<(), Failure> {
    inroot::make(root(h)?, at, dir, no_symlinks)
}

pub fn symlink_in(target: &str, at: &Path, h: &Handles) -> Result<(), Failure> {
    let parent = at.parent().unwrap_or(Path::new("/"));
    let name = at.file_name().ok_or(Errno::EINVAL)?;
    let dir = inroot::open(root(h)?, parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY, false)?;
    nix::unistd::symlinkat(target, &dir, name)?;
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

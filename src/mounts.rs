//! Mounts: the child's mount table, from a slave copy of the host's to the jail's own root.
//!
//! Order (as runc and bubblewrap do it): make `/` a recursive slave so nothing propagates back
//! to the host; bind the rootfs onto itself so it is a mount point; the default /proc, /dev
//! (with devpts and shm) and /sys; the jail's own mounts; pivot_root into the rootfs and detach
//! the old root; remount the root read-only if asked.
//!
//! Every target inside the rootfs is resolved against the rootfs (see [`crate::exec::inroot`]),
//! so a symlink in the rootfs never leads a mount, a mkdir or a file outside it.

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use crate::plan::{Builder, Op, RootPath, Side};
use crate::spec::{MountSpec, Origin, Spec};

/// Host device nodes bound into the jail's /dev.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];
/// Links in the jail's /dev: (name, target).
pub const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

fn at(spec: &Spec, path: &str) -> RootPath {
    RootPath { root: spec.rootfs.clone(), path: PathBuf::from(path) }
}

fn mount_in(
    at: RootPath,
    source: Option<&str>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Op {
    Op::Mount {
        source: source.map(String::from),
        target: at.host(),
        target_in_root: Some(at),
        fstype: fstype.map(String::from),
        flags,
        data: data.map(String::from),
    }
}

/// mount(2) on a path of the child's own view (`/`), not resolved in the rootfs.
fn mount_at(target: &str, source: Option<String>, flags: MsFlags) -> Op {
    Op::Mount { source, target: target.into(), target_in_root: None, fstype: None, flags, data: None }
}

/// Phase "mounts" (child).
pub fn plan_mounts(b: &mut Builder, spec: &Spec) {
    b.phase("mounts", Side::Child);
    let d = Origin::Default;
    let root = spec.rootfs.clone();
    b.step(mount_at("/", None, MsFlags::MS_REC | MsFlags::MS_SLAVE), d.clone());
    let root_str = root.to_string_lossy().into_owned();
    let bind = mount_at(&root_str, Some(root_str.clone()), MsFlags::MS_BIND | MsFlags::MS_REC);
    b.step(bind, spec.rootfs_origin.clone());
    b.step(Op::OpenRoot { path: root.clone() }, d.clone());
    plan_defaults(b, spec);
    for m in &spec.mounts {
        plan_mount(b, spec, &m.spec, &m.origin);
    }
}

fn plan_defaults(b: &mut Builder, spec: &Spec) {
    let d = Origin::Default;
    let nosuid_nodev_noexec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if spec.defaults.proc {
        b.step(Op::MountPoint { at: at(spec, "/proc"), dir: true }, d.clone());
        b.step(mount_in(at(spec, "/proc"), Some("proc"), Some("proc"), nosuid_nodev_noexec, None), d.clone());
    }
    if spec.defaults.dev {
        b.step(Op::MountPoint { at: at(spec, "/dev"), dir: true }, d.clone());
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME;
        b.step(
            mount_in(at(spec, "/dev"), Some("tmpfs"), Some("tmpfs"), flags, Some("mode=755,size=65536k")),
            d.clone(),
        );
        for dev in DEVICES {
            let target = at(spec, &format!("/dev/{dev}"));
            b.step(Op::MountPoint { at: target.clone(), dir: false }, d.clone());
            let source = format!("/dev/{dev}");
            b.step(mount_in(target, Some(&source), None, MsFlags::MS_BIND, None), d.clone());
        }
        for (name, target) in DEV_LINKS {
            if *name == "ptmx" && !spec.defaults.devpts {
                continue;
            }
            b.step(
                Op::SymlinkIn { target: target.to_string(), at: at(spec, &format!("/dev/{name}")) },
                d.clone(),
            );
        }
        if spec.defaults.devpts {
            b.step(Op::MountPoint { at: at(spec, "/dev/pts"), dir: true }, d.clone());
            let data = "newinstance,ptmxmode=0666,mode=0620";
            b.step(
                mount_in(
                    at(spec, "/dev/pts"),
                    Some("devpts"),
                    Some("devpts"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
                    Some(data),
                ),
                d.clone(),
            );
        }
        if spec.defaults.shm {
            b.step(Op::MountPoint { at: at(spec, "/dev/shm"), dir: true }, d.clone());
            b.step(
                mount_in(
                    at(spec, "/dev/shm"),
                    Some("shm"),
                    Some("tmpfs"),
                    nosuid_nodev_noexec,
                    Some("mode=1777,size=65536k"),
                ),
                d.clone(),
            );
        }
    }
    if spec.defaults.sysfs {
        b.step(Op::MountPoint { at: at(spec, "/sys"), dir: true }, d.clone());
        let flags = MsFlags::MS_RDONLY | nosuid_nodev_noexec;
        b.step(mount_in(at(spec, "/sys"), Some("sysfs"), Some("sysfs"), flags, None), d);
    }
}

fn plan_mount(b: &mut Builder, spec: &Spec, m: &MountSpec, origin: &Origin) {
    match m {
        MountSpec::Bind { source, target, readonly, is_dir } => {
            let t = RootPath { root: spec.rootfs.clone(), path: target.clone() };
            b.step(Op::MountPoint { at: t.clone(), dir: *is_dir }, origin.clone());
            let src = source.to_string_lossy().into_owned();
            b.step(
                mount_in(t.clone(), Some(&src), None, MsFlags::MS_BIND | MsFlags::MS_REC, None),
                origin.clone(),
            );
            if *readonly {
                let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
                b.step(mount_in(t, None, None, flags, None), origin.clone());
            }
        }
        MountSpec::Tmpfs { target, size, mode, readonly } => {
            let t = RootPath { root: spec.rootfs.clone(), path: target.clone() };
            b.step(Op::MountPoint { at: t.clone(), dir: true }, origin.clone());
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            if *readonly {
                flags |= MsFlags::MS_RDONLY;
            }
            let mut data = format!("mode={mode:o}");
            if let Some(size) = size {
                data.push_str(&format!(",size={}", size.0));
            }
            b.step(mount_in(t, Some("tmpfs"), Some("tmpfs"), flags, Some(&data)), origin.clone());
        }
    }
}

/// Phase "pivot" (child): into the rootfs, old root detached, hostname, working directory.
pub fn plan_pivot(b: &mut Builder, spec: &Spec) {
    b.phase("pivot", Side::Child);
    let d = Origin::Default;
    b.step(Op::Chdir { path: spec.rootfs.clone() }, d.clone());
    b.step(Op::PivotRoot { new_root: spec.rootfs.clone() }, d.clone());
    b.step(Op::Umount2 { target: ".".into(), flags: MntFlags::MNT_DETACH }, d.clone());
    b.step(Op::Chdir { path: "/".into() }, d.clone());
    if spec.rootfs_readonly {
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
        b.step(mount_at("/", None, flags), spec.rootfs_origin.clone());
    }
    b.step(Op::CloseRoot, d.clone());
    crate::namespaces::plan_hostname(b, spec);
}

/// The host path of a path in the jail.
pub fn host_path(root: &Path, in_jail: &Path) -> PathBuf {
    root.join(in_jail.strip_prefix("/").unwrap_or(in_jail))
}

// ---- performing the steps ----

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::exec::{Ctx, Failure, StepResult, inroot};

fn root(ctx: &Ctx) -> Result<&std::os::fd::OwnedFd, Failure> {
    ctx.rootfd.as_ref().ok_or_else(|| Failure::new(Errno::EBADF, "the rootfs is not open"))
}

pub fn mount(
    source: Option<&str>,
    target: &Path,
    in_root: Option<&RootPath>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    ctx: &Ctx,
) -> StepResult {
    // A target in the rootfs is opened there (no symlink leads out) and mounted on through
    // its descriptor, as runc does.
    let (_fd, target) = match in_root {
        Some(at) => {
            let fd = inroot::open(root(ctx)?, &at.path, OFlag::O_PATH, false)?;
            let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            (Some(fd), path)
        }
        None => (None, target.to_path_buf()),
    };
    nix::mount::mount(source, &target, fstype, flags, data)?;
    Ok(())
}

pub fn open_root(path: &Path, ctx: &mut Ctx) -> StepResult {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::open(path, flags, nix::sys::stat::Mode::empty())?;
    ctx.rootfd = Some(fd);
    Ok(())
}

pub fn mount_point(at: &RootPath, dir: bool, ctx: &Ctx) -> StepResult {
    let real_dir = at.path == Path::new("/proc") || at.path == Path::new("/dev");
    inroot::make(root(ctx)?, &at.path, dir, real_dir)
}

pub fn symlink_in(target: &str, at: &RootPath, ctx: &Ctx) -> StepResult {
    let parent = at.path.parent().unwrap_or(Path::new("/"));
    let name = at.path.file_name().ok_or(Errno::EINVAL)?;
    let dir = inroot::open(root(ctx)?, parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY, false)?;
    match nix::unistd::symlinkat(target, dir, name) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub fn chdir(path: &Path) -> StepResult {
    nix::unistd::chdir(path).map_err(|e| Failure::new(e, format!("cannot enter {}", path.display())))
}

pub fn pivot_root() -> StepResult {
    nix::unistd::pivot_root(".", ".")?;
    Ok(())
}

pub fn umount2(target: &Path, flags: MntFlags) -> StepResult {
    nix::mount::umount2(target, flags)?;
    Ok(())
}

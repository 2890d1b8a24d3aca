//! Making a rootfs from the host's static busybox (Debian's `busybox-static`): a few folders,
//! the binary, and a symlink per applet. Planned as steps like everything else.

use std::path::Path;

use crate::plan::{Builder, Op, Side};
use crate::spec::Origin;

/// Where Debian's busybox-static puts the binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// The applets linked into /bin: the ones a shell session and the experiments use.
pub const APPLETS: &[&str] = &[
    "[",
    "[[",
    "ash",
    "awk",
    "base64",
    "basename",
    "cat",
    "chmod",
    "chown",
    "chroot",
    "cmp",
    "cp",
    "cut",
    "date",
    "dd",
    "df",
    "diff",
    "dirname",
    "dmesg",
    "du",
    "echo",
    "env",
    "expr",
    "false",
    "fallocate",
    "find",
    "free",
    "grep",
    "head",
    "hexdump",
    "hostname",
    "id",
    "ip",
    "kill",
    "killall",
    "less",
    "ln",
    "ls",
    "md5sum",
    "mkdir",
    "mkfifo",
    "mknod",
    "mktemp",
    "more",
    "mount",
    "mv",
    "nc",
    "nproc",
    "nsenter",
    "od",
    "pidof",
    "printf",
    "ps",
    "pwd",
    "readlink",
    "realpath",
    "rm",
    "rmdir",
    "sed",
    "seq",
    "setsid",
    "sh",
    "sha256sum",
    "sleep",
    "sort",
    "stat",
    "strings",
    "sync",
    "tail",
    "tar",
    "tee",
    "test",
    "timeout",
    "top",
    "touch",
    "tr",
    "true",
    "truncate",
    "tty",
    "umount",
    "uname",
    "uniq",
    "unshare",
    "uptime",
    "usleep",
    "vi",
    "watch",
    "wc",
    "which",
    "whoami",
    "xargs",
    "yes",
];

/// The folders of the rootfs, made before the binary is copied in.
pub const DIRS: &[&str] = &["bin", "dev", "etc", "proc", "root", "sys", "tmp", "usr", "usr/bin", "var"];

/// The folders above `root` that do not exist yet, outermost first (read from the host once,
/// when the jail file is validated).
pub fn missing_parents(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = root
        .ancestors()
        .skip(1)
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .map(Path::to_path_buf)
        .collect();
    out.reverse();
    out
}

/// Adds the steps that make a busybox rootfs at `root`, after its missing `parents`.
pub fn plan(b: &mut Builder, root: &Path, parents: &[std::path::PathBuf], origin: &Origin) {
    b.phase("rootfs", Side::Parent);
    for p in parents {
        b.step(Op::Mkdir { path: p.clone(), mode: 0o755, exist_ok: true }, origin.clone());
    }
    b.step(Op::Mkdir { path: root.to_path_buf(), mode: 0o755, exist_ok: false }, origin.clone());
    for d in DIRS {
        let mode = if *d == "tmp" { 0o1777 } else { 0o755 };
        b.step(Op::Mkdir { path: root.join(d), mode, exist_ok: false }, origin.clone());
    }
    b.step(Op::CopyFile { from: BUSYBOX.into(), to: root.join("bin/busybox"), mode: 0o755 }, origin.clone());
    let names = APPLETS.iter().map(|s| s.to_string()).collect();
    b.step(Op::Symlinks { target: "busybox".into(), dir: root.join("bin"), names }, origin.clone());
}

// ---- performing the steps ----

use std::os::unix::fs::PermissionsExt;

use nix::errno::Errno;

use crate::exec::{Failure, StepResult};

pub fn mkdir(path: &Path, mode: u32, exist_ok: bool) -> StepResult {
    match std::fs::create_dir(path) {
        Ok(()) => {
            // The umask may have taken bits (1777 for /tmp): set the mode as planned.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            Ok(())
        }
        Err(e) if exist_ok && e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub fn copy_file(from: &Path, to: &Path, mode: u32) -> StepResult {
    if !from.exists() {
        return Err(Failure::new(
            Errno::ENOENT,
            format!("{} is missing: apt-get install busybox-static", from.display()),
        ));
    }
    std::fs::copy(from, to)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

pub fn symlinks(target: &str, dir: &Path, names: &[String]) -> StepResult {
    for name in names {
        std::os::unix::fs::symlink(target, dir.join(name)).map_err(|e| Failure::from(e).with_detail(name))?;
    }
    Ok(())
}

//! Making a rootfs from the host's static busybox (Debian's `busybox-static`): a few folders,
//! the binary, and a symlink per applet. Planned as steps like everything else; the plan that
//! uses it starts with umask(0), so each mode here is the mode made.

use std::path::Path;

use crate::plan::{Builder, Op};
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

/// Adds the steps that make a busybox rootfs at `root`, after its missing `parents`, to the
/// current phase (on the parent side).
pub fn plan(b: &mut Builder, root: &Path, parents: &[std::path::PathBuf], origin: &Origin) {
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

//! What a failed step means for the person reading it: a hint for the call and the errno, and
//! the exit code procjail ends with. Next to the ops, so each op's meaning is in one place.

use nix::errno::Errno;

use super::Op;
use crate::error::{EXIT_CANNOT_EXEC, EXIT_FAILED, EXIT_NOT_FOUND};

impl Op {
    /// The exit code of `up` when this step fails: 127 and 126 for an execve, as a shell says
    /// them; 125 for everything else.
    pub fn exit_code(&self, e: Errno) -> i32 {
        match (self, e) {
            (Op::Execve { .. }, Errno::ENOENT) => EXIT_NOT_FOUND,
            (Op::Execve { .. }, _) => EXIT_CANNOT_EXEC,
            _ => EXIT_FAILED,
        }
    }
}

/// A hint for a failed step, specific to the call and the errno. `root`: whether procjail runs
/// as root (EPERM means something else when it does not).
pub fn hint(op: &Op, e: Errno, root: bool) -> Option<String> {
    let h = match (op, e) {
        (_, Errno::EPERM) if !root => "procjail needs root: run it with sudo",
        (Op::PivotRoot, Errno::EINVAL) => {
            "pivot_root needs the new root to be a mount point that is not shared, on a root that is not the initramfs rootfs"
        }
        (Op::Mount { .. }, Errno::ENOENT) => "the source or the target is missing",
        (Op::Mount { .. }, Errno::EPERM) => "a missing capability (CAP_SYS_ADMIN), or a locked mount",
        (Op::Mount { .. }, Errno::ENODEV) => "this kernel does not have that filesystem type",
        (Op::MountPoint { .. }, Errno::ELOOP) => "replace the symlink with a directory in the rootfs",
        (Op::MountPoint { .. }, Errno::EROFS) => {
            "the rootfs is on a read-only filesystem: create the mount point in it first"
        }
        (Op::MountPoint { .. }, Errno::ENOENT) => "a folder above the mount point is missing in the rootfs",
        (Op::Write { .. }, Errno::ENOENT) => {
            "the cgroup file is missing: is the controller enabled on this host?"
        }
        (Op::Write { .. }, Errno::EINVAL) => "the kernel refused the value for this cgroup file",
        (Op::Write { .. }, Errno::EBUSY) => {
            "on cgroup v2, a cgroup with processes cannot enable controllers for its children"
        }
        (Op::Rmdir { .. }, Errno::EBUSY) => {
            "it still has processes or folders in it: a jail of this name may still run; see `procjail audit`"
        }
        (Op::Mkdir { .. }, Errno::EEXIST) => {
            "a jail of this name is running, or left over: run `procjail gc` or pick another --name"
        }
        (Op::Mkdir { .. }, Errno::ENOENT) => "the parent folder is missing",
        (Op::Lock { .. }, Errno::EWOULDBLOCK) => "pick another --name, or stop it with `procjail down NAME`",
        (Op::CopyFile { .. }, Errno::ENOENT) => "apt-get install busybox-static",
        (Op::Execve { .. }, Errno::ENOENT) => "the program is not in the rootfs: check argv[0] and PATH",
        (Op::Execve { .. }, Errno::EACCES) => "the program is not executable: chmod +x it in the rootfs",
        (Op::Sethostname { .. }, Errno::EPERM) => "sethostname needs the uts namespace and CAP_SYS_ADMIN",
        (Op::Setrlimit { .. }, Errno::EPERM) => {
            "raising a hard rlimit needs CAP_SYS_RESOURCE: lower the value in [limits]"
        }
        (Op::Clone { .. }, Errno::EPERM) => "creating namespaces needs root (CAP_SYS_ADMIN)",
        (Op::Clone { .. }, Errno::ENOSPC) => "too many namespaces: see /proc/sys/user/max_*_namespaces",
        (Op::Signal { .. }, Errno::ESRCH) => "the process is gone, or its pid now names another process",
        (Op::CheckGone { .. }, Errno::EEXIST) => "run `procjail gc` to remove what it left",
        (_, Errno::EPERM) => "not root, or a missing capability",
        _ => return None,
    };
    Some(h.to_string())
}

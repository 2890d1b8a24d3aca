//! Every `unsafe` call of procjail, each behind a small safe function with its `SAFETY:` reason.
//! The rest of the code calls these, or nix; nothing else writes `unsafe`. `memory` and `heap`:
//! the allocator and the trims of an idle jail's pages; `runtime`: the start-up and what the
//! binary needs of its libc; `fdpass`: a descriptor sent over a socket.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

pub mod fdpass;
mod heap;
pub mod memory;
mod runtime;
pub use memory::trim_idle;
pub use runtime::start;

fn check(r: libc::c_long) -> Result<libc::c_long, Errno> {
    if r < 0 { Err(Errno::last()) } else { Ok(r) }
}

/// What a fork-like call returned: in the new process, or in the old one with the new pid.
pub enum Forked {
    Child,
    Parent(Pid),
}

fn forked(r: libc::c_long) -> Result<Forked, Errno> {
    match check(r)? {
        0 => {
            memory::own_pages();
            runtime::own_tid();
            Ok(Forked::Child)
        }
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}

/// clone(2) with namespace flags (or CLONE_VFORK) and no new stack: like fork, the child goes on
/// from here.
pub fn clone_fork(flags: u64) -> Result<Forked, Errno> {
    runtime::find_tid();
    let raw = flags as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: a fork-like clone (no CLONE_VM, no new stack) of a process with one thread; the
    // child only walks plan steps and then execs or exits.
    forked(unsafe { libc::syscall(libc::SYS_clone, raw, 0usize, 0usize, 0usize, 0usize) })
}

/// CLONE_INTO_CGROUP (Linux 5.7).
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// struct clone_args of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3(2) into the cgroup2 folder `cgroup`, with namespace flags, fork-like.
pub fn clone3_into(flags: u64, cgroup: BorrowedFd<'_>) -> Result<Forked, Errno> {
    runtime::find_tid();
    let args = CloneArgs {
        flags: flags | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 without CLONE_VM and without a stack is a fork into new namespaces and the
    // given cgroup; the process has one thread; `args` outlives the call.
    forked(unsafe {
        libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>())
    })
}

/// fork(2), as clone(SIGCHLD): the child allocates from pages of its own, as every cloned one.
pub fn fork() -> Result<Forked, Errno> {
    clone_fork(0)
}

/// setgroups (when given), setresgid, setresuid, all to the same ids: the calling thread's
/// credentials, as raw syscalls. procjail's processes have one thread there, and musl's
/// wrappers would stop every thread first (signals blocked and unblocked around each call).
pub fn set_ids(uid: u32, gid: u32, groups: Option<&[u32]>) -> Result<(), (Errno, &'static str)> {
    if let Some(gs) = groups {
        // SAFETY: setgroups reads gs.len() gids from a live slice.
        check(unsafe { libc::syscall(libc::SYS_setgroups, gs.len(), gs.as_ptr()) })
            .map_err(|e| (e, "setgroups"))?;
    }
    // SAFETY: setresgid and setresuid with integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map_err(|e| (e, "setresgid"))?;
    // SAFETY: as above.
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map_err(|e| (e, "setresuid"))?;
    Ok(())
}

pub const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

/// close_range(2).
pub fn close_range(first: u32, last: u32, flags: u32) -> Result<(), Errno> {
    // SAFETY: closes (or marks close-on-exec) descriptors of this process that nothing uses past
    // this point: the steps that call it say so.
    check(unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) }).map(drop)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// The effective, permitted and inheritable sets of this process (capget, v3: 64 bits each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

pub fn capget() -> Result<Caps, Errno> {
    let mut header = CapHeader { version: CAP_V3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: a v3 header and the two data words the v3 ABI writes.
    check(unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) })?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(Caps {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

pub fn capset(caps: Caps) -> Result<(), Errno> {
    let mut header = CapHeader { version: CAP_V3, pid: 0 };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e, p, i) = (split(caps.effective), split(caps.permitted), split(caps.inheritable));
    let data = [
        CapData { effective: e.0, permitted: p.0, inheritable: i.0 },
        CapData { effective: e.1, permitted: p.1, inheritable: i.1 },
    ];
    // SAFETY: a v3 header and two data words, as the ABI says; the kernel only reads them.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) }).map(drop)
}

/// prctl(PR_CAPBSET_DROP, cap).
pub fn capbset_drop(cap: u32) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } as libc::c_long)
        .map(drop)
}

/// pidfd_open(2).
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open returns a new descriptor or -1.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the descriptor was just returned to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// pidfd_send_signal(2), without a siginfo.
pub fn pidfd_send_signal(fd: BorrowedFd<'_>, sig: Signal) -> Result<(), Errno> {
    // SAFETY: a valid pidfd, a null siginfo, no flags.
    check(unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), sig as i32, 0usize, 0u32) })
        .map(drop)
}

/// sigtimedwait(2) on `set`; None on timeout. `timeout` None: wait for ever.
pub fn sigtimedwait(set: &SigSet, timeout: Option<Duration>) -> Option<Signal> {
    let ts = timeout.map(|d| libc::timespec { tv_sec: d.as_secs() as i64, tv_nsec: d.subsec_nanos() as i64 });
    let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: siginfo_t is plain data; all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers for the call's duration.
    let sig = unsafe { libc::sigtimedwait(set.as_ref(), &mut info, tsp) };
    Signal::try_from(sig).ok()
}

/// wait4(pid, WNOHANG) with rusage: None while it runs, else its wait status and usage.
pub fn wait4_nohang(pid: Pid) -> Result<Option<(i32, libc::rusage)>, Errno> {
    let mut status = 0;
    // SAFETY: rusage is plain data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers for the call's duration.
    match unsafe { libc::wait4(pid.as_raw(), &mut status, libc::WNOHANG, &mut usage) } {
        0 => Ok(None),
        -1 => Err(Errno::last()),
        _ => Ok(Some((status, usage))),
    }
}

/// flock(2) on a descriptor of ours.
pub fn flock(fd: BorrowedFd<'_>, op: libc::c_int) -> Result<(), Errno> {
    // SAFETY: flock on a descriptor we hold for the call's duration.
    check(unsafe { libc::flock(fd.as_raw_fd(), op) } as libc::c_long).map(drop)
}

/// rt_sigaction(sig, SIG_DFL), the raw syscall: libc refuses the signals it keeps for itself
/// (glibc 32 and 33, musl 32 to 34), and the jail's command should get those back too.
pub fn default_action(sig: i32) -> Result<(), Errno> {
    // SAFETY: sigaction is plain data; all-zero is SIG_DFL with an empty mask.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = libc::SIG_DFL;
    // SAFETY: a valid sigaction; the kernel's sigset is 8 bytes.
    check(unsafe {
        libc::syscall(libc::SYS_rt_sigaction, sig, &act as *const libc::sigaction, 0usize, 8usize)
    })
    .map(drop)
}

/// copy_file_range(2) of up to `len` bytes at the files' offsets; the bytes copied.
pub fn copy_file_range(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> Result<usize, Errno> {
    // SAFETY: two descriptors we hold; null offsets use and advance the files' own.
    let n = unsafe {
        libc::copy_file_range(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            0,
        )
    };
    check(n as libc::c_long).map(|n| n as usize)
}

/// _exit(2): no destructors, no atexit handlers, no flushing of what the parent buffered.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: ends the process at once; nothing after it runs.
    unsafe { libc::_exit(code) }
}

/// kill(-1, sig): from PID 1 of a pid namespace, every other process in it.
pub fn kill_all(sig: Signal) {
    // SAFETY: kill with integer arguments only.
    unsafe { libc::kill(-1, sig as i32) };
}

/// The major and minor numbers of a device number (st_dev, st_rdev).
pub fn major_minor(dev: u64) -> (u64, u64) {
    (libc::major(dev) as u64, libc::minor(dev) as u64)
}

/// prctl with one or two integer arguments.
pub fn prctl(option: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) } as libc::c_long)
        .map(drop)
}

/// seccomp(SECCOMP_SET_MODE_FILTER, 0, prog): `code` is the program as the kernel takes it.
pub fn seccomp_filter(code: &[u8]) -> Result<(), Errno> {
    #[repr(C)]
    struct Fprog {
        len: u16,
        filter: *const u8,
    }
    let prog = Fprog { len: (code.len() / 8) as u16, filter: code.as_ptr() };
    // SAFETY: a sock_fprog pointing at `code`, which outlives the call; the kernel copies it.
    check(unsafe { libc::syscall(libc::SYS_seccomp, 1u32, 0u32, &prog as *const Fprog) }).map(drop)
}

/// Mount attributes of mount_setattr(2).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// struct mount_attr of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(dirfd, "", AT_EMPTY_PATH [| AT_RECURSIVE], {attr_set}) on a descriptor, or on
/// a path when `fd` is None.
pub fn mount_setattr(
    fd: Option<BorrowedFd<'_>>,
    path: &std::ffi::CStr,
    recursive: bool,
    set: u64,
) -> Result<(), Errno> {
    let attr = MountAttr { attr_set: set, attr_clr: 0, propagation: 0, userns_fd: 0 };
    let mut flags = if recursive { libc::AT_RECURSIVE as u32 } else { 0 };
    if fd.is_some() {
        flags |= libc::AT_EMPTY_PATH as u32;
    }
    let dfd = fd.map_or(libc::AT_FDCWD, |f| f.as_raw_fd());
    // SAFETY: a valid C string and mount_attr for the call's duration.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dfd,
            path.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// bpf(BPF_PROG_LOAD) of a BPF_PROG_TYPE_CGROUP_DEVICE program; its fd.
pub fn bpf_device_program(insns: &[u64]) -> Result<OwnedFd, Errno> {
    // The first fields of union bpf_attr for BPF_PROG_LOAD; the rest must be zero.
    #[repr(C)]
    struct Load {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
        rest: [u8; 80],
    }
    let license = c"GPL";
    let attr = Load {
        prog_type: 15, // BPF_PROG_TYPE_CGROUP_DEVICE
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
        rest: [0; 80],
    };
    // SAFETY: a bpf_attr whose pointers are valid for the call; the kernel copies the program.
    let fd =
        check(unsafe { libc::syscall(libc::SYS_bpf, 5, &attr as *const Load, std::mem::size_of::<Load>()) })?;
    // SAFETY: the descriptor was just returned to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI) of a program to a cgroup.
pub fn bpf_attach_device(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<(), Errno> {
    #[repr(C)]
    struct Attach {
        target_fd: u32,
        attach_bpf_fd: u32,
        attach_type: u32,
        attach_flags: u32,
        rest: [u8; 104],
    }
    let attr = Attach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: 6,  // BPF_CGROUP_DEVICE
        attach_flags: 2, // BPF_F_ALLOW_MULTI
        rest: [0; 104],
    };
    // SAFETY: a bpf_attr valid for the call.
    check(unsafe { libc::syscall(libc::SYS_bpf, 8, &attr as *const Attach, std::mem::size_of::<Attach>()) })
        .map(drop)
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new anonymous session keyring.
pub fn join_session_keyring() -> Result<(), Errno> {
    // SAFETY: keyctl with an integer and a null name.
    check(unsafe { libc::syscall(libc::SYS_keyctl, 1, std::ptr::null::<libc::c_char>()) }).map(drop)
}

/// ioctl(SIOCSIFFLAGS, IFF_UP) on the interface `name`, through a socket of the current
/// network namespace.
pub fn link_up(sock: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes().take(libc::IFNAMSIZ - 1)) {
        *d = s as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = libc::IFF_UP as libc::c_short;
    // SAFETY: a valid socket and ifreq for the call's duration.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req as *const libc::ifreq) }
        as libc::c_long)
    .map(drop)
}

/// The mount a descriptor is on (its id, as mountinfo's first field) and whether it is that
/// mount's root: statx(STATX_MNT_ID), STATX_ATTR_MOUNT_ROOT.
pub fn mount_of(fd: BorrowedFd<'_>) -> Result<(u64, bool), Errno> {
    // SAFETY: statx is plain data; all-zero is a valid value.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor, an empty C string and a statx to fill.
    let r = unsafe {
        libc::statx(fd.as_raw_fd(), c"".as_ptr(), libc::AT_EMPTY_PATH, libc::STATX_MNT_ID, &mut st)
    };
    check(r as libc::c_long)?;
    let root = st.stx_attributes_mask & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0
        && st.stx_attributes & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0;
    Ok((st.stx_mnt_id, root))
}

/// The width of the terminal on `fd`, in columns (TIOCGWINSZ), if it is one and says.
pub fn terminal_columns(fd: BorrowedFd<'_>) -> Option<usize> {
    let mut size = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct it is given, which lives here.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    (r == 0 && size.ws_col > 0).then_some(size.ws_col as usize)
}

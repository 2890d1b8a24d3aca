//! Namespaces: clone into new ones, unshare, setns into a running jail's, sethostname.

use std::os::fd::AsFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use super::ctx::{Done, Handles, Journal};
use crate::error::Failure;
use crate::plan::Side;
use crate::sys::{self, Forked};

/// clone(2) (or clone3 into a cgroup2 folder) without a new stack: like fork, the child goes on
/// from here with a copy of the supervisor (which has no other threads), in its new namespaces.
pub fn clone(
    flags: CloneFlags,
    into_cgroup: Option<&Path>,
    h: &mut Handles,
    j: &mut Journal,
) -> Result<Done, Failure> {
    let bits = flags.bits() as u32 as u64;
    let forked = match into_cgroup {
        None => sys::clone_fork(bits)?,
        Some(dir) => {
            let cgroup =
                nix::fcntl::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
                    .map_err(|e| Failure::new(e, format!("cannot open {}", dir.display())))?;
            sys::clone3_into(bits, cgroup.as_fd())?
        }
    };
    match forked {
        Forked::Child => Ok(Done::Became(Side::Child)),
        Forked::Parent(pid) => {
            j.started = Some(std::time::Instant::now());
            h.child = Some(pid);
            Ok(Done::Note(format!("$CHILD_PID = {pid}")))
        }
    }
}

pub fn unshare(flags: CloneFlags) -> Result<(), Failure> {
    nix::sched::unshare(flags)?;
    Ok(())
}

pub fn sethostname(name: &str) -> Result<(), Failure> {
    nix::unistd::sethostname(name)?;
    Ok(())
}

pub fn open_proc(h: &mut Handles) -> Result<(), Failure> {
    h.procfd = Some(nix::fcntl::open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?);
    Ok(())
}

pub fn open_ns(ns: &str, path: &Path, h: &mut Handles) -> Result<(), Failure> {
    let fd = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Failure::new(e, format!("cannot open {}", path.display())))?;
    h.ns_fds.push((ns.to_string(), fd));
    Ok(())
}

pub fn setns(ns: &str, flag: CloneFlags, h: &mut Handles) -> Result<(), Failure> {
    let i = h.ns_fds.iter().position(|(n, _)| n == ns).ok_or(Errno::EBADF)?;
    let (_, fd) = h.ns_fds.remove(i);
    nix::sched::setns(&fd, flag)?;
    Ok(())
}

/// The interface up, in this process's net namespace.
pub fn link_up(name: &str) -> Result<(), Failure> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
    let sock = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
    crate::sys::link_up(sock.as_fd(), name)?;
    Ok(())
}

/// The jail's net namespace, made in this process (the supervisor): a socket and a descriptor of
/// it taken there, back to the host's net namespace whatever happened, the descriptor sent to
/// the child on the sync channel (which waits for it), then `up` brought up through the socket.
/// The namespace lives on in the descriptor alone until the child enters it: if the child is
/// gone, it goes with the last descriptor.
pub fn make_netns(up: &str, h: &Handles) -> Result<(), Failure> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
    let sync = h.sync[0].as_ref().ok_or(Errno::EBADF)?;
    let open = |path: &str| {
        nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Failure::new(e, format!("cannot open {path}")))
    };
    let host = open("/proc/self/ns/net")?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(|e| Failure::new(e, "unshare(CLONE_NEWNET)"))?;
    let sock = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None);
    let net = open("/proc/thread-self/ns/net");
    nix::sched::setns(&host, CloneFlags::CLONE_NEWNET)
        .map_err(|e| Failure::new(e, "setns back to the host's net namespace"))?;
    let (sock, net) = (sock?, net?);
    match crate::sys::fdpass::send_fd(sync.as_fd(), crate::plan::NETNS.as_bytes(), net.as_fd()) {
        Ok(()) => {}
        Err(Errno::EPIPE) => return Err(Failure::new(Errno::EPIPE, "the jail's first process is gone")),
        Err(e) => return Err(e.into()),
    }
    crate::sys::link_up(sock.as_fd(), up)?;
    Ok(())
}

/// Enters the net namespace the supervisor made ([`make_netns`]): its descriptor is the one the
/// "net" message on the sync channel carries.
pub fn join_netns(h: &Handles) -> Result<(), Failure> {
    let sync = h.sync[1].as_ref().ok_or(Errno::EBADF)?;
    let mut buf = [0u8; 16];
    let (n, fds) = crate::sys::fdpass::recv_fds(sync.as_fd(), &mut buf)?;
    if n == 0 {
        return Err(Failure::new(Errno::EPIPE, "the supervisor is gone"));
    }
    let expected = crate::plan::NETNS;
    match fds.as_slice() {
        [net] if &buf[..n] == expected.as_bytes() => {
            nix::sched::setns(net, CloneFlags::CLONE_NEWNET)?;
            Ok(())
        }
        _ => {
            let got = String::from_utf8_lossy(&buf[..n]);
            let why = format!("expected {expected:?} with one descriptor, got {got:?} with {}", fds.len());
            Err(Failure::new(Errno::EPROTO, why))
        }
    }
}

pub fn join_keyring() -> Result<(), Failure> {
    crate::sys::join_session_keyring().map_err(|e| Failure::new(e, "keyctl(KEYCTL_JOIN_SESSION_KEYRING)"))
}

/// The jail's first process, which the id map steps are about.
fn first_process(h: &Handles) -> Result<nix::unistd::Pid, Failure> {
    h.child.ok_or_else(|| Failure::new(Errno::ESRCH, "the jail's first process is not there"))
}

/// /proc/CHILD/FILE of the jail's first process: its setgroups, uid_map or gid_map.
fn child_file(file: &str, h: &Handles) -> Result<std::path::PathBuf, Failure> {
    Ok(Path::new("/proc").join(first_process(h)?.as_raw().to_string()).join(file))
}

/// Writes a map (or "deny" to setgroups) of the jail's user namespace, in one write as the
/// kernel requires.
pub fn write_id_map(file: &str, text: &str, h: &Handles) -> Result<(), Failure> {
    use std::io::Write as _;
    let path = child_file(file, h)?;
    let mut f = std::fs::OpenOptions::new().write(true).open(&path)?;
    f.write_all(text.as_bytes()).map_err(|e| {
        let why = match e.raw_os_error() {
            Some(libc::EPERM) => "the kernel refuses this map to this user (only its own id, or root)",
            _ => "",
        };
        Failure::from(e).with_detail(format!("{}: {why}", path.display()))
    })
}

/// newuidmap or newgidmap for the jail's first process: they check /etc/subuid and
/// /etc/subgid, and write what the user is granted.
pub fn id_map_helper(program: &Path, map: &[crate::spec::IdRange], h: &Handles) -> Result<(), Failure> {
    let mut args = vec![first_process(h)?.as_raw().to_string()];
    for r in map {
        args.extend([r.inside, r.outside, r.count].iter().map(u32::to_string));
    }
    let out = std::process::Command::new(program)
        .args(&args)
        .env_clear()
        .stdin(std::process::Stdio::null())
        .output()?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(Failure::new(Errno::EPERM, format!("{} {}: {said}", program.display(), args.join(" "))))
}

//! The channels between the supervisor and the jail: socketpairs, "go", and the report of a
//! failed step ("index errno detail") that the jail's side sends before it exits.

use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, SockFlag, SockType};

use super::ctx::Handles;
use crate::error::Failure;
use crate::plan::{Channel, Step};

/// The sync channel's parent end receives each message with its sender's credentials
/// (SO_PASSCRED): the pid of the command that says "ready", as the supervisor's pid namespace
/// numbers it, with no lookup in /proc.
pub fn socketpair(channel: Channel, h: &mut Handles) -> Result<(), Failure> {
    let (a, b) =
        nix::sys::socket::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
    if channel == Channel::Sync {
        nix::sys::socket::setsockopt(&a, nix::sys::socket::sockopt::PassCred, &true)?;
    }
    *h.channel(channel) = [Some(a), Some(b)];
    Ok(())
}

pub fn send(end: u8, msg: &str, h: &Handles) -> Result<(), Failure> {
    let fd = h.sync[usize::from(end)].as_ref().ok_or(Errno::EBADF)?;
    match nix::unistd::write(fd, msg.as_bytes()) {
        Ok(_) => Ok(()),
        Err(Errno::EPIPE) => Err(Failure::new(Errno::EPIPE, "the jail's first process is gone")),
        Err(e) => Err(e.into()),
    }
}

pub fn recv(end: u8, msg: &str, h: &Handles) -> Result<(), Failure> {
    let fd = h.sync[usize::from(end)].as_ref().ok_or(Errno::EBADF)?;
    let mut buf = [0u8; 64];
    let n = nix::unistd::read(fd, &mut buf)?;
    if n == 0 {
        return Err(Failure::new(Errno::EPIPE, "the supervisor is gone"));
    }
    if &buf[..n] != msg.as_bytes() {
        let got = String::from_utf8_lossy(&buf[..n]);
        return Err(Failure::new(Errno::EPROTO, format!("expected {msg:?}, got {got:?}")));
    }
    Ok(())
}

/// Tells the supervisor which step failed, on the jail's end; false when nobody listens there.
pub fn report_failure(h: &Handles, step: &Step, f: &Failure) -> bool {
    let Some(fd) = h.sync[1].as_ref() else { return false };
    let msg = format!("{} {} {}", step.index, f.errno as i32, f.detail);
    // Nothing to do if the supervisor is gone: the exit code says it too.
    let _ = nix::unistd::write(fd.as_fd(), msg.as_bytes());
    true
}

/// Parses what [`report_failure`] sent.
pub fn parse_failure(msg: &[u8]) -> Option<(usize, Failure)> {
    let text = String::from_utf8_lossy(msg);
    let mut parts = text.splitn(3, ' ');
    let index = parts.next()?.parse().ok()?;
    let errno = Errno::from_raw(parts.next()?.parse().ok()?);
    Some((index, Failure::new(errno, parts.next().unwrap_or("").to_string())))
}

/// "ready", then `NAME LINK` lines: the command's /proc/self/ns links, read by itself.
pub fn send_ready_ns(h: &Handles) -> Result<(), Failure> {
    let mut msg = crate::plan::READY.to_string();
    for n in crate::host::probe::NAMESPACES {
        if let Ok(l) = std::fs::read_link(format!("/proc/self/ns/{n}")) {
            msg.push_str(&format!("\n{n} {}", l.display()));
        }
    }
    send(1, &msg, h)
}

/// What [`send_ready_ns`] sent after "ready\n".
pub fn parse_ns(text: &[u8]) -> std::collections::BTreeMap<String, String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(n, link)| (n.to_string(), link.to_string())))
        .collect()
}

//! Capabilities, the user, no_new_privs and seccomp: what the command keeps of root's power.

use crate::error::Failure;
use crate::host::caps;
use crate::seccomp::Program;
use crate::sys;

/// Every capability up to `last` that is not kept leaves the bounding set: no execve can get
/// it back.
pub fn bounding_drop(drop: u64) -> Result<(), Failure> {
    for cap in 0..64u32 {
        if drop & (1 << cap) != 0 {
            sys::prctl(libc::PR_CAPBSET_DROP, cap.into(), 0)
                .map_err(|e| Failure::new(e, caps::names(1 << cap).join("")))?;
        }
    }
    Ok(())
}

pub fn ambient_clear() -> Result<(), Failure> {
    sys::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0)?;
    Ok(())
}

pub fn keep_caps() -> Result<(), Failure> {
    sys::prctl(libc::PR_SET_KEEPCAPS, 1, 0)?;
    Ok(())
}

pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<(), Failure> {
    sys::capset(sys::Caps { effective, permitted, inheritable })?;
    Ok(())
}

pub fn ambient_raise(set: u64) -> Result<(), Failure> {
    for cap in (0..64).filter(|c| set & (1 << c) != 0) {
        sys::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, cap)
            .map_err(|e| Failure::new(e, caps::names(1 << cap).join("")))?;
    }
    Ok(())
}

pub fn no_new_privs() -> Result<(), Failure> {
    sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0)?;
    Ok(())
}

/// Loads exactly the planned bytes.
pub fn seccomp(p: &Program) -> Result<(), Failure> {
    let code: Vec<u8> = (0..p.bytes.len() / 2)
        .map(|i| u8::from_str_radix(&p.bytes[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    sys::seccomp_filter(&code).map_err(|e| {
        let why = if e == nix::errno::Errno::EACCES {
            "loading a filter needs no_new_privs or CAP_SYS_ADMIN"
        } else {
            ""
        };
        Failure::new(e, why)
    })
}

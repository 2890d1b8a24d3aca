//! Capabilities: what the command keeps of root's.

use crate::error::Failure;
use crate::sys;

const CAP_SYS_PTRACE: u32 = 19;

/// CAP_SYS_PTRACE out of the bounding set (no exec can get it back) and out of the effective,
/// permitted and inheritable sets. Without it, root in the jail cannot get past the init's
/// PR_SET_DUMPABLE 0 to /proc/1/mem, /proc/1/exe or ptrace.
pub fn drop_ptrace() -> Result<(), Failure> {
    sys::capbset_drop(CAP_SYS_PTRACE)?;
    let mut caps = sys::capget()?;
    let bit = !(1u64 << CAP_SYS_PTRACE);
    caps.effective &= bit;
    caps.permitted &= bit;
    caps.inheritable &= bit;
    sys::capset(caps)?;
    Ok(())
}

//! Checks at the end of a walk: they read, and fail when the host is not as it should be.

use std::path::Path;

use nix::errno::Errno;

use super::Options;
use crate::error::Failure;
use crate::host::{mountinfo, read_small};
use crate::plan::Plan;

/// The host's mount table must have no mount under the rootfs that was not there before the
/// run: the jail's mounts live and die in its own mount namespace.
pub fn mounts(plan: &Plan, opts: &Options) -> Result<(), Failure> {
    let Some(root) = &plan.facts.rootfs else { return Ok(()) };
    let now = read_small("/proc/self/mountinfo")?;
    let before = mountinfo::points(&opts.mounts_before);
    let leaked: Vec<String> = mountinfo::points(&now)
        .into_iter()
        .filter(|m| !before.contains(m) && Path::new(m).starts_with(root))
        .collect();
    if leaked.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(Errno::EBUSY, format!("mounts leaked onto the host: {}", leaked.join(", "))))
    }
}

/// The path must be gone.
pub fn gone(path: &Path) -> Result<(), Failure> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
        Ok(_) => Err(Failure::new(Errno::EEXIST, format!("{} is still there", path.display()))),
    }
}

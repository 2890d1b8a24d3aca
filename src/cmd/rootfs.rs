//! `procjail rootfs busybox DIR`: makes a busybox rootfs by the same steps `from = "busybox"`
//! plans.

use std::path::Path;

use crate::config::RootfsFrom;
use crate::exec::{self, Options};
use crate::host::Host;
use crate::{build, spec};

pub fn rootfs(from: RootfsFrom, dir: &Path, trace: bool, plan_only: bool) -> anyhow::Result<i32> {
    let host = Host::detect();
    let dir = std::path::absolute(dir)?;
    let plan = match from {
        RootfsFrom::Busybox => build::rootfs(&dir, &spec::missing_parents(&dir), &host),
    };
    if plan_only {
        super::show(&plan, None);
        return Ok(0);
    }
    exec::run(&plan, &Options::traced(trace)).1?;
    eprintln!("made a busybox rootfs at {}", dir.display());
    Ok(0)
}

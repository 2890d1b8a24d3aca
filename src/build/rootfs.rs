//! The plan of `procjail rootfs busybox DIR`: only the steps that make the rootfs.

use std::path::{Path, PathBuf};

use crate::host::Host;
use crate::plan::{Builder, Facts, Op, PhaseKind, Plan, Side};
use crate::spec::Origin;

pub fn rootfs(dir: &Path, parents: &[PathBuf], host: &Host) -> Plan {
    let mut b = Builder::default();
    b.phase(PhaseKind::Rootfs, Side::Parent);
    b.step(Op::Umask { mask: 0 }, Origin::Default);
    crate::rootfs::plan(&mut b, dir, parents, &Origin::Default);
    b.finish("rootfs", dir, host, Facts::default())
}

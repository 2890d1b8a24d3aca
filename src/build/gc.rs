//! The plan of `procjail gc`: from what `audit` found on the host, the steps that remove it.
//! `procjail gc --plan` prints it without acting.

use std::path::PathBuf;

use nix::mount::MntFlags;

use crate::host::{CGROUP_PARENT, Host};
use crate::plan::{Builder, Cond, Facts, Op, PhaseKind, Plan, Side};
use crate::spec::Origin;
use crate::state::Leftover;

/// `hierarchies`: the cgroup mounts of the host; `no_jail_left`: after this, no jail has state
/// (then the empty parent folders go too; they stay while jails come and go, since removing one
/// under a jail being set up would race with it).
pub fn gc(found: &[Leftover], hierarchies: &[PathBuf], no_jail_left: bool, host: &Host) -> Plan {
    let mut b = Builder::default();
    b.phase(PhaseKind::Gc, Side::Parent);
    for l in found {
        if let Leftover::Mount(p) = l {
            let o = Origin::Found("a mount left by a killed jail".to_string());
            b.step(Op::Umount2 { target: p.clone(), flags: MntFlags::MNT_DETACH }, o);
        }
    }
    for l in found {
        if let Leftover::Cgroup { path, kill_file, .. } = l {
            let o = Origin::Found("the cgroup of a jail that is not running".into());
            b.step(Op::KillCgroup { path: path.clone(), kill_file: *kill_file }, o.clone());
            b.step(Op::WaitEmpty { path: path.clone() }, o.clone());
            b.step(Op::Rmdir { path: path.clone() }, o);
        }
    }
    for l in found {
        if let Leftover::State { files, folder, .. } = l {
            let o = Origin::Found("the state of a jail whose supervisor is gone".into());
            for f in files {
                b.step_when(Op::Unlink { path: f.clone() }, o.clone(), vec![Cond::Exists(f.clone())]);
            }
            if let Some(dir) = folder {
                b.step_when(Op::Rmdir { path: dir.clone() }, o.clone(), vec![Cond::Exists(dir.clone())]);
            }
        }
    }
    if no_jail_left {
        let o = Origin::Found("no jail is left".into());
        for h in hierarchies {
            let parent = h.join(CGROUP_PARENT);
            b.step_when(Op::Rmdir { path: parent.clone() }, o.clone(), vec![Cond::Exists(parent)]);
        }
        let root = host.state_dir.clone();
        b.step_when(Op::Rmdir { path: root.clone() }, o, vec![Cond::Exists(root)]);
    }
    b.finish("gc", &host.state_dir, host, Facts::default())
}

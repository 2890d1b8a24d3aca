//! The namespaces a jail gets and the default mounts they allow.

use super::{Defaults, Namespaces, Validator};
use crate::config::{JailFile, Sp};
use crate::diag::Diag;

impl Validator<'_> {
    pub(super) fn namespaces(&mut self, f: &JailFile) -> Namespaces {
        let n = &f.namespaces;
        if !n.mount.value {
            self.err(
                Diag::new(n.mount.span.clone(), "namespaces.mount", "a jail needs its own mount namespace")
                    .accepted("true")
                    .hint("remove the line: pivot_root and the jail's mounts need a mount namespace"),
            );
        }
        Namespaces {
            pid: n.pid.value,
            mount: n.mount.value,
            uts: n.uts.value,
            ipc: n.ipc.value,
            net: n.net.value,
            cgroup: n.cgroup.value,
            user: false,
        }
    }

    pub(super) fn defaults(&mut self, f: &JailFile, ns: &Namespaces) -> Defaults {
        let d = &f.defaults;
        let sysfs = match &d.sysfs {
            Some(s) if s.value && !ns.net => {
                self.err(
                    Diag::new(s.span.clone(), "defaults.sysfs", "sysfs needs the net namespace: it shows the network devices of the namespace that mounts it")
                        .accepted("false when namespaces.net = false")
                        .hint("turn namespaces.net on, or remove defaults.sysfs"),
                );
                false
            }
            Some(s) => s.value,
            None => ns.net,
        };
        let mqueue = self.needs(
            d.mqueue.as_ref(),
            "mqueue",
            &[(d.dev.value, "defaults.dev"), (ns.ipc, "namespaces.ipc")],
        );
        let cgroupfs = d.cgroupfs.value
            && self.needs(
                Some(&d.cgroupfs),
                "cgroupfs",
                &[(sysfs, "defaults.sysfs"), (ns.cgroup, "namespaces.cgroup")],
            );
        for (key, sp) in [("devpts", &d.devpts), ("shm", &d.shm)] {
            if sp.value && sp.span != (0..0) && !d.dev.value {
                self.err(
                    Diag::new(
                        sp.span.clone(),
                        format!("defaults.{key}"),
                        format!("/dev/{} needs the default /dev", if key == "shm" { "shm" } else { "pts" }),
                    )
                    .accepted("false when defaults.dev = false")
                    .hint(format!("set defaults.dev = true, or defaults.{key} = false")),
                );
            }
        }
        Defaults {
            proc: d.proc.value,
            dev: d.dev.value,
            devpts: d.dev.value && d.devpts.value,
            shm: d.dev.value && d.shm.value,
            sysfs,
            mqueue,
            cgroupfs,
        }
    }

    /// A default mount that needs other keys on: unset, it is on when they are; set on
    /// without them, it is an error.
    fn needs(&mut self, set: Option<&Sp<bool>>, key: &str, needed: &[(bool, &str)]) -> bool {
        let all = needed.iter().all(|(on, _)| *on);
        let Some(sp) = set else { return all };
        if sp.value && !all {
            let names: Vec<&str> = needed.iter().map(|(_, k)| *k).collect();
            let off: Vec<&str> = needed.iter().filter(|(on, _)| !on).map(|(_, k)| *k).collect();
            self.err(
                Diag::new(
                    sp.span.clone(),
                    format!("defaults.{key}"),
                    format!("defaults.{key} needs {}: {} is off", names.join(" and "), off.join(" and ")),
                )
                .accepted(format!("false when {} is off", off.join(" or ")))
                .hint(format!("turn {} on, or remove defaults.{key}", off.join(" and "))),
            );
            return false;
        }
        sp.value
    }
}

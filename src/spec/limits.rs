//! Validation of `[limits]`: cgroup limits and rlimits, against the host's hard limits.

use super::{Limit, Limits, Validator};
use crate::config::{JailFile, Size, Sp};
use crate::diag::Diag;
use crate::host::Host;

impl Validator<'_> {
    pub(super) fn limits(&mut self, f: &JailFile, host: &Host) -> Limits {
        let mut out = Limits::default();
        self.memory_limits(f, &mut out);
        self.cgroup_counts(f, &mut out);
        self.rlimits(f, host, &mut out);
        out
    }

    /// memory and memory_swap: sizes above 0, swap at least memory.
    fn memory_limits(&mut self, f: &JailFile, out: &mut Limits) {
        let l = &f.limits;
        let positive = |v: &mut Self, key: &str, sp: &Sp<Size>| -> Option<Limit<u64>> {
            if sp.value.0 == 0 {
                v.err(
                    Diag::new(
                        sp.span.clone(),
                        format!("limits.{key}"),
                        format!("a {key} limit of 0 leaves the jail nothing"),
                    )
                    .accepted("a size of 1 byte or more, like \"64MiB\"")
                    .hint(format!("remove limits.{key} for no limit")),
                );
                return None;
            }
            Some(Limit { value: sp.value.0, origin: v.origin(sp, format!("limits.{key}")) })
        };
        out.memory = l.memory.as_ref().and_then(|m| positive(self, "memory", m));
        out.memory_swap = l.memory_swap.as_ref().and_then(|m| positive(self, "memory_swap", m));
        if let Some(sw) = &l.memory_swap {
            match &out.memory {
                None => self.err(
                    Diag::new(sw.span.clone(), "limits.memory_swap", "memory_swap needs memory")
                        .accepted("memory_swap together with memory")
                        .hint("add limits.memory"),
                ),
                Some(m) if sw.value.0 < m.value => self.err(
                    Diag::new(
                        sw.span.clone(),
                        "limits.memory_swap",
                        format!("memory_swap ({}) is less than memory ({})", sw.value, Size(m.value)),
                    )
                    .accepted("memory + swap: at least `memory`"),
                ),
                _ => {}
            }
        }
    }

    /// pids, cpus and cpu_weight: within what the kernel takes.
    fn cgroup_counts(&mut self, f: &JailFile, out: &mut Limits) {
        let l = &f.limits;
        if let Some(p) = &l.pids {
            if p.value < 1 {
                self.err(
                    Diag::new(
                        p.span.clone(),
                        "limits.pids",
                        format!("pids must be 1 or more, not {}", p.value),
                    )
                    .accepted("an integer of 1 or more")
                    .hint("the jail's init and command need at least 2"),
                );
            } else {
                out.pids = Some(Limit { value: p.value as u64, origin: self.origin(p, "limits.pids") });
            }
        }
        if let Some(c) = &l.cpus {
            if !(0.01..=1024.0).contains(&c.value) {
                self.err(
                    Diag::new(
                        c.span.clone(),
                        "limits.cpus",
                        format!("cpus must be from 0.01 to 1024, not {}", c.value),
                    )
                    .accepted("a number of CPUs from 0.01 to 1024, like 0.5"),
                );
            } else {
                out.cpus = Some(Limit { value: c.value, origin: self.origin(c, "limits.cpus") });
            }
        }
        if let Some(w) = &l.cpu_weight {
            if !(1..=10000).contains(&w.value) {
                self.err(
                    Diag::new(
                        w.span.clone(),
                        "limits.cpu_weight",
                        format!("cpu_weight must be from 1 to 10000, not {}", w.value),
                    )
                    .accepted("an integer from 1 to 10000 (100 is the default share)"),
                );
            } else {
                out.cpu_weight =
                    Some(Limit { value: w.value as u64, origin: self.origin(w, "limits.cpu_weight") });
            }
        }
    }

    /// The rlimits: at least their minimum, and not above procjail's own hard limit without
    /// CAP_SYS_RESOURCE.
    fn rlimits(&mut self, f: &JailFile, host: &Host, out: &mut Limits) {
        let l = &f.limits;
        let ints = [("nofile", &l.nofile), ("nproc", &l.nproc)];
        let sizes = [("core", &l.core), ("fsize", &l.fsize), ("stack", &l.stack), ("as", &l.address_space)];
        let mut rl: Vec<(&'static str, Sp<i64>)> = Vec::new();
        for (k, v) in ints {
            if let Some(v) = v {
                rl.push((k, v.clone()));
            }
        }
        for (k, v) in sizes {
            if let Some(v) = v {
                rl.push((k, Sp::new(v.value.0.min(i64::MAX as u64) as i64, v.span.clone())));
            }
        }
        if let Some(v) = &l.cpu_time {
            rl.push(("cpu_time", Sp::new(v.value.0.div_ceil(1000) as i64, v.span.clone())));
        }
        for r in crate::host::rlimits::RLIMITS {
            let Some((key, v)) = rl.iter().find(|(k, _)| *k == r.key) else {
                continue;
            };
            let min = if *key == "nofile" { 4 } else { 0 };
            if v.value < min {
                self.err(
                    Diag::new(
                        v.span.clone(),
                        format!("limits.{key}"),
                        format!("{key} must be {min} or more, not {}", v.value),
                    )
                    .accepted(format!("an integer of {min} or more")),
                );
                continue;
            }
            if let Some(hard) = host.hard_limit(key)
                && !host.cap_sys_resource
                && v.value as u64 > hard
            {
                self.err(
                    Diag::new(v.span.clone(), format!("limits.{key}"), format!("{key} = {} is above procjail's hard limit {hard} ({}), and without CAP_SYS_RESOURCE a hard limit can only be lowered", v.value, r.name))
                        .accepted(format!("at most {hard} on this host"))
                        .hint(format!("lower it to {hard} or less, or raise the hard limit of the shell that runs procjail")),
                );
                continue;
            }
            out.rlimits.push((
                key,
                Limit { value: v.value as u64, origin: self.origin(v, format!("limits.{key}")) },
            ));
        }
    }
}

//! Validation of `[limits]`: cgroup limits and rlimits, against the host's hard limits.

use super::{Limit, Limits, Validator};
use crate::config::rules::{CPU_WEIGHT_MAX, CPU_WEIGHT_MIN, CPUS_MAX, CPUS_MIN, NOFILE_MIN};
pub use crate::config::rules::{MEMORY_MIN, PID_MAX_LIMIT};
use crate::config::{InitMode, JailFile, Size, Sp};

use crate::diag::Diag;
use crate::host::Host;

/// Below this a memory limit is legal, but warned about.
const MEMORY_SMALL: u64 = 16 << 20;

impl Validator<'_> {
    pub(super) fn limits(&mut self, f: &JailFile, host: &Host, init: InitMode) -> Limits {
        let mut out = Limits::default();
        self.memory_limits(f, &mut out);
        self.cgroup_counts(f, init, &mut out);
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
        if let (Some(m), Some(sp)) = (&out.memory, &l.memory) {
            self.memory_floor(m.value, sp);
        }
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

    /// Below docker's floor of 6 MiB a jail cannot start (the memory of its first process is
    /// charged before the command runs); below 16 MiB it is legal but likely to be OOM-killed.
    fn memory_floor(&mut self, bytes: u64, sp: &Sp<Size>) {
        if bytes < MEMORY_MIN {
            self.err(
                Diag::new(
                    sp.span.clone(),
                    "limits.memory",
                    format!("a memory limit of {} is too small to start a process in", Size(bytes).human()),
                )
                .accepted("at least 6MiB, as docker and podman require")
                .hint(if sp.value.0 < 1 << 20 && matches!(sp.value.0, 1..=65536) {
                    format!("a number is bytes: for {} MiB write \"{}MiB\"", sp.value.0, sp.value.0)
                } else {
                    "write a size with a unit, like \"64MiB\"".to_string()
                }),
            );
        } else if bytes < MEMORY_SMALL {
            self.warn(
                Diag::new(sp.span.clone(), "limits.memory", format!("a memory limit of {} is small: the init, page tables and the page cache of what the command reads count against it", Size(bytes).human()))
                    .accepted("16MiB or more runs busybox comfortably")
                    .hint("expect an OOM kill (exit 137) if the command does more than a little"),
            );
        }
    }

    /// pids, cpus and cpu_weight: within what the kernel takes.
    fn cgroup_counts(&mut self, f: &JailFile, init: InitMode, out: &mut Limits) {
        let l = &f.limits;
        if let Some(p) = &l.pids {
            let min = if init == InitMode::Builtin { 2 } else { 1 };
            if p.value < min || p.value > PID_MAX_LIMIT {
                let why = if p.value > PID_MAX_LIMIT {
                    format!(
                        "pids = {} is above the kernel's PID_MAX_LIMIT ({PID_MAX_LIMIT}): pids.max refuses it",
                        p.value
                    )
                } else if p.value >= 1 {
                    "pids = 1 leaves no room for the command: the built-in init is the first of the jail's processes".to_string()
                } else {
                    format!("pids must be 1 or more, not {}", p.value)
                };
                self.err(
                    Diag::new(p.span.clone(), "limits.pids", why)
                        .accepted(format!("an integer from {min} to {PID_MAX_LIMIT}"))
                        .hint(if p.value > PID_MAX_LIMIT {
                            "remove limits.pids for no limit"
                        } else {
                            "the jail's init and command need at least 2"
                        }),
                );
            } else {
                out.pids = Some(Limit { value: p.value as u64, origin: self.origin(p, "limits.pids") });
            }
        }
        if let Some(c) = &l.cpus {
            if !(CPUS_MIN..=CPUS_MAX).contains(&c.value) {
                self.err(
                    Diag::new(
                        c.span.clone(),
                        "limits.cpus",
                        format!("cpus must be from {CPUS_MIN} to {CPUS_MAX}, not {}", c.value),
                    )
                    .accepted(format!("a number of CPUs from {CPUS_MIN} to {CPUS_MAX}, like 0.5")),
                );
            } else {
                out.cpus = Some(Limit { value: c.value, origin: self.origin(c, "limits.cpus") });
            }
        }
        if let Some(w) = &l.cpu_weight {
            if !(CPU_WEIGHT_MIN..=CPU_WEIGHT_MAX).contains(&w.value) {
                self.err(
                    Diag::new(
                        w.span.clone(),
                        "limits.cpu_weight",
                        format!(
                            "cpu_weight must be from {CPU_WEIGHT_MIN} to {CPU_WEIGHT_MAX}, not {}",
                            w.value
                        ),
                    )
                    .accepted(format!(
                        "an integer from {CPU_WEIGHT_MIN} to {CPU_WEIGHT_MAX} (100 is the default share)"
                    )),
                );
            } else {
                out.cpu_weight =
                    Some(Limit { value: w.value as u64, origin: self.origin(w, "limits.cpu_weight") });
            }
        }
    }

    /// The rlimits: at least their minimum, soft at most hard, and the hard limit not above
    /// procjail's own without CAP_SYS_RESOURCE.
    fn rlimits(&mut self, f: &JailFile, host: &Host, out: &mut Limits) {
        let rl = f.limits.rlimits();
        for r in crate::host::rlimits::RLIMITS {
            let Some((key, v)) = rl.iter().find(|(k, _)| *k == r.key) else {
                continue;
            };
            let (soft, hard) = v.value;
            let min = if *key == "nofile" { i128::from(NOFILE_MIN) } else { 0 };
            let show = |x: i128| if x == u64::MAX as i128 { "unlimited".to_string() } else { x.to_string() };
            let problem = if soft.min(hard) < min {
                Some((
                    format!("{key} must be {min} or more, not {}", soft.min(hard)),
                    format!("an integer of {min} or more, or \"unlimited\""),
                    String::new(),
                ))
            } else if soft > hard {
                Some((
                    format!("the soft limit ({}) is above the hard limit ({})", show(soft), show(hard)),
                    "soft at most hard".to_string(),
                    "the hard limit is how far the soft one may go: raise hard or lower soft".to_string(),
                ))
            } else {
                match host.hard_limit(key) {
                    Some(h) if !host.cap_sys_resource && hard > i128::from(h) => Some((
                        format!(
                            "{key} = {} is above procjail's hard limit {h} ({}), and without CAP_SYS_RESOURCE a hard limit can only be lowered",
                            show(hard),
                            r.name
                        ),
                        format!("at most {h} on this host"),
                        format!(
                            "lower it to {h} or less, or raise the hard limit of the shell that runs procjail"
                        ),
                    )),
                    _ => None,
                }
            };
            if let Some((message, accepted, hint)) = problem {
                let mut d = Diag::new(v.span.clone(), format!("limits.{key}"), message).accepted(accepted);
                if !hint.is_empty() {
                    d = d.hint(hint);
                }
                self.err(d);
                continue;
            }
            let value = (soft as u64, hard as u64);
            out.rlimits.push((key, Limit { value, origin: self.origin(v, format!("limits.{key}")) }));
        }
    }
}

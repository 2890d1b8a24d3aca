//! Which file gets which value, on cgroup v1 and on v2: the one place that knows the names
//! (crun's `cgroup2 ? "memory.max" : "memory.limit_in_bytes"`, as a table).

use crate::spec::{Limits, Origin};

/// A controller procjail writes limits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    Memory,
    Pids,
    Cpu,
    /// v1 only: cgroup2 takes the device rules as a BPF program.
    Devices,
}

/// The CFS period procjail writes with a CPU quota, in µs.
pub const CPU_PERIOD_US: u64 = 100_000;

/// The limit files of one controller: (file, value, origin), in the order they are written.
pub fn limits(l: &Limits, c: Controller, v2: bool) -> Vec<(&'static str, String, Origin)> {
    let mut out = Vec::new();
    match c {
        Controller::Memory => {
            if let Some(m) = &l.memory {
                out.push((memory_max(v2), m.value.to_string(), m.origin.clone()));
                if let Some(s) = &l.memory_swap {
                    if v2 {
                        out.push(("memory.swap.max", (s.value - m.value).to_string(), s.origin.clone()));
                    } else {
                        out.push(("memory.memsw.limit_in_bytes", s.value.to_string(), s.origin.clone()));
                    }
                }
            }
        }
        Controller::Pids => {
            if let Some(p) = &l.pids {
                out.push(("pids.max", p.value.to_string(), p.origin.clone()));
            }
        }
        Controller::Devices => {}
        Controller::Cpu => {
            if let Some(c) = &l.cpus {
                let quota = ((c.value * CPU_PERIOD_US as f64).round() as u64).max(1000);
                if v2 {
                    out.push(("cpu.max", format!("{quota} {CPU_PERIOD_US}"), c.origin.clone()));
                } else {
                    out.push(("cpu.cfs_period_us", CPU_PERIOD_US.to_string(), c.origin.clone()));
                    out.push(("cpu.cfs_quota_us", quota.to_string(), c.origin.clone()));
                }
            }
            if let Some(w) = &l.cpu_weight {
                if v2 {
                    out.push(("cpu.weight", w.value.to_string(), w.origin.clone()));
                } else {
                    out.push(("cpu.shares", weight_to_shares(w.value).to_string(), w.origin.clone()));
                }
            }
        }
    }
    out
}

/// The memory limit file.
pub fn memory_max(v2: bool) -> &'static str {
    if v2 { "memory.max" } else { "memory.limit_in_bytes" }
}

/// Where the OOM kills are counted (`oom_kill N`).
pub fn memory_events(v2: bool) -> &'static str {
    if v2 { "memory.events" } else { "memory.oom_control" }
}

/// The peak of memory use.
pub fn memory_peak(v2: bool) -> &'static str {
    if v2 { "memory.peak" } else { "memory.max_usage_in_bytes" }
}

/// Memory in use now.
pub fn memory_current(v2: bool) -> &'static str {
    if v2 { "memory.current" } else { "memory.usage_in_bytes" }
}

/// How a cgroup is frozen and thawed without cgroup.kill: (file, frozen, thawed).
pub fn freezer(v2: bool) -> (&'static str, &'static str, &'static str) {
    if v2 { ("cgroup.freeze", "1", "0") } else { ("freezer.state", "FROZEN", "THAWED") }
}

/// cpu.weight (v2, 1..=10000) to cpu.shares (v1, 2..=262144): the inverse of the mapping
/// runc (1.3.2 and later), crun (1.23 and later) and systemd use from shares to weight,
/// `log10(weight) = (l² + 125·l) / 612 − 7/34` with `l = log2(shares)`. It maps the ends and the
/// defaults onto each other: 1 → 2, 100 → 1024 (the kernel's default shares), 10000 → 262144.
/// (The old linear formula gave 100 → 2597, 2.5 times the default.)
pub fn weight_to_shares(weight: u64) -> u64 {
    let w = weight.clamp(1, 10_000) as f64;
    let l = (-125.0 + (15_625.0 + 2_448.0 * (w.log10() + 7.0 / 34.0)).sqrt()) / 2.0;
    (2f64.powf(l).round() as u64).clamp(2, 262_144)
}

/// cpu.shares to cpu.weight as runc (1.3.2 and later), crun (1.23 and later) and systemd map
/// them: `log10(weight) = (l² + 125·l) / 612 − 7/34` with `l = log2(shares)`; 1024 → 100.
pub fn shares_to_weight(shares: u64) -> u64 {
    let l = (shares.clamp(2, 262_144) as f64).log2();
    (10f64.powf((l * l + 125.0 * l) / 612.0 - 7.0 / 34.0).round() as u64).clamp(1, 10_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares() {
        assert_eq!(super::weight_to_shares(1), 2);
        assert_eq!(super::weight_to_shares(100), 1024);
        assert_eq!(super::weight_to_shares(10000), 262_144);
        // Monotonic, and back through runc's shares → weight it lands on the same weight.
        let to_weight = super::shares_to_weight;
        assert_eq!(to_weight(1024), 100);
        let mut last = 0;
        for w in 1..=10_000 {
            let s = super::weight_to_shares(w);
            assert!(s >= last, "weight {w}: {s} < {last}");
            last = s;
            let back = to_weight(s);
            assert!(back.abs_diff(w) <= 1 + w / 100, "weight {w} → {s} shares → weight {back}");
        }
    }
}

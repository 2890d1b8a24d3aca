//! A cgroup's limits and counters, from the texts of its files (v2 and v1 names alike).

use serde::Serialize;

use crate::host::process::CgroupDir;

/// v1's "no limit" for memory: the largest multiple of the page size below i64::MAX.
const V1_UNLIMITED: u64 = 0x7fff_ffff_ffff_f000;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CgroupFact {
    /// `cgroup2`, or the v1 controllers of the hierarchy.
    pub hierarchy: String,
    /// As /proc/PID/cgroup names it.
    pub path: String,
    pub dir: String,
    /// Bytes; None: no limit (or no memory controller here).
    #[serde(with = "crate::json::limit")]
    pub memory_limit: Option<u64>,
    pub memory_now: Option<u64>,
    pub memory_peak: Option<u64>,
    /// v1 memory.failcnt: how often usage hit the limit.
    pub memory_failcnt: Option<u64>,
    /// The file it was read from, and the count: v2 memory.events, v1 memory.oom_control.
    pub oom_kills: Option<(String, u64)>,
    #[serde(with = "crate::json::limit")]
    pub pids_limit: Option<u64>,
    pub pids_now: Option<u64>,
    /// pids.events `max`: forks refused at pids.max.
    pub forks_refused: Option<u64>,
    /// (quota, period) in microseconds; None: no quota.
    pub cpu_quota: Option<(u64, u64)>,
    pub cpu_periods: Option<u64>,
    pub cpu_throttled: Option<u64>,
    /// Time throttled, in microseconds (v1's throttled_time is in nanoseconds).
    pub cpu_throttled_us: Option<u64>,
}

/// `key value` lines (memory.events, memory.oom_control, pids.events, cpu.stat).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// The limits and counters of one cgroup folder.
pub fn fact(d: &CgroupDir) -> CgroupFact {
    let file = |name: &str| d.files.get(name).map(String::as_str);
    let memory_limit = match (file("memory.max"), file("memory.limit_in_bytes")) {
        (Some(v), _) => number(v),
        (None, Some(v)) => number(v).filter(|v| *v < V1_UNLIMITED),
        _ => None,
    };
    let oom_kills = match (file("memory.events"), file("memory.oom_control")) {
        (Some(t), _) => keyed(t, "oom_kill").map(|n| ("memory.events".to_string(), n)),
        (None, Some(t)) => keyed(t, "oom_kill").map(|n| ("memory.oom_control".to_string(), n)),
        _ => None,
    };
    let cpu_quota = match (file("cpu.max"), file("cpu.cfs_quota_us"), file("cpu.cfs_period_us")) {
        (Some(max), _, _) => {
            let mut f = max.split_whitespace();
            let (q, p) = (f.next().and_then(number), f.next().and_then(number));
            q.zip(p)
        }
        (None, Some(q), Some(p)) => number(q).zip(number(p)),
        _ => None,
    };
    let stat = file("cpu.stat").unwrap_or("");
    let throttled_us =
        keyed(stat, "throttled_usec").or_else(|| keyed(stat, "throttled_time").map(|ns| ns / 1000));
    CgroupFact {
        hierarchy: d.hierarchy.clone(),
        path: d.path.clone(),
        dir: d.dir.display().to_string(),
        memory_limit,
        memory_now: file("memory.current").or(file("memory.usage_in_bytes")).and_then(number),
        memory_peak: file("memory.peak").or(file("memory.max_usage_in_bytes")).and_then(number),
        memory_failcnt: file("memory.failcnt").and_then(number),
        oom_kills,
        pids_limit: file("pids.max").and_then(number),
        pids_now: file("pids.current").and_then(number),
        forks_refused: file("pids.events").and_then(|t| keyed(t, "max")),
        cpu_quota,
        cpu_periods: keyed(stat, "nr_periods"),
        cpu_throttled: keyed(stat, "nr_throttled"),
        cpu_throttled_us: throttled_us,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::host::process::CgroupDir;

    fn dir(hierarchy: &str, files: &[(&str, &str)]) -> CgroupDir {
        let files: BTreeMap<String, String> =
            files.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        CgroupDir { hierarchy: hierarchy.into(), path: "/procjail/x".into(), dir: "/cg".into(), files }
    }

    #[test]
    fn v2_files() {
        let f = super::fact(&dir(
            "cgroup2",
            &[
                ("memory.max", "33554432\n"),
                ("memory.current", "1000\n"),
                ("memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n"),
                ("pids.max", "max\n"),
                ("pids.events", "max 5\n"),
                ("cpu.max", "20000 100000\n"),
                ("cpu.stat", "usage_usec 5\nnr_periods 30\nnr_throttled 12\nthrottled_usec 900000\n"),
            ],
        ));
        assert_eq!((f.memory_limit, f.memory_now), (Some(32 << 20), Some(1000)));
        assert_eq!(f.oom_kills, Some(("memory.events".into(), 1)));
        assert_eq!((f.pids_limit, f.forks_refused), (None, Some(5)));
        assert_eq!(f.cpu_quota, Some((20000, 100000)));
        assert_eq!((f.cpu_periods, f.cpu_throttled, f.cpu_throttled_us), (Some(30), Some(12), Some(900000)));
        let unlimited = super::fact(&dir("cgroup2", &[("memory.max", "max\n"), ("cpu.max", "max 100000\n")]));
        assert_eq!((unlimited.memory_limit, unlimited.cpu_quota), (None, None));
    }

    #[test]
    fn v1_files() {
        let mem = super::fact(&dir(
            "memory",
            &[
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.failcnt", "7\n"),
                ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            ],
        ));
        assert_eq!((mem.memory_limit, mem.memory_failcnt), (None, Some(7)));
        assert_eq!(mem.oom_kills, Some(("memory.oom_control".into(), 2)));
        let cpu = super::fact(&dir(
            "cpu",
            &[
                ("cpu.cfs_quota_us", "-1\n"),
                ("cpu.cfs_period_us", "100000\n"),
                ("cpu.stat", "nr_periods 4\nnr_throttled 3\nthrottled_time 2500000\n"),
            ],
        ));
        assert_eq!((cpu.cpu_quota, cpu.cpu_throttled, cpu.cpu_throttled_us), (None, Some(3), Some(2500)));
    }
}

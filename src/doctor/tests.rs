//! The analysis on fixture texts: /proc files as the kernel wrote them for a procjail jail's
//! command, a host process, runc's sleep, and variations of each.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::Report;
use crate::host::mountinfo;
use crate::host::probe::{Observed, Point, parse_status};
use crate::host::process::{CgroupDir, Fd, Proc, Reading};

/// A jail's command (pid 2 in its namespace) as /proc/PID/status showed it.
const JAIL_STATUS: &str = "Name:\tsleep\nState:\tS (sleeping)\nPid:\t16050\nPPid:\t16049\n\
Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\nNSpid:\t16050\t2\nSigBlk:\t0000000000000000\n\
SigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\nCapInh:\t0000000000000000\n\
CapPrm:\t00000000800405fb\nCapEff:\t00000000800405fb\nCapBnd:\t00000000800405fb\n\
CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n";

/// A root shell of the host.
const HOST_STATUS: &str = "Name:\tsleep\nState:\tS (sleeping)\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n\
Groups:\t\nNSpid:\t900\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n\
CapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n\
NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n";

/// A jail's mounts, its masks and read-only paths.
const JAIL_MOUNTS: &str = "\
67 45 254:0 /srv/rootfs / rw,nodev,relatime master:1 - ext4 /dev/vda rw
68 67 0:41 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
69 67 0:42 / /dev rw,nosuid,nodev,noexec - tmpfs tmpfs rw,size=65536k,mode=755
70 69 0:6 /null /dev/null rw,relatime - devtmpfs devtmpfs rw
78 67 0:45 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
79 68 0:46 / /proc/acpi ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs ro,nr_inodes=1,mode=555
81 68 0:6 /null /proc/kallsyms rw,relatime - devtmpfs devtmpfs rw
84 78 0:47 / /sys/firmware ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs ro,nr_inodes=1,mode=555
88 68 0:41 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw
";

/// The host's mounts: / shared with peer group 1.
const HOST_MOUNTS: &str = "\
22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw
23 27 0:22 / /sys rw,relatime shared:6 - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime shared:2 - devtmpfs devtmpfs rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
";

const LIMITS: &str = "Limit                     Soft Limit           Hard Limit           Units     \n\
Max cpu time              unlimited            unlimited            seconds   \n\
Max open files            64                   64                   files     \n\
Max processes             96367                96367                processes \n";

fn ns(ids: &[(&str, u32)]) -> BTreeMap<String, String> {
    ids.iter().map(|(n, i)| (n.to_string(), format!("{n}:[{i}]"))).collect()
}

fn host_ns() -> BTreeMap<String, String> {
    ns(&[("cgroup", 1), ("ipc", 2), ("mnt", 3), ("net", 4), ("pid", 5), ("user", 6), ("uts", 7)])
}

fn jail_ns() -> BTreeMap<String, String> {
    ns(&[("cgroup", 11), ("ipc", 12), ("mnt", 13), ("net", 14), ("pid", 15), ("user", 6), ("uts", 17)])
}

/// What the statx of each masked and read-only path would say, from a mountinfo text: the
/// deepest mount at or above it; `exists`: the paths there.
fn points(mounts: &[mountinfo::Mount], exists: &[&str]) -> BTreeMap<PathBuf, Point> {
    super::paths()
        .into_iter()
        .map(|p| {
            let path = p.display().to_string();
            let on = mounts
                .iter()
                .filter(|m| {
                    path == m.point || path.starts_with(&format!("{}/", m.point.trim_end_matches('/')))
                })
                .max_by_key(|m| m.point.len())
                .cloned()
                .map(std::rc::Rc::new);
            let mount = on.clone().filter(|m| m.point == path);
            (p, Point { exists: exists.contains(&path.as_str()), mount, on })
        })
        .collect()
}

fn reading(status: &str, mounts: &str, ns: BTreeMap<String, String>, exists: &[&str]) -> Reading {
    let parsed = mountinfo::parse(mounts);
    let points = points(&parsed, exists);
    let host_peers = mountinfo::parse(HOST_MOUNTS).iter().filter_map(|m| m.shared()).collect::<BTreeSet<_>>();
    let observed = Observed {
        pid: 16050,
        status: parse_status(status),
        ns,
        host_ns: host_ns(),
        mounts: parsed,
        host_peer_groups: host_peers,
        limits: LIMITS.into(),
        uid_map: "         0          0 4294967295\n".into(),
        gid_map: "         0          0 4294967295\n".into(),
        points,
        ..Observed::default()
    };
    let fds = ["/dev/null", "pipe:[1]", "pipe:[2]"]
        .iter()
        .enumerate()
        .map(|(i, t)| Fd { fd: i as i32, target: t.to_string(), mnt_id: t.starts_with('/').then_some(70) })
        .collect();
    Reading { observed, host_from: "pid 1's".into(), root: "/".into(), fds, ..Reading::default() }
}

const ALL_THERE: &[&str] = &["/proc/acpi", "/proc/kallsyms", "/sys/firmware", "/proc/sys"];

fn jail() -> Reading {
    let mut r = reading(JAIL_STATUS, JAIL_MOUNTS, jail_ns(), ALL_THERE);
    // Its PID 1: procjail's init, waiting in sigtimedwait.
    let init = "Name:\tprocjail\nNSpid:\t16049\t1\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000001006\nSigCgt:\t0000000000000440\n";
    r.pid1 = Some(Proc { pid: 16049, status: parse_status(init) });
    r.pid1_wchan = "do_sigtimedwait.isra.0".into();
    r.pid1_children = vec![Proc { pid: 16050, status: parse_status(JAIL_STATUS) }];
    r
}

fn ids(r: &Reading) -> Vec<&'static str> {
    Report::of(r, None).findings.iter().map(|f| f.id).collect()
}

#[test]
fn a_default_jail_has_the_facts_of_its_plan_and_no_finding() {
    let r = jail();
    let report = Report::of(&r, Some("web"));
    let f = &report.facts;
    let own: Vec<&str> = f.namespaces.iter().filter(|n| !n.shared).map(|n| n.name.as_str()).collect();
    assert_eq!(own, ["cgroup", "ipc", "mnt", "net", "pid", "uts"]);
    assert_eq!(f.caps.bounding.names.len(), 11);
    assert_eq!((f.no_new_privs, f.seccomp.mode, f.seccomp.filters), (Some(true), Some(2), Some(1)));
    assert_eq!((f.ns_pid, f.fds.open, f.fds.soft_limit), (Some(2), 3, Some(64)));
    let is = |p: &str| f.paths.iter().find(|x| x.path == p).unwrap().is.clone();
    assert_eq!(is("/proc/kallsyms"), "masked (/dev/null)");
    assert_eq!(is("/proc/acpi"), "masked (read-only tmpfs)");
    assert_eq!(is("/proc/sys"), "read-only");
    assert_eq!(is("/proc/kcore"), "absent");
    assert_eq!(f.mounts[0].propagation, "master:1");
    let p1 = f.pid1.as_ref().unwrap();
    assert!(p1.sigterm_handled && p1.sigterm.starts_with("waited for"), "{p1:?}");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_eq!(report.exit_code(), 0);
    let text = super::text::text(&report);
    assert!(text.contains("the command of jail web") && text.ends_with("no finding\n"), "{text}");
}

#[test]
fn a_host_root_process_is_judged_as_a_container_would_be() {
    let r = reading(HOST_STATUS, HOST_MOUNTS, host_ns(), &["/proc/kallsyms", "/proc/sys", "/sys/firmware"]);
    let report = Report::of(&r, None);
    assert!(report.facts.namespaces.iter().all(|n| n.shared));
    // Shared mounts and PID 1 are the host's own: not findings for a process of the host.
    assert_eq!(ids(&r), ["capabilities", "no-new-privs", "seccomp", "readonly-paths", "masked-paths"]);
    let caps = &report.findings[0];
    assert!(
        caps.what.starts_with("30 capabilities beyond podman's default 11: CAP_DAC_READ_SEARCH"),
        "{caps:?}"
    );
    let ro = report.findings.iter().find(|f| f.id == "readonly-paths").unwrap();
    assert_eq!(ro.evidence, ["/proc/16050/mountinfo: /proc/sys writable (proc /proc rw)"]);
    let masked = report.findings.iter().find(|f| f.id == "masked-paths").unwrap();
    assert_eq!(masked.evidence.len(), 2, "{masked:?}");
    assert_eq!(report.exit_code(), 1);
    let text = super::text::text(&report);
    assert!(text.contains("reproduce: procjail up jails/proc-sys-readonly-off.toml"), "{text}");
}

#[test]
fn pid1_without_a_sigterm_handler_and_its_zombies() {
    let sh = "Name:\tsh\nNSpid:\t16049\t1\nState:\tS\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000004\nSigCgt:\t0000000000010002\n";
    let mut r = jail();
    r.pid1 = Some(Proc { pid: 16049, status: parse_status(sh) });
    r.pid1_wchan = "do_wait".into();
    assert_eq!(ids(&r), ["pid1-ignores-sigterm"]);
    // An init that takes TERM by signalfd (blocked), or has a handler, or ignores it.
    for (field, mask, finding) in
        [("SigBlk", "4000", false), ("SigCgt", "4000", false), ("SigIgn", "4000", true)]
    {
        let mut r = r.clone();
        r.pid1.as_mut().unwrap().status.insert(field.into(), format!("000000000000{mask}"));
        assert_eq!(ids(&r).contains(&"pid1-ignores-sigterm"), finding, "{field}");
    }
    // Two zombies whose parent is PID 1, one whose parent is not.
    let zombie = |pid: i32, ppid: i32| Proc {
        pid,
        status: parse_status(&format!("Name:\tcat\nState:\tZ (zombie)\nPPid:\t{ppid}\n")),
    };
    r.pid1_children = vec![zombie(16060, 16049), zombie(16061, 16049), zombie(16062, 16050)];
    let report = Report::of(&r, None);
    let z = report.findings.iter().find(|f| f.id == "zombie-storm").expect("zombie-storm");
    assert!(z.what.starts_with("2 zombies under PID 1 (pid 16049, sh)"), "{z:?}");
    assert!(z.evidence[0].contains("16060 (cat), 16061 (cat)"), "{z:?}");
    // In the host's pid namespace the same PID 1 is not judged.
    r.observed.ns.insert("pid".into(), "pid:[5]".into());
    assert!(ids(&r).is_empty(), "{:?}", ids(&r));
}

fn cgroup(hierarchy: &str, files: &[(&str, &str)]) -> CgroupDir {
    CgroupDir {
        hierarchy: hierarchy.into(),
        path: "/procjail/web".into(),
        dir: format!("/sys/fs/cgroup/{hierarchy}/procjail/web").into(),
        files: files.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    }
}

#[test]
fn oom_kills_refused_forks_and_throttling_from_the_cgroup_files() {
    let mut r = jail();
    r.cgroups = vec![
        cgroup(
            "memory",
            &[("memory.limit_in_bytes", "33554432"), ("memory.oom_control", "under_oom 0\noom_kill 1\n")],
        ),
        cgroup("pids", &[("pids.max", "64"), ("pids.current", "63"), ("pids.events", "max 3\n")]),
        cgroup(
            "cpu",
            &[
                ("cpu.cfs_quota_us", "20000"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.stat", "nr_periods 13\nnr_throttled 11\nthrottled_time 738000000\n"),
            ],
        ),
    ];
    let report = Report::of(&r, None);
    let found: Vec<(&str, &str)> = report.findings.iter().map(|f| (f.id, f.evidence[0].as_str())).collect();
    assert_eq!(
        found,
        [
            ("oom-kill", "/sys/fs/cgroup/memory/procjail/web/memory.oom_control: oom_kill 1"),
            ("fork-bomb", "/sys/fs/cgroup/pids/procjail/web/pids.events: max 3"),
            ("cpu-throttle", "/sys/fs/cgroup/cpu/procjail/web/cpu.stat: nr_throttled 11, throttled 0.738 s"),
        ]
    );
    assert!(report.findings[0].what.contains("(32.0MiB)"), "{:?}", report.findings[0]);
    // The same files with zero counts: nothing.
    r.cgroups = vec![
        cgroup("memory", &[("memory.oom_control", "oom_kill 0\n")]),
        cgroup("pids", &[("pids.events", "max 0\n")]),
        cgroup(
            "cgroup2",
            &[("cpu.stat", "usage_usec 100\nnr_periods 5\nnr_throttled 0\nthrottled_usec 0\n")],
        ),
    ];
    assert!(ids(&r).is_empty());
}

#[test]
fn descriptors_near_the_limit_and_outside_the_jail() {
    let mut r = jail();
    let null = |fd: i32| Fd { fd, target: "/dev/null".into(), mnt_id: Some(70) };
    r.observed.pid = 7;
    r.fds = (0..51).map(null).collect();
    assert!(ids(&r).is_empty(), "51 of 64 is under 80%");
    r.fds = (0..52).map(null).collect();
    assert_eq!(ids(&r), ["nofile"]);
    // stdio from the host is passed in on purpose; a pipe, a memfd and a socket have no path.
    r.fds = vec![
        Fd { fd: 0, target: "/dev/null".into(), mnt_id: Some(24) },
        Fd { fd: 3, target: "pipe:[7]".into(), mnt_id: Some(14) },
        Fd { fd: 4, target: "/memfd:x (deleted)".into(), mnt_id: Some(1) },
        Fd { fd: 5, target: "socket:[9]".into(), mnt_id: Some(8) },
    ];
    assert!(ids(&r).is_empty(), "{:?}", Report::of(&r, None).findings);
    // The host's /sys/fs/cgroup (runc's CVE-2024-21626), and a host path under a chroot.
    r.fds.push(Fd { fd: 7, target: "/sys/fs/cgroup".into(), mnt_id: Some(31) });
    let report = Report::of(&r, None);
    assert_eq!(report.findings[0].id, "fd-leak");
    assert_eq!(
        report.findings[0].evidence,
        ["/proc/7/fd/7 -> /sys/fs/cgroup: fdinfo mnt_id 31 is not in its mountinfo"]
    );
    r.fds = vec![Fd { fd: 9, target: "/etc/passwd".into(), mnt_id: Some(67) }];
    r.root = "/srv/rootfs".into();
    assert_eq!(
        Report::of(&r, None).findings[0].evidence,
        ["/proc/7/fd/9 -> /etc/passwd: not under its root /srv/rootfs"]
    );
    r.fds = vec![Fd { fd: 9, target: "/srv/rootfs/etc/passwd".into(), mnt_id: Some(67) }];
    assert!(ids(&r).is_empty());
}

#[test]
fn a_mount_in_a_host_peer_group_and_a_slave_of_one() {
    let shared = format!("{JAIL_MOUNTS}90 67 0:50 / /mnt rw shared:1 - tmpfs data rw\n");
    let r = reading(JAIL_STATUS, &shared, jail_ns(), ALL_THERE);
    let report = Report::of(&r, None);
    assert_eq!(ids(&r), ["mount-propagation"]);
    assert_eq!(report.findings[0].evidence, ["/proc/16050/mountinfo: /mnt shared:1 (tmpfs data)"]);
    let slave = format!("{JAIL_MOUNTS}90 67 0:50 / /mnt rw master:1 - tmpfs data rw\n");
    assert!(ids(&reading(JAIL_STATUS, &slave, jail_ns(), ALL_THERE)).is_empty());
    // A peer group the host does not have is the jail's own business.
    let own = format!("{JAIL_MOUNTS}90 67 0:50 / /mnt rw shared:77 - tmpfs data rw\n");
    assert!(ids(&reading(JAIL_STATUS, &own, jail_ns(), ALL_THERE)).is_empty());
}

#[test]
fn the_escape_class_each_alone() {
    let base = jail();
    let with = |field: &str, value: &str| {
        let mut r = base.clone();
        r.observed.status.insert(field.into(), value.into());
        ids(&r)
    };
    assert_eq!(with("CapBnd", "00000000a02405fb"), ["capabilities"]);
    assert_eq!(with("NoNewPrivs", "0"), ["no-new-privs"]);
    assert_eq!(with("Seccomp", "0"), ["seccomp"]);
    // /proc/sys on the jail's rw /proc (readonly_paths = []), kallsyms on /proc (masked_paths = []).
    let unprotected: String =
        JAIL_MOUNTS.lines().filter(|l| !l.contains("/proc/sys ")).map(|l| format!("{l}\n")).collect();
    assert_eq!(ids(&reading(JAIL_STATUS, &unprotected, jail_ns(), ALL_THERE)), ["readonly-paths"]);
    let unmasked: String =
        JAIL_MOUNTS.lines().filter(|l| !l.contains("/proc/kallsyms ")).map(|l| format!("{l}\n")).collect();
    assert_eq!(ids(&reading(JAIL_STATUS, &unmasked, jail_ns(), ALL_THERE)), ["masked-paths"]);
    // A path the kernel does not have needs no mask.
    assert!(ids(&reading(JAIL_STATUS, &unmasked, jail_ns(), &["/proc/sys"])).is_empty());
    // A user namespace of its own whose 0 is the host's 0; one mapped to 100000 is fine.
    let mut r = base.clone();
    r.observed.ns.insert("user".into(), "user:[16]".into());
    r.observed.uid_map = "0 0 1\n".into();
    assert_eq!(ids(&r), ["userns-root"]);
    r.observed.uid_map = "0 100000 65536\n".into();
    assert!(ids(&r).is_empty());
}

#[test]
fn every_finding_names_an_experiment_of_jails_whose_row_documents_it() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("jails/README.md")).unwrap();
    for (id, experiment, _) in super::findings::TABLE {
        assert!(
            repo.join(format!("jails/{experiment}.toml")).exists(),
            "{id}: jails/{experiment}.toml is missing"
        );
        let row = readme.lines().find(|l| l.starts_with(&format!("| `{experiment}` |")));
        let row = row.unwrap_or_else(|| panic!("jails/README.md has no row for {experiment}"));
        let doctor = row.rsplit('|').nth(1).unwrap_or("");
        assert!(
            doctor.contains(&format!("`{id}`")),
            "the doctor column of {experiment}'s row names no `{id}`: {row}"
        );
    }
}

#[test]
fn small_parsers() {
    let l = super::facts::rlimits(LIMITS);
    assert_eq!((l[0].name.as_str(), l[0].soft, l[0].units.as_str()), ("Max cpu time", None, "seconds"));
    assert_eq!((l[1].soft, l[1].hard), (Some(64), Some(64)));
    assert_eq!(super::facts::id_map("         0          0 4294967295\n"), [(0, 0, 4294967295)]);
    assert!(
        super::facts::has_signal("0000000000004000", 15) && !super::facts::has_signal("0000000000010002", 15)
    );
    assert!(super::facts::has_signal("0000000000010002", 17));
}

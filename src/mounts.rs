//! Mounts: the child's mount table, from a slave copy of the host's to the jail's own root.
//!
//! Order (as runc and bubblewrap do it): make `/` a recursive slave so nothing propagates back
//! to the host; bind the rootfs onto itself so it is a mount point; the default /proc, /dev
//! (with devpts and shm) and /sys; the jail's own mounts; the masks and read-only paths, last so
//! that no mount of the jail covers them (those under /proc come right after /proc when no mount
//! of the jail can); pivot_root into the rootfs and detach the old root; remount the root
//! read-only if asked. When the supervisor makes the jail's net namespace, sysfs (which shows the
//! mounter's net devices) waits for the child to enter it: after pivot_root when nothing can
//! cover it ([`sysfs_after_pivot`]), else where it is.
//!
//! Every target inside the rootfs is an in-root path ([`Target::InRoot`]): the executor opens it
//! with openat2(rootfd, RESOLVE_IN_ROOT), so a symlink in the rootfs never leads a mount, a mkdir
//! or a file outside it. Each folder a mount point needs is a step of its own.

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use crate::plan::verify::{MountCheck, MountIs};
use crate::plan::{Builder, Cond, Op, PhaseKind, Side, Target, Via};
use crate::spec::{MountSpec, Origin, Spec};
use crate::sys::{MOUNT_ATTR_NODEV as ATTR_NODEV, MOUNT_ATTR_RDONLY as ATTR_RDONLY};

/// Host device nodes bound into the jail's /dev.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];
/// Links in the jail's /dev: (name, target).
pub const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// The mounts phase under construction: the builder, the in-root folders that earlier steps
/// made (or that are the rootfs itself), so each folder gets one step, and what the jail must
/// show of each mount (the checks before execve read it back).
struct InRoot<'b> {
    b: &'b mut Builder,
    made: std::collections::HashSet<PathBuf>,
    checks: Vec<MountCheck>,
    /// Where each point's check is in `checks` (a later mount at a point replaces its check).
    at: std::collections::HashMap<PathBuf, usize>,
    /// The folder an OpenDir step holds open, that entries in it are made through.
    open: Option<PathBuf>,
    /// The net namespace the supervisor makes is still to be entered ([`InRoot::join_net`]).
    net_pending: bool,
    /// The step that entered it.
    joined_net: Option<usize>,
    /// The masks' /dev/null is open (the OpenNull step ran).
    null_open: bool,
}

impl InRoot<'_> {
    /// The steps that make a mount point: each missing folder above it, then it.
    fn point(&mut self, at: &str, dir: bool, no_symlinks: bool, origin: &Origin) {
        let at = Path::new(at);
        let mut above: Vec<&Path> = at.ancestors().skip(1).filter(|p| !self.made.contains(*p)).collect();
        above.reverse();
        for p in above {
            let via = self.via(p);
            let op = Op::MountPoint { at: p.to_path_buf(), dir: true, no_symlinks: false, via };
            self.b.step(op, origin.clone());
            self.made.insert(p.to_path_buf());
        }
        let via = self.via(at);
        self.b.step(Op::MountPoint { at: at.to_path_buf(), dir, no_symlinks, via }, origin.clone());
        if dir {
            self.made.insert(at.to_path_buf());
        }
    }

    /// How an entry at `at` reaches its folder: rootfd at the top, the open folder, or a lookup.
    fn via(&self, at: &Path) -> Via {
        match at.parent() {
            Some(p) if p == Path::new("/") => Via::Root,
            Some(p) if self.open.as_deref() == Some(p) => Via::Dir,
            _ => Via::Lookup,
        }
    }

    /// Enters the net namespace the supervisor made, once, before the first step that depends
    /// on it: sysfs (its mount shows the net devices of the mounter's namespace) and the
    /// sysctls (/proc/sys/net is the writer's). As late as that, the child makes its first
    /// mounts while the supervisor makes the namespace.
    fn join_net(&mut self) {
        if std::mem::take(&mut self.net_pending) {
            self.joined_net =
                Some(self.b.step(Op::JoinNetns, Origin::Unset { key: "namespaces.net".into() }));
        }
    }

    /// Opens a folder for the entries made in it next (one lookup for all of them).
    fn open_dir(&mut self, at: &str, no_symlinks: bool, origin: &Origin) {
        self.b.step(Op::OpenDir { at: at.into(), no_symlinks }, origin.clone());
        self.open = Some(at.into());
    }

    fn close_dir(&mut self, origin: &Origin) {
        if let Some(at) = self.open.take() {
            self.b.step(Op::CloseDir { at }, origin.clone());
        }
    }

    fn check(&mut self, at: &Path, is: MountIs, if_exists: bool, step: usize) {
        let c = MountCheck { point: at.to_path_buf(), is, if_exists, step };
        match self.at.get(at) {
            Some(i) => self.checks[*i] = c,
            None => {
                self.at.insert(at.to_path_buf(), self.checks.len());
                self.checks.push(c);
            }
        }
    }

    fn mount(
        &mut self,
        at: &str,
        source: Option<&str>,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
        origin: &Origin,
    ) {
        let op = Op::Mount {
            source: source.map(String::from),
            target: Target::InRoot(PathBuf::from(at)),
            fstype: fstype.map(String::from),
            flags,
            data: data.map(String::from),
        };
        let step = self.b.step(op, origin.clone());
        let ro = flags.contains(MsFlags::MS_RDONLY);
        self.check(Path::new(at), if ro { MountIs::ReadOnly } else { MountIs::There }, false, step);
    }
}

/// mount(2) on a path of the child's own view (`/`, the rootfs on the host), not in the rootfs.
fn mount_at(target: &Path, source: Option<String>, flags: MsFlags) -> Op {
    Op::Mount { source, target: Target::Path(target.to_path_buf()), fstype: None, flags, data: None }
}

/// What the mounts phase gives the checks: the index of the step that made `/` a slave, and
/// what each mount must look like in the jail.
pub struct Mounts {
    pub slave: usize,
    /// The step that enters the net namespace the supervisor made, if there is one.
    pub joined_net: Option<usize>,
    pub checks: Vec<MountCheck>,
}

/// Phases "mounts" and "pivot" (child): `/` a slave, the rootfs bound onto itself (nodev:
/// procjail makes /dev), the defaults, the jail's mounts, then the masks and read-only paths last,
/// so that no mount of the jail covers them; then into the rootfs ([`plan_pivot`]). `join_net`:
/// the child enters the net namespace the supervisor makes (`namespaces::net_from_supervisor`)
/// on the way, before sysfs and the sysctls.
pub fn plan_mounts(b: &mut Builder, spec: &Spec, join_net: bool) -> Mounts {
    b.phase(PhaseKind::Mounts, Side::Child);
    let d = Origin::Default;
    let root = spec.rootfs.clone();
    let slave = b.step(mount_at(Path::new("/"), None, MsFlags::MS_REC | MsFlags::MS_SLAVE), d.clone());
    let bind = mount_at(&root, Some(root.to_string_lossy().into_owned()), MsFlags::MS_BIND | MsFlags::MS_REC);
    let bound = b.step(bind, spec.rootfs_origin.clone());
    b.step(Op::OpenRoot { path: root }, d.clone());
    let nodev = Op::MountSetattr { target: Target::InRoot("/".into()), set: ATTR_NODEV, recursive: false };
    b.step(nodev, Origin::Unset { key: "security.devices".into() });
    let mut r = InRoot {
        b,
        made: std::collections::HashSet::from([PathBuf::from("/")]),
        checks: Vec::new(),
        at: Default::default(),
        open: None,
        net_pending: join_net,
        joined_net: None,
        null_open: false,
    };
    r.check(Path::new("/"), MountIs::There, false, bound);
    let late = sysfs_after_pivot(spec, join_net);
    plan_defaults(&mut r, spec, late);
    for m in &spec.mounts {
        plan_mount(&mut r, &m.spec, &m.origin);
    }
    let early = proc_confined_early(spec);
    let done_elsewhere = |p: &Path| early && p.starts_with("/proc") || late && p.starts_with("/sys");
    let rest = |p: &Path| !done_elsewhere(p);
    plan_confinement(&mut r, spec, &rest, true);
    if !late {
        r.join_net();
    }
    plan_pivot(&mut r, spec, late);
    Mounts { slave, joined_net: r.joined_net, checks: r.checks }
}

/// Whether a mount of the jail's own is at or under `dir`.
fn jail_mount_under(spec: &Spec, dir: &str) -> bool {
    spec.mounts.iter().any(|m| match &m.spec {
        MountSpec::Bind { target, .. } | MountSpec::Tmpfs { target, .. } => target.starts_with(dir),
    })
}

/// Whether sysfs, and the masks and read-only paths under /sys, come after pivot_root, with the
/// child's entry into the net namespace the supervisor makes (`join_net`) just before them:
/// then all the child's other setup, the old root's detach included, overlaps the making of
/// that namespace. Only when no mount of the jail goes under /sys, there is no sysctl, and
/// /dev is procjail's own (no mount of the jail under it): the masks' /dev/null is opened again
/// there (the host's, bound by procjail), since the one opened before is on the detached old
/// root, which a bind refuses.
pub fn sysfs_after_pivot(spec: &Spec, join_net: bool) -> bool {
    join_net
        && spec.defaults.sysfs
        && spec.defaults.dev
        && spec.confine.sysctl.is_empty()
        && !jail_mount_under(spec, "/sys")
        && !jail_mount_under(spec, "/dev")
}

/// Whether the masks and read-only paths under /proc are made right after /proc's mount rather
/// than last: when no mount of the jail is at or under /proc (none can cover them) and there is
/// no sysctl (those are written through /proc/sys before it goes read-only). Then the child
/// makes them while the supervisor makes the net namespace (`namespaces::net_from_supervisor`),
/// which the child enters later.
fn proc_confined_early(spec: &Spec) -> bool {
    spec.defaults.proc && spec.confine.sysctl.is_empty() && !jail_mount_under(spec, "/proc")
}

/// The masks (after the /dev/null they bind is checked), the sysctls (`sysctls`), the read-only
/// paths: those masked and read-only paths that `which` keeps.
fn plan_confinement(r: &mut InRoot<'_>, spec: &Spec, which: &dyn Fn(&Path) -> bool, sysctls: bool) {
    let c = &spec.confine;
    let masked: Vec<&PathBuf> = c.masked.value.iter().filter(|p| which(p)).collect();
    if !masked.is_empty() && !std::mem::replace(&mut r.null_open, true) {
        r.b.step(Op::OpenNull { path: "/dev/null".into() }, c.masked.origin.clone());
    }
    for p in masked {
        let when = vec![Cond::InRootExists(p.clone())];
        let step = r.b.step_when(Op::Mask { at: p.clone() }, c.masked.origin.clone(), when);
        r.check(p, MountIs::Masked, true, step);
    }
    if sysctls {
        for s in &c.sysctl {
            r.join_net();
            let (key, value) = s.value.clone();
            r.b.step(Op::Sysctl { key, value }, s.origin.clone());
        }
    }
    for p in c.readonly.value.iter().filter(|p| which(p)) {
        let when = vec![Cond::InRootExists(p.clone())];
        let step = r.b.step_when(Op::ReadOnly { at: p.clone() }, c.readonly.origin.clone(), when);
        r.check(p, MountIs::ReadOnly, true, step);
    }
}

/// The default mounts; with `sys_late`, only /sys's mount point (sysfs comes after pivot_root).
fn plan_defaults(r: &mut InRoot<'_>, spec: &Spec, sys_late: bool) {
    let d = &Origin::Default;
    let nosuid_nodev_noexec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if spec.defaults.proc {
        r.point("/proc", true, true, d);
        r.mount("/proc", Some("proc"), Some("proc"), nosuid_nodev_noexec, None, d);
        if proc_confined_early(spec) {
            plan_confinement(r, spec, &|p: &Path| p.starts_with("/proc"), false);
        }
    }
    if spec.defaults.dev {
        r.point("/dev", true, true, d);
        // nodev: a node made in it cannot be opened; the bound devices keep working.
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_STRICTATIME;
        r.mount("/dev", Some("tmpfs"), Some("tmpfs"), flags, Some("mode=755,size=65536k"), d);
        // Every entry of the new /dev is made through one descriptor of it, then the mounts.
        r.open_dir("/dev", true, d);
        for dev in DEVICES {
            r.point(&format!("/dev/{dev}"), false, false, d);
        }
        for (name, target) in DEV_LINKS {
            if *name == "ptmx" && !spec.defaults.devpts {
                continue;
            }
            let at = PathBuf::from(format!("/dev/{name}"));
            r.b.step(Op::SymlinkIn { target: target.to_string(), at, via: Via::Dir }, d.clone());
        }
        if spec.defaults.devpts {
            r.point("/dev/pts", true, false, d);
        }
        if spec.defaults.shm {
            r.point("/dev/shm", true, false, d);
        }
        r.close_dir(d);
        for dev in DEVICES {
            let at = format!("/dev/{dev}");
            r.mount(&at, Some(&at), None, MsFlags::MS_BIND, None, d);
        }
        if spec.defaults.devpts {
            let data = Some("newinstance,ptmxmode=0666,mode=0620");
            let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
            r.mount("/dev/pts", Some("devpts"), Some("devpts"), flags, data, d);
        }
        if spec.defaults.shm {
            let data = Some("mode=1777,size=65536k");
            r.mount("/dev/shm", Some("shm"), Some("tmpfs"), nosuid_nodev_noexec, data, d);
        }
    }
    if spec.defaults.mqueue {
        r.point("/dev/mqueue", true, false, d);
        r.mount("/dev/mqueue", Some("mqueue"), Some("mqueue"), nosuid_nodev_noexec, None, d);
    }
    if spec.defaults.sysfs {
        if !sys_late {
            r.join_net();
        }
        r.point("/sys", true, false, d);
        if !sys_late {
            plan_sysfs(r);
        }
    }
}

fn plan_mount(r: &mut InRoot<'_>, m: &MountSpec, origin: &Origin) {
    match m {
        MountSpec::Bind { source, target, readonly, attrs, is_dir } => {
            let t = target.to_string_lossy();
            r.point(&t, *is_dir, false, origin);
            r.mount(
                &t,
                Some(&source.to_string_lossy()),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
                origin,
            );
            let set = attrs | if *readonly { ATTR_RDONLY } else { 0 };
            if set != 0 {
                let op = Op::MountSetattr { target: Target::InRoot(target.clone()), set, recursive: false };
                let step = r.b.step(op, origin.clone());
                if *readonly {
                    r.check(target, MountIs::ReadOnly, false, step);
                }
            }
        }
        MountSpec::Tmpfs { target, size, mode, flags } => {
            let t = target.to_string_lossy();
            r.point(&t, true, false, origin);
            let flags = MsFlags::from_bits_truncate(*flags);
            let mut data = format!("mode={mode:o}");
            if let Some(size) = size {
                data.push_str(&format!(",size={}", size.0));
            }
            r.mount(&t, Some("tmpfs"), Some("tmpfs"), flags, Some(&data), origin);
        }
    }
}

/// The read-only cgroup2 of `defaults.cgroupfs`, in the confine phase: after the jail has
/// entered its cgroup namespace, so that the mount's root is the jail's own cgroup and not the
/// host's whole hierarchy. /sys/fs/cgroup is sysfs's own folder. Returns its check.
pub fn plan_cgroupfs(b: &mut Builder, spec: &Spec) -> Option<MountCheck> {
    if !spec.defaults.cgroupfs {
        return None;
    }
    let at = PathBuf::from("/sys/fs/cgroup");
    let flags = MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC
        | MsFlags::MS_RELATIME;
    let op = Op::Mount {
        source: Some("cgroup2".into()),
        target: Target::Path(at.clone()),
        fstype: Some("cgroup2".into()),
        flags,
        data: None,
    };
    let step = b.step(op, Origin::Default);
    Some(MountCheck { point: at, is: MountIs::ReadOnly, if_exists: false, step })
}

/// The read-only sysfs at /sys.
fn plan_sysfs(r: &mut InRoot<'_>) {
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    r.mount("/sys", Some("sysfs"), Some("sysfs"), flags, None, &Origin::Default);
}

/// Phase "pivot" (child): into the rootfs, old root detached; with `sys_late`, then the net
/// namespace entered, sysfs and what is masked or read-only under /sys (through rootfd, and the
/// jail's own /dev/null); rootfd closed, the root made read-only if asked (its check replaces
/// the one of the rootfs's bind).
fn plan_pivot(r: &mut InRoot<'_>, spec: &Spec, sys_late: bool) {
    r.b.phase(PhaseKind::Pivot, Side::Child);
    let d = Origin::Default;
    r.b.step(Op::Chdir { path: spec.rootfs.clone() }, d.clone());
    r.b.step(Op::PivotRoot, d.clone());
    r.b.step(Op::Umount2 { target: ".".into(), flags: MntFlags::MNT_DETACH }, d.clone());
    r.b.step(Op::Chdir { path: "/".into() }, d.clone());
    if sys_late {
        r.join_net();
        plan_sysfs(r);
        r.null_open = false;
        plan_confinement(r, spec, &|p: &Path| p.starts_with("/sys"), false);
    }
    r.b.step(Op::CloseRoot, d);
    if spec.rootfs_readonly {
        // The root mount alone (the jail's other mounts keep theirs), its other flags kept.
        let ro = Op::MountSetattr { target: Target::Path("/".into()), set: ATTR_RDONLY, recursive: false };
        let step = r.b.step(ro, spec.rootfs_origin.clone());
        r.check(Path::new("/"), MountIs::ReadOnly, false, step);
    }
}

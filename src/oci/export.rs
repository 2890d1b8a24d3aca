//! `procjail export oci`: a validated jail as an OCI bundle (config.json, and the rootfs by its
//! real path or copied), which `runc run` and `crun run` take, with what a bundle cannot say
//! written as notes (the `org.procjail.notes` annotation, and stderr).

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use serde_json::{Value, json};

use crate::config::InitMode;
use crate::host::caps;
use crate::spec::{MountSpec, Spec};

/// PID 1 of the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitChoice {
    /// The command is PID 1 (OCI's own way).
    None,
    /// Debian's static tini (/usr/bin/tini-static), bound read-only at /dev/init.
    Tini,
    /// catatonit (/usr/bin/catatonit, static), bound read-only at /dev/init.
    Catatonit,
}

/// Where an init of `--init` is bound in the container: /dev is the runtime's own tmpfs, so
/// nothing is made in the rootfs.
pub const INIT_AT: &str = "/dev/init";

impl InitChoice {
    /// The host's static binary.
    fn binary(self) -> Option<&'static str> {
        match self {
            InitChoice::None => None,
            InitChoice::Tini => Some("/usr/bin/tini-static"),
            InitChoice::Catatonit => Some("/usr/bin/catatonit"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            InitChoice::None => "none",
            InitChoice::Tini => "tini",
            InitChoice::Catatonit => "catatonit",
        }
    }
}

/// A bundle's config.json and its notes.
pub struct Bundle {
    pub config: Value,
    pub notes: Vec<String>,
}

/// The config.json of `spec`. `root`: root.path as it must be written (the rootfs's real
/// absolute path, or "rootfs" when it was copied). `v2`: the host is pure cgroup v2.
pub fn export(spec: &Spec, init: InitChoice, root: &Path, v2: bool) -> anyhow::Result<Bundle> {
    let mut notes = Vec::new();
    let mut mounts = defaults(spec, &mut notes);
    for m in &spec.mounts {
        mounts.push(mount(&m.spec));
    }
    let mut args = spec.argv.clone();
    if let Some(bin) = init.binary() {
        static_binary(Path::new(bin))?;
        mounts.push(json!({ "destination": INIT_AT, "type": "bind", "source": bin, "options": ["bind", "ro", "nosuid", "nodev"] }));
        args.splice(0..0, [INIT_AT.to_string(), "--".to_string()]);
    }
    init_notes(spec, init, &mut notes);
    let mut linux = json!({
        "namespaces": namespaces(spec),
        "resources": resources(spec, v2, &mut notes),
        "maskedPaths": paths(&spec.confine.masked.value),
        "readonlyPaths": paths(&spec.confine.readonly.value),
    });
    if let Some(m) = &spec.id_maps {
        let lines = |map: &[crate::spec::IdRange]| -> Value {
            map.iter()
                .map(|r| json!({ "containerID": r.inside, "hostID": r.outside, "size": r.count }))
                .collect::<Vec<_>>()
                .into()
        };
        linux["uidMappings"] = lines(&m.uid);
        linux["gidMappings"] = lines(&m.gid);
    }
    if let Some(r) = &spec.confine.seccomp_rules {
        linux["seccomp"] = super::export_seccomp::profile(&r.filter()).map_err(|e| {
            anyhow::anyhow!("the jail's seccomp filter cannot be written for an OCI runtime: {e}")
        })?;
        notes.push(format!("seccomp: the rules procjail compiled for this jail's capabilities, on {} and this host's kernel; a syscall of another architecture gets libseccomp's bad-arch action (procjail kills it)", crate::seccomp::ARCH));
    }
    if !spec.confine.sysctl.is_empty() {
        linux["sysctl"] = spec
            .confine
            .sysctl
            .iter()
            .map(|s| (s.value.0.clone(), Value::String(s.value.1.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    let mut config = json!({
        "ociVersion": "1.0.2",
        "process": process(spec, args),
        "root": { "path": root.display().to_string(), "readonly": spec.rootfs_readonly },
        "mounts": mounts,
        "linux": linux,
    });
    if let Some((h, _)) = &spec.hostname {
        config["hostname"] = h.clone().into();
    }
    more_notes(spec, &mut notes);
    config["annotations"] = json!({
        "org.procjail.source": spec.file.display().to_string(),
        "org.procjail.init": init.name(),
        "org.procjail.notes": notes.join("\n"),
    });
    Ok(Bundle { config, notes })
}

fn names(set: u64) -> Value {
    caps::names(set).into()
}

fn process(spec: &Spec, args: Vec<String>) -> Value {
    let c = &spec.confine;
    let root = c.user.uid == 0;
    let (set, amb) = (c.caps.value, c.ambient.value);
    // A root command's execve gives it the bounding set; another's keeps its ambient set.
    let (pe, ia) = if root { (set, 0) } else { (amb, amb) };
    let mut p = json!({
        "terminal": false,
        "user": { "uid": c.user.uid, "gid": c.user.gid },
        "args": args,
        "env": spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "cwd": spec.cwd.display().to_string(),
        "capabilities": { "bounding": names(set), "effective": names(pe), "permitted": names(pe), "inheritable": names(ia), "ambient": names(ia) },
        "rlimits": spec.limits.rlimits.iter().map(|(k, l)| json!({ "type": crate::host::rlimits::by_key(k).name, "soft": l.value.0, "hard": l.value.1 })).collect::<Vec<_>>(),
        "noNewPrivileges": c.no_new_privs.value,
    });
    if !c.user.groups.is_empty() {
        p["user"]["additionalGids"] = c.user.groups.clone().into();
    }
    if let Some(o) = &c.oom_score_adj {
        p["oomScoreAdj"] = o.value.into();
    }
    p
}

fn paths(p: &[PathBuf]) -> Value {
    p.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().into()
}

fn namespaces(spec: &Spec) -> Value {
    let on = |key: &Option<&str>| key.is_some_and(|k| crate::namespaces::is_on(&spec.namespaces, k));
    let types = super::NAMESPACE_TYPES.iter().filter(|(_, key)| on(key));
    types.map(|(t, _)| json!({ "type": t })).collect::<Vec<_>>().into()
}

fn resources(spec: &Spec, v2: bool, notes: &mut Vec<String>) -> Value {
    let l = &spec.limits;
    let mut r = json!({});
    if let Some(m) = &l.memory {
        r["memory"] = json!({ "limit": m.value });
    }
    if let Some(s) = &l.memory_swap {
        r["memory"]["swap"] = s.value.into();
    }
    if let Some(p) = &l.pids {
        r["pids"] = json!({ "limit": p.value });
    }
    if let Some(c) = &l.cpus {
        r["cpu"] = json!({ "quota": (c.value * 100_000.0).round() as i64, "period": 100_000 });
    }
    // On v2 the weight itself (runc 1.0+ and crun write `unified` as it is); on v1 the shares
    // procjail writes, which runc before 1.3.2 would map to another weight on v2.
    if let Some(w) = &l.cpu_weight {
        if v2 {
            r["unified"] = json!({ "cpu.weight": w.value.to_string() });
        } else {
            let shares = crate::cgroups::files::weight_to_shares(w.value);
            r["cpu"]["shares"] = shares.into();
            notes.push(format!("cpu_weight {}: cpu.shares {shares} (on a cgroup v2 host, runc before 1.3.2 and crun before 1.23 map shares to another weight)", w.value));
        }
    }
    let mut devices = vec![json!({ "allow": false, "access": "rwm" })];
    for d in &spec.confine.devices.value {
        let mut rule = json!({ "allow": true, "type": d.kind.to_string(), "access": d.access });
        if let Some(m) = d.major {
            rule["major"] = m.into();
        }
        if let Some(m) = d.minor {
            rule["minor"] = m.into();
        }
        devices.push(rule);
    }
    r["devices"] = devices.into();
    r
}

/// procjail's default mounts, with procjail's own options; /dev without nodev, since a runtime
/// makes its nodes there with mknod (procjail binds the host's).
fn defaults(spec: &Spec, notes: &mut Vec<String>) -> Vec<Value> {
    let d = &spec.defaults;
    let m = |dest: &str, t: &str, src: &str, o: &[&str]| json!({ "destination": dest, "type": t, "source": src, "options": o });
    let mut out = Vec::new();
    if d.proc {
        out.push(m("/proc", "proc", "proc", &["nosuid", "nodev", "noexec"]));
    }
    if d.dev {
        out.push(m(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"],
        ));
        notes.push("/dev: procjail binds the host's null, zero, full, random, urandom and tty into a nodev tmpfs; a runtime makes its own nodes there (mknod), so its /dev is not nodev".into());
    }
    if d.devpts {
        out.push(m(
            "/dev/pts",
            "devpts",
            "devpts",
            &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
        ));
    }
    if d.shm {
        out.push(m("/dev/shm", "tmpfs", "shm", &["nosuid", "nodev", "noexec", "mode=1777", "size=65536k"]));
    }
    if d.mqueue {
        out.push(m("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "nodev", "noexec"]));
    }
    if d.sysfs {
        out.push(m("/sys", "sysfs", "sysfs", &["nosuid", "nodev", "noexec", "ro"]));
    }
    if d.cgroupfs {
        out.push(m("/sys/fs/cgroup", "cgroup2", "cgroup2", &["nosuid", "nodev", "noexec", "relatime", "ro"]));
    }
    out
}

fn mount(m: &MountSpec) -> Value {
    match m {
        MountSpec::Bind { source, target, readonly, attrs, .. } => {
            let mut o = vec!["rbind"];
            for (bit, name) in [
                (crate::sys::MOUNT_ATTR_NOSUID, "nosuid"),
                (crate::sys::MOUNT_ATTR_NODEV, "nodev"),
                (crate::sys::MOUNT_ATTR_NOEXEC, "noexec"),
            ] {
                if attrs & bit != 0 {
                    o.push(name);
                }
            }
            if *readonly {
                o.push("ro");
            }
            json!({ "destination": target.display().to_string(), "type": "bind", "source": source.display().to_string(), "options": o })
        }
        MountSpec::Tmpfs { target, size, mode, flags } => {
            let f = MsFlags::from_bits_truncate(*flags);
            let named = [
                (MsFlags::MS_RDONLY, "ro"),
                (MsFlags::MS_NOSUID, "nosuid"),
                (MsFlags::MS_NODEV, "nodev"),
                (MsFlags::MS_NOEXEC, "noexec"),
                (MsFlags::MS_RELATIME, "relatime"),
                (MsFlags::MS_STRICTATIME, "strictatime"),
                (MsFlags::MS_NOATIME, "noatime"),
                (MsFlags::MS_NODIRATIME, "nodiratime"),
            ];
            let mut o: Vec<String> =
                named.iter().filter(|(b, _)| f.contains(*b)).map(|(_, n)| n.to_string()).collect();
            o.push(format!("mode={mode:o}"));
            if let Some(s) = size {
                o.push(format!("size={}", s.0));
            }
            json!({ "destination": target.display().to_string(), "type": "tmpfs", "source": "tmpfs", "options": o })
        }
    }
}

fn init_notes(spec: &Spec, init: InitChoice, notes: &mut Vec<String>) {
    match (spec.init, init) {
        (InitMode::Builtin, InitChoice::None) => notes.push(format!(
            "init: procjail's built-in init is not in the bundle; the command is PID 1: orphans are not reaped (zombies pile up), signals it has no handler for are dropped (a shell ignores SIGTERM), and what is left when it exits is killed at once, not after the grace period of {} ms; `--init tini` or `--init catatonit` puts an init in front",
            spec.grace_ms
        )),
        (InitMode::Builtin, _) => notes.push(format!(
            "init: {} is PID 1 in place of procjail's init: it reaps and forwards signals, but is not made non-dumpable and keeps the command's capabilities (the command can open /proc/1/exe), and when the command exits the kernel kills what is left at once, without the grace period of {} ms",
            init.name(),
            spec.grace_ms
        )),
        (InitMode::None, InitChoice::None) => {}
        (InitMode::None, _) => notes.push(format!("init: the jail's command was PID 1; {} now is", init.name())),
    }
}

fn more_notes(spec: &Spec, notes: &mut Vec<String>) {
    notes.push(
        "rootfs: procjail mounts it nodev; OCI has no such option (the device rules hold the nodes instead)"
            .into(),
    );
    notes.push("devices: a runtime adds its own default rules to these (runc: every char and block mknod, /dev/net/tun)".into());
    if !spec.confine.new_keyring.value {
        notes.push("keyring: \"inherit\" is runc's --no-new-keyring; the bundle cannot say it".into());
    }
    if let Some(t) = spec.timeout_ms {
        notes.push(format!(
            "timeout: {} ms in the jail file; the caller of the runtime stops it (runc kill)",
            t
        ));
    }
    if spec.expect.is_some() {
        notes.push(
            "[expect] and procjail's report (OOM kills, forks refused at the pids limit) stay procjail's"
                .into(),
        );
    }
}

/// An init put in front of the command must be static: the rootfs has no libc of the host's.
fn static_binary(path: &Path) -> anyhow::Result<()> {
    let data = std::fs::read(path).map_err(|e| {
        anyhow::anyhow!("{}: {e} (apt-get install tini for tini-static, or catatonit)", path.display())
    })?;
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap_or([0; 8])) as usize;
    if data.len() < 64 || &data[..4] != b"\x7fELF" || data[4] != 2 {
        anyhow::bail!("{} is not a 64-bit ELF binary", path.display());
    }
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        if o + 4 <= data.len() && u32::from_le_bytes(data[o..o + 4].try_into().unwrap_or([0; 4])) == 3 {
            anyhow::bail!(
                "{} is dynamically linked (PT_INTERP): the rootfs has not its libc",
                path.display()
            );
        }
    }
    Ok(())
}

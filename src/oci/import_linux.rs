//! The `linux` object of config.json: namespaces, resources, devices, seccomp, masked and
//! read-only paths, sysctl; and why a key that was not read has no place in a jail file.

use serde_json::Value;

use super::doc::{BadInput, Doc, bad, key, kind, q, q_list};
use super::import::Jail;

/// The namespaces config.json asks for (a type left out is the host's).
pub(super) struct Ns {
    pub pid: bool,
    pub net: bool,
    pub ipc: bool,
    pub uts: bool,
    pub cgroup: bool,
}

pub(super) fn namespaces(doc: &mut Doc, j: &mut Jail) -> Result<Ns, BadInput> {
    let mut on = Vec::new();
    for i in 0..doc.len("/linux/namespaces")? {
        let at = format!("/linux/namespaces/{i}");
        let Some(t) = doc.string(&format!("{at}/type"))? else {
            return Err(bad(&format!("{at}/type"), "missing", "a namespace type"));
        };
        let Some((_, ours)) = super::NAMESPACE_TYPES.iter().find(|(n, _)| *n == t) else {
            let names: Vec<&str> = super::NAMESPACE_TYPES.iter().map(|(n, _)| *n).collect();
            return Err(bad(
                &format!("{at}/type"),
                format!("unknown namespace type {t:?}"),
                names.join(", "),
            ));
        };
        if let Some(p) = doc.peek(&format!("{at}/path")).cloned() {
            doc.take(&format!("{at}/path"));
            j.lose(
                &format!("{at}/path"),
                &p,
                "joining a namespace by path: procjail makes a new one",
                t == "user",
            );
        }
        match ours {
            Some(k) if !on.contains(k) => on.push(*k),
            Some(_) => return Err(bad(&at, format!("the {t} namespace is listed twice"), "each type once")),
            None => {
                let why = "procjail has no time namespace: the jail sees the host's clocks";
                j.lose(&format!("{at}/type"), &Value::String(t.clone()), why, false);
            }
        }
    }
    for k in ["pid", "net", "ipc", "uts", "cgroup", "mount"] {
        if !on.contains(&k) {
            let why = if k == "mount" {
                "OCI: the host's; procjail always makes one (pivot_root needs it)"
            } else {
                "OCI: left out, the host's"
            };
            let v = if k == "mount" { "true" } else { "false" };
            j.set("namespaces", k, v.into(), Some(why.into()));
        }
    }
    if on.contains(&"user") {
        j.set("namespaces", "user", "true".into(), None);
        id_maps(doc, j)?;
    }
    let is = |k: &str| on.contains(&k);
    Ok(Ns { pid: is("pid"), net: is("net"), ipc: is("ipc"), uts: is("uts"), cgroup: is("cgroup") })
}

/// `linux.uidMappings` and `gidMappings` ({containerID, hostID, size}) as [user]'s maps.
fn id_maps(doc: &mut Doc, j: &mut Jail) -> Result<(), BadInput> {
    for (oci, ours) in [("uidMappings", "uid_map"), ("gidMappings", "gid_map")] {
        let at = format!("/linux/{oci}");
        if doc.peek(&at).is_none() {
            continue;
        }
        let mut lines = Vec::new();
        for i in 0..doc.len(&at)? {
            let mut field = |f: &str| -> Result<i128, BadInput> {
                let p = format!("{at}/{i}/{f}");
                doc.int(&p)?
                    .filter(|v| (0..=i128::from(u32::MAX)).contains(v))
                    .ok_or_else(|| bad(&p, "missing or out of range", "an id from 0 to 4294967295"))
            };
            let (inside, outside, count) = (field("containerID")?, field("hostID")?, field("size")?);
            lines.push(format!("{{ inside = {inside}, outside = {outside}, count = {count} }}"));
        }
        doc.take(&at);
        j.set("user", ours, format!("[{}]", lines.join(", ")), None);
    }
    Ok(())
}

/// memory, swap, pids, cpu quota and period, cpu shares.
pub(super) fn resources(doc: &mut Doc, j: &mut Jail) -> Result<(), BadInput> {
    let r = "/linux/resources";
    if let Some(m) = doc.int(&format!("{r}/memory/limit"))?.filter(|m| *m > 0) {
        j.set("limits", "memory", size(m), None);
    }
    if let Some(s) = doc.int(&format!("{r}/memory/swap"))?.filter(|s| *s > 0) {
        j.set("limits", "memory_swap", size(s), Some("memory + swap, as OCI's swap".into()));
    }
    if let Some(p) = doc.int(&format!("{r}/pids/limit"))?.filter(|p| *p > 0) {
        j.set("limits", "pids", p.to_string(), None);
    }
    let quota = doc.int(&format!("{r}/cpu/quota"))?.filter(|q| *q > 0);
    let period = doc.int(&format!("{r}/cpu/period"))?.filter(|p| *p > 0);
    if let Some(quota) = quota {
        let period = period.unwrap_or(100_000);
        let cpus = quota as f64 / period as f64;
        let comment = (period != 100_000).then(|| {
            format!(
                "OCI's period was {period} µs, quota {quota}; procjail's period is 100000 µs, the same ratio"
            )
        });
        j.set("limits", "cpus", format!("{}", (cpus * 1e6).round() / 1e6), comment);
    }
    if let Some(w) = doc.peek(&format!("{r}/unified/cpu.weight")).and_then(Value::as_str).map(String::from) {
        let p = format!("{r}/unified/cpu.weight");
        let n: i64 =
            w.trim().parse().map_err(|_| bad(&p, format!("{w:?} is not a weight"), "\"1\" to \"10000\""))?;
        doc.take(&p);
        j.set("limits", "cpu_weight", n.to_string(), None);
    } else if let Some(shares) = doc.int(&format!("{r}/cpu/shares"))?.filter(|s| *s > 0) {
        let w = crate::cgroups::files::shares_to_weight(shares.clamp(2, 262_144) as u64);
        let note = format!("OCI's cpu.shares {shares}, by the mapping of runc 1.3.2+ and crun 1.23+");
        j.set("limits", "cpu_weight", w.to_string(), Some(note));
    }
    Ok(())
}

/// Bytes as the jail file writes a size: "64MiB", or the integer.
pub(super) fn size(b: i128) -> String {
    let s = crate::config::Size(b as u64).to_string();
    if s.chars().all(|c| c.is_ascii_digit()) { s } else { q(&s) }
}

/// seccomp (a profile file beside the jail file), masked and read-only paths, devices.
pub(super) fn security(doc: &mut Doc, j: &mut Jail) -> Result<(), BadInput> {
    match doc.take("/linux/seccomp") {
        None => j.set("security", "seccomp", q("none"), Some("none in config.json".into())),
        Some(v) => seccomp(&v, j)?,
    }
    for (p, k) in [("/linux/maskedPaths", "masked_paths"), ("/linux/readonlyPaths", "readonly_paths")] {
        let list = doc.strings(p)?.unwrap_or_default();
        j.set("security", k, q_list(&list), None);
    }
    devices(doc, j)
}

fn seccomp(v: &Value, j: &mut Jail) -> Result<(), BadInput> {
    let text = serde_json::to_string_pretty(v).expect("JSON");
    if let Err(e) = crate::seccomp::parse(&text) {
        j.lose("/linux/seccomp", v, format!("procjail cannot load it: {}", e.message), true);
        j.set(
            "security",
            "seccomp",
            q("default"),
            Some("config.json's profile could not be carried (see the end)".into()),
        );
        return Ok(());
    }
    let mut notes = Vec::new();
    if v.get("architectures").and_then(Value::as_array).is_some_and(|a| a.len() > 1) {
        notes.push("procjail kills a syscall of another architecture");
    }
    if v.get("flags").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        notes.push("its flags are not passed to the kernel");
    }
    let comment = (!notes.is_empty()).then(|| notes.join("; "));
    j.set("security", "seccomp", "SECCOMP_FILE".into(), comment);
    j.seccomp = Some(text + "\n");
    Ok(())
}

/// linux.resources.devices: the allow rules after the last "deny all" become procjail's list
/// (beside procjail's own nodes); without a "deny all" OCI allows every device, and procjail's
/// list is stricter.
fn devices(doc: &mut Doc, j: &mut Jail) -> Result<(), BadInput> {
    let base = "/linux/resources/devices";
    let mut rules: Vec<String> = Vec::new();
    let mut denied_all = false;
    for i in 0..doc.len(base)? {
        let at = format!("{base}/{i}");
        let allow = doc
            .bool(&format!("{at}/allow"))?
            .ok_or_else(|| bad(&format!("{at}/allow"), "missing", "true or false"))?;
        let t = doc.string(&format!("{at}/type"))?.unwrap_or_else(|| "a".into());
        let n = |v: Option<i128>| v.filter(|v| *v >= 0).map_or("*".to_string(), |v| v.to_string());
        let (major, minor) = (n(doc.int(&format!("{at}/major"))?), n(doc.int(&format!("{at}/minor"))?));
        let access = doc.string(&format!("{at}/access"))?.unwrap_or_else(|| "rwm".into());
        let all = t == "a" && major == "*" && minor == "*" && access.len() == 3;
        if !["a", "b", "c"].contains(&t.as_str()) || !access.chars().all(|c| "rwm".contains(c)) {
            return Err(bad(
                &at,
                format!("not a device rule: {t} {major}:{minor} {access}"),
                "type a, b or c; access of r, w, m",
            ));
        }
        match (allow, all) {
            (false, true) => {
                rules.clear();
                denied_all = true;
            }
            (true, _) => {
                rules.push(if t == "a" { "a".into() } else { format!("{t} {major}:{minor} {access}") })
            }
            (false, false) => {
                rules.retain(|r| !r.starts_with(&format!("{t} {major}:{minor}")));
            }
        }
    }
    if denied_all {
        let mut list = vec!["default".to_string()];
        list.extend(rules.into_iter().filter(|r| !crate::spec::DEFAULT_DEVICES.contains(&r.as_str())));
        let note = "\"default\": the nodes procjail makes in /dev (runc adds its own list the same way)";
        j.set("security", "devices", q_list(&list), Some(note.into()));
    }
    Ok(())
}

pub(super) fn sysctl(doc: &mut Doc, j: &mut Jail) -> Result<(), BadInput> {
    let Some(v) = doc.take("/linux/sysctl") else { return Ok(()) };
    let Value::Object(m) = v else {
        return Err(bad(
            "/linux/sysctl",
            format!("expected an object, found {}", kind(&v)),
            "{ \"name\": \"value\" }",
        ));
    };
    for (k, v) in m {
        let Value::String(s) = v else {
            return Err(bad(&format!("/linux/sysctl/{k}"), "expected a string", "a string"));
        };
        j.set("sysctl", &key(&k), q(&s), None);
    }
    Ok(())
}

/// Why a key of config.json that nothing read is not carried, and whether leaving it out makes
/// the jail weaker than the container.
pub(super) fn why_not(pointer: &str, v: &Value) -> (String, bool) {
    const SECURITY: &[(&str, &str)] = &[
        ("/process/apparmorProfile", "procjail has no AppArmor"),
        ("/process/selinuxLabel", "procjail has no SELinux"),
        ("/linux/mountLabel", "procjail has no SELinux"),
        ("/linux/uidMappings", "procjail maps ids only in a user namespace of the jail's own"),
        ("/linux/gidMappings", "procjail maps ids only in a user namespace of the jail's own"),
        ("/linux/intelRdt", "procjail has no resctrl"),
    ];
    const OTHER: &[(&str, &str)] = &[
        ("/process/terminal", "procjail passes stdin, stdout and stderr through; it makes no pty"),
        ("/process/consoleSize", "procjail makes no pty"),
        ("/process/scheduler", "procjail sets no scheduling policy"),
        ("/process/ioPriority", "procjail sets no I/O priority"),
        ("/process/execCPUAffinity", "procjail sets no CPU affinity"),
        ("/domainname", "procjail sets no NIS domain name"),
        ("/annotations", "procjail keeps no annotations"),
        ("/hooks", "procjail runs no hooks"),
        ("/linux/cgroupsPath", "procjail's cgroup is procjail/NAME"),
        ("/linux/rootfsPropagation", "procjail makes / a recursive slave, as runc's default"),
        ("/linux/devices", "procjail makes only its own nodes in /dev"),
        ("/linux/resources", "procjail has no such limit"),
        ("/linux/personality", "procjail sets no personality"),
        ("/process/user/umask", "procjail gives the command umask 022"),
    ];
    if let Some((_, why)) = SECURITY.iter().find(|(p, _)| pointer.starts_with(p)) {
        let set = !matches!(v, Value::String(s) if s.is_empty());
        return (why.to_string(), set);
    }
    if pointer.starts_with("/mounts/") && pointer.contains("/options/") {
        let o = v.as_str().unwrap_or("");
        let sec = ["rro", "rnosuid", "rnodev", "rnoexec", "nosymfollow", "rnosymfollow"].contains(&o);
        return (format!("procjail's mounts take no option {o:?}"), sec);
    }
    let why =
        OTHER.iter().find(|(p, _)| pointer.starts_with(p)).map_or("procjail has no such key", |(_, w)| w);
    (why.to_string(), false)
}

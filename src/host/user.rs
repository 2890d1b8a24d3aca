//! What procjail may do as the user it runs as: where that user's jails keep their state, the
//! subordinate ids /etc/subuid and /etc/subgid grant it, whether newuidmap and newgidmap are
//! there, and the cgroup2 subtree delegated to it, if any. Read once, into [`super::Host`].

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::read_small;

/// Where root's jails keep their state.
pub const ROOT_STATE_DIR: &str = "/run/procjail";

/// The state folder of the jails of this user: /run/procjail for root; for another user
/// `$XDG_RUNTIME_DIR/procjail` (a folder of its own, 0700, that systemd and pam make per user),
/// else `/tmp/procjail-UID` (made 0700 and checked for its owner before use).
pub fn state_dir() -> PathBuf {
    let uid = nix::unistd::geteuid().as_raw();
    if uid == 0 {
        return PathBuf::from(ROOT_STATE_DIR);
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|d| private_dir_of(d, uid));
    match runtime {
        Some(d) => d.join("procjail"),
        None => PathBuf::from(format!("/tmp/procjail-{uid}")),
    }
}

/// A jail's files in its user's state folder: `NAME.lock`, which its supervisor holds for the
/// jail's whole life, and `NAME.json`, its state. Side by side in the one folder, not in a
/// folder per jail: where /run is on disk (ext4), making and removing a folder for every run
/// costs a journaled inode and block each way, about 0.1 to 0.2 ms of every start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailFiles {
    pub lock: PathBuf,
    pub state: PathBuf,
}

/// NAME.json.tmp for NAME.json: where the state is written before its rename (the one place
/// that spells it: the SaveState and Wait steps, their text and calls, `gc`).
pub fn state_tmp(state: &Path) -> PathBuf {
    state.with_extension("json.tmp")
}

impl JailFiles {
    pub fn of(dir: &Path, name: &str) -> JailFiles {
        JailFiles { lock: dir.join(format!("{name}.lock")), state: dir.join(format!("{name}.json")) }
    }

    /// The file the state is written to before it is renamed over `state`.
    pub fn tmp(&self) -> PathBuf {
        state_tmp(&self.state)
    }

    /// All three, in the order teardown removes them.
    pub fn all(&self) -> [PathBuf; 3] {
        [self.tmp(), self.state.clone(), self.lock.clone()]
    }

    /// Those of the three that are there.
    pub fn present(&self) -> Vec<PathBuf> {
        self.all().into_iter().filter(|f| f.symlink_metadata().is_ok()).collect()
    }

    /// The jail a file of a state folder belongs to, by its name: `NAME.lock`, `NAME.json` or
    /// `NAME.json.tmp`.
    pub fn name_of(file: &str) -> Option<&str> {
        [".json.tmp", ".json", ".lock"].iter().find_map(|s| file.strip_suffix(s)).filter(|n| !n.is_empty())
    }
}

/// Whether `dir` is a real folder (not a symlink) of `uid`'s, that no one else can write.
pub fn private_dir_of(dir: &Path, uid: u32) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o022 == 0)
}

/// A range of subordinate ids: (first, count).
pub type Range = (u32, u32);

/// The ranges of `/etc/subuid` (or subgid) text that belong to `name` or to the numeric `id`.
pub fn subids(text: &str, name: Option<&str>, id: u32) -> Vec<Range> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().splitn(3, ':');
            let (who, first, count) = (f.next()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?);
            (Some(who) == name || who == id.to_string()).then_some((first, count))
        })
        .collect()
}

/// The name of `uid` in /etc/passwd, if it has one.
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        f.next()?;
        (f.next()?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

/// The ids procjail may map into a user namespace as this user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubIds {
    pub uids: Vec<Range>,
    pub gids: Vec<Range>,
    /// Both newuidmap and newgidmap are installed (Debian's uidmap).
    pub helpers: bool,
}

pub const NEWUIDMAP: &str = "/usr/bin/newuidmap";
pub const NEWGIDMAP: &str = "/usr/bin/newgidmap";

impl SubIds {
    pub fn read(uid: u32, gid: u32) -> SubIds {
        let passwd = read_small("/etc/passwd").unwrap_or_default();
        let name = user_name(&passwd, uid);
        let group = read_small("/etc/group").unwrap_or_default();
        let gname = user_name(&group, gid);
        let text = |p: &str| read_small(p).unwrap_or_default();
        SubIds {
            uids: subids(&text("/etc/subuid"), name.as_deref(), uid),
            // newgidmap checks /etc/subgid against the user's name, not the group's.
            gids: subids(&text("/etc/subgid"), name.as_deref().or(gname.as_deref()), uid),
            helpers: Path::new(NEWUIDMAP).exists() && Path::new(NEWGIDMAP).exists(),
        }
    }
}

/// A cgroup2 subtree delegated to this user (systemd's user@.service does this for a login; or
/// root by chown): the highest folder above procjail's own cgroup that the user owns, with a
/// `cgroup.procs` and a `cgroup.subtree_control` of its own to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delegation {
    /// The folder on the host (under the cgroup2 mount).
    pub dir: PathBuf,
    /// Its path under the cgroup2 root, as /proc/self/cgroup names it.
    pub rel: String,
    /// The controllers it has (its `cgroup.controllers`): only these can be limited.
    pub controllers: Vec<String>,
}

/// The delegated subtree of `uid`, from procjail's cgroup2 (`/proc/self/cgroup`'s `0::` line)
/// under the cgroup2 mount `unified`.
pub fn delegation(unified: &Path, uid: u32) -> Option<Delegation> {
    let cgroup = read_small("/proc/self/cgroup").ok()?;
    let own = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?.trim().to_string();
    let owns = |rel: &str, files: &[&str]| {
        let dir = unified.join(rel.trim_start_matches('/'));
        std::iter::once(dir.clone())
            .chain(files.iter().map(|f| dir.join(f)))
            .all(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.uid() == uid))
    };
    // Walk up while the folder and its cgroup.procs are the user's (a leaf it was put in needs
    // no more): the last one that is, is the delegation's root, where procjail makes its own
    // folder and enables controllers, so its cgroup.subtree_control must be the user's too.
    let mut best = None;
    let mut rel = own.as_str();
    while rel.len() > 1 && owns(rel, &["cgroup.procs"]) {
        best = Some(rel.to_string());
        rel = rel.rsplit_once('/').map_or("/", |(up, _)| if up.is_empty() { "/" } else { up });
    }
    let rel = best.filter(|r| owns(r, &["cgroup.subtree_control"]))?;
    let dir = unified.join(rel.trim_start_matches('/'));
    let controllers = read_small(&dir.join("cgroup.controllers").display().to_string()).unwrap_or_default();
    Some(Delegation { dir, rel, controllers: controllers.split_whitespace().map(String::from).collect() })
}

#[cfg(test)]
mod tests {
    #[test]
    fn subordinate_ids_by_name_or_number() {
        let text = "alice:100000:65536\n1001:165536:65536\nbob:231072:1000\n";
        assert_eq!(super::subids(text, Some("alice"), 1000), vec![(100000, 65536)]);
        assert_eq!(super::subids(text, Some("carol"), 1001), vec![(165536, 65536)]);
        assert_eq!(super::subids(text, None, 7), vec![]);
        let passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(super::user_name(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(super::user_name(passwd, 5), None);
    }

    #[test]
    fn each_file_of_a_jail_names_that_jail_whatever_dots_its_name_has() {
        let dir = std::path::Path::new("/run/procjail");
        for name in ["busybox", "a.json", "x.lock", "v1.2.json.tmp", "y.json.json"] {
            let f = super::JailFiles::of(dir, name);
            for file in f.all() {
                let file = file.file_name().unwrap().to_str().unwrap().to_string();
                assert_eq!(super::JailFiles::name_of(&file), Some(name), "{file}");
            }
        }
        assert_eq!(super::JailFiles::of(dir, "a").tmp(), dir.join("a.json.tmp"));
        assert_eq!(super::JailFiles::name_of("busybox"), None);
        assert_eq!(super::JailFiles::name_of(".lock"), None);
    }
}

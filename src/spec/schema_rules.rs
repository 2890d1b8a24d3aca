//! The schema's patterns (`config::rules`) held to the checks they stand for: for every string
//! made of a few pieces that matter, up to a length, the schema accepts exactly what `check`
//! accepts. Where the schema can only say less (a size that is not a whole number of bytes), the
//! test names the cases.

use std::path::Path;

use regex::Regex;

use super::{hostname_problem, normalize, parse_device, parse_mode, parse_user, target_problem};
use crate::config::rules::*;
use crate::config::{Duration, Size};
use crate::host::{CgroupKind, Host};

/// Every string of at most `n` pieces.
fn strings(pieces: &[&str], n: usize) -> Vec<String> {
    let mut all = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..n {
        last = last.iter().flat_map(|s| pieces.iter().map(move |p| format!("{s}{p}"))).collect();
        all.extend(last.iter().cloned());
    }
    all
}

fn matches(pattern: &str) -> impl Fn(&str) -> bool + use<> {
    let re = Regex::new(pattern).unwrap();
    move |s| re.is_match(s)
}

/// The schema and the check agree on each string, and each accepts some and refuses some.
#[track_caller]
fn agree<S: AsRef<str>>(
    what: &str,
    cases: impl IntoIterator<Item = S>,
    schema: impl Fn(&str) -> bool,
    check: impl Fn(&str) -> bool,
) {
    let (mut yes, mut no) = (0, 0);
    for s in cases {
        let s = s.as_ref();
        let (by_schema, by_check) = (schema(s), check(s));
        assert_eq!(by_schema, by_check, "{what} {s:?}: the schema says {by_schema}, check says {by_check}");
        if by_check { yes += 1 } else { no += 1 }
    }
    assert!(yes > 0 && no > 0, "{what}: {yes} accepted, {no} refused: the cases test nothing");
}

/// The keys `check` has an error at, for a jail file of a rootfs and `extra`; without seccomp,
/// so that docker's profile is not compiled for each case.
fn errors(extra: &str) -> Vec<String> {
    let no_seccomp = "[security]\nseccomp = \"none\"";
    let extra = if extra.contains("[security]") {
        extra.replace("[security]", no_seccomp)
    } else {
        format!("{extra}\n{no_seccomp}")
    };
    let text = format!("[rootfs]\npath = \"missing\"\nfrom = \"busybox\"\n{extra}\n");
    let host = Host::standard(CgroupKind::V2);
    match super::from_str(Path::new("/nonexistent/jail.toml"), &text, &host) {
        Ok(_) => Vec::new(),
        Err(diags) => diags.into_iter().map(|d| d.key).collect(),
    }
}

/// Whether `check` takes `value` at `key`, in a file with `extra` (value as a TOML string).
fn check_takes(key: &str, extra: impl Fn(&str) -> String) -> impl Fn(&str) -> bool {
    move |value: &str| {
        let quoted = toml::Value::String(value.to_string()).to_string();
        !errors(&extra(&quoted)).iter().any(|k| k.starts_with(key))
    }
}

#[test]
fn hostnames() {
    let mut cases = strings(&["a", "Z", "0", "-", ".", "_", "é"], 5);
    let label = "a".repeat(63);
    cases.extend([label.clone(), format!("{label}b"), format!("a.{label}"), format!("{label}.b")]);
    cases.extend(["a".repeat(62) + ".b", "a-".repeat(32) + "a"]);
    let pattern = matches(HOSTNAME_PATTERN);
    agree(
        "hostname",
        &cases,
        |s| (1..=64).contains(&s.chars().count()) && pattern(s),
        |s| hostname_problem(s).is_none(),
    );
}

#[test]
fn modes() {
    let mut cases = strings(&["0", "1", "7", "8", "+", "-", " "], 6);
    cases.extend(["0000000000000000000000001777".into(), "17777".into(), "07777".into(), "10000".into()]);
    agree("mode", &cases, matches(MODE_PATTERN), |s| parse_mode(s).is_some());
}

#[test]
fn mount_targets() {
    let (absolute, refused) = (matches(ABSOLUTE_PATTERN), matches(TARGET_REFUSED_PATTERN));
    agree(
        "target",
        strings(&["/", ".", "..", "proc", "a", "\0"], 5),
        |s| absolute(s) && !refused(s),
        |s| target_problem(s).is_none(),
    );
}

#[test]
fn a_rootfs_that_is_the_hosts_root() {
    // Absolute paths and "": the rootfs check's own (relative ones are joined to the file's
    // folder). Where `..` leads is left to check, which looks at the filesystem.
    let root = matches(ROOT_PATTERN);
    let cases = strings(&["/", ".", "a"], 6)
        .into_iter()
        .filter(|s| (s.is_empty() || s.starts_with('/')) && !s.contains(".."));
    agree("rootfs.path", cases, |s| !root(s), |s| !s.is_empty() && normalize(Path::new(s)) != Path::new("/"));
}

#[test]
fn users() {
    let mut cases = strings(&["0", "1", ":", "+", "-", "a"], 5);
    for n in ["4294967294", "4294967295", "4294967296", "04294967294", "+4294967294", "99999999999"] {
        cases.extend([n.to_string(), format!("1:{n}"), format!("{n}:1")]);
    }
    agree("user", &cases, matches(USER_PATTERN), |s| parse_user(s).is_some());
}

#[test]
fn device_rules() {
    let mut cases = strings(&["c", "a", " ", "1", ":", "*", "rw", "x"], 5);
    for n in ["4294967295", "4294967296", "+7", "007"] {
        cases.extend([format!("c {n}:1 rw"), format!("b 1:{n}")]);
    }
    cases.extend(["default", " default", "c\t1:3\tm", "b 8:0 rwmrwm"].map(String::from));
    agree("device", &cases, matches(DEVICE_PATTERN), |s| s == "default" || parse_device(s).is_ok());
}

#[test]
fn sizes_and_durations() {
    let pieces = ["0", "1", "5", ".", "K", "KiB", "MiB", "T", "B", "s", "ms", "m", "h", " ", "-", "e"];
    let cases = strings(&pieces, 3);
    // The schema cannot say "a whole number of bytes" ("0.3B") or "fits in 64 bits".
    let beyond = |e: &crate::config::units::UnitError| {
        e.message.contains("whole number") || e.message.contains("too large")
    };
    let size = |s: &str| Size::parse(s).map_err(|e| beyond(&e));
    let duration = |s: &str| Duration::parse(s).map_err(|e| beyond(&e));
    let schema_of = |t: serde_json::Value| matches(t["oneOf"][1]["pattern"].as_str().unwrap());
    let size_pattern = schema_of(serde_json::to_value(schemars::schema_for!(Size)).unwrap());
    let duration_pattern = schema_of(serde_json::to_value(schemars::schema_for!(Duration)).unwrap());
    agree("size", &cases, &size_pattern, |s| size(s) != Err(false));
    agree("duration", &cases, &duration_pattern, |s| duration(s) != Err(false));
    // Above zero: what `above_zero` refuses is the strings whose value is 0.
    let zero_of = |transform: fn(&mut schemars::Schema)| {
        let mut schema = schemars::json_schema!({});
        transform(&mut schema);
        assert_eq!(schema.get("minimum"), Some(&serde_json::json!(1)));
        matches(schema.get("not").unwrap()["pattern"].as_str().unwrap())
    };
    let (size_zero, duration_zero) = (zero_of(Size::above_zero), zero_of(Duration::above_zero));
    let sizes = cases.iter().filter(|s| Size::parse(s).is_ok());
    agree("size 0", sizes, &size_zero, |s| Size::parse(s) == Ok(Size(0)));
    let durations = cases.iter().filter(|s| Duration::parse(s).is_ok());
    agree("duration 0", durations, &duration_zero, |s| Duration::parse(s) == Ok(Duration(0)));
}

#[test]
fn capability_names() {
    let pattern = matches(CAPABILITY_PATTERN);
    for name in crate::host::caps::NAMES {
        for form in [name.to_string(), name.trim_start_matches("CAP_").to_string(), name.to_lowercase()] {
            assert!(pattern(&form), "{form:?} is a capability, and the schema refuses it");
        }
    }
    // What the pattern refuses, check refuses too (it says less: not which names exist).
    for bad in ["", "CAP-CHOWN", "chown1", "CAP_CHOWN ", "+CHOWN", "CAP_NET-ADMIN"] {
        assert!(!pattern(bad) && crate::host::caps::number(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn the_command() {
    let pieces = ["/", "a", ".", "\0"];
    let argv0 = matches(ARGV0_PATTERN);
    let no_nul = matches(NO_NUL_PATTERN);
    let argv = |v: &str| format!("[command]\nargv = [{v}, \"x\"]");
    agree("argv[0]", strings(&pieces, 3), |s| argv0(s) && no_nul(s), check_takes("command.argv", argv));
    let cwd = |v: &str| format!("[command]\nargv = [\"/bin/true\"]\ncwd = {v}");
    agree("cwd", strings(&pieces, 3), matches(CWD_PATTERN), check_takes("command.cwd", cwd));
    let env = |v: &str| format!("[command]\nargv = [\"/bin/true\"]\nenv = {{ {v} = \"1\" }}");
    agree(
        "env name",
        strings(&["=", "a", "\0"], 3),
        matches(ENV_NAME_PATTERN),
        check_takes("command.env", env),
    );
}

#[test]
fn paths_in_the_jail() {
    let pattern = matches(ABSOLUTE_PATTERN);
    let parent = matches(PARENT_DIR_PATTERN);
    let masked = |v: &str| format!("[command]\nargv = [\"/bin/true\"]\n[security]\nmasked_paths = [{v}]");
    agree(
        "masked_paths",
        strings(&["/", "..", "a", "."], 3).into_iter().chain(["default".to_string()]),
        |s| s == "default" || (pattern(s) && !parent(s)),
        check_takes("security.masked_paths", masked),
    );
}

#[test]
fn signals_and_tmpfs_options() {
    let mut cases: Vec<String> = nix::sys::signal::Signal::iterator()
        .flat_map(|s| [s.as_str().to_string(), s.as_str().trim_start_matches("SIG").to_string()])
        .collect();
    cases.extend(["SIG", "kill", "SIGSIGKILL", "9", "RTMIN", "KILL ", ""].map(String::from));
    let signal = |v: &str| format!("[command]\nargv = [\"/bin/true\"]\n[expect]\nsignal = {v}");
    agree("signal", &cases, matches(&signal_pattern()), check_takes("expect.signal", signal));
    let options: Vec<String> =
        TMPFS_OPTIONS.iter().map(|o| o.to_string()).chain(["size".into(), "NOEXEC".into()]).collect();
    let tmpfs = |v: &str| {
        format!(
            "[command]\nargv = [\"/bin/true\"]\n[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/t\"\noptions = [{v}]"
        )
    };
    agree("tmpfs option", &options, |s| TMPFS_OPTIONS.contains(&s), check_takes("mounts[1].options", tmpfs));
}

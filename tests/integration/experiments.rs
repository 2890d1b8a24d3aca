//! `procjail test`: the library of experiments in jails/ passes, and a failing experiment says
//! what it expected and what it got.

use crate::common::*;

#[test]
fn every_experiment_in_jails_passes() {
    require_root();
    ensure_repo_rootfs();
    let report = tempfile::NamedTempFile::new().unwrap();
    let run = procjail(&["test", "-j", "2", "--json", report.path().to_str().unwrap(), "jails/"]);
    assert_eq!(run.code, 0, "{run:?}");
    let last = run.stdout.lines().last().unwrap_or_default();
    let files = std::fs::read_dir(repo().join("jails"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .count();
    assert_eq!(last, format!("{files} passed, 0 failed"), "{run:?}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.path()).unwrap()).unwrap();
    assert_eq!(json["passed"].as_u64().unwrap() as usize, files);
    assert!(
        json["experiments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["result"] == "pass" && e["leaks"].as_array().unwrap().is_empty())
    );
}

#[test]
fn a_failing_experiment_shows_expected_and_actual() {
    require_root();
    let failing = jail(
        "exp-failing",
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/sh\", \"-c\", \"echo hi; exit 3\"]\n[expect]\nexit = 0\nstdout = \"bye\\n\"\n",
    );
    let passing = jail(
        "exp-passing",
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/true\"]\n[expect]\nexit = 0\n",
    );
    let plain = jail("exp-plain", "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/true\"]\n");
    let before = Snapshot::take(&failing.file);
    let files: Vec<String> =
        [&failing, &passing, &plain].iter().map(|j| j.file.display().to_string()).collect();
    let mut args = vec!["test"];
    args.extend(files.iter().map(String::as_str));
    let run = procjail(&args);
    Snapshot::take(&failing.file).assert_same(&before, &run);
    assert_eq!(run.code, 1, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("FAIL  exp-failing"), "{run:?}");
    assert!(
        run.stdout.contains("      exit             0                                    3\n"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("      stdout           \"bye\\n\"                              \"hi\\n\"\n"),
        "{run:?}"
    );
    assert!(run.stdout.contains("      | hi\n"), "the captured output is shown: {run:?}");
    assert!(run.stdout.contains("PASS  exp-passing"), "{run:?}");
    assert!(run.stdout.contains("SKIP  exp-plain"), "{run:?}");
    assert_eq!(*lines.last().unwrap(), "1 passed, 1 failed, 1 skipped", "{run:?}");
}

#[test]
fn output_can_be_matched_by_contains_and_regex() {
    require_root();
    let j = jail(
        "exp-match",
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/sh\", \"-c\", \"echo hello world; echo oops >&2; exit 4\"]\n[expect]\nexit = 4\nstdout = { contains = \"lo wor\" }\nstderr = { regex = '^oops\\n$' }\nmax_duration = \"5s\"\n",
    );
    let run = procjail(&["test", j.file.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout.lines().last().unwrap(), "1 passed, 0 failed");
}

//! Every jail file in jails/: valid against the JSON Schema, and its plan for v1, hybrid and v2
//! equal to the committed golden file (tests/golden/NAME.HOST.plan). To accept a change of the
//! plans on purpose: `PROCJAIL_BLESS=1 cargo test --test integration plans`, then review the diff.

use std::collections::BTreeMap;

use crate::common::*;

#[test]
fn every_jail_file_starts_with_the_schema_comment() {
    for f in jail_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.starts_with("#:schema ../schema/jail.schema.json\n"),
            "{} must start with the #:schema comment",
            f.display()
        );
    }
}

#[test]
fn every_jail_file_is_valid_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schema/jail.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    for f in jail_files() {
        let value: toml::Value = toml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let json = serde_json::to_value(value).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&json).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
    }
    // And the schema rejects what the loader rejects: an unknown key, a wrong type.
    for bad in [
        "bogus = 1\n[rootfs]\npath = \"x\"\n[command]\nargv = [\"a\"]",
        "[rootfs]\npath = 1\n[command]\nargv = [\"a\"]",
        "[rootfs]\npath = \"x\"",
    ] {
        let json = serde_json::to_value(toml::from_str::<toml::Value>(bad).unwrap()).unwrap();
        assert!(!validator.is_valid(&json), "the schema accepts {bad:?}");
    }
}

#[test]
fn the_committed_schema_is_up_to_date() {
    let committed = std::fs::read_to_string(repo().join("schema/jail.schema.json")).unwrap();
    let run = procjail(&["schema"]);
    assert_eq!(run.code, 0);
    if std::env::var_os("PROCJAIL_BLESS").is_some() {
        std::fs::write(repo().join("schema/jail.schema.json"), &run.stdout).unwrap();
        return;
    }
    assert!(
        committed == run.stdout,
        "schema/jail.schema.json is out of date: run `procjail schema > schema/jail.schema.json`"
    );
}

#[test]
fn the_loader_and_the_schema_know_the_same_keys() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schema/jail.schema.json")).unwrap())
            .unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v["properties"].as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let resolve = |v: &serde_json::Value| -> serde_json::Value {
        let v = if v["items"].is_object() { &v["items"] } else { v };
        // A `$ref` with a description beside it stands in an `allOf` of its own.
        match v["$ref"].as_str().or(v["allOf"][0]["$ref"].as_str()) {
            Some(r) => schema["$defs"][r.trim_start_matches("#/$defs/")].clone(),
            None => v.clone(),
        }
    };
    for (table, known) in procjail::config::KNOWN_KEYS {
        let node = match table {
            &"" => schema.clone(),
            // The id maps' lines are tables inside [user].
            &"uid_map" | &"gid_map" => resolve(&resolve(&schema["properties"]["user"])["properties"][table]),
            _ => resolve(&schema["properties"][table]),
        };
        let mut known: Vec<String> = known.iter().map(|s| s.to_string()).collect();
        known.sort();
        assert_eq!(keys(&node), known, "table [{table}]");
    }
}

#[test]
fn plans_match_the_golden_files() {
    ensure_repo_rootfs();
    let bless = std::env::var_os("PROCJAIL_BLESS").is_some();
    let root = repo().display().to_string();
    let mut stale = Vec::new();
    for f in jail_files() {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        for host in ["v1", "hybrid", "v2"] {
            let rel = format!("jails/{name}.toml");
            let out = std::process::Command::new(bin())
                // Unwrapped: where a line wraps depends on how long the repo's path is.
                .args(["plan", "--width", "0", "--host", host, &rel])
                .current_dir(repo())
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "plan {rel} --host {host}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8(out.stdout).unwrap().replace(&root, "$REPO");
            let golden = repo().join(format!("tests/golden/{name}.{host}.plan"));
            if bless {
                std::fs::write(&golden, &text).unwrap();
            } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(text.as_str()) {
                stale.push(format!("{} differs:\n{text}", golden.display()));
            }
        }
    }
    assert!(stale.is_empty(), "plans changed (PROCJAIL_BLESS=1 to accept):\n{}", stale.join("\n"));
}

#[test]
fn plan_json_has_the_documented_shape() {
    ensure_repo_rootfs();
    let run = procjail(&["plan", "--json", "--host", "v2", "jails/busybox.toml"]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["jail"], "busybox");
    assert_eq!(v["host"]["cgroup"], "v2");
    let phases = v["phases"].as_array().unwrap();
    let steps: Vec<&serde_json::Value> = phases.iter().flat_map(|p| p["steps"].as_array().unwrap()).collect();
    assert_eq!(v["steps"].as_u64().unwrap() as usize, steps.len());
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["index"].as_u64().unwrap() as usize, i + 1);
        assert!(["parent", "child", "command"].contains(&s["side"].as_str().unwrap()));
        assert!(s["syscall"].as_str().is_some_and(|t| t.contains('(')));
        assert!(s["op"].is_string() && s["origin"]["kind"].is_string());
    }
    let memory = steps
        .iter()
        .find(|s| s["syscall"].as_str().unwrap().contains("memory.max"))
        .expect("a memory.max write");
    assert_eq!(memory["syscall"], "write(\"/sys/fs/cgroup/procjail/busybox/memory.max\", \"67108864\")");
    assert_eq!(memory["origin"]["kind"], "file");
    assert_eq!(memory["origin"]["what"], "limits.memory");
}

#[test]
fn plan_text_on_a_pipe_is_one_line_per_step_without_colour() {
    ensure_repo_rootfs();
    for host in ["v1", "hybrid", "v2"] {
        let run = procjail(&["plan", "--host", host, "jails/busybox.toml"]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(!run.stdout.contains('\x1b'), "colour off a terminal");
        // Not wrapped: each step is one line, so grep finds a whole step.
        let total: usize = run.stdout.lines().next().unwrap().rsplit(' ').nth(1).unwrap().parse().unwrap();
        let numbered = run.stdout.lines().filter(|l| step_number(l).is_some()).count();
        assert_eq!(numbered, total, "{}", run.stdout);
        // The whole clone call is on one line: with CLONE_INTO_CGROUP where there is a cgroup2.
        let clone = run.stdout.lines().find(|l| l.contains("CLONE_NEWPID")).unwrap();
        let into = if host == "v1" { "clone(" } else { "clone3(" };
        assert!(clone.contains(into) && clone.contains("SIGCHLD"), "{clone}");
        assert_eq!(clone.contains("CLONE_INTO_CGROUP"), host != "v1", "{clone}");
    }
    // The summary comes first.
    let run = procjail(&["plan", "--host", "v2", "jails/busybox.toml"]);
    let head: Vec<&str> =
        run.stdout.lines().skip(1).take(7).map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(head, ["namespaces", "rootfs", "limits", "init", "confinement", "command", "steps"]);
}

fn step_number(line: &str) -> Option<usize> {
    line.strip_prefix("  ")?.trim_start().split("  ").next()?.parse().ok()
}

#[test]
fn plan_text_wraps_only_between_tokens() {
    ensure_repo_rootfs();
    let whole = procjail(&["plan", "--host", "hybrid", "--width", "0", "jails/busybox.toml"]).stdout;
    let narrow = procjail(&["plan", "--host", "hybrid", "--width", "72", "jails/busybox.toml"]).stdout;
    // The syscall of a line: what is left of it once the step number and the origin (after two
    // spaces) are taken off.
    let call = |l: &str| {
        l.trim_start()
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start()
            .split("  ")
            .next()
            .unwrap_or("")
            .to_string()
    };
    let steps: BTreeMap<usize, String> =
        whole.lines().filter_map(|l| Some((step_number(l)?, call(l)))).collect();
    let mut joined: BTreeMap<usize, String> = BTreeMap::new();
    let mut current = None;
    let mut wrapped = 0;
    for line in narrow.lines() {
        assert!(line.chars().count() <= 72, "longer than 72 columns: {line:?}");
        if let Some(n) = step_number(line) {
            current = Some(n);
            joined.insert(n, call(line));
        } else if let Some(n) =
            current.filter(|_| line.starts_with("       ") && !line.trim_start().starts_with('←'))
        {
            // A continuation: the break was after ", " (a space between), or after `|` or `/`.
            wrapped += 1;
            let text = joined.get_mut(&n).unwrap();
            let next = line.trim_start().split("  ").next().unwrap_or("");
            // Joined without a space (after `|` or `/`) or with one (after ", " or at a space):
            // whichever the whole line has.
            let tight = format!("{text}{next}");
            *text = if steps[&n].starts_with(&tight) { tight } else { format!("{text} {next}") };
        } else {
            current = None;
        }
    }
    assert!(wrapped > 10, "the narrow plan wraps: {narrow}");
    assert_eq!(joined.len(), steps.len());
    for (n, text) in &joined {
        assert_eq!(text, &steps[n], "step {n} was broken inside a token");
    }
}

#[test]
fn plan_text_fits_the_terminal() {
    ensure_repo_rootfs();
    // script(1) gives procjail a terminal of 90 columns.
    let cmd = format!("stty cols 90; {} plan --color never --host v2 jails/busybox.toml", bin());
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(repo())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.lines().count() > 150, "{text}");
    for line in text.lines() {
        assert!(line.trim_end_matches('\r').chars().count() <= 90, "longer than the terminal: {line:?}");
    }
    assert!(!text.contains('\x1b'), "--color never");
}

//! Every jail file in jails/: valid against the JSON Schema, and its plan for v1, hybrid and v2
//! equal to the committed golden file (tests/golden/NAME.HOST.plan). To accept a change of the
//! plans on purpose: `PROCJAIL_BLESS=1 cargo test --test integration plans`, then review the diff.

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
        match v["$ref"].as_str() {
            Some(r) => schema["$defs"][r.trim_start_matches("#/$defs/")].clone(),
            None => v.clone(),
        }
    };
    for (table, known) in procjail::config::KNOWN_KEYS {
        let node = if table.is_empty() { schema.clone() } else { resolve(&schema["properties"][table]) };
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
fn plan_text_fits_100_columns_and_has_no_colour_off_a_terminal() {
    ensure_repo_rootfs();
    for host in ["v1", "hybrid", "v2"] {
        let run = procjail(&["plan", "--host", host, "jails/busybox.toml"]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(!run.stdout.contains('\x1b'), "colour off a terminal");
        for line in run.stdout.lines() {
            assert!(line.chars().count() <= 100, "longer than 100 columns: {line:?}");
        }
    }
}

//! Step 9's command line: `check --json`, `-` for standard input and report paths, `--color`,
//! completions, the man page, help on every argument, and `up --trace-json`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

const OK: &str = "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/true\"]\n";

fn with(extra: &str) -> String {
    format!("{OK}{extra}")
}

#[test]
fn check_json_gives_each_file_its_diagnostics() {
    let good = jail("good", OK);
    let bad = jail("bad", &with("[limits]\nmemroy = 1\n"));
    let run =
        procjail(&["check", "--json", &good.file.display().to_string(), &bad.file.display().to_string()]);
    assert_eq!(run.code, 125, "{run:?}");
    assert_eq!(run.stderr, "", "JSON alone, nothing drawn on stderr");
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!((files[0]["valid"].as_bool(), files[0]["jail"].as_str()), (Some(true), Some("good")));
    assert!(files[0]["steps"].as_u64().unwrap() > 50);
    assert_eq!(files[1]["valid"], false);
    let d = &files[1]["diagnostics"][0];
    assert_eq!(d["file"], bad.file.display().to_string());
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(6), Some(1)));
    assert_eq!((d["key"].as_str(), d["level"].as_str()), (Some("limits.memroy"), Some("error")));
    assert_eq!(d["message"], "unknown key `memroy` in [limits]");
    assert!(d["accepted"].as_str().unwrap().starts_with("one of: memory,"));
    assert_eq!(d["hint"], "did you mean `memory`?");
}

/// Runs procjail with `input` on its standard input.
fn with_stdin(args: &[&str], input: &str, cwd: &Path) -> Run {
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn a_dash_reads_the_jail_file_from_standard_input() {
    let text = OK.replace("{rootfs}", &rootfs().display().to_string());
    let dir = tempfile::tempdir().unwrap();
    let run = with_stdin(&["check", "-"], &text, dir.path());
    assert_eq!((run.code, run.stdout.starts_with("ok     - (jail stdin,")), (0, true), "{run:?}");
    let run = with_stdin(&["plan", "-"], &text, dir.path());
    assert!(run.stdout.starts_with("plan for - (jail stdin,"), "{run:?}");
    let run = with_stdin(&["--color", "never", "check", "-"], "[limits]\npids = 0\n", dir.path());
    assert_eq!(run.code, 125);
    assert!(run.stderr.contains("--> -:2:8"), "{run:?}");
    // Reports to standard output: `up --json-report -`.
    let j = jail("report", OK);
    require_root();
    let run = procjail(&["up", "--json-report", "-", &j.file.display().to_string()]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["jail"], "report");
}

#[test]
fn color_is_chosen_by_flag_terminal_and_no_color() {
    let j = jail("colour", &with("[limits]\npids = 0\n"));
    let file = j.file.display().to_string();
    assert!(procjail(&["--color", "always", "check", &file]).stderr.contains("\x1b["));
    assert!(!procjail(&["--color", "never", "check", &file]).stderr.contains("\x1b["));
    assert!(!procjail(&["check", &file]).stderr.contains("\x1b["), "auto: not a terminal");
    // auto on a terminal, and NO_COLOR turns it off (script(1) gives a terminal).
    let term = |env: &str| {
        let cmd = format!("{env} {} check {file}", bin());
        let out = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(term("").contains("\x1b["));
    assert!(!term("NO_COLOR=1").contains("\x1b["));
}

#[test]
fn completions_for_three_shells() {
    for (shell, mark) in
        [("bash", "complete -F _procjail"), ("zsh", "#compdef procjail"), ("fish", "complete -c procjail")]
    {
        let run = procjail(&["completions", shell]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.contains(mark), "{shell}: {}", &run.stdout[..200.min(run.stdout.len())]);
        for sub in ["check", "plan", "up", "inspect", "completions"] {
            assert!(run.stdout.contains(sub), "{shell} completes {sub}");
        }
    }
    // bash accepts it.
    let run = procjail(&["completions", "bash"]);
    let out = Command::new("bash").args(["-n", "-c", &run.stdout]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_man_page_and_one_per_command() {
    let run = procjail(&["man"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains(".TH procjail 1") && run.stdout.contains(".SH SUBCOMMANDS"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Exit codes"), "the exit codes are in the page");
    let dir = tempfile::tempdir().unwrap();
    let run = procjail(&["man", "--dir", &dir.path().display().to_string()]);
    assert_eq!(run.code, 0, "{run:?}");
    for page in ["procjail.1", "procjail-up.1", "procjail-check.1", "procjail-completions.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
}

#[test]
fn help_explains_every_argument_and_the_exit_codes() {
    let cmd = <procjail::cli::Cli as clap::CommandFactory>::command();
    for sub in cmd.get_subcommands() {
        for arg in sub.get_arguments().filter(|a| a.is_positional()) {
            assert!(arg.get_help().is_some(), "`procjail {} {}` has no help", sub.get_name(), arg.get_id());
        }
    }
    let run = procjail(&["--help"]);
    for text in ["Examples:", "Exit codes:", "125", "126", "127", "128+N"] {
        assert!(run.stdout.contains(text), "--help has {text:?}: {}", run.stdout);
    }
    assert!(procjail(&["up", "--help"]).stdout.contains("Exit codes:"));
}

#[test]
fn trace_json_is_a_chrome_trace_with_a_track_per_process() {
    let j = sh("timeline", "echo hi", "[limits]\npids = 20");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trace.json");
    let run = up_with(&j, &["--trace-json", &out.display().to_string()]);
    assert_eq!(run.code, 0, "{run:?}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let events = doc["traceEvents"].as_array().unwrap();
    let plan = procjail(&["plan", "--json", &j.file.display().to_string()]);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    // The three tracks are named.
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["supervisor [parent]", "jail's init [child]", "command [command]"]);
    // Every step of the plan is an event on its side's track, with the plan's own text, up to
    // the init's closing of the host's descriptors (the init's loop and exit are not recorded).
    let tid = |side: &str| match side {
        "parent" => 1,
        "child" => 2,
        _ => 3,
    };
    let (mut seen, mut unrecorded) = (0, 0);
    for phase in plan["phases"].as_array().unwrap() {
        for step in phase["steps"].as_array().unwrap() {
            let index = step["index"].as_u64().unwrap();
            let Some(e) = events.iter().find(|e| e["args"]["step"] == index && e["ph"] != "E") else {
                assert!(phase["name"] == "reap", "step {index} ({}) is not in the trace", step["syscall"]);
                unrecorded += 1;
                continue;
            };
            seen += 1;
            assert_eq!(e["tid"], tid(step["side"].as_str().unwrap()), "{e}");
            assert_eq!(e["args"]["syscall"], step["syscall"], "{e}");
            assert_eq!(e["cat"], phase["name"]);
            match e["ph"].as_str().unwrap() {
                "X" => {
                    assert!(
                        e["dur"].as_f64().unwrap() >= 0.0
                            && e["args"]["result"].as_str().unwrap().starts_with("ok"),
                        "{e}"
                    )
                }
                "i" => assert!(e["args"]["result"].as_str().unwrap().starts_with("skipped ("), "{e}"),
                "B" => assert_eq!(e["args"]["result"], "…"),
                other => panic!("unexpected phase {other}: {e}"),
            }
        }
    }
    assert_eq!(seen + unrecorded, plan["steps"].as_u64().unwrap(), "{seen} events");
    assert!(unrecorded < 10, "{unrecorded} steps of the init's last phase not recorded");
    // Timestamps grow on each track.
    for t in 1..=3 {
        let ts: Vec<f64> = events
            .iter()
            .filter(|e| e["tid"] == t && e["ph"] != "M")
            .map(|e| e["ts"].as_f64().unwrap())
            .collect();
        assert!(!ts.is_empty() && ts.windows(2).all(|w| w[0] <= w[1]), "track {t}: {ts:?}");
    }
    // `-`: the document on standard output, after the command's own output.
    let run = up_with(&j, &["--trace-json", "-"]);
    let json_start = run.stdout.find('{').unwrap();
    assert_eq!(&run.stdout[..json_start], "hi\n");
    let doc: serde_json::Value = serde_json::from_str(&run.stdout[json_start..]).unwrap();
    assert!(doc["traceEvents"].as_array().unwrap().len() > 50);
}

//! The command line: raw arguments → validated arguments → one function per command.
//! Errors come back up to [`main`], which prints each one once and picks the exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::Duration;
use crate::diag::FileErrors;
use crate::host::{CgroupKind, Host};
use crate::plan::{self, print::Style};
use crate::spec;

/// Exit code when procjail itself failed (bad jail file, a failed step, a leak).
pub const EXIT_FAILED: i32 = 125;

#[derive(Debug, Parser)]
#[command(
    name = "procjail",
    version,
    about = "Run a process in a jail described by a TOML file, and show exactly what the kernel is asked to do."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate jail files and print one line for each.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the plan of a jail: every step `up` would take, without taking any.
    Plan {
        file: PathBuf,
        /// Plan for another kind of host instead of this one.
        #[arg(long, value_enum)]
        host: Option<CgroupKind>,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        /// Fit lines to this many columns; 0: one line per step, however long.
        #[arg(long, default_value_t = plan::print::WIDTH)]
        width: usize,
    },
    /// Run the jail in the foreground and tear it down when it ends.
    Up {
        file: PathBuf,
        /// Print each step as it runs: index, side, syscall, result, time.
        #[arg(long)]
        trace: bool,
        /// Stop the jail after this long (SIGTERM, then SIGKILL after the grace period).
        #[arg(long, value_parser = parse_duration)]
        timeout: Option<Duration>,
        /// Write the end-of-run report as JSON to this file.
        #[arg(long)]
        json_report: Option<PathBuf>,
        /// The jail's name (its cgroups, its state, `procjail ps`). Default: the file's name.
        #[arg(long, value_parser = parse_name)]
        name: Option<String>,
    },
    /// Run the experiments: the jail files with an [expect] table; check what each shows.
    Test {
        /// Jail files, or folders of them. Default: jails/
        paths: Vec<PathBuf>,
        /// Run this many experiments at once.
        #[arg(short = 'j', long, default_value_t = 1)]
        jobs: usize,
        /// Write a machine-readable report (JSON) to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// List the running jails.
    Ps {
        #[arg(long)]
        json: bool,
    },
    /// Show a running jail: namespaces, cgroups and live values, mounts, processes, plan.
    Inspect {
        #[arg(value_parser = parse_name)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Run a command in a running jail.
    Exec {
        #[arg(value_parser = parse_name)]
        name: String,
        /// Print each step as it runs.
        #[arg(long)]
        trace: bool,
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
    /// Send a signal to a running jail's init (which forwards it to the command).
    Kill {
        #[arg(value_parser = parse_name)]
        name: String,
        /// A name (TERM, SIGTERM) or a number. Default: TERM.
        #[arg(default_value = "TERM")]
        signal: String,
        /// Send it to every process of the jail instead.
        #[arg(long)]
        all: bool,
    },
    /// Stop a running jail gracefully: TERM, the grace period, KILL; wait for its teardown.
    Down {
        #[arg(value_parser = parse_name)]
        name: String,
        /// Give up waiting after this long.
        #[arg(long, value_parser = parse_duration, default_value = "60s")]
        wait: Duration,
    },
    /// Check the host for what procjail left (stale state, cgroups, mounts); exit 1 if any.
    Audit {
        /// Only these jails.
        names: Vec<String>,
    },
    /// Remove what `audit` finds.
    Gc {
        /// Only these jails.
        names: Vec<String>,
    },
    /// Print the JSON Schema of jail files.
    Schema,
    /// Make a rootfs by hand.
    Rootfs {
        /// What to make it from.
        #[arg(value_parser = ["busybox"])]
        from: String,
        /// The folder to make (must not exist).
        dir: PathBuf,
        /// Print each step as it runs.
        #[arg(long)]
        trace: bool,
    },
}

/// A jail name: letters, digits, '-', '_' and '.', not starting with '.', at most 64 bytes.
pub fn parse_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(s.to_string())
    } else {
        Err("use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'".into())
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    Duration::parse(s).map_err(|e| format!("{} ({})", e.message, e.hint))
}

/// Runs the command line and returns the exit code. Every error is printed here, once.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            exit_code_of(&e)
        }
    }
}

/// The exit code for an error: a step error knows its own (126, 127), everything else is 125.
pub fn exit_code_of(e: &anyhow::Error) -> i32 {
    e.downcast_ref::<crate::exec::RunError>().map_or(EXIT_FAILED, |r| r.exit_code())
}

fn report_error(e: &anyhow::Error) {
    let color = Style::for_stream(std::io::stderr().is_terminal()).color;
    if let Some(fe) = e.downcast_ref::<FileErrors>() {
        eprintln!("{}", fe.render(color));
    } else {
        let head = if color { "\x1b[1;31mprocjail\x1b[0m" } else { "procjail" };
        eprintln!("{head}: {e:#}");
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Check { files } => check(&files),
        Command::Plan { file, host, json, width } => {
            let host = host.map_or_else(Host::detect, Host::standard);
            let spec = spec::load(&file, &host)?;
            let plan = plan::build(&spec, &host);
            if json {
                println!("{}", plan::print::json(&plan));
            } else {
                let style = Style { width, ..Style::for_stream(std::io::stdout().is_terminal()) };
                print!("{}", plan::print::text(&plan, style));
            }
            Ok(0)
        }
        Command::Up { file, trace, timeout, json_report, name } => {
            // PROCJAIL_TRACE=1 traces too: for runs started by other programs (tests, scripts).
            let trace = trace || std::env::var_os("PROCJAIL_TRACE").is_some_and(|v| v == "1");
            let mountinfo = crate::host::read_small("/proc/self/mountinfo")?;
            let host = Host::detect_with(&mountinfo);
            let mut spec = spec::load(&file, &host)?;
            if let Some(t) = timeout {
                spec.timeout_ms = Some(t.0);
            }
            if let Some(name) = name {
                spec.name = name;
            }
            let plan = plan::build(&spec, &host);
            let opts = crate::exec::Options { trace, mountinfo, json_report };
            crate::exec::up(&plan, &opts)
        }
        Command::Test { paths, jobs, json } => {
            let paths = if paths.is_empty() { crate::experiment::default_paths() } else { paths };
            crate::experiment::run(&paths, jobs, json.as_deref())
        }
        Command::Ps { json } => crate::day2::ps(json),
        Command::Inspect { name, json } => crate::day2::inspect(&name, json),
        Command::Exec { name, trace, argv } => crate::enter::run(&name, &argv, trace),
        Command::Kill { name, signal, all } => {
            crate::day2::kill_jail(&name, crate::day2::parse_signal(&signal)?, all)
        }
        Command::Down { name, wait } => crate::day2::down(&name, wait.as_std()),
        Command::Audit { names } => crate::day2::audit(&names),
        Command::Gc { names } => crate::day2::gc(&names),
        Command::Schema => {
            print!("{}", schema_json());
            Ok(0)
        }
        Command::Rootfs { from: _, dir, trace } => {
            let host = Host::detect();
            let dir = std::path::absolute(&dir)?;
            let plan = plan::build_rootfs(&dir, &crate::rootfs::missing_parents(&dir), &host);
            crate::exec::run_parent_only(&plan, trace)?;
            eprintln!("made a busybox rootfs at {}", dir.display());
            Ok(0)
        }
    }
}

/// The JSON Schema of jail files, as committed in schema/jail.schema.json.
pub fn schema_json() -> String {
    use schemars::generate::SchemaSettings;
    use schemars::transform::RecursiveTransform;
    let settings = SchemaSettings::draft2020_12()
        .with(|s| s.transforms.push(Box::new(RecursiveTransform(toml_has_no_null))));
    let schema = settings.into_generator().into_root_schema_for::<crate::config::JailFile>();
    serde_json::to_string_pretty(&schema).expect("the schema serializes") + "\n"
}

/// TOML has no null: an optional key is one that may be left out, never one set to null.
fn toml_has_no_null(schema: &mut schemars::Schema) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if let Some(serde_json::Value::Array(types)) = obj.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types[0].clone();
            obj.insert("type".into(), only);
        }
    }
    if let Some(serde_json::Value::Array(any)) = obj.get("anyOf").cloned() {
        let rest: Vec<_> =
            any.into_iter().filter(|v| v.get("type").and_then(|t| t.as_str()) != Some("null")).collect();
        obj.remove("anyOf");
        if let [one] = rest.as_slice() {
            for (k, v) in one.as_object().into_iter().flatten() {
                obj.insert(k.clone(), v.clone());
            }
        } else {
            obj.insert("anyOf".into(), serde_json::Value::Array(rest));
        }
    }
    if obj.get("default").is_some_and(|d| d.is_null()) {
        obj.remove("default");
    }
    if let Some(serde_json::Value::Object(d)) = obj.get_mut("default") {
        d.retain(|_, v| !v.is_null());
    }
}

fn check(files: &[PathBuf]) -> anyhow::Result<i32> {
    let host = Host::detect();
    let color = Style::for_stream(std::io::stderr().is_terminal()).color;
    let mut bad = 0;
    for file in files {
        match check_one(file, &host) {
            Ok(line) => println!("ok     {line}"),
            Err(e) => {
                bad += 1;
                eprintln!("{}\n", e.render(color));
                println!(
                    "error  {} ({} problem{})",
                    file.display(),
                    e.diags.len(),
                    if e.diags.len() == 1 { "" } else { "s" }
                );
            }
        }
    }
    Ok(if bad == 0 { 0 } else { EXIT_FAILED })
}

fn check_one(file: &Path, host: &Host) -> Result<String, FileErrors> {
    let spec = spec::load(file, host)?;
    let plan = plan::build(&spec, host);
    Ok(format!("{} (jail {}, {} steps)", file.display(), spec.name, plan.len()))
}

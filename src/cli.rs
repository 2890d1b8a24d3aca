//! The command line: clap's types, and the one `match` that calls a command in [`crate::cmd`].
//! Errors come back up to [`main`], which prints each one once and picks the exit code.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::config::Duration;
use crate::diag::FileErrors;
use crate::error::{EXIT_FAILED, RunError};
use crate::host::CgroupKind;
use crate::plan::{self, print::Style};

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
        /// Print the kernel's answer before the command's execve: each check (capabilities,
        /// no_new_privs, seccomp, namespaces, mounts, cgroups, rlimits), planned and read back.
        #[arg(long)]
        verify: bool,
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
        /// Print the plan (which pidfds, which signal) without acting.
        #[arg(long)]
        plan: bool,
    },
    /// Stop a running jail gracefully: TERM, the grace period, KILL; wait for its teardown.
    Down {
        #[arg(value_parser = parse_name)]
        name: String,
        /// Give up waiting after this long.
        #[arg(long, value_parser = parse_duration, default_value = "60s")]
        wait: Duration,
        /// Print the plan without acting.
        #[arg(long)]
        plan: bool,
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
        /// Print the plan (every umount, kill, unlink and rmdir) without acting.
        #[arg(long)]
        plan: bool,
    },
    /// Print the JSON Schema of jail files.
    Schema,
    /// Make a rootfs by hand.
    Rootfs {
        /// What to make it from.
        #[arg(value_enum)]
        from: crate::config::RootfsFrom,
        /// The folder to make (must not exist).
        dir: PathBuf,
        /// Print each step as it runs.
        #[arg(long)]
        trace: bool,
        /// Print the plan without acting.
        #[arg(long)]
        plan: bool,
    },
}

/// A jail name, by the one rule of [`crate::spec::name_problem`].
pub fn parse_name(s: &str) -> Result<String, String> {
    match crate::spec::name_problem(s) {
        None => Ok(s.to_string()),
        Some(problem) => Err(problem.to_string()),
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
    e.downcast_ref::<RunError>().map_or(EXIT_FAILED, |r| r.exit_code())
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
        Command::Check { files } => cmd::check::check(&files),
        Command::Plan { file, host, json, width } => cmd::plan::plan(&file, host, json, width),
        Command::Up { file, trace, timeout, json_report, name, verify } => {
            cmd::up::up(cmd::up::Args { file, trace, timeout, json_report, name, verify })
        }
        Command::Test { paths, jobs, json } => {
            let paths = if paths.is_empty() { cmd::test::default_paths() } else { paths };
            cmd::test::run(&paths, jobs, json.as_deref())
        }
        Command::Ps { json } => cmd::ps::ps(json),
        Command::Inspect { name, json } => cmd::inspect::inspect(&name, json),
        Command::Exec { name, trace, argv } => cmd::exec::exec(&name, &argv, trace),
        Command::Kill { name, signal, all, plan } => {
            cmd::kill::kill(&name, cmd::kill::parse_signal(&signal)?, all, plan)
        }
        Command::Down { name, wait, plan } => cmd::kill::down(&name, wait.as_std(), plan),
        Command::Audit { names } => cmd::audit::audit(&names),
        Command::Gc { names, plan } => cmd::audit::gc(&names, plan),
        Command::Schema => {
            print!("{}", cmd::schema::schema_json());
            Ok(0)
        }
        Command::Rootfs { from, dir, trace, plan } => cmd::rootfs::rootfs(from, &dir, trace, plan),
    }
}

//! The command line: clap's types, and the one `match` that calls a command in [`crate::cmd`].
//! Errors come back up to [`main`], which prints each one once and picks the exit code.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::config::Duration;
use crate::diag::FileDiags;
use crate::error::{EXIT_FAILED, RunError};
use crate::host::CgroupKind;
use crate::oci::InitChoice;
use crate::plan::{self, print::ColorChoice, print::Style};

/// Exit codes, as `--help` shows them.
const EXIT_CODES: &str = "\
Exit codes:
  N       the command's own exit code
  128+N   the command (or the jail's PID 1) died of signal N (137: SIGKILL, e.g. an OOM kill)
  125     procjail failed: an invalid jail file, a failed step, a leak found at teardown
  126     the command was found but cannot be executed
  127     the command was not found in the rootfs
  1       audit: something was left on the host; test: an experiment failed;
          doctor: a finding";

const EXAMPLES: &str = "\
Examples:
  procjail check jails/*.toml              validate jail files
  procjail plan jails/busybox.toml         every step `up` would take, no syscalls
  procjail up jails/busybox.toml --trace   run it, printing each step as it runs
  procjail ps                              the running jails
  procjail doctor busybox                  what the kernel shows of its command, and what is wrong
  procjail down busybox                    stop one: TERM, the grace period, KILL";

#[derive(Debug, Parser)]
#[command(
    name = "procjail",
    version,
    about = "Run a process in a jail described by a TOML file, and show exactly what the kernel is asked to do.",
    after_help = EXAMPLES,
    after_long_help = format!("{EXAMPLES}\n\n{EXIT_CODES}"),
)]
pub struct Cli {
    /// When to colour the output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, global = true, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

/// Each command's arguments are built only when it is the one run (`defer`): a start builds one
/// command's arguments, not those of all eighteen.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Validate jail files and print one line for each.
    #[command(
        after_help = "Examples:\n  procjail check jails/*.toml\n  procjail check --json web.toml | jq '.files[].diagnostics[]'\n  cat web.toml | procjail check -\n\nExit status: 0 when every file is valid (warnings allowed), 125 when one is not."
    )]
    Check {
        /// Jail files to validate; `-` reads one from standard input.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print every file's diagnostics as JSON (file, line, column, key, level, message,
        /// accepted, hint), for editors and CI.
        #[arg(long)]
        json: bool,
    },
    /// Print the plan of a jail: every step `up` would take, without taking any.
    #[command(
        after_help = "Examples:\n  procjail plan jails/busybox.toml\n  procjail plan jails/busybox.toml --host v2 | grep CLONE_INTO_CGROUP\n  procjail plan --json jails/busybox.toml | jq '.phases[].steps[].text'"
    )]
    Plan {
        /// The jail file; `-` reads it from standard input.
        file: PathBuf,
        /// Plan for another kind of host instead of this one.
        #[arg(long, value_enum)]
        host: Option<CgroupKind>,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        /// Fit lines to this many columns; 0: one line per step, however long. Default: the
        /// terminal's width on a terminal, no wrapping on a pipe.
        #[arg(long)]
        width: Option<usize>,
    },
    /// Run the jail in the foreground and tear it down when it ends.
    #[command(after_help = "Examples:\n  procjail up jails/busybox.toml\n  procjail up web.toml --name web-2 --timeout 30s --json-report report.json\n  procjail up jails/oom-kill.toml --trace; echo $?   # 137: the kernel's OOM kill", after_long_help = format!("{EXIT_CODES}"))]
    Up {
        /// The jail file; `-` reads it from standard input (which the command then does not get).
        file: PathBuf,
        /// Print each step as it runs: index, side, syscall, result, time.
        #[arg(long)]
        trace: bool,
        /// Stop the jail after this long (SIGTERM, then SIGKILL after the grace period).
        #[arg(long, value_parser = parse_duration)]
        timeout: Option<Duration>,
        /// Write the end-of-run report as JSON to this file; `-`: standard output.
        #[arg(long, value_name = "FILE")]
        json_report: Option<PathBuf>,
        /// The jail's name (its cgroups, its state, `procjail ps`). Default: the file's name.
        #[arg(long, value_parser = parse_name)]
        name: Option<String>,
        /// Print the kernel's answer before the command's execve: each check (capabilities,
        /// no_new_privs, seccomp, namespaces, mounts, cgroups, rlimits), planned and read back.
        #[arg(long)]
        verify: bool,
        /// Write the run as Chrome trace events to this file (`-`: standard output), to open in
        /// ui.perfetto.dev or chrome://tracing: a track each for the supervisor, the jail's init
        /// and the command, each step a slice with its syscall, duration and result.
        #[arg(long, value_name = "FILE")]
        trace_json: Option<PathBuf>,
        /// Print the report line even when the command exited 0 with nothing else to report
        /// (it is printed anyway for another status, a signal, an OOM kill, a pids limit hit
        /// or the timeout, and with --trace).
        #[arg(long)]
        report: bool,
    },
    /// Run the experiments: the jail files with an [expect] table; check what each shows.
    Test {
        /// Jail files, or folders of them. Default: jails/
        paths: Vec<PathBuf>,
        /// Run this many experiments at once.
        #[arg(short = 'j', long, default_value_t = 1)]
        jobs: usize,
        /// Write a machine-readable report (JSON) to this file; `-`: standard output.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// List the running jails.
    Ps {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a running jail: namespaces, cgroups and live values, mounts, processes, plan.
    Inspect {
        /// The jail's name (as `procjail ps` lists it).
        #[arg(value_parser = parse_name)]
        name: String,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Diagnose a process (any pid) or a running jail's command: namespaces, capabilities,
    /// seccomp, mounts and their propagation, masked paths, cgroup counters, rlimits,
    /// descriptors, PID 1; and the failure modes of `jails/` found in them.
    #[command(
        after_help = "Examples:\n  procjail doctor web                 the command of the running jail \"web\"\n  procjail doctor 4242                any process of the host\n  procjail doctor --json web | jq '.findings[].id'\n\nExit status: 0 no finding, 1 at least one finding, 125 the process cannot be read (not root, no such\nprocess, a pid namespace this /proc does not show)."
    )]
    Doctor {
        /// A pid (in this /proc's pid namespace), or a running jail's name (as `procjail ps`
        /// lists it); a number is a pid.
        #[arg(value_name = "PID|NAME")]
        target: String,
        /// Print the facts and findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a command in a running jail.
    #[command(after_help = "Example:\n  procjail exec busybox -- /bin/sh -c 'ps; cat /proc/self/status'")]
    Exec {
        /// The jail's name (as `procjail ps` lists it).
        #[arg(value_parser = parse_name)]
        name: String,
        /// Print each step as it runs.
        #[arg(long)]
        trace: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        argv: Vec<String>,
    },
    /// Send a signal to a running jail's init (which forwards it to the command).
    Kill {
        /// The jail's name (as `procjail ps` lists it).
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
        /// The jail's name (as `procjail ps` lists it).
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
    /// Write a jail file from an OCI bundle's config.json.
    #[command(
        after_help = "Examples:\n  procjail import oci ./bundle -o web.toml\n  procjail import oci ./bundle/config.json --lossy > web.toml\n\nApproximations are commented where they are; what is not carried is listed at the end. A security setting that cannot be carried (a user namespace, an AppArmor profile, ...) stops the import (exit 125) unless --lossy: a jail is never silently weaker than its container. linux.seccomp is written beside FILE as FILE's name .seccomp.json."
    )]
    Import {
        /// What to read.
        #[arg(value_enum)]
        format: cmd::oci::Format,
        /// The bundle's folder, or its config.json.
        bundle: PathBuf,
        /// Write the jail file here (default: standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Import even when a security setting cannot be carried (each is listed).
        #[arg(long)]
        lossy: bool,
    },
    /// Write a jail as an OCI bundle (config.json, and the rootfs's real path) for runc or crun.
    #[command(
        after_help = "Examples:\n  procjail export oci jails/busybox.toml /tmp/busybox-bundle && runc run -b /tmp/busybox-bundle busybox\n  procjail export oci web.toml bundle --init tini --copy-rootfs\n\nWhat a bundle cannot say (procjail's init, the report, the nodev rootfs, ...) is printed on stderr and kept in the annotation org.procjail.notes."
    )]
    Export {
        /// What to write.
        #[arg(value_enum)]
        format: cmd::oci::Format,
        /// The jail file.
        file: PathBuf,
        /// The bundle's folder (made; it must be new or empty).
        dir: PathBuf,
        /// PID 1 of the bundle: none (the command, OCI's way), or a static tini or catatonit of
        /// the host bound read-only at /dev/init in front of the command.
        #[arg(long, value_enum, default_value_t = InitChoice::None)]
        init: InitChoice,
        /// Copy the rootfs into DIR/rootfs (root.path "rootfs") instead of naming its real path.
        #[arg(long)]
        copy_rootfs: bool,
    },
    /// Print the JSON Schema of jail files.
    Schema,
    /// Print a shell's completion script.
    #[command(
        after_help = "Examples:\n  procjail completions bash > /etc/bash_completion.d/procjail\n  procjail completions zsh > \"${fpath[1]}/_procjail\"\n  procjail completions fish > ~/.config/fish/completions/procjail.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a folder.
    #[command(
        after_help = "Examples:\n  procjail man | man -l -\n  procjail man --dir target/man   # procjail.1, procjail-up.1, ..."
    )]
    Man {
        /// Write procjail.1 and a page for each command into this folder instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
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

/// Runs the command line (argv, the program's name first) and returns the exit code. Every error
/// is printed here, once.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let cli = Cli::parse_from(args);
    plan::print::set_color(cli.color);
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
    if let Some(fe) = e.downcast_ref::<FileDiags>() {
        eprintln!("{}", fe.render(color));
    } else {
        let head = if color { "\x1b[1;31mprocjail\x1b[0m" } else { "procjail" };
        eprintln!("{head}: {e:#}");
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Check { files, json } => cmd::check::check(&files, json),
        Command::Plan { file, host, json, width } => cmd::plan::plan(&file, host, json, width),
        Command::Up { file, trace, timeout, json_report, name, verify, trace_json, report } => {
            cmd::up::up(cmd::up::Args { file, trace, timeout, json_report, name, verify, trace_json, report })
        }
        Command::Test { paths, jobs, json } => {
            let paths = if paths.is_empty() { cmd::test::default_paths() } else { paths };
            cmd::test::run(&paths, jobs, json.as_deref())
        }
        Command::Ps { json } => cmd::ps::ps(json),
        Command::Inspect { name, json } => cmd::inspect::inspect(&name, json),
        Command::Doctor { target, json } => cmd::doctor::doctor(&target, json),
        Command::Exec { name, trace, argv } => cmd::exec::exec(&name, &argv, trace),
        Command::Kill { name, signal, all, plan } => {
            cmd::kill::kill(&name, cmd::kill::parse_signal(&signal)?, all, plan)
        }
        Command::Down { name, wait, plan } => cmd::kill::down(&name, wait.as_std(), plan),
        Command::Audit { names } => cmd::audit::audit(&names),
        Command::Gc { names, plan } => cmd::audit::gc(&names, plan),
        Command::Import { format: cmd::oci::Format::Oci, bundle, output, lossy } => {
            cmd::oci::import(&bundle, output.as_deref(), lossy)
        }
        Command::Export { format: cmd::oci::Format::Oci, file, dir, init, copy_rootfs } => {
            cmd::oci::export(&file, &dir, init, copy_rootfs)
        }
        Command::Schema => {
            print!("{}", cmd::schema::schema_json());
            Ok(0)
        }
        Command::Rootfs { from, dir, trace, plan } => cmd::rootfs::rootfs(from, &dir, trace, plan),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "procjail",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Man { dir } => cmd::man::man(<Cli as clap::CommandFactory>::command(), dir.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    /// clap's own checks of every command's arguments (names, conflicts, defaults), which a
    /// start no longer makes: each command's arguments are built only when it runs (`defer`).
    #[test]
    fn every_commands_arguments_pass_claps_checks() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn a_deferred_command_still_parses_its_arguments() {
        let cli =
            super::Cli::try_parse_from(["procjail", "up", "web.toml", "--name", "web-2", "--timeout", "30s"])
                .expect("parses");
        match cli.command {
            super::Command::Up { file, name, timeout, .. } => {
                assert_eq!(file, std::path::PathBuf::from("web.toml"));
                assert_eq!(name.as_deref(), Some("web-2"));
                assert_eq!(timeout.map(|t| t.to_string()), Some("30s".to_string()));
            }
            other => panic!("parsed as {other:?}"),
        }
        let e = super::Cli::try_parse_from(["procjail", "up", "web.toml", "--name", "no/slash"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
    }
}

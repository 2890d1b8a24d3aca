//! One module per command: each reads what it needs from the host, builds its plan, and prints
//! it or walks it. `cli` parses the command line and calls these; `main` prints their errors.

pub mod audit;
pub mod check;
pub mod doctor;
pub mod exec;
pub mod inspect;
pub mod kill;
pub mod man;
pub mod oci;
pub mod plan;
pub mod ps;
pub mod rootfs;
pub mod schema;
pub mod test;
pub mod up;

use std::io::IsTerminal;
use std::os::fd::AsFd;

use crate::plan::Plan;
use crate::plan::print::{self, Style};

/// Prints a plan for a person (`plan`, and `--plan` of the commands that change the host):
/// fitted to `width` columns if given, else to the terminal's width on a terminal, and not
/// wrapped at all on a pipe (so grep finds a whole step on one line).
pub fn show(plan: &Plan, width: Option<usize>) {
    let terminal = std::io::stdout().is_terminal();
    let width = width.unwrap_or_else(|| {
        if terminal {
            crate::sys::terminal_columns(std::io::stdout().as_fd()).unwrap_or(print::WIDTH)
        } else {
            0
        }
    });
    let style = Style { width, ..Style::for_stream(terminal) };
    print!("{}", print::text(plan, style));
}

/// Writes what a command was asked to write to a file (`--json-report F`, `test --json F`);
/// `-` is standard output.
pub fn write_output(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    if path == std::path::Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        return Ok(out.flush()?);
    }
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

//! One module per command: each reads what it needs from the host, builds its plan, and prints
//! it or walks it. `cli` parses the command line and calls these; `main` prints their errors.

pub mod audit;
pub mod check;
pub mod exec;
pub mod inspect;
pub mod kill;
pub mod plan;
pub mod ps;
pub mod rootfs;
pub mod schema;
pub mod test;
pub mod up;

use std::io::IsTerminal;

use crate::plan::Plan;
use crate::plan::print::{self, Style};

/// Prints a plan for a person (`plan`, and `--plan` of the commands that change the host).
pub fn show(plan: &Plan, width: usize) {
    let style = Style { width, ..Style::for_stream(std::io::stdout().is_terminal()) };
    print!("{}", print::text(plan, style));
}

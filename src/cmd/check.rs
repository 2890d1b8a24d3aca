//! `procjail check FILE...`: validates jail files, one line each.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::diag::FileErrors;
use crate::error::EXIT_FAILED;
use crate::host::Host;
use crate::plan::print::Style;
use crate::{build, spec};

pub fn check(files: &[PathBuf]) -> anyhow::Result<i32> {
    let host = Host::detect();
    let color = Style::for_stream(std::io::stderr().is_terminal()).color;
    let mut bad = 0;
    for file in files {
        match check_one(file, &host) {
            Ok(line) => println!("ok     {line}"),
            Err(e) => {
                bad += 1;
                eprintln!("{}\n", e.render(color));
                let n = e.diags.len();
                println!("error  {} ({n} problem{})", file.display(), if n == 1 { "" } else { "s" });
            }
        }
    }
    Ok(if bad == 0 { 0 } else { EXIT_FAILED })
}

fn check_one(file: &Path, host: &Host) -> Result<String, FileErrors> {
    let spec = spec::load(file, host)?;
    let plan = build::up(&spec, host);
    Ok(format!("{} (jail {}, {} steps)", file.display(), spec.name, plan.len()))
}

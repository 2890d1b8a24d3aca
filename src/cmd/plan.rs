//! `procjail plan FILE`: the plan of `up`, printed; no syscalls.

use std::io::IsTerminal;
use std::path::Path;

use crate::host::{CgroupKind, Host};
use crate::{build, spec};

pub fn plan(file: &Path, host: Option<CgroupKind>, json: bool, width: Option<usize>) -> anyhow::Result<i32> {
    let host = host.map_or_else(Host::detect, Host::standard);
    let spec = spec::load(file, &host)?;
    if !spec.warnings.diags.is_empty() {
        let color = crate::plan::print::use_color(std::io::stderr().is_terminal());
        eprintln!("{}\n", spec.warnings.render(color));
    }
    let plan = build::up(&spec, &host);
    if json {
        println!("{}", crate::plan::print::json(&plan));
    } else {
        super::show(&plan, width);
    }
    Ok(0)
}

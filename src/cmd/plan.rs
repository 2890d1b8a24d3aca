//! `procjail plan FILE`: the plan of `up`, printed; no syscalls.

use std::path::Path;

use crate::host::{CgroupKind, Host};
use crate::{build, spec};

pub fn plan(file: &Path, host: Option<CgroupKind>, json: bool, width: usize) -> anyhow::Result<i32> {
    let host = host.map_or_else(Host::detect, Host::standard);
    let spec = spec::load(file, &host)?;
    let plan = build::up(&spec, &host);
    if json {
        println!("{}", crate::plan::print::json(&plan));
    } else {
        super::show(&plan, width);
    }
    Ok(0)
}

//! `procjail man`: the man page, from the same clap definitions as `--help` (clap_mangen).

use std::path::Path;

/// Prints procjail(1) as roff, or with `dir` writes procjail.1 and procjail-COMMAND.1 for each
/// command there (the pages a release ships).
pub fn man(cmd: clap::Command, dir: Option<&Path>) -> anyhow::Result<i32> {
    match dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            use std::io::Write as _;
            std::io::stdout().write_all(&out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot make {}: {e}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .map_err(|e| anyhow::anyhow!("cannot write the pages into {}: {e}", dir.display()))?;
        }
    }
    Ok(0)
}

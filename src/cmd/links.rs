//! `skeeter links DIR`: symlinks under the names that make the binary act as one tool.

use std::path::Path;

use std::io::Write;

use anyhow::{Context, Result};

use crate::cli::{LINK_NAMES, LinksArgs};

pub fn run(args: LinksArgs) -> Result<()> {
    let target = std::env::current_exe().context("cannot find the path of this program")?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    for (name, _) in LINK_NAMES {
        let link = args.dir.join(name);
        replace_if_forced(&link, args.force)?;
        std::os::unix::fs::symlink(&target, &link).with_context(|| {
            format!(
                "cannot create {} (use --force to replace it)",
                link.display()
            )
        })?;
        writeln!(
            std::io::stdout(),
            "{} -> {}",
            link.display(),
            target.display()
        )?;
    }
    Ok(())
}

fn replace_if_forced(link: &Path, force: bool) -> Result<()> {
    if force && link.symlink_metadata().is_ok() {
        std::fs::remove_file(link).with_context(|| format!("cannot replace {}", link.display()))?;
    }
    Ok(())
}

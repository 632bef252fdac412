//! `skeeter generate completions|man DIR`: the files in completions/ and man/, made from the clap
//! definitions (a test fails when the committed ones are stale).

use std::path::Path;

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, GenerateArgs, GenerateWhat};

pub fn run(args: GenerateArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    match args.what {
        GenerateWhat::Completions => completions(&args.dir),
        GenerateWhat::Man => man_pages(&args.dir),
    }
}

fn completions(dir: &Path) -> Result<()> {
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let mut command = Cli::command();
        let path = clap_complete::generate_to(shell, &mut command, "skeeter", dir)
            .with_context(|| format!("cannot write the {shell} completions"))?;
        writeln!(std::io::stdout(), "{}", path.display())?;
    }
    Ok(())
}

fn man_pages(dir: &Path) -> Result<()> {
    let command = Cli::command();
    write_page(dir, "skeeter", command.clone())?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("skeeter-{}", sub.get_name());
        write_page(
            dir,
            &name,
            sub.clone()
                .name(name.clone())
                .version(env!("CARGO_PKG_VERSION")),
        )?;
    }
    Ok(())
}

fn write_page(dir: &Path, name: &str, command: clap::Command) -> Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .date("")
        .render(&mut page)
        .with_context(|| format!("cannot render the man page {name}"))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(std::io::stdout(), "{}", path.display())?;
    Ok(())
}

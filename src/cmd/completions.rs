//! `s3fix completions SHELL` and `s3fix man`: shell completion scripts and manual pages,
//! generated from the same clap definitions as `--help`, so they never disagree with it.

use crate::cli::Cli;
use crate::exit::ExitCode;
use crate::printer::Printer;
use anyhow::Context as _;
use clap::CommandFactory;
use std::path::PathBuf;

/// Print a completion script for SHELL on stdout.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells s3fix writes completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// Bash (bash-completion).
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// PowerShell.
    Powershell,
}

/// Print the manual page, or write every page into a directory.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `s3fix.1` and one `s3fix-COMMAND.1` per subcommand into this directory instead.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The completion script for `shell`.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(generator, &mut Cli::command(), "s3fix", &mut script);
    script
}

/// The top-level manual page (roff).
pub fn man_page() -> anyhow::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("cannot render the manual page")?;
    Ok(page)
}

/// Run `s3fix completions`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    printer.data(&String::from_utf8_lossy(&completion_script(args.shell)))?;
    Ok(ExitCode::Success)
}

/// Run `s3fix man`.
pub fn run_man(args: &ManArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let Some(directory) = &args.dir else {
        printer.data(&String::from_utf8_lossy(&man_page()?))?;
        return Ok(ExitCode::Success);
    };
    std::fs::create_dir_all(directory)
        .with_context(|| format!("cannot create directory `{}`", directory.display()))?;
    clap_mangen::generate_to(Cli::command(), directory)
        .with_context(|| format!("cannot write manual pages into `{}`", directory.display()))?;
    printer.status(&format!("wrote manual pages into `{}`", directory.display()));
    Ok(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Powershell] {
            let script = String::from_utf8_lossy(&completion_script(shell)).into_owned();
            for subcommand in ["explain", "plan", "apply", "rollback", "drift", "snapshot"] {
                assert!(script.contains(subcommand), "{shell:?} lacks {subcommand}");
            }
        }
    }

    #[test]
    fn the_manual_page_is_roff_with_the_exit_codes() -> anyhow::Result<()> {
        let page = String::from_utf8_lossy(&man_page()?).into_owned();
        assert!(page.starts_with(".ie") || page.contains(".TH s3fix"), "{page}");
        assert!(page.contains("Exit codes"), "{page}");
        Ok(())
    }
}

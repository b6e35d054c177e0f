//! The command line: global options and the subcommand list. Each subcommand lives in `cmd/`.

use crate::cmd;
use crate::exit::ExitCode;
use crate::printer::Printer;
use crate::render::{ColourChoice, set_colour_choice};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;

/// The exit codes and the first commands, under `s3fix --help`.
const MAIN_AFTER_HELP: &str = "\
Exit codes:
  0  success: allowed (explain), planned or nothing to change (plan), applied and verified
     (apply), in sync (drift), every case evaluated (simulate)
  1  error: bad input or usage (unknown flag, missing argument), AWS failure, stale plan, held
     lock; nothing written
  2  a result, not an error: denied or unknown (explain), changes planned
     (plan --detailed-exitcode), drift found (drift)
  3  apply or drift --fix failed and every completed step was rolled back
  4  rollback incomplete: the journal path and the manual steps are printed

Examples:
  # which gate denies, on the embedded example world (no AWS account needed)
  s3fix explain s3://my-bucket/data/report.csv \\
    --principal arn:aws:sts::222222222222:assumed-role/my-app-role/session1 \\
    --world plans/examples/article-world.json
  # the minimal proven fix, saved as a plan file, then applied
  s3fix plan plans/examples/report-reader.toml -o plan.json
  s3fix apply plan.json
  # shell completions and the manual page
  s3fix completions bash > ~/.local/share/bash-completion/completions/s3fix
  s3fix man --dir ~/.local/share/man/man1";

const SIMULATE_EXAMPLES: &str = "\
Examples:
  s3fix simulate plans/examples/article-cases.jsonl
  s3fix simulate --output text --reasons < cases.json
  jq -c '.[]' cases.json | s3fix simulate --jobs 2";

const EXPLAIN_EXAMPLES: &str = "\
Examples:
  s3fix explain s3://my-bucket/data/report.csv \\
    --principal arn:aws:sts::222222222222:assumed-role/my-app-role/session1 \\
    --world plans/examples/article-world.json
  s3fix explain s3://my-bucket/data/ --action list --context aws:SourceIp=198.51.100.7 \\
    --principal arn:aws:iam::222222222222:role/my-app-role \\
    --bucket-role arn:aws:iam::111111111111:role/s3fix-admin --output json
  s3fix explain --from-error 'An error occurred (403) when calling the HeadObject operation: Forbidden' \\
    s3://my-bucket/data/report.csv --world plans/examples/article-world.json \\
    --principal arn:aws:sts::222222222222:assumed-role/my-app-role/session1
  s3fix explain --from-cloudtrail event.json --event-id 3f1c…

Exit codes: 0 allowed; 2 denied, or unknown (a gate could not be read); 1 error.";

const PLAN_EXAMPLES: &str = "\
Examples:
  s3fix plan plans/examples/report-reader.toml --world plans/examples/article-world.json
  s3fix plan plans/reader.toml -o plan.json --detailed-exitcode
  s3fix plan plans/reader.toml --allow-deny-exception --output json

Exit codes: 0 planned, or nothing to change; 1 error, or the access cannot be granted within
s3fix's scope. With --detailed-exitcode: 0 no changes, 2 changes planned, 1 error.";

const SHOW_EXAMPLES: &str = "\
Examples:
  s3fix show plan.json
  s3fix show plan.json --output json | jq '.edits[].resource'";

const APPLY_EXAMPLES: &str = "\
Examples:
  s3fix apply plan.json
  s3fix apply plan.json --yes --verify-timeout 120
  s3fix apply plan.json --resume op-20261201T101500123Z-4242
  s3fix apply plan.json --endpoint-url http://127.0.0.1:5055   # the plan's endpoint, given again

The plan is re-planned and re-proved on the world as it is now; an edited or stale plan is refused.
Ctrl-C stops before the next write and rolls back; a second Ctrl-C exits at once.

Exit codes: 0 applied and verified; 1 error, nothing written (edited or stale plan, held lock);
3 failed or interrupted and rolled back; 4 rollback incomplete (the journal path and the manual
steps are printed).";

const ROLLBACK_EXAMPLES: &str = "\
Examples:
  s3fix rollback op-20261201T101500123Z-4242
  s3fix rollback .s3fix/journal/op-20261201T101500123Z-4242.json --force

A resource changed since the apply wrote it is left alone and reported (exit 4) unless --force.

Exit codes: 0 restored; 1 error; 4 rollback incomplete (manual steps are printed).";

const DRIFT_EXAMPLES: &str = "\
Examples:
  s3fix drift plans/*.toml
  s3fix drift plans/*.toml --fix --yes --output json > drift.json
  s3fix drift plans/*.toml --fix --yes --allow-security-sensitive   # also ownership switches
  # crontab: hourly, cron mails non-zero exits
  0 * * * * cd /srv/s3fix && s3fix drift plans/*.toml --fix --yes --output json > drift.json

Exit codes: 0 in sync; 2 drift found (or a security-sensitive fix needs review); 1 error;
3 a fix failed and was rolled back; 4 rollback incomplete.";

const SPEC_EXAMPLES: &str = "\
Examples:
  s3fix spec --from-error \"$(cat error.txt)\" -o plans/reader.toml
  s3fix spec --from-error 'An error occurred (403) when calling the HeadObject operation: Forbidden' \\
    s3://my-bucket/data/report.csv --principal arn:aws:iam::222222222222:role/my-app-role
  s3fix spec --from-cloudtrail event.json -o plans/reader.toml

Exit codes: 0 written; 1 error (the error is not a policy denial, or something needed is missing).";

const SNAPSHOT_EXAMPLES: &str = "\
Examples:
  s3fix snapshot s3://my-bucket/data/report.csv \\
    --principal arn:aws:iam::222222222222:role/my-app-role -o world.json
  s3fix snapshot s3://my-bucket --key data/a.csv --key data/b.csv \\
    --principal arn:aws:iam::222222222222:role/my-app-role \\
    --bucket-role arn:aws:iam::111111111111:role/s3fix-admin -o world.json";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  s3fix completions bash > ~/.local/share/bash-completion/completions/s3fix
  s3fix completions zsh > \"${fpath[1]}/_s3fix\"
  s3fix completions fish > ~/.config/fish/completions/s3fix.fish
  s3fix completions powershell >> $PROFILE";

const MAN_EXAMPLES: &str = "\
Examples:
  s3fix man | man -l -
  s3fix man --dir ~/.local/share/man/man1";

/// Find which gate denies a cross-account S3 request, and plan the minimal proven fix.
#[derive(Debug, Parser)]
#[command(name = "s3fix", version, about, long_about = None, after_help = MAIN_AFTER_HELP)]
pub struct Cli {
    /// When to colour output.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColourChoice::Auto)]
    pub color: ColourChoice,
    /// Print no status lines (data, warnings and errors are still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate request cases offline against the policies they carry (no AWS needed).
    #[command(after_help = SIMULATE_EXAMPLES)]
    Simulate(cmd::simulate::Args),
    /// Explain which gate denies an S3 request, and which statement decided.
    #[command(after_help = EXPLAIN_EXAMPLES)]
    Explain(Box<cmd::explain::Args>),
    /// Plan the minimal, proven edits that grant an access spec; show the diff; save a plan.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(Box<cmd::plan::Args>),
    /// Show a saved plan again.
    #[command(after_help = SHOW_EXAMPLES)]
    Show(cmd::show::Args),
    /// Apply a saved plan transactionally: journaled, verified, rolled back on failure.
    #[command(after_help = APPLY_EXAMPLES)]
    Apply(cmd::apply::Args),
    /// Restore the before-state of an applied or interrupted operation.
    #[command(after_help = ROLLBACK_EXAMPLES)]
    Rollback(cmd::rollback::Args),
    /// Check access specs for drift; with --fix --yes, correct it (for schedulers).
    #[command(after_help = DRIFT_EXAMPLES)]
    Drift(Box<cmd::drift::Args>),
    /// Observe a bucket, its objects and a principal through AWS and write a world file.
    #[command(after_help = SNAPSHOT_EXAMPLES)]
    Snapshot(Box<cmd::snapshot::Args>),
    /// Write the access spec for the request an error describes (`--from-error TEXT`).
    #[command(after_help = SPEC_EXAMPLES)]
    Spec(Box<cmd::spec::Args>),
    /// Print a shell completion script (bash, zsh, fish or powershell) on stdout.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(cmd::completions::Args),
    /// Print the manual page (roff) on stdout, or write one page per command into a directory.
    #[command(after_help = MAN_EXAMPLES)]
    Man(cmd::completions::ManArgs),
}

/// Parse the process's command line and run the chosen subcommand.
pub fn run() -> ExitCode {
    run_from(std::env::args_os().collect())
}

/// Parse `args` (program name first) and run the chosen subcommand. Usage errors (an unknown
/// flag, a missing argument) exit 1 like every other error: 2 means only a result.
pub fn run_from(args: Vec<OsString>) -> ExitCode {
    let colour = colour_in(&args);
    set_colour_choice(colour);
    let command = Cli::command().color(match colour {
        ColourChoice::Auto => clap::ColorChoice::Auto,
        ColourChoice::Always => clap::ColorChoice::Always,
        ColourChoice::Never => clap::ColorChoice::Never,
    });
    let parsed = command
        .try_get_matches_from(args)
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            // Help and --version go to stdout; a closed pipe there is not an error.
            let _ = error.print();
            return if error.exit_code() == 0 {
                ExitCode::Success
            } else {
                ExitCode::Error
            };
        }
    };
    let verbose = matches
        .subcommand()
        .and_then(|(_, sub)| sub.try_get_one::<bool>("verbose").ok().flatten().copied())
        .unwrap_or(false);
    let printer = Printer::with_options(cli.quiet, verbose);
    let result = match cli.command {
        Command::Simulate(args) => cmd::simulate::run(&args, &printer),
        Command::Explain(args) => cmd::explain::run(&args, &printer),
        Command::Plan(args) => cmd::plan::run(&args, &printer),
        Command::Show(args) => cmd::show::run(&args, &printer),
        Command::Apply(args) => cmd::apply::run(&args, &printer),
        Command::Rollback(args) => cmd::rollback::run(&args, &printer),
        Command::Drift(args) => cmd::drift::run(&args, &printer),
        Command::Snapshot(args) => cmd::snapshot::run(&args, &printer),
        Command::Spec(args) => cmd::spec::run(&args, &printer),
        Command::Completions(args) => cmd::completions::run(&args, &printer),
        Command::Man(args) => cmd::completions::run_man(&args, &printer),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            printer.error(&error);
            ExitCode::Error
        }
    }
}

/// The `--color` value on a command line, read before parsing so that clap's own help and
/// usage errors honour it too. The last one wins, as clap's parse would have it; anything
/// unreadable is left to the parser to report.
fn colour_in(args: &[OsString]) -> ColourChoice {
    let mut choice = ColourChoice::Auto;
    let mut words = args.iter().skip(1).filter_map(|arg| arg.to_str());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        let value = match word.strip_prefix("--color") {
            Some("") => words.next(),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        choice = match value {
            Some("always") => ColourChoice::Always,
            Some("never") => ColourChoice::Never,
            Some("auto") => ColourChoice::Auto,
            _ => choice,
        };
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn colour_is_read_before_parsing() {
        assert_eq!(colour_in(&words("s3fix plan x")), ColourChoice::Auto);
        assert_eq!(
            colour_in(&words("s3fix --color never plan x")),
            ColourChoice::Never
        );
        assert_eq!(
            colour_in(&words("s3fix plan x --color=always")),
            ColourChoice::Always
        );
        assert_eq!(
            colour_in(&words("s3fix plan -- --color=always")),
            ColourChoice::Auto
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}

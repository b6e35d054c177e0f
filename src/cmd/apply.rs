//! `s3fix apply`: apply a saved plan transactionally — re-planned and re-proved first, under
//! locks — verify it, and roll back on any failure or interrupt.

use crate::adapter::aws::AwsAdapter;
use crate::adapter::aws::probe::{KeyProbe, ProbeResult};
use crate::core::plan::Plan;
use crate::core::plan::verify::is_security_sensitive;
use crate::core::s3::{FinalDecision, S3Action};
use crate::exec::apply::{Applied, ApplyRequest, Outcome, apply_plan};
use crate::exec::lock::LocalLock;
use crate::exec::observe::runtime;
use crate::exec::source::{AwsSource, Source, for_recorded};
use crate::exit::ExitCode;
use crate::journal::{Journal, OperationStatus, StepState};
use crate::printer::Printer;
use crate::render;
use anyhow::{Context as _, bail};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// Apply a saved plan. The plan file is a request, not an authority: apply re-reads the world,
/// re-plans from the file's spec and options and refuses (zero writes) unless the result equals
/// the file and its proof passes now. It names where it will write, asks (or --yes; a
/// security-sensitive edit needs `yes` typed), takes a lock on every bucket, principal and key it
/// writes, and writes each step in a safe order (identity policy, key policy, ownership, bucket
/// policy last), journaling the before-state first; verifies; rolls back on any failure. Ctrl-C
/// stops before the next write and rolls back; a second Ctrl-C exits at once.
///
/// An endpoint recorded in the plan is used only when you give it too (--endpoint-url or
/// AWS_ENDPOINT_URL); plain HTTP only to a loopback address. A world path is resolved against
/// the plan file's directory; --world FILE applies to another world file (re-planned there).
///
/// Exit codes: 0 applied and verified; 1 error before any write (stale or edited plan, bad
/// file, held lock, no confirmation); 3 failed or interrupted and fully rolled back; 4 rollback
/// incomplete (the journal and the manual steps are printed).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file written by `s3fix plan -o`.
    pub plan: PathBuf,
    /// Apply without asking.
    #[arg(long)]
    pub yes: bool,
    /// Finish an interrupted apply: the operation id (or journal file) it was journaled under.
    #[arg(long, value_name = "OPERATION")]
    pub resume: Option<String>,
    /// The journal directory (lock files live in its `locks/`).
    #[arg(long, value_name = "DIR", default_value = crate::journal::DEFAULT_DIRECTORY)]
    pub journal_dir: PathBuf,
    /// How long to wait for IAM's eventual consistency when verifying (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub verify_timeout: u64,
    /// Print the number of AWS API calls on stderr.
    #[arg(long)]
    pub verbose: bool,
    /// Where to apply, beside what was recorded.
    #[command(flatten)]
    pub target: crate::cmd::source::OperatorArgs,
    /// After a verified apply, assume the principal's role (session `s3fix-probe`) and make a
    /// live `HeadObject` of each exact key it should now read; a refusal is a warning (IAM
    /// propagates slowly), never a rollback.
    #[arg(long)]
    pub probe: bool,
}

/// Ask before writing: `y` for ordinary plans; `yes` typed out when an edit is
/// security-sensitive (it narrows a Deny or changes how every object is authorized).
pub fn confirm(plan: &Plan, yes: bool, printer: &Printer) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(crate::hint::HintedError::new(
            "refusing to apply without confirmation: no terminal to ask on",
            "review with s3fix show, then pass --yes",
        )
        .into());
    }
    let sensitive = plan
        .edits
        .iter()
        .filter(|edit| is_security_sensitive(edit))
        .count();
    let accepted = if sensitive > 0 {
        let answer: String = dialoguer::Input::new()
            .with_prompt(format!(
                "{sensitive} edit(s) are security-sensitive. Type `yes` to apply"
            ))
            .allow_empty(true)
            .interact_text()
            .context("cannot read the confirmation")?;
        answer.trim() == "yes"
    } else {
        dialoguer::Confirm::new()
            .with_prompt("Apply these changes?")
            .default(false)
            .interact()
            .context("cannot read the confirmation")?
    };
    if !accepted {
        printer.status("Nothing applied.");
        bail!("apply cancelled: nothing was written");
    }
    Ok(())
}

/// Report an outcome and choose the exit code.
pub fn report(outcome: &Outcome, printer: &Printer) -> ExitCode {
    let path = outcome.journal_path.display();
    let operation = &outcome.operation;
    match operation.status {
        OperationStatus::Applied | OperationStatus::Complete => {
            printer.status(&format!(
                "Applied and verified {} step(s); journal `{path}`.",
                operation.steps.len()
            ));
            ExitCode::Success
        }
        OperationStatus::RolledBack => {
            for failure in &outcome.failures {
                printer.outcome(&format!("error: {failure}"));
            }
            let restored = operation
                .steps
                .iter()
                .filter(|step| step.state == StepState::Restored)
                .count();
            let why = if outcome.interrupted {
                "Interrupted"
            } else {
                "Failed"
            };
            printer.outcome(&format!(
                "{why}; rolled back {restored} step(s): the resources are as before. Journal `{path}`."
            ));
            ExitCode::RolledBack
        }
        OperationStatus::RollbackIncomplete | OperationStatus::InProgress | OperationStatus::Interrupted => {
            for failure in &outcome.failures {
                printer.outcome(&format!("error: {failure}"));
            }
            for step in &operation.steps {
                if let (StepState::Refused | StepState::RestoreFailed, Some(error)) =
                    (step.state, &step.error)
                {
                    printer.outcome(&format!("error: {error}"));
                }
            }
            let why = if outcome.interrupted {
                "Interrupted"
            } else {
                "Failed"
            };
            let what =
                if operation.kind == crate::journal::OperationKind::Rollback && outcome.failures.is_empty() {
                    "The rollback is incomplete".to_string()
                } else {
                    format!("{why}, and the rollback is incomplete")
                };
            printer.outcome(&format!("{what}. Journal `{path}`. Manual steps:"));
            for step in outcome.manual_steps() {
                printer.outcome(&format!("  - {step}"));
            }
            let directory = outcome
                .journal_path
                .parent()
                .map(|dir| dir.display().to_string())
                .unwrap_or_default();
            let target = operation.rollback_of.as_deref().unwrap_or(&operation.id);
            printer.outcome(&format!(
                "then retry with: s3fix rollback {target} --journal-dir {directory}"
            ));
            ExitCode::RollbackIncomplete
        }
    }
}

/// Run `s3fix apply`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    let plan = crate::cmd::show::read_plan(&args.plan)?;
    if plan.is_empty() && args.resume.is_none() {
        printer.status("No changes in this plan: nothing to apply.");
        return Ok(ExitCode::Success);
    }
    let operator = args.target.operator(args.verbose);
    let source = for_recorded(&plan.source, &args.plan, &operator)?;
    let journal = Journal::new(&args.journal_dir);
    let lock = LocalLock::for_journal(&args.journal_dir);
    let request = ApplyRequest {
        plan: &plan,
        plan_file: Some(&args.plan),
        source: &source,
        journal: &journal,
        lock: &lock,
        resume: args.resume.as_deref(),
        verify_timeout: Duration::from_secs(args.verify_timeout),
        command: "apply",
        printer,
    };
    let mut ask = |replanned: &Plan, target: &str| -> anyhow::Result<()> {
        printer.data(&render::plan::text(replanned, render::use_colour()))?;
        printer.status(&format!("target: {target}"));
        confirm(replanned, args.yes, printer)
    };
    let outcome = match apply_plan(&request, &mut ask)? {
        Applied::Nothing => {
            printer.status("No changes in this plan: nothing to apply.");
            return Ok(ExitCode::Success);
        }
        Applied::Done(outcome) => outcome,
    };
    let code = report(&outcome, printer);
    if args.probe && code == ExitCode::Success {
        match &source {
            Source::World(_) => {
                printer.warn("no live probe: the plan was applied to a world file, not to AWS");
            }
            Source::Aws(aws) => probe(&plan, aws, printer),
        }
    }
    Ok(code)
}

/// The keys `--probe` asks for: each exact key the plan expects the principal to get or head
/// (not the synthetic `…s3fix-probe` keys that stand for a prefix), once each, in plan order.
pub fn probe_keys(plan: &Plan) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for expected in &plan.expected {
        let readable = matches!(expected.action, S3Action::Get | S3Action::Head)
            && expected.decision == FinalDecision::Allowed;
        if readable
            && !expected.key.ends_with("s3fix-probe")
            && !expected.key.ends_with('*')
            && !keys.contains(&expected.key)
        {
            keys.push(expected.key.clone());
        }
    }
    keys
}

/// The stderr lines for a probe's results: `(warning?, line)`.
pub fn probe_lines(bucket: &str, principal: &str, probes: &[KeyProbe]) -> Vec<(bool, String)> {
    probes
        .iter()
        .map(|probe| {
            let target = format!("s3://{bucket}/{}", probe.key);
            match &probe.result {
                ProbeResult::Allowed => (
                    false,
                    format!("probe: HeadObject `{target}` as `{principal}`: allowed"),
                ),
                ProbeResult::Denied { reason } => (
                    true,
                    format!(
                        "probe: HeadObject `{target}` as `{principal}` was denied ({reason}); the applied edits are verified and kept: IAM changes can take minutes to propagate, probe again later, or run s3fix explain {target} --principal {principal}"
                    ),
                ),
                ProbeResult::Failed { reason } => (
                    true,
                    format!("probe: HeadObject `{target}` as `{principal}` failed: {reason}"),
                ),
            }
        })
        .collect()
}

/// `--probe`: act as the principal and read each expected key live; report, never fail.
fn probe(plan: &Plan, aws: &AwsSource, printer: &Printer) {
    let principal = &plan.spec.principal;
    match crate::adapter::PrincipalRef::parse(principal) {
        Ok(reference) if reference.is_role() => {}
        _ => {
            printer.warn(&format!(
                "no live probe: `{principal}` is not a role s3fix can assume"
            ));
            return;
        }
    }
    if !plan.spec.context.is_empty() {
        let names: Vec<&str> = plan.spec.context.keys().map(String::as_str).collect();
        printer.status(&format!(
            "probe: the live requests come from here and carry this machine's context, not the spec's ({}): a denial may come from that alone",
            names.join(", ")
        ));
    }
    let keys = probe_keys(plan);
    if keys.is_empty() {
        printer.status("probe: no exact key to read (prefixes are not probed)");
        return;
    }
    let options = aws.options("apply");
    let probed = runtime().and_then(|runtime| {
        runtime.block_on(async {
            let adapter = AwsAdapter::connect(&options).await?;
            Ok(adapter
                .probe_head_objects(&options, principal, &plan.spec.bucket, &keys)
                .await)
        })
    });
    let probed = match probed {
        Ok(probed) => probed,
        Err(error) => {
            printer.warn(&format!("cannot probe: {error:#}"));
            return;
        }
    };
    match probed {
        Ok(probes) => {
            for (warning, line) in probe_lines(&plan.spec.bucket, principal, &probes) {
                if warning {
                    printer.warn(&line);
                } else {
                    printer.status(&line);
                }
            }
        }
        Err(error @ crate::adapter::AdapterError::AssumeRole { .. }) => {
            printer.warn(&format!("cannot assume the principal to probe: {error}"));
        }
        Err(error) => printer.warn(&format!("cannot probe: {error}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;
    use crate::core::world::World;

    const WORLD: &str = include_str!("../../plans/examples/article-world.json");
    const SPEC: &str = include_str!("../../plans/examples/report-reader.toml");

    fn article_plan() -> Plan {
        let world: World = serde_json::from_str(WORLD).unwrap();
        let spec = crate::core::spec::Spec::parse(SPEC, "report-reader.toml").unwrap();
        crate::core::plan::plan(&world, &spec, crate::core::plan::PlanOptions::default()).unwrap()
    }

    #[test]
    fn probe_keys_are_the_exact_readable_keys_once_each() {
        let mut plan = article_plan();
        // A duplicate, a head, a denied one and a put do not add keys.
        let mut extra = plan.expected[0].clone();
        plan.expected.push(extra.clone());
        extra.action = S3Action::Head;
        extra.key = "data/head.csv".into();
        plan.expected.push(extra.clone());
        extra.key = "data/denied.csv".into();
        extra.decision = FinalDecision::ImplicitlyDenied;
        plan.expected.push(extra.clone());
        extra.key = "data/put.csv".into();
        extra.action = S3Action::Put;
        extra.decision = FinalDecision::Allowed;
        plan.expected.push(extra);
        assert_eq!(
            probe_keys(&plan),
            ["data/report.csv", "data/summary.csv", "data/head.csv"],
            "no `data/s3fix-probe` (it stands for the prefix), no list prefix"
        );
    }

    #[test]
    fn a_denied_probe_is_a_warning_naming_the_key() {
        let probes = [
            KeyProbe {
                key: "a.csv".into(),
                result: ProbeResult::Allowed,
            },
            KeyProbe {
                key: "b.csv".into(),
                result: ProbeResult::Denied {
                    reason: "AccessDenied: Access Denied".into(),
                },
            },
            KeyProbe {
                key: "c.csv".into(),
                result: ProbeResult::Failed {
                    reason: "NotFound".into(),
                },
            },
        ];
        let lines = probe_lines("b", "arn:aws:iam::222222222222:role/app", &probes);
        assert!(
            !lines[0].0
                && lines[0]
                    .1
                    .ends_with("`s3://b/a.csv` as `arn:aws:iam::222222222222:role/app`: allowed")
        );
        assert!(
            lines[1].0
                && lines[1].1.contains("`s3://b/b.csv`")
                && lines[1].1.contains("was denied (AccessDenied")
        );
        assert!(
            lines[2].0 && lines[2].1.contains("`s3://b/c.csv`") && lines[2].1.contains("failed: NotFound")
        );
    }
}

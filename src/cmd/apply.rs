//! `s3fix apply`: apply a saved plan transactionally, verify it, roll back on any failure.

use crate::adapter::Writer;
use crate::adapter::aws::AwsAdapter;
use crate::adapter::aws::probe::{KeyProbe, ProbeResult};
use crate::adapter::snapshot::SnapshotWriter;
use crate::core::plan::{Plan, PlanSource, fingerprint_of};
use crate::core::s3::{FinalDecision, S3Action, explain};
use crate::core::world::World;
use crate::exec::apply::{Calls, Outcome, begin, run as run_steps};
use crate::exec::observe::{SourceArgs, runtime};
use crate::exit::ExitCode;
use crate::journal::{Journal, OperationStatus, StepState};
use crate::printer::Printer;
use crate::render;
use anyhow::{Context as _, bail};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Apply a saved plan: refuse it if anything it read has changed; show the diff and ask (or
/// --yes); write each step in a safe order (identity policy, key policy, ownership, bucket
/// policy last), journaling the before-state first; verify; roll back on any failure.
///
/// Exit codes: 0 applied and verified; 1 error before any write (stale plan, bad file, no
/// confirmation); 3 failed and fully rolled back; 4 rollback incomplete (the journal and the
/// manual steps are printed).
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
    /// The journal directory.
    #[arg(long, value_name = "DIR", default_value = crate::journal::DEFAULT_DIRECTORY)]
    pub journal_dir: PathBuf,
    /// How long to wait for IAM's eventual consistency when verifying (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub verify_timeout: u64,
    /// Print the number of AWS API calls on stderr.
    #[arg(long)]
    pub verbose: bool,
    /// Override the AWS profile the plan was made with.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Override the region the plan was made with.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Override the endpoint the plan was made with (e.g. a local emulator).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// After a verified apply, assume the principal's role (session `s3fix-probe`) and make a
    /// live `HeadObject` of each exact key it should now read; a refusal is a warning (IAM
    /// propagates slowly), never a rollback.
    #[arg(long)]
    pub probe: bool,
}

/// The command-line source options equivalent to a plan's recorded source.
pub fn source_args(source: &PlanSource, verbose: bool) -> SourceArgs {
    SourceArgs {
        world: source.world.as_ref().map(PathBuf::from),
        bucket_role: source.bucket_role.clone(),
        caller_role: source.caller_role.clone(),
        external_id: source.external_id.clone(),
        profile: source.profile.clone(),
        region: source.region.clone(),
        endpoint_url: source.endpoint_url.clone(),
        verbose,
        max_objects: None,
    }
}

/// The resources a plan read that differ now (stale), each described.
pub fn stale_resources(plan: &Plan, world: &World) -> Vec<String> {
    plan.fingerprints
        .iter()
        .filter(|recorded| {
            fingerprint_of(world, &recorded.resource).map_or(true, |now| now != recorded.fingerprint)
        })
        .map(|recorded| recorded.resource.describe())
        .collect()
}

/// Whether the plan's expected decisions hold in a world; the failures otherwise.
pub fn expectations_failing(plan: &Plan, world: &World) -> Vec<String> {
    let mut failing = Vec::new();
    for expected in &plan.expected {
        let request = crate::core::s3::S3Request {
            principal: expected.principal.clone(),
            action: expected.action,
            bucket: plan.spec.bucket.clone(),
            key: expected.key.clone(),
            context: crate::core::plan::caller_context(&plan.spec),
        };
        match explain(world, &request) {
            Ok(explanation) if explanation.decision == expected.decision => {}
            Ok(explanation) => failing.push(format!(
                "{} `{}` is {:?}, expected {:?}",
                expected.action.iam_action(),
                expected.key,
                explanation.decision,
                expected.decision
            )),
            Err(error) => failing.push(error.to_string()),
        }
    }
    failing
}

fn confirm(args: &Args, printer: &Printer) -> anyhow::Result<()> {
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to apply without confirmation: no terminal to ask on (hint: review with s3fix show, then pass --yes)"
        );
    }
    let answer = dialoguer::Confirm::new()
        .with_prompt("Apply these changes?")
        .default(false)
        .interact()
        .context("cannot read the confirmation")?;
    if !answer {
        printer.status("Nothing applied.");
        bail!("apply cancelled: nothing was written");
    }
    Ok(())
}

/// Report an outcome and choose the exit code.
pub fn report(outcome: &Outcome, printer: &Printer) -> ExitCode {
    let path = outcome.journal_path.display();
    match outcome.operation.status {
        OperationStatus::Applied => {
            printer.status(&format!(
                "Applied and verified {} step(s); journal `{path}`.",
                outcome.operation.steps.len()
            ));
            ExitCode::Success
        }
        OperationStatus::RolledBack => {
            for failure in &outcome.failures {
                printer.status(&format!("error: {failure}"));
            }
            let restored = outcome
                .operation
                .steps
                .iter()
                .filter(|step| step.state == StepState::Restored)
                .count();
            printer.status(&format!(
                "Failed; rolled back {restored} step(s): the resources are as before. Journal `{path}`."
            ));
            ExitCode::RolledBack
        }
        OperationStatus::RollbackIncomplete | OperationStatus::InProgress => {
            for failure in &outcome.failures {
                printer.status(&format!("error: {failure}"));
            }
            printer.status(&format!(
                "Failed, and the rollback is incomplete. Journal `{path}`. Manual steps:"
            ));
            for step in outcome.manual_steps() {
                printer.status(&format!("  - {step}"));
            }
            for step in &outcome.operation.steps {
                if let (StepState::RestoreFailed, Some(error)) = (step.state, &step.error) {
                    printer.status(&format!(
                        "  restoring {} failed: {error}",
                        step.resource.describe()
                    ));
                }
            }
            let directory = outcome
                .journal_path
                .parent()
                .map(|dir| dir.display().to_string())
                .unwrap_or_default();
            printer.status(&format!(
                "then retry with: s3fix rollback {} --journal-dir {directory}",
                outcome.operation.id
            ));
            ExitCode::RollbackIncomplete
        }
    }
}

/// Apply with any writer; `observe_world` re-reads the world for staleness and verification.
fn apply_with<W: Writer>(
    args: &Args,
    plan: &Plan,
    writer: &W,
    observe_world: &mut dyn FnMut() -> anyhow::Result<World>,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let journal = Journal::new(&args.journal_dir);
    let resumed = match &args.resume {
        Some(id) => {
            let (operation, _) = journal.load(id)?;
            if operation.status != OperationStatus::InProgress {
                bail!(
                    "operation `{}` is not in progress ({:?}): nothing to resume",
                    operation.id,
                    operation.status
                );
            }
            Some(operation)
        }
        None => None,
    };
    // A resumed apply already wrote some steps: rewind them (their before-values are journaled)
    // to compare the rest of the world with what the plan read.
    let mut current = observe_world()?;
    for step in resumed.iter().flat_map(|operation| operation.steps.iter()) {
        if matches!(step.state, StepState::Written | StepState::Writing) {
            crate::core::plan::set_value(&mut current, &step.resource, step.before.as_ref())?;
        }
    }
    let stale = stale_resources(plan, &current);
    if !stale.is_empty() {
        bail!(
            "plan is stale: {} changed since the plan was made (hint: run s3fix plan again)",
            stale.join(", ")
        );
    }
    printer.data(&render::plan::text(plan, render::use_colour()))?;
    confirm(args, printer)?;
    let runtime = runtime()?;
    let calls = Calls {
        writer,
        runtime: &runtime,
    };
    let operation = match resumed {
        Some(operation) => operation,
        None => {
            begin(
                &journal,
                plan,
                Some(args.plan.display().to_string()),
                SystemTime::now(),
            )?
            .0
        }
    };
    let timeout = Duration::from_secs(args.verify_timeout);
    let mut verify = || verify_with_backoff(plan, observe_world, timeout, printer);
    let outcome = run_steps(&calls, &journal, operation, &mut verify)?;
    Ok(report(&outcome, printer))
}

/// Re-observe and re-evaluate until the expected decisions hold or the timeout passes (IAM is
/// eventually consistent), with a doubling backoff.
fn verify_with_backoff(
    plan: &Plan,
    observe_world: &mut dyn FnMut() -> anyhow::Result<World>,
    timeout: Duration,
    printer: &Printer,
) -> Vec<String> {
    let started = std::time::Instant::now();
    let mut wait = Duration::from_secs(2);
    loop {
        let failing = match observe_world() {
            Ok(world) => expectations_failing(plan, &world),
            Err(error) => vec![format!("cannot re-read the world to verify: {error:#}")],
        };
        if failing.is_empty() || started.elapsed() + wait > timeout {
            return failing;
        }
        printer.status(&format!(
            "verifying: not yet ({}); waiting {}s for IAM to propagate",
            failing.join("; "),
            wait.as_secs()
        ));
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(16));
    }
}

/// Run `s3fix apply`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    let plan = crate::cmd::show::read_plan(&args.plan)?;
    if plan.is_empty() {
        printer.status("No changes in this plan: nothing to apply.");
        return Ok(ExitCode::Success);
    }
    let mut source = source_args(&plan.source, args.verbose);
    source.profile = args.profile.clone().or(source.profile);
    source.region = args.region.clone().or(source.region);
    source.endpoint_url = args.endpoint_url.clone().or(source.endpoint_url);
    if let Some(path) = &source.world {
        let writer = SnapshotWriter::load(path)?;
        let mut observe_world = || Ok(writer.world());
        let code = apply_with(args, &plan, &writer, &mut observe_world, printer)?;
        if args.probe && code == ExitCode::Success {
            printer.warn("no live probe: the plan was made from a world file, not from AWS");
        }
        return Ok(code);
    }
    let options = source.aws_options("apply");
    let runtime = runtime()?;
    let adapter = runtime.block_on(AwsAdapter::connect(&options))?;
    let spec = plan.spec.clone();
    // The objects the plan read (its exact keys and the objects it sampled under prefixes),
    // so the fingerprints compare like with like.
    let mut keys: Vec<String> = spec
        .keys
        .iter()
        .filter(|key| !key.ends_with('*'))
        .cloned()
        .collect();
    for recorded in &plan.fingerprints {
        if let crate::core::plan::ResourceRef::Object { bucket, key } = &recorded.resource
            && *bucket == spec.bucket
            && !keys.contains(key)
        {
            keys.push(key.clone());
        }
    }
    let mut observe_world = || -> anyhow::Result<World> {
        let keys = keys.clone();
        let request = crate::adapter::ObserveRequest {
            bucket: spec.bucket.clone(),
            keys,
            principal_arn: spec.principal.clone(),
        };
        Ok(runtime.block_on(crate::adapter::Adapter::observe(&adapter, &request))?)
    };
    let code = apply_with(args, &plan, &adapter, &mut observe_world, printer)?;
    if args.probe && code == ExitCode::Success {
        probe(&plan, &adapter, &options, &runtime, printer);
    }
    if args.verbose {
        let counts = adapter.call_counts();
        printer.status(&format!("{} AWS API calls", counts.values().sum::<u64>()));
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
                        "probe: HeadObject `{target}` as `{principal}` was denied ({reason}); the applied edits are verified and kept: IAM changes can take minutes to propagate, probe again later (hint: s3fix explain {target} --principal {principal})"
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
fn probe(
    plan: &Plan,
    adapter: &AwsAdapter,
    options: &crate::adapter::aws::AwsOptions,
    runtime: &tokio::runtime::Runtime,
    printer: &Printer,
) {
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
    match runtime.block_on(adapter.probe_head_objects(options, principal, &plan.spec.bucket, &keys)) {
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
        extra.decision = FinalDecision::Denied;
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

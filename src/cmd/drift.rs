//! `s3fix drift`: plan every spec, report drift, and (with --fix --yes) correct it through the
//! same transactional apply. Made for schedulers: exit codes, a JSON report, a lock.

use crate::adapter::aws::AwsAdapter;
use crate::adapter::snapshot::SnapshotWriter;
use crate::adapter::{Adapter, ObserveRequest};
use crate::cmd::plan::read_spec;
use crate::cmd::source::SourceArgs;
use crate::core::plan::verify::is_security_sensitive;
use crate::core::plan::{Plan, PlanOptions, plan_with_workers};
use crate::core::spec::Spec;
use crate::core::world::World;
use crate::exec::apply::{Applied, ApplyRequest, apply_plan};
use crate::exec::lock::LocalLock;
use crate::exec::observe::runtime;
use crate::exec::source::Source;
use crate::exit::ExitCode;
use crate::journal::{Journal, OperationStatus};
use crate::printer::Printer;
use anyhow::Context as _;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Check every access spec for drift; with --fix --yes, correct it transactionally.
///
/// Fixes go through the same transactional apply as `s3fix apply` (re-planned, re-proved,
/// locked, journaled, verified, rolled back on failure). A security-sensitive edit (a narrowed
/// Deny, an Object Ownership switch) is never applied unattended unless
/// --allow-security-sensitive: it is reported as needing review.
///
/// Exit codes: 0 every spec in sync; 2 drift found (fixed, or needing review: each drifted spec
/// and resource is reported); 1 error (a spec could not be read or planned, or a lock is held);
/// 3 a fix failed and was rolled back; 4 a fix failed and its rollback is incomplete.
///
/// Example crontab line (hourly, JSON report kept, non-zero exit mailed by cron):
/// `0 * * * * cd /srv/s3fix && s3fix drift plans/*.toml --fix --yes --output json > drift.json`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The access specs.
    #[arg(required = true)]
    pub specs: Vec<PathBuf>,
    /// Apply the fixes (needs --yes: drift runs unattended).
    #[arg(long)]
    pub fix: bool,
    /// Confirm the fixes without asking.
    #[arg(long)]
    pub yes: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// The lock file that stops two drift runs from overlapping.
    #[arg(long, value_name = "FILE", default_value = ".s3fix/drift.lock")]
    pub lock: PathBuf,
    /// The journal directory for fixes.
    #[arg(long, value_name = "DIR", default_value = crate::journal::DEFAULT_DIRECTORY)]
    pub journal_dir: PathBuf,
    /// With --fix: also apply security-sensitive edits (a narrowed Deny, an Object Ownership
    /// switch); without it they are reported as needing review.
    #[arg(long)]
    pub allow_security_sensitive: bool,
    /// How long a fix waits for IAM's eventual consistency when verifying (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub verify_timeout: u64,
    /// Where to read the world from (a spec's own roles fill in what is not given).
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per spec and edit.
    Text,
    /// The JSON report.
    Json,
}

/// One spec's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Nothing to change.
    InSync,
    /// Changes are needed.
    Drifted,
    /// Changes are needed, but they are security-sensitive: not applied unattended.
    NeedsReview,
    /// Changes were applied and verified.
    Fixed,
    /// The fix failed and was rolled back.
    FixRolledBack,
    /// The fix failed and its rollback is incomplete.
    FixIncomplete,
    /// The spec could not be read, observed or planned.
    Error,
}

/// A drifted resource.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftedResource {
    /// The resource, described.
    pub resource: String,
    /// `create` or `update`.
    pub operation: crate::core::plan::Operation,
    /// Why the edit is needed.
    pub reason: String,
    /// Whether the edit is security-sensitive.
    pub security_sensitive: bool,
}

/// A spec file with its parsed spec and source, or why it could not be read.
type LoadedSpec = (PathBuf, Result<(Spec, Source), String>);

/// One spec in the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecReport {
    /// The spec file.
    pub spec: String,
    /// Its status.
    pub status: Status,
    /// The drifted resources.
    pub resources: Vec<DriftedResource>,
    /// The error, or the journal of a fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The plan's warnings (findings that do not stop it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The drift report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Per spec.
    pub specs: Vec<SpecReport>,
    /// How many specs had each status.
    pub summary: BTreeMap<String, usize>,
}

/// Hold the drift lock for the life of the returned file.
fn lock(path: &Path) -> anyhow::Result<File> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open lock file `{}`", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(crate::hint::HintedError::new(
            format!("another s3fix drift run holds the lock `{}`", path.display()),
            "wait for it to finish; the lock is released when that process exits",
        )
        .into()),
        Err(TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock `{}`", path.display()))
        }
    }
}

fn drifted(plan: &Plan) -> Vec<DriftedResource> {
    plan.edits
        .iter()
        .map(|edit| DriftedResource {
            resource: edit.resource.describe(),
            operation: edit.operation,
            reason: edit.reason.clone(),
            security_sensitive: is_security_sensitive(edit),
        })
        .collect()
}

/// Every spec with its source (CLI options, filled in by the spec's own roles).
fn load_specs(args: &Args, base: &Source) -> Vec<LoadedSpec> {
    args.specs
        .iter()
        .map(|path| {
            let loaded = read_spec(path).map(|spec| {
                let source = base.with_spec(&spec);
                (spec, source)
            });
            (path.clone(), loaded.map_err(|error| format!("{error:#}")))
        })
        .collect()
}

/// The key that groups specs read through the same sessions.
fn source_key(source: &Source) -> String {
    format!("{source:?}")
}

/// Read every spec's world: once per world file; through AWS, one `observe_many` per set of
/// roles, so specs that share a bucket, key or principal share its reads.
/// The worlds per source group, and the (bucket, principal) observations that failed alone.
type Observed = (
    BTreeMap<String, Result<World, String>>,
    BTreeMap<(String, String), String>,
);

fn observe_all(specs: &[LoadedSpec], printer: &Printer) -> Observed {
    let mut failed: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut groups: BTreeMap<String, (Source, Vec<&Spec>)> = BTreeMap::new();
    for (_, loaded) in specs {
        let Ok((spec, source)) = loaded else { continue };
        let entry = groups
            .entry(source_key(source))
            .or_insert_with(|| (source.clone(), Vec::new()));
        entry.1.push(spec);
    }
    let mut worlds = BTreeMap::new();
    for (key, (source, group_specs)) in groups {
        let world = (|| -> anyhow::Result<World> {
            let aws = match &source {
                Source::World(path) => return Ok(SnapshotWriter::load(path)?.world()),
                Source::Aws(aws) => aws,
            };
            let runtime = runtime()?;
            let (world, counts) = runtime.block_on(async {
                let mut options = aws.options("drift");
                options.adaptive_retry = true;
                let adapter = AwsAdapter::connect(&options).await?;
                // Each spec's exact keys and a sample of the objects under its prefixes.
                let mut requests: Vec<ObserveRequest> = Vec::new();
                let mut listing_unknown = Vec::new();
                let max = aws.max_objects.unwrap_or(crate::exec::observe::MAX_OBJECTS);
                for spec in &group_specs {
                    let (keys, unknown) = crate::exec::observe::spec_keys(&adapter, spec, max, printer).await;
                    listing_unknown.extend(unknown);
                    let request = ObserveRequest {
                        bucket: spec.bucket.clone(),
                        keys,
                        principal_arn: spec.principal.clone(),
                    };
                    if !requests.contains(&request) {
                        requests.push(request);
                    }
                }
                let world: anyhow::Result<World> = match adapter.observe_many(&requests).await {
                    Ok(world) => Ok(world),
                    // One bad spec (a missing bucket or principal) must not hide the others:
                    // observe each alone, and report the failures per spec.
                    Err(_) => {
                        let mut merged = World::new();
                        for request in &requests {
                            match adapter.observe(request).await {
                                Ok(world) => merged.merge(world),
                                Err(error) => {
                                    failed.insert(
                                        (request.bucket.clone(), request.principal_arn.clone()),
                                        error.to_string(),
                                    );
                                }
                            }
                        }
                        Ok(merged)
                    }
                };
                let mut world = world.map(|mut world: World| {
                    for unknown in listing_unknown {
                        if !world.unknown.contains(&unknown) {
                            world.unknown.push(unknown);
                        }
                    }
                    world
                });
                // The access point a spec goes through and the endpoint of its aws:SourceVpce,
                // read as plan and apply read them (else their gates would be unknown, and
                // apply's re-plan would refuse a fix drift planned).
                if let Ok(observed) = &mut world {
                    for spec in &group_specs {
                        let taken = std::mem::take(observed);
                        match crate::exec::observe::with_spec_gateways(&adapter, spec, taken.clone()).await {
                            Ok(extended) => *observed = extended,
                            Err(error) => {
                                *observed = taken;
                                failed
                                    .insert((spec.bucket.clone(), spec.principal.clone()), error.to_string());
                            }
                        }
                    }
                }
                anyhow::Ok((world, adapter.call_counts()))
            })?;
            if aws.verbose {
                printer.status(&format!(
                    "{} AWS API calls for {} spec(s)",
                    counts.values().sum::<u64>(),
                    group_specs.len()
                ));
            }
            crate::exec::observe::checked(world?)
        })();
        worlds.insert(key, world.map_err(|error| format!("{error:#}")));
    }
    (worlds, failed)
}

/// Apply one spec's plan through the same transactional apply as `s3fix apply`: it re-reads
/// the world, re-plans and re-proves, takes the locks, journals, verifies, rolls back.
fn fix(
    args: &Args,
    planned: &Plan,
    source: &Source,
    journal: &Journal,
    printer: &Printer,
) -> (Status, String) {
    let mut planned = planned.clone();
    planned.source = source.plan_source(None);
    let lock = LocalLock::for_journal(&args.journal_dir);
    let request = ApplyRequest {
        plan: &planned,
        plan_file: None,
        source,
        journal,
        lock: &lock,
        resume: None,
        verify_timeout: Duration::from_secs(args.verify_timeout),
        command: "drift",
        printer,
    };
    // --fix needs --yes: nothing to ask.
    let mut confirmed = |_: &Plan, _: &str| Ok(());
    let outcome = match apply_plan(&request, &mut confirmed) {
        Ok(Applied::Nothing) => return (Status::InSync, "already in sync when fixing".into()),
        Ok(Applied::Done(outcome)) => outcome,
        Err(error) => return (Status::Error, format!("{error:#}")),
    };
    let journal_text = format!("journal `{}`", outcome.journal_path.display());
    match outcome.operation.status {
        OperationStatus::Applied => (Status::Fixed, journal_text),
        OperationStatus::RolledBack => (
            Status::FixRolledBack,
            format!("{}; {journal_text}", outcome.failures.join("; ")),
        ),
        _ => (
            Status::FixIncomplete,
            format!(
                "{}; {journal_text}; manual steps: {}",
                outcome.failures.join("; "),
                outcome.manual_steps().join("; ")
            ),
        ),
    }
}

/// Run `s3fix drift`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    if args.fix && !args.yes {
        return Err(crate::hint::HintedError::new(
            "--fix needs --yes: drift runs unattended and never asks",
            "review with s3fix plan first",
        )
        .into());
    }
    let _lock = lock(&args.lock)?;
    let base = args.source.resolve()?;
    let specs = load_specs(args, &base);
    let (worlds, failed) = observe_all(&specs, printer);
    let journal = Journal::new(&args.journal_dir);
    let mut reports = Vec::new();
    for (path, loaded) in &specs {
        let report = |status: Status, message: Option<String>| SpecReport {
            spec: path.display().to_string(),
            status,
            resources: Vec::new(),
            message,
            warnings: Vec::new(),
        };
        let (spec, source) = match loaded {
            Err(error) => {
                reports.push(report(Status::Error, Some(error.clone())));
                continue;
            }
            Ok(loaded) => loaded,
        };
        if let Some(error) = failed.get(&(spec.bucket.clone(), spec.principal.clone())) {
            reports.push(report(Status::Error, Some(error.clone())));
            continue;
        }
        let world = match worlds.get(&source_key(source)) {
            Some(Ok(world)) => world,
            Some(Err(error)) => {
                reports.push(report(Status::Error, Some(error.clone())));
                continue;
            }
            None => {
                reports.push(report(Status::Error, Some("not observed".into())));
                continue;
            }
        };
        let planned =
            match plan_with_workers(world, spec, PlanOptions::default(), crate::exec::proof_workers()) {
                Ok(planned) => planned,
                Err(error) => {
                    reports.push(report(Status::Error, Some(error.to_string())));
                    continue;
                }
            };
        let mut spec_report = report(Status::InSync, None);
        spec_report.warnings.clone_from(&planned.warnings);
        if !planned.is_empty() {
            spec_report.resources = drifted(&planned);
            let sensitive: Vec<String> = planned
                .edits
                .iter()
                .filter(|edit| is_security_sensitive(edit))
                .map(|edit| edit.resource.describe())
                .collect();
            if !args.fix {
                spec_report.status = Status::Drifted;
            } else if !sensitive.is_empty() && !args.allow_security_sensitive {
                spec_report.status = Status::NeedsReview;
                spec_report.message = Some(format!(
                    "not fixed unattended: security-sensitive edit(s) to {}; review with s3fix plan and apply it, or pass --allow-security-sensitive",
                    sensitive.join(", ")
                ));
            } else {
                let (status, message) = fix(args, &planned, source, &journal, printer);
                spec_report.status = status;
                spec_report.message = Some(message);
            }
        }
        reports.push(spec_report);
    }
    let mut summary = BTreeMap::new();
    for report in &reports {
        let name = serde_json::to_value(report.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *summary.entry(name).or_insert(0) += 1;
    }
    let report = Report {
        specs: reports,
        summary,
    };
    match args.output {
        Format::Json => printer.data(&format!("{}\n", serde_json::to_string_pretty(&report)?))?,
        Format::Text => printer.data(&text(&report))?,
    }
    let statuses: Vec<Status> = report.specs.iter().map(|spec| spec.status).collect();
    Ok(if statuses.contains(&Status::FixIncomplete) {
        ExitCode::RollbackIncomplete
    } else if statuses.contains(&Status::FixRolledBack) {
        ExitCode::RolledBack
    } else if statuses.contains(&Status::Error) {
        ExitCode::Error
    } else if statuses
        .iter()
        .any(|status| matches!(status, Status::Drifted | Status::Fixed | Status::NeedsReview))
    {
        ExitCode::Denied
    } else {
        ExitCode::Success
    })
}

fn text(report: &Report) -> String {
    let mut out = String::new();
    for spec in &report.specs {
        out.push_str(&format!("{:?}: {}\n", spec.status, spec.spec));
        for resource in &spec.resources {
            out.push_str(&format!(
                "  {:?} {}: {}\n",
                resource.operation,
                resource.resource,
                if resource.security_sensitive {
                    format!("{} [security-sensitive]", resource.reason)
                } else {
                    resource.reason.clone()
                }
            ));
        }
        if let Some(message) = &spec.message {
            out.push_str(&format!("  {message}\n"));
        }
        for warning in &spec.warnings {
            out.push_str(&format!("  warning: {warning}\n"));
        }
    }
    let summary: Vec<String> = report
        .summary
        .iter()
        .map(|(status, count)| format!("{count} {status}"))
        .collect();
    out.push_str(&format!("drift: {}\n", summary.join(", ")));
    out
}

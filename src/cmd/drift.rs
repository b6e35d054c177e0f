//! `s3fix drift`: plan every spec, report drift, and (with --fix --yes) correct it through the
//! same transactional apply. Made for schedulers: exit codes, a JSON report, a lock.

use crate::adapter::aws::AwsAdapter;
use crate::adapter::snapshot::SnapshotWriter;
use crate::adapter::{Adapter, ObserveRequest, Writer};
use crate::cmd::apply::expectations_failing;
use crate::cmd::plan::{plan_source, read_spec, source_for};
use crate::core::plan::{Plan, PlanOptions, plan};
use crate::core::spec::Spec;
use crate::core::world::World;
use crate::exec::apply::{Calls, begin, run as run_steps};
use crate::exec::observe::{SourceArgs, runtime};
use crate::exit::ExitCode;
use crate::journal::{Journal, OperationStatus};
use crate::printer::Printer;
use anyhow::{Context as _, bail};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Check every access spec for drift; with --fix --yes, correct it transactionally.
///
/// Exit codes: 0 every spec in sync; 2 drift found (fixed or not: each drifted spec and
/// resource is reported); 1 error (a spec could not be read or planned, or the lock is held);
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
}

/// A spec file with its parsed spec and source, or why it could not be read.
type LoadedSpec = (PathBuf, Result<(Spec, SourceArgs), String>);

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
        Err(TryLockError::WouldBlock) => bail!(
            "another s3fix drift run holds the lock `{}` (hint: wait for it to finish; the lock is released when that process exits)",
            path.display()
        ),
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
        })
        .collect()
}

/// Every spec with its source (CLI options, filled in by the spec's own roles).
fn load_specs(args: &Args) -> Vec<LoadedSpec> {
    args.specs
        .iter()
        .map(|path| {
            let loaded = read_spec(path).map(|spec| {
                let source = source_for(&spec, &args.source);
                (spec, source)
            });
            (path.clone(), loaded.map_err(|error| format!("{error:#}")))
        })
        .collect()
}

/// The key that groups specs read through the same sessions.
fn source_key(source: &SourceArgs) -> String {
    format!("{:?}", crate::cmd::plan::plan_source(source))
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
    let mut groups: BTreeMap<String, (SourceArgs, Vec<&Spec>)> = BTreeMap::new();
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
            if let Some(path) = &source.world {
                return Ok(SnapshotWriter::load(path)?.world());
            }
            let runtime = runtime()?;
            let (world, counts) = runtime.block_on(async {
                let mut options = source.aws_options("drift");
                options.adaptive_retry = true;
                let adapter = AwsAdapter::connect(&options).await?;
                // Each spec's exact keys and a sample of the objects under its prefixes.
                let mut requests: Vec<ObserveRequest> = Vec::new();
                let mut listing_unknown = Vec::new();
                let max = source.max_objects.unwrap_or(crate::exec::observe::MAX_OBJECTS);
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
                let world = match adapter.observe_many(&requests).await {
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
                let world = world.map(|mut world: World| {
                    for unknown in listing_unknown {
                        if !world.unknown.contains(&unknown) {
                            world.unknown.push(unknown);
                        }
                    }
                    world
                });
                anyhow::Ok((world, adapter.call_counts()))
            })?;
            if source.verbose {
                printer.status(&format!(
                    "{} AWS API calls for {} spec(s)",
                    counts.values().sum::<u64>(),
                    group_specs.len()
                ));
            }
            world
        })();
        worlds.insert(key, world.map_err(|error| format!("{error:#}")));
    }
    (worlds, failed)
}

/// Re-plan one spec against the world as it is now and apply the fix transactionally.
fn fix<W: Writer>(
    spec: &Spec,
    source: &SourceArgs,
    writer: &W,
    observe_world: &mut dyn FnMut() -> anyhow::Result<World>,
    journal: &Journal,
) -> anyhow::Result<(Status, String)> {
    let world = observe_world()?;
    let mut planned = plan(&world, spec, PlanOptions::default())?;
    planned.source = plan_source(source);
    if planned.is_empty() {
        return Ok((Status::InSync, "already in sync when fixing".into()));
    }
    let runtime = runtime()?;
    let calls = Calls {
        writer,
        runtime: &runtime,
    };
    let (operation, _) = begin(journal, &planned, None, SystemTime::now())?;
    let mut verify = || match observe_world() {
        Ok(world) => expectations_failing(&planned, &world),
        Err(error) => vec![format!("cannot re-read the world to verify: {error:#}")],
    };
    let outcome = run_steps(&calls, journal, operation, &mut verify)?;
    let journal_text = format!("journal `{}`", outcome.journal_path.display());
    Ok(match outcome.operation.status {
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
    })
}

fn fix_spec(spec: &Spec, source: &SourceArgs, journal: &Journal) -> anyhow::Result<(Status, String)> {
    if let Some(path) = &source.world {
        let writer = SnapshotWriter::load(path)?;
        let mut observe_world = || Ok(writer.world());
        return fix(spec, source, &writer, &mut observe_world, journal);
    }
    let runtime = runtime()?;
    let adapter = runtime.block_on(AwsAdapter::connect(&source.aws_options("drift")))?;
    let max = source.max_objects.unwrap_or(crate::exec::observe::MAX_OBJECTS);
    let (keys, listing_unknown) = runtime.block_on(crate::exec::observe::spec_keys(
        &adapter,
        spec,
        max,
        &Printer::new(),
    ));
    let request = ObserveRequest {
        bucket: spec.bucket.clone(),
        keys,
        principal_arn: spec.principal.clone(),
    };
    let mut observe_world = || {
        let mut world = runtime.block_on(adapter.observe(&request))?;
        world.unknown.extend(listing_unknown.clone());
        Ok(world)
    };
    fix(spec, source, &adapter, &mut observe_world, journal)
}

/// Run `s3fix drift`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    if args.fix && !args.yes {
        bail!("--fix needs --yes: drift runs unattended and never asks (hint: review with s3fix plan first)");
    }
    let _lock = lock(&args.lock)?;
    let specs = load_specs(args);
    let (worlds, failed) = observe_all(&specs, printer);
    let journal = Journal::new(&args.journal_dir);
    let mut reports = Vec::new();
    for (path, loaded) in &specs {
        let spec_name = path.display().to_string();
        let report = match loaded {
            Err(error) => SpecReport {
                spec: spec_name,
                status: Status::Error,
                resources: Vec::new(),
                message: Some(error.clone()),
            },
            Ok((spec, _)) if failed.contains_key(&(spec.bucket.clone(), spec.principal.clone())) => {
                SpecReport {
                    spec: spec_name,
                    status: Status::Error,
                    resources: Vec::new(),
                    message: failed
                        .get(&(spec.bucket.clone(), spec.principal.clone()))
                        .cloned(),
                }
            }
            Ok((spec, source)) => match worlds.get(&source_key(source)) {
                Some(Ok(world)) => match plan(world, spec, PlanOptions::default()) {
                    Ok(planned) if planned.is_empty() => SpecReport {
                        spec: spec_name,
                        status: Status::InSync,
                        resources: Vec::new(),
                        message: None,
                    },
                    Ok(planned) => {
                        let resources = drifted(&planned);
                        if args.fix {
                            let (status, message) = match fix_spec(spec, source, &journal) {
                                Ok(result) => result,
                                Err(error) => (Status::Error, format!("{error:#}")),
                            };
                            SpecReport {
                                spec: spec_name,
                                status,
                                resources,
                                message: Some(message),
                            }
                        } else {
                            SpecReport {
                                spec: spec_name,
                                status: Status::Drifted,
                                resources,
                                message: None,
                            }
                        }
                    }
                    Err(error) => SpecReport {
                        spec: spec_name,
                        status: Status::Error,
                        resources: Vec::new(),
                        message: Some(error.to_string()),
                    },
                },
                Some(Err(error)) => SpecReport {
                    spec: spec_name,
                    status: Status::Error,
                    resources: Vec::new(),
                    message: Some(error.clone()),
                },
                None => SpecReport {
                    spec: spec_name,
                    status: Status::Error,
                    resources: Vec::new(),
                    message: Some("not observed".into()),
                },
            },
        };
        reports.push(report);
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
        .any(|status| matches!(status, Status::Drifted | Status::Fixed))
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
                resource.operation, resource.resource, resource.reason
            ));
        }
        if let Some(message) = &spec.message {
            out.push_str(&format!("  {message}\n"));
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

//! Transactional apply: a plan file is re-derived and re-proved on the world as it is now, under
//! locks on everything it writes; every step is journaled before it is written, re-read and
//! compared just before writing, read back after; any failure (or an interrupt) restores the
//! completed steps in reverse order — but only where the resource still holds what this
//! operation wrote: someone else's change is never overwritten.

use crate::adapter::aws::AwsAdapter;
use crate::adapter::snapshot::SnapshotWriter;
use crate::adapter::{Adapter, ObserveRequest, Writer};
use crate::core::plan::verify::{check_scope, compare};
use crate::core::plan::{Plan, ResourceRef, fingerprint_of, set_document};
use crate::core::policy::canonical::{canonical, fingerprint};
use crate::core::s3::{S3Request, explain};
use crate::core::world::World;
use crate::exec::interrupt;
use crate::exec::lock::{Holder, Lock, LockName, names_for};
use crate::exec::observe::{checked, runtime};
use crate::exec::source::Source;
use crate::hint::HintedError;
use crate::journal::{
    Journal, Operation, OperationKind, OperationStatus, Step, StepState, new_operation_id, now_text,
};
use crate::printer::Printer;
use anyhow::bail;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The fingerprint of an optional value's canonical form (`absent` for none). Steps compare
/// what they read with what they expect this way: AWS may store a document in an equivalent
/// form (an account id rewritten as `arn:aws:iam::ID:root`), which must not count as a change.
pub fn fingerprint_of_value(value: Option<&Value>) -> String {
    value.map_or_else(|| "absent".to_string(), |value| fingerprint(&canonical(value)))
}

/// Fault points for tests, compiled in only with the `failpoints` feature:
/// `S3FIX_FAILPOINT=crash-after-step:N` or `crash-before-write:N` abort the process there, as if
/// killed; `pause-before-write:N` stops before step N's write until the file named by
/// `S3FIX_FAILPOINT_RELEASE` exists, an interrupt arrives, or 60 seconds pass;
/// `hold-before-write:N` the same, deaf to interrupts.
pub fn failpoint(name: &str, step: usize) {
    #[cfg(feature = "failpoints")]
    if std::env::var("S3FIX_FAILPOINT").is_ok_and(|value| value == format!("{name}:{step}")) {
        if name.starts_with("pause") || name.starts_with("hold") {
            // `hold` ignores interrupts (a test sends a second one while it waits).
            let interruptible = name.starts_with("pause");
            eprintln!("failpoint {name}:{step}: paused");
            let release = std::env::var_os("S3FIX_FAILPOINT_RELEASE").map(PathBuf::from);
            let until = Instant::now() + Duration::from_secs(60);
            while Instant::now() < until && !release.as_ref().is_some_and(|path| path.exists()) {
                if interrupt::sleep(Duration::from_millis(20)) && interruptible {
                    return;
                }
            }
            return;
        }
        eprintln!("failpoint {name}:{step}: aborting");
        std::process::abort();
    }
    let _ = (name, step);
}

/// How an apply or rollback ended.
#[derive(Debug)]
pub struct Outcome {
    /// The journaled operation as it ended.
    pub operation: Operation,
    /// Its journal file.
    pub journal_path: PathBuf,
    /// What failed (empty when it succeeded).
    pub failures: Vec<String>,
    /// Whether it stopped because of an interrupt.
    pub interrupted: bool,
}

impl Outcome {
    /// Manual steps for an incomplete rollback: what to restore or review by hand.
    pub fn manual_steps(&self) -> Vec<String> {
        let journal = self.journal_path.display();
        self.operation
            .steps
            .iter()
            .filter_map(|step| match (step.state, &step.before) {
                (StepState::RestoreFailed, Some(_)) => Some(format!(
                    "restore {} to its `before` value in {journal}",
                    step.resource.describe()
                )),
                (StepState::RestoreFailed, None) => Some(format!(
                    "delete {} (it did not exist before)",
                    step.resource.describe()
                )),
                (StepState::Refused, _) => Some(format!(
                    "review {}: it was changed by someone else after s3fix wrote it, so it was not restored; keep that change, or restore its `before` value from {journal} by hand (or: s3fix rollback {} --force)",
                    step.resource.describe(),
                    self.operation.rollback_of.as_deref().unwrap_or(&self.operation.id)
                )),
                _ => None,
            })
            .collect()
    }
}

/// Runs writer calls: the AWS writer needs a tokio runtime, the world-file writer is immediate.
pub struct Calls<'a, W: Writer> {
    /// The writer.
    pub writer: &'a W,
    /// The runtime to block on.
    pub runtime: &'a tokio::runtime::Runtime,
}

impl<W: Writer> Calls<'_, W> {
    fn read(&self, resource: &ResourceRef) -> Result<Option<Value>, String> {
        self.runtime
            .block_on(self.writer.read(resource))
            .map_err(|error| error.to_string())
    }

    /// The current value and, where the writer can read it, its exact text, in one read.
    fn read_with_text(&self, resource: &ResourceRef) -> Result<(Option<Value>, Option<String>), String> {
        self.runtime
            .block_on(self.writer.read_with_text(resource))
            .map_err(|error| error.to_string())
    }

    /// Write `value`, a document as exactly `text` where known.
    fn write(&self, resource: &ResourceRef, value: Option<&Value>, text: Option<&str>) -> Result<(), String> {
        self.runtime
            .block_on(self.writer.write_text(resource, value, text))
            .map_err(|error| error.to_string())
    }
}

/// Start the journal of an apply: every step with its before and after, before any write.
pub fn begin(
    journal: &Journal,
    plan: &Plan,
    plan_file: Option<String>,
    now: SystemTime,
) -> anyhow::Result<(Operation, PathBuf)> {
    let operation = Operation {
        file_kind: crate::core::kind::JournalTag,
        format_version: crate::journal::JOURNAL_FORMAT_VERSION,
        id: new_operation_id(now),
        kind: OperationKind::Apply,
        started_at: now_text(now),
        plan_file,
        rollback_of: None,
        source: plan.source.clone(),
        steps: plan
            .edits
            .iter()
            .map(|edit| Step {
                resource: edit.resource.clone(),
                before: edit.before.clone(),
                after: Some(edit.after.clone()),
                state: StepState::Pending,
                error: None,
                before_text: edit.before_text.clone(),
                after_text: edit.after_text.clone(),
            })
            .collect(),
        status: OperationStatus::InProgress,
    };
    let path = interrupt::record(journal, &operation)?;
    Ok((operation, path))
}

fn interrupted_before(resource: &ResourceRef) -> String {
    format!("interrupted before writing {}", resource.describe())
}

/// Write the pending steps of an operation in order (all of them for a new apply; the rest for a
/// resumed one). On a failure or an interrupt, restore every step written so far and report.
pub fn run<W: Writer>(
    calls: &Calls<'_, W>,
    journal: &Journal,
    mut operation: Operation,
    verify: &mut dyn FnMut() -> Vec<String>,
) -> anyhow::Result<Outcome> {
    let mut failures = Vec::new();
    let mut interrupted = false;
    for index in 0..operation.steps.len() {
        let Some(step) = operation.steps.get(index).cloned() else {
            continue;
        };
        match step.state {
            StepState::Written | StepState::Refused | StepState::Restored => continue,
            StepState::Writing => {
                // A resumed step whose write may have happened: what is there now decides.
                match calls.read(&step.resource) {
                    Ok(current)
                        if fingerprint_of_value(current.as_ref())
                            == fingerprint_of_value(step.after.as_ref()) =>
                    {
                        set_state(&mut operation, index, StepState::Written, None);
                        interrupt::record(journal, &operation)?;
                        continue;
                    }
                    Ok(current)
                        if fingerprint_of_value(current.as_ref())
                            == fingerprint_of_value(step.before.as_ref()) => {}
                    Ok(_) => {
                        failures.push(format!(
                            "{} changed while the apply was interrupted",
                            step.resource.describe()
                        ));
                        break;
                    }
                    Err(error) => {
                        failures.push(error);
                        break;
                    }
                }
            }
            _ => {}
        }
        if interrupt::requested() {
            interrupted = true;
            failures.push(interrupted_before(&step.resource));
            break;
        }
        failpoint("pause-before-write", index + 1);
        failpoint("hold-before-write", index + 1);
        if interrupt::requested() {
            interrupted = true;
            failures.push(interrupted_before(&step.resource));
            break;
        }
        // Re-read just before writing: someone may have changed it since the plan.
        match calls.read(&step.resource) {
            Ok(current)
                if fingerprint_of_value(current.as_ref()) == fingerprint_of_value(step.before.as_ref()) => {}
            Ok(_) => {
                let message = format!(
                    "{} changed since the plan was made; run s3fix plan again",
                    step.resource.describe()
                );
                set_state(&mut operation, index, StepState::Failed, Some(message.clone()));
                interrupt::record(journal, &operation)?;
                failures.push(message);
                break;
            }
            Err(error) => {
                set_state(&mut operation, index, StepState::Failed, Some(error.clone()));
                interrupt::record(journal, &operation)?;
                failures.push(error);
                break;
            }
        }
        set_state(&mut operation, index, StepState::Writing, None);
        interrupt::record(journal, &operation)?;
        failpoint("crash-before-write", index + 1);
        let written = calls
            .write(&step.resource, step.after.as_ref(), step.after_text.as_deref())
            .and_then(|()| {
                let back = calls.read(&step.resource)?;
                if fingerprint_of_value(back.as_ref()) == fingerprint_of_value(step.after.as_ref()) {
                    Ok(())
                } else {
                    Err(format!(
                        "{} reads back differently from what was written",
                        step.resource.describe()
                    ))
                }
            });
        match written {
            Ok(()) => {
                set_state(&mut operation, index, StepState::Written, None);
                interrupt::record(journal, &operation)?;
                failpoint("crash-after-step", index + 1);
            }
            Err(error) => {
                // The write may have half-happened: the step is restored too (if it holds what
                // this operation wrote).
                set_state(&mut operation, index, StepState::Failed, Some(error.clone()));
                interrupt::record(journal, &operation)?;
                failures.push(error);
                break;
            }
        }
    }
    if failures.is_empty() {
        failures.extend(verify());
        interrupted = interrupt::requested() && !failures.is_empty();
    }
    if failures.is_empty() {
        let refused = operation
            .steps
            .iter()
            .any(|step| step.state == StepState::Refused);
        operation.status = match (operation.kind, refused) {
            (OperationKind::Apply, _) => OperationStatus::Applied,
            (OperationKind::Rollback, false) => OperationStatus::Complete,
            (OperationKind::Rollback, true) => OperationStatus::RollbackIncomplete,
        };
        let journal_path = interrupt::record(journal, &operation)?;
        return Ok(Outcome {
            operation,
            journal_path,
            failures,
            interrupted,
        });
    }
    restore(calls, journal, &mut operation)?;
    let journal_path = interrupt::record(journal, &operation)?;
    Ok(Outcome {
        operation,
        journal_path,
        failures,
        interrupted,
    })
}

fn set_state(operation: &mut Operation, index: usize, state: StepState, error: Option<String>) {
    if let Some(step) = operation.steps.get_mut(index) {
        step.state = state;
        if error.is_some() {
            step.error = error;
        }
    }
}

/// A value for a message: canonical JSON, shortened.
fn shown(value: Option<&Value>) -> String {
    crate::core::plan::verify::brief(value, 400, " (full value in the journal)")
}

/// Why a resource is not restored: it holds neither what it held before nor what this
/// operation wrote.
fn changed_since(resource: &ResourceRef, current: Option<&Value>, written: Option<&Value>) -> String {
    format!(
        "{} changed since this operation wrote it, so it is not overwritten: it is now {}; this operation wrote {}",
        resource.describe(),
        shown(current),
        shown(written)
    )
}

/// Restore, in reverse order, every step that was written or may have been — compare and
/// restore: a resource is written back only while it holds the value this operation wrote (a
/// resource that already holds its before-value needs nothing). One changed by someone else is
/// refused and reported with both values. Each restore is verified by reading back; a failing
/// one does not stop the others. Sets the operation's status.
pub fn restore<W: Writer>(
    calls: &Calls<'_, W>,
    journal: &Journal,
    operation: &mut Operation,
) -> anyhow::Result<()> {
    let mut incomplete = false;
    for index in (0..operation.steps.len()).rev() {
        let Some(step) = operation.steps.get(index).cloned() else {
            continue;
        };
        if !matches!(
            step.state,
            StepState::Written | StepState::Writing | StepState::Failed | StepState::RestoreFailed
        ) {
            continue;
        }
        // (state, error): Restored, Refused (someone else's change), or RestoreFailed.
        let restored = (|| -> Result<(StepState, Option<String>), String> {
            let current = calls.read(&step.resource)?;
            let now = fingerprint_of_value(current.as_ref());
            if now == fingerprint_of_value(step.before.as_ref()) {
                return Ok((StepState::Restored, None));
            }
            if now != fingerprint_of_value(step.after.as_ref()) {
                let refused = changed_since(&step.resource, current.as_ref(), step.after.as_ref());
                return Ok((StepState::Refused, Some(refused)));
            }
            calls.write(&step.resource, step.before.as_ref(), step.before_text.as_deref())?;
            let back = calls.read(&step.resource)?;
            if fingerprint_of_value(back.as_ref()) == fingerprint_of_value(step.before.as_ref()) {
                Ok((StepState::Restored, None))
            } else {
                Err(format!(
                    "{} does not read back as before after the restore",
                    step.resource.describe()
                ))
            }
        })();
        let (state, error) = restored.unwrap_or_else(|error| (StepState::RestoreFailed, Some(error)));
        incomplete |= state != StepState::Restored;
        set_state(operation, index, state, error);
        interrupt::record(journal, operation)?;
    }
    operation.status = if incomplete {
        OperationStatus::RollbackIncomplete
    } else {
        OperationStatus::RolledBack
    };
    Ok(())
}

/// Start a rollback of an earlier operation as a new journaled operation: its steps restore the
/// original's before-values, in reverse order. A resource that changed after the original wrote
/// it is not restored (its step is `refused`, with both values) unless `force`, when its current
/// value is journaled as the step's before-value first.
pub fn begin_rollback<W: Writer>(
    calls: &Calls<'_, W>,
    journal: &Journal,
    original: &Operation,
    force: bool,
    now: SystemTime,
) -> anyhow::Result<(Operation, PathBuf)> {
    let mut steps = Vec::new();
    for step in original.steps.iter().rev() {
        if matches!(step.state, StepState::Pending | StepState::Restored) {
            continue;
        }
        let (current, current_text) = calls
            .read_with_text(&step.resource)
            .map_err(|error| anyhow::anyhow!(error))?;
        let is_after = fingerprint_of_value(current.as_ref()) == fingerprint_of_value(step.after.as_ref());
        let is_before = fingerprint_of_value(current.as_ref()) == fingerprint_of_value(step.before.as_ref());
        if is_before {
            continue;
        }
        let refused = !is_after && !force;
        // The current text, so a restore of this rollback puts back exactly what it replaces;
        // kept only where it is that value's text.
        let current_text = current_text.filter(|text| serde_json::from_str::<Value>(text).ok() == current);
        steps.push(Step {
            resource: step.resource.clone(),
            error: refused.then(|| changed_since(&step.resource, current.as_ref(), step.after.as_ref())),
            before: current,
            after: step.before.clone(),
            before_text: current_text,
            after_text: step.before_text.clone(),
            state: if refused {
                StepState::Refused
            } else {
                StepState::Pending
            },
        });
    }
    let operation = Operation {
        file_kind: crate::core::kind::JournalTag,
        format_version: crate::journal::JOURNAL_FORMAT_VERSION,
        id: new_operation_id(now),
        kind: OperationKind::Rollback,
        started_at: now_text(now),
        plan_file: None,
        rollback_of: Some(original.id.clone()),
        source: original.source.clone(),
        steps,
        status: OperationStatus::InProgress,
    };
    let path = interrupt::record(journal, &operation)?;
    Ok((operation, path))
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
        let request = S3Request {
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

/// Re-observe and re-evaluate until the expected decisions hold or the timeout passes (IAM is
/// eventually consistent), with a doubling backoff that an interrupt cuts short.
fn verify_with_backoff(
    plan: &Plan,
    observe_world: &mut dyn FnMut() -> anyhow::Result<World>,
    timeout: Duration,
    printer: &Printer,
) -> Vec<String> {
    let started = Instant::now();
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
        if interrupt::sleep(wait) {
            return vec!["interrupted while verifying".into()];
        }
        wait = (wait * 2).min(Duration::from_secs(16));
    }
}

/// What `apply` (and `drift --fix`) asks of [`apply_plan`].
pub struct ApplyRequest<'a> {
    /// The plan as read from its file: a request, not an authority.
    pub plan: &'a Plan,
    /// The plan file, recorded in the journal.
    pub plan_file: Option<&'a Path>,
    /// Where to read and write (resolved by the command).
    pub source: &'a Source,
    /// The journal.
    pub journal: &'a Journal,
    /// The locks.
    pub lock: &'a dyn Lock,
    /// An interrupted operation to finish.
    pub resume: Option<&'a str>,
    /// How long to wait for IAM when verifying through AWS.
    pub verify_timeout: Duration,
    /// `apply` or `drift` (role session names, lock holder).
    pub command: &'a str,
    /// Status lines.
    pub printer: &'a Printer,
}

/// How [`apply_plan`] ended.
#[derive(Debug)]
#[expect(clippy::large_enum_variant, reason = "one value per command run")]
pub enum Applied {
    /// The plan has no edits: nothing was written.
    Nothing,
    /// The operation ran (applied, rolled back, or incomplete).
    Done(Outcome),
}

/// The confirmation step: shown the re-derived plan and the target line; an error cancels.
pub type Confirm<'a> = dyn FnMut(&Plan, &str) -> anyhow::Result<()> + 'a;

/// The locks an apply of `plan` takes: its spec's bucket and principal, every resource its edits
/// write, and the world file itself.
fn lock_names(plan: &Plan, source: &Source) -> Vec<LockName> {
    let mut names = names_for(plan.edits.iter().map(|edit| &edit.resource));
    names.push(LockName::Bucket(plan.spec.bucket.clone()));
    names.push(LockName::Principal(plan.spec.principal.clone()));
    if let Source::World(path) = source {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        names.push(LockName::Key(format!("world-file:{}", absolute.display())));
    }
    names.sort();
    names.dedup();
    names
}

/// Apply a plan file: take the locks; re-read the world; re-plan from the file's spec and options
/// and refuse (zero writes) unless the result equals the file, the proof passes on the world as it
/// is and every edit is within the spec's scope; confirm; then write the steps transactionally and
/// verify (once against a world file; with a bounded backoff against AWS).
pub fn apply_plan(request: &ApplyRequest<'_>, confirm: &mut Confirm<'_>) -> anyhow::Result<Applied> {
    let plan = request.plan;
    if plan.is_empty() && request.resume.is_none() {
        return Ok(Applied::Nothing);
    }
    interrupt::install();
    let holder = Holder::this_process(&format!("s3fix {}", request.command));
    let _locks = request.lock.acquire(&lock_names(plan, request.source), &holder)?;
    let runtime = runtime()?;
    match request.source {
        Source::World(path) => {
            let writer = SnapshotWriter::load(path)?;
            let mut observe_world = || Ok(writer.world());
            apply_with(request, confirm, &runtime, &writer, &mut observe_world, true)
        }
        Source::Aws(aws) => {
            let mut options = aws.options(request.command);
            // Unattended runs read many resources: client-side rate limiting on throttling.
            options.adaptive_retry = request.command == "drift";
            let adapter = runtime.block_on(AwsAdapter::connect(&options))?;
            let spec = &plan.spec;
            // What plan reads (the exact keys, the bucket's objects up to the bound, the spec's
            // access point and endpoint), and every object the file fingerprinted, so a changed
            // or vanished object shows.
            let max = aws.max_objects.unwrap_or(crate::exec::observe::MAX_OBJECTS);
            let (mut keys, listing_unknown) = runtime.block_on(crate::exec::observe::spec_keys(
                &adapter,
                spec,
                max,
                request.printer,
            ));
            for recorded in &plan.fingerprints {
                if let ResourceRef::Object { bucket, key } = &recorded.resource
                    && *bucket == spec.bucket
                    && !keys.contains(key)
                {
                    keys.push(key.clone());
                }
            }
            let observe_request = ObserveRequest {
                bucket: spec.bucket.clone(),
                keys,
                principal_arn: spec.principal.clone(),
            };
            let mut observe_world = || -> anyhow::Result<World> {
                let world = runtime.block_on(async {
                    let mut world = adapter.observe(&observe_request).await?;
                    world.unknown.extend(listing_unknown.clone());
                    crate::exec::observe::with_spec_gateways(&adapter, spec, world).await
                })?;
                checked(world)
            };
            let applied = apply_with(request, confirm, &runtime, &adapter, &mut observe_world, false);
            if aws.verbose {
                let counts = adapter.call_counts();
                request
                    .printer
                    .status(&format!("{} AWS API calls", counts.values().sum::<u64>()));
            }
            applied
        }
    }
}

fn apply_with<W: Writer>(
    request: &ApplyRequest<'_>,
    confirm: &mut Confirm<'_>,
    runtime: &tokio::runtime::Runtime,
    writer: &W,
    observe_world: &mut dyn FnMut() -> anyhow::Result<World>,
    verify_once: bool,
) -> anyhow::Result<Applied> {
    let file = request.plan;
    let journal = request.journal;
    let resumed = match request.resume {
        Some(id) => {
            let (operation, _) = journal.load(id)?;
            if !matches!(
                operation.status,
                OperationStatus::InProgress | OperationStatus::Interrupted
            ) || operation.kind != OperationKind::Apply
            {
                bail!(
                    "operation `{}` is not an interrupted apply ({:?}): nothing to resume",
                    operation.id,
                    operation.status
                );
            }
            Some(operation)
        }
        None => None,
    };
    // A resumed apply already wrote some steps: rewind them (their before-values are journaled)
    // to plan on the world the plan was made from.
    let mut current = observe_world()?;
    for step in resumed.iter().flat_map(|operation| operation.steps.iter()) {
        if matches!(step.state, StepState::Written | StepState::Writing) {
            set_document(
                &mut current,
                &step.resource,
                step.before.as_ref(),
                step.before_text.as_deref(),
            )?;
        }
    }
    let stale = stale_resources(file, &current);
    if !stale.is_empty() {
        return Err(HintedError::new(
            format!(
                "plan is stale: {} changed since the plan was made; nothing was written",
                stale.join(", ")
            ),
            "run s3fix plan again",
        )
        .into());
    }
    check_scope(file, &current)?;
    let mut now = crate::core::plan::plan_with_workers(
        &current,
        &file.spec,
        file.options,
        super::proof_workers(),
    )
    .map_err(|error| {
        HintedError::new(
            format!(
                "the plan file does not match what s3fix plans now, which is: {error}\nnothing was written"
            ),
            "re-run s3fix plan",
        )
    })?;
    compare(file, &now)?;
    now.source = match request.source {
        Source::World(path) => crate::core::plan::PlanSource {
            world: Some(
                std::path::absolute(path)
                    .unwrap_or_else(|_| path.clone())
                    .display()
                    .to_string(),
            ),
            ..Default::default()
        },
        Source::Aws(_) => request.source.plan_source(None),
    };
    let target = request.source.describe_target(Some(&file.spec));
    confirm(&now, &target)?;
    let calls = Calls { writer, runtime };
    let operation = match resumed {
        Some(mut operation) => {
            operation.status = OperationStatus::InProgress;
            operation
        }
        None => {
            begin(
                journal,
                &now,
                request.plan_file.map(|path| path.display().to_string()),
                SystemTime::now(),
            )?
            .0
        }
    };
    request.printer.status(&format!(
        "operation `{}` (journal `{}`); to undo it later: s3fix rollback {} --journal-dir {}",
        operation.id,
        journal.path_of(&operation.id).display(),
        operation.id,
        journal.directory().display()
    ));
    let timeout = request.verify_timeout;
    let printer = request.printer;
    let mut verify = || {
        if verify_once {
            match observe_world() {
                Ok(world) => expectations_failing(&now, &world),
                Err(error) => vec![format!("cannot re-read the world to verify: {error:#}")],
            }
        } else {
            verify_with_backoff(&now, observe_world, timeout, printer)
        }
    };
    let outcome = run(&calls, journal, operation, &mut verify)?;
    interrupt::clear();
    Ok(Applied::Done(outcome))
}

/// What `s3fix rollback` asks of [`rollback_operation`].
pub struct RollbackRequest<'a> {
    /// The operation to restore (id or journal file).
    pub operation: &'a str,
    /// Restore even resources changed since.
    pub force: bool,
    /// The journal.
    pub journal: &'a Journal,
    /// The locks.
    pub lock: &'a dyn Lock,
}

/// How a rollback ended.
#[derive(Debug)]
#[expect(clippy::large_enum_variant, reason = "one value per command run")]
pub enum RolledBack {
    /// Every resource already held its before-value.
    Nothing {
        /// The original operation.
        original: String,
    },
    /// The rollback operation ran.
    Done {
        /// The rollback's own outcome.
        outcome: Outcome,
        /// The original operation.
        original: String,
        /// Its journal file.
        original_path: PathBuf,
    },
}

/// Restore what an operation replaced, as a new journaled operation, under the locks of every
/// resource it touched; compare-and-restore as in [`restore`].
pub fn rollback_operation(request: &RollbackRequest<'_>, source: &Source) -> anyhow::Result<RolledBack> {
    let (mut original, original_path) = request.journal.load(request.operation)?;
    interrupt::install();
    let mut names = names_for(original.steps.iter().map(|step| &step.resource));
    if let Source::World(path) = source {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        names.push(LockName::Key(format!("world-file:{}", absolute.display())));
    }
    let _locks = request
        .lock
        .acquire(&names, &Holder::this_process("s3fix rollback"))?;
    let runtime = runtime()?;
    let finish = |outcome: Option<Outcome>, original: &mut Operation| -> anyhow::Result<RolledBack> {
        let id = original.id.clone();
        match outcome {
            None => {
                original.status = OperationStatus::RolledBack;
                request.journal.record(original)?;
                Ok(RolledBack::Nothing { original: id })
            }
            Some(outcome) => {
                if outcome.operation.status == OperationStatus::Complete {
                    original.status = OperationStatus::RolledBack;
                    request.journal.record(original)?;
                }
                Ok(RolledBack::Done {
                    outcome,
                    original: id,
                    original_path: original_path.clone(),
                })
            }
        }
    };
    let outcome = match source {
        Source::World(path) => {
            let writer = SnapshotWriter::load(path)?;
            rollback_with(request, &runtime, &writer, &original)?
        }
        Source::Aws(aws) => {
            let adapter = runtime.block_on(AwsAdapter::connect(&aws.options("rollback")))?;
            rollback_with(request, &runtime, &adapter, &original)?
        }
    };
    finish(outcome, &mut original)
}

fn rollback_with<W: Writer>(
    request: &RollbackRequest<'_>,
    runtime: &tokio::runtime::Runtime,
    writer: &W,
    original: &Operation,
) -> anyhow::Result<Option<Outcome>> {
    let calls = Calls { writer, runtime };
    let (mut operation, _) = begin_rollback(
        &calls,
        request.journal,
        original,
        request.force,
        SystemTime::now(),
    )?;
    if operation.steps.is_empty() {
        operation.status = OperationStatus::Complete;
        interrupt::record(request.journal, &operation)?;
        return Ok(None);
    }
    let mut no_verify = Vec::new;
    let outcome = run(&calls, request.journal, operation, &mut no_verify)?;
    interrupt::clear();
    Ok(Some(outcome))
}

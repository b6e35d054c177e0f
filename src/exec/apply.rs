//! Transactional apply: every step journaled before it is written, re-read and compared just
//! before writing, read back after; any failure restores the completed steps in reverse order,
//! each restore verified, going on past a failing restore and reporting all of them.

use crate::adapter::Writer;
use crate::core::plan::{Plan, ResourceRef};
use crate::core::policy::canonical::{canonical, fingerprint};
use crate::journal::{
    Journal, Operation, OperationKind, OperationStatus, Step, StepState, new_operation_id, now_text,
};
use serde_json::Value;
use std::path::PathBuf;
use std::time::SystemTime;

/// The fingerprint of an optional value's canonical form (`absent` for none). Steps compare
/// what they read with what they expect this way: AWS may store a document in an equivalent
/// form (an account id rewritten as `arn:aws:iam::ID:root`), which must not count as a change.
pub fn fingerprint_of_value(value: Option<&Value>) -> String {
    value.map_or_else(|| "absent".to_string(), |value| fingerprint(&canonical(value)))
}

/// Crash points for tests (`S3FIX_FAILPOINT=crash-after-step:N` or `crash-before-write:N`),
/// compiled in only with the `failpoints` feature: the process aborts there, as if killed.
pub fn failpoint(name: &str, step: usize) {
    #[cfg(feature = "failpoints")]
    if std::env::var("S3FIX_FAILPOINT").is_ok_and(|value| value == format!("{name}:{step}")) {
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
}

impl Outcome {
    /// Manual steps for an incomplete rollback: what to restore by hand.
    pub fn manual_steps(&self) -> Vec<String> {
        self.operation
            .steps
            .iter()
            .filter(|step| step.state == StepState::RestoreFailed)
            .map(|step| match &step.before {
                Some(_) => format!(
                    "restore {} to its `before` value in {}",
                    step.resource.describe(),
                    self.journal_path.display()
                ),
                None => format!("delete {} (it did not exist before)", step.resource.describe()),
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

    fn write(&self, resource: &ResourceRef, value: Option<&Value>) -> Result<(), String> {
        self.runtime
            .block_on(self.writer.write(resource, value))
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
            })
            .collect(),
        status: OperationStatus::InProgress,
    };
    let path = journal.record(&operation)?;
    Ok((operation, path))
}

/// Write the pending steps of an operation in order (all of them for a new apply; the rest for a
/// resumed one). On a failure, restore every step written so far and report.
pub fn run<W: Writer>(
    calls: &Calls<'_, W>,
    journal: &Journal,
    mut operation: Operation,
    verify: &mut dyn FnMut() -> Vec<String>,
) -> anyhow::Result<Outcome> {
    let mut failures = Vec::new();
    for index in 0..operation.steps.len() {
        let Some(step) = operation.steps.get(index).cloned() else {
            continue;
        };
        match step.state {
            StepState::Written => continue,
            StepState::Writing => {
                // A resumed step whose write may have happened: what is there now decides.
                match calls.read(&step.resource) {
                    Ok(current)
                        if fingerprint_of_value(current.as_ref())
                            == fingerprint_of_value(step.after.as_ref()) =>
                    {
                        set_state(&mut operation, index, StepState::Written, None);
                        journal.record(&operation)?;
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
        // Re-read just before writing: someone may have changed it since the plan.
        match calls.read(&step.resource) {
            Ok(current)
                if fingerprint_of_value(current.as_ref()) == fingerprint_of_value(step.before.as_ref()) => {}
            Ok(_) => {
                let message = format!(
                    "{} changed since the plan was made (hint: run s3fix plan again)",
                    step.resource.describe()
                );
                set_state(&mut operation, index, StepState::Failed, Some(message.clone()));
                journal.record(&operation)?;
                failures.push(message);
                break;
            }
            Err(error) => {
                set_state(&mut operation, index, StepState::Failed, Some(error.clone()));
                journal.record(&operation)?;
                failures.push(error);
                break;
            }
        }
        set_state(&mut operation, index, StepState::Writing, None);
        journal.record(&operation)?;
        failpoint("crash-before-write", index + 1);
        let written = calls.write(&step.resource, step.after.as_ref()).and_then(|()| {
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
                journal.record(&operation)?;
                failpoint("crash-after-step", index + 1);
            }
            Err(error) => {
                // The write may have half-happened: the step is restored too.
                set_state(&mut operation, index, StepState::Failed, Some(error.clone()));
                journal.record(&operation)?;
                failures.push(error);
                break;
            }
        }
    }
    if failures.is_empty() {
        failures.extend(verify());
    }
    if failures.is_empty() {
        operation.status = OperationStatus::Applied;
        let journal_path = journal.record(&operation)?;
        return Ok(Outcome {
            operation,
            journal_path,
            failures,
        });
    }
    restore(calls, journal, &mut operation)?;
    let journal_path = journal.record(&operation)?;
    Ok(Outcome {
        operation,
        journal_path,
        failures,
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

/// Restore, in reverse order, every step that was written or may have been; verify each by
/// reading back; keep going past a failing restore. Sets the operation's status.
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
        let restored = (|| {
            let current = calls.read(&step.resource)?;
            if fingerprint_of_value(current.as_ref()) != fingerprint_of_value(step.before.as_ref()) {
                calls.write(&step.resource, step.before.as_ref())?;
            }
            let back = calls.read(&step.resource)?;
            if fingerprint_of_value(back.as_ref()) == fingerprint_of_value(step.before.as_ref()) {
                Ok(())
            } else {
                Err(format!(
                    "{} does not read back as before after the restore",
                    step.resource.describe()
                ))
            }
        })();
        match restored {
            Ok(()) => set_state(operation, index, StepState::Restored, None),
            Err(error) => {
                incomplete = true;
                set_state(operation, index, StepState::RestoreFailed, Some(error));
            }
        }
        journal.record(operation)?;
    }
    operation.status = if incomplete {
        OperationStatus::RollbackIncomplete
    } else {
        OperationStatus::RolledBack
    };
    Ok(())
}

/// Start a rollback of an earlier operation as a new journaled operation: its steps restore the
/// original's before-values, in reverse order. Refuses (unless `force`) where a resource changed
/// after the original wrote it, naming every such resource.
pub fn begin_rollback<W: Writer>(
    calls: &Calls<'_, W>,
    journal: &Journal,
    original: &Operation,
    force: bool,
    now: SystemTime,
) -> anyhow::Result<(Operation, PathBuf)> {
    let mut steps = Vec::new();
    let mut changed = Vec::new();
    for step in original.steps.iter().rev() {
        if matches!(step.state, StepState::Pending | StepState::Restored) {
            continue;
        }
        let current = calls
            .read(&step.resource)
            .map_err(|error| anyhow::anyhow!(error))?;
        let is_after = fingerprint_of_value(current.as_ref()) == fingerprint_of_value(step.after.as_ref());
        let is_before = fingerprint_of_value(current.as_ref()) == fingerprint_of_value(step.before.as_ref());
        if !is_after && !is_before && !force {
            changed.push(step.resource.describe());
        }
        if is_before {
            continue;
        }
        steps.push(Step {
            resource: step.resource.clone(),
            before: current,
            after: step.before.clone(),
            state: StepState::Pending,
            error: None,
        });
    }
    if !changed.is_empty() {
        anyhow::bail!(
            "these resources changed after operation `{}` wrote them: {} (hint: review them, then rollback --force to restore anyway)",
            original.id,
            changed.join(", ")
        );
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
    let path = journal.record(&operation)?;
    Ok((operation, path))
}

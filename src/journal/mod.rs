//! The journal: a durable record of every apply and rollback — each step's resource, its value
//! before and after, and how far the step got — written (temp file, fsync, rename) before each
//! write it describes, so nothing an apply replaced is ever lost, even if the process dies.

use crate::core::kind::{FileKind, JournalTag, check_kind};
use crate::core::plan::{PlanSource, ResourceRef};
use crate::fsutil::write_atomically;
use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The journal format this build writes and reads.
pub const JOURNAL_FORMAT_VERSION: u32 = 1;

/// The default journal directory, relative to the working directory.
pub const DEFAULT_DIRECTORY: &str = ".s3fix/journal";

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OperationKind {
    /// Applying a plan.
    Apply,
    /// Restoring the before-state of an earlier operation.
    Rollback,
}

/// How far an operation got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OperationStatus {
    /// Steps are being written (or the process died while they were).
    InProgress,
    /// Every step was written and verified.
    Applied,
    /// A step failed and every completed step was restored.
    RolledBack,
    /// A step failed and some restore failed or was refused: manual steps are needed.
    RollbackIncomplete,
    /// The process was stopped by a second signal: some steps may be written (`s3fix rollback`).
    Interrupted,
    /// A rollback restored everything it had to (possibly nothing).
    Complete,
}

/// How far a step got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepState {
    /// Not started.
    Pending,
    /// The write was sent (it may or may not have taken effect).
    Writing,
    /// Written and read back equal.
    Written,
    /// The write failed.
    Failed,
    /// Restored to its before-state and read back equal.
    Restored,
    /// The restore failed.
    RestoreFailed,
    /// Not restored: the resource changed since this operation wrote it (someone else's change
    /// is never overwritten without `--force`); `error` holds both values.
    Refused,
}

/// One step: a resource, its value before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    /// The resource.
    pub resource: ResourceRef,
    /// The value before (`null`: absent, restored by deleting).
    pub before: Option<Value>,
    /// The value written (`null`: deleted).
    pub after: Option<Value>,
    /// How far the step got.
    pub state: StepState,
    /// The error, where the step or its restore failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The document's exact text before, where known: a restore writes it back byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_text: Option<String>,
    /// The document's exact text written, where it was planned as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_text: Option<String>,
}

/// A journaled operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operation {
    /// `"s3fix-journal"`: what the file is.
    #[serde(rename = "kind", default)]
    pub file_kind: JournalTag,
    /// Always [`JOURNAL_FORMAT_VERSION`].
    pub format_version: u32,
    /// The operation id (also the file name).
    pub id: String,
    /// Apply or rollback (`"operation"`; journals written before files named their kind held
    /// it in `"kind"`).
    #[serde(rename = "operation")]
    pub kind: OperationKind,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// The plan file applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_file: Option<String>,
    /// For a rollback: the operation it restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
    /// Where the resources live (world file or AWS roles; no secrets).
    pub source: PlanSource,
    /// The steps, in the order they are written.
    pub steps: Vec<Step>,
    /// How far the operation got.
    pub status: OperationStatus,
}

/// A journal directory.
#[derive(Debug, Clone)]
pub struct Journal {
    directory: PathBuf,
}

impl Journal {
    /// A journal in `directory` (created on first write).
    pub fn new(directory: &Path) -> Journal {
        Journal {
            directory: directory.to_path_buf(),
        }
    }

    /// The directory.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// The journal files of every operation, oldest first (lock files in `locks/` are not
    /// operations).
    pub fn operations(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&self.directory)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        found.sort();
        found
    }

    /// The file of an operation.
    pub fn path_of(&self, id: &str) -> PathBuf {
        self.directory.join(format!("{id}.json"))
    }

    /// Write an operation durably (the whole record, atomically).
    pub fn record(&self, operation: &Operation) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.directory)
            .with_context(|| format!("cannot create journal directory `{}`", self.directory.display()))?;
        let mut text = serde_json::to_vec_pretty(operation).context("cannot serialize the journal entry")?;
        text.push(b'\n');
        let path = self.path_of(&operation.id);
        write_atomically(&path, &text)?;
        Ok(path)
    }

    /// Load an operation by id, or by the path of its file.
    pub fn load(&self, id_or_path: &str) -> anyhow::Result<(Operation, PathBuf)> {
        let as_path = PathBuf::from(id_or_path);
        let path = if as_path.extension().is_some_and(|ext| ext == "json") && as_path.exists() {
            as_path
        } else {
            self.path_of(id_or_path)
        };
        let text = std::fs::read_to_string(&path).map_err(|error| {
            anyhow::Error::new(crate::hint::HintedError::new(
                format!("cannot read journal `{}`: {error}", path.display()),
                format!(
                    "give an operation id from `{}` or a journal file",
                    self.directory.display()
                ),
            ))
        })?;
        let not_valid = || format!("journal `{}` is not a valid s3fix journal", path.display());
        let mut document: Value = serde_json::from_str(&text).with_context(not_valid)?;
        check_kind(&document, FileKind::Journal, &path.display().to_string())?;
        upgrade_untagged(&mut document);
        let operation: Operation = serde_json::from_value(document).with_context(not_valid)?;
        if operation.format_version != JOURNAL_FORMAT_VERSION {
            bail!(
                "journal `{}` has format version {}, this s3fix reads {JOURNAL_FORMAT_VERSION}",
                path.display(),
                operation.format_version
            );
        }
        Ok((operation, path))
    }
}

/// A journal written before files named their kind held the operation (`apply`, `rollback`) in
/// `kind`: move it to `operation` and tag the file.
fn upgrade_untagged(document: &mut Value) {
    let Some(object) = document.as_object_mut() else {
        return;
    };
    if object.contains_key("operation") {
        return;
    }
    if let Some(operation) = object.remove("kind") {
        object.insert("operation".into(), operation);
        object.insert("kind".into(), Value::from(FileKind::Journal.tag()));
    }
}

/// A new operation id from a UTC timestamp and the process id: sortable and unique per host.
pub fn new_operation_id(now: std::time::SystemTime) -> String {
    let timestamp = jiff::Timestamp::try_from(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!(
        "op-{}-{}",
        timestamp.strftime("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    )
    .replace('.', "")
}

/// Now, as RFC 3339 UTC.
pub fn now_text(now: std::time::SystemTime) -> String {
    jiff::Timestamp::try_from(now)
        .map(|timestamp| timestamp.to_string())
        .unwrap_or_default()
}

//! One writer at a time: a lock per bucket, principal, KMS key and access point an apply or
//! rollback touches, held for the whole operation. [`LocalLock`] keeps them as lock files under
//! the journal directory (an OS file lock, released when the process exits however it exits);
//! the [`Lock`] trait leaves room for a shared lease when runners on many machines write the same accounts.

use crate::core::plan::ResourceRef;
use sha2::{Digest, Sha256};
use std::fs::{File, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A thing only one operation may write at a time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockName {
    /// A bucket: its policy, ACL and Object Ownership.
    Bucket(String),
    /// A principal's s3fix-owned inline policies.
    Principal(String),
    /// A KMS key's policy.
    Key(String),
    /// An access point's policy (by ARN).
    AccessPoint(String),
}

impl LockName {
    /// The lock that guards a written resource (read-only resources need none).
    pub fn of(resource: &ResourceRef) -> Option<LockName> {
        match resource {
            ResourceRef::InlinePolicy { principal, .. } => Some(LockName::Principal(principal.clone())),
            ResourceRef::BucketPolicy { bucket }
            | ResourceRef::OwnershipControls { bucket }
            | ResourceRef::BucketAcl { bucket } => Some(LockName::Bucket(bucket.clone())),
            ResourceRef::KeyPolicy { key } => Some(LockName::Key(key.clone())),
            ResourceRef::AccessPointPolicy { access_point } => {
                Some(LockName::AccessPoint(access_point.clone()))
            }
            _ => None,
        }
    }

    /// How an operator reads it: "bucket `b`".
    pub fn describe(&self) -> String {
        match self {
            LockName::Bucket(bucket) => format!("bucket `{bucket}`"),
            LockName::Principal(principal) => format!("principal `{principal}`"),
            LockName::Key(key) => format!("key `{key}`"),
            LockName::AccessPoint(access_point) => format!("access point `{access_point}`"),
        }
    }

    fn file_name(&self) -> String {
        let (kind, name) = match self {
            LockName::Bucket(bucket) => ("bucket", bucket),
            LockName::Principal(principal) => ("principal", principal),
            LockName::Key(key) => ("key", key),
            LockName::AccessPoint(access_point) => ("access-point", access_point),
        };
        // Bucket names are file-safe; ARNs are not: a digest keeps every name one flat file.
        let digest = Sha256::digest(name.as_bytes());
        let short: String = digest.iter().take(12).map(|byte| format!("{byte:02x}")).collect();
        format!("{kind}-{short}.lock")
    }
}

/// The locks to take for a set of written resources, sorted and without duplicates.
pub fn names_for<'a>(resources: impl IntoIterator<Item = &'a ResourceRef>) -> Vec<LockName> {
    let mut names: Vec<LockName> = resources.into_iter().filter_map(LockName::of).collect();
    names.sort();
    names.dedup();
    names
}

/// Why locks could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another operation holds one of them.
    #[error("another s3fix apply holds the lock on {name} since {since} (pid {pid}); nothing was written")]
    Held {
        /// What is locked.
        name: String,
        /// When the holder took it.
        since: String,
        /// The holder's process id.
        pid: String,
    },
    /// The lock file could not be used.
    #[error("cannot use the lock file `{path}`: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl crate::hint::Hinted for LockError {
    fn hint(&self) -> Option<String> {
        match self {
            LockError::Held { .. } => Some(
                "wait for it to finish and plan again; the lock is released when that process exits".into(),
            ),
            LockError::Io { path, .. } => Some(format!(
                "check that `{}` is writable by this user",
                path.parent().unwrap_or(path).display()
            )),
        }
    }
}

/// Takes exclusive locks on names for the life of the returned guard.
pub trait Lock {
    /// Take every lock in `names` or none; `holder` describes the taker (written for others to
    /// read when they find the lock held).
    fn acquire(&self, names: &[LockName], holder: &Holder) -> Result<LockGuard, LockError>;
}

/// Who holds a lock.
#[derive(Debug, Clone)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// When it was taken (RFC 3339).
    pub since: String,
    /// What holds it (`apply plan.json`).
    pub what: String,
}

impl Holder {
    /// This process, now.
    pub fn this_process(what: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            since: crate::journal::now_text(std::time::SystemTime::now()),
            what: what.to_string(),
        }
    }
}

/// Held locks; dropping it releases them.
#[derive(Debug)]
pub struct LockGuard {
    _files: Vec<File>,
}

/// Lock files in a directory (`<journal dir>/locks`).
#[derive(Debug, Clone)]
pub struct LocalLock {
    directory: PathBuf,
}

impl LocalLock {
    /// Lock files under `directory`.
    pub fn new(directory: &Path) -> LocalLock {
        LocalLock {
            directory: directory.to_path_buf(),
        }
    }

    /// The lock directory of a journal directory.
    pub fn for_journal(journal_directory: &Path) -> LocalLock {
        LocalLock::new(&journal_directory.join("locks"))
    }
}

impl Lock for LocalLock {
    fn acquire(&self, names: &[LockName], holder: &Holder) -> Result<LockGuard, LockError> {
        std::fs::create_dir_all(&self.directory).map_err(|source| LockError::Io {
            path: self.directory.clone(),
            source,
        })?;
        let mut files = Vec::new();
        for name in names {
            let path = self.directory.join(name.file_name());
            let io = |source| LockError::Io {
                path: path.clone(),
                source,
            };
            let mut file = File::options()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let recorded: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    let field = |key: &str| {
                        recorded
                            .get(key)
                            .map(|value| value.as_str().map_or_else(|| value.to_string(), str::to_string))
                            .unwrap_or_else(|| "an unknown time".into())
                    };
                    // Every lock taken so far is released as `files` drops: all or none.
                    return Err(LockError::Held {
                        name: name.describe(),
                        since: field("since"),
                        pid: field("pid"),
                    });
                }
                Err(TryLockError::Error(source)) => return Err(io(source)),
            }
            let record = serde_json::json!({
                "pid": holder.pid,
                "since": holder.since,
                "holder": holder.what,
                "lock": name.describe(),
            });
            file.set_len(0).map_err(io)?;
            file.write_all(record.to_string().as_bytes()).map_err(io)?;
            file.flush().map_err(io)?;
            files.push(file);
        }
        Ok(LockGuard { _files: files })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_names_what_and_since_and_releases_on_drop() {
        let directory = tempfile::tempdir().unwrap();
        let lock = LocalLock::new(directory.path());
        let names = names_for(&[
            ResourceRef::BucketPolicy { bucket: "b".into() },
            ResourceRef::OwnershipControls { bucket: "b".into() },
            ResourceRef::InlinePolicy {
                principal: "arn:aws:iam::222222222222:role/app".into(),
                name: "s3fix-b".into(),
            },
        ]);
        assert_eq!(names.len(), 2, "one lock per bucket and per principal: {names:?}");
        let first = lock.acquire(&names, &Holder::this_process("apply one")).unwrap();
        // A second taker (another open file description, as another process would have).
        match lock.acquire(&names[1..], &Holder::this_process("apply two")) {
            Err(LockError::Held { name, pid, .. }) => {
                assert_eq!(name, "principal `arn:aws:iam::222222222222:role/app`");
                assert_eq!(pid, std::process::id().to_string());
            }
            other => panic!("expected a held lock, got {other:?}"),
        }
        drop(first);
        assert!(lock.acquire(&names, &Holder::this_process("apply two")).is_ok());
    }

    #[test]
    fn an_access_point_policy_takes_the_access_point_lock() {
        let arn = "arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap";
        let names = names_for(&[
            ResourceRef::BucketPolicy {
                bucket: "lake".into(),
            },
            ResourceRef::AccessPointPolicy {
                access_point: arn.into(),
            },
        ]);
        assert_eq!(
            names,
            vec![LockName::Bucket("lake".into()), LockName::AccessPoint(arn.into())]
        );
        assert_eq!(names[1].describe(), format!("access point `{arn}`"));
        let directory = tempfile::tempdir().unwrap();
        let lock = LocalLock::new(directory.path());
        let first = lock.acquire(&names, &Holder::this_process("apply one")).unwrap();
        match lock.acquire(&names[1..], &Holder::this_process("apply two")) {
            Err(LockError::Held { name, .. }) => assert_eq!(name, format!("access point `{arn}`")),
            other => panic!("expected a held lock, got {other:?}"),
        }
        drop(first);
    }
}

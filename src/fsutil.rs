//! Durable file writes: temporary file in the same directory, fsync, rename, fsync the directory.

use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("`{}` is not a file path", path.display()))?;
    let temporary = directory.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // Make the rename itself durable.
        std::fs::File::open(&directory)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("cannot write `{}`", path.display()))
}

/// Refuse to replace an existing file that is not a `kind` file (a plan file for `plan -o`, a
/// world file for `snapshot -o`), unless `force`: `plan -o world.json` must not silently replace
/// the world it was planned from. A missing or empty file may be written.
pub fn refuse_foreign_overwrite(
    path: &Path,
    kind: crate::core::kind::FileKind,
    force: bool,
) -> anyhow::Result<()> {
    if force {
        return Ok(());
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        // Absent (the usual case), or unreadable: the write itself reports that.
        return Ok(());
    };
    if text.trim().is_empty() {
        return Ok(());
    }
    let found = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|document| crate::core::kind::FileKind::of(&document));
    if found == Some(kind) {
        return Ok(());
    }
    let what = found.map_or_else(
        || "not an s3fix file".to_string(),
        |found| format!("a {}", found.noun()),
    );
    Err(crate::hint::HintedError::new(
        format!(
            "refusing to overwrite `{}`: it is {what}, not a {}",
            path.display(),
            kind.noun()
        ),
        "choose another file name, or pass --force to replace it",
    )
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::kind::FileKind;

    #[test]
    fn only_files_of_the_same_kind_are_replaced() -> anyhow::Result<()> {
        let directory = tempfile::tempdir()?;
        let world = directory.path().join("world.json");
        std::fs::write(&world, r#"{"formatVersion": 1, "buckets": []}"#)?;
        let error = refuse_foreign_overwrite(&world, FileKind::Plan, false)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(error.contains("it is a world file, not a plan file"), "{error}");
        assert!(refuse_foreign_overwrite(&world, FileKind::Plan, true).is_ok());
        assert!(refuse_foreign_overwrite(&world, FileKind::World, false).is_ok());
        let notes = directory.path().join("notes.txt");
        std::fs::write(&notes, "keep me")?;
        assert!(refuse_foreign_overwrite(&notes, FileKind::Plan, false).is_err());
        assert!(refuse_foreign_overwrite(&directory.path().join("new.json"), FileKind::Plan, false).is_ok());
        Ok(())
    }
}

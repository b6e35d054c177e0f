//! SIGINT and SIGTERM during an apply or rollback. The first signal asks the operation to stop
//! before its next write (it then rolls back what it wrote); a second one ends the process at
//! once, after marking the journal `interrupted` and saying how to roll back.

use crate::journal::{Journal, Operation, OperationStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// The operation being journaled, so a second signal can mark it. Every journal write of an
/// operation goes through [`record`], which holds this lock: the signal thread never races a
/// write.
static ACTIVE: Mutex<Option<(Journal, Operation)>> = Mutex::new(None);

/// Start listening for SIGINT and SIGTERM (once per process).
pub fn install() {
    INSTALL.call_once(|| {
        #[cfg(unix)]
        {
            use signal_hook::consts::{SIGINT, SIGTERM};
            let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
                return;
            };
            let _ = std::thread::Builder::new()
                .name("s3fix-signals".into())
                .spawn(move || {
                    for _ in signals.forever() {
                        if REQUESTED.swap(true, Ordering::SeqCst) {
                            exit_now();
                        }
                        eprintln!(
                            "interrupted: stopping before the next write and rolling back what was written (interrupt again to exit at once)"
                        );
                    }
                });
        }
    });
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Sleep up to `duration`, waking early when a stop is asked for; true when it was.
pub fn sleep(duration: Duration) -> bool {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        if requested() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())));
    }
    requested()
}

/// Journal an operation (and remember it for a second signal).
pub fn record(journal: &Journal, operation: &Operation) -> anyhow::Result<std::path::PathBuf> {
    let mut active = ACTIVE.lock().unwrap_or_else(PoisonError::into_inner);
    let path = journal.record(operation)?;
    *active = match operation.status {
        OperationStatus::InProgress => Some((journal.clone(), operation.clone())),
        _ => None,
    };
    Ok(path)
}

/// Forget the active operation (it ended).
pub fn clear() {
    *ACTIVE.lock().unwrap_or_else(PoisonError::into_inner) = None;
}

fn exit_now() -> ! {
    let active = ACTIVE.lock().unwrap_or_else(PoisonError::into_inner);
    let Some((journal, operation)) = active.as_ref() else {
        eprintln!("interrupted again: exiting; no write was in progress");
        std::process::exit(crate::exit::ExitCode::Error.code());
    };
    let mut operation = operation.clone();
    operation.status = OperationStatus::Interrupted;
    let path = journal
        .record(&operation)
        .unwrap_or_else(|_| journal.path_of(&operation.id));
    eprintln!(
        "interrupted again: exiting at once. Operation `{}` is marked interrupted in `{}`; some steps may be written. Restore them with: s3fix rollback {} --journal-dir {}",
        operation.id,
        path.display(),
        operation.id,
        journal.directory().display()
    );
    std::process::exit(crate::exit::ExitCode::RollbackIncomplete.code());
}

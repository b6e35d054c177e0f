//! Exit codes: an API that operators' scripts rely on.

/// Every exit code s3fix uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Success: allowed, no changes, applied and verified.
    Success = 0,
    /// An error: bad input, an AWS failure before any write.
    Error = 1,
    /// A result, not an error: the request is denied (explain), changes are planned
    /// (plan --detailed-exitcode), drift found (drift).
    Denied = 2,
    /// Apply failed and every completed step was rolled back: the accounts are as before.
    RolledBack = 3,
    /// Apply failed and some rollback step failed too: manual steps are printed.
    RollbackIncomplete = 4,
}

impl ExitCode {
    /// The numeric process exit code.
    pub fn code(self) -> i32 {
        self as i32
    }
}

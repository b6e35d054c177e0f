//! Hints: the remedy an error's cause calls for, kept beside the error instead of inside its
//! message, so the printer can show it on its own line (`hint: ...`) and tests can check it.

/// An error that knows the remedy for its cause, and optionally carries low-level detail (the
/// SDK's description) that is shown only with `--verbose`.
pub trait Hinted {
    /// The one remedy that fits this error's cause, if one is known.
    fn hint(&self) -> Option<String>;

    /// Low-level detail for `--verbose` (never credentials).
    fn detail(&self) -> Option<String> {
        None
    }
}

/// A message with the remedy that fits it: for errors that have no type of their own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HintedError {
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl HintedError {
    /// An error `message` with the remedy `hint`.
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> HintedError {
        HintedError {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl Hinted for HintedError {
    fn hint(&self) -> Option<String> {
        Some(self.hint.clone())
    }
}

/// The hinted view of one error in a chain, if its type has one.
pub fn as_hinted<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a dyn Hinted> {
    if let Some(hinted) = error.downcast_ref::<HintedError>() {
        return Some(hinted);
    }
    if let Some(adapter) = error.downcast_ref::<crate::adapter::AdapterError>() {
        return Some(adapter);
    }
    if let Some(kind) = error.downcast_ref::<crate::core::kind::KindError>() {
        return Some(kind);
    }
    None
}

impl Hinted for crate::core::kind::KindError {
    fn hint(&self) -> Option<String> {
        Some(format!(
            "give a {} (written by `{}`)",
            self.expected.noun(),
            self.writer()
        ))
    }
}

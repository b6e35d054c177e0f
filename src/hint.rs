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
    if let Some(source) = error.downcast_ref::<crate::exec::source::SourceError>() {
        return Some(source);
    }
    if let Some(lock) = error.downcast_ref::<crate::exec::lock::LockError>() {
        return Some(lock);
    }
    if let Some(verify) = error.downcast_ref::<crate::core::plan::verify::VerifyError>() {
        return Some(verify);
    }
    if let Some(explain) = error.downcast_ref::<crate::core::s3::ExplainError>() {
        return Some(explain);
    }
    if let Some(plan) = error.downcast_ref::<crate::core::plan::PlanError>() {
        return Some(plan);
    }
    if let Some(policy) = error.downcast_ref::<crate::core::policy::PolicyError>() {
        return Some(policy);
    }
    if let Some(cloudtrail) = error.downcast_ref::<crate::core::fromerror::cloudtrail::CloudTrailError>() {
        return Some(cloudtrail);
    }
    if let Some(to_spec) = error.downcast_ref::<crate::core::fromerror::tospec::ToSpecError>() {
        return Some(to_spec);
    }
    None
}

impl Hinted for crate::core::plan::PlanError {
    fn hint(&self) -> Option<String> {
        match self {
            crate::core::plan::PlanError::World(error) => error.hint(),
            _ => self.remedy(),
        }
    }
}

impl Hinted for crate::core::s3::ExplainError {
    fn hint(&self) -> Option<String> {
        use crate::core::s3::ExplainError;
        match self {
            ExplainError::NoSuchBucket(_) => Some("observe it, or check the name".into()),
            ExplainError::NoSuchPrincipal(_) => Some("check the ARN, or observe with --caller-role".into()),
            ExplainError::NoSuchAccessPoint(_) => Some("observe it, or check the ARN or alias".into()),
            _ => None,
        }
    }
}

impl Hinted for crate::core::policy::PolicyError {
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

impl Hinted for crate::core::fromerror::cloudtrail::CloudTrailError {
    fn hint(&self) -> Option<String> {
        match self {
            crate::core::fromerror::cloudtrail::CloudTrailError::NoSuchEvent(_, ids) => {
                Some(format!("the file's eventIDs: {ids}"))
            }
            _ => None,
        }
    }
}

impl Hinted for crate::core::fromerror::tospec::ToSpecError {
    fn hint(&self) -> Option<String> {
        match self {
            crate::core::fromerror::tospec::ToSpecError::Unsupported(_) => {
                Some("specs grant read = s3:GetObject, list = s3:ListBucket, write = s3:PutObject".into())
            }
            crate::core::fromerror::tospec::ToSpecError::Principal(_) => {
                Some("pass --principal with the role ARN".into())
            }
        }
    }
}

impl Hinted for crate::core::plan::verify::VerifyError {
    fn hint(&self) -> Option<String> {
        use crate::core::plan::verify::VerifyError;
        Some(match self {
            VerifyError::OutOfScope { .. } => "plans are made by s3fix plan, not by hand".into(),
            VerifyError::Differs { .. } => "re-run s3fix plan".into(),
        })
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::core::plan::verify::VerifyError;
    use crate::core::policy::{PolicyKind, parse_policy};
    use crate::exec::lock::LockError;
    use crate::exec::source::SourceError;

    /// The message of `error` (no hint in it) and the hint the printer finds for it.
    fn split(error: &(dyn std::error::Error + 'static)) -> (String, String) {
        let message = error.to_string();
        assert!(
            !message.to_lowercase().contains("hint"),
            "a hint inside the message: {message}"
        );
        let hint = as_hinted(error)
            .and_then(Hinted::hint)
            .unwrap_or_else(|| panic!("no typed hint for: {message}"));
        (message, hint)
    }

    #[test]
    fn source_errors_hint_at_the_endpoint_to_pass() {
        let (message, hint) = split(&SourceError::EndpointNotGiven {
            recorded: "http://127.0.0.1:9".into(),
        });
        assert!(message.contains("`http://127.0.0.1:9`"), "{message}");
        assert!(hint.contains("--endpoint-url http://127.0.0.1:9"), "{hint}");
        let (_, hint) = split(&SourceError::EndpointMismatch {
            recorded: "https://a".into(),
            given: "https://b".into(),
        });
        assert!(hint.contains("plan again against `https://b`"), "{hint}");
        let (_, hint) = split(&SourceError::InsecureEndpoint("http://example.com".into()));
        assert!(hint.contains("https://"), "{hint}");
        let (_, hint) = split(&SourceError::BadEndpoint("ftp://x".into()));
        assert!(hint.contains("https://"), "{hint}");
    }

    #[test]
    fn a_held_lock_hints_to_wait() {
        let (message, hint) = split(&LockError::Held {
            name: "bucket `b`".into(),
            since: "2026-01-01T00:00:00Z".into(),
            pid: "42".into(),
        });
        assert!(
            message.contains("pid 42") && message.contains("nothing was written"),
            "{message}"
        );
        assert!(hint.starts_with("wait for it to finish"), "{hint}");
        let (_, hint) = split(&LockError::Io {
            path: "/srv/locks/b.lock".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
        assert!(hint.contains("`/srv/locks` is writable"), "{hint}");
    }

    #[test]
    fn a_plan_file_that_differs_hints_to_plan_again() {
        let (_, hint) = split(&VerifyError::Differs {
            difference: "edit 1 differs".into(),
        });
        assert_eq!(hint, "re-run s3fix plan");
        let (message, hint) = split(&VerifyError::OutOfScope {
            resource: "bucket policy of `b`".into(),
            why: "another bucket".into(),
        });
        assert!(message.contains("bucket policy of `b`"), "{message}");
        assert!(hint.contains("made by s3fix plan"), "{hint}");
    }

    #[test]
    fn policy_errors_carry_their_remedy() {
        let error = parse_policy(
            &serde_json::json!({"Version": "2012-10-18", "Statement": []}),
            PolicyKind::Resource,
        )
        .unwrap_err();
        let (message, hint) = split(&error);
        assert!(message.starts_with("`Version`: unsupported version"), "{message}");
        assert_eq!(hint, "use \"2012-10-17\"");
        let error = parse_policy(
            &serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/*"}, "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*"}]}),
            PolicyKind::Resource,
        )
        .unwrap_err();
        let (_, hint) = split(&error);
        assert!(hint.contains("aws:PrincipalArn"), "{hint}");
        // An error without a known remedy has no hint at all.
        let error = parse_policy(
            &serde_json::json!({"Version": "2012-10-17"}),
            PolicyKind::Resource,
        )
        .unwrap_err();
        assert!(as_hinted(&error).and_then(Hinted::hint).is_none(), "{error}");
    }

    #[test]
    fn from_error_inputs_hint_at_what_is_accepted() {
        use crate::core::fromerror::{cloudtrail::CloudTrailError, tospec::ToSpecError};
        let (message, hint) = split(&CloudTrailError::NoSuchEvent("e9".into(), "e1, e2".into()));
        assert_eq!(message, "no record has eventID `e9`");
        assert_eq!(hint, "the file's eventIDs: e1, e2");
        let (_, hint) = split(&ToSpecError::Unsupported("s3:DeleteObject".into()));
        assert!(hint.contains("read = s3:GetObject"), "{hint}");
    }

    #[test]
    fn adapter_limits_hint_at_a_smaller_input() {
        let (message, hint) = split(&crate::adapter::AdapterError::WorldFileTooLarge {
            path: "w.json".into(),
            size: 10,
            limit: 5,
        });
        assert!(message.contains("over the limit of 5 bytes"), "{message}");
        assert!(hint.contains("snapshot only the bucket"), "{hint}");
    }

    #[test]
    fn hinted_errors_in_a_chain_are_found_under_context() {
        let error = anyhow::Error::new(HintedError::new(
            "cannot read journal `x`",
            "give an operation id",
        ))
        .context("rollback failed");
        let hint = error.chain().filter_map(as_hinted).find_map(Hinted::hint);
        assert_eq!(hint.as_deref(), Some("give an operation id"));
        assert!(!format!("{error:#}").contains("hint"), "{error:#}");
    }

    #[test]
    fn plan_refusals_hint_at_each_blocker_and_the_ownership_flag() {
        use crate::core::plan::{Blocker, OWNERSHIP_NOT_ACCEPTED, PlanError};
        let blocker = Blocker {
            gate: crate::core::s3::Gate::IdentityPolicy,
            what: "an SCP denies s3:GetObject".into(),
            statement: None,
            remedy: "ask the organization's administrators".into(),
        };
        let (message, hint) = split(&PlanError::Blocked(vec![blocker.clone()]));
        assert!(message.contains("an SCP denies s3:GetObject"), "{message}");
        assert_eq!(hint, "ask the organization's administrators");
        let (_, hint) = split(&PlanError::Blocked(vec![blocker.clone(), blocker]));
        assert_eq!(
            hint.matches("ask the organization's administrators").count(),
            2,
            "{hint}"
        );
        let (_, hint) = split(&PlanError::ProofFailed(vec![format!(
            "account 333333333333 gains s3:GetObject, {OWNERSHIP_NOT_ACCEPTED}"
        )]));
        assert!(hint.contains("--allow-ownership-change"), "{hint}");
        let (_, hint) = split(&PlanError::World(crate::core::s3::ExplainError::NoSuchBucket(
            "b".into(),
        )));
        assert!(hint.contains("check the name"), "{hint}");
    }

    /// No message in the crate embeds its hint: hints are typed and printed on their own line.
    #[test]
    fn no_message_in_the_source_embeds_a_hint() {
        fn visit(directory: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(directory).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, found);
                } else if path.extension().is_some_and(|extension| extension == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (number, line) in text.lines().enumerate() {
                        if line.contains(concat!("(hint", ":")) || line.contains(concat!("\\n    hint", ":"))
                        {
                            found.push(format!("{}:{}", path.display(), number + 1));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        visit(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(found.is_empty(), "hints inside messages: {found:#?}");
    }
}

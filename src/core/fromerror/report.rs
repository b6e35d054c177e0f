//! What explain found about the error itself, beside the gate walk: where each input came
//! from, the non-policy cause, the agreement with AWS, and AWS's authorization details.

use super::authz::{AuthorizationDetails, StatementComparison};
use super::compare::Agreement;
use super::notpolicy::Finding;
use super::{Extraction, Source};
use serde::Serialize;

/// One input of the evaluated request and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// `principal`, `action`, `bucket`, `key`, `context`.
    pub field: String,
    /// The value used.
    pub value: String,
    /// Where it came from: `message`, `cloudtrail`, `authorizationId`, a flag such as
    /// `--principal`, or `current credentials (STS GetCallerIdentity)`.
    pub from: String,
}

/// The error side of an explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Message, CloudTrail record or authorization ID.
    pub source: Source,
    /// What the error said.
    pub extraction: Extraction,
    /// Where each input came from.
    pub inputs: Vec<Input>,
    /// A cause no policy edit fixes.
    pub not_policy: Option<Finding>,
    /// AWS's blame against s3fix's deciding gate; `None` when no walk was made.
    pub agreement: Option<Agreement>,
    /// AWS's authorization details, where they were read.
    pub details: Option<AuthorizationDetails>,
    /// Why they could not be read.
    pub details_unavailable: Option<String>,
    /// AWS's matched statements against s3fix's deciding statements.
    pub statements: Option<StatementComparison>,
    /// Why the gate walk was not made (inputs missing after a non-policy cause).
    pub walk_skipped: Option<String>,
}

impl Report {
    /// A report with nothing but the extraction.
    pub fn new(source: Source, extraction: Extraction) -> Report {
        Report {
            source,
            extraction,
            inputs: Vec::new(),
            not_policy: None,
            agreement: None,
            details: None,
            details_unavailable: None,
            statements: None,
            walk_skipped: None,
        }
    }

    /// Record where an input came from.
    pub fn input(&mut self, field: &str, value: &str, from: &str) {
        self.inputs.push(Input {
            field: field.to_string(),
            value: value.to_string(),
            from: from.to_string(),
        });
    }

    /// `agrees`: true, false, or null when AWS stated nothing (or no walk was made).
    pub fn agrees(&self) -> Option<bool> {
        self.agreement.as_ref().and_then(|agreement| agreement.agrees)
    }
}

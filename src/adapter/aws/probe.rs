//! The live probe after an apply: assume the principal's role (session `s3fix-probe`) and ask S3
//! for each expected key with `HeadObject`, reporting what AWS answered in domain types.
//!
//! INVARIANT: the probe only reads (`sts:AssumeRole`, `s3:HeadObject`, and the bucket-region
//! lookup the writer makes); the principal's temporary credentials never leave this function.

use super::error::{Failure, FailureClass};
use super::session::AwsOptions;
use super::{AwsAdapter, bucket_region};
use crate::adapter::{AdapterError, PrincipalRef};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};
use std::time::SystemTime;

/// The role session name the probe uses, so CloudTrail shows which requests were the probe's.
pub const PROBE_SESSION_NAME: &str = "s3fix-probe";

/// What AWS answered to one probe request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    /// The request succeeded.
    Allowed,
    /// AWS refused it (403): the error code and message.
    Denied {
        /// The error code and message.
        reason: String,
    },
    /// Anything else (missing object, server error, network): the error.
    Failed {
        /// The error code and message.
        reason: String,
    },
}

/// One probed key and what AWS answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProbe {
    /// The object key.
    pub key: String,
    /// The answer.
    pub result: ProbeResult,
}

/// What a failed `HeadObject` means for the probe: a 403 (by code, or by status for the bodiless
/// HEAD answer) is a denial; anything else a failure.
fn result_of(failure: &Failure) -> ProbeResult {
    let reason = failure.reason();
    if failure.class() == FailureClass::Denied || failure.status == Some(403) {
        ProbeResult::Denied { reason }
    } else {
        ProbeResult::Failed { reason }
    }
}

/// The operator's configuration: the standard chain with the adapter's profile, region and
/// endpoint (as `Sessions::open` loads it, before any role).
async fn operator_config(options: &AwsOptions) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint_url) = &options.endpoint_url {
        loader = loader.endpoint_url(endpoint_url);
    }
    let base = loader.load().await;
    if base.region().is_none() {
        return base.to_builder().region(Region::new("us-east-1")).build();
    }
    base
}

impl AwsAdapter {
    /// `base` with the credentials of `role_arn`, assumed with session [`PROBE_SESSION_NAME`];
    /// the error code and message otherwise.
    async fn assume(
        &self,
        base: &SdkConfig,
        role_arn: &str,
        external_id: Option<&str>,
    ) -> Result<SdkConfig, String> {
        let sts = aws_sdk_sts::config::Builder::from(base)
            .interceptor(self.counter.clone())
            .build();
        let output = aws_sdk_sts::Client::from_conf(sts)
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(PROBE_SESSION_NAME)
            .set_external_id(external_id.map(str::to_string))
            .send()
            .await
            .map_err(|error| Failure::from_sdk(&error).reason())?;
        let credentials = output
            .credentials()
            .ok_or_else(|| "the answer carried no credentials".to_string())?;
        let credentials = Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_string()),
            SystemTime::try_from(*credentials.expiration()).ok(),
            "s3fix-probe",
        );
        Ok(base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build())
    }

    /// Assume `role_arn` (session [`PROBE_SESSION_NAME`]) as the operator (the default
    /// credentials), else chained through the configured admin role in the role's account, and
    /// `HeadObject` each of `keys` in `bucket` as that role. `options` are the options the adapter
    /// was connected with (endpoint, region, profile, roles). Errs with [`AdapterError::AssumeRole`] when the role cannot be assumed (or the
    /// principal is not a role), or with the bucket-region error; a refused or failed
    /// `HeadObject` is a result, not an error.
    pub async fn probe_head_objects(
        &self,
        options: &AwsOptions,
        role_arn: &str,
        bucket: &str,
        keys: &[String],
    ) -> Result<Vec<KeyProbe>, AdapterError> {
        let cannot = |reason: String| AdapterError::AssumeRole {
            role_arn: role_arn.to_string(),
            reason,
        };
        let reference = PrincipalRef::parse(role_arn)?;
        if !reference.is_role() {
            return Err(cannot("the principal is not a role".into()));
        }
        let base = operator_config(options).await;
        // As the operator first; then, where a role in the principal's account is configured
        // (the caller's or the bucket's admin role), chained through it.
        let mut reasons = Vec::new();
        let mut assumed = None;
        match self.assume(&base, role_arn, None).await {
            Ok(config) => assumed = Some(config),
            Err(reason) => reasons.push(format!("as the operator: {reason}")),
        }
        let admin = [&options.caller_role, &options.bucket_role]
            .into_iter()
            .flatten()
            .find(|role| PrincipalRef::parse(role).is_ok_and(|admin| admin.account == reference.account));
        if let (None, Some(admin)) = (&assumed, admin) {
            let chained = match self.assume(&base, admin, options.external_id.as_deref()).await {
                Ok(config) => self.assume(&config, role_arn, None).await,
                Err(reason) => Err(reason),
            };
            match chained {
                Ok(config) => assumed = Some(config),
                Err(reason) => reasons.push(format!("through `{admin}`: {reason}")),
            }
        }
        let Some(assumed) = assumed else {
            return Err(cannot(reasons.join("; ")));
        };
        let credentials = assumed
            .credentials_provider()
            .ok_or_else(|| cannot("the answer carried no credentials".into()))?;
        let region = bucket_region(&self.sessions.bucket, bucket).await?;
        let s3 = aws_sdk_s3::Client::from_conf(
            self.sessions
                .bucket
                .s3(&region)
                .config()
                .to_builder()
                .credentials_provider(credentials)
                .build(),
        );
        let mut probes = Vec::with_capacity(keys.len());
        for key in keys {
            let result = match s3.head_object().bucket(bucket).key(key).send().await {
                Ok(_) => ProbeResult::Allowed,
                Err(error) => result_of(&Failure::from_sdk(&error)),
            };
            probes.push(KeyProbe {
                key: key.clone(),
                result,
            });
        }
        Ok(probes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: Option<&str>, status: Option<u16>) -> Failure {
        Failure {
            code: code.map(str::to_string),
            message: Some("m".into()),
            status,
            detail: "d".into(),
            bucket_region: None,
        }
    }

    #[test]
    fn a_403_is_a_denial_and_anything_else_a_failure() {
        assert!(matches!(
            result_of(&failure(Some("AccessDenied"), Some(403))),
            ProbeResult::Denied { .. }
        ));
        // A HEAD answer has no body: only the status says it was refused.
        assert!(matches!(
            result_of(&failure(None, Some(403))),
            ProbeResult::Denied { .. }
        ));
        assert!(matches!(
            result_of(&failure(Some("Forbidden"), Some(403))),
            ProbeResult::Denied { .. }
        ));
        assert!(matches!(
            result_of(&failure(Some("NotFound"), Some(404))),
            ProbeResult::Failed { .. }
        ));
        assert!(matches!(
            result_of(&failure(Some("InternalError"), Some(500))),
            ProbeResult::Failed { .. }
        ));
    }
}

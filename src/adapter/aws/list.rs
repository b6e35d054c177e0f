//! Sampling the objects under a key prefix, so a spec's `data/*` is planned from the objects
//! that are really there (their owners and encryption), not only from the bucket's settings.

use super::error::Failure;
use super::{AwsAdapter, bucket_region};
use crate::adapter::AdapterError;

impl AwsAdapter {
    /// Up to `max` object keys under `prefix` (`ListObjectsV2`, first page, in key order).
    pub async fn sample_keys(
        &self,
        bucket: &str,
        prefix: &str,
        max: i32,
    ) -> Result<Vec<String>, AdapterError> {
        let session = &self.sessions.bucket;
        let region = bucket_region(session, bucket).await?;
        let answer = session
            .s3(&region)
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(max)
            .expected_bucket_owner(&session.account)
            .send()
            .await;
        match answer {
            Ok(output) => Ok(output
                .contents()
                .iter()
                .filter_map(|object| object.key().map(str::to_string))
                .collect()),
            Err(error) => Err(AdapterError::Aws {
                operation: "ListObjectsV2".into(),
                resource: format!("s3://{bucket}/{prefix}"),
                reason: Failure::from_sdk(&error).reason(),
            }),
        }
    }
}

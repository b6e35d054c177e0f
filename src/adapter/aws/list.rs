//! Listing a bucket's objects, so the planner sees every object's owner (and encryption), not
//! only the spec's: an ownership switch hands every foreign-owned object to the bucket policy.

use super::error::Failure;
use super::{AwsAdapter, bucket_region};
use crate::adapter::AdapterError;

/// The keys a listing found, and whether the bucket holds more.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    /// The keys, in key order.
    pub keys: Vec<String>,
    /// The bucket holds more objects than were listed.
    pub truncated: bool,
}

/// The most keys one `ListObjectsV2` page returns.
const PAGE: usize = 1000;

impl AwsAdapter {
    /// Up to `max` object keys of `bucket` (`ListObjectsV2`, paginated, in key order).
    pub async fn list_keys(&self, bucket: &str, max: usize) -> Result<Listing, AdapterError> {
        let session = &self.sessions.bucket;
        let region = bucket_region(session, bucket).await?;
        let client = session.s3(&region);
        let mut listing = Listing::default();
        let mut token: Option<String> = None;
        loop {
            let remaining = max.saturating_sub(listing.keys.len());
            let page = i32::try_from(remaining.clamp(1, PAGE)).unwrap_or(1);
            let answer = client
                .list_objects_v2()
                .bucket(bucket)
                .max_keys(page)
                .set_continuation_token(token.clone())
                .expected_bucket_owner(&session.account)
                .send()
                .await
                .map_err(|error| AdapterError::Aws {
                    operation: "ListObjectsV2".into(),
                    resource: format!("s3://{bucket}"),
                    reason: Failure::from_sdk(&error).reason(),
                })?;
            let more = answer.is_truncated().unwrap_or(false);
            for key in answer.contents().iter().filter_map(|object| object.key()) {
                if listing.keys.len() >= max {
                    listing.truncated = true;
                    return Ok(listing);
                }
                listing.keys.push(key.to_string());
            }
            token = answer.next_continuation_token().map(str::to_string);
            if !more || token.is_none() {
                return Ok(listing);
            }
            if listing.keys.len() >= max {
                listing.truncated = true;
                return Ok(listing);
            }
        }
    }
}

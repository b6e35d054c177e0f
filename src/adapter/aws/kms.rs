//! KMS reads: a key's metadata, aliases and key policy.

use super::error::Failure;
use crate::core::world::{ItemKind, KeyManager, KmsKey, UnknownItem};

/// A key and whatever of it could not be read.
pub(crate) struct KeyRead {
    /// The key, when `DescribeKey` answered.
    pub key: Option<KmsKey>,
    /// Items that could not be read, and failures that may be fatal.
    pub failures: Vec<(ItemKind, String, Failure)>,
}

impl KeyRead {
    /// The unknown items of this read.
    pub(crate) fn unknown(&self) -> Vec<UnknownItem> {
        self.failures
            .iter()
            .map(|(item, resource, failure)| UnknownItem {
                item: *item,
                resource: resource.clone(),
                reason: failure.reason(),
            })
            .collect()
    }
}

/// The region and account named by a key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`).
pub(crate) fn key_arn_parts(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(_), Some("kms"), Some(region), Some(account), Some(_)) if !region.is_empty() => {
            Some((region, account))
        }
        _ => None,
    }
}

/// Read one key: `DescribeKey`, then `GetKeyPolicy` (`default`) and `ListAliases` together.
pub(crate) async fn read_key(kms: &aws_sdk_kms::Client, reference: &str, region: &str) -> KeyRead {
    let described = kms.describe_key().key_id(reference).send().await;
    let metadata = match described {
        Ok(output) => output.key_metadata().cloned(),
        Err(error) => {
            return KeyRead {
                key: None,
                failures: vec![(
                    ItemKind::KeyMetadata,
                    reference.to_string(),
                    Failure::from_sdk(&error),
                )],
            };
        }
    };
    let Some(metadata) = metadata else {
        return KeyRead {
            key: None,
            failures: Vec::new(),
        };
    };
    let arn = metadata.arn().unwrap_or(reference).to_string();
    let (policy, aliases) = futures::join!(
        kms.get_key_policy().key_id(&arn).policy_name("default").send(),
        kms.list_aliases().key_id(metadata.key_id()).send(),
    );
    let mut failures = Vec::new();
    let policy = match policy {
        Ok(output) => match output
            .policy()
            .map(|text| super::error::stored_document(text, "MalformedPolicyDocument", "the key policy"))
        {
            Some(Ok(read)) => Some(read),
            Some(Err(failure)) => {
                failures.push((ItemKind::KeyPolicy, arn.clone(), failure));
                None
            }
            None => None,
        },
        Err(error) => {
            failures.push((ItemKind::KeyPolicy, arn.clone(), Failure::from_sdk(&error)));
            None
        }
    };
    // Aliases are a convenience for matching `alias/...` references; a failed listing leaves
    // them empty rather than making the key unknown.
    let aliases = aliases
        .map(|output| {
            output
                .aliases()
                .iter()
                .filter_map(|alias| alias.alias_name().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let manager = match metadata.key_manager().map(|manager| manager.as_str()) {
        Some("AWS") => KeyManager::Aws,
        _ => KeyManager::Customer,
    };
    let (key_region, account) = key_arn_parts(&arn).unwrap_or((region, ""));
    let account = metadata.aws_account_id().unwrap_or(account).to_string();
    let (policy, policy_text) = policy.unzip();
    KeyRead {
        key: Some(KmsKey {
            arn: arn.clone(),
            account,
            region: key_region.to_string(),
            manager,
            aliases,
            policy,
            policy_text,
        }),
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arns_name_region_and_account() {
        assert_eq!(
            key_arn_parts("arn:aws:kms:eu-west-1:111111111111:key/abcd"),
            Some(("eu-west-1", "111111111111"))
        );
        assert_eq!(key_arn_parts("abcd-1234"), None);
        assert_eq!(key_arn_parts("alias/aws/s3"), None);
    }
}

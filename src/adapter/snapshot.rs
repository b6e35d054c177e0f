//! The adapter over a JSON world file: offline review, the embedded default world, fast tests.

use crate::adapter::{Adapter, AdapterError, ObserveRequest, PrincipalRef, bare_caller};
use crate::core::kind::{FileKind, check_kind};
use crate::core::world::{Bucket, WORLD_FORMAT_VERSION, World};
use std::future::Future;
use std::path::Path;

/// Answers observations from a world loaded from a file (or given directly).
#[derive(Debug, Clone)]
pub struct SnapshotAdapter {
    world: World,
}

/// Only `formatVersion`, read first so a newer file gets a version error, not an unknown field.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionProbe {
    format_version: u32,
}

impl SnapshotAdapter {
    /// An adapter over `world` as it is.
    pub fn new(world: World) -> SnapshotAdapter {
        SnapshotAdapter { world }
    }

    /// Load and validate a world file.
    pub fn load(path: &Path) -> Result<SnapshotAdapter, AdapterError> {
        let read_error = |source| AdapterError::ReadWorldFile {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read_error)?.len();
        let limit = crate::core::limits::MAX_WORLD_FILE_BYTES;
        if size > limit {
            return Err(AdapterError::WorldFileTooLarge {
                path: path.to_path_buf(),
                size,
                limit,
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        SnapshotAdapter::parse(&text, path)
    }

    /// Parse the text of a world file; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<SnapshotAdapter, AdapterError> {
        let parse_error = |error: serde_json::Error| AdapterError::ParseWorldFile {
            path: path.to_path_buf(),
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        };
        let document: serde_json::Value = serde_json::from_str(text).map_err(parse_error)?;
        check_kind(&document, FileKind::World, &path.display().to_string())?;
        let probe: VersionProbe = serde_json::from_str(text).map_err(parse_error)?;
        if probe.format_version != WORLD_FORMAT_VERSION {
            return Err(AdapterError::WorldFormatVersion {
                path: path.to_path_buf(),
                found: probe.format_version,
                expected: WORLD_FORMAT_VERSION,
            });
        }
        let world: World = serde_json::from_str(text).map_err(parse_error)?;
        world.validate().map_err(|error| AdapterError::InvalidWorld {
            path: path.to_path_buf(),
            error,
        })?;
        crate::core::limits::check_world(&world).map_err(|source| AdapterError::OverLimit {
            origin: format!("world file `{}`", path.display()),
            source,
        })?;
        Ok(SnapshotAdapter { world })
    }

    /// The whole world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The part of the world `request` needs, in the file's order.
    pub fn sub_world(&self, request: &ObserveRequest) -> Result<World, AdapterError> {
        let world = &self.world;
        // Callers without an IAM role or user behind them (anonymous, an account root, an STS
        // federated user, a service) need no principal record.
        let bare = bare_caller(&request.principal_arn);
        let reference = match &bare {
            Some(_) => None,
            None => Some(PrincipalRef::parse(&request.principal_arn)?),
        };
        let Some(bucket) = world.bucket(&request.bucket) else {
            return Err(AdapterError::NoSuchBucket {
                bucket: request.bucket.clone(),
            });
        };
        let principal = match &reference {
            None => None,
            Some(reference) => Some(
                world
                    .principals
                    .iter()
                    .find(|principal| {
                        principal.arn == request.principal_arn || reference.matches(&principal.arn)
                    })
                    .ok_or_else(|| AdapterError::NoSuchPrincipal {
                        arn: request.principal_arn.clone(),
                    })?,
            ),
        };
        let principal_account = match (&reference, &bare) {
            (Some(reference), _) => Some(reference.account.clone()),
            (None, Some(requester)) => requester.account.clone(),
            (None, None) => None,
        };
        if let Some(key) = request
            .keys
            .iter()
            .find(|key| !bucket.objects.iter().any(|object| object.key == **key))
        {
            return Err(AdapterError::NoSuchKey {
                bucket: bucket.name.clone(),
                key: key.clone(),
            });
        }
        let objects: Vec<_> = bucket
            .objects
            .iter()
            .filter(|object| request.keys.contains(&object.key))
            .cloned()
            .collect();
        let key_references: Vec<&str> = objects
            .iter()
            .filter_map(|object| object.encryption.as_ref())
            .chain(bucket.default_encryption.as_ref())
            .filter_map(|encryption| encryption.kms_key_id.as_deref())
            .collect();
        let keys: Vec<_> = world
            .keys
            .iter()
            .filter(|key| {
                key_references
                    .iter()
                    .any(|reference| world.key(reference).is_some_and(|found| found.arn == key.arn))
            })
            .cloned()
            .collect();
        // The accounts of the bucket, the caller, the key owners (a key in a third account is
        // governed by its RCPs) and the bucket's access points.
        let mut account_ids = vec![bucket.account.as_str()];
        account_ids.extend(principal_account.as_deref());
        account_ids.extend(keys.iter().map(|key| key.account.as_str()));
        account_ids.extend(bucket.access_points.iter().map(|point| point.account.as_str()));
        let accounts: Vec<_> = world
            .accounts
            .iter()
            .filter(|account| account_ids.contains(&account.id.as_str()))
            .cloned()
            .collect();
        let object_resources: Vec<String> = objects
            .iter()
            .map(|object| format!("{}/{}", bucket.name, object.key))
            .collect();
        let unknown = world
            .unknown
            .iter()
            .filter(|unknown| {
                let resource = unknown.resource.as_str();
                resource == bucket.name
                    || principal.is_some_and(|principal| resource == principal.arn)
                    || account_ids.contains(&resource)
                    || object_resources.iter().any(|object| object == resource)
                    || key_references.contains(&resource)
                    || keys.iter().any(|key| key.arn == resource)
                    || bucket.access_points.iter().any(|point| point.arn == resource)
                    || unknown.item == crate::core::world::ItemKind::VpcEndpoint
            })
            .cloned()
            .collect();
        Ok(World {
            kind: world.kind,
            format_version: world.format_version,
            description: world.description.clone(),
            accounts,
            buckets: vec![Bucket {
                objects,
                ..bucket.clone()
            }],
            principals: principal.into_iter().cloned().collect(),
            keys,
            unknown,
            vpc_endpoints: world.vpc_endpoints.clone(),
        })
    }
}

impl Adapter for SnapshotAdapter {
    fn observe(&self, request: &ObserveRequest) -> impl Future<Output = Result<World, AdapterError>> + Send {
        std::future::ready(self.sub_world(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::world::{Account, Encryption, KeyManager, KmsKey, Object, Principal, PrincipalKind};

    fn world() -> World {
        let key_arn = "arn:aws:kms:us-east-1:111111111111:key/k1";
        World {
            accounts: vec![
                Account {
                    id: "111111111111".into(),
                    public_access_block: None,
                    scps: vec![],
                    rcps: vec![],
                    org_path: vec![],
                },
                Account {
                    id: "333333333333".into(),
                    public_access_block: None,
                    scps: vec![],
                    rcps: vec![],
                    org_path: vec![],
                },
            ],
            buckets: vec![Bucket {
                name: "data".into(),
                account: "111111111111".into(),
                region: "us-east-1".into(),
                policy: None,
                policy_text: None,
                ownership: None,
                public_access_block: None,
                acl: None,
                default_encryption: None,
                access_points: Vec::new(),
                objects: vec![
                    Object {
                        key: "a.txt".into(),
                        owner: None,
                        acl: None,
                        encryption: Some(Encryption {
                            algorithm: "aws:kms".into(),
                            kms_key_id: Some(key_arn.into()),
                            bucket_key_enabled: false,
                        }),
                    },
                    Object {
                        key: "b.txt".into(),
                        owner: None,
                        acl: None,
                        encryption: None,
                    },
                ],
            }],
            principals: vec![Principal {
                arn: "arn:aws:iam::222222222222:role/team/reader".into(),
                kind: PrincipalKind::Role,
                unique_id: None,
                inline_policies: vec![],
                managed_policies: vec![],
                groups: vec![],
                permissions_boundary: None,
                tags: Default::default(),
            }],
            keys: vec![
                KmsKey {
                    arn: key_arn.into(),
                    account: "111111111111".into(),
                    region: "us-east-1".into(),
                    manager: KeyManager::Customer,
                    aliases: vec![],
                    policy: None,
                    policy_text: None,
                },
                KmsKey {
                    arn: "arn:aws:kms:us-east-1:111111111111:key/other".into(),
                    account: "111111111111".into(),
                    region: "us-east-1".into(),
                    manager: KeyManager::Customer,
                    aliases: vec![],
                    policy: None,
                    policy_text: None,
                },
            ],
            ..World::new()
        }
    }

    fn request(keys: &[&str], principal: &str) -> ObserveRequest {
        ObserveRequest {
            bucket: "data".into(),
            keys: keys.iter().map(|key| key.to_string()).collect(),
            principal_arn: principal.into(),
        }
    }

    #[test]
    fn sub_world_keeps_what_the_request_touches() -> Result<(), AdapterError> {
        let adapter = SnapshotAdapter::new(world());
        let sub = adapter.sub_world(&request(
            &["a.txt"],
            "arn:aws:sts::222222222222:assumed-role/reader/s",
        ))?;
        assert_eq!(
            sub.accounts
                .iter()
                .map(|account| account.id.as_str())
                .collect::<Vec<_>>(),
            ["111111111111"]
        );
        assert_eq!(sub.buckets.first().map(|bucket| bucket.objects.len()), Some(1));
        assert_eq!(
            sub.keys.iter().map(|key| key.arn.as_str()).collect::<Vec<_>>(),
            ["arn:aws:kms:us-east-1:111111111111:key/k1"]
        );
        assert_eq!(
            sub.principals.first().map(|p| p.arn.as_str()),
            Some("arn:aws:iam::222222222222:role/team/reader")
        );
        Ok(())
    }

    #[test]
    fn missing_bucket_principal_and_key_are_errors() {
        let adapter = SnapshotAdapter::new(world());
        let mut missing_bucket = request(&[], "arn:aws:iam::222222222222:role/reader");
        missing_bucket.bucket = "nope".into();
        assert!(matches!(
            adapter.sub_world(&missing_bucket),
            Err(AdapterError::NoSuchBucket { .. })
        ));
        assert!(matches!(
            adapter.sub_world(&request(&[], "arn:aws:iam::222222222222:role/writer")),
            Err(AdapterError::NoSuchPrincipal { .. })
        ));
        assert!(matches!(
            adapter.sub_world(&request(&["c.txt"], "arn:aws:iam::222222222222:role/reader")),
            Err(AdapterError::NoSuchKey { .. })
        ));
    }

    #[test]
    fn load_errors_name_file_line_and_column() {
        let path = Path::new("world.json");
        let error = SnapshotAdapter::parse("{\n  \"formatVersion\": 1,\n  \"bogus\": 2\n}", path).err();
        let message = error.map(|error| error.to_string()).unwrap_or_default();
        assert!(
            message.contains("`world.json`") && message.contains("line 3"),
            "{message}"
        );
        let error = SnapshotAdapter::parse("{\"formatVersion\": 9}", path).err();
        assert!(matches!(
            error,
            Some(AdapterError::WorldFormatVersion { found: 9, .. })
        ));
    }
}

/// Writes edits into a world held in memory and, when it came from a file, into that file
/// (atomically, after every write), so `apply` against a world file behaves like against AWS.
#[derive(Debug)]
pub struct SnapshotWriter {
    path: Option<std::path::PathBuf>,
    world: std::sync::Mutex<World>,
}

impl SnapshotWriter {
    /// A writer over a world in memory only.
    pub fn new(world: World) -> SnapshotWriter {
        SnapshotWriter {
            path: None,
            world: std::sync::Mutex::new(world),
        }
    }

    /// A writer over a world file.
    pub fn load(path: &Path) -> Result<SnapshotWriter, AdapterError> {
        let world = SnapshotAdapter::load(path)?.world;
        Ok(SnapshotWriter {
            path: Some(path.to_path_buf()),
            world: std::sync::Mutex::new(world),
        })
    }

    /// The world as it is now.
    pub fn world(&self) -> World {
        self.world
            .lock()
            .map(|world| world.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    fn persist(&self, world: &World) -> Result<(), AdapterError> {
        let Some(path) = &self.path else { return Ok(()) };
        let mut json = serde_json::to_vec_pretty(world).map_err(|error| AdapterError::Write {
            operation: "WriteWorldFile".into(),
            resource: path.display().to_string(),
            reason: error.to_string(),
        })?;
        json.push(b'\n');
        crate::fsutil::write_atomically(path, &json).map_err(|error| AdapterError::Write {
            operation: "WriteWorldFile".into(),
            resource: path.display().to_string(),
            reason: format!("{error:#}"),
        })
    }
}

impl crate::adapter::Writer for SnapshotWriter {
    fn read(
        &self,
        resource: &crate::core::plan::ResourceRef,
    ) -> impl Future<Output = Result<Option<serde_json::Value>, AdapterError>> + Send {
        let world = self.world();
        let result = crate::core::plan::current_value(&world, resource).map_err(|error| AdapterError::Aws {
            operation: "Read".into(),
            resource: resource.describe(),
            reason: error.to_string(),
        });
        std::future::ready(result)
    }

    fn read_with_text(
        &self,
        resource: &crate::core::plan::ResourceRef,
    ) -> impl Future<Output = Result<(Option<serde_json::Value>, Option<String>), AdapterError>> + Send {
        let world = self.world();
        let result = crate::core::plan::current_value(&world, resource)
            .map(|value| (value, crate::core::plan::current_text(&world, resource)))
            .map_err(|error| AdapterError::Aws {
                operation: "Read".into(),
                resource: resource.describe(),
                reason: error.to_string(),
            });
        std::future::ready(result)
    }

    fn write(
        &self,
        resource: &crate::core::plan::ResourceRef,
        value: Option<&serde_json::Value>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.write_text(resource, value, None)
    }

    /// The world file stores a document's text beside its value, so the next read (and a
    /// rollback) sees exactly the bytes written.
    fn write_text(
        &self,
        resource: &crate::core::plan::ResourceRef,
        value: Option<&serde_json::Value>,
        text: Option<&str>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        let result = (|| {
            if value.is_none() && matches!(resource, crate::core::plan::ResourceRef::KeyPolicy { .. }) {
                return Err(AdapterError::NotWritable(format!(
                    "deleting {}",
                    resource.describe()
                )));
            }
            let mut guard = self
                .world
                .lock()
                .map_err(|_| AdapterError::NotWritable(resource.describe()))?;
            let mut updated = guard.clone();
            crate::core::plan::set_document(&mut updated, resource, value, text).map_err(|error| {
                AdapterError::Write {
                    operation: "Write".into(),
                    resource: resource.describe(),
                    reason: error.to_string(),
                }
            })?;
            self.persist(&updated)?;
            *guard = updated;
            Ok(())
        })();
        std::future::ready(result)
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;
    use crate::adapter::Writer as _;
    use crate::core::plan::ResourceRef;
    use serde_json::json;

    fn world_with_shared_acl() -> World {
        serde_json::from_value(json!({
            "formatVersion": 1,
            "buckets": [{
                "name": "shared", "account": "111111111111", "region": "us-east-1",
                "ownership": "ObjectWriter",
                "acl": {"owner": "111111111111", "grants": [
                    {"grantee": {"type": "CanonicalUser", "id": "a1", "account": "111111111111"}, "permission": "FULL_CONTROL"},
                    {"grantee": {"type": "CanonicalUser", "id": "b2", "account": "444455556666"}, "permission": "READ"}]}
            }]
        }))
        .unwrap()
    }

    #[test]
    fn enforced_is_refused_until_the_bucket_acl_is_reset() {
        let writer = SnapshotWriter::new(world_with_shared_acl());
        let ownership = ResourceRef::OwnershipControls {
            bucket: "shared".into(),
        };
        let acl = ResourceRef::BucketAcl {
            bucket: "shared".into(),
        };
        let enforced = json!("BucketOwnerEnforced");
        let refused = futures::executor::block_on(writer.write(&ownership, Some(&enforced)));
        let message = refused.err().map(|error| error.to_string()).unwrap_or_default();
        assert!(
            message.contains("InvalidBucketAclWithObjectOwnership")
                && message.contains("account 444455556666"),
            "{message}"
        );
        let reset = json!({"owner": "111111111111", "grants": [
            {"grantee": {"type": "CanonicalUser", "id": "a1", "account": "111111111111"}, "permission": "FULL_CONTROL"}]});
        futures::executor::block_on(writer.write(&acl, Some(&reset))).unwrap();
        assert_eq!(
            futures::executor::block_on(writer.read(&acl)).unwrap(),
            Some(reset.clone())
        );
        futures::executor::block_on(writer.write(&ownership, Some(&enforced))).unwrap();
        // With ACLs disabled, only the owner's full control is accepted, as S3 answers
        // AccessControlListNotSupported.
        let original = serde_json::to_value(world_with_shared_acl().buckets[0].acl.clone()).unwrap();
        let message = futures::executor::block_on(writer.write(&acl, Some(&original)))
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(message.contains("AccessControlListNotSupported"), "{message}");
        // Rollback order (ownership first, then the ACL) restores the original state.
        futures::executor::block_on(writer.write(&ownership, Some(&json!("ObjectWriter")))).unwrap();
        futures::executor::block_on(writer.write(&acl, Some(&original))).unwrap();
        assert_eq!(writer.world(), world_with_shared_acl());
    }
}

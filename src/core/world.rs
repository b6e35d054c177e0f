//! The observed world: every gate's state in both accounts, as read by an adapter or loaded from a
//! JSON world file. This is also the world file's on-disk format (`formatVersion` 1).
//!
//! Policy documents are kept as JSON values with their key order preserved, and the documents
//! s3fix may edit (bucket policy, key policy, inline policy) also as the exact text they were read
//! as (`policyText`, `documentText`), so a document edited in one statement is written back with
//! every other byte as it was (`core::policy::splice`).

use crate::core::kind::WorldTag;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The world file format this build reads and writes.
pub const WORLD_FORMAT_VERSION: u32 = 1;

/// Everything known about the accounts, buckets, principals and keys of one investigation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct World {
    /// `"s3fix-world"`; absent in files written before files named their kind (kept absent on
    /// a round trip, so an edited world file changes only where it was edited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<WorldTag>,
    /// Always [`WORLD_FORMAT_VERSION`].
    pub format_version: u32,
    /// Free text describing where the world came from (never credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// AWS accounts and their account-wide settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<Account>,
    /// S3 buckets with their policies, ACLs, settings and the objects of interest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<Bucket>,
    /// IAM roles and users with their identity policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<Principal>,
    /// KMS keys with their metadata and key policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KmsKey>,
    /// Items that could not be read (denied, unsupported): their gates evaluate to `unknown`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<UnknownItem>,
    /// VPC endpoints that requests go through (EC2 `DescribeVpcEndpoints`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpc_endpoints: Vec<VpcEndpoint>,
}

/// One AWS account and the settings that apply to everything in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Account {
    /// The 12-digit account id.
    pub id: String,
    /// Account-level S3 Block Public Access (S3 Control `GetPublicAccessBlock`); `None` = not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// Service control policies, one list per level of the account's OU path (root first, the
    /// account itself last). Every level must allow. Empty = not in an organization.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scps: Vec<Vec<NamedPolicy>>,
    /// Custom resource control policies attached anywhere on the account's OU path. The
    /// allow-everything `RCPFullAWSAccess` is implied and not listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rcps: Vec<NamedPolicy>,
    /// The Organizations targets on the account's path, root first and the account last (`r-…`,
    /// `ou-…`, the account id): where each `scps` level is attached. Empty when not read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub org_path: Vec<String>,
}

/// An S3 bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bucket {
    /// The bucket name.
    pub name: String,
    /// The owning account id.
    pub account: String,
    /// The bucket's region, e.g. `us-east-1`.
    pub region: String,
    /// The bucket policy document; `None` = no bucket policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
    /// The bucket policy's exact text as stored, where known; it parses to `policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_text: Option<String>,
    /// Object Ownership; `None` = no ownership controls (legacy: `ObjectWriter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<ObjectOwnership>,
    /// Bucket-level Block Public Access; `None` = not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// The bucket ACL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Acl>,
    /// Default encryption for new objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_encryption: Option<Encryption>,
    /// Objects of interest (those named by a request or spec).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<Object>,
    /// Access points attached to this bucket, in any account (S3 Control `GetAccessPoint`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_points: Vec<AccessPoint>,
}

/// An S3 access point attached to a bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessPoint {
    /// The access point name.
    pub name: String,
    /// `arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME`.
    pub arn: String,
    /// The account that owns the access point.
    pub account: String,
    /// The account that owns the bucket (differs from `account` for cross-account access points).
    pub bucket_account: String,
    /// The access point alias (`NAME-…-s3alias`), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// `Internet`, or `VPC` with the VPC the access point accepts requests from.
    pub network_origin: NetworkOrigin,
    /// The VPC id, for network origin `VPC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// The access point's own Block Public Access settings (fixed at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// The access point policy; `None` = no policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
    /// The access point policy's exact text as stored, where known; it parses to `policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_text: Option<String>,
}

/// Where an access point accepts requests from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkOrigin {
    /// From anywhere.
    Internet,
    /// Only from the access point's VPC.
    #[serde(rename = "VPC")]
    Vpc,
}

/// The two kinds of VPC endpoint that reach S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VpcEndpointType {
    /// A gateway endpoint (route-table entry; same-region buckets only).
    Gateway,
    /// An interface endpoint (AWS PrivateLink).
    Interface,
}

/// A VPC endpoint and its endpoint policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VpcEndpoint {
    /// The endpoint id, `vpce-…`.
    pub id: String,
    /// Gateway or interface.
    #[serde(rename = "type")]
    pub endpoint_type: VpcEndpointType,
    /// The service, e.g. `com.amazonaws.us-east-1.s3`.
    pub service_name: String,
    /// The VPC the endpoint is in.
    pub vpc_id: String,
    /// The account that owns the endpoint (and can change its policy).
    pub owner_account: String,
    /// The endpoint policy; `None` = the default policy, which allows full access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
}

/// One S3 object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Object {
    /// The object key.
    pub key: String,
    /// The owning account id, when ACLs are in effect and the owner is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The object ACL, when ACLs are in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Acl>,
    /// Server-side encryption as reported by HeadObject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

impl Object {
    /// The owning account: as given, else the owner its ACL names.
    pub fn owner_account(&self) -> Option<&str> {
        self.owner
            .as_deref()
            .or_else(|| self.acl.as_ref().map(|acl| acl.owner.as_str()))
    }
}

/// S3 Object Ownership setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectOwnership {
    /// ACLs disabled; the bucket owner owns every object.
    BucketOwnerEnforced,
    /// The bucket owner owns new objects uploaded with `bucket-owner-full-control`.
    BucketOwnerPreferred,
    /// The uploading account owns the object.
    ObjectWriter,
}

/// The four Block Public Access settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PublicAccessBlock {
    /// Reject PUTs of public ACLs.
    #[serde(default)]
    pub block_public_acls: bool,
    /// Ignore public ACL grants.
    #[serde(default)]
    pub ignore_public_acls: bool,
    /// Reject public bucket policies.
    #[serde(default)]
    pub block_public_policy: bool,
    /// Restrict a bucket with a public policy to its own account and AWS services.
    #[serde(default)]
    pub restrict_public_buckets: bool,
}

/// An access control list: an owner and its grants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Acl {
    /// The owner: account id where known, else canonical user id.
    pub owner: String,
    /// The grants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
}

/// One ACL grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Grant {
    /// Who receives the permission.
    pub grantee: Grantee,
    /// `FULL_CONTROL`, `READ`, `WRITE`, `READ_ACP` or `WRITE_ACP`.
    pub permission: String,
}

/// The receiver of an ACL grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Grantee {
    /// An AWS account, by account id where known and canonical user id.
    CanonicalUser {
        /// The canonical user id as S3 reports it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The 12-digit account id, where known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    /// A predefined group (`AllUsers`, `AuthenticatedUsers`, `LogDelivery`) by URI.
    Group {
        /// e.g. `http://acs.amazonaws.com/groups/global/AllUsers`.
        uri: String,
    },
}

/// Server-side encryption of an object or a bucket default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Encryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    /// The KMS key ARN (or id) for SSE-KMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Whether an S3 Bucket Key is used (encryption context = bucket ARN).
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

/// Whether a principal is an IAM role or an IAM user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// An IAM role (callers are its sessions).
    Role,
    /// An IAM user.
    User,
}

/// An IAM role or user with every policy that shapes its identity-side permissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Principal {
    /// The role or user ARN (with path).
    pub arn: String,
    /// Role or user.
    pub kind: PrincipalKind,
    /// The unique id (`AROA…`/`AIDA…`), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// Inline policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline_policies: Vec<NamedPolicy>,
    /// Attached managed policies at their default version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<ManagedPolicy>,
    /// For users: the groups and their policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// The permissions boundary, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<ManagedPolicy>,
    /// Principal tags (`aws:PrincipalTag/...`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// An IAM group a user belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Group {
    /// The group ARN.
    pub arn: String,
    /// Inline group policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline_policies: Vec<NamedPolicy>,
    /// Attached managed policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<ManagedPolicy>,
}

/// A policy document with a name (inline policy, SCP, RCP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamedPolicy {
    /// The policy name (or SCP/RCP name or id).
    pub name: String,
    /// The policy document.
    pub document: Value,
    /// The document's exact text as stored, where known; it parses to `document`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_text: Option<String>,
}

/// A managed policy at its default version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedPolicy {
    /// The policy ARN.
    pub arn: String,
    /// The default version id, e.g. `v3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The document of the default version.
    pub document: Value,
}

/// Who manages a KMS key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyManager {
    /// A customer managed key: its policy can be edited.
    #[serde(rename = "CUSTOMER")]
    Customer,
    /// An AWS managed key such as `aws/s3`: read-only policy, same-account use only.
    #[serde(rename = "AWS")]
    Aws,
}

/// A KMS key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KmsKey {
    /// The key ARN.
    pub arn: String,
    /// The owning account id.
    pub account: String,
    /// The key's region.
    pub region: String,
    /// Customer or AWS managed.
    pub manager: KeyManager,
    /// Aliases such as `alias/aws/s3`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The key policy (`default`); `None` if it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
    /// The key policy's exact text as stored, where known; it parses to `policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_text: Option<String>,
}

/// A thing that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnknownItem {
    /// What kind of item.
    pub item: ItemKind,
    /// The resource it belongs to (bucket name, object `bucket/key`, ARN or account id).
    pub resource: String,
    /// Why it is unknown (the error code and message, never credentials).
    pub reason: String,
}

/// The kinds of item an observation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ItemKind {
    /// `GetBucketPolicy`.
    BucketPolicy,
    /// `GetBucketOwnershipControls`.
    OwnershipControls,
    /// `GetPublicAccessBlock` on the bucket.
    BucketPublicAccessBlock,
    /// S3 Control `GetPublicAccessBlock` on the account.
    AccountPublicAccessBlock,
    /// `GetBucketAcl`.
    BucketAcl,
    /// `GetBucketEncryption`.
    BucketEncryption,
    /// `HeadObject`.
    Object,
    /// `GetObjectAcl`.
    ObjectAcl,
    /// `ListObjectsV2` over the whole bucket: denied, or the bucket holds more objects than
    /// were read, so some objects' owners are unknown.
    ObjectListing,
    /// KMS `DescribeKey`.
    KeyMetadata,
    /// KMS `GetKeyPolicy`.
    KeyPolicy,
    /// The principal's identity policies.
    IdentityPolicies,
    /// The principal's permissions boundary.
    PermissionsBoundary,
    /// Organizations SCPs on the account's path.
    Scps,
    /// Organizations RCPs on the account's path.
    Rcps,
    /// S3 Control `GetAccessPoint` (resource: the access point ARN).
    AccessPoint,
    /// S3 Control `GetAccessPointPolicy` (resource: the access point ARN).
    AccessPointPolicy,
    /// EC2 `DescribeVpcEndpoints` (resource: the endpoint id).
    VpcEndpoint,
}

impl World {
    /// An empty world of the current format.
    pub fn new() -> Self {
        World {
            kind: Some(WorldTag),
            format_version: WORLD_FORMAT_VERSION,
            description: None,
            accounts: Vec::new(),
            buckets: Vec::new(),
            principals: Vec::new(),
            keys: Vec::new(),
            unknown: Vec::new(),
            vpc_endpoints: Vec::new(),
        }
    }

    /// The bucket with this name.
    pub fn bucket(&self, name: &str) -> Option<&Bucket> {
        self.buckets.iter().find(|bucket| bucket.name == name)
    }

    /// The account with this id.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|account| account.id == id)
    }

    /// The role or user with this ARN (exact match).
    pub fn principal(&self, arn: &str) -> Option<&Principal> {
        self.principals.iter().find(|principal| principal.arn == arn)
    }

    /// The KMS key with this ARN, key id or alias ARN.
    pub fn key(&self, id_or_arn: &str) -> Option<&KmsKey> {
        self.keys.iter().find(|key| {
            key.arn == id_or_arn
                || key.arn.rsplit('/').next() == Some(id_or_arn)
                || key
                    .aliases
                    .iter()
                    .any(|alias| id_or_arn.ends_with(alias.as_str()))
        })
    }

    /// Add what `other` knows that this world does not: buckets, principals, keys and accounts
    /// by identity (the first reading wins), objects of a known bucket by key, unknown items.
    pub fn merge(&mut self, other: World) {
        for account in other.accounts {
            if self.account(&account.id).is_none() {
                self.accounts.push(account);
            }
        }
        for bucket in other.buckets {
            match self.buckets.iter_mut().find(|known| known.name == bucket.name) {
                None => self.buckets.push(bucket),
                Some(known) => {
                    for object in bucket.objects {
                        if !known.objects.iter().any(|existing| existing.key == object.key) {
                            known.objects.push(object);
                        }
                    }
                    for point in bucket.access_points {
                        if !known
                            .access_points
                            .iter()
                            .any(|existing| existing.arn == point.arn)
                        {
                            known.access_points.push(point);
                        }
                    }
                }
            }
        }
        for principal in other.principals {
            if self.principal(&principal.arn).is_none() {
                self.principals.push(principal);
            }
        }
        for key in other.keys {
            if !self.keys.iter().any(|known| known.arn == key.arn) {
                self.keys.push(key);
            }
        }
        for endpoint in other.vpc_endpoints {
            if self.vpc_endpoint(&endpoint.id).is_none() {
                self.vpc_endpoints.push(endpoint);
            }
        }
        for unknown in other.unknown {
            if !self.unknown.contains(&unknown) {
                self.unknown.push(unknown);
            }
        }
    }

    /// The access point with this ARN or alias, and the bucket it is attached to.
    pub fn access_point(&self, arn_or_alias: &str) -> Option<(&Bucket, &AccessPoint)> {
        self.buckets.iter().find_map(|bucket| {
            bucket
                .access_points
                .iter()
                .find(|point| point.arn == arn_or_alias || point.alias.as_deref() == Some(arn_or_alias))
                .map(|point| (bucket, point))
        })
    }

    /// The VPC endpoint with this id.
    pub fn vpc_endpoint(&self, id: &str) -> Option<&VpcEndpoint> {
        self.vpc_endpoints.iter().find(|endpoint| endpoint.id == id)
    }

    /// Why an item is unknown, if it is.
    pub fn unknown_reason(&self, item: ItemKind, resource: &str) -> Option<&str> {
        self.unknown
            .iter()
            .find(|unknown| unknown.item == item && unknown.resource == resource)
            .map(|unknown| unknown.reason.as_str())
    }
}

/// A world whose fields hold values no AWS account could have, named by field path and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value}: {problem}")]
pub struct WorldError {
    /// The field, e.g. `accounts[1].id`.
    pub field: String,
    /// The value as JSON text, e.g. `"1111"`.
    pub value: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Whether `text` is a 12-digit account id.
fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// Whether `arn` is an IAM role or user ARN with a 12-digit account.
fn is_principal_arn(arn: &str) -> bool {
    matches!(arn.splitn(6, ':').collect::<Vec<_>>().as_slice(),
        ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty() && is_account_id(account)
                && (resource.starts_with("role/") || resource.starts_with("user/")) && resource.len() > 5)
}

impl World {
    /// Check the identities a world file gives (account ids, bucket owners, principal ARNs, key
    /// accounts), so a mistake is reported at its field instead of deep inside an evaluation.
    pub fn validate(&self) -> Result<(), WorldError> {
        let invalid = |field: String, value: &str, problem: &'static str| WorldError {
            field,
            value: Value::from(value).to_string(),
            problem,
        };
        const ACCOUNT: &str = "an account id has 12 digits";
        for (index, account) in self.accounts.iter().enumerate() {
            if !is_account_id(&account.id) {
                return Err(invalid(format!("accounts[{index}].id"), &account.id, ACCOUNT));
            }
        }
        for (index, bucket) in self.buckets.iter().enumerate() {
            if bucket.name.is_empty() {
                return Err(invalid(
                    format!("buckets[{index}].name"),
                    &bucket.name,
                    "a bucket needs a name",
                ));
            }
            if !is_account_id(&bucket.account) {
                return Err(invalid(
                    format!("buckets[{index}].account"),
                    &bucket.account,
                    ACCOUNT,
                ));
            }
        }
        for (index, principal) in self.principals.iter().enumerate() {
            if !is_principal_arn(&principal.arn) {
                return Err(invalid(
                    format!("principals[{index}].arn"),
                    &principal.arn,
                    "not an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME or user/NAME)",
                ));
            }
        }
        for (index, key) in self.keys.iter().enumerate() {
            if !is_account_id(&key.account) {
                return Err(invalid(format!("keys[{index}].account"), &key.account, ACCOUNT));
            }
        }
        self.validate_texts()
    }

    /// Every policy text beside a document parses to exactly that document.
    fn validate_texts(&self) -> Result<(), WorldError> {
        // A text beside no document, or one that parses to another document, is refused.
        let check = |field: &dyn Fn() -> String, text: &Option<String>, value: Option<&Value>| {
            let Some(text) = text else { return Ok(()) };
            if value
                .is_some_and(|value| serde_json::from_str::<Value>(text).is_ok_and(|parsed| parsed == *value))
            {
                return Ok(());
            }
            Err(WorldError {
                field: field(),
                value: Value::from(text.chars().take(60).collect::<String>()).to_string(),
                problem: "the text does not parse to the policy beside it: make it that policy's exact text, or remove it",
            })
        };
        for (index, bucket) in self.buckets.iter().enumerate() {
            check(
                &|| format!("buckets[{index}].policyText"),
                &bucket.policy_text,
                bucket.policy.as_ref(),
            )?;
        }
        for (index, bucket) in self.buckets.iter().enumerate() {
            for (number, point) in bucket.access_points.iter().enumerate() {
                let field = || format!("buckets[{index}].accessPoints[{number}].policyText");
                check(&field, &point.policy_text, point.policy.as_ref())?;
            }
        }
        for (index, key) in self.keys.iter().enumerate() {
            check(
                &|| format!("keys[{index}].policyText"),
                &key.policy_text,
                key.policy.as_ref(),
            )?;
        }
        for (index, principal) in self.principals.iter().enumerate() {
            for (number, policy) in principal.inline_policies.iter().enumerate() {
                let field = || format!("principals[{index}].inlinePolicies[{number}].documentText");
                check(&field, &policy.document_text, Some(&policy.document))?;
            }
        }
        Ok(())
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str) -> Account {
        Account {
            id: id.into(),
            public_access_block: None,
            scps: Vec::new(),
            org_path: Vec::new(),
            rcps: Vec::new(),
        }
    }

    #[test]
    fn validation_names_the_field_and_the_value() {
        let mut world = World::new();
        world.accounts = vec![account("111111111111"), account("1111")];
        assert_eq!(
            world.validate().map_err(|error| error.to_string()),
            Err("accounts[1].id = \"1111\": an account id has 12 digits".to_string())
        );
        world.accounts.pop();
        assert_eq!(world.validate(), Ok(()));
        world.principals.push(Principal {
            arn: "arn:aws:iam::222222222222:group/x".into(),
            kind: PrincipalKind::Role,
            unique_id: None,
            inline_policies: Vec::new(),
            managed_policies: Vec::new(),
            groups: Vec::new(),
            permissions_boundary: None,
            tags: BTreeMap::new(),
        });
        assert!(
            world
                .validate()
                .is_err_and(|error| error.field == "principals[0].arn")
        );
    }
}

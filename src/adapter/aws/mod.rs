//! The AWS adapter: observes both accounts through the AWS SDK.
//!
//! INVARIANT: SDK types stay in this folder; everything public here speaks domain types.
//! INVARIANT: credentials and session tokens are never printed, logged or written: no type
//! holding them is `Debug`, and errors carry only AWS error codes and messages.

pub mod access_point;
mod error;
mod iam;
mod kms;
pub mod list;
mod many;
mod org;
pub mod probe;
mod s3;
mod session;
mod troubleshoot;
pub mod vpc_endpoint;
mod write;

pub use error::{Transport, action_of};
pub use session::AwsOptions;

use crate::adapter::{Adapter, AdapterError, ObserveRequest, PrincipalRef, bare_caller};
use crate::core::world::{
    Account, Acl, Bucket, Grantee, ItemKind, KeyManager, KmsKey, Object, ObjectOwnership, UnknownItem, World,
};
use error::{Failure, FailureClass};
use futures::future::join_all;
use session::{CallCounter, Session, Sessions};
use std::collections::BTreeMap;
use std::future::Future;

/// Reads the world through the AWS SDK, counting every API call it makes.
pub struct AwsAdapter {
    sessions: Sessions,
    counter: CallCounter,
    /// Bucket regions found by writes (see `write`).
    regions: write::RegionCache,
    /// How many reads `observe_many` keeps in flight per phase.
    read_concurrency: usize,
}

/// The default bound on `observe_many`'s reads in flight per phase.
pub const DEFAULT_READ_CONCURRENCY: usize = 8;

/// How many per-object reads (`HeadObject`, `GetObjectAcl`) one observation keeps in flight:
/// a listed bucket can name up to `--max-objects` keys, and S3 answers a burst of thousands of
/// requests on one prefix with 503 SlowDown; 16 keeps a 10,000-object read to a few hundred
/// round trips without a burst.
pub const OBJECT_READ_CONCURRENCY: usize = 16;

/// Run `reads` with at most [`OBJECT_READ_CONCURRENCY`] in flight; the results in the order of
/// `reads`, so they zip with the keys they were made for.
async fn per_object<'a, T: Send + 'a>(reads: Vec<futures::future::BoxFuture<'a, T>>) -> Vec<T> {
    use futures::StreamExt;
    futures::stream::iter(reads)
        .buffered(OBJECT_READ_CONCURRENCY)
        .collect()
        .await
}

impl std::fmt::Debug for AwsAdapter {
    // INVARIANT: shows accounts only, never the configuration (it holds credentials).
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AwsAdapter")
            .field("bucket_account", &self.sessions.bucket.account)
            .field("caller_account", &self.sessions.caller().account)
            .finish_non_exhaustive()
    }
}

impl AwsAdapter {
    /// Load credentials, assume the roles in `options` and identify each session's account.
    pub async fn connect(options: &AwsOptions) -> Result<AwsAdapter, AdapterError> {
        let counter = CallCounter::default();
        let sessions = Sessions::open(options, &counter).await?;
        Ok(AwsAdapter {
            sessions,
            counter,
            regions: write::RegionCache::default(),
            read_concurrency: DEFAULT_READ_CONCURRENCY,
        })
    }

    /// Bound `observe_many`'s reads in flight per phase to `limit` (at least 1; default
    /// [`DEFAULT_READ_CONCURRENCY`]). A read of a principal or an organization counts as one,
    /// though it makes a few calls of its own.
    pub fn with_read_concurrency(mut self, limit: usize) -> AwsAdapter {
        self.read_concurrency = limit.max(1);
        self
    }

    /// API calls made so far, per `Service:Operation` (retries not counted).
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.counter.snapshot()
    }
}

impl Adapter for AwsAdapter {
    fn observe(&self, request: &ObserveRequest) -> impl Future<Output = Result<World, AdapterError>> + Send {
        observe(&self.sessions, request)
    }

    /// Every distinct bucket, object, KMS key, principal and account read once, however many
    /// requests name it; the reads of each phase run concurrently, at most `read_concurrency`
    /// at a time. The world equals merging each request's `observe`, and the error is the one
    /// the first failing request (in order) would report.
    fn observe_many(
        &self,
        requests: &[ObserveRequest],
    ) -> impl Future<Output = Result<World, AdapterError>> + Send
    where
        Self: Sync,
    {
        many::observe_many(&self.sessions, requests, self.read_concurrency)
    }
}

/// The error that ends an observation when a read fails this way: expired or rejected
/// credentials. Any other failure only makes its item unknown.
fn fatal(session: &Session, failure: &Failure) -> Option<AdapterError> {
    match failure.class() {
        FailureClass::Expired => Some(AdapterError::ExpiredCredentials {
            session: session.label.clone(),
        }),
        FailureClass::BadCredentials => Some(AdapterError::Credentials {
            session: session.label.clone(),
            reason: failure.reason(),
        }),
        _ => None,
    }
}

/// Settle one item read: a value, or an unknown item with its reason.
fn settle<T>(
    session: &Session,
    read: Result<Option<T>, Failure>,
    item: ItemKind,
    resource: &str,
    unknown: &mut Vec<UnknownItem>,
) -> Result<Option<T>, AdapterError> {
    match read {
        Ok(value) => Ok(value),
        Err(failure) => {
            if let Some(error) = fatal(session, &failure) {
                return Err(error);
            }
            unknown.push(UnknownItem {
                item,
                resource: resource.to_string(),
                reason: failure.reason(),
            });
            Ok(None)
        }
    }
}

/// Replace canonical user ids by account ids where `accounts` knows them.
///
/// The ACL owner becomes the account id when known (else stays the canonical id); grantees keep
/// their canonical id and gain the account.
pub(crate) fn map_canonical_ids(acl: &mut Acl, accounts: &BTreeMap<String, String>) {
    if let Some(account) = accounts.get(&acl.owner) {
        acl.owner = account.clone();
    }
    for grant in &mut acl.grants {
        if let Grantee::CanonicalUser {
            id: Some(id),
            account,
        } = &mut grant.grantee
            && account.is_none()
        {
            *account = accounts.get(id.as_str()).cloned();
        }
    }
}

/// Whether an ACL still names a canonical user id with no known account.
fn has_unmapped_ids(acl: &Acl, accounts: &BTreeMap<String, String>) -> bool {
    let is_account = |text: &str| text.len() == 12 && text.bytes().all(|byte| byte.is_ascii_digit());
    (!acl.owner.is_empty() && !is_account(&acl.owner) && !accounts.contains_key(&acl.owner))
        || acl.grants.iter().any(|grant| match &grant.grantee {
            Grantee::CanonicalUser {
                id: Some(id),
                account: None,
            } => !accounts.contains_key(id),
            _ => false,
        })
}

/// The region named by a `GetBucketLocation` constraint (empty = `us-east-1`, `EU` = `eu-west-1`).
fn region_from_location(constraint: &str) -> String {
    match constraint {
        "" => "us-east-1".to_string(),
        "EU" => "eu-west-1".to_string(),
        other => other.to_string(),
    }
}

/// Settle an organization read: SCPs and RCPs, both unknown when it failed (the same reads
/// give both).
fn settle_org(
    session: &Session,
    read: Result<org::OrgPolicies, Failure>,
    account: &str,
    unknown: &mut Vec<UnknownItem>,
) -> Result<org::OrgPolicies, AdapterError> {
    match settle(session, read.map(Some), ItemKind::Scps, account, unknown)? {
        Some(policies) => Ok(policies),
        None => {
            if let Some(scps) = unknown.last().cloned() {
                unknown.push(UnknownItem {
                    item: ItemKind::Rcps,
                    ..scps
                });
            }
            Ok(org::OrgPolicies::default())
        }
    }
}

/// The session and region to read a KMS key reference with: those its ARN names, else the
/// bucket's region and account.
fn key_reader<'s, 'r>(
    sessions: &'s Sessions,
    reference: &'r str,
    bucket_region: &'r str,
) -> (&'s Session, &'r str) {
    match kms::key_arn_parts(reference) {
        Some((key_region, key_account)) => (
            sessions.in_account(key_account).unwrap_or(&sessions.bucket),
            key_region,
        ),
        None => (&sessions.bucket, bucket_region),
    }
}

/// The organization policies of the accounts that own a customer managed key but are neither
/// the bucket's nor the caller's (a key in a third account): read through the bucket session's
/// organization where it can (management account or delegated administrator), else left
/// unknown — never taken as "no RCPs".
async fn key_owner_accounts(
    bucket_session: &Session,
    keys: &[KmsKey],
    known: &[Account],
    unknown: &mut Vec<UnknownItem>,
) -> Result<Vec<Account>, AdapterError> {
    let mut owners: Vec<&str> = Vec::new();
    for key in keys.iter().filter(|key| key.manager == KeyManager::Customer) {
        let account = key.account.as_str();
        if !account.is_empty() && !known.iter().any(|known| known.id == account) && !owners.contains(&account)
        {
            owners.push(account);
        }
    }
    let reads = join_all(
        owners
            .iter()
            .map(|account| org::read_other_account_org_policies(&bucket_session.organizations, account)),
    )
    .await;
    let mut accounts = Vec::new();
    for (account, read) in owners.into_iter().zip(reads) {
        let policies = settle_org(bucket_session, read, account, unknown)?;
        accounts.push(Account {
            id: account.to_string(),
            public_access_block: None,
            scps: policies.scps,
            rcps: policies.rcps,
            org_path: policies.path,
        });
    }
    Ok(accounts)
}

/// Settle the reads of the keys: fatal failures end the observation; others become unknown
/// items. Each key once (by ARN), in the order given.
fn settle_keys<'a>(
    reads: impl IntoIterator<Item = (&'a Session, kms::KeyRead)>,
    keys: &mut Vec<KmsKey>,
    unknown: &mut Vec<UnknownItem>,
) -> Result<(), AdapterError> {
    for (session, read) in reads {
        if let Some(error) = read
            .failures
            .iter()
            .find_map(|(_, _, failure)| fatal(session, failure))
        {
            return Err(error);
        }
        unknown.extend(read.unknown());
        if let Some(key) = read.key
            && !keys.iter().any(|known| known.arn == key.arn)
        {
            keys.push(key);
        }
    }
    Ok(())
}

/// The canonical ids one bucket's observation knows without asking: its owner's, from the
/// bucket ACL.
fn owner_canonical_ids(bucket_acl: Option<&Acl>, bucket_account: &str) -> BTreeMap<String, String> {
    let mut canonical_accounts = BTreeMap::new();
    if let Some(acl) = bucket_acl
        && !acl.owner.is_empty()
    {
        canonical_accounts.insert(acl.owner.clone(), bucket_account.to_string());
    }
    canonical_accounts
}

/// Whether the caller account's canonical id is worth asking for: it is another account and
/// the bucket's or its objects' ACLs still name an unknown canonical id.
fn needs_caller_canonical_id(
    canonical_accounts: &BTreeMap<String, String>,
    bucket_acl: Option<&Acl>,
    objects: &[Object],
    caller_account: &str,
    bucket_account: &str,
) -> bool {
    caller_account != bucket_account
        && bucket_acl
            .into_iter()
            .chain(objects.iter().filter_map(|object| object.acl.as_ref()))
            .any(|acl| has_unmapped_ids(acl, canonical_accounts))
}

/// Map the canonical ids of the bucket ACL and the object ACLs to accounts; an object's owner
/// is its ACL's owner.
fn apply_canonical_ids(
    canonical_accounts: &BTreeMap<String, String>,
    bucket_acl: &mut Option<Acl>,
    objects: &mut [Object],
) {
    if let Some(acl) = bucket_acl.as_mut() {
        map_canonical_ids(acl, canonical_accounts);
    }
    for object in objects {
        if let Some(acl) = object.acl.as_mut() {
            map_canonical_ids(acl, canonical_accounts);
            object.owner = Some(acl.owner.clone()).filter(|owner| !owner.is_empty());
        }
    }
}

/// Find the bucket's region, confirming it exists and belongs to the bucket session's account.
async fn bucket_region(session: &Session, bucket: &str) -> Result<String, AdapterError> {
    let mut home = session.s3(&session.region());
    let mut located = s3::locate_bucket(&home, bucket, &session.account).await?;
    if let s3::Located::Elsewhere(region) = located {
        // Ask again where the bucket is, so the owner check is made there.
        home = session.s3(&region);
        located = match s3::locate_bucket(&home, bucket, &session.account).await? {
            s3::Located::Here(_) => s3::Located::Here(Some(region)),
            other => other,
        };
    }
    let failure = match located {
        s3::Located::Here(Some(region)) => return Ok(region),
        s3::Located::Here(None) => None,
        s3::Located::Elsewhere(region) => {
            return Err(AdapterError::Aws {
                operation: "HeadBucket".into(),
                resource: bucket.to_string(),
                reason: format!("S3 named region `{region}` twice without answering there"),
            });
        }
        s3::Located::Failed(failure) => Some(failure),
    };
    if let Some(failure) = failure {
        if let Some(error) = fatal(session, &failure) {
            return Err(error);
        }
        return Err(match failure.class() {
            FailureClass::Denied => AdapterError::BucketNotConfirmed {
                bucket: bucket.to_string(),
                account: session.account.clone(),
                reason: failure.reason(),
            },
            _ => AdapterError::Aws {
                operation: "HeadBucket".into(),
                resource: bucket.to_string(),
                reason: failure.reason(),
            },
        });
    }
    // HeadBucket answered without the region header: ask for the location.
    let location = home
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(|error| AdapterError::Aws {
            operation: "GetBucketLocation".into(),
            resource: bucket.to_string(),
            reason: Failure::from_sdk(&error).reason(),
        })?;
    Ok(region_from_location(
        location
            .location_constraint()
            .map(|constraint| constraint.as_str())
            .unwrap_or_default(),
    ))
}

/// Observe everything `request` needs, each item once.
async fn observe(sessions: &Sessions, request: &ObserveRequest) -> Result<World, AdapterError> {
    // Anonymous, root and federated callers have no role or user to read; the SCPs of a root's
    // or federated user's account still apply.
    let bare = bare_caller(&request.principal_arn);
    let reference = match &bare {
        Some(_) => None,
        None => Some(PrincipalRef::parse(&request.principal_arn)?),
    };
    let principal_account = match (&reference, &bare) {
        (Some(reference), _) => Some(reference.account.clone()),
        (None, Some(requester)) => requester.account.clone(),
        (None, None) => None,
    };
    let bucket_session = &sessions.bucket;
    let bucket_account = bucket_session.account.clone();
    let bucket_name = request.bucket.as_str();
    let principal_session = match &principal_account {
        None => bucket_session,
        Some(account) => sessions
            .in_account(account)
            .ok_or_else(|| AdapterError::NoSessionForPrincipal {
                arn: request.principal_arn.clone(),
                account: account.clone(),
            })?,
    };
    let region = bucket_region(bucket_session, bucket_name).await?;
    let s3 = bucket_session.s3(&region);

    // Phase 1: everything that depends only on the request, concurrently.
    let principal_org_account = principal_account
        .clone()
        .filter(|account| *account != bucket_account);
    let (
        policy,
        ownership,
        bucket_pab,
        account_pab,
        bucket_acl,
        encryption,
        heads,
        principal,
        bucket_org,
        principal_org,
    ) = tokio::join!(
        s3::bucket_policy(&s3, bucket_name),
        s3::ownership(&s3, bucket_name),
        s3::bucket_public_access_block(&s3, bucket_name),
        s3::account_public_access_block(&bucket_session.s3control, &bucket_account),
        s3::bucket_acl(&s3, bucket_name),
        s3::bucket_encryption(&s3, bucket_name),
        per_object(
            request
                .keys
                .iter()
                .map(|key| futures::FutureExt::boxed(s3::head_object(&s3, bucket_name, key)))
                .collect()
        ),
        async {
            match &reference {
                Some(reference) => Some(
                    iam::read_principal(
                        &principal_session.iam,
                        reference,
                        &request.principal_arn,
                        &principal_session.label,
                    )
                    .await,
                ),
                None => None,
            }
        },
        org::read_org_policies(&bucket_session.organizations, &bucket_account),
        async {
            match &principal_org_account {
                Some(account) => {
                    Some(org::read_org_policies(&principal_session.organizations, account).await)
                }
                None => None,
            }
        },
    );

    let mut unknown = Vec::new();
    let principal = principal.transpose()?;
    let heads = heads.into_iter().collect::<Result<Vec<_>, AdapterError>>()?;
    let policy = settle(
        bucket_session,
        policy,
        ItemKind::BucketPolicy,
        bucket_name,
        &mut unknown,
    )?;
    let (policy, policy_text) = policy.unzip();
    let ownership_known = ownership.is_ok();
    let ownership = settle(
        bucket_session,
        ownership,
        ItemKind::OwnershipControls,
        bucket_name,
        &mut unknown,
    )?;
    let bucket_pab = settle(
        bucket_session,
        bucket_pab,
        ItemKind::BucketPublicAccessBlock,
        bucket_name,
        &mut unknown,
    )?;
    let account_pab = settle(
        bucket_session,
        account_pab,
        ItemKind::AccountPublicAccessBlock,
        &bucket_account,
        &mut unknown,
    )?;
    let bucket_acl = settle(
        bucket_session,
        bucket_acl.map(Some),
        ItemKind::BucketAcl,
        bucket_name,
        &mut unknown,
    )?;
    let encryption = settle(
        bucket_session,
        encryption,
        ItemKind::BucketEncryption,
        bucket_name,
        &mut unknown,
    )?;
    let mut objects = Vec::new();
    for (key, head) in request.keys.iter().zip(heads) {
        let resource = format!("{bucket_name}/{key}");
        let encryption = settle(bucket_session, head, ItemKind::Object, &resource, &mut unknown)?;
        objects.push(Object {
            key: key.clone(),
            owner: None,
            acl: None,
            encryption,
        });
    }
    let principal = principal.map(|read| {
        unknown.extend(read.unknown);
        read.principal
    });
    let bucket_org = settle_org(bucket_session, bucket_org, &bucket_account, &mut unknown)?;
    let principal_org = match (principal_org, &principal_org_account) {
        (Some(read), Some(account)) => Some((
            account.clone(),
            settle_org(principal_session, read, account, &mut unknown)?,
        )),
        _ => None,
    };

    // Phase 2: reads that depend on phase 1: object ACLs (only when ACLs are in effect) and the
    // KMS keys the objects and the bucket default name.
    let acls_in_effect = !ownership_known || ownership != Some(ObjectOwnership::BucketOwnerEnforced);
    let mut key_references: Vec<String> = Vec::new();
    for kms_key_id in objects
        .iter()
        .filter_map(|object| object.encryption.as_ref())
        .chain(encryption.as_ref())
        .filter_map(|encryption| encryption.kms_key_id.clone())
    {
        if !key_references.contains(&kms_key_id) {
            key_references.push(kms_key_id);
        }
    }
    let (object_acls, key_reads) = tokio::join!(
        async {
            if acls_in_effect {
                per_object(
                    request
                        .keys
                        .iter()
                        .map(|key| futures::FutureExt::boxed(s3::object_acl(&s3, bucket_name, key)))
                        .collect(),
                )
                .await
            } else {
                Vec::new()
            }
        },
        join_all(key_references.iter().map(|reference| {
            let (session, key_region) = key_reader(sessions, reference, &region);
            async move {
                (
                    session,
                    kms::read_key(&session.kms(key_region), reference, key_region).await,
                )
            }
        })),
    );
    for (object, acl) in objects.iter_mut().zip(object_acls) {
        let resource = format!("{bucket_name}/{}", object.key);
        object.acl = settle(
            bucket_session,
            acl.map(Some),
            ItemKind::ObjectAcl,
            &resource,
            &mut unknown,
        )?;
    }
    let mut keys = Vec::new();
    settle_keys(key_reads, &mut keys, &mut unknown)?;

    // Phase 3: canonical user ids to account ids. The bucket owner's id comes with the bucket
    // ACL; the caller account's from its own ListBuckets, only when an id is still unmapped.
    let mut canonical_accounts = owner_canonical_ids(bucket_acl.as_ref(), &bucket_account);
    let caller = sessions.caller();
    if needs_caller_canonical_id(
        &canonical_accounts,
        bucket_acl.as_ref(),
        &objects,
        &caller.account,
        &bucket_account,
    ) {
        // Best effort: without it the ids simply stay canonical.
        if let Ok(Some(id)) = s3::own_canonical_id(&caller.s3(&region)).await {
            canonical_accounts
                .entry(id)
                .or_insert_with(|| caller.account.clone());
        }
    }
    let mut bucket_acl = bucket_acl;
    apply_canonical_ids(&canonical_accounts, &mut bucket_acl, &mut objects);

    let mut accounts = vec![Account {
        id: bucket_account.clone(),
        public_access_block: account_pab,
        scps: bucket_org.scps,
        rcps: bucket_org.rcps,
        org_path: bucket_org.path,
    }];
    if let Some((account, principal_org)) = principal_org {
        accounts.push(Account {
            id: account,
            public_access_block: None,
            scps: principal_org.scps,
            rcps: principal_org.rcps,
            org_path: principal_org.path,
        });
    }
    let key_accounts = key_owner_accounts(bucket_session, &keys, &accounts, &mut unknown).await?;
    accounts.extend(key_accounts);
    Ok(World {
        kind: Some(crate::core::kind::WorldTag),
        accounts,
        buckets: vec![Bucket {
            name: bucket_name.to_string(),
            account: bucket_account,
            region,
            policy,
            policy_text,
            ownership,
            public_access_block: bucket_pab,
            acl: bucket_acl,
            default_encryption: encryption,
            objects,
            access_points: Vec::new(),
        }],
        principals: principal.into_iter().collect(),
        keys,
        unknown,
        vpc_endpoints: Vec::new(),
        ..World::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::world::Grant;

    fn canonical(id: &str) -> Grant {
        Grant {
            grantee: Grantee::CanonicalUser {
                id: Some(id.into()),
                account: None,
            },
            permission: "READ".into(),
        }
    }

    #[test]
    fn canonical_ids_map_to_known_accounts() {
        let accounts = BTreeMap::from([("c1".to_string(), "111111111111".to_string())]);
        let mut acl = Acl {
            owner: "c1".into(),
            grants: vec![
                canonical("c1"),
                canonical("c2"),
                Grant {
                    grantee: Grantee::Group {
                        uri: "http://acs.amazonaws.com/groups/global/AllUsers".into(),
                    },
                    permission: "READ".into(),
                },
            ],
        };
        assert!(has_unmapped_ids(&acl, &accounts));
        let only_known = Acl {
            owner: "c1".into(),
            grants: vec![canonical("c1")],
        };
        assert!(!has_unmapped_ids(&only_known, &accounts));
        map_canonical_ids(&mut acl, &accounts);
        assert_eq!(acl.owner, "111111111111");
        assert_eq!(
            acl.grants.first().map(|grant| &grant.grantee),
            Some(&Grantee::CanonicalUser {
                id: Some("c1".into()),
                account: Some("111111111111".into())
            })
        );
        assert_eq!(
            acl.grants.get(1).map(|grant| &grant.grantee),
            Some(&Grantee::CanonicalUser {
                id: Some("c2".into()),
                account: None
            })
        );
        assert!(has_unmapped_ids(&acl, &accounts));
        let all = BTreeMap::from([
            ("c1".to_string(), "1".repeat(12)),
            ("c2".to_string(), "2".repeat(12)),
        ]);
        let mut acl = Acl {
            owner: "c1".into(),
            grants: vec![canonical("c2")],
        };
        map_canonical_ids(&mut acl, &all);
        assert!(!has_unmapped_ids(&acl, &all));
    }

    #[test]
    fn location_constraints_name_regions() {
        assert_eq!(region_from_location(""), "us-east-1");
        assert_eq!(region_from_location("EU"), "eu-west-1");
        assert_eq!(region_from_location("eu-central-1"), "eu-central-1");
    }
}

//! Observing many requests at once (`observe_many`): every distinct bucket, object, KMS key,
//! principal and account is read once, however many requests name it.
//!
//! The reads run in phases, each phase's reads concurrently with at most `limit` in flight:
//! 1. each bucket's region (HeadBucket), each principal, the bucket account's Block Public
//!    Access, each account's SCPs and RCPs;
//! 2. each bucket's settings (policy, ownership, BPA, ACL, default encryption) and each object
//!    (HeadObject);
//! 3. each object's ACL (when its bucket's ACLs are in effect) and each KMS key;
//! 4. at most one `ListBuckets` for the caller account's canonical id.
//!
//! The world equals merging each request's own `observe`, and a failure is reported as the
//! first failing request (in the order given) would report it.

use super::error::Failure;
use super::session::{Session, Sessions};
use super::{
    apply_canonical_ids, bucket_region, iam, key_owner_accounts, key_reader, kms, needs_caller_canonical_id,
    org, owner_canonical_ids, s3, settle, settle_keys, settle_org,
};
use crate::adapter::{AdapterError, ObserveRequest, PrincipalRef};
use crate::core::world::{
    Account, Acl, Bucket, Encryption, ItemKind, Object, ObjectOwnership, PublicAccessBlock, UnknownItem,
    World,
};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::Value;
use std::collections::BTreeMap;

/// Run `tasks` with at most `limit` in flight; the results in completion order.
async fn bounded<'a, T: Send + 'a>(tasks: Vec<BoxFuture<'a, T>>, limit: usize) -> Vec<T> {
    futures::stream::iter(tasks)
        .buffer_unordered(limit.max(1))
        .collect()
        .await
}

/// Who a principal ARN names: partition, account, role-or-user and name. A role and its
/// sessions are one principal (the adapter reads a session ARN as its role).
type PrincipalId = (String, String, bool, String);

fn principal_id(reference: &PrincipalRef) -> PrincipalId {
    (
        reference.partition.clone(),
        reference.account.clone(),
        reference.is_role(),
        reference.name.clone(),
    )
}

/// One distinct principal to read.
struct PrincipalPlan<'a> {
    reference: PrincipalRef,
    /// The ARN of the first request naming it.
    given: &'a str,
    session: &'a Session,
}

/// What to read: the distinct items, in the order the requests first name them.
struct Plan<'a> {
    /// Bucket names.
    buckets: Vec<&'a str>,
    /// Each bucket's keys of interest, each once.
    keys: BTreeMap<&'a str, Vec<&'a str>>,
    principals: Vec<PrincipalPlan<'a>>,
    /// Each request's principal (an index into `principals`).
    principal_of: Vec<usize>,
    /// The accounts whose organization policies apply: the bucket account first, then each
    /// principal account other than it.
    org_accounts: Vec<(&'a str, &'a Session)>,
}

impl<'a> Plan<'a> {
    /// Check every request's principal and session, and collect the distinct items.
    fn new(sessions: &'a Sessions, requests: &'a [ObserveRequest]) -> Result<Plan<'a>, AdapterError> {
        let bucket_session = &sessions.bucket;
        let mut plan = Plan {
            buckets: Vec::new(),
            keys: BTreeMap::new(),
            principals: Vec::new(),
            principal_of: Vec::new(),
            org_accounts: vec![(bucket_session.account.as_str(), bucket_session)],
        };
        let mut principal_index: BTreeMap<PrincipalId, usize> = BTreeMap::new();
        for request in requests {
            let reference = PrincipalRef::parse(&request.principal_arn)?;
            let Some(session) = sessions.in_account(&reference.account) else {
                return Err(AdapterError::NoSessionForPrincipal {
                    arn: request.principal_arn.clone(),
                    account: reference.account.clone(),
                });
            };
            let bucket = request.bucket.as_str();
            let keys = plan.keys.entry(bucket).or_insert_with(|| {
                plan.buckets.push(bucket);
                Vec::new()
            });
            for key in &request.keys {
                if !keys.contains(&key.as_str()) {
                    keys.push(key);
                }
            }
            if !plan
                .org_accounts
                .iter()
                .any(|(account, _)| *account == reference.account)
            {
                plan.org_accounts.push((session.account.as_str(), session));
            }
            let next = plan.principals.len();
            let index = *principal_index.entry(principal_id(&reference)).or_insert(next);
            if index == next {
                plan.principals.push(PrincipalPlan {
                    reference,
                    given: &request.principal_arn,
                    session,
                });
            }
            plan.principal_of.push(index);
        }
        Ok(plan)
    }
}

/// Results of phase 1.
enum First<'a> {
    Region(&'a str, Result<String, AdapterError>),
    Principal(usize, Result<iam::PrincipalRead, AdapterError>),
    AccountPab(Result<Option<PublicAccessBlock>, Failure>),
    Org(usize, Result<org::OrgPolicies, Failure>),
}

/// A `HeadObject` answer: a missing object is an error, another failure an unknown item.
type HeadRead = Result<Result<Option<Encryption>, Failure>, AdapterError>;

/// Results of phase 2.
enum Second<'a> {
    Policy(&'a str, Result<Option<(Value, String)>, Failure>),
    Ownership(&'a str, Result<Option<ObjectOwnership>, Failure>),
    Pab(&'a str, Result<Option<PublicAccessBlock>, Failure>),
    Acl(&'a str, Result<Acl, Failure>),
    Encryption(&'a str, Result<Option<Encryption>, Failure>),
    Head(&'a str, &'a str, HeadRead),
}

/// Results of phase 3.
enum Third<'a> {
    ObjectAcl(&'a str, &'a str, Result<Acl, Failure>),
    Key(usize, kms::KeyRead),
}

/// One bucket's raw settings reads (phase 2).
#[derive(Default)]
struct BucketReads {
    policy: Option<Result<Option<(Value, String)>, Failure>>,
    ownership: Option<Result<Option<ObjectOwnership>, Failure>>,
    pab: Option<Result<Option<PublicAccessBlock>, Failure>>,
    acl: Option<Result<Acl, Failure>>,
    encryption: Option<Result<Option<Encryption>, Failure>>,
}

/// A read that phase 2 should have made but did not report (cannot happen: every task reports).
fn missing(operation: &str, resource: &str) -> AdapterError {
    AdapterError::Aws {
        operation: operation.into(),
        resource: resource.to_string(),
        reason: "the read did not complete".into(),
    }
}

/// Take a result that a read must have produced.
fn take<T>(slot: Option<T>, operation: &str, resource: &str) -> Result<T, AdapterError> {
    slot.ok_or_else(|| missing(operation, resource))
}

/// Observe every request into one world, each distinct item read once.
pub(super) async fn observe_many(
    sessions: &Sessions,
    requests: &[ObserveRequest],
    limit: usize,
) -> Result<World, AdapterError> {
    if requests.is_empty() {
        return Ok(World::new());
    }
    let plan = Plan::new(sessions, requests)?;
    let bucket_session = &sessions.bucket;
    let bucket_account = bucket_session.account.as_str();

    // Phase 1: regions, principals, account settings and organization policies.
    let mut tasks: Vec<BoxFuture<'_, First<'_>>> = Vec::new();
    for &bucket in &plan.buckets {
        tasks.push(async move { First::Region(bucket, bucket_region(bucket_session, bucket).await) }.boxed());
    }
    for (index, principal) in plan.principals.iter().enumerate() {
        tasks.push(
            async move {
                let session = principal.session;
                let read = iam::read_principal(
                    &session.iam,
                    &principal.reference,
                    principal.given,
                    &session.label,
                )
                .await;
                First::Principal(index, read)
            }
            .boxed(),
        );
    }
    tasks.push(
        async move {
            First::AccountPab(
                s3::account_public_access_block(&bucket_session.s3control, bucket_account).await,
            )
        }
        .boxed(),
    );
    for (index, &(account, session)) in plan.org_accounts.iter().enumerate() {
        tasks.push(
            async move {
                First::Org(
                    index,
                    org::read_org_policies(&session.organizations, account).await,
                )
            }
            .boxed(),
        );
    }
    let mut regions: BTreeMap<&str, Result<String, AdapterError>> = BTreeMap::new();
    let mut principal_reads: BTreeMap<usize, Result<iam::PrincipalRead, AdapterError>> = BTreeMap::new();
    let mut account_pab = None;
    let mut org_reads: BTreeMap<usize, Result<org::OrgPolicies, Failure>> = BTreeMap::new();
    for result in bounded(tasks, limit).await {
        match result {
            First::Region(bucket, region) => {
                regions.insert(bucket, region);
            }
            First::Principal(index, read) => {
                principal_reads.insert(index, read);
            }
            First::AccountPab(read) => account_pab = Some(read),
            First::Org(index, read) => {
                org_reads.insert(index, read);
            }
        }
    }

    // Phase 2: the settings of every bucket found, and every object.
    // One client per region, shared by the buckets there.
    let mut clients: BTreeMap<&str, aws_sdk_s3::Client> = BTreeMap::new();
    let mut bucket_clients: BTreeMap<&str, aws_sdk_s3::Client> = BTreeMap::new();
    for (&bucket, region) in &regions {
        if let Ok(region) = region {
            let client = clients
                .entry(region.as_str())
                .or_insert_with(|| bucket_session.s3(region));
            bucket_clients.insert(bucket, client.clone());
        }
    }
    let client_of = |bucket: &str| bucket_clients.get(bucket).cloned();
    let mut tasks: Vec<BoxFuture<'_, Second<'_>>> = Vec::new();
    for &bucket in &plan.buckets {
        let Some(s3) = client_of(bucket) else { continue };
        let client = s3.clone();
        tasks.push(async move { Second::Policy(bucket, s3::bucket_policy(&client, bucket).await) }.boxed());
        let client = s3.clone();
        tasks.push(async move { Second::Ownership(bucket, s3::ownership(&client, bucket).await) }.boxed());
        let client = s3.clone();
        tasks.push(
            async move { Second::Pab(bucket, s3::bucket_public_access_block(&client, bucket).await) }.boxed(),
        );
        let client = s3.clone();
        tasks.push(async move { Second::Acl(bucket, s3::bucket_acl(&client, bucket).await) }.boxed());
        let client = s3.clone();
        tasks.push(
            async move { Second::Encryption(bucket, s3::bucket_encryption(&client, bucket).await) }.boxed(),
        );
        for &key in plan.keys.get(bucket).into_iter().flatten() {
            let client = s3.clone();
            tasks.push(
                async move { Second::Head(bucket, key, s3::head_object(&client, bucket, key).await) }.boxed(),
            );
        }
    }
    let mut bucket_reads: BTreeMap<&str, BucketReads> = BTreeMap::new();
    let mut heads: BTreeMap<(&str, &str), HeadRead> = BTreeMap::new();
    for result in bounded(tasks, limit).await {
        match result {
            Second::Policy(bucket, read) => bucket_reads.entry(bucket).or_default().policy = Some(read),
            Second::Ownership(bucket, read) => bucket_reads.entry(bucket).or_default().ownership = Some(read),
            Second::Pab(bucket, read) => bucket_reads.entry(bucket).or_default().pab = Some(read),
            Second::Acl(bucket, read) => bucket_reads.entry(bucket).or_default().acl = Some(read),
            Second::Encryption(bucket, read) => {
                bucket_reads.entry(bucket).or_default().encryption = Some(read);
            }
            Second::Head(bucket, key, read) => {
                heads.insert((bucket, key), read);
            }
        }
    }

    // The errors that end an observation, as the first failing request would report them: its
    // bucket, then its principal, then its objects.
    for (request, &principal) in requests.iter().zip(&plan.principal_of) {
        let bucket = request.bucket.as_str();
        if let Some(Err(_)) = regions.get(bucket)
            && let Some(Err(error)) = regions.remove(bucket)
        {
            return Err(error);
        }
        if let Some(Err(_)) = principal_reads.get(&principal)
            && let Some(Err(error)) = principal_reads.remove(&principal)
        {
            return Err(match error {
                AdapterError::NoSuchPrincipal { .. } => AdapterError::NoSuchPrincipal {
                    arn: request.principal_arn.clone(),
                },
                other => other,
            });
        }
        for key in &request.keys {
            let slot = (bucket, key.as_str());
            if let Some(Err(_)) = heads.get(&slot)
                && let Some(Err(error)) = heads.remove(&slot)
            {
                return Err(error);
            }
        }
    }

    // Settle phases 1 and 2: values, or unknown items.
    let mut unknown = Vec::new();
    let account_pab = settle(
        bucket_session,
        take(account_pab, "GetPublicAccessBlock", bucket_account)?,
        ItemKind::AccountPublicAccessBlock,
        bucket_account,
        &mut unknown,
    )?;
    let mut buckets = Vec::new();
    let mut ownership_known: BTreeMap<&str, bool> = BTreeMap::new();
    for &bucket in &plan.buckets {
        let region = take(regions.remove(bucket), "HeadBucket", bucket)??;
        let reads = bucket_reads.remove(bucket).unwrap_or_default();
        let policy = settle(
            bucket_session,
            take(reads.policy, "GetBucketPolicy", bucket)?,
            ItemKind::BucketPolicy,
            bucket,
            &mut unknown,
        )?;
        let (policy, policy_text) = policy.unzip();
        let ownership = take(reads.ownership, "GetBucketOwnershipControls", bucket)?;
        ownership_known.insert(bucket, ownership.is_ok());
        let ownership = settle(
            bucket_session,
            ownership,
            ItemKind::OwnershipControls,
            bucket,
            &mut unknown,
        )?;
        let public_access_block = settle(
            bucket_session,
            take(reads.pab, "GetPublicAccessBlock", bucket)?,
            ItemKind::BucketPublicAccessBlock,
            bucket,
            &mut unknown,
        )?;
        let acl = settle(
            bucket_session,
            take(reads.acl, "GetBucketAcl", bucket)?.map(Some),
            ItemKind::BucketAcl,
            bucket,
            &mut unknown,
        )?;
        let default_encryption = settle(
            bucket_session,
            take(reads.encryption, "GetBucketEncryption", bucket)?,
            ItemKind::BucketEncryption,
            bucket,
            &mut unknown,
        )?;
        let mut objects = Vec::new();
        for &key in plan.keys.get(bucket).into_iter().flatten() {
            let resource = format!("{bucket}/{key}");
            let head = take(heads.remove(&(bucket, key)), "HeadObject", &resource)??;
            let encryption = settle(bucket_session, head, ItemKind::Object, &resource, &mut unknown)?;
            objects.push(Object {
                key: key.to_string(),
                owner: None,
                acl: None,
                encryption,
            });
        }
        buckets.push(Bucket {
            name: bucket.to_string(),
            account: bucket_account.to_string(),
            region,
            policy,
            policy_text,
            ownership,
            public_access_block,
            acl,
            default_encryption,
            objects,
            access_points: Vec::new(),
        });
    }
    let mut principals = Vec::new();
    for (index, principal) in plan.principals.iter().enumerate() {
        let read = take(principal_reads.remove(&index), "GetRole", principal.given)??;
        unknown.extend(read.unknown);
        if !principals
            .iter()
            .any(|known: &crate::core::world::Principal| known.arn == read.principal.arn)
        {
            principals.push(read.principal);
        }
    }
    let mut accounts = Vec::new();
    for (index, &(account, session)) in plan.org_accounts.iter().enumerate() {
        let read = take(org_reads.remove(&index), "DescribeOrganization", account)?;
        let policies = settle_org(session, read, account, &mut unknown)?;
        accounts.push(Account {
            id: account.to_string(),
            // Only the bucket account's Block Public Access is read (it is the one that applies).
            public_access_block: if index == 0 { account_pab } else { None },
            scps: policies.scps,
            rcps: policies.rcps,
            org_path: policies.path,
        });
    }

    // Phase 3: object ACLs (where ACLs are in effect) and every KMS key named by an object or a
    // bucket default.
    let mut key_targets: Vec<(String, String, &Session)> = Vec::new();
    let mut tasks: Vec<BoxFuture<'_, Third<'_>>> = Vec::new();
    for (&name, bucket) in plan.buckets.iter().zip(&buckets) {
        let known = ownership_known.get(name).copied().unwrap_or(false);
        let acls_in_effect = !known || bucket.ownership != Some(ObjectOwnership::BucketOwnerEnforced);
        if acls_in_effect && let Some(s3) = client_of(name) {
            for &key in plan.keys.get(name).into_iter().flatten() {
                let client = s3.clone();
                tasks.push(
                    async move { Third::ObjectAcl(name, key, s3::object_acl(&client, name, key).await) }
                        .boxed(),
                );
            }
        }
        for reference in bucket
            .objects
            .iter()
            .filter_map(|object| object.encryption.as_ref())
            .chain(bucket.default_encryption.as_ref())
            .filter_map(|encryption| encryption.kms_key_id.as_deref())
        {
            let (session, key_region) = key_reader(sessions, reference, &bucket.region);
            if !key_targets.iter().any(|(known, known_region, known_session)| {
                known == reference && known_region == key_region && known_session.account == session.account
            }) {
                key_targets.push((reference.to_string(), key_region.to_string(), session));
            }
        }
    }
    for (index, (reference, key_region, session)) in key_targets.iter().enumerate() {
        let session: &Session = session;
        tasks.push(
            async move {
                Third::Key(
                    index,
                    kms::read_key(&session.kms(key_region), reference, key_region).await,
                )
            }
            .boxed(),
        );
    }
    let mut object_acls: BTreeMap<(&str, &str), Result<Acl, Failure>> = BTreeMap::new();
    let mut key_reads: BTreeMap<usize, kms::KeyRead> = BTreeMap::new();
    for result in bounded(tasks, limit).await {
        match result {
            Third::ObjectAcl(bucket, key, read) => {
                object_acls.insert((bucket, key), read);
            }
            Third::Key(index, read) => {
                key_reads.insert(index, read);
            }
        }
    }
    for bucket in &mut buckets {
        for object in &mut bucket.objects {
            if let Some(read) = object_acls.remove(&(bucket.name.as_str(), object.key.as_str())) {
                let resource = format!("{}/{}", bucket.name, object.key);
                object.acl = settle(
                    bucket_session,
                    read.map(Some),
                    ItemKind::ObjectAcl,
                    &resource,
                    &mut unknown,
                )?;
            }
        }
    }
    let mut keys = Vec::new();
    settle_keys(
        key_targets
            .iter()
            .zip(0..)
            .filter_map(|(&(_, _, session), index)| Some((session, key_reads.remove(&index)?))),
        &mut keys,
        &mut unknown,
    )?;
    let key_accounts = key_owner_accounts(bucket_session, &keys, &accounts, &mut unknown).await?;
    accounts.extend(key_accounts);

    // Phase 4: canonical user ids to account ids: each bucket's owner from its own ACL, the
    // caller account's from one ListBuckets when some bucket still names an unknown id.
    let caller = sessions.caller();
    let mut canonical: Vec<(BTreeMap<String, String>, bool)> = buckets
        .iter()
        .map(|bucket| {
            let owners = owner_canonical_ids(bucket.acl.as_ref(), bucket_account);
            let needs = needs_caller_canonical_id(
                &owners,
                bucket.acl.as_ref(),
                &bucket.objects,
                &caller.account,
                bucket_account,
            );
            (owners, needs)
        })
        .collect();
    let asking_region = buckets
        .iter()
        .zip(&canonical)
        .find(|(_, (_, needs))| *needs)
        .map(|(bucket, _)| bucket.region.clone());
    if let Some(region) = asking_region {
        // Best effort: without it the ids simply stay canonical.
        if let Ok(Some(id)) = s3::own_canonical_id(&caller.s3(&region)).await {
            for (owners, needs) in &mut canonical {
                if *needs {
                    owners.entry(id.clone()).or_insert_with(|| caller.account.clone());
                }
            }
        }
    }
    for (bucket, (owners, _)) in buckets.iter_mut().zip(&canonical) {
        apply_canonical_ids(owners, &mut bucket.acl, &mut bucket.objects);
    }

    let mut distinct_unknown: Vec<UnknownItem> = Vec::new();
    for item in unknown {
        if !distinct_unknown.contains(&item) {
            distinct_unknown.push(item);
        }
    }
    Ok(World {
        accounts,
        buckets,
        principals,
        keys,
        unknown: distinct_unknown,
        ..World::new()
    })
}

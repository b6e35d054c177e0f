//! `s3fix apply` and `s3fix rollback` through the AWS SDK against moto: the fault campaign of
//! `tests/apply.rs` on the real write path (each step of a four-step plan fails in turn through
//! the fault proxy, and the accounts end exactly as they started), a failing restore (exit 4),
//! apply then rollback, a stale plan (no write reaches AWS), and `apply --probe`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod support;

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use s3fix::core::plan::{Plan, ResourceRef};
use s3fix::journal::{Journal, Operation, OperationStatus, StepState};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::{BUCKET_ACCOUNT, CALLER_ACCOUNT, FaultProxy, admin_role, assume, base_config};

const PRINCIPAL: &str = "arn:aws:iam::222222222222:role/app";

/// Clients on the two accounts and what the fixture created.
struct Fixture {
    bucket: String,
    key_a: String,
    key_b: String,
    s3: aws_sdk_s3::Client,
    kms: aws_sdk_kms::Client,
    iam_caller: aws_sdk_iam::Client,
}

/// Everything an apply may write, as canonical JSON values.
#[derive(Debug, Clone, PartialEq)]
struct State {
    bucket_policy: Option<Value>,
    key_policy_a: Value,
    key_policy_b: Value,
    inline_policies: BTreeMap<String, Value>,
}

fn trust_everyone() -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}).to_string()
}

fn key_policy() -> Value {
    json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{BUCKET_ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": admin_role(BUCKET_ACCOUNT)}, "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:PutKeyPolicy"], "Resource": "*"}
    ]})
}

/// The world: a bucket in 111111111111 with a bucket policy (one statement to keep), `a.csv` and
/// `b.csv` under two customer-managed keys, and a role `app` in 222222222222 with no S3 access.
async fn fixture(endpoint: &str, bucket: &str) -> anyhow::Result<Fixture> {
    let base = base_config(endpoint).await;
    let bucket_admin = assume(&base, &admin_role(BUCKET_ACCOUNT)).await?;
    let caller_admin = assume(&base, &admin_role(CALLER_ACCOUNT)).await?;
    let iam_bucket = aws_sdk_iam::Client::new(&bucket_admin);
    let iam_caller = aws_sdk_iam::Client::new(&caller_admin);
    for iam in [&iam_bucket, &iam_caller] {
        iam.create_role()
            .role_name("s3fix-admin")
            .assume_role_policy_document(trust_everyone())
            .send()
            .await?;
    }
    iam_caller
        .create_role()
        .role_name("app")
        .assume_role_policy_document(trust_everyone())
        .send()
        .await?;

    let kms = aws_sdk_kms::Client::new(&bucket_admin);
    let mut keys = Vec::new();
    for name in ["a", "b"] {
        let key = kms
            .create_key()
            .policy(key_policy().to_string())
            .description(format!("s3fix apply test key {name}"))
            .send()
            .await?;
        keys.push(
            key.key_metadata()
                .and_then(|m| m.arn())
                .unwrap_or_default()
                .to_string(),
        );
    }

    let s3 = support::s3(&bucket_admin);
    s3.create_bucket().bucket(bucket).send().await?;
    use aws_sdk_s3::types::{
        ObjectOwnership, OwnershipControls, OwnershipControlsRule, ServerSideEncryption,
    };
    s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await?;
    let bucket_policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "OwnerReadsPolicy", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{BUCKET_ACCOUNT}:root")}, "Action": "s3:GetBucketPolicy", "Resource": format!("arn:aws:s3:::{bucket}")}]});
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(bucket_policy.to_string())
        .send()
        .await?;
    for (object, key) in [("a.csv", &keys[0]), ("b.csv", &keys[1])] {
        s3.put_object()
            .bucket(bucket)
            .key(object)
            .body(ByteStream::from_static(b"x,y\n1,2\n"))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(key)
            .send()
            .await?;
    }
    Ok(Fixture {
        bucket: bucket.to_string(),
        key_a: keys[0].clone(),
        key_b: keys[1].clone(),
        s3,
        kms,
        iam_caller,
    })
}

fn decode(text: &str) -> Value {
    let decoded = if text.trim_start().starts_with('{') {
        text.to_string()
    } else {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .unwrap()
            .to_string()
    };
    serde_json::from_str(&decoded).unwrap()
}

impl Fixture {
    /// Read every resource an apply may write, directly through the SDK (not through s3fix).
    async fn state(&self) -> anyhow::Result<State> {
        let bucket_policy = match self.s3.get_bucket_policy().bucket(&self.bucket).send().await {
            Ok(output) => Some(decode(output.policy().unwrap_or_default())),
            Err(error) if error.code() == Some("NoSuchBucketPolicy") => None,
            Err(error) => return Err(error.into()),
        };
        let mut key_policies = Vec::new();
        for key in [&self.key_a, &self.key_b] {
            let output = self
                .kms
                .get_key_policy()
                .key_id(key)
                .policy_name("default")
                .send()
                .await?;
            key_policies.push(decode(output.policy().unwrap_or_default()));
        }
        let mut inline_policies = BTreeMap::new();
        let names = self
            .iam_caller
            .list_role_policies()
            .role_name("app")
            .send()
            .await?;
        for name in names.policy_names() {
            let output = self
                .iam_caller
                .get_role_policy()
                .role_name("app")
                .policy_name(name)
                .send()
                .await?;
            inline_policies.insert(name.clone(), decode(output.policy_document()));
        }
        Ok(State {
            bucket_policy,
            key_policy_a: key_policies[0].clone(),
            key_policy_b: key_policies[1].clone(),
            inline_policies,
        })
    }

    fn spec(&self) -> String {
        format!(
            "principal = \"{PRINCIPAL}\"\nbucket = \"{}\"\nkeys = [\"a.csv\", \"b.csv\"]\naccess = [\"read\"]\n\n[bucket_account]\nrole = \"{}\"\n\n[caller_account]\nrole = \"{}\"\n",
            self.bucket,
            admin_role(BUCKET_ACCOUNT),
            admin_role(CALLER_ACCOUNT)
        )
    }
}

/// The s3fix binary in `directory` with moto's dummy credentials and no terminal.
///
/// `apply` and `rollback` are given the endpoint the plan recorded, as an operator must: s3fix
/// never sends credentials to an endpoint named only in a plan file.
fn s3fix(directory: &Path, args: &[&str]) -> Output {
    let mut args: Vec<String> = args.iter().map(|arg| (*arg).to_string()).collect();
    if matches!(args.first().map(String::as_str), Some("apply" | "rollback")) {
        let recorded = std::fs::read_to_string(directory.join("plan.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|plan| plan["source"]["endpointUrl"].as_str().map(str::to_string));
        if let Some(endpoint) = recorded {
            args.extend(["--endpoint-url".to_string(), endpoint]);
        }
    }
    Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args(&args)
        .current_dir(directory)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_REGION")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// Write the spec and plan it through `endpoint` (the plan records it: apply uses it too).
fn plan(fixture: &Fixture, directory: &Path, endpoint: &str) -> Plan {
    std::fs::write(directory.join("spec.toml"), fixture.spec()).unwrap();
    let output = s3fix(
        directory,
        &[
            "plan",
            "spec.toml",
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
            "-o",
            "plan.json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "plan: {}", stderr(&output));
    serde_json::from_str(&std::fs::read_to_string(directory.join("plan.json")).unwrap()).unwrap()
}

/// The only journal of the directory (the apply's), loaded.
fn only_journal(directory: &Path) -> (Operation, std::path::PathBuf) {
    let journal_dir = directory.join(".s3fix/journal");
    let entries = Journal::new(&journal_dir).operations();
    assert_eq!(entries.len(), 1, "{entries:?}");
    Journal::new(&journal_dir)
        .load(entries[0].to_str().unwrap())
        .unwrap()
}

/// Make every write through the proxy fail (and be recorded), so a test can show none happened.
fn forbid_writes(proxy: &FaultProxy) -> anyhow::Result<()> {
    for write in [
        "PUT /",
        "DELETE /",
        "Action=PutRolePolicy",
        "Action=DeleteRolePolicy",
        "TrentService.PutKeyPolicy",
    ] {
        proxy.inject(json!({"match": write, "status": 403, "code": "AccessDenied", "message": "a write reached AWS", "count": 100}))?;
    }
    Ok(())
}

/// The fault rule that fails the write of `plan.edits[index]` and nothing else, with the
/// request it is expected to hit.
fn write_fault(plan: &Plan, index: usize) -> (Value, &'static str) {
    let message = "injected by tests/moto_apply.rs";
    match &plan.edits[index].resource {
        ResourceRef::InlinePolicy { .. } => (
            json!({"match": "Action=PutRolePolicy", "status": 403, "code": "AccessDenied", "message": message, "count": 1}),
            "Action=PutRolePolicy",
        ),
        ResourceRef::KeyPolicy { key } => {
            // Two PutKeyPolicy requests look alike (`POST / TrentService.PutKeyPolicy`): the
            // body names the key.
            let id = key.rsplit('/').next().unwrap();
            (
                json!({"match": "TrentService.PutKeyPolicy", "body": id, "status": 403, "code": "AccessDeniedException", "message": message, "count": 1}),
                "TrentService.PutKeyPolicy",
            )
        }
        ResourceRef::BucketPolicy { bucket } => (
            json!({"match": format!("PUT /{bucket}/?policy"), "status": 403, "code": "AccessDenied", "message": message, "count": 1}),
            "?policy",
        ),
        ResourceRef::OwnershipControls { bucket } => (
            json!({"match": format!("PUT /{bucket}/?ownershipControls"), "status": 403, "code": "AccessDenied", "message": message, "count": 1}),
            "?ownershipControls",
        ),
        other => panic!("not a written resource: {other:?}"),
    }
}

#[tokio::test]
async fn fault_campaign_each_step_fails_in_turn_and_the_accounts_are_restored() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let proxy = FaultProxy::start_plus(&moto.endpoint)?;
    let mut steps = None;
    let mut failing = 1;
    while steps.is_none_or(|count| failing <= count) {
        // A fresh world for each step.
        support::http(&moto.endpoint, "POST", "/moto-api/reset", "")?;
        support::http(&proxy.endpoint, "DELETE", "/__fault__", "")?;
        let fixture = fixture(&moto.endpoint, "s3fix-apply-campaign").await?;
        let start = fixture.state().await?;
        let directory = tempfile::tempdir()?;
        let plan = plan(&fixture, directory.path(), &proxy.endpoint);
        let kinds: Vec<&ResourceRef> = plan.edits.iter().map(|edit| &edit.resource).collect();
        assert!(
            plan.edits.len() >= 4,
            "the campaign needs at least four steps, got {kinds:?}"
        );
        assert!(matches!(kinds[0], ResourceRef::InlinePolicy { .. }), "{kinds:?}");
        assert!(
            kinds
                .iter()
                .filter(|kind| matches!(kind, ResourceRef::KeyPolicy { .. }))
                .count()
                == 2,
            "{kinds:?}"
        );
        assert!(
            matches!(kinds.last().unwrap(), ResourceRef::BucketPolicy { .. }),
            "{kinds:?}"
        );
        steps = Some(plan.edits.len());

        let (rule, expected_hit) = write_fault(&plan, failing - 1);
        proxy.inject(rule)?;
        let output = s3fix(directory.path(), &["apply", "plan.json", "--yes"]);
        let log = stderr(&output);
        assert_eq!(output.status.code(), Some(3), "step {failing}: {log}");
        assert!(
            log.contains("injected by tests/moto_apply.rs"),
            "step {failing}: {log}"
        );
        assert!(log.contains("Journal `"), "step {failing}: {log}");
        let hits = proxy.hits()?;
        eprintln!("step {failing}: failed {hits:?}");
        assert_eq!(
            hits.len(),
            1,
            "step {failing}: exactly the one write failed: {hits:?}"
        );
        assert!(hits[0].contains(expected_hit), "step {failing}: {hits:?}");

        assert_eq!(
            fixture.state().await?,
            start,
            "step {failing}: the accounts are exactly as before"
        );
        let (journaled, _) = only_journal(directory.path());
        assert_eq!(journaled.status, OperationStatus::RolledBack);
        assert_eq!(journaled.steps.len(), plan.edits.len());
        for (index, step) in journaled.steps.iter().enumerate() {
            assert_eq!(step.resource, plan.edits[index].resource);
            assert_eq!(
                step.before, plan.edits[index].before,
                "step {failing}, journal step {index}"
            );
            assert_eq!(step.after.as_ref(), Some(&plan.edits[index].after));
            let expected = if index < failing {
                StepState::Restored
            } else {
                StepState::Pending
            };
            assert_eq!(step.state, expected, "step {failing}, journal step {index}");
        }
        assert!(
            journaled.steps[failing - 1]
                .error
                .as_deref()
                .is_some_and(|error| error.contains("injected")),
            "step {failing}: the failing step keeps its error: {:?}",
            journaled.steps[failing - 1]
        );
        failing += 1;
    }
    eprintln!(
        "fault campaign: {} steps in {:.1}s",
        steps.unwrap(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::test]
async fn a_failing_restore_exits_4_with_the_journal_and_manual_steps_then_rollback_finishes()
-> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let proxy = FaultProxy::start_plus(&moto.endpoint)?;
    let fixture = fixture(&moto.endpoint, "s3fix-apply-restore").await?;
    let start = fixture.state().await?;
    let directory = tempfile::tempdir()?;
    let plan = plan(&fixture, directory.path(), &proxy.endpoint);
    let last = plan.edits.len() - 1;
    // The last write fails; restoring the first step (deleting the new inline policy) fails too.
    proxy.inject(write_fault(&plan, last).0)?;
    proxy.inject(json!({"match": "Action=DeleteRolePolicy", "status": 403, "code": "AccessDenied", "message": "injected restore failure", "count": 1}))?;
    let output = s3fix(directory.path(), &["apply", "plan.json", "--yes"]);
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(4), "{log}");
    let (journaled, path) = only_journal(directory.path());
    assert_eq!(journaled.status, OperationStatus::RollbackIncomplete);
    // The journal path as printed: relative to the working directory, like the default
    // `--journal-dir`.
    assert!(path.ends_with(format!(".s3fix/journal/{}.json", journaled.id)));
    assert!(
        log.contains(&format!("Journal `.s3fix/journal/{}.json`", journaled.id)),
        "{log}"
    );
    assert!(log.contains("Manual steps:"), "{log}");
    assert!(
        log.contains(&format!(
            "delete inline policy `s3fix-{}` of `{PRINCIPAL}`",
            fixture.bucket
        )),
        "{log}"
    );
    assert!(log.contains(&format!("s3fix rollback {}", journaled.id)), "{log}");
    let states: Vec<StepState> = journaled.steps.iter().map(|step| step.state).collect();
    assert_eq!(states[0], StepState::RestoreFailed, "{states:?}");
    assert!(
        states[1..].iter().all(|state| *state == StepState::Restored),
        "{states:?}"
    );
    assert!(
        journaled.steps[0]
            .error
            .as_deref()
            .is_some_and(|error| error.contains("DeleteRolePolicy")),
        "{:?}",
        journaled.steps[0]
    );
    // Only the inline policy is left over.
    let left = fixture.state().await?;
    assert_ne!(left, start);
    assert_eq!(
        State {
            inline_policies: start.inline_policies.clone(),
            ..left.clone()
        },
        start
    );

    // The printed retry finishes the job.
    let rolled = s3fix(directory.path(), &["rollback", &journaled.id]);
    assert_eq!(rolled.status.code(), Some(0), "{}", stderr(&rolled));
    assert_eq!(fixture.state().await?, start);
    Ok(())
}

#[tokio::test]
async fn apply_then_rollback_through_the_sdk() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let fixture = fixture(&moto.endpoint, "s3fix-apply-happy").await?;
    let start = fixture.state().await?;
    let directory = tempfile::tempdir()?;
    let plan = plan(&fixture, directory.path(), &moto.endpoint);
    let applied = s3fix(directory.path(), &["apply", "plan.json", "--yes"]);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert!(
        stderr(&applied).contains("Applied and verified"),
        "{}",
        stderr(&applied)
    );
    let after = fixture.state().await?;
    // Every planned after-value is what AWS now holds.
    for edit in &plan.edits {
        let now = match &edit.resource {
            ResourceRef::InlinePolicy { name, .. } => after.inline_policies.get(name).cloned(),
            ResourceRef::KeyPolicy { key } if *key == fixture.key_a => Some(after.key_policy_a.clone()),
            ResourceRef::KeyPolicy { .. } => Some(after.key_policy_b.clone()),
            ResourceRef::BucketPolicy { .. } => after.bucket_policy.clone(),
            other => panic!("unexpected edit {other:?}"),
        };
        assert_eq!(now.as_ref(), Some(&edit.after), "{}", edit.resource.describe());
    }
    // The statement that was there is kept.
    assert!(
        after.bucket_policy.as_ref().unwrap()["Statement"]
            .as_array()
            .unwrap()
            .contains(&start.bucket_policy.as_ref().unwrap()["Statement"][0])
    );
    let (journaled, _) = only_journal(directory.path());
    assert_eq!(journaled.status, OperationStatus::Applied);
    assert!(
        journaled
            .steps
            .iter()
            .all(|step| step.state == StepState::Written)
    );

    let rolled = s3fix(directory.path(), &["rollback", &journaled.id]);
    assert_eq!(rolled.status.code(), Some(0), "{}", stderr(&rolled));
    assert_eq!(fixture.state().await?, start);
    let (original, _) = Journal::new(&directory.path().join(".s3fix/journal")).load(&journaled.id)?;
    assert_eq!(original.status, OperationStatus::RolledBack);
    Ok(())
}

#[tokio::test]
async fn a_stale_plan_is_refused_before_any_write() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let proxy = FaultProxy::start(&moto.endpoint)?;
    let fixture = fixture(&moto.endpoint, "s3fix-apply-stale").await?;
    let directory = tempfile::tempdir()?;
    let _plan = plan(&fixture, directory.path(), &proxy.endpoint);
    // Someone changes the bucket policy after the plan.
    let mut changed = fixture.state().await?.bucket_policy.unwrap();
    changed["Id"] = json!("changed-by-someone");
    fixture
        .s3
        .put_bucket_policy()
        .bucket(&fixture.bucket)
        .policy(changed.to_string())
        .send()
        .await?;
    let before = fixture.state().await?;
    // Any write would hit (and fail on) one of these; none may.
    forbid_writes(&proxy)?;
    let output = s3fix(directory.path(), &["apply", "plan.json", "--yes"]);
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        log.contains("plan is stale") && log.contains(&format!("bucket policy of `{}`", fixture.bucket)),
        "{log}"
    );
    assert_eq!(
        proxy.hits()?,
        Vec::<String>::new(),
        "no write request reached the proxy"
    );
    assert!(
        Journal::new(&directory.path().join(".s3fix/journal"))
            .operations()
            .is_empty(),
        "no journal: nothing was written"
    );
    assert_eq!(fixture.state().await?, before);
    Ok(())
}

#[tokio::test]
async fn a_tampered_plan_is_refused_through_the_sdk_before_any_write() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let proxy = FaultProxy::start(&moto.endpoint)?;
    let fixture = fixture(&moto.endpoint, "s3fix-apply-tampered").await?;
    let directory = tempfile::tempdir()?;
    let planned = plan(&fixture, directory.path(), &proxy.endpoint);
    let mut tampered = serde_json::to_value(&planned)?;
    let index = planned
        .edits
        .iter()
        .position(|edit| matches!(edit.resource, ResourceRef::InlinePolicy { .. }))
        .unwrap();
    tampered["edits"][index]["after"]["Statement"][0]["Action"] = json!("s3:*");
    tampered["edits"][index]["after"]["Statement"][0]["Resource"] = json!("*");
    std::fs::write(
        directory.path().join("plan.json"),
        serde_json::to_vec_pretty(&tampered)?,
    )?;
    let before = fixture.state().await?;
    forbid_writes(&proxy)?;
    let output = s3fix(directory.path(), &["apply", "plan.json", "--yes"]);
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        log.contains("the plan file does not match what s3fix plans now"),
        "{log}"
    );
    assert_eq!(
        proxy.hits()?,
        Vec::<String>::new(),
        "no write request reached the proxy"
    );
    assert!(
        Journal::new(&directory.path().join(".s3fix/journal"))
            .operations()
            .is_empty()
    );
    assert_eq!(fixture.state().await?, before);
    // Without the endpoint on the command line, the plan's endpoint is not used at all.
    let bare = Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args(["apply", "plan.json", "--yes"])
        .current_dir(directory.path())
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null())
        .output()?;
    assert_eq!(bare.status.code(), Some(1));
    assert!(stderr(&bare).contains("never sends credentials to an endpoint named only in a file"));
    Ok(())
}

#[tokio::test]
async fn probe_reads_each_key_as_the_principal_after_a_verified_apply() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let proxy = FaultProxy::start_plus(&moto.endpoint)?;
    let fixture = fixture(&moto.endpoint, "s3fix-apply-probe").await?;
    let directory = tempfile::tempdir()?;
    plan(&fixture, directory.path(), &proxy.endpoint);
    // Count the probe's role assumptions without failing any: a rule that lets 100 through.
    proxy.inject(
        json!({"match": "Action=AssumeRole", "body": "RoleSessionName=s3fix-probe", "skip": 100, "count": 1}),
    )?;
    let output = s3fix(directory.path(), &["apply", "plan.json", "--yes", "--probe"]);
    let log = stderr(&output);
    eprintln!("{log}");
    assert_eq!(output.status.code(), Some(0), "{log}");
    for key in ["a.csv", "b.csv"] {
        assert!(
            log.contains(&format!(
                "probe: HeadObject `s3://s3fix-apply-probe/{key}` as `{PRINCIPAL}`: allowed"
            )),
            "{log}"
        );
    }
    assert!(!log.contains("warning"), "{log}");
    let (_, rules) = support::http(&proxy.endpoint, "GET", "/__fault__", "")?;
    let rules: Value = serde_json::from_str(&rules)?;
    assert_eq!(
        rules["rules"][0]["skip"], 99,
        "one AssumeRole with session name s3fix-probe: {rules}"
    );
    // The probe came after the verification.
    let applied = log.find("Applied and verified").unwrap();
    assert!(log.find("probe: HeadObject").unwrap() > applied, "{log}");
    Ok(())
}

#[tokio::test]
async fn a_denied_probe_is_a_warning_not_a_rollback() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let proxy = FaultProxy::start_plus(&moto.endpoint)?;
    let fixture = fixture(&moto.endpoint, "s3fix-apply-probe-denied").await?;
    let start = fixture.state().await?;
    let directory = tempfile::tempdir()?;
    plan(&fixture, directory.path(), &proxy.endpoint);
    // The observation HEADs a.csv too: the rule only arms once the probe has assumed the role.
    proxy.inject(json!({"match": "HEAD /s3fix-apply-probe-denied/a.csv", "armedBy": "RoleSessionName=s3fix-probe", "status": 403, "code": "AccessDenied", "count": 1}))?;
    let output = s3fix(directory.path(), &["apply", "plan.json", "--yes", "--probe"]);
    let log = stderr(&output);
    eprintln!("{log}");
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert_eq!(proxy.hits()?.len(), 1, "{log}");
    assert!(
        log.contains(&format!(
            "warning: probe: HeadObject `s3://s3fix-apply-probe-denied/a.csv` as `{PRINCIPAL}` was denied"
        )),
        "{log}"
    );
    assert!(
        log.contains("probe: HeadObject `s3://s3fix-apply-probe-denied/b.csv` as"),
        "{log}"
    );
    let (journaled, _) = only_journal(directory.path());
    assert_eq!(
        journaled.status,
        OperationStatus::Applied,
        "kept, not rolled back"
    );
    assert_ne!(fixture.state().await?, start);
    Ok(())
}

#[tokio::test]
async fn a_principal_that_cannot_be_assumed_is_reported_without_failing_the_apply() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let proxy = FaultProxy::start_plus(&moto.endpoint)?;
    let fixture = fixture(&moto.endpoint, "s3fix-apply-probe-noassume").await?;
    let directory = tempfile::tempdir()?;
    plan(&fixture, directory.path(), &proxy.endpoint);
    // Every assumption with the probe's session name is refused (directly, and chained through
    // the caller's admin role); the admin sessions of the apply itself are not.
    proxy.inject(json!({"match": "Action=AssumeRole", "body": "RoleSessionName=s3fix-probe", "status": 403, "code": "AccessDenied", "message": "not authorized to perform sts:AssumeRole", "count": 10}))?;
    let output = s3fix(directory.path(), &["apply", "plan.json", "--yes", "--probe"]);
    let log = stderr(&output);
    eprintln!("{log}");
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(
        log.contains(&format!(
            "warning: cannot assume the principal to probe: cannot assume role `{PRINCIPAL}`"
        )),
        "{log}"
    );
    assert!(log.contains("not authorized to perform sts:AssumeRole"), "{log}");
    assert!(!log.contains("probe: HeadObject"), "{log}");
    let (journaled, _) = only_journal(directory.path());
    assert_eq!(journaled.status, OperationStatus::Applied);
    Ok(())
}

#[tokio::test]
async fn a_transient_server_error_is_retried_not_rolled_back() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let proxy = FaultProxy::start(&moto.endpoint)?;
    let fixture = fixture(&moto.endpoint, "s3fix-apply-transient").await?;
    let directory = tempfile::tempdir()?;
    plan(&fixture, directory.path(), &proxy.endpoint);
    // Two 500s on the first PutKeyPolicy: the SDK's third attempt goes through.
    proxy.inject(json!({"match": "TrentService.PutKeyPolicy", "status": 500, "code": "InternalError", "message": "transient", "count": 2}))?;
    let output = s3fix(directory.path(), &["apply", "plan.json", "--yes"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(proxy.hits()?.len(), 2);
    let (journaled, _) = only_journal(directory.path());
    assert_eq!(journaled.status, OperationStatus::Applied);
    Ok(())
}

#[tokio::test]
async fn a_failed_verification_rolls_back_every_step() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let proxy = FaultProxy::start_plus(&moto.endpoint)?;
    let fixture = fixture(&moto.endpoint, "s3fix-apply-verify").await?;
    let start = fixture.state().await?;
    let directory = tempfile::tempdir()?;
    plan(&fixture, directory.path(), &proxy.endpoint);
    // Once the last write (the bucket policy) went through, the verification cannot read the
    // two key policies (the restore reads after it can).
    proxy.inject(json!({"match": "TrentService.GetKeyPolicy", "armedBy": "PUT /s3fix-apply-verify/?policy", "status": 403, "code": "AccessDeniedException", "message": "injected", "count": 2}))?;
    let output = s3fix(
        directory.path(),
        &["apply", "plan.json", "--yes", "--verify-timeout", "1"],
    );
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{log}");
    assert!(log.contains("`a.csv` is Unknown, expected Allowed"), "{log}");
    assert_eq!(proxy.hits()?.len(), 2);
    assert_eq!(fixture.state().await?, start);
    let (journaled, _) = only_journal(directory.path());
    assert_eq!(journaled.status, OperationStatus::RolledBack);
    assert!(
        journaled
            .steps
            .iter()
            .all(|step| step.state == StepState::Restored),
        "{:?}",
        journaled.steps
    );
    Ok(())
}

/// A prefix pattern (`*`) is planned from the objects really under it: both SSE-KMS objects are
/// sampled through ListObjectsV2, so both key policies are granted, and apply (which observes
/// the objects the plan read) verifies and succeeds.
#[tokio::test]
async fn a_prefix_pattern_is_planned_from_the_objects_under_it() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let fixture = fixture(&moto.endpoint, "s3fix-apply-prefix").await?;
    let directory = tempfile::tempdir()?;
    let spec = fixture
        .spec()
        .replace("keys = [\"a.csv\", \"b.csv\"]", "keys = [\"*\"]");
    std::fs::write(directory.path().join("spec.toml"), spec)?;
    let output = s3fix(
        directory.path(),
        &[
            "plan",
            "spec.toml",
            "--endpoint-url",
            &moto.endpoint,
            "--region",
            "us-east-1",
            "-o",
            "plan.json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "plan: {}", stderr(&output));
    let plan: Plan = serde_json::from_str(&std::fs::read_to_string(directory.path().join("plan.json"))?)?;
    let key_edits: Vec<&ResourceRef> = plan
        .edits
        .iter()
        .map(|edit| &edit.resource)
        .filter(|resource| matches!(resource, ResourceRef::KeyPolicy { .. }))
        .collect();
    assert_eq!(
        key_edits.len(),
        2,
        "both objects' keys are granted: {key_edits:?}"
    );
    assert!(
        plan.fingerprints
            .iter()
            .any(|f| matches!(&f.resource, ResourceRef::Object { key, .. } if key == "b.csv")),
        "the sampled objects are fingerprinted"
    );
    let applied = s3fix(directory.path(), &["apply", "plan.json", "--yes"]);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    Ok(())
}

/// Two applies of one plan through the SDK at the same time: the second finds the locks held and
/// writes nothing; after the first, it is refused as stale; one writer, one journal.
#[cfg(feature = "failpoints")]
#[tokio::test]
async fn concurrent_applies_through_the_sdk_have_one_writer() -> anyhow::Result<()> {
    use std::io::{BufRead as _, BufReader};
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let fixture = fixture(&moto.endpoint, "s3fix-apply-concurrent").await?;
    let directory = tempfile::tempdir()?;
    plan(&fixture, directory.path(), &moto.endpoint);
    let release = directory.path().join("release");
    let mut first = Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args(["apply", "plan.json", "--yes", "--endpoint-url", &moto.endpoint])
        .current_dir(directory.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("S3FIX_FAILPOINT", "pause-before-write:1")
        .env("S3FIX_FAILPOINT_RELEASE", &release)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(first.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines.next().expect("the first apply reaches its pause")?;
        let paused = line.contains("failpoint pause-before-write:1: paused");
        seen.push(line);
        if paused {
            break;
        }
    }
    let second = s3fix(directory.path(), &["apply", "plan.json", "--yes"]);
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("another s3fix apply holds the lock on"),
        "{}",
        stderr(&second)
    );
    std::fs::write(&release, "")?;
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(first.wait()?.code(), Some(0), "{seen:?} {rest:?}");
    let again = s3fix(directory.path(), &["apply", "plan.json", "--yes"]);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(stderr(&again).contains("plan is stale"), "{}", stderr(&again));
    let (journaled, _) = only_journal(directory.path());
    assert_eq!(journaled.status, OperationStatus::Applied);
    Ok(())
}

/// A bucket policy stored one statement per line: apply puts the text with only the new
/// statements inserted, and rollback puts the original bytes back (moto stores the text as sent).
#[tokio::test]
async fn a_per_line_bucket_policy_is_written_as_read_and_rolled_back_byte_for_byte() -> anyhow::Result<()> {
    let Some(moto) = support::moto() else {
        return Ok(());
    };
    let fixture = fixture(&moto.endpoint, "s3fix-apply-as-read").await?;
    let statement = json!({"Sid": "OwnerReadsPolicy", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{BUCKET_ACCOUNT}:root")}, "Action": "s3:GetBucketPolicy", "Resource": format!("arn:aws:s3:::{}", fixture.bucket)});
    let original =
        format!("{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {statement}\n  ]\n}}\n");
    fixture
        .s3
        .put_bucket_policy()
        .bucket(&fixture.bucket)
        .policy(&original)
        .send()
        .await?;
    let stored = || async {
        let output = fixture
            .s3
            .get_bucket_policy()
            .bucket(&fixture.bucket)
            .send()
            .await?;
        anyhow::Ok(output.policy().unwrap_or_default().to_string())
    };
    assert_eq!(stored().await?, original, "moto keeps the text as sent");
    let directory = tempfile::tempdir()?;
    let plan = plan(&fixture, directory.path(), &moto.endpoint);
    let edit = plan
        .edits
        .iter()
        .find(|edit| matches!(edit.resource, ResourceRef::BucketPolicy { .. }))
        .expect("the plan edits the bucket policy");
    assert_eq!(edit.before_text.as_deref(), Some(original.as_str()));
    let applied = s3fix(directory.path(), &["apply", "plan.json", "--yes"]);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    let written = stored().await?;
    assert_eq!(Some(written.as_str()), edit.after_text.as_deref());
    let kept = format!("{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {statement},\n    {{");
    assert!(written.starts_with(&kept), "{written}");
    assert!(written.ends_with("}\n  ]\n}\n"), "{written}");
    // A key policy (created as one line) is put as its planned one-line text.
    assert!(
        plan.edits
            .iter()
            .any(|edit| matches!(edit.resource, ResourceRef::KeyPolicy { .. }))
    );
    for edit in &plan.edits {
        if let ResourceRef::KeyPolicy { key } = &edit.resource {
            let output = fixture
                .kms
                .get_key_policy()
                .key_id(key)
                .policy_name("default")
                .send()
                .await?;
            let text = edit
                .after_text
                .as_deref()
                .expect("a key policy read with its text");
            assert_eq!(output.policy(), Some(text));
            assert!(!text.contains('\n'), "{text}");
        }
    }
    let (journaled, _) = only_journal(directory.path());
    let rolled = s3fix(directory.path(), &["rollback", &journaled.id]);
    assert_eq!(rolled.status.code(), Some(0), "{}", stderr(&rolled));
    assert_eq!(stored().await?, original);
    Ok(())
}

//! Reads for scheduled drift checks: `observe_many` over many specs against separate `observe`s.
//!
//! Run: `cargo bench --bench drift`. It starts its own moto on a free loopback port through
//! `scripts/moto.sh` (and stops it at the end), creates 20 buckets in account 111111111111 and
//! 5 roles in 222222222222, and builds 100 specs (each: one of the roles, one of the buckets,
//! keys `data/*`, access read+list; every pair once). A spec's key patterns that end in `*` are
//! prefixes, not objects, so its request names no object (as `s3fix drift` builds it).
//!
//! It prints, for `observe_many` over 25, 50 and 100 specs and for 100 separate `observe`
//! calls: wall time (median of 3 runs) and API calls, per spec and per distinct resource
//! (buckets + principals + KMS keys + accounts). Calls grow with distinct resources, not specs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/support/mod.rs"]
mod support;

use s3fix::adapter::aws::AwsAdapter;
use s3fix::adapter::{Adapter, ObserveRequest};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{BUCKET_ACCOUNT, CALLER_ACCOUNT};

const BUCKETS: usize = 20;
const ROLES: usize = 5;
const KMS_KEYS: usize = 2;
const RUNS: usize = 3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A moto server started through `scripts/moto.sh`; stopped when dropped.
struct Moto {
    port: u16,
    endpoint: String,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap_or_else(|error| fail(&format!("cannot find a free loopback port: {error}")));
        let output = Command::new(root().join("scripts/moto.sh"))
            .env("MOTO_PORT", port.to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|error| fail(&format!("cannot run scripts/moto.sh: {error}")));
        if !output.status.success() {
            fail(&format!(
                "moto did not start on port {port} (scripts/moto.sh exited with {}); \
                 it needs python3 and `pip install \"moto[server]\"` into .venv",
                output.status
            ));
        }
        Moto {
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/moto.sh"))
            .arg("stop")
            .env("MOTO_PORT", self.port.to_string())
            .stdin(Stdio::null())
            .status();
    }
}

fn fail(message: &str) -> ! {
    eprintln!("drift bench: {message}");
    std::process::exit(1);
}

fn trust_policy() -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}).to_string()
}

fn bucket_name(index: usize) -> String {
    format!("s3fix-drift-{index:02}")
}

/// The accounts' state: admin roles, 5 roles (inline + shared managed policy), 2 KMS keys,
/// 20 buckets (a policy for the 5 roles, default SSE-KMS with one of the keys).
async fn populate(endpoint: &str) -> anyhow::Result<Vec<String>> {
    let base = support::base_config(endpoint).await;
    let bucket_admin = support::assume(&base, &support::admin_role(BUCKET_ACCOUNT)).await?;
    let caller_admin = support::assume(&base, &support::admin_role(CALLER_ACCOUNT)).await?;
    let iam_a = aws_sdk_iam::Client::new(&bucket_admin);
    let iam_b = aws_sdk_iam::Client::new(&caller_admin);
    for iam in [&iam_a, &iam_b] {
        iam.create_role()
            .role_name("s3fix-admin")
            .assume_role_policy_document(trust_policy())
            .send()
            .await?;
    }
    let managed = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::s3fix-drift-*", "arn:aws:s3:::s3fix-drift-*/data/*"]}]});
    let managed_arn = iam_b
        .create_policy()
        .policy_name("s3fix-drift-read")
        .policy_document(managed.to_string())
        .send()
        .await?
        .policy()
        .and_then(|policy| policy.arn())
        .unwrap_or_default()
        .to_string();
    let mut roles = Vec::new();
    for index in 0..ROLES {
        let name = format!("app-{index}");
        let role = iam_b
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(trust_policy())
            .send()
            .await?;
        roles.push(role.role().map(|role| role.arn().to_string()).unwrap_or_default());
        iam_b
            .put_role_policy()
            .role_name(&name)
            .policy_name("use-keys")
            .policy_document(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}).to_string())
            .send()
            .await?;
        iam_b
            .attach_role_policy()
            .role_name(&name)
            .policy_arn(&managed_arn)
            .send()
            .await?;
    }
    let kms = aws_sdk_kms::Client::new(&bucket_admin);
    let mut keys = Vec::new();
    for _ in 0..KMS_KEYS {
        let key = kms.create_key().description("s3fix drift bench").send().await?;
        keys.push(
            key.key_metadata()
                .and_then(|metadata| metadata.arn())
                .unwrap_or_default()
                .to_string(),
        );
    }
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let s3 = support::s3(&bucket_admin);
    for index in 0..BUCKETS {
        let bucket = bucket_name(index);
        s3.create_bucket().bucket(&bucket).send().await?;
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": &roles}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/data/*")},
            {"Sid": "List", "Effect": "Allow", "Principal": {"AWS": &roles}, "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{bucket}")}
        ]});
        s3.put_bucket_policy()
            .bucket(&bucket)
            .policy(policy.to_string())
            .send()
            .await?;
        s3.put_bucket_encryption()
            .bucket(&bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::AwsKms)
                                    .kms_master_key_id(&keys[index % KMS_KEYS])
                                    .build()?,
                            )
                            .build(),
                    )
                    .build()?,
            )
            .send()
            .await?;
    }
    Ok(roles)
}

/// Spec `index`: role `index % 5` on bucket `index / 5`, keys `data/*`, read+list. The first
/// 25 specs name 5 buckets, the first 50 name 10, all 100 name 20; each names all 5 roles.
fn request(roles: &[String], index: usize) -> ObserveRequest {
    let keys = ["data/*"];
    ObserveRequest {
        bucket: bucket_name(index / ROLES),
        // As `s3fix drift` builds a request: prefix patterns name no object.
        keys: keys
            .iter()
            .filter(|key| !key.ends_with('*'))
            .map(|key| key.to_string())
            .collect(),
        principal_arn: roles[index % ROLES].clone(),
    }
}

fn total(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    after.values().sum::<u64>() - before.values().sum::<u64>()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Distinct resources the requests need: buckets, principals, KMS keys and accounts.
fn distinct(requests: &[ObserveRequest]) -> (usize, usize, usize) {
    let mut buckets: Vec<&str> = requests.iter().map(|request| request.bucket.as_str()).collect();
    buckets.sort_unstable();
    buckets.dedup();
    let mut principals: Vec<&str> = requests
        .iter()
        .map(|request| request.principal_arn.as_str())
        .collect();
    principals.sort_unstable();
    principals.dedup();
    let keys = buckets.len().min(KMS_KEYS);
    // Buckets, principals, keys, and the two accounts.
    (
        buckets.len(),
        principals.len(),
        buckets.len() + principals.len() + keys + 2,
    )
}

struct Measure {
    wall: Duration,
    calls: u64,
}

async fn measure_many(adapter: &AwsAdapter, requests: &[ObserveRequest]) -> Measure {
    let mut times = Vec::new();
    let mut calls = 0;
    for _ in 0..RUNS {
        let before = adapter.call_counts();
        let started = Instant::now();
        let world = adapter
            .observe_many(requests)
            .await
            .unwrap_or_else(|error| fail(&format!("observe_many failed: {error}")));
        times.push(started.elapsed());
        calls = total(&before, &adapter.call_counts());
        assert!(world.unknown.is_empty(), "{:#?}", world.unknown);
    }
    Measure {
        wall: median(times),
        calls,
    }
}

async fn measure_separate(adapter: &AwsAdapter, requests: &[ObserveRequest]) -> Measure {
    let mut times = Vec::new();
    let mut calls = 0;
    for _ in 0..RUNS {
        let before = adapter.call_counts();
        let started = Instant::now();
        for request in requests {
            adapter
                .observe(request)
                .await
                .unwrap_or_else(|error| fail(&format!("observe failed: {error}")));
        }
        times.push(started.elapsed());
        calls = total(&before, &adapter.call_counts());
    }
    Measure {
        wall: median(times),
        calls,
    }
}

fn row(label: &str, requests: &[ObserveRequest], measure: &Measure) {
    let (buckets, principals, resources) = distinct(requests);
    println!(
        "{label:<28} {:>5} {:>7} {:>10} {:>9.1} {:>6} {:>9.2} {:>9.1}",
        requests.len(),
        format!("{buckets}/{principals}"),
        format!("{:.0} ms", measure.wall.as_secs_f64() * 1000.0),
        measure.wall.as_secs_f64() * 1000.0 / requests.len() as f64,
        measure.calls,
        measure.calls as f64 / requests.len() as f64,
        measure.calls as f64 / resources as f64,
    );
}

fn main() {
    // SAFETY: single-threaded here, before any runtime or client exists.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::remove_var("AWS_SESSION_TOKEN");
        std::env::remove_var("AWS_PROFILE");
    }
    let started = Instant::now();
    let moto = Moto::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| fail(&format!("cannot start the async runtime: {error}")));
    runtime.block_on(async {
        let roles = populate(&moto.endpoint)
            .await
            .unwrap_or_else(|error| fail(&format!("cannot create the buckets and roles in moto: {error:#}")));
        let adapter = support::adapter(&moto.endpoint)
            .await
            .unwrap_or_else(|error| fail(&format!("cannot connect the adapter: {error:#}")));
        let specs: Vec<ObserveRequest> = (0..BUCKETS * ROLES).map(|index| request(&roles, index)).collect();
        println!(
            "drift bench: moto at {} ({BUCKETS} buckets in {BUCKET_ACCOUNT}, {ROLES} roles in {CALLER_ACCOUNT}, {KMS_KEYS} KMS keys), median of {RUNS} runs",
            moto.endpoint
        );
        println!(
            "{:<28} {:>5} {:>7} {:>10} {:>9} {:>6} {:>9} {:>9}",
            "", "specs", "bkt/pr", "wall", "ms/spec", "calls", "calls/sp", "calls/res"
        );
        for count in [25, 50, 100] {
            let requests = &specs[..count];
            row(
                &format!("observe_many ({count} specs)"),
                requests,
                &measure_many(&adapter, requests).await,
            );
        }
        row(
            "100 separate observe",
            &specs,
            &measure_separate(&adapter, &specs).await,
        );
        println!("observe_many (100 specs) by read concurrency:");
        for limit in [1, 4, 8, 16, 32] {
            let adapter = support::adapter(&moto.endpoint)
                .await
                .unwrap_or_else(|error| fail(&format!("cannot connect the adapter: {error:#}")))
                .with_read_concurrency(limit);
            row(
                &format!("  concurrency {limit}"),
                &specs,
                &measure_many(&adapter, &specs).await,
            );
        }
    });
    println!("drift bench: done in {:.1} s", started.elapsed().as_secs_f64());
    drop(moto);
}

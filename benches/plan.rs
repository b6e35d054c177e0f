//! `plan` on a busy bucket: time and peak memory over worlds of 10, 100 and 1,000 statements,
//! roles and objects.
//!
//! Run: `cargo bench --bench plan` (release). Each world: bucket `busy-bucket` in 111111111111
//! (ObjectWriter), N team roles (each with an identity policy reading its own `team-i/*` prefix)
//! and 2N objects: half under `team-i/`, owned by the bucket account, half under `data/`,
//! uploaded by 333333333333. A team role in 222222222222 also needs a bucket-policy statement;
//! the bucket policy holds as many of those as fit under AWS's 20 KB bucket-policy limit (S3
//! "Bucket policies and user policies"), keeping 1 KB for the statement the plan adds. The other
//! team roles live in the bucket's own account, where their identity policy alone grants the
//! read. So at 10 and 100 every team role is cross-account with its own bucket-policy statement;
//! at 1,000 the bucket policy holds what fits and the rest of the 1,000 statements are identity
//! policies of same-account roles. The spec: `app-role` reads and lists `data/*`, which needs an
//! identity grant, a bucket-policy grant and the ownership switch (the foreign objects block the
//! read).
//!
//! It prints, per size and for one proof worker and for this machine's cores (at most 8, as
//! `s3fix plan` uses), what the world holds, the wall time of `plan` (median of 3 runs; 1 run
//! at 1,000), the number of requests the probes checked, and the process's peak resident memory
//! so far (VmHWM). `cargo bench --bench plan -- --write DIR` also writes `busy-N.world.json` and
//! `busy-N.toml` for `s3fix plan` from the command line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use s3fix::core::plan::{PlanOptions, plan_with_workers};
use s3fix::core::spec::Spec;
use s3fix::core::world::World;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const BUCKET: &str = "busy-bucket";
const BUCKET_ACCOUNT: &str = "111111111111";
const CALLER_ACCOUNT: &str = "222222222222";
const UPLOADER: &str = "333333333333";
/// Bytes of the 20 KB bucket-policy limit kept free for the statement the plan adds.
const ROOM_FOR_THE_PLAN: usize = 1024;
/// AWS's bucket-policy limit, in bytes.
const BUCKET_POLICY_LIMIT: usize = 20 * 1024;

/// The shape of a busy world: how many team roles are cross-account (with a bucket-policy
/// statement each) and how many live in the bucket's account (identity policy only).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Team roles in the caller account, each with a bucket-policy statement.
    pub cross_account: usize,
    /// Team roles in the bucket account, granted by their identity policy alone.
    pub same_account: usize,
    /// Bytes of the bucket policy (compact JSON).
    pub policy_bytes: usize,
}

fn bucket_statement(index: usize) -> Value {
    json!({
        "Sid": format!("T{index}"),
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{CALLER_ACCOUNT}:role/team-{index}")},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{BUCKET}/team-{index}/*"),
    })
}

/// The busy world of size `n`, and its shape.
pub fn busy_world(n: usize) -> (World, Shape) {
    let mut statements: Vec<Value> = Vec::new();
    let mut policy_bytes = policy_size(&statements);
    for index in 0..n {
        statements.push(bucket_statement(index));
        let size = policy_size(&statements);
        if size + ROOM_FOR_THE_PLAN > BUCKET_POLICY_LIMIT {
            statements.pop();
            break;
        }
        policy_bytes = size;
    }
    let cross_account = statements.len();
    let mut principals = vec![json!({
        "arn": format!("arn:aws:iam::{CALLER_ACCOUNT}:role/app-role"),
        "kind": "role",
        "inlinePolicies": [{"name": "logs", "document": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}}]
    })];
    let mut objects = Vec::new();
    for index in 0..n {
        let account = if index < cross_account {
            CALLER_ACCOUNT
        } else {
            BUCKET_ACCOUNT
        };
        let role = format!("arn:aws:iam::{account}:role/team-{index}");
        principals.push(json!({
            "arn": role,
            "kind": "role",
            "inlinePolicies": [{"name": "team", "document": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/team-{index}/*")}]}}]
        }));
        objects.push(json!({"key": format!("team-{index}/part-{index}.csv"), "owner": BUCKET_ACCOUNT}));
        objects.push(json!({
            "key": format!("data/upload-{index}.csv"),
            "owner": UPLOADER,
            "acl": {"owner": UPLOADER, "grants": [{"grantee": {"type": "CanonicalUser", "id": "c3", "account": UPLOADER}, "permission": "FULL_CONTROL"}]}
        }));
    }
    principals.push(json!({
        "arn": format!("arn:aws:iam::{BUCKET_ACCOUNT}:role/bucket-admin"),
        "kind": "role",
        "inlinePolicies": [{"name": "admin", "document": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]
    }));
    let world: Value = json!({
        "formatVersion": 1,
        "accounts": [{"id": BUCKET_ACCOUNT}, {"id": CALLER_ACCOUNT}],
        "buckets": [{
            "name": BUCKET, "account": BUCKET_ACCOUNT, "region": "us-east-1", "ownership": "ObjectWriter",
            "policy": {"Version": "2012-10-17", "Statement": statements},
            "acl": {"owner": BUCKET_ACCOUNT, "grants": [{"grantee": {"type": "CanonicalUser", "id": "c1", "account": BUCKET_ACCOUNT}, "permission": "FULL_CONTROL"}]},
            "objects": objects,
        }],
        "principals": principals,
    });
    let shape = Shape {
        cross_account,
        same_account: n - cross_account,
        policy_bytes,
    };
    (serde_json::from_value(world).unwrap(), shape)
}

fn policy_size(statements: &[Value]) -> usize {
    serde_json::to_string(&json!({"Version": "2012-10-17", "Statement": statements}))
        .unwrap()
        .len()
}

/// The spec text for the busy world.
pub fn busy_spec_text() -> String {
    format!(
        "principal = \"arn:aws:iam::{CALLER_ACCOUNT}:role/app-role\"\nbucket = \"{BUCKET}\"\nkeys = [\"data/*\"]\naccess = [\"read\", \"list\"]\n"
    )
}

/// Peak resident memory of this process so far, in MB (Linux VmHWM).
fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    let spec = Spec::parse(&busy_spec_text(), "busy.toml").unwrap();
    if let Some(position) = arguments.iter().position(|argument| argument == "--write") {
        let dir = PathBuf::from(arguments.get(position + 1).expect("--write DIR"));
        std::fs::create_dir_all(&dir).unwrap();
        for n in [10, 100, 1000] {
            let text = serde_json::to_string_pretty(&busy_world(n).0).unwrap();
            std::fs::write(dir.join(format!("busy-{n}.world.json")), text).unwrap();
            std::fs::write(dir.join(format!("busy-{n}.toml")), busy_spec_text()).unwrap();
        }
        println!(
            "wrote busy-{{10,100,1000}}.world.json and .toml to {}",
            dir.display()
        );
        return;
    }
    println!("plan on a busy bucket (N statements, N roles, 2N objects)");
    for n in [10, 100, 1000] {
        let (_, shape) = busy_world(n);
        println!(
            "  N = {n}: {} cross-account roles with a bucket-policy statement each ({} bytes of {BUCKET_POLICY_LIMIT}), {} same-account roles granted by identity policy, {} objects",
            shape.cross_account,
            shape.policy_bytes,
            shape.same_account,
            2 * n
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get().min(8));
    println!("  proof workers: 1 and {cores} (this machine's cores, at most 8, as `s3fix plan` uses)");
    println!(
        "{:>6} {:>8} {:>12} {:>10} {:>16} {:>14}",
        "N", "workers", "plan (ms)", "edits", "requests checked", "peak RSS (MB)"
    );
    let mut worker_counts = vec![1];
    if cores > 1 {
        worker_counts.push(cores);
    }
    for n in [10, 100, 1000] {
        let (world, _) = busy_world(n);
        let mut plans = Vec::new();
        for &workers in &worker_counts {
            plans.push(run(n, workers, &world, &spec));
        }
        // The plan does not depend on how many workers proved it.
        assert!(
            plans.windows(2).all(|pair| pair[0] == pair[1]),
            "N = {n}: the plans made with {worker_counts:?} workers differ"
        );
    }
}

/// Plan `world` with `workers` proof workers, print a row, and return the plan as JSON.
fn run(n: usize, workers: usize, world: &World, spec: &Spec) -> Option<String> {
    {
        let runs = if n >= 1000 { 1 } else { 3 };
        let mut times: Vec<Duration> = Vec::new();
        let mut planned = None;
        for _ in 0..runs {
            let start = Instant::now();
            let result = plan_with_workers(world, spec, PlanOptions::default(), workers);
            times.push(start.elapsed());
            planned = Some(result);
        }
        times.sort();
        let median = times[times.len() / 2];
        // A world the proof refuses is reported, not hidden: the time is still what it took.
        let planned = match planned.unwrap() {
            Ok(planned) => planned,
            Err(error) => {
                let text = error.to_string();
                let reason = text.lines().nth(1).unwrap_or_default().trim();
                println!(
                    "{n:>6} {workers:>8} {:>12.1} {:>10} {:>16} {:>14.1}  (not planned: {reason})",
                    median.as_secs_f64() * 1000.0,
                    "-",
                    "-",
                    peak_mb()
                );
                return None;
            }
        };
        let checked = planned
            .proof
            .checks
            .iter()
            .find(|check| check.name == "no other access is widened")
            .and_then(|check| check.detail.strip_prefix("checked "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("?")
            .to_string();
        println!(
            "{n:>6} {workers:>8} {:>12.1} {:>10} {:>16} {:>14.1}",
            median.as_secs_f64() * 1000.0,
            planned.edits.len(),
            checked,
            peak_mb()
        );
        Some(serde_json::to_string(&planned).unwrap())
    }
}

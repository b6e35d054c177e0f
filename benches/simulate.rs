//! Throughput and memory of `s3fix simulate` on large JSON Lines files of realistic cases.
//!
//! Run: `cargo bench --bench simulate` (add `-- 1000000` for another case count). It builds the
//! cases from the rule corpus under `tests/cases/` (every case a realistic policy set), varying
//! the caller's session, source address and object key per case, and runs the release binary on
//! two workloads:
//! - `shared policies`: cases reuse their policies, as an operator's file of requests does;
//! - `distinct policies`: every case's policies are unique (a Sid carries the case number), so
//!   every policy is parsed and compiled afresh.
//!
//! It prints cases per second (wall clock, JSON parsing and output included) and the peak
//! resident memory of each run; memory must stay flat as the input grows (streaming).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::Value;
use std::io::{BufWriter, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

fn templates() -> Vec<Value> {
    let mut templates = Vec::new();
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases");
    let mut paths: Vec<_> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for mut case in cases {
            if case["expect"].get("error").is_some() {
                continue;
            }
            let object = case.as_object_mut().unwrap();
            object.remove("expect");
            object.remove("doc");
            object.remove("rule");
            templates.push(case);
        }
    }
    templates
}

fn write_cases(path: &std::path::Path, count: usize, distinct: bool) -> u64 {
    let templates = templates();
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    for number in 0..count {
        let mut case = templates[number % templates.len()].clone();
        case["name"] = Value::String(format!("case-{number}"));
        let request = &mut case["request"];
        if let Some(Value::String(resource)) = request.get_mut("resource")
            && resource.starts_with("arn:aws:s3:::")
            && resource.contains('/')
        {
            resource.push_str(&format!(".{}", number % 1000));
        }
        if let Some(context) = request.get_mut("context").and_then(Value::as_object_mut)
            && let Some(Value::String(ip)) = context.get_mut("aws:SourceIp")
            && ip.contains('.')
        {
            let mut octets: Vec<String> = ip.split('.').map(str::to_string).collect();
            octets[3] = (number % 250 + 1).to_string();
            *ip = octets.join(".");
        }
        if distinct {
            for key in ["identityPolicies", "rcps", "scps"] {
                if let Some(Value::Array(policies)) = case.get_mut(key) {
                    for policy in policies {
                        mark(policy, number);
                    }
                }
            }
            for key in ["resourcePolicy", "permissionBoundary", "sessionPolicy"] {
                if let Some(policy) = case.get_mut(key) {
                    mark(policy, number);
                }
            }
        }
        serde_json::to_writer(&mut out, &case).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// Make a policy unique without changing its meaning: an `Id` with the case number.
fn mark(policy: &mut Value, number: usize) {
    if let Some(object) = policy.as_object_mut() {
        object.insert("Id".into(), Value::String(format!("bench-{number}")));
    }
}

fn peak_rss_kb() -> i64 {
    // The largest resident set of any child so far (children run one at a time, smallest first).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss
}

fn run(binary: &str, path: &std::path::Path) -> f64 {
    let start = Instant::now();
    let status = Command::new(binary)
        .arg("simulate")
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "simulate failed on {}", path.display());
    start.elapsed().as_secs_f64()
}

fn main() {
    let binary = env!("CARGO_BIN_EXE_s3fix");
    let large: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(400_000);
    let directory = tempfile::tempdir().unwrap();
    println!(
        "s3fix simulate throughput ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for distinct in [false, true] {
        let workload = if distinct {
            "distinct policies"
        } else {
            "shared policies"
        };
        for count in [large / 4, large] {
            let path = directory.path().join(format!("cases-{distinct}-{count}.jsonl"));
            let bytes = write_cases(&path, count, distinct);
            run(binary, &path); // warm the page cache
            let best = (0..3).map(|_| run(binary, &path)).fold(f64::INFINITY, f64::min);
            println!(
                "{workload:>17}: {count:>8} cases ({:>5.0} MB): {:>8.0} cases/s, {:>6.1} MB/s, best of 3 {:.3} s, peak RSS so far {:.1} MB",
                bytes as f64 / 1e6,
                count as f64 / best,
                bytes as f64 / 1e6 / best,
                best,
                peak_rss_kb() as f64 / 1024.0
            );
        }
    }
}

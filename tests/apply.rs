//! Transactional apply through the world adapter: a fault campaign (each step of a four-step
//! plan fails in turn, through a failing writer), failing restores, a stale plan, the
//! no-terminal refusal, rollback refusals, crashes between steps (failpoints), and apply and
//! rollback of an access point policy with the bucket's delegation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use s3fix::adapter::snapshot::SnapshotWriter;
use s3fix::adapter::{AdapterError, Writer};
use s3fix::core::plan::{Plan, PlanOptions, ResourceRef, plan};
use s3fix::core::s3::{FinalDecision, S3Action, S3Request, explain};
use s3fix::core::spec::Spec;
use s3fix::core::world::World;
use s3fix::exec::apply::{Calls, begin, run};
use s3fix::journal::{Journal, OperationStatus, StepState};
use serde_json::Value;
use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const WORLD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/examples/article-world.json");
const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/examples/report-reader.toml");

fn world() -> World {
    serde_json::from_str(&std::fs::read_to_string(WORLD).unwrap()).unwrap()
}

fn article_plan(world: &World) -> Plan {
    let spec = Spec::parse(&std::fs::read_to_string(SPEC).unwrap(), SPEC).unwrap();
    plan(world, &spec, PlanOptions::default()).unwrap()
}

/// A writer that fails chosen writes: the `fail_write`-th write of a new value, and restores of
/// the resources in `fail_restore_of` (writes of a step's before-value).
struct FailingWriter {
    inner: SnapshotWriter,
    writes: AtomicUsize,
    fail_write: Option<usize>,
    fail_restore_of: Vec<ResourceRef>,
    restoring: std::sync::atomic::AtomicBool,
}

impl FailingWriter {
    fn new(world: World, fail_write: Option<usize>, fail_restore_of: Vec<ResourceRef>) -> FailingWriter {
        FailingWriter {
            inner: SnapshotWriter::new(world),
            writes: AtomicUsize::new(0),
            fail_write,
            fail_restore_of,
            restoring: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Writer for FailingWriter {
    fn read(
        &self,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<Option<Value>, AdapterError>> + Send {
        self.inner.read(resource)
    }

    fn write(
        &self,
        resource: &ResourceRef,
        value: Option<&Value>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        let number = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        let injected = |what: &str| AdapterError::Write {
            operation: "Injected".into(),
            resource: resource.describe(),
            reason: format!("injected {what} failure"),
        };
        if Some(number) == self.fail_write {
            self.restoring.store(true, Ordering::SeqCst);
            return futures::future::Either::Left(std::future::ready(Err(injected("write"))));
        }
        if self.restoring.load(Ordering::SeqCst) && self.fail_restore_of.contains(resource) {
            return futures::future::Either::Left(std::future::ready(Err(injected("restore"))));
        }
        futures::future::Either::Right(self.inner.write(resource, value))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

#[test]
fn fault_campaign_each_step_fails_in_turn_and_the_world_is_restored() {
    let start = world();
    let plan = article_plan(&start);
    assert!(
        plan.edits.len() >= 4,
        "the campaign needs a plan of at least four steps, got {}",
        plan.edits.len()
    );
    for failing_step in 1..=plan.edits.len() {
        let directory = tempfile::tempdir().unwrap();
        let journal = Journal::new(directory.path());
        let writer = FailingWriter::new(start.clone(), Some(failing_step), Vec::new());
        let runtime = runtime();
        let calls = Calls {
            writer: &writer,
            runtime: &runtime,
        };
        let (operation, _) = begin(&journal, &plan, None, std::time::SystemTime::now()).unwrap();
        let outcome = run(&calls, &journal, operation, &mut Vec::new).unwrap();
        assert_eq!(
            outcome.operation.status,
            OperationStatus::RolledBack,
            "step {failing_step}"
        );
        assert_eq!(
            writer.inner.world(),
            start,
            "step {failing_step}: the world is exactly as before"
        );
        // The journal on disk is complete: every step with before and after, and its state.
        let (journaled, _) = journal.load(&outcome.operation.id).unwrap();
        assert_eq!(journaled.steps.len(), plan.edits.len());
        for (index, step) in journaled.steps.iter().enumerate() {
            assert_eq!(step.before, plan.edits[index].before);
            assert_eq!(step.after.as_ref(), Some(&plan.edits[index].after));
            // Written steps and the failing one (it may have half-happened) are restored.
            let expected = if index < failing_step {
                StepState::Restored
            } else {
                StepState::Pending
            };
            assert_eq!(step.state, expected, "step {failing_step}, journal step {index}");
        }
        assert!(
            outcome
                .failures
                .iter()
                .any(|failure| failure.contains("injected write failure"))
        );
    }
}

#[test]
fn a_failing_restore_keeps_going_and_reports_incomplete() {
    let start = world();
    let plan = article_plan(&start);
    let first = plan.edits[0].resource.clone();
    let directory = tempfile::tempdir().unwrap();
    let journal = Journal::new(directory.path());
    let writer = FailingWriter::new(start.clone(), Some(plan.edits.len()), vec![first.clone()]);
    let runtime = runtime();
    let calls = Calls {
        writer: &writer,
        runtime: &runtime,
    };
    let (operation, _) = begin(&journal, &plan, None, std::time::SystemTime::now()).unwrap();
    let outcome = run(&calls, &journal, operation, &mut Vec::new).unwrap();
    assert_eq!(outcome.operation.status, OperationStatus::RollbackIncomplete);
    // Every other step was restored despite the failure on the first one.
    let states: Vec<StepState> = outcome.operation.steps.iter().map(|step| step.state).collect();
    assert_eq!(states[0], StepState::RestoreFailed);
    assert!(
        states[1..].iter().all(|state| *state == StepState::Restored),
        "{states:?}"
    );
    assert_eq!(outcome.manual_steps().len(), 1);
    assert!(
        outcome.manual_steps()[0].contains("s3fix-my-bucket"),
        "{:?}",
        outcome.manual_steps()
    );
}

#[test]
fn a_failed_verification_rolls_back() {
    let start = world();
    let plan = article_plan(&start);
    let directory = tempfile::tempdir().unwrap();
    let journal = Journal::new(directory.path());
    let writer = FailingWriter::new(start.clone(), None, Vec::new());
    let runtime = runtime();
    let calls = Calls {
        writer: &writer,
        runtime: &runtime,
    };
    let (operation, _) = begin(&journal, &plan, None, std::time::SystemTime::now()).unwrap();
    let mut verify = || vec!["still denied".to_string()];
    let outcome = run(&calls, &journal, operation, &mut verify).unwrap();
    assert_eq!(outcome.operation.status, OperationStatus::RolledBack);
    assert_eq!(writer.inner.world(), start);
}

fn s3fix(args: &[&str], directory: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_s3fix"))
        .args(args)
        .current_dir(directory)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn setup() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    std::fs::copy(WORLD, directory.path().join("world.json")).unwrap();
    let output = s3fix(
        &["plan", SPEC, "--world", "world.json", "-o", "plan.json"],
        directory.path(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    directory
}

/// The journal files (operations) of a directory: `.s3fix/journal/*.json` (lock files live in
/// `.s3fix/journal/locks/`).
fn journals(directory: &std::path::Path) -> Vec<std::path::PathBuf> {
    Journal::new(&directory.join(".s3fix/journal")).operations()
}

fn read_world(directory: &std::path::Path) -> World {
    serde_json::from_str(&std::fs::read_to_string(directory.join("world.json")).unwrap()).unwrap()
}

/// `s3fix apply plan.json --yes` (then `applied` checks the world), then `s3fix rollback` of the
/// one journaled operation; both must exit 0.
fn apply_then_rollback(directory: &std::path::Path, applied: impl FnOnce()) {
    let output = s3fix(&["apply", "plan.json", "--yes"], directory);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    applied();
    let journal = journals(directory);
    assert_eq!(journal.len(), 1);
    let id = journal[0].file_stem().unwrap().to_string_lossy().to_string();
    let rolled = s3fix(&["rollback", &id], directory);
    assert_eq!(
        rolled.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rolled.stderr)
    );
}

#[test]
fn apply_then_rollback_restores_the_world_file_byte_for_byte() {
    let directory = setup();
    let original = std::fs::read(WORLD).unwrap();
    apply_then_rollback(directory.path(), || {
        assert_ne!(
            std::fs::read(directory.path().join("world.json")).unwrap(),
            original
        );
    });
    assert_eq!(
        std::fs::read(directory.path().join("world.json")).unwrap(),
        original
    );
}

#[test]
fn a_stale_plan_is_refused_with_zero_writes() {
    let directory = setup();
    let mut world = read_world(directory.path());
    world.buckets[0].policy.as_mut().unwrap()["Id"] = Value::String("changed-by-someone".into());
    std::fs::write(
        directory.path().join("world.json"),
        serde_json::to_vec_pretty(&world).unwrap(),
    )
    .unwrap();
    let before = std::fs::read(directory.path().join("world.json")).unwrap();
    let output = s3fix(&["apply", "plan.json", "--yes"], directory.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("plan is stale") && stderr.contains("bucket policy of `my-bucket`"),
        "{stderr}"
    );
    assert!(stderr.contains("run s3fix plan again"), "{stderr}");
    assert_eq!(
        std::fs::read(directory.path().join("world.json")).unwrap(),
        before
    );
    assert!(
        journals(directory.path()).is_empty(),
        "no journal: nothing was written"
    );
}

#[test]
fn apply_without_a_terminal_or_yes_refuses() {
    let directory = setup();
    let before = std::fs::read(directory.path().join("world.json")).unwrap();
    let output = s3fix(&["apply", "plan.json"], directory.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--yes"));
    assert_eq!(
        std::fs::read(directory.path().join("world.json")).unwrap(),
        before
    );
}

#[test]
fn rollback_refuses_a_resource_changed_after_the_apply_unless_forced() {
    let directory = setup();
    assert_eq!(
        s3fix(&["apply", "plan.json", "--yes"], directory.path())
            .status
            .code(),
        Some(0)
    );
    let id = journals(directory.path())[0].clone();
    let id = id.file_stem().unwrap().to_string_lossy().to_string();
    let mut edited = read_world(directory.path());
    edited.buckets[0].policy.as_mut().unwrap()["Id"] = Value::String("edited-after-apply".into());
    std::fs::write(
        directory.path().join("world.json"),
        serde_json::to_vec_pretty(&edited).unwrap(),
    )
    .unwrap();
    let refused = s3fix(&["rollback", &id], directory.path());
    // Compare and restore: the changed bucket policy is left alone and named with both values;
    // the rest is restored; the rollback is incomplete (exit 4).
    assert_eq!(refused.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("bucket policy of `my-bucket` changed since this operation wrote it")
            && stderr.contains("edited-after-apply")
            && stderr.contains("--force"),
        "{stderr}"
    );
    let forced = s3fix(&["rollback", &id, "--force"], directory.path());
    assert_eq!(
        forced.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    // Forcing restores every resource the apply wrote, including the edited one.
    assert_eq!(read_world(directory.path()), world());
}

#[cfg(feature = "failpoints")]
mod crash {
    use super::*;

    fn crash_after(step: usize, directory: &std::path::Path) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_s3fix"))
            .args(["apply", "plan.json", "--yes"])
            .current_dir(directory)
            .env("S3FIX_FAILPOINT", format!("crash-after-step:{step}"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            !output.status.success(),
            "the process was killed at the failpoint"
        );
        let journal = journals(directory)[0].clone();
        let operation: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
        assert_eq!(operation["status"], "inProgress");
        journal.file_stem().unwrap().to_string_lossy().to_string()
    }

    #[test]
    fn killed_between_steps_then_rollback_restores_everything() {
        for step in 1..=3 {
            let directory = setup();
            let id = crash_after(step, directory.path());
            let rolled = s3fix(&["rollback", &id], directory.path());
            assert_eq!(
                rolled.status.code(),
                Some(0),
                "step {step}: {}",
                String::from_utf8_lossy(&rolled.stderr)
            );
            assert_eq!(
                std::fs::read(directory.path().join("world.json")).unwrap(),
                std::fs::read(WORLD).unwrap()
            );
        }
    }

    #[test]
    fn killed_between_steps_then_resume_completes_the_plan() {
        let directory = setup();
        let id = crash_after(2, directory.path());
        let resumed = s3fix(
            &["apply", "plan.json", "--yes", "--resume", &id],
            directory.path(),
        );
        assert_eq!(
            resumed.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&resumed.stderr)
        );
        let explained = s3fix(
            &[
                "explain",
                "s3://my-bucket/data/report.csv",
                "--principal",
                "arn:aws:sts::222222222222:assumed-role/my-app-role/s",
                "--world",
                "world.json",
                "--context",
                "aws:SourceIp=198.51.100.7",
            ],
            directory.path(),
        );
        assert_eq!(
            explained.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&explained.stdout)
        );
    }

    #[test]
    fn killed_before_a_write_then_rollback_restores_everything() {
        let directory = setup();
        let output = Command::new(env!("CARGO_BIN_EXE_s3fix"))
            .args(["apply", "plan.json", "--yes"])
            .current_dir(directory.path())
            .env("S3FIX_FAILPOINT", "crash-before-write:3")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!output.status.success());
        let journal = journals(directory.path())[0].clone();
        let id = journal.file_stem().unwrap().to_string_lossy().to_string();
        let rolled = s3fix(&["rollback", &id], directory.path());
        assert_eq!(
            rolled.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&rolled.stderr)
        );
        assert_eq!(
            std::fs::read(directory.path().join("world.json")).unwrap(),
            std::fs::read(WORLD).unwrap()
        );
    }
}

// ---------------------------------------------------------------- through an access point
//
// Apply and rollback of a plan through an access point, on a world file: the bucket policy gains
// the delegation and the access point policy the exact-principal grant (in that order); a
// failing access point policy write restores the bucket policy; `s3fix apply` then
// `s3fix rollback` leaves the world file byte for byte as it was.

const AP_WORLD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/plans/examples/access-point-world.json"
);
const LAKE_AP: &str = "arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap";
const SPARK: &str = "arn:aws:iam::222222222222:role/spark";
const AP_SPEC: &str = "principal = \"arn:aws:iam::222222222222:role/spark\"\nbucket = \"lake\"\nkeys = [\"published/*\"]\naccess = [\"read\"]\naccess_point = \"arn:aws:s3:us-east-1:111111111111:accesspoint/lake-ap\"\n";

/// The example world without the bucket's delegation to its access points: a read of
/// `published/*` through lake-ap then needs both the delegation and an access point policy grant.
fn ap_world() -> World {
    let mut world: Value = serde_json::from_str(&std::fs::read_to_string(AP_WORLD).unwrap()).unwrap();
    let statements = world["buckets"][0]["policy"]["Statement"].as_array_mut().unwrap();
    assert_eq!(statements[0]["Sid"], "DelegateToAccessPoints");
    statements.remove(0);
    serde_json::from_value(world).unwrap()
}

fn ap_spec() -> Spec {
    Spec::parse(AP_SPEC, "spec.toml").unwrap()
}

fn read_through_the_access_point(world: &World) -> FinalDecision {
    let request = S3Request {
        principal: "arn:aws:sts::222222222222:assumed-role/spark/s3fix-probe".into(),
        action: S3Action::Get,
        bucket: "lake".into(),
        key: "published/report.pdf".into(),
        context: s3fix::core::plan::caller_context(&ap_spec()),
    };
    explain(world, &request).unwrap().decision
}

#[test]
fn the_plan_delegates_then_grants_on_the_access_point() {
    let start = ap_world();
    assert_ne!(read_through_the_access_point(&start), FinalDecision::Allowed);
    let planned = plan(&start, &ap_spec(), PlanOptions::default()).unwrap();
    let resources: Vec<&ResourceRef> = planned.edits.iter().map(|edit| &edit.resource).collect();
    assert_eq!(
        resources,
        vec![
            &ResourceRef::BucketPolicy {
                bucket: "lake".into()
            },
            &ResourceRef::AccessPointPolicy {
                access_point: LAKE_AP.into()
            },
        ]
    );
    let mut edited = start.clone();
    for edit in &planned.edits {
        s3fix::core::plan::set_value(&mut edited, &edit.resource, Some(&edit.after)).unwrap();
    }
    assert_eq!(read_through_the_access_point(&edited), FinalDecision::Allowed);
    let granted = &planned.edits[1].after["Statement"];
    let grant = granted
        .as_array()
        .unwrap()
        .iter()
        .find(|statement| statement["Sid"] == "S3fixReadSpark")
        .unwrap();
    assert_eq!(grant["Principal"], serde_json::json!({"AWS": SPARK}));
    assert!(
        planned.proof.failures().is_empty(),
        "{:?}",
        planned.proof.failures()
    );
}

#[test]
fn a_refused_access_point_policy_write_restores_the_bucket_policy() {
    let start = ap_world();
    let planned = plan(&start, &ap_spec(), PlanOptions::default()).unwrap();
    let point_edit = planned.edits[1].clone();
    // The second write is the access point policy's.
    let writer = FailingWriter::new(start.clone(), Some(2), Vec::new());
    let directory = tempfile::tempdir().unwrap();
    let journal = Journal::new(directory.path());
    let runtime = runtime();
    let calls = Calls {
        writer: &writer,
        runtime: &runtime,
    };
    let (operation, _) = begin(&journal, &planned, None, std::time::SystemTime::now()).unwrap();
    let outcome = run(&calls, &journal, operation, &mut Vec::new).unwrap();
    assert_eq!(outcome.operation.status, OperationStatus::RolledBack);
    assert_eq!(writer.inner.world(), start, "the world is exactly as before");
    let (journaled, _) = journal.load(&outcome.operation.id).unwrap();
    assert_eq!(journaled.steps.len(), 2);
    assert_eq!(journaled.steps[1].before, point_edit.before);
    assert_eq!(journaled.steps[1].after.as_ref(), Some(&point_edit.after));
    assert_eq!(journaled.steps[0].state, StepState::Restored);
    assert!(
        outcome
            .failures
            .iter()
            .any(|failure| failure.contains("injected write failure")
                && failure.contains("access point policy")),
        "{:?}",
        outcome.failures
    );
}

#[test]
fn apply_then_rollback_of_an_access_point_policy_restores_the_world_file() {
    let directory = tempfile::tempdir().unwrap();
    // As the world writer writes it, so the rollback can restore it byte for byte.
    let mut original = serde_json::to_vec_pretty(&ap_world()).unwrap();
    original.push(b'\n');
    std::fs::write(directory.path().join("world.json"), &original).unwrap();
    std::fs::write(directory.path().join("spec.toml"), AP_SPEC).unwrap();
    let planned = s3fix(
        &["plan", "spec.toml", "--world", "world.json", "-o", "plan.json"],
        directory.path(),
    );
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let after = || -> World {
        serde_json::from_slice(&std::fs::read(directory.path().join("world.json")).unwrap()).unwrap()
    };
    apply_then_rollback(directory.path(), || {
        assert_eq!(read_through_the_access_point(&after()), FinalDecision::Allowed);
    });
    assert!(
        std::fs::read(directory.path().join("world.json")).unwrap() == original,
        "the world file is not restored byte for byte"
    );
}

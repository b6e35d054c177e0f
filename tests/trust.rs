//! `apply` trusts nothing it has not just proved: tampered plan files, recorded endpoints,
//! concurrent applies, interrupts, compare-and-restore, oversized inputs, and the input checks
//! around them — through the binary on world files (the moto counterparts are in
//! `tests/moto_apply.rs`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use s3fix::adapter::snapshot::SnapshotWriter;
use s3fix::adapter::{AdapterError, Writer};
use s3fix::core::plan::{PlanOptions, ResourceRef, plan};
use s3fix::core::spec::Spec;
use s3fix::core::world::World;
use s3fix::exec::apply::{Calls, begin, run};
use s3fix::journal::{Journal, OperationStatus, StepState};
use serde_json::{Value, json};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const WORLD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/examples/article-world.json");
const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plans/examples/report-reader.toml");

fn command(args: &[&str], directory: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_s3fix"));
    command
        .args(args)
        .current_dir(directory)
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("S3FIX_FAILPOINT")
        .stdin(Stdio::null());
    command
}

fn s3fix(args: &[&str], directory: &Path) -> Output {
    command(args, directory).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// A directory with the article's world and its plan (`plan.json`).
fn setup() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    std::fs::copy(WORLD, directory.path().join("world.json")).unwrap();
    let output = s3fix(
        &["plan", SPEC, "--world", "world.json", "-o", "plan.json"],
        directory.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    directory
}

fn plan_json(directory: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(directory.join("plan.json")).unwrap()).unwrap()
}

fn write_plan(directory: &Path, plan: &Value) {
    std::fs::write(
        directory.join("plan.json"),
        serde_json::to_vec_pretty(plan).unwrap(),
    )
    .unwrap();
}

fn operations(directory: &Path) -> Vec<std::path::PathBuf> {
    Journal::new(&directory.join(".s3fix/journal")).operations()
}

fn edit_index(plan: &Value, kind: &str) -> usize {
    plan["edits"]
        .as_array()
        .unwrap()
        .iter()
        .position(|edit| edit["resource"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} edit"))
}

/// Apply a tampered plan: refused (exit 1) naming `expect`, zero writes, no journal.
fn assert_refused(directory: &Path, expect: &str) {
    let before = std::fs::read(directory.join("world.json")).unwrap();
    let output = s3fix(&["apply", "plan.json", "--yes"], directory);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains(expect), "expected `{expect}` in: {message}");
    assert!(message.contains("nothing was written"), "{message}");
    assert_eq!(
        std::fs::read(directory.join("world.json")).unwrap(),
        before,
        "zero writes"
    );
    assert!(operations(directory).is_empty(), "no journal");
}

#[test]
fn a_widened_inline_policy_is_refused() {
    let directory = setup();
    let mut plan = plan_json(directory.path());
    let index = edit_index(&plan, "inlinePolicy");
    plan["edits"][index]["after"]["Statement"][0]["Action"] = json!(["s3:*"]);
    plan["edits"][index]["after"]["Statement"][0]["Resource"] = json!(["*"]);
    write_plan(directory.path(), &plan);
    assert_refused(
        directory.path(),
        "the plan file does not match what s3fix plans now: edit 1 (inline policy `s3fix-my-bucket`",
    );
}

#[test]
fn a_removed_deny_is_refused() {
    let directory = setup();
    let mut plan = plan_json(directory.path());
    let index = edit_index(&plan, "bucketPolicy");
    let statements = plan["edits"][index]["after"]["Statement"].as_array_mut().unwrap();
    let count = statements.len();
    statements.retain(|statement| statement["Effect"] != "Deny");
    assert!(statements.len() < count, "the article's bucket policy has a Deny");
    write_plan(directory.path(), &plan);
    assert_refused(directory.path(), "(bucket policy of `my-bucket`) would write");
}

#[test]
fn an_added_public_statement_is_refused() {
    let directory = setup();
    let mut plan = plan_json(directory.path());
    let index = edit_index(&plan, "bucketPolicy");
    plan["edits"][index]["after"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::my-bucket/*"}));
    write_plan(directory.path(), &plan);
    assert_refused(directory.path(), "does not match what s3fix plans now");
}

#[test]
fn an_edit_outside_the_spec_is_refused() {
    for (resource, expect) in [
        (
            json!({"kind": "bucketPolicy", "bucket": "another-bucket"}),
            "the spec's bucket is `my-bucket`",
        ),
        (
            json!({"kind": "inlinePolicy", "principal": "arn:aws:iam::111111111111:role/s3fix-admin", "name": "s3fix-my-bucket"}),
            "the spec's principal is",
        ),
        (
            json!({"kind": "inlinePolicy", "principal": "arn:aws:iam::222222222222:role/my-app-role", "name": "AdminAccess"}),
            "s3fix only writes its own inline policy `s3fix-my-bucket`",
        ),
        (
            json!({"kind": "keyPolicy", "key": "arn:aws:kms:us-east-1:111111111111:key/ffffffff-0000-0000-0000-000000000000"}),
            "does not encrypt the spec's objects",
        ),
        (
            json!({"kind": "bucketSettings", "bucket": "my-bucket"}),
            "it is read only",
        ),
    ] {
        let directory = setup();
        let mut plan = plan_json(directory.path());
        let mut extra = plan["edits"][0].clone();
        extra["resource"] = resource;
        plan["edits"].as_array_mut().unwrap().push(extra);
        write_plan(directory.path(), &plan);
        assert_refused(directory.path(), expect);
    }
}

#[test]
fn failed_proof_flags_and_an_edited_before_are_refused() {
    let directory = setup();
    let mut plan = plan_json(directory.path());
    for check in plan["proof"]["checks"].as_array_mut().unwrap() {
        check["passed"] = json!(false);
    }
    write_plan(directory.path(), &plan);
    assert_refused(
        directory.path(),
        "the recorded proof is not the proof s3fix computes now",
    );

    let directory = setup();
    let mut plan = plan_json(directory.path());
    let index = edit_index(&plan, "bucketPolicy");
    plan["edits"][index]["before"]["Statement"][0]["Sid"] = json!("Edited");
    write_plan(directory.path(), &plan);
    assert_refused(directory.path(), "records its value before as");
}

#[test]
fn a_recorded_endpoint_is_never_used_silently() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let directory = setup();
    let mut plan = plan_json(directory.path());
    plan["source"] = json!({
        "bucketRole": "arn:aws:iam::111111111111:role/s3fix-admin",
        "callerRole": "arn:aws:iam::222222222222:role/s3fix-admin",
        "endpointUrl": endpoint,
    });
    write_plan(directory.path(), &plan);
    let output = s3fix(&["apply", "plan.json", "--yes"], directory.path());
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains(&format!("the plan names the endpoint `{endpoint}`"))
            && message.contains(&format!("pass --endpoint-url {endpoint}")),
        "{message}"
    );
    let other = s3fix(
        &[
            "apply",
            "plan.json",
            "--yes",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ],
        directory.path(),
    );
    assert_eq!(other.status.code(), Some(1));
    assert!(
        stderr(&other).contains("but this command would use `http://127.0.0.1:9`"),
        "{}",
        stderr(&other)
    );
    assert!(
        matches!(listener.accept(), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock),
        "the listener named in the plan received no connection"
    );
    // Plain HTTP off this machine is refused before anything is sent, even when given.
    let insecure = s3fix(
        &[
            "explain",
            "s3://my-bucket/data/report.csv",
            "--principal",
            "arn:aws:iam::222222222222:role/my-app-role",
            "--endpoint-url",
            "http://s3.example.invalid",
        ],
        directory.path(),
    );
    assert_eq!(insecure.status.code(), Some(1));
    assert!(
        stderr(&insecure).contains("credentials are sent only over HTTPS"),
        "{}",
        stderr(&insecure)
    );
    assert!(operations(directory.path()).is_empty());
}

#[test]
fn another_world_file_is_refused_or_replanned_there() {
    let directory = setup();
    // A plan whose recorded world is edited to point at another file: the fingerprints differ.
    let mut other: Value = serde_json::from_str(&std::fs::read_to_string(WORLD).unwrap()).unwrap();
    other["buckets"][0]["policy"]["Id"] = json!("another world");
    std::fs::write(
        directory.path().join("other.json"),
        serde_json::to_vec_pretty(&other).unwrap(),
    )
    .unwrap();
    let mut plan = plan_json(directory.path());
    assert_eq!(
        plan["source"]["world"], "world.json",
        "recorded relative to the plan file"
    );
    plan["source"]["world"] = json!("other.json");
    write_plan(directory.path(), &plan);
    let before = std::fs::read(directory.path().join("other.json")).unwrap();
    let output = s3fix(&["apply", "plan.json", "--yes"], directory.path());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("plan is stale"), "{}", stderr(&output));
    assert_eq!(
        std::fs::read(directory.path().join("other.json")).unwrap(),
        before
    );

    // The recorded path resolves against the plan file's directory, wherever apply runs.
    let directory = setup();
    let elsewhere = tempfile::tempdir().unwrap();
    let plan_path = directory.path().join("plan.json");
    let applied = s3fix(&["apply", plan_path.to_str().unwrap(), "--yes"], elsewhere.path());
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert!(stderr(&applied).contains(&format!(
        "target: world file `{}`",
        directory.path().join("world.json").display()
    )));
    assert_ne!(
        std::fs::read(directory.path().join("world.json")).unwrap(),
        std::fs::read(WORLD).unwrap()
    );

    // --world FILE applies to a copy of the planned world: re-planned there, and equal.
    let directory = setup();
    std::fs::copy(WORLD, directory.path().join("copy.json")).unwrap();
    let copied = s3fix(
        &["apply", "plan.json", "--yes", "--world", "copy.json"],
        directory.path(),
    );
    assert_eq!(copied.status.code(), Some(0), "{}", stderr(&copied));
    assert_eq!(
        std::fs::read(directory.path().join("world.json")).unwrap(),
        std::fs::read(WORLD).unwrap()
    );
}

#[test]
fn show_and_apply_name_the_target_first() {
    let directory = setup();
    let shown = s3fix(&["show", "plan.json"], directory.path());
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.starts_with("target (as recorded): world file `world.json`"),
        "{text}"
    );
    let applied = s3fix(&["apply", "plan.json", "--yes"], directory.path());
    let message = stderr(&applied);
    let target = message.find("target: world file").unwrap();
    let operation = message.find("operation `op-").unwrap();
    assert!(
        target < operation,
        "the target is named before the operation starts: {message}"
    );
    assert!(
        message.contains("to undo it later: s3fix rollback op-"),
        "{message}"
    );
}

/// A second plan on the same bucket and principal: write access under `uploads/`.
fn second_plan(directory: &Path) {
    let spec = std::fs::read_to_string(SPEC)
        .unwrap()
        .replace("access = [\"read\", \"list\"]", "access = [\"write\"]")
        .replace("keys = [\"data/*\"]", "keys = [\"uploads/*\"]");
    std::fs::write(directory.join("writer.toml"), spec).unwrap();
    let output = s3fix(
        &[
            "plan",
            "writer.toml",
            "--world",
            "world.json",
            "-o",
            "writer.json",
        ],
        directory,
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

/// Start `s3fix` with stderr read line by line on a channel.
fn spawn(args: &[&str], directory: &Path, envs: &[(&str, String)]) -> (Child, mpsc::Receiver<String>) {
    let mut command = command(args, directory);
    for (name, value) in envs {
        command.env(name, value);
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (sender, receiver) = mpsc::channel();
    let stream = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    (child, receiver)
}

/// Wait (bounded) for a stderr line containing `needle`; every line seen is returned.
fn wait_for(receiver: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(_) => panic!("no `{needle}` on stderr; saw {seen:?}"),
        }
    }
}

fn rest(receiver: &mpsc::Receiver<String>) -> String {
    receiver.iter().collect::<Vec<_>>().join("\n")
}

/// The exit code (every pause in the binary is bounded, so this ends).
fn wait(child: &mut Child) -> Option<i32> {
    child.wait().unwrap().code()
}

#[cfg(feature = "failpoints")]
mod with_failpoints {
    use super::*;

    fn pause_at(step: usize, release: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("S3FIX_FAILPOINT", format!("pause-before-write:{step}")),
            ("S3FIX_FAILPOINT_RELEASE", release.display().to_string()),
        ]
    }

    #[test]
    fn two_plans_on_one_bucket_one_writer_and_no_lost_grant() {
        for _round in 0..2 {
            let directory = setup();
            second_plan(directory.path());
            let release = directory.path().join("release");
            let (mut first, first_err) = spawn(
                &["apply", "plan.json", "--yes"],
                directory.path(),
                &pause_at(2, &release),
            );
            wait_for(&first_err, "paused");
            let second = s3fix(&["apply", "writer.json", "--yes"], directory.path());
            let message = stderr(&second);
            assert_eq!(second.status.code(), Some(1), "{message}");
            assert!(
                message.contains("another s3fix apply holds the lock on") && message.contains("(pid "),
                "{message}"
            );
            std::fs::write(&release, "").unwrap();
            assert_eq!(wait(&mut first), Some(0), "{}", rest(&first_err));
            // The second plan read the world before the first wrote: refused, not applied over it.
            let stale = s3fix(&["apply", "writer.json", "--yes"], directory.path());
            assert_eq!(stale.status.code(), Some(1), "{}", stderr(&stale));
            // Planned again on the world as it is now, both grants stand.
            second_plan(directory.path());
            let applied = s3fix(&["apply", "writer.json", "--yes"], directory.path());
            assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
            let world: World =
                serde_json::from_str(&std::fs::read_to_string(directory.path().join("world.json")).unwrap())
                    .unwrap();
            let first_plan: s3fix::core::plan::Plan =
                serde_json::from_str(&std::fs::read_to_string(directory.path().join("plan.json")).unwrap())
                    .unwrap();
            assert!(
                s3fix::exec::apply::expectations_failing(&first_plan, &world).is_empty(),
                "the first plan's grant survived the second apply"
            );
        }
    }

    #[test]
    fn four_copies_of_one_plan_write_once() {
        for _round in 0..3 {
            let directory = setup();
            let mut children: Vec<_> = (0..4)
                .map(|_| spawn(&["apply", "plan.json", "--yes"], directory.path(), &[]))
                .collect();
            let codes: Vec<_> = children.iter_mut().map(|(child, _)| wait(child)).collect();
            assert_eq!(
                codes.iter().filter(|code| **code == Some(0)).count(),
                1,
                "{codes:?}"
            );
            assert_eq!(
                codes.iter().filter(|code| **code == Some(1)).count(),
                3,
                "{codes:?}"
            );
            let journals = operations(directory.path());
            assert_eq!(journals.len(), 1, "one writer: {journals:?}");
        }
    }

    fn signal(child: &Child, number: i32) {
        let pid = i32::try_from(child.id()).unwrap();
        // SAFETY: sends a signal to a child process this test started and still owns.
        assert_eq!(unsafe { libc::kill(pid, number) }, 0);
    }

    #[test]
    fn an_interrupt_at_each_step_rolls_back_to_the_original_bytes() {
        let steps = plan_json(setup().path())["edits"].as_array().unwrap().len();
        for step in 1..=steps {
            for number in [libc::SIGINT, libc::SIGTERM] {
                let directory = setup();
                let original = std::fs::read(directory.path().join("world.json")).unwrap();
                let release = directory.path().join("release");
                let (mut child, lines) = spawn(
                    &["apply", "plan.json", "--yes"],
                    directory.path(),
                    &pause_at(step, &release),
                );
                let seen = wait_for(&lines, "paused");
                assert!(
                    seen.iter().any(|line| line.contains("operation `op-")),
                    "the operation id is printed before the first write: {seen:?}"
                );
                signal(&child, number);
                let code = wait(&mut child);
                let message = rest(&lines);
                assert_eq!(code, Some(3), "step {step}, signal {number}: {message}");
                assert!(message.contains("Interrupted; rolled back"), "{message}");
                assert_eq!(
                    std::fs::read(directory.path().join("world.json")).unwrap(),
                    original
                );
                let journal = operations(directory.path());
                let (operation, _) = Journal::new(&directory.path().join(".s3fix/journal"))
                    .load(journal[0].to_str().unwrap())
                    .unwrap();
                assert_eq!(
                    operation.status,
                    OperationStatus::RolledBack,
                    "never left inProgress"
                );
            }
        }
    }

    #[test]
    fn a_second_interrupt_exits_at_once_and_rollback_restores_the_original_bytes() {
        let directory = setup();
        let original = std::fs::read(directory.path().join("world.json")).unwrap();
        let release = directory.path().join("release");
        // `hold` ignores the first interrupt, so the second one arrives mid-operation.
        let envs = vec![
            ("S3FIX_FAILPOINT", "hold-before-write:3".to_string()),
            ("S3FIX_FAILPOINT_RELEASE", release.display().to_string()),
        ];
        let (mut child, lines) = spawn(&["apply", "plan.json", "--yes"], directory.path(), &envs);
        wait_for(&lines, "paused");
        signal(&child, libc::SIGINT);
        wait_for(&lines, "interrupted: stopping before the next write");
        signal(&child, libc::SIGINT);
        let code = wait(&mut child);
        let message = rest(&lines);
        assert_eq!(code, Some(4), "{message}");
        let journal = operations(directory.path());
        let (operation, _) = Journal::new(&directory.path().join(".s3fix/journal"))
            .load(journal[0].to_str().unwrap())
            .unwrap();
        assert_eq!(operation.status, OperationStatus::Interrupted);
        assert!(
            message.contains(&format!("Operation `{}` is marked interrupted", operation.id))
                && message.contains(&format!("s3fix rollback {}", operation.id)),
            "{message}"
        );
        assert_ne!(
            std::fs::read(directory.path().join("world.json")).unwrap(),
            original,
            "two steps were written"
        );
        let rolled = s3fix(&["rollback", &operation.id], directory.path());
        assert_eq!(rolled.status.code(), Some(0), "{}", stderr(&rolled));
        assert_eq!(
            std::fs::read(directory.path().join("world.json")).unwrap(),
            original
        );
    }
}

/// A writer that fails its `fail_write`-th write, and just before, lets "someone else" change the
/// first step's resource.
struct MeddlingWriter {
    inner: SnapshotWriter,
    writes: AtomicUsize,
    fail_write: usize,
    meddle: ResourceRef,
}

impl Writer for MeddlingWriter {
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
        let inner = &self.inner;
        let meddle = self.meddle.clone();
        let resource = resource.clone();
        let value = value.cloned();
        let fail = number == self.fail_write;
        async move {
            if fail {
                let foreign = json!({"Version": "2012-10-17", "Statement": [{"Sid": "SomeoneElse", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::my-bucket/other/*"}]});
                inner.write(&meddle, Some(&foreign)).await?;
                return Err(AdapterError::Write {
                    operation: "Injected".into(),
                    resource: resource.describe(),
                    reason: "injected write failure".into(),
                });
            }
            inner.write(&resource, value.as_ref()).await
        }
    }
}

#[test]
fn the_automatic_rollback_never_overwrites_someone_elses_change() {
    let world: World = serde_json::from_str(&std::fs::read_to_string(WORLD).unwrap()).unwrap();
    let spec = Spec::parse(&std::fs::read_to_string(SPEC).unwrap(), SPEC).unwrap();
    let planned = plan(&world, &spec, PlanOptions::default()).unwrap();
    let first = planned.edits[0].resource.clone();
    assert!(matches!(first, ResourceRef::InlinePolicy { .. }));
    let writer = MeddlingWriter {
        inner: SnapshotWriter::new(world.clone()),
        writes: AtomicUsize::new(0),
        fail_write: 3,
        meddle: first.clone(),
    };
    let directory = tempfile::tempdir().unwrap();
    let journal = Journal::new(directory.path());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let calls = Calls {
        writer: &writer,
        runtime: &runtime,
    };
    let (operation, _) = begin(&journal, &planned, None, std::time::SystemTime::now()).unwrap();
    let outcome = run(&calls, &journal, operation, &mut Vec::new).unwrap();
    assert_eq!(outcome.operation.status, OperationStatus::RollbackIncomplete);
    let steps = &outcome.operation.steps;
    assert_eq!(steps[0].state, StepState::Refused);
    let error = steps[0].error.as_deref().unwrap();
    assert!(
        error.contains("changed since this operation wrote it")
            && error.contains("SomeoneElse")
            && error.contains("this operation wrote {"),
        "both values are named: {error}"
    );
    assert_eq!(steps[1].state, StepState::Restored, "the key policy is restored");
    let after = writer.inner.world();
    let kept = s3fix::core::plan::current_value(&after, &first).unwrap().unwrap();
    assert_eq!(
        kept["Statement"][0]["Sid"], "SomeoneElse",
        "the other change is kept"
    );
    assert!(outcome.manual_steps().iter().any(|step| step.contains("--force")));
}

#[test]
fn oversized_worlds_are_refused_at_once_naming_the_resource() {
    let directory = tempfile::tempdir().unwrap();
    let mut world: Value = serde_json::from_str(&std::fs::read_to_string(WORLD).unwrap()).unwrap();
    world["buckets"][0]["policy"]["Statement"][0]["Sid"] = json!("x".repeat(15 * 1024 * 1024));
    std::fs::write(
        directory.path().join("huge.json"),
        serde_json::to_vec(&world).unwrap(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let output = s3fix(&["plan", SPEC, "--world", "huge.json"], directory.path());
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains("the bucket policy of `my-bucket` is")
            && message.contains("over the limit of 20480 bytes"),
        "{message}"
    );
    eprintln!("refused a 15 MB bucket policy in {:?}", started.elapsed());

    let mut world: Value = serde_json::from_str(&std::fs::read_to_string(WORLD).unwrap()).unwrap();
    let statement = world["buckets"][0]["policy"]["Statement"][0].clone();
    world["keys"][0]["policy"]["Statement"] = Value::Array(vec![statement; 100_000]);
    std::fs::write(
        directory.path().join("many.json"),
        serde_json::to_vec(&world).unwrap(),
    )
    .unwrap();
    let output = s3fix(&["plan", SPEC, "--world", "many.json"], directory.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("the key policy of `arn:aws:kms:"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn simulate_reports_a_line_that_is_not_utf8_and_evaluates_the_rest() {
    let cases = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/plans/examples/article-cases.jsonl"
    ))
    .unwrap();
    let lines: Vec<&str> = cases.lines().filter(|line| !line.trim().is_empty()).collect();
    assert!(lines.len() >= 2);
    let mut input = Vec::new();
    input.extend_from_slice(lines[0].as_bytes());
    input.extend_from_slice(b"\n{\"name\": \"bad \xff\xfe bytes\"}\n");
    for line in &lines[1..] {
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("cases.jsonl"), input).unwrap();
    let output = s3fix(&["simulate", "cases.jsonl"], directory.path());
    assert_eq!(output.status.code(), Some(1));
    let results = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        results.lines().count(),
        lines.len() + 1,
        "every case has its line: {results}"
    );
    assert!(
        stderr(&output).contains("line 2 is not UTF-8 text"),
        "{}",
        stderr(&output)
    );
}

//! The China (`aws-cn`) and GovCloud (`aws-us-gov`) partitions: the article's world and spec
//! moved into each partition plan, prove and explain with ARNs of that partition only — the
//! partition flows from the spec (and the bucket's region) into every ARN s3fix writes
//! (IAM User Guide, "IAM identifiers": `arn:partition:service:region:account:resource`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use s3fix::core::plan::{PlanOptions, plan};
use s3fix::core::s3::{FinalDecision, S3Action, S3Request, explain};
use s3fix::core::spec::Spec;
use s3fix::core::world::World;

const WORLD: &str = include_str!("../plans/examples/article-world.json");
const SPEC: &str = include_str!("../plans/examples/report-reader.toml");

/// The article's world and spec with every ARN and region moved into `partition`.
fn moved(partition: &str, region: &str) -> (World, Spec) {
    let relocate = |text: &str| {
        text.replace("arn:aws:", &format!("arn:{partition}:"))
            .replace("us-east-1", region)
    };
    let world: World = serde_json::from_str(&relocate(WORLD)).unwrap();
    let spec = Spec::parse(&relocate(SPEC), "report-reader.toml").unwrap();
    (world, spec)
}

fn check_partition(partition: &str, region: &str) {
    let (world, spec) = moved(partition, region);
    let planned = plan(&world, &spec, PlanOptions::default())
        .unwrap_or_else(|error| panic!("{partition}: plan failed: {error}"));
    assert!(
        !planned.edits.is_empty(),
        "{partition}: the article world needs edits"
    );
    let written = serde_json::to_string(&planned.edits).unwrap();
    assert!(
        !written.contains("arn:aws:"),
        "{partition}: an edit names an ARN of the `aws` partition:\n{written}"
    );
    assert!(
        written.contains(&format!("arn:{partition}:s3:::my-bucket/data/*")),
        "{partition}: the grants name the objects in the spec's partition:\n{written}"
    );

    if partition == "aws-cn" {
        assert!(
            written.contains(&format!("s3.{region}.amazonaws.com.cn")),
            "kms:ViaService names the China endpoint:\n{written}"
        );
    }

    // The edited world allows exactly the request, explained with ARNs of the partition.
    let mut edited = world.clone();
    for edit in &planned.edits {
        s3fix::core::plan::set_value(&mut edited, &edit.resource, Some(&edit.after)).unwrap();
    }
    let request = S3Request {
        principal: format!("arn:{partition}:sts::222222222222:assumed-role/my-app-role/s1"),
        action: S3Action::Get,
        bucket: "my-bucket".into(),
        key: "data/report.csv".into(),
        context: vec![(
            "aws:SourceIp".into(),
            s3fix::core::eval::ContextEntry::Single("198.51.100.7".into()),
        )],
    };
    let explanation = explain(&edited, &request).unwrap();
    assert_eq!(
        explanation.request.resource,
        format!("arn:{partition}:s3:::my-bucket/data/report.csv")
    );
    assert_eq!(
        explanation.decision,
        FinalDecision::Allowed,
        "{partition}: {:#?}",
        explanation.gates
    );
}

#[test]
fn china_partition_plans_and_explains_in_aws_cn() {
    check_partition("aws-cn", "cn-north-1");
}

#[test]
fn govcloud_partition_plans_and_explains_in_aws_us_gov() {
    check_partition("aws-us-gov", "us-gov-west-1");
}

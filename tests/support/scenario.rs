//! A two-account scenario in moto: a bucket in 111111111111 with every gate set, and a role with
//! inline, managed and boundary policies in 222222222222.

use super::{BUCKET_ACCOUNT, CALLER_ACCOUNT, assume, base_config, s3};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3control::config::endpoint::{DefaultResolver, EndpointFuture, Params, ResolveEndpoint};
use serde_json::{Value, json};

/// What the scenario put in place, to compare with what the adapter reads.
pub struct Scenario {
    pub bucket: String,
    pub object_key: String,
    pub key_arn: String,
    pub key_policy: Value,
    pub bucket_policy: Value,
    pub principal_arn: String,
    pub inline_policy: Value,
    pub managed_arn: String,
    pub managed_policy: Value,
    pub boundary_arn: String,
    pub boundary_policy: Value,
}

/// S3 Control's rules prefix the host with the account id; strip it for a local endpoint.
#[derive(Debug)]
struct NoAccountHostPrefix(DefaultResolver);

impl ResolveEndpoint for NoAccountHostPrefix {
    fn resolve_endpoint<'a>(&'a self, params: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::new(Box::pin(async move {
            let endpoint = self.0.resolve_endpoint(params).await?;
            let url = match params.account_id() {
                Some(account) => endpoint.url().replacen(&format!("://{account}."), "://", 1),
                None => endpoint.url().to_string(),
            };
            Ok(endpoint.into_builder().url(url).build())
        }))
    }
}

/// An S3 Control client for moto (no account host prefix).
pub fn s3control(config: &aws_config::SdkConfig) -> aws_sdk_s3control::Client {
    aws_sdk_s3control::Client::from_conf(
        aws_sdk_s3control::config::Builder::from(config)
            .endpoint_resolver(NoAccountHostPrefix(DefaultResolver::new()))
            .build(),
    )
}

fn trust_policy() -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}).to_string()
}

impl Scenario {
    /// Create the scenario with a bucket named `bucket`.
    pub async fn create(endpoint: &str, bucket: &str) -> anyhow::Result<Scenario> {
        let base = base_config(endpoint).await;
        let bucket_admin = assume(&base, &super::admin_role(BUCKET_ACCOUNT)).await?;
        let caller_admin = assume(&base, &super::admin_role(CALLER_ACCOUNT)).await?;
        let iam_a = aws_sdk_iam::Client::new(&bucket_admin);
        let iam_b = aws_sdk_iam::Client::new(&caller_admin);
        for iam in [&iam_a, &iam_b] {
            iam.create_role()
                .role_name("s3fix-admin")
                .assume_role_policy_document(trust_policy())
                .send()
                .await?;
        }

        // The caller's role: inline + managed + boundary + tags.
        let principal_name = "reader";
        let object_key = "reports/q1.csv".to_string();
        let boundary_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "kms:*"], "Resource": "*"}]});
        let managed_policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/reports/*")}]});
        let inline_policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "UseKey", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]});
        let boundary_arn = iam_b
            .create_policy()
            .policy_name("s3fix-boundary")
            .policy_document(boundary_policy.to_string())
            .send()
            .await?
            .policy()
            .and_then(|policy| policy.arn())
            .unwrap_or_default()
            .to_string();
        let managed_arn = iam_b
            .create_policy()
            .policy_name("s3fix-read-reports")
            .policy_document(managed_policy.to_string())
            .send()
            .await?
            .policy()
            .and_then(|policy| policy.arn())
            .unwrap_or_default()
            .to_string();
        let role = iam_b
            .create_role()
            .role_name(principal_name)
            .path("/team/")
            .assume_role_policy_document(trust_policy())
            .permissions_boundary(&boundary_arn)
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("team")
                    .value("data")
                    .build()?,
            )
            .send()
            .await?;
        let principal_arn = role.role().map(|role| role.arn().to_string()).unwrap_or_default();
        iam_b
            .put_role_policy()
            .role_name(principal_name)
            .policy_name("use-key")
            .policy_document(inline_policy.to_string())
            .send()
            .await?;
        iam_b
            .attach_role_policy()
            .role_name(principal_name)
            .policy_arn(&managed_arn)
            .send()
            .await?;

        // The bucket's account: key, bucket with every setting, account BPA, an SSE-KMS object.
        let key_policy = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{BUCKET_ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Reader", "Effect": "Allow", "Principal": {"AWS": &principal_arn}, "Action": "kms:Decrypt", "Resource": "*"}
        ]});
        let kms = aws_sdk_kms::Client::new(&bucket_admin);
        let key = kms
            .create_key()
            .policy(key_policy.to_string())
            .description("s3fix test key")
            .send()
            .await?;
        let key_arn = key
            .key_metadata()
            .and_then(|metadata| metadata.arn())
            .unwrap_or_default()
            .to_string();
        kms.create_alias()
            .alias_name("alias/s3fix-reports")
            .target_key_id(&key_arn)
            .send()
            .await?;

        let s3 = s3(&bucket_admin);
        s3.create_bucket().bucket(bucket).send().await?;
        let bucket_policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "CrossAccountRead", "Effect": "Allow", "Principal": {"AWS": &principal_arn}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]});
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(bucket_policy.to_string())
            .send()
            .await?;
        use aws_sdk_s3::types::{
            ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration,
            ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
            ServerSideEncryptionRule,
        };
        s3.put_bucket_ownership_controls()
            .bucket(bucket)
            .ownership_controls(
                OwnershipControls::builder()
                    .rules(
                        OwnershipControlsRule::builder()
                            .object_ownership(ObjectOwnership::BucketOwnerPreferred)
                            .build()?,
                    )
                    .build()?,
            )
            .send()
            .await?;
        s3.put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(false)
                    .restrict_public_buckets(false)
                    .build(),
            )
            .send()
            .await?;
        s3.put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::AwsKms)
                                    .kms_master_key_id(&key_arn)
                                    .build()?,
                            )
                            .bucket_key_enabled(true)
                            .build(),
                    )
                    .build()?,
            )
            .send()
            .await?;
        s3.put_object()
            .bucket(bucket)
            .key(&object_key)
            .body(ByteStream::from_static(b"q1"))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&key_arn)
            .bucket_key_enabled(true)
            .send()
            .await?;
        s3control(&bucket_admin)
            .put_public_access_block()
            .account_id(BUCKET_ACCOUNT)
            .public_access_block_configuration(
                aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .block_public_policy(true)
                    .build(),
            )
            .send()
            .await?;

        Ok(Scenario {
            bucket: bucket.to_string(),
            object_key,
            key_arn,
            key_policy,
            bucket_policy,
            principal_arn,
            inline_policy,
            managed_arn,
            managed_policy,
            boundary_arn,
            boundary_policy,
        })
    }
}

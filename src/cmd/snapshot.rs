//! `s3fix snapshot`: observe a bucket, its objects and a principal through AWS, write a world file.

use crate::adapter::aws::{AwsAdapter, AwsOptions};
use crate::adapter::{Adapter, ObserveRequest};
use crate::exit::ExitCode;
use crate::fsutil::write_atomically;
use crate::printer::Printer;
use anyhow::{Context, bail};
use std::path::PathBuf;

/// Read both accounts through the AWS API and write what s3fix sees as a world file.
///
/// Reads the bucket policy, Object Ownership, bucket and account Block Public Access, ACLs,
/// default encryption, the objects' encryption, their KMS keys, the principal's identity policies
/// and the SCPs/RCPs on both accounts' paths. Items that cannot be read are listed as unknown.
/// Nothing is written on error.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bucket, and optionally one object: `s3://BUCKET` or `s3://BUCKET/KEY`.
    #[arg(value_name = "S3_URL")]
    pub target: String,
    /// The calling principal: role, user or assumed-role session ARN.
    #[arg(long, value_name = "ARN")]
    pub principal: String,
    /// More object keys to observe (repeatable).
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// A role in the bucket's account to read the bucket, its account and its keys with.
    #[arg(long, value_name = "ARN")]
    pub bucket_role: Option<String>,
    /// A role in the caller's account to read the principal and its organization with.
    #[arg(long, value_name = "ARN")]
    pub caller_role: Option<String>,
    /// The external id the roles' trust policies require.
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
    /// The AWS profile to take credentials and settings from.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// The region for the first calls (the bucket's region is discovered).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// An endpoint override for every AWS service (e.g. a local emulator).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The world file to write (replaced atomically).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Print the number of API calls, in total and per operation, on stderr.
    #[arg(long)]
    pub verbose: bool,
}

/// Split `s3://BUCKET[/KEY]` into the bucket and the optional key.
pub fn parse_s3_url(url: &str) -> anyhow::Result<(String, Option<String>)> {
    let Some(rest) = url.strip_prefix("s3://") else {
        bail!("`{url}` is not an S3 URL (hint: write `s3://BUCKET` or `s3://BUCKET/KEY`)");
    };
    let (bucket, key) = match rest.split_once('/') {
        Some((bucket, key)) => (bucket, Some(key).filter(|key| !key.is_empty())),
        None => (rest, None),
    };
    if bucket.is_empty() {
        bail!("`{url}` names no bucket (hint: write `s3://BUCKET` or `s3://BUCKET/KEY`)");
    }
    Ok((bucket.to_string(), key.map(str::to_string)))
}

/// Run `s3fix snapshot`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    let (bucket, url_key) = parse_s3_url(&args.target)?;
    let mut keys: Vec<String> = url_key.into_iter().collect();
    for key in &args.keys {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    let request = ObserveRequest {
        bucket,
        keys,
        principal_arn: args.principal.clone(),
    };
    crate::exec::source::AwsSource {
        endpoint_url: args.endpoint_url.clone(),
        ..Default::default()
    }
    .check_endpoints()?;
    let options = AwsOptions {
        profile: args.profile.clone(),
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        bucket_role: args.bucket_role.clone(),
        caller_role: args.caller_role.clone(),
        external_id: args.external_id.clone(),
        command: "snapshot".into(),
        initial_backoff: None,
        adaptive_retry: false,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (world, counts) = runtime.block_on(async {
        let adapter = AwsAdapter::connect(&options).await?;
        let world = adapter.observe(&request).await;
        anyhow::Ok((world, adapter.call_counts()))
    })?;
    if args.verbose {
        let total: u64 = counts.values().sum();
        printer.status(&format!("{total} AWS API calls"));
        for (operation, count) in &counts {
            printer.status(&format!("  {count:>4} {operation}"));
        }
    }
    let world = world?;
    let mut json = serde_json::to_vec_pretty(&world).context("cannot serialize the world")?;
    json.push(b'\n');
    write_atomically(&args.output, &json)?;
    for unknown in &world.unknown {
        printer.warn(&format!(
            "could not read {:?} of `{}`: {}",
            unknown.item, unknown.resource, unknown.reason
        ));
    }
    printer.status(&format!("wrote `{}`", args.output.display()));
    Ok(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_split_into_bucket_and_key() -> anyhow::Result<()> {
        assert_eq!(parse_s3_url("s3://data")?, ("data".into(), None));
        assert_eq!(parse_s3_url("s3://data/")?, ("data".into(), None));
        assert_eq!(
            parse_s3_url("s3://data/a/b.txt")?,
            ("data".into(), Some("a/b.txt".into()))
        );
        assert!(parse_s3_url("data/a").is_err());
        assert!(parse_s3_url("s3:///a").is_err());
        Ok(())
    }

    #[test]
    fn atomic_write_replaces_the_file() -> anyhow::Result<()> {
        let directory = tempfile::tempdir()?;
        let path = directory.path().join("world.json");
        std::fs::write(&path, "old")?;
        write_atomically(&path, b"new")?;
        assert_eq!(std::fs::read_to_string(&path)?, "new");
        assert_eq!(std::fs::read_dir(directory.path())?.count(), 1);
        Ok(())
    }
}

//! `s3fix snapshot`: observe a bucket, its objects and a principal through AWS, write a world file.

use crate::adapter::aws::{AwsAdapter, AwsOptions};
use crate::adapter::{Adapter, ObserveRequest};
use crate::exit::ExitCode;
use crate::fsutil::write_atomically;
use crate::hint::HintedError;
use crate::printer::Printer;
use anyhow::Context;
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
    /// The world file to write (replaced atomically). An existing file that is not a world file
    /// is refused unless --force.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Deprecated spelling of -o/--out (every other command's --output is a format).
    #[arg(long = "output", value_name = "FILE", hide = true)]
    pub output: Option<PathBuf>,
    /// Let -o replace an existing file that is not a world file.
    #[arg(long)]
    pub force: bool,
    /// Print the number of API calls, in total and per operation, on stderr.
    #[arg(long)]
    pub verbose: bool,
}

/// Split `s3://BUCKET[/KEY]` into the bucket and the optional key.
pub fn parse_s3_url(url: &str) -> anyhow::Result<(String, Option<String>)> {
    let hint = "write `s3://BUCKET` or `s3://BUCKET/KEY`";
    let Some(rest) = url.strip_prefix("s3://") else {
        return Err(HintedError::new(format!("`{url}` is not an S3 URL"), hint).into());
    };
    let (bucket, key) = match rest.split_once('/') {
        Some((bucket, key)) => (bucket, Some(key).filter(|key| !key.is_empty())),
        None => (rest, None),
    };
    if bucket.is_empty() {
        return Err(HintedError::new(format!("`{url}` names no bucket"), hint).into());
    }
    Ok((bucket.to_string(), key.map(str::to_string)))
}

/// The world file to write: `-o/--out FILE`, or the deprecated `--output FILE` with a warning
/// where it cannot be mistaken for a format (`text`, `json`).
pub fn out_path(args: &Args, printer: &Printer) -> anyhow::Result<PathBuf> {
    match (&args.out, &args.output) {
        (Some(out), None) => Ok(out.clone()),
        (None, Some(output)) if !matches!(output.to_str(), Some("text" | "json")) => {
            printer.warn("`snapshot --output FILE` is deprecated: write `-o/--out FILE`");
            Ok(output.clone())
        }
        (None, Some(output)) => Err(HintedError::new(
            format!(
                "`--output {}` names a format, but snapshot writes only a world file",
                output.display()
            ),
            "name the world file with -o/--out FILE",
        )
        .into()),
        (Some(_), Some(_)) => Err(HintedError::new(
            "both -o/--out and the deprecated --output name the world file",
            "give only -o/--out FILE",
        )
        .into()),
        (None, None) => Err(HintedError::new(
            "snapshot needs the world file to write",
            "add -o/--out FILE, e.g. `-o world.json`",
        )
        .into()),
    }
}

/// Run `s3fix snapshot`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    let out = out_path(args, printer)?;
    crate::fsutil::refuse_foreign_overwrite(&out, crate::core::kind::FileKind::World, args.force)?;
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
    write_atomically(&out, &json)?;
    for unknown in &world.unknown {
        printer.warn(&format!(
            "could not read {:?} of `{}`: {}",
            unknown.item, unknown.resource, unknown.reason
        ));
    }
    printer.status(&format!("wrote `{}`", out.display()));
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

    fn args(line: &[&str]) -> anyhow::Result<Args> {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: Args,
        }
        let mut words = vec![
            "snapshot",
            "s3://b",
            "--principal",
            "arn:aws:iam::222222222222:role/r",
        ];
        words.extend_from_slice(line);
        Ok(Wrapper::try_parse_from(words)?.args)
    }

    #[test]
    fn out_is_the_world_file_and_output_is_a_deprecated_alias() -> anyhow::Result<()> {
        let printer = Printer::new();
        assert_eq!(
            out_path(&args(&["-o", "w.json"])?, &printer)?,
            PathBuf::from("w.json")
        );
        assert_eq!(
            out_path(&args(&["--out", "w.json"])?, &printer)?,
            PathBuf::from("w.json")
        );
        assert_eq!(
            out_path(&args(&["--output", "w.json"])?, &printer)?,
            PathBuf::from("w.json")
        );
        assert!(out_path(&args(&["--output", "json"])?, &printer).is_err());
        assert!(out_path(&args(&["-o", "a.json", "--output", "b.json"])?, &printer).is_err());
        assert!(out_path(&args(&[])?, &printer).is_err());
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

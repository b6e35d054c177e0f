//! Where a command reads the world from: a world file (`--world`), or both AWS accounts.

use crate::adapter::aws::{AwsAdapter, AwsOptions};
use crate::adapter::snapshot::SnapshotAdapter;
use crate::adapter::{Adapter, ObserveRequest};
use crate::core::world::{ItemKind, UnknownItem, World};
use crate::printer::Printer;
use anyhow::Context as _;
use std::path::PathBuf;

/// The options every command that reads the world shares.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct SourceArgs {
    /// Read the world from this file instead of AWS (no credentials needed).
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,
    /// A role in the bucket's account to read (and edit) the bucket and its KMS keys with.
    #[arg(long, value_name = "ARN")]
    pub bucket_role: Option<String>,
    /// A role in the caller's account to read (and edit) the principal's policies with.
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
    /// Print the number of AWS API calls, in total and per operation, on stderr.
    #[arg(long)]
    pub verbose: bool,
    /// Through AWS, read the owners of at most this many of the bucket's objects (default
    /// 10,000); beyond it their owners are unknown and an Object Ownership switch needs
    /// --allow-ownership-change.
    #[arg(long, value_name = "N")]
    pub max_objects: Option<usize>,
}

impl SourceArgs {
    /// The AWS adapter options for a command.
    pub fn aws_options(&self, command: &str) -> AwsOptions {
        AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            bucket_role: self.bucket_role.clone(),
            caller_role: self.caller_role.clone(),
            external_id: self.external_id.clone(),
            command: command.to_string(),
            initial_backoff: None,
            adaptive_retry: false,
        }
    }
}

/// A single-use async runtime for the AWS SDK.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Read the world for one request, from the file or from AWS.
pub fn observe(
    source: &SourceArgs,
    request: &ObserveRequest,
    command: &str,
    printer: &Printer,
) -> anyhow::Result<World> {
    if let Some(path) = &source.world {
        let adapter = SnapshotAdapter::load(path)?;
        return Ok(runtime()?.block_on(adapter.observe(request))?);
    }
    let options = source.aws_options(command);
    let (world, counts) = runtime()?.block_on(async {
        let adapter = AwsAdapter::connect(&options).await?;
        let world = adapter.observe(request).await;
        anyhow::Ok((world, adapter.call_counts()))
    })?;
    if source.verbose {
        let total: u64 = counts.values().sum();
        printer.status(&format!("{total} AWS API calls"));
        for (operation, count) in &counts {
            printer.status(&format!("  {count:>4} {operation}"));
        }
    }
    let world = world?;
    for unknown in &world.unknown {
        printer.warn(&format!(
            "could not read {:?} of `{}`: {}",
            unknown.item, unknown.resource, unknown.reason
        ));
    }
    Ok(world)
}

/// How many of a bucket's objects are read by default when planning through AWS
/// (`--max-objects`).
pub const MAX_OBJECTS: usize = 10_000;

/// The objects to observe for a spec through AWS: its exact keys and the bucket's objects, up to
/// `max` (`ListObjectsV2`). When the bucket holds more, or listing is denied, the owners of the
/// rest are unknown: the returned item says so, and the planner then refuses to switch Object
/// Ownership without `--allow-ownership-change` (never failing open).
pub async fn spec_keys(
    adapter: &AwsAdapter,
    spec: &crate::core::spec::Spec,
    max: usize,
    printer: &Printer,
) -> (Vec<String>, Option<UnknownItem>) {
    let mut keys: Vec<String> = spec
        .keys
        .iter()
        .filter(|key| !key.ends_with('*'))
        .cloned()
        .collect();
    let unknown = |reason: String| UnknownItem {
        item: ItemKind::ObjectListing,
        resource: spec.bucket.clone(),
        reason,
    };
    let missing = match adapter.list_keys(&spec.bucket, max).await {
        Ok(listing) => {
            for key in listing.keys {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            listing.truncated.then(|| {
                unknown(format!(
                    "the bucket holds more than {max} objects (--max-objects)"
                ))
            })
        }
        Err(error) => {
            printer.warn(&format!(
                "{error}; the owners of the bucket's objects are unknown"
            ));
            Some(unknown(error.to_string()))
        }
    };
    (keys, missing)
}

/// Read the world for a spec: the whole world file, or both accounts through AWS (the spec's
/// exact keys and a sample of the objects under its prefixes).
pub fn observe_spec(
    source: &SourceArgs,
    spec: &crate::core::spec::Spec,
    command: &str,
    printer: &Printer,
) -> anyhow::Result<World> {
    if let Some(path) = &source.world {
        return Ok(SnapshotAdapter::load(path)?.world().clone());
    }
    let options = source.aws_options(command);
    let (world, counts) = runtime()?.block_on(async {
        let adapter = AwsAdapter::connect(&options).await?;
        let max = source.max_objects.unwrap_or(MAX_OBJECTS);
        let (keys, listing_unknown) = spec_keys(&adapter, spec, max, printer).await;
        let request = ObserveRequest {
            bucket: spec.bucket.clone(),
            keys,
            principal_arn: spec.principal.clone(),
        };
        let world = adapter.observe(&request).await.map(|mut world| {
            world.unknown.extend(listing_unknown);
            world
        });
        anyhow::Ok((world, adapter.call_counts()))
    })?;
    if source.verbose {
        printer.status(&format!("{} AWS API calls", counts.values().sum::<u64>()));
        for (operation, count) in &counts {
            printer.status(&format!("  {count:>4} {operation}"));
        }
    }
    let world = world?;
    for unknown in &world.unknown {
        printer.warn(&format!(
            "could not read {:?} of `{}`: {}",
            unknown.item, unknown.resource, unknown.reason
        ));
    }
    Ok(world)
}

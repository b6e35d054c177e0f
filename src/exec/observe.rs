//! Where a command reads the world from: a world file (`--world`), or both AWS accounts.

use crate::adapter::aws::AwsAdapter;
use crate::adapter::aws::access_point::ReadAccessPoint;
use crate::adapter::snapshot::SnapshotAdapter;
use crate::adapter::{Adapter, ObserveRequest};
use crate::core::world::{ItemKind, UnknownItem, World};
use crate::exec::source::Source;
use crate::printer::Printer;
use anyhow::Context as _;

/// A world read from AWS, refused when it holds anything over AWS's limits or s3fix's bounds.
pub fn checked(world: World) -> anyhow::Result<World> {
    crate::core::limits::check_world(&world).map_err(|source| crate::adapter::AdapterError::OverLimit {
        origin: "AWS".into(),
        source,
    })?;
    Ok(world)
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
    source: &Source,
    request: &ObserveRequest,
    command: &str,
    printer: &Printer,
) -> anyhow::Result<World> {
    let aws = match source {
        Source::World(path) => {
            let adapter = SnapshotAdapter::load(path)?;
            return Ok(runtime()?.block_on(adapter.observe(request))?);
        }
        Source::Aws(aws) => aws,
    };
    let options = aws.options(command);
    let (world, counts) = runtime()?.block_on(async {
        let adapter = AwsAdapter::connect(&options).await?;
        let world = adapter.observe(request).await;
        anyhow::Ok((world, adapter.call_counts()))
    })?;
    if aws.verbose {
        let total: u64 = counts.values().sum();
        printer.status(&format!("{total} AWS API calls"));
        for (operation, count) in &counts {
            printer.status(&format!("  {count:>4} {operation}"));
        }
    }
    let world = checked(world?)?;
    for unknown in &world.unknown {
        printer.warn(&format!(
            "could not read {:?} of `{}`: {}",
            unknown.item, unknown.resource, unknown.reason
        ));
    }
    Ok(world)
}

/// The bucket behind an access point (ARN or alias), and for AWS the access point as read: from
/// the world file, or from S3 Control `GetAccessPoint` in the access point's account.
pub fn access_point_bucket(
    source: &Source,
    access_point: &str,
) -> anyhow::Result<(String, Option<ReadAccessPoint>)> {
    match source {
        Source::World(path) => {
            let adapter = SnapshotAdapter::load(path)?;
            adapter
                .world()
                .access_point(access_point)
                .map(|(bucket, _)| (bucket.name.clone(), None))
                .ok_or_else(|| {
                    anyhow::Error::new(crate::hint::HintedError::new(
                        format!(
                            "access point `{access_point}` is not in world file `{}`",
                            path.display()
                        ),
                        "check the ARN or alias",
                    ))
                })
        }
        Source::Aws(aws) => {
            let options = aws.options("explain");
            runtime()?.block_on(async {
                let adapter = AwsAdapter::connect(&options).await?;
                let read = adapter.read_access_point(access_point).await?;
                Ok((read.bucket.clone(), Some(read)))
            })
        }
    }
}

/// Put an access point read through AWS into the observed world: on its bucket, with its
/// unknown items.
pub fn attach_access_point(world: &mut World, read: ReadAccessPoint) {
    if let Some(bucket) = world.buckets.iter_mut().find(|bucket| bucket.name == read.bucket)
        && !bucket
            .access_points
            .iter()
            .any(|point| point.arn == read.point.arn)
    {
        bucket.access_points.push(read.point);
    }
    for unknown in read.unknown {
        if !world.unknown.contains(&unknown) {
            world.unknown.push(unknown);
        }
    }
}

/// Read the VPC endpoint a request goes through into the observed world (AWS only: a world file
/// already holds its endpoints). The endpoint is read in the bucket's region; one that cannot
/// be read becomes an unknown item.
pub fn attach_vpc_endpoint(source: &Source, world: &mut World, bucket: &str, id: &str) -> anyhow::Result<()> {
    let Source::Aws(aws) = source else {
        return Ok(());
    };
    if world.vpc_endpoint(id).is_some() {
        return Ok(());
    }
    let region = world
        .bucket(bucket)
        .map_or_else(|| "us-east-1".to_string(), |bucket| bucket.region.clone());
    let options = aws.options("explain");
    let read = runtime()?.block_on(async {
        let adapter = AwsAdapter::connect(&options).await?;
        anyhow::Ok(adapter.read_vpc_endpoint(&region, id).await?)
    })?;
    attach_endpoint_read(world, read);
    Ok(())
}

/// Put an endpoint read (the endpoint, or why it is unknown) into the world.
fn attach_endpoint_read(
    world: &mut World,
    read: Result<crate::core::world::VpcEndpoint, crate::core::world::UnknownItem>,
) {
    match read {
        Ok(endpoint) => world.vpc_endpoints.push(endpoint),
        Err(unknown) => {
            if !world.unknown.contains(&unknown) {
                world.unknown.push(unknown);
            }
        }
    }
}

/// Add the access point a spec names and the VPC endpoint of its `aws:SourceVpce` context to a
/// world read through AWS: without them those gates would be unknown.
pub async fn with_spec_gateways(
    adapter: &AwsAdapter,
    spec: &crate::core::spec::Spec,
    mut world: World,
) -> Result<World, crate::adapter::AdapterError> {
    // Several specs of one drift run may name the same access point: it is read once.
    if let Some(access_point) = spec
        .access_point
        .as_ref()
        .filter(|named| world.access_point(named).is_none())
    {
        let read = adapter.read_access_point(access_point).await?;
        attach_access_point(&mut world, read);
    }
    let vpce = spec
        .context
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("aws:SourceVpce"))
        .map(|(_, id)| id.clone());
    if let Some(id) = vpce.filter(|id| world.vpc_endpoint(id).is_none()) {
        let region = world
            .bucket(&spec.bucket)
            .map_or_else(|| "us-east-1".to_string(), |bucket| bucket.region.clone());
        let read = adapter.read_vpc_endpoint(&region, &id).await?;
        attach_endpoint_read(&mut world, read);
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
/// exact keys and the bucket's objects up to `--max-objects`).
pub fn observe_spec(
    source: &Source,
    spec: &crate::core::spec::Spec,
    command: &str,
    printer: &Printer,
) -> anyhow::Result<World> {
    let aws = match source {
        Source::World(path) => return Ok(SnapshotAdapter::load(path)?.world().clone()),
        Source::Aws(aws) => aws,
    };
    let options = aws.options(command);
    let (world, counts) = runtime()?.block_on(async {
        let adapter = AwsAdapter::connect(&options).await?;
        let max = aws.max_objects.unwrap_or(MAX_OBJECTS);
        let (keys, listing_unknown) = spec_keys(&adapter, spec, max, printer).await;
        let request = ObserveRequest {
            bucket: spec.bucket.clone(),
            keys,
            principal_arn: spec.principal.clone(),
        };
        let world = match adapter.observe(&request).await {
            Ok(mut world) => {
                world.unknown.extend(listing_unknown);
                Ok(with_spec_gateways(&adapter, spec, world).await?)
            }
            Err(error) => Err(error),
        };
        anyhow::Ok((world, adapter.call_counts()))
    })?;
    if aws.verbose {
        printer.status(&format!("{} AWS API calls", counts.values().sum::<u64>()));
        for (operation, count) in &counts {
            printer.status(&format!("  {count:>4} {operation}"));
        }
    }
    let world = checked(world?)?;
    for unknown in &world.unknown {
        printer.warn(&format!(
            "could not read {:?} of `{}`: {}",
            unknown.item, unknown.resource, unknown.reason
        ));
    }
    Ok(world)
}

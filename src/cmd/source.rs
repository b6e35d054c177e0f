//! The world-source options every command that reads the world shares, resolved once into an
//! [`exec::source::Source`](crate::exec::source::Source).

use crate::exec::source::{AwsSource, Operator, Source};
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
    /// An endpoint override for every AWS service (HTTPS, or plain HTTP to a loopback address).
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
    /// The source these options name; an AWS source's endpoints are checked here.
    pub fn resolve(&self) -> anyhow::Result<Source> {
        if let Some(path) = &self.world {
            return Ok(Source::World(path.clone()));
        }
        Ok(Source::Aws(self.aws()?))
    }

    /// The AWS side of these options, whether or not a world file is named (for lookups that
    /// only AWS answers); its endpoints are checked.
    pub fn aws(&self) -> anyhow::Result<AwsSource> {
        let aws = AwsSource {
            bucket_role: self.bucket_role.clone(),
            caller_role: self.caller_role.clone(),
            external_id: self.external_id.clone(),
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            verbose: self.verbose,
            max_objects: self.max_objects,
        };
        aws.check_endpoints()?;
        Ok(aws)
    }
}

/// What `apply` and `rollback` take beside what the plan or journal recorded: the operator's own
/// choice of world file, profile, region and endpoint.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct OperatorArgs {
    /// Use this world file instead of the one recorded (re-planned and re-proved there).
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,
    /// The AWS profile (else the recorded one, named in the target line).
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// The region (else the recorded one).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// The endpoint; required when the plan or journal names one, and must equal it.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl OperatorArgs {
    /// The operator's choices.
    pub fn operator(&self, verbose: bool) -> Operator {
        Operator {
            world: self.world.clone(),
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            verbose,
        }
    }
}

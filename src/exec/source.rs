//! Where a command reads and writes the world: a world file, or both AWS accounts. Resolved once,
//! at the command edge, from the operator's options (and, for apply and rollback, what a plan or
//! journal recorded — never trusted on its own).

use crate::adapter::aws::AwsOptions;
use crate::core::plan::PlanSource;
use crate::core::spec::Spec;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A resolved source: a world file, or AWS through these options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A world file (offline).
    World(PathBuf),
    /// Both AWS accounts.
    Aws(AwsSource),
}

/// How to reach AWS (no secrets: role ARNs and settings only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSource {
    /// The role assumed in the bucket's account.
    pub bucket_role: Option<String>,
    /// The role assumed in the caller's account.
    pub caller_role: Option<String>,
    /// The external id for those roles.
    pub external_id: Option<String>,
    /// The AWS profile.
    pub profile: Option<String>,
    /// The region of the first calls.
    pub region: Option<String>,
    /// An endpoint override for every service.
    pub endpoint_url: Option<String>,
    /// Print API call counts.
    pub verbose: bool,
    /// Read the owners of at most this many of the bucket's objects (`--max-objects`).
    pub max_objects: Option<usize>,
}

/// What the operator gave on the command line of `apply`, `rollback` or `drift`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operator {
    /// `--world FILE`.
    pub world: Option<PathBuf>,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--endpoint-url`.
    pub endpoint_url: Option<String>,
    /// `--verbose`.
    pub verbose: bool,
}

/// Why a source cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// A plan or journal names an endpoint the operator did not give.
    #[error(
        "the plan names the endpoint `{recorded}`, and s3fix never sends credentials to an endpoint named only in a file"
    )]
    EndpointNotGiven {
        /// The endpoint in the file.
        recorded: String,
    },
    /// The operator's endpoint differs from the recorded one.
    #[error("the plan was made against endpoint `{recorded}`, but this command would use `{given}`")]
    EndpointMismatch {
        /// The endpoint in the file.
        recorded: String,
        /// The endpoint the operator gave.
        given: String,
    },
    /// A plain-HTTP endpoint that is not on this machine.
    #[error(
        "refusing endpoint `{0}`: credentials are sent only over HTTPS, or over plain HTTP to a loopback address"
    )]
    InsecureEndpoint(String),
    /// Not a URL s3fix can use.
    #[error("endpoint `{0}` is not an http:// or https:// URL")]
    BadEndpoint(String),
}

impl crate::hint::Hinted for SourceError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            SourceError::EndpointNotGiven { recorded } => {
                format!("if you mean it, pass --endpoint-url {recorded} or set AWS_ENDPOINT_URL")
            }
            SourceError::EndpointMismatch { recorded, given } => {
                format!("plan again against `{given}`, or pass the plan's endpoint `{recorded}`")
            }
            SourceError::InsecureEndpoint(_) => "use an https:// endpoint".into(),
            SourceError::BadEndpoint(_) => {
                "write the endpoint as a URL, e.g. `https://s3.us-east-1.amazonaws.com`".into()
            }
        })
    }
}

/// The environment variables through which the SDK takes endpoint overrides.
const ENDPOINT_VARIABLES: [&str; 7] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_S3_CONTROL",
    "AWS_ENDPOINT_URL_IAM",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_ENDPOINT_URL_ORGANIZATIONS",
];

/// The endpoint overrides in the environment (`AWS_ENDPOINT_URL*`), as (variable, value).
pub fn endpoints_from_environment() -> Vec<(String, String)> {
    ENDPOINT_VARIABLES
        .iter()
        .filter_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.is_empty())
                .map(|value| ((*name).to_string(), value))
        })
        .collect()
}

/// Refuse an endpoint that would carry credentials in the clear off this machine.
pub fn check_endpoint(url: &str) -> Result<(), SourceError> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(());
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return Err(SourceError::BadEndpoint(url.to_string()));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|address| address.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(SourceError::InsecureEndpoint(url.to_string()))
    }
}

fn same_endpoint(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

impl AwsSource {
    /// The AWS adapter options for a command.
    pub fn options(&self, command: &str) -> AwsOptions {
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

    /// Check every endpoint this source would send credentials to (the option and the
    /// environment's overrides).
    pub fn check_endpoints(&self) -> Result<(), SourceError> {
        if let Some(url) = &self.endpoint_url {
            check_endpoint(url)?;
        }
        for (_, url) in endpoints_from_environment() {
            check_endpoint(&url)?;
        }
        Ok(())
    }

    /// The spec's roles fill in what is not given.
    pub fn with_spec_roles(mut self, spec: &Spec) -> AwsSource {
        if self.bucket_role.is_none() {
            self.bucket_role.clone_from(&spec.bucket_account.role);
        }
        if self.caller_role.is_none() {
            self.caller_role.clone_from(&spec.caller_account.role);
        }
        if self.external_id.is_none() {
            self.external_id = spec
                .bucket_account
                .external_id
                .clone()
                .or_else(|| spec.caller_account.external_id.clone());
        }
        self
    }
}

fn account_of(arn: &str) -> Option<String> {
    crate::core::arn::account_of(arn).map(|account| account.as_str().to_string())
}

impl Source {
    /// The spec's roles fill in what the command line leaves unset (AWS only).
    pub fn with_spec(&self, spec: &Spec) -> Source {
        match self {
            Source::World(path) => Source::World(path.clone()),
            Source::Aws(aws) => Source::Aws(aws.clone().with_spec_roles(spec)),
        }
    }

    /// Whether API call counts are printed.
    pub fn verbose(&self) -> bool {
        matches!(self, Source::Aws(aws) if aws.verbose)
    }

    /// The record of this source in a plan file. A world path is stored relative to the plan
    /// file's directory when it lies below it, else absolute, so the plan resolves it the same
    /// way wherever it is applied from.
    pub fn plan_source(&self, plan_file: Option<&Path>) -> PlanSource {
        match self {
            Source::World(path) => PlanSource {
                world: Some(record_world_path(path, plan_file)),
                ..PlanSource::default()
            },
            Source::Aws(aws) => PlanSource {
                world: None,
                bucket_role: aws.bucket_role.clone(),
                caller_role: aws.caller_role.clone(),
                external_id: aws.external_id.clone(),
                profile: aws.profile.clone(),
                region: aws.region.clone(),
                endpoint_url: aws.endpoint_url.clone(),
                max_objects: aws.max_objects,
            },
        }
    }

    /// Where the command will write, in one line: "world file `…`" or "AWS: bucket account …
    /// via role …, caller account … via role …, region …, endpoint …".
    pub fn describe_target(&self, spec: Option<&Spec>) -> String {
        match self {
            Source::World(path) => format!("world file `{}`", path.display()),
            Source::Aws(aws) => describe_aws(aws, spec),
        }
    }
}

/// The target line of a recorded source, as `show` prints it.
pub fn describe_recorded(recorded: &PlanSource, spec: Option<&Spec>) -> String {
    match &recorded.world {
        Some(path) => format!("world file `{path}` (relative to the plan file's directory)"),
        None => describe_aws(
            &AwsSource {
                bucket_role: recorded.bucket_role.clone(),
                caller_role: recorded.caller_role.clone(),
                external_id: recorded.external_id.clone(),
                profile: recorded.profile.clone(),
                region: recorded.region.clone(),
                endpoint_url: recorded.endpoint_url.clone(),
                verbose: false,
                max_objects: recorded.max_objects,
            },
            spec,
        ),
    }
}

fn describe_aws(aws: &AwsSource, spec: Option<&Spec>) -> String {
    let side = |role: &Option<String>, account: Option<String>, what: &str| -> String {
        match (role, account) {
            (Some(role), _) => format!(
                "{what} account {} via role `{role}`",
                account_of(role).unwrap_or_else(|| "?".into())
            ),
            (None, Some(account)) => format!("{what} account {account} with the default credentials"),
            (None, None) => format!("{what} account of the default credentials"),
        }
    };
    let caller_account = spec.and_then(|spec| account_of(spec.principal.as_ref()));
    let bucket_account = aws.bucket_role.as_deref().and_then(account_of);
    let mut parts = vec![
        side(&aws.bucket_role, bucket_account, "bucket"),
        side(&aws.caller_role, caller_account, "caller"),
    ];
    parts.push(format!(
        "region {}",
        aws.region
            .clone()
            .unwrap_or_else(|| "from the AWS configuration".into())
    ));
    if let Some(profile) = &aws.profile {
        parts.push(format!("profile `{profile}`"));
    }
    let environment = endpoints_from_environment();
    match (&aws.endpoint_url, environment.first()) {
        (Some(url), _) => parts.push(format!("endpoint `{url}`")),
        (None, Some((name, url))) => parts.push(format!("endpoint `{url}` (from {name})")),
        (None, None) => parts.push("AWS's public endpoints".into()),
    }
    format!("AWS: {}", parts.join(", "))
}

fn record_world_path(path: &Path, plan_file: Option<&Path>) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let plan_directory = plan_file
        .and_then(|file| std::path::absolute(file).ok())
        .and_then(|file| file.parent().map(Path::to_path_buf));
    match plan_directory.and_then(|directory| absolute.strip_prefix(&directory).ok().map(Path::to_path_buf)) {
        Some(relative) => relative.display().to_string(),
        None => absolute.display().to_string(),
    }
}

/// The source to apply (or roll back) a recorded plan or journal with.
///
/// - A world path is resolved against the plan file's directory; `--world FILE` replaces it (the
///   plan is then re-planned and re-proved on that file like any other).
/// - A recorded endpoint is used only when the operator gives the same one too (`--endpoint-url`
///   or `AWS_ENDPOINT_URL`); a different or missing one is refused.
/// - Profile and region: the operator's win; recorded ones are used and named in the target line.
/// - Every endpoint must be HTTPS or loopback.
pub fn for_recorded(
    recorded: &PlanSource,
    recorded_in: &Path,
    operator: &Operator,
) -> Result<Source, SourceError> {
    if let Some(path) = &operator.world {
        return Ok(Source::World(path.clone()));
    }
    if let Some(world) = &recorded.world {
        let path = PathBuf::from(world);
        let resolved = if path.is_absolute() {
            path
        } else {
            recorded_in
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
                .map_or(path.clone(), |parent| parent.join(&path))
        };
        return Ok(Source::World(resolved));
    }
    let environment_endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|value| !value.is_empty());
    let given = operator.endpoint_url.clone().or(environment_endpoint);
    if let Some(recorded_endpoint) = &recorded.endpoint_url {
        match &given {
            None => {
                return Err(SourceError::EndpointNotGiven {
                    recorded: recorded_endpoint.clone(),
                });
            }
            Some(given) if !same_endpoint(given, recorded_endpoint) => {
                return Err(SourceError::EndpointMismatch {
                    recorded: recorded_endpoint.clone(),
                    given: given.clone(),
                });
            }
            Some(_) => {}
        }
    }
    let aws = AwsSource {
        bucket_role: recorded.bucket_role.clone(),
        caller_role: recorded.caller_role.clone(),
        external_id: recorded.external_id.clone(),
        profile: operator.profile.clone().or_else(|| recorded.profile.clone()),
        region: operator.region.clone().or_else(|| recorded.region.clone()),
        endpoint_url: operator.endpoint_url.clone(),
        verbose: operator.verbose,
        max_objects: recorded.max_objects,
    };
    aws.check_endpoints()?;
    Ok(Source::Aws(aws))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn the_object_bound_is_recorded_in_the_plan_and_used_again() {
        let given = Source::Aws(AwsSource {
            max_objects: Some(25),
            ..AwsSource::default()
        });
        let recorded = given.plan_source(None);
        assert_eq!(recorded.max_objects, Some(25));
        let text = serde_json::to_value(&recorded).unwrap();
        assert_eq!(text["maxObjects"], 25, "{text}");
        let read: PlanSource = serde_json::from_value(text).unwrap();
        let Source::Aws(aws) = for_recorded(&read, Path::new("plan.json"), &Operator::default()).unwrap()
        else {
            panic!("an AWS plan is applied through AWS");
        };
        assert_eq!(aws.max_objects, Some(25));
        // A plan written before the bound was recorded loads, and observes with the default.
        let old: PlanSource = serde_json::from_str(r#"{"region": "us-east-1"}"#).unwrap();
        assert_eq!(old.max_objects, None);
    }

    #[test]
    fn only_https_or_loopback_endpoints_carry_credentials() {
        for good in [
            "https://s3.amazonaws.com",
            "http://127.0.0.1:5055",
            "http://127.8.0.1",
            "http://localhost:4566/",
            "http://[::1]:9000",
            "HTTPS://example.com",
        ] {
            assert!(check_endpoint(good).is_ok(), "{good}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.5:5055",
            "http://127.0.0.1.evil.example",
            "http://user@example.com",
            "http://localhost.example.com",
        ] {
            assert!(
                matches!(check_endpoint(bad), Err(SourceError::InsecureEndpoint(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            check_endpoint("ftp://x"),
            Err(SourceError::BadEndpoint(_))
        ));
    }

    #[test]
    fn a_recorded_endpoint_needs_the_operator_to_give_it_too() {
        let recorded = PlanSource {
            endpoint_url: Some("http://127.0.0.1:9999".into()),
            ..PlanSource::default()
        };
        let plan = Path::new("/tmp/plan.json");
        // Whatever the test environment holds, an explicit different endpoint never matches.
        let other = Operator {
            endpoint_url: Some("http://127.0.0.1:5055".into()),
            ..Operator::default()
        };
        assert!(matches!(
            for_recorded(&recorded, plan, &other),
            Err(SourceError::EndpointMismatch { .. })
        ));
        let same = Operator {
            endpoint_url: Some("http://127.0.0.1:9999/".into()),
            ..Operator::default()
        };
        let Source::Aws(aws) = for_recorded(&recorded, plan, &same).unwrap() else {
            unreachable!("an AWS plan resolves to AWS")
        };
        assert_eq!(aws.endpoint_url.as_deref(), Some("http://127.0.0.1:9999/"));
    }

    #[test]
    fn world_paths_resolve_against_the_plan_directory() {
        let recorded = PlanSource {
            world: Some("world.json".into()),
            ..PlanSource::default()
        };
        let source = for_recorded(&recorded, Path::new("/srv/plans/p.json"), &Operator::default()).unwrap();
        assert_eq!(source, Source::World(PathBuf::from("/srv/plans/world.json")));
        let operator = Operator {
            world: Some(PathBuf::from("/elsewhere/w.json")),
            ..Operator::default()
        };
        let source = for_recorded(&recorded, Path::new("/srv/plans/p.json"), &operator).unwrap();
        assert_eq!(source, Source::World(PathBuf::from("/elsewhere/w.json")));
        let stored = record_world_path(
            Path::new("/srv/plans/sub/w.json"),
            Some(Path::new("/srv/plans/p.json")),
        );
        assert_eq!(stored, "sub/w.json");
        let stored = record_world_path(Path::new("/other/w.json"), Some(Path::new("/srv/plans/p.json")));
        assert_eq!(stored, "/other/w.json");
    }

    #[test]
    fn the_target_line_names_accounts_roles_and_region() {
        let aws = AwsSource {
            bucket_role: Some("arn:aws:iam::111111111111:role/admin".into()),
            caller_role: Some("arn:aws:iam::222222222222:role/admin".into()),
            region: Some("eu-west-1".into()),
            endpoint_url: Some("https://s3.example".into()),
            ..AwsSource::default()
        };
        let line = Source::Aws(aws).describe_target(None);
        assert!(line.starts_with("AWS: bucket account 111111111111 via role `arn:aws:iam::111111111111:role/admin`, caller account 222222222222 via role"), "{line}");
        assert!(
            line.contains("region eu-west-1") && line.contains("endpoint `https://s3.example`"),
            "{line}"
        );
    }
}

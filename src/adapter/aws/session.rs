//! Sessions: one shared SDK configuration, optional assumed roles in the bucket's and the caller's
//! accounts, the clients built from them, and the call counter every client reports to.

use super::error::{Dispatch, Failure, FailureClass, dispatch_of};
use crate::adapter::AdapterError;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3control::config::endpoint::{DefaultResolver, EndpointFuture, Params, ResolveEndpoint};
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// How to reach AWS: the standard credential chain plus these overrides.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// A named profile from the shared config files (else `AWS_PROFILE` or `default`).
    pub profile: Option<String>,
    /// The region for the first calls (the bucket's own region is discovered).
    pub region: Option<String>,
    /// An endpoint override for every service (e.g. a local emulator).
    pub endpoint_url: Option<String>,
    /// A role in the bucket's account to read the bucket, its account and its keys with.
    pub bucket_role: Option<String>,
    /// A role in the caller's account to read the principal and its organization with.
    pub caller_role: Option<String>,
    /// The external id the roles' trust policies require.
    pub external_id: Option<String>,
    /// The subcommand, used in role session names (`s3fix-<command>`).
    pub command: String,
    /// The first retry backoff; `None` keeps the SDK default (tests shorten it).
    pub initial_backoff: Option<Duration>,
    /// Use the SDK's adaptive retry (client-side rate limiting on throttling) unless the user's
    /// `AWS_RETRY_MODE` says otherwise: for drift runs that read many resources.
    pub adaptive_retry: bool,
}

/// Counts API calls per `Service:Operation`, once per operation (retries are not counted).
#[derive(Debug, Clone, Default)]
pub(crate) struct CallCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    /// The counts so far.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "S3fixCallCounter"
    }

    // Client interceptors' `read_before_execution` runs before the operation's configuration
    // (which carries the operation name) is applied; serialization happens once per operation,
    // before the retry loop, with it in place.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = config.load::<Metadata>() {
            let name = format!("{}:{}", metadata.service(), metadata.name());
            let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
            *counts.entry(name).or_insert(0) += 1;
        }
        Ok(())
    }
}

/// S3 Control's endpoint rules prefix the host with `{AccountId}.`, which a local endpoint
/// (`127.0.0.1`) cannot resolve: strip that label. Used only with an endpoint override.
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

/// One identity in one account, with its clients.
///
/// INVARIANT: not `Debug`: its configuration holds credentials.
pub(crate) struct Session {
    /// `default` or the assumed role's ARN: names the session in errors.
    pub label: String,
    /// The account the credentials belong to.
    pub account: String,
    /// The identity of the credentials (STS GetCallerIdentity), e.g. an assumed-role session ARN.
    pub arn: String,
    /// The shared configuration with this session's credentials.
    config: SdkConfig,
    /// Whether an endpoint override is in force.
    local_endpoint: bool,
    /// The counter every client reports to.
    counter: CallCounter,
    /// IAM (global).
    pub iam: aws_sdk_iam::Client,
    /// Organizations (global).
    pub organizations: aws_sdk_organizations::Client,
    /// S3 Control in the configured region.
    pub s3control: aws_sdk_s3control::Client,
}

impl Session {
    fn new(
        label: String,
        (account, arn): (String, String),
        config: SdkConfig,
        local_endpoint: bool,
        counter: CallCounter,
    ) -> Session {
        let iam = aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&config)
                .interceptor(counter.clone())
                .build(),
        );
        let organizations = aws_sdk_organizations::Client::from_conf(
            aws_sdk_organizations::config::Builder::from(&config)
                .interceptor(counter.clone())
                .build(),
        );
        let mut s3control = aws_sdk_s3control::config::Builder::from(&config).interceptor(counter.clone());
        if local_endpoint {
            s3control = s3control.endpoint_resolver(NoAccountHostPrefix(DefaultResolver::new()));
        }
        Session {
            label,
            account,
            arn,
            iam,
            organizations,
            s3control: aws_sdk_s3control::Client::from_conf(s3control.build()),
            config,
            local_endpoint,
            counter,
        }
    }

    /// An S3 client for `region` (path-style addressing against an endpoint override).
    pub(crate) fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.config)
                .region(Region::new(region.to_string()))
                .force_path_style(self.local_endpoint)
                .interceptor(self.counter.clone())
                .build(),
        )
    }

    /// An EC2 client for `region` (VPC endpoints).
    pub(crate) fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&self.config)
                .region(Region::new(region.to_string()))
                .interceptor(self.counter.clone())
                .build(),
        )
    }

    /// A KMS client for `region`.
    pub(crate) fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&self.config)
                .region(Region::new(region.to_string()))
                .interceptor(self.counter.clone())
                .build(),
        )
    }

    /// An IAM Toolbox client (`GetRequestAuthorizationDetails`) in the configured region.
    pub(crate) fn iam_toolbox(&self) -> aws_sdk_iamtoolbox::Client {
        aws_sdk_iamtoolbox::Client::from_conf(
            aws_sdk_iamtoolbox::config::Builder::from(&self.config)
                .interceptor(self.counter.clone())
                .build(),
        )
    }

    /// The configured region.
    pub(crate) fn region(&self) -> String {
        self.config
            .region()
            .map(|region| region.as_ref().to_string())
            .unwrap_or_else(|| DEFAULT_REGION.to_string())
    }
}

/// The region used when none is configured; the bucket's own region is discovered from it.
const DEFAULT_REGION: &str = "us-east-1";

/// The sessions of one adapter: the bucket's account and the caller's account (possibly the same).
pub(crate) struct Sessions {
    /// Reads the bucket, its account settings and its keys.
    pub bucket: Session,
    /// Reads the principal and its organization; `None` = same as `bucket`.
    pub caller: Option<Session>,
}

impl Sessions {
    /// Load the configuration, assume the roles and identify each session's account.
    pub(crate) async fn open(options: &AwsOptions, counter: &CallCounter) -> Result<Sessions, AdapterError> {
        check_profile_exists(options).await?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint_url) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint_url);
        }
        // The SDK's standard retry (3 attempts, throttling and 5xx retried) unless the user's
        // AWS_RETRY_MODE / AWS_MAX_ATTEMPTS or profile say otherwise.
        let mut base = loader.load().await;
        if options.adaptive_retry && std::env::var_os("AWS_RETRY_MODE").is_none() {
            let attempts = base.retry_config().map_or(3, RetryConfig::max_attempts);
            base = base
                .to_builder()
                .retry_config(RetryConfig::adaptive().with_max_attempts(attempts))
                .build();
        }
        if let Some(backoff) = options.initial_backoff {
            let retry = base.retry_config().cloned().unwrap_or_else(RetryConfig::standard);
            base = base
                .to_builder()
                .retry_config(retry.with_initial_backoff(backoff))
                .build();
        }
        if base.region().is_none() {
            base = base.to_builder().region(Region::new(DEFAULT_REGION)).build();
        }
        let local_endpoint = base.endpoint_url().is_some()
            || ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_S3_CONTROL"]
                .iter()
                .any(|name| std::env::var(name).is_ok_and(|value| !value.is_empty()));

        let session_name = format!("s3fix-{}", options.command);
        // The caller session is separate when either role is given: with only --bucket-role, the
        // default credentials are the caller's.
        let separate_caller = options.caller_role.is_some() || options.bucket_role.is_some();
        let (bucket, caller) = tokio::try_join!(
            open_session(
                &base,
                options.bucket_role.as_deref(),
                &session_name,
                options,
                local_endpoint,
                counter
            ),
            async {
                if separate_caller {
                    open_session(
                        &base,
                        options.caller_role.as_deref(),
                        &session_name,
                        options,
                        local_endpoint,
                        counter,
                    )
                    .await
                    .map(Some)
                } else {
                    Ok(None)
                }
            }
        )?;
        Ok(Sessions { bucket, caller })
    }

    /// The session whose credentials belong to `account`, preferring the bucket session.
    pub(crate) fn in_account(&self, account: &str) -> Option<&Session> {
        std::iter::once(&self.bucket)
            .chain(self.caller.as_ref())
            .find(|session| session.account == account)
    }

    /// The caller session, or the bucket session when there is only one.
    pub(crate) fn caller(&self) -> &Session {
        self.caller.as_ref().unwrap_or(&self.bucket)
    }
}

/// The profile in force: `--profile`, else `AWS_PROFILE`, else `default`.
pub(crate) fn profile_in_use(options: &AwsOptions) -> String {
    options
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|name| !name.is_empty()))
        .unwrap_or_else(|| "default".to_string())
}

/// A profile named by `--profile` or `AWS_PROFILE` must exist in the shared config or
/// credentials file: the SDK's credential chain would otherwise move on silently and report the
/// last provider's failure (instance metadata) instead.
async fn check_profile_exists(options: &AwsOptions) -> Result<(), AdapterError> {
    let named = options.profile.is_some() || std::env::var("AWS_PROFILE").is_ok_and(|name| !name.is_empty());
    if !named {
        return Ok(());
    }
    let profile = profile_in_use(options);
    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
    let loaded = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &files,
        None,
    )
    .await;
    // A file that cannot be parsed is reported by the SDK itself when it loads the profile.
    match loaded {
        Ok(set) if set.get_profile(&profile).is_none() => Err(AdapterError::NoSuchProfile { profile }),
        _ => Ok(()),
    }
}

/// Where STS requests go: the endpoint override, or the regional endpoint.
fn sts_endpoint(config: &SdkConfig) -> String {
    let from_environment = ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()));
    config
        .endpoint_url()
        .map(str::to_string)
        .or(from_environment)
        .unwrap_or_else(|| {
            let region = config.region().map_or(DEFAULT_REGION, |region| region.as_ref());
            format!("https://sts.{region}.amazonaws.com")
        })
}

/// The error for an STS call that never reached AWS, if that is what happened.
fn dispatch_error<E>(
    error: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
    config: &SdkConfig,
    operation: &str,
    options: &AwsOptions,
) -> Option<AdapterError>
where
    E: std::error::Error + 'static,
{
    let region = config
        .region()
        .map_or(DEFAULT_REGION, |region| region.as_ref())
        .to_string();
    let detail = aws_smithy_types::error::display::DisplayErrorContext(error).to_string();
    Some(match dispatch_of(error)? {
        Dispatch::NoCredentials => AdapterError::NoCredentials {
            profile: profile_in_use(options),
            region,
            detail,
        },
        Dispatch::Unreachable(cause) => AdapterError::Unreachable {
            operation: operation.to_string(),
            endpoint: sts_endpoint(config),
            profile: profile_in_use(options),
            region,
            cause,
            detail,
        },
    })
}

/// One session: `base` itself, or `base` with the credentials of `role`; its account identified.
async fn open_session(
    base: &SdkConfig,
    role: Option<&str>,
    session_name: &str,
    options: &AwsOptions,
    local_endpoint: bool,
    counter: &CallCounter,
) -> Result<Session, AdapterError> {
    let label = role.map_or_else(|| profile_in_use(options), str::to_string);
    let config = match role {
        Some(role) => assume_role(base, role, session_name, options, counter).await?,
        None => base.clone(),
    };
    let identity = caller_account(&config, &label, options, counter).await?;
    Ok(Session::new(
        label,
        identity,
        config,
        local_endpoint,
        counter.clone(),
    ))
}

fn sts(config: &SdkConfig, counter: &CallCounter) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(config)
            .interceptor(counter.clone())
            .build(),
    )
}

/// Assume `role_arn` once and return `base` with the temporary credentials.
async fn assume_role(
    base: &SdkConfig,
    role_arn: &str,
    session_name: &str,
    options: &AwsOptions,
    counter: &CallCounter,
) -> Result<SdkConfig, AdapterError> {
    let output = sts(base, counter)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .set_external_id(options.external_id.clone())
        .send()
        .await
        .map_err(|error| {
            if let Some(error) = dispatch_error(&error, base, "STS AssumeRole", options) {
                return error;
            }
            let failure = Failure::from_sdk(&error);
            match failure.class() {
                FailureClass::Expired => AdapterError::ExpiredCredentials {
                    session: profile_in_use(options),
                },
                _ => AdapterError::AssumeRole {
                    role_arn: role_arn.to_string(),
                    reason: failure.reason(),
                },
            }
        })?;
    let Some(credentials) = output.credentials() else {
        return Err(AdapterError::AssumeRole {
            role_arn: role_arn.to_string(),
            reason: "the answer carried no credentials".into(),
        });
    };
    let expiry = SystemTime::try_from(*credentials.expiration()).ok();
    let credentials = Credentials::new(
        credentials.access_key_id(),
        credentials.secret_access_key(),
        Some(credentials.session_token().to_string()),
        expiry,
        "s3fix-assume-role",
    );
    Ok(base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build())
}

/// The account and ARN the configuration's credentials belong to (STS GetCallerIdentity).
async fn caller_account(
    config: &SdkConfig,
    label: &str,
    options: &AwsOptions,
    counter: &CallCounter,
) -> Result<(String, String), AdapterError> {
    let output = sts(config, counter)
        .get_caller_identity()
        .send()
        .await
        .map_err(|error| {
            if let Some(error) = dispatch_error(&error, config, "STS GetCallerIdentity", options) {
                return error;
            }
            let failure = Failure::from_sdk(&error);
            match failure.class() {
                FailureClass::Expired => AdapterError::ExpiredCredentials {
                    session: label.to_string(),
                },
                _ => AdapterError::Credentials {
                    session: label.to_string(),
                    reason: failure.reason(),
                },
            }
        })?;
    let account = output.account().ok_or_else(|| AdapterError::Credentials {
        session: label.to_string(),
        reason: "GetCallerIdentity returned no account".into(),
    })?;
    Ok((account.to_string(), output.arn().unwrap_or_default().to_string()))
}

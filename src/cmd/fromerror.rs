//! Starting from the error: `explain --from-error TEXT`, `--from-cloudtrail FILE [--event-id ID]`
//! and `--authorization-id ID`, and the inputs `s3fix spec --from-error` shares with them.
//!
//! What the error lacks comes from flags (`s3://BUCKET/KEY`, `--principal`, `--action`,
//! `--context`) or, for the principal, from the current credentials (STS GetCallerIdentity);
//! every input is reported with where it came from.

use crate::adapter::aws::AwsAdapter;
use crate::adapter::{AdapterError, ObserveRequest, Troubleshoot};
use crate::cmd::explain::{self, Format, parse_context, parse_target};
use crate::cmd::source::SourceArgs;
use crate::core::eval::{ContextEntry, Requester};
use crate::core::fromerror::authz::{AuthorizationDetails, compare_statements};
use crate::core::fromerror::compare::compare;
use crate::core::fromerror::notpolicy::{Facts, detect};
use crate::core::fromerror::report::Report;
use crate::core::fromerror::{Extraction, Source, cloudtrail, parse_message};
use crate::core::s3::{S3Action, S3Request};
use crate::core::world::World;
use crate::exec::observe::{observe, runtime};
use crate::exec::source::Source as WorldSource;
use crate::exit::ExitCode;
use crate::printer::Printer;
use crate::render;
use anyhow::{Context as _, bail};
use std::path::PathBuf;

/// The error to start from: a pasted message or a CloudTrail record.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ErrorInput {
    /// Start from a pasted error: an AWS CLI line, boto3/botocore text or traceback, a Rust,
    /// Java, Go or JavaScript SDK error, S3's XML error body (`-` reads stdin). Log noise and
    /// ANSI colour are ignored.
    #[arg(long, value_name = "TEXT", conflicts_with = "from_cloudtrail")]
    pub from_error: Option<String>,
    /// Start from a CloudTrail record with an AccessDenied errorCode: one record, a log file
    /// (`{"Records": [...]}`), a JSON array or JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub from_cloudtrail: Option<PathBuf>,
    /// With --from-cloudtrail: the eventID of the record to take.
    #[arg(long, value_name = "ID", requires = "from_cloudtrail")]
    pub event_id: Option<String>,
}

/// explain's error options: the error, and AWS's details behind an authorization ID.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FromErrorArgs {
    /// The error to start from.
    #[command(flatten)]
    pub input: ErrorInput,
    /// Ask AWS for the details behind this authorization ID (GetRequestAuthorizationDetails,
    /// IAM Access Troubleshooter preview) through the session of the denied principal's
    /// account, and explain with AWS's request context verbatim.
    #[arg(long, value_name = "ID")]
    pub authorization_id: Option<String>,
}

impl FromErrorArgs {
    /// Whether explain starts from an error.
    pub fn is_requested(&self) -> bool {
        self.input.is_given() || self.authorization_id.is_some()
    }
}

impl ErrorInput {
    /// Whether an error was given.
    pub fn is_given(&self) -> bool {
        self.from_error.is_some() || self.from_cloudtrail.is_some()
    }

    /// Read and extract the error, if one was given.
    pub fn read(&self) -> anyhow::Result<Option<(Source, Extraction)>> {
        if let Some(text) = &self.from_error {
            let text = if text == "-" {
                std::io::read_to_string(std::io::stdin()).context("cannot read the error from stdin")?
            } else {
                text.clone()
            };
            let extraction = parse_message(&text);
            if extraction.is_empty() {
                return Err(crate::hint::HintedError::new(
                    "nothing in the --from-error text looks like an AWS error",
                    "paste the whole message, e.g. `An error occurred (AccessDenied) when calling the GetObject operation: …`",
                )
                .into());
            }
            return Ok(Some((Source::Message, extraction)));
        }
        if let Some(path) = &self.from_cloudtrail {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read CloudTrail file `{}`", path.display()))?;
            let records = cloudtrail::records(&text).with_context(|| format!("`{}`", path.display()))?;
            let record = cloudtrail::pick(&records, self.event_id.as_deref())
                .with_context(|| format!("`{}`", path.display()))?;
            return Ok(Some((Source::Cloudtrail, cloudtrail::extract(record))));
        }
        Ok(None)
    }
}

/// What the operator gave besides the error.
#[derive(Debug, Clone, Copy)]
pub struct Flags<'a> {
    /// `s3://BUCKET/KEY`.
    pub target: Option<&'a str>,
    /// `--principal`.
    pub principal: Option<&'a str>,
    /// `--action`.
    pub action: Option<&'a str>,
    /// `--context KEY=VALUE`.
    pub context: &'a [String],
}

/// The request the error describes, each missing input filled from the flags (or, for the
/// principal, from `credentials`); what is still missing is listed with the flag that supplies it.
pub fn resolve(
    extraction: &Extraction,
    flags: Flags<'_>,
    credentials: &mut dyn FnMut() -> Result<String, String>,
    report: &mut Report,
) -> anyhow::Result<Result<S3Request, Vec<String>>> {
    let from = match report.source {
        Source::Message => "the message",
        Source::Cloudtrail => "the CloudTrail record",
        Source::AuthorizationId => "AWS's authorization details",
    };
    let mut missing = Vec::new();
    let principal = match (&extraction.principal, flags.principal) {
        (Some(principal), given) => {
            if let Some(given) = given.filter(|given| given != principal) {
                report.input("note", &format!("--principal `{given}` ignored"), from);
            }
            report.input("principal", principal, from);
            Some(principal.clone())
        }
        (None, Some(given)) => {
            report.input("principal", given, "--principal");
            Some(given.to_string())
        }
        (None, None) => match credentials() {
            Ok(arn) => {
                report.input("principal", &arn, "current credentials (STS GetCallerIdentity)");
                Some(arn)
            }
            Err(why) => {
                missing.push(format!("the caller ({why}): pass --principal ARN"));
                None
            }
        },
    };
    if let Some(role) = &extraction.role_arn {
        report.input("role", role, from);
    }
    let action = match (extraction.s3_action(), flags.action) {
        (Some(action), _) => {
            let named = extraction
                .operation
                .clone()
                .unwrap_or_else(|| action.iam_action().to_string());
            report.input(
                "action",
                &format!("{named} (authorizes as {})", action.iam_action()),
                from,
            );
            Some(action)
        }
        (None, Some(given)) => {
            let Some(action) = S3Action::parse(given) else {
                return Err(crate::hint::HintedError::new(
                    format!("unknown action `{given}`"),
                    "get, head, put or list",
                )
                .into());
            };
            report.input("action", action.iam_action(), "--action");
            Some(action)
        }
        (None, None) => {
            let named = extraction
                .action
                .as_deref()
                .map(|action| {
                    format!(" (the error names `{action}`, which is not an S3 operation s3fix explains)")
                })
                .unwrap_or_default();
            missing.push(format!("the operation{named}: pass --action get|head|put|list"));
            None
        }
    };
    let target = flags.target.map(parse_target).transpose()?;
    let bucket = match (&extraction.bucket, &target) {
        (Some(bucket), _) => {
            report.input("bucket", bucket, from);
            Some(bucket.clone())
        }
        (None, Some((bucket, _))) => {
            report.input("bucket", bucket, "s3://BUCKET/KEY");
            Some(bucket.clone())
        }
        (None, None) => {
            missing.push("the bucket: pass s3://BUCKET/KEY".to_string());
            None
        }
    };
    let key = match (&extraction.key, &target) {
        (Some(key), _) => {
            report.input("key", key, from);
            key.clone()
        }
        (None, Some((target_bucket, key))) if Some(target_bucket) == bucket.as_ref() && !key.is_empty() => {
            report.input("key", key, "s3://BUCKET/KEY");
            key.clone()
        }
        _ => {
            if action.is_some_and(S3Action::is_object) && bucket.is_some() {
                missing.push("the object key: pass s3://BUCKET/KEY".to_string());
            }
            String::new()
        }
    };
    let mut context: Vec<(String, ContextEntry)> = extraction
        .context
        .iter()
        .map(|(key, value)| (key.clone(), ContextEntry::Single(value.clone())))
        .collect();
    for (key, value) in parse_context(flags.context)? {
        context.retain(|(existing, _)| existing != &key);
        context.push((key, value));
    }
    for (key, value) in &context {
        let text = match value {
            ContextEntry::Single(text) => text.clone(),
            ContextEntry::Multi(values) => values.join(","),
        };
        let origin = if flags.context.iter().any(|pair| pair.starts_with(key.as_str())) {
            "--context"
        } else {
            from
        };
        report.input("context", &format!("{key}={text}"), origin);
    }
    Ok(match (principal, action, bucket) {
        (Some(principal), Some(action), Some(bucket)) if missing.is_empty() => Ok(S3Request {
            principal,
            action,
            bucket,
            key,
            context,
        }),
        _ => Err(missing),
    })
}

/// The account of a principal ARN, where it names one.
fn account_of(principal: Option<&str>) -> Option<String> {
    principal
        .and_then(|arn| Requester::parse(arn).ok())
        .and_then(|requester| requester.account)
}

/// AWS's details behind `authorization_id`, or why they are not available.
fn fetch_details(
    source: &SourceArgs,
    authorization_id: &str,
    account: Option<&str>,
) -> Result<AuthorizationDetails, String> {
    let options = source
        .aws()
        .map_err(|error| format!("{error:#}"))?
        .options("explain");
    let runtime = runtime().map_err(|error| error.to_string())?;
    runtime.block_on(async {
        let adapter = AwsAdapter::connect(&options)
            .await
            .map_err(|error| format!("AWS's authorization details are not available: {error}"))?;
        adapter
            .authorization_details(authorization_id, account)
            .await
            .map_err(|unavailable| unavailable.to_string())
    })
}

/// The identity of the current credentials (no roles assumed).
fn current_identity(source: &SourceArgs) -> Result<String, String> {
    let mut options = match source.resolve().map_err(|error| format!("{error:#}"))? {
        WorldSource::Aws(aws) => aws.options("explain"),
        WorldSource::World(_) => {
            return Err("the error names none, and with --world the current credentials are not read".into());
        }
    };
    options.bucket_role = None;
    options.caller_role = None;
    let runtime = runtime().map_err(|error| error.to_string())?;
    runtime.block_on(async {
        let adapter = AwsAdapter::connect(&options)
            .await
            .map_err(|error| error.to_string())?;
        adapter
            .caller_identity()
            .await
            .map(|identity| identity.arn)
            .map_err(|error| error.to_string())
    })
}

/// Fill what the error lacks from AWS's authorization details.
fn merge_details(extraction: &mut Extraction, details: &AuthorizationDetails) {
    let aws = details.extraction();
    if extraction.principal.is_none() {
        extraction.principal = aws.principal;
    }
    if extraction.action.is_none() {
        extraction.action = aws.action;
    }
    if extraction.bucket.is_none() {
        extraction.bucket = aws.bucket;
        extraction.key = aws.key;
    }
    if extraction.denial.is_none() {
        extraction.denial = aws.denial;
    }
}

/// Print the report alone (no gate walk) and exit 2: the request was denied.
fn print_report_only(
    args: &explain::Args,
    report: &Report,
    request: Option<&S3Request>,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    match args.output {
        Format::Text => printer.data(&render::fromerror::before(report, render::use_colour()))?,
        Format::Json => {
            let mut json = serde_json::json!({"fromError": render::fromerror::json(report)});
            if let (Some(object), Some(request)) = (json.as_object_mut(), request) {
                object.insert("request".into(), render::fromerror::request_json(request));
            }
            printer.data(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
        }
    }
    Ok(ExitCode::Denied)
}

/// Whether the principal may `s3:ListBucket` on the bucket (evaluated on a bucket-only world).
fn list_bucket_allowed(args: &explain::Args, request: &S3Request, printer: &Printer) -> Option<bool> {
    let observe_request = ObserveRequest {
        bucket: request.bucket.clone(),
        keys: Vec::new(),
        principal_arn: request.principal.clone(),
    };
    let world = observe(&args.source.resolve().ok()?, &observe_request, "explain", printer).ok()?;
    let list = S3Request {
        action: S3Action::List,
        key: String::new(),
        ..request.clone()
    };
    let explanation = crate::core::s3::explain(&world, &list).ok()?;
    Some(explain::exit_code(&explanation) == ExitCode::Success)
}

fn bucket_region(world: &World, bucket: &str) -> Option<String> {
    world.bucket(bucket).map(|bucket| bucket.region.clone())
}

/// Run `s3fix explain` starting from the error.
pub fn explain(args: &explain::Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    let now = jiff::Timestamp::now();
    let (source, mut extraction) = args
        .from
        .input
        .read()?
        .unwrap_or((Source::AuthorizationId, Extraction::default()));
    // AWS's own record: when asked for, or when the message carries an ID and AWS is in reach.
    let authorization_id = args.from.authorization_id.clone().or_else(|| {
        extraction
            .authorization_id
            .clone()
            .filter(|_| args.source.world.is_none())
    });
    let mut details = None;
    let mut unavailable = None;
    if let Some(id) = &authorization_id {
        match fetch_details(
            &args.source,
            id,
            account_of(extraction.principal.as_deref()).as_deref(),
        ) {
            Ok(found) => {
                merge_details(&mut extraction, &found);
                details = Some(found);
            }
            Err(reason) => {
                printer.warn(&format!("{reason}; continuing without them"));
                unavailable = Some(reason);
            }
        }
        extraction.authorization_id.get_or_insert_with(|| id.clone());
    }
    let mut report = Report::new(source, extraction.clone());
    if authorization_id.is_none()
        && let Some(id) = &extraction.authorization_id
    {
        report.input(
            "note",
            &format!("AWS's details behind authorization ID `{id}` are not read with --world; pass --authorization-id {id} to ask AWS"),
            "the message",
        );
    }
    report.not_policy = detect(
        &extraction,
        &Facts {
            now: Some(now),
            ..Facts::default()
        },
    );
    let context_flags: Vec<String> = if details.is_some() {
        Vec::new()
    } else {
        args.context.clone()
    };
    if details.is_some() && !args.context.is_empty() {
        printer.warn("--context ignored: AWS's request context is used verbatim");
    }
    // With only an authorization ID whose details could not be read, explain goes on as it
    // would without one: the operation defaults to get.
    let default_action = (source == Source::AuthorizationId && details.is_none()).then_some("get");
    let flags = Flags {
        target: args.target.as_deref(),
        principal: args.principal.as_deref(),
        action: args.action.as_deref().or(default_action),
        context: &context_flags,
    };
    let mut credentials = || current_identity(&args.source);
    let resolved = resolve(&extraction, flags, &mut credentials, &mut report)?;
    let mut request = match resolved {
        Ok(request) => request,
        Err(missing) if report.not_policy.is_some() => {
            report.walk_skipped = Some(format!("not named by the error: {}", missing.join("; ")));
            report.details = details;
            report.details_unavailable = unavailable;
            return print_report_only(args, &report, None, printer);
        }
        Err(missing) => bail!(
            "the error does not name everything explain needs: {}",
            missing.join("; ")
        ),
    };
    if let Some(details) = &details {
        request.context = details.context_entries();
        for (key, value) in &request.context {
            let text = match value {
                ContextEntry::Single(text) => text.clone(),
                ContextEntry::Multi(values) => values.join(","),
            };
            report.input("context", &format!("{key}={text}"), "AWS's request context");
        }
    }
    report.details = details;
    report.details_unavailable = unavailable;
    let keys = if matches!(request.action, S3Action::Get | S3Action::Head) {
        vec![request.key.clone()]
    } else {
        Vec::new()
    };
    let observe_request = ObserveRequest {
        bucket: request.bucket.clone(),
        keys,
        principal_arn: request.principal.clone(),
    };
    let world = match observe(&args.source.resolve()?, &observe_request, "explain", printer) {
        Ok(world) => world,
        Err(error)
            if matches!(
                error.downcast_ref::<AdapterError>(),
                Some(AdapterError::NoSuchKey { .. })
            ) =>
        {
            // AWS answers 403 rather than 404 to a caller without s3:ListBucket.
            let facts = Facts {
                now: Some(now),
                object_missing: true,
                list_bucket_allowed: list_bucket_allowed(args, &request, printer),
                ..Facts::default()
            };
            report.not_policy = report.not_policy.take().or_else(|| detect(&extraction, &facts));
            report.walk_skipped = Some(format!("{error}"));
            return print_report_only(args, &report, Some(&request), printer);
        }
        Err(error) => return Err(error),
    };
    if report.not_policy.is_none() {
        report.not_policy = detect(
            &extraction,
            &Facts {
                now: Some(now),
                bucket_region: bucket_region(&world, &request.bucket),
                ..Facts::default()
            },
        );
    }
    let explanation = crate::core::s3::explain(&world, &request)?;
    report.agreement = Some(compare(&extraction, &explanation));
    report.statements = report
        .details
        .as_ref()
        .map(|details| compare_statements(details, &explanation));
    match args.output {
        Format::Text => {
            let colour = render::use_colour();
            let text = format!(
                "{}{}{}",
                render::fromerror::before(&report, colour),
                render::explain::text(&explanation, args.reasons, colour),
                render::fromerror::after(&report)
            );
            printer.data(&text)?;
        }
        Format::Json => {
            let mut json = render::explain::json(&explanation, args.reasons);
            render::fromerror::add_target(&mut json, &request);
            if let Some(object) = json.as_object_mut() {
                object.insert("fromError".into(), render::fromerror::json(&report));
            }
            printer.data(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
        }
    }
    Ok(explain::exit_code(&explanation))
}

//! Shared helpers for the moto-backed tests: finding moto, resetting it, two accounts, a fault
//! proxy in front of it, and a scenario that puts every gate's state in place.
#![allow(dead_code, reason = "each test binary uses a different part of the helpers")]

pub mod scenario;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};
use s3fix::adapter::aws::{AwsAdapter, AwsOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant, SystemTime};

/// The account that owns the bucket.
pub const BUCKET_ACCOUNT: &str = "111111111111";
/// The account of the calling principal.
pub const CALLER_ACCOUNT: &str = "222222222222";
/// The admin role assumed in each account.
pub fn admin_role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/s3fix-admin")
}

/// moto's address: `S3FIX_TEST_ENDPOINT`, default `http://127.0.0.1:5055`.
pub fn endpoint() -> String {
    std::env::var("S3FIX_TEST_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

static SERIAL: Mutex<()> = Mutex::new(());
static ENVIRONMENT: Once = Once::new();

/// Exclusive use of moto for one test: reset, with dummy credentials in the environment.
pub struct Moto {
    _guard: MutexGuard<'static, ()>,
    /// moto's endpoint URL.
    pub endpoint: String,
}

/// Take moto for this test, or `None` (with a printed message) when it is not running outside
/// CI. Under `CI=true` an unreachable moto fails the test.
pub fn moto() -> Option<Moto> {
    ENVIRONMENT.call_once(|| {
        // SAFETY: runs once, before any test of this binary builds an AWS client (each takes
        // moto through this function first), so no other thread reads the environment now.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            std::env::set_var("AWS_REGION", "us-east-1");
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
            std::env::remove_var("AWS_SESSION_TOKEN");
            std::env::remove_var("AWS_PROFILE");
        }
    });
    let guard = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let endpoint = endpoint();
    if TcpStream::connect_timeout(
        &host_port(&endpoint)
            .parse()
            .expect("S3FIX_TEST_ENDPOINT is http://HOST:PORT"),
        Duration::from_secs(1),
    )
    .is_err()
    {
        if std::env::var("CI").is_ok_and(|value| value == "true") {
            panic!("moto is not reachable at {endpoint} (start it with `eval \"$(scripts/moto.sh)\"`)");
        }
        eprintln!(
            "skipped: moto is not reachable at {endpoint} (start it with `eval \"$(scripts/moto.sh)\"`)"
        );
        return None;
    }
    http(&endpoint, "POST", "/moto-api/reset", "").expect("reset moto");
    Some(Moto {
        _guard: guard,
        endpoint,
    })
}

/// A minimal HTTP/1.1 request; returns the status and body.
pub fn http(base: &str, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(host_port(base))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        host_port(base),
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The default-credentials configuration against `endpoint`.
pub async fn base_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// `base` with the credentials of `role_arn` (moto lets default credentials assume any role).
pub async fn assume(base: &SdkConfig, role_arn: &str) -> anyhow::Result<SdkConfig> {
    let output = aws_sdk_sts::Client::new(base)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("s3fix-test-setup")
        .send()
        .await?;
    let credentials = output
        .credentials()
        .ok_or_else(|| anyhow::anyhow!("no credentials"))?;
    let credentials = Credentials::new(
        credentials.access_key_id(),
        credentials.secret_access_key(),
        Some(credentials.session_token().to_string()),
        SystemTime::try_from(*credentials.expiration()).ok(),
        "moto-assumed",
    );
    Ok(base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build())
}

/// An S3 client for moto (path-style).
pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// Adapter options reading the bucket account and the caller account through their admin roles.
pub fn options(endpoint: &str) -> AwsOptions {
    AwsOptions {
        endpoint_url: Some(endpoint.to_string()),
        region: Some("us-east-1".into()),
        bucket_role: Some(admin_role(BUCKET_ACCOUNT)),
        caller_role: Some(admin_role(CALLER_ACCOUNT)),
        command: "test".into(),
        initial_backoff: Some(Duration::from_millis(5)),
        adaptive_retry: false,
        ..AwsOptions::default()
    }
}

/// Connect the adapter with [`options`].
pub async fn adapter(endpoint: &str) -> anyhow::Result<AwsAdapter> {
    Ok(AwsAdapter::connect(&options(endpoint)).await?)
}

/// `fault_proxy.py` in front of moto on a free port; stopped when dropped.
pub struct FaultProxy {
    child: Child,
    /// The proxy's endpoint URL.
    pub endpoint: String,
}

impl FaultProxy {
    /// Start the proxy in front of `upstream` and wait until it answers.
    pub fn start(upstream: &str) -> anyhow::Result<FaultProxy> {
        let script = std::env::var("S3FIX_FAULT_PROXY")
            .unwrap_or_else(|_| format!("{}/../shared/tools/fault_proxy.py", env!("CARGO_MANIFEST_DIR")));
        FaultProxy::start_script(&script, upstream)
    }

    /// `tests/support/fault_proxy_plus.py` (the shared proxy plus `skip`, `body` and `armedBy`
    /// rule fields) in front of `upstream`.
    pub fn start_plus(upstream: &str) -> anyhow::Result<FaultProxy> {
        let script = format!("{}/tests/support/fault_proxy_plus.py", env!("CARGO_MANIFEST_DIR"));
        FaultProxy::start_script(&script, upstream)
    }

    /// The proxy `script` in front of `upstream`.
    pub fn start_script(script: &str, upstream: &str) -> anyhow::Result<FaultProxy> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let upstream_port = host_port(upstream)
            .rsplit(':')
            .next()
            .unwrap_or("5055")
            .to_string();
        let child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(upstream_port)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|error| anyhow::anyhow!("cannot start {script}: {error}"))?;
        let proxy = FaultProxy {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while http(&proxy.endpoint, "GET", "/__fault__", "").is_err() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(10),
                "fault proxy did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(proxy)
    }

    /// Add a fault rule (`{"match": ..., "status": ..., "code": ..., "count": ...}`).
    pub fn inject(&self, rule: serde_json::Value) -> anyhow::Result<()> {
        let (status, body) = http(&self.endpoint, "POST", "/__fault__", &rule.to_string())?;
        anyhow::ensure!(status == 200, "fault rule refused: {status} {body}");
        Ok(())
    }

    /// The requests the rules matched so far.
    pub fn hits(&self) -> anyhow::Result<Vec<String>> {
        let (_, body) = http(&self.endpoint, "GET", "/__fault__", "")?;
        let value: serde_json::Value = serde_json::from_str(&body)?;
        Ok(value["log"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|hit| hit.as_str().map(str::to_string))
            .collect())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

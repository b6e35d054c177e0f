//! A loopback stand-in for STS (GetCallerIdentity, any POST) and IAM Toolbox
//! (`GET /authorization-details/{id}`), shared by the from-error tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

/// The identity the stub's GetCallerIdentity answers with.
pub const SESSION: &str = "arn:aws:sts::222222222222:assumed-role/my-app-role/session1";

/// Start the stub; IAM Toolbox requests get `status`, `x-amzn-errortype: error_type` (when not
/// empty) and `body`. It answers `connections` connections, then stops. Returns its URL.
pub fn start(status: u16, error_type: &str, body: &str, connections: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (error_type, body) = (error_type.to_string(), body.to_string());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap_or_default();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or_default() == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut request_body = vec![0; length];
            let _ = reader.read_exact(&mut request_body);
            let (code, kind, content_type, answer) = if request_line.contains("/authorization-details/") {
                (status, error_type.as_str(), "application/json", body.clone())
            } else {
                assert!(String::from_utf8_lossy(&request_body).contains("Action=GetCallerIdentity"));
                (
                    200,
                    "",
                    "text/xml",
                    format!(
                        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>{SESSION}</Arn><UserId>AROAEXAMPLE:session1</UserId><Account>222222222222</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
                    ),
                )
            };
            let error_header = if kind.is_empty() {
                String::new()
            } else {
                format!("x-amzn-errortype: {kind}\r\n")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {code} X\r\ncontent-type: {content_type}\r\n{error_header}content-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    address
}

/// Credentials and settings that keep the SDK away from the machine's own configuration.
pub const OFFLINE: [(&str, &str); 6] = [
    ("AWS_ACCESS_KEY_ID", "AKIDSTUB"),
    ("AWS_SECRET_ACCESS_KEY", "stub-secret"),
    ("AWS_CONFIG_FILE", "/nonexistent/s3fix-config"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/s3fix-credentials"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_MAX_ATTEMPTS", "1"),
];

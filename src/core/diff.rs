//! Unified diffs of canonical, pretty JSON: what an edit changes, line by line.

use crate::core::policy::canonical::canonical;
use serde_json::Value;
use similar::TextDiff;

/// The canonical pretty text of a resource value (`None` = absent: empty text).
pub fn pretty(value: Option<&Value>) -> String {
    match value {
        None => String::new(),
        Some(Value::Object(_)) => {
            let mut text =
                serde_json::to_string_pretty(&canonical(value.unwrap_or(&Value::Null))).unwrap_or_default();
            text.push('\n');
            text
        }
        Some(other) => format!("{other}\n"),
    }
}

/// A unified diff between two values, with `label` in the headers.
pub fn unified(before: Option<&Value>, after: Option<&Value>, label: &str) -> String {
    let old = pretty(before);
    let new = pretty(after);
    let old_header = if before.is_some() {
        format!("{label} (before)")
    } else {
        "/dev/null".to_string()
    };
    let new_header = if after.is_some() {
        format!("{label} (after)")
    } else {
        "/dev/null".to_string()
    };
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&old_header, &new_header)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_shows_added_statement_only() {
        let before = json!({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]});
        let after = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Sid": "B", "Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]});
        let diff = unified(Some(&before), Some(&after), "bucket policy");
        assert!(diff.contains("--- bucket policy (before)"));
        assert!(diff.contains("+      \"Sid\": \"B\","), "{diff}");
        assert!(
            !diff
                .lines()
                .any(|line| line.starts_with("-  ") && line.contains("\"A\"")),
            "{diff}"
        );
    }

    #[test]
    fn creation_diffs_against_nothing() {
        let diff = unified(None, Some(&json!("BucketOwnerEnforced")), "ownership");
        assert!(diff.contains("--- /dev/null"));
        assert!(diff.contains("+\"BucketOwnerEnforced\""));
    }
}

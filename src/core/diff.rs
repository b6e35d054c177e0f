//! Unified diffs of pretty JSON: what an edit changes, line by line, in the document's own
//! form (a `"*"` stays `"*"`; keys keep their order), so the diff shows the text that is written.

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

/// The pretty text of a resource value as it is written (`None` = absent: empty text).
pub fn pretty(value: Option<&Value>) -> String {
    match value {
        None => String::new(),
        Some(Value::Object(_)) => {
            let mut text = serde_json::to_string_pretty(value.unwrap_or(&Value::Null)).unwrap_or_default();
            text.push('\n');
            text
        }
        Some(other) => format!("{other}\n"),
    }
}

/// A policy edit that changes existing statements in place (a narrowed Deny) and may append
/// new ones, as separate labelled hunks: each changed statement whole, with its changed lines
/// marked, then each added statement. `None` when the edit is not of that shape (no statement
/// changed in place, statements removed, or no `Statement` arrays): use [`unified`] then.
pub fn statement_hunks(before: Option<&Value>, after: &Value, label: &str) -> Option<String> {
    let old = before?.get("Statement")?.as_array()?;
    let new = after.get("Statement")?.as_array()?;
    let changed: Vec<usize> = (0..old.len())
        .filter(|index| old.get(*index) != new.get(*index))
        .collect();
    if new.len() < old.len() || changed.is_empty() {
        return None;
    }
    let mut out = format!("--- {label} (before)\n+++ {label} (after)\n");
    for index in changed {
        let (Some(was), Some(is)) = (old.get(index), new.get(index)) else {
            return None;
        };
        out.push_str(&format!("@@ changed: {} @@\n", describe_statement(index, is)));
        let (was, is) = (pretty(Some(was)), pretty(Some(is)));
        for change in TextDiff::from_lines(&was, &is).iter_all_changes() {
            let sign = match change.tag() {
                ChangeTag::Equal => ' ',
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
            };
            out.push(sign);
            out.push_str(change.value());
            if change.missing_newline() {
                out.push('\n');
            }
        }
    }
    for (index, statement) in new.iter().enumerate().skip(old.len()) {
        out.push_str(&format!(
            "@@ added: {} @@\n",
            describe_statement(index, statement)
        ));
        for line in pretty(Some(statement)).lines() {
            out.push('+');
            out.push_str(line);
            out.push('\n');
        }
    }
    Some(out)
}

/// `Statement[1] "Sid" (Deny)`.
fn describe_statement(index: usize, statement: &Value) -> String {
    let sid = statement
        .get("Sid")
        .and_then(Value::as_str)
        .map(|sid| format!(" {}", Value::from(sid)))
        .unwrap_or_default();
    let effect = statement.get("Effect").and_then(Value::as_str).unwrap_or("?");
    format!("Statement[{index}]{sid} ({effect})")
}

/// A unified diff between a document's exact stored text and the exact text written: untouched
/// statements are context, never changes (a text without a final newline is marked so).
pub fn unified_text(before: &str, after: &str, label: &str) -> String {
    TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(true)
        .header(&format!("{label} (before)"), &format!("{label} (after)"))
        .to_string()
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
    fn diffs_keep_the_documents_own_form() {
        let before = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]});
        let mut after = before.clone();
        after["Statement"][0]["Action"] = json!("s3:ListBucket");
        let diff = unified(Some(&before), Some(&after), "policy");
        assert!(diff.contains(r#"     "Principal": "*","#), "{diff}");
        assert!(!diff.contains(r#"["*"]"#), "{diff}");
    }

    #[test]
    fn a_narrowed_deny_and_added_statements_are_separate_labelled_hunks() {
        let deny = json!({"Sid": "DenyOthers", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "finance"}}});
        let before = json!({"Version": "2012-10-17", "Statement": [deny]});
        let mut narrowed = deny.clone();
        narrowed["Condition"]["ArnNotEquals"] =
            json!({"aws:PrincipalArn": "arn:aws:iam::222222222222:role/app"});
        let added = json!({"Sid": "Outside", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::222222222222:role/app"}, "NotAction": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        let after = json!({"Version": "2012-10-17", "Statement": [narrowed, added]});
        let hunks = statement_hunks(Some(&before), &after, "bucket policy").unwrap_or_default();
        let changed = hunks.find("@@ changed: Statement[0] \"DenyOthers\" (Deny) @@");
        let added_at = hunks.find("@@ added: Statement[1] \"Outside\" (Deny) @@");
        assert!(
            matches!((changed, added_at), (Some(c), Some(a)) if c < a),
            "{hunks}"
        );
        assert!(hunks.contains("+    \"ArnNotEquals\": {"), "{hunks}");
        assert!(hunks.contains("   \"Sid\": \"DenyOthers\","), "{hunks}");
        assert!(hunks.contains("+  \"NotAction\": \"s3:GetObject\","), "{hunks}");
        // Appending only is an ordinary diff.
        let appended = json!({"Version": "2012-10-17", "Statement": [deny, added]});
        assert_eq!(statement_hunks(Some(&before), &appended, "bucket policy"), None);
    }

    #[test]
    fn a_text_diff_shows_only_the_inserted_statement_line() {
        let before = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Sid\": \"A\", \"Effect\": \"Allow\"},\n    {\"Sid\": \"B\", \"Effect\": \"Deny\"}\n  ]\n}\n";
        let after = before.replace(
            "\"Deny\"}\n",
            "\"Deny\"},\n    {\"Sid\": \"C\", \"Effect\": \"Allow\"}\n",
        );
        let diff = unified_text(before, &after, "bucket policy");
        let changed: Vec<&str> = diff
            .lines()
            .filter(|line| {
                (line.starts_with('+') || line.starts_with('-'))
                    && !line.starts_with("+++")
                    && !line.starts_with("---")
            })
            .collect();
        assert_eq!(
            changed,
            [
                "-    {\"Sid\": \"B\", \"Effect\": \"Deny\"}",
                "+    {\"Sid\": \"B\", \"Effect\": \"Deny\"},",
                "+    {\"Sid\": \"C\", \"Effect\": \"Allow\"}",
            ],
            "{diff}"
        );
        assert!(
            diff.contains("     {\"Sid\": \"A\", \"Effect\": \"Allow\"},"),
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

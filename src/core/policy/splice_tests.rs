use super::*;
use proptest::prelude::*;
use serde_json::json;

fn value(text: &str) -> Value {
    serde_json::from_str(text).expect("test JSON parses")
}

/// The original with `statement` appended to its `Statement` array.
fn with_added(original: &str, statement: Value) -> Value {
    let mut document = value(original);
    document["Statement"]
        .as_array_mut()
        .expect("array")
        .push(statement);
    document
}

fn grant() -> Value {
    json!({"Sid": "S3fixGet", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/reader"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
}

#[test]
fn one_statement_per_line_gets_a_line_for_the_new_one() {
    let original = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Sid\": \"A\", \"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::b/*\", \"Condition\": {\"Bool\": {\"aws:SecureTransport\": \"true\"}}},\n    {\"Sid\": \"B\", \"Effect\": \"Deny\", \"Principal\": \"*\", \"Action\": \"s3:*\", \"Resource\": \"arn:aws:s3:::b\"}\n  ]\n}\n";
    let spliced = splice(original, &with_added(original, grant())).expect("splices");
    assert_eq!(
        spliced,
        original.replace(
            "\"arn:aws:s3:::b\"}\n",
            "\"arn:aws:s3:::b\"},\n    {\"Sid\": \"S3fixGet\", \"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"arn:aws:iam::111111111111:role/reader\"}, \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::b/*\"}\n"
        )
    );
}

#[test]
fn a_one_line_document_stays_one_line() {
    let original = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    let spliced = splice(original, &with_added(original, grant())).expect("splices");
    assert!(!spliced.contains('\n'));
    assert!(spliced.starts_with(&original[..original.len() - 2]));
    assert!(spliced.ends_with(r#"},{"Sid":"S3fixGet","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/reader"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#));
}

#[test]
fn pretty_two_and_four_spaces_and_tabs_indent_the_new_statement_alike() {
    for unit in ["  ", "    ", "\t"] {
        let document = json!({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]});
        let mut buffer = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
        let mut serializer = serde_json::Serializer::with_formatter(&mut buffer, formatter);
        serde::Serialize::serialize(&document, &mut serializer).expect("serialises");
        let original = String::from_utf8(buffer).expect("utf-8");
        let new = with_added(&original, grant());
        let spliced = splice(&original, &new).expect("splices");
        let mut expected = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
        let mut serializer = serde_json::Serializer::with_formatter(&mut expected, formatter);
        serde::Serialize::serialize(&new, &mut serializer).expect("serialises");
        assert_eq!(
            spliced,
            String::from_utf8(expected).expect("utf-8"),
            "indent {unit:?}"
        );
    }
}

#[test]
fn mixed_styles_keep_every_untouched_statement_and_separator() {
    let original = "{ \"Version\" : \"2012-10-17\" ,\n\"Statement\" : [ {\"Sid\":\"A\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"*\"} ,\n\n   {\n      \"Sid\": \"B\",\n      \"Effect\": \"Deny\",\n      \"Principal\": \"*\",\n      \"Action\": \"s3:*\",\n      \"Resource\": \"*\"\n   }\t]\t}";
    let new = with_added(original, grant());
    let spliced = splice(original, &new).expect("splices");
    let kept_prefix = original.rfind("}\t]").expect("end of B") + 1;
    assert_eq!(&spliced[..kept_prefix], &original[..kept_prefix]);
    assert!(spliced.ends_with("}\t]\t}"));
    assert_eq!(value(&spliced), new);
}

#[test]
fn a_changed_statement_is_replaced_in_place() {
    let original = "{\"Statement\": [\n  {\"Sid\": \"A\", \"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"},\n  {\"Sid\": \"B\", \"Effect\": \"Deny\", \"NotPrincipal\": {\"AWS\": \"arn:aws:iam::1:root\"}, \"Action\": \"s3:*\", \"Resource\": \"*\"},\n  {\"Sid\": \"C\", \"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"s3:ListBucket\", \"Resource\": \"*\"}\n]}";
    let mut new = value(original);
    new["Statement"][1]["NotPrincipal"]["AWS"] = json!(["arn:aws:iam::1:root", "arn:aws:iam::2:role/r"]);
    let spliced = splice(original, &new).expect("splices");
    assert_eq!(
        spliced,
        original.replace(
            "{\"AWS\": \"arn:aws:iam::1:root\"}",
            "{\"AWS\": [\"arn:aws:iam::1:root\", \"arn:aws:iam::2:role/r\"]}"
        )
    );
}

#[test]
fn a_removed_statement_is_cut_with_its_separator() {
    let original = "{\"Statement\": [\n  {\"Sid\": \"A\"},\n  {\"Sid\": \"B\"},\n  {\"Sid\": \"C\"}\n]}";
    let mut new = value(original);
    new["Statement"].as_array_mut().expect("array").remove(1);
    assert_eq!(
        splice(original, &new).expect("splices"),
        "{\"Statement\": [\n  {\"Sid\": \"A\"},\n  {\"Sid\": \"C\"}\n]}"
    );
    new["Statement"].as_array_mut().expect("array").remove(1);
    assert_eq!(
        splice(original, &new).expect("splices"),
        "{\"Statement\": [\n  {\"Sid\": \"A\"}\n]}"
    );
}

#[test]
fn a_single_object_statement_stays_an_object_or_becomes_an_array_only_when_needed() {
    let original = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\n    \"Effect\": \"Allow\",\n    \"Principal\": \"*\",\n    \"Action\": \"s3:GetObject\",\n    \"Resource\": \"*\"\n  }\n}";
    let mut replaced = value(original);
    replaced["Statement"]["Action"] = json!("s3:PutObject");
    assert_eq!(
        splice(original, &replaced).expect("splices"),
        original.replace("s3:GetObject", "s3:PutObject")
    );
    let mut grown = value(original);
    let single = grown["Statement"].clone();
    grown["Statement"] = json!([single, grant()]);
    let spliced = splice(original, &grown).expect("splices");
    assert_eq!(value(&spliced), grown);
    let object_text =
        &original[original.find("{\n    \"Effect").expect("object")..original.rfind("\n}").expect("end")];
    assert!(spliced.contains(&format!("[{object_text},\n  {{\n    \"Sid\": \"S3fixGet\"")));
}

#[test]
fn escapes_and_unicode_in_strings_keep_their_spelling() {
    let original = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"A\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/\\u00e9t\\u00e9/\\\"q\\\"/\\\\/]},{\",\"Condition\":{\"StringLike\":{\"s3:prefix\":\"caf\u{e9}/\u{1F600}/*\"}}}]}";
    let new = with_added(
        original,
        json!({"Sid": "New", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/\u{e9}\"\\\n"}),
    );
    let spliced = splice(original, &new).expect("splices");
    assert!(spliced.starts_with(&original[..original.len() - 2]));
    assert_eq!(value(&spliced), new);
}

#[test]
fn odd_whitespace_and_version_and_id_keep_their_text() {
    let original = "\r\n\t{\r\n\"Id\"\t:\t\"x\" ,  \"Version\":\r\n\"2012-10-17\",\"Statement\":[]\r\n}\r\n";
    let mut new = value(original);
    new["Statement"] = json!([{"Sid": "A"}]);
    let spliced = splice(original, &new).expect("splices");
    assert_eq!(spliced, original.replace("[]", "[{\"Sid\":\"A\"}]"));
}

#[test]
fn an_unchanged_document_is_returned_byte_for_byte() {
    let original = " {\"Statement\" :[ {\"Sid\":\"A\"} ] } ";
    assert_eq!(splice(original, &value(original)).as_deref(), Some(original));
}

#[test]
fn a_member_added_or_reordered_or_invalid_text_is_not_spliced() {
    let original = "{\"Version\": \"2012-10-17\", \"Statement\": []}";
    assert_eq!(
        splice(original, &json!({"Statement": [], "Version": "2012-10-17"})),
        None
    );
    assert_eq!(
        splice(
            original,
            &json!({"Version": "2012-10-17", "Id": "x", "Statement": []})
        ),
        None
    );
    assert_eq!(splice("{\"Statement\": [", &json!({"Statement": []})), None);
    assert_eq!(splice("{\"A\": 1, \"A\": 2}", &json!({"A": 3})), None);
    let (text, spliced) = text_for(Some(original), &json!({"Statement": []}));
    assert!(!spliced);
    assert_eq!(value(&text), json!({"Statement": []}));
}

/// A statement with a few members and strings that need escaping.
fn statement_strategy() -> impl Strategy<Value = Value> {
    (
        "[A-Za-z0-9]{1,6}",
        prop_oneof![Just("Allow"), Just("Deny")],
        proptest::collection::vec("[a-z0-9:*/\"\\\\é ]{0,8}", 1..3),
    )
        .prop_map(|(sid, effect, actions)| json!({"Sid": sid, "Effect": effect, "Action": actions, "Resource": "*"}))
}

#[derive(Debug, Clone, Copy)]
enum Layout {
    Compact,
    Pretty(usize),
    PerLine,
}

fn layout(document: &Value, layout: Layout) -> String {
    match layout {
        Layout::Compact => document.to_string(),
        Layout::Pretty(width) => {
            let indent = " ".repeat(width);
            let mut buffer = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
            let mut serializer = serde_json::Serializer::with_formatter(&mut buffer, formatter);
            serde::Serialize::serialize(document, &mut serializer).expect("serialises");
            String::from_utf8(buffer).expect("utf-8")
        }
        Layout::PerLine => {
            let statements: Vec<String> = document["Statement"]
                .as_array()
                .expect("array")
                .iter()
                .map(|statement| format!("    {statement}"))
                .collect();
            format!(
                "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n{}\n  ]\n}}\n",
                statements.join(",\n")
            )
        }
    }
}

proptest! {
    #[test]
    fn splices_parse_to_the_new_document_and_keep_unchanged_statements(
        old in proptest::collection::vec(statement_strategy(), 0..5),
        keep in proptest::collection::vec(any::<bool>(), 5),
        added in proptest::collection::vec((statement_strategy(), 0usize..6), 0..3),
        style in prop_oneof![Just(Layout::Compact), Just(Layout::Pretty(2)), Just(Layout::Pretty(4)), Just(Layout::PerLine)],
    ) {
        let document = json!({"Version": "2012-10-17", "Statement": old.clone()});
        let original = layout(&document, style);
        let mut statements: Vec<Value> = old
            .iter()
            .zip(keep.iter())
            .filter(|(_, kept)| **kept)
            .map(|(statement, _)| statement.clone())
            .collect();
        for (statement, position) in &added {
            let at = (*position).min(statements.len());
            statements.insert(at, statement.clone());
        }
        let new = json!({"Version": "2012-10-17", "Statement": statements});
        let spliced = splice(&original, &new).expect("a Statement-only edit always splices");
        prop_assert_eq!(value(&spliced).to_string(), new.to_string());
        let mut scanner = Scanner::new(&original);
        scanner.skip_whitespace();
        let members = scanner.members().expect("members");
        let statement_span = members.iter().find(|member| member.key == "Statement").expect("Statement").value;
        let mut scanner = Scanner::new(&original);
        scanner.position = statement_span.start;
        for (span, statement) in scanner.elements().expect("elements").iter().zip(old.iter()) {
            if new["Statement"].as_array().expect("array").contains(statement) {
                prop_assert!(spliced.contains(&original[span.start..span.end]));
            }
        }
        prop_assert!(spliced.starts_with(&original[..statement_span.start]));
        prop_assert!(spliced.ends_with(&original[statement_span.end..]));
    }
}

#[test]
fn member_order_counts_as_a_difference() {
    let left = json!({"Sid": "A", "Effect": "Allow"});
    let right = json!({"Effect": "Allow", "Sid": "A"});
    assert_eq!(left, right, "serde_json's equality ignores member order");
    assert!(!same_document(&left, &right));
    assert!(same_document(&json!([left.clone()]), &json!([left])));
}

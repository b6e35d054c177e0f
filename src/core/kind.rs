//! What an s3fix JSON file is: every world, plan and journal file carries `"kind"`
//! (`"s3fix-world"`, `"s3fix-plan"`, `"s3fix-journal"`), so a reader handed the wrong file says
//! so ("this is a world file, not a plan file") instead of failing on its first unknown field.
//! Files written before `kind` existed still load: their kind is recognised by their fields.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The kinds of file s3fix writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A world file (`s3fix snapshot -o`, `plans/examples/*.json`).
    World,
    /// A plan file (`s3fix plan -o`).
    Plan,
    /// A journal of one apply or rollback (`.s3fix/journal/*.json`).
    Journal,
}

impl FileKind {
    /// The value of the `kind` field.
    pub fn tag(self) -> &'static str {
        match self {
            FileKind::World => "s3fix-world",
            FileKind::Plan => "s3fix-plan",
            FileKind::Journal => "s3fix-journal",
        }
    }

    /// The words for it in messages.
    pub fn noun(self) -> &'static str {
        match self {
            FileKind::World => "world file",
            FileKind::Plan => "plan file",
            FileKind::Journal => "journal file",
        }
    }

    /// What a JSON document says it is: its `kind`, or for a file without one, what its fields
    /// show. `None` for a document that is none of them (or cannot tell).
    pub fn of(document: &Value) -> Option<FileKind> {
        let object = document.as_object()?;
        match object.get("kind").and_then(Value::as_str) {
            Some("s3fix-world") => return Some(FileKind::World),
            Some("s3fix-plan") => return Some(FileKind::Plan),
            Some("s3fix-journal") => return Some(FileKind::Journal),
            // Journals written before `kind` named the file used it for the operation.
            Some("apply" | "rollback") if object.contains_key("steps") => return Some(FileKind::Journal),
            _ => {}
        }
        if object.contains_key("spec") && object.contains_key("edits") {
            Some(FileKind::Plan)
        } else if object.contains_key("steps") && object.contains_key("startedAt") {
            Some(FileKind::Journal)
        } else if ["accounts", "buckets", "principals"]
            .iter()
            .any(|field| object.contains_key(*field))
        {
            Some(FileKind::World)
        } else {
            None
        }
    }
}

/// A file handed to a reader of another kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{file}`: {}", describe(*found, *expected))]
pub struct KindError {
    /// The file, as the user named it.
    pub file: String,
    /// What the file is (`None`: not an s3fix file).
    pub found: Option<FileKind>,
    /// What the reader reads.
    pub expected: FileKind,
}

fn describe(found: Option<FileKind>, expected: FileKind) -> String {
    match found {
        Some(found) => format!("this is a {}, not a {}", found.noun(), expected.noun()),
        None => format!("this is not an s3fix file, not a {}", expected.noun()),
    }
}

impl KindError {
    /// The command that writes the file the reader wanted.
    pub fn writer(&self) -> &'static str {
        match self.expected {
            FileKind::World => "s3fix snapshot -o FILE",
            FileKind::Plan => "s3fix plan SPEC -o FILE",
            FileKind::Journal => "s3fix apply (journals are under .s3fix/journal/)",
        }
    }
}

/// Refuse a document whose kind is known to be another than `expected`. A document without a
/// recognisable kind passes, so the reader's own parser reports what is wrong with it; one with a
/// `kind` that is not an s3fix kind is refused.
pub fn check_kind(document: &Value, expected: FileKind, file: &str) -> Result<(), KindError> {
    let found = FileKind::of(document);
    let foreign_tag = found.is_none() && document.get("kind").is_some_and(Value::is_string);
    match found {
        Some(found) if found != expected => Err(KindError {
            file: file.to_string(),
            found: Some(found),
            expected,
        }),
        None if foreign_tag => Err(KindError {
            file: file.to_string(),
            found: None,
            expected,
        }),
        _ => Ok(()),
    }
}

/// The `kind` field of one file type: serializes as its tag, and reads only that tag.
macro_rules! kind_tag {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str($kind.tag())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                if text == $kind.tag() {
                    Ok($name)
                } else {
                    Err(D::Error::custom(format!("kind `{text}` is not `{}`", $kind.tag())))
                }
            }
        }
    };
}

kind_tag!(
    /// `"kind": "s3fix-world"`.
    WorldTag,
    FileKind::World
);
kind_tag!(
    /// `"kind": "s3fix-plan"`.
    PlanTag,
    FileKind::Plan
);
kind_tag!(
    /// `"kind": "s3fix-journal"`.
    JournalTag,
    FileKind::Journal
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tagged_files_are_what_they_say() {
        assert_eq!(FileKind::of(&json!({"kind": "s3fix-plan"})), Some(FileKind::Plan));
        assert_eq!(
            FileKind::of(&json!({"kind": "s3fix-world"})),
            Some(FileKind::World)
        );
        assert_eq!(
            FileKind::of(&json!({"kind": "s3fix-journal"})),
            Some(FileKind::Journal)
        );
    }

    #[test]
    fn untagged_files_are_recognised_by_their_fields() {
        let world = json!({"formatVersion": 1, "description": "x", "buckets": []});
        let plan = json!({"formatVersion": 1, "spec": {}, "edits": []});
        let journal = json!({"formatVersion": 1, "kind": "apply", "startedAt": "t", "steps": []});
        assert_eq!(FileKind::of(&world), Some(FileKind::World));
        assert_eq!(FileKind::of(&plan), Some(FileKind::Plan));
        assert_eq!(FileKind::of(&journal), Some(FileKind::Journal));
        assert_eq!(FileKind::of(&json!({"formatVersion": 1})), None);
    }

    #[test]
    fn the_wrong_kind_is_named() {
        let world = json!({"kind": "s3fix-world", "buckets": []});
        let error = check_kind(&world, FileKind::Plan, "world.json").err();
        assert_eq!(
            error.map(|error| error.to_string()),
            Some("`world.json`: this is a world file, not a plan file".to_string())
        );
        assert!(check_kind(&world, FileKind::World, "world.json").is_ok());
        let foreign = json!({"kind": "terraform-plan"});
        assert!(check_kind(&foreign, FileKind::Plan, "x.json").is_err());
        assert!(check_kind(&json!([]), FileKind::Plan, "x.json").is_ok());
    }

    #[test]
    fn tags_round_trip_and_refuse_other_kinds() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_value(PlanTag)?, json!("s3fix-plan"));
        assert_eq!(serde_json::from_value::<PlanTag>(json!("s3fix-plan"))?, PlanTag);
        assert!(serde_json::from_value::<PlanTag>(json!("s3fix-world")).is_err());
        Ok(())
    }
}

//! The `patch` edits the data-driven world tests (scenarios, planner cases) apply to a base
//! world file: JSON pointers with `value`, `merge` (RFC 7396) or `remove`; `-` appends.

#![allow(dead_code, reason = "each test crate uses the part it needs")]

use serde_json::{Map, Value};

/// RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_map) = target else {
        return;
    };
    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

pub fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Apply one `patch` edit.
pub fn apply_edit(world: &mut Value, edit: &Value) -> Result<(), String> {
    let path = edit
        .get("path")
        .and_then(Value::as_str)
        .ok_or("a patch edit needs a string `path`")?;
    let (parent_path, last) = match path.rfind('/') {
        Some(position) => (&path[..position], unescape(&path[position + 1..])),
        None => return Err(format!("patch path `{path}` is not a JSON pointer")),
    };
    if let Some(merge) = edit.get("merge") {
        let target = world
            .pointer_mut(path)
            .ok_or_else(|| format!("patch path `{path}` does not exist"))?;
        merge_patch(target, merge);
        return Ok(());
    }
    let parent = world
        .pointer_mut(parent_path)
        .ok_or_else(|| format!("patch parent `{parent_path}` does not exist"))?;
    let remove = edit.get("remove").and_then(Value::as_bool) == Some(true);
    match parent {
        Value::Object(map) => {
            if remove {
                map.remove(&last)
                    .ok_or_else(|| format!("patch path `{path}` does not exist"))?;
            } else {
                let value = edit
                    .get("value")
                    .ok_or("a patch edit needs `value`, `merge` or `remove`")?;
                map.insert(last, value.clone());
            }
        }
        Value::Array(items) => {
            if remove {
                let index: usize = last.parse().map_err(|_| format!("bad index in `{path}`"))?;
                if index >= items.len() {
                    return Err(format!("patch path `{path}` does not exist"));
                }
                items.remove(index);
            } else {
                let value = edit
                    .get("value")
                    .ok_or("a patch edit needs `value`, `merge` or `remove`")?
                    .clone();
                if last == "-" {
                    items.push(value);
                } else {
                    let index: usize = last.parse().map_err(|_| format!("bad index in `{path}`"))?;
                    let length = items.len();
                    match items.get_mut(index) {
                        Some(slot) => *slot = value,
                        None if index == length => items.push(value),
                        None => return Err(format!("patch path `{path}` is past the end")),
                    }
                }
            }
        }
        _ => return Err(format!("patch parent `{parent_path}` is not an object or array")),
    }
    Ok(())
}

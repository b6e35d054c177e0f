//! Wildcard patterns (`*` any run of characters, `?` exactly one character) and templates that
//! may hold policy variables (`${aws:username}`), compiled once when a policy is parsed.
//!
//! Written by hand rather than through a regex crate: IAM patterns need only `*` and `?`, the
//! escapes `${*}` `${?}` `${$}` must stay literal, and the matcher runs on the hot path of
//! `simulate` where a compiled regex per statement would cost more to build than to run.

/// One compiled piece of a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobPart {
    /// Literal text, matched exactly (escaped `*`/`?` end up here too).
    Text(String),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    Question,
}

/// A compiled wildcard pattern without variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `*` alone: matches everything.
    Any,
    /// No wildcard at all.
    Exact(String),
    /// `text*`.
    Prefix(String),
    /// Anything else.
    Glob(Vec<GlobPart>),
}

impl Pattern {
    /// Compile a pattern where `*` and `?` are wildcards.
    pub fn new(text: &str) -> Pattern {
        if !text.contains(['*', '?']) {
            return Pattern::Exact(text.to_string());
        }
        Pattern::from_parts(split_wildcards(text))
    }

    /// Compile a pattern, reusing the string when it has no wildcard or only a final `*`.
    pub fn from_string(mut text: String) -> Pattern {
        match text.find(['*', '?']) {
            None => Pattern::Exact(text),
            Some(position) if position + 1 == text.len() && text.ends_with('*') => {
                if position == 0 {
                    return Pattern::Any;
                }
                text.truncate(position);
                Pattern::Prefix(text)
            }
            Some(_) => Pattern::from_parts(split_wildcards(&text)),
        }
    }

    /// Compile a pattern from already separated parts.
    pub fn from_parts(parts: Vec<GlobPart>) -> Pattern {
        match parts.as_slice() {
            [] => Pattern::Exact(String::new()),
            [GlobPart::Star] => Pattern::Any,
            [GlobPart::Text(text)] => Pattern::Exact(text.clone()),
            [GlobPart::Text(text), GlobPart::Star] => Pattern::Prefix(text.clone()),
            _ => Pattern::Glob(parts),
        }
    }

    /// Whether `input` matches (case-sensitive).
    pub fn matches(&self, input: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(text) => text == input,
            Pattern::Prefix(prefix) => input.starts_with(prefix.as_str()),
            Pattern::Glob(parts) => glob_matches(parts, input),
        }
    }

    /// Whether the pattern contains no wildcard.
    pub fn is_exact(&self) -> bool {
        matches!(self, Pattern::Exact(_))
    }
}

/// Split text into literal runs and wildcards.
pub fn split_wildcards(text: &str) -> Vec<GlobPart> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    for character in text.chars() {
        match character {
            '*' | '?' => {
                if !literal.is_empty() {
                    parts.push(GlobPart::Text(std::mem::take(&mut literal)));
                }
                let part = if character == '*' {
                    GlobPart::Star
                } else {
                    GlobPart::Question
                };
                // Consecutive stars are one star.
                if !(part == GlobPart::Star && parts.last() == Some(&GlobPart::Star)) {
                    parts.push(part);
                }
            }
            other => literal.push(other),
        }
    }
    if !literal.is_empty() {
        parts.push(GlobPart::Text(literal));
    }
    parts
}

/// Match glob parts against input, with single-star backtracking (linear in practice).
pub fn glob_matches(parts: &[GlobPart], input: &str) -> bool {
    let mut part_index = 0;
    let mut position = 0;
    // Where to resume after the most recent star: (part after the star, input position).
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if let Some(part) = parts.get(part_index) {
            match part {
                GlobPart::Star => {
                    part_index += 1;
                    backtrack = Some((part_index, position));
                    continue;
                }
                GlobPart::Question => {
                    if let Some(character) = input.get(position..).and_then(|rest| rest.chars().next()) {
                        part_index += 1;
                        position += character.len_utf8();
                        continue;
                    }
                }
                GlobPart::Text(text) => {
                    if input
                        .get(position..)
                        .is_some_and(|rest| rest.starts_with(text.as_str()))
                    {
                        part_index += 1;
                        position += text.len();
                        continue;
                    }
                }
            }
        } else if position == input.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more character, or fail.
        match backtrack {
            Some((resume_part, resume_position)) => {
                let Some(character) = input.get(resume_position..).and_then(|rest| rest.chars().next())
                else {
                    return false;
                };
                let next = resume_position + character.len_utf8();
                backtrack = Some((resume_part, next));
                part_index = resume_part;
                position = next;
            }
            None => return false,
        }
    }
}

/// One piece of a template: literal text, wildcards (in glob templates) or a policy variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Literal text (never a wildcard).
    Text(String),
    /// `*` wildcard (glob templates only).
    Star,
    /// `?` wildcard (glob templates only).
    Question,
    /// `${key}` or `${key, 'default'}`; `key` is lower-cased (keys are case-insensitive).
    Variable {
        /// The context key, lower-cased.
        key: String,
        /// The default used when the key is absent.
        default: Option<String>,
    },
}

/// A value that may contain policy variables; compiled to a plain value when it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template<T> {
    /// No variables: compiled once.
    Fixed(T),
    /// Has variables: resolved per request.
    Variable(Vec<TemplatePart>),
}

/// Parse `${...}` variables in `text`. With `globs`, unescaped `*` and `?` are wildcards.
/// Returns an error message for an unterminated or empty variable.
pub fn parse_template(text: &str, globs: bool) -> Result<Vec<TemplatePart>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(character) = rest.chars().next() {
        if rest.starts_with("${") {
            let Some(end) = rest.find('}') else {
                return Err(format!("unterminated policy variable in `{text}`"));
            };
            let inner = rest.get(2..end).unwrap_or_default().trim();
            rest = rest.get(end + 1..).unwrap_or_default();
            match inner {
                "*" | "?" | "$" => literal.push_str(inner),
                "" => return Err(format!("empty policy variable in `{text}`")),
                _ => {
                    if !literal.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(parse_variable(inner)?);
                }
            }
            continue;
        }
        rest = rest.get(character.len_utf8()..).unwrap_or_default();
        if globs && (character == '*' || character == '?') {
            if !literal.is_empty() {
                parts.push(TemplatePart::Text(std::mem::take(&mut literal)));
            }
            parts.push(if character == '*' {
                TemplatePart::Star
            } else {
                TemplatePart::Question
            });
        } else {
            literal.push(character);
        }
    }
    if !literal.is_empty() {
        parts.push(TemplatePart::Text(literal));
    }
    Ok(parts)
}

/// Parse the inside of `${...}`: a key, optionally `, 'default'`.
fn parse_variable(inner: &str) -> Result<TemplatePart, String> {
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let unquoted = default
                .strip_prefix('\'')
                .and_then(|value| value.strip_suffix('\''))
                .ok_or_else(|| format!("policy variable default must be quoted: `${{{inner}}}`"))?;
            (key.trim(), Some(unquoted.to_string()))
        }
        None => (inner, None),
    };
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return Err(format!("malformed policy variable `${{{inner}}}`"));
    }
    Ok(TemplatePart::Variable {
        key: key.to_ascii_lowercase(),
        default,
    })
}

/// Whether a template has any variable.
pub fn has_variables(parts: &[TemplatePart]) -> bool {
    parts
        .iter()
        .any(|part| matches!(part, TemplatePart::Variable { .. }))
}

/// Convert variable-free template parts to glob parts.
pub fn to_glob_parts(parts: &[TemplatePart]) -> Vec<GlobPart> {
    let mut glob = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            TemplatePart::Text(text)
            | TemplatePart::Variable {
                default: Some(text), ..
            } => match glob.last_mut() {
                Some(GlobPart::Text(previous)) => previous.push_str(text),
                _ => glob.push(GlobPart::Text(text.clone())),
            },
            TemplatePart::Variable { default: None, .. } => {}
            TemplatePart::Star => {
                if glob.last() != Some(&GlobPart::Star) {
                    glob.push(GlobPart::Star);
                }
            }
            TemplatePart::Question => glob.push(GlobPart::Question),
        }
    }
    glob
}

/// Resolve a template's variables with `lookup`. `None` when a variable has no single value and
/// no default: per IAM, the element holding it then does not match.
pub fn resolve<'a>(
    parts: &[TemplatePart],
    mut lookup: impl FnMut(&str) -> Option<&'a str>,
) -> Option<Vec<TemplatePart>> {
    let mut resolved = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            TemplatePart::Variable { key, default } => {
                let value = match lookup(key) {
                    Some(value) => value.to_string(),
                    None => default.clone()?,
                };
                resolved.push(TemplatePart::Text(value));
            }
            other => resolved.push(other.clone()),
        }
    }
    Some(resolved)
}

/// Concatenate resolved, wildcard-free template parts to a string.
pub fn to_text(parts: &[TemplatePart]) -> String {
    let mut text = String::new();
    for part in parts {
        match part {
            TemplatePart::Text(value) => text.push_str(value),
            TemplatePart::Star => text.push('*'),
            TemplatePart::Question => text.push('?'),
            TemplatePart::Variable { .. } => {}
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question() {
        assert!(Pattern::new("s3:Get*").matches("s3:GetObject"));
        assert!(Pattern::new("arn:aws:s3:::b/*").matches("arn:aws:s3:::b/a/b/c"));
        assert!(!Pattern::new("arn:aws:s3:::b/*").matches("arn:aws:s3:::b"));
        assert!(Pattern::new("a?c").matches("abc"));
        assert!(!Pattern::new("a?c").matches("ac"));
        assert!(Pattern::new("*").matches(""));
        assert!(Pattern::new("a*b*c").matches("aXXbYYc"));
        assert!(!Pattern::new("a*b*c").matches("aXXbYY"));
        assert!(Pattern::new("*ab").matches("aab"));
        assert!(Pattern::new("?é").matches("xé"));
        assert!(Pattern::new("é?").matches("éx"));
    }

    #[test]
    fn templates_parse_variables_and_escapes() {
        let parts = parse_template("home/${aws:username}/${*}", true).unwrap_or_default();
        assert_eq!(
            parts,
            vec![
                TemplatePart::Text("home/".into()),
                TemplatePart::Variable {
                    key: "aws:username".into(),
                    default: None
                },
                TemplatePart::Text("/*".into()),
            ]
        );
        let parts = parse_template("${aws:username, 'anon'}*", true).unwrap_or_default();
        assert_eq!(
            parts,
            vec![
                TemplatePart::Variable {
                    key: "aws:username".into(),
                    default: Some("anon".into())
                },
                TemplatePart::Star,
            ]
        );
        assert!(parse_template("${aws:username", true).is_err());
    }

    #[test]
    fn escaped_star_is_literal() {
        let parts = parse_template("a${*}b", true).unwrap_or_default();
        let pattern = Pattern::from_parts(to_glob_parts(&parts));
        assert!(pattern.matches("a*b"));
        assert!(!pattern.matches("axb"));
    }
}

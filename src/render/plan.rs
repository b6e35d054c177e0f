//! `s3fix plan` and `s3fix show` output: a unified diff per edited resource and a summary.

use super::paint;
use crate::core::diff::{statement_hunks, unified, unified_text};
use crate::core::plan::Plan;
use std::fmt::Write as _;

/// The human rendering: per edit its reason and diff, then the summary line.
pub fn text(plan: &Plan, colour: bool) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        let _ = writeln!(out, "No changes. The requested access is already granted.");
        return out;
    }
    for (index, edit) in plan.edits.iter().enumerate() {
        let label = edit.resource.describe();
        let marker = if edit.security_sensitive {
            paint(" [security-sensitive]", "1;33", colour)
        } else {
            String::new()
        };
        let _ = writeln!(out, "{}. {:?} {label}{marker}", index + 1, edit.operation);
        let _ = writeln!(out, "   why: {}", edit.reason);
        // Where the document was read as text, the diff is of exactly the bytes written.
        let diff = match (&edit.before_text, &edit.after_text) {
            (Some(before), Some(after)) => unified_text(before, after, &label),
            _ => statement_hunks(edit.before.as_ref(), &edit.after, &label)
                .unwrap_or_else(|| unified(edit.before.as_ref(), Some(&edit.after), &label)),
        };
        for line in diff.lines() {
            let styled = if line.starts_with("+++") || line.starts_with("---") {
                paint(line, "1", colour)
            } else if line.starts_with('+') {
                paint(line, "32", colour)
            } else if line.starts_with('-') {
                paint(line, "31", colour)
            } else if line.starts_with("@@") {
                paint(line, "36", colour)
            } else {
                line.to_string()
            };
            let _ = writeln!(out, "   {styled}");
        }
        let _ = writeln!(out);
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    let _ = writeln!(out, "proof:");
    for check in &plan.proof.checks {
        let mark = if check.passed {
            paint("ok", "32", colour)
        } else {
            paint("FAILED", "31", colour)
        };
        // A long detail reads as a list: its head, then one indented line per part.
        let parts: Vec<&str> = check.detail.split("; ").collect();
        if check.detail.chars().count() <= 100 || parts.len() == 1 {
            let _ = writeln!(out, "  {mark} {}: {}", check.name, check.detail);
        } else {
            let _ = writeln!(out, "  {mark} {}:", check.name);
            for part in parts {
                let _ = writeln!(out, "      - {part}");
            }
        }
    }
    let (added, changed) = plan.counts();
    let sensitive = plan.edits.iter().filter(|edit| edit.security_sensitive).count();
    let sensitive = if sensitive > 0 {
        format!(", {sensitive} security-sensitive")
    } else {
        String::new()
    };
    let _ = writeln!(out, "\nPlan: {added} to add, {changed} to change{sensitive}.");
    out
}

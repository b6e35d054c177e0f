//! Renderers: values computed by the core, turned into text for people or JSON for machines.
//! Colour is applied only here, and only when the output is a terminal and `NO_COLOR` is unset.

pub mod explain;
pub mod fromerror;
pub mod plan;

use std::io::IsTerminal;

/// Whether to colour output written to stdout.
pub fn use_colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()) && std::io::stdout().is_terminal()
}

/// Wrap text in an ANSI style when colouring.
pub fn paint(text: &str, style: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{style}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

//! Renderers: values computed by the core, turned into text for people or JSON for machines.
//! Colour is applied only here, decided once per process by [`set_colour_choice`] (the
//! `--color` option) and [`colour_wanted`] (`NO_COLOR`, `CLICOLOR_FORCE`, `TERM=dumb`, terminal).

pub mod explain;
pub mod fromerror;
pub mod plan;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::OnceLock;

/// When to colour output (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColourChoice {
    /// Colour a terminal, unless `NO_COLOR` is set or `TERM=dumb`; `CLICOLOR_FORCE` forces it.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The process's colour choice, set once from the command line.
static CHOICE: OnceLock<ColourChoice> = OnceLock::new();

/// Record the `--color` choice for the rest of the process (the first call wins).
pub fn set_colour_choice(choice: ColourChoice) {
    let _ = CHOICE.set(choice);
}

/// Whether output to a stream should be coloured, given the choice, an environment lookup and
/// whether the stream is a terminal. `NO_COLOR` (non-empty) wins over `CLICOLOR_FORCE`
/// (non-empty, not `0`), which wins over `TERM=dumb` and a non-terminal.
pub fn colour_wanted(
    choice: ColourChoice,
    environment: impl Fn(&str) -> Option<OsString>,
    is_terminal: bool,
) -> bool {
    let set = |name: &str| environment(name).is_some_and(|value| !value.is_empty());
    match choice {
        ColourChoice::Always => true,
        ColourChoice::Never => false,
        ColourChoice::Auto => {
            if set("NO_COLOR") {
                false
            } else if environment("CLICOLOR_FORCE").is_some_and(|value| !value.is_empty() && value != "0") {
                true
            } else if environment("TERM").is_some_and(|term| term == "dumb") {
                false
            } else {
                is_terminal
            }
        }
    }
}

fn colour_for(is_terminal: bool) -> bool {
    colour_wanted(
        CHOICE.get().copied().unwrap_or_default(),
        |name| std::env::var_os(name),
        is_terminal,
    )
}

/// Whether to colour output written to stdout.
pub fn use_colour() -> bool {
    colour_for(std::io::stdout().is_terminal())
}

/// Whether to colour diagnostics written to stderr.
pub fn use_colour_on_stderr() -> bool {
    colour_for(std::io::stderr().is_terminal())
}

/// Wrap text in an ANSI style when colouring.
pub fn paint(text: &str, style: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{style}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn auto_colours_a_terminal_only() {
        assert!(colour_wanted(ColourChoice::Auto, with(&[]), true));
        assert!(!colour_wanted(ColourChoice::Auto, with(&[]), false));
    }

    #[test]
    fn no_color_and_dumb_terminals_turn_colour_off() {
        assert!(!colour_wanted(
            ColourChoice::Auto,
            with(&[("NO_COLOR", "1")]),
            true
        ));
        assert!(!colour_wanted(
            ColourChoice::Auto,
            with(&[("TERM", "dumb")]),
            true
        ));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(colour_wanted(ColourChoice::Auto, with(&[("NO_COLOR", "")]), true));
    }

    #[test]
    fn clicolor_force_colours_pipes_but_yields_to_no_color() {
        assert!(colour_wanted(
            ColourChoice::Auto,
            with(&[("CLICOLOR_FORCE", "1")]),
            false
        ));
        assert!(colour_wanted(
            ColourChoice::Auto,
            with(&[("CLICOLOR_FORCE", "1"), ("TERM", "dumb")]),
            false
        ));
        assert!(!colour_wanted(
            ColourChoice::Auto,
            with(&[("CLICOLOR_FORCE", "0")]),
            false
        ));
        assert!(!colour_wanted(
            ColourChoice::Auto,
            with(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]),
            true
        ));
    }

    #[test]
    fn always_and_never_ignore_the_environment() {
        assert!(colour_wanted(
            ColourChoice::Always,
            with(&[("NO_COLOR", "1")]),
            false
        ));
        assert!(!colour_wanted(
            ColourChoice::Never,
            with(&[("CLICOLOR_FORCE", "1")]),
            true
        ));
    }
}

//! `s3fix simulate`: evaluate request cases offline, streaming, on every core.

use crate::core::case::{CaseError, CaseResult, PolicyCache, evaluate_case, parse_case};
use crate::core::eval::{ConditionOutcome, Outcome, PrincipalMatch};
use crate::exit::ExitCode;
use crate::printer::{Printer, exit_on_broken_pipe};
use anyhow::Context as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

/// Evaluate request cases offline against the policies they carry.
///
/// Input: one JSON object, a JSON array of objects, or JSON Lines, from FILE or stdin. Each case
/// has `request` (principal, action, resource, resourceAccount, context) and the policies:
/// `identityPolicies`, `permissionBoundary`, `sessionPolicy`, `scps`, `rcps`, `resourcePolicy`.
/// Output: one JSON line per case (`name`, `decision`, `deciding`, `missingAllow`, `warnings`).
/// Exit codes: 0 every case evaluated; 1 some case was malformed (the others are still reported).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Case file; `-` or absent reads stdin.
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub output: Format,
    /// Include, per policy, why each statement did or did not match.
    #[arg(long)]
    pub reasons: bool,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// Readable text.
    Text,
}

/// Cases handed to the workers at a time: bounds memory whatever the input size.
const BATCH: usize = 4096;

/// One case's text and where it starts.
struct Record {
    /// `line 12` or `case 3` (array element), for error messages.
    place: String,
    text: String,
    /// The record held bytes that are not UTF-8 (it is reported, not evaluated).
    not_utf8: bool,
}

/// Run `s3fix simulate`.
pub fn run(args: &Args, printer: &Printer) -> anyhow::Result<ExitCode> {
    let input: Box<dyn Read> = match &args.file {
        None => Box::new(io::stdin().lock()),
        Some(path) if path.as_os_str() == "-" => Box::new(io::stdin().lock()),
        Some(path) => {
            Box::new(File::open(path).with_context(|| format!("cannot open case file `{}`", path.display()))?)
        }
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |cores| cores.get()))
        .max(1);
    let mut reader = Records::new(BufReader::with_capacity(1 << 20, input));
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut failures = 0usize;
    // One policy cache per worker, kept across batches.
    let mut caches: Vec<PolicyCache> = (0..jobs).map(|_| PolicyCache::new()).collect();
    let mut batch = read_batch(&mut reader)?;
    while !batch.is_empty() {
        let chunk = batch.len().div_ceil(jobs);
        // The workers evaluate this batch while this thread reads the next one.
        let (results, next) = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(chunk)
                .zip(caches.iter_mut())
                .map(|(records, cache)| scope.spawn(move || process(records, args, cache)))
                .collect();
            let next = read_batch(&mut reader);
            let results: Vec<(Vec<u8>, Vec<String>)> = handles
                .into_iter()
                .map(|handle| handle.join().unwrap_or_default())
                .collect();
            (results, next)
        });
        for (bytes, errors) in results {
            out.write_all(&bytes).map_err(exit_on_broken_pipe)?;
            for error in &errors {
                printer.status(&format!("error: {error}"));
            }
            failures += errors.len();
        }
        batch = next?;
    }
    out.flush().map_err(exit_on_broken_pipe)?;
    if failures > 0 {
        printer.status(&format!(
            "{failures} malformed case(s); the others were evaluated"
        ));
        return Ok(ExitCode::Error);
    }
    Ok(ExitCode::Success)
}

/// Read up to [`BATCH`] records.
fn read_batch<R: BufRead>(reader: &mut Records<R>) -> anyhow::Result<Vec<Record>> {
    let mut batch = Vec::with_capacity(BATCH);
    while batch.len() < BATCH {
        match reader.next_record()? {
            Some(record) => batch.push(record),
            None => break,
        }
    }
    Ok(batch)
}

/// Evaluate records; returns the rendered output and the error messages.
fn process(records: &[Record], args: &Args, cache: &mut PolicyCache) -> (Vec<u8>, Vec<String>) {
    let mut bytes = Vec::with_capacity(records.len() * 160);
    let mut errors = Vec::new();
    for record in records {
        let result = if record.not_utf8 {
            Err(CaseError {
                name: None,
                path: String::new(),
                error: format!("{} is not UTF-8 text", record.place),
            })
        } else {
            parse_case(&record.text).and_then(|case| evaluate_case(&case, args.reasons, cache))
        };
        match result {
            Ok(result) => render(&result, args.output, &mut bytes),
            Err(error) => {
                errors.push(format!("{}: {error}", record.place));
                render_error(&error, args.output, &mut bytes);
            }
        }
    }
    (bytes, errors)
}

fn render(result: &CaseResult, format: Format, out: &mut Vec<u8>) {
    match format {
        Format::Json => {
            // Serialising plain data to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, result);
            out.push(b'\n');
        }
        Format::Text => {
            let _ = render_text(result, out);
        }
    }
}

fn render_error(error: &CaseError, format: Format, out: &mut Vec<u8>) {
    match format {
        Format::Json => {
            let _ = serde_json::to_writer(&mut *out, error);
            out.push(b'\n');
        }
        Format::Text => {
            let _ = writeln!(out, "{error}\n");
        }
    }
}

fn render_text(result: &CaseResult, out: &mut Vec<u8>) -> io::Result<()> {
    let name = result.name.as_deref().unwrap_or("(unnamed)");
    let outcome = match result.decision {
        Outcome::Allowed => "ALLOWED",
        Outcome::ExplicitlyDenied => "DENIED (explicit deny)",
        Outcome::ImplicitlyDenied => "DENIED (no applicable allow)",
    };
    writeln!(out, "{name}: {outcome}")?;
    for deciding in &result.deciding {
        let sid = deciding
            .sid
            .as_deref()
            .map(|sid| format!(" (Sid {sid})"))
            .unwrap_or_default();
        writeln!(
            out,
            "  decided by {} {} statement {}{sid}",
            deciding.kind, deciding.policy, deciding.statement
        )?;
    }
    if !result.missing_allow.is_empty() {
        writeln!(out, "  no Allow in: {}", result.missing_allow.join(", "))?;
    }
    for note in &result.notes {
        writeln!(out, "  {note}")?;
    }
    for warning in &result.warnings {
        writeln!(out, "  warning: {warning}")?;
    }
    for report in result.reasons.iter().flatten() {
        writeln!(out, "  {} {}:", report.kind.describe(), report.name)?;
        for statement in &report.statements {
            let sid = statement
                .sid
                .as_deref()
                .map(|sid| format!(" {sid}"))
                .unwrap_or_default();
            let verdict = if statement.matched {
                "matches"
            } else {
                "does not match"
            };
            let mut why = Vec::new();
            if !statement.action {
                why.push("action not covered".to_string());
            }
            if !statement.resource {
                why.push("resource not covered".to_string());
            }
            match statement.principal {
                Some(PrincipalMatch::NoMatch) => why.push("principal not named".to_string()),
                Some(PrincipalMatch::Account) => why.push("principal matched via its account".to_string()),
                Some(PrincipalMatch::RoleArn) => why.push("principal matched via its role ARN".to_string()),
                _ => {}
            }
            if let ConditionOutcome::Failed(condition) = &statement.condition {
                why.push(format!("condition {condition} is false"));
            }
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(": {}", why.join("; "))
            };
            writeln!(
                out,
                "    [{}]{sid} {:?} {verdict}{why}",
                statement.index, statement.effect
            )?;
        }
    }
    writeln!(out)
}

/// Splits the input into case texts: array elements, or top-level objects (one per line in
/// JSON Lines, or spread over several lines). Memory stays bounded by the largest case.
struct Records<R> {
    reader: R,
    line: usize,
    started: bool,
    array: Option<std::vec::IntoIter<Record>>,
    /// Set once the first case fitted on one line: the input is JSON Lines, every non-blank
    /// line is a case (a broken line is then reported alone, never merged with the next).
    json_lines: bool,
    /// Whether the first case decided between JSON Lines and multi-line objects.
    mode_decided: bool,
}

impl<R: BufRead> Records<R> {
    fn new(reader: R) -> Self {
        Records {
            reader,
            line: 0,
            started: false,
            array: None,
            json_lines: false,
            mode_decided: false,
        }
    }

    fn next_record(&mut self) -> anyhow::Result<Option<Record>> {
        if !self.started {
            self.started = true;
            if self.first_byte()? == Some(b'[') {
                let mut text = String::new();
                self.reader
                    .read_to_string(&mut text)
                    .context("cannot read the case input")?;
                let elements: Vec<Box<serde_json::value::RawValue>> =
                    serde_json::from_str(&text).context("the case input is not a JSON array of cases")?;
                let records: Vec<Record> = elements
                    .into_iter()
                    .enumerate()
                    .map(|(index, raw)| Record {
                        place: format!("case {index}"),
                        text: raw.get().to_string(),
                        not_utf8: false,
                    })
                    .collect();
                self.array = Some(records.into_iter());
            }
        }
        if let Some(array) = &mut self.array {
            return Ok(array.next());
        }
        if self.json_lines {
            return self.next_line();
        }
        let mut text = String::new();
        let mut depth = 0i64;
        let mut in_string = false;
        let mut escaped = false;
        let mut start_line = 0;
        let mut line = String::new();
        let mut not_utf8 = false;
        loop {
            line.clear();
            let (read, valid) = self.read_text_line(&mut line)?;
            if read == 0 {
                if text.trim().is_empty() {
                    return Ok(None);
                }
                return Ok(Some(Record {
                    place: format!("line {start_line}"),
                    text,
                    not_utf8,
                }));
            }
            if !valid {
                // A line that is not text: report it alone, with its number, and go on.
                self.line += 1;
                if text.trim().is_empty() {
                    return Ok(Some(Record {
                        place: format!("line {}", self.line),
                        text: String::new(),
                        not_utf8: true,
                    }));
                }
                not_utf8 = true;
            } else {
                self.line += 1;
            }
            if text.is_empty() {
                if line.trim().is_empty() {
                    continue;
                }
                start_line = self.line;
            }
            for byte in line.bytes() {
                if in_string {
                    match byte {
                        _ if escaped => escaped = false,
                        b'\\' => escaped = true,
                        b'"' => in_string = false,
                        _ => {}
                    }
                    continue;
                }
                match byte {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => depth -= 1,
                    _ => {}
                }
            }
            text.push_str(&line);
            if depth <= 0 && !in_string && !self.mode_decided {
                self.mode_decided = true;
                self.json_lines = self.line == start_line;
            }
            // A complete value (or a broken line that will never balance: hand it to the
            // parser, which names the error, rather than swallowing the rest of the input).
            if depth <= 0 && !in_string {
                return Ok(Some(Record {
                    place: format!("line {start_line}"),
                    text,
                    not_utf8,
                }));
            }
        }
    }

    /// JSON Lines: the next non-blank line.
    fn next_line(&mut self) -> anyhow::Result<Option<Record>> {
        let mut text = String::new();
        loop {
            text.clear();
            let (read, valid) = self.read_text_line(&mut text)?;
            if read == 0 {
                return Ok(None);
            }
            self.line += 1;
            if !valid || !text.trim().is_empty() {
                return Ok(Some(Record {
                    place: format!("line {}", self.line),
                    text,
                    not_utf8: !valid,
                }));
            }
        }
    }

    /// Read one line into `line`: (bytes read, whether they were UTF-8). A line that is not
    /// UTF-8 is replaced by nothing and reported by the caller; the input goes on.
    fn read_text_line(&mut self, line: &mut String) -> anyhow::Result<(usize, bool)> {
        let mut bytes = Vec::new();
        let read = self
            .reader
            .read_until(b'\n', &mut bytes)
            .context("cannot read the case input")?;
        match String::from_utf8(bytes) {
            Ok(text) => {
                line.push_str(&text);
                Ok((read, true))
            }
            Err(_) => Ok((read, false)),
        }
    }

    /// Peek at the first non-whitespace byte without consuming it.
    fn first_byte(&mut self) -> anyhow::Result<Option<u8>> {
        loop {
            let buffer = self.reader.fill_buf().context("cannot read the case input")?;
            if buffer.is_empty() {
                return Ok(None);
            }
            let skip = buffer
                .iter()
                .take_while(|byte| byte.is_ascii_whitespace())
                .count();
            if skip < buffer.len() {
                let first = buffer.get(skip).copied();
                let newlines = buffer.iter().take(skip).filter(|byte| **byte == b'\n').count();
                self.reader.consume(skip);
                self.line += newlines;
                return Ok(first);
            }
            let newlines = buffer.iter().filter(|byte| **byte == b'\n').count();
            let length = buffer.len();
            self.reader.consume(length);
            self.line += newlines;
        }
    }
}

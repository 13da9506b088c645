//! The scenario language: KDL files a teacher can read and write.
//!
//! `parse` turns KDL into the model (unrolling `repeat`, expanding `count=`), `check` vets the
//! model (flow of locks, barriers that can never trip, limits) and `builtin` embeds the lessons.
//! Every mistake becomes a [`ScenarioError`]: a miette diagnostic pointing into the source.

pub mod builtin;
mod check;
pub mod duration;
pub mod model;
mod parse;

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

pub use check::{
    MAX_COUNT, MAX_DURATION, MAX_FILE_BYTES, MAX_REPEAT, MAX_RESOURCES, MAX_STEPS, MAX_THREAD_TIME,
    MAX_THREADS,
};
use model::Scenario;

/// Loads a built-in scenario by name, or else a scenario file by path.
pub fn load(arg: &str) -> Result<Scenario, miette::Report> {
    if let Some(b) = builtin::find(arg) {
        return parse_source(b.name, &format!("builtin:{}", b.name), b.source);
    }
    let path = Path::new(arg);
    if path.exists() {
        return load_file(path);
    }
    let looks_like_path = arg.contains(['/', '\\']) || arg.ends_with(".kdl");
    let names: Vec<&str> = builtin::all().iter().map(|b| b.name).collect();
    let mut help = match nearest(arg, &names) {
        Some(near) if !looks_like_path => format!("did you mean `{near}`? "),
        _ => String::new(),
    };
    help.push_str(&format!("the built-in scenarios are: {}", names.join(", ")));
    let message = if looks_like_path {
        format!("no scenario file at `{arg}`")
    } else {
        format!("`{arg}` is neither a built-in scenario nor a file")
    };
    Err(
        ScenarioError::without_source(arg, Problem::new("scenario::not-found", message).help(help))
            .into(),
    )
}

/// The file a scenario argument reads, if it names one rather than a built-in: what outputs
/// of the same command must never overwrite.
pub fn input_file(arg: &str) -> Option<&Path> {
    builtin::find(arg).is_none().then(|| Path::new(arg))
}

/// Reads and parses a scenario file. Files over [`MAX_FILE_BYTES`] are refused after reading
/// at most one byte more; pipes, devices and directories are refused unread.
pub fn load_file(path: &Path) -> Result<Scenario, miette::Report> {
    let origin = path.display().to_string();
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| origin.clone());
    let bytes = crate::files::read_limited(path, MAX_FILE_BYTES as u64).map_err(|e| match e {
        crate::files::FileError::TooBig(_, len) => miette::Report::from(too_big(&origin, len)),
        e => ScenarioError::without_source(
            &origin,
            Problem::new("scenario::read", e.to_string()).help(e.help()),
        )
        .into(),
    })?;
    if is_recording(&bytes) {
        return Err(ScenarioError::without_source(
            &origin,
            Problem::new(
                "scenario::recording",
                format!("`{origin}` is a recording of a run, not a scenario"),
            )
            .help(format!(
                "this is a recording: use `threadlab replay {origin}` to watch it again, or \
                 `threadlab export {origin} --format svg -o run.svg`"
            )),
        )
        .into());
    }
    if looks_like_json(&bytes) {
        return Err(ScenarioError::without_source(
            &origin,
            Problem::new(
                "scenario::not-kdl",
                format!("`{origin}` is JSON, not a scenario"),
            )
            .help("a scenario is a KDL file, like: mutex A  thread T1 { lock A; unlock A }"),
        )
        .into());
    }
    let source = match String::from_utf8(bytes) {
        Ok(source) => source,
        Err(e) => {
            let bytes = e.into_bytes();
            let (line, column) = not_utf8_at(&bytes);
            return Err(ScenarioError::without_source(
                &origin,
                Problem::new(
                    "scenario::read",
                    format!(
                        "`{origin}` is not UTF-8 text: {origin}:{line}:{column} is not a character"
                    ),
                )
                .help(
                    "a scenario is a plain text file in UTF-8; save it as UTF-8 in your editor, \
                     or check that this is the right file",
                ),
            )
            .into());
        }
    };
    parse_source(&name, &origin, &source)
}

/// Whether file contents open a JSON object, which no KDL document can start with.
pub fn looks_like_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

/// Whether file contents are a recording (`threadlab run --record`) rather than KDL: a JSON
/// object naming the recording format near its start.
pub fn is_recording(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(256)];
    looks_like_json(head) && String::from_utf8_lossy(head).contains(RECORDING_FORMAT)
}

/// The `format` every recording names at its start.
pub const RECORDING_FORMAT: &str = "threadlab-recording";

/// Line and column (1-based, in characters) of the first byte that is not valid UTF-8.
fn not_utf8_at(bytes: &[u8]) -> (usize, usize) {
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    };
    // Everything before `valid` is UTF-8 by definition.
    let before = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Parses and checks scenario text. `name` is the short name, `origin` names the source in
/// diagnostics (`builtin:deadlock` or a path).
pub fn parse_source(name: &str, origin: &str, source: &str) -> Result<Scenario, miette::Report> {
    if source.len() > MAX_FILE_BYTES {
        return Err(too_big(origin, source.len() as u64).into());
    }
    let src: Arc<str> = Arc::from(source);
    let result = parse::parse(name, origin, src.clone())
        .and_then(|parsed| check::check(&parsed).map(|()| parsed.scenario));
    result.map_err(|problems| ScenarioError::new(origin, src, problems).into())
}

/// Validates each file, printing every diagnostic to stderr and `ok: FILE — TITLE` to stdout
/// for each good one. Returns whether all files were valid.
pub fn check_files(paths: &[PathBuf]) -> bool {
    let mut all_ok = true;
    for path in paths {
        match load_file(path) {
            Ok(s) => crate::console::outln(&format!("ok: {} — {}", path.display(), s.title)),
            Err(report) => {
                all_ok = false;
                crate::console::errln(&render_for_terminal(report.as_ref()));
            }
        }
    }
    all_ok
}

/// Renders a diagnostic for stderr: colour and Unicode on a terminal, monochrome when
/// `NO_COLOR` is set, plain ASCII when stderr is not a terminal.
pub fn render_for_terminal(diagnostic: &dyn Diagnostic) -> String {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = if !std::io::stderr().is_terminal() {
        GraphicalTheme::none()
    } else if no_color {
        GraphicalTheme::unicode_nocolor()
    } else {
        GraphicalTheme::unicode()
    };
    render_with(
        GraphicalReportHandler::new_themed(theme).with_width(100),
        diagnostic,
    )
}

/// Renders a diagnostic in plain ASCII without colour at a fixed width: stable text for
/// snapshots, logs and anywhere escape codes would be noise.
pub fn render_plain(diagnostic: &dyn Diagnostic, width: usize) -> String {
    render_with(
        GraphicalReportHandler::new_themed(GraphicalTheme::none()).with_width(width),
        diagnostic,
    )
}

fn render_with(handler: GraphicalReportHandler, diagnostic: &dyn Diagnostic) -> String {
    let handler = handler.with_links(false).without_syntax_highlighting();
    let mut out = String::new();
    if handler.render_report(&mut out, diagnostic).is_ok() {
        return out;
    }
    // miette gives up on a span it cannot read; the message and help still say what is wrong.
    let mut out = format!("Error: {diagnostic}\n");
    if let Some(help) = diagnostic.help() {
        out.push_str(&format!("  help: {help}\n"));
    }
    if let Some(related) = diagnostic.related() {
        for r in related {
            out.push_str(&format!("Error: {r}\n"));
        }
    }
    out
}

fn too_big(origin: &str, len: u64) -> ScenarioError {
    let size = crate::files::human_size(len);
    ScenarioError::without_source(
        origin,
        Problem::new(
            "scenario::too-big",
            format!(
                "`{origin}` is {size}; a scenario file may be at most {} KiB",
                MAX_FILE_BYTES >> 10
            ),
        )
        .help(
            "scenarios are short scripts: use `repeat` and `count=` instead of writing steps out",
        ),
    )
}

/// The closest of `candidates` to `word`, if any is close enough to be a likely typo.
pub(crate) fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word_lower = word.to_lowercase();
    // Short words are close to everything: allow fewer edits the shorter the word.
    let limit = match word.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        n => n / 3,
    };
    candidates
        .iter()
        .map(|&c| {
            (
                strsim::damerau_levenshtein(&word_lower, &c.to_lowercase()),
                c,
            )
        })
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// One mistake in a scenario: a message, the spans it is about and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    code: &'static str,
    message: String,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
}

impl Problem {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            code,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    /// The main span: the header's line:column points here.
    pub(crate) fn at(mut self, span: (usize, usize), label: impl Into<String>) -> Problem {
        self.labels
            .push(LabeledSpan::new_primary_with_span(Some(label.into()), span));
        self
    }

    /// A further span that explains the main one ("declared here").
    pub(crate) fn also(mut self, span: (usize, usize), label: impl Into<String>) -> Problem {
        self.labels
            .push(LabeledSpan::new_with_span(Some(label.into()), span));
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }

    /// A stable identifier of the kind of mistake, such as `scenario::unknown-step`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// Byte offset of the main span, if the problem points into the source.
    pub fn offset(&self) -> Option<usize> {
        self.labels
            .iter()
            .find(|l| l.primary())
            .or(self.labels.first())
            .map(|l| l.offset())
    }

    /// Keeps every span inside the text and on character boundaries, so rendering never fails.
    fn clamp_to(&mut self, source: &str) {
        for label in &mut self.labels {
            let start = floor_char(source, label.offset());
            let end = floor_char(
                source,
                label.offset().saturating_add(label.len()).max(start),
            );
            let clamped = if label.primary() {
                LabeledSpan::new_primary_with_span(
                    label.label().map(String::from),
                    (start, end - start),
                )
            } else {
                LabeledSpan::new_with_span(label.label().map(String::from), (start, end - start))
            };
            *label = clamped;
        }
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
}

/// Everything wrong with one scenario source: the first problem is the headline, the rest
/// follow as related diagnostics, all pointing into the same named source.
#[derive(Debug)]
pub struct ScenarioError {
    source: Option<NamedSource<Arc<str>>>,
    origin: String,
    problems: Vec<Problem>,
}

/// More than this many problems are summarised: after a dozen, the rest are usually echoes.
const MAX_SHOWN: usize = 12;

impl ScenarioError {
    pub(crate) fn new(origin: &str, source: Arc<str>, mut problems: Vec<Problem>) -> ScenarioError {
        if problems.is_empty() {
            problems.push(Problem::new(
                "scenario::invalid",
                "the scenario is not valid",
            ));
        }
        for p in &mut problems {
            p.clamp_to(&source);
        }
        // Source order reads best; problems about the whole file come first.
        problems.sort_by_key(|p| p.offset().map_or(0, |o| o + 1));
        if problems.len() > MAX_SHOWN {
            let more = problems.len() - (MAX_SHOWN - 1);
            problems.truncate(MAX_SHOWN - 1);
            problems.push(
                Problem::new("scenario::more", format!("… and {more} more problems"))
                    .help("fix the ones above first; later ones often follow from them"),
            );
        }
        ScenarioError {
            source: Some(NamedSource::new(origin, source)),
            origin: origin.to_string(),
            problems,
        }
    }

    fn without_source(origin: &str, problem: Problem) -> ScenarioError {
        ScenarioError {
            source: None,
            origin: origin.to_string(),
            problems: vec![problem],
        }
    }

    /// Every problem found, in source order (never empty).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The file path or `builtin:NAME` the problems are in.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.problems[0], f)
    }
}

impl std::error::Error for ScenarioError {}

impl Diagnostic for ScenarioError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Diagnostic::code(&self.problems[0])
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Diagnostic::help(&self.problems[0])
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Diagnostic::labels(&self.problems[0])
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.problems.len() < 2 {
            return None;
        }
        Some(Box::new(
            self.problems[1..].iter().map(|p| p as &dyn Diagnostic),
        ))
    }
}

//! The scenario language: KDL files a teacher can read and write.
//!
//! `parse` turns KDL into the model (unrolling `repeat`, expanding `count=`), `check` vets the
//! model (flow of locks, barriers that can never trip, limits) and `builtin` embeds the lessons.
//! Every mistake becomes a [`ScenarioError`]: a miette diagnostic pointing into the source.

pub mod builtin;
mod check;
pub mod duration;
mod kinds;
mod limits;
pub mod model;
mod parse;
pub(crate) use parse::EXECUTOR_THREADS;
pub mod testing;

use rust_i18n::t;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan};

pub use crate::error::{render_for_terminal, render_plain};

pub use limits::{
    MAX_COUNT, MAX_DURATION, MAX_FILE_BYTES, MAX_REPEAT, MAX_RESOURCES, MAX_STEPS, MAX_TASK_COUNT,
    MAX_TASKS, MAX_THREAD_TIME, MAX_THREADS,
};
use model::Scenario;

pub use kinds::{keywords as kind_keywords, word as kind_word};

/// The origin a built-in's scenario carries, as against a file's path.
pub fn builtin_origin(name: &str) -> String {
    format!("builtin:{name}")
}

/// The file a scenario was read from; `None` for a built-in.
pub fn file_of(scenario: &Scenario) -> Option<&Path> {
    (!scenario.origin.starts_with("builtin:")).then(|| Path::new(&scenario.origin))
}

/// Loads a built-in scenario by name, or else a scenario file by path.
pub fn load(arg: &str) -> Result<Scenario, miette::Report> {
    if let Some(b) = builtin::find(arg) {
        return parse_source(b.name, &builtin_origin(b.name), b.source);
    }
    let path = Path::new(arg);
    if path.exists() {
        return load_file(path);
    }
    let looks_like_path = arg.contains(['/', '\\']) || arg.ends_with(".kdl");
    let names: Vec<&str> = builtin::all().iter().map(|b| b.name).collect();
    let mut help = match nearest(arg, &names) {
        Some(near) if !looks_like_path => {
            t!("classroom.parse.did_you_mean_4", near = near).into_owned()
        }
        _ => String::new(),
    };
    help.push_str(&t!(
        "classroom.parse.the_built_in_scenarios_are",
        a1 = names.join(", ")
    ));
    let message = if looks_like_path {
        t!("classroom.parse.no_scenario_file_at", a1 = shown(arg)).into_owned()
    } else {
        t!("classroom.parse.is_neither_a_built_in", a1 = shown(arg)).into_owned()
    };
    Err(refused(
        &shown(arg),
        Problem::new("scenario::not-found", message).help(with_disguise(help, arg)),
    ))
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
    let bytes = crate::files::read_limited(path, MAX_FILE_BYTES as u64).map_err(|e| {
        if e.code == crate::files::TOO_BIG {
            refused(&origin, too_big(&e.message))
        } else {
            let problem = Problem::new("scenario::read", e.to_string());
            refused(&origin, problem.help(e.help.unwrap_or_default()))
        }
    })?;
    if is_recording(&bytes) {
        return Err(refused(
            &origin,
            Problem::new(
                "scenario::recording",
                t!("classroom.parse.is_a_recording_of_a", origin = origin),
            )
            .help(t!(
                "classroom.parse.this_is_a_recording_use",
                origin = origin
            )),
        ));
    }
    if looks_like_json(&bytes) {
        let problem = Problem::new(
            "scenario::not-kdl",
            t!("classroom.parse.is_json_not_a_scenario", origin = origin),
        );
        return Err(refused(
            &origin,
            problem.help(t!("classroom.parse.a_scenario_is_a_kdl")),
        ));
    }
    let source = match String::from_utf8(bytes) {
        Ok(source) => source,
        Err(e) => {
            let bytes = e.into_bytes();
            let (line, column) = not_utf8_at(&bytes);
            return Err(refused(
                &origin,
                Problem::new(
                    "scenario::read",
                    t!(
                        "classroom.parse.not_utf_8_text_at",
                        origin = origin,
                        line = line,
                        column = column
                    ),
                )
                .help(t!("classroom.parse.a_scenario_is_a_plain")),
            ));
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
pub(crate) fn not_utf8_at(bytes: &[u8]) -> (usize, usize) {
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
        let seen = format!(
            "`{origin}` is {}",
            crate::files::human_size(source.len() as u64)
        );
        return Err(refused(origin, too_big(&seen)));
    }
    let src: Arc<str> = Arc::from(source);
    let result = parse::parse(name, origin, src.clone())
        .and_then(|parsed| check::check(&parsed).map(|()| parsed.scenario));
    result.map_err(|problems| ScenarioError::new(origin, src, problems).into())
}

/// A scenario file over the limit; `seen` says which file and how big ("`a.kdl` is 2.0 MiB").
fn too_big(seen: &str) -> Problem {
    Problem::new(
        "scenario::too-big",
        format!(
            "{seen}; a scenario file may be at most {} KiB",
            MAX_FILE_BYTES >> 10
        ),
    )
    .help(t!("classroom.parse.scenarios_are_short_scripts_use"))
}

/// A whole file refused before its text is read as a scenario.
fn refused(origin: &str, problem: Problem) -> miette::Report {
    ScenarioError::without_source(origin, problem).into()
}

/// The closest of `candidates` to `word`, if any is close enough to be a likely typo. Words
/// are compared as they read ([`plain`]), so a look-alike letter finds the name it imitates.
pub(crate) fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word_lower = plain(word).to_lowercase();
    let word_len = word_lower.chars().count();
    // Short words are close to everything: allow fewer edits the shorter the word.
    let limit = match word_len {
        0..=2 => 0,
        3..=5 => 1,
        n => n / 3,
    };
    candidates
        .iter()
        // Lengths further apart than the limit cannot be within it: skip them unmeasured, so
        // a name thousands of characters long costs nothing.
        .filter(|c| c.chars().count().abs_diff(word_len) <= limit)
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

/// Most characters of a name (or any text from the file) echoed in a message; longer ones are
/// cut with an ellipsis, so a runaway name cannot flood the screen.
pub(crate) const ECHO_CHARS: usize = 40;

/// `text` as a message echoes it: at most [`ECHO_CHARS`] characters.
pub(crate) fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    cut(text, ECHO_CHARS)
}

/// `text` cut to `max` characters, ending in `…` when cut.
fn cut(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => text.into(),
        Some((at, _)) => format!("{}…", &text[..at]).into(),
    }
}

/// Characters that show as nothing at all: zero-width spaces and joiners, direction marks,
/// the byte-order mark, the soft hyphen. A name copied out of a web page or a chat often
/// carries one.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}')
}

/// The Latin letter or ASCII character `c` passes for, when it is not one: Cyrillic and
/// Greek capitals and small letters that look the same, and the full-width forms an input
/// method types in full-width mode (`Ｔ１` for `T1`).
fn looks_like(c: char) -> Option<char> {
    const CYRILLIC_GREEK: &[(char, char)] = &[
        ('А', 'A'),
        ('В', 'B'),
        ('Е', 'E'),
        ('К', 'K'),
        ('М', 'M'),
        ('Н', 'H'),
        ('О', 'O'),
        ('Р', 'P'),
        ('С', 'C'),
        ('Т', 'T'),
        ('Х', 'X'),
        ('Ѕ', 'S'),
        ('І', 'I'),
        ('Ј', 'J'),
        ('а', 'a'),
        ('е', 'e'),
        ('о', 'o'),
        ('р', 'p'),
        ('с', 'c'),
        ('у', 'y'),
        ('х', 'x'),
        ('ѕ', 's'),
        ('і', 'i'),
        ('ј', 'j'),
        ('Α', 'A'),
        ('Β', 'B'),
        ('Ε', 'E'),
        ('Ζ', 'Z'),
        ('Η', 'H'),
        ('Ι', 'I'),
        ('Κ', 'K'),
        ('Μ', 'M'),
        ('Ν', 'N'),
        ('Ο', 'O'),
        ('Ρ', 'P'),
        ('Τ', 'T'),
        ('Υ', 'Y'),
        ('Χ', 'X'),
        ('ο', 'o'),
        ('ν', 'v'),
    ];
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
        _ => CYRILLIC_GREEK
            .iter()
            .find(|(a, _)| *a == c)
            .map(|&(_, l)| l),
    }
}

/// A name as it reads on screen: invisible characters dropped, look-alike letters replaced by
/// the Latin letters they pass for.
pub(crate) fn plain(name: &str) -> String {
    name.chars()
        .filter(|&c| !invisible(c))
        .map(|c| looks_like(c).unwrap_or(c))
        .collect()
}

/// What is not as it looks in `name`: its first invisible character, or its first letter
/// from another alphabet that passes for a Latin one. `None` when it is what it looks like.
pub(crate) fn disguise(name: &str) -> Option<String> {
    if let Some(c) = name.chars().find(|&c| invisible(c)) {
        return Some(
            t!(
                "classroom.parse.an_invisible_character_u_that",
                a1 = format!("{:04X}", c as u32)
            )
            .into_owned(),
        );
    }
    let (c, latin) = name.chars().find_map(|c| looks_like(c).map(|l| (c, l)))?;
    let what = match c as u32 {
        0xFF01..=0xFF5E => t!("classroom.parse.a_full_width"),
        0x0370..=0x03FF => t!("classroom.parse.a_greek"),
        _ => t!("classroom.parse.a_cyrillic"),
    };
    Some(
        t!(
            "classroom.parse.u_that_looks_like_the",
            what = what,
            c = c,
            a1 = format!("{:04X}", c as u32),
            latin = latin
        )
        .into_owned(),
    )
}

/// `help`, with what is disguised in `word` pointed out when something is.
pub(crate) fn with_disguise(help: String, word: &str) -> String {
    match disguise(word) {
        Some(d) => t!(
            "classroom.parse.has",
            word = shown(word),
            what = d,
            help = help
        )
        .into_owned(),
        None => help,
    }
}

/// Most characters of a message, a help line and a label. Sites echo names through [`shown`];
/// these bound whatever else a message quotes from the file.
const MAX_MESSAGE: usize = 200;
const MAX_HELP: usize = 400;
const MAX_LABEL: usize = 80;

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
        let message: String = message.into();
        Problem {
            code,
            message: cut(&message, MAX_MESSAGE).into_owned(),
            labels: Vec::new(),
            help: None,
        }
    }

    /// The main span: the header's line:column points here.
    pub(crate) fn at(mut self, span: (usize, usize), label: impl Into<String>) -> Problem {
        let label = cut(&label.into(), MAX_LABEL).into_owned();
        self.labels
            .push(LabeledSpan::new_primary_with_span(Some(label), span));
        self
    }

    /// A further span that explains the main one ("declared here").
    pub(crate) fn also(mut self, span: (usize, usize), label: impl Into<String>) -> Problem {
        let label = cut(&label.into(), MAX_LABEL).into_owned();
        self.labels
            .push(LabeledSpan::new_with_span(Some(label), span));
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(cut(&help.into(), MAX_HELP).into_owned());
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
            let mut end = floor_char(
                source,
                label.offset().saturating_add(label.len()).max(start),
            );
            // Underline the start of a long stretch of one line; a span over several lines
            // (a block) is drawn by its ends.
            if end - start > MAX_UNDERLINE && !source[start..end].contains('\n') {
                end = floor_char(source, start + MAX_UNDERLINE);
            }
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

/// Most bytes of one line underlined.
const MAX_UNDERLINE: usize = 60;

/// Lines longer than this are shown as a window around what the diagnostic points at.
const MAX_SHOWN_LINE: usize = 160;
/// Bytes shown on either side of the span in such a window.
const WINDOW: usize = 60;

/// A scenario's text as diagnostics quote it: whole lines, except that a line too long to
/// show (a 60 000-character name) is quoted as a window around the span, so one bad line
/// cannot fill the screen. Byte offsets, lines and columns stay those of the file.
#[derive(Debug)]
struct Quoted {
    name: String,
    text: Arc<str>,
}

impl miette::SourceCode for Quoted {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let text: &'a str = &self.text;
        let full = text.as_bytes().read_span(span, before, after)?;
        let start = floor_char(text, span.offset());
        let mut end = floor_char(text, span.offset() + span.len()).max(start);
        let long = full
            .data()
            .split(|&b| b == b'\n')
            .any(|line| line.len() > MAX_SHOWN_LINE);
        if !long {
            let from = full.span().offset();
            return Ok(Box::new(miette::MietteSpanContents::new_named(
                self.name.clone(),
                full.data(),
                *full.span(),
                full.line(),
                char_column(text, from),
                full.line_count(),
            )));
        }
        // A span over several lines, one of them too long, is quoted by its first line.
        if let Some(nl) = text[start..end].find('\n') {
            end = start + nl;
        }
        let line_start = text[..start].rfind('\n').map_or(0, |nl| nl + 1);
        let line_end = text[end..].find('\n').map_or(text.len(), |nl| end + nl);
        // Without context, miette expects the text to start at the span itself.
        let from = if before == 0 {
            start
        } else {
            floor_char(text, start.saturating_sub(WINDOW).max(line_start))
        };
        let to = ceil_char(text, end.saturating_add(WINDOW).min(line_end));
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            &text.as_bytes()[from..to],
            (from, to - from).into(),
            full.line() + text[full.span().offset()..start].matches('\n').count(),
            char_column(text, from),
            full.line_count(),
        )))
    }
}

/// The 0-based column of byte `at` in characters, as an editor counts it (miette counts bytes,
/// which puts everything after a Chinese name or an `é` too far right).
fn char_column(text: &str, at: usize) -> usize {
    let at = floor_char(text, at);
    let line_start = text[..at].rfind('\n').map_or(0, |nl| nl + 1);
    text[line_start..at].chars().count()
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
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
    source: Option<Quoted>,
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
                t!("classroom.parse.the_scenario_is_not_valid"),
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
                Problem::new(
                    "scenario::more",
                    t!("classroom.parse.and_more_problems", more = more),
                )
                .help(t!("classroom.parse.fix_the_ones_above_first")),
            );
        }
        ScenarioError {
            source: Some(Quoted {
                name: origin.to_string(),
                text: source,
            }),
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

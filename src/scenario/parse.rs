//! KDL text → [`Scenario`]: resources, threads, `count=` expansion and `repeat` unrolling.
//!
//! The parser reports every mistake it can find in one pass rather than stopping at the first,
//! so a teacher fixing a file sees the whole list at once.

use rust_i18n::t;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kdl::{KdlDocument, KdlEntry, KdlError, KdlNode, KdlValue};

use super::kinds::{self, article};
use super::limits::{
    MAX_AMOUNT, MAX_COUNT, MAX_DURATION, MAX_REPEAT, MAX_RESOURCES, MAX_STEPS, MAX_TASK_COUNT,
    MAX_TASKS, MAX_THREADS, human,
};
use super::model::{
    EXCEPTIONS, Guard, IMPLICIT_GIL, Op, ProcessSpec, ResIdx, Resource, ResourceKind, Scenario,
    Step, Tasks, ThreadIdx, ThreadModel, ThreadSpec,
};
use super::{Problem, disguise, duration, nearest, plain, shown, with_disguise};

/// A byte range in the source: (offset, length).
pub(crate) type Span = (usize, usize);

/// A parsed scenario with the source spans the checker needs to point at.
pub(crate) struct Parsed {
    pub scenario: Scenario,
    /// Per resource: the span of its name in the declaration.
    pub resource_spans: Vec<Span>,
    /// Per thread (after expansion): the span of the name in its `thread` node.
    pub thread_spans: Vec<Span>,
    /// Per thread, per step: the span of the step's keyword.
    pub step_spans: Vec<Vec<Span>>,
}

/// A file's top level: its texts, its resources, and its lanes (threads and tasks).
const TEXTS: &[&str] = &["title", "about"];
const LANES: &[&str] = &["thread", "task"];
/// A child process and the threads it runs: `process worker { thread main { ... } }`.
const PROCESS: &str = "process";
/// Settings of the whole scenario: `threads "python"`.
const SETTINGS: &[&str] = &["threads"];
/// Steps that work on no resource.
const PLAIN_STEPS: &[&str] = &["work", "sleep", "repeat"];
/// A task's steps on other tasks and on the loop's executor (`wait` on a group of tasks is
/// asyncio's `wait`; on a resource it is that resource's).
const TASK_STEPS: &[&str] = &["gather", "cancel", "wait-for", "to-thread"];
/// The loop's default executor that `to-thread` hands blocking calls to, and the name CPython
/// gives its worker threads (`asyncio_0`, `asyncio_1`, …).
pub(crate) const EXECUTOR: &str = "executor";
pub(crate) const EXECUTOR_THREADS: &str = "asyncio";

/// Every keyword that declares a resource, from the one table of kinds.
fn resource_kinds() -> Vec<&'static str> {
    kinds::keywords().collect()
}

/// Every step: those of the resource kinds, then the plain ones.
fn steps() -> Vec<&'static str> {
    let mut steps = kinds::resource_steps();
    steps.extend_from_slice(PLAIN_STEPS);
    steps.extend_from_slice(TASK_STEPS);
    steps
}

/// Words people reach for from other languages, and what they are called here.
const ALIASES: &[(&str, &str)] = &[
    ("queue", "buffer"),
    ("channel", "buffer"),
    ("chan", "buffer"),
    ("sem", "semaphore"),
    ("lock", "mutex"),
    ("reentrant", "rlock"),
    ("flag", "event"),
    ("rw", "rwlock"),
    ("shared_mutex", "rwlock"),
    ("asyncio", "event-loop"),
    ("runtime", "event-loop"),
    ("coroutine", "task"),
    ("async", "task"),
    ("atomic", "counter"),
    ("int", "counter"),
    ("fire", "set"),
    ("inc", "increment"),
    ("incr", "increment"),
    ("add", "increment"),
    ("compute", "work"),
    ("cpu", "work"),
    ("run", "work"),
    ("busy", "work"),
    ("io", "sleep"),
    ("delay", "sleep"),
    ("pause", "sleep"),
    ("get", "take"),
    ("recv", "take"),
    ("receive", "take"),
    ("consume", "take"),
    ("push", "put"),
    ("send", "put"),
    ("produce", "put"),
    ("loop", "repeat"),
    ("times", "repeat"),
    ("for", "repeat"),
    ("signal", "release"),
    ("arrive", "wait"),
];

/// Deepest `{ }` nesting accepted: scenarios need three or four levels; the KDL parser
/// recurses per level, so unbounded nesting could exhaust the stack.
const MAX_NESTING: usize = 16;
/// Most `*` and `/` characters in one `/* */` comment: the KDL parser recurses per piece of a
/// block comment.
const MAX_COMMENT_PIECES: usize = 1000;
/// Most `/-` in one file: the KDL parser's error recovery slows down sharply with many of them.
const MAX_SLASHDASHES: usize = 200;
/// Stack for the KDL parser's own thread: 4 KiB per byte of the largest file, several times
/// the worst case measured. Only the pages a parse touches are ever committed.
const PARSE_STACK: usize = 256 << 20;

pub(crate) fn parse(name: &str, origin: &str, source: Arc<str>) -> Result<Parsed, Vec<Problem>> {
    guard(origin, &source).map_err(|p| vec![p])?;
    let doc = parse_kdl(&source).map_err(|e| syntax_problems(&source, e))?;
    let mut b = Builder::new(&source);
    b.declarations(&doc);
    b.threads(&doc);
    b.executor();
    b.apply_model();
    if doc.nodes().is_empty() {
        return Err(vec![
            Problem::new(
                "scenario::empty",
                t!("classroom.parse.is_empty", origin = origin),
            )
            .help(t!("classroom.parse.a_scenario_needs_at_least")),
        ]);
    }
    if b.threads.is_empty() && b.problems.is_empty() {
        let span = (source.len(), 0);
        b.problems.push(
            Problem::new(
                "scenario::no-threads",
                t!("classroom.parse.the_scenario_has_no_threads"),
            )
            .at(span, t!("classroom.parse.nothing_to_run"))
            .help(t!("classroom.parse.add_a_thread_thread_t1")),
        );
    }
    if !b.problems.is_empty() {
        return Err(b.problems);
    }
    let title = b.title.unwrap_or_else(|| name.to_string());
    Ok(Parsed {
        scenario: Scenario {
            name: name.to_string(),
            origin: origin.to_string(),
            source: source.clone(),
            title,
            about: b.about.unwrap_or_default(),
            title_zh: b.title_zh,
            about_zh: b.about_zh,
            models: b.models.map(|(m, _)| m).unwrap_or_default(),
            traced: false,
            resources: b.resources,
            threads: b.threads,
            processes: b.processes,
        },
        resource_spans: b.resource_spans,
        thread_spans: b.thread_spans,
        step_spans: b.step_spans,
    })
}

/// Runs the KDL parser on a thread with a large stack, so no input can overflow the caller's.
fn parse_kdl(source: &str) -> Result<KdlDocument, KdlError> {
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("kdl-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(s, || KdlDocument::parse_v2(source));
        match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(KdlError {
                    input: Arc::new(source.to_string()),
                    diagnostics: Vec::new(),
                })
            }),
            // Parsing on the caller's stack could overflow it on hostile input: refuse instead.
            Err(e) => Err(KdlError {
                input: Arc::new(String::new()),
                diagnostics: vec![kdl::KdlDiagnostic {
                    input: Arc::new(String::new()),
                    span: (0, 0).into(),
                    message: Some(
                        t!("classroom.parse.could_not_start_the_scenario", e = e).into_owned(),
                    ),
                    label: None,
                    help: Some(t!("classroom.parse.short_of_memory").into_owned()),
                    severity: miette::Severity::Error,
                }],
            }),
        }
    })
}

/// Refuses the few shapes of input that would make the KDL parser recurse without bound or
/// take minutes. It follows KDL's strings and comments closely enough to never refuse a
/// reasonable file.
fn guard(origin: &str, src: &str) -> Result<(), Problem> {
    // KDL refuses these too, but points near them rather than at them.
    if let Some((at, c)) = src
        .char_indices()
        .find(|&(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        // No snippet: it would print the control character itself.
        let line = src[..at].matches('\n').count() + 1;
        let line_start = src[..at].rfind('\n').map_or(0, |nl| nl + 1);
        let column = src[line_start..at].chars().count() + 1;
        return Err(Problem::new(
            "scenario::syntax",
            t!(
                "classroom.parse.invisible_control_character_u_at",
                a1 = format!("{:04X}", c as u32),
                origin = origin,
                line = line,
                column = column
            ),
        )
        .help(t!("classroom.parse.delete_it_it_may_have")));
    }
    let b = src.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    let mut slashdashes = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' => i = skip_string(b, i, 0)?,
            b'#' => {
                let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + hashes) == Some(&b'"') {
                    i = skip_string(b, i + hashes, hashes)?;
                } else {
                    i += hashes;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p + 1);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let (end, pieces) = skip_block_comment(b, i);
                if pieces > MAX_COMMENT_PIECES {
                    return Err(Problem::new(
                        "scenario::too-complex",
                        t!("classroom.parse.this_comment_is_too_intricate"),
                    )
                    .at((i, 2), t!("classroom.parse.comment_starts_here"))
                    .help(t!(
                        "classroom.parse.a_comment_may_hold_at",
                        MAX_COMMENT_PIECES = MAX_COMMENT_PIECES
                    )));
                }
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'-') => {
                slashdashes += 1;
                if slashdashes > MAX_SLASHDASHES {
                    return Err(Problem::new(
                        "scenario::too-complex",
                        t!(
                            "classroom.parse.more_than_comments_in_one",
                            MAX_SLASHDASHES = MAX_SLASHDASHES
                        ),
                    )
                    .at((i, 2), t!("classroom.parse.one_too_many"))
                    .help(t!("classroom.parse.delete_the_commented_out_parts")));
                }
                let next = b[i + 2..]
                    .iter()
                    .position(|c| !c.is_ascii_whitespace())
                    .map(|p| i + 2 + p);
                if let Some(n) = next
                    && b.get(n..n + 2) == Some(b"/-")
                {
                    return Err(Problem::new(
                        "scenario::syntax",
                        t!("classroom.parse.twice_in_a_row"),
                    )
                    .at((n, 2), t!("classroom.parse.second"))
                    .help(t!("classroom.parse.one_comments_out_the_whole")));
                }
                i += 2;
            }
            b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Problem::new(
                        "scenario::too-deep",
                        t!(
                            "classroom.parse.blocks_nest_more_than_deep",
                            MAX_NESTING = MAX_NESTING
                        ),
                    )
                    .at((i, 1), t!("classroom.parse.too_deep"))
                    .help(t!("classroom.parse.a_scenario_needs_only_thread")));
                }
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Index just past the string whose opening quote is at `q` (raw when `hashes > 0`). An
/// unclosed string is reported here: the KDL parser rescans to the end of the file for each
/// one, which makes a file full of stray quotes take minutes.
fn skip_string(b: &[u8], q: usize, hashes: usize) -> Result<usize, Problem> {
    let start = q - hashes;
    let closes = |i: usize, quotes: usize| {
        b[i..].starts_with(&b"\"\"\""[..quotes])
            && b[i + quotes..].iter().take_while(|&&c| c == b'#').count() >= hashes
    };
    if b[q..].starts_with(b"\"\"\"") {
        let open = (start, hashes + 3);
        if !newline_at(b, q + 3) {
            return Err(Problem::new(
                "scenario::syntax",
                t!("classroom.parse.a_multi_line_string_must"),
            )
            .at(open, t!("classroom.parse.text_follows_the_quotes"))
            .help(t!("classroom.parse.break_the_line_after_and")));
        }
        let mut i = q + 3;
        while i < b.len() {
            if hashes == 0 && b[i] == b'\\' {
                i = skip_escape(b, i);
            } else if closes(i, 3) {
                return Ok(i + 3 + hashes);
            } else {
                i += 1;
            }
        }
        return Err(Problem::new(
            "scenario::syntax",
            t!("classroom.parse.this_multi_line_string_is"),
        )
        .at(open, t!("classroom.parse.opened_here"))
        .help(t!("classroom.parse.close_it_with_on_a")));
    }
    let mut i = q + 1;
    while i < b.len() {
        if hashes == 0 && b[i] == b'\\' {
            i = skip_escape(b, i);
        } else if newline_at(b, i) {
            break;
        } else if closes(i, 1) {
            return Ok(i + 1 + hashes);
        } else {
            i += 1;
        }
    }
    Err(Problem::new(
        "scenario::syntax",
        t!("classroom.parse.this_string_is_not_closed"),
    )
    .at(
        (start, i.min(b.len()) - start),
        t!("classroom.parse.no_closing_quote"),
    )
    .help(t!("classroom.parse.end_it_with_on_the")))
}

/// Index just past an escape: `\n`, `\u{..}` or `\` followed by white space and line breaks.
fn skip_escape(b: &[u8], backslash: usize) -> usize {
    let mut j = backslash + 1;
    let is_space = |j: usize| j < b.len() && (matches!(b[j], b' ' | b'\t') || newline_at(b, j));
    if is_space(j) {
        while is_space(j) {
            j += 1;
        }
        j
    } else {
        j + 1
    }
}

/// A KDL line break starts at `i` (control characters are refused before this runs).
fn newline_at(b: &[u8], i: usize) -> bool {
    matches!(b.get(i), Some(b'\n' | b'\r'))
        || matches!(b.get(i..i + 3), Some([0xE2, 0x80, 0xA8 | 0xA9]))
}

/// Index just past the (nested) block comment starting at `start`, and how many pieces the
/// KDL parser would split it into.
fn skip_block_comment(b: &[u8], start: usize) -> (usize, usize) {
    let mut i = start + 2;
    let mut depth = 1;
    let mut pieces = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'*', Some(b'/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return (i, pieces);
                }
            }
            (b'/', Some(b'*')) => {
                depth += 1;
                pieces += 1;
                i += 2;
            }
            (b'*' | b'/', _) => {
                pieces += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    (b.len(), pieces)
}

fn syntax_problems(source: &str, error: KdlError) -> Vec<Problem> {
    if error.diagnostics.is_empty() {
        return vec![
            Problem::new("scenario::syntax", t!("classroom.parse.this_is_not_a_kdl"))
                .help(t!("classroom.parse.look_for_unclosed_strings_blocks")),
        ];
    }
    error
        .diagnostics
        .into_iter()
        .map(|d| {
            let span = (d.span.offset(), d.span.len());
            let text = source
                .get(span.0..span.0.saturating_add(span.1).min(source.len()))
                .unwrap_or("")
                .trim();
            if looks_like_bare_duration(text) {
                return Problem::new(
                    "scenario::syntax",
                    t!("classroom.parse.needs_quotes", text = text),
                )
                .at(span, t!("classroom.parse.a_duration_without_quotes"))
                .help(t!(
                    "classroom.parse.durations_are_strings_write",
                    text = text
                ));
            }
            if matches!(text, "true" | "false" | "null") {
                return Problem::new(
                    "scenario::syntax",
                    t!("classroom.parse.write_not", text = text),
                )
                .at(
                    span,
                    t!("classroom.parse.in_this_version_of_kdl", text = text),
                )
                .help(t!("classroom.parse.scenarios_are_kdl_2_where", text = text));
            }
            let message = d
                .message
                .unwrap_or_else(|| t!("classroom.parse.kdl_syntax_error").into_owned());
            let help = d.help.unwrap_or_else(|| syntax_help(&message));
            Problem::new("scenario::syntax", kdl_words(&message))
                .at(
                    span,
                    d.label.map_or_else(
                        || t!("classroom.parse.here").into_owned(),
                        |l| kdl_words(&l),
                    ),
                )
                .help(help)
        })
        .collect()
}

/// The KDL parser's own words ("Expected end of document", "not closed") in the reader's
/// language where the message files know them, else as the parser said them.
fn kdl_words(text: &str) -> String {
    let slug: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    crate::i18n::text_or(&format!("classroom.parse.kdl.{}", slug.join("_")), text)
}

fn syntax_help(message: &str) -> String {
    let m = message.to_lowercase();
    let key = if m.contains("closing '}'") || m.contains("child block") {
        "classroom.parse.every_brace_needs_a_match"
    } else if m.contains("end of document") {
        "classroom.parse.brace_without_match"
    } else if m.contains("string") {
        "classroom.parse.strings_go_in_quotes"
    } else {
        "classroom.parse.a_line_is_a_keyword"
    };
    t!(key).into_owned()
}

/// `100ms`, `1.5s`: what a teacher types when they forget the quotes.
fn looks_like_bare_duration(text: &str) -> bool {
    let digits = text.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    digits.len() < text.len()
        && text.starts_with(|c: char| c.is_ascii_digit())
        && ["us", "µs", "ms", "s", "m", "min"].contains(&digits)
}

/// A step before `repeat` is unrolled.
enum Item {
    Step(Op, Span),
    Repeat(u32, Vec<Item>),
}

fn expanded_len(items: &[Item]) -> u64 {
    items.iter().fold(0u64, |acc, item| {
        acc.saturating_add(match item {
            Item::Step(..) => 1,
            Item::Repeat(n, body) => expanded_len(body).saturating_mul(*n as u64),
        })
    })
}

fn unroll(
    items: &[Item],
    line_of: &dyn Fn(usize) -> u32,
    steps: &mut Vec<Step>,
    spans: &mut Vec<Span>,
) {
    for item in items {
        match item {
            Item::Step(op, span) => {
                steps.push(Step {
                    op: *op,
                    line: line_of(span.0),
                });
                spans.push(*span);
            }
            Item::Repeat(n, body) => {
                for _ in 0..*n {
                    unroll(body, line_of, steps, spans);
                }
            }
        }
    }
}

/// The `process` block a process was declared in: `worker` for `worker-2` of `process worker
/// count=2`, the name itself for one declared alone.
fn block_of(process: &str) -> &str {
    match process.rsplit_once('-') {
        Some((block, n)) if n.parse::<u32>().is_ok() => block,
        _ => process,
    }
}

fn span_of(s: miette::SourceSpan) -> Span {
    (s.offset(), s.len())
}

fn node_span(node: &KdlNode) -> Span {
    span_of(node.name().span())
}

fn value_kind(v: &KdlValue) -> String {
    let key = match v {
        KdlValue::String(_) => "classroom.parse.value_string",
        KdlValue::Integer(_) => "classroom.parse.value_whole",
        KdlValue::Float(_) => "classroom.parse.value_decimal",
        KdlValue::Bool(_) => "classroom.parse.value_boolean",
        KdlValue::Null => return "#null".to_string(),
    };
    t!(key).into_owned()
}

/// Names show up in lanes, logs and JSON: short words, no spaces or control characters.
fn name_error(name: &str) -> Option<String> {
    let key = if name.is_empty() {
        "classroom.parse.name_empty"
    } else if name.chars().count() > 32 {
        "classroom.parse.name_too_long"
    } else if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        "classroom.parse.name_letters"
    } else {
        return None;
    };
    Some(t!(key).into_owned())
}

/// An entry's value as the file writes it (`2.0`, not the number's shortest form `2`).
fn written_value<'s>(src: &'s str, entry: &KdlEntry) -> &'s str {
    let span = span_of(entry.span());
    let text = src
        .get(span.0..span.0.saturating_add(span.1).min(src.len()))
        .unwrap_or("");
    match entry.name() {
        Some(_) => text.split_once('=').map_or(text, |(_, v)| v),
        None => text,
    }
    .trim()
}

/// A resource kind as prose calls it.
fn kind_name(kind: &ResourceKind) -> String {
    match kind {
        ResourceKind::Gil { .. } => "GIL".to_string(),
        ResourceKind::EventLoop => t!("classroom.parse.event_loop_kind").into_owned(),
        other => kinds::by_keyword(other.keyword())
            .map_or("resource", |k| k.noun)
            .to_string(),
    }
}

/// `kind` with English's "a" or "an" before it ("a mutex", "an rlock"); languages without
/// articles say just the kind.
fn a_kind(kind: &str) -> String {
    // "an rlock", "an rwlock": said letter by letter.
    if kind.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U'])
        || matches!(kind, "rlock" | "rwlock")
    {
        t!("classroom.parse.article_an", kind = kind).into_owned()
    } else {
        t!("classroom.parse.article_a", kind = kind).into_owned()
    }
}

struct Builder<'a> {
    src: &'a str,
    line_starts: Vec<usize>,
    problems: Vec<Problem>,
    title: Option<String>,
    title_span: Option<Span>,
    about: Option<String>,
    about_span: Option<Span>,
    title_zh: Option<String>,
    about_zh: Option<String>,
    resources: Vec<Resource>,
    resource_spans: Vec<Span>,
    /// `threads "python"` or `threads "native"`, and where it was said.
    models: Option<(ThreadModel, Span)>,
    threads: Vec<ThreadSpec>,
    thread_spans: Vec<Span>,
    step_spans: Vec<Vec<Span>>,
    /// Thread names taken so far, with where each was declared.
    thread_names: HashMap<String, Span>,
    /// Groups in declaration order: name, threads, where declared.
    groups: Vec<(String, Vec<ThreadIdx>, Span)>,
    total_steps: u64,
    /// Resources whose declaration was refused: uses of them would only repeat that problem.
    broken: std::collections::HashSet<String>,
    /// Undeclared names already reported, so each is reported once.
    undeclared: std::collections::HashSet<String>,
    /// Once a limit is hit, later threads are still parsed for mistakes but not expanded.
    over_limit: bool,
    processes: Vec<ProcessSpec>,
    /// While the threads of a `process` block are read: the process, whose name prefixes
    /// theirs (`worker-1.main`).
    in_process: Option<(u16, String)>,
}

impl<'a> Builder<'a> {
    fn new(src: &'a str) -> Builder<'a> {
        let line_starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Builder {
            src,
            line_starts,
            problems: Vec::new(),
            title: None,
            title_span: None,
            about: None,
            about_span: None,
            title_zh: None,
            about_zh: None,
            resources: Vec::new(),
            resource_spans: Vec::new(),
            models: None,
            threads: Vec::new(),
            thread_spans: Vec::new(),
            step_spans: Vec::new(),
            thread_names: HashMap::new(),
            groups: Vec::new(),
            total_steps: 0,
            broken: Default::default(),
            undeclared: Default::default(),
            over_limit: false,
            processes: Vec::new(),
            in_process: None,
        }
    }

    fn line_of(&self, offset: usize) -> u32 {
        self.line_starts.partition_point(|&s| s <= offset) as u32
    }

    fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    /// First pass: everything but threads, so steps may use resources declared below them.
    fn declarations(&mut self, doc: &KdlDocument) {
        for node in doc.nodes() {
            let keyword = node.name().value();
            match keyword {
                k if TEXTS.contains(&k) => self.text(node),
                k if kinds::by_keyword(k).is_some() => self.resource(node),
                k if SETTINGS.contains(&k) => self.thread_model(node),
                k if LANES.contains(&k) || k == PROCESS => {}
                other if steps().contains(&other) => self.push(
                    Problem::new(
                        "scenario::step-outside-thread",
                        t!("classroom.parse.is_a_step_outside_any", other = other),
                    )
                    .at(node_span(node), t!("classroom.parse.not_inside_a_thread"))
                    .help(t!(
                        "classroom.parse.steps_belong_in_a_thread",
                        a1 = node_text(self.src, node)
                    )),
                ),
                other => {
                    let top_level: Vec<&str> =
                        [TEXTS, &resource_kinds(), LANES, SETTINGS, &[PROCESS]].concat();
                    let suggestion = ALIASES
                        .iter()
                        .find(|(from, to)| *from == other.to_lowercase() && top_level.contains(to))
                        .map(|(_, to)| *to)
                        .or_else(|| nearest(other, &top_level));
                    let help = match suggestion {
                        Some(s) => t!("classroom.parse.did_you_mean", s = s).into_owned(),
                        None => t!(
                            "classroom.parse.the_top_level_holds_title",
                            a1 = resource_kinds().join(", ")
                        )
                        .into_owned(),
                    };
                    self.push(
                        Problem::new(
                            "scenario::unknown-node",
                            t!("classroom.parse.unknown_keyword", a1 = shown(other)),
                        )
                        .at(
                            node_span(node),
                            t!("classroom.parse.not_a_resource_thread_or"),
                        )
                        .help(with_disguise(help, other)),
                    );
                }
            }
        }
    }

    /// Second pass: threads and tasks, in order, so `after=` can only look back.
    fn threads(&mut self, doc: &KdlDocument) {
        for node in doc.nodes() {
            if LANES.contains(&node.name().value()) {
                self.thread(node);
            } else if node.name().value() == PROCESS {
                self.process(node);
            }
        }
    }

    /// `process worker count=2 after=cpu { thread main { work "1s" } }`: one child process
    /// per count, each running its own copy of the block's threads, named after it.
    fn process(&mut self, node: &KdlNode) {
        const EXAMPLE: &str = "process worker { thread main { work \"1s\" } }";
        self.no_annotations(node);
        let (args, props) = self.entries(node, &["count", "after"]);
        let Some((name, span)) = self.name_arg(node, &args, EXAMPLE) else {
            return;
        };
        let count = match props.get("count") {
            Some(e) => self.int_prop(
                e,
                "count",
                1,
                MAX_COUNT,
                &t!("classroom.parse.a_scenario_has_at_most_2"),
            ),
            None => Some(1),
        };
        let after = match props.get("after") {
            Some(e) => self.after_ref(e, None),
            None => Some(Vec::new()),
        };
        let lanes: Vec<&KdlNode> = node
            .children()
            .map(|b| b.nodes().iter().collect())
            .unwrap_or_default();
        for child in &lanes {
            let keyword = child.name().value();
            if keyword != "thread" {
                self.push(
                    Problem::new(
                        "scenario::misplaced",
                        t!("processes.parse.only_threads", keyword = keyword),
                    )
                    .at(node_span(child), t!("processes.parse.inside_a_process"))
                    .help(t!("processes.parse.only_threads_help")),
                );
            }
        }
        if !lanes.iter().any(|n| n.name().value() == "thread") {
            self.push(
                Problem::new(
                    "scenario::process-without-threads",
                    t!("processes.parse.no_threads", name = name),
                )
                .at(span, t!("classroom.parse.nothing_to_do"))
                .help(t!("processes.parse.no_threads_help", example = EXAMPLE)),
            );
            return;
        }
        let (Some(count), Some(after)) = (count, after) else {
            return;
        };
        let names: Vec<String> = if props.contains_key("count") {
            (1..=count).map(|i| format!("{name}-{i}")).collect()
        } else {
            vec![name.clone()]
        };
        if names
            .iter()
            .any(|n| self.processes.iter().any(|p| &p.name == n))
        {
            self.push(
                Problem::new(
                    "scenario::duplicate",
                    t!("processes.parse.twice", name = name),
                )
                .at(span, t!("classroom.parse.declared_again_here"))
                .help(t!("processes.parse.twice_help")),
            );
            return;
        }
        for instance in names {
            let p = self.processes.len() as u16;
            self.processes.push(ProcessSpec {
                name: instance.clone(),
                line: self.line_of(span.0),
                after: after.clone(),
            });
            self.in_process = Some((p, instance));
            for child in lanes.iter().filter(|n| n.name().value() == "thread") {
                self.thread(child);
            }
            self.in_process = None;
        }
    }

    /// Type annotations like `(u8)3` mean nothing here; saying so beats ignoring them.
    fn no_annotations(&mut self, node: &KdlNode) {
        if let Some(ty) = node.ty() {
            self.push(
                Problem::new(
                    "scenario::annotation",
                    t!("classroom.parse.type_annotations_are_not_used"),
                )
                .at(span_of(ty.span()), t!("classroom.parse.remove_this"))
                .help(t!("classroom.parse.write_just", a1 = node.name().value())),
            );
        }
        for e in node.entries() {
            if let Some(ty) = e.ty() {
                self.push(
                    Problem::new(
                        "scenario::annotation",
                        t!("classroom.parse.type_annotations_are_not_used"),
                    )
                    .at(span_of(ty.span()), t!("classroom.parse.remove_this"))
                    .help(t!("classroom.parse.write_the_value_without_the")),
                );
            }
        }
    }

    fn no_block(&mut self, node: &KdlNode, what: &str) {
        if let Some(children) = node.children() {
            let span = span_of(children.span());
            self.push(
                Problem::new(
                    "scenario::unexpected-block",
                    t!("classroom.parse.takes_no_block", what = what),
                )
                .at(node_span(node), t!("classroom.parse.this"))
                .also(span, t!("classroom.parse.has_a_block"))
                .help(t!("classroom.parse.remove_the_block")),
            );
        }
    }

    /// Splits a node's entries into arguments and properties, reporting properties that are
    /// not in `allowed` and properties given twice.
    fn entries<'n>(
        &mut self,
        node: &'n KdlNode,
        allowed: &[&str],
    ) -> (Vec<&'n KdlEntry>, HashMap<&'n str, &'n KdlEntry>) {
        let keyword = node.name().value();
        let mut args = Vec::new();
        let mut props: HashMap<&str, &KdlEntry> = HashMap::new();
        for e in node.entries() {
            let Some(key) = e.name() else {
                args.push(e);
                continue;
            };
            let key_name = key.value();
            if !allowed.contains(&key_name) {
                let help = match (nearest(key_name, allowed), allowed) {
                    (Some(near), _) => {
                        t!("classroom.parse.did_you_mean_2", near = near).into_owned()
                    }
                    (None, []) => {
                        t!("classroom.parse.takes_no_attributes", keyword = keyword).into_owned()
                    }
                    (None, _) => format!(
                        "`{keyword}` takes {}",
                        allowed
                            .iter()
                            .map(|a| format!("`{a}=`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.push(
                    Problem::new(
                        "scenario::unknown-attribute",
                        t!(
                            "classroom.parse.has_no_attribute",
                            keyword = keyword,
                            a1 = shown(key_name)
                        ),
                    )
                    .at(span_of(e.span()), t!("classroom.parse.unknown_attribute"))
                    .help(with_disguise(help, key_name)),
                );
            } else if let Some(first) = props.get(key_name) {
                self.push(
                    Problem::new(
                        "scenario::duplicate-attribute",
                        t!("classroom.parse.is_given_twice", key_name = key_name),
                    )
                    .at(span_of(e.span()), t!("classroom.parse.again_here"))
                    .also(span_of(first.span()), t!("classroom.parse.first_here"))
                    .help(t!("classroom.parse.keep_one_of_them")),
                );
            } else {
                props.insert(key_name, e);
            }
        }
        (args, props)
    }

    /// The single name argument of a declaration such as `mutex A` or `thread T1`.
    fn name_arg(
        &mut self,
        node: &KdlNode,
        args: &[&KdlEntry],
        example: &str,
    ) -> Option<(String, Span)> {
        let keyword = node.name().value();
        let Some(first) = args.first() else {
            self.push(
                Problem::new(
                    "scenario::missing-name",
                    t!("classroom.parse.needs_a_name", keyword = keyword),
                )
                .at(node_span(node), t!("classroom.parse.no_name"))
                .help(t!("classroom.parse.write_it_like_this", example = example)),
            );
            return None;
        };
        for extra in &args[1..] {
            self.push(
                Problem::new(
                    "scenario::extra-argument",
                    t!("classroom.parse.takes_one_name", keyword = keyword),
                )
                .at(span_of(extra.span()), t!("classroom.parse.extra_argument"))
                .help(t!(
                    "classroom.parse.declare_one_per_line_like",
                    example = example
                )),
            );
        }
        let span = span_of(first.span());
        match first.value() {
            // A name that is not what it looks like would match nothing the teacher types.
            KdlValue::String(name) if plain(name).is_ascii() && disguise(name).is_some() => {
                let what = disguise(name).unwrap_or_default();
                self.push(
                    Problem::new(
                        "scenario::bad-name",
                        t!(
                            "classroom.parse.the_name_has",
                            a1 = shown(name),
                            what = what
                        ),
                    )
                    .at(
                        span,
                        t!("classroom.parse.reads_as", a1 = shown(&plain(name))),
                    )
                    .help(t!(
                        "classroom.parse.retype_it_as_what_you",
                        a1 = shown(&plain(name))
                    )),
                );
                None
            }
            KdlValue::String(name) => match name_error(name) {
                Some(why) => {
                    self.push(
                        Problem::new(
                            "scenario::bad-name",
                            t!("classroom.parse.cannot_be_a_name", a1 = shown(name)),
                        )
                        .at(span, why)
                        .help(with_disguise(
                            t!("classroom.parse.use_a_short_word_like", example = example)
                                .into_owned(),
                            name,
                        )),
                    );
                    None
                }
                None => Some((name.clone(), span)),
            },
            other => {
                self.push(
                    Problem::new(
                        "scenario::bad-name",
                        t!(
                            "classroom.parse.the_name_of_a_must",
                            keyword = keyword,
                            a1 = value_kind(other)
                        ),
                    )
                    .at(span, t!("classroom.parse.not_a_name"))
                    .help(t!("classroom.parse.write_it_like_this", example = example)),
                );
                None
            }
        }
    }

    /// A whole-number property within `min..=max`, such as `permits=3`.
    fn int_prop(
        &mut self,
        entry: &KdlEntry,
        key: &str,
        min: u32,
        max: u32,
        why_max: &str,
    ) -> Option<u32> {
        let span = span_of(entry.span());
        // `repeat 3` is an argument, `count=3` a property: echo it the way it is written.
        let sep = if entry.name().is_some() { "=" } else { " " };
        let (message, help) = match entry.value() {
            KdlValue::Integer(n) if (min as i128..=max as i128).contains(n) => {
                return Some(*n as u32);
            }
            KdlValue::Integer(n) if *n < min as i128 => (
                t!(
                    "classroom.parse.must_be_at_least_not",
                    key = key,
                    min = min,
                    n = n
                )
                .into_owned(),
                t!(
                    "classroom.parse.write_or_more",
                    key = key,
                    sep = sep,
                    min = min
                )
                .into_owned(),
            ),
            KdlValue::Integer(n) => (
                t!("classroom.parse.is_too_large", key = key, sep = sep, n = n).into_owned(),
                t!(
                    "classroom.parse.may_be_at_most",
                    key = key,
                    max = max,
                    why_max = why_max
                )
                .into_owned(),
            ),
            KdlValue::Float(x) => (
                t!(
                    "classroom.parse.must_be_a_whole_number",
                    key = key,
                    a1 = shown(written_value(self.src, entry))
                )
                .into_owned(),
                t!(
                    "classroom.parse.write_a_whole_number_like",
                    key = key,
                    sep = sep,
                    a1 = x.round().clamp(min as f64, max as f64)
                )
                .into_owned(),
            ),
            KdlValue::String(s) if s.trim().parse::<i64>().is_ok() => (
                t!("classroom.parse.must_be_a_number_not", key = key, s = s).into_owned(),
                t!(
                    "classroom.parse.write_it_without_quotes",
                    key = key,
                    sep = sep,
                    a1 = s.trim()
                )
                .into_owned(),
            ),
            other => (
                t!(
                    "classroom.parse.must_be_a_whole_number",
                    key = key,
                    a1 = value_kind(other)
                )
                .into_owned(),
                t!(
                    "classroom.parse.write_a_number_like",
                    key = key,
                    sep = sep,
                    a1 = min.max(2).min(max)
                )
                .into_owned(),
            ),
        };
        self.push(
            Problem::new("scenario::bad-number", message)
                .at(span, t!("classroom.parse.here"))
                .help(help),
        );
        None
    }

    /// A duration written as a string, such as `"100ms"`, in (0, MAX_DURATION].
    fn duration_value(&mut self, entry: &KdlEntry, what: &str) -> Option<Duration> {
        let span = span_of(entry.span());
        let text = match entry.value() {
            KdlValue::String(s) => s,
            KdlValue::Integer(n) => {
                self.push(
                    Problem::new(
                        "scenario::bad-duration",
                        t!("classroom.parse.needs_a_unit", what = what),
                    )
                    .at(span, t!("classroom.parse.a_bare_number"))
                    .help(t!("classroom.parse.write_the_duration_with_a", n = n)),
                );
                return None;
            }
            other => {
                self.push(
                    Problem::new(
                        "scenario::bad-duration",
                        t!(
                            "classroom.parse.must_be_a_duration_not",
                            what = what,
                            a1 = value_kind(other)
                        ),
                    )
                    .at(span, t!("classroom.parse.not_a_duration"))
                    .help(t!("classroom.parse.write_a_number_and_a")),
                );
                return None;
            }
        };
        let problem = if text.trim_start().starts_with('-') {
            Problem::new(
                "scenario::bad-duration",
                t!("classroom.parse.is_negative", text = text),
            )
            .at(span, t!("classroom.parse.negative"))
            .help(t!("classroom.parse.time_only_runs_forward_write"))
        } else {
            match duration::parse(text) {
                Ok(d) if d.is_zero() => Problem::new(
                    "scenario::bad-duration",
                    t!("classroom.parse.is_zero", text = text),
                )
                .at(span, t!("classroom.parse.zero"))
                .help(t!("classroom.parse.a_step_of_no_time")),
                Ok(d) if d > MAX_DURATION => Problem::new(
                    "scenario::bad-duration",
                    t!("classroom.parse.is_too_long", text = text),
                )
                .at(span, t!("classroom.parse.too_long"))
                .help(t!(
                    "classroom.parse.one_duration_may_be_at",
                    a1 = human(MAX_DURATION)
                )),
                Ok(d) => return Some(d),
                Err(why) => Problem::new(
                    "scenario::bad-duration",
                    t!("classroom.parse.is_not_a_duration", text = text),
                )
                .at(span, t!("classroom.parse.not_a_duration"))
                .help(why),
            }
        };
        self.push(problem);
        None
    }

    fn text(&mut self, node: &KdlNode) {
        let keyword = node.name().value();
        self.no_annotations(node);
        self.no_block(node, &format!("`{keyword}`"));
        let (args, props) = self.entries(node, &["zh"]);
        let span = node_span(node);
        let example = if keyword == "title" {
            "title \"Deadlock: two locks in opposite order\""
        } else {
            "about \"What the class should watch for.\""
        };
        let value = match args.as_slice() {
            [] => {
                self.push(
                    Problem::new(
                        "scenario::missing-argument",
                        t!("classroom.parse.needs_a_text", keyword = keyword),
                    )
                    .at(span, t!("classroom.parse.no_text"))
                    .help(t!("classroom.parse.write_it_in_quotes", example = example)),
                );
                return;
            }
            [one] => one,
            [_, extra, ..] => {
                self.push(
                    Problem::new(
                        "scenario::extra-argument",
                        t!("classroom.parse.takes_one_text", keyword = keyword),
                    )
                    .at(span_of(extra.span()), t!("classroom.parse.extra_argument"))
                    .help(t!(
                        "classroom.parse.put_the_whole_text_in",
                        example = example
                    )),
                );
                return;
            }
        };
        let Some(text) = value.value().as_string() else {
            self.push(
                Problem::new(
                    "scenario::missing-argument",
                    t!(
                        "classroom.parse.must_be_a_text_not",
                        keyword = keyword,
                        a1 = value_kind(value.value())
                    ),
                )
                .at(span_of(value.span()), t!("classroom.parse.not_a_text"))
                .help(t!("classroom.parse.write_it_in_quotes", example = example)),
            );
            return;
        };
        // The Chinese text, if given, is a text like the English one.
        let zh = match props.get("zh") {
            None => None,
            Some(entry) => match entry.value().as_string() {
                Some(zh) => Some(zh.to_string()),
                None => {
                    self.push(
                        Problem::new(
                            "scenario::bad-value",
                            t!(
                                "classroom.parse.s_zh_must_be_a",
                                keyword = keyword,
                                a1 = value_kind(entry.value())
                            ),
                        )
                        .at(span_of(entry.span()), t!("classroom.parse.not_a_text"))
                        .help(t!(
                            "classroom.parse.write_it_in_quotes_zh",
                            keyword = keyword
                        )),
                    );
                    return;
                }
            },
        };
        let slot = if keyword == "title" {
            (&mut self.title, &mut self.title_span, &mut self.title_zh)
        } else {
            (&mut self.about, &mut self.about_span, &mut self.about_zh)
        };
        if let Some(first) = *slot.1 {
            self.problems.push(
                Problem::new(
                    "scenario::duplicate",
                    t!("classroom.parse.is_given_twice_2", keyword = keyword),
                )
                .at(span, t!("classroom.parse.again_here"))
                .also(first, t!("classroom.parse.first_here"))
                .help(t!("classroom.parse.keep_one_of_them")),
            );
            return;
        }
        *slot.0 = Some(text.to_string());
        *slot.1 = Some(span);
        *slot.2 = zh;
    }

    fn resource(&mut self, node: &KdlNode) {
        let keyword = node.name().value();
        self.no_annotations(node);
        self.no_block(
            node,
            &t!("classroom.parse.a_declaration", keyword = keyword),
        );
        let Some(spec) = kinds::by_keyword(keyword) else {
            return;
        };
        let (args, props) = self.entries(node, spec.attributes);
        let named = match spec.default_name {
            Some(name) if args.is_empty() => Some((name.to_string(), node_span(node))),
            _ => self.name_arg(node, &args, spec.example),
        };
        let amount = |b: &mut Self, key: &str, max: u32, why: &str| -> Option<u32> {
            match props.get(key) {
                Some(e) => b.int_prop(e, key, 1, max, why),
                None => {
                    let name = named.as_ref().map_or("NAME", |(n, _)| n.as_str());
                    b.push(
                        Problem::new(
                            "scenario::missing-attribute",
                            t!("classroom.parse.needs", keyword = keyword, key = key),
                        )
                        .at(node_span(node), t!("classroom.parse.no", key = key))
                        .help(t!(
                            "classroom.parse.write_it_like_this_3",
                            keyword = keyword,
                            name = name,
                            key = key
                        )),
                    );
                    None
                }
            }
        };
        let asyncio = keyword.starts_with("async-");
        let kind = match kinds::threading(keyword) {
            "mutex" => Some(ResourceKind::Mutex),
            "rlock" => Some(ResourceKind::RLock),
            "event" => Some(ResourceKind::Event),
            "rwlock" => match props.get("prefer") {
                Some(e) => self
                    .prefer_value(e)
                    .map(|prefer_readers| ResourceKind::RwLock { prefer_readers }),
                None => Some(ResourceKind::RwLock {
                    prefer_readers: false,
                }),
            },
            "counter" => Some(ResourceKind::Counter),
            "event-loop" => Some(ResourceKind::EventLoop),
            "list" => Some(ResourceKind::List),
            "pool" => Some(ResourceKind::Pool),
            "mp-queue" => Some(ResourceKind::MpQueue),
            "condition" => match props.get("lock") {
                Some(e) => self
                    .lock_ref(e)
                    .map(|lock| ResourceKind::Condition { lock }),
                None => {
                    let name = named.as_ref().map_or("NAME", |(n, _)| n.as_str());
                    self.push(
                        Problem::new(
                            "scenario::missing-attribute",
                            "`condition` needs `lock=`",
                        )
                        .at(node_span(node), "no lock=")
                        .help(format!(
                            "a condition is bound to a mutex declared above it: mutex L, then condition {name} lock=L"
                        )),
                    );
                    None
                }
            },
            "semaphore" => amount(
                self,
                "permits",
                MAX_AMOUNT,
                &t!("classroom.parse.more_permits_than_that_never"),
            )
            .map(|permits| ResourceKind::Semaphore { permits }),
            "barrier" => amount(
                self,
                "parties",
                MAX_THREADS as u32,
                &t!("classroom.parse.a_scenario_has_at_most"),
            )
            .map(|parties| ResourceKind::Barrier { parties }),
            "buffer" => amount(
                self,
                "capacity",
                MAX_AMOUNT,
                &t!("classroom.parse.a_bigger_buffer_never_fills"),
            )
            .map(|capacity| ResourceKind::Buffer { capacity }),
            _ => match props.get("interval") {
                Some(e) => self
                    .duration_value(e, &t!("classroom.parse.the_gil_s_interval"))
                    .map(|interval| ResourceKind::Gil { interval }),
                None => Some(ResourceKind::Gil {
                    interval: Duration::from_millis(5),
                }),
            },
        };
        let (Some((name, span)), Some(kind)) = (named, kind) else {
            if let Some(arg) = args.first().and_then(|a| a.value().as_string()) {
                self.broken.insert(arg.to_string());
            }
            return;
        };
        if let Some(i) = self.resources.iter().position(|r| r.name == name) {
            let first = self.resource_spans[i];
            self.push(
                Problem::new(
                    "scenario::duplicate",
                    t!("classroom.parse.resource_is_declared_twice", name = name),
                )
                .at(span, t!("classroom.parse.declared_again_here"))
                .also(first, t!("classroom.parse.first_declared_here"))
                .help(t!("classroom.parse.give_each_resource_its_own")),
            );
            return;
        }
        if kind == ResourceKind::EventLoop
            && let Some(i) = self
                .resources
                .iter()
                .position(|r| r.kind == ResourceKind::EventLoop)
        {
            let first = self.resource_spans[i];
            self.push(
                Problem::new(
                    "scenario::duplicate",
                    t!("classroom.parse.a_second_event_loop"),
                )
                .at(span, t!("classroom.parse.another_event_loop"))
                .also(first, t!("classroom.parse.the_scenario_s_event_loop"))
                .help(t!("classroom.parse.a_scenario_has_one_event")),
            );
            return;
        }
        if self.resources.len() >= MAX_RESOURCES {
            if self.resources.len() == MAX_RESOURCES {
                self.push(
                    Problem::new(
                        "scenario::limit",
                        t!(
                            "classroom.parse.more_than_resources",
                            MAX_RESOURCES = MAX_RESOURCES
                        ),
                    )
                    .at(span, t!("classroom.parse.one_too_many"))
                    .help(t!(
                        "classroom.parse.a_scenario_may_declare_at",
                        MAX_RESOURCES = MAX_RESOURCES
                    )),
                );
            }
            // Keep counting so the message above appears once.
            self.resources.push(Resource {
                name,
                kind,
                line: 0,
                asyncio,
            });
            self.resource_spans.push(span);
            return;
        }
        let line = self.line_of(span.0);
        self.resources.push(Resource {
            name,
            kind,
            line,
            asyncio,
        });
        self.resource_spans.push(span);
    }

    /// A `thread` node, or a `task` node: a lane that runs on the event loop instead.
    fn thread(&mut self, node: &KdlNode) {
        self.no_annotations(node);
        let keyword = node.name().value();
        let is_task = keyword == "task";
        let (example, allowed): (&str, &[&str]) = if is_task {
            ("task fetch { sleep \"1s\" }", &["count", "after"])
        } else {
            (
                "thread T1 { work \"100ms\" }",
                &["count", "gil", "after", "daemon"],
            )
        };
        let (args, props) = self.entries(node, allowed);
        let named =
            self.name_arg(node, &args, example)
                .map(|(name, span)| match &self.in_process {
                    Some((_, process)) => (format!("{process}.{name}"), span),
                    None => (name, span),
                });
        let process = self.in_process.as_ref().map(|(p, _)| *p);
        let event_loop = if is_task {
            let found = self
                .resources
                .iter()
                .position(|r| r.kind == ResourceKind::EventLoop)
                .map(|i| i as ResIdx);
            if found.is_none() {
                self.push(
                    Problem::new(
                        "scenario::no-event-loop",
                        t!("classroom.parse.a_task_needs_an_event"),
                    )
                    .at(
                        node_span(node),
                        t!("classroom.parse.no_event_loop_declared"),
                    )
                    .help(t!("classroom.parse.declare_one_at_the_top")),
                );
                return;
            }
            found
        } else {
            None
        };
        let count = match props.get("count") {
            Some(e) if is_task => self.int_prop(
                e,
                "count",
                1,
                MAX_TASK_COUNT,
                &t!("scale.tasks_at_most", max = MAX_TASKS),
            ),
            Some(e) => self.int_prop(
                e,
                "count",
                1,
                MAX_COUNT,
                &t!("scale.threads_at_most", max = MAX_THREADS),
            ),
            None => Some(1),
        };
        let gil = props.get("gil").and_then(|e| self.gil_ref(e));
        let daemon = match props.get("daemon") {
            Some(e) => self.bool_value(e, "daemon"),
            None => Some(false),
        };
        let after = props
            .get("after")
            .and_then(|e| self.after_ref(e, named.as_ref()));
        let items = match node.children() {
            Some(block) if !block.nodes().is_empty() => self.block(block),
            Some(_) | None => {
                let name = named.as_ref().map_or("T1", |(n, _)| n.as_str());
                self.push(
                    Problem::new(
                        "scenario::no-steps",
                        t!(
                            "classroom.parse.has_no_steps",
                            keyword = keyword,
                            name = name
                        ),
                    )
                    .at(node_span(node), t!("classroom.parse.nothing_to_do"))
                    .help(t!(
                        "classroom.parse.give_it_steps_in_a",
                        keyword = keyword,
                        name = name
                    )),
                );
                return;
            }
        };
        let (Some((name, span)), Some(count)) = (named, count) else {
            return;
        };
        let Some(daemon) = daemon else {
            return;
        };
        if (props.contains_key("gil") && gil.is_none())
            || (props.contains_key("after") && after.is_none())
        {
            return;
        }
        if self.groups.iter().any(|(g, ..)| *g == name)
            || (count > 1 && self.thread_names.contains_key(&name))
        {
            let first = self
                .thread_names
                .get(&name)
                .copied()
                .or_else(|| self.groups.iter().find(|(g, ..)| *g == name).map(|g| g.2));
            let mut p = Problem::new(
                "scenario::duplicate",
                t!("classroom.parse.thread_is_declared_twice", name = name),
            )
            .at(span, t!("classroom.parse.declared_again_here"))
            .help(t!("classroom.parse.give_each_thread_its_own"));
            if let Some(first) = first {
                p = p.also(first, t!("classroom.parse.first_declared_here"));
            }
            self.push(p);
            return;
        }
        let names: Vec<String> = if props.contains_key("count") {
            (1..=count).map(|i| format!("{name}-{i}")).collect()
        } else {
            vec![name.clone()]
        };
        if let Some(clash) = names.iter().find(|n| self.thread_names.contains_key(*n)) {
            let first = self.thread_names[clash];
            self.push(
                Problem::new(
                    "scenario::duplicate",
                    t!("classroom.parse.two_threads_would_be_named", clash = clash),
                )
                .at(span, t!("classroom.parse.this_makes", clash = clash))
                .also(first, t!("classroom.parse.so_does_this"))
                .help(t!("classroom.parse.give_each_thread_its_own_2")),
            );
            return;
        }
        let per_thread = expanded_len(&items);
        if self.over_limit {
            return;
        }
        // Threads and tasks have limits of their own: a task costs the loop a few hundred bytes,
        // a thread the OS a stack and a scheduler entry.
        let same_kind = self
            .threads
            .iter()
            .filter(|t| t.is_task() == is_task)
            .count();
        if is_task && same_kind + names.len() > MAX_TASKS {
            self.over_limit = true;
            self.push(
                Problem::new(
                    "scenario::limit",
                    t!("scale.more_than_tasks", max = MAX_TASKS),
                )
                .at(
                    span,
                    t!(
                        "classroom.parse.this_brings_the_total_to",
                        a1 = same_kind + names.len()
                    ),
                )
                .help(t!("scale.tasks_lower_count", max = MAX_TASKS)),
            );
            return;
        }
        if !is_task && same_kind + names.len() > MAX_THREADS {
            self.over_limit = true;
            self.push(
                Problem::new(
                    "scenario::limit",
                    t!(
                        "classroom.parse.more_than_threads",
                        MAX_THREADS = MAX_THREADS
                    ),
                )
                .at(
                    span,
                    t!(
                        "classroom.parse.this_brings_the_total_to",
                        a1 = same_kind + names.len()
                    ),
                )
                .help(t!(
                    "classroom.parse.a_scenario_may_have_at",
                    MAX_THREADS = MAX_THREADS
                )),
            );
            return;
        }
        let total = self
            .total_steps
            .saturating_add(per_thread.saturating_mul(names.len() as u64));
        if total > MAX_STEPS as u64 {
            self.over_limit = true;
            self.push(
                Problem::new(
                    "scenario::limit",
                    t!(
                        "classroom.parse.more_than_steps_once_repeats",
                        MAX_STEPS = MAX_STEPS
                    ),
                )
                .at(
                    span,
                    if names.len() > 1 {
                        t!(
                            "classroom.parse.steps_in_each_of_threads",
                            per_thread = per_thread,
                            a1 = names.len()
                        )
                        .into_owned()
                    } else {
                        format!("{per_thread} steps")
                    },
                )
                .help(t!(
                    "classroom.parse.a_scenario_may_have_at_2",
                    MAX_STEPS = MAX_STEPS
                )),
            );
            return;
        }
        self.total_steps = total;
        let line_starts = &self.line_starts;
        let line_of = |offset: usize| line_starts.partition_point(|&s| s <= offset) as u32;
        let mut steps = Vec::new();
        let mut spans = Vec::new();
        unroll(&items, &line_of, &mut steps, &mut spans);
        let line = self.line_of(span.0);
        let first = self.threads.len() as ThreadIdx;
        for thread_name in &names {
            self.thread_names.insert(thread_name.clone(), span);
            self.threads.push(ThreadSpec {
                name: thread_name.clone(),
                group: name.clone(),
                line,
                gil,
                after: after.clone().unwrap_or_default(),
                event_loop,
                daemon,
                process,
                steps: steps.clone(),
            });
            self.thread_spans.push(span);
            self.step_spans.push(spans.clone());
        }
        let members = (first..first + names.len() as ThreadIdx).collect();
        self.groups.push((name, members, span));
    }

    fn gil_ref(&mut self, entry: &KdlEntry) -> Option<ResIdx> {
        let span = span_of(entry.span());
        let gils: Vec<&str> = self
            .resources
            .iter()
            .filter(|r| matches!(r.kind, ResourceKind::Gil { .. }))
            .map(|r| r.name.as_str())
            .collect();
        let Some(name) = entry.value().as_string() else {
            self.push(
                Problem::new(
                    "scenario::bad-reference",
                    t!(
                        "classroom.parse.gil_must_name_a_gil",
                        a1 = value_kind(entry.value())
                    ),
                )
                .at(span, t!("classroom.parse.not_a_name"))
                .help(t!("classroom.parse.declare_a_gil_gil_py")),
            );
            return None;
        };
        if let Some(i) = self.resources.iter().position(|r| r.name == name) {
            if matches!(self.resources[i].kind, ResourceKind::Gil { .. }) {
                return Some(i as ResIdx);
            }
            let kind = kind_name(&self.resources[i].kind);
            let decl = self.resource_spans[i];
            self.push(
                Problem::new(
                    "scenario::wrong-kind",
                    t!(
                        "classroom.parse.is_not_a_gil",
                        name = name,
                        a1 = a_kind(&kind),
                        kind = kind
                    ),
                )
                .at(span, t!("classroom.parse.not_a_gil"))
                .also(
                    decl,
                    t!(
                        "classroom.parse.declared_as_here",
                        a1 = a_kind(&kind),
                        kind = kind
                    ),
                )
                .help(match gils.first() {
                    Some(g) => t!("classroom.parse.write_gil", g = g).into_owned(),
                    None => t!("classroom.parse.declare_a_gil_first_gil").into_owned(),
                }),
            );
            return None;
        }
        let help = match nearest(name, &gils).or(if gils.len() == 1 {
            gils.first().copied()
        } else {
            None
        }) {
            Some(g) => t!("classroom.parse.did_you_mean_gil", g = g).into_owned(),
            None if gils.is_empty() => {
                t!("classroom.parse.declare_it_at_the_top", a1 = shown(name)).into_owned()
            }
            None => t!(
                "classroom.parse.the_declared_gils_are",
                a1 = gils.join(", ")
            )
            .into_owned(),
        };
        self.push(
            Problem::new(
                "scenario::undeclared",
                t!("classroom.parse.no_gil_named", a1 = shown(name)),
            )
            .at(span, t!("classroom.parse.not_declared"))
            .help(with_disguise(help, name)),
        );
        None
    }

    /// A condition's `lock=`: a mutex declared above it.
    fn lock_ref(&mut self, entry: &KdlEntry) -> Option<ResIdx> {
        let span = span_of(entry.span());
        let Some(name) = entry.value().as_string() else {
            self.push(
                Problem::new(
                    "scenario::bad-reference",
                    format!(
                        "`lock=` must name a mutex, not {}",
                        value_kind(entry.value())
                    ),
                )
                .at(span, "not a name")
                .help("declare a mutex above, `mutex L`, and write lock=L"),
            );
            return None;
        };
        let mutexes: Vec<&str> = self
            .resources
            .iter()
            .filter(|r| r.kind == ResourceKind::Mutex)
            .map(|r| r.name.as_str())
            .collect();
        if let Some(i) = self.resources.iter().position(|r| r.name == name) {
            if self.resources[i].kind == ResourceKind::Mutex {
                return Some(i as ResIdx);
            }
            let kind = kind_name(&self.resources[i].kind);
            self.push(
                Problem::new(
                    "scenario::wrong-kind",
                    format!("`{name}` is {} {kind}, not a mutex", article(&kind)),
                )
                .at(span, "not a mutex")
                .also(
                    self.resource_spans[i],
                    format!("declared as {} {kind} here", article(&kind)),
                )
                .help(
                    "a condition is bound to a plain mutex: declare one, mutex L, and write lock=L",
                ),
            );
            return None;
        }
        let help = match nearest(name, &mutexes) {
            Some(near) => format!("did you mean lock={near}?"),
            None => format!("declare it above the condition: mutex {}", shown(name)),
        };
        self.push(
            Problem::new(
                "scenario::undeclared",
                format!("no mutex named `{}` declared above", shown(name)),
            )
            .at(span, "not declared")
            .help(with_disguise(help, name)),
        );
        None
    }

    fn after_ref(
        &mut self,
        entry: &KdlEntry,
        own: Option<&(String, Span)>,
    ) -> Option<Vec<ThreadIdx>> {
        let span = span_of(entry.span());
        let Some(group) = entry.value().as_string() else {
            self.push(
                Problem::new(
                    "scenario::bad-reference",
                    t!(
                        "classroom.parse.after_must_name_a_thread",
                        a1 = value_kind(entry.value())
                    ),
                )
                .at(span, t!("classroom.parse.not_a_name"))
                .help(t!("classroom.parse.write_the_name_of_threads")),
            );
            return None;
        };
        let own_process = self
            .in_process
            .as_ref()
            .map(|(_, process)| format!("{process}.{group}"));
        if let Some((_, members, _)) = self
            .groups
            .iter()
            .find(|(g, ..)| Some(g) == own_process.as_ref())
            .or_else(|| self.groups.iter().find(|(g, ..)| g == group))
        {
            return Some(members.clone());
        }
        // `after=p`: every thread of process `p` declared above (of each process of a `count=`
        // block named `p`); a thread inside a process waits for threads, not processes.
        let whole: Vec<ThreadIdx> = (0..self.threads.len() as ThreadIdx)
            .filter(|&t| {
                self.in_process.is_none()
                    && self.threads[t as usize]
                        .process
                        .map(|p| self.processes[p as usize].name.as_str())
                        .is_some_and(|p| p == group || block_of(p) == group)
            })
            .collect();
        if !whole.is_empty() {
            return Some(whole);
        }
        let earlier: Vec<&str> = self.groups.iter().map(|(g, ..)| g.as_str()).collect();
        let (message, help) = if own.is_some_and(|(n, _)| n == group) {
            (
                t!(
                    "classroom.parse.thread_cannot_start_after_itself",
                    a1 = shown(group)
                )
                .into_owned(),
                t!("classroom.parse.name_threads_declared_above_this").into_owned(),
            )
        } else {
            let help = match nearest(group, &earlier) {
                Some(near) => t!("classroom.parse.did_you_mean_after", near = near).into_owned(),
                None if earlier.is_empty() => t!("classroom.parse.after_none_above").into_owned(),
                None => t!(
                    "classroom.parse.after_names_threads_declared_above",
                    a1 = earlier.join(", ")
                )
                .into_owned(),
            };
            (
                t!(
                    "classroom.parse.no_thread_group_declared_above",
                    a1 = shown(group)
                )
                .into_owned(),
                with_disguise(help, group),
            )
        };
        self.push(
            Problem::new("scenario::undeclared", message)
                .at(span, t!("classroom.parse.not_an_earlier_thread"))
                .help(help),
        );
        None
    }

    fn block(&mut self, block: &KdlDocument) -> Vec<Item> {
        let mut items = Vec::new();
        for node in block.nodes() {
            if let Some(item) = self.step(node) {
                items.push(item);
            }
        }
        items
    }

    fn step(&mut self, node: &KdlNode) -> Option<Item> {
        let keyword = node.name().value();
        let span = node_span(node);
        self.no_annotations(node);
        match keyword {
            k if TASK_STEPS.contains(&k) => self.task_step(node, keyword),
            "wait" if self.names_tasks(node) => self.task_step(node, keyword),
            k if kinds::resource_steps().contains(&k) => {
                self.no_block(node, &format!("`{keyword}`"));
                let allowed: &[&str] = match keyword {
                    "lock" => &["timeout", "backoff", "jitter"],
                    "wait" => &["while-empty", "if-empty", "timeout"],
                    "put" => &["sentinel", "priority"],
                    "take" => &["timeout"],
                    "submit" => &["work", "raises"],
                    "result" => &["task", "timeout"],
                    _ => &[],
                };
                let (args, props) = self.entries(node, allowed);
                let op = self.resource_step(node, keyword, &args)?;
                let op = self.guarded(op, &props)?;
                let op = self.queue_options(op, &props)?;
                let op = self.pool_options(op, &props, span)?;
                self.try_lock(op, &props).map(|op| Item::Step(op, span))
            }
            "work" | "sleep" => {
                self.no_block(node, &format!("`{keyword}`"));
                let allowed: &[&str] = if keyword == "sleep" {
                    &["blocking"]
                } else {
                    &[]
                };
                let (args, props) = self.entries(node, allowed);
                let blocking = match props.get("blocking") {
                    None => false,
                    Some(e) => match e.value() {
                        KdlValue::Bool(b) => *b,
                        other => {
                            self.push(
                                Problem::new(
                                    "scenario::bad-value",
                                    t!(
                                        "classroom.parse.blocking_is_true_or_false",
                                        a1 = value_kind(other)
                                    ),
                                )
                                .at(span_of(e.span()), t!("classroom.parse.not_true_or_false"))
                                .help(t!("classroom.parse.write_sleep_1s_blocking_true")),
                            );
                            return None;
                        }
                    },
                };
                let what = if keyword == "work" {
                    "`work`"
                } else {
                    "`sleep`"
                };
                let Some(first) = args.first() else {
                    self.push(
                        Problem::new(
                            "scenario::missing-argument",
                            t!("classroom.parse.needs_a_duration", what = what),
                        )
                        .at(span, t!("classroom.parse.how_long"))
                        .help(t!(
                            "classroom.parse.write_it_like_this_100ms",
                            keyword = keyword
                        )),
                    );
                    return None;
                };
                for extra in &args[1..] {
                    self.push(
                        Problem::new(
                            "scenario::extra-argument",
                            t!("classroom.parse.takes_one_duration", what = what),
                        )
                        .at(span_of(extra.span()), t!("classroom.parse.extra_argument"))
                        .help(t!(
                            "classroom.parse.write_one_step_per_duration",
                            keyword = keyword
                        )),
                    );
                }
                let d = self.duration_value(first, what)?;
                Some(Item::Step(
                    if keyword == "work" {
                        Op::Work(d)
                    } else if blocking {
                        Op::BlockingSleep(d)
                    } else {
                        Op::Sleep(d)
                    },
                    span,
                ))
            }
            "repeat" => {
                let (args, _) = self.entries(node, &[]);
                let times = match args.as_slice() {
                    [] => {
                        self.push(
                            Problem::new(
                                "scenario::missing-argument",
                                t!("classroom.parse.repeat_needs_a_count"),
                            )
                            .at(span, t!("classroom.parse.how_many_times"))
                            .help(t!("classroom.parse.write_it_like_this_repeat")),
                        );
                        None
                    }
                    [first, rest @ ..] => {
                        for extra in rest {
                            self.push(
                                Problem::new(
                                    "scenario::extra-argument",
                                    t!("classroom.parse.repeat_takes_one_count"),
                                )
                                .at(span_of(extra.span()), t!("classroom.parse.extra_argument"))
                                .help(t!("classroom.parse.write_it_like_this_repeat")),
                            );
                        }
                        self.int_prop(
                            first,
                            "repeat",
                            1,
                            MAX_REPEAT,
                            &t!("classroom.parse.longer_loops_would_run_for"),
                        )
                    }
                };
                let body = match node.children() {
                    Some(b) if !b.nodes().is_empty() => self.block(b),
                    _ => {
                        self.push(
                            Problem::new(
                                "scenario::no-steps",
                                t!("classroom.parse.repeat_has_no_steps_to"),
                            )
                            .at(span, t!("classroom.parse.empty"))
                            .help(t!("classroom.parse.put_the_steps_in_a")),
                        );
                        return None;
                    }
                };
                Some(Item::Repeat(times?, body))
            }
            "thread" | "task" => {
                self.push(
                    Problem::new(
                        "scenario::misplaced",
                        t!("classroom.parse.s_cannot_be_nested", keyword = keyword),
                    )
                    .at(span, t!("classroom.parse.inside_another_thread_or_task"))
                    .help(t!(
                        "classroom.parse.declare_every_at_the_top",
                        keyword = keyword
                    )),
                );
                None
            }
            other if kinds::by_keyword(other).is_some() || TEXTS.contains(&other) => {
                if let Some(arg) = node.entries().first().and_then(|e| e.value().as_string()) {
                    self.broken.insert(arg.to_string());
                }
                self.push(
                    Problem::new(
                        "scenario::misplaced",
                        t!("classroom.parse.belongs_at_the_top_level", other = other),
                    )
                    .at(span, t!("classroom.parse.inside_a_thread"))
                    .help(t!(
                        "classroom.parse.move_out_of_the_thread",
                        a1 = node_text(self.src, node)
                    )),
                );
                None
            }
            other => {
                let steps = steps();
                let suggestion = ALIASES
                    .iter()
                    .find(|(from, to)| *from == other.to_lowercase() && steps.contains(to))
                    .map(|(_, to)| *to)
                    .or_else(|| nearest(other, &steps));
                let help = match suggestion {
                    Some(s) => t!("classroom.parse.did_you_mean", s = s).into_owned(),
                    None => t!("classroom.parse.the_steps_are", a1 = steps.join(", ")).into_owned(),
                };
                self.push(
                    Problem::new(
                        "scenario::unknown-step",
                        t!("classroom.parse.unknown_step", a1 = shown(other)),
                    )
                    .at(span, t!("classroom.parse.not_a_step"))
                    .help(with_disguise(help, other)),
                );
                None
            }
        }
    }

    /// `wait C while-empty=items` / `if-empty=items`: a condition wait and the predicate check
    /// around it. A plain `wait` on a condition waits once.
    fn guarded(&mut self, op: Op, props: &HashMap<&str, &KdlEntry>) -> Option<Op> {
        let Op::Wait(r) = op else {
            return Some(op);
        };
        let kind = self.resources[r as usize].kind;
        if let Some(e) = props.get("timeout") {
            if kind != ResourceKind::Event {
                self.push(
                    Problem::new(
                        "scenario::wrong-kind",
                        format!(
                            "`wait … timeout=` works on an event, not on {} {}",
                            article(&kind_name(&kind)),
                            kind_name(&kind)
                        ),
                    )
                    .at(span_of(e.span()), "not for this wait")
                    .also(self.resource_spans[r as usize], "declared here")
                    .help("remove the timeout, or wait on an event: event ready, then wait ready timeout=\"100ms\""),
                );
                return None;
            }
            let timeout = self.duration_value(e, "`timeout=`")?;
            return Some(Op::WaitFor {
                resource: r,
                timeout,
            });
        }
        let guards: Vec<(&str, &KdlEntry)> = ["while-empty", "if-empty"]
            .into_iter()
            .filter_map(|k| props.get(k).map(|e| (k, *e)))
            .collect();
        if !matches!(kind, ResourceKind::Condition { .. }) {
            if let Some((key, e)) = guards.first() {
                self.push(
                    Problem::new(
                        "scenario::wrong-kind",
                        format!(
                            "`{key}=` is for a wait on a condition, not on {} {}",
                            article(&kind_name(&kind)),
                            kind_name(&kind)
                        ),
                    )
                    .at(span_of(e.span()), "not for this wait")
                    .also(self.resource_spans[r as usize], "declared here")
                    .help("remove it: only a condition's waiter checks a predicate"),
                );
                return None;
            }
            return Some(op);
        }
        let guard = match guards.as_slice() {
            [] => Guard::None,
            [(key, e)] => {
                let list = self.list_ref(e, key)?;
                if *key == "while-empty" {
                    Guard::While(list)
                } else {
                    Guard::If(list)
                }
            }
            [_, (_, second), ..] => {
                self.push(
                    Problem::new(
                        "scenario::duplicate-attribute",
                        "a wait checks its predicate with `while` or with `if`, not both",
                    )
                    .at(span_of(second.span()), "one too many")
                    .help("keep while-empty= (the right way) or if-empty= (the bug)"),
                );
                return None;
            }
        };
        Some(Op::CondWait { cond: r, guard })
    }

    /// `put q sentinel=#true` and `take q timeout="100ms"` on a buffer.
    fn queue_options(&mut self, op: Op, props: &HashMap<&str, &KdlEntry>) -> Option<Op> {
        match op {
            Op::Put(r) => match (props.get("sentinel"), props.get("priority")) {
                (Some(_), Some(p)) => {
                    self.push(
                        Problem::new(
                            "scenario::duplicate-attribute",
                            "a put is a sentinel or an item with a priority, not both",
                        )
                        .at(span_of(p.span()), "one too many")
                        .help("keep sentinel=#true or priority=N"),
                    );
                    None
                }
                (Some(e), None) => Some(if self.bool_value(e, "sentinel")? {
                    Op::PutSentinel(r)
                } else {
                    op
                }),
                (None, Some(p)) => Some(Op::PutPriority {
                    resource: r,
                    priority: self.int_prop(
                        p,
                        "priority",
                        0,
                        MAX_AMOUNT,
                        "a lesson needs a handful of levels",
                    )?,
                }),
                (None, None) => Some(op),
            },
            Op::Take(r) => match props.get("timeout") {
                Some(e) => Some(Op::TakeFor {
                    resource: r,
                    timeout: self.duration_value(e, "`timeout=`")?,
                }),
                None => Some(op),
            },
            _ => Some(op),
        }
    }

    /// `submit ex work="100ms" raises="ValueError"` and `result ex task=3 timeout="1s"`.
    fn pool_options(&mut self, op: Op, props: &HashMap<&str, &KdlEntry>, span: Span) -> Option<Op> {
        match op {
            Op::Submit { pool, .. } => {
                let Some(w) = props.get("work") else {
                    self.push(
                        Problem::new("scenario::missing-attribute", "`submit` needs `work=`")
                            .at(span, "a task of what?")
                            .help("give the task its own work: submit ex work=\"100ms\""),
                    );
                    return None;
                };
                let work = self.duration_value(w, "`work=`")?;
                let raises = match props.get("raises") {
                    None => None,
                    Some(e) => {
                        let name = e.value().as_string();
                        match name.and_then(|n| EXCEPTIONS.iter().position(|x| *x == n)) {
                            Some(i) => Some(i as u8),
                            None => {
                                let help = match name.and_then(|n| nearest(n, EXCEPTIONS)) {
                                    Some(near) => format!("did you mean raises=\"{near}\"?"),
                                    None => format!(
                                        "a task may raise one of: {}",
                                        EXCEPTIONS.join(", ")
                                    ),
                                };
                                self.push(
                                    Problem::new(
                                        "scenario::bad-value",
                                        "`raises=` names a Python exception",
                                    )
                                    .at(span_of(e.span()), "not one threadlab knows")
                                    .help(help),
                                );
                                return None;
                            }
                        }
                    }
                };
                Some(Op::Submit { pool, work, raises })
            }
            Op::Result { pool, .. } => {
                let Some(t) = props.get("task") else {
                    self.push(
                        Problem::new("scenario::missing-attribute", "`result` needs `task=`")
                            .at(span, "the result of which task?")
                            .help("tasks are numbered 1, 2, 3… in submit order: result ex task=1"),
                    );
                    return None;
                };
                let task =
                    self.int_prop(t, "task", 1, MAX_STEPS as u32, "no scenario submits more")?;
                let timeout = match props.get("timeout") {
                    Some(e) => Some(self.duration_value(e, "`timeout=`")?),
                    None => None,
                };
                Some(Op::Result {
                    pool,
                    task,
                    timeout,
                })
            }
            _ => Some(op),
        }
    }

    /// A wait's `while-empty=` or `if-empty=`: a declared list.
    fn list_ref(&mut self, entry: &KdlEntry, key: &str) -> Option<ResIdx> {
        let span = span_of(entry.span());
        let name = entry.value().as_string();
        if let Some(i) = name.and_then(|n| self.resources.iter().position(|r| r.name == n))
            && self.resources[i].kind == ResourceKind::List
        {
            return Some(i as ResIdx);
        }
        let lists: Vec<&str> = self
            .resources
            .iter()
            .filter(|r| r.kind == ResourceKind::List)
            .map(|r| r.name.as_str())
            .collect();
        let help = match (name.and_then(|n| nearest(n, &lists)), lists.first()) {
            (Some(near), _) => format!("did you mean {key}={near}?"),
            (None, Some(first)) => format!("write {key}={first}"),
            (None, None) => {
                format!("declare the list it checks, `list items`, and write {key}=items")
            }
        };
        self.push(
            Problem::new(
                "scenario::bad-reference",
                format!("`{key}=` must name a list"),
            )
            .at(span, "not a declared list")
            .help(help),
        );
        None
    }

    /// `lock A timeout="30ms" backoff="10ms" jitter=#false`: a lock that gives up.
    fn try_lock(&mut self, op: Op, props: &HashMap<&str, &KdlEntry>) -> Option<Op> {
        let Op::Lock(r) = op else {
            return Some(op);
        };
        let Some(timeout) = props.get("timeout") else {
            for (key, example) in [("backoff", "backoff=\"10ms\""), ("jitter", "jitter=#false")] {
                if let Some(e) = props.get(key) {
                    self.push(
                        Problem::new(
                            "scenario::missing-attribute",
                            t!("classroom.parse.needs_timeout", key = key),
                        )
                        .at(
                            span_of(e.span()),
                            t!("classroom.parse.backs_off_after_what"),
                        )
                        .help(t!(
                            "classroom.parse.a_lock_backs_off_only",
                            example = example
                        )),
                    );
                }
            }
            return Some(op);
        };
        let kind = self.resources[r as usize].kind;
        if kind != ResourceKind::Mutex {
            self.push(
                Problem::new(
                    "scenario::wrong-kind",
                    t!(
                        "classroom.parse.timeout_works_on_a_mutex",
                        a1 = a_kind(&kind_name(&kind)),
                        a2 = kind_name(&kind)
                    ),
                )
                .at(
                    span_of(timeout.span()),
                    t!("classroom.parse.not_for_this_lock"),
                )
                .also(
                    self.resource_spans[r as usize],
                    t!("classroom.parse.declared_here"),
                )
                .help(t!("classroom.parse.declare_it_as_a_mutex")),
            );
            return None;
        }
        let timeout = self.duration_value(timeout, "`timeout=`")?;
        let backoff = match props.get("backoff") {
            Some(b) => Some(self.duration_value(b, "`backoff=`")?),
            None => None,
        };
        let jitter = match props.get("jitter") {
            Some(j) => self.bool_value(j, "jitter")?,
            None => true,
        };
        Some(Op::TryLock {
            resource: r,
            timeout,
            backoff,
            jitter,
        })
    }

    /// An rwlock's `prefer=`: whether readers go first (`"readers"`) or everyone in turn
    /// (`"arrival"`, the default).
    fn prefer_value(&mut self, entry: &KdlEntry) -> Option<bool> {
        const VALUES: &[&str] = &["arrival", "readers"];
        let span = span_of(entry.span());
        let (what, help) = match entry.value() {
            KdlValue::String(s) if s == "readers" => return Some(true),
            KdlValue::String(s) if s == "arrival" => return Some(false),
            KdlValue::String(s) => (
                format!("\"{s}\""),
                match nearest(s, VALUES) {
                    Some(near) => {
                        t!("classroom.parse.did_you_mean_prefer", near = near).into_owned()
                    }
                    None if s.starts_with("writer") => {
                        t!("classroom.parse.the_default_prefer_arrival_already").into_owned()
                    }
                    None => t!("classroom.parse.prefer_readers_lets_readers_in").into_owned(),
                },
            ),
            other => (
                value_kind(other).to_string(),
                t!("classroom.parse.write_it_in_quotes_prefer").into_owned(),
            ),
        };
        self.push(
            Problem::new(
                "scenario::bad-value",
                t!("classroom.parse.prefer_must_be_readers_or", what = what),
            )
            .at(span, t!("classroom.parse.not_a_choice"))
            .help(help),
        );
        None
    }

    /// A yes-or-no property, written the KDL way: `jitter=#false`.
    fn bool_value(&mut self, entry: &KdlEntry, key: &str) -> Option<bool> {
        let help = match entry.value() {
            KdlValue::Bool(b) => return Some(*b),
            KdlValue::String(s) if ["true", "false"].contains(&s.trim()) => t!(
                "classroom.parse.write_it_without_quotes_with",
                key = key,
                a1 = s.trim()
            )
            .into_owned(),
            _ => t!("classroom.parse.write_true_or_false", key = key).into_owned(),
        };
        self.push(
            Problem::new(
                "scenario::bad-value",
                t!(
                    "classroom.parse.must_be_true_or_false",
                    key = key,
                    a1 = value_kind(entry.value())
                ),
            )
            .at(
                span_of(entry.span()),
                t!("classroom.parse.not_true_or_false"),
            )
            .help(help),
        );
        None
    }

    fn resource_step(&mut self, node: &KdlNode, keyword: &str, args: &[&KdlEntry]) -> Option<Op> {
        let span = node_span(node);
        let (kind_word, props) =
            kinds::for_step(keyword).map_or(("buffer", ""), |k| (k.keyword, k.suggest));
        let Some(first) = args.first() else {
            self.push(
                Problem::new(
                    "scenario::missing-argument",
                    t!(
                        "classroom.parse.needs_the_name_of",
                        keyword = keyword,
                        a1 = a_kind(kind_word),
                        kind_word = kind_word
                    ),
                )
                .at(span, t!("classroom.parse.what", keyword = keyword))
                .help(t!(
                    "classroom.parse.write_it_like_this_a",
                    keyword = keyword
                )),
            );
            return None;
        };
        for extra in &args[1..] {
            self.push(
                Problem::new(
                    "scenario::extra-argument",
                    t!("classroom.parse.takes_one_resource", keyword = keyword),
                )
                .at(span_of(extra.span()), t!("classroom.parse.extra_argument"))
                .help(t!(
                    "classroom.parse.one_resource_per_step_write",
                    keyword = keyword
                )),
            );
        }
        let arg_span = span_of(first.span());
        let Some(name) = first.value().as_string() else {
            self.push(
                Problem::new(
                    "scenario::bad-reference",
                    t!(
                        "classroom.parse.needs_a_resource_name_not",
                        keyword = keyword,
                        a1 = value_kind(first.value())
                    ),
                )
                .at(arg_span, t!("classroom.parse.not_a_name"))
                .help(t!(
                    "classroom.parse.write_it_like_this_a",
                    keyword = keyword
                )),
            );
            return None;
        };
        let Some(i) = self.resources.iter().position(|r| r.name == name) else {
            if self.broken.contains(name) || !self.undeclared.insert(name.to_string()) {
                return None;
            }
            let fitting: Vec<&str> = self
                .resources
                .iter()
                .filter(|r| r.keyword() == kind_word)
                .map(|r| r.name.as_str())
                .collect();
            let all: Vec<&str> = self.resources.iter().map(|r| r.name.as_str()).collect();
            let help = match nearest(name, &fitting).or_else(|| nearest(name, &all)) {
                Some(near) => t!(
                    "classroom.parse.did_you_mean_3",
                    keyword = keyword,
                    near = near
                )
                .into_owned(),
                None => t!(
                    "classroom.parse.declare_it_at_the_top_2",
                    kind_word = kind_word,
                    a1 = shown(name),
                    props = props
                )
                .into_owned(),
            };
            self.push(
                Problem::new(
                    "scenario::undeclared",
                    t!("classroom.parse.is_not_declared", a1 = shown(name)),
                )
                .at(arg_span, t!("classroom.parse.no_such_resource"))
                .help(with_disguise(help, name)),
            );
            return None;
        };
        let r = i as ResIdx;
        let kind = self.resources[i].kind;
        let spec = kinds::by_keyword(self.resources[i].keyword());
        if spec.is_some_and(|k| k.steps.contains(&keyword)) {
            return kinds::op(keyword, r);
        }
        let decl = self.resource_spans[i];
        let actual = match spec {
            Some(k) if self.resources[i].asyncio => k.noun.to_string(),
            _ => kind_name(&kind),
        };
        let help = match spec.and_then(|k| k.fitting(keyword)) {
            Some(step) => t!(
                "classroom.parse.works_on_for_write",
                keyword = keyword,
                a1 = a_kind(kind_word),
                kind_word = kind_word,
                a2 = a_kind(&actual),
                actual = actual,
                step = step,
                name = name
            )
            .into_owned(),
            None => spec.map_or_else(String::new, |k| k.stepless(name)),
        };
        self.push(
            Problem::new(
                "scenario::wrong-kind",
                t!(
                    "classroom.parse.cannot_it_is",
                    keyword = keyword,
                    name = name,
                    a1 = a_kind(&actual),
                    actual = actual
                ),
            )
            .at(
                arg_span,
                t!(
                    "classroom.parse.message",
                    a1 = a_kind(&actual),
                    actual = actual
                ),
            )
            .also(
                decl,
                t!(
                    "classroom.parse.declared_as_here_2",
                    a1 = a_kind(&actual),
                    actual = actual
                ),
            )
            .help(help),
        );
        None
    }
}

/// A node as written, on one line, for help texts ("move `mutex A` …").
fn node_text<'s>(src: &'s str, node: &'s KdlNode) -> &'s str {
    let span = node.span();
    let text = src
        .get(span.offset()..span.offset().saturating_add(span.len()).min(src.len()))
        .unwrap_or("")
        .trim();
    let first_line = text.lines().next().unwrap_or("");
    if first_line.chars().count() > 60 {
        node.name().value()
    } else {
        first_line
    }
}

/// `threads "python"` / `threads "native"`: what the scenario's threads stand for.
impl Builder<'_> {
    fn thread_model(&mut self, node: &KdlNode) {
        const EXAMPLE: &str = "threads \"python\"";
        let span = node_span(node);
        if node.children().is_some() {
            self.push(
                Problem::new(
                    "scenario::misplaced",
                    "`threads` says what the threads stand for; it has no block",
                )
                .at(span, "a block here")
                .help(format!(
                    "write {EXAMPLE} or threads \"native\"; to declare a thread, write thread T1 {{ work \"100ms\" }}"
                )),
            );
            return;
        }
        self.no_annotations(node);
        let (args, _) = self.entries(node, &[]);
        let model = match args.as_slice() {
            [one] => match one.value().as_string() {
                Some("python") => Some(ThreadModel::Python),
                Some("native") => Some(ThreadModel::Native),
                _ => None,
            },
            _ => None,
        };
        let Some(model) = model else {
            let at = args.first().map_or(span, |a| span_of(a.span()));
            self.push(
                Problem::new(
                    "scenario::bad-value",
                    "`threads` is \"python\" or \"native\"",
                )
                .at(at, "not python or native")
                .help(format!(
                    "{EXAMPLE}: CPython threads, CPU work under one GIL; threads \"native\": OS threads computing in parallel"
                )),
            );
            return;
        };
        if let Some((_, first)) = self.models {
            self.push(
                Problem::new("scenario::duplicate", "`threads` is given twice")
                    .at(span, "again here")
                    .also(first, "first here")
                    .help("keep one of them"),
            );
            return;
        }
        self.models = Some((model, span));
    }

    /// Under `threads "python"`, every thread that names no GIL runs under the scenario's one
    /// (added here when the file declares none); tasks share their event loop's thread instead.
    fn apply_model(&mut self) {
        let Some((ThreadModel::Python, span)) = self.models else {
            return;
        };
        self.main_gil(span);
        self.process_gils(span);
    }

    /// Each child process is an interpreter of its own, with its own GIL (`worker-1.GIL`),
    /// which its threads that name none run under.
    fn process_gils(&mut self, span: Span) {
        for p in 0..self.processes.len() {
            let own = |t: &ThreadSpec| {
                t.process == Some(p as u16) && t.gil.is_none() && t.event_loop.is_none()
            };
            if !self.threads.iter().any(own) {
                continue;
            }
            self.resources.push(Resource {
                name: format!("{}.{IMPLICIT_GIL}", self.processes[p].name),
                kind: ResourceKind::Gil {
                    interval: Duration::from_millis(5),
                },
                line: self.line_of(span.0),
                asyncio: false,
            });
            self.resource_spans.push(span);
            let gil = (self.resources.len() - 1) as ResIdx;
            for t in self.threads.iter_mut().filter(|t| own(t)) {
                t.gil = Some(gil);
            }
        }
    }

    /// threadlab's own process: its threads run under the file's one GIL, or the one added.
    fn main_gil(&mut self, span: Span) {
        if !self
            .threads
            .iter()
            .any(|t| t.gil.is_none() && t.event_loop.is_none() && t.process.is_none())
        {
            return;
        }
        let gils: Vec<usize> = (0..self.resources.len())
            .filter(|&i| matches!(self.resources[i].kind, ResourceKind::Gil { .. }))
            .collect();
        let gil = match gils.as_slice() {
            [one] => *one,
            [] => {
                if let Some(i) = self.resources.iter().position(|r| r.name == IMPLICIT_GIL) {
                    let taken = self.resource_spans[i];
                    self.push(
                        Problem::new(
                            "scenario::duplicate",
                            format!("`threads \"python\"` adds a GIL named `{IMPLICIT_GIL}`, and that name is taken"),
                        )
                        .at(taken, "taken here")
                        .also(span, "needs the name")
                        .help("rename this resource, or declare the GIL yourself: gil py interval=\"5ms\""),
                    );
                    return;
                }
                self.resources.push(Resource {
                    name: IMPLICIT_GIL.to_string(),
                    kind: ResourceKind::Gil {
                        interval: Duration::from_millis(5),
                    },
                    line: self.line_of(span.0),
                    asyncio: false,
                });
                self.resource_spans.push(span);
                self.resources.len() - 1
            }
            [_, second, ..] => {
                let second = self.resource_spans[*second];
                self.push(
                    Problem::new(
                        "scenario::ambiguous-gil",
                        "`threads \"python\"` needs one GIL, and the file declares several",
                    )
                    .at(second, "another GIL")
                    .also(span, "python threads")
                    .help("CPython has one GIL per interpreter: keep one, or write threads \"native\" and give each thread its gil="),
                );
                return;
            }
        };
        for t in &mut self.threads {
            if t.gil.is_none() && t.event_loop.is_none() && t.process.is_none() {
                t.gil = Some(gil as ResIdx);
            }
        }
    }
}

/// A task's steps on other tasks (`gather`, `wait`, `cancel`, `wait-for`) and on its loop's
/// executor (`to-thread`).
impl Builder<'_> {
    /// Whether a `wait` names a group of tasks (declared above) rather than a resource.
    fn names_tasks(&self, node: &KdlNode) -> bool {
        let Some(name) = node
            .entries()
            .iter()
            .find(|e| e.name().is_none())
            .and_then(|e| e.value().as_string())
        else {
            return false;
        };
        self.resources.iter().all(|r| r.name != name) && self.groups.iter().any(|(g, ..)| g == name)
    }

    fn task_step(&mut self, node: &KdlNode, keyword: &str) -> Option<Item> {
        let span = node_span(node);
        self.no_block(node, &format!("`{keyword}`"));
        let allowed: &[&str] = match keyword {
            "wait" => &["return-when"],
            "wait-for" => &["timeout"],
            _ => &[],
        };
        let (args, props) = self.entries(node, allowed);
        let example = match keyword {
            "to-thread" => "to-thread \"1s\"",
            "wait" => "wait fetch return-when=\"FIRST_COMPLETED\"",
            "wait-for" => "wait-for slow timeout=\"500ms\"",
            "cancel" => "cancel fetch",
            _ => "gather fetch",
        };
        let Some(first) = args.first() else {
            self.push(
                Problem::new(
                    "scenario::missing-argument",
                    t!("asyncio.parse.needs_argument", keyword = keyword),
                )
                .at(span, t!("classroom.parse.what", keyword = keyword))
                .help(t!("asyncio.parse.like_this", example = example)),
            );
            return None;
        };
        if keyword == "to-thread" {
            for extra in &args[1..] {
                self.push(
                    Problem::new(
                        "scenario::extra-argument",
                        t!("asyncio.parse.one_argument", keyword = keyword),
                    )
                    .at(span_of(extra.span()), t!("classroom.parse.extra_argument"))
                    .help(t!("asyncio.parse.like_this", example = example)),
                );
            }
            let call = self.duration_value(first, "`to-thread`")?;
            // The executor is filled in once every task is read.
            return Some(Item::Step(
                Op::ToThread {
                    executor: ResIdx::MAX,
                    call,
                },
                span,
            ));
        }
        // Several groups are one group of tasks when they were declared one after another.
        let mut groups = Vec::new();
        for arg in &args {
            groups.push(self.tasks_ref(arg, example));
        }
        let mut groups: Vec<Tasks> = groups.into_iter().collect::<Option<_>>()?;
        groups.sort_by_key(|g| g.first);
        let tasks = groups[1..].iter().try_fold(groups[0], |all, g| {
            (g.first == all.first + all.count).then_some(Tasks {
                first: all.first,
                count: all.count + g.count,
            })
        });
        let Some(tasks) = tasks else {
            let names: Vec<&str> = args.iter().filter_map(|a| a.value().as_string()).collect();
            self.push(
                Problem::new(
                    "scenario::bad-reference",
                    t!("asyncio.parse.not_together", keyword = keyword),
                )
                .at(span, t!("asyncio.parse.not_together_label"))
                .help(t!(
                    "asyncio.parse.not_together_help",
                    names = names.join(", ")
                )),
            );
            return None;
        };
        let op = match keyword {
            "gather" => Op::Gather(tasks),
            "cancel" => Op::Cancel(tasks),
            "wait" => {
                let first_completed = match props.get("return-when") {
                    None => false,
                    Some(e) => match e.value().as_string() {
                        Some("FIRST_COMPLETED") => true,
                        Some("ALL_COMPLETED") => false,
                        _ => {
                            self.push(
                                Problem::new(
                                    "scenario::bad-value",
                                    t!("asyncio.parse.return_when"),
                                )
                                .at(span_of(e.span()), t!("asyncio.parse.return_when_label"))
                                .help(t!("asyncio.parse.like_this", example = example)),
                            );
                            return None;
                        }
                    },
                };
                Op::WaitTasks {
                    tasks,
                    first: first_completed,
                }
            }
            _ => {
                let Some(e) = props.get("timeout") else {
                    self.push(
                        Problem::new(
                            "scenario::missing-attribute",
                            t!("classroom.parse.needs", keyword = keyword, key = "timeout"),
                        )
                        .at(span, t!("classroom.parse.no", key = "timeout"))
                        .help(t!("asyncio.parse.like_this", example = example)),
                    );
                    return None;
                };
                let timeout = self.duration_value(e, "`timeout`")?;
                Op::WaitTasksFor { tasks, timeout }
            }
        };
        Some(Item::Step(op, span))
    }

    /// The group of tasks, declared above, that `entry` names.
    fn tasks_ref(&mut self, entry: &KdlEntry, example: &str) -> Option<Tasks> {
        let span = span_of(entry.span());
        let tasks: Vec<&str> = self
            .groups
            .iter()
            .filter(|(_, members, _)| {
                members
                    .first()
                    .is_some_and(|&t| self.threads[t as usize].is_task())
            })
            .map(|(g, ..)| g.as_str())
            .collect();
        let Some(name) = entry.value().as_string() else {
            self.push(
                Problem::new(
                    "scenario::bad-reference",
                    t!("asyncio.parse.names_tasks", a1 = value_kind(entry.value())),
                )
                .at(span, t!("classroom.parse.not_a_name"))
                .help(t!("asyncio.parse.like_this", example = example)),
            );
            return None;
        };
        match self.groups.iter().find(|(g, ..)| g == name) {
            Some((_, members, decl)) if !members.is_empty() => {
                let first = members[0];
                if self.threads[first as usize].is_task() {
                    return Some(Tasks {
                        first,
                        count: members.len() as ThreadIdx,
                    });
                }
                let decl = *decl;
                self.push(
                    Problem::new(
                        "scenario::wrong-kind",
                        t!("asyncio.parse.threads_not_tasks", name = name),
                    )
                    .at(span, t!("asyncio.parse.threads_label"))
                    .also(decl, t!("asyncio.parse.declared_thread"))
                    .help(t!("asyncio.parse.threads_not_tasks_help", name = name)),
                );
                None
            }
            _ => {
                let help = match nearest(name, &tasks) {
                    Some(near) => t!("classroom.parse.did_you_mean", s = near).into_owned(),
                    None if tasks.is_empty() => t!("asyncio.parse.no_tasks_above").into_owned(),
                    None => t!("asyncio.parse.tasks_above", a1 = tasks.join(", ")).into_owned(),
                };
                self.push(
                    Problem::new(
                        "scenario::undeclared",
                        t!("asyncio.parse.no_such_tasks", a1 = shown(name)),
                    )
                    .at(span, t!("asyncio.parse.not_tasks_above"))
                    .help(with_disguise(help, name)),
                );
                None
            }
        }
    }

    /// `to-thread` hands its call to the loop's default executor: a thread pool whose worker
    /// threads (one for each task that uses it, as CPython reuses an idle worker for a task's
    /// next call) run the calls. Added here, as lanes of their own, once every task is read.
    fn executor(&mut self) {
        let users: Vec<usize> = (0..self.threads.len())
            .filter(|&t| {
                self.threads[t]
                    .steps
                    .iter()
                    .any(|s| matches!(s.op, Op::ToThread { .. }))
            })
            .collect();
        let Some(&first_user) = users.first() else {
            return;
        };
        let span = self.thread_spans[first_user];
        if let Some(i) = self.resources.iter().position(|r| r.name == EXECUTOR) {
            let taken = self.resource_spans[i];
            self.push(
                Problem::new(
                    "scenario::duplicate",
                    t!("asyncio.parse.executor_taken", name = EXECUTOR),
                )
                .at(taken, t!("asyncio.parse.taken_here"))
                .also(span, t!("asyncio.parse.needs_executor"))
                .help(t!("asyncio.parse.executor_taken_help")),
            );
            return;
        }
        if self.threads.len() + users.len() > MAX_THREADS || self.over_limit {
            self.push(
                Problem::new(
                    "scenario::limit",
                    t!(
                        "classroom.parse.more_than_threads",
                        MAX_THREADS = MAX_THREADS
                    ),
                )
                .at(span, t!("asyncio.parse.needs_executor"))
                .help(t!(
                    "classroom.parse.a_scenario_may_have_at",
                    MAX_THREADS = MAX_THREADS
                )),
            );
            return;
        }
        let executor = self.resources.len() as ResIdx;
        self.resources.push(Resource {
            name: EXECUTOR.to_string(),
            kind: ResourceKind::Pool,
            line: self.threads[first_user].line,
            asyncio: false,
        });
        self.resource_spans.push(span);
        for (n, &user) in users.iter().enumerate() {
            let mut steps = Vec::new();
            let mut spans = Vec::new();
            for (i, step) in self.threads[user].steps.iter_mut().enumerate() {
                if let Op::ToThread { executor: e, .. } = &mut step.op {
                    *e = executor;
                    steps.push(Step {
                        op: Op::RunNext(executor),
                        line: step.line,
                    });
                    spans.push(self.step_spans[user][i]);
                }
            }
            let name = format!("{EXECUTOR_THREADS}_{n}");
            self.thread_names.insert(name.clone(), span);
            let line = self.threads[user].line;
            let process = self.threads[user].process;
            self.threads.push(ThreadSpec {
                name,
                group: EXECUTOR_THREADS.to_string(),
                line,
                process,
                gil: None,
                after: Vec::new(),
                event_loop: None,
                daemon: false,
                steps,
            });
            self.thread_spans.push(self.thread_spans[user]);
            self.step_spans.push(spans);
        }
    }
}

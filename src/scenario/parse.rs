//! KDL text → [`Scenario`]: resources, threads, `count=` expansion and `repeat` unrolling.
//!
//! The parser reports every mistake it can find in one pass rather than stopping at the first,
//! so a teacher fixing a file sees the whole list at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kdl::{KdlDocument, KdlEntry, KdlError, KdlNode, KdlValue};

use super::kinds::{self, article};
use super::limits::{
    MAX_AMOUNT, MAX_COUNT, MAX_DURATION, MAX_REPEAT, MAX_RESOURCES, MAX_STEPS, MAX_THREADS, human,
};
use super::model::{
    EXCEPTIONS, Guard, Op, ResIdx, Resource, ResourceKind, Scenario, Step, ThreadIdx, ThreadSpec,
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
/// Steps that work on no resource.
const PLAIN_STEPS: &[&str] = &["work", "sleep", "repeat"];

/// Every keyword that declares a resource, from the one table of kinds.
fn resource_kinds() -> Vec<&'static str> {
    kinds::keywords().collect()
}

/// Every step: those of the resource kinds, then the plain ones.
fn steps() -> Vec<&'static str> {
    let mut steps = kinds::resource_steps();
    steps.extend_from_slice(PLAIN_STEPS);
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
    if doc.nodes().is_empty() {
        return Err(vec![
            Problem::new("scenario::empty", format!("`{origin}` is empty"))
                .help("a scenario needs at least a thread: thread T1 { work \"100ms\" }"),
        ]);
    }
    if b.threads.is_empty() && b.problems.is_empty() {
        let span = (source.len(), 0);
        b.problems.push(
            Problem::new("scenario::no-threads", "the scenario has no threads")
                .at(span, "nothing to run")
                .help("add a thread: thread T1 { work \"100ms\" }"),
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
            resources: b.resources,
            threads: b.threads,
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
                    message: Some(format!("could not start the scenario parser: {e}")),
                    label: None,
                    help: Some(
                        "the machine is short of memory or threads; close something and retry"
                            .into(),
                    ),
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
            format!(
                "invisible control character U+{:04X} at {origin}:{line}:{column}",
                c as u32
            ),
        )
        .help("delete it: it may have come from copying out of another program"));
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
                        "this comment is too intricate to read",
                    )
                    .at((i, 2), "comment starts here")
                    .help(format!(
                        "a /* */ comment may hold at most {MAX_COMMENT_PIECES} `*` and `/` \
                         characters; use // line comments for decoration"
                    )));
                }
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'-') => {
                slashdashes += 1;
                if slashdashes > MAX_SLASHDASHES {
                    return Err(Problem::new(
                        "scenario::too-complex",
                        format!("more than {MAX_SLASHDASHES} `/-` comments in one file"),
                    )
                    .at((i, 2), "one too many")
                    .help("delete the commented-out parts instead of keeping them with /-"));
                }
                let next = b[i + 2..]
                    .iter()
                    .position(|c| !c.is_ascii_whitespace())
                    .map(|p| i + 2 + p);
                if let Some(n) = next
                    && b.get(n..n + 2) == Some(b"/-")
                {
                    return Err(Problem::new("scenario::syntax", "`/-` twice in a row")
                        .at((n, 2), "second `/-`")
                        .help("one `/-` comments out the whole node, entry or block after it"));
                }
                i += 2;
            }
            b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Problem::new(
                        "scenario::too-deep",
                        format!("blocks nest more than {MAX_NESTING} deep"),
                    )
                    .at((i, 1), "too deep")
                    .help("a scenario needs only thread { repeat { … } }; close the blocks you opened"));
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
                "a multi-line string must start a new line right after its opening \"\"\"",
            )
            .at(open, "text follows the quotes")
            .help("break the line after \"\"\" and close with \"\"\" on a line of its own; for one line of text, use one pair of quotes"));
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
        return Err(
            Problem::new("scenario::syntax", "this multi-line string is never closed")
                .at(open, "opened here")
                .help("close it with \"\"\" on a line of its own"),
        );
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
    Err(Problem::new("scenario::syntax", "this string is not closed on its line")
        .at((start, i.min(b.len()) - start), "no closing quote")
        .help("end it with \" on the same line; for text over several lines, use \"\"\" on lines of their own"))
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
            Problem::new(
                "scenario::syntax",
                "this is not a KDL document the parser can read",
            )
            .help("look for unclosed strings, blocks or comments"),
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
                return Problem::new("scenario::syntax", format!("`{text}` needs quotes"))
                    .at(span, "a duration without quotes")
                    .help(format!("durations are strings: write \"{text}\""));
            }
            if matches!(text, "true" | "false" | "null") {
                return Problem::new("scenario::syntax", format!("write #{text}, not {text}"))
                    .at(span, format!("#{text} in this version of KDL"))
                    .help(format!(
                        "scenarios are KDL 2, where true, false and null take a #: \
                         write #{text} (as in jitter=#false)"
                    ));
            }
            let message = d.message.unwrap_or_else(|| "KDL syntax error".to_string());
            let help = d.help.unwrap_or_else(|| syntax_help(&message).to_string());
            Problem::new("scenario::syntax", message)
                .at(span, d.label.unwrap_or_else(|| "here".to_string()))
                .help(help)
        })
        .collect()
}

fn syntax_help(message: &str) -> &'static str {
    let m = message.to_lowercase();
    if m.contains("closing '}'") || m.contains("child block") {
        "every `{` needs a matching `}`"
    } else if m.contains("end of document") {
        "this may be a `}` without a matching `{`"
    } else if m.contains("string") {
        "strings go in double quotes: \"like this\""
    } else {
        "a line is a keyword and its arguments: `lock A`, `work \"100ms\"`, `thread T1 { … }`"
    }
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

fn span_of(s: miette::SourceSpan) -> Span {
    (s.offset(), s.len())
}

fn node_span(node: &KdlNode) -> Span {
    span_of(node.name().span())
}

fn value_kind(v: &KdlValue) -> &'static str {
    match v {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "a whole number",
        KdlValue::Float(_) => "a decimal number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

/// Names show up in lanes, logs and JSON: short words, no spaces or control characters.
fn name_error(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("a name cannot be empty")
    } else if name.chars().count() > 32 {
        Some("a name may be at most 32 characters")
    } else if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Some("a name is made of letters, digits, `-`, `_` and `.`")
    } else {
        None
    }
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
fn kind_name(kind: &ResourceKind) -> &'static str {
    kinds::by_keyword(kind.keyword()).map_or("resource", |k| k.noun)
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
            threads: Vec::new(),
            thread_spans: Vec::new(),
            step_spans: Vec::new(),
            thread_names: HashMap::new(),
            groups: Vec::new(),
            total_steps: 0,
            broken: Default::default(),
            undeclared: Default::default(),
            over_limit: false,
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
                k if LANES.contains(&k) => {}
                other if steps().contains(&other) => self.push(
                    Problem::new(
                        "scenario::step-outside-thread",
                        format!("`{other}` is a step, outside any thread"),
                    )
                    .at(node_span(node), "not inside a thread")
                    .help(format!(
                        "steps belong in a thread's block: thread T1 {{ {} }}",
                        node_text(self.src, node)
                    )),
                ),
                other => {
                    let top_level: Vec<&str> = [TEXTS, &resource_kinds(), LANES].concat();
                    let suggestion = ALIASES
                        .iter()
                        .find(|(from, to)| *from == other.to_lowercase() && top_level.contains(to))
                        .map(|(_, to)| *to)
                        .or_else(|| nearest(other, &top_level));
                    let help = match suggestion {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "the top level holds title, about, resources ({}) and thread or task blocks",
                            resource_kinds().join(", ")
                        ),
                    };
                    self.push(
                        Problem::new(
                            "scenario::unknown-node",
                            format!("unknown keyword `{}`", shown(other)),
                        )
                        .at(node_span(node), "not a resource, thread or setting")
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
            }
        }
    }

    /// Type annotations like `(u8)3` mean nothing here; saying so beats ignoring them.
    fn no_annotations(&mut self, node: &KdlNode) {
        if let Some(ty) = node.ty() {
            self.push(
                Problem::new(
                    "scenario::annotation",
                    "type annotations are not used in scenarios",
                )
                .at(span_of(ty.span()), "remove this")
                .help(format!("write just `{}`", node.name().value())),
            );
        }
        for e in node.entries() {
            if let Some(ty) = e.ty() {
                self.push(
                    Problem::new(
                        "scenario::annotation",
                        "type annotations are not used in scenarios",
                    )
                    .at(span_of(ty.span()), "remove this")
                    .help("write the value without the (…) before it"),
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
                    format!("{what} takes no block"),
                )
                .at(node_span(node), "this")
                .also(span, "has a { } block")
                .help("remove the { … } block"),
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
                    (Some(near), _) => format!("did you mean `{near}=`?"),
                    (None, []) => format!("`{keyword}` takes no attributes"),
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
                        format!("`{keyword}` has no attribute `{}`", shown(key_name)),
                    )
                    .at(span_of(e.span()), "unknown attribute")
                    .help(with_disguise(help, key_name)),
                );
            } else if let Some(first) = props.get(key_name) {
                self.push(
                    Problem::new(
                        "scenario::duplicate-attribute",
                        format!("`{key_name}=` is given twice"),
                    )
                    .at(span_of(e.span()), "again here")
                    .also(span_of(first.span()), "first here")
                    .help("keep one of them"),
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
                    format!("`{keyword}` needs a name"),
                )
                .at(node_span(node), "no name")
                .help(format!("write it like this: {example}")),
            );
            return None;
        };
        for extra in &args[1..] {
            self.push(
                Problem::new(
                    "scenario::extra-argument",
                    format!("`{keyword}` takes one name"),
                )
                .at(span_of(extra.span()), "extra argument")
                .help(format!("declare one per line, like this: {example}")),
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
                        format!("the name `{}` has {what}", shown(name)),
                    )
                    .at(span, format!("reads as `{}`", shown(&plain(name))))
                    .help(format!(
                        "retype it as `{}`: what you typed elsewhere will not match it (such \
                         characters come from copied text or an input method's full-width mode)",
                        shown(&plain(name))
                    )),
                );
                None
            }
            KdlValue::String(name) => match name_error(name) {
                Some(why) => {
                    self.push(
                        Problem::new(
                            "scenario::bad-name",
                            format!("`{}` cannot be a name", shown(name)),
                        )
                        .at(span, why)
                        .help(with_disguise(
                            format!("use a short word, like this: {example}"),
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
                        format!(
                            "the name of a `{keyword}` must be a word, not {}",
                            value_kind(other)
                        ),
                    )
                    .at(span, "not a name")
                    .help(format!("write it like this: {example}")),
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
                format!("`{key}` must be at least {min}, not {n}"),
                format!("write {key}{sep}{min} or more"),
            ),
            KdlValue::Integer(n) => (
                format!("`{key}{sep}{n}` is too large"),
                format!("{key} may be at most {max}: {why_max}"),
            ),
            KdlValue::Float(x) => (
                format!(
                    "`{key}` must be a whole number, not {}",
                    shown(written_value(self.src, entry))
                ),
                format!(
                    "write a whole number, like {key}{sep}{}",
                    x.round().clamp(min as f64, max as f64)
                ),
            ),
            KdlValue::String(s) if s.trim().parse::<i64>().is_ok() => (
                format!("`{key}` must be a number, not the string \"{s}\""),
                format!("write it without quotes: {key}{sep}{}", s.trim()),
            ),
            other => (
                format!("`{key}` must be a whole number, not {}", value_kind(other)),
                format!("write a number, like {key}{sep}{}", min.max(2).min(max)),
            ),
        };
        self.push(
            Problem::new("scenario::bad-number", message)
                .at(span, "here")
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
                    Problem::new("scenario::bad-duration", format!("{what} needs a unit"))
                        .at(span, "a bare number")
                        .help(format!(
                            "write the duration with a unit, in quotes: \"{n}ms\" or \"{n}s\""
                        )),
                );
                return None;
            }
            other => {
                self.push(
                    Problem::new(
                        "scenario::bad-duration",
                        format!("{what} must be a duration, not {}", value_kind(other)),
                    )
                    .at(span, "not a duration")
                    .help("write a number and a unit in quotes, like \"100ms\" or \"1.5s\""),
                );
                return None;
            }
        };
        let problem = if text.trim_start().starts_with('-') {
            Problem::new("scenario::bad-duration", format!("`{text}` is negative"))
                .at(span, "negative")
                .help("time only runs forward: write a positive duration, like \"100ms\"")
        } else {
            match duration::parse(text) {
                Ok(d) if d.is_zero() => Problem::new(
                    "scenario::bad-duration",
                    format!("`{text}` is zero"),
                )
                .at(span, "zero")
                .help("a step of no time shows nothing: use at least \"1ms\", or remove the step"),
                Ok(d) if d > MAX_DURATION => Problem::new(
                    "scenario::bad-duration",
                    format!("`{text}` is too long"),
                )
                .at(span, "too long")
                .help(format!(
                    "one duration may be at most {}; a lesson should not keep the class waiting",
                    human(MAX_DURATION)
                )),
                Ok(d) => return Some(d),
                Err(why) => Problem::new(
                    "scenario::bad-duration",
                    format!("`{text}` is not a duration"),
                )
                .at(span, "not a duration")
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
                        format!("`{keyword}` needs a text"),
                    )
                    .at(span, "no text")
                    .help(format!("write it in quotes: {example}")),
                );
                return;
            }
            [one] => one,
            [_, extra, ..] => {
                self.push(
                    Problem::new(
                        "scenario::extra-argument",
                        format!("`{keyword}` takes one text"),
                    )
                    .at(span_of(extra.span()), "extra argument")
                    .help(format!(
                        "put the whole text in one pair of quotes: {example}"
                    )),
                );
                return;
            }
        };
        let Some(text) = value.value().as_string() else {
            self.push(
                Problem::new(
                    "scenario::missing-argument",
                    format!(
                        "`{keyword}` must be a text, not {}",
                        value_kind(value.value())
                    ),
                )
                .at(span_of(value.span()), "not a text")
                .help(format!("write it in quotes: {example}")),
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
                            format!(
                                "`{keyword}`'s `zh=` must be a text, not {}",
                                value_kind(entry.value())
                            ),
                        )
                        .at(span_of(entry.span()), "not a text")
                        .help(format!("write it in quotes: {keyword} \"...\" zh=\"...\"")),
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
                Problem::new("scenario::duplicate", format!("`{keyword}` is given twice"))
                    .at(span, "again here")
                    .also(first, "first here")
                    .help("keep one of them"),
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
        self.no_block(node, &format!("a `{keyword}` declaration"));
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
                            format!("`{keyword}` needs `{key}=`"),
                        )
                        .at(node_span(node), format!("no {key}="))
                        .help(format!("write it like this: {keyword} {name} {key}=3")),
                    );
                    None
                }
            }
        };
        let kind = match keyword {
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
                "more permits than that never run out",
            )
            .map(|permits| ResourceKind::Semaphore { permits }),
            "barrier" => amount(
                self,
                "parties",
                MAX_THREADS as u32,
                "a scenario has at most that many threads to arrive",
            )
            .map(|parties| ResourceKind::Barrier { parties }),
            "buffer" => amount(
                self,
                "capacity",
                MAX_AMOUNT,
                "a bigger buffer never fills up in a lesson",
            )
            .map(|capacity| ResourceKind::Buffer { capacity }),
            _ => match props.get("interval") {
                Some(e) => self
                    .duration_value(e, "the GIL's interval")
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
                    format!("resource `{name}` is declared twice"),
                )
                .at(span, "declared again here")
                .also(first, "first declared here")
                .help("give each resource its own name"),
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
                Problem::new("scenario::duplicate", "a second event loop")
                    .at(span, "another event loop")
                    .also(first, "the scenario's event loop")
                    .help("a scenario has one event loop, and every `task` runs on it"),
            );
            return;
        }
        if self.resources.len() >= MAX_RESOURCES {
            if self.resources.len() == MAX_RESOURCES {
                self.push(
                    Problem::new(
                        "scenario::limit",
                        format!("more than {MAX_RESOURCES} resources"),
                    )
                    .at(span, "one too many")
                    .help(format!(
                        "a scenario may declare at most {MAX_RESOURCES} resources"
                    )),
                );
            }
            // Keep counting so the message above appears once.
            self.resources.push(Resource {
                name,
                kind,
                line: 0,
            });
            self.resource_spans.push(span);
            return;
        }
        let line = self.line_of(span.0);
        self.resources.push(Resource { name, kind, line });
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
        let named = self.name_arg(node, &args, example);
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
                        "a task needs an event loop to run on",
                    )
                    .at(node_span(node), "no event loop declared")
                    .help("declare one at the top level: event-loop main"),
                );
                return;
            }
            found
        } else {
            None
        };
        let count = match props.get("count") {
            Some(e) => self.int_prop(
                e,
                "count",
                1,
                MAX_COUNT,
                "a scenario has at most 64 threads",
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
                        format!("{keyword} `{name}` has no steps"),
                    )
                    .at(node_span(node), "nothing to do")
                    .help(format!(
                        "give it steps in a block: {keyword} {name} {{ work \"100ms\" }}"
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
                format!("thread `{name}` is declared twice"),
            )
            .at(span, "declared again here")
            .help("give each thread its own name");
            if let Some(first) = first {
                p = p.also(first, "first declared here");
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
                    format!("two threads would be named `{clash}`"),
                )
                .at(span, format!("this makes `{clash}`"))
                .also(first, "so does this")
                .help("give each thread its own name; `count=N` names threads NAME-1 … NAME-N"),
            );
            return;
        }
        let per_thread = expanded_len(&items);
        if self.over_limit {
            return;
        }
        if self.threads.len() + names.len() > MAX_THREADS {
            self.over_limit = true;
            self.push(
                Problem::new(
                    "scenario::limit",
                    format!("more than {MAX_THREADS} threads"),
                )
                .at(
                    span,
                    format!(
                        "this brings the total to {}",
                        self.threads.len() + names.len()
                    ),
                )
                .help(format!(
                    "a scenario may have at most {MAX_THREADS} threads; lower `count=`"
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
                Problem::new("scenario::limit", format!("more than {MAX_STEPS} steps once repeats are unrolled"))
                    .at(span, if names.len() > 1 {
                        format!("{per_thread} steps in each of {} threads", names.len())
                    } else {
                        format!("{per_thread} steps")
                    })
                    .help(format!(
                        "a scenario may have at most {MAX_STEPS} steps in all threads together; lower the `repeat` counts or `count=`"
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
                    format!("`gil=` must name a GIL, not {}", value_kind(entry.value())),
                )
                .at(span, "not a name")
                .help("declare a GIL, `gil py`, and write gil=py on the thread"),
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
                    format!("`{name}` is {} {kind}, not a GIL", article(kind)),
                )
                .at(span, "not a GIL")
                .also(decl, format!("declared as {} {kind} here", article(kind)))
                .help(match gils.first() {
                    Some(g) => format!("write gil={g}"),
                    None => "declare a GIL first: gil py interval=\"5ms\"".to_string(),
                }),
            );
            return None;
        }
        let help = match nearest(name, &gils).or(if gils.len() == 1 {
            gils.first().copied()
        } else {
            None
        }) {
            Some(g) => format!("did you mean gil={g}?"),
            None if gils.is_empty() => {
                format!(
                    "declare it at the top level: gil {} interval=\"5ms\"",
                    shown(name)
                )
            }
            None => format!("the declared GILs are: {}", gils.join(", ")),
        };
        self.push(
            Problem::new(
                "scenario::undeclared",
                format!("no GIL named `{}`", shown(name)),
            )
            .at(span, "not declared")
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
                    format!("`{name}` is {} {kind}, not a mutex", article(kind)),
                )
                .at(span, "not a mutex")
                .also(
                    self.resource_spans[i],
                    format!("declared as {} {kind} here", article(kind)),
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
                    format!(
                        "`after=` must name a thread group, not {}",
                        value_kind(entry.value())
                    ),
                )
                .at(span, "not a name")
                .help("write the name of threads declared above, like after=cpu"),
            );
            return None;
        };
        if let Some((_, members, _)) = self.groups.iter().find(|(g, ..)| g == group) {
            return Some(members.clone());
        }
        let earlier: Vec<&str> = self.groups.iter().map(|(g, ..)| g.as_str()).collect();
        let (message, help) = if own.is_some_and(|(n, _)| n == group) {
            (
                format!("thread `{}` cannot start after itself", shown(group)),
                "name threads declared above this one".to_string(),
            )
        } else {
            let help = match nearest(group, &earlier) {
                Some(near) => format!("did you mean after={near}?"),
                None if earlier.is_empty() => {
                    "`after=` names threads declared above this one; there are none".to_string()
                }
                None => format!(
                    "`after=` names threads declared above this one: {}",
                    earlier.join(", ")
                ),
            };
            (
                format!("no thread group `{}` declared above", shown(group)),
                with_disguise(help, group),
            )
        };
        self.push(
            Problem::new("scenario::undeclared", message)
                .at(span, "not an earlier thread")
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
                                    format!(
                                        "`blocking=` is #true or #false, not {}",
                                        value_kind(other)
                                    ),
                                )
                                .at(span_of(e.span()), "not #true or #false")
                                .help("write sleep \"1s\" blocking=#true for a call that does not await"),
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
                            format!("{what} needs a duration"),
                        )
                        .at(span, "how long?")
                        .help(format!("write it like this: {keyword} \"100ms\"")),
                    );
                    return None;
                };
                for extra in &args[1..] {
                    self.push(
                        Problem::new(
                            "scenario::extra-argument",
                            format!("{what} takes one duration"),
                        )
                        .at(span_of(extra.span()), "extra argument")
                        .help(format!("write one step per duration: {keyword} \"100ms\"")),
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
                            Problem::new("scenario::missing-argument", "`repeat` needs a count")
                                .at(span, "how many times?")
                                .help("write it like this: repeat 3 { work \"100ms\" }"),
                        );
                        None
                    }
                    [first, rest @ ..] => {
                        for extra in rest {
                            self.push(
                                Problem::new(
                                    "scenario::extra-argument",
                                    "`repeat` takes one count",
                                )
                                .at(span_of(extra.span()), "extra argument")
                                .help("write it like this: repeat 3 { work \"100ms\" }"),
                            );
                        }
                        self.int_prop(
                            first,
                            "repeat",
                            1,
                            MAX_REPEAT,
                            "longer loops would run for hours",
                        )
                    }
                };
                let body = match node.children() {
                    Some(b) if !b.nodes().is_empty() => self.block(b),
                    _ => {
                        self.push(
                            Problem::new("scenario::no-steps", "`repeat` has no steps to repeat")
                                .at(span, "empty")
                                .help("put the steps in a block: repeat 3 { work \"100ms\" }"),
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
                        format!("{keyword}s cannot be nested"),
                    )
                    .at(span, "inside another thread or task")
                    .help(format!(
                        "declare every {keyword} at the top level of the file"
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
                        format!("`{other}` belongs at the top level"),
                    )
                    .at(span, "inside a thread")
                    .help(format!(
                        "move `{}` out of the thread, above it",
                        node_text(self.src, node)
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
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the steps are: {}", steps.join(", ")),
                };
                self.push(
                    Problem::new(
                        "scenario::unknown-step",
                        format!("unknown step `{}`", shown(other)),
                    )
                    .at(span, "not a step")
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
                            article(kind_name(&kind)),
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
                            article(kind_name(&kind)),
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
                            format!("`{key}=` needs `timeout=`"),
                        )
                        .at(span_of(e.span()), "backs off after what?")
                        .help(format!("a lock backs off only after giving up: lock A timeout=\"30ms\" {example}")),
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
                    format!(
                        "`timeout=` works on a mutex, not {} {}",
                        article(kind_name(&kind)),
                        kind_name(&kind)
                    ),
                )
                .at(span_of(timeout.span()), "not for this lock")
                .also(self.resource_spans[r as usize], "declared here")
                .help("declare it as a mutex, or drop the timeout"),
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
                    Some(near) => format!("did you mean prefer=\"{near}\"?"),
                    None if s.starts_with("writer") => "the default, prefer=\"arrival\", already lets a waiting writer in before readers that come later; leave prefer= out".to_string(),
                    None => "prefer=\"readers\" lets readers in past a waiting writer; prefer=\"arrival\" (the default) serves threads in the order they came".to_string(),
                },
            ),
            other => (
                value_kind(other).to_string(),
                "write it in quotes: prefer=\"readers\"".to_string(),
            ),
        };
        self.push(
            Problem::new(
                "scenario::bad-value",
                format!("`prefer=` must be \"readers\" or \"arrival\", not {what}"),
            )
            .at(span, "not a choice")
            .help(help),
        );
        None
    }

    /// A yes-or-no property, written the KDL way: `jitter=#false`.
    fn bool_value(&mut self, entry: &KdlEntry, key: &str) -> Option<bool> {
        let help = match entry.value() {
            KdlValue::Bool(b) => return Some(*b),
            KdlValue::String(s) if ["true", "false"].contains(&s.trim()) => {
                format!("write it without quotes, with a #: {key}=#{}", s.trim())
            }
            _ => format!("write {key}=#true or {key}=#false"),
        };
        self.push(
            Problem::new(
                "scenario::bad-value",
                format!(
                    "`{key}=` must be #true or #false, not {}",
                    value_kind(entry.value())
                ),
            )
            .at(span_of(entry.span()), "not #true or #false")
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
                    format!(
                        "`{keyword}` needs the name of {} {kind_word}",
                        article(kind_word)
                    ),
                )
                .at(span, format!("{keyword} what?"))
                .help(format!("write it like this: {keyword} A")),
            );
            return None;
        };
        for extra in &args[1..] {
            self.push(
                Problem::new(
                    "scenario::extra-argument",
                    format!("`{keyword}` takes one resource"),
                )
                .at(span_of(extra.span()), "extra argument")
                .help(format!(
                    "one resource per step: write `{keyword}` again on the next line"
                )),
            );
        }
        let arg_span = span_of(first.span());
        let Some(name) = first.value().as_string() else {
            self.push(
                Problem::new(
                    "scenario::bad-reference",
                    format!(
                        "`{keyword}` needs a resource name, not {}",
                        value_kind(first.value())
                    ),
                )
                .at(arg_span, "not a name")
                .help(format!("write it like this: {keyword} A")),
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
                .filter(|r| r.kind.keyword() == kind_word)
                .map(|r| r.name.as_str())
                .collect();
            let all: Vec<&str> = self.resources.iter().map(|r| r.name.as_str()).collect();
            let help = match nearest(name, &fitting).or_else(|| nearest(name, &all)) {
                Some(near) => format!("did you mean `{keyword} {near}`?"),
                None => format!(
                    "declare it at the top level: {kind_word} {}{props}",
                    shown(name)
                ),
            };
            self.push(
                Problem::new(
                    "scenario::undeclared",
                    format!("`{}` is not declared", shown(name)),
                )
                .at(arg_span, "no such resource")
                .help(with_disguise(help, name)),
            );
            return None;
        };
        let r = i as ResIdx;
        let kind = self.resources[i].kind;
        let spec = kinds::by_keyword(kind.keyword());
        if spec.is_some_and(|k| k.steps.contains(&keyword)) {
            return kinds::op(keyword, r);
        }
        let decl = self.resource_spans[i];
        let actual = kind_name(&kind);
        let help = match spec.and_then(|k| k.fitting(keyword)) {
            Some(step) => format!(
                "`{keyword}` works on {} {kind_word}; for {} {actual} write `{step} {name}`",
                article(kind_word),
                article(actual)
            ),
            None => spec.map_or_else(String::new, |k| k.stepless(name)),
        };
        self.push(
            Problem::new(
                "scenario::wrong-kind",
                format!(
                    "cannot `{keyword}` `{name}`: it is {} {actual}",
                    article(actual)
                ),
            )
            .at(arg_span, format!("{} {actual}", article(actual)))
            .also(
                decl,
                format!("declared as {} {actual} here", article(actual)),
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

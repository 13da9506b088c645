//! `threadlab trace script.py [ARGS…]`: a real Python program run under the tracer, its
//! threads, tasks and processes drawn as lanes, headless like `run` or in the terminal.
//!
//! Exit codes: the script's own when it ends by itself (0, 1 for an uncaught exception,
//! `sys.exit(n)`'s n, 128+N for signal N: said on stderr too), 2 usage (no script, no
//! Python 3.8+), 3 deadlock (the interpreter is killed), 4 `--for` ran out (killed too).

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::cli::TraceArgs;
use crate::console::errln;
use crate::error::Error;
use crate::headless::Report;
use crate::scenario::model::ThreadIdx;
use crate::trace::summary::{RunEnd, SummaryBuilder};
use crate::trace::timeline::Trace;
use crate::ui::theme::Theme;
use crate::vocab::event::EventRecord;
use crate::vocab::outcome::{Exit, Outcome};
use crate::watch::child::{self, Output, Spawn};
use crate::watch::{End, Traced, Tracing};

pub fn run(args: &TraceArgs, theme: Theme) -> Result<Exit, Error> {
    check_script(&args.script)?;
    check_outputs(args)?;
    let headless = args.headless || args.json || !std::io::stdout().is_terminal();
    if !headless {
        return live(args, theme);
    }
    let output = match (&args.output, args.json) {
        (Some(path), _) => Output::File(path.clone()),
        // stdout carries the JSON summary alone.
        (None, true) => Output::Stderr,
        (None, false) => Output::Inherit,
    };
    if let Some(path) = &args.record {
        // Fail before running, not after, when the file cannot be written at all.
        crate::files::create(path, &[args.script.as_path()]).map_err(|e| {
            let help = e.help.as_deref().unwrap_or_default();
            crate::vocab::recording::recording_error(
                rust_i18n::t!("errors.write_recording", why = e),
                help,
            )
        })?;
    }
    crate::children::kill_children_on_signals();
    let traced = execute(&args_to_spawn(args, output, false), args.for_).map_err(start_error)?;
    if let Some(path) = &args.events
        && let Err(e) = write_events(path, &traced)
    {
        return Err(Error::new(
            "file::io",
            format!("cannot write the events file {}: {e}", path.display()),
        ));
    }
    let report = report(&traced);
    let saved = match &args.record {
        Some(path) => crate::vocab::recording::Recording::from_report(&report, 1.0)
            .and_then(|rec| rec.save(path, &[args.script.as_path()])),
        None => Ok(()),
    };
    say_where_stuck(&traced, &args.script);
    if outcome_of(&traced) == Outcome::Failed
        && let Some(words) = script_end_words(&traced, &args.script)
    {
        errln(&words);
    }
    // The report is printed even when the recording could not be saved.
    let ended = super::print_report(&report, args.json, theme.glyphs.ascii)?;
    saved.map(|()| program_exit(ended, &traced))
}

/// A program that failed by itself exits as it would have without threadlab: its own status
/// (`sys.exit(7)` is 7), or 128+N for signal N as a shell says it. Deadlocks and `--for`,
/// where threadlab killed the program, keep their own codes.
fn program_exit(ended: Exit, traced: &Traced) -> Exit {
    match (ended, traced.end) {
        (
            Exit::Run(Outcome::Failed),
            Some(End::Exited {
                code: Some(c),
                signal: _,
            }),
        ) => Exit::Program(c.clamp(0, 255) as u8),
        (
            Exit::Run(Outcome::Failed),
            Some(End::Exited {
                code: None,
                signal: Some(s),
            }),
        ) => Exit::Signal(s.clamp(0, 127) as u8),
        (ended, _) => ended,
    }
}

/// The script must be a readable file; a `.kdl` scenario is `run`'s.
fn check_script(path: &Path) -> Result<(), Error> {
    let refused = |message: String| {
        Error::new("trace::script", message).help(rust_i18n::t!("replay_truth.python.script_help"))
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(refused(
            rust_i18n::t!("replay_truth.python.not_a_file", path = path.display()).into_owned(),
        )),
        Err(e) => Err(refused(
            rust_i18n::t!(
                "replay_truth.python.read_script",
                path = path.display(),
                why = e
            )
            .into_owned(),
        )),
    }
}

/// Every file the run writes is neither the script (which `--output` would empty before
/// python3 ever read it) nor another of them.
fn check_outputs(args: &TraceArgs) -> Result<(), Error> {
    let outputs: Vec<(&str, &Path)> = [
        ("--output", &args.output),
        ("--events", &args.events),
        ("--record", &args.record),
    ]
    .into_iter()
    .filter_map(|(flag, path)| path.as_deref().map(|p| (flag, p)))
    .collect();
    for (i, &(flag, path)) in outputs.iter().enumerate() {
        if crate::files::same_file(path, &args.script) {
            return Err(crate::files::would_overwrite(path, &args.script));
        }
        if let Some(&(other, _)) = outputs[i + 1..]
            .iter()
            .find(|(_, p)| crate::files::same_file(path, p))
        {
            return Err(Error::new(
                "usage::same-output",
                rust_i18n::t!(
                    "abuse.same_outputs",
                    first = flag,
                    second = other,
                    path = path.display()
                ),
            )
            .help(rust_i18n::t!("errors.same_output_help")));
        }
    }
    Ok(())
}

/// Why the interpreter could not be started (no python3, too old, no pipe).
fn start_error(e: child::StartError) -> Error {
    Error::new("trace::start", e.message).help(e.help)
}

/// The program to start; `paused` only for the terminal view (headless, nobody could let it go).
fn args_to_spawn(args: &TraceArgs, output: Output, paused: bool) -> Spawn {
    Spawn {
        script: args.script.clone(),
        args: args.args.clone(),
        output,
        paused,
    }
}

/// Runs the script under the tracer to its end.
pub fn execute(
    spec: &Spawn,
    for_: Option<std::time::Duration>,
) -> Result<Traced, child::StartError> {
    let mut tracing = Tracing::start(spec, for_)?;
    tracing.run_to_end();
    Ok(tracing.into_parts())
}

/// How the run ended, as `run` says it.
pub fn outcome_of(traced: &Traced) -> Outcome {
    match traced.end {
        Some(End::Deadlock) => Outcome::Deadlock,
        Some(End::TimeUp) | None => Outcome::Timeout,
        Some(End::Exited {
            code: Some(0),
            signal: None,
        }) => Outcome::Completed,
        Some(End::Exited { .. }) => Outcome::Failed,
    }
}

/// "error: x.py exited with status 1 (ValueError: bad)".
fn script_end_words(traced: &Traced, script: &Path) -> Option<String> {
    let Some(End::Exited { code, signal }) = traced.end else {
        return None;
    };
    let how = match (code, signal) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was ended by signal {s}"),
        (None, None) => "ended".to_string(),
    };
    let why = traced
        .failures
        .iter()
        .flatten()
        .next()
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    Some(format!("error: {} {how}{why}", script.display()))
}

/// The report `run` would print for a scenario that did what the program did.
pub fn report(traced: &Traced) -> Report {
    let scenario = traced.scenario.clone();
    let mut events = traced.events.clone();
    events.sort_by_key(|e| e.t_ns);
    let mut trace = Trace::new(scenario.clone());
    trace.push(&events);
    let mut summary = SummaryBuilder::new(scenario);
    summary.extend(&events);
    let outcome = outcome_of(traced);
    let end_ns = traced.end_ns.max(trace.end_ns());
    for (t, f) in traced.failures.iter().enumerate() {
        if let Some(f) = f {
            trace.note_failure(t as ThreadIdx, f.clone());
        }
    }
    let mut warnings = Vec::new();
    if traced.skipped > 0 {
        warnings.push(format!(
            "{} tracer records were not drawn (more threads than a run shows)",
            traced.skipped
        ));
    }
    let summary = summary.finish(&RunEnd {
        run_time_ns: end_ns,
        outcome: Some(outcome),
        deadlock: traced.deadlock.clone(),
        failures: traced.failures.clone(),
        dropped_events: 0,
    });
    Report {
        outcome,
        summary,
        trace,
        end_ns,
        recorded_events: events.len() as u64,
        warnings,
        errors: Vec::new(),
    }
}

fn write_events(path: &PathBuf, traced: &Traced) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let mut events = traced.events.clone();
    events.sort_by_key(|e| e.t_ns);
    for e in &events {
        let rec = EventRecord::new(e, &traced.scenario);
        serde_json::to_writer(&mut out, &rec)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// In a terminal: the program's run view, live; its output is kept in a file (never drawn
/// over the view) and printed once the view closes.
fn live(args: &TraceArgs, theme: Theme) -> Result<Exit, Error> {
    let kept = args.output.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("threadlab-trace-output-{}.txt", std::process::id()))
    });
    let exit = crate::ui::run_trace(
        args_to_spawn(args, Output::File(kept.clone()), args.paused),
        args.for_,
        args.record.clone(),
        theme,
    );
    if args.output.is_none() {
        if let Ok(text) = std::fs::read(&kept) {
            std::io::stdout().write_all(&text).ok();
        }
        std::fs::remove_file(&kept).ok();
    }
    exit
}

/// "deadlock: left is stuck at deadlock.py:13", one line per stuck lane, on stderr; when
/// threadlab stopped the program, each lane it left waiting for the world outside, which no
/// deadlock is made of.
fn say_where_stuck(traced: &Traced, script: &Path) {
    let at = |line: Option<u32>| match line {
        Some(l) => format!("{}:{l}", script.display()),
        None => script.display().to_string(),
    };
    for (thread, line) in traced.stuck_at() {
        errln(&rust_i18n::t!(
            "trace.stuck_at",
            thread = thread,
            at = at(line)
        ));
    }
    if !matches!(traced.end, Some(End::TimeUp | End::Deadlock)) {
        return;
    }
    for (t, what) in &traced.outside {
        let (thread, line) = traced.lane_at(*t);
        errln(&rust_i18n::t!(
            "trace_waits.outside_at",
            thread = thread,
            at = at(line),
            what = what
        ));
    }
}

/// Whether `path` names a Python script (`threadlab FILE.py`, `export FILE.py`).
pub fn is_script(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "py")
}

/// A traced run of `script` as a recording in memory, for `export` (Chrome trace, SVG); the
/// script's own output goes to stderr, as stdout may carry the export.
pub fn recording(
    script: &Path,
    for_: Option<std::time::Duration>,
) -> Result<crate::vocab::recording::Recording, Error> {
    check_script(script)?;
    crate::children::kill_children_on_signals();
    let spec = Spawn {
        script: script.to_path_buf(),
        args: Vec::new(),
        output: Output::Stderr,
        paused: false,
    };
    let traced = execute(&spec, for_).map_err(start_error)?;
    say_where_stuck(&traced, script);
    let report = report(&traced);
    crate::vocab::recording::Recording::from_report(&report, 1.0)
}

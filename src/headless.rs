//! Headless runs: `threadlab run SCENARIO --headless`, and what runs when stdout is not a
//! terminal. Runs the scenario on the real engine, optionally forcing an interleaving first
//! (`--schedule`), records everything, and prints a text timeline and summary (or the summary
//! as one JSON object with `--json`). Plain text only: never an escape code.
//!
//! Exit codes: 0 completed, 1 a thread failed, 2 usage or scenario error, 3 deadlock, 4 timeout.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Phase, Run, RunOptions};
use crate::scenario::model::{Scenario, ThreadIdx};
use crate::trace::order::Reorder;
use crate::trace::summary::{RunEnd, Summary, SummaryBuilder};
use crate::trace::text::{self, TextOptions};
use crate::trace::timeline::Trace;
use crate::vocab::deadlock::{Blame, Deadlock, WaitEdge};
use crate::vocab::event::{Event, EventRecord};
use crate::vocab::outcome::Outcome;
use crate::vocab::recording::{Recording, RecordingError};

/// How long one wait for events lasts before the loop looks at the run again.
const POLL: Duration = Duration::from_millis(20);

/// What run to make: the plain options the command line's `run` and `export` turn their
/// arguments into.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// The scenario as it was named (a built-in name or a path): an events file may not
    /// overwrite the file it names.
    pub scenario: String,
    /// Stop after this much run time; the outcome is then `timeout`.
    pub for_: Option<Duration>,
    /// Start paused, step these threads in this order (one step each), then run freely.
    pub schedule: Vec<String>,
    /// From 0.1 to 4; stretches every timed step.
    pub speed: f64,
    /// Write every event as JSON Lines to this file.
    pub events: Option<PathBuf>,
}

impl Default for RunPlan {
    fn default() -> RunPlan {
        RunPlan {
            scenario: String::new(),
            for_: None,
            schedule: Vec::new(),
            speed: 1.0,
            events: None,
        }
    }
}

/// How the report is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Plain ASCII glyphs (`--ascii`).
    pub ascii: bool,
    /// Lane width in cells.
    pub width: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ascii: false,
            width: 72,
        }
    }
}

/// Everything a finished headless run produced.
#[derive(Debug)]
pub struct Report {
    pub outcome: Outcome,
    pub summary: Summary,
    pub trace: Trace,
    /// Run time the report covers.
    pub end_ns: u64,
    /// Every event the run's threads recorded: each one is in `trace` or counted in the
    /// summary's dropped events.
    pub recorded_events: u64,
    /// Problems worth a line on stderr that do not change the outcome (dropped events).
    pub warnings: Vec<String>,
    /// Outputs that were asked for and could not be written (the events file): the run is
    /// still reported, but the command fails (exit 2).
    pub errors: Vec<String>,
}

/// A mistake in how the run was asked for (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    pub message: String,
    pub help: Option<String>,
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The text report: timeline, legend and summary in words.
pub fn render(report: &Report, options: &Options) -> String {
    let opts = TextOptions {
        width: options.width,
        ascii: options.ascii,
    };
    text::render(&report.trace, &report.summary, report.end_ns, &opts)
}

/// Resolves `--schedule` names to threads, with a pointed error for a name that is not there.
pub fn resolve_schedule(
    scenario: &Scenario,
    names: &[String],
) -> Result<Vec<ThreadIdx>, UsageError> {
    names
        .iter()
        .map(|name| {
            let name = name.trim();
            scenario.thread_index(name).ok_or_else(|| {
                let all: Vec<&str> = scenario.threads.iter().map(|t| t.name.as_str()).collect();
                // Thread names are short (T1, T2): two edits away is still a likely typo. A
                // name far longer than any thread's is not measured at all.
                let typed = crate::scenario::plain(name);
                let nearest = all
                    .iter()
                    .filter(|t| t.len().abs_diff(typed.len()) <= 2)
                    .map(|t| (strsim::levenshtein(&typed, t), *t))
                    .min()
                    .filter(|(d, _)| *d <= 2)
                    .map(|(_, t)| format!("did you mean `{t}`? "))
                    .unwrap_or_default();
                UsageError {
                    message: format!(
                        "--schedule names `{}`, which is not a thread of {}",
                        crate::scenario::shown(name),
                        scenario.name
                    ),
                    help: Some(crate::scenario::with_disguise(
                        format!("{nearest}the threads are: {}", all.join(", ")),
                        name,
                    )),
                }
            })
        })
        .collect()
}

/// Runs the scenario and gathers the report, without printing anything.
pub fn execute(scenario: Arc<Scenario>, args: &RunPlan) -> Result<Report, UsageError> {
    let schedule = resolve_schedule(&scenario, &args.schedule)?;
    let mut events_file = match &args.events {
        Some(path) => Some(EventsFile::create(
            path,
            crate::scenario::input_file(&args.scenario),
        )?),
        None => None,
    };

    let mut run = Run::start(
        scenario.clone(),
        RunOptions {
            speed: args.speed,
            start_paused: !schedule.is_empty(),
        },
    );
    let mut rec = Sink::new(scenario.clone());
    let limit_ns = args.for_.map(|d| d.as_nanos().min(u64::MAX as u128) as u64);

    // The longest a single step can take at this speed, plus room for a busy machine.
    let longest = scenario
        .threads
        .iter()
        .flat_map(|t| &t.steps)
        .filter_map(|s| s.op.duration())
        .max()
        .unwrap_or_default();
    let step_bound = longest.div_f64(args.speed.clamp(0.1, 4.0)) + Duration::from_secs(5);

    let mut buf = Vec::new();
    for (i, (&t, name)) in schedule.iter().zip(&args.schedule).enumerate() {
        if run.phase() == Phase::Deadlock {
            break;
        }
        if let Err(e) = run.step(t) {
            if run.phase() == Phase::Deadlock {
                break;
            }
            return Err(UsageError {
                message: format!(
                    "--schedule step {} ({}) cannot be taken: {e}",
                    i + 1,
                    name.trim()
                ),
                help: Some(
                    "a schedule steps threads one step each, in order; a blocked or finished \
                     thread cannot take a step"
                        .into(),
                ),
            });
        }
        let done = run.wait_step_done(step_bound);
        run.drain_events(&mut buf);
        rec.absorb(&mut buf, events_file.as_mut());
        if !done {
            return Err(UsageError {
                message: format!(
                    "--schedule step {} ({}) did not end within {:.1}s",
                    i + 1,
                    name.trim(),
                    step_bound.as_secs_f64()
                ),
                help: None,
            });
        }
    }
    if run.phase() != Phase::Deadlock {
        run.resume();
    }

    loop {
        run.wait_events(&mut buf, POLL);
        rec.absorb(&mut buf, events_file.as_mut());
        if run.is_finished() || run.phase() == Phase::Deadlock {
            break;
        }
        if limit_ns.is_some_and(|limit| run.now_ns() >= limit) {
            break;
        }
    }

    // Run time stops where this loop stopped watching; then every thread is joined, so every
    // event it recorded is drained below (or was counted as dropped), and how the run ended
    // is read from threads that can no longer move.
    run.pause();
    let now = run.now_ns();
    run.end();
    run.drain_events(&mut buf);
    rec.absorb(&mut buf, events_file.as_mut());
    let finished = run.is_finished();
    let deadlock = run.deadlock();
    let failures: Vec<Option<String>> = (0..scenario.threads.len())
        .map(|t| run.failure(t as ThreadIdx))
        .collect();
    let dropped = run.dropped_events();
    let recorded_events = run.recorded_events();
    drop(run);

    let any_failed = failures.iter().any(Option::is_some);
    let outcome = Outcome::decide(any_failed, deadlock.is_some(), finished);
    // A finished run ended with its last event, not when this loop noticed.
    let end_ns = if finished {
        rec.trace.end_ns()
    } else {
        now.max(rec.trace.end_ns())
    };
    for (t, reason) in failures.iter().enumerate() {
        if let Some(reason) = reason {
            rec.trace.note_failure(t as ThreadIdx, reason.clone());
        }
    }

    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    if let Some(file) = events_file.as_mut() {
        while let Some(e) = rec.reorder.pop_any() {
            file.write(&e, &scenario);
        }
        if let Some(problem) = file.finish() {
            errors.push(problem);
        }
    }
    if dropped > 0 {
        warnings.push(format!(
            "the recorder had to drop {dropped} events; figures may be incomplete"
        ));
    }
    let summary = rec.summary.finish(&RunEnd {
        run_time_ns: end_ns,
        outcome: Some(outcome),
        deadlock,
        failures,
        dropped_events: dropped,
    });
    Ok(Report {
        outcome,
        summary,
        trace: rec.trace,
        end_ns,
        recorded_events,
        warnings,
        errors,
    })
}

/// Where drained events go: the timeline, the summary, and (in time order) the events file.
struct Sink {
    trace: Trace,
    summary: SummaryBuilder,
    reorder: Reorder,
}

impl Sink {
    fn new(scenario: Arc<Scenario>) -> Sink {
        Sink {
            trace: Trace::new(scenario.clone()),
            summary: SummaryBuilder::new(scenario),
            reorder: Reorder::default(),
        }
    }

    fn absorb(&mut self, buf: &mut Vec<Event>, file: Option<&mut EventsFile>) {
        if buf.is_empty() {
            return;
        }
        self.trace.push(buf);
        self.summary.extend(buf);
        if let Some(file) = file {
            self.reorder.extend(buf);
            while let Some(e) = self.reorder.pop_ready() {
                file.write(&e, self.trace.scenario());
            }
        }
        buf.clear();
    }
}

/// `--events FILE`: one JSON object per line, in time order.
struct EventsFile {
    path: String,
    out: BufWriter<File>,
    error: Option<std::io::Error>,
}

impl EventsFile {
    /// Opens `path` for the events, refusing it if it is the scenario file being run.
    fn create(path: &Path, input: Option<&Path>) -> Result<EventsFile, UsageError> {
        let inputs: Vec<&Path> = input.into_iter().collect();
        let file = crate::files::create(path, &inputs).map_err(|e| UsageError {
            message: format!("cannot write the events file: {e}"),
            help: Some(e.help().to_string()),
        })?;
        Ok(EventsFile {
            path: path.display().to_string(),
            out: BufWriter::new(file),
            error: None,
        })
    }

    fn write(&mut self, e: &Event, scenario: &Scenario) {
        if self.error.is_some() {
            return;
        }
        let record = EventRecord::new(e, scenario);
        let result = serde_json::to_writer(&mut self.out, &record)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(err) = result {
            self.error = Some(err);
        }
    }

    /// Flushes; a problem writing is returned, to fail the command (the run itself is still
    /// reported).
    fn finish(&mut self) -> Option<String> {
        if self.error.is_none()
            && let Err(err) = self.out.flush()
        {
            self.error = Some(err);
        }
        self.error
            .as_ref()
            .map(|err| format!("writing the events file {} failed: {err}", self.path))
    }
}

impl Recording {
    /// A recording of a finished headless run. Fails if the run outgrew the trace's exact
    /// event log (the recording would not be exact).
    pub fn from_report(report: &Report, speed: f64) -> Result<Recording, RecordingError> {
        let scenario = report.trace.scenario();
        let deadlock = report.summary.deadlock.as_ref().map(|d| {
            let idx = |name: &str| scenario.thread_index(name);
            Deadlock {
                cycle: d
                    .cycle
                    .iter()
                    .filter_map(|e| {
                        let by = match e.by.as_deref() {
                            Some(b) => Some(idx(b)?),
                            None => None,
                        };
                        Some(WaitEdge {
                            thread: idx(&e.thread)?,
                            resource: scenario.resource_index(&e.waits_for)?,
                            blame: Blame::from_name(e.blame, by)?,
                        })
                    })
                    .collect(),
                stuck: d.stuck.iter().filter_map(|t| idx(t)).collect(),
            }
        });
        Recording::from_trace(
            &report.trace,
            report.end_ns,
            Some(report.outcome),
            deadlock,
            report.summary.events_dropped,
            speed,
        )
    }

    /// The same report a headless run of it printed.
    pub fn report(&self) -> Report {
        let summary = self.summary();
        Report {
            outcome: self.outcome.unwrap_or(Outcome::Timeout),
            summary,
            trace: self.trace(),
            end_ns: self.end_ns,
            recorded_events: self.events.len() as u64 + self.dropped_events,
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }
}

//! Headless runs: `threadlab run SCENARIO --headless`, and what runs when stdout is not a
//! terminal. Runs the scenario on the real engine, optionally forcing an interleaving first
//! (`--schedule`), records everything, and prints a text timeline and summary (or the summary
//! as one JSON object with `--json`). Plain text only: never an escape code.
//!
//! Exit codes: 0 completed, 1 a thread failed, 2 usage or scenario error, 3 deadlock, 4 timeout.

use std::sync::Arc;
use std::time::Duration;

use crate::console::errln;
use crate::engine::Phase;
use crate::error::Error;
use crate::scenario::model::{Scenario, ThreadIdx};
pub use crate::session::RunPlan;
use crate::session::{Session, stopped_news};
use crate::trace::machine;
use crate::trace::summary::{RunEnd, Summary, SummaryBuilder};
use crate::trace::text::{self, TextOptions};
use crate::trace::timeline::Trace;
use crate::vocab::event::Event;
use crate::vocab::outcome::Outcome;
use crate::vocab::recording::Recording;

/// How long one wait for events lasts before the loop looks at the run again.
const POLL: Duration = Duration::from_millis(20);

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
    pub errors: Vec<Error>,
}

/// The text report: timeline, legend and summary in words.
pub fn render(report: &Report, options: &Options) -> String {
    let opts = TextOptions {
        width: options.width,
        ascii: options.ascii,
    };
    text::render(&report.trace, &report.summary, report.end_ns, &opts)
}

/// Runs the scenario and gathers the report. It prints nothing, but for one line on stderr
/// each time a child process is stopped by a signal or continued (`stopped_news`).
pub fn execute(scenario: Arc<Scenario>, plan: &RunPlan) -> Result<Report, Error> {
    let machine_at_start = machine::sample();
    // A SIGTERM, SIGHUP or Ctrl-C ends the run's child processes with threadlab.
    if !scenario.processes.is_empty() {
        crate::children::kill_children_on_signals();
    }
    let mut session = Session::start(scenario.clone(), plan, false)?;
    let mut rec = Sink::new(scenario.clone());
    let mut buf = Vec::new();
    while session.advance_schedule(true)? {
        session.drain(&mut buf);
        rec.absorb(&mut buf);
    }
    let mut stopped = Vec::new();
    loop {
        session.wait(&mut buf, POLL);
        rec.absorb(&mut buf);
        let Some(run) = session.run() else { break };
        let now = run.stopped_processes();
        for line in stopped_news(&scenario, &stopped, &now) {
            errln(&line);
        }
        stopped = now;
        if run.is_finished() || run.phase() == Phase::Deadlock {
            break;
        }
        if session.time_up(run.now_ns()).is_some() {
            break;
        }
    }

    // Run time stops where this loop stopped watching; then every thread is joined, so every
    // event it recorded is drained below (or was counted as dropped), and how the run ended
    // is read from threads that can no longer move.
    let footprint = session.run().map(|r| r.footprint());
    let now = session.stop().unwrap_or_default();
    let machine = machine_at_start.until(&machine::sample(), &scenario);
    session.drain(&mut buf);
    rec.absorb(&mut buf);
    let Some(ended) = session.close() else {
        unreachable!("a started session has a run until it is closed")
    };
    let outcome = ended.outcome();
    // A finished run ended with its last event, not when this loop noticed.
    let end_ns = if ended.finished {
        rec.trace.end_ns()
    } else {
        now.max(rec.trace.end_ns())
    };
    for (t, reason) in ended.failures.iter().enumerate() {
        if let Some(reason) = reason {
            rec.trace.note_failure(t as ThreadIdx, reason.clone());
        }
    }

    let mut warnings: Vec<String> = stopped
        .iter()
        .map(|&(p, pid)| {
            rust_i18n::t!(
                "twins.stopped_at_end",
                process = scenario.processes[p as usize].name,
                pid = pid
            )
            .into_owned()
        })
        .collect();
    let errors: Vec<Error> = session.finish().into_iter().collect();
    let dropped = ended.dropped_events;
    if dropped > 0 {
        warnings.push(rust_i18n::t!("classroom.warning.dropped", count = dropped).into_owned());
    }
    let mut summary = rec.summary.finish(&RunEnd {
        run_time_ns: end_ns,
        outcome: Some(outcome),
        deadlock: ended.deadlock,
        failures: ended.failures,
        dropped_events: dropped,
    });
    summary.machine = Some(machine);
    summary.footprint = footprint.filter(|f| f.threads.is_some() && f.tasks.is_some());
    Ok(Report {
        outcome,
        summary,
        trace: rec.trace,
        end_ns,
        recorded_events: ended.recorded_events,
        warnings,
        errors,
    })
}

/// Where drained events go: the timeline and the summary.
struct Sink {
    trace: Trace,
    summary: SummaryBuilder,
}

impl Sink {
    fn new(scenario: Arc<Scenario>) -> Sink {
        Sink {
            trace: Trace::new(scenario.clone()),
            summary: SummaryBuilder::new(scenario),
        }
    }

    fn absorb(&mut self, buf: &mut Vec<Event>) {
        if buf.is_empty() {
            return;
        }
        self.trace.push(buf);
        self.summary.extend(buf);
        buf.clear();
    }
}

impl Recording {
    /// A recording of a finished headless run. Fails if the run outgrew the trace's exact
    /// event log (the recording would not be exact).
    pub fn from_report(report: &Report, speed: f64) -> Result<Recording, Error> {
        let scenario = report.trace.scenario();
        let deadlock = report
            .summary
            .deadlock
            .as_ref()
            .map(|d| d.deadlock(scenario));
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
            recorded_events: (self.events.len() as u64).saturating_add(self.dropped_events),
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }
}

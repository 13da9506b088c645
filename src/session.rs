//! One run as a command drives it, whoever shows it: the headless report and the live view
//! both start their run here from a [`RunPlan`], step `--schedule` through it, stop it at
//! `--for`, end it (pause, end, drain) and write `--events`, so the two cannot drift apart.

use rust_i18n::t;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Breakpoint, Phase, Run, RunOptions};
use crate::error::Error;
use crate::scenario::model::{ProcIdx, Scenario, ThreadIdx};
use crate::trace::order::Reorder;
use crate::vocab::deadlock::Deadlock;
use crate::vocab::event::{Event, EventKind, EventRecord};
use crate::vocab::outcome::Outcome;

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
    /// `--break-on`: pause when one of these happens (see [`resolve_breakpoint`]).
    pub breaks: Vec<String>,
    /// `--quiz`: pause before each hand-over with several waiters, and again after it.
    pub quiz: bool,
}

impl Default for RunPlan {
    fn default() -> RunPlan {
        RunPlan {
            scenario: String::new(),
            for_: None,
            schedule: Vec::new(),
            speed: 1.0,
            events: None,
            breaks: Vec::new(),
            quiz: false,
        }
    }
}

/// Resolves `--schedule` names to threads, with a pointed error for a name that is not there.
pub fn resolve_schedule(scenario: &Scenario, names: &[String]) -> Result<Vec<ThreadIdx>, Error> {
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
                    .map(|(_, t)| t!("classroom.session.did_you_mean", name = t).into_owned())
                    .unwrap_or_default();
                Error::new(
                    "schedule::unknown-thread",
                    t!(
                        "classroom.session.not_a_thread",
                        name = crate::scenario::shown(name),
                        scenario = scenario.name
                    ),
                )
                .help(crate::scenario::with_disguise(
                    t!(
                        "classroom.session.the_threads_are",
                        nearest = nearest,
                        all = all.join(", ")
                    )
                    .into_owned(),
                    name,
                ))
            })
        })
        .collect()
}

/// Reads one `--break-on`: `T2` (the thread changes state), `T2:block` (it records that kind
/// of event), `B` (the resource changes hands), `line:12` (a thread reaches a step on line 12);
/// `thread:X` and `resource:X` say which is meant when a thread and a resource share a name.
pub fn resolve_breakpoint(scenario: &Scenario, spec: &str) -> Result<Breakpoint, Error> {
    let spec = spec.trim();
    let wrong = |message: String, help: String| {
        Error::new(
            "usage::break-on",
            t!(
                "errors.break_on",
                spec = crate::scenario::shown(spec),
                why = message
            ),
        )
        .help(help)
    };
    let threads: Vec<&str> = scenario.threads.iter().map(|t| t.name.as_str()).collect();
    let resources: Vec<&str> = scenario.resources.iter().map(|r| r.name.as_str()).collect();
    let names = || {
        t!(
            "errors.break_names",
            threads = threads.join(", "),
            resources = if resources.is_empty() {
                t!("errors.none").into_owned()
            } else {
                resources.join(", ")
            }
        )
        .into_owned()
    };
    let (prefix, rest) = match spec.split_once(':') {
        Some((p @ ("line" | "thread" | "resource"), rest)) => (Some(p), rest.trim()),
        _ => (None, spec),
    };
    if prefix == Some("line") {
        let line: u32 = rest.parse().map_err(|_| {
            wrong(
                t!("errors.break_line_number").into_owned(),
                t!("errors.break_line_help").into_owned(),
            )
        })?;
        let has_step = scenario
            .threads
            .iter()
            .any(|t| t.steps.iter().any(|s| s.line == line));
        return if has_step {
            Ok(Breakpoint::Line(line))
        } else {
            Err(wrong(
                t!(
                    "errors.break_no_step",
                    line = line,
                    scenario = scenario.name
                )
                .into_owned(),
                t!("errors.break_no_step_help").into_owned(),
            ))
        };
    }
    let (name, on) = match (prefix, rest.rsplit_once(':')) {
        (Some("resource"), _) | (_, None) => (rest, None),
        (_, Some((name, kind))) => (name.trim(), Some(kind.trim())),
    };
    let on = match on {
        None => None,
        Some(kind) => Some(EventKind::from_name(kind).ok_or_else(|| {
            let kinds: Vec<&str> = EventKind::ALL
                .iter()
                .filter(|k| !matches!(k, EventKind::Hold | EventKind::DropRequest))
                .map(|k| k.name())
                .collect();
            wrong(
                t!("errors.break_kind", kind = crate::scenario::shown(kind)).into_owned(),
                t!("errors.break_kind_help", kinds = kinds.join(", ")).into_owned(),
            )
        })?),
    };
    let thread = (prefix != Some("resource"))
        .then(|| scenario.thread_index(name))
        .flatten();
    let resource = (prefix != Some("thread") && on.is_none())
        .then(|| scenario.resource_index(name))
        .flatten();
    match (thread, resource) {
        (Some(_), Some(_)) => Err(wrong(
            t!("errors.break_both").into_owned(),
            t!("errors.break_both_help", name = name).into_owned(),
        )),
        (Some(thread), None) => Ok(Breakpoint::Thread { thread, on }),
        (None, Some(r)) => Ok(Breakpoint::Resource(r)),
        (None, None) => Err(wrong(
            t!("errors.break_unknown", scenario = scenario.name).into_owned(),
            names(),
        )),
    }
}

/// How a run ended, read once every thread was joined.
#[derive(Debug, Clone)]
pub struct Ended {
    /// Run time where the driver stopped watching.
    pub stopped_ns: u64,
    pub finished: bool,
    pub deadlock: Option<Deadlock>,
    /// Each thread's failure, by thread.
    pub failures: Vec<Option<String>>,
    pub dropped_events: u64,
    pub recorded_events: u64,
}

impl Ended {
    pub fn outcome(&self) -> Outcome {
        Outcome::decide(
            self.failures.iter().any(Option::is_some),
            self.deadlock.is_some(),
            self.finished,
        )
    }
}

/// The current run and what the command line asked of it. The events file outlives a run:
/// the live view writes every run it shows (after a restart too) into the one file.
#[derive(Default)]
pub struct Session {
    run: Option<Run>,
    /// `--schedule`: threads still to step (with the name as typed), one step each.
    schedule: VecDeque<(ThreadIdx, String)>,
    /// The schedule step under way: its number from 1, and its name as typed.
    stepping: Option<(usize, String)>,
    scheduling: bool,
    /// `--for`: the run time the run stops at.
    limit_ns: Option<u64>,
    /// The longest a single step may take before the schedule gives up on it.
    step_bound: Duration,
    events: Option<EventsFile>,
    /// Where the run pauses by itself; kept across restarts of the same scenario.
    breakpoints: Vec<Breakpoint>,
    /// The quiz is on; kept across restarts.
    quiz: bool,
    /// Puts the events file in time order: threads hand over their events only roughly so.
    order: Reorder,
}

impl Session {
    /// Checks the plan against the scenario (schedule names, events file) and starts the run:
    /// paused if `paused` or if there is a schedule to step.
    pub fn start(scenario: Arc<Scenario>, plan: &RunPlan, paused: bool) -> Result<Session, Error> {
        let threads = resolve_schedule(&scenario, &plan.schedule)?;
        let breakpoints = plan
            .breaks
            .iter()
            .map(|spec| resolve_breakpoint(&scenario, spec))
            .collect::<Result<Vec<_>, _>>()?;
        let events = match &plan.events {
            Some(path) => Some(EventsFile::create(
                path,
                crate::scenario::input_file(&plan.scenario),
            )?),
            None => None,
        };
        let mut session = Session {
            scheduling: !threads.is_empty(),
            schedule: threads
                .into_iter()
                .zip(plan.schedule.iter().map(|n| n.trim().to_string()))
                .collect(),
            limit_ns: plan.for_.map(|d| d.as_nanos().min(u64::MAX as u128) as u64),
            events,
            breakpoints,
            quiz: plan.quiz,
            ..Session::default()
        };
        let paused = paused || session.scheduling;
        session.begin(scenario, plan.speed, paused);
        Ok(session)
    }

    /// Ends the current run (its events written out) and starts `scenario` afresh. The
    /// command line's schedule and time limit were for the first run only.
    pub fn restart(&mut self, scenario: Arc<Scenario>, speed: f64, paused: bool) {
        self.forget_plan();
        let same = self
            .run
            .as_ref()
            .is_some_and(|run| run.scenario().source == scenario.source);
        if !same {
            self.breakpoints.clear();
        }
        if self.stop().is_some() {
            let mut rest = Vec::new();
            self.drain(&mut rest);
            self.close();
        }
        self.begin(scenario, speed, paused);
    }

    fn begin(&mut self, scenario: Arc<Scenario>, speed: f64, paused: bool) {
        // The longest a single step can take at this speed, plus room for a busy machine.
        let longest = scenario
            .threads
            .iter()
            .flat_map(|t| &t.steps)
            .filter_map(|s| s.op.duration())
            .max()
            .unwrap_or_default();
        self.step_bound = longest.div_f64(speed.clamp(0.1, 4.0)) + Duration::from_secs(5);
        // Whatever pauses the run by itself is in place before any thread takes a step.
        let stops = self.quiz || !self.breakpoints.is_empty();
        let run = Run::start(
            scenario,
            RunOptions {
                speed,
                start_paused: paused || stops,
            },
        );
        run.set_breakpoints(self.breakpoints.clone());
        run.set_quiz(self.quiz);
        if stops && !paused {
            run.resume();
        }
        self.run = Some(run);
    }

    /// Turns the quiz on or off; whether it is on now.
    pub fn toggle_quiz(&mut self) -> bool {
        self.quiz = !self.quiz;
        if let Some(run) = &self.run {
            run.set_quiz(self.quiz);
        }
        self.quiz
    }

    pub fn quizzing(&self) -> bool {
        self.quiz
    }

    /// Sets `breakpoint` if it is not set, or clears it; whether it is set now.
    pub fn toggle_breakpoint(&mut self, breakpoint: Breakpoint) -> bool {
        let set = match self.breakpoints.iter().position(|b| *b == breakpoint) {
            Some(i) => {
                self.breakpoints.remove(i);
                false
            }
            None => {
                self.breakpoints.push(breakpoint);
                true
            }
        };
        if let Some(run) = &self.run {
            run.set_breakpoints(self.breakpoints.clone());
        }
        set
    }

    pub fn breakpoints(&self) -> &[Breakpoint] {
        &self.breakpoints
    }

    /// Drops the schedule and the time limit: the viewer has taken over.
    pub fn forget_plan(&mut self) {
        self.schedule.clear();
        self.stepping = None;
        self.scheduling = false;
        self.limit_ns = None;
    }

    pub fn run(&self) -> Option<&Run> {
        self.run.as_ref()
    }

    /// Whether `--schedule` still has steps to take (or one under way).
    pub fn scheduling(&self) -> bool {
        self.scheduling
    }

    /// Appends every event recorded since the last call to `out` (never blocks), and writes
    /// them to the events file as their order allows.
    pub fn drain(&mut self, out: &mut Vec<Event>) {
        let Some(run) = &self.run else { return };
        let from = out.len();
        run.drain_events(out);
        self.write(&out[from..]);
    }

    /// [`Session::drain`], waiting up to `timeout` for the first event.
    pub fn wait(&mut self, out: &mut Vec<Event>, timeout: Duration) {
        let Some(run) = &self.run else { return };
        let from = out.len();
        run.wait_events(out, timeout);
        self.write(&out[from..]);
    }

    fn write(&mut self, events: &[Event]) {
        let (Some(file), Some(run)) = (&mut self.events, &self.run) else {
            return;
        };
        self.order.extend(events);
        while let Some(e) = self.order.pop_ready() {
            file.write(&e, run.scenario());
        }
    }

    /// Takes the next `--schedule` step once the last one has ended: with `block`, waiting
    /// for it (an error if it does not end in time), without, looking only. Returns whether
    /// the schedule goes on; when it is done the run goes free, unless it deadlocked. While
    /// the viewer has the run going, the schedule waits for a pause.
    pub fn advance_schedule(&mut self, block: bool) -> Result<bool, Error> {
        let Some(run) = self.run.as_ref().filter(|_| self.scheduling) else {
            return Ok(false);
        };
        if let Some((number, name)) = &self.stepping {
            let wait = if block {
                self.step_bound
            } else {
                Duration::ZERO
            };
            if !run.wait_step_done(wait) {
                if !block {
                    return Ok(true);
                }
                return Err(Error::new(
                    "schedule::step-stuck",
                    t!(
                        "classroom.session.step_did_not_end",
                        number = number,
                        name = name,
                        secs = format!("{:.1}", wait.as_secs_f64())
                    ),
                ));
            }
        }
        match run.phase() {
            Phase::Deadlock => {
                self.forget_schedule();
                return Ok(false);
            }
            Phase::Running => return Ok(true),
            Phase::Paused | Phase::Stepping(_) | Phase::Finished => {}
        }
        let number = self.stepping.as_ref().map_or(1, |(n, _)| n + 1);
        let Some((thread, name)) = self.schedule.pop_front() else {
            run.resume();
            self.forget_schedule();
            return Ok(false);
        };
        let stepped = run.step(thread);
        let deadlocked = run.phase() == Phase::Deadlock;
        if let Err(e) = stepped {
            self.forget_schedule();
            if deadlocked {
                return Ok(false);
            }
            return Err(Error::new(
                "schedule::step-refused",
                t!(
                    "classroom.session.step_refused",
                    number = number,
                    name = name,
                    why = e
                ),
            )
            .help(t!("classroom.session.step_refused_help")));
        }
        self.stepping = Some((number, name));
        Ok(true)
    }

    fn forget_schedule(&mut self) {
        self.schedule.clear();
        self.stepping = None;
        self.scheduling = false;
    }

    /// `--for`: the limit, once, when run time `now_ns` has reached it.
    pub fn time_up(&mut self, now_ns: u64) -> Option<u64> {
        let limit = self.limit_ns.filter(|&limit| now_ns >= limit)?;
        self.limit_ns = None;
        Some(limit)
    }

    /// Pauses (so run time ends here) and joins every thread; returns the run time it stopped
    /// at. Everything the run recorded is then left to one last [`Session::drain`], and
    /// [`Session::close`] says how it ended.
    pub fn stop(&mut self) -> Option<u64> {
        let run = self.run.as_mut()?;
        run.pause();
        let now = run.now_ns();
        run.end();
        Some(now)
    }

    /// Lets go of the stopped run: writes the events still held for ordering, and says how it
    /// ended.
    pub fn close(&mut self) -> Option<Ended> {
        let run = self.run.take()?;
        if let Some(file) = &mut self.events {
            while let Some(e) = self.order.pop_any() {
                file.write(&e, run.scenario());
            }
        }
        // The next run's clock starts again from zero.
        self.order = Reorder::default();
        let stopped_ns = run.now_ns();
        Some(Ended {
            stopped_ns,
            finished: run.is_finished(),
            deadlock: run.deadlock(),
            failures: (0..run.scenario().threads.len())
                .map(|t| run.failure(t as ThreadIdx))
                .collect(),
            dropped_events: run.dropped_events(),
            recorded_events: run.recorded_events(),
        })
    }

    /// Flushes the events file; a write that failed is returned, to fail the command (the
    /// run itself is still reported).
    pub fn finish(&mut self) -> Option<Error> {
        self.events.as_mut().and_then(EventsFile::finish)
    }
}

/// `--events FILE`: one JSON object per line, in time order. The first write that fails is
/// kept, and reported when the session finishes.
struct EventsFile {
    path: String,
    out: BufWriter<File>,
    error: Option<std::io::Error>,
}

impl EventsFile {
    /// Opens `path` for the events, refusing it if it is the scenario file being run.
    fn create(path: &Path, input: Option<&Path>) -> Result<EventsFile, Error> {
        let inputs: Vec<&Path> = input.into_iter().collect();
        let file =
            crate::files::create(path, &inputs).map_err(|e| e.within(t!("errors.write_events")))?;
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

    fn finish(&mut self) -> Option<Error> {
        if self.error.is_none()
            && let Err(err) = self.out.flush()
        {
            self.error = Some(err);
        }
        self.error.as_ref().map(|err| {
            Error::new(
                "file::io",
                format!("writing the events file {} failed: {err}", self.path),
            )
            .help("check the disk and the path")
        })
    }
}

/// What to say of the run's child processes stopped by a signal, or continued, since `seen`
/// was read (`Run::stopped_processes`, each with its pid): newly stopped first. Their threads
/// cannot move while stopped, and the run waits for them: said, never waited out in silence.
pub fn stopped_news(
    scenario: &Scenario,
    seen: &[(ProcIdx, u32)],
    now: &[(ProcIdx, u32)],
) -> Vec<String> {
    let name = |p: ProcIdx| scenario.processes[p as usize].name.as_str();
    let stopped = now
        .iter()
        .filter(|s| !seen.contains(s))
        .map(|&(p, pid)| t!("twins.stopped", process = name(p), pid = pid).into_owned());
    let continued = seen
        .iter()
        .filter(|s| !now.contains(s))
        .map(|&(p, pid)| t!("twins.continued", process = name(p), pid = pid).into_owned());
    stopped.chain(continued).collect()
}

#[cfg(test)]
mod tests {
    use super::stopped_news;

    /// A process is said stopped when it is seen stopped, continued when it no longer is, and
    /// nothing is said while nothing changed.
    #[test]
    fn a_stopped_process_is_said_once_and_so_is_its_continuing() {
        crate::i18n::set(crate::i18n::Lang::En);
        let s = crate::scenario::parse_source(
            "t",
            "t.kdl",
            "process worker {\n    thread w { work \"1ms\" }\n}\n",
        )
        .unwrap();
        let stopped = stopped_news(&s, &[], &[(0, 42)]);
        assert_eq!(stopped.len(), 1);
        assert!(
            stopped[0].contains("process worker (pid 42) is stopped"),
            "{stopped:?}"
        );
        assert!(stopped[0].contains("kill -CONT 42"), "{stopped:?}");
        assert!(stopped_news(&s, &[(0, 42)], &[(0, 42)]).is_empty());
        let continued = stopped_news(&s, &[(0, 42)], &[]);
        assert_eq!(continued, ["process worker (pid 42) was continued"]);
    }
}

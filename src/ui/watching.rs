//! A traced Python program in the run view: the live loop polls it in place of an engine run.
//! Lanes and resources appear as the program makes them (the view is opened again on the
//! grown model, with every event so far); pause closes the tracer's gate, step lets one thread
//! pass one operation, restart kills the interpreter and runs the script again.

use std::time::Duration;

use crate::engine::Phase;
use crate::scenario::model::ThreadIdx;
use crate::ui::app::{App, Effect, Live};
use crate::vocab::event::{Event, EventKind};
use crate::watch::child::{Spawn, StartError};
use crate::watch::{End, Tracing};

pub struct Watched {
    tracing: Tracing,
    spec: Spawn,
    for_: Option<Duration>,
    /// Events handed to the view so far.
    shown: usize,
    /// Lanes and resources the view was opened with.
    shape: (usize, usize, usize),
    phase: Phase,
}

impl Watched {
    pub fn start(spec: Spawn, for_: Option<Duration>) -> Result<Watched, StartError> {
        let tracing = Tracing::start(&spec, for_)?;
        let paused = spec.paused;
        Ok(Watched {
            tracing,
            spec,
            for_,
            shown: 0,
            shape: (0, 0, 0),
            // `--paused`: the gate starts closed, so nothing passes its first operation.
            phase: if paused {
                Phase::Paused
            } else {
                Phase::Running
            },
        })
    }

    /// Opens (or reopens, grown) the run view on the program's model.
    pub fn open(&mut self, app: &mut App) {
        let scenario = self.tracing.model().snapshot();
        self.shape = shape_of(&scenario);
        app.open(scenario, 1.0);
        self.shown = 0;
        app.notice(rust_i18n::t!("trace.notice"));
    }

    /// Takes what the program did since the last poll into the view; true if anything
    /// visible changed.
    pub fn poll(&mut self, app: &mut App) -> bool {
        let end = self.tracing.poll(Duration::ZERO);
        let shape = shape_of(self.tracing.model().scenario());
        if (shape.0, shape.1) != (self.shape.0, self.shape.1) {
            self.open(app);
        } else if shape != self.shape {
            // A lane reached a line it had not reached before: its steps grew, and the code
            // pane's markers read the line of each step, so the view takes the grown model
            // (keeping what is selected) and reads the events again.
            self.shape = shape;
            app.swap_scenario(self.tracing.model().snapshot());
            self.shown = 0;
        }
        let mut new: Vec<Event> = self.tracing.events()[self.shown..].to_vec();
        self.shown = self.tracing.events().len();
        new.sort_by_key(|e| e.t_ns);
        let before = self.phase;
        self.phase = match end {
            Some(End::Deadlock) => Phase::Deadlock,
            Some(_) => Phase::Finished,
            // A step is over once its thread has done an operation and is held again.
            None => match self.phase {
                Phase::Stepping(t)
                    if new
                        .iter()
                        .any(|e| e.thread == t && e.kind == EventKind::Hold) =>
                {
                    Phase::Paused
                }
                p => p,
            },
        };
        let failures: Vec<(ThreadIdx, String)> = new
            .iter()
            .filter(|e| e.kind == EventKind::Fail)
            .filter_map(|e| {
                let why = self.tracing.model().failures().get(e.thread as usize)?;
                Some((e.thread, why.clone()?))
            })
            .collect();
        let live = Live {
            phase: self.phase,
            now_ns: self.tracing.now_ns(),
            speed: 1.0,
            deadlock: self.tracing.deadlock().cloned(),
            dropped: self.tracing.model().skipped,
            breakpoints: Vec::new(),
            quizzing: false,
        };
        let changed = !new.is_empty() || before != self.phase || self.running();
        app.observe(live, &new, failures);
        if before != self.phase
            && let Some(End::TimeUp) = end
            && let Some(limit) = self.for_
        {
            app.notice(rust_i18n::t!(
                "trace.time_up",
                limit = crate::ui::view::fmt_ns(limit.as_nanos() as u64)
            ));
        }
        changed
    }

    /// Whether the program has not ended (held threads may still report).
    pub fn alive(&self) -> bool {
        !matches!(self.phase, Phase::Finished | Phase::Deadlock)
    }

    /// Whether the program is still going (so the clock moves).
    pub fn running(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Stepping(_))
    }

    pub fn apply(&mut self, app: &mut App, effect: Effect) {
        let over = matches!(self.phase, Phase::Finished | Phase::Deadlock);
        match effect {
            Effect::Pause if !over => {
                self.tracing.pause();
                self.phase = Phase::Paused;
            }
            Effect::Resume if !over => {
                self.tracing.resume();
                self.phase = Phase::Running;
            }
            Effect::Step(t) if !over => {
                let ident = self.tracing.model().ident_of(t);
                self.tracing.step(ident);
                self.phase = Phase::Stepping(t);
            }
            Effect::StepNext if !over => {
                self.tracing.step(None);
            }
            Effect::SetSpeed(_) => app.notice(rust_i18n::t!("trace.no_speed")),
            Effect::Restart | Effect::Start(_) => match Tracing::start(&self.spec, self.for_) {
                Ok(t) => {
                    // The old interpreter is killed as its tracing is dropped.
                    self.tracing = t;
                    self.phase = if self.spec.paused {
                        Phase::Paused
                    } else {
                        Phase::Running
                    };
                    self.open(app);
                }
                Err(e) => app.notice(e.message),
            },
            _ => {}
        }
    }
}

/// How big the program's model is: lanes, resources, and steps (lines reached) in all.
fn shape_of(s: &crate::scenario::model::Scenario) -> (usize, usize, usize) {
    let steps = s.threads.iter().map(|t| t.steps.len()).sum();
    (s.threads.len(), s.resources.len(), steps)
}

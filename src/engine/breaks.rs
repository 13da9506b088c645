//! What a run pauses at by itself: breakpoints a teacher set, "the next event" of a step by
//! event, and the quiz's moments (a hand-over with several waiters: asked before, answered
//! after). The conductor holds them; every event a thread records is shown to them while any
//! is armed (a relaxed load per event otherwise), and a thread reaching a step looks for a
//! line breakpoint there.

use std::collections::{HashMap, HashSet};

use crate::scenario::model::{ResIdx, ResourceKind, Scenario, ThreadIdx};
use crate::vocab::event::{Event, EventKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakpoint {
    /// The thread's state changes (`on: None`), or it records this kind of event.
    Thread {
        thread: ThreadIdx,
        on: Option<EventKind>,
    },
    /// The resource changes hands: taken, given back, put into, taken from, passed, set.
    Resource(ResIdx),
    /// A thread is about to carry out a step written on this line of the scenario.
    Line(u32),
}

impl Breakpoint {
    fn matches(&self, e: &Event) -> bool {
        match *self {
            Breakpoint::Thread { thread, on } => {
                e.thread == thread && on.map_or(changes_state(e.kind), |k| k == e.kind)
            }
            Breakpoint::Resource(r) => e.resource == Some(r) && changes_hands(e.kind),
            Breakpoint::Line(_) => false,
        }
    }
}

/// Every event but the conductor's own holds and the GIL's drop requests moves a thread on.
fn changes_state(kind: EventKind) -> bool {
    !matches!(kind, EventKind::Hold | EventKind::DropRequest)
}

fn changes_hands(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Acquire
            | EventKind::Release
            | EventKind::Put
            | EventKind::Take
            | EventKind::Pass
            | EventKind::Set
    )
}

/// Why the run paused by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    Breakpoint(Breakpoint),
    /// A step by event reached its event.
    NextEvent,
    /// The quiz asks: `resource` is taken and these threads wait for it, in the order they
    /// came; who gets it next?
    Question {
        resource: ResIdx,
        waiting: Vec<ThreadIdx>,
    },
    /// The quiz's answer: `thread` got `resource`.
    Answer {
        resource: ResIdx,
        thread: ThreadIdx,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub why: Why,
    pub thread: ThreadIdx,
    /// The event that fired it (raw stamp); `None` for a line breakpoint, which fires before
    /// the step it stands on.
    pub event: Option<Event>,
    pub step: u32,
}

/// The quiz: where the next thing could go more than one way. A lock, a permit or the GIL that
/// is taken while two or more threads wait for it is handed to one of them next: the run
/// pauses to ask which, and again when it is handed over.
#[derive(Debug, Default)]
struct Quiz {
    /// Resources that are handed from one thread to the next.
    handed_over: HashSet<ResIdx>,
    /// Who waits for each of them, in the order they came.
    waiting: HashMap<ResIdx, Vec<ThreadIdx>>,
    /// The resource of the question asked and not answered yet.
    open: Option<ResIdx>,
}

impl Quiz {
    fn new(scenario: &Scenario) -> Quiz {
        let handed_over = scenario
            .resources
            .iter()
            .enumerate()
            // The GIL a `threads "python"` lesson implies is handed over every few
            // milliseconds; the lesson is about its locks, so the quiz asks about those.
            .filter(|(i, r)| {
                matches!(
                    r.kind,
                    ResourceKind::Mutex
                        | ResourceKind::RLock
                        | ResourceKind::Semaphore { .. }
                        | ResourceKind::Gil { .. }
                        | ResourceKind::RwLock { .. }
                ) && !scenario.is_implied(*i as ResIdx)
            })
            .map(|(i, _)| i as ResIdx)
            .collect();
        Quiz {
            handed_over,
            ..Quiz::default()
        }
    }

    fn on_event(&mut self, e: &Event) -> Option<Why> {
        let r = e.resource.filter(|r| self.handed_over.contains(r))?;
        let waiting = self.waiting.entry(r).or_default();
        match e.kind {
            EventKind::Block => {
                waiting.push(e.thread);
                (self.open.is_none() && waiting.len() >= 2).then(|| {
                    self.open = Some(r);
                    Why::Question {
                        resource: r,
                        waiting: waiting.clone(),
                    }
                })
            }
            EventKind::Acquire | EventKind::Timeout => {
                waiting.retain(|&t| t != e.thread);
                (e.kind == EventKind::Acquire && self.open == Some(r)).then(|| {
                    self.open = None;
                    Why::Answer {
                        resource: r,
                        thread: e.thread,
                    }
                })
            }
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Stops {
    breakpoints: Vec<Breakpoint>,
    quiz: Option<Quiz>,
    /// The (thread, step) pairs standing on a line breakpoint's line, and the line.
    line_steps: HashMap<(ThreadIdx, u32), u32>,
    next_event: bool,
    hit: Option<Hit>,
}

impl Stops {
    pub(super) fn set(&mut self, breakpoints: Vec<Breakpoint>, scenario: &Scenario) {
        let lines: HashSet<u32> = breakpoints
            .iter()
            .filter_map(|b| match b {
                Breakpoint::Line(l) => Some(*l),
                _ => None,
            })
            .collect();
        self.line_steps = scenario
            .threads
            .iter()
            .enumerate()
            .flat_map(|(t, spec)| {
                spec.steps
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| lines.contains(&s.line))
                    .map(move |(i, s)| ((t as ThreadIdx, i as u32), s.line))
            })
            .collect();
        self.breakpoints = breakpoints;
    }

    pub(super) fn arm_next_event(&mut self) {
        self.next_event = true;
    }

    /// A step by event that has not reached its event is called off.
    pub(super) fn disarm_next_event(&mut self) {
        self.next_event = false;
    }

    /// Ask the quiz's questions from now on (`Some`), or stop asking.
    pub(super) fn set_quiz(&mut self, scenario: Option<&Scenario>) {
        self.quiz = scenario.map(Quiz::new);
    }

    pub(super) fn armed(&self) -> bool {
        self.next_event || !self.breakpoints.is_empty() || self.quiz.is_some()
    }

    /// The hit this event makes, if it makes one (and then the step by event is over). The
    /// quiz keeps count of every event it is shown, so it looks first.
    pub(super) fn on_event(&mut self, e: &Event) -> Option<Hit> {
        if !changes_state(e.kind) {
            return None;
        }
        let why = match self.quiz.as_mut().and_then(|q| q.on_event(e)) {
            Some(why) => why,
            None if self.next_event => Why::NextEvent,
            None => Why::Breakpoint(*self.breakpoints.iter().find(|b| b.matches(e))?),
        };
        self.fire(Hit {
            why,
            thread: e.thread,
            event: Some(*e),
            step: e.step,
        })
    }

    /// The hit a thread about to carry out `step` makes, if the step stands on a line breakpoint.
    pub(super) fn on_step(&mut self, thread: ThreadIdx, step: u32) -> Option<Hit> {
        let line = *self.line_steps.get(&(thread, step))?;
        self.fire(Hit {
            why: Why::Breakpoint(Breakpoint::Line(line)),
            thread,
            event: None,
            step,
        })
    }

    fn fire(&mut self, hit: Hit) -> Option<Hit> {
        self.next_event = false;
        Some(hit)
    }

    /// Make `hit` the one [`Stops::take_hit`] tells of: only once the run has paused for it,
    /// so whoever reads the hit finds the run (and any run driven along with it) paused, and
    /// a resume sent on reading it is never undone by the pause that hit still had to make.
    pub(super) fn publish(&mut self, hit: Hit) {
        self.hit = Some(hit);
    }

    pub(super) fn take_hit(&mut self) -> Option<Hit> {
        self.hit.take()
    }
}

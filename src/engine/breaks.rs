//! What a run pauses at by itself: breakpoints a teacher set, and "the next event" of a step by
//! event. The conductor holds them; every event a thread records is shown to them while any is
//! armed (a relaxed load per event otherwise), and a thread reaching a step looks for a line
//! breakpoint there.

use std::collections::{HashMap, HashSet};

use crate::scenario::model::{ResIdx, Scenario, ThreadIdx};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The breakpoint that fired, or `None` for a step by event.
    pub breakpoint: Option<Breakpoint>,
    pub thread: ThreadIdx,
    /// The event that fired it (raw stamp); `None` for a line breakpoint, which fires before
    /// the step it stands on.
    pub event: Option<Event>,
    pub step: u32,
}

#[derive(Debug, Default)]
pub(super) struct Stops {
    breakpoints: Vec<Breakpoint>,
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

    pub(super) fn breakpoints(&self) -> &[Breakpoint] {
        &self.breakpoints
    }

    pub(super) fn arm_next_event(&mut self) {
        self.next_event = true;
    }

    pub(super) fn armed(&self) -> bool {
        self.next_event || !self.breakpoints.is_empty()
    }

    /// The hit this event makes, if it makes one (and then the step by event is over).
    pub(super) fn on_event(&mut self, e: &Event) -> Option<Hit> {
        if !changes_state(e.kind) {
            return None;
        }
        let breakpoint = if self.next_event {
            None
        } else {
            Some(*self.breakpoints.iter().find(|b| b.matches(e))?)
        };
        self.fire(Hit {
            breakpoint,
            thread: e.thread,
            event: Some(*e),
            step: e.step,
        })
    }

    /// The hit a thread about to carry out `step` makes, if the step stands on a line breakpoint.
    pub(super) fn on_step(&mut self, thread: ThreadIdx, step: u32) -> Option<Hit> {
        let line = *self.line_steps.get(&(thread, step))?;
        self.fire(Hit {
            breakpoint: Some(Breakpoint::Line(line)),
            thread,
            event: None,
            step,
        })
    }

    fn fire(&mut self, hit: Hit) -> Option<Hit> {
        self.next_event = false;
        self.hit = Some(hit);
        Some(hit)
    }

    pub(super) fn take_hit(&mut self) -> Option<Hit> {
        self.hit.take()
    }
}

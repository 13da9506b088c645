//! Events and runs written inline, and the one synthetic event stream ([`Contention`]), for
//! the unit tests, `tests/` and `benches/` alike.

use std::sync::Arc;
use std::time::Duration;

use crate::scenario::model::{Op, ResIdx, ResourceKind, Scenario, ThreadIdx};
use crate::scenario::testing::{ms, scenario};
use crate::vocab::event::{Event, EventKind, NO_STEP};

/// An event with no resource, outside any step.
pub fn ev(t_ns: u64, thread: ThreadIdx, kind: EventKind) -> Event {
    Event {
        t_ns,
        thread,
        kind,
        resource: None,
        by: None,
        step: NO_STEP,
        item: None,
    }
}

/// Builder-style tweaks for test events.
pub trait EventExt {
    fn res(self, r: ResIdx) -> Event;
    fn by(self, t: ThreadIdx) -> Event;
    fn step(self, s: u32) -> Event;
    fn item(self, n: u32) -> Event;
}

impl EventExt for Event {
    fn res(mut self, r: ResIdx) -> Event {
        self.resource = Some(r);
        self
    }
    fn by(mut self, t: ThreadIdx) -> Event {
        self.by = Some(t);
        self
    }
    fn step(mut self, s: u32) -> Event {
        self.step = s;
        self
    }
    fn item(mut self, n: u32) -> Event {
        self.item = Some(n);
        self
    }
}

/// The classic deadlock: T1 locks A then B, T2 locks B then A, working 100 ms in between.
pub fn deadlock_scenario() -> Arc<Scenario> {
    deadlock_working(ms(100))
}

/// The classic deadlock, each thread working `work` between its two locks.
pub fn deadlock_working(work: Duration) -> Arc<Scenario> {
    // The two scripts mirror each other: take one lock, work, want the other.
    let script = |first, second| {
        vec![
            Op::Lock(first),
            Op::Work(work),
            Op::Lock(second),
            Op::Unlock(second),
            Op::Unlock(first),
        ]
    };
    scenario(
        &[("A", ResourceKind::Mutex), ("B", ResourceKind::Mutex)],
        &[("T1", script(0, 1)), ("T2", script(1, 0))],
    )
}

/// Events of the deadlock scenario running into its deadlock, in ms.
pub fn deadlock_events() -> Vec<Event> {
    use EventKind::*;
    const MS: u64 = 1_000_000;
    vec![
        ev(0, 0, Start),
        ev(0, 1, Start),
        ev(MS, 0, Acquire).res(0).step(0),
        ev(MS, 1, Acquire).res(1).step(0),
        ev(2 * MS, 0, Run).step(1),
        ev(2 * MS, 1, Run).step(1),
        ev(100 * MS, 0, Block).res(1).step(2),
        ev(101 * MS, 1, Block).res(0).step(2),
    ]
}

/// A tiny deterministic random source for synthetic runs.
#[derive(Debug, Clone)]
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// How the deadlock of [`deadlock_scenario`] ends: T1 and T2 each wait for the other's lock.
pub fn deadlock_end(run_time_ns: u64) -> crate::trace::summary::RunEnd {
    use crate::trace::summary::RunEnd;
    use crate::vocab::deadlock::{Blame, Deadlock, WaitEdge, Want};
    use crate::vocab::outcome::Outcome;
    let edge = |thread, resource, holder| WaitEdge {
        thread,
        resource,
        want: Want::Unlock,
        blame: Blame::HeldBy(holder),
    };
    RunEnd {
        run_time_ns,
        outcome: Some(Outcome::Deadlock),
        deadlock: Some(Deadlock {
            cycle: vec![edge(0, 1, 1), edge(1, 0, 0)],
            stuck: vec![0, 1],
        }),
        failures: vec![],
        dropped_events: 0,
    }
}

/// `n` threads each looping `lock M; work; unlock M; sleep` on one mutex: the scenario.
pub fn contention_scenario(n: usize) -> Arc<Scenario> {
    let names: Vec<String> = (1..=n).map(|i| format!("T{i}")).collect();
    let threads: Vec<(&str, Vec<Op>)> = names
        .iter()
        .map(|name| {
            (
                name.as_str(),
                vec![
                    Op::Lock(0),
                    Op::Work(ms(1)),
                    Op::Unlock(0),
                    Op::Sleep(ms(1)),
                ],
            )
        })
        .collect();
    scenario(&[("M", ResourceKind::Mutex)], &threads)
}

/// What the synthetic run knows after each event it emits.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    pub event: Event,
    pub state: crate::vocab::event::State,
    pub holder: Option<ThreadIdx>,
    pub waiters: Vec<ThreadIdx>,
}

/// An endless, valid event stream for [`contention_scenario`]: a random ready thread takes its
/// next action; times strictly increase. Yields each event with the truth after it.
#[derive(Debug, Clone)]
pub struct Contention {
    rng: Lcg,
    t: u64,
    pc: Vec<u32>,
    blocked: Vec<bool>,
    holder: Option<ThreadIdx>,
    waiters: std::collections::VecDeque<ThreadIdx>,
    queue: std::collections::VecDeque<Truth>,
    started: usize,
    track: bool,
    max_gap_ns: u64,
}

impl Contention {
    pub fn new(threads: usize, seed: u64) -> Contention {
        Contention {
            rng: Lcg(seed),
            t: 0,
            pc: vec![0; threads],
            blocked: vec![false; threads],
            holder: None,
            waiters: Default::default(),
            queue: Default::default(),
            started: 0,
            track: true,
            max_gap_ns: 1000,
        }
    }

    /// Times between events are drawn from 1..=max_gap_ns (default 1000).
    pub fn with_max_gap(mut self, max_gap_ns: u64) -> Contention {
        self.max_gap_ns = max_gap_ns.max(1);
        self
    }

    /// Whether each [`Truth`] carries the waiter queue (off: always empty, and much faster).
    pub fn track_waiters(&mut self, on: bool) {
        self.track = on;
    }

    fn waiters_now(&self) -> Vec<ThreadIdx> {
        if self.track {
            self.waiters.iter().copied().collect()
        } else {
            Vec::new()
        }
    }

    fn emit(&mut self, thread: ThreadIdx, kind: EventKind, step: u32, by: Option<ThreadIdx>) {
        use crate::vocab::event::State;
        self.t += 1 + self.rng.below(self.max_gap_ns);
        let mut e = ev(self.t, thread, kind).step(step);
        if matches!(
            kind,
            EventKind::Acquire | EventKind::Block | EventKind::Release
        ) {
            e = e.res(0);
        }
        e.by = by;
        let state = match kind {
            EventKind::Sleep => State::Sleeping,
            EventKind::Block => State::Locked(0),
            _ => State::Running,
        };
        self.queue.push_back(Truth {
            event: e,
            state,
            holder: self.holder,
            waiters: self.waiters_now(),
        });
    }

    fn act(&mut self) {
        let n = self.pc.len();
        if self.started < n {
            self.started += 1;
            let t = (self.started - 1) as ThreadIdx;
            self.t += 1;
            let mut e = ev(self.t, t, EventKind::Start);
            e.step = NO_STEP;
            self.queue.push_back(Truth {
                event: e,
                state: crate::vocab::event::State::Running,
                holder: self.holder,
                waiters: self.waiters_now(),
            });
            return;
        }
        // The holder is never blocked, so a ready thread is always found.
        let mut i = self.rng.below(n as u64) as usize;
        while self.blocked[i] {
            i = (i + 1) % n;
        }
        let t = i as ThreadIdx;
        match self.pc[i] {
            0 => {
                if self.holder.is_none() {
                    self.holder = Some(t);
                    self.pc[i] = 1;
                    self.emit(t, EventKind::Acquire, 0, None);
                } else {
                    self.waiters.push_back(t);
                    self.blocked[i] = true;
                    self.emit(t, EventKind::Block, 0, None);
                }
            }
            1 => {
                self.pc[i] = 2;
                self.emit(t, EventKind::Run, 1, None);
            }
            2 => {
                self.holder = None;
                self.pc[i] = 3;
                self.emit(t, EventKind::Release, 2, None);
                if let Some(w) = self.waiters.pop_front() {
                    self.holder = Some(w);
                    self.blocked[w as usize] = false;
                    self.pc[w as usize] = 1;
                    self.emit(w, EventKind::Acquire, 0, Some(t));
                }
            }
            _ => {
                self.pc[i] = 0;
                self.emit(t, EventKind::Sleep, 3, None);
            }
        }
    }
}

impl Iterator for Contention {
    type Item = Truth;
    fn next(&mut self) -> Option<Truth> {
        while self.queue.is_empty() {
            self.act();
        }
        self.queue.pop_front()
    }
}

/// Deals a time-ordered stream into batches the way a run drains them: within a batch grouped
/// by thread (so out of time order across threads), and now and then an event held back into
/// the next batch (as if it was stamped just before a drain but handed over just after).
/// Per-thread order is kept.
pub fn jumble(events: &[Event], batch: usize, seed: u64) -> Vec<Vec<Event>> {
    let mut rng = Lcg(seed);
    let mut out = Vec::new();
    let mut held: Vec<Event> = Vec::new();
    for chunk in events.chunks(batch.max(1)) {
        let mut now: Vec<Event> = std::mem::take(&mut held);
        let mut late_threads: Vec<ThreadIdx> = Vec::new();
        for &e in chunk {
            // Once a thread has an event held back, its later ones must wait too.
            if late_threads.contains(&e.thread) || rng.below(20) == 0 {
                late_threads.push(e.thread);
                held.push(e);
            } else {
                now.push(e);
            }
        }
        // Group by thread: per-thread order kept, cross-thread order scrambled.
        now.sort_by_key(|e| (e.thread, e.t_ns));
        out.push(now);
    }
    if !held.is_empty() {
        out.push(held);
    }
    out
}

//! The summary of a run: its outcome, the deadlock cycle if any, how long each thread spent in
//! each state, and per-resource figures. Printed in words by the headless runner, or as one JSON
//! object with `--json`.
//!
//! [`SummaryBuilder`] is an accumulator: it takes events one at a time, keeps only counters and
//! the live state of each resource, and so works as well on an endless stream as on a finished
//! run. It puts the stream back into time order itself (see [`Reorder`]).

use std::sync::Arc;

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::scenario::model::{ResIdx, ResourceKind, Scenario, ThreadIdx};
use crate::trace::gather::{self, GatherComparison, GroupFigures};
use crate::trace::gil::{self, GilComparison, PhaseFigures};
use crate::trace::machine::Machine;
use crate::trace::order::Reorder;
use crate::trace::resources::{ResourceState, step_op};
use crate::vocab::deadlock::{Blame, Deadlock, WaitEdge, Want};
use crate::vocab::event::{Event, EventKind, STATES, State, StateTracker};
use crate::vocab::outcome::Outcome;

/// What the run itself knows at the end, beyond its events.
#[derive(Debug, Clone, Default)]
pub struct RunEnd {
    /// Run time when the run ended (or now, for a live summary).
    pub run_time_ns: u64,
    pub outcome: Option<Outcome>,
    pub deadlock: Option<Deadlock>,
    /// Failure reason per thread, indexed by thread; may be shorter than the thread list.
    pub failures: Vec<Option<String>>,
    /// Events the recorder had to drop.
    pub dropped_events: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub title: String,
    /// What the lesson's threads stand for: `python` (CPython threads under one GIL) or
    /// `native` (threads that compute at once; only those with `gil=` take turns).
    pub models: &'static str,
    /// The same, in words of the language shown now, for the text report.
    #[serde(skip)]
    pub models_words: String,
    /// `null` for a live summary of a run still going.
    pub outcome: Option<Outcome>,
    pub run_time_ms: f64,
    pub deadlock: Option<DeadlockSummary>,
    pub threads: Vec<ThreadSummary>,
    pub resources: Vec<ResourceFigures>,
    pub events_recorded: u64,
    pub events_dropped: u64,
    /// For a GIL lesson (threads under a GIL, then the same work free): the comparison card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gil: Option<GilComparison>,
    /// For an event-loop lesson (tasks gathered, then the same waits one by one): its card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gather: Option<GatherComparison>,
    /// What the machine could give the run (a run that was watched, not a replay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<Machine>,
    /// For a lesson with both tasks and threads (`c10k`): what starting each cost, measured in
    /// the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footprint: Option<crate::engine::footprint::Footprint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadlockSummary {
    pub cycle: Vec<CycleEdge>,
    /// One thread waiting for itself (a one-edge cycle blaming its own thread).
    pub self_deadlock: bool,
    /// Every thread that can never move again: the cycle, those waiting behind it, and those
    /// that would start after a group that cannot finish.
    pub stuck: Vec<String>,
    /// "T1 waits for B held by T2, T2 waits for A held by T1".
    pub text: String,
}

impl DeadlockSummary {
    /// The deadlock this summary tells of, in `scenario`'s indices (edges naming threads or
    /// resources the scenario does not have are left out).
    pub fn deadlock(&self, scenario: &Scenario) -> Deadlock {
        let idx = |name: &str| scenario.thread_index(name);
        Deadlock {
            cycle: self
                .cycle
                .iter()
                .filter_map(|e| {
                    let by = match e.by.as_deref() {
                        Some(b) => Some(idx(b)?),
                        None => None,
                    };
                    let resource = scenario.resource_index(&e.waits_for)?;
                    Some(WaitEdge {
                        thread: idx(&e.thread)?,
                        resource,
                        want: Want::from_name(e.wants)
                            .unwrap_or(Want::of_kind(scenario.resources[resource as usize].kind)),
                        blame: Blame::from_name(e.blame, by)?,
                    })
                })
                .collect(),
            stuck: self.stuck.iter().filter_map(|t| idx(t)).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CycleEdge {
    pub thread: String,
    pub waits_for: String,
    /// What another thread would have to do to `waits_for` to end the wait ([`Want::name`]).
    pub wants: &'static str,
    /// "held_by", "only_from" or "nobody" ([`Blame::name`]).
    pub blame: &'static str,
    /// The thread blamed, if any.
    pub by: Option<String>,
    /// The thread blamed, only when it holds what is waited for.
    pub held_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThreadSummary {
    pub name: String,
    /// Time spent in each state before finishing, in ms, keyed by [`State::name`].
    pub state_ms: StateTimes,
    /// The state it ended in ([`State::name`]); "not_started" if it never started.
    pub final_state: &'static str,
    /// The resource it was left waiting on, if it ended waiting.
    pub waiting_for: Option<String>,
    /// When it finished or failed, in ms of run time.
    pub finished_ms: Option<f64>,
    pub failure: Option<String>,
    /// A daemon thread stopped mid-script when every other thread had ended (only present,
    /// as `true`, for such a thread).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
    /// The child process it ran in (only present for a thread of a `process` block).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// That process's pid, as its events said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// A task that ended by `CancelledError` at an await (only present, as `true`, for such a
    /// task).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
}

/// Per-resource figures. Every variant names its resource and its `kind`: the keyword that
/// declares it in the scenario (`mutex`, `rlock`, `rwlock`, `event-loop`…), so text and JSON
/// call each resource what the scenario calls it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResourceFigures {
    /// A mutex, an rlock or an rwlock.
    Lock {
        name: String,
        kind: &'static str,
        acquisitions: u64,
        /// Times a thread had to wait for it.
        waits: u64,
        most_waiters: u32,
    },
    /// An event (Python's `Event`): set by one thread, waited for by others.
    Event {
        name: String,
        kind: &'static str,
        /// Times a thread set it.
        sets: u64,
        /// Times a thread had to wait for it to be set.
        waits: u64,
        most_waiters: u32,
    },
    Semaphore {
        name: String,
        kind: &'static str,
        permits: u32,
        acquisitions: u64,
        /// Most permits held at the same instant.
        most_holders: u32,
        most_waiters: u32,
    },
    Barrier {
        name: String,
        kind: &'static str,
        parties: u32,
        /// Times the barrier tripped (all parties arrived).
        generations: u32,
    },
    Buffer {
        name: String,
        kind: &'static str,
        capacity: u32,
        /// Most items in the buffer at the same instant.
        most_fill: u32,
        items_put: u64,
        items_taken: u64,
        /// Times a producer waited because the buffer was full.
        producer_waits: u64,
        /// Times a consumer waited because the buffer was empty.
        consumer_waits: u64,
    },
    /// A thread pool: tasks submitted, those that raised, results collected, and the longest
    /// its queue got.
    Pool {
        name: String,
        kind: &'static str,
        submitted: u64,
        raised: u64,
        collected: u64,
        most_queued: u32,
    },
    /// A condition variable: notices sent, those lost for want of a waiter, and waits.
    Condition {
        name: String,
        kind: &'static str,
        notifies: u64,
        /// Notices sent while no thread waited: lost wake-ups.
        lost_notifies: u64,
        waits: u64,
        most_waiters: u32,
    },
    Gil {
        name: String,
        kind: &'static str,
        acquisitions: u64,
        /// Times the GIL passed from one thread to a different one.
        hand_offs: u64,
        drop_requests: u64,
    },
    /// A shared counter incremented without (or with) a lock: the lost-update lesson.
    Counter {
        name: String,
        kind: &'static str,
        /// Increments carried out: what the count should be.
        increments: u64,
        /// The value the last store left.
        value: u64,
        /// Increments that were overwritten by a thread that had not seen them.
        lost_updates: u64,
    },
    /// An event loop: how often a task got it, and the longest any task kept it without
    /// awaiting, which is how long every other task was frozen.
    EventLoop {
        name: String,
        kind: &'static str,
        /// Times the loop polled a task (each start and each return from an await).
        turns: u64,
        /// Most tasks ready at once, waiting for the loop.
        most_ready: u32,
        longest_turn_ms: f64,
        /// The task that took the longest turn.
        longest_turn_by: Option<String>,
    },
}

impl ResourceFigures {
    pub fn name(&self) -> &str {
        match self {
            ResourceFigures::Lock { name, .. }
            | ResourceFigures::Event { name, .. }
            | ResourceFigures::Semaphore { name, .. }
            | ResourceFigures::Barrier { name, .. }
            | ResourceFigures::Buffer { name, .. }
            | ResourceFigures::Condition { name, .. }
            | ResourceFigures::Pool { name, .. }
            | ResourceFigures::Gil { name, .. }
            | ResourceFigures::Counter { name, .. }
            | ResourceFigures::EventLoop { name, .. } => name,
        }
    }

    /// The resource's kind: its keyword in the scenario ([`ResourceKind::keyword`]).
    pub fn kind(&self) -> &'static str {
        match self {
            ResourceFigures::Lock { kind, .. }
            | ResourceFigures::Event { kind, .. }
            | ResourceFigures::Semaphore { kind, .. }
            | ResourceFigures::Barrier { kind, .. }
            | ResourceFigures::Buffer { kind, .. }
            | ResourceFigures::Condition { kind, .. }
            | ResourceFigures::Pool { kind, .. }
            | ResourceFigures::Gil { kind, .. }
            | ResourceFigures::Counter { kind, .. }
            | ResourceFigures::EventLoop { kind, .. } => kind,
        }
    }
}

/// Nanoseconds spent per state; serialises as `{"running": ms, "sleeping": ms, ...}`, every
/// state a thread can spend time in (all but the final ones), in [`STATES`] order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateTimes {
    ns: [u64; STATES.len()],
}

impl StateTimes {
    /// Time in states with this [`State::name`] (any resource), in ns.
    pub fn ns(&self, name: &str) -> u64 {
        STATES
            .iter()
            .position(|row| row.name == name)
            .map_or(0, |i| self.ns[i])
    }

    /// (state name, ns) for each accounted state, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        STATES
            .iter()
            .zip(self.ns)
            .filter(|(row, _)| !row.state.is_final())
            .map(|(row, ns)| (row.name, ns))
    }

    pub fn total_ns(&self) -> u64 {
        self.ns.iter().sum()
    }

    fn add(&mut self, state: State, ns: u64) {
        // A final state is not time spent: the thread's accounting ends there.
        if !state.is_final() {
            self.ns[state.index()] += ns;
        }
    }
}

impl Serialize for StateTimes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.iter().count()))?;
        for (name, ns) in self.iter() {
            map.serialize_entry(name, &ms(ns))?;
        }
        map.end()
    }
}

/// Milliseconds, to the microsecond.
fn ms(ns: u64) -> f64 {
    (ns / 1_000) as f64 / 1_000.0
}

#[derive(Debug, Clone, Default)]
struct ThreadAcc {
    state: Option<State>,
    since: u64,
    times: StateTimes,
    started_ns: Option<u64>,
    finished_ns: Option<u64>,
    stopped: bool,
    /// The pid its process's `spawn` named.
    pid: Option<u32>,
    cancelled: bool,
}

#[derive(Debug, Clone)]
struct ResourceAcc {
    state: ResourceState,
    acquisitions: u64,
    waits: u64,
    consumer_waits: u64,
    most_waiters: u32,
    most_holders: u32,
    most_fill: u32,
    hand_offs: u64,
    drop_requests: u64,
    sets: u64,
    /// Notices sent on a condition, and those that found nobody waiting.
    notifies: u64,
    lost_notifies: u64,
    pool_submitted: u64,
    pool_raised: u64,
    pool_collected: u64,
    last_holder: Option<u16>,
    /// Counter stores, and the value the latest one wrote.
    stores: u64,
    stored: u64,
    /// When the current holder took it, and the longest anyone held it with who did.
    held_since: u64,
    longest_hold: Option<(u64, u16)>,
}

/// Accumulates a [`Summary`] from an event stream.
#[derive(Debug, Clone)]
pub struct SummaryBuilder {
    scenario: Arc<Scenario>,
    reorder: Reorder,
    threads: Vec<ThreadAcc>,
    resources: Vec<ResourceAcc>,
    events: u64,
    states: StateTracker,
}

impl SummaryBuilder {
    pub fn new(scenario: Arc<Scenario>) -> SummaryBuilder {
        SummaryBuilder::with_reorder(scenario, Reorder::default())
    }

    /// With a custom reordering window (a test that feeds events in order can use a zero slack).
    pub fn with_reorder(scenario: Arc<Scenario>, reorder: Reorder) -> SummaryBuilder {
        SummaryBuilder {
            threads: vec![ThreadAcc::default(); scenario.threads.len()],
            resources: scenario
                .resources
                .iter()
                .map(|r| ResourceAcc {
                    state: ResourceState::initial(&r.kind),
                    acquisitions: 0,
                    waits: 0,
                    consumer_waits: 0,
                    most_waiters: 0,
                    most_holders: 0,
                    most_fill: 0,
                    hand_offs: 0,
                    drop_requests: 0,
                    sets: 0,
                    notifies: 0,
                    lost_notifies: 0,
                    pool_submitted: 0,
                    pool_raised: 0,
                    pool_collected: 0,
                    last_holder: None,
                    stores: 0,
                    stored: 0,
                    held_since: 0,
                    longest_hold: None,
                })
                .collect(),
            scenario,
            reorder,
            events: 0,
            states: StateTracker::new(),
        }
    }

    /// Adds one event; events may come in the rough cross-thread order a run drains them in.
    pub fn push(&mut self, e: &Event) {
        self.events += 1;
        self.reorder.push(*e);
        while let Some(e) = self.reorder.pop_ready() {
            self.apply(&e);
        }
    }

    pub fn extend(&mut self, events: &[Event]) {
        for e in events {
            self.push(e);
        }
    }

    /// Events pushed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    fn apply(&mut self, e: &Event) {
        let Some(acc) = self.threads.get_mut(e.thread as usize) else {
            return;
        };
        if let Some(next) = self.states.after(e, &self.scenario) {
            let t = e.t_ns.max(acc.since);
            if let Some(current) = acc.state
                && !current.is_final()
            {
                acc.times.add(current, t - acc.since);
            }
            // A process's start-up is part of its thread's time, as it is of the lesson's.
            if matches!(e.kind, EventKind::Start | EventKind::Spawn) && acc.started_ns.is_none() {
                acc.started_ns = Some(t);
            }
            if e.kind == EventKind::Spawn {
                acc.pid = e.item;
            }
            acc.state = Some(next);
            acc.since = t;
            if next.is_final() && acc.finished_ns.is_none() {
                acc.finished_ns = Some(t);
            }
        }

        if e.kind == EventKind::Stop
            && let Some(acc) = self.threads.get_mut(e.thread as usize)
        {
            acc.stopped = true;
        }
        if e.kind == EventKind::Cancelled
            && let Some(acc) = self.threads.get_mut(e.thread as usize)
        {
            acc.cancelled = true;
        }
        if matches!(
            e.kind,
            EventKind::Done | EventKind::Fail | EventKind::Stop | EventKind::Cancelled
        ) {
            for r in &mut self.resources {
                r.state.forget_waiter(e.thread);
            }
        }
        let Some(r) = e.resource else { return };
        let op = step_op(&self.scenario, e);
        let Some(acc) = self.resources.get_mut(r as usize) else {
            return;
        };
        acc.state.apply(e, op);
        if e.kind == EventKind::Store {
            acc.stores += 1;
            acc.stored = e.item.unwrap_or(0) as u64;
        }
        match (&acc.state, e.kind) {
            (_, EventKind::Acquire) => {
                acc.held_since = e.t_ns;
                acc.acquisitions += 1;
                if acc.last_holder.is_some_and(|h| h != e.thread) {
                    acc.hand_offs += 1;
                }
                acc.last_holder = Some(e.thread);
            }
            (
                ResourceState::Buffer {
                    consumers_waiting, ..
                },
                EventKind::Block,
            ) => {
                if consumers_waiting.contains(&e.thread) {
                    acc.consumer_waits += 1;
                } else {
                    acc.waits += 1;
                }
            }
            (_, EventKind::Block) => acc.waits += 1,
            (_, EventKind::DropRequest) => acc.drop_requests += 1,
            (_, EventKind::Set) => acc.sets += 1,
            (ResourceState::Pool { .. }, EventKind::Put) => acc.pool_submitted += 1,
            (ResourceState::Pool { .. }, EventKind::Raise) => acc.pool_raised += 1,
            (ResourceState::Pool { .. }, EventKind::Pass) => acc.pool_collected += 1,
            (_, EventKind::Notify) => {
                acc.notifies += 1;
                if e.item == Some(0) {
                    acc.lost_notifies += 1;
                }
            }
            (_, EventKind::Release) => {
                let held = e.t_ns.saturating_sub(acc.held_since);
                if acc.longest_hold.is_none_or(|(longest, _)| held > longest) {
                    acc.longest_hold = Some((held, e.thread));
                }
            }
            _ => {}
        }
        let waiting = acc.state.waiters().len() as u32;
        acc.most_waiters = acc.most_waiters.max(waiting);
        match &acc.state {
            ResourceState::Semaphore { holders, .. } => {
                acc.most_holders = acc.most_holders.max(holders.len() as u32);
            }
            ResourceState::RwLock {
                readers, writer, ..
            } => {
                let inside = readers.len() + usize::from(writer.is_some());
                acc.most_holders = acc.most_holders.max(inside as u32);
            }
            ResourceState::Buffer { items, .. } => {
                acc.most_fill = acc.most_fill.max(items.len() as u32);
            }
            ResourceState::Pool { queued, .. } => {
                acc.most_fill = acc.most_fill.max(queued.len() as u32);
            }
            _ => {}
        }
    }

    /// The summary so far, without consuming the builder (events still held for reordering
    /// are counted as if the stream ended here).
    pub fn summary(&self, end: &RunEnd) -> Summary {
        self.clone().finish(end)
    }

    /// The summary of the whole stream.
    pub fn finish(mut self, end: &RunEnd) -> Summary {
        while let Some(e) = self.reorder.pop_any() {
            self.apply(&e);
        }
        let s = &*self.scenario;
        let threads = self
            .threads
            .iter()
            .enumerate()
            .map(|(i, acc)| {
                let mut times = acc.times;
                if let Some(state) = acc.state
                    && !state.is_final()
                {
                    times.add(state, end.run_time_ns.saturating_sub(acc.since));
                }
                ThreadSummary {
                    name: s.threads[i].name.clone(),
                    state_ms: times,
                    final_state: acc.state.map_or("not_started", State::name),
                    waiting_for: acc
                        .state
                        .and_then(State::waiting_on)
                        .filter(|&r| (r as usize) < s.resources.len())
                        .map(|r| s.resource_name(r).to_string()),
                    finished_ms: acc.finished_ns.map(ms),
                    failure: end.failures.get(i).cloned().flatten(),
                    stopped: acc.stopped,
                    process: s.process_of(i as u16).map(str::to_string),
                    pid: acc.pid,
                    cancelled: acc.cancelled,
                }
            })
            .collect();
        let resources = self
            .resources
            .iter()
            .enumerate()
            .map(|(i, acc)| figures(s, i as ResIdx, acc))
            .collect();
        Summary {
            scenario: s.name.clone(),
            title: s.title.clone(),
            models: s.models.keyword(),
            models_words: s.models_words(),
            outcome: end.outcome,
            run_time_ms: ms(end.run_time_ns),
            deadlock: end.deadlock.as_ref().map(|d| DeadlockSummary {
                cycle: d
                    .cycle
                    .iter()
                    .map(|edge| {
                        let name = |t: ThreadIdx| s.thread_name(t).to_string();
                        CycleEdge {
                            thread: name(edge.thread),
                            waits_for: s.resource_name(edge.resource).to_string(),
                            wants: edge.want.name(),
                            blame: edge.blame.name(),
                            by: edge.blame.by().map(name),
                            held_by: match edge.blame {
                                Blame::HeldBy(h) => Some(name(h)),
                                _ => None,
                            },
                        }
                    })
                    .collect(),
                self_deadlock: d.is_self_deadlock(),
                stuck: d
                    .stuck
                    .iter()
                    .map(|&t| s.thread_name(t).to_string())
                    .collect(),
                text: d.describe(s),
            }),
            threads,
            resources,
            events_recorded: self.events,
            events_dropped: end.dropped_events,
            gil: self.gil_comparison(),
            gather: self.gather_comparison(),
            machine: None,
            footprint: None,
        }
    }

    /// The same figures as [`gil::compare`], from the accumulated times instead of the events.
    fn gil_comparison(&self) -> Option<GilComparison> {
        let (under, free) = gil::phases(&self.scenario)?;
        let phase = |group: &[u16]| -> Option<PhaseFigures> {
            let (first, last, computing) = self.group_span(group, "running")?;
            PhaseFigures::new(group.len(), first, last, computing)
        };
        Some(GilComparison {
            processes: gil::processes_of(&self.scenario, &free),
            ..GilComparison::new(phase(&under)?, phase(&free)?)
        })
    }

    /// The same figures as the event-loop lesson's card, from the accumulated times.
    fn gather_comparison(&self) -> Option<GatherComparison> {
        let (together, later) = gather::phases(&self.scenario)?;
        let group = |tasks: &[u16]| -> Option<GroupFigures> {
            let (first, last, awaiting) = self.group_span(tasks, "sleeping")?;
            GroupFigures::new(tasks.len(), first, last, awaiting)
        };
        Some(GatherComparison::new(group(&together)?, group(&later)?))
    }

    /// A group's first start, last finish, and the time its threads spent in `state` (a JSON
    /// state name); `None` until every one of them has finished.
    fn group_span(&self, group: &[u16], state: &str) -> Option<(u64, u64, u64)> {
        let mut first = u64::MAX;
        let mut last = 0;
        let mut spent = 0;
        for &t in group {
            let acc = self.threads.get(t as usize)?;
            first = first.min(acc.started_ns?);
            last = last.max(acc.finished_ns?);
            spent += acc.times.ns(state);
        }
        Some((first, last, spent))
    }
}

fn figures(s: &Scenario, r: ResIdx, acc: &ResourceAcc) -> ResourceFigures {
    let name = s.resource_name(r).to_string();
    let resource_kind = s.resources[r as usize].kind;
    let kind = s.resources[r as usize].keyword();
    match resource_kind {
        ResourceKind::Counter => ResourceFigures::Counter {
            name,
            kind,
            increments: acc.stores,
            value: acc.stored,
            lost_updates: acc.stores.saturating_sub(acc.stored),
        },
        ResourceKind::Mutex | ResourceKind::RLock | ResourceKind::RwLock { .. } => {
            ResourceFigures::Lock {
                name,
                kind,
                acquisitions: acc.acquisitions,
                waits: acc.waits,
                most_waiters: acc.most_waiters,
            }
        }
        ResourceKind::Event => ResourceFigures::Event {
            name,
            kind,
            sets: acc.sets,
            waits: acc.waits,
            most_waiters: acc.most_waiters,
        },
        ResourceKind::Pool => ResourceFigures::Pool {
            name,
            kind,
            submitted: acc.pool_submitted,
            raised: acc.pool_raised,
            collected: acc.pool_collected,
            most_queued: acc.most_fill,
        },
        ResourceKind::Condition { .. } => ResourceFigures::Condition {
            name,
            kind,
            notifies: acc.notifies,
            lost_notifies: acc.lost_notifies,
            waits: acc.waits,
            most_waiters: acc.most_waiters,
        },
        ResourceKind::Semaphore { permits } => ResourceFigures::Semaphore {
            name,
            kind,
            permits,
            acquisitions: acc.acquisitions,
            most_holders: acc.most_holders,
            most_waiters: acc.most_waiters,
        },
        ResourceKind::Barrier { parties } => ResourceFigures::Barrier {
            name,
            kind,
            parties,
            generations: match acc.state {
                ResourceState::Barrier { generation, .. } => generation,
                _ => 0,
            },
        },
        ResourceKind::Buffer { .. } | ResourceKind::List | ResourceKind::MpQueue => {
            let capacity = match resource_kind {
                ResourceKind::Buffer { capacity } => capacity,
                // A list has no bound.
                _ => 0,
            };
            let (items_put, items_taken) = match acc.state {
                ResourceState::Buffer { put, taken, .. } => (put, taken),
                _ => (0, 0),
            };
            ResourceFigures::Buffer {
                name,
                kind,
                capacity,
                most_fill: acc.most_fill,
                items_put,
                items_taken,
                producer_waits: acc.waits,
                consumer_waits: acc.consumer_waits,
            }
        }
        ResourceKind::Gil { .. } => ResourceFigures::Gil {
            name,
            kind,
            acquisitions: acc.acquisitions,
            hand_offs: acc.hand_offs,
            drop_requests: acc.drop_requests,
        },
        ResourceKind::EventLoop => ResourceFigures::EventLoop {
            name,
            kind,
            turns: acc.acquisitions,
            most_ready: acc.most_waiters,
            longest_turn_ms: acc.longest_hold.map_or(0.0, |(ns, _)| ms(ns)),
            longest_turn_by: acc.longest_hold.map(|(_, t)| s.thread_name(t).to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::{Op, ResourceKind as K};
    use crate::scenario::testing::{ms as millis, scenario};
    use crate::trace::testing::deadlock_end;
    use crate::trace::testing::{
        Contention, EventExt, Truth, contention_scenario, deadlock_events, deadlock_scenario, ev,
        jumble,
    };
    use EventKind::*;

    const MS: u64 = 1_000_000;

    fn summarize(s: &Arc<Scenario>, events: &[Event], end: &RunEnd) -> Summary {
        let mut b = SummaryBuilder::new(s.clone());
        b.extend(events);
        b.finish(end)
    }

    #[test]
    fn deadlock_run_in_figures() {
        let s = deadlock_scenario();
        let sum = summarize(&s, &deadlock_events(), &deadlock_end(300 * MS));
        assert_eq!(sum.outcome, Some(Outcome::Deadlock));
        assert_eq!(sum.run_time_ms, 300.0);
        let t1 = &sum.threads[0];
        assert_eq!(t1.state_ms.ns("running"), 100 * MS);
        assert_eq!(t1.state_ms.ns("blocked"), 200 * MS);
        assert_eq!(t1.state_ms.total_ns(), 300 * MS);
        assert_eq!(t1.final_state, "blocked");
        assert_eq!(t1.waiting_for.as_deref(), Some("B"));
        assert_eq!(t1.finished_ms, None);
        assert_eq!(sum.threads[1].state_ms.ns("blocked"), 199 * MS);
        assert_eq!(
            sum.resources[0],
            ResourceFigures::Lock {
                name: "A".into(),
                kind: "mutex",
                acquisitions: 1,
                waits: 1,
                most_waiters: 1
            }
        );
        assert_eq!(sum.events_recorded, 8);

        let json = serde_json::to_value(&sum).unwrap();
        assert_eq!(json["outcome"], "deadlock");
        assert_eq!(json["scenario"], "test");
        assert_eq!(
            json["deadlock"]["text"],
            "T1 waits for B held by T2, T2 waits for A held by T1"
        );
        assert_eq!(
            json["deadlock"]["cycle"][0],
            serde_json::json!({"thread": "T1", "waits_for": "B", "wants": "unlock",
                "blame": "held_by", "by": "T2", "held_by": "T2"})
        );
        assert_eq!(json["deadlock"]["self_deadlock"], false);
        assert_eq!(json["threads"][0]["state_ms"]["blocked"], 200.0);
        assert_eq!(json["threads"][0]["state_ms"]["waiting_semaphore"], 0.0);
        assert_eq!(json["resources"][1]["kind"], "mutex");
        assert_eq!(json["resources"][1]["acquisitions"], 1);
        assert_eq!(json["events_dropped"], 0);
    }

    #[test]
    fn outcome_priorities_and_exit_codes() {
        use crate::vocab::outcome::Exit;
        assert_eq!(Outcome::decide(false, false, true), Outcome::Completed);
        assert_eq!(Outcome::decide(false, true, false), Outcome::Deadlock);
        assert_eq!(Outcome::decide(false, false, false), Outcome::Timeout);
        assert_eq!(Outcome::decide(true, true, false), Outcome::Failed);
        let codes: Vec<u8> = [
            Outcome::Completed,
            Outcome::Failed,
            Outcome::Deadlock,
            Outcome::Timeout,
        ]
        .iter()
        .map(|&o| Exit::Run(o).code())
        .collect();
        assert_eq!(codes, [0, 1, 3, 4]);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Signal(15).code(), 143);
    }

    #[test]
    fn semaphore_barrier_buffer_and_gil_figures() {
        let s = scenario(
            &[
                ("pool", K::Semaphore { permits: 2 }),
                ("gate", K::Barrier { parties: 2 }),
                ("queue", K::Buffer { capacity: 2 }),
                (
                    "py",
                    K::Gil {
                        interval: millis(5),
                    },
                ),
            ],
            &[
                (
                    "a",
                    vec![
                        Op::Acquire(0),
                        Op::Wait(1),
                        Op::Put(2),
                        Op::Put(2),
                        Op::Put(2),
                        Op::Work(millis(1)),
                    ],
                ),
                (
                    "b",
                    vec![
                        Op::Acquire(0),
                        Op::Wait(1),
                        Op::Take(2),
                        Op::Take(2),
                        Op::Work(millis(1)),
                    ],
                ),
                ("c", vec![Op::Acquire(0)]),
            ],
        );
        let events = [
            ev(1, 0, Acquire).res(0).step(0),
            ev(2, 1, Acquire).res(0).step(0),
            ev(3, 2, Block).res(0).step(0),
            ev(4, 0, Release).res(0).step(0),
            ev(5, 2, Acquire).res(0).step(0).by(0),
            ev(6, 0, Arrive).res(1).step(1),
            ev(6, 0, Block).res(1).step(1),
            ev(7, 1, Arrive).res(1).step(1),
            ev(8, 0, Pass).res(1).step(1).by(1),
            ev(8, 1, Pass).res(1).step(1).by(1),
            ev(9, 1, Block).res(2).step(2),
            ev(10, 0, Put).res(2).step(2).item(1),
            ev(11, 0, Put).res(2).step(3).item(2),
            ev(12, 0, Block).res(2).step(4),
            ev(13, 1, Take).res(2).step(2).item(1).by(0),
            ev(14, 0, Put).res(2).step(4).item(3).by(1),
            ev(15, 1, Take).res(2).step(3).item(2),
            ev(16, 0, Acquire).res(3).step(5),
            ev(17, 1, Block).res(3).step(4),
            ev(18, 1, DropRequest).res(3).step(4),
            ev(19, 0, Release).res(3).step(5),
            ev(20, 1, Acquire).res(3).step(4).by(0),
            ev(21, 1, Release).res(3).step(4),
            ev(22, 0, Acquire).res(3).step(5),
        ];
        let end = RunEnd {
            run_time_ns: 30,
            outcome: Some(Outcome::Completed),
            ..RunEnd::default()
        };
        let sum = summarize(&s, &events, &end);
        assert_eq!(
            sum.resources,
            [
                ResourceFigures::Semaphore {
                    name: "pool".into(),
                    kind: "semaphore",
                    permits: 2,
                    acquisitions: 3,
                    most_holders: 2,
                    most_waiters: 1
                },
                ResourceFigures::Barrier {
                    name: "gate".into(),
                    kind: "barrier",
                    parties: 2,
                    generations: 1
                },
                ResourceFigures::Buffer {
                    name: "queue".into(),
                    kind: "buffer",
                    capacity: 2,
                    most_fill: 2,
                    items_put: 3,
                    items_taken: 2,
                    producer_waits: 1,
                    consumer_waits: 1
                },
                ResourceFigures::Gil {
                    name: "py".into(),
                    kind: "gil",
                    acquisitions: 3,
                    hand_offs: 2,
                    drop_requests: 1
                },
            ]
        );
        assert_eq!(sum.threads[2].state_ms.ns("waiting_semaphore"), 2);
        assert_eq!(
            sum.threads[1].state_ms.ns("waiting_barrier"),
            0,
            "b tripped it"
        );
        assert_eq!(sum.threads[0].state_ms.ns("waiting_barrier"), 2);
        assert_eq!(sum.threads[1].state_ms.ns("waiting_condition"), 4);
        assert_eq!(sum.threads[1].state_ms.ns("waiting_gil"), 3);
    }

    #[test]
    fn failures_and_finishing_times() {
        let s = deadlock_scenario();
        let events = [
            ev(0, 0, Start),
            ev(5 * MS, 0, Done),
            ev(0, 1, Start),
            ev(7 * MS, 1, Fail),
        ];
        let end = RunEnd {
            run_time_ns: 10 * MS,
            outcome: Some(Outcome::Failed),
            failures: vec![None, Some("unlock of A, which T2 does not hold".into())],
            ..RunEnd::default()
        };
        let sum = summarize(&s, &events, &end);
        assert_eq!(sum.threads[0].finished_ms, Some(5.0));
        assert_eq!(sum.threads[0].final_state, "done");
        assert_eq!(
            sum.threads[0].state_ms.total_ns(),
            5 * MS,
            "time after done is not counted"
        );
        assert_eq!(sum.threads[1].final_state, "failed");
        assert_eq!(
            sum.threads[1].failure.as_deref(),
            Some("unlock of A, which T2 does not hold")
        );
    }

    /// Figures that depend on the order of events across threads come out the same however
    /// the stream was batched.
    #[test]
    fn jumbled_stream_gives_the_same_figures() {
        let s = contention_scenario(6);
        let truth: Vec<Truth> = Contention::new(6, 9).take(50_000).collect();
        let events: Vec<Event> = truth.iter().map(|t| t.event).collect();
        let end = RunEnd {
            run_time_ns: events.last().unwrap().t_ns,
            ..RunEnd::default()
        };
        let ordered = summarize(&s, &events, &end);
        let mut b = SummaryBuilder::new(s.clone());
        for batch in jumble(&events, 53, 2) {
            b.extend(&batch);
        }
        let jumbled = b.finish(&end);
        let most = truth.iter().map(|t| t.waiters.len() as u32).max().unwrap();
        let acquisitions = events.iter().filter(|e| e.kind == Acquire).count() as u64;
        let waits = events.iter().filter(|e| e.kind == Block).count() as u64;
        let expected = ResourceFigures::Lock {
            name: "M".into(),
            kind: "mutex",
            acquisitions,
            waits,
            most_waiters: most,
        };
        assert_eq!(ordered.resources[0], expected);
        assert_eq!(jumbled.resources[0], expected);
        for (a, b) in ordered.threads.iter().zip(&jumbled.threads) {
            assert_eq!(a.state_ms, b.state_ms);
        }
    }

    #[test]
    fn a_live_summary_leaves_the_builder_going() {
        let s = deadlock_scenario();
        let mut b = SummaryBuilder::new(s);
        b.extend(&deadlock_events()[..4]);
        let live = b.summary(&RunEnd {
            run_time_ns: MS,
            ..RunEnd::default()
        });
        assert_eq!(live.outcome, None);
        assert_eq!(live.events_recorded, 4);
        b.extend(&deadlock_events()[4..]);
        assert_eq!(b.finish(&deadlock_end(300 * MS)).events_recorded, 8);
    }

    /// Every resource is called what its scenario calls it, in JSON and in text: an rlock is
    /// never "mutex", an event has sets rather than acquisitions.
    #[test]
    fn every_resource_kind_is_named_by_its_keyword() {
        let kinds = [
            K::Mutex,
            K::RLock,
            K::RwLock {
                prefer_readers: false,
            },
            K::Event,
            K::Semaphore { permits: 2 },
            K::Barrier { parties: 2 },
            K::Buffer { capacity: 2 },
            K::Gil {
                interval: std::time::Duration::from_millis(5),
            },
            K::Counter,
            K::EventLoop,
        ];
        let names: Vec<String> = (0..kinds.len()).map(|i| format!("R{i}")).collect();
        let resources: Vec<(&str, K)> = names
            .iter()
            .map(String::as_str)
            .zip(kinds.iter().copied())
            .collect();
        let s = scenario(
            &resources,
            &[("T1", vec![Op::Set(3)]), ("T2", vec![Op::Wait(3)])],
        );
        let events = [
            ev(MS, 1, Block).res(3),
            ev(2 * MS, 0, Set).res(3),
            ev(3 * MS, 1, Pass).res(3).by(0),
        ];
        let sum = summarize(&s, &events, &RunEnd::default());
        let json = serde_json::to_value(&sum).unwrap();
        let text = crate::trace::text::render_summary(&sum, &s);
        for (i, kind) in kinds.iter().enumerate() {
            assert_eq!(sum.resources[i].kind(), kind.keyword());
            assert_eq!(json["resources"][i]["kind"], kind.keyword());
            assert_eq!(json["resources"][i]["name"], names[i]);
            let line = text
                .lines()
                .find(|l| l.split_whitespace().any(|w| w == names[i]))
                .unwrap_or_else(|| panic!("no line for {}:\n{text}", names[i]));
            assert!(line.contains(&format!("{}: ", kind.keyword())), "{line}");
        }
        assert_eq!(
            sum.resources[3],
            ResourceFigures::Event {
                name: "R3".into(),
                kind: "event",
                sets: 1,
                waits: 1,
                most_waiters: 1
            }
        );
    }
}

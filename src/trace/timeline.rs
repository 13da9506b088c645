//! The timeline store: per-thread lanes of state spans, a bounded event log and checkpoints of
//! resource state, answering "what was going on at time t" for the TUI and headless output.
//!
//! Memory stays bounded however long a run goes:
//! - each lane keeps at most `max_spans_per_lane` spans; when full, its older half is coarsened
//!   by merging neighbours (a merged span shows the state that covered most of it), so old
//!   history gets blurrier but never wrong about which states happened roughly when;
//! - the event log is a ring of at most `max_events`, sorted by time, with a checkpoint of every
//!   resource's state every `checkpoint_every` events. Resource states, code markers and the
//!   event log are exact from [`Trace::exact_from_ns`] on; before that, `resources_at` and
//!   `step_at` answer from the nearest older checkpoint (thinned as they age) and the event log
//!   has nothing. Nothing is ever made up: an answer is either exact or an older true state.
//!
//! Input arrives in batches drained from a run: in order per thread, only roughly in order across
//! threads (and an event may arrive a batch late). Lanes only need per-thread order. The log is
//! kept sorted by inserting late events where they belong and recomputing any checkpoint they
//! land before.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rust_i18n::t;

use crate::i18n::Lang;
use crate::scenario::duration;
use crate::scenario::model::{Op, ResIdx, ResourceKind, Scenario, ThreadIdx};
pub use crate::trace::resources::ResourceState;
use crate::trace::resources::{apply_event, step_op};
use crate::vocab::event::{Event, EventKind, NO_STEP, State, StateTracker};

/// A stretch of time cut into lane cells, with the cells where each event loop had a task in a
/// blocking call: what every task's lane on that loop asks of the others.
#[derive(Debug, Clone)]
pub struct CellWindow {
    from_ns: u64,
    to_ns: u64,
    cells: usize,
    blocking: Vec<(ResIdx, Vec<bool>)>,
}

impl CellWindow {
    /// How many cells the window is cut into.
    pub fn cells(&self) -> usize {
        self.cells
    }
}

/// A stretch of time a thread spent in one state: `[start_ns, end_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateSpan {
    pub start_ns: u64,
    pub end_ns: u64,
    pub state: State,
}

impl StateSpan {
    pub fn len_ns(&self) -> u64 {
        self.end_ns - self.start_ns
    }
}

/// How much history a [`Trace`] keeps. The defaults hold about 250 000 events (8 MB) of exact
/// history and 4096 spans per lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceLimits {
    /// Events kept in the log; older ones are evicted a chunk at a time.
    pub max_events: usize,
    /// A checkpoint of every resource's state is taken every this many logged events; it bounds
    /// the replay behind `resources_at`, `step_at` and `describe`.
    pub checkpoint_every: usize,
    /// Spans kept per lane before the older half is coarsened.
    pub max_spans_per_lane: usize,
    /// Checkpoints kept from before the log's window (thinned to every other one when full).
    pub max_old_checkpoints: usize,
}

impl Default for TraceLimits {
    fn default() -> TraceLimits {
        TraceLimits {
            max_events: 250_000,
            checkpoint_every: 1024,
            max_spans_per_lane: 4096,
            max_old_checkpoints: 256,
        }
    }
}

impl TraceLimits {
    /// Limits that keep the invariants the store relies on: room for several checkpoints in the
    /// log, and enough spans that coarsening always frees some.
    fn sane(self) -> TraceLimits {
        let checkpoint_every = self.checkpoint_every.max(1);
        TraceLimits {
            checkpoint_every,
            max_events: self.max_events.max(checkpoint_every * 8),
            max_spans_per_lane: self.max_spans_per_lane.max(8),
            max_old_checkpoints: self.max_old_checkpoints.max(2),
        }
    }
}

/// Everything a run recorded, bounded in memory.
#[derive(Debug, Clone)]
pub struct Trace {
    scenario: Arc<Scenario>,
    limits: TraceLimits,
    lanes: Vec<Lane>,
    /// Sorted by `t_ns`; equal times keep arrival order.
    log: VecDeque<Event>,
    /// Sorted by `upto`. `checkpoints[0]` is always the initial state (`upto == 0`), so every
    /// time has a checkpoint at or before it. Those before `exact` are older than the log.
    checkpoints: Vec<Checkpoint>,
    exact: usize,
    end_ns: u64,
    events_seen: u64,
    evicted: u64,
    /// Events that arrived so late that their place in the log had already been evicted.
    too_late: u64,
    failures: Vec<Option<String>>,
    /// Name used for GIL resources in sentences: "the GIL", or "the GIL py" when there are two.
    several_gils: bool,
    /// What each thread holds that colours its lane (the rwlock it reads or writes).
    states: StateTracker,
    /// The tasks that make a blocking call somewhere in their script, and their loops: while
    /// one of them blocks, the others ready on its loop starve. Found once, as a lesson with ten
    /// thousand tasks asks for every lane every frame.
    blockers: Vec<(ThreadIdx, ResIdx)>,
    /// Every lost update the log shows, found as its events arrive rather than on every frame:
    /// in the order of the writes that lost them.
    lost: VecDeque<LostMark>,
    /// Resource states the log's sentences last worked out (see `resource_before`).
    replays: Replays,
}

/// The last few resource states `resource_before` worked out, so that the log's lines, said
/// oldest first, each replay only the events since the line before on the same resource, not
/// all since their checkpoint: a frame of a thousand lines about a loop ten thousand tasks wait
/// on would otherwise replay a thousand events for each line. Nothing of it is kept by a clone.
#[derive(Default)]
struct Replays(parking_lot::Mutex<Vec<Replay>>);

struct Replay {
    /// The log as it was: events seen and events evicted. Any change to the log changes one.
    log_at: (u64, u64),
    resource: ResIdx,
    checkpoint: usize,
    /// The state just before the log's event at this index.
    index: usize,
    state: ResourceState,
}

impl Replays {
    /// As many resources as a frame's sentences name at once, and few enough to search.
    const KEPT: usize = 8;
}

impl Clone for Replays {
    fn clone(&self) -> Replays {
        Replays::default()
    }
}

impl std::fmt::Debug for Replays {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Replays")
    }
}

/// An increment another thread's write then threw away: `thread`'s store at `at_ns`, lost to
/// the write at `by_ns` of a value read before it.
#[derive(Debug, Clone, Copy)]
struct LostMark {
    by_ns: u64,
    thread: ThreadIdx,
    at_ns: u64,
}

/// The state of every resource and every thread's code marker after all events with
/// `t_ns < upto`.
#[derive(Debug, Clone)]
struct Checkpoint {
    upto: u64,
    resources: Vec<ResourceState>,
    markers: Vec<Option<u32>>,
}

#[derive(Debug, Clone, Default)]
struct Lane {
    /// Closed spans, contiguous and in order.
    spans: Vec<StateSpan>,
    /// The current state and since when; `None` before the thread's first event.
    open: Option<(u64, State)>,
    /// Spans starting before this have been coarsened.
    exact_from: u64,
    /// The pid of the child process it runs in, once its `spawn` said.
    pid: Option<u32>,
}

impl Trace {
    pub fn new(scenario: Arc<Scenario>) -> Trace {
        Trace::with_limits(scenario, TraceLimits::default())
    }

    pub fn with_limits(scenario: Arc<Scenario>, limits: TraceLimits) -> Trace {
        let limits = limits.sane();
        let initial = Checkpoint {
            upto: 0,
            resources: ResourceState::all_initial(&scenario),
            markers: vec![None; scenario.threads.len()],
        };
        let gils = scenario
            .resources
            .iter()
            .filter(|r| matches!(r.kind, ResourceKind::Gil { .. }))
            .count();
        Trace {
            lanes: vec![Lane::default(); scenario.threads.len()],
            failures: vec![None; scenario.threads.len()],
            several_gils: gils > 1,
            states: StateTracker::new(),
            blockers: scenario
                .threads
                .iter()
                .enumerate()
                .filter(|(_, spec)| {
                    spec.steps
                        .iter()
                        .any(|st| matches!(st.op, Op::BlockingSleep(_)))
                })
                .filter_map(|(u, spec)| Some((u as ThreadIdx, spec.event_loop?)))
                .collect(),
            scenario,
            limits,
            log: VecDeque::new(),
            checkpoints: vec![initial],
            exact: 0,
            end_ns: 0,
            events_seen: 0,
            evicted: 0,
            too_late: 0,
            lost: VecDeque::new(),
            replays: Replays::default(),
        }
    }

    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// The pid of the child process thread `t` runs in, once it was started.
    pub fn pid(&self, t: ThreadIdx) -> Option<u32> {
        self.lanes.get(t as usize)?.pid
    }

    pub fn limits(&self) -> TraceLimits {
        self.limits
    }

    /// Adds a batch of events as drained from a run: in order per thread, in any order across
    /// threads.
    pub fn push(&mut self, events: &[Event]) {
        let threads = self.lanes.len();
        for e in events.iter().filter(|e| (e.thread as usize) < threads) {
            self.events_seen += 1;
            self.end_ns = self.end_ns.max(e.t_ns);
            if e.kind == EventKind::Spawn {
                self.lanes[e.thread as usize].pid = e.item;
            }
            if let Some(state) = self.states.after(e, &self.scenario) {
                let cap = self.limits.max_spans_per_lane;
                self.lanes[e.thread as usize].enter(e.t_ns, state, cap);
            }
        }

        let mut batch: Vec<Event> = events
            .iter()
            .filter(|e| (e.thread as usize) < threads)
            .copied()
            .collect();
        // Stable, so events at the same instant keep their per-thread order.
        if !batch.is_sorted_by_key(|e| e.t_ns) {
            batch.sort_by_key(|e| e.t_ns);
        }
        let mut earliest_late: Option<u64> = None;
        // The batch is sorted: its first event is the earliest whose lost updates it changes.
        let mut lost_from: Option<u64> = None;
        for e in batch {
            lost_from.get_or_insert(e.t_ns);
            if self.log.back().is_none_or(|b| b.t_ns <= e.t_ns) {
                self.log.push_back(e);
            } else if e.t_ns < self.checkpoints[self.exact].upto {
                self.too_late += 1;
                continue;
            } else {
                let at = self.log.partition_point(|x| x.t_ns <= e.t_ns);
                self.log.insert(at, e);
                earliest_late = Some(earliest_late.map_or(e.t_ns, |t| t.min(e.t_ns)));
            }
            if self.log.len() >= self.limits.max_events {
                self.settle(earliest_late.take());
                if let Some(t) = lost_from.take() {
                    self.find_lost(t);
                }
                self.evict();
            }
        }
        self.settle(earliest_late);
        if let Some(t) = lost_from {
            self.find_lost(t);
        }
    }

    /// Finds again the lost updates of every write to a counter at or after `from_ns`, where
    /// the events that just arrived may have changed them: each increment stored that another
    /// thread then wrote over with a value it had read before that increment.
    fn find_lost(&mut self, from_ns: u64) {
        if !self
            .scenario
            .resources
            .iter()
            .any(|r| r.kind == ResourceKind::Counter)
        {
            return;
        }
        let keep = self.lost.partition_point(|m| m.by_ns < from_ns);
        self.lost.truncate(keep);
        let counter = |r: Option<ResIdx>| {
            r.and_then(|r| self.scenario.resources.get(r as usize))
                .is_some_and(|x| x.kind == ResourceKind::Counter)
        };
        let start = self.log.partition_point(|e| e.t_ns < from_ns);
        for i in start..self.log.len() {
            let x = self.log[i];
            if x.kind != EventKind::Store || !counter(x.resource) {
                continue;
            }
            let wrote = x.item.unwrap_or(0);
            // Back to the writer's own read: every other thread's increment stored since then,
            // to a value this write does not exceed, is gone.
            // A read and its write-back lie close together; a write whose read has left the
            // log is not looked for further than this.
            const BACK: usize = 4096;
            let mut found = Vec::new();
            for y in self.log.range(..i).rev().take(BACK) {
                if y.resource != x.resource {
                    continue;
                }
                if y.thread == x.thread && y.kind == EventKind::Load {
                    break;
                }
                if y.thread != x.thread
                    && y.kind == EventKind::Store
                    && y.item.unwrap_or(0) >= wrote
                {
                    found.push(LostMark {
                        by_ns: x.t_ns,
                        thread: y.thread,
                        at_ns: y.t_ns,
                    });
                }
            }
            self.lost.extend(found);
        }
    }

    /// Drops checkpoints a late event landed before, then checkpoints whatever is due.
    fn settle(&mut self, earliest_late: Option<u64>) {
        if let Some(t) = earliest_late {
            let keep = self.checkpoints.partition_point(|c| c.upto <= t);
            self.checkpoints.truncate(keep.max(self.exact + 1));
        }
        let every = self.limits.checkpoint_every;
        loop {
            let last = self
                .checkpoints
                .last()
                .expect("the initial checkpoint stays");
            let from = self.log.partition_point(|e| e.t_ns < last.upto);
            if self.log.len() - from < every {
                return;
            }
            let upto = self.log[from + every - 1].t_ns.saturating_add(1);
            if upto <= last.upto {
                // Only at the very end of time; nothing later to checkpoint.
                return;
            }
            let to = self.log.partition_point(|e| e.t_ns < upto);
            let mut next = Checkpoint {
                upto,
                resources: last.resources.clone(),
                markers: last.markers.clone(),
            };
            for e in self.log.range(from..to) {
                apply_event(&mut next.resources, &self.scenario, e);
                let m = &mut next.markers[e.thread as usize];
                *m = marker_after(*m, e, &self.scenario);
            }
            self.checkpoints.push(next);
        }
    }

    /// Evicts the oldest part of the log, up to a checkpoint, leaving it about three quarters
    /// full, and thins the checkpoints that fall out of the window.
    fn evict(&mut self) {
        let target = self.limits.max_events * 3 / 4;
        let need = self.log.len().saturating_sub(target);
        let mut cut = None;
        for j in self.exact + 1..self.checkpoints.len() {
            let p = self
                .log
                .partition_point(|e| e.t_ns < self.checkpoints[j].upto);
            cut = Some((j, p));
            if p >= need {
                break;
            }
        }
        let Some((j, p)) = cut else { return };
        self.log.drain(..p);
        // What the log no longer holds is not shown as lost: only from the exact time on.
        if let Some(front) = self.log.front().map(|e| e.t_ns) {
            self.lost.retain(|m| m.at_ns >= front);
        }
        self.evicted += p as u64;
        self.exact = j;
        if self.exact > self.limits.max_old_checkpoints {
            // Keep the initial state and every other one after it: old history gets sparser,
            // each remaining checkpoint still true at its time.
            let mut i = 0;
            let exact = self.exact;
            self.checkpoints.retain(|_| {
                let keep = i == 0 || i >= exact || i % 2 == 0;
                i += 1;
                keep
            });
            self.exact = exact.div_ceil(2);
        }
    }

    /// The latest event time seen.
    pub fn end_ns(&self) -> u64 {
        self.end_ns
    }

    /// Events pushed so far (including those since evicted from the log).
    pub fn events_seen(&self) -> u64 {
        self.events_seen
    }

    /// Events that arrived after their place in the log had been evicted; they are in the lanes
    /// but not in the log or resource states. Zero unless a batch arrives absurdly late.
    pub fn events_too_late(&self) -> u64 {
        self.too_late
    }

    /// Events evicted from the log to keep memory bounded.
    pub fn events_evicted(&self) -> u64 {
        self.evicted
    }

    /// From this time on, `resources_at`, `step_at`, `events_before` and `describe` are exact;
    /// before it they answer from older checkpoints (or, for the event log, not at all).
    pub fn exact_from_ns(&self) -> u64 {
        self.checkpoints[self.exact].upto
    }

    /// From this time on, a thread's lane is exact; before it, spans have been coarsened.
    pub fn lane_exact_from_ns(&self, thread: ThreadIdx) -> u64 {
        self.lanes.get(thread as usize).map_or(0, |l| l.exact_from)
    }

    /// The reason a thread failed, if the run told us (shown by `describe` for its fail event).
    pub fn note_failure(&mut self, thread: ThreadIdx, reason: impl Into<String>) {
        if let Some(slot) = self.failures.get_mut(thread as usize) {
            *slot = Some(reason.into());
        }
    }

    pub fn failure(&self, thread: ThreadIdx) -> Option<&str> {
        self.failures.get(thread as usize)?.as_deref()
    }

    /// A rough count of the bytes this trace holds on the heap.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let lanes: usize = self
            .lanes
            .iter()
            .map(|l| l.spans.capacity() * size_of::<StateSpan>())
            .sum();
        let per_checkpoint = self.scenario.threads.len() * size_of::<Option<u32>>()
            + self.scenario.resources.len() * (size_of::<ResourceState>() + 64);
        lanes
            + self.log.capacity() * size_of::<Event>()
            + self.checkpoints.capacity() * (size_of::<Checkpoint>() + per_checkpoint)
            + self.lost.capacity() * size_of::<LostMark>()
    }

    /// A thread's state at `t_ns`; `None` before its first event (or for an unknown thread).
    /// A task ready for a loop that another task holds in a blocking call is starved.
    pub fn state_at(&self, thread: ThreadIdx, t_ns: u64) -> Option<State> {
        let state = self.lanes.get(thread as usize)?.state_at(t_ns)?;
        Some(match state {
            State::Ready(l)
                if self
                    .blockers(thread, l)
                    .any(|u| self.lanes[u as usize].state_at(t_ns) == Some(State::Blocking(l))) =>
            {
                State::Starved(l)
            }
            other => other,
        })
    }

    /// The other tasks on loop `l` that make a blocking call somewhere in their script.
    fn blockers(&self, thread: ThreadIdx, l: ResIdx) -> impl Iterator<Item = ThreadIdx> + '_ {
        self.blockers
            .iter()
            .filter(move |(u, lp)| *u != thread && *lp == l)
            .map(|(u, _)| *u)
    }

    /// When `thread`'s latest state began (the wait a stuck thread never left); `None` before
    /// its first event.
    pub fn state_since(&self, thread: ThreadIdx) -> Option<u64> {
        self.lanes
            .get(thread as usize)?
            .open
            .map(|(since, _)| since)
    }

    /// A thread's spans overlapping `[from_ns, to_ns)`, clipped to it. The current state runs
    /// on to `to_ns` (the caller knows where "now" is).
    pub fn spans(&self, thread: ThreadIdx, from_ns: u64, to_ns: u64) -> Vec<StateSpan> {
        let mut out = Vec::new();
        if let Some(lane) = self.lanes.get(thread as usize) {
            lane.for_each(from_ns, to_ns, |s| out.push(s));
        }
        out
    }

    /// What one lane cell shows for `[from_ns, to_ns)`: the state that covers most of it
    /// (of states tied, the one seen first). `None` if the thread had not started by `to_ns`.
    pub fn dominant_state(&self, thread: ThreadIdx, from_ns: u64, to_ns: u64) -> Option<State> {
        let lane = self.lanes.get(thread as usize)?;
        let mut tally = Tally::default();
        lane.for_each(from_ns, to_ns, |s| tally.add(s.state, s.len_ns()));
        tally.take()
    }

    /// The lane cut into `cells` equal cells across `[from_ns, to_ns)`, each its dominant state
    /// (the same as [`Trace::dominant_state`] per cell, in one pass over the spans; a cell
    /// narrower than a nanosecond shows the state at its start). A task's cell where it is
    /// ready while another task on its loop is in a blocking call shows it starved.
    pub fn lane_cells(
        &self,
        thread: ThreadIdx,
        from_ns: u64,
        to_ns: u64,
        cells: usize,
    ) -> Vec<Option<State>> {
        self.window_cells(thread, &self.cell_window(from_ns, to_ns, cells))
    }

    /// `[from_ns, to_ns)` cut into `cells` cells, for drawing many lanes across it with
    /// [`Trace::window_cells`]: where each loop had a task in a blocking call is found here
    /// once, not again for every task on that loop.
    pub fn cell_window(&self, from_ns: u64, to_ns: u64, cells: usize) -> CellWindow {
        let mut blocking: Vec<(ResIdx, Vec<bool>)> = Vec::new();
        for &(u, l) in &self.blockers {
            let theirs = self.own_cells(u, from_ns, to_ns, cells);
            let at = match blocking.iter().position(|(b, _)| *b == l) {
                Some(i) => i,
                None => {
                    blocking.push((l, vec![false; cells]));
                    blocking.len() - 1
                }
            };
            for (cell, theirs) in blocking[at].1.iter_mut().zip(theirs) {
                *cell |= theirs == Some(State::Blocking(l));
            }
        }
        CellWindow {
            from_ns,
            to_ns,
            cells,
            blocking,
        }
    }

    /// [`Trace::lane_cells`] across a window taken with [`Trace::cell_window`].
    pub fn window_cells(&self, thread: ThreadIdx, window: &CellWindow) -> Vec<Option<State>> {
        let mut out = self.own_cells(thread, window.from_ns, window.to_ns, window.cells);
        let Some(l) = self
            .scenario
            .threads
            .get(thread as usize)
            .and_then(|t| t.event_loop)
        else {
            return out;
        };
        // The task's own blocking call is in the loop's cells too; a cell of its own where it
        // is ready is never one where it blocks, so only another task's call marks it.
        if let Some((_, blocked)) = window.blocking.iter().find(|(b, _)| *b == l) {
            for (mine, &blocked) in out.iter_mut().zip(blocked) {
                if blocked && *mine == Some(State::Ready(l)) {
                    *mine = Some(State::Starved(l));
                }
            }
        }
        out
    }

    /// [`Trace::lane_cells`] from this lane's spans alone.
    fn own_cells(
        &self,
        thread: ThreadIdx,
        from_ns: u64,
        to_ns: u64,
        cells: usize,
    ) -> Vec<Option<State>> {
        let mut out = vec![None; cells];
        let Some(lane) = self.lanes.get(thread as usize) else {
            return out;
        };
        if cells == 0 || to_ns <= from_ns {
            return out;
        }
        let width = (to_ns - from_ns) as u128;
        let bound = |i: usize| from_ns + (width * i as u128 / cells as u128) as u64;
        let last = cells - 1;
        let mut cell = 0;
        let mut cell_end = bound(1);
        let mut tally = Tally::default();
        lane.for_each(from_ns, to_ns, |s| {
            let mut at = s.start_ns;
            while at < s.end_ns {
                while cell < last && at >= cell_end {
                    out[cell] = tally
                        .take()
                        .or_else(|| (bound(cell) >= s.start_ns).then_some(s.state));
                    cell += 1;
                    cell_end = bound(cell + 1);
                }
                let upto = if cell == last {
                    s.end_ns
                } else {
                    s.end_ns.min(cell_end)
                };
                tally.add(s.state, upto - at);
                at = upto;
            }
        });
        out[cell] = tally.take();
        out
    }

    /// The index of the step a thread is at, at `t_ns`: the step of its latest event, or its
    /// first step right after it started. `None` before it started and once it is done.
    pub fn step_at(&self, thread: ThreadIdx, t_ns: u64) -> Option<u32> {
        self.state_at(thread, t_ns)?;
        let j = self.checkpoint_for(t_ns);
        let cp = &self.checkpoints[j];
        let mut marker = *cp.markers.get(thread as usize)?;
        if j >= self.exact {
            for e in self.replay_range(cp.upto, t_ns) {
                if e.thread == thread {
                    marker = marker_after(marker, e, &self.scenario);
                }
            }
        }
        marker
    }

    /// [`Trace::step_at`] for every thread at once, in one replay from the checkpoint instead
    /// of one per thread: what a view showing every thread's marker asks on every frame.
    pub fn steps_at(&self, t_ns: u64) -> Vec<Option<u32>> {
        let j = self.checkpoint_for(t_ns);
        let cp = &self.checkpoints[j];
        let mut markers = cp.markers.clone();
        if j >= self.exact {
            for e in self.replay_range(cp.upto, t_ns) {
                if let Some(m) = markers.get_mut(e.thread as usize) {
                    *m = marker_after(*m, e, &self.scenario);
                }
            }
        }
        for (t, m) in markers.iter_mut().enumerate() {
            if self.state_at(t as ThreadIdx, t_ns).is_none() {
                *m = None;
            }
        }
        markers
    }

    /// Lost updates on counters: each increment stored in `[from_ns, to_ns]` that another
    /// thread then wrote over with a value it had read before that increment, as (the thread
    /// whose update was lost, when it stored it). Found in the event log, so only from
    /// [`Trace::exact_from_ns`] on.
    pub fn lost_updates(&self, from_ns: u64, to_ns: u64) -> Vec<(ThreadIdx, u64)> {
        // The write that loses an update comes after it: look a little past the window.
        let until = to_ns.saturating_add((to_ns - from_ns.min(to_ns)) / 2);
        let start = self.lost.partition_point(|m| m.by_ns < from_ns);
        let mut lost: Vec<(ThreadIdx, u64)> = self
            .lost
            .range(start..)
            .take_while(|m| m.by_ns <= until)
            .filter(|m| (from_ns..=to_ns).contains(&m.at_ns))
            .map(|m| (m.thread, m.at_ns))
            .collect();
        lost.sort_unstable();
        lost.dedup();
        lost
    }

    /// Every resource's state at `t_ns` (after all events at or before it), in declaration order.
    pub fn resources_at(&self, t_ns: u64) -> Vec<ResourceState> {
        let j = self.checkpoint_for(t_ns);
        let cp = &self.checkpoints[j];
        let mut states = cp.resources.clone();
        if j >= self.exact {
            for e in self.replay_range(cp.upto, t_ns) {
                apply_event(&mut states, &self.scenario, e);
            }
        }
        states
    }

    /// Up to `max` of the latest events at or before `t_ns`, oldest first. Only events still
    /// in the log (from [`Trace::exact_from_ns`] on).
    pub fn events_before(&self, t_ns: u64, max: usize) -> Vec<Event> {
        let end = self.log.partition_point(|e| e.t_ns <= t_ns);
        let start = end.saturating_sub(max);
        self.log.range(start..end).copied().collect()
    }

    /// The events at or before `t_ns`, latest first, without copying: for a reader that stops
    /// as soon as it has what it shows (a pause of ten thousand lanes logs a hold for each).
    pub fn events_back(&self, t_ns: u64) -> impl Iterator<Item = &Event> {
        let end = self.log.partition_point(|e| e.t_ns <= t_ns);
        self.log.range(..end).rev()
    }

    /// The latest checkpoint that covers only events at or before `t_ns`.
    fn checkpoint_for(&self, t_ns: u64) -> usize {
        let bound = t_ns.saturating_add(1);
        self.checkpoints
            .partition_point(|c| c.upto <= bound)
            .saturating_sub(1)
    }

    /// Logged events with `from <= t_ns <= to`.
    fn replay_range(&self, from: u64, to: u64) -> impl Iterator<Item = &Event> {
        let start = self.log.partition_point(|e| e.t_ns < from);
        self.log.range(start..).take_while(move |e| e.t_ns <= to)
    }

    /// Whether `e`, a thread starting to compute, had computed in the same step already: it is
    /// going on after a pause or after getting the GIL back. Looks back a bounded way: the log
    /// draws this for each line it shows, every frame, and a thread's earlier events of the
    /// same step lie within a few GIL turns of every other thread.
    fn computes_again(&self, at: usize, e: &Event) -> bool {
        self.log
            .range(..at)
            .rev()
            .take(256)
            .filter(|p| p.thread == e.thread)
            .take_while(|p| p.step == e.step)
            .any(|p| p.kind == EventKind::Run)
    }

    /// Where `e` sits in the log, if it is there.
    fn position(&self, e: &Event) -> Option<usize> {
        let start = self.log.partition_point(|x| x.t_ns < e.t_ns);
        self.log
            .range(start..)
            .take_while(|x| x.t_ns == e.t_ns)
            .position(|x| x == e)
            .map(|i| start + i)
    }

    /// One resource's state just before the log event at `index`.
    fn resource_before(&self, r: ResIdx, index: usize) -> Option<ResourceState> {
        let t = self.log[index].t_ns;
        let j = self
            .checkpoints
            .partition_point(|c| c.upto <= t)
            .saturating_sub(1);
        let cp = &self.checkpoints[j];
        let from = self.log.partition_point(|e| e.t_ns < cp.upto);
        let log_at = (self.events_seen, self.evicted);
        let mut replays = self.replays.0.lock();
        let earlier = replays.iter().position(|p| {
            (p.log_at, p.resource, p.checkpoint) == (log_at, r, j)
                && (from..=index).contains(&p.index)
        });
        let (mut state, from) = match earlier {
            Some(i) => {
                let p = replays.remove(i);
                (p.state, p.index)
            }
            None => (cp.resources.get(r as usize)?.clone(), from),
        };
        for e in self.log.range(from..index) {
            if e.resource == Some(r) {
                state.apply(e, step_op(&self.scenario, e));
            } else if matches!(
                e.kind,
                EventKind::Done | EventKind::Fail | EventKind::Stop | EventKind::Cancelled
            ) {
                state.forget_waiter(e.thread);
            }
        }
        if replays.len() >= Replays::KEPT {
            replays.remove(0);
        }
        replays.push(Replay {
            log_at,
            resource: r,
            checkpoint: j,
            index,
            state: state.clone(),
        });
        Some(state)
    }

    /// The first thread whose wake-up (`by`) is this event's thread, on the same resource, within
    /// a short look-ahead: who a release, a put or a take woke.
    fn woke(&self, index: usize, e: &Event) -> Option<ThreadIdx> {
        const LOOKAHEAD: usize = 512;
        let r = e.resource?;
        let wake_kinds: &[EventKind] = match e.kind {
            EventKind::Release => &[EventKind::Acquire],
            EventKind::Put => &[EventKind::Take],
            EventKind::Take => &[EventKind::Put],
            _ => return None,
        };
        for x in self.log.range(index + 1..).take(LOOKAHEAD) {
            if x.resource != Some(r) {
                continue;
            }
            if wake_kinds.contains(&x.kind) && x.by == Some(e.thread) && x.thread != e.thread {
                return Some(x.thread);
            }
            let exclusive = matches!(
                self.scenario.resources.get(r as usize).map(|r| r.kind),
                Some(ResourceKind::Mutex | ResourceKind::Gil { .. } | ResourceKind::EventLoop)
            );
            // A lock is taken by one thread at a time: the next acquire is the hand-off or a
            // barging thread, either way nobody else was woken by this release.
            if exclusive && x.kind == EventKind::Acquire {
                return None;
            }
            // The same thread acting again on the resource: anyone woken later was woken by that.
            if x.thread == e.thread && x.kind == e.kind {
                return None;
            }
        }
        None
    }

    /// Whether another line of the log already says what `e` did, so the log leaves `e` out:
    /// a task's await (its loop's release says it, with the time), a wait at a barrier (the
    /// arrival says how many are there), a back-off's unlocks and sleep (the give-up says them),
    /// a sleep going on after a pause, and a thread going on computing after taking back a GIL
    /// the log leaves out (the line that started the work says it).
    pub fn said_elsewhere(&self, e: &Event) -> bool {
        let s = &*self.scenario;
        let op = step_op(s, e);
        let task = s
            .threads
            .get(e.thread as usize)
            .is_some_and(|t| t.is_task());
        let barrier = e.resource.is_some_and(|r| {
            matches!(
                s.resources.get(r as usize).map(|x| x.kind),
                Some(ResourceKind::Barrier { .. })
            )
        });
        match (e.kind, op) {
            // Back at its work after taking back a GIL the log does not show: nothing new
            // happened to the lesson's own resources.
            (EventKind::Run, _) => self.position(e).is_some_and(|at| {
                self.computes_again(at, e)
                    && self
                        .log
                        .range(..at)
                        .rev()
                        .take(64)
                        .find(|p| p.thread == e.thread)
                        .is_some_and(|p| {
                            p.kind == EventKind::Acquire
                                && p.resource.is_some_and(|r| s.is_implied(r))
                        })
            }),
            // Sleeping on after a pause: the line before the pause said it.
            (EventKind::Sleep, _)
                if self.position(e).is_some_and(|at| self.sleeps_again(at, e)) =>
            {
                true
            }
            (EventKind::Sleep, Some(Op::Sleep(_))) => task,
            (EventKind::Block, _) => barrier,
            // A try-lock step releases or sleeps only when it backs off.
            (EventKind::Release | EventKind::Sleep, Some(Op::TryLock { .. })) => true,
            _ => false,
        }
    }

    /// Whether `e`, a sleep, goes on with a sleep its thread began in the same step before a
    /// pause held it.
    fn sleeps_again(&self, at: usize, e: &Event) -> bool {
        self.log
            .range(..at)
            .rev()
            .take(256)
            .filter(|p| p.thread == e.thread && p.kind != EventKind::Hold)
            .take_while(|p| p.step == e.step)
            .next()
            .is_some_and(|p| p.kind == EventKind::Sleep)
    }

    /// "T1 gave up on B after 20ms, put A down, backs off 37ms": a try-lock's timeout, with
    /// the back-off that follows it in the log (as much of it as has arrived).
    fn gave_up(&self, l: &str, e: &Event, index: Option<usize>, timeout: Duration) -> String {
        let s = &*self.scenario;
        let Some(r) = e.resource else {
            return String::new();
        };
        const LOOK: usize = 512;
        let waited = index
            .and_then(|i| {
                self.log
                    .range(..i)
                    .rev()
                    .take(LOOK)
                    .filter(|x| x.thread == e.thread)
                    .take_while(|x| x.step == e.step)
                    .find(|x| x.kind == EventKind::Block && x.resource == Some(r))
            })
            .map_or(timeout, |b| Duration::from_nanos(e.t_ns - b.t_ns));
        let mut put_down = Vec::new();
        let mut pause = None;
        for x in index
            .map(|i| self.log.range(i + 1..).take(LOOK))
            .into_iter()
            .flatten()
            .filter(|x| x.thread == e.thread)
        {
            match x.kind {
                _ if x.step != e.step => break,
                EventKind::Release => put_down.extend(x.resource.map(|r| s.resource_name(r))),
                EventKind::Sleep => {
                    pause = x.item.map(|us| Duration::from_micros(u64::from(us)));
                    break;
                }
                EventKind::Hold => {}
                _ => break,
            }
        }
        let ms = |d: Duration| duration::format(Duration::from_millis(d.as_millis() as u64));
        let put_down = if put_down.is_empty() {
            String::new()
        } else {
            t!(
                "screen.log.put_down",
                locale = l,
                what = put_down.join(", ")
            )
            .into_owned()
        };
        let backs_off = pause.map_or(String::new(), |p| {
            t!("screen.log.backs_off", locale = l, time = ms(p)).into_owned()
        });
        t!(
            "screen.log.gave_up",
            locale = l,
            who = s.thread_name(e.thread),
            res = s.resource_name(r),
            waited = ms(waited),
            put_down = put_down,
            backs_off = backs_off
        )
        .into_owned()
    }

    /// A teacher-readable line for an event in `lang`: "T1 blocked on B (held by T2)", "T1
    /// took A from T2", "T2 released A → woke T1", "worker-3 passed gate (tripped by
    /// worker-1)".
    pub fn describe(&self, lang: Lang, e: &Event) -> String {
        let l = lang.code();
        let s = &*self.scenario;
        if (e.thread as usize) >= s.threads.len() {
            let who = format!("#{}", e.thread);
            return t!(
                "classroom.log.unknown_thread",
                locale = l,
                who = who,
                what = e.kind.name()
            )
            .into_owned();
        }
        let who = s.thread_name(e.thread);
        let name = |t: ThreadIdx| {
            s.threads
                .get(t as usize)
                .map_or_else(|| format!("#{t}"), |th| th.name.clone())
        };
        let index = self.position(e);
        let before = |r: ResIdx| index.and_then(|i| self.resource_before(r, i));
        let woke = index
            .and_then(|i| self.woke(i, e))
            .map(|t| t!("classroom.log.woke", locale = l, name = name(t)).into_owned())
            .unwrap_or_default();
        let op = step_op(s, e);
        // Every sentence names the thread; most name the resource and who else took part.
        macro_rules! say {
            ($key:literal $(, $k:ident = $v:expr)* $(,)?) => {
                t!(concat!("classroom.log.", $key), locale = l, who = who $(, $k = $v)*).into_owned()
            };
        }
        let other_words = |kind: EventKind| kind.name().replace('_', " ");

        let Some(r) = e.resource.filter(|&r| (r as usize) < s.resources.len()) else {
            if let Some(said) = asyncio_sentence(s, e, op, l, who, &name) {
                return said;
            }
            return match e.kind {
                EventKind::Start => say!("started"),
                // Back at a step's work after a pause or the GIL's hand-over, a thread goes on
                // with what it was doing: said as such, not as a fresh start of the step.
                EventKind::Run
                    if e.step != NO_STEP && index.is_some_and(|i| self.computes_again(i, e)) =>
                {
                    say!("computes_on")
                }
                EventKind::Run => match op {
                    Some(Op::Work(d)) => say!("computes", time = duration::format(d)),
                    _ => say!("runs"),
                },
                EventKind::Sleep => match (op, s.threads[e.thread as usize].event_loop) {
                    (Some(Op::Sleep(d)), Some(_)) if !d.is_zero() => {
                        say!("awaits_sleep", time = duration::format(d))
                    }
                    (Some(Op::BlockingSleep(d)), Some(l)) => say!(
                        "sleeps_blocking",
                        time = duration::format(d),
                        res = s.resource_name(l)
                    ),
                    // A traced program's sleep of no known length (an I/O wait, a length
                    // that varies) is said without one.
                    (Some(Op::Sleep(d) | Op::BlockingSleep(d)), None) if !d.is_zero() => {
                        say!("sleeps_for", time = duration::format(d))
                    }
                    _ => say!("sleeps"),
                },
                EventKind::Hold => say!("held"),
                EventKind::Spawn => t!(
                    "processes.log.spawn",
                    locale = l,
                    who = who,
                    process = s.process_of(e.thread).unwrap_or("?"),
                    pid = e.item.unwrap_or(0)
                )
                .into_owned(),
                EventKind::Done => say!("finished"),
                EventKind::Stop => say!("syl.stopped"),
                EventKind::Fail => match self.failure(e.thread) {
                    Some(reason) => say!("failed_because", reason = reason),
                    None => say!("failed"),
                },
                other => say!("other", what = other_words(other)),
            };
        };

        let res = s.resource_name(r);
        let other = |kind: EventKind| say!("other_on", what = kind.name(), res = res);
        // Any wait with a timeout can give up, whatever it waits for; a queue's get, an event's
        // wait and a future's result say how Python tells it.
        let told_apart = matches!(
            s.resources[r as usize].kind,
            ResourceKind::Pool | ResourceKind::Buffer { .. }
        ) || matches!(op, Some(Op::WaitFor { .. }));
        if e.kind == EventKind::Timeout
            && let Some(Op::TryLock { timeout, .. }) = op
        {
            return self.gave_up(l, e, index, timeout);
        }
        if e.kind == EventKind::Timeout && !told_apart {
            return say!("gave_up", res = res);
        }
        // Inside a condition wait, the condition's lock is given back and taken again.
        let in_wait = match op {
            Some(Op::CondWait { cond, .. }) if cond != r => Some(s.resource_name(cond)),
            _ => None,
        };
        // An mp-queue is told as a queue with no bound: a put never waits, a take may.
        let kind = match s.resources[r as usize].kind {
            ResourceKind::MpQueue => ResourceKind::Buffer { capacity: 0 },
            kind => kind,
        };
        match kind {
            ResourceKind::Mutex if in_wait.is_some() => {
                let cond = in_wait.unwrap_or_default();
                match e.kind {
                    EventKind::Release => {
                        say!("syl.cond_released", res = res, cond = cond, woke = woke)
                    }
                    EventKind::Block => match before(r) {
                        Some(ResourceState::Mutex {
                            holder: Some(h), ..
                        }) => say!("syl.cond_retake_held", res = res, by = name(h)),
                        _ => say!("syl.cond_retake", res = res),
                    },
                    EventKind::Acquire => match e.by.filter(|&b| b != e.thread) {
                        Some(b) => say!("syl.cond_retook_from", res = res, by = name(b)),
                        None => say!("syl.cond_retook", res = res),
                    },
                    kind => other(kind),
                }
            }
            ResourceKind::Condition { .. } => match e.kind {
                EventKind::Block => say!("syl.cond_waits", res = res),
                EventKind::Notify => match e.item {
                    Some(0) => say!("syl.notified_lost", res = res),
                    Some(1) => say!("syl.notified_one", res = res),
                    Some(n) => say!("syl.notified_n", res = res, n = n),
                    None => say!("syl.notified", res = res),
                },
                EventKind::Pass => match e.by {
                    Some(b) => say!("syl.was_notified_by", res = res, by = name(b)),
                    None => say!("syl.was_notified", res = res),
                },
                kind => other(kind),
            },
            ResourceKind::Pool => {
                let n = e.item.unwrap_or(0);
                match e.kind {
                    EventKind::Put => say!("syl.pool_submitted", res = res, n = n),
                    EventKind::Take => say!("syl.pool_takes", res = res, n = n),
                    EventKind::TaskDone => say!("syl.pool_finished", n = n),
                    EventKind::Raise => say!("syl.pool_raised", n = n),
                    EventKind::Set => say!("syl.pool_shut", res = res),
                    EventKind::Block if matches!(op, Some(Op::RunNext(_))) => {
                        say!("syl.pool_idle", res = res)
                    }
                    EventKind::Block => say!("syl.pool_waits", res = res),
                    EventKind::Pass => {
                        let rank = match before(r) {
                            Some(ResourceState::Pool { collected, .. }) => collected + 1,
                            _ => 0,
                        };
                        let ran = match e.by {
                            Some(b) => say!("syl.pool_ran_by", by = name(b)),
                            None => String::new(),
                        };
                        say!(
                            "syl.pool_arrives",
                            n = n,
                            submitted = ordinal(l, n),
                            arrives = ordinal(l, rank),
                            ran = ran
                        )
                    }
                    EventKind::Timeout => say!("syl.pool_timeout", n = n),
                    kind => other(kind),
                }
            }
            // Told as a buffer above; the arm is for the match alone.
            ResourceKind::MpQueue => other(e.kind),
            ResourceKind::List => match e.kind {
                EventKind::Put => say!("syl.list_appended", res = res, item = e.item.unwrap_or(0)),
                EventKind::Take => say!("syl.list_popped", res = res, item = e.item.unwrap_or(0)),
                kind => other(kind),
            },
            ResourceKind::Mutex => match e.kind {
                EventKind::Block => match before(r) {
                    Some(ResourceState::Mutex {
                        holder: Some(h), ..
                    }) if h == e.thread => say!("mutex.blocked_self", res = res),
                    Some(ResourceState::Mutex {
                        holder: Some(h), ..
                    }) => say!("mutex.blocked_by", res = res, by = name(h)),
                    _ => say!("mutex.blocked", res = res),
                },
                EventKind::Acquire => match e.by.filter(|&b| b != e.thread) {
                    Some(b) => say!("took_from", res = res, by = name(b)),
                    None => say!("took", res = res),
                },
                EventKind::Release => say!("released", res = res, woke = woke),
                kind => other(kind),
            },
            ResourceKind::Semaphore { permits } => match e.kind {
                EventKind::Block => {
                    // Say so when the thread holds some itself: it may be waiting for itself.
                    let own = match before(r) {
                        Some(ResourceState::Semaphore { holders, .. }) => {
                            holders.iter().filter(|&&h| h == e.thread).count()
                        }
                        _ => 0,
                    };
                    match own {
                        0 => say!("semaphore.waits", res = res, permits = permits),
                        n if n as u32 >= permits => {
                            say!("semaphore.waits_all_own", res = res, permits = permits)
                        }
                        n => say!(
                            "semaphore.waits_some_own",
                            res = res,
                            permits = permits,
                            own = n
                        ),
                    }
                }
                EventKind::Acquire => {
                    let in_use = match before(r) {
                        Some(ResourceState::Semaphore { holders, .. }) => t!(
                            "classroom.log.semaphore.in_use",
                            locale = l,
                            used = holders.len() + 1,
                            permits = permits
                        )
                        .into_owned(),
                        _ => String::new(),
                    };
                    match e.by.filter(|&b| b != e.thread) {
                        Some(b) => say!(
                            "semaphore.took_from",
                            res = res,
                            by = name(b),
                            in_use = in_use
                        ),
                        None => say!("semaphore.took", res = res, in_use = in_use),
                    }
                }
                EventKind::Release => say!("semaphore.released", res = res, woke = woke),
                kind => other(kind),
            },
            ResourceKind::Barrier { parties } => match e.kind {
                EventKind::Arrive => {
                    let n = match before(r) {
                        Some(ResourceState::Barrier { arrived, .. }) => arrived.len() as u32 + 1,
                        _ => 0,
                    };
                    if n == parties {
                        say!("barrier.arrived_trips", res = res, n = n, parties = parties)
                    } else if n > 0 {
                        say!("barrier.arrived_of", res = res, n = n, parties = parties)
                    } else {
                        say!("barrier.arrived", res = res)
                    }
                }
                EventKind::Block => match before(r) {
                    Some(ResourceState::Barrier { arrived, .. }) => say!(
                        "barrier.waits_of",
                        res = res,
                        n = arrived.len(),
                        parties = parties
                    ),
                    _ => say!("barrier.waits", res = res),
                },
                EventKind::Pass => match e.by.filter(|&b| b != e.thread) {
                    Some(b) => say!("barrier.passed_by", res = res, by = name(b)),
                    None => say!("passed", res = res),
                },
                kind => other(kind),
            },
            ResourceKind::Buffer { capacity } => match e.kind {
                EventKind::Put if e.item == Some(0) => {
                    say!("syl.sentinel_put", res = res, woke = woke)
                }
                EventKind::Take if e.item == Some(0) => {
                    say!("syl.sentinel_took", res = res, woke = woke)
                }
                EventKind::Timeout => {
                    say!("syl.get_timeout", res = res)
                }
                EventKind::TaskDone => match e.item {
                    Some(0) => say!("syl.task_done_none_left", res = res),
                    Some(n) => say!("syl.task_done_left", res = res, n = n),
                    None => say!("syl.task_done", res = res),
                },
                EventKind::Pass => match e.by {
                    Some(b) => say!("syl.join_returns_by", res = res, by = name(b)),
                    None => say!("syl.join_returns", res = res),
                },
                EventKind::Put if matches!(op, Some(Op::PutPriority { .. })) => {
                    let priority = match op {
                        Some(Op::PutPriority { priority, .. }) => priority,
                        _ => 0,
                    };
                    say!(
                        "syl.put_priority",
                        res = res,
                        item = e.item.unwrap_or(0),
                        priority = priority,
                        woke = woke
                    )
                }
                EventKind::Put => match e.item {
                    Some(n) => say!("buffer.put_item", res = res, item = n, woke = woke),
                    None => say!("buffer.put", res = res, woke = woke),
                },
                EventKind::Take => match e.item {
                    Some(n) => say!("buffer.took_item", res = res, item = n, woke = woke),
                    None => say!("buffer.took", res = res, woke = woke),
                },
                EventKind::Block => match op {
                    Some(Op::Put(_) | Op::PutSentinel(_) | Op::PutPriority { .. }) => {
                        say!("buffer.full", res = res, capacity = capacity)
                    }
                    Some(Op::Take(_) | Op::TakeFor { .. }) => say!("buffer.empty", res = res),
                    Some(Op::Join(_)) => {
                        say!("syl.join_waits", res = res)
                    }
                    _ => say!("buffer.waits", res = res),
                },
                kind => other(kind),
            },
            ResourceKind::Gil { .. } => {
                let gil = if self.several_gils {
                    t!("classroom.log.gil.named", locale = l, res = res).into_owned()
                } else {
                    t!("classroom.log.gil.the", locale = l).into_owned()
                };
                match e.kind {
                    EventKind::Block => match before(r) {
                        Some(ResourceState::Gil {
                            holder: Some(h), ..
                        }) if h != e.thread => say!("gil.waits_held", gil = gil, by = name(h)),
                        _ => say!("gil.waits", gil = gil),
                    },
                    EventKind::Acquire => match e.by.filter(|&b| b != e.thread) {
                        Some(b) => say!("took_from", res = gil, by = name(b)),
                        None => say!("took", res = gil),
                    },
                    EventKind::Release => say!("released", res = gil, woke = woke),
                    EventKind::DropRequest => say!("gil.drop_request", gil = gil),
                    kind => say!("other_on", what = kind.name(), res = gil),
                }
            }
            ResourceKind::EventLoop => match e.kind {
                EventKind::Block => match before(r) {
                    Some(ResourceState::Mutex {
                        holder: Some(h), ..
                    }) if h != e.thread => say!("event_loop.busy_with", res = res, by = name(h)),
                    _ => say!("event_loop.ready", res = res),
                },
                EventKind::Acquire => match e.by {
                    Some(b) => say!("event_loop.runs_after", res = res, by = name(b)),
                    None => say!("event_loop.runs", res = res),
                },
                EventKind::Release if e.step == NO_STEP => {
                    say!("event_loop.ends", res = res, woke = woke)
                }
                // The await itself: its sleep is said here, not on a line of its own.
                EventKind::Release if matches!(op, Some(Op::Sleep(_))) => {
                    let time = match op {
                        Some(Op::Sleep(d)) => duration::format(d),
                        _ => String::new(),
                    };
                    t!(
                        "screen.log.awaits_sleep",
                        locale = l,
                        who = who,
                        time = time,
                        res = res,
                        woke = woke
                    )
                    .into_owned()
                }
                EventKind::Release => say!("event_loop.awaits", res = res, woke = woke),
                kind => other(kind),
            },
            // An rlock counts: taken again it holds more, and only its last unlock frees it.
            ResourceKind::RLock => match (e.kind, e.item) {
                (EventKind::Acquire, Some(n)) if n > 1 => t!(
                    "screen.log.rlock_again",
                    locale = l,
                    who = who,
                    res = res,
                    n = n
                )
                .into_owned(),
                (EventKind::Release, Some(n)) if n > 0 => t!(
                    "screen.log.rlock_one_level",
                    locale = l,
                    who = who,
                    res = res,
                    n = n
                )
                .into_owned(),
                (EventKind::Block, _) => match before(r) {
                    Some(ResourceState::Mutex {
                        holder: Some(h),
                        depth,
                        ..
                    }) if h != e.thread && depth > 1 => t!(
                        "screen.log.rlock_waits_held",
                        locale = l,
                        who = who,
                        res = res,
                        by = name(h),
                        n = depth
                    )
                    .into_owned(),
                    Some(ResourceState::Mutex {
                        holder: Some(h), ..
                    }) if h != e.thread => say!("mutex.blocked_by", res = res, by = name(h)),
                    _ => say!("waits_for", res = res),
                },
                (EventKind::Acquire, _) => match e.by.filter(|&b| b != e.thread) {
                    Some(b) => say!("took_from", res = res, by = name(b)),
                    None => say!("took", res = res),
                },
                (EventKind::Release, _) => say!("released", res = res, woke = woke),
                (kind, _) => other(kind),
            },
            // An rwlock: reading among readers, or writing alone.
            ResourceKind::RwLock { .. } => {
                let writes = matches!(op, Some(Op::Write(_)));
                let key = |k: &str| format!("screen.log.rw_{k}");
                match e.kind {
                    EventKind::Block => match before(r) {
                        Some(ResourceState::RwLock {
                            writer: Some(w), ..
                        }) => t!(
                            &key("waits_writer"),
                            locale = l,
                            who = who,
                            res = res,
                            by = name(w)
                        )
                        .into_owned(),
                        Some(ResourceState::RwLock { readers, .. }) if !readers.is_empty() => t!(
                            &key("waits_readers"),
                            locale = l,
                            who = who,
                            res = res,
                            n = readers.len()
                        )
                        .into_owned(),
                        _ => say!("waits_for", res = res),
                    },
                    EventKind::Acquire if writes => {
                        t!(&key("writes"), locale = l, who = who, res = res).into_owned()
                    }
                    EventKind::Acquire => {
                        let n = match before(r) {
                            Some(ResourceState::RwLock { readers, .. }) => readers.len() + 1,
                            _ => 1,
                        };
                        t!(&key("reads"), locale = l, who = who, res = res, n = n).into_owned()
                    }
                    EventKind::Release => {
                        let done = match before(r) {
                            Some(ResourceState::RwLock { writer, .. })
                                if writer == Some(e.thread) =>
                            {
                                "done_writing"
                            }
                            _ => "done_reading",
                        };
                        t!(&key(done), locale = l, who = who, res = res, woke = woke).into_owned()
                    }
                    kind => other(kind),
                }
            }
            // These read alike: who waits, takes and releases, plus each one's own act (an
            // event's set and pass, a counter's read and write-back).
            ResourceKind::Event | ResourceKind::Counter => match e.kind {
                EventKind::Block => say!("waits_for", res = res),
                EventKind::Acquire => match e.by.filter(|&b| b != e.thread) {
                    Some(b) => say!("took_from", res = res, by = name(b)),
                    None => say!("took", res = res),
                },
                EventKind::Release => say!("released", res = res, woke = woke),
                EventKind::Timeout if matches!(op, Some(Op::WaitFor { .. })) => {
                    say!("syl.wait_false", res = res)
                }
                EventKind::Set => say!("set", res = res),
                EventKind::Clear => say!("syl.cleared", res = res),
                EventKind::Pass => match e.by.filter(|&b| b != e.thread) {
                    Some(b) => say!("passed_set_by", res = res, by = name(b)),
                    None => say!("passed", res = res),
                },
                EventKind::Load => say!("counter.read", res = res, value = e.item.unwrap_or(0)),
                EventKind::Store => {
                    let wrote = e.item.unwrap_or(0);
                    // Writing back a value no higher than the counter already holds throws
                    // away increments this thread never saw.
                    match before(r) {
                        Some(ResourceState::Counter { value, .. }) if wrote <= value => say!(
                            "counter.lost_update",
                            res = res,
                            value = wrote,
                            lost = value + 1 - wrote
                        ),
                        _ => say!("counter.wrote", res = res, value = wrote),
                    }
                }
                kind => other(kind),
            },
        }
    }
}

/// 1st, 2nd, 3rd, 4th, 11th, 21st: the order a result arrives in, or a task was submitted.
/// "3rd" in English, "第 3 个" in Chinese.
fn ordinal(locale: &str, n: u32) -> String {
    if locale.starts_with("zh") {
        return format!("第 {n} 个");
    }
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Time per state within one cell. A cell rarely sees more than a handful of states; a fixed
/// table avoids allocating for each of the thousands of cells in a frame.
#[derive(Default)]
struct Tally {
    slots: [(Option<State>, u64); 8],
    used: usize,
}

impl Tally {
    fn add(&mut self, state: State, len: u64) {
        let len = len.max(1);
        let used = self.used;
        if let Some(slot) = self.slots[..used]
            .iter_mut()
            .find(|(s, _)| *s == Some(state))
        {
            slot.1 += len;
        } else if used < self.slots.len() {
            self.slots[used] = (Some(state), len);
            self.used += 1;
        }
    }

    /// The state with the most time, and a fresh tally.
    fn take(&mut self) -> Option<State> {
        let mut best: Option<(State, u64)> = None;
        for &(state, len) in &self.slots[..self.used] {
            if let Some(state) = state
                && best.is_none_or(|(_, b)| len > b)
            {
                best = Some((state, len));
            }
        }
        self.used = 0;
        best.map(|(s, _)| s)
    }
}

/// The code marker after `e`: the step of its latest event, the first step right after start,
/// none once done. Events outside any step (hold between steps, say) leave it where it was.
fn marker_after(current: Option<u32>, e: &Event, scenario: &Scenario) -> Option<u32> {
    match e.kind {
        EventKind::Done => None,
        EventKind::Start => {
            let has_steps = scenario
                .threads
                .get(e.thread as usize)
                .is_some_and(|t| !t.steps.is_empty());
            if e.step != NO_STEP {
                Some(e.step)
            } else if has_steps {
                Some(0)
            } else {
                None
            }
        }
        _ if e.step != NO_STEP => Some(e.step),
        _ => current,
    }
}

impl Lane {
    /// The thread enters `state` at `t` (clamped so a lane never runs backwards).
    fn enter(&mut self, t: u64, state: State, cap: usize) {
        let Some((start, current)) = self.open else {
            self.open = Some((t, state));
            self.exact_from = t;
            return;
        };
        let t = t.max(start);
        if state == current {
            return;
        }
        if t == start {
            // The previous state lasted no time at all: replace it, and rejoin the span before
            // if that was this same state.
            match self.spans.last() {
                Some(last) if last.state == state && last.end_ns == start => {
                    let last = self.spans.pop().expect("checked");
                    self.open = Some((last.start_ns, state));
                }
                _ => self.open = Some((start, state)),
            }
            return;
        }
        self.spans.push(StateSpan {
            start_ns: start,
            end_ns: t,
            state: current,
        });
        self.open = Some((t, state));
        if self.spans.len() >= cap {
            self.coarsen();
        }
    }

    /// Halves the resolution of the older half of the lane.
    fn coarsen(&mut self) {
        let half = self.spans.len() / 2;
        let mut merged: Vec<StateSpan> = Vec::with_capacity(half / 2 + 1);
        for pair in self.spans[..half].chunks(2) {
            let span = match *pair {
                [a, b] => StateSpan {
                    start_ns: a.start_ns,
                    end_ns: b.end_ns,
                    state: if a.len_ns() >= b.len_ns() {
                        a.state
                    } else {
                        b.state
                    },
                },
                [a] => a,
                _ => unreachable!("chunks(2) yields one or two"),
            };
            match merged.last_mut() {
                Some(last) if last.state == span.state => last.end_ns = span.end_ns,
                _ => merged.push(span),
            }
        }
        // Spans from here on were never merged; a merged span ending in the same state stays
        // separate so this boundary stays where it was.
        self.exact_from = self.exact_from.max(self.spans[half].start_ns);
        self.spans.splice(..half, merged);
    }

    fn state_at(&self, t: u64) -> Option<State> {
        let (start, state) = self.open?;
        if t >= start {
            return Some(state);
        }
        let i = self.spans.partition_point(|s| s.end_ns <= t);
        self.spans
            .get(i)
            .filter(|s| s.start_ns <= t)
            .map(|s| s.state)
    }

    /// Calls `f` with each span overlapping `[from, to)`, clipped to it, the open span included.
    fn for_each(&self, from: u64, to: u64, mut f: impl FnMut(StateSpan)) {
        if to <= from {
            return;
        }
        let i = self.spans.partition_point(|s| s.end_ns <= from);
        for s in &self.spans[i..] {
            if s.start_ns >= to {
                return;
            }
            f(StateSpan {
                start_ns: s.start_ns.max(from),
                end_ns: s.end_ns.min(to),
                state: s.state,
            });
        }
        if let Some((start, state)) = self.open
            && start < to
        {
            f(StateSpan {
                start_ns: start.max(from),
                end_ns: to,
                state,
            });
        }
    }
}

/// What a task did to other tasks (`gather`, `wait`, `wait-for`, `cancel`) and how a cancelled
/// task ended, in words; `None` for events that are not about tasks.
fn asyncio_sentence(
    s: &Scenario,
    e: &Event,
    op: Option<Op>,
    l: &str,
    who: &str,
    name: &dyn Fn(ThreadIdx) -> String,
) -> Option<String> {
    let group = |t: crate::scenario::model::Tasks| s.group_names(t).join(", ");
    let say = |key: &str, group: String, by: String, time: String| {
        t!(
            &format!("asyncio.log.{key}"),
            locale = l,
            who = who,
            group = group,
            by = by,
            time = time
        )
        .into_owned()
    };
    let none = String::new;
    Some(match (e.kind, op) {
        (EventKind::Cancel, _) => say(
            "cancels",
            none(),
            e.item.map_or_else(none, |t| name(t as ThreadIdx)),
            none(),
        ),
        (EventKind::Cancelled, _) => match e.by {
            Some(b) => say("cancelled_by", none(), name(b), none()),
            None => say("cancelled", none(), none(), none()),
        },
        (EventKind::Sleep, Some(Op::Gather(t))) => say("gathers", group(t), none(), none()),
        (EventKind::Sleep, Some(Op::WaitTasks { tasks, first })) => say(
            if first { "waits_first" } else { "waits_all" },
            group(tasks),
            none(),
            none(),
        ),
        (EventKind::Sleep, Some(Op::WaitTasksFor { tasks, timeout })) => {
            say("waits_for", group(tasks), none(), duration::format(timeout))
        }
        (EventKind::Pass, Some(Op::WaitTasks { first: true, tasks })) => say(
            "first_done",
            group(tasks),
            e.by.map_or_else(none, name),
            none(),
        ),
        (EventKind::Pass, Some(Op::Gather(t) | Op::WaitTasks { tasks: t, .. })) => {
            say("all_done", group(t), none(), none())
        }
        (EventKind::Timeout, Some(Op::WaitTasksFor { tasks, timeout })) => {
            say("timed_out", group(tasks), none(), duration::format(timeout))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::ResourceKind as K;
    use crate::scenario::testing::{ms, scenario};
    use crate::trace::testing::*;
    use EventKind::*;

    const MS: u64 = 1_000_000;

    fn trace_of(scenario: &Arc<Scenario>, events: &[Event]) -> Trace {
        let mut t = Trace::new(scenario.clone());
        t.push(events);
        t
    }

    /// A try-lock that gives up is one line with its back-off; the back-off's unlock and sleep
    /// have no lines of their own, nor has a barrier wait after its arrival, nor a sleep going
    /// on after a pause.
    #[test]
    fn the_log_says_a_give_up_and_its_back_off_in_one_line() {
        let s = scenario(
            &[
                ("A", K::Mutex),
                ("B", K::Mutex),
                ("gate", K::Barrier { parties: 2 }),
            ],
            &[
                (
                    "T1",
                    vec![
                        Op::Lock(0),
                        Op::TryLock {
                            resource: 1,
                            timeout: ms(20),
                            backoff: Some(ms(90)),
                            jitter: true,
                        },
                        Op::Wait(2),
                        Op::Sleep(ms(50)),
                    ],
                ),
                ("T2", vec![Op::Lock(1)]),
            ],
        );
        let at = |t_ms: u64, thread: u16, kind: EventKind, step: u32| Event {
            step,
            ..ev(t_ms * MS, thread, kind)
        };
        let events = [
            at(0, 0, Acquire, 0).res(0),
            at(0, 1, Acquire, 0).res(1),
            at(1, 0, Block, 1).res(1),
            at(21, 0, Timeout, 1).res(1),
            at(21, 0, Release, 1).res(0),
            at(21, 0, Sleep, 1).item(37_000),
            at(60, 0, Arrive, 2).res(2),
            at(60, 0, Block, 2).res(2),
            at(70, 0, Sleep, 3),
            at(80, 0, Hold, 3),
            at(90, 0, Sleep, 3),
        ];
        let t = trace_of(&s, &events);
        let line = |i: usize| t.describe(Lang::En, &events[i]);
        assert_eq!(
            line(3),
            "T1 gave up on B after 20ms, put A down, backs off 37ms"
        );
        let hidden: Vec<usize> = (0..events.len())
            .filter(|&i| t.said_elsewhere(&events[i]))
            .collect();
        assert_eq!(
            hidden,
            [4, 5, 7, 10],
            "{:?}",
            hidden.iter().map(|&i| line(i)).collect::<Vec<_>>()
        );
    }

    /// T0 and T1 both read 0; T1 writes 1, then T0 writes 1 over it: T1's update is the lost
    /// one, marked where T1 stored it. T2's later increment, read after T0's write, is not.
    #[test]
    fn a_lost_update_is_marked_on_the_thread_whose_increment_vanished() {
        let s = scenario(
            &[("hits", K::Counter)],
            &[
                ("T0", vec![Op::Increment(0)]),
                ("T1", vec![Op::Increment(0)]),
                ("T2", vec![Op::Increment(0)]),
            ],
        );
        let at = |t_ms: u64, thread: u16, kind: EventKind, value: u32| Event {
            resource: Some(0),
            step: 0,
            item: Some(value),
            ..ev(t_ms * MS, thread, kind)
        };
        let t = trace_of(
            &s,
            &[
                at(1, 0, Load, 0),
                at(2, 1, Load, 0),
                at(3, 1, Store, 1),
                at(4, 0, Store, 1),
                at(5, 2, Load, 1),
                at(6, 2, Store, 2),
            ],
        );
        assert_eq!(t.lost_updates(0, 10 * MS), [(1, 3 * MS)]);
        // Only marks inside the window asked for.
        assert_eq!(t.lost_updates(4 * MS, 10 * MS), []);
        let plain = deadlock_scenario();
        assert_eq!(
            trace_of(&plain, &deadlock_events()).lost_updates(0, MS * 200),
            []
        );
    }

    /// Lost updates are found as events arrive: batches out of order across threads, and a
    /// log that evicts its oldest part, mark what a scan of every write back to its own read
    /// finds, in every window asked for, from the exact time on.
    #[test]
    fn lost_updates_found_as_events_arrive_match_a_scan_of_the_whole_run() {
        let s = scenario(
            &[("hits", K::Counter), ("misses", K::Counter)],
            &(0..4)
                .map(|i| {
                    (
                        ["T0", "T1", "T2", "T3"][i],
                        vec![Op::Increment((i % 2) as ResIdx)],
                    )
                })
                .collect::<Vec<_>>(),
        );
        // Threads read and write back in a random interleaving, each its own counter's value
        // plus one: every write over another's newer one loses it.
        let mut rng = Lcg(5);
        let mut value = [0u32; 2];
        let mut read: [Option<u32>; 4] = [None; 4];
        let mut events = Vec::new();
        for i in 0..6_000u64 {
            let t = (rng.next_u64() % 4) as ThreadIdx;
            let r = t % 2;
            let (kind, item) = match read[t as usize].take() {
                None => {
                    read[t as usize] = Some(value[r as usize]);
                    (Load, value[r as usize])
                }
                Some(v) => {
                    value[r as usize] = v + 1;
                    (Store, v + 1)
                }
            };
            events.push(Event {
                resource: Some(r),
                step: 0,
                item: Some(item),
                ..ev(1_000 + i * 1_000, t, kind)
            });
        }
        // The whole run, each write scanned back to its own read.
        let mut truth: Vec<(u64, ThreadIdx, u64)> = Vec::new();
        for (i, x) in events.iter().enumerate().filter(|(_, x)| x.kind == Store) {
            for y in events[..i]
                .iter()
                .rev()
                .filter(|y| y.resource == x.resource)
            {
                if y.thread == x.thread && y.kind == Load {
                    break;
                }
                if y.thread != x.thread && y.kind == Store && y.item >= x.item {
                    truth.push((x.t_ns, y.thread, y.t_ns));
                }
            }
        }
        assert!(
            truth.len() > 100,
            "the interleaving loses updates: {}",
            truth.len()
        );
        let limits = TraceLimits {
            max_events: 2_000,
            checkpoint_every: 64,
            max_spans_per_lane: 1 << 20,
            max_old_checkpoints: 16,
        };
        let (ordered, jumbled) = ordered_and_jumbled(&s, &events, limits);
        let exact = jumbled.exact_from_ns();
        assert!(exact > 0, "eviction happened");
        let end = jumbled.end_ns();
        let windows = (0..40).map(|k| {
            let from = exact + (end - exact) * k / 40;
            (from, from + (end - exact) / (1 + k % 7))
        });
        for (from, to) in windows {
            let until = to + (to - from) / 2;
            let mut expected: Vec<(ThreadIdx, u64)> = truth
                .iter()
                .filter(|(by, _, at)| (from..=until).contains(by) && (from..=to).contains(at))
                .map(|&(_, t, at)| (t, at))
                .collect();
            expected.sort_unstable();
            expected.dedup();
            assert_eq!(jumbled.lost_updates(from, to), expected, "[{from}, {to}]");
            assert_eq!(ordered.lost_updates(from, to), expected, "[{from}, {to}]");
        }
    }

    #[test]
    fn lanes_follow_each_threads_states() {
        let s = deadlock_scenario();
        let t = trace_of(&s, &deadlock_events());
        assert_eq!(t.end_ns(), 101 * MS);
        assert_eq!(t.state_at(0, 50 * MS), Some(State::Running));
        assert_eq!(t.state_at(0, 100 * MS), Some(State::Locked(1)));
        assert_eq!(t.state_at(1, 100 * MS), Some(State::Running));
        assert_eq!(t.state_at(1, 5_000 * MS), Some(State::Locked(0)));
        assert_eq!(
            t.spans(0, 0, 200 * MS),
            [
                StateSpan {
                    start_ns: 0,
                    end_ns: 100 * MS,
                    state: State::Running
                },
                StateSpan {
                    start_ns: 100 * MS,
                    end_ns: 200 * MS,
                    state: State::Locked(1)
                },
            ]
        );
        // Clipped to the window asked for.
        assert_eq!(
            t.spans(1, 50 * MS, 150 * MS),
            [
                StateSpan {
                    start_ns: 50 * MS,
                    end_ns: 101 * MS,
                    state: State::Running
                },
                StateSpan {
                    start_ns: 101 * MS,
                    end_ns: 150 * MS,
                    state: State::Locked(0)
                },
            ]
        );
        assert_eq!(t.dominant_state(0, 90 * MS, 105 * MS), Some(State::Running));
        assert_eq!(
            t.dominant_state(0, 96 * MS, 105 * MS),
            Some(State::Locked(1))
        );
    }

    #[test]
    fn lane_cells_match_dominant_state_cell_by_cell() {
        let s = contention_scenario(3);
        let events: Vec<Event> = Contention::new(3, 21)
            .take(5_000)
            .map(|t| t.event)
            .collect();
        let t = trace_of(&s, &events);
        let end = t.end_ns();
        for (from, to, cells) in [
            (0, end, 72),
            (0, end, 1),
            (end / 3, end / 2, 50),
            (5, 40, 100),
            (0, end * 2, 33),
        ] {
            for thread in 0..3 {
                let naive: Vec<Option<State>> = (0..cells)
                    .map(|i| {
                        let w = (to - from) as u128;
                        let a = from + (w * i as u128 / cells as u128) as u64;
                        let b = from + (w * (i as u128 + 1) / cells as u128) as u64;
                        if a == b {
                            t.state_at(thread, a)
                        } else {
                            t.dominant_state(thread, a, b)
                        }
                    })
                    .collect();
                assert_eq!(
                    t.lane_cells(thread, from, to, cells),
                    naive,
                    "{from}..{to}/{cells}"
                );
            }
        }
    }

    #[test]
    fn nothing_before_a_thread_starts() {
        let s = deadlock_scenario();
        let t = trace_of(&s, &[ev(10, 0, Start), ev(20, 0, Sleep).step(1)]);
        assert_eq!(t.state_at(0, 9), None);
        assert_eq!(t.state_at(0, 10), Some(State::Running));
        assert_eq!(t.state_at(1, 1_000), None, "T2 never started");
        assert_eq!(t.step_at(0, 9), None);
        assert_eq!(
            t.step_at(0, 10),
            Some(0),
            "right after start it is at its first step"
        );
        assert_eq!(t.step_at(0, 25), Some(1));
        assert_eq!(t.dominant_state(1, 0, 100), None);
        assert_eq!(t.dominant_state(0, 0, 12), Some(State::Running));
        assert_eq!(t.spans(0, 0, 5), []);
    }

    #[test]
    fn zero_length_states_leave_no_span() {
        let s = deadlock_scenario();
        let t = trace_of(
            &s,
            &[
                ev(0, 0, Start),
                ev(10, 0, Block).res(0).step(0),
                ev(10, 0, Acquire).res(0).step(0),
                ev(20, 0, Run).step(1),
                ev(30, 0, Done),
            ],
        );
        assert_eq!(
            t.spans(0, 0, 40),
            [
                StateSpan {
                    start_ns: 0,
                    end_ns: 30,
                    state: State::Running
                },
                StateSpan {
                    start_ns: 30,
                    end_ns: 40,
                    state: State::Done
                },
            ]
        );
        assert_eq!(t.step_at(0, 30), None, "no marker once done");
    }

    #[test]
    fn code_markers_follow_the_latest_step() {
        let s = deadlock_scenario();
        let t = trace_of(&s, &deadlock_events());
        assert_eq!(t.step_at(0, 0), Some(0));
        assert_eq!(t.step_at(0, MS), Some(0));
        assert_eq!(t.step_at(0, 50 * MS), Some(1));
        assert_eq!(t.step_at(0, 100 * MS), Some(2));
        assert_eq!(t.step_at(1, 100 * MS), Some(1));
        assert_eq!(t.step_at(1, u64::MAX), Some(2));
    }

    /// The log says its lines oldest first, each going on from the state the line before
    /// worked out; a clone (which keeps none of that) says every line alike, in any order.
    #[test]
    fn sentences_said_in_turn_are_the_sentences_said_alone() {
        let s = scenario(
            &[("A", K::Mutex), ("S", K::Semaphore { permits: 1 })],
            &[
                ("T1", vec![Op::Lock(0), Op::Unlock(0)]),
                ("T2", vec![Op::Lock(0), Op::Unlock(0)]),
                ("T3", vec![Op::Acquire(1), Op::Release(1)]),
                ("T4", vec![Op::Acquire(1), Op::Release(1)]),
            ],
        );
        let events = [
            ev(1, 0, Acquire).res(0).step(0),
            ev(2, 2, Acquire).res(1).step(0),
            ev(3, 1, Block).res(0).step(0),
            ev(4, 3, Block).res(1).step(0),
            ev(5, 0, Release).res(0).step(1),
            ev(6, 1, Acquire).res(0).step(0).by(0),
            ev(7, 2, Release).res(1).step(1),
            ev(8, 3, Acquire).res(1).step(0).by(2),
            ev(9, 1, Release).res(0).step(1),
            ev(10, 3, Release).res(1).step(1),
        ];
        let t = trace_of(&s, &events);
        let in_turn: Vec<String> = events.iter().map(|e| t.describe(Lang::En, e)).collect();
        for (i, e) in events.iter().enumerate().rev() {
            assert_eq!(t.clone().describe(Lang::En, e), in_turn[i], "line {i}");
        }
        assert_eq!(in_turn[3], "T4 waits for a permit of S (all 1 taken)");
    }

    #[test]
    fn mutex_holder_and_fifo_waiters() {
        let s = scenario(
            &[("A", K::Mutex)],
            &[
                ("T1", vec![Op::Lock(0), Op::Unlock(0)]),
                ("T2", vec![Op::Lock(0), Op::Unlock(0)]),
                ("T3", vec![Op::Lock(0), Op::Unlock(0)]),
            ],
        );
        let events = [
            ev(1, 0, Acquire).res(0).step(0),
            ev(2, 1, Block).res(0).step(0),
            ev(3, 2, Block).res(0).step(0),
            ev(4, 0, Release).res(0).step(1),
            ev(5, 1, Acquire).res(0).step(0).by(0),
        ];
        let t = trace_of(&s, &events);
        let mutex = |h: Option<u16>, w: &[u16]| ResourceState::Mutex {
            holder: h,
            depth: u32::from(h.is_some()),
            waiters: w.to_vec(),
        };
        assert_eq!(t.resources_at(0), [mutex(None, &[])]);
        assert_eq!(t.resources_at(1), [mutex(Some(0), &[])]);
        assert_eq!(t.resources_at(3), [mutex(Some(0), &[1, 2])]);
        assert_eq!(t.resources_at(4), [mutex(None, &[1, 2])]);
        assert_eq!(t.resources_at(5), [mutex(Some(1), &[2])]);
        assert_eq!(
            t.describe(Lang::En, &events[1]),
            "T2 blocked on A (held by T1)"
        );
        assert_eq!(t.describe(Lang::En, &events[3]), "T1 released A → woke T2");
        assert_eq!(t.describe(Lang::En, &events[4]), "T2 took A from T1");
        assert_eq!(t.describe(Lang::En, &events[0]), "T1 took A");
    }

    #[test]
    fn semaphore_holders_and_waiters() {
        let s = scenario(
            &[("pool", K::Semaphore { permits: 2 })],
            &[
                ("w-1", vec![Op::Acquire(0), Op::Release(0)]),
                ("w-2", vec![Op::Acquire(0), Op::Release(0)]),
                ("w-3", vec![Op::Acquire(0), Op::Release(0)]),
            ],
        );
        let events = [
            ev(1, 0, Acquire).res(0).step(0),
            ev(2, 1, Acquire).res(0).step(0),
            ev(3, 2, Block).res(0).step(0),
            ev(4, 0, Release).res(0).step(1),
            ev(5, 2, Acquire).res(0).step(0).by(0),
        ];
        let t = trace_of(&s, &events);
        let sem = |h: &[u16], w: &[u16]| ResourceState::Semaphore {
            permits: 2,
            holders: h.to_vec(),
            waiters: w.to_vec(),
        };
        assert_eq!(t.resources_at(3), [sem(&[0, 1], &[2])]);
        assert_eq!(t.resources_at(4), [sem(&[1], &[2])]);
        assert_eq!(t.resources_at(9), [sem(&[1, 2], &[])]);
        assert_eq!(t.state_at(2, 3), Some(State::Semaphore(0)));
        assert_eq!(
            t.describe(Lang::En, &events[1]),
            "w-2 took a permit of pool (2 of 2 in use)"
        );
        assert_eq!(
            t.describe(Lang::En, &events[2]),
            "w-3 waits for a permit of pool (all 2 taken)"
        );
        assert_eq!(
            t.describe(Lang::En, &events[3]),
            "w-1 released a permit of pool → woke w-3"
        );
        assert_eq!(
            t.describe(Lang::En, &events[4]),
            "w-3 took a permit of pool from w-1 (2 of 2 in use)"
        );
    }

    #[test]
    fn a_thread_waiting_for_a_permit_it_holds_itself_is_told_apart() {
        let s = scenario(
            &[("S", K::Semaphore { permits: 2 })],
            &[
                ("A", vec![Op::Acquire(0), Op::Acquire(0)]),
                ("B", vec![Op::Acquire(0), Op::Acquire(0)]),
            ],
        );
        let events = [
            ev(1, 0, Acquire).res(0).step(0),
            ev(2, 1, Acquire).res(0).step(0),
            ev(3, 0, Block).res(0).step(1),
        ];
        let t = trace_of(&s, &events);
        assert_eq!(
            t.describe(Lang::En, &events[2]),
            "A waits for another permit of S (all 2 taken, 1 by itself)"
        );
        let events = [
            ev(1, 0, Acquire).res(0).step(0),
            ev(2, 0, Acquire).res(0).step(1),
            ev(3, 1, Block).res(0).step(0),
        ];
        let t = trace_of(&s, &events);
        assert_eq!(
            t.describe(Lang::En, &events[2]),
            "B waits for a permit of S (all 2 taken)"
        );
    }

    #[test]
    fn barrier_generations_survive_a_fast_rearrival() {
        let s = scenario(
            &[("gate", K::Barrier { parties: 2 })],
            &[
                ("fast", vec![Op::Wait(0), Op::Wait(0)]),
                ("slow", vec![Op::Wait(0), Op::Wait(0)]),
            ],
        );
        let events = [
            ev(1, 0, Arrive).res(0).step(0),
            ev(2, 0, Block).res(0).step(0),
            ev(3, 1, Arrive).res(0).step(0),
            ev(4, 1, Pass).res(0).step(0).by(1),
            // fast passes and arrives again before slow's... (stamps keep their true order)
            ev(5, 0, Pass).res(0).step(0).by(1),
            ev(6, 0, Arrive).res(0).step(1),
        ];
        let t = trace_of(&s, &events);
        let barrier = |a: &[u16], g: u32| ResourceState::Barrier {
            parties: 2,
            arrived: a.to_vec(),
            generation: g,
        };
        assert_eq!(t.resources_at(2), [barrier(&[0], 0)]);
        assert_eq!(t.resources_at(3), [barrier(&[], 1)]);
        assert_eq!(t.resources_at(6), [barrier(&[0], 1)]);
        assert_eq!(
            t.state_at(0, 3),
            Some(State::Barrier(0)),
            "waiting until its pass"
        );
        assert_eq!(t.state_at(0, 5), Some(State::Running));
        assert_eq!(
            t.describe(Lang::En, &events[0]),
            "fast arrived at gate (1 of 2)"
        );
        assert_eq!(
            t.describe(Lang::En, &events[1]),
            "fast waits at gate (1 of 2 arrived)"
        );
        assert_eq!(
            t.describe(Lang::En, &events[2]),
            "slow arrived at gate (2 of 2): it trips"
        );
        assert_eq!(t.describe(Lang::En, &events[3]), "slow passed gate");
        assert_eq!(
            t.describe(Lang::En, &events[4]),
            "fast passed gate (tripped by slow)"
        );
    }

    #[test]
    fn buffer_items_and_who_waits() {
        let s = scenario(
            &[("queue", K::Buffer { capacity: 1 })],
            &[
                ("producer-1", vec![Op::Put(0), Op::Put(0)]),
                ("consumer-1", vec![Op::Take(0), Op::Take(0)]),
            ],
        );
        let events = [
            ev(1, 1, Block).res(0).step(0),
            ev(2, 0, Put).res(0).step(0).item(1),
            ev(3, 0, Block).res(0).step(1),
            ev(4, 1, Take).res(0).step(0).item(1).by(0),
            ev(5, 0, Put).res(0).step(1).item(2).by(1),
        ];
        let t = trace_of(&s, &events);
        let buf = |items: &[u32], p: &[u16], c: &[u16], put, taken| ResourceState::Buffer {
            capacity: 1,
            items: items.to_vec(),
            producers_waiting: p.to_vec(),
            consumers_waiting: c.to_vec(),
            put,
            taken,
        };
        assert_eq!(t.resources_at(1), [buf(&[], &[], &[1], 0, 0)]);
        assert_eq!(t.resources_at(2), [buf(&[1], &[], &[1], 1, 0)]);
        assert_eq!(t.resources_at(3), [buf(&[1], &[0], &[1], 1, 0)]);
        assert_eq!(t.resources_at(4), [buf(&[], &[0], &[], 1, 1)]);
        assert_eq!(t.resources_at(5), [buf(&[2], &[], &[], 2, 1)]);
        assert_eq!(t.state_at(1, 1), Some(State::Condition(0)));
        assert_eq!(
            t.describe(Lang::En, &events[0]),
            "consumer-1 waits: queue is empty"
        );
        assert_eq!(
            t.describe(Lang::En, &events[1]),
            "producer-1 put item 1 into queue → woke consumer-1"
        );
        assert_eq!(
            t.describe(Lang::En, &events[2]),
            "producer-1 waits: queue is full (1 of 1)"
        );
        assert_eq!(
            t.describe(Lang::En, &events[3]),
            "consumer-1 took item 1 from queue → woke producer-1"
        );
        assert_eq!(
            t.describe(Lang::En, &events[4]),
            "producer-1 put item 2 into queue"
        );
    }

    #[test]
    fn gil_holder_waiters_and_drop_request() {
        let s = scenario(
            &[("py", K::Gil { interval: ms(5) })],
            &[
                ("T1", vec![Op::Work(ms(50))]),
                ("T2", vec![Op::Work(ms(50))]),
            ],
        );
        let events = [
            ev(1, 0, Acquire).res(0).step(0),
            ev(2, 1, Block).res(0).step(0),
            ev(3, 1, DropRequest).res(0).step(0),
            ev(4, 0, Release).res(0).step(0),
            ev(5, 1, Acquire).res(0).step(0).by(0),
        ];
        let t = trace_of(&s, &events);
        let gil = |h: Option<u16>, w: &[u16], d| ResourceState::Gil {
            holder: h,
            waiters: w.to_vec(),
            drop_requested: d,
        };
        assert_eq!(t.resources_at(2), [gil(Some(0), &[1], false)]);
        assert_eq!(t.resources_at(3), [gil(Some(0), &[1], true)]);
        assert_eq!(t.resources_at(4), [gil(None, &[1], false)]);
        assert_eq!(t.resources_at(5), [gil(Some(1), &[], false)]);
        assert_eq!(
            t.state_at(1, 3),
            Some(State::Gil(0)),
            "a drop request changes no state"
        );
        assert_eq!(
            t.describe(Lang::En, &events[1]),
            "T2 waits for the GIL (held by T1)"
        );
        assert_eq!(
            t.describe(Lang::En, &events[2]),
            "T2 asked for the GIL to be dropped"
        );
        assert_eq!(
            t.describe(Lang::En, &events[3]),
            "T1 released the GIL → woke T2"
        );
        assert_eq!(t.describe(Lang::En, &events[4]), "T2 took the GIL from T1");
    }

    #[test]
    fn describes_steps_without_resources() {
        let s = deadlock_scenario();
        let mut t = trace_of(&s, &deadlock_events());
        assert_eq!(t.describe(Lang::En, &deadlock_events()[0]), "T1 started");
        assert_eq!(
            t.describe(Lang::En, &deadlock_events()[4]),
            "T1 computes (100ms)"
        );
        assert_eq!(
            t.describe(Lang::En, &deadlock_events()[6]),
            "T1 blocked on B (held by T2)"
        );
        t.note_failure(1, "unlock of A, which T2 does not hold");
        assert_eq!(
            t.describe(Lang::En, &ev(200 * MS, 1, Fail)),
            "T2 failed: unlock of A, which T2 does not hold"
        );
        assert_eq!(t.describe(Lang::En, &ev(200 * MS, 0, Done)), "T1 finished");
        assert_eq!(
            t.describe(Lang::En, &ev(200 * MS, 0, Hold)),
            "T1 held by the conductor"
        );
        // Not in the log and out of range: still words, never a panic.
        assert_eq!(t.describe(Lang::En, &ev(1, 9, Run)), "thread #9 run");
        assert_eq!(t.describe(Lang::En, &ev(1, 0, Block).res(7)), "T1 block");
    }

    #[test]
    fn event_log_includes_the_instant_asked_for() {
        let s = deadlock_scenario();
        let events = deadlock_events();
        let t = trace_of(&s, &events);
        let log = t.events_before(MS, 10);
        assert_eq!(log.len(), 4);
        assert_eq!(log[0].kind, Start);
        let log = t.events_before(200 * MS, 3);
        assert_eq!(log, events[5..]);
        assert_eq!(t.events_before(0, 0), []);
    }

    /// `events` through two stores with `limits`: in one batch in time order, and in batches
    /// jumbled across threads as a run drains them (none so late that its place was evicted).
    fn ordered_and_jumbled(
        s: &Arc<Scenario>,
        events: &[Event],
        limits: TraceLimits,
    ) -> (Trace, Trace) {
        let mut ordered = Trace::with_limits(s.clone(), limits);
        ordered.push(events);
        let mut jumbled = Trace::with_limits(s.clone(), limits);
        for batch in jumble(events, 37, 11) {
            jumbled.push(&batch);
        }
        assert_eq!(jumbled.events_too_late(), 0);
        (ordered, jumbled)
    }

    /// A stream delivered the way a run drains it gives the same answers as the same stream in
    /// time order, even with checkpoints and eviction in play.
    #[test]
    fn jumbled_batches_give_the_same_answers_as_ordered_ones() {
        let s = contention_scenario(5);
        let truth: Vec<Truth> = Contention::new(5, 7).take(30_000).collect();
        let events: Vec<Event> = truth.iter().map(|t| t.event).collect();
        let limits = TraceLimits {
            max_events: 8_000,
            checkpoint_every: 64,
            max_spans_per_lane: 1 << 20,
            max_old_checkpoints: 16,
        };
        let (ordered, jumbled) = ordered_and_jumbled(&s, &events, limits);
        assert_eq!(ordered.exact_from_ns(), jumbled.exact_from_ns());
        assert!(jumbled.exact_from_ns() > 0, "eviction happened");
        let from = jumbled.exact_from_ns();
        for tr in truth.iter().filter(|tr| tr.event.t_ns >= from) {
            let at = tr.event.t_ns;
            let expected = [ResourceState::Mutex {
                holder: tr.holder,
                depth: u32::from(tr.holder.is_some()),
                waiters: tr.waiters.clone(),
            }];
            assert_eq!(jumbled.resources_at(at), expected, "at {at}");
            assert_eq!(jumbled.state_at(tr.event.thread, at), Some(tr.state));
            assert_eq!(jumbled.step_at(tr.event.thread, at), Some(tr.event.step));
        }
        // Every thread's marker at once is each thread's, asked one by one, before and in the
        // window.
        for at in (0..ordered.end_ns()).step_by(ordered.end_ns() as usize / 97 + 1) {
            let each: Vec<Option<u32>> = (0..5).map(|t| jumbled.step_at(t, at)).collect();
            assert_eq!(jumbled.steps_at(at), each, "at {at}");
        }
        let end = ordered.end_ns();
        assert_eq!(
            ordered.events_before(end, 5000),
            jumbled.events_before(end, 5000)
        );
    }

    #[test]
    fn before_the_window_answers_are_older_truths() {
        let s = contention_scenario(3);
        let truth: Vec<Truth> = Contention::new(3, 3).take(20_000).collect();
        let events: Vec<Event> = truth.iter().map(|t| t.event).collect();
        let limits = TraceLimits {
            max_events: 2_000,
            checkpoint_every: 50,
            max_spans_per_lane: 64,
            max_old_checkpoints: 8,
        };
        let mut t = Trace::with_limits(s, limits);
        for chunk in events.chunks(100) {
            t.push(chunk);
        }
        let from = t.exact_from_ns();
        assert!(from > 0);
        // Every answer before the window is the true state at some earlier instant.
        let snapshots: Vec<(u64, ResourceState)> = std::iter::once((
            0,
            ResourceState::Mutex {
                holder: None,
                depth: 0,
                waiters: vec![],
            },
        ))
        .chain(truth.iter().map(|tr| {
            (
                tr.event.t_ns,
                ResourceState::Mutex {
                    holder: tr.holder,
                    depth: u32::from(tr.holder.is_some()),
                    waiters: tr.waiters.clone(),
                },
            )
        }))
        .collect();
        for probe in (0..from).step_by((from / 97).max(1) as usize) {
            let got = t.resources_at(probe);
            assert!(
                snapshots
                    .iter()
                    .take_while(|(at, _)| *at <= probe)
                    .any(|(_, st)| *st == got[0]),
                "resources_at({probe}) = {got:?} was never true before then"
            );
        }
        assert!(t.events_before(from.saturating_sub(1), 10).is_empty());
    }

    #[test]
    fn coarsening_keeps_lanes_bounded_and_recent_history_exact() {
        let s = contention_scenario(4);
        let limits = TraceLimits {
            max_spans_per_lane: 256,
            ..TraceLimits::default()
        };
        let mut t = Trace::with_limits(s, limits);
        let truth: Vec<Truth> = Contention::new(4, 5).take(100_000).collect();
        for chunk in truth.chunks(500) {
            let events: Vec<Event> = chunk.iter().map(|t| t.event).collect();
            t.push(&events);
            for lane in &t.lanes {
                assert!(lane.spans.len() < 256);
            }
        }
        for thread in 0..4u16 {
            let exact = t.lane_exact_from_ns(thread);
            assert!(exact > 0, "lane {thread} was coarsened");
            for tr in truth
                .iter()
                .filter(|tr| tr.event.thread == thread && tr.event.t_ns >= exact)
            {
                assert_eq!(t.state_at(thread, tr.event.t_ns), Some(tr.state));
            }
            // Coarse history stays contiguous and in order.
            let spans = t.spans(thread, 0, t.end_ns());
            assert!(spans.windows(2).all(|w| w[0].end_ns == w[1].start_ns));
            assert_eq!(
                spans[0].start_ns,
                truth
                    .iter()
                    .find(|tr| tr.event.thread == thread)
                    .unwrap()
                    .event
                    .t_ns
            );
        }
    }

    /// Ten million events through the default limits: memory levels off, recent answers exact.
    #[test]
    fn ten_million_events_in_bounded_memory() {
        const THREADS: usize = 16;
        let s = contention_scenario(THREADS);
        let mut t = Trace::new(s);
        let mut stream = Contention::new(THREADS, 42);
        let mut recent: VecDeque<Truth> = VecDeque::new();
        let mut batch = Vec::with_capacity(4096);
        let mut peak_after_warmup = 0;
        let total = 10_000_000;
        for i in 0..total {
            // Snapshotting the waiters costs more than the trace itself; only the tail is checked.
            stream.track_waiters(i >= total - 20_000);
            let tr = stream.next().expect("endless");
            batch.push(tr.event);
            recent.push_back(tr);
            if recent.len() > 20_000 {
                recent.pop_front();
            }
            if batch.len() == 4096 {
                t.push(&batch);
                batch.clear();
                if i > total / 10 {
                    peak_after_warmup = peak_after_warmup.max(t.heap_bytes());
                }
            }
        }
        t.push(&batch);
        let bytes = t.heap_bytes();
        assert!(bytes < 24 << 20, "trace holds {bytes} bytes");
        assert!(peak_after_warmup < 24 << 20);
        assert_eq!(t.events_seen(), total as u64);
        assert!(t.exact_from_ns() <= recent[0].event.t_ns);
        for tr in recent.iter().step_by(7) {
            let at = tr.event.t_ns;
            assert_eq!(t.state_at(tr.event.thread, at), Some(tr.state));
            assert_eq!(t.step_at(tr.event.thread, at), Some(tr.event.step));
            assert_eq!(
                t.resources_at(at),
                [ResourceState::Mutex {
                    holder: tr.holder,
                    depth: u32::from(tr.holder.is_some()),
                    waiters: tr.waiters.clone()
                }]
            );
        }
    }

    /// What a TUI frame asks of the trace after ten minutes of 16 busy threads: 200 lane cells
    /// per thread over the whole run, every resource, and a described event log at "now".
    /// `cargo test --release --lib frame_queries -- --ignored --nocapture`
    #[test]
    #[ignore = "slow: a timing measurement, run with --release"]
    fn frame_queries_after_ten_minutes() {
        const THREADS: usize = 16;
        let mut t = Trace::new(contention_scenario(THREADS));
        let mut stream = Contention::new(THREADS, 8).with_max_gap(62_000);
        stream.track_waiters(false);
        let mut batch = Vec::with_capacity(640);
        loop {
            let tr = stream.next().expect("endless");
            batch.push(tr.event);
            if batch.len() == 640 {
                t.push(&batch);
                batch.clear();
                if t.end_ns() >= 600 * 1_000_000_000 {
                    break;
                }
            }
        }
        let end = t.end_ns();
        let spans: usize = t.lanes.iter().map(|l| l.spans.len()).sum();
        println!("{spans} spans in {THREADS} lanes");
        let frames = 200;
        let mut times = Vec::new();
        let mut sink = 0usize;
        for f in 0..frames {
            let now = end - f as u64 * 1_000_000;
            let a = std::time::Instant::now();
            for thread in 0..THREADS as u16 {
                sink += t.lane_cells(thread, 0, now, 200).iter().flatten().count();
            }
            let b = std::time::Instant::now();
            for thread in 0..THREADS as u16 {
                sink += t.step_at(thread, now).unwrap_or(0) as usize;
            }
            sink += t.resources_at(now).len();
            let c = std::time::Instant::now();
            for e in t.events_before(now, 30) {
                sink += t.describe(Lang::En, &e).len();
            }
            let d = std::time::Instant::now();
            for thread in 0..THREADS as u16 {
                let window = now.saturating_sub(10_000_000_000);
                sink += t
                    .lane_cells(thread, window, now, 200)
                    .iter()
                    .flatten()
                    .count();
            }
            let e = std::time::Instant::now();
            times.push((d - a, b - a, c - b, d - c, e - d));
        }
        times.sort();
        let window = times.iter().map(|t| t.4).sum::<std::time::Duration>() / frames as u32;
        let (lanes, markers, log) = (
            times.iter().map(|t| t.1).sum::<std::time::Duration>() / frames as u32,
            times.iter().map(|t| t.2).sum::<std::time::Duration>() / frames as u32,
            times.iter().map(|t| t.3).sum::<std::time::Duration>() / frames as u32,
        );
        println!(
            "{} events; per frame: median {:?}, p90 {:?}, max {:?}; mean lanes {lanes:?}, \
             markers+resources {markers:?}, log {log:?}; lanes over the last 10 s {window:?} \
             ({sink})",
            t.events_seen(),
            times[frames / 2].0,
            times[frames * 9 / 10].0,
            times[frames - 1].0
        );
    }
}

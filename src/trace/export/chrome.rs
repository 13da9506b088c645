//! Trace Event Format (the JSON that Perfetto and chrome://tracing open).
//!
//! - one process (`pid` 1) named after the scenario; one track per thread (`tid` = thread index
//!   + 1) named and ordered by metadata (`M`) events;
//! - per thread, one complete (`X`) event for its whole life with one `X` event per state span
//!   nested inside it. Times are whole microseconds: spans are computed in nanoseconds and both
//!   ends are floored, so neighbours share their boundary exactly and never overlap (Perfetto
//!   rejects overlapping slices on a track, and floating-point microseconds can overlap by a
//!   rounding error). A span shorter than a microsecond disappears into its neighbours;
//! - one counter (`C`) track per resource: holders and waiters of a lock, permits in use of a
//!   semaphore, arrivals at a barrier, items in a buffer;
//! - a flow arrow (`s` → `f`) from the thread whose action woke another (a release, a put, a
//!   take, a barrier trip, a GIL hand-off) to the thread it woke, bound to the slices at both ends.

use serde_json::{Value, json};

use crate::i18n::Lang;
use crate::scenario::model::{ResIdx, Scenario, ThreadIdx};
use crate::trace::resources::{ResourceState, apply_event};
use crate::vocab::event::{Event, EventKind, State, StateTracker};
use crate::vocab::recording::Recording;

const PID: u32 = 1;

fn tid(t: ThreadIdx) -> u32 {
    u32::from(t) + 1
}

fn us(ns: u64) -> u64 {
    ns / 1_000
}

/// A state span in whole microseconds, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UsSpan {
    start: u64,
    end: u64,
    state: State,
    /// The step the thread entered the state at (which side of a buffer it waits on).
    step: u32,
}

/// Each thread's state spans, straight from the events (never coarsened), in microseconds.
/// `done` is not a span: a finished thread's track simply ends.
fn thread_spans(scenario: &Scenario, events: &[Event], end_ns: u64) -> Vec<Vec<UsSpan>> {
    let n = scenario.threads.len();
    let mut open: Vec<Option<(u64, State, u32)>> = vec![None; n];
    let mut spans: Vec<Vec<UsSpan>> = vec![Vec::new(); n];
    let mut states = StateTracker::new();
    let push = |list: &mut Vec<UsSpan>, start_ns: u64, end_ns: u64, (state, step): (State, u32)| {
        if state == State::Done {
            return;
        }
        let (start, end) = (us(start_ns), us(end_ns));
        if end <= start {
            return;
        }
        match list.last_mut() {
            Some(last) if last.state == state && last.end == start => last.end = end,
            _ => list.push(UsSpan {
                start,
                end,
                state,
                step,
            }),
        }
    };
    for e in events {
        let t = e.thread as usize;
        if t >= n {
            continue;
        }
        let Some(state) = states.after(e, scenario) else {
            continue;
        };
        match open[t] {
            Some((_, current, _)) if current == state => {}
            Some((since, current, step)) => {
                push(&mut spans[t], since, e.t_ns.max(since), (current, step));
                open[t] = Some((e.t_ns.max(since), state, e.step));
            }
            None => open[t] = Some((e.t_ns, state, e.step)),
        }
    }
    for (t, o) in open.iter().enumerate() {
        if let Some((since, state, step)) = *o {
            push(&mut spans[t], since, end_ns.max(since), (state, step));
        }
    }
    spans
}

/// What a resource's counter track shows.
fn counter_values(state: &ResourceState) -> Value {
    match state {
        ResourceState::Mutex {
            holder, waiters, ..
        } => {
            json!({"held": u32::from(holder.is_some()), "waiting": waiters.len()})
        }
        // The same counters an rwlock had when it was kept as a semaphore.
        ResourceState::RwLock {
            readers,
            writer,
            waiters,
        } => json!({
            "permits in use": readers.len() + usize::from(writer.is_some()),
            "waiting": waiters.len()
        }),
        ResourceState::Semaphore {
            holders, waiters, ..
        } => json!({"permits in use": holders.len(), "waiting": waiters.len()}),
        ResourceState::Barrier { arrived, .. } => json!({"arrived": arrived.len()}),
        ResourceState::Pool {
            queued, running, ..
        } => json!({"queued": queued.len(), "running": running.len()}),
        ResourceState::Event { set, waiters } => {
            json!({"set": u32::from(*set), "waiting": waiters.len()})
        }
        ResourceState::Buffer {
            items,
            producers_waiting,
            consumers_waiting,
            ..
        } => json!({
            "items": items.len(),
            "producers waiting": producers_waiting.len(),
            "consumers waiting": consumers_waiting.len(),
        }),
        ResourceState::Gil {
            holder, waiters, ..
        } => json!({"held": u32::from(holder.is_some()), "waiting": waiters.len()}),
        ResourceState::Counter { value, reading, .. } => {
            json!({"value": value, "reading": reading.len()})
        }
    }
}

fn counter_name(scenario: &Scenario, r: ResIdx) -> String {
    let res = &scenario.resources[r as usize];
    format!("{} ({})", res.name, res.keyword())
}

/// Whether `e` is a thread being woken by another (and so ends a flow arrow).
fn woken_by(e: &Event) -> Option<ThreadIdx> {
    let b = e.by.filter(|&b| b != e.thread)?;
    matches!(
        e.kind,
        EventKind::Acquire | EventKind::Pass | EventKind::Put | EventKind::Take
    )
    .then_some(b)
}

/// The Trace Event Format document for a recording.
pub fn to_value(rec: &Recording) -> Value {
    let s = &*rec.scenario;
    let events = &rec.events;
    let end_ns = rec.end_ns.max(events.last().map_or(0, |e| e.t_ns));
    let mut out: Vec<Value> = Vec::new();

    out.push(
        json!({"ph": "M", "pid": PID, "tid": 0, "name": "process_name",
        "args": {"name": format!("{} ({})", s.title, s.name)}}),
    );
    for (i, th) in s.threads.iter().enumerate() {
        let t = tid(i as ThreadIdx);
        out.push(
            json!({"ph": "M", "pid": PID, "tid": t, "name": "thread_name",
            "args": {"name": th.name}}),
        );
        out.push(
            json!({"ph": "M", "pid": PID, "tid": t, "name": "thread_sort_index",
            "args": {"sort_index": i}}),
        );
    }

    let mut timed: Vec<Value> = Vec::new();
    for (i, spans) in thread_spans(s, events, end_ns).iter().enumerate() {
        let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
            continue;
        };
        let t = tid(i as ThreadIdx);
        let name = &s.threads[i].name;
        timed.push(
            json!({"ph": "X", "pid": PID, "tid": t, "name": name, "cat": "thread",
            "ts": first.start, "dur": last.end - first.start}),
        );
        for sp in spans {
            timed.push(json!({"ph": "X", "pid": PID, "tid": t,
                "name": sp.state.words(Lang::En, s, i as ThreadIdx, Some(sp.step)), "cat": sp.state.name(),
                "ts": sp.start, "dur": sp.end - sp.start}));
        }
    }

    // Counters: initial values, then every change.
    let mut states = ResourceState::all_initial(s);
    let mut last: Vec<Value> = states.iter().map(counter_values).collect();
    for (r, v) in last.iter().enumerate() {
        timed.push(
            json!({"ph": "C", "pid": PID, "name": counter_name(s, r as ResIdx),
            "ts": 0, "args": v}),
        );
    }
    for e in events {
        apply_event(&mut states, s, e);
        for (r, state) in states.iter().enumerate() {
            let v = counter_values(state);
            if v != last[r] {
                timed.push(
                    json!({"ph": "C", "pid": PID, "name": counter_name(s, r as ResIdx),
                    "ts": us(e.t_ns), "args": v}),
                );
                last[r] = v;
            }
        }
    }

    // Flows: from the waker's latest action on the same resource to the woken thread.
    let mut id = 0u64;
    for (i, e) in events.iter().enumerate() {
        let Some(b) = woken_by(e) else { continue };
        let from = events[..i]
            .iter()
            .rev()
            .find(|x| x.thread == b && x.resource == e.resource)
            .map_or(e.t_ns, |x| x.t_ns);
        id += 1;
        let what = e
            .resource
            .and_then(|r| s.resources.get(r as usize))
            .map_or_else(|| "wake".to_string(), |r| format!("wake ({})", r.name));
        timed.push(
            json!({"ph": "s", "pid": PID, "tid": tid(b), "id": id, "cat": "wake",
            "name": what, "ts": us(from)}),
        );
        timed.push(
            json!({"ph": "f", "bp": "e", "pid": PID, "tid": tid(e.thread), "id": id,
            "cat": "wake", "name": what, "ts": us(e.t_ns)}),
        );
    }

    if let Some(d) = &rec.deadlock {
        timed.push(json!({"ph": "i", "s": "g", "pid": PID, "tid": 0,
            "name": format!("deadlock: {}", d.describe(s)), "ts": us(end_ns)}));
    }

    // Stable sort by time: a thread's life slice comes before the first state slice it
    // encloses, which is the order viewers expect for slices starting together.
    timed.sort_by_key(|v| v["ts"].as_u64().unwrap_or(0));
    out.extend(timed);

    json!({
        "traceEvents": out,
        "displayTimeUnit": "ms",
        "otherData": {
            "generator": format!("threadlab {}", env!("CARGO_PKG_VERSION")),
            "scenario": s.name,
            "origin": s.origin,
            "outcome": rec.outcome.map(|o| o.name()),
            "run_time_us": us(end_ns),
        },
    })
}

/// The document as JSON text.
pub fn to_string(rec: &Recording) -> String {
    serde_json::to_string(&to_value(rec)).expect("JSON values always serialize")
}

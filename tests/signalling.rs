//! Threads that signal each other, lesson by lesson: a semaphore's permits, a barrier's
//! generations, a bounded buffer between producers and consumers, an event, a pipeline and a
//! pool. Runs go at 4x; only orders, counts and invariants over recorded events are asserted.

use threadlab::engine::Phase;
use threadlab::scenario::model::{Op, ResourceKind, ThreadIdx};
use threadlab::vocab::event::{Event, EventKind};

mod common;
use common::*;

#[test]
fn semaphore_admits_three_at_most_and_reaches_three() {
    let s = builtin("semaphore");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let pool = resource(&s, "pool");
    assert_eq!(out.facts[pool].most_holders, 3);
    assert!(out.events.iter().any(|e| e.kind == EventKind::Block));
}

#[test]
fn barrier_generations_are_whole() {
    let s = builtin("barrier");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    assert!(out.facts.iter().any(|f| f.trips >= 1));
}

#[test]
fn producer_consumer_takes_every_item_once_in_order_and_both_sides_wait() {
    let s = builtin("producer-consumer");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let q = resource(&s, "queue");
    assert_eq!(
        out.facts[q].puts, out.facts[q].takes,
        "every item put is taken"
    );
    let ResourceKind::Buffer { capacity } = s.resources[q].kind else {
        panic!("queue is a buffer");
    };
    assert!(out.facts[q].most_fill <= capacity as usize);
    let blocked_in = |op: &str| {
        out.events.iter().any(|e| {
            e.kind == EventKind::Block
                && s.threads[e.thread as usize].steps[e.step as usize]
                    .op
                    .keyword()
                    == op
        })
    };
    assert!(blocked_in("take"), "consumers waited on an empty buffer");
    // The producers outrun the consumers only with the core their work needs: on a machine
    // too busy to give it, the run says its timings cannot show the point, and so does this.
    if let Some(why) = out.machine.warning_text() {
        eprintln!("producers outrunning the consumers not judged: {why}");
        return;
    }
    assert!(blocked_in("put"), "producers waited on a full buffer");
}

// ---- event ------------------------------------------------------------------------------

#[test]
fn event_releases_every_waiter_at_once_and_names_the_setter() {
    let s = builtin("event");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let ready = resource(&s, "ready");
    let loader = thread(&s, "loader");
    assert_eq!(out.facts[ready].sets, 1);
    assert_eq!(out.facts[ready].passes, 4);
    let set = out
        .events
        .iter()
        .find(|e| e.kind == EventKind::Set)
        .unwrap();
    assert_eq!(set.thread, loader);
    let passes: Vec<&Event> = out
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Pass)
        .collect();
    assert!(
        passes
            .iter()
            .all(|e| e.by == Some(loader) && e.t_ns >= set.t_ns)
    );
    // Workers that reached the wait before the set blocked until it (on an idle machine,
    // all three); the late one, which starts after the loader is done, never waits for it
    // (it may wait for the GIL: the lesson's threads are Python threads).
    let blocked = |t: ThreadIdx| {
        out.events.iter().any(|e| {
            e.thread == t && e.kind == EventKind::Block && e.resource == Some(ready as u16)
        })
    };
    let mut waited = 0;
    for w in 1..=3 {
        let w = thread(&s, &format!("worker-{w}"));
        let arrived = out
            .events
            .iter()
            .find(|e| {
                e.thread == w
                    && e.resource == Some(ready as u16)
                    && matches!(e.kind, EventKind::Block | EventKind::Pass)
            })
            .unwrap();
        assert_eq!(arrived.kind == EventKind::Block, arrived.t_ns < set.t_ns);
        waited += usize::from(blocked(w));
    }
    assert!(waited > 0, "some worker waited for the signal");
    assert!(!blocked(thread(&s, "late")));
}

// ---- pipeline and pool ------------------------------------------------------------------

#[test]
fn pipeline_fills_its_queue_and_the_fetchers_feel_the_back_pressure() {
    let s = builtin("pipeline");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished, "{:?}", out.deadlock);
    let pages = resource(&s, "pages");
    assert_eq!(out.facts[pages].puts, 10);
    assert_eq!(out.facts[pages].takes, 10);
    assert_eq!(out.facts[pages].most_fill, 2, "the queue filled up");
    let fetchers_waited = out
        .events
        .iter()
        .any(|e| e.kind == EventKind::Block && op_of(&s, e) == Some(Op::Put(pages as u16)));
    assert!(fetchers_waited, "a fetcher waited for room in the queue");
}

#[test]
fn pool_runs_three_at_a_time_and_results_come_back_out_of_order() {
    let s = builtin("pool");
    let ex = resource(&s, "ex") as u16;
    let mut out_of_order = false;
    for _ in 0..3 {
        let out = run(&s);
        assert_eq!(out.phase, Phase::Finished);
        // A worker runs a task from its take to its finish; the results are collected in the
        // order they arrive.
        let mut running = 0usize;
        let mut most = 0usize;
        let mut arrived: Vec<u32> = Vec::new();
        for e in out.events.iter().filter(|e| e.resource == Some(ex)) {
            match e.kind {
                EventKind::Take => {
                    running += 1;
                    most = most.max(running);
                }
                EventKind::TaskDone | EventKind::Raise => running -= 1,
                EventKind::Pass => arrived.push(e.item.expect("a task")),
                _ => {}
            }
        }
        assert_eq!(arrived.len(), 9);
        assert!(most <= 3, "at most max_workers tasks run at once");
        assert_eq!(most, 3, "and all three workers were busy");
        if arrived.windows(2).any(|w| w[0] > w[1]) {
            out_of_order = true;
            break;
        }
    }
    assert!(out_of_order, "results always came back in submission order");
}

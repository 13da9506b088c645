//! Every built-in lesson, run on real threads, checked against what it teaches.
//! Runs go at 4x speed to keep the suite quick; only orders and invariants are asserted.

use std::sync::Arc;

use threadlab::engine::{Phase, Run, RunOptions};
use threadlab::scenario::model::{ResourceKind, Scenario, ThreadIdx};
use threadlab::trace::invariants::{self, ResourceFacts};
use threadlab::vocab::event::{Event, EventKind, State};

mod common;
use common::{LIMIT, builtin, fast, run_to_end};

/// Lessons whose point is a race between CPU-bound and waiting threads need the cores they
/// would have in class, so the runs in this file take turns instead of competing.
static ONE_AT_A_TIME: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

fn run(scenario: &Arc<Scenario>, options: RunOptions) -> (Phase, Vec<Event>, Vec<ResourceFacts>) {
    let _turn = ONE_AT_A_TIME.lock();
    let run = Run::start(scenario.clone(), options);
    let (phase, events) = run_to_end(&run);
    assert_eq!(run.dropped_events(), 0);
    let facts = invariants::check(scenario, &events).unwrap_or_else(|e| panic!("{e}"));
    (phase, events, facts)
}

fn resource(scenario: &Scenario, name: &str) -> usize {
    scenario.resource_index(name).expect("resource exists") as usize
}

#[test]
fn deadlock_forced_by_a_schedule_every_time() {
    let s = builtin("deadlock");
    let _turn = ONE_AT_A_TIME.lock();
    for _ in 0..3 {
        let run = Run::start(
            s.clone(),
            RunOptions {
                start_paused: true,
                ..fast()
            },
        );
        for name in ["T1", "T2"] {
            run.step(s.thread_index(name).unwrap()).unwrap();
            assert!(run.wait_step_done(LIMIT));
        }
        run.resume();
        let (phase, events) = run_to_end(&run);
        assert_eq!(phase, Phase::Deadlock);
        assert_eq!(
            run.deadlock().unwrap().describe(&s),
            "T1 waits for B held by T2, T2 waits for A held by T1"
        );
        invariants::check(&s, &events).unwrap();
    }
}

#[test]
fn deadlock_free_runs_deadlock_nearly_always() {
    let s = builtin("deadlock");
    let deadlocks = (0..3)
        .filter(|_| run(&s, RunOptions::default()).0 == Phase::Deadlock)
        .count();
    assert!(deadlocks >= 2, "only {deadlocks} of 3 free runs deadlocked");
}

#[test]
fn fixed_order_never_deadlocks() {
    let s = builtin("fixed-order");
    for _ in 0..10 {
        assert_eq!(run(&s, fast()).0, Phase::Finished);
    }
}

#[test]
fn semaphore_admits_three_at_most_and_reaches_three() {
    let s = builtin("semaphore");
    let (phase, events, facts) = run(&s, fast());
    assert_eq!(phase, Phase::Finished);
    let pool = resource(&s, "pool");
    assert_eq!(facts[pool].most_holders, 3);
    assert!(events.iter().any(|e| e.kind == EventKind::Block));
}

#[test]
fn barrier_generations_are_whole() {
    let s = builtin("barrier");
    let (phase, _, facts) = run(&s, fast());
    assert_eq!(phase, Phase::Finished);
    assert!(facts.iter().any(|f| f.trips >= 1));
}

#[test]
fn producer_consumer_takes_every_item_once_in_order_and_both_sides_wait() {
    let s = builtin("producer-consumer");
    let (phase, events, facts) = run(&s, fast());
    assert_eq!(phase, Phase::Finished);
    let q = resource(&s, "queue");
    assert_eq!(facts[q].puts, facts[q].takes, "every item put is taken");
    let ResourceKind::Buffer { capacity } = s.resources[q].kind else {
        panic!("queue is a buffer");
    };
    assert!(facts[q].most_fill <= capacity as usize);
    let blocked_in = |op: &str| {
        events.iter().any(|e| {
            e.kind == EventKind::Block
                && s.threads[e.thread as usize].steps[e.step as usize]
                    .op
                    .keyword()
                    == op
        })
    };
    assert!(blocked_in("put"), "producers waited on a full buffer");
    assert!(blocked_in("take"), "consumers waited on an empty buffer");
}

/// Intervals during which `thread` was computing.
fn running_spans(s: &Scenario, events: &[Event], thread: ThreadIdx) -> Vec<(u64, u64)> {
    let mut spans = Vec::new();
    let mut since = None;
    for e in events.iter().filter(|e| e.thread == thread) {
        let Some(next) = State::after(e, s) else {
            continue;
        };
        if let Some(start) = since.take() {
            spans.push((start, e.t_ns));
        }
        if next == State::Running && e.kind == EventKind::Run {
            since = Some(e.t_ns);
        }
    }
    spans
}

#[test]
fn gil_threads_take_turns_and_free_threads_overlap() {
    let s = builtin("gil");
    let (phase, events, facts) = run(&s, fast());
    assert_eq!(phase, Phase::Finished);
    let gil = resource(&s, "py");
    assert_eq!(facts[gil].most_holders, 1);
    assert!(facts[gil].handoffs >= 2, "the GIL changed hands");
    let free: Vec<ThreadIdx> = (0..s.threads.len() as ThreadIdx)
        .filter(|&t| s.threads[t as usize].gil.is_none())
        .collect();
    let a = running_spans(&s, &events, free[0]);
    let b = running_spans(&s, &events, free[1]);
    let overlap: u64 = a
        .iter()
        .flat_map(|x| b.iter().map(move |y| (x.0.max(y.0), x.1.min(y.1))))
        .filter(|(from, to)| to > from)
        .map(|(from, to)| to - from)
        .sum();
    assert!(overlap > 0, "free threads computed at the same time");
    let card = threadlab::trace::gil::compare(&s, &events).expect("both phases finished");
    assert_eq!(card.under_gil.threads, 2);
    assert!(
        card.under_gil.cpu_busy <= 1.05,
        "one core at a time under the GIL: {card:?}"
    );
}

#[test]
fn gil_convoy_makes_the_io_thread_wait_for_the_gil() {
    let s = builtin("gil-convoy");
    let (phase, events, _) = run(&s, fast());
    assert_eq!(phase, Phase::Finished);
    let io = s.thread_index("io").unwrap();
    let waits = events
        .iter()
        .filter(|e| e.thread == io && e.kind == EventKind::Block)
        .count();
    let requests = events
        .iter()
        .filter(|e| e.thread == io && e.kind == EventKind::DropRequest)
        .count();
    assert!(waits > 0, "io waited for the GIL after waking");
    assert!(requests > 0, "and asked the holder to drop it");
}

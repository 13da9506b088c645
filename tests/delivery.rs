//! No event is lost: every event a thread records reaches the trace and the events file, or is
//! counted as dropped, however the run ends (completed, deadlocked, cut short by `--for`) and
//! however the threads are descheduled. Many short runs, some beside CPU hogs started here so
//! that workers are preempted between recording an event and handing it over; every check is
//! on the recorded events, never on times.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use threadlab::engine::{Run, RunOptions};
use threadlab::headless;
use threadlab::headless::RunPlan;
use threadlab::scenario::model::Scenario;
use threadlab::vocab::Outcome;
use threadlab::vocab::event::{Event, EventKind, EventRecord};

mod common;
use common::Hogs;

/// Items flow through a buffer and every thread completes.
const FLOW: &str = r#"
title "flow"
buffer q capacity=4
thread P count=2 {
    repeat 20 {
        put q
    }
}
thread C count=2 {
    repeat 20 {
        take q
        work "50us"
    }
}
"#;

/// `--for` cuts this in the middle of the flow or after it, never at its end. The consumers
/// keep the buffer nearly empty, so the producers never wait and hold many puts in hand while
/// the consumers' takes of them have long been handed over.
const CUT: &str = r#"
title "cut"
buffer q capacity=1000
thread P count=2 {
    repeat 3000 {
        put q
    }
    sleep "10s"
}
thread C count=2 {
    repeat 3000 {
        take q
    }
}
"#;

/// A thread deadlocks on itself at once while the others are still busy: the run ends in a
/// deadlock with bystanders in the middle of their work or just done.
const STUCK: &str = r#"
title "stuck"
mutex A
buffer q capacity=64
thread S {
    lock A
    lock A
}
thread P {
    repeat 30 {
        put q
    }
}
thread C {
    repeat 30 {
        take q
    }
}
"#;

/// Tasks on an event loop, whose events travel with their timers.
const TASKS: &str = r#"
title "tasks"
event-loop main
task t count=3 {
    sleep "1ms"
    work "100us"
    sleep "1ms"
}
"#;

fn load(name: &str, source: &str) -> Arc<Scenario> {
    Arc::new(
        threadlab::scenario::parse_source(name, name, source)
            .unwrap_or_else(|e| panic!("{name}: {e:?}")),
    )
}

fn args(events: PathBuf, for_ms: u64) -> RunPlan {
    RunPlan {
        scenario: "coded".into(),
        for_: Some(Duration::from_millis(for_ms)),
        schedule: Vec::new(),
        speed: 4.0,
        events: Some(events),
        ..RunPlan::default()
    }
}

/// Runs `scenario` headless with an events file and checks that nothing it recorded went
/// missing. Returns the outcome.
fn run_and_check(name: &str, scenario: &Arc<Scenario>, for_ms: u64, round: usize) -> Outcome {
    // Unique across the tests of this file, which run at the same time.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "threadlab-delivery-{}-{name}-{round}-{}.jsonl",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let report = headless::execute(scenario.clone(), &args(path.clone(), for_ms))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = std::fs::read_to_string(&path).expect("events file written");
    let _ = std::fs::remove_file(&path);
    let events: Vec<EventRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let at = format!("{name} run {round} ({:?})", report.outcome);

    // Counted: what the threads recorded is exactly what arrived plus what was dropped.
    let dropped = report.summary.events_dropped;
    assert_eq!(
        report.trace.events_seen() + dropped,
        report.recorded_events,
        "{at}: recorded events neither in the trace nor counted as dropped"
    );
    assert_eq!(
        events.len() as u64,
        report.trace.events_seen(),
        "{at}: the events file and the trace disagree"
    );
    if dropped > 0 {
        // Only a reader that fell far behind drops, and then nothing below is certain.
        return report.outcome;
    }

    // Every item taken was put before, and taken once.
    let mut put: HashSet<(String, u32)> = HashSet::new();
    let mut taken: HashSet<(String, u32)> = HashSet::new();
    for e in &events {
        let key = || (e.resource.clone().unwrap_or_default(), e.item.unwrap_or(0));
        match e.event {
            EventKind::Put => assert!(put.insert(key()), "{at}: {e:?} put twice"),
            EventKind::Take => {
                assert!(put.contains(&key()), "{at}: {e:?} was never put");
                assert!(taken.insert(key()), "{at}: {e:?} taken twice");
            }
            _ => {}
        }
    }

    // Per thread: it starts first, nothing follows its end, and in a completed run every
    // thread's last event is its end.
    let mut last: HashMap<&str, EventKind> = HashMap::new();
    for e in &events {
        let before = last.insert(&e.thread, e.event);
        match before {
            None => assert_eq!(
                e.event,
                EventKind::Start,
                "{at}: {} begins with {e:?}",
                e.thread
            ),
            Some(EventKind::Done | EventKind::Fail) => {
                panic!("{at}: {e:?} after {} ended", e.thread)
            }
            Some(_) => {}
        }
    }
    if report.outcome == Outcome::Completed {
        for t in &scenario.threads {
            assert!(
                matches!(last.get(t.name.as_str()), Some(EventKind::Done)),
                "{at}: {} completed, yet its last event is {:?}",
                t.name,
                last.get(t.name.as_str())
            );
        }
    }
    // The summary agrees: a thread whose end was recorded is not reported as still going.
    for t in &report.summary.threads {
        if matches!(last.get(t.name.as_str()), Some(EventKind::Done)) {
            assert_eq!(
                t.final_state, "done",
                "{at}: {} ended but the summary says {}",
                t.name, t.final_state
            );
        }
    }
    report.outcome
}

/// `rounds` rounds of the four scenarios, every other round beside two CPU hogs.
fn rounds(rounds: usize) {
    let scenarios = [
        ("flow", load("flow", FLOW), 5_000),
        ("cut", load("cut", CUT), 5),
        ("stuck", load("stuck", STUCK), 5_000),
        ("tasks", load("tasks", TASKS), 5_000),
    ];
    let mut outcomes: HashMap<(&str, &str), usize> = HashMap::new();
    for round in 0..rounds {
        let _hogs = (round % 2 == 1).then(|| Hogs::start(2));
        for (name, scenario, for_ms) in &scenarios {
            let outcome = run_and_check(name, scenario, *for_ms, round);
            *outcomes.entry((name, outcome.name())).or_default() += 1;
        }
    }
    // The runs ended every way this test is about.
    let ended =
        |name, outcome: Outcome| outcomes.get(&(name, outcome.name())).copied().unwrap_or(0);
    assert_eq!(ended("flow", Outcome::Completed), rounds, "{outcomes:?}");
    assert_eq!(ended("cut", Outcome::Timeout), rounds, "{outcomes:?}");
    assert_eq!(ended("stuck", Outcome::Deadlock), rounds, "{outcomes:?}");
    assert_eq!(ended("tasks", Outcome::Completed), rounds, "{outcomes:?}");
}

/// 200 runs.
#[test]
fn every_recorded_event_arrives_or_is_counted_at_every_end_of_a_run() {
    rounds(50);
}

/// 2,000 runs: `cargo test --test delivery -- --ignored`.
#[test]
#[ignore = "long: 2,000 runs"]
fn every_recorded_event_arrives_or_is_counted_over_2000_runs() {
    rounds(500);
}

/// A long flow, paused again and again beside CPU hogs. Once the run has settled after a pause,
/// a reader that drains has every event recorded before it looked, and in time order (events
/// stamped after the pause share its instant, so only the order they are handed on in tells a
/// put from the take of its item). At the end, joined and drained, nothing is missing.
#[test]
fn at_every_pause_the_reader_has_every_event_so_far_in_order() {
    let scenario = load(
        "paused flow",
        r#"
title "paused flow"
buffer q capacity=500
thread P count=2 {
    repeat 40 {
        repeat 100 {
            put q
        }
        work "1ms"
    }
}
thread C count=2 {
    repeat 4000 {
        take q
    }
}
"#,
    );
    let _hogs = Hogs::start(2);
    let mut run = Run::start(scenario, RunOptions::default());
    let mut events: Vec<Event> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let check_order = |events: &mut Vec<Event>, when: &str| {
        // As the trace keeps them: by time, and at one instant in the order handed on.
        events.sort_by_key(|e| e.t_ns);
        let mut put = HashSet::new();
        for e in events.iter() {
            match e.kind {
                EventKind::Put => {
                    put.insert(e.item);
                }
                EventKind::Take => {
                    assert!(
                        put.contains(&e.item),
                        "{when}: {e:?} taken before it was put"
                    )
                }
                _ => {}
            }
        }
    };
    let mut pauses = 0;
    while !run.is_finished() && pauses < 20 {
        // Let it run a little, taking events as a reader does.
        let until = events.len() + 200;
        while events.len() < until && !run.is_finished() {
            run.wait_events(&mut events, Duration::from_millis(5));
            assert!(Instant::now() < deadline, "the flow did not move");
        }
        run.pause();
        let recorded = run.recorded_events();
        while !run.settled() {
            assert!(
                Instant::now() < deadline,
                "threads did not settle after a pause"
            );
            std::thread::yield_now();
        }
        run.drain_events(&mut events);
        pauses += 1;
        assert!(
            events.len() as u64 + run.dropped_events() >= recorded,
            "pause {pauses}: settled, yet events recorded before are missing"
        );
        check_order(&mut events, &format!("pause {pauses}"));
        run.resume();
    }
    assert!(pauses > 0);
    run.end();
    run.drain_events(&mut events);
    assert_eq!(
        events.len() as u64 + run.dropped_events(),
        run.recorded_events()
    );
    check_order(&mut events, "the end");
}

//! Scale: 512 threads and 10,000 tasks in one run, judged from the events they record (orders
//! and counts, never absolute times: the machine is shared).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use threadlab::engine::{Phase, Run, RunOptions};
use threadlab::scenario::model::Scenario;
use threadlab::vocab::event::{Event, EventKind};

fn builtin(name: &str) -> Arc<Scenario> {
    Arc::new(threadlab::scenario::load(name).unwrap())
}

fn parse(source: &str) -> Arc<Scenario> {
    Arc::new(threadlab::scenario::parse_source("scale", "scale.kdl", source).unwrap())
}

/// Runs until every thread has ended (at most `limit`), then returns every event, in time order.
fn run_to_end(s: Arc<Scenario>, limit: Duration) -> (Run, Vec<Event>) {
    let run = Run::start(s, RunOptions::default());
    let mut events = Vec::new();
    let deadline = Instant::now() + limit;
    while !run.is_finished() && Instant::now() < deadline {
        run.wait_events(&mut events, Duration::from_millis(50));
    }
    assert!(run.is_finished(), "the run did not end within {limit:?}");
    let mut run = run;
    run.end();
    run.drain_events(&mut events);
    events.sort_by_key(|e| e.t_ns);
    (run, events)
}

/// The most lanes of `which` that were in a `sleep` at one instant: a sleep lasts from its
/// Sleep event to the lane's next event.
fn most_asleep_at_once(events: &[Event], which: impl Fn(u16) -> bool) -> usize {
    let mut asleep: HashMap<u16, bool> = HashMap::new();
    let (mut now, mut most) = (0usize, 0usize);
    for e in events.iter().filter(|e| which(e.thread)) {
        let was = asleep
            .insert(e.thread, e.kind == EventKind::Sleep)
            .unwrap_or(false);
        match (was, e.kind == EventKind::Sleep) {
            (false, true) => now += 1,
            (true, false) => now -= 1,
            _ => {}
        }
        most = most.max(now);
    }
    most
}

/// Every one of 10,000 tasks waits at once on the one loop, beside 512 threads that all wait at
/// once too; every lane ends; nothing recorded is dropped; each side's start-up was measured.
#[test]
fn c10k_every_task_and_every_thread_waits_at_once_and_all_end() {
    let s = builtin("c10k");
    let tasks: Vec<bool> = s.threads.iter().map(|t| t.is_task()).collect();
    let n_tasks = tasks.iter().filter(|t| **t).count();
    let n_threads = tasks.len() - n_tasks;
    assert_eq!((n_tasks, n_threads), (10_000, 512));
    let (run, events) = run_to_end(s, Duration::from_secs(120));
    assert_eq!(run.dropped_events(), 0);
    assert_eq!(
        most_asleep_at_once(&events, |t| tasks[t as usize]),
        n_tasks,
        "not every task was waiting at once"
    );
    assert_eq!(
        most_asleep_at_once(&events, |t| !tasks[t as usize]),
        n_threads,
        "not every thread was waiting at once"
    );
    let done = events.iter().filter(|e| e.kind == EventKind::Done).count();
    assert_eq!(done, n_tasks + n_threads);
    // Each task ran on the loop alone: the loop's holder changes only by release then acquire.
    let mut holder: Option<u16> = None;
    for e in events
        .iter()
        .filter(|e| e.resource.is_some() && tasks[e.thread as usize])
    {
        match e.kind {
            EventKind::Acquire => {
                assert_eq!(holder, None, "two tasks on the loop at once");
                holder = Some(e.thread);
            }
            EventKind::Release => holder = None,
            _ => {}
        }
    }
    let f = run.footprint();
    let (threads, tasks) = (f.threads.unwrap(), f.tasks.unwrap());
    assert_eq!((threads.count, tasks.count), (512, 10_000));
    assert!(threads.start_ms > 0.0 && tasks.start_ms > 0.0, "{f:?}");
}

/// 512 busy threads, paused: every one stops where it can be seen (held at its gate or blocked)
/// and runs nothing more until it is let go.
#[test]
fn five_hundred_and_twelve_threads_pause_and_stay_paused() {
    let s = parse(
        "title \"p\"\nsemaphore S permits=64\n\
         thread w count=512 { repeat 40 { acquire S; work \"1ms\"; release S; sleep \"5ms\" } }\n",
    );
    let run = Run::start(s, RunOptions::default());
    let mut events = Vec::new();
    run.wait_events(&mut events, Duration::from_secs(5));
    run.pause();
    let mut last: HashMap<u16, EventKind> = HashMap::new();
    let stopped = |last: &HashMap<u16, EventKind>| {
        last.len() == 512
            && last
                .values()
                .all(|k| matches!(k, EventKind::Hold | EventKind::Block))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stopped(&last) && Instant::now() < deadline {
        for e in events.drain(..) {
            last.insert(e.thread, e.kind);
        }
        run.wait_events(&mut events, Duration::from_millis(20));
    }
    assert!(
        stopped(&last),
        "not every thread stopped: {} seen",
        last.len()
    );
    assert_eq!(run.phase(), Phase::Paused);
    // Paused: the threads stay where they are.
    let settled = Instant::now() + Duration::from_secs(2);
    while !run.settled() && Instant::now() < settled {
        std::thread::sleep(Duration::from_millis(5));
    }
    run.drain_events(&mut events);
    events.clear();
    std::thread::sleep(Duration::from_millis(100));
    run.drain_events(&mut events);
    // A waiter handed a permit just as the pause came still takes it (the releaser gave it
    // away) and is then held at its next gate; nobody runs, releases or sleeps.
    assert!(
        events.iter().all(|e| match e.kind {
            EventKind::Hold | EventKind::Block => true,
            EventKind::Acquire => e.by.is_some(),
            _ => false,
        }),
        "{:?}",
        &events[..events.len().min(5)]
    );
    let joined = run.stop();
    assert!(joined < Duration::from_secs(10));
}

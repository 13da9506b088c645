//! Real OS processes: the `processes` and `process-pool` lessons, from recorded events and
//! from what the OS shows in /proc. Each process's threads ran in a pid of their own; under
//! the GIL at most one thread of a process computes at once; an mp-queue delivers every item
//! exactly once; children are visible while a run goes and gone after every way it ends.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use threadlab::engine::{Phase, Run, RunOptions, StepError};
use threadlab::scenario::model::{Scenario, ThreadIdx};
use threadlab::vocab::event::{Event, EventKind};

mod common;
use common::*;

/// Per thread of a child process: the pid its `spawn` named.
fn pids(s: &Scenario, events: &[Event]) -> HashMap<ThreadIdx, u32> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Spawn)
        .map(|e| {
            assert!(s.threads[e.thread as usize].process.is_some());
            (e.thread, e.item.expect("a spawn names its pid"))
        })
        .collect()
}

/// Runs until `want` spawns were recorded (bounded), keeping every event.
fn until_spawned(run: &Run, want: usize, events: &mut Vec<Event>) {
    let deadline = Instant::now() + LIMIT;
    while events.iter().filter(|e| e.kind == EventKind::Spawn).count() < want {
        run.wait_events(events, Duration::from_millis(20));
        assert!(Instant::now() < deadline, "no process was started");
    }
}

#[test]
fn each_process_runs_its_threads_in_a_pid_of_its_own() {
    let s = builtin("processes");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let pids = pids(&s, &out.events);
    let workers: Vec<ThreadIdx> = (0..s.threads.len() as ThreadIdx)
        .filter(|&t| s.threads[t as usize].process.is_some())
        .collect();
    assert_eq!(workers.len(), 2);
    let (a, b) = (pids[&workers[0]], pids[&workers[1]]);
    assert_ne!(a, b, "two processes, two pids");
    assert!(a != std::process::id() && b != std::process::id());
    for &t in &workers {
        let mine: Vec<&Event> = out.events.iter().filter(|e| e.thread == t).collect();
        // The process is started, then the thread starts in it, naming the same pid.
        assert_eq!(mine[0].kind, EventKind::Spawn);
        let start = mine.iter().find(|e| e.kind == EventKind::Start).unwrap();
        assert_eq!(start.item, Some(pids[&t]));
        assert!(start.t_ns >= mine[0].t_ns);
        // A process is started only once the threads it waits for are done.
        let cpu_done = out
            .events
            .iter()
            .filter(|e| s.threads[e.thread as usize].process.is_none() && e.kind == EventKind::Done)
            .map(|e| e.t_ns)
            .max()
            .unwrap();
        assert!(mine[0].t_ns >= cpu_done);
    }
    // Each process computed under its own GIL: one thread each, never waiting for it.
    for &t in &workers {
        let gil = s.threads[t as usize]
            .gil
            .expect("threads \"python\": a GIL each");
        assert!(
            out.events
                .iter()
                .filter(|e| e.resource == Some(gil))
                .all(|e| e.thread == t && e.kind != EventKind::Block)
        );
    }
}

#[test]
fn under_one_gil_one_thread_computes_and_processes_compute_at_once() {
    let s = builtin("processes");
    let out = run(&s);
    let gil = resource(&s, "GIL");
    assert_eq!(out.facts[gil].most_holders, 1);
    let cpu: Vec<ThreadIdx> = (0..s.threads.len() as ThreadIdx)
        .filter(|&t| s.threads[t as usize].process.is_none())
        .collect();
    assert_eq!(
        overlap(
            &running_spans(&s, &out.events, cpu[0]),
            &running_spans(&s, &out.events, cpu[1])
        ),
        0,
        "under one GIL the threads never compute at the same time"
    );
    let card = threadlab::trace::gil::compare(&s, &out.events).expect("both phases finished");
    assert_eq!(card.processes, Some(2));
    assert_eq!((card.under_gil.threads, card.free.threads), (2, 2));
    assert!(card.under_gil.cpu_busy <= 1.05, "{card:?}");
    if threadlab::trace::gil::cores() >= 2 {
        let workers: Vec<ThreadIdx> = (0..s.threads.len() as ThreadIdx)
            .filter(|&t| s.threads[t as usize].process.is_some())
            .collect();
        assert!(
            overlap(
                &running_spans(&s, &out.events, workers[0]),
                &running_spans(&s, &out.events, workers[1])
            ) > 0,
            "two processes computed at the same time"
        );
    }
}

#[test]
fn the_pool_delivers_every_item_exactly_once_across_processes() {
    let s = builtin("process-pool");
    let out = run(&s);
    assert_eq!(out.phase, Phase::Finished);
    let pids = pids(&s, &out.events);
    let mut distinct: Vec<u32> = pids.values().copied().collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "three workers, three processes");
    for name in ["tasks", "results"] {
        let q = resource(&s, name) as u16;
        let mut put: HashMap<u32, (ThreadIdx, u64)> = HashMap::new();
        let mut sentinels_put = 0;
        for e in out
            .events
            .iter()
            .filter(|e| e.resource == Some(q) && e.kind == EventKind::Put)
        {
            let item = e.item.unwrap();
            if item == 0 {
                sentinels_put += 1;
            } else {
                assert!(
                    put.insert(item, (e.thread, e.t_ns)).is_none(),
                    "item {item} put twice"
                );
            }
        }
        let mut taken: HashMap<u32, usize> = HashMap::new();
        let mut sentinels_taken = 0;
        for e in out
            .events
            .iter()
            .filter(|e| e.resource == Some(q) && e.kind == EventKind::Take)
        {
            let item = e.item.unwrap();
            if item == 0 {
                sentinels_taken += 1;
                continue;
            }
            let (putter, at) = put[&item];
            assert_eq!(e.by, Some(putter), "the take names who put item {item}");
            assert!(e.t_ns >= at, "item {item} taken before it was put");
            *taken.entry(item).or_default() += 1;
        }
        assert_eq!(taken.len(), put.len(), "{name}: every item taken");
        assert!(taken.values().all(|&n| n == 1), "{name}: each taken once");
        assert_eq!(sentinels_taken, sentinels_put);
    }
    // Each worker stops at the sentinel it takes: one each.
    let tasks = resource(&s, "tasks") as u16;
    for &t in pids.keys() {
        let sentinels = out
            .events
            .iter()
            .filter(|e| e.thread == t && e.resource == Some(tasks))
            .filter(|e| e.kind == EventKind::Take && e.item == Some(0))
            .count();
        assert_eq!(sentinels, 1, "{}", s.thread_name(t));
    }
}

#[test]
fn children_are_visible_while_running_and_gone_after_a_reset() {
    let s = builtin("process-pool");
    let _turn = ONE_AT_A_TIME.lock();
    let run = Run::start(s.clone(), RunOptions::default());
    let mut events = Vec::new();
    until_spawned(&run, 3, &mut events);
    let pids: Vec<u32> = pids(&s, &events).into_values().collect();
    for &pid in &pids {
        let (ppid, pgid, _) = stat(pid).expect("the child is visible to the OS");
        assert_eq!(ppid, std::process::id());
        assert_eq!(pgid, pid, "in a process group of its own");
    }
    run.stop();
    wait_gone(&pids);
}

#[test]
fn pause_holds_the_threads_of_child_processes_and_steps_there_are_refused() {
    let s = builtin("process-pool");
    let _turn = ONE_AT_A_TIME.lock();
    let run = Run::start(s.clone(), RunOptions::default());
    let mut events = Vec::new();
    until_spawned(&run, 3, &mut events);
    let workers: Vec<ThreadIdx> = pids(&s, &events).into_keys().collect();
    // Once a worker has started, pausing holds it in its own process.
    let deadline = Instant::now() + LIMIT;
    while !workers.iter().all(|&t| {
        events
            .iter()
            .any(|e| e.thread == t && e.kind == EventKind::Start)
    }) {
        run.wait_events(&mut events, Duration::from_millis(20));
        assert!(Instant::now() < deadline, "workers did not start");
    }
    run.pause();
    let paused_from = events.len();
    while !workers.iter().all(|&t| {
        events[paused_from..]
            .iter()
            .any(|e| e.thread == t && matches!(e.kind, EventKind::Hold | EventKind::Done))
            || run.is_finished()
    }) {
        run.wait_events(&mut events, Duration::from_millis(20));
        assert!(Instant::now() < deadline, "a child's threads were not held");
    }
    match run.step(workers[0]) {
        Err(StepError::OtherProcess { process, .. }) => assert!(process.starts_with("worker-")),
        other => panic!("a step in another process is refused clearly, not {other:?}"),
    }
    run.resume();
    let (phase, _) = run_to_end(&run);
    assert_eq!(phase, Phase::Finished);
}

/// Three worker processes that compute long enough to be signalled mid-run.
const LONG_POOL: &str = r#"title "Three busy worker processes"
process worker count=3 {
    thread main {
        repeat 100 {
            work "100ms"
        }
    }
}
"#;

/// `threadlab run` of [`LONG_POOL`], headless, as a child of this test, once its own three
/// children show.
fn threadlab_with_children() -> (std::process::Child, Vec<u32>) {
    let file = std::env::temp_dir().join(format!("threadlab-{}-long-pool.kdl", std::process::id()));
    std::fs::write(&file, LONG_POOL).unwrap();
    let mut me = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .arg("run")
        .arg(&file)
        .args(["--headless", "--for", "60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("threadlab starts");
    let deadline = Instant::now() + LIMIT;
    let kids = loop {
        let kids = children_of(me.id());
        if kids.len() >= 3 || Instant::now() > deadline {
            break kids;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if kids.len() < 3 {
        let _ = me.kill();
        let _ = me.wait();
        panic!("threadlab started no child processes");
    }
    (me, kids)
}

#[test]
fn no_child_outlives_threadlab_killed_or_signalled() {
    for signal in [libc::SIGKILL, libc::SIGTERM, libc::SIGHUP, libc::SIGINT] {
        let (mut me, kids) = threadlab_with_children();
        // SAFETY: a signal to a process this test started.
        unsafe { libc::kill(me.id() as i32, signal) };
        let status = me.wait().expect("threadlab ends");
        assert!(!status.success(), "signal {signal}: {status:?}");
        wait_gone(&kids);
    }
}

#[test]
fn a_finished_run_leaves_no_child() {
    let out = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .args(["run", "processes", "--headless", "--json", "--speed", "4"])
        .output()
        .expect("threadlab runs");
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pids: Vec<u32> = json["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["pid"].as_u64())
        .map(|p| p as u32)
        .collect();
    assert_eq!(pids.len(), 2, "--json names each process thread's pid");
    assert_eq!(json["gil"]["processes"], 2);
    assert!(json["gil"]["speedup"].as_f64().is_some());
    wait_gone(&pids);
}

/// `check`'s verdict on `source`: each problem's code, and the text as a person reads it.
fn check(source: &str) -> (Vec<&'static str>, String) {
    let report = threadlab::scenario::parse_source("test", "test.kdl", source)
        .expect_err("the file is refused");
    let codes = report
        .downcast_ref::<threadlab::scenario::ScenarioError>()
        .expect("a ScenarioError")
        .problems()
        .iter()
        .map(|p| p.code())
        .collect();
    (
        codes,
        threadlab::scenario::render_plain(report.as_ref(), 200),
    )
}

#[test]
fn check_refuses_what_processes_cannot_do() {
    let (codes, text) = check("process p { }\nthread T1 { work \"1ms\" }\n");
    assert_eq!(codes, ["scenario::process-without-threads"], "{text}");
    assert!(text.contains("test.kdl:1:"), "{text}");

    let (codes, text) = check(
        "mutex m\nthread T1 { lock m; unlock m }\nprocess p {\n    thread a { lock m; unlock m }\n}\n",
    );
    assert_eq!(codes, ["scenario::shared-memory"], "{text}");
    assert!(
        text.contains("process p") && text.contains("threadlab's own process"),
        "{text}"
    );
    assert!(
        text.contains("mp-queue"),
        "the help names the way out: {text}"
    );

    let (codes, text) = check(
        "gil py\nprocess a {\n    thread t gil=py { work \"1ms\" }\n}\nprocess b {\n    thread t gil=py { work \"1ms\" }\n}\n",
    );
    assert_eq!(codes, ["scenario::shared-gil"], "{text}");

    let (codes, text) = check(
        "thread T1 { work \"1ms\" }\nprocess p {\n    thread a after=T1 { work \"1ms\" }\n}\n",
    );
    assert_eq!(codes, ["scenario::after-across-processes"], "{text}");

    let (codes, text) = check("mp-queue q\nthread T1 { put q priority=1; take q }\n");
    assert_eq!(codes, ["scenario::wrong-kind"], "{text}");

    let (codes, text) = check("process p {\n    mutex m\n    thread a { work \"1ms\" }\n}\n");
    assert_eq!(codes, ["scenario::misplaced"], "{text}");

    // Nothing in any process ever puts: the take can only wait forever.
    let (codes, text) =
        check("mp-queue q\nthread T1 { work \"1ms\" }\nprocess p {\n    thread a { take q }\n}\n");
    assert_eq!(codes, ["scenario::take-without-put"], "{text}");
    assert!(text.contains("test.kdl:4:"), "{text}");
}

#[test]
fn processes_are_named_and_get_a_gil_each() {
    let s = threadlab::scenario::parse_source(
        "test",
        "test.kdl",
        "threads \"python\"\nmp-queue q\nthread T1 { put q }\nprocess w count=2 {\n    thread a { take q }\n}\n",
    )
    .unwrap();
    let names: Vec<&str> = s.threads.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["T1", "w-1.a", "w-2.a"]);
    let process: Vec<Option<&str>> = (0..3).map(|t| s.process_of(t)).collect();
    assert_eq!(process, [None, Some("w-1"), Some("w-2")]);
    let gils: Vec<&str> = s
        .threads
        .iter()
        .map(|t| s.resource_name(t.gil.unwrap()))
        .collect();
    assert_eq!(gils, ["GIL", "w-1.GIL", "w-2.GIL"]);
}

#[test]
fn a_deadlock_inside_a_child_process_stops_the_run_and_names_its_threads() {
    let s = Arc::new(
        threadlab::scenario::parse_source(
            "test",
            "test.kdl",
            "mutex A\nmutex B\nprocess p {\n    thread T1 { lock A; sleep \"50ms\"; lock B; unlock B; unlock A }\n    thread T2 { lock B; sleep \"50ms\"; lock A; unlock A; unlock B }\n}\n",
        )
        .unwrap(),
    );
    let _turn = ONE_AT_A_TIME.lock();
    let run = Run::start(s.clone(), RunOptions::default());
    let (phase, events) = run_to_end(&run);
    assert_eq!(phase, Phase::Deadlock);
    let d = run.deadlock().expect("the child's deadlock, in the run");
    assert_eq!(
        d.describe(&s),
        "p.T1 waits for B held by p.T2, p.T2 waits for A held by p.T1"
    );
    let pids = pids(&s, &events);
    run.stop();
    wait_gone(&pids.into_values().collect::<Vec<_>>());
}

// ---- waits across processes that can never end ------------------------------------------

/// A scenario from source that `check` accepts.
fn parse(source: &str) -> Arc<Scenario> {
    Arc::new(
        threadlab::scenario::parse_source("test", "test.kdl", source)
            .unwrap_or_else(|e| panic!("{e:?}")),
    )
}

/// What a run of `source` did, to its end (bounded): how it ended, every event in time
/// order, its deadlock, and the pid each child process had (all gone once it was stopped).
struct Ended {
    s: Arc<Scenario>,
    phase: Phase,
    events: Vec<Event>,
    deadlock: Option<threadlab::vocab::deadlock::Deadlock>,
}

fn run_source(source: &str) -> Ended {
    let s = parse(source);
    let _turn = ONE_AT_A_TIME.lock();
    let run = Run::start(s.clone(), RunOptions::default());
    let (phase, events) = run_to_end(&run);
    let deadlock = run.deadlock();
    run.stop();
    let pids: Vec<u32> = pids(&s, &events).into_values().collect();
    wait_gone(&pids);
    Ended {
        s,
        phase,
        events,
        deadlock,
    }
}

impl Ended {
    fn thread(&self, name: &str) -> ThreadIdx {
        thread(&self.s, name)
    }

    fn of(&self, t: ThreadIdx) -> Vec<&Event> {
        self.events.iter().filter(|e| e.thread == t).collect()
    }

    /// The last thing thread `t` recorded: a block on `resource` at `step`.
    fn ends_blocked(&self, name: &str, resource: &str, step: u32) {
        let t = self.thread(name);
        let last = *self.of(t).last().expect("it recorded something");
        assert_eq!(last.kind, EventKind::Block, "{name}: {last:?}");
        assert_eq!(
            last.resource,
            Some(resource_idx(&self.s, resource)),
            "{name}"
        );
        assert_eq!(last.step, step, "{name}");
    }
}

fn resource_idx(s: &Scenario, name: &str) -> u16 {
    resource(s, name) as u16
}

#[test]
fn a_take_that_no_process_will_ever_put_into_is_a_deadlock() {
    let out = run_source(
        "mp-queue q\nthread main { take q; take q }\nprocess p {\n    thread w { put q }\n}\n",
    );
    assert_eq!(out.phase, Phase::Deadlock);
    let d = out.deadlock.as_ref().expect("reported");
    let main = out.thread("main");
    assert_eq!(d.stuck, vec![main]);
    assert_eq!(
        d.describe(&out.s),
        "main waits for q, which no thread left can fill"
    );
    assert_eq!(d.cycle[0].want, threadlab::vocab::deadlock::Want::Put);
    // The one item came from the other process, and was taken: only the second take waits.
    let w = out.thread("p.w");
    let took = out
        .of(main)
        .into_iter()
        .find(|e| e.kind == EventKind::Take)
        .expect("main took the item p.w put");
    assert_eq!(took.by, Some(w));
    out.ends_blocked("main", "q", 1);
}

#[test]
fn processes_waiting_on_each_others_queues_are_a_cycle() {
    let out = run_source(
        "mp-queue a\nmp-queue b\nprocess x {\n    thread t { take a; put b }\n}\nprocess y {\n    thread t { take b; put a }\n}\n",
    );
    assert_eq!(out.phase, Phase::Deadlock);
    let d = out.deadlock.as_ref().expect("reported");
    assert_eq!(
        d.describe(&out.s),
        "x.t waits for a, which only y.t (itself stuck) could fill, \
         y.t waits for b, which only x.t (itself stuck) could fill"
    );
    assert_eq!(d.stuck, vec![out.thread("x.t"), out.thread("y.t")]);
    // Both waits are on record before the run stopped on them, each in its own process.
    out.ends_blocked("x.t", "a", 0);
    out.ends_blocked("y.t", "b", 0);
    let pids = pids(&out.s, &out.events);
    assert_ne!(pids[&out.thread("x.t")], pids[&out.thread("y.t")]);
}

#[test]
fn a_process_that_will_still_put_keeps_the_run_alive() {
    // main waits from the start; one putter's process starts only once `slow` is done, the
    // other sleeps first and then waits for main's answer: none of them may be taken for a
    // thread that can never put.
    let out = run_source(
        "mp-queue q\nmp-queue r\nthread main { take q; take q; put r }\nthread slow { sleep \"200ms\" }\n\
         process late after=slow {\n    thread w { put q }\n}\n\
         process sleepy {\n    thread w { sleep \"300ms\"; put q; take r }\n}\n",
    );
    assert_eq!(out.phase, Phase::Finished, "{:?}", out.deadlock);
    for (name, items) in [("q", 2), ("r", 1)] {
        let r = resource_idx(&out.s, name);
        let count = |kind| {
            out.events
                .iter()
                .filter(|e| e.kind == kind && e.resource == Some(r))
                .count()
        };
        assert_eq!(count(EventKind::Put), items, "{name}");
        assert_eq!(count(EventKind::Take), items, "{name}");
    }
}

#[test]
fn a_put_into_a_full_pipe_nobody_takes_from_is_a_deadlock() {
    // More items than a pipe holds; main takes a few and ends.
    let out = run_source(
        "mp-queue q\nthread main { repeat 3 { take q } }\nprocess p {\n    thread w {\n        repeat 10000 { put q }\n    }\n}\n",
    );
    assert_eq!(out.phase, Phase::Deadlock);
    let d = out.deadlock.as_ref().expect("reported");
    assert_eq!(
        d.describe(&out.s),
        "p.w waits for q, which no thread left can make room in"
    );
    assert_eq!(d.cycle[0].want, threadlab::vocab::deadlock::Want::Take);
    let w = out.thread("p.w");
    let puts = out
        .of(w)
        .iter()
        .filter(|e| e.kind == EventKind::Put)
        .count();
    assert!((1000..10_000).contains(&puts), "{puts} puts");
    out.ends_blocked("p.w", "q", puts as u32);
}

#[test]
fn a_child_killed_mid_run_fails_its_threads_and_whoever_waits_for_them_is_stuck() {
    let s = parse(
        "mp-queue q\nthread main { take q }\nprocess p {\n    thread w { sleep \"20s\"; put q }\n}\n",
    );
    let _turn = ONE_AT_A_TIME.lock();
    let run = Run::start(s.clone(), RunOptions::default());
    let mut events = Vec::new();
    let w = thread(&s, "p.w");
    let deadline = Instant::now() + LIMIT;
    while !events
        .iter()
        .any(|e: &Event| e.thread == w && e.kind == EventKind::Sleep)
    {
        run.wait_events(&mut events, Duration::from_millis(20));
        assert!(Instant::now() < deadline, "p.w did not start");
    }
    // While p.w sleeps it may still put: nobody is stuck.
    assert_eq!(run.phase(), Phase::Running);
    let pid = pids(&s, &events)[&w];
    // SAFETY: a signal to the child process this run started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let (phase, rest) = run_to_end(&run);
    events.extend(rest);
    assert_eq!(phase, Phase::Deadlock);
    assert!(
        run.failure(w).is_some_and(|why| why.contains("ended")),
        "{:?}",
        run.failure(w)
    );
    assert_eq!(
        run.deadlock().unwrap().describe(&s),
        "main waits for q, which no thread left can fill"
    );
    run.stop();
    wait_gone(&[pid]);
}

#[test]
fn headless_a_wait_across_processes_that_never_ends_exits_3_without_a_time_limit() {
    let file = std::env::temp_dir().join(format!("threadlab-{}-never-put.kdl", std::process::id()));
    std::fs::write(
        &file,
        "mp-queue a\nmp-queue b\nthread main { take a; put b }\nprocess p count=2 {\n    thread w { take b; put a }\n}\n",
    )
    .unwrap();
    let mut me = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .arg("run")
        .arg(&file)
        .args(["--headless", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("threadlab starts");
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = me.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let kids = children_of(me.id());
            let _ = me.kill();
            let _ = me.wait();
            wait_gone(&kids);
            panic!("a run whose threads all wait on an mp-queue hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut me.stdout.take().unwrap(), &mut out).unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(status.code(), Some(3), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["outcome"], "deadlock");
    let stuck: Vec<&str> = json["deadlock"]["stuck"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(stuck, ["main", "p-1.w", "p-2.w"]);
    assert_eq!(
        json["deadlock"]["text"],
        "main waits for a, which only p-1.w (itself stuck) could fill, \
         p-1.w waits for b, which only main (itself stuck) could fill"
    );
    assert_eq!(json["deadlock"]["cycle"][0]["wants"], "put");
    let pids: Vec<u32> = json["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["pid"].as_u64())
        .map(|p| p as u32)
        .collect();
    assert_eq!(pids.len(), 2);
    wait_gone(&pids);
}

/// A put into a full pipe in threadlab's own process waits where a reset can end it: the run
/// stops as deadlocked, and stopping it joins the putter.
#[test]
fn a_putter_on_a_full_pipe_is_found_and_let_go_by_a_reset() {
    let s = parse("mp-queue q\nthread main {\n    repeat 10000 { put q }\n}\n");
    let run = Run::start(s.clone(), RunOptions::default());
    let (phase, events) = run_to_end(&run);
    assert_eq!(phase, Phase::Deadlock);
    assert_eq!(
        run.deadlock().unwrap().describe(&s),
        "main waits for q, which no thread left can make room in"
    );
    let last = events.last().unwrap();
    assert_eq!((last.kind, last.thread), (EventKind::Block, 0));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        run.stop();
        let _ = tx.send(());
    });
    rx.recv_timeout(LIMIT)
        .expect("a reset lets a putter waiting on a full pipe go");
}

/// A process started `after=` a group that can never finish never starts: its threads are
/// among the stuck, and it is never spawned.
#[test]
fn a_process_behind_a_deadlocked_group_is_stuck_with_it() {
    let out = run_source(
        "mutex m\nthread A { lock m; lock m }\nprocess p after=A {\n    thread w { work \"1ms\" }\n}\n",
    );
    assert_eq!(out.phase, Phase::Deadlock);
    let d = out.deadlock.as_ref().expect("reported");
    assert_eq!(d.describe(&out.s), "A locks m again while holding it");
    assert_eq!(d.stuck, vec![out.thread("A"), out.thread("p.w")]);
    assert!(out.of(out.thread("p.w")).is_empty(), "p was never started");
}

/// A child stopped by SIGSTOP answers nothing and its threads cannot move, yet it may be
/// continued: a headless run with no time limit neither calls that a deadlock nor waits in
/// silence. It says on stderr that the process is stopped, and that it was continued.
#[test]
fn headless_a_stopped_child_is_said_on_stderr_and_waited_for() {
    use std::io::BufRead;
    let file = std::env::temp_dir().join(format!("threadlab-{}-stopped.kdl", std::process::id()));
    std::fs::write(
        &file,
        "mp-queue q\nthread main { take q }\nprocess p {\n    thread w { sleep \"600s\"; put q }\n}\n",
    )
    .unwrap();
    let mut me = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .arg("run")
        .arg(&file)
        .args(["--headless", "--json", "--lang", "en"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("threadlab starts");
    let (tx, lines) = std::sync::mpsc::channel();
    let stderr = std::io::BufReader::new(me.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + LIMIT;
    let kids = loop {
        let kids = children_of(me.id());
        if !kids.is_empty() || Instant::now() > deadline {
            break kids;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let end = |me: &mut std::process::Child, why: &str| {
        let _ = me.kill();
        let _ = me.wait();
        wait_gone(&kids);
        panic!("{why}");
    };
    if kids.len() != 1 {
        end(&mut me, "threadlab started no child process");
    }
    let child = kids[0];
    let said = |want: &str| {
        let deadline = Instant::now() + LIMIT;
        while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(want) {
                return Some(line);
            }
        }
        None
    };
    // SAFETY: a signal to the child process threadlab started for this test.
    unsafe { libc::kill(child as i32, libc::SIGSTOP) };
    let stopped = said("is stopped");
    let still_running = me.try_wait().unwrap().is_none();
    // SAFETY: as above.
    unsafe { libc::kill(child as i32, libc::SIGCONT) };
    let continued = said("was continued");
    // SAFETY: a plain SIGTERM to the threadlab this test started.
    unsafe { libc::kill(me.id() as i32, libc::SIGTERM) };
    let _ = me.wait();
    let _ = std::fs::remove_file(&file);
    wait_gone(&kids);
    let stopped = stopped.expect("a stopped child is said on stderr");
    assert!(
        stopped.contains(&format!("process p (pid {child})")),
        "{stopped}"
    );
    assert!(
        still_running,
        "a stopped child is no deadlock: it may be continued"
    );
    let continued = continued.expect("a continued child is said on stderr");
    assert!(continued.contains(&format!("pid {child}")), "{continued}");
}

/// Putters of two processes race for a full pipe's room as one taker drains it: a put is
/// recorded only once its bytes are in, so no put step records its put before a wait for room
/// (a putter that saw room and lost it to the other process once did), and in stamp order no
/// item is taken before it was put.
#[test]
fn a_put_is_recorded_once_its_bytes_are_in_the_pipe() {
    let out = run_source(
        "mp-queue q\nthread main {\n    sleep \"200ms\"\n    repeat 2 { repeat 8000 { take q } }\n}\n\
         process p count=2 {\n    thread w {\n        repeat 8000 { put q }\n    }\n}\n",
    );
    assert_eq!(out.phase, Phase::Finished, "{:?}", out.deadlock);
    for name in ["p-1.w", "p-2.w"] {
        let events = out.of(out.thread(name));
        let mut puts = 0;
        for (i, e) in events.iter().enumerate() {
            if e.kind != EventKind::Put {
                continue;
            }
            puts += 1;
            let next = events.get(i + 1);
            assert!(
                !next.is_some_and(|n| n.step == e.step && n.kind == EventKind::Block),
                "{name} recorded its put at step {} before waiting for room",
                e.step
            );
        }
        assert_eq!(puts, 8000, "{name}");
    }
    let q = resource_idx(&out.s, "q");
    let mut in_pipe: i64 = 0;
    for e in out.events.iter().filter(|e| e.resource == Some(q)) {
        match e.kind {
            EventKind::Put => in_pipe += 1,
            EventKind::Take => in_pipe -= 1,
            _ => {}
        }
        assert!(in_pipe >= 0, "an item was taken before it was put: {e:?}");
    }
    assert_eq!(in_pipe, 0);
}

/// `after=p` names a whole process, as `p.join()` waits for one: a thread or a process declared
/// below starts only once every thread of it (of each process of a `count=` block) is done.
/// Inside a process, a thread waits for threads, not for a process.
#[test]
fn after_a_process_waits_for_every_thread_of_it() {
    let out = run_source(
        "mp-queue q\nprocess p count=2 {\n    thread a { put q }\n    thread b { sleep \"30ms\"; put q }\n}\n\
         thread main after=p {\n    repeat 4 { take q }\n}\n\
         process last after=p {\n    thread w { work \"1ms\" }\n}\n",
    );
    assert_eq!(out.phase, Phase::Finished, "{:?}", out.deadlock);
    let done_at = |name: &str| {
        out.of(out.thread(name))
            .into_iter()
            .find(|e| e.kind == EventKind::Done)
            .unwrap_or_else(|| panic!("{name} finished"))
            .t_ns
    };
    let first_of = |name: &str| out.of(out.thread(name))[0].t_ns;
    let p_done = ["p-1.a", "p-1.b", "p-2.a", "p-2.b"]
        .map(done_at)
        .into_iter()
        .max()
        .unwrap();
    for late in ["main", "last.w"] {
        assert!(
            first_of(late) > p_done,
            "{late} began before every thread of p was done"
        );
    }

    let (codes, text) = check(
        "process p {\n    thread a { work \"1ms\" }\n}\nprocess r {\n    thread b after=p { work \"1ms\" }\n}\n",
    );
    assert_eq!(codes, ["scenario::undeclared"], "{text}");
    assert!(text.contains("test.kdl:5:"), "{text}");
}

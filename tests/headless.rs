//! Headless runs on the real engine: outcomes, summaries, the events file, the text report and
//! exit codes. Runs are real threads on a busy machine, so these assert invariants and orders,
//! never absolute times; every run is bounded with `--for`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use threadlab::headless::RunPlan;
use threadlab::headless::{self, Options};
use threadlab::scenario::model::Scenario;
use threadlab::trace::summary::ResourceFigures;
use threadlab::vocab::Outcome;

mod common;
use common::{read_events, temp_events_path};

fn load(name: &str) -> Arc<Scenario> {
    Arc::new(threadlab::scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e:?}")))
}

fn args(name: &str) -> RunPlan {
    RunPlan {
        scenario: name.to_string(),
        // A bound against a hang only: a loaded machine stretches a CPU-bound lesson many times.
        for_: Some(Duration::from_secs(600)),
        schedule: Vec::new(),
        speed: 4.0,
        events: None,
        ..RunPlan::default()
    }
}

#[test]
fn forced_schedule_always_deadlocks_and_names_the_cycle() {
    let mut a = args("deadlock");
    a.speed = 1.0;
    // T1 takes A, T2 takes B, then each reaches for the other's lock.
    a.schedule = ["T1", "T2", "T1", "T2", "T1", "T2"]
        .map(String::from)
        .to_vec();
    let report = headless::execute(load("deadlock"), &a).expect("a valid schedule");
    assert_eq!(report.outcome, Outcome::Deadlock);
    let d = report
        .summary
        .deadlock
        .as_ref()
        .expect("the cycle is reported");
    assert_eq!(d.cycle.len(), 2);
    let waits: Vec<(&str, &str, Option<&str>)> = d
        .cycle
        .iter()
        .map(|e| {
            (
                e.thread.as_str(),
                e.waits_for.as_str(),
                e.held_by.as_deref(),
            )
        })
        .collect();
    assert!(
        waits.contains(&("T1", "B", Some("T2"))) && waits.contains(&("T2", "A", Some("T1"))),
        "{waits:?}"
    );
    let t1 = &report.summary.threads[0];
    assert_eq!(t1.final_state, "blocked");
    assert_eq!(t1.waiting_for.as_deref(), Some("B"));
    assert!(report.summary.run_time_ms > 0.0);

    let text = headless::render(&report, &Options::default());
    assert!(text.contains("DEADLOCK"), "{text}");
    assert!(text.contains("T1 waits for B held by T2"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("T1 ") && l.ends_with("blocked on B")),
        "{text}"
    );
    assert!(!text.contains('\x1b'));
}

#[test]
fn semaphore_never_lets_more_than_its_permits_in() {
    let path = temp_events_path("semaphore");
    let mut a = args("semaphore");
    a.events = Some(path.clone());
    let report = headless::execute(load("semaphore"), &a).expect("runs");
    assert_eq!(report.outcome, Outcome::Completed);
    let sem = report
        .summary
        .resources
        .iter()
        .find_map(|r| match r {
            ResourceFigures::Semaphore {
                permits,
                most_holders,
                acquisitions,
                ..
            } => Some((*permits, *most_holders, *acquisitions)),
            _ => None,
        })
        .expect("a semaphore");
    let (permits, most, acquisitions) = sem;
    assert_eq!(
        most, permits,
        "never more than the permits, and all of them in use at once"
    );
    assert!(acquisitions >= permits as u64);

    // The events file is in time order, one JSON object per line, and agrees with the summary.
    let events = read_events(&path);
    assert_eq!(events.len() as u64, report.summary.events_recorded);
    assert!(events.windows(2).all(|w| w[0].t_us <= w[1].t_us));
    let acquires = events
        .iter()
        .filter(|e| e.event.name() == "acquire" && e.resource.as_deref() == Some("pool"))
        .count() as u64;
    assert_eq!(acquires, acquisitions);
    assert!(
        events
            .iter()
            .all(|e| e.line.is_some() || matches!(e.event.name(), "start" | "done" | "hold"))
    );
}

#[test]
fn producer_consumer_keeps_the_buffer_in_bounds() {
    let report =
        headless::execute(load("producer-consumer"), &args("producer-consumer")).expect("runs");
    assert_eq!(
        report.outcome,
        Outcome::Completed,
        "{:?}",
        report.summary.deadlock
    );
    for r in &report.summary.resources {
        if let ResourceFigures::Buffer {
            capacity,
            most_fill,
            items_put,
            items_taken,
            ..
        } = r
        {
            assert!(*most_fill <= *capacity);
            assert!(*most_fill > 0);
            assert_eq!(items_put, items_taken, "every item is taken");
        }
    }
}

#[test]
fn barrier_trips_once_per_generation() {
    let report = headless::execute(load("barrier"), &args("barrier")).expect("runs");
    assert_eq!(report.outcome, Outcome::Completed);
    let barrier = report
        .summary
        .resources
        .iter()
        .find(|r| matches!(r, ResourceFigures::Barrier { .. }))
        .expect("a barrier");
    let ResourceFigures::Barrier { generations, .. } = barrier else {
        unreachable!()
    };
    assert!(*generations >= 1);
}

#[test]
fn fixed_order_completes() {
    let report = headless::execute(load("fixed-order"), &args("fixed-order")).expect("runs");
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(report.summary.deadlock.is_none());
    for t in &report.summary.threads {
        assert_eq!(t.final_state, "done", "{}", t.name);
        assert!(t.finished_ms.is_some());
    }
}

#[test]
fn gil_run_reports_the_comparison() {
    let report = headless::execute(load("gil"), &args("gil")).expect("runs");
    assert_eq!(report.outcome, Outcome::Completed);
    let json = serde_json::to_value(&report.summary).unwrap();
    assert!(
        json["gil"]["under_gil"]["wall_ms"].as_f64().unwrap() > 0.0,
        "{json}"
    );
    assert!(json["gil"]["free"]["wall_ms"].as_f64().unwrap() > 0.0);
    let gil = report
        .summary
        .resources
        .iter()
        .find(|r| matches!(r, ResourceFigures::Gil { .. }))
        .expect("a gil");
    let ResourceFigures::Gil { acquisitions, .. } = gil else {
        unreachable!()
    };
    assert!(*acquisitions > 0);
}

#[test]
fn for_bounds_the_run_with_a_timeout() {
    let mut a = args("producer-consumer");
    a.speed = 1.0;
    a.for_ = Some(Duration::from_millis(100));
    let report = headless::execute(load("producer-consumer"), &a).expect("runs");
    assert_eq!(report.outcome, Outcome::Timeout);
    assert_eq!(threadlab::vocab::Exit::Run(report.outcome).code(), 4);
    assert!(report.summary.run_time_ms >= 100.0);
    // Every recorded event is within the run time reported.
    assert!(report.trace.end_ns() <= report.end_ns);
}

#[test]
fn unknown_schedule_thread_is_a_usage_error() {
    let mut a = args("deadlock");
    a.schedule = vec!["T1".into(), "T3".into()];
    let err = headless::execute(load("deadlock"), &a).expect_err("T3 does not exist");
    assert!(err.message.contains("`T3`"), "{err}");
    let help = err.help.unwrap();
    assert!(
        help.contains("did you mean `T1`?") && help.contains("T1, T2"),
        "{help}"
    );
}

#[test]
fn unwritable_events_file_is_a_usage_error() {
    let mut a = args("deadlock");
    a.events = Some(PathBuf::from("/nonexistent-dir/events.jsonl"));
    let err = headless::execute(load("deadlock"), &a).expect_err("cannot write there");
    assert!(err.message.contains("events file"), "{err}");
}

/// A scenario the checker would refuse (T1 unlocks a lock it never took), built directly so the
/// engine meets the mistake at run time.
fn failing_scenario() -> Arc<Scenario> {
    use threadlab::scenario::model::{Op, ResourceKind};
    threadlab::scenario::testing::scenario(
        &[("A", ResourceKind::Mutex)],
        &[
            ("T1", vec![Op::Unlock(0)]),
            ("T2", vec![Op::Lock(0), Op::Unlock(0)]),
        ],
    )
}

#[test]
fn a_runtime_error_fails_the_thread_and_the_run() {
    let report = headless::execute(failing_scenario(), &args("failing")).expect("runs");
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(threadlab::vocab::Exit::Run(report.outcome).code(), 1);
    let t1 = &report.summary.threads[0];
    assert_eq!(t1.final_state, "failed");
    let reason = t1.failure.as_deref().expect("the reason is kept");
    assert!(!reason.is_empty());
    assert_eq!(
        report.summary.threads[1].final_state, "done",
        "the run carries on"
    );
    let text = headless::render(
        &report,
        &Options {
            ascii: true,
            width: 40,
        },
    );
    assert!(text.is_ascii(), "{text}");
    assert!(text.contains(&format!("failed: {reason}")), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("T1 ") && l.contains('!')),
        "{text}"
    );
}

// The real binary, as `threadlab run --headless` runs it.

fn threadlab(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn binary_json_summary_and_exit_codes() {
    let (code, out, err) = threadlab(&[
        "run",
        "deadlock",
        "--headless",
        "--json",
        "--for",
        "20s",
        "--schedule",
        "T1,T2,T1,T2,T1,T2",
    ]);
    assert_eq!(code, Some(3), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON object: {out}");
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["outcome"], "deadlock");
    assert_eq!(v["scenario"], "deadlock");
    assert!(
        v["deadlock"]["text"]
            .as_str()
            .unwrap()
            .contains("waits for")
    );
    assert!(v["threads"][0]["state_ms"]["blocked"].as_f64().unwrap() >= 0.0);

    let (code, out, err) = threadlab(&[
        "run",
        "semaphore",
        "--headless",
        "--json",
        "--speed",
        "4",
        "--for",
        "600s",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["outcome"], "completed");

    let (code, _, err) = threadlab(&["run", "deadlock", "--headless", "--schedule", "T9"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("T9"), "{err}");
}

#[test]
fn binary_text_report_has_no_escape_codes() {
    let (code, out, err) = threadlab(&[
        "run",
        "fixed-order",
        "--headless",
        "--speed",
        "4",
        "--for",
        "600s",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains('\x1b'), "{out}");
    assert!(out.contains("legend:"), "{out}");
    assert!(out.contains("outcome    completed"), "{out}");
}

#[test]
fn race_summary_counts_the_lost_updates() {
    let report = headless::execute(load("race"), &args("race")).expect("runs");
    assert_eq!(report.outcome, Outcome::Completed);
    let counter = report
        .summary
        .resources
        .iter()
        .find_map(|r| match r {
            ResourceFigures::Counter {
                increments,
                value,
                lost_updates,
                ..
            } => Some((*increments, *value, *lost_updates)),
            _ => None,
        })
        .expect("a counter");
    let (increments, value, lost) = counter;
    assert_eq!(increments, 90, "every thread made all its increments");
    assert_eq!(
        value + lost,
        increments,
        "every missing count is a lost update"
    );
}

/// Writes a scenario to a temporary file for the binary to run.
fn scenario_file(tag: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "threadlab-headless-{}-{tag}.kdl",
        std::process::id()
    ));
    std::fs::write(&path, text).expect("temp file written");
    path
}

#[test]
fn binary_reports_each_kind_of_blame_in_json_and_words() {
    // A thread waiting for an event that only a thread starting after it would set: a
    // deadlock (exit 3), not a timeout, and nobody to blame.
    let after = scenario_file(
        "after",
        "event go\nthread A {\n  wait go\n}\nthread B after=A {\n  set go\n}\n",
    );
    let (code, out, err) = threadlab(&[
        "run",
        after.to_str().unwrap(),
        "--headless",
        "--json",
        "--for",
        "20s",
    ]);
    let _ = std::fs::remove_file(&after);
    assert_eq!(code, Some(3), "{err}\n{out}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["deadlock"]["cycle"],
        serde_json::json!([{"thread": "A", "waits_for": "go", "wants": "set", "blame": "nobody",
            "by": null, "held_by": null}])
    );
    assert_eq!(v["deadlock"]["self_deadlock"], false);
    assert_eq!(
        v["deadlock"]["text"],
        "A waits for go, which no thread left can set"
    );

    // A semaphore's only permit held by the thread that waits for a second: a self-deadlock,
    // and the thread that arrives later holds nothing.
    let sem = scenario_file(
        "sem",
        "semaphore S permits=1\nthread B {\n  acquire S\n  acquire S\n}\n\
         thread A {\n  sleep \"2s\"\n  acquire S\n}\n",
    );
    let (code, out, err) = threadlab(&[
        "run",
        sem.to_str().unwrap(),
        "--headless",
        "--json",
        "--for",
        "20s",
    ]);
    let _ = std::fs::remove_file(&sem);
    assert_eq!(code, Some(3), "{err}\n{out}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["deadlock"]["cycle"],
        serde_json::json!([{"thread": "B", "waits_for": "S", "wants": "release", "blame": "held_by",
            "by": "B", "held_by": "B"}])
    );
    assert_eq!(v["deadlock"]["self_deadlock"], true);
    assert_eq!(
        v["deadlock"]["text"],
        "B waits for a second permit of S while holding the only one"
    );

    // Each waits for the event the other would set afterwards: only-from, in the text report.
    let events = scenario_file(
        "events",
        "event go\nevent done\nthread A {\n  wait go\n  set done\n}\n\
         thread B {\n  wait done\n  set go\n}\n",
    );
    let (code, out, err) = threadlab(&["run", events.to_str().unwrap(), "--headless"]);
    let _ = std::fs::remove_file(&events);
    assert_eq!(code, Some(3), "{err}\n{out}");
    assert!(
        out.contains(
            "A waits for go, which only B (itself stuck) could set, \
             B waits for done, which only A (itself stuck) could set"
        ),
        "{out}"
    );
}

/// The text timeline pads names by terminal cells, so a class's bars line up under CJK names.
#[test]
fn text_timeline_aligns_wide_names_by_cells() {
    let dir = std::env::temp_dir().join(format!("threadlab-wide-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("wide.kdl");
    std::fs::write(
        &file,
        "title \"宽字符\"\nthread 工人 count=2 {\n    sleep \"1ms\"\n}\nthread T {\n    sleep \"1ms\"\n}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .args(["run", file.to_str().unwrap(), "--headless"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let bar_column = |name: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no lane for {name}:\n{text}"));
        let before = &line[..line.find(['│', '|']).expect("a lane bar")];
        unicode_width::UnicodeWidthStr::width(before)
    };
    assert_eq!(bar_column("工人-1"), bar_column("T "), "{text}");
    assert_eq!(bar_column("工人-2"), bar_column("T "), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

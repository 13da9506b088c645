//! One run driver for every view: the headless report and the live view's adapter drive the
//! same session, so `--schedule`, `--events` and their errors behave alike in both. The live
//! view's side is driven here as its loop does: looking without waiting, draining each frame.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use threadlab::engine::Phase;
use threadlab::error::Error;
use threadlab::headless;
use threadlab::scenario::model::Scenario;
use threadlab::session::{RunPlan, Session};
use threadlab::vocab::Outcome;
use threadlab::vocab::event::{EventKind, EventRecord};

mod common;
use common::{read_events, temp_events_path};

fn load(name: &str) -> Arc<Scenario> {
    Arc::new(threadlab::scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e:?}")))
}

/// T1 takes A, T2 takes B, then each reaches for the other's lock: always a deadlock, always
/// the same events in the same order.
fn deadlock_plan(events: PathBuf) -> RunPlan {
    RunPlan {
        scenario: "deadlock".into(),
        // A bound against a hang only: a loaded machine stretches a CPU-bound lesson many times.
        for_: Some(Duration::from_secs(600)),
        schedule: ["T1", "T2", "T1", "T2", "T1", "T2"]
            .map(String::from)
            .to_vec(),
        speed: 1.0,
        events: Some(events),
        ..RunPlan::default()
    }
}

/// Drives a session the way the live view does, each frame: take the next schedule step if
/// the last one has ended (without waiting), drain, stop at the time limit. Returns how the
/// run ended and the events file's error, if any.
fn drive_like_the_live_view(
    scenario: Arc<Scenario>,
    plan: &RunPlan,
) -> Result<(Outcome, Option<Error>), Error> {
    let mut session = Session::start(scenario, plan, false)?;
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "the run neither ended nor timed out"
        );
        session.advance_schedule(false)?;
        session.wait(&mut seen, Duration::from_millis(10));
        let run = session.run().expect("a run until it is closed");
        if matches!(run.phase(), Phase::Deadlock | Phase::Finished) && !session.scheduling() {
            break;
        }
        if session.time_up(run.now_ns()).is_some() {
            break;
        }
    }
    session.stop();
    session.drain(&mut seen);
    let ended = session.close().expect("the run just stopped");
    Ok((ended.outcome(), session.finish()))
}

#[test]
fn the_live_view_writes_the_events_file_headless_writes() {
    let scenario = load("deadlock");
    let (a, b) = (temp_events_path("headless"), temp_events_path("live"));
    let report = headless::execute(scenario.clone(), &deadlock_plan(a.clone())).expect("runs");
    let (outcome, error) =
        drive_like_the_live_view(scenario, &deadlock_plan(b.clone())).expect("runs");
    assert_eq!(report.outcome, Outcome::Deadlock);
    assert_eq!(outcome, Outcome::Deadlock);
    assert!(report.errors.is_empty() && error.is_none(), "{error:?}");

    let (headless, live) = (read_events(&a), read_events(&b));
    assert!(!headless.is_empty());
    for (name, events) in [("headless", &headless), ("live", &live)] {
        assert!(
            events.windows(2).all(|w| w[0].t_us <= w[1].t_us),
            "{name}: the events file is not in time order"
        );
    }
    // Times differ from run to run; what happened, to whom and in which order may not. Both
    // threads start (and hold at their gates) at once, before the schedule's first step, so
    // those two are ordered only within each thread.
    let story = |events: &[EventRecord], thread: Option<&str>| -> Vec<String> {
        events
            .iter()
            .filter(|e| match thread {
                Some(t) => e.thread == t,
                None => !matches!(e.event, EventKind::Start | EventKind::Hold),
            })
            .map(|e| format!("{} {:?} {:?}", e.thread, e.event, e.resource))
            .collect()
    };
    for thread in [None, Some("T1"), Some("T2")] {
        assert_eq!(story(&headless, thread), story(&live, thread), "{thread:?}");
    }
}

#[test]
fn a_schedule_typo_gets_a_suggestion_whichever_view_runs_it() {
    let scenario = load("deadlock");
    let mut plan = deadlock_plan(temp_events_path("typo"));
    plan.schedule = vec!["T1".into(), "T3".into()];
    plan.events = None;
    let headless = headless::execute(scenario.clone(), &plan).expect_err("T3 does not exist");
    let live = drive_like_the_live_view(scenario, &plan).expect_err("T3 does not exist");
    assert_eq!(headless, live);
    let help = live.help.expect("a hint");
    assert!(
        help.contains("did you mean `T1`?") && help.contains("T1, T2"),
        "{help}"
    );
}

#[test]
fn an_unwritable_events_file_fails_alike_in_both_views() {
    let scenario = load("deadlock");
    let mut plan = deadlock_plan(PathBuf::from("/nonexistent-dir/events.jsonl"));
    plan.schedule.clear();
    let headless = headless::execute(scenario.clone(), &plan).expect_err("cannot write there");
    let live = drive_like_the_live_view(scenario, &plan).expect_err("cannot write there");
    assert_eq!(headless, live);
    assert!(live.message.contains("events file"), "{live}");
}

#[test]
fn a_schedule_step_that_cannot_be_taken_says_which() {
    // Stepped alone, T1 takes both locks and finishes within a handful of steps; the schedule
    // asks for more.
    let scenario = load("deadlock");
    let mut plan = deadlock_plan(temp_events_path("unused"));
    plan.schedule = vec!["T1".to_string(); 50];
    plan.events = None;
    plan.speed = 4.0;
    let headless = headless::execute(scenario.clone(), &plan).expect_err("T1 runs out of steps");
    let live = drive_like_the_live_view(scenario, &plan).expect_err("T1 runs out of steps");
    assert!(headless.message.contains("cannot be taken"), "{headless}");
    assert_eq!(headless.message, live.message);
}

/// `--break-on` names a thread (and what it does), a resource or a line; anything else is
/// refused with what there is to name.
#[test]
fn break_on_reads_threads_kinds_resources_and_lines_and_refuses_the_rest() {
    use threadlab::engine::Breakpoint;
    use threadlab::session::resolve_breakpoint;
    let s = load("deadlock");
    let t2 = s.thread_index("T2").unwrap();
    let b = s.resource_index("B").unwrap();
    let line = s.threads[t2 as usize].steps[0].line;
    let read = |spec: &str| resolve_breakpoint(&s, spec);
    assert_eq!(
        read("T2"),
        Ok(Breakpoint::Thread {
            thread: t2,
            on: None
        })
    );
    assert_eq!(
        read(" T2:block "),
        Ok(Breakpoint::Thread {
            thread: t2,
            on: Some(EventKind::Block)
        })
    );
    assert_eq!(read("B"), Ok(Breakpoint::Resource(b)));
    assert_eq!(read("resource:B"), Ok(Breakpoint::Resource(b)));
    assert_eq!(read(&format!("line:{line}")), Ok(Breakpoint::Line(line)));

    let refused = |spec: &str, said: &[&str]| {
        let e = read(spec).expect_err(spec);
        let text = format!("{} {}", e.message, e.help.unwrap_or_default());
        for word in said {
            assert!(text.contains(word), "{spec}: {text}");
        }
    };
    refused("T3", &["T3", "T1, T2", "A, B"]);
    refused("T2:blok", &["blok", "block", "acquire"]);
    refused("line:1", &["no thread has a step on line 1"]);
    refused("line:twelve", &["line:12"]);
    refused("thread:B", &["B"]);
}

//! `check` and the engine agree on `lock … timeout=` back-offs: a thread that gives up gives
//! back everything it holds and starts again from where it last held nothing, so a file
//! `check` accepts never fails at run time giving back something it does not hold, however
//! often and wherever its locks time out (hand-over-hand locking included).

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use threadlab::headless::RunPlan;
use threadlab::headless::{self, Report};
use threadlab::scenario::model::Scenario;
use threadlab::vocab::Outcome;

fn parse(source: &str) -> Result<Scenario, String> {
    threadlab::scenario::parse_source("backoff", "backoff.kdl", source)
        .map_err(|e| threadlab::scenario::render_plain(e.as_ref(), 100))
}

/// Runs headless at 4x; random scripts can livelock, so every run is cut after `limit`.
fn run(scenario: &Arc<Scenario>, limit: Duration) -> Report {
    let args = RunPlan {
        scenario: "backoff".into(),
        for_: Some(limit),
        schedule: Vec::new(),
        speed: 4.0,
        events: None,
        ..RunPlan::default()
    };
    headless::execute(scenario.clone(), &args).expect("runs")
}

fn failures(report: &Report) -> Vec<String> {
    report
        .summary
        .threads
        .iter()
        .filter_map(|t| Some(format!("{}: {}", t.name, t.failure.as_ref()?)))
        .collect()
}

fn timeouts(report: &Report) -> usize {
    report
        .trace
        .events_before(u64::MAX, usize::MAX)
        .iter()
        .filter(|e| e.kind == threadlab::vocab::event::EventKind::Timeout)
        .count()
}

/// The walker locks A, B, C, D hand over hand while the blocker sits on C: the walker gives up
/// on C holding only B (A is already unlocked), again and again. Starting over from `lock B`
/// would run `unlock A` without holding A.
const HAND_OVER_HAND: &str = r#"
title "hand over hand, backing off"
mutex A
mutex B
mutex C
mutex D
event ready
thread blocker {
    lock C
    set ready
    sleep "60ms"
    unlock C
}
thread walker {
    wait ready
    lock A
    lock B timeout="5ms" backoff="4ms"
    unlock A
    lock C timeout="5ms" backoff="4ms"
    unlock B
    lock D timeout="5ms" backoff="4ms"
    unlock C
    unlock D
}
"#;

/// The same with every kind of thing a thread can hold taken, and some given back, before the
/// lock that times out: a permit, an rlock twice, an rwlock share.
const MIXED: &str = r#"
title "back off from everything held"
mutex A
mutex C
rlock R
rwlock W
semaphore S permits=1
event ready
thread blocker {
    lock C
    set ready
    sleep "60ms"
    unlock C
}
thread walker {
    wait ready
    acquire S
    lock A
    read W
    lock R
    lock R
    release S
    unlock A
    unlock R
    lock C timeout="5ms" backoff="4ms"
    unlock R
    unlock W
    unlock C
}
thread other {
    wait ready
    acquire S
    write W
    unlock W
    release S
}
"#;

#[test]
fn check_accepts_hand_over_hand_back_offs_and_no_retry_fails() {
    for (name, source) in [("hand-over-hand", HAND_OVER_HAND), ("mixed", MIXED)] {
        let scenario = Arc::new(parse(source).unwrap_or_else(|e| panic!("{name}: {e}")));
        let mut backed_off = 0;
        for round in 0..10 {
            let report = run(&scenario, Duration::from_secs(60));
            assert_eq!(
                failures(&report),
                Vec::<String>::new(),
                "{name} run {round}: a retry failed"
            );
            assert_eq!(report.outcome, Outcome::Completed, "{name} run {round}");
            backed_off += timeouts(&report);
        }
        // The blocker holds C for 60 ms against 5 ms timeouts: every run backs off.
        assert!(backed_off >= 10, "{name}: only {backed_off} back-offs");
    }
}

/// What `check` still refuses: a give-back the script itself gets wrong, the first time
/// through, is not excused by a timeout somewhere near it.
#[test]
fn check_refuses_an_unlock_not_held_beside_a_timeout() {
    let source = r#"
title "wrong"
mutex A
mutex B
thread T {
    lock A timeout="5ms"
    unlock A
    unlock A
    lock B
    unlock B
}
"#;
    let err = parse(source).expect_err("a second unlock of A is refused");
    assert!(err.contains("without holding"), "{err}");
}

/// A script built from choices: each thread takes and gives back locks, rlock levels, rwlock
/// shares and permits in any order that is valid along its script (hand over hand included),
/// with timeouts on some of its mutex locks. Such a script is what `check` accepts.
fn script(choices: &[Vec<u8>]) -> String {
    // (keyword to take, keyword to give back, resource, may hold it more than once)
    const THINGS: [(&str, &str, &str, bool); 6] = [
        ("lock", "unlock", "A", false),
        ("lock", "unlock", "B", false),
        ("lock", "unlock", "C", false),
        ("lock", "unlock", "R", true),
        ("read", "unlock", "W", false),
        ("acquire", "release", "S", true),
    ];
    let mut out = String::from(
        "title \"random back-offs\"\nmutex A\nmutex B\nmutex C\nrlock R\nrwlock W\nsemaphore S permits=2\n",
    );
    for (t, picks) in choices.iter().enumerate() {
        out.push_str(&format!("thread T{t} {{\n"));
        let mut held: Vec<usize> = Vec::new();
        for &c in picks {
            let pick = (c / 4) as usize;
            match c % 4 {
                0 | 1 => {
                    let k = pick % THINGS.len();
                    let (take, _, r, again) = THINGS[k];
                    let permits_left = held.iter().filter(|&&h| h == 5).count() < 2;
                    if held.contains(&k) && !again || k == 5 && !permits_left {
                        continue;
                    }
                    let timeout = if k < 3 && c % 8 >= 4 {
                        format!(
                            " timeout=\"{}ms\" backoff=\"{}ms\"",
                            1 + pick % 2,
                            1 + pick % 3
                        )
                    } else {
                        String::new()
                    };
                    out.push_str(&format!("    {take} {r}{timeout}\n"));
                    held.push(k);
                }
                2 if !held.is_empty() => {
                    let k = held.remove(pick % held.len());
                    let (_, give, r, _) = THINGS[k];
                    out.push_str(&format!("    {give} {r}\n"));
                }
                _ => out.push_str(if pick.is_multiple_of(2) {
                    "    sleep \"6ms\"\n"
                } else {
                    "    work \"300us\"\n"
                }),
            }
        }
        while let Some(k) = held.pop() {
            let (_, give, r, _) = THINGS[k];
            out.push_str(&format!("    {give} {r}\n"));
        }
        out.push_str("}\n");
    }
    out
}

/// Random scripts of that kind, 2 to 4 threads contending: `check` accepts every one, and no
/// run fails, whatever deadlocks or back-offs happen. Counts back-offs so the test can tell
/// it exercised them.
fn random_scripts(cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = prop::collection::vec(prop::collection::vec(any::<u8>(), 6..20), 2..=4);
    let backed_off = std::cell::Cell::new(0usize);
    let result = runner.run(&strategy, |choices| {
        let source = script(&choices);
        let scenario = parse(&source).map_err(|e| {
            TestCaseError::fail(format!("check refused a valid script:\n{source}\n{e}"))
        })?;
        let report = run(&Arc::new(scenario), Duration::from_secs(1));
        backed_off.set(backed_off.get() + timeouts(&report));
        let failed = failures(&report);
        prop_assert!(failed.is_empty(), "{failed:?}\n{source}");
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(backed_off.get() > 0, "no run ever backed off");
    eprintln!("{cases} random scripts, {} back-offs", backed_off.get());
}

#[test]
fn what_check_accepts_never_fails_giving_back_after_a_back_off() {
    random_scripts(150);
}

/// `cargo test --test backoff -- --ignored`.
#[test]
#[ignore = "long: 2,000 random scripts"]
fn what_check_accepts_never_fails_giving_back_after_a_back_off_2000_scripts() {
    random_scripts(2000);
}

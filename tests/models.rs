//! What a scenario's threads stand for: `threads "python"` (CPython threads, CPU work under one
//! GIL) or `threads "native"` (threads that compute at once). Parsed, refused with a pointer
//! when wrong, declared by every built-in, honoured by the engine, and said in the summary.

use std::sync::Arc;

use threadlab::engine::Phase;
use threadlab::scenario::model::{IMPLICIT_GIL, ResourceKind, Scenario, ThreadModel};
use threadlab::scenario::{self, ScenarioError, builtin};
use threadlab::trace::invariants;
use threadlab::vocab::event::EventKind;

mod common;
use common::{fast, run_to_end};

fn parse(source: &str) -> Result<Scenario, miette::Report> {
    scenario::parse_source("test", "test.kdl", source)
}

fn codes(report: &miette::Report) -> Vec<&'static str> {
    report
        .downcast_ref::<ScenarioError>()
        .expect("a ScenarioError")
        .problems()
        .iter()
        .map(|p| p.code())
        .collect()
}

#[test]
fn every_built_in_says_what_its_threads_stand_for() {
    for b in builtin::all() {
        let declared = b
            .source
            .lines()
            .any(|l| l.starts_with("threads \"python\"") || l.starts_with("threads \"native\""));
        assert!(
            declared,
            "{} does not say threads \"python\" or \"native\"",
            b.name
        );
    }
    let s = scenario::load("semaphore").unwrap();
    assert_eq!(s.models, ThreadModel::Python);
    assert_eq!(scenario::load("gil").unwrap().models, ThreadModel::Native);
}

#[test]
fn python_threads_run_under_one_gil_added_when_the_file_declares_none() {
    let s = parse(
        "threads \"python\"\nmutex A\nthread T count=2 { lock A\n work \"1ms\"\n unlock A }\n",
    )
    .unwrap();
    let g = s.resource_index(IMPLICIT_GIL).expect("a GIL was added");
    assert!(matches!(
        s.resources[g as usize].kind,
        ResourceKind::Gil { .. }
    ));
    assert!(s.threads.iter().all(|t| t.gil == Some(g)));
    assert!(s.is_implied(g));
    // A declared GIL is the one they run under; no second one is added.
    let s = parse("threads \"python\"\ngil py\nthread T count=2 { work \"1ms\" }\n").unwrap();
    assert_eq!(s.resources.len(), 1);
    assert!(s.threads.iter().all(|t| t.gil == Some(0)));
    // Native threads (and a file that says nothing) take no GIL of their own.
    for src in [
        "threads \"native\"\nthread T { work \"1ms\" }\n",
        "thread T { work \"1ms\" }\n",
    ] {
        let s = parse(src).unwrap();
        assert_eq!(s.models, ThreadModel::Native);
        assert!(s.resources.is_empty() && s.threads[0].gil.is_none());
    }
    // Tasks share their loop's thread: no GIL for them, and none added for nobody.
    let s = parse("threads \"python\"\nevent-loop main\ntask t { sleep \"1ms\" }\n").unwrap();
    assert_eq!(s.resources.len(), 1);
}

#[test]
fn a_wrong_threads_declaration_is_refused_with_a_pointer() {
    for (src, code) in [
        (
            "threads \"java\"\nthread T { work \"1ms\" }\n",
            "scenario::bad-value",
        ),
        (
            "threads\nthread T { work \"1ms\" }\n",
            "scenario::bad-value",
        ),
        (
            "threads \"python\"\nthreads \"native\"\nthread T { work \"1ms\" }\n",
            "scenario::duplicate",
        ),
        ("threads T1 { work \"1ms\" }\n", "scenario::misplaced"),
        (
            "threads \"python\"\nmutex GIL\nthread T { lock GIL\n work \"1ms\"\n unlock GIL }\n",
            "scenario::duplicate",
        ),
        (
            "threads \"python\"\ngil a\ngil b\nthread T { work \"1ms\" }\n",
            "scenario::ambiguous-gil",
        ),
    ] {
        let report = parse(src).expect_err(src);
        assert!(
            codes(&report).contains(&code),
            "{src}: {:?}",
            codes(&report)
        );
        let text = scenario::render_plain(report.as_ref(), 100);
        assert!(text.contains("test.kdl:"), "{text}");
    }
}

/// A Python lesson's computing never overlaps, a native lesson's does: the engine honours the
/// declaration, judged from the recorded events.
#[test]
fn python_threads_never_compute_at_once_and_native_threads_do() {
    let most_running = |s: &Arc<Scenario>| {
        let run = threadlab::engine::Run::start(s.clone(), fast());
        let (phase, events) = run_to_end(&run);
        assert_eq!(phase, Phase::Finished);
        invariants::check(s, &events).unwrap();
        let mut ordered = events.clone();
        ordered.sort_by_key(|e| e.t_ns);
        // Computing from a `run` until the thread lets go of the CPU: it releases the GIL,
        // blocks, sleeps or ends.
        let mut running = vec![false; s.threads.len()];
        let mut most = 0;
        for e in &ordered {
            let t = e.thread as usize;
            match e.kind {
                EventKind::Run => running[t] = true,
                EventKind::Release | EventKind::Block | EventKind::Sleep | EventKind::Done => {
                    running[t] = false
                }
                _ => {}
            }
            most = most.max(running.iter().filter(|r| **r).count());
        }
        most
    };
    let body = "thread T count=3 { work \"60ms\"\n sleep \"5ms\"\n work \"60ms\" }\n";
    let python = Arc::new(parse(&format!("threads \"python\"\n{body}")).unwrap());
    assert_eq!(
        most_running(&python),
        1,
        "one GIL: one thread computes at a time"
    );
    let native = Arc::new(parse(&format!("threads \"native\"\n{body}")).unwrap());
    // On a busy machine two threads may still not overlap in one run; over three they do.
    let overlapped = (0..3).any(|_| most_running(&native) >= 2);
    assert!(overlapped, "native threads compute side by side");
}

#[test]
fn the_summary_says_what_the_threads_stand_for_and_what_the_machine_gave() {
    let report = threadlab::headless::execute(
        Arc::new(scenario::load("gil").unwrap()),
        &threadlab::session::RunPlan {
            scenario: "gil".into(),
            speed: 4.0,
            ..Default::default()
        },
    )
    .unwrap();
    let json = serde_json::to_value(&report.summary).unwrap();
    assert_eq!(json["models"], "native");
    let machine = &json["machine"];
    assert!(machine["cores"].as_u64().unwrap() >= 1, "{machine}");
    assert_eq!(machine["needs"], 2.0);
    assert!(machine.get("warning").is_some() && machine.get("free_during").is_some());
    let gil = scenario::load("gil").unwrap();
    let text = threadlab::trace::text::render_summary(&report.summary, &gil);
    assert!(
        text.contains("models     native threads compute at the same time; cpu take turns"),
        "{text}"
    );
}

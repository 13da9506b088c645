//! Recordings: a run saved and loaded again gives the same timeline and the same resource
//! states at every event time; a damaged file or another version gets a clear error.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use threadlab::headless::RunPlan;
use threadlab::scenario::model::ThreadIdx;
use threadlab::trace::timeline::Trace;
use threadlab::vocab::recording::{Recording, VERSION};

fn run(name: &str) -> (threadlab::headless::Report, Recording) {
    let scenario = Arc::new(threadlab::scenario::load(name).expect("built-in loads"));
    let args = RunPlan {
        scenario: name.into(),
        // A bound against a hang only: a loaded machine stretches a CPU-bound lesson many times.
        for_: Some(Duration::from_secs(600)),
        schedule: Vec::new(),
        speed: 4.0,
        events: None,
        ..RunPlan::default()
    };
    let report = threadlab::headless::execute(scenario, &args).expect("runs");
    let rec = Recording::from_report(&report, 4.0).expect("records");
    (report, rec)
}

fn temp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("threadlab-record-{}-{tag}", std::process::id()))
}

/// Same states for every thread and same resources at every event time (and just before it).
fn assert_same(a: &Trace, b: &Trace, times: &[u64], threads: usize) {
    for &t in times {
        for at in [t.saturating_sub(1), t] {
            for th in 0..threads {
                assert_eq!(
                    a.state_at(th as ThreadIdx, at),
                    b.state_at(th as ThreadIdx, at),
                    "thread {th} at {at}"
                );
                assert_eq!(
                    a.step_at(th as ThreadIdx, at),
                    b.step_at(th as ThreadIdx, at)
                );
            }
            assert_eq!(a.resources_at(at), b.resources_at(at), "resources at {at}");
        }
    }
}

#[test]
fn a_loaded_recording_replays_exactly() {
    for name in ["deadlock", "producer-consumer", "semaphore", "barrier"] {
        let (report, rec) = run(name);
        let path = temp(&format!("{name}.json"));
        rec.save(&path, &[]).expect("saves");
        let loaded = Recording::load(&path).expect("loads");
        let _ = std::fs::remove_file(&path);

        assert_eq!(loaded.events, rec.events, "{name}: the same events");
        assert_eq!(loaded.end_ns, report.end_ns);
        assert_eq!(loaded.outcome, Some(report.outcome));
        assert_eq!(*loaded.scenario, *rec.scenario);
        let times: Vec<u64> = rec.events.iter().map(|e| e.t_ns).collect();
        let threads = rec.scenario.threads.len();
        // Against the trace the run itself built, batch by batch as it drained.
        assert_same(&report.trace, &loaded.trace(), &times, threads);
        // And the summary in words is the same.
        let opts = threadlab::headless::Options::default();
        assert_eq!(
            threadlab::headless::render(&report, &opts),
            threadlab::headless::render(&loaded.report(), &opts),
            "{name}: same text timeline and summary"
        );
    }
}

#[test]
fn damaged_and_foreign_recordings_are_refused_clearly() {
    let (_, rec) = run("deadlock");
    let good = rec.to_json();

    // Cut between characters: the lesson's text has Chinese in it.
    let half = (0..=good.len() / 2)
        .rev()
        .find(|&i| good.is_char_boundary(i))
        .unwrap();
    let truncated = &good[..half];
    let e = Recording::from_json(truncated).unwrap_err();
    assert!(
        e.message.contains("not a readable threadlab recording"),
        "{e}"
    );
    assert!(e.help.as_deref().unwrap().contains("damaged"), "{e}");

    let future = good.replacen(
        &format!("\"version\":{VERSION}"),
        &format!("\"version\":{}", VERSION + 1),
        1,
    );
    let e = Recording::from_json(&future).unwrap_err();
    assert!(
        e.message.contains(&format!("version {}", VERSION + 1)),
        "{e}"
    );

    let foreign = good.replacen("threadlab-recording", "something-else", 1);
    let e = Recording::from_json(&foreign).unwrap_err();
    assert!(e.message.contains("something-else"), "{e}");

    let e = Recording::from_json("[1, 2, 3]").unwrap_err();
    assert!(e.message.contains("format"), "{e}");

    let renamed = good.replace("\"thread\":\"T2\"", "\"thread\":\"T9\"");
    let e = Recording::from_json(&renamed).unwrap_err();
    assert!(e.message.contains("T9"), "{e}");

    let bad_scenario = good.replacen("mutex A", "mutex A permits=", 1);
    assert!(Recording::from_json(&bad_scenario).is_err());
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_threadlab"))
}

#[test]
fn run_record_then_replay_headless_prints_the_same_report() {
    let path = temp("cli.json");
    let recorded = bin()
        .args(["run", "deadlock", "--headless", "--speed", "4", "--record"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(recorded.status.code(), Some(3));
    let replayed = bin()
        .arg("replay")
        .arg(&path)
        .arg("--headless")
        .output()
        .expect("runs");
    assert_eq!(replayed.status.code(), Some(3), "the outcome's exit code");
    assert_eq!(
        String::from_utf8_lossy(&replayed.stdout),
        String::from_utf8_lossy(&recorded.stdout)
    );

    std::fs::write(&path, "{\"format\":\"threadlab-recording\",\"version\":1,").unwrap();
    let damaged = bin().arg("replay").arg(&path).output().expect("runs");
    assert_eq!(damaged.status.code(), Some(2));
    let err = String::from_utf8_lossy(&damaged.stderr);
    assert!(err.contains("not a readable threadlab recording"), "{err}");
    let _ = std::fs::remove_file(&path);

    let missing = bin()
        .args(["replay", "/nonexistent/rec.json"])
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn deadlock_blame_is_recorded_and_older_recordings_still_read() {
    use threadlab::vocab::Blame;
    // Written before blame had kinds: each edge names only `held_by`.
    let old = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs/deadlock.json"),
    )
    .expect("fixture");
    assert!(!old.contains("\"blame\""));
    let rec = Recording::from_json(&old).expect("an older recording reads");
    let d = rec.deadlock.as_ref().expect("it deadlocked");
    let blames: Vec<Blame> = d.cycle.iter().map(|e| e.blame).collect();
    assert_eq!(blames, [Blame::HeldBy(1), Blame::HeldBy(0)]);

    // A self-deadlock and a wait nobody can end come back with their blame.
    for (text, blame, words, stuck) in [
        (
            "semaphore S permits=1\nthread B {\n  acquire S\n  acquire S\n}\n",
            Blame::HeldBy(0),
            "B waits for a second permit of S while holding the only one",
            vec![0],
        ),
        (
            "event go\nthread A {\n  wait go\n}\nthread B after=A {\n  set go\n}\n",
            Blame::Nobody,
            "A waits for go, which no thread left can set",
            // B never starts: it is stuck behind A.
            vec![0, 1],
        ),
    ] {
        let scenario = Arc::new(
            threadlab::scenario::parse_source("blame", "blame.kdl", text).expect("parses"),
        );
        let args = RunPlan {
            scenario: "blame".into(),
            // A bound against a hang only: a loaded machine stretches a CPU-bound lesson many times.
            for_: Some(Duration::from_secs(600)),
            schedule: Vec::new(),
            speed: 4.0,
            events: None,
            ..RunPlan::default()
        };
        let report = threadlab::headless::execute(scenario, &args).expect("runs");
        let rec = Recording::from_report(&report, 4.0).expect("records");
        let json = rec.to_json();
        let back = Recording::from_json(&json).expect("reads back");
        let d = back.deadlock.as_ref().expect("deadlocked");
        assert_eq!(d.cycle.len(), 1);
        assert_eq!(d.cycle[0].blame, blame);
        assert_eq!(d.stuck, stuck);
        assert_eq!(d.describe(&back.scenario), words);
        assert_eq!(back.summary().deadlock.unwrap().text, words);

        // A blame whose parts disagree is refused, not guessed at.
        let edited = json.replacen("\"blame\":\"", "\"blame\":\"x", 1);
        assert!(Recording::from_json(&edited).is_err(), "{edited}");
    }
}

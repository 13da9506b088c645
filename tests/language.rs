//! The scenario language: built-ins, unrolling, expansion, and a corpus of broken files whose
//! diagnostics are pinned by snapshots.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use threadlab::scenario::model::{Op, ResourceKind, Scenario};
use threadlab::scenario::{self, ScenarioError, builtin};

const BAD: &str = "tests/fixtures/bad";

fn parse(source: &str) -> Result<Scenario, miette::Report> {
    scenario::parse_source("test", "test.kdl", source)
}

fn problems(report: &miette::Report) -> Vec<(&'static str, String)> {
    report
        .downcast_ref::<ScenarioError>()
        .expect("a ScenarioError")
        .problems()
        .iter()
        .map(|p| (p.code(), p.message().to_string()))
        .collect()
}

fn timed_total(s: &Scenario, thread: usize) -> Duration {
    s.threads[thread]
        .steps
        .iter()
        .filter_map(|st| st.op.duration())
        .sum()
}

/// Each lock with a timeout: its `backoff=`, and whether its back-off is random.
fn backoffs(s: &Scenario) -> Vec<(Option<Duration>, bool)> {
    s.threads
        .iter()
        .flat_map(|t| &t.steps)
        .filter_map(|st| match st.op {
            Op::TryLock {
                backoff, jitter, ..
            } => Some((backoff, jitter)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_builtin_parses_and_checks() {
    let names: Vec<&str> = builtin::all().iter().map(|b| b.name).collect();
    assert_eq!(
        names,
        [
            "deadlock",
            "fixed-order",
            "livelock",
            "try-lock",
            "reentrant",
            "reentrant-rlock",
            "philosophers",
            "philosophers-ordered",
            "race",
            "race-fixed",
            "writer-starvation",
            "rwlock",
            "semaphore",
            "event",
            "barrier",
            "producer-consumer",
            "pipeline",
            "pool",
            "condition",
            "condition-if",
            "lost-wakeup",
            "notify-all",
            "event-timeout",
            "daemon",
            "queue-join",
            "futures",
            "gil",
            "gil-convoy",
            "event-loop",
            "event-loop-blocking",
            "c10k"
        ]
    );
    for b in builtin::all() {
        let s = scenario::load(b.name)
            .unwrap_or_else(|e| panic!("{}", scenario::render_plain(e.as_ref(), 80)));
        assert_eq!(s.name, b.name);
        assert_eq!(s.origin, format!("builtin:{}", b.name));
        assert!(!s.title.is_empty(), "{} has a title", b.name);
        assert!(s.about.len() > 100, "{} has an about text", b.name);
        assert!(!s.about.starts_with(' '), "{}: about is dedented", b.name);
        // Every built-in lesson stays short at 1x.
        for t in 0..s.threads.len() {
            assert!(timed_total(&s, t) <= Duration::from_secs(5), "{}", b.name);
        }
        // The embedded text is the file in scenarios/.
        let on_disk = std::fs::read_to_string(format!("scenarios/{}.kdl", b.name)).unwrap();
        assert_eq!(on_disk, b.source);
    }
}

#[test]
fn builtin_shapes_match_their_lessons() {
    let deadlock = scenario::load("deadlock").unwrap();
    let ops = |s: &Scenario, t: usize| -> Vec<&'static str> {
        s.threads[t]
            .steps
            .iter()
            .map(|st| st.op.keyword())
            .collect()
    };
    assert_eq!(
        ops(&deadlock, 0),
        ["lock", "work", "lock", "sleep", "unlock", "unlock"]
    );
    let first_lock = |s: &Scenario, t: usize| s.threads[t].steps[0].op.resource().unwrap();
    assert_ne!(
        first_lock(&deadlock, 0),
        first_lock(&deadlock, 1),
        "opposite order"
    );
    let fixed = scenario::load("fixed-order").unwrap();
    assert_eq!(
        first_lock(&fixed, 0),
        first_lock(&fixed, 1),
        "one global order"
    );

    // The livelock and the try-lock lessons differ in how they back off.
    let fixed = Some(Duration::from_millis(40));
    assert_eq!(
        backoffs(&scenario::load("livelock").unwrap()),
        [(fixed, false), (fixed, false)],
        "both step back for the same fixed time"
    );
    assert!(
        backoffs(&scenario::load("try-lock").unwrap())
            .iter()
            .all(|&(_, jitter)| jitter)
    );

    // So do the two readers-writer lessons in whom their lock lets in first.
    let rwlock_kind = |name: &str| scenario::load(name).unwrap().resources[0].kind;
    assert_eq!(
        rwlock_kind("writer-starvation"),
        ResourceKind::RwLock {
            prefer_readers: true
        }
    );
    assert_eq!(
        rwlock_kind("rwlock"),
        ResourceKind::RwLock {
            prefer_readers: false
        }
    );

    let sem = scenario::load("semaphore").unwrap();
    assert_eq!(sem.threads.len(), 10);
    assert_eq!(
        sem.resources[0].kind,
        ResourceKind::Semaphore { permits: 3 }
    );

    let barrier = scenario::load("barrier").unwrap();
    let ResourceKind::Barrier { parties } = barrier.resources[0].kind else {
        panic!("a barrier")
    };
    assert!(barrier.threads.len() >= parties as usize && parties >= 3);

    let pc = scenario::load("producer-consumer").unwrap();
    let count = |op: fn(&Op) -> bool| {
        pc.threads
            .iter()
            .flat_map(|t| &t.steps)
            .filter(|st| op(&st.op))
            .count()
    };
    let puts = count(|op| matches!(op, Op::Put(_)));
    assert_eq!(puts, count(|op| matches!(op, Op::Take(_))));
    assert!(puts > 3 * 2, "enough items to fill the buffer");

    let gil = scenario::load("gil").unwrap();
    let names: Vec<&str> = gil.threads.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["cpu-1", "cpu-2", "free-1", "free-2"]);
    assert!(gil.threads[0].gil.is_some() && gil.threads[2].gil.is_none());
    assert_eq!(gil.threads[2].after, [0, 1]);
    assert_eq!(
        gil.resources[0].kind,
        ResourceKind::Gil {
            interval: Duration::from_millis(5)
        }
    );
}

#[test]
fn tasks_run_on_the_event_loop_and_a_blocking_sleep_is_its_own_step() {
    let s = parse(
        "event-loop\n\
         thread helper { sleep \"5ms\" }\n\
         task fetch count=2 after=helper {\n\
             sleep \"1s\"\n\
             sleep \"1s\" blocking=#true\n\
             sleep \"1s\" blocking=#false\n\
         }\n",
    )
    .unwrap();
    // Named `loop` when no name is given, as a lone `gil` is named `gil`.
    assert_eq!(s.resources[0].name, "loop");
    assert_eq!(s.resources[0].kind, ResourceKind::EventLoop);
    assert!(!s.threads[0].is_task());
    for task in &s.threads[1..] {
        assert_eq!(task.event_loop, Some(0));
        assert_eq!(task.after, [0]);
        let ops: Vec<Op> = task.steps.iter().map(|st| st.op).collect();
        let second = Duration::from_secs(1);
        assert_eq!(
            ops,
            [
                Op::Sleep(second),
                Op::BlockingSleep(second),
                Op::Sleep(second)
            ]
        );
    }
}

#[test]
fn repeat_is_unrolled_with_source_lines() {
    let s = parse(
        "mutex A\n\
         thread T1 {\n\
             repeat 2 {\n\
                 lock A\n\
                 repeat 3 { work \"10ms\" }\n\
                 unlock A\n\
             }\n\
             sleep \"5ms\"\n\
         }\n",
    )
    .unwrap();
    let steps = &s.threads[0].steps;
    let shape: Vec<(&str, u32)> = steps.iter().map(|st| (st.op.keyword(), st.line)).collect();
    let round = [
        ("lock", 4),
        ("work", 5),
        ("work", 5),
        ("work", 5),
        ("unlock", 6),
    ];
    let expected: Vec<(&str, u32)> = round
        .iter()
        .chain(round.iter())
        .copied()
        .chain([("sleep", 8)])
        .collect();
    assert_eq!(shape, expected);
    assert_eq!(steps[1].op, Op::Work(Duration::from_millis(10)));
    assert_eq!(s.threads[0].line, 2);
    assert_eq!(s.resources[0].line, 1);
}

#[test]
fn count_expands_to_numbered_threads_of_one_group() {
    let s = parse(
        "title \"t\"\n\
         semaphore pool permits=2\n\
         thread T0 { work \"1ms\" }\n\
         thread worker count=3 { acquire pool; sleep \"1ms\"; release pool }\n\
         thread late after=worker { work \"1ms\" }\n",
    )
    .unwrap();
    let names: Vec<(&str, &str)> = s
        .threads
        .iter()
        .map(|t| (t.name.as_str(), t.group.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("T0", "T0"),
            ("worker-1", "worker"),
            ("worker-2", "worker"),
            ("worker-3", "worker"),
            ("late", "late")
        ]
    );
    assert!(
        s.threads[1..4]
            .iter()
            .all(|t| t.steps == s.threads[1].steps && t.line == 4)
    );
    assert_eq!(s.threads[4].after, [1, 2, 3]);
    assert_eq!(s.title, "t");
}

#[test]
fn resources_may_be_declared_below_their_use_and_gil_defaults() {
    let s = parse("thread T1 gil=gil { lock A; unlock A }\nmutex A\ngil\n").unwrap();
    assert_eq!(s.resources[1].name, "gil");
    assert_eq!(
        s.resources[1].kind,
        ResourceKind::Gil {
            interval: Duration::from_millis(5)
        }
    );
    assert_eq!(s.threads[0].gil, Some(1));
    // A file without a title is named after itself.
    assert_eq!(s.title, "test");
}

#[test]
fn a_lock_backs_off_for_a_random_time_unless_jitter_is_off() {
    let s = parse(
        "mutex A\n\
         thread T1 {\n\
             lock A timeout=\"20ms\"; unlock A\n\
             lock A timeout=\"20ms\" backoff=\"40ms\" jitter=#false; unlock A\n\
             lock A timeout=\"20ms\" jitter=#true; unlock A\n\
         }\n",
    )
    .unwrap();
    assert_eq!(
        backoffs(&s),
        [
            (None, true),
            (Some(Duration::from_millis(40)), false),
            (None, true)
        ]
    );
    // A lock backs off only after it gives up.
    let report = parse("mutex A\nthread T1 { lock A jitter=#false; unlock A }\n").unwrap_err();
    assert_eq!(
        problems(&report),
        [(
            "scenario::missing-attribute",
            "`jitter=` needs `timeout=`".to_string()
        )]
    );
}

#[test]
fn an_rwlock_is_fair_unless_it_prefers_readers() {
    let s = parse(
        "rwlock fair\n\
         rwlock readers_first prefer=\"readers\"\n\
         rwlock in_turn prefer=\"arrival\"\n\
         thread T1 { read fair; unlock fair; read readers_first; unlock readers_first }\n",
    )
    .unwrap();
    let kinds: Vec<ResourceKind> = s.resources.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [false, true, false].map(|prefer_readers| ResourceKind::RwLock { prefer_readers })
    );
    let report = parse("rwlock t prefer=\"reader\"\nthread T1 { read t; unlock t }\n").unwrap_err();
    let text = scenario::render_plain(report.as_ref(), 100);
    assert!(text.contains("did you mean prefer=\"readers\"?"), "{text}");
}

#[test]
fn several_problems_are_reported_together_in_source_order() {
    let report = parse(
        "mutex A\nthread T1 {\n  lok A\n  work \"-1s\"\n  take q\n}\nthread T1 { work \"1ms\" }\n",
    )
    .unwrap_err();
    let codes: Vec<&str> = problems(&report).iter().map(|p| p.0).collect();
    assert_eq!(
        codes,
        [
            "scenario::unknown-step",
            "scenario::bad-duration",
            "scenario::undeclared",
            "scenario::duplicate"
        ]
    );
}

#[test]
fn unknown_names_get_suggestions() {
    let err = scenario::load("deadlok").unwrap_err();
    let text = scenario::render_plain(err.as_ref(), 100);
    assert!(text.contains("did you mean `deadlock`?"), "{text}");
    assert!(
        text.contains("producer-consumer"),
        "lists the built-ins: {text}"
    );
    let err = scenario::load("no/such/file.kdl").unwrap_err();
    assert!(
        err.to_string()
            .contains("no scenario file at `no/such/file.kdl`")
    );
}

/// A name thousands of characters long is echoed cut short, underlined in part and quoted as
/// a window of its line: the whole report stays a screenful, and the search for a suggestion
/// does not measure it against every name.
#[test]
fn a_runaway_name_gives_a_short_report() {
    let long = "x".repeat(60_000);
    for source in [
        format!("mutex A\nthread T1 {{\n    lock {long}\n}}\n"),
        format!("mutex {long}\nthread T1 {{\n    lock A\n}}\n"),
        format!("{long} A\nthread T1 {{\n    work \"1ms\"\n}}\n"),
        format!("mutex A\nthread T1 {{\n    {long} A\n}}\n"),
        format!("mutex A\nthread T1 {long}=1 {{\n    lock A\n}}\n"),
        // Not a name at all: a block no declaration takes, with one long line in it.
        format!("mutex A {{\n  {long}\n}}\nthread T1 {{\n    lock A\n    unlock A\n}}\n"),
    ] {
        let err = parse(&source).unwrap_err();
        let text = scenario::render_plain(err.as_ref(), 100);
        assert!(text.len() < 2_000, "{} bytes:\n{text}", text.len());
        let echoes_a_name = !source.starts_with("mutex A {");
        assert!(
            !echoes_a_name || text.contains("xxxx…"),
            "the name is cut with an ellipsis:\n{text}"
        );
        assert!(
            text.contains("[test.kdl:"),
            "still points at file:line:column:\n{text}"
        );
    }
}

/// A reference that only looks like a declared name is pointed out, with the name it imitates.
#[test]
fn look_alike_references_are_pointed_out() {
    for (written, odd) in [
        ("\u{0410}", "Cyrillic `\u{0410}` (U+0410)"),
        ("A\u{200B}", "invisible character (U+200B)"),
        ("\u{FF21}", "full-width `\u{FF21}` (U+FF21)"),
    ] {
        let source = format!("mutex A\nthread T1 {{\n    lock {written}\n    unlock A\n}}\n");
        let err = parse(&source).unwrap_err();
        let text = scenario::render_plain(err.as_ref(), 200);
        assert!(text.contains(odd), "{text}");
        assert!(text.contains("did you mean `lock A`?"), "{text}");
    }
    // A name in another alphabet that looks like nothing else is a name like any other.
    let s = parse("mutex 锁\nthread 线程 {\n    lock 锁\n    unlock 锁\n}\n").unwrap();
    assert_eq!(s.threads[0].name, "线程");
}

/// Columns count characters, as an editor does: a Chinese name before a mistake on the same
/// line does not push the column past it.
#[test]
fn columns_count_characters_not_bytes() {
    let err = parse("mutex 锁\nthread T1 {\n    lock 锁; lokk 锁\n}\n").unwrap_err();
    let text = scenario::render_plain(err.as_ref(), 100);
    assert!(text.contains("[test.kdl:3:13]"), "{text}");
    let err = parse("mutex 锁\nthread T1 {\n    lock 锁 \u{7}\n}\n").unwrap_err();
    assert!(err.to_string().contains("test.kdl:3:12"), "{err}");
}

#[test]
fn check_files_reports_each_file() {
    let good: Vec<PathBuf> = builtin::all()
        .iter()
        .map(|b| PathBuf::from(format!("scenarios/{}.kdl", b.name)))
        .collect();
    assert!(threadlab::cmd::check::files_ok(&good));
    let mut mixed = good.clone();
    mixed.push(Path::new(BAD).join("unknown-step.kdl"));
    assert!(!threadlab::cmd::check::files_ok(&mixed));
}

#[test]
fn a_ten_megabyte_file_is_refused_unread() {
    let dir = std::env::temp_dir().join(format!("threadlab-lang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge.kdl");
    let line = "thread T1 { work \"1ms\" }\n";
    let text = line.repeat(10 * 1024 * 1024 / line.len() + 1);
    std::fs::write(&path, &text).unwrap();
    let err = scenario::load_file(&path).unwrap_err();
    let result = threadlab::cmd::check::files_ok(std::slice::from_ref(&path));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(problems(&err)[0].0, "scenario::too-big");
    assert!(err.to_string().contains("10.0 MiB"), "{err}");
    assert!(!result);
    // The same limit holds for text handed over directly.
    let err = parse(&text).unwrap_err();
    assert_eq!(problems(&err)[0].0, "scenario::too-big");
}

#[test]
fn limits_are_exposed_for_the_readme() {
    assert_eq!(scenario::MAX_THREADS, 512);
    assert_eq!(scenario::MAX_TASKS, 10_000);
    assert_eq!(scenario::MAX_STEPS, 100_000);
    assert_eq!(scenario::MAX_THREAD_TIME, Duration::from_secs(600));
    assert_eq!(scenario::MAX_FILE_BYTES, 64 << 10);
}

fn bad_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(BAD)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    files.sort();
    files
}

/// Each broken file gets its exact diagnostic pinned: message, file:line:column and help.
#[test]
fn every_bad_fixture_has_a_pointed_diagnostic() {
    let files = bad_fixtures();
    assert!(files.len() >= 30, "only {} bad fixtures", files.len());
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        // Relative paths keep the snapshots the same on every machine.
        let path = Path::new(BAD).join(path.file_name().unwrap());
        let report = match scenario::load_file(&path) {
            Ok(_) => panic!("{} should be refused", path.display()),
            Err(report) => report,
        };
        let text = scenario::render_plain(report.as_ref(), 80);
        assert!(text.contains("help:"), "{stem} has a help line:\n{text}");
        let error = report.downcast_ref::<ScenarioError>().unwrap();
        let points_into_source = error.problems()[0].offset().is_some();
        if points_into_source {
            let location = format!("[{}:", path.display());
            assert!(
                text.contains(&location),
                "{stem} names file:line:column:\n{text}"
            );
        }
        insta::with_settings!({
            snapshot_path => "fixtures/bad/snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(stem, text);
        });
    }
}

/// Pieces of KDL and of the scenario vocabulary, so random text often gets past the lexer.
fn kdl_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{"),
        Just("}"),
        Just("\""),
        Just("\"\"\""),
        Just("#"),
        Just("/-"),
        Just("/*"),
        Just("*/"),
        Just("//"),
        Just("="),
        Just(";"),
        Just("\n"),
        Just(" "),
        Just("\\"),
        Just("thread"),
        Just("mutex"),
        Just("lock"),
        Just("unlock"),
        Just("repeat"),
        Just("count="),
        Just("A"),
        Just("9"),
        Just("-1"),
        Just("\"10ms\""),
        Just("ü"),
    ];
    prop::collection::vec(token, 0..80).prop_map(|v| v.concat())
}

fn mutate(source: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut bytes = source.as_bytes().to_vec();
    for &(at, what, byte) in edits {
        let at = at % (bytes.len() + 1);
        match what % 3 {
            0 => bytes.insert(at, byte),
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ if at < bytes.len() => bytes[at] = byte,
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn never_panics(source: &str) {
    if let Err(report) = parse(source) {
        assert!(!scenario::render_plain(report.as_ref(), 80).is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        never_panics(&text);
    }

    #[test]
    fn random_kdl_soup_never_panics(text in kdl_soup()) {
        never_panics(&text);
    }

    #[test]
    fn mutated_builtins_never_panic(
        which in 0..6usize,
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8),
    ) {
        never_panics(&mutate(builtin::all()[which].source, &edits));
    }
}

/// The largest file allowed, made entirely of the junk that costs the KDL parser the most
/// stack per byte, parses to an error rather than overflowing.
#[test]
fn worst_case_junk_of_the_largest_size_is_an_error_not_a_crash() {
    for unit in ["}", "\"", "a=", "/*"] {
        let text = unit.repeat(scenario::MAX_FILE_BYTES / unit.len());
        let err = parse(&text).unwrap_err();
        assert!(!problems(&err).is_empty());
    }
}

/// 512 threads and 10,000 tasks are accepted; one more of either is refused at the `count=`
/// (or the node) that goes over, naming the limit.
#[test]
fn threads_and_tasks_have_limits_of_their_own() {
    let s = parse(
        "event-loop main\nthread w count=512 { work \"1ms\" }\ntask t count=10000 { sleep \"1ms\" }\n",
    )
    .unwrap();
    assert_eq!(s.threads.iter().filter(|t| t.is_task()).count(), 10_000);
    assert_eq!(s.threads.iter().filter(|t| !t.is_task()).count(), 512);

    let err =
        parse("thread T1 { work \"1ms\" }\nthread w count=513 { work \"1ms\" }\n").unwrap_err();
    let text = scenario::render_plain(err.as_ref(), 100);
    assert!(text.contains("[test.kdl:2:10]"), "{text}");
    assert!(text.contains("at most 512 threads"), "{text}");

    let err = parse("event-loop main\ntask t count=10001 { sleep \"1ms\" }\n").unwrap_err();
    let text = scenario::render_plain(err.as_ref(), 100);
    assert!(text.contains("[test.kdl:2:8]"), "{text}");
    assert!(text.contains("at most 10000 tasks"), "{text}");

    // Groups that fit one by one but not together point at the group that goes over.
    let err = parse(
        "event-loop main\ntask a count=6000 { sleep \"1ms\" }\ntask b count=6000 { sleep \"1ms\" }\n",
    )
    .unwrap_err();
    let text = scenario::render_plain(err.as_ref(), 100);
    assert!(text.contains("more than 10000 tasks"), "{text}");
    assert!(text.contains("test.kdl:3:"), "{text}");
    assert!(text.contains("12000"), "{text}");
}

//! The command line as a person meets it: special files given as input, outputs that would
//! overwrite an input or cannot be written, recordings given where a scenario goes, impossible
//! recordings, and readers that go away. Every command runs the real binary, and every wait
//! for it is bounded: a command that blocks fails its test instead of hanging it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use threadlab::vocab::recording::Recording;

/// Longer than any of these commands takes on a busy machine; a hang shows as a failure.
const BOUND: Duration = Duration::from_secs(60);

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Waits for `child` at most [`BOUND`], killing it if it is still running then.
fn finish(mut child: Child, what: &str) -> Ran {
    let started = Instant::now();
    loop {
        match child.try_wait().expect("wait") {
            Some(status) => {
                let mut stdout = String::new();
                let mut stderr = String::new();
                if let Some(mut out) = child.stdout.take() {
                    let _ = out.read_to_string(&mut stdout);
                }
                if let Some(mut err) = child.stderr.take() {
                    let _ = err.read_to_string(&mut stderr);
                }
                return Ran {
                    code: status.code(),
                    stdout,
                    stderr,
                };
            }
            None if started.elapsed() > BOUND => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`threadlab {what}` still running after {BOUND:?}: it blocked");
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn threadlab_in(dir: &Path, args: &[&str]) -> Ran {
    let child = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("threadlab starts");
    finish(child, &args.join(" "))
}

/// A fresh directory of its own for each test.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("threadlab-cli-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const LESSON: &str = "mutex A\nthread T1 {\n    lock A\n    work \"5ms\"\n    unlock A\n}\n";

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let made = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo {}", path.display());
}

/// A recording of a short real run, made by the binary itself.
fn recording(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("lesson.kdl"), LESSON).unwrap();
    let ran = threadlab_in(
        dir,
        &["run", "lesson.kdl", "--headless", "--record", "rec.json"],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    dir.join("rec.json")
}

#[test]
fn special_files_as_input_are_refused_without_blocking() {
    let dir = scratch("special");
    mkfifo(&dir.join("pipe.kdl"));
    std::fs::create_dir(dir.join("folder.kdl")).unwrap();
    for (input, what) in [
        ("pipe.kdl", "named pipe"),
        ("folder.kdl", "directory"),
        ("/dev/zero", "character device"),
    ] {
        for args in [
            vec!["check", input],
            vec!["run", input, "--headless"],
            vec!["replay", input, "--headless"],
            vec!["export", input, "--format", "svg", "-o", "out.svg"],
        ] {
            let ran = threadlab_in(&dir, &args);
            assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
            assert!(ran.stderr.contains(what), "{args:?}: {}", ran.stderr);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A named pipe that replaces a scenario file between any check of its path and its opening
/// is still refused: the file is looked at through the descriptor opened without blocking.
#[test]
fn a_pipe_swapped_in_for_a_file_does_not_hang_a_run() {
    let dir = scratch("swap");
    let path = dir.join("lesson.kdl");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut swaps = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && swaps < 20_000 {
                let _ = std::fs::remove_file(&path);
                if swaps % 2 == 0 {
                    let _ = std::fs::write(&path, LESSON);
                } else {
                    let _ = std::fs::remove_file(&path);
                    mkfifo(&path);
                }
                swaps += 1;
            }
        })
    };
    for _ in 0..10 {
        let ran = threadlab_in(&dir, &["check", "lesson.kdl"]);
        assert!(matches!(ran.code, Some(0 | 2)), "{}", ran.stderr);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stray_pipe_in_the_scenarios_folder_is_listed_with_its_diagnostic() {
    let dir = scratch("menu");
    mkfifo(&dir.join("stray.kdl"));
    std::fs::write(dir.join("good.kdl"), LESSON).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let listed = dir.clone();
    std::thread::spawn(move || {
        let _ = tx.send(threadlab::ui::menu_entries_from(&listed, &[]));
    });
    let entries = rx
        .recv_timeout(BOUND)
        .expect("the menu's entries were gathered without blocking on the pipe");
    let stray = entries.iter().find(|e| e.name == "stray").expect("listed");
    let diagnostic = stray.scenario.as_ref().expect_err("refused");
    assert!(diagnostic.contains("named pipe"), "{diagnostic}");
    let good = entries.iter().find(|e| e.name == "good").expect("listed");
    assert!(good.scenario.is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn outputs_never_overwrite_an_input() {
    let dir = scratch("overwrite");
    let rec = recording(&dir);
    let saved = std::fs::read(&rec).unwrap();
    std::os::unix::fs::symlink("lesson.kdl", dir.join("link.kdl")).unwrap();
    std::fs::hard_link(dir.join("lesson.kdl"), dir.join("hard.kdl")).unwrap();
    for args in [
        vec!["run", "lesson.kdl", "--headless", "--events", "lesson.kdl"],
        vec!["run", "lesson.kdl", "--headless", "--events", "link.kdl"],
        vec!["run", "lesson.kdl", "--headless", "--record", "hard.kdl"],
        vec![
            "run",
            "lesson.kdl",
            "--headless",
            "--record",
            "./lesson.kdl",
        ],
        vec!["export", "lesson.kdl", "--format", "svg", "-o", "hard.kdl"],
        vec!["export", "rec.json", "--format", "chrome", "-o", "rec.json"],
        vec![
            "run",
            "lesson.kdl",
            "--headless",
            "--events",
            "x.jsonl",
            "--record",
            "x.jsonl",
        ],
    ] {
        let ran = threadlab_in(&dir, &args);
        assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
        assert!(
            ran.stderr.contains("would destroy it") || ran.stderr.contains("overwrite"),
            "{args:?}: {}",
            ran.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("lesson.kdl")).unwrap(),
        LESSON
    );
    assert_eq!(std::fs::read(&rec).unwrap(), saved);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_output_that_cannot_be_written_fails_the_command() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let dir = scratch("full");
    std::fs::write(dir.join("lesson.kdl"), LESSON).unwrap();
    for args in [
        vec!["run", "lesson.kdl", "--headless", "--events", "/dev/full"],
        vec!["run", "lesson.kdl", "--headless", "--record", "/dev/full"],
        vec!["export", "lesson.kdl", "--format", "svg", "-o", "/dev/full"],
        vec![
            "run",
            "lesson.kdl",
            "--headless",
            "--events",
            "no/such/dir/e.jsonl",
        ],
    ] {
        let ran = threadlab_in(&dir, &args);
        assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
        assert!(ran.stderr.contains("error:"), "{args:?}: {}", ran.stderr);
        assert!(!ran.stderr.contains("warning:"), "{args:?}: {}", ran.stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zero_durations_are_refused_on_the_command_line() {
    let dir = scratch("zero");
    for args in [
        vec!["run", "deadlock", "--headless", "--for", "0s"],
        vec!["run", "deadlock", "--headless", "--for", "0ms"],
        vec![
            "export", "deadlock", "--format", "svg", "-o", "-", "--for", "0s",
        ],
    ] {
        let ran = threadlab_in(&dir, &args);
        assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
        assert!(ran.stderr.contains("is zero"), "{args:?}: {}", ran.stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_recording_given_as_a_scenario_says_to_replay_it() {
    let dir = scratch("recording");
    recording(&dir);
    for args in [
        vec!["run", "rec.json", "--headless"],
        vec!["check", "rec.json"],
    ] {
        let ran = threadlab_in(&dir, &args);
        assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
        assert!(
            ran.stderr
                .contains("this is a recording: use `threadlab replay rec.json`"),
            "{args:?}: {}",
            ran.stderr
        );
        assert!(ran.stderr.lines().count() < 12, "{}", ran.stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A change made by hand to a recording's JSON.
type Edit = dyn Fn(&mut serde_json::Value);

/// Times in a recording are checked against each other and against the run's end.
#[test]
fn a_recording_with_impossible_times_is_refused() {
    let dir = scratch("times");
    let rec = recording(&dir);
    let text = std::fs::read_to_string(&rec).unwrap();
    Recording::from_json(&text).expect("the real recording loads");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let n = json["events"].as_array().unwrap().len();
    assert!(n >= 3);
    let edits: [(&str, Box<Edit>); 4] = [
        (
            "after the run's end",
            Box::new(move |j| j["events"][n - 1]["t_ns"] = u64::MAX.into()),
        ),
        (
            "after the run's end",
            Box::new(move |j| {
                let end = j["run"]["end_ns"].as_u64().unwrap();
                j["events"][n - 1]["t_ns"] = (end + 1).into();
            }),
        ),
        (
            "before the event ahead of it",
            Box::new(|j| j["events"][1]["t_ns"] = 0.into()),
        ),
        (
            "no run lasts more than",
            Box::new(|j| j["run"]["end_ns"] = u64::MAX.into()),
        ),
    ];
    for (i, (expected, edit)) in edits.iter().enumerate() {
        let mut edited = json.clone();
        if i == 2 {
            // The first event must be later than 0 for moving the second to 0 to reorder them.
            edited["events"][0]["t_ns"] = 5.into();
        }
        edit(&mut edited);
        let err = Recording::from_json(&edited.to_string()).expect_err(expected);
        assert!(
            err.message.contains(expected),
            "{expected}: {}",
            err.message
        );
        let path = dir.join(format!("edited-{i}.json"));
        std::fs::write(&path, edited.to_string()).unwrap();
        for args in [
            vec!["replay", path.to_str().unwrap(), "--headless"],
            vec![
                "export",
                path.to_str().unwrap(),
                "--format",
                "svg",
                "-o",
                "-",
            ],
        ] {
            let ran = threadlab_in(&dir, &args);
            assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
            assert!(ran.stderr.contains(expected), "{args:?}: {}", ran.stderr);
            assert!(ran.stdout.is_empty(), "{args:?} printed a run");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A recording too large to be one is refused by its size, unread; a sparse file makes a
/// large one without writing it.
#[test]
fn an_oversized_recording_is_refused_unread() {
    let dir = scratch("huge");
    let path = dir.join("huge.json");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(threadlab::vocab::recording::MAX_BYTES + 1)
        .unwrap();
    let ran = threadlab_in(&dir, &["replay", "huge.json", "--headless"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("MiB"), "{}", ran.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `threadlab … | head -1`: the reader goes away before the output is written. Every command
/// that prints ends quietly, with its own exit code, never a panic (exit 101).
#[test]
fn a_closed_pipe_ends_output_quietly() {
    let dir = scratch("pipe");
    std::fs::write(dir.join("lesson.kdl"), LESSON).unwrap();
    recording(&dir);
    for (args, code) in [
        (vec!["list"], 0),
        (vec!["--help"], 0),
        (vec!["run", "--help"], 0),
        (vec!["check", "lesson.kdl"], 0),
        (
            vec!["run", "deadlock", "--headless", "--schedule", "T1,T2"],
            3,
        ),
        (
            vec![
                "run",
                "deadlock",
                "--headless",
                "--json",
                "--schedule",
                "T1,T2",
            ],
            3,
        ),
        (vec!["replay", "rec.json", "--headless"], 0),
        (vec!["completions", "bash"], 0),
        (vec!["man"], 0),
        (vec!["export", "rec.json", "--format", "svg", "-o", "-"], 0),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_threadlab"))
            .args(&args)
            .current_dir(&dir)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("threadlab starts");
        // Close the reading end before the command has had time to print anything.
        drop(child.stdout.take());
        let ran = finish(child, &args.join(" "));
        assert!(
            !ran.stderr.contains("panicked") && !ran.stderr.contains("Broken pipe"),
            "{args:?}: {}",
            ran.stderr
        );
        assert_eq!(ran.code, Some(code), "{args:?}: {}", ran.stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Diagnostics go to stderr: a closed stderr is as quiet as a closed stdout.
#[test]
fn a_closed_stderr_is_no_panic_either() {
    let dir = scratch("stderr");
    std::fs::write(dir.join("bad.kdl"), "mutex A\nthread T1 {\n    lok A\n}\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .args(["check", "bad.kdl"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("threadlab starts");
    drop(child.stderr.take());
    let ran = finish(child, "check bad.kdl");
    assert_eq!(ran.code, Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A breakpoint pauses a run for someone to look at: headless there is no one to resume it,
/// so it is refused up front, with what to use instead.
#[test]
fn break_on_is_refused_headless_and_for_names_that_are_not_there() {
    let dir = scratch("break-on");
    let headless = threadlab_in(&dir, &["run", "deadlock", "--headless", "--break-on", "T2"]);
    assert_eq!(headless.code, Some(2), "{}", headless.stderr);
    assert!(
        headless.stderr.contains("--break-on") && headless.stderr.contains("--schedule"),
        "{}",
        headless.stderr
    );
    assert!(headless.stdout.is_empty(), "{}", headless.stdout);
}

/// `compare` resolves each scenario exactly as `run` does: the same refusal, word for word,
/// for an unknown lesson, a missing file, a file with a mistake and a special file, before
/// either run starts.
#[test]
fn compare_refuses_what_run_refuses_with_the_same_words() {
    let dir = scratch("compare-refused");
    std::fs::write(dir.join("lesson.kdl"), LESSON).unwrap();
    std::fs::write(dir.join("broken.kdl"), "thread T1 {\n    lok A\n}\n").unwrap();
    mkfifo(&dir.join("pipe.kdl"));
    for bad in ["no-such-lesson", "missing.kdl", "broken.kdl", "pipe.kdl"] {
        let run = threadlab_in(&dir, &["run", bad, "--headless"]);
        assert_eq!(run.code, Some(2), "run {bad}: {}", run.stderr);
        for args in [
            ["compare", bad, "lesson.kdl", "--headless"],
            ["compare", "deadlock", bad, "--headless"],
        ] {
            let compare = threadlab_in(&dir, &args);
            assert_eq!(compare.code, Some(2), "{args:?}: {}", compare.stderr);
            assert_eq!(compare.stderr, run.stderr, "{args:?}");
            assert!(compare.stdout.is_empty(), "{args:?}: {}", compare.stdout);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Headless, both outcomes side by side: the deadlock and its cure, each in its column; with
/// `--json` both summaries, in order.
#[test]
fn compare_headless_prints_both_outcomes_side_by_side() {
    let dir = scratch("compare-headless");
    let ran = threadlab_in(&dir, &["compare", "deadlock", "fixed-order", "--headless"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert!(
        lines[0].contains("1 deadlock") && lines[0].contains("2 fixed-order"),
        "{}",
        ran.stdout
    );
    let outcome = lines
        .iter()
        .find(|l| l.starts_with("outcome"))
        .expect("an outcome row");
    let (left, right) = outcome.split_at(outcome.find("completed in").expect("the cure completes"));
    assert!(left.contains("DEADLOCK after"), "{outcome}");
    assert!(!right.contains("DEADLOCK"), "{outcome}");
    assert!(
        ran.stdout.contains("T1 waits for B held by T2"),
        "{}",
        ran.stdout
    );

    let ran = threadlab_in(
        &dir,
        &[
            "compare",
            "reentrant",
            "reentrant-rlock",
            "--headless",
            "--json",
        ],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let json: serde_json::Value = serde_json::from_str(&ran.stdout).expect("one JSON object");
    let runs = json["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["scenario"], "reentrant");
    assert_eq!(runs[0]["outcome"], "deadlock");
    assert_eq!(runs[0]["deadlock"]["self_deadlock"], true);
    assert_eq!(runs[1]["scenario"], "reentrant-rlock");
    assert_eq!(runs[1]["outcome"], "completed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `check` takes what `run` takes: a built-in lesson by name as well as a file.
#[test]
fn check_reads_a_built_in_lesson_by_name_as_run_does() {
    let dir = scratch("check-names");
    let ran = threadlab_in(&dir, &["check", "deadlock", "semaphore"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("ok: deadlock") && ran.stdout.contains("ok: semaphore"),
        "{}",
        ran.stdout
    );
    let ran = threadlab_in(&dir, &["check", "deadlok"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("deadlock"), "{}", ran.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

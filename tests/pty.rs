//! End to end: the real binary in a real pseudo-terminal, its screen read through vt100.
//!
//! Few and patient on purpose: the machine may be busy, so every wait polls the screen until a
//! deadline instead of sleeping a fixed time, and the assertions are about what the screen
//! shows, never about how fast it shows it.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

mod common;

const ROWS: u16 = 34;
const COLS: u16 = 110;
const PATIENCE: Duration = Duration::from_secs(20);

/// Two threads that never touch each other: stepping one can move only that one.
const INDEPENDENT: &str = r#"title "Two independent threads"
about "Nothing shared: each thread works and sleeps on its own."

thread A {
    repeat 30 {
        work "40ms"
        sleep "60ms"
    }
}

thread B {
    repeat 30 {
        work "40ms"
        sleep "60ms"
    }
}
"#;

struct Session {
    master: Box<dyn MasterPty + Send>,
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    output: Receiver<Vec<u8>>,
    parser: vt100::Parser,
    dir: PathBuf,
}

impl Session {
    fn start(args: &[&str], dir: &Path) -> Session {
        Session::start_with(args, dir, &[])
    }

    fn start_with(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Session {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_threadlab"));
        cmd.args(args);
        cmd.cwd(dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pty.slave.spawn_command(cmd).expect("threadlab starts");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let writer = pty.master.take_writer().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Session {
            master: pty.master,
            child,
            writer,
            output: rx,
            parser: vt100::Parser::new(
                NonZeroU16::new(ROWS).unwrap(),
                NonZeroU16::new(COLS).unwrap(),
                0,
            ),
            dir: dir.to_path_buf(),
        }
    }

    fn pump(&mut self, wait: Duration) {
        if let Ok(bytes) = self.output.recv_timeout(wait) {
            self.parser.process(&bytes);
        }
        while let Ok(bytes) = self.output.try_recv() {
            self.parser.process(&bytes);
        }
    }

    fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// Polls the screen until `done` holds; panics with the screen after the deadline.
    fn wait_for(&mut self, what: &str, mut done: impl FnMut(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.pump(Duration::from_millis(20));
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
        }
    }

    /// Reads until the screen has stayed the same for `quiet`; panics if it never settles.
    fn wait_still(&mut self, what: &str, quiet: Duration) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut last = self.screen();
        let mut since = Instant::now();
        loop {
            self.pump(Duration::from_millis(20));
            let now = self.screen();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return last;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never settled: {what}; the screen:\n{last}"
            );
        }
    }

    fn wait_text(&mut self, text: &str) -> String {
        self.wait_for(text, |s| s.contains(text))
    }

    fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits for the process to end, reading the screen meanwhile; returns its exit code.
    fn wait_exit(&mut self) -> u32 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.pump(Duration::from_millis(20));
            if let Some(status) = self.child.try_wait().unwrap() {
                // The last bytes (the restore sequence) may still be in flight: read until the
                // terminal closes, when the reader thread ends.
                loop {
                    match self.output.recv_timeout(Duration::from_millis(20)) {
                        Ok(bytes) => self.parser.process(&bytes),
                        Err(RecvTimeoutError::Disconnected) => return status.exit_code(),
                        Err(RecvTimeoutError::Timeout) => assert!(
                            Instant::now() < deadline,
                            "the terminal stayed open after threadlab exited"
                        ),
                    }
                }
            }
            assert!(Instant::now() < deadline, "threadlab did not exit");
        }
    }

    fn assert_restored(&self) {
        let screen = self.parser.screen();
        assert!(!screen.alternate_screen(), "still on the alternate screen");
        assert!(!screen.hide_cursor(), "the cursor is still hidden");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = &self.master;
    }
}

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("threadlab-pty-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("independent.kdl"), INDEPENDENT).unwrap();
    dir
}

/// The run time in the header (`PAUSED   1×  1.234s`).
fn run_time(screen: &str) -> Option<f64> {
    let header = screen.lines().next()?;
    header
        .split_whitespace()
        .rev()
        .find_map(|w| w.strip_suffix('s')?.parse::<f64>().ok())
}

/// Which source line each thread's marker is on in the code panel: (thread, line).
fn markers(screen: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for row in screen.lines() {
        // Code rows look like "│ 6 ▶    work "40ms"     █A │ ...": number, pointer, text, marks.
        let Some(rest) = row.strip_prefix('│') else {
            continue;
        };
        let code = rest.split('│').next().unwrap_or("");
        let mut words = code.split_whitespace();
        let Some(Ok(line)) = words.next().map(str::parse::<u32>) else {
            continue;
        };
        if !code.contains('▶') {
            continue;
        }
        for w in code.split_whitespace() {
            let name: String = w.chars().skip(1).collect();
            if name == "A" || name == "B" {
                out.push((name, line));
            }
        }
    }
    out.sort();
    out
}

/// Runs `threadlab run ARGS --headless --record FILE` in `dir`, bounded, and checks it ends
/// with exit code `code`.
fn record(dir: &Path, args: &[&str], file: &Path, code: i32) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .arg("run")
        .args(args)
        .args(["--headless", "--record"])
        .arg(file)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("threadlab starts");
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            assert_eq!(status.code(), Some(code), "{err}");
            return;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the recorded run did not end within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The history cursor's time in the header (`viewing 249ms`) in ns; `None` while the view
/// shows the end of the recording.
fn viewing(screen: &str) -> Option<u64> {
    let header = screen.lines().next()?;
    let text = header.split("viewing ").nth(1)?.split_whitespace().next()?;
    let (number, unit) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e6)
    } else {
        (text.strip_suffix('s')?, 1e9)
    };
    Some((number.parse::<f64>().ok()? * unit) as u64)
}

fn header_says(screen: &str, text: &str) -> bool {
    screen.lines().next().is_some_and(|h| h.contains(text))
}

/// What a thread's lane says it is doing (`not started`, `█ RUNNING`, `DONE`, ...).
fn lane(screen: &str, thread: &str) -> Option<String> {
    screen.lines().find_map(|row| {
        let inner = row.strip_prefix('│')?.split('│').next()?;
        // The selection pointer and a space come before the name.
        let rest: String = inner.chars().skip(2).collect();
        let (name, state) = rest.split_once(' ')?;
        (name == thread).then(|| state.trim().to_string())
    })
}

/// Lines of the event log that say a thread started (a lane's "not started" is not one).
fn starts_logged(screen: &str) -> usize {
    screen
        .lines()
        .filter(|l| l.contains(" started") && !l.contains("not started"))
        .count()
}

#[test]
fn pick_watch_pause_step_restart_quit() {
    let dir = scratch_dir("main");
    let mut s = Session::start(&["independent.kdl"], &dir);
    s.wait_text("pick a scenario");
    // The file comes after the built-ins: up from the first wraps to the last.
    s.keys("k");
    s.wait_text("Two independent threads");
    s.keys("\r");
    s.wait_text("RUNNING");

    // The lanes advance: the run time in the header grows, and so do the lanes.
    let first = s.wait_for("run time", |sc| run_time(sc).is_some_and(|t| t > 0.0));
    let t0 = run_time(&first).unwrap();
    let later = s.wait_for("time to pass", |sc| {
        run_time(sc).is_some_and(|t| t > t0 + 0.2)
    });
    assert_ne!(first, later);

    // Pause: the screen stops changing.
    s.keys(" ");
    let paused = s.wait_for("the pause to settle", |sc| {
        sc.contains("PAUSED") && markers(sc).len() == 2
    });
    let mut still = paused.clone();
    let quiet_until = Instant::now() + Duration::from_millis(600);
    while Instant::now() < quiet_until {
        s.pump(Duration::from_millis(50));
        let now = s.screen();
        if now != still {
            // A last hold may land just after the badge flips; after that, nothing.
            still = now;
        }
    }
    let settled = s.screen();
    s.pump(Duration::from_millis(500));
    assert_eq!(settled, s.screen(), "the screen changed while paused");

    // Step: exactly one thread moves, by one step.
    let before = markers(&settled);
    let time_before = run_time(&settled).unwrap();
    s.keys("s");
    let after = s.wait_for("one step", |sc| {
        sc.contains("PAUSED") && markers(sc).len() == 2 && markers(sc) != before
    });
    let after_marks = markers(&after);
    let moved: Vec<_> = before
        .iter()
        .zip(&after_marks)
        .filter(|(b, a)| b != a)
        .collect();
    assert_eq!(moved.len(), 1, "before {before:?}, after {after_marks:?}");
    assert!(run_time(&after).unwrap() >= time_before);

    // Restart while paused: a fresh run, waiting at zero; space runs it.
    s.keys("r");
    s.wait_for("the restarted run, paused at 0s", |sc| {
        header_says(sc, "PAUSED") && run_time(sc) == Some(0.0) && starts_logged(sc) == 2
    });
    s.keys(" ");
    s.wait_for("the restarted run to run", |sc| {
        header_says(sc, "RUNNING") && run_time(sc).is_some_and(|t| t < time_before)
    });

    // Quit: the terminal is given back.
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();
}

#[test]
fn sigterm_and_sighup_while_running_restore_the_terminal() {
    for (signal, number) in [("TERM", 15), ("HUP", 1)] {
        let dir = scratch_dir(&signal.to_lowercase());
        let mut s = Session::start(&["independent.kdl"], &dir);
        s.wait_text("pick a scenario");
        s.keys("k");
        s.wait_text("Two independent threads");
        s.keys("\r");
        s.wait_text("RUNNING");
        assert!(s.parser.screen().alternate_screen());
        let pid = s.child.process_id().expect("a pid");
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(s.wait_exit(), 128 + number, "SIG{signal}");
        s.assert_restored();
    }
}

#[test]
fn without_a_terminal_it_says_what_to_do_and_writes_no_escape_codes() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_threadlab"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--headless"), "{err}");
    assert!(!err.contains('\x1b'), "{err}");
}

#[test]
fn a_panic_in_the_ui_restores_the_terminal_before_its_message() {
    let dir = scratch_dir("panic");
    let mut s = Session::start_with(
        &[],
        &dir,
        &[("THREADLAB_TEST_UI_PANIC", "1"), ("RUST_BACKTRACE", "0")],
    );
    let code = s.wait_exit();
    assert_ne!(code, 0);
    s.assert_restored();
    // The message was printed after the restore, so it is on the main screen to read.
    let screen = s.screen();
    assert!(screen.contains("panics on purpose"), "{screen}");
}

#[test]
fn ctrl_c_while_running_quits_and_restores_the_terminal() {
    let dir = scratch_dir("ctrl-c");
    let mut s = Session::start(&["independent.kdl"], &dir);
    s.wait_text("pick a scenario");
    s.keys("k");
    s.wait_text("Two independent threads");
    s.keys("\r");
    s.wait_text("RUNNING");
    assert!(s.parser.screen().alternate_screen());
    // In raw mode Ctrl-C is the byte 0x03, read as a key, not a SIGINT.
    s.keys("\x03");
    assert_eq!(s.wait_exit(), 0, "Ctrl-C quits like q");
    s.assert_restored();
}

#[test]
fn ctrl_c_in_the_menu_and_sighup_in_a_deadlock_restore_the_terminal() {
    let dir = scratch_dir("menu-ctrl-c");
    let mut s = Session::start(&[], &dir);
    s.wait_text("pick a scenario");
    s.keys("\x03");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();

    // A deadlocked run has threads blocked for good; a hang-up still gets the terminal back.
    let dir = scratch_dir("hup-deadlock");
    let mut s = Session::start(
        &["run", "deadlock", "--speed", "4", "--schedule", "T1,T2"],
        &dir,
    );
    s.wait_text("DEADLOCK");
    let pid = s.child.process_id().expect("a pid");
    let status = std::process::Command::new("kill")
        .args(["-HUP".to_string(), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(s.wait_exit(), 128 + 1);
    s.assert_restored();
}

#[test]
fn a_recording_replays_stepped_played_paused_and_scrubbed() {
    let dir = scratch_dir("replay");
    let file = dir.join("semaphore.json");
    // Recorded at 4× to keep the test short. Replay plays at the pace the run went (1×).
    record(&dir, &["semaphore", "--speed", "4"], &file, 0);
    let workers: Vec<String> = (1..=10).map(|i| format!("worker-{i}")).collect();
    let count = |screen: &str, state: &str| {
        workers
            .iter()
            .filter(|w| lane(screen, w).as_deref() == Some(state))
            .count()
    };

    let mut s = Session::start(&["replay", file.to_str().unwrap()], &dir);
    // It opens at the start of the run: every lane of the scenario, nothing started yet.
    s.wait_for("the replay at its start", |sc| {
        sc.contains("Semaphore: ten workers, three permits")
            && viewing(sc) == Some(0)
            && count(sc, "not started") == 10
    });
    assert!(s.parser.screen().alternate_screen());

    // n steps one event of the whole run, whichever thread is selected.
    s.keys("9");
    s.wait_for("worker-9 selected", |sc| sc.contains("│▶ worker-9 "));
    s.keys("n");
    let stepped = s.wait_for("one event", |sc| starts_logged(sc) > 0);
    assert_eq!(
        10 - count(&stepped, "not started"),
        1,
        "one step, one thread started:\n{stepped}"
    );
    assert_eq!(starts_logged(&stepped), 1, "{stepped}");
    assert!(viewing(&stepped).is_some_and(|t| t > 0), "{stepped}");

    // s goes to the selected thread's next event.
    s.keys("s");
    s.wait_for("worker-9 started", |sc| {
        lane(sc, "worker-9").is_some_and(|l| l != "not started")
    });

    // Scrubbing back a cell goes to before worker-9 started.
    s.keys("\x1b[D");
    s.wait_for("worker-9 not started again", |sc| {
        lane(sc, "worker-9").as_deref() == Some("not started")
    });

    // Played at a quarter speed, the cursor moves on by itself; paused, it stays put.
    s.keys("---");
    let slow = s.wait_for("a quarter speed", |sc| header_says(sc, " 0.25× "));
    let from = viewing(&slow).expect("still looking back");
    s.keys(" ");
    s.wait_for("the replay to move", |sc| {
        viewing(sc).is_some_and(|t| t > from + 20_000_000)
    });
    s.keys(" ");
    let paused = s.wait_still("the pause", Duration::from_millis(600));
    assert!(
        viewing(&paused).is_some(),
        "paused before the end:\n{paused}"
    );

    // Played at full speed it runs to the end of the recording, every worker done, and stops.
    s.keys("+++++++");
    s.wait_for("full speed", |sc| header_says(sc, " 4× "));
    s.keys(" ");
    s.wait_for("the end of the recording", |sc| {
        viewing(sc).is_none() && count(sc, "DONE") == 10
    });

    // Back a cell from the end, the last worker is not done yet; Home is the start again.
    s.keys("\x1b[D");
    let before_end = s.wait_for("a step back from the end", |sc| viewing(sc).is_some());
    assert!(count(&before_end, "DONE") < 10, "{before_end}");
    s.keys("\x1b[H");
    s.wait_for("the start again", |sc| {
        viewing(sc) == Some(0) && count(sc, "not started") == 10
    });

    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();
}

#[test]
fn a_damaged_recording_is_refused_with_a_message_and_the_terminal_left_as_it_was() {
    let source = scratch_dir("bad-replay-source");
    let good = source.join("deadlock.json");
    let deadlock = ["deadlock", "--speed", "4", "--schedule", "T1,T2"];
    record(&source, &deadlock, &good, 3);
    let text = std::fs::read_to_string(&good).unwrap();
    let _ = std::fs::remove_dir_all(&source);
    // Cut between characters: the lesson's text has Chinese in it, and a cut inside a
    // character is another mistake (not UTF-8) with a message of its own.
    let half = (0..=text.len() / 2)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap();
    let text = text.as_bytes();
    let garbage: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\xff\xfe{\"format\"";

    for (tag, bytes, says) in [
        (
            "truncated",
            &text[..half],
            "not a readable threadlab recording",
        ),
        ("garbage", garbage, "cannot read the recording"),
    ] {
        // Each session removes its directory when it ends.
        let dir = scratch_dir(&format!("bad-replay-{tag}"));
        let name = format!("{tag}.json");
        std::fs::write(dir.join(&name), bytes).unwrap();
        let mut s = Session::start(&["replay", &name], &dir);
        assert_eq!(s.wait_exit(), 2, "{name}");
        s.assert_restored();
        let screen = s.screen();
        assert!(screen.contains(says), "{name}:\n{screen}");
        assert!(
            screen.contains(&name),
            "the message names the file:\n{screen}"
        );
        assert!(screen.contains("help:"), "{name}:\n{screen}");
        assert!(!screen.contains("panicked"), "{name}:\n{screen}");
    }
}

/// Reads the screen for `span` and returns every distinct screen seen, in order.
fn screens_during(s: &mut Session, span: Duration) -> Vec<String> {
    let mut seen = vec![s.screen()];
    let until = Instant::now() + span;
    while Instant::now() < until {
        s.pump(Duration::from_millis(20));
        let now = s.screen();
        if seen.last() != Some(&now) {
            seen.push(now);
        }
    }
    seen
}

#[test]
fn started_paused_nothing_moves_until_space_and_a_paused_restart_stays_at_zero() {
    let dir = scratch_dir("paused");
    let mut s = Session::start(&["run", "independent.kdl", "--paused"], &dir);
    let first = s.wait_for("the paused start", |sc| {
        header_says(sc, "PAUSED")
            && lane(sc, "A").is_some_and(|l| l.contains("PAUSED"))
            && lane(sc, "B").is_some_and(|l| l.contains("PAUSED"))
            && starts_logged(sc) == 2
    });
    assert_eq!(run_time(&first), Some(0.0), "{first}");
    // Nothing moves: the clock stays at 0 and no lane changes, however long we look.
    let seen = screens_during(&mut s, Duration::from_millis(800));
    let last = seen.last().unwrap();
    assert_eq!(run_time(last), Some(0.0), "{last}");
    for t in ["A", "B"] {
        assert_eq!(
            lane(last, t),
            lane(&first, t),
            "{t} moved while paused:\n{last}"
        );
    }
    assert_eq!(starts_logged(last), starts_logged(&first));

    // Space lets it go.
    s.keys(" ");
    s.wait_for("the run to move", |sc| {
        header_says(sc, "RUNNING") && run_time(sc).is_some_and(|t| t > 0.05)
    });

    // Paused again, a restart is a fresh run that waits at 0s.
    s.keys(" ");
    s.wait_for("the pause", |sc| header_says(sc, "PAUSED"));
    s.keys("r");
    s.wait_for("the restart, paused at 0s", |sc| {
        header_says(sc, "PAUSED") && run_time(sc) == Some(0.0)
    });
    let seen = screens_during(&mut s, Duration::from_millis(500));
    assert_eq!(run_time(seen.last().unwrap()), Some(0.0));

    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();
}

/// At 1 ms a cell (the zoom its 2 ms steps choose) its 0.3 s does not fit in the lanes.
const LONGER_THAN_THE_LANES: &str = r#"title "Longer than the lanes"
about "One short burst, a long sleep, one more burst."

thread A {
    work "2ms"
    sleep "300ms"
    work "2ms"
}
"#;

#[test]
fn at_done_the_whole_run_is_on_the_axis() {
    let dir = scratch_dir("fit");
    std::fs::write(dir.join("longer.kdl"), LONGER_THAN_THE_LANES).unwrap();
    let mut s = Session::start(&["run", "longer.kdl"], &dir);
    let done = s.wait_for("the end of the run", |sc| header_says(sc, "DONE"));
    let screen = s.wait_still("the fitted lanes", Duration::from_millis(300));
    // The axis starts at the run's start: the first event's time is on it...
    let axis = screen
        .lines()
        .find(|l| l.contains("/cell"))
        .unwrap_or_else(|| panic!("no axis:\n{done}"));
    let labels: Vec<&str> = axis
        .split(['╵', '─', '│'])
        .map(str::trim)
        .filter(|w| !w.is_empty() && !w.ends_with("/cell"))
        .collect();
    assert_eq!(labels.first(), Some(&"0s"), "{axis}");
    // ...and A's lane is drawn from there: from the cell of the time the log says it started.
    let per_s = axis
        .split_whitespace()
        .find_map(|w| w.strip_suffix("/cell"))
        .and_then(|p| match p.strip_suffix("ms") {
            Some(ms) => ms.parse::<f64>().ok().map(|x| x / 1e3),
            None => p.strip_suffix('s')?.parse::<f64>().ok(),
        })
        .unwrap_or_else(|| panic!("no time per cell: {axis}"));
    let started = screen
        .lines()
        .flat_map(|l| l.split('│'))
        .find(|seg| seg.contains("A started"))
        .and_then(|seg| {
            seg.split_whitespace()
                .next()?
                .strip_suffix('s')?
                .parse::<f64>()
                .ok()
        })
        .unwrap_or_else(|| panic!("the log does not say when A started:\n{screen}"));
    let row = screen
        .lines()
        .find(|l| l.contains(" A ") && l.contains("DONE"))
        .unwrap_or_else(|| panic!("no lane for A:\n{screen}"));
    let cells = row.split('│').nth(2).unwrap_or("");
    let first_drawn = cells
        .chars()
        .position(|c| c != ' ')
        .unwrap_or_else(|| panic!("A's lane is empty: {row}"));
    assert!(
        first_drawn as f64 <= (started / per_s).floor() + 1.0,
        "A started at {started}s, {per_s}s a cell, but its lane begins at cell {first_drawn}:\n{screen}"
    );
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
}

/// Producers and consumers that run on for seconds, producers holding many puts in hand.
const FLOW: &str = r#"title "Flow"
buffer q capacity=1000

thread P count=2 {
    repeat 40 {
        repeat 250 {
            put q
        }
        sleep "20ms"
    }
}

thread C count=2 {
    repeat 10000 {
        take q
    }
}
"#;

#[test]
fn quitting_mid_run_writes_every_event_to_the_events_file_and_the_recording_in_order() {
    let dir = scratch_dir("quit-events");
    std::fs::write(dir.join("flow.kdl"), FLOW).unwrap();
    let (events, recording) = (dir.join("events.jsonl"), dir.join("run.json"));
    let mut s = Session::start(
        &[
            "run",
            "flow.kdl",
            "--events",
            events.to_str().unwrap(),
            "--record",
            recording.to_str().unwrap(),
        ],
        &dir,
    );
    s.wait_for("the flow running", |sc| {
        header_says(sc, "RUNNING") && run_time(sc).is_some_and(|t| t > 0.2)
    });
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();

    let text = std::fs::read_to_string(&events).expect("events file written");
    let lines: Vec<threadlab::vocab::event::EventRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines.windows(2).all(|w| w[0].t_us <= w[1].t_us),
        "out of time order"
    );
    let mut put = std::collections::HashSet::new();
    for e in &lines {
        match e.event {
            threadlab::vocab::event::EventKind::Put => {
                put.insert(e.item);
            }
            threadlab::vocab::event::EventKind::Take => {
                assert!(put.contains(&e.item), "{e:?} was never put")
            }
            _ => {}
        }
    }
    let rec =
        threadlab::vocab::recording::Recording::load(&recording).expect("the recording loads");
    assert_eq!(
        rec.events.len() as u64 + rec.dropped_events,
        lines.len() as u64,
        "the recording and the events file hold different runs"
    );
}

/// `--break-on B` pauses the run the moment B changes hands, and says so; `e` then lets the
/// whole run go on to its next event and pauses there.
#[test]
fn a_breakpoint_pauses_at_its_event_and_e_steps_to_the_next_event() {
    let dir = scratch_dir("break");
    let mut s = Session::start(&["run", "deadlock", "--paused", "--break-on", "B"], &dir);
    s.wait_for("the paused start", |sc| {
        header_says(sc, "PAUSED") && run_time(sc) == Some(0.0)
    });
    s.keys(" ");
    let hit = s.wait_for("the breakpoint", |sc| {
        header_says(sc, "PAUSED") && sc.contains("paused at a breakpoint")
    });
    let notice = hit
        .lines()
        .find(|l| l.contains("paused at a breakpoint"))
        .unwrap();
    assert!(notice.contains(" B"), "{notice}");
    // Nothing moves at a breakpoint until someone lets it.
    let at = run_time(&hit);
    let seen = screens_during(&mut s, Duration::from_millis(300));
    assert_eq!(run_time(seen.last().unwrap()), at);

    s.keys("e");
    let next = s.wait_for("the next event", |sc| {
        header_says(sc, "PAUSED") && sc.contains("next event:")
    });
    assert!(run_time(&next) >= at, "{next}");

    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();
}

/// A teacher edits the lesson in one pane while it runs in another: the run view says the file
/// changed, `r` restarts with what is on disk, and a mistake in the file is shown with where it
/// is, while the version on screen keeps running.
#[test]
fn an_edited_scenario_is_offered_and_r_restarts_with_what_is_on_disk() {
    let dir = scratch_dir("reload");
    let file = dir.join("lesson.kdl");
    let one = "title \"Edited live\"\nabout \"x\"\n\nthread A {\n    work \"5ms\"\n}\n";
    std::fs::write(&file, one).unwrap();
    let mut s = Session::start(&["run", "lesson.kdl", "--paused"], &dir);
    s.wait_for("the paused start", |sc| {
        header_says(sc, "PAUSED") && lane(sc, "A").is_some()
    });
    assert!(lane(&s.screen(), "B").is_none());

    let two = format!("{one}\nthread B {{\n    sleep \"5ms\"\n}}\n");
    std::fs::write(&file, two).unwrap();
    s.wait_text("changed on disk");
    s.keys("r");
    s.wait_for("the new thread after the restart", |sc| {
        lane(sc, "B").is_some() && lane(sc, "A").is_some()
    });

    std::fs::write(&file, "title \"Edited live\"\nthread A {\n    lok A\n}\n").unwrap();
    let broken = s.wait_text("has a mistake");
    assert!(broken.contains("lesson.kdl:3:5"), "{broken}");
    s.keys("r");
    let kept = s.wait_text("version on screen runs again");
    assert!(lane(&kept, "B").is_some(), "{kept}");

    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();
}

const THREE_FOR_ONE_LOCK: &str = r#"title "Three threads, one lock"
about "T1 holds M while T2 and T3 queue for it."

mutex M
event held

// T2 and T3 come for M once T1 holds it (however late the machine starts T1), and T1 works
// long enough for both to queue.
thread T1 {
    lock M
    set held
    work "1s"
    unlock M
}

thread T2 {
    wait held
    lock M
    unlock M
}

thread T3 {
    wait held
    sleep "10ms"
    lock M
    unlock M
}
"#;

/// `--quiz`: the run pauses when a second thread queues for the taken lock and asks who gets
/// it; the class's guess is a thread's number; space lets the run go on to the hand-over,
/// which says whether the guess held, and the header keeps the score.
#[test]
fn the_quiz_asks_takes_a_guess_and_reveals() {
    let dir = scratch_dir("quiz");
    std::fs::write(dir.join("three.kdl"), THREE_FOR_ONE_LOCK).unwrap();
    let mut s = Session::start(&["run", "three.kdl", "--quiz"], &dir);
    // The question names the waiters in the order they queued; the lock hands over in
    // arrival order, so the first named gets it. Read only from a screen whose list is whole
    // (a frame may be read half drawn).
    let first_named = |sc: &str| {
        sc.split("Waiting: ")
            .nth(1)
            .and_then(|rest| rest.split([',', ' ']).next())
            .map(str::trim)
            .filter(|name| ["T2", "T3"].contains(name))
            .map(str::to_string)
    };
    let asked = s.wait_for("the question", |sc| {
        header_says(sc, "PAUSED") && sc.contains("who gets M next?") && first_named(sc).is_some()
    });
    assert!(header_says(&asked, "quiz 0/0"), "{asked}");
    let first = first_named(&asked).expect("the question names the waiters");
    let number = if first == "T2" { "2" } else { "3" };
    s.keys(number);
    s.wait_text(&format!("the class says {first}"));
    s.keys(" ");
    let told = s.wait_for("the answer", |sc| {
        header_says(sc, "PAUSED") && sc.contains("got M")
    });
    assert!(
        told.contains(&format!("{first} got M")) && told.contains("right!"),
        "{told}"
    );
    assert!(header_says(&told, "quiz 1/1"), "{told}");
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();
}

/// A real Python program traced in the terminal: lanes named by its threads, the deadlock
/// banner naming its locks, pause and restart, and quit giving the terminal back with no
/// interpreter left.
#[test]
fn a_traced_python_program_is_drawn_live_paused_restarted_and_quit() {
    let dir = scratch_dir("trace");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/py/deadlock.py");
    let mut s = Session::start(&["trace", script.to_str().unwrap()], &dir);
    s.wait_for("the deadlock banner", |s| {
        s.contains("knife") && s.contains("DEADLOCK")
    });
    let screen = s.wait_still("the deadlocked run", Duration::from_millis(300));
    assert!(
        lane(&screen, "left").is_some_and(|l| l.contains("knife"))
            && lane(&screen, "right").is_some_and(|l| l.contains("fork")),
        "{screen}"
    );
    assert!(
        screen.contains("left waits for knife held by right"),
        "{screen}"
    );
    // Each lane's marker is on its Python line.
    assert!(
        screen
            .lines()
            .any(|l| l.contains("13 ▶") && l.contains("left")),
        "{screen}"
    );
    s.keys("r");
    s.wait_for("a fresh run", |s| !s.contains("DEADLOCK"));
    s.wait_text("DEADLOCK");
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);

    // A program that never ends: space holds it, and its count stops.
    let counted = dir.join("count");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/py/progress.py");
    let mut s = Session::start(
        &["trace", script.to_str().unwrap(), counted.to_str().unwrap()],
        &dir,
    );
    let count = || {
        std::fs::read_to_string(&counted)
            .ok()
            .and_then(|c| c.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    s.wait_for("the program counting", |_| count() > 0);
    s.keys(" ");
    s.wait_for("paused", |sc| header_says(sc, "PAUSED"));
    s.wait_still("held", Duration::from_millis(300));
    let held = count();
    s.wait_still("still held", Duration::from_millis(300));
    assert_eq!(count(), held);
    s.keys(" ");
    s.wait_for("counting again", |_| count() > held);
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);

    // --paused: held at the first traced operation, before the first count.
    std::fs::remove_file(&counted).ok();
    let mut s = Session::start(
        &[
            "trace",
            script.to_str().unwrap(),
            "--paused",
            counted.to_str().unwrap(),
        ],
        &dir,
    );
    s.wait_for("held at the start", |sc| {
        header_says(sc, "PAUSED") && sc.contains("MainThread")
    });
    s.wait_still("held", Duration::from_millis(300));
    assert_eq!(count(), 0);
    s.keys(" ");
    s.wait_for("counting", |_| count() > 0);
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
}

/// Worker processes that compute long enough to be caught in the act.
const LONG_PROCESSES: &str = r#"title "Two worker processes"
about "Each computes in a process of its own for a while."

process worker count=2 {
    thread main {
        repeat 100 {
            work "100ms"
        }
    }
}
"#;

/// Children of `parent` once there are `n` of them (bounded).
fn children(parent: u32, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let kids = common::children_of(parent);
        if kids.len() >= n {
            return kids;
        }
        assert!(
            Instant::now() < deadline,
            "no {n} child processes of {parent}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn restart_quit_sigterm_and_ctrl_c_leave_no_child_process() {
    for how in ["quit", "TERM", "ctrl-c"] {
        let dir = scratch_dir(&format!("processes-{how}"));
        std::fs::write(dir.join("long.kdl"), LONG_PROCESSES).unwrap();
        let mut s = Session::start(&["run", "long.kdl"], &dir);
        s.wait_text("RUNNING");
        let pid = s.child.process_id().expect("a pid");
        let first = children(pid, 2);
        // Each process's lanes say which OS process they run in.
        s.wait_text(&format!("pid {}", first[0]));
        // A restart ends the run's processes and starts new ones.
        s.keys("r");
        common::wait_gone(&first);
        let deadline = Instant::now() + PATIENCE;
        let second: Vec<u32> = loop {
            assert!(
                Instant::now() < deadline,
                "the restart started no processes"
            );
            s.pump(Duration::from_millis(20));
            let kids = common::children_of(pid);
            if kids.len() >= 2 && kids.iter().all(|k| !first.contains(k)) {
                break kids;
            }
        };
        match how {
            "quit" => s.keys("q"),
            "ctrl-c" => s.keys("\x03"),
            _ => {
                let status = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .unwrap();
                assert!(status.success());
            }
        }
        s.wait_exit();
        s.assert_restored();
        common::wait_gone(&second);
    }
}

/// A `.py` in ./scenarios is listed beside the scenario files as a Python program; Enter runs
/// it traced. Without a usable python3 the menu says so, and stays.
#[test]
fn a_python_program_in_the_menu_opens_traced_or_says_why_not() {
    let dir = scratch_dir("menu-py");
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/py/deadlock.py");
    std::fs::copy(&script, dir.join("scenarios/deadlock.py")).unwrap();
    let mut s = Session::start(&[], &dir);
    s.wait_text("Enter open");
    // The program is the last entry, under "Your files".
    s.keys("\x1b[F");
    s.wait_for("the program listed as Python", |screen| {
        screen.contains("Enter to run it traced")
            && screen
                .lines()
                .any(|l| l.contains("deadlock.py") && l.contains("Python"))
    });
    s.keys("\r");
    s.wait_for("the deadlock banner", |s| {
        s.contains("knife") && s.contains("DEADLOCK")
    });
    s.keys("\x1b");
    s.wait_text("Enter to run it traced");
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();

    let dir = scratch_dir("menu-no-py");
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::copy(&script, dir.join("scenarios/deadlock.py")).unwrap();
    let mut s = Session::start_with(&[], &dir, &[("THREADLAB_PYTHON", "no-such-python3")]);
    s.wait_text("Enter open");
    s.keys("\x1b[F");
    s.wait_text("Enter to run it traced");
    s.keys("\r");
    let screen = s.wait_text("no-such-python3");
    assert!(screen.contains("THREADLAB_PYTHON"), "{screen}");
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();
}

/// Each run's clock in the compare view, from its title line (` 1  Title …  PAUSED  0.000s`),
/// top run first.
fn half_clocks(screen: &str) -> Vec<f64> {
    screen
        .lines()
        .filter(|l| l.starts_with(" 1  ") || l.starts_with(" 2  "))
        .filter_map(|l| l.split_whitespace().last()?.strip_suffix('s')?.parse().ok())
        .collect()
}

/// Each run's state word in the compare view (`PAUSED`, `RUNNING`, `DONE`, `DEADLOCK`).
fn half_states(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter(|l| l.starts_with(" 1  ") || l.starts_with(" 2  "))
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            Some(words.get(words.len().checked_sub(2)?)?.to_string())
        })
        .collect()
}

#[test]
fn compare_shows_both_runs_paused_together_stepped_together_and_restarted_together() {
    let dir = scratch_dir("compare");
    std::fs::write(
        dir.join("second.kdl"),
        INDEPENDENT.replace("thread B", "thread C"),
    )
    .unwrap();
    let mut s = Session::start(
        &["compare", "independent.kdl", "second.kdl", "--paused"],
        &dir,
    );
    // Both runs are on screen: both titles, both runs' lanes, and both held at 0s.
    let first = s.wait_for("both runs, paused at 0s", |sc| {
        half_states(sc) == ["PAUSED", "PAUSED"]
            && lane(sc, "B").is_some()
            && lane(sc, "C").is_some()
    });
    assert_eq!(
        first.matches("Two independent threads").count(),
        2,
        "{first}"
    );
    assert_eq!(half_clocks(&first), [0.0, 0.0], "{first}");
    // Nothing moves until space.
    let seen = screens_during(&mut s, Duration::from_millis(600));
    assert_eq!(half_clocks(seen.last().unwrap()), [0.0, 0.0]);

    // Space lets both go.
    s.keys(" ");
    s.wait_for("both runs to move", |sc| {
        half_states(sc) == ["RUNNING", "RUNNING"] && half_clocks(sc).iter().all(|t| *t > 0.1)
    });

    // Space holds both: their clocks stop, and stay stopped.
    s.keys(" ");
    let held = s.wait_for("both runs to pause", |sc| {
        half_states(sc) == ["PAUSED", "PAUSED"]
    });
    let at = half_clocks(&s.wait_still("the paused screen", Duration::from_millis(300)));
    assert_eq!(at.len(), 2, "{held}");
    let seen = screens_during(&mut s, Duration::from_millis(600));
    assert_eq!(
        half_clocks(seen.last().unwrap()),
        at,
        "a clock moved while paused"
    );
    // One time axis: the two clocks were let go and held together.
    assert!((at[0] - at[1]).abs() < 0.1, "clocks apart: {at:?}");

    // e: both run on to the next event of either and pause there, together.
    s.keys("e");
    let stepped = s.wait_for("a step by event", |sc| {
        half_states(sc) == ["PAUSED", "PAUSED"] && sc.contains("next event:")
    });
    let after = half_clocks(&stepped);
    assert!(
        after.iter().zip(&at).all(|(a, b)| a >= b),
        "{after:?} after {at:?}"
    );
    // The run that reached its event held the other at once: they stand together.
    assert!((after[0] - after[1]).abs() < 0.1, "clocks apart: {after:?}");
    let seen = screens_during(&mut s, Duration::from_millis(400));
    assert_eq!(
        half_clocks(seen.last().unwrap()),
        after,
        "a clock moved after the step"
    );

    // r restarts both; paused, they stay paused at 0s.
    s.keys("r");
    s.wait_for("both restarted at 0s", |sc| {
        half_states(sc) == ["PAUSED", "PAUSED"] && half_clocks(sc) == [0.0, 0.0]
    });
    let seen = screens_during(&mut s, Duration::from_millis(400));
    assert_eq!(half_clocks(seen.last().unwrap()), [0.0, 0.0]);

    // s: one step in each run, and both are held again once it is over.
    s.keys("s");
    s.wait_for("a step in each run", |sc| {
        half_states(sc) == ["PAUSED", "PAUSED"] && half_clocks(sc).iter().all(|t| *t > 0.0)
    });

    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();
}

/// From the menu, without the command line: `c` on the first lesson, Enter on the second opens
/// both compared; Esc gives the screen back to the menu.
#[test]
fn the_menu_opens_two_lessons_compared_and_esc_comes_back() {
    let dir = scratch_dir("compare-menu");
    let mut s = Session::start(&[], &dir);
    s.wait_text("pick a scenario");
    // The first entry is the deadlock lesson; the one after it fixes its lock order.
    s.keys("c");
    s.wait_text("compare deadlock with");
    s.keys("jp");
    let both = s.wait_for("both lessons compared, paused", |sc| {
        half_states(sc) == ["PAUSED", "PAUSED"]
    });
    assert!(
        both.contains("Deadlock:") && both.contains("Fixed lock order"),
        "{both}"
    );
    assert_eq!(half_clocks(&both), [0.0, 0.0], "{both}");
    s.keys("\x1b");
    s.wait_text("pick a scenario");
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();
}

/// A deadlock in one compared run pauses the other at the same moment, so the two stay on one
/// time axis; the notice says which run is stuck, and space lets the other go on alone.
#[test]
fn a_deadlock_in_one_compared_run_pauses_the_other_and_space_lets_it_go_on() {
    let dir = scratch_dir("compare-deadlock");
    // Far longer than the deadlock lesson takes to deadlock, however busy the machine.
    std::fs::write(
        dir.join("long.kdl"),
        INDEPENDENT.replace("repeat 30", "repeat 300"),
    )
    .unwrap();
    let mut s = Session::start(&["compare", "deadlock", "long.kdl"], &dir);
    let stuck = s.wait_for(
        "run 1 deadlocked, run 2 paused with it, and the notice",
        |sc| {
            half_states(sc) == ["DEADLOCK", "PAUSED"]
                && sc.contains("run 1 deadlocked at")
                && sc.contains("Space: run 2 goes on")
        },
    );
    let held = half_clocks(&s.wait_still("both runs standing", Duration::from_millis(300)));
    assert_eq!(held.len(), 2, "{stuck}");
    assert!((held[0] - held[1]).abs() < 0.1, "clocks apart: {held:?}");
    let seen = screens_during(&mut s, Duration::from_millis(500));
    let last = seen.last().unwrap();
    assert_eq!(half_clocks(last), held, "a clock moved:\n{last}");
    assert_eq!(half_states(last), ["DEADLOCK", "PAUSED"]);

    // Space: the live run goes on alone; the deadlocked one stays where it stopped.
    s.keys(" ");
    // (A frame may reach the screen in pieces: the footer, drawn last, is waited for too.)
    let moved = s.wait_for("run 2 to go on, and the notice to go with the key", |sc| {
        half_states(sc) == ["DEADLOCK", "RUNNING"]
            && half_clocks(sc).get(1).is_some_and(|t| *t > held[1])
            && !sc.contains("run 1 deadlocked at")
    });
    assert_eq!(half_clocks(&moved)[0], held[0], "{moved}");

    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();
}

/// Every cell's colours on the screen: (foreground, background).
fn colours(s: &Session) -> Vec<(vt100::Color, vt100::Color)> {
    let screen = s.parser.screen();
    (0..ROWS)
        .flat_map(|r| (0..COLS).map(move |c| (r, c)))
        .filter_map(|(r, c)| screen.cell(r, c))
        .map(|cell| (cell.fgcolor(), cell.bgcolor()))
        .collect()
}

/// `--theme` picks the look of the run and compare views, and wins over NO_COLOR: mono draws
/// no colour at all, light brings its white page even where NO_COLOR is set.
#[test]
fn the_theme_asked_for_is_the_theme_drawn() {
    // Mono asked for, and mono because NO_COLOR is set: not one coloured cell.
    for (tag, args, env) in [
        ("theme-mono", &["--theme", "mono"][..], &[][..]),
        ("theme-no-color", &[][..], &[("NO_COLOR", "1")][..]),
    ] {
        let dir = scratch_dir(tag);
        let mut s = Session::start_with(
            &[&["run", "independent.kdl", "--paused"][..], args].concat(),
            &dir,
            env,
        );
        s.wait_for("the paused start", |sc| {
            header_says(sc, "PAUSED") && lane(sc, "B").is_some()
        });
        s.wait_still("the whole frame", Duration::from_millis(200));
        let coloured: Vec<_> = colours(&s)
            .into_iter()
            .filter(|&c| c != (vt100::Color::Default, vt100::Color::Default))
            .collect();
        assert!(coloured.is_empty(), "{tag} drew colours: {coloured:?}");
        s.keys("q");
        assert_eq!(s.wait_exit(), 0);
    }

    let dir = scratch_dir("theme-light");
    std::fs::write(
        dir.join("second.kdl"),
        INDEPENDENT.replace("thread B", "thread C"),
    )
    .unwrap();
    let mut s = Session::start_with(
        &[
            "compare",
            "independent.kdl",
            "second.kdl",
            "--paused",
            "--theme",
            "light",
        ],
        &dir,
        &[("NO_COLOR", "1")],
    );
    s.wait_for("both runs, paused", |sc| {
        half_states(sc) == ["PAUSED", "PAUSED"] && lane(sc, "C").is_some()
    });
    s.wait_still("the whole frame", Duration::from_millis(200));
    let page = vt100::Color::Idx(231);
    let all = colours(&s);
    let on_page = all.iter().filter(|(_, bg)| *bg == page).count();
    assert!(
        on_page * 2 > all.len(),
        "the light page covers {on_page} of {} cells",
        all.len()
    );
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    s.assert_restored();
}

/// A theme that does not exist is refused before anything starts, naming the ones that do.
#[test]
fn an_unknown_theme_is_refused_with_the_names_there_are() {
    for lang in ["en", "zh"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_threadlab"))
            .args(["--lang", lang, "run", "deadlock", "--theme", "neon"])
            .stdin(Stdio::null())
            .output()
            .expect("threadlab runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("'neon'") && err.contains("--theme"), "{err}");
        assert!(err.contains("dark, light, mono"), "{err}");
        assert!(out.stdout.is_empty(), "nothing ran");
    }
}

/// `trace --record FILE` in the terminal saves the run on screen when the view closes, and
/// `replay FILE` opens it with the program's lanes and source.
#[test]
fn a_traced_run_recorded_in_the_terminal_replays() {
    let dir = scratch_dir("trace-record");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/py/deadlock.py");
    let rec = dir.join("deadlock.json");
    let mut s = Session::start(
        &[
            "trace",
            script.to_str().unwrap(),
            "--record",
            rec.to_str().unwrap(),
        ],
        &dir,
    );
    s.wait_for("the deadlock banner", |s| {
        s.contains("knife") && s.contains("DEADLOCK")
    });
    s.keys("q");
    assert_eq!(s.wait_exit(), 0);
    let loaded = threadlab::vocab::recording::Recording::load(&rec).expect("a recording");
    assert_eq!(loaded.outcome, Some(threadlab::vocab::Outcome::Deadlock));
    let mut r = Session::start(&["replay", rec.to_str().unwrap()], &dir);
    r.wait_for("the recorded lanes and the script", |s| {
        s.contains("left") && s.contains("right") && s.contains("both_hold.wait()")
    });
    r.keys("q");
    assert_eq!(r.wait_exit(), 0);
    r.assert_restored();
}

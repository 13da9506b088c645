//! The live loop: terminal events, signals and a frame tick in one `select!`, the engine polled
//! and drained into the trace, the screen redrawn only when something changed.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ratatui::crossterm::event::{
    Event as TermEvent, EventStream, KeyEventKind, MouseButton, MouseEventKind,
};
use ratatui::crossterm::{queue, terminal};
use ratatui::layout::{Position, Rect};
use tokio::signal::unix::{SignalKind, signal};

use crate::engine::Phase;
use crate::scenario::model::{Scenario, ThreadIdx};
use crate::session::{RunPlan, Session};
use crate::ui::app::{App, DIAGNOSTIC_WIDTH, Effect, Live, Menu, MenuEntry, MenuScenario, Screen};
use crate::ui::keys::{self, Action, Context};
use crate::ui::terminal::{TerminalGuard, Tui};
use crate::ui::theme::Theme;
use crate::ui::view;
use crate::ui::watching::Watched;
use crate::vocab::event::{Event, EventKind};
use crate::vocab::outcome::Exit;
use crate::watch::child::Spawn;

/// At most this often while something moves (~30 fps).
const FRAME: Duration = Duration::from_millis(33);
/// The least time between two frames, however fast input arrives.
const MIN_GAP: Duration = Duration::from_millis(10);
/// Polls to keep going after the last change, so a pause or a step settles on screen.
const SETTLE: u8 = 6;

/// The menu: built-in scenarios, every `*.kdl` in `./scenarios`, and `extra_files`.
pub fn run_menu(extra_files: &[PathBuf], ascii: bool) -> Exit {
    if let Some(code) = refuse_without_terminal() {
        return code;
    }
    let app = App::new(
        Menu {
            entries: menu_entries(extra_files),
            selected: 0,
        },
        Theme::from_env(ascii),
    );
    run_app(app, Control::default())
}

/// Straight into the run view for `scenario`, honouring `--speed`, `--schedule` (start paused,
/// step those threads in order, then run), `--for` (pause when run time reaches it) and
/// `--events` (write every event as JSON Lines).
pub fn run_scenario(scenario: Arc<Scenario>, args: &RunPlan, ascii: bool) -> Exit {
    run_scenario_recording(scenario, args, ascii, None, false)
}

/// [`run_scenario`], saving the run on screen when the view closes to `record` (`--record`),
/// and, if `paused` (`--paused`), starting paused at 0s: nothing moves until space or a step.
pub fn run_scenario_recording(
    scenario: Arc<Scenario>,
    args: &RunPlan,
    ascii: bool,
    record: Option<PathBuf>,
    paused: bool,
) -> Exit {
    if let Some(code) = refuse_without_terminal() {
        return code;
    }
    let session = match Session::start(scenario.clone(), args, paused) {
        Ok(session) => session,
        Err(e) => {
            crate::console::errln(&e.to_string());
            return Exit::Usage;
        }
    };
    let inputs: Vec<&std::path::Path> = crate::scenario::input_file(&args.scenario)
        .into_iter()
        .collect();
    let record = record.map(|path| (path, inputs.iter().map(|p| p.to_path_buf()).collect()));
    let mut app = App::new(
        Menu {
            entries: menu_entries(&[]),
            selected: 0,
        },
        Theme::from_env(ascii),
    );
    if paused {
        app.open_paused(scenario.clone(), args.speed);
    } else {
        app.open(scenario.clone(), args.speed);
    }
    let control = Control {
        session,
        settle: SETTLE,
        record,
        ..Control::default()
    };
    run_app(app, control)
}

/// `threadlab trace SCRIPT` in the terminal: the program's run view, live, with pause, step
/// and restart holding and rerunning the real program.
pub fn run_trace(spec: Spawn, for_: Option<Duration>, ascii: bool) -> Exit {
    if let Some(code) = refuse_without_terminal() {
        return code;
    }
    let mut watched = match Watched::start(spec, for_) {
        Ok(w) => w,
        Err(e) => {
            crate::console::errln(&format!("error: {}\n  help: {}", e.message, e.help));
            return Exit::Usage;
        }
    };
    let mut app = App::new(
        Menu {
            entries: menu_entries(&[]),
            selected: 0,
        },
        Theme::from_env(ascii),
    );
    watched.open(&mut app);
    let control = Control {
        settle: SETTLE,
        watched: Some(watched),
        ..Control::default()
    };
    run_app(app, control)
}

fn refuse_without_terminal() -> Option<Exit> {
    if io::stdout().is_terminal() && io::stdin().is_terminal() {
        return None;
    }
    crate::console::errln(
        "threadlab: the interactive view needs a terminal, and this is not one.\n  \
         help: `threadlab list` lists the scenarios; `threadlab run NAME --headless` runs one \
         without a terminal",
    );
    Some(Exit::Usage)
}

/// Built-ins first, then `./scenarios/*.kdl` (skipping files that are just a built-in's
/// source), then the paths given. A file that does not load is listed with its diagnostic.
/// The menu heading for scenario files that are not built in.
pub const FILES_GROUP: &str = "menu.your_files";

pub fn menu_entries(extra_files: &[PathBuf]) -> Vec<MenuEntry> {
    menu_entries_from(std::path::Path::new("scenarios"), extra_files)
}

/// [`menu_entries`] with the scenarios of `dir` in place of `./scenarios`.
pub fn menu_entries_from(dir: &std::path::Path, extra_files: &[PathBuf]) -> Vec<MenuEntry> {
    let builtins = crate::scenario::builtin::all();
    let mut entries: Vec<MenuEntry> = builtins
        .iter()
        .map(|b| MenuEntry {
            name: b.name.to_string(),
            group: b.topic.key().to_string(),
            origin: "built-in".into(),
            scenario: MenuScenario::builtin(b),
        })
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    // Read without blocking: a stray named pipe here is listed with its diagnostic below.
    files.retain(|p| {
        let text = crate::files::read_limited(p, crate::scenario::MAX_FILE_BYTES as u64)
            .unwrap_or_default();
        !builtins.iter().any(|b| b.source.as_bytes() == text)
    });
    for path in files.iter().chain(extra_files) {
        entries.push(MenuEntry {
            group: FILES_GROUP.to_string(),
            name: path.file_stem().map_or_else(
                || path.display().to_string(),
                |s| s.to_string_lossy().into(),
            ),
            origin: path.display().to_string(),
            scenario: crate::scenario::load_file(path)
                .map(Arc::new)
                .map_err(|report| crate::scenario::render_plain(report.as_ref(), DIAGNOSTIC_WIDTH))
                .into(),
        });
    }
    entries
}

/// The engine side: the current run and what was asked of it from the command line.
#[derive(Default)]
struct Control {
    session: Session,
    scratch: Vec<Event>,
    settle: u8,
    /// `--record`: where to save the run on screen when the view closes, and the input it
    /// must not overwrite.
    record: Option<(PathBuf, Vec<PathBuf>)>,
    /// A traced Python program, shown in place of an engine run.
    watched: Option<Watched>,
}

/// Opens a recording in the run view: the same views over a trace of the recorded events. Space
/// plays and pauses, `n` steps to the next event (`s` to the selected thread's next event),
/// the history keys scrub, `r` plays again from the start.
pub fn replay(rec: crate::vocab::recording::Recording, ascii: bool) -> Exit {
    if let Some(code) = refuse_without_terminal() {
        return code;
    }
    let mut app = App::new(
        Menu {
            entries: menu_entries(&[]),
            selected: 0,
        },
        Theme::from_env(ascii),
    );
    app.replay(&rec);
    let control = Control::default();
    run_app(app, control)
}

impl Control {
    /// Ends the run shown (if any) and starts `scenario` afresh.
    fn start(&mut self, app: &App, scenario: Arc<Scenario>) {
        let run = app.run.as_ref();
        let speed = run.map_or(1.0, |r| r.live.speed);
        let paused = run.is_some_and(|r| r.paused_start);
        self.session.restart(scenario, speed, paused);
        self.settle = SETTLE;
    }

    /// Pauses (so run time ends here), joins every thread, and takes every event the run
    /// recorded that was not drained yet: into the events file, and into `app` if given. `app`
    /// is given when the view still shows this run (quit, back to the menu), so its last
    /// events are shown and saved with `--record`. What the command line asked of the run
    /// is forgotten.
    fn stop(&mut self, app: Option<&mut App>) {
        // Dropping a traced program kills its interpreter and everything it started.
        self.watched = None;
        self.session.forget_plan();
        if self.session.stop().is_none() {
            return;
        }
        match app {
            Some(app) => {
                self.poll(app);
            }
            None => {
                self.scratch.clear();
                self.session.drain(&mut self.scratch);
            }
        }
        self.session.close();
    }

    fn apply(&mut self, app: &mut App, effect: Effect) {
        self.settle = SETTLE;
        if let Some(w) = &mut self.watched {
            match effect {
                Effect::Stop | Effect::Start(_) => self.watched = None,
                _ => return w.apply(app, effect),
            }
        }
        match effect {
            Effect::Start(s) => {
                self.start(app, s);
            }
            Effect::Stop => self.stop(Some(app)),
            Effect::Restart => {
                // The command line's schedule and limit were for the first run; whether the
                // new one starts paused is the view's to say (`RunState::paused_start`).
                if let Some(s) = app.run.as_ref().map(|r| r.scenario.clone()) {
                    self.start(app, s);
                }
            }
            _ => {
                let Some(run) = self.session.run() else {
                    return;
                };
                match effect {
                    Effect::Pause => run.pause(),
                    Effect::Resume => run.resume(),
                    Effect::SetSpeed(x) => run.set_speed(x),
                    Effect::Step(t) => {
                        if run.phase() == Phase::Running {
                            run.pause();
                        }
                        if let Err(e) = run.step(t) {
                            app.notice(format!("can't step: {e}"));
                        }
                    }
                    Effect::StepNext => {
                        if run.phase() == Phase::Running {
                            run.pause();
                        }
                        if let Err(e) = run.step_next_ready() {
                            app.notice(format!("can't step: {e}"));
                        }
                    }
                    Effect::Start(_) | Effect::Stop | Effect::Restart => {}
                }
            }
        }
    }

    /// Drains the engine into the app; true if anything visible changed.
    fn poll(&mut self, app: &mut App) -> bool {
        if app.replaying() {
            return app.tick_replay();
        }
        if let Some(w) = &mut self.watched {
            let changed = w.poll(app);
            self.settle = if changed {
                SETTLE
            } else {
                self.settle.saturating_sub(1)
            };
            return changed;
        }
        let Some(run) = self.session.run() else {
            return false;
        };
        // How the run stands is read before draining, and a deadlock or an end is shown only
        // once every thread has handed over what it recorded: the banner never comes before
        // the events that led to it.
        let phase = run.phase();
        let settled = run.settled();
        self.scratch.clear();
        self.session.drain(&mut self.scratch);
        self.scratch.sort_by_key(|e| e.t_ns);
        let Some(run) = self.session.run() else {
            return false;
        };
        let phase = match (phase, &app.run) {
            (Phase::Deadlock | Phase::Finished, Some(shown)) if !settled => {
                self.settle = SETTLE;
                shown.live.phase
            }
            _ => phase,
        };
        let failures: Vec<(ThreadIdx, String)> = self
            .scratch
            .iter()
            .filter(|e| e.kind == EventKind::Fail)
            .map(|e| {
                (
                    e.thread,
                    run.failure(e.thread)
                        .unwrap_or_else(|| "failed".to_string()),
                )
            })
            .collect();
        let known_deadlock = app.run.as_ref().and_then(|r| r.live.deadlock.clone());
        // Once every thread has ended, the run's time is the last event's: the clock may run
        // on, but nothing happens any more, and a header that kept counting would both mislead
        // and keep the loop redrawing forever.
        let now_ns = if phase == Phase::Finished {
            let seen = app.run.as_ref().map_or(0, |r| r.trace.end_ns());
            self.scratch.iter().map(|e| e.t_ns).fold(seen, u64::max)
        } else {
            run.now_ns()
        };
        let live = Live {
            phase,
            now_ns,
            speed: run.speed(),
            deadlock: if phase == Phase::Deadlock {
                known_deadlock.or_else(|| run.deadlock())
            } else {
                None
            },
            dropped: run.dropped_events(),
        };
        let changed = !self.scratch.is_empty() || app.run.as_ref().is_none_or(|r| r.live != live);

        // --schedule: one step at a time, each once the last has ended (checked without
        // waiting), then the run goes free.
        if self.session.scheduling() {
            if let Err(e) = self.session.advance_schedule(false) {
                app.notice(e.message);
            }
            self.settle = SETTLE;
        }
        if phase == Phase::Running
            && let Some(limit) = self.session.time_up(live.now_ns)
            && let Some(run) = self.session.run()
        {
            run.pause();
            app.notice(format!("paused: --for {} reached", view::fmt_ns(limit)));
        }

        app.observe(live, &self.scratch, failures);
        if changed {
            self.settle = SETTLE;
        } else {
            self.settle = self.settle.saturating_sub(1);
        }
        changed
    }

    /// Whether the loop should keep ticking: something moves, or may be about to.
    fn animating(&self, app: &App) -> bool {
        if let Some(replay) = app.run.as_ref().and_then(|r| r.replay.as_ref()) {
            return replay.playing;
        }
        if let Some(w) = &self.watched {
            return self.settle > 0 || w.alive();
        }
        let Some(run) = self.session.run() else {
            return false;
        };
        self.settle > 0
            || self.session.scheduling()
            || matches!(run.phase(), Phase::Running | Phase::Stepping(_))
    }
}

fn run_app(mut app: App, mut control: Control) -> Exit {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::console::errln(&format!("threadlab: cannot start the UI: {e}"));
            return Exit::Failed;
        }
    };
    let mut guard = match TerminalGuard::init() {
        Ok(g) => g,
        Err(e) => {
            crate::console::errln(&format!("threadlab: cannot take over the terminal: {e}"));
            return Exit::Failed;
        }
    };
    let result = runtime.block_on(event_loop(&mut guard.terminal, &mut app, &mut control));
    control.stop(Some(&mut app));
    let saved = control
        .record
        .as_ref()
        .map(|(path, inputs)| save_recording(&app, path, inputs));
    let events = control.session.finish().map(|e| format!("error: {e}"));
    drop(guard);
    let mut failed = false;
    for e in [saved.and_then(Result::err), events].into_iter().flatten() {
        crate::console::errln(&e);
        failed = true;
    }
    if failed {
        return Exit::Usage;
    }
    match result {
        Ok(exit) => exit,
        Err(e) => {
            crate::console::errln(&format!("threadlab: terminal error: {e}"));
            Exit::Failed
        }
    }
}

fn draw(terminal: &mut Tui, app: &App) -> io::Result<()> {
    // Synchronized update: the terminal shows the frame whole, never half-drawn.
    queue!(terminal.backend_mut(), terminal::BeginSynchronizedUpdate)?;
    terminal.draw(|frame| {
        let area = frame.area();
        view::render(app, area, frame.buffer_mut());
    })?;
    queue!(terminal.backend_mut(), terminal::EndSynchronizedUpdate)?;
    terminal.backend_mut().flush()
}

/// `--record`: the run on screen when the view closed (after a restart, the latest one).
fn save_recording(app: &App, path: &std::path::Path, inputs: &[PathBuf]) -> Result<(), String> {
    let Some(run) = &app.run else {
        return Err("error: nothing to record: no run was open when the view closed".into());
    };
    let finished = run.live.phase == Phase::Finished;
    let deadlock = run.live.deadlock.clone();
    let outcome = (finished || deadlock.is_some() || !run.failures.is_empty()).then(|| {
        crate::vocab::outcome::Outcome::decide(
            !run.failures.is_empty(),
            deadlock.is_some(),
            finished,
        )
    });
    crate::vocab::recording::Recording::from_trace(
        &run.trace,
        run.end_ns(),
        outcome,
        deadlock,
        run.live.dropped,
        run.live.speed,
    )
    .and_then(|rec| {
        let inputs: Vec<&std::path::Path> = inputs.iter().map(PathBuf::as_path).collect();
        rec.save(path, &inputs)
    })
    .map_err(|e| e.to_string())
}

/// What a terminal event means to the app; true if the screen may have changed.
fn handle(app: &mut App, control: &mut Control, event: TermEvent) -> bool {
    let effects = match event {
        TermEvent::Key(key) if key.kind == KeyEventKind::Press => {
            let context = match app.screen {
                Screen::Menu => Context::Menu,
                Screen::Run => Context::Run,
            };
            let action = keys::action_for(&key, context);
            match action {
                Some(action) => app.update(action),
                None if app.help => app.update(Action::Help),
                None => return false,
            }
        }
        TermEvent::Mouse(m) => match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                let hit = view::hit(app, Position::new(m.column, m.row));
                app.click(hit)
            }
            MouseEventKind::ScrollUp => app.update(Action::Up),
            MouseEventKind::ScrollDown => app.update(Action::Down),
            _ => return false,
        },
        TermEvent::Resize(w, h) => {
            app.resize(Rect::new(0, 0, w, h));
            Vec::new()
        }
        TermEvent::FocusGained | TermEvent::FocusLost | TermEvent::Paste(_) | TermEvent::Key(_) => {
            return false;
        }
    };
    for e in effects {
        control.apply(app, e);
    }
    true
}

async fn event_loop(terminal: &mut Tui, app: &mut App, control: &mut Control) -> io::Result<Exit> {
    let mut input = EventStream::new();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let size = terminal.size()?;
    app.resize(Rect::new(0, 0, size.width, size.height));
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    // For the hardening tests: a panic in the UI itself must still give the terminal back.
    let panic_after_first_frame = std::env::var_os("THREADLAB_TEST_UI_PANIC").is_some();
    loop {
        if control.poll(app) {
            dirty = true;
        }
        if app.quit {
            return Ok(Exit::Success);
        }
        // Bursts of input (key repeat) are drawn at most every MIN_GAP: the wake-up below
        // catches the last of them.
        let mut redraw_at = None;
        if dirty {
            match last_draw {
                Some(t) if t.elapsed() < MIN_GAP => redraw_at = Some(t + MIN_GAP),
                _ => {
                    draw(terminal, app)?;
                    last_draw = Some(Instant::now());
                    dirty = false;
                    if panic_after_first_frame {
                        panic!("THREADLAB_TEST_UI_PANIC is set: the UI panics on purpose");
                    }
                }
            }
        }
        // While paused and idle nothing ticks: the loop sleeps until a key or a signal.
        let wake = match (redraw_at, control.animating(app)) {
            (Some(t), _) => Some(t),
            (None, true) => Some(Instant::now() + FRAME),
            (None, false) => None,
        };
        let tick = async {
            match wake {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            // Never poll the EventStream with a throwaway waker (`now_or_never`): it would
            // park its wake-up thread on that waker and the loop would never hear a key again.
            event = input.next() => match event {
                Some(Ok(event)) => dirty |= handle(app, control, event),
                Some(Err(e)) => return Err(e),
                None => return Ok(Exit::Success),
            },
            _ = sigterm.recv() => return Ok(Exit::Signal(15)),
            _ = sighup.recv() => return Ok(Exit::Signal(1)),
            _ = sigint.recv() => return Ok(Exit::Signal(2)),
            _ = tick => {}
        }
    }
}

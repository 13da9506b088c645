//! The UI's loop: terminal events, signals and a frame tick in one `select!`, the engine polled
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

use crate::engine::{Breakpoint, Phase, Run};
use crate::error::Error;
use crate::scenario::model::{ProcIdx, Scenario, ThreadIdx};
use crate::session::{RunPlan, Session, stopped_news};
use crate::ui::app::{App, DIAGNOSTIC_WIDTH, Effect, Live, Menu, MenuEntry, MenuScenario, Screen};
use crate::ui::edits::{self, Edits};
use crate::ui::keys::{self, Action, Context};
use crate::ui::pair::Pair;
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
pub fn run_menu(extra_files: &[PathBuf], theme: Theme) -> Result<Exit, Error> {
    need_terminal()?;
    let mut app = App::new(
        Menu {
            entries: menu_entries(extra_files),
            selected: 0,
        },
        theme,
    );
    app.watch_machine = true;
    let driver = Driver {
        menu_files: extra_files.to_vec(),
        ..Driver::default()
    };
    run_app(app, driver)
}

/// Straight into the run view for `scenario`, honouring `--speed`, `--schedule` (start paused,
/// step those threads in order, then run), `--for` (pause when run time reaches it) and
/// `--events` (write every event as JSON Lines).
pub fn run_scenario(scenario: Arc<Scenario>, args: &RunPlan, theme: Theme) -> Result<Exit, Error> {
    run_scenario_recording(scenario, args, theme, None, false)
}

/// [`run_scenario`], saving the run on screen when the view closes to `record` (`--record`),
/// and, if `paused` (`--paused`), starting paused at 0s: nothing moves until space or a step.
pub fn run_scenario_recording(
    scenario: Arc<Scenario>,
    args: &RunPlan,
    theme: Theme,
    record: Option<PathBuf>,
    paused: bool,
) -> Result<Exit, Error> {
    need_terminal()?;
    let session = Session::start(scenario.clone(), args, paused)?;
    let inputs: Vec<&std::path::Path> = crate::scenario::input_file(&args.scenario)
        .into_iter()
        .collect();
    let record = record.map(|path| (path, inputs.iter().map(|p| p.to_path_buf()).collect()));
    let mut app = App::new(
        Menu {
            entries: menu_entries(&[]),
            selected: 0,
        },
        theme,
    );
    app.watch_machine = true;
    if paused {
        app.open_paused(scenario.clone(), args.speed);
    } else {
        app.open(scenario.clone(), args.speed);
    }
    let driver = Driver {
        session,
        settle: SETTLE,
        record,
        ..Driver::default()
    };
    run_app(app, driver)
}

/// `threadlab trace SCRIPT` in the terminal: the program's run view, live, with pause, step
/// and restart holding and rerunning the real program; saved to `record` when the view closes.
pub fn run_trace(
    spec: Spawn,
    for_: Option<Duration>,
    record: Option<PathBuf>,
    theme: Theme,
) -> Result<Exit, Error> {
    need_terminal()?;
    let spec_script = spec.script.clone();
    let mut watched = Watched::start(spec, for_)
        .map_err(|e| Error::new("trace::start", e.message).help(e.help))?;
    let mut app = App::new(
        Menu {
            entries: menu_entries(&[]),
            selected: 0,
        },
        theme,
    );
    let record = record.map(|path| (path, vec![spec_script.clone()]));
    watched.open(&mut app);
    let driver = Driver {
        settle: SETTLE,
        record,
        watched: Some(watched),
        ..Driver::default()
    };
    run_app(app, driver)
}

fn need_terminal() -> Result<(), Error> {
    if io::stdout().is_terminal() && io::stdin().is_terminal() {
        return Ok(());
    }
    Err(Error::new(
        "usage::no-terminal",
        "the interactive view needs a terminal, and this is not one",
    )
    .help(
        "`threadlab list` lists the scenarios; `threadlab run NAME --headless` runs one \
         without a terminal",
    ))
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
                .filter(|p| p.extension().is_some_and(|x| x == "kdl" || x == "py"))
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
        if is_program(path) {
            let source = crate::files::read_limited(path, crate::scenario::MAX_FILE_BYTES as u64)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .map_err(|e| e.to_string());
            entries.push(MenuEntry {
                group: FILES_GROUP.to_string(),
                name: path.file_name().map_or_else(
                    || path.display().to_string(),
                    |s| s.to_string_lossy().into(),
                ),
                origin: path.display().to_string(),
                scenario: MenuScenario::program(path, source),
            });
            continue;
        }
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

/// Whether the menu lists `path` as a Python program (run traced) rather than a scenario.
fn is_program(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|x| x == "py")
}

/// Drives the run on screen: its session (the engine side), and what was asked of it from the
/// command line.
#[derive(Default)]
struct Driver {
    session: Session,
    scratch: Vec<Event>,
    settle: u8,
    /// `--record`: where to save the run on screen when the view closes, and the input it
    /// must not overwrite.
    record: Option<(PathBuf, Vec<PathBuf>)>,
    /// The files named on the command line for the menu, read again when they change.
    menu_files: Vec<PathBuf>,
    edits: Edits,
    /// A traced Python program, shown in place of an engine run.
    watched: Option<Watched>,
    /// Where programs opened from the menu write their output (never over the view); it is
    /// printed once the view closes.
    program_output: Option<PathBuf>,
    /// Two runs asked for (`compare`, or the menu's compare key), to take the screen next.
    compare: Option<CompareRequest>,
    /// The run's child processes last seen stopped by a signal, with their pids.
    stopped: Vec<(ProcIdx, u32)>,
}

/// Two runs to show side by side, their sessions started and held at 0s.
struct CompareRequest {
    scenarios: [Arc<Scenario>; 2],
    sessions: [Session; 2],
    speed: f64,
    /// Both (and their restarts) stay at 0s until space or a step.
    paused: bool,
}

impl CompareRequest {
    /// Starts both runs held at 0s, to be let go together.
    fn start(
        scenarios: [Arc<Scenario>; 2],
        plans: &[RunPlan; 2],
        paused: bool,
    ) -> Result<CompareRequest, Error> {
        let [a, b] = plans;
        Ok(CompareRequest {
            sessions: [
                Session::start(scenarios[0].clone(), a, true)?,
                Session::start(scenarios[1].clone(), b, true)?,
            ],
            scenarios,
            speed: a.speed,
            paused,
        })
    }
}

/// Opens a recording in the run view: the same views over a trace of the recorded events. Space
/// plays and pauses, `n` steps to the next event (`s` to the selected thread's next event),
/// the history keys scrub, `r` plays again from the start.
pub fn replay(rec: crate::vocab::recording::Recording, theme: Theme) -> Result<Exit, Error> {
    need_terminal()?;
    let mut app = App::new(
        Menu {
            entries: menu_entries(&[]),
            selected: 0,
        },
        theme,
    );
    app.replay(&rec);
    let driver = Driver::default();
    run_app(app, driver)
}

impl Driver {
    /// Drives `session`'s run, which the app shows.
    fn of(session: Session) -> Driver {
        Driver {
            session,
            settle: SETTLE,
            ..Driver::default()
        }
    }

    /// Ends the run shown (if any) and starts `scenario` afresh.
    fn start(&mut self, app: &App, scenario: Arc<Scenario>) {
        let run = app.run.as_ref();
        let speed = run.map_or(1.0, |r| r.live.speed);
        let paused = run.is_some_and(|r| r.paused_start);
        self.session.restart(scenario, speed, paused);
        self.stopped.clear();
        self.settle = SETTLE;
    }

    /// Pauses (so run time ends here), joins every thread, and takes every event the run
    /// recorded that was not drained yet: into the events file, and into `app` if given. `app`
    /// is given when the view still shows this run (quit, back to the menu), so its last
    /// events are shown and saved with `--record`. What the command line asked of the run
    /// is forgotten.
    /// Ends the run shown (if any) and runs the Python program `script` traced; if it cannot
    /// start (no python3, too old), the menu says why.
    fn trace(&mut self, app: &mut App, script: PathBuf, paused: bool) {
        self.stop(Some(app));
        let output = self
            .program_output
            .get_or_insert_with(|| {
                std::env::temp_dir()
                    .join(format!("threadlab-menu-output-{}.txt", std::process::id()))
            })
            .clone();
        let spec = Spawn {
            script,
            args: Vec::new(),
            output: crate::watch::child::Output::File(output),
            paused,
        };
        match Watched::start(spec, None) {
            Ok(mut w) => {
                w.open(app);
                self.watched = Some(w);
            }
            Err(e) => app.program_failed(format!("{}\n\n{}", e.message, e.help)),
        }
    }

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
        if let Effect::Trace { script, paused } = effect {
            return self.trace(app, script, paused);
        }
        if let Some(w) = &mut self.watched {
            match effect {
                Effect::Stop | Effect::Start(_) | Effect::Compare(..) => self.watched = None,
                _ => return w.apply(app, effect),
            }
        }
        match effect {
            Effect::Start(s) => {
                self.start(app, s);
            }
            Effect::Stop => self.stop(Some(app)),
            Effect::Compare(scenarios, paused) => {
                self.stop(Some(app));
                let speed = app.run.as_ref().map_or(1.0, |r| r.live.speed);
                let plans = scenarios.each_ref().map(|s| RunPlan {
                    scenario: s.origin.clone(),
                    speed,
                    ..RunPlan::default()
                });
                match CompareRequest::start(scenarios, &plans, paused) {
                    Ok(request) => self.compare = Some(request),
                    Err(e) => app.notice(e.message),
                }
            }
            Effect::Restart => {
                // The command line's schedule and limit were for the first run; whether the
                // new one starts paused is the view's to say (`RunState::paused_start`).
                if let Some(s) = app.run.as_ref().map(|r| r.scenario.clone()) {
                    let s = self.as_on_disk(app, s);
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
                            app.notice(
                                rust_i18n::t!("classroom.notice.cant_step", why = e.to_string())
                                    .into_owned(),
                            );
                        }
                    }
                    Effect::StepNext => {
                        if run.phase() == Phase::Running {
                            run.pause();
                        }
                        if let Err(e) = run.step_next_ready() {
                            app.notice(
                                rust_i18n::t!("classroom.notice.cant_step", why = e.to_string())
                                    .into_owned(),
                            );
                        }
                    }
                    Effect::StepEvent => run.step_event(),
                    Effect::ToggleBreak(t) => {
                        let thread = run.scenario().threads[t as usize].name.clone();
                        let on = Breakpoint::Thread {
                            thread: t,
                            on: Some(EventKind::Block),
                        };
                        let key = if self.session.toggle_breakpoint(on) {
                            "breaks.set"
                        } else {
                            "breaks.cleared"
                        };
                        app.notice(rust_i18n::t!(key, thread = thread).into_owned());
                    }
                    Effect::ToggleQuiz => {
                        let key = if self.session.toggle_quiz() {
                            "quiz.on"
                        } else {
                            "quiz.off"
                        };
                        app.notice(rust_i18n::t!(key).into_owned());
                    }
                    Effect::Start(_)
                    | Effect::Trace { .. }
                    | Effect::Stop
                    | Effect::Restart
                    | Effect::Compare(..) => {}
                }
            }
        }
    }

    /// `scenario` as its file says now (a built-in as it is): a teacher who edited the file
    /// restarts with the edit. A file with a mistake in it is not run; the version on screen
    /// runs again and the notice says why.
    fn as_on_disk(&mut self, app: &mut App, scenario: Arc<Scenario>) -> Arc<Scenario> {
        let Some(path) = crate::scenario::file_of(&scenario) else {
            return scenario;
        };
        self.edits.settle(path);
        match crate::scenario::load_file(path) {
            Ok(fresh) if fresh.source != scenario.source => {
                let fresh = Arc::new(fresh);
                app.swap_scenario(fresh.clone());
                fresh
            }
            Ok(_) => scenario,
            Err(report) => {
                app.notice(
                    rust_i18n::t!(
                        "reload.kept",
                        mistake = crate::error::one_line(report.as_ref())
                    )
                    .into_owned(),
                );
                scenario
            }
        }
    }

    /// Looks at the files on screen: the running scenario's (an edit is offered for the next
    /// restart; a mistake in it is shown at once) and the menu's (read again). True if the
    /// screen changed.
    fn watch_files(&mut self, app: &mut App) -> bool {
        let mut changed = false;
        if let Some(run) = app.run.as_ref().filter(|r| r.replay.is_none())
            && let Some(path) = crate::scenario::file_of(&run.scenario)
            && self.edits.maybe_changed(path)
        {
            let notice = match crate::scenario::load_file(path) {
                Ok(fresh) if fresh.source != run.scenario.source => {
                    Some(rust_i18n::t!("reload.changed", file = run.scenario.origin).into_owned())
                }
                Ok(_) => None,
                Err(report) => Some(
                    rust_i18n::t!(
                        "reload.mistake",
                        mistake = crate::error::one_line(report.as_ref())
                    )
                    .into_owned(),
                ),
            };
            if let Some(notice) = notice {
                app.notice(notice);
                changed = true;
            }
        }
        let files: Vec<PathBuf> = app
            .menu
            .entries
            .iter()
            .filter(|e| e.group == FILES_GROUP)
            .map(|e| PathBuf::from(&e.origin))
            .chain([PathBuf::from("scenarios")])
            .collect();
        if self.edits.changed(files.iter().map(PathBuf::as_path)) {
            app.refresh_menu(menu_entries(&self.menu_files));
            changed = true;
        }
        changed
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
            breakpoints: self.session.breakpoints().to_vec(),
            quizzing: self.session.quizzing(),
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
            app.notice(
                rust_i18n::t!("classroom.notice.time_up", limit = view::fmt_ns(limit)).into_owned(),
            );
        }

        app.observe(live, &self.scratch, failures);
        let mut changed = changed;
        if let Some(run) = self.session.run() {
            app.observe_footprint(run.footprint());
            let stopped = run.stopped_processes();
            let news = stopped_news(run.scenario(), &self.stopped, &stopped);
            if let Some(notice) = news.into_iter().next() {
                app.notice(notice);
                changed = true;
            }
            self.stopped = stopped;
        }
        if let Some(hit) = self.session.run().and_then(Run::take_hit) {
            app.stopped_at(hit);
        }
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

/// What the loop drives: a screen's state and whatever feeds it (one run view and its driver,
/// or two of them side by side).
trait Looped {
    /// Takes in what changed outside (the engine's events); true if the screen may have changed.
    fn poll(&mut self) -> bool;
    /// The screen was asked to close.
    fn quitting(&self) -> bool;
    fn resize(&mut self, size: Rect);
    fn render(&self, area: Rect, buf: &mut ratatui::buffer::Buffer);
    /// Whether the loop should keep ticking: something moves, or may be about to.
    fn animating(&self) -> bool;
    /// What a terminal event means to it; true if the screen may have changed.
    fn handle(&mut self, event: TermEvent) -> bool;
    /// Looks at the files on screen; true if the screen changed.
    fn watch_files(&mut self) -> bool {
        false
    }
}

/// The run view (or the menu) and the driver of its run.
struct Single<'a> {
    app: &'a mut App,
    driver: &'a mut Driver,
}

impl Looped for Single<'_> {
    fn poll(&mut self) -> bool {
        self.driver.poll(self.app)
    }

    fn quitting(&self) -> bool {
        // Two runs asked for take the screen: this loop ends for theirs.
        self.app.quit || self.driver.compare.is_some()
    }

    fn resize(&mut self, size: Rect) {
        self.app.resize(size);
    }

    fn render(&self, area: Rect, buf: &mut ratatui::buffer::Buffer) {
        view::render(self.app, area, buf);
    }

    fn animating(&self) -> bool {
        self.driver.animating(self.app)
    }

    fn handle(&mut self, event: TermEvent) -> bool {
        handle(self.app, self.driver, event)
    }

    fn watch_files(&mut self) -> bool {
        self.driver.watch_files(self.app)
    }
}

/// The UI's runtime, and the terminal taken over (given back when the guard drops).
fn take_terminal() -> Result<(tokio::runtime::Runtime, TerminalGuard), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal("ui", format!("cannot start the UI: {e}")))?;
    let guard = TerminalGuard::init()
        .map_err(|e| Error::internal("ui", format!("cannot take over the terminal: {e}")))?;
    Ok((runtime, guard))
}

fn run_app(mut app: App, mut driver: Driver) -> Result<Exit, Error> {
    let (runtime, mut guard) = take_terminal()?;
    let mut input = EventStream::new();
    let result = loop {
        // Two runs asked for take the screen; Esc gives it back to the menu.
        if let Some(request) = driver.compare.take() {
            let mut comparing = Comparing::new(request, app.theme);
            let ended =
                runtime.block_on(event_loop(&mut guard.terminal, &mut comparing, &mut input));
            comparing.stop();
            app.theme = comparing.pair.theme;
            if !comparing.pair.back || !matches!(ended, Ok(Exit::Success)) {
                break ended;
            }
            app.screen = Screen::Menu;
        }
        let ended = runtime.block_on(event_loop(
            &mut guard.terminal,
            &mut Single {
                app: &mut app,
                driver: &mut driver,
            },
            &mut input,
        ));
        if driver.compare.is_none() {
            break ended;
        }
    };
    driver.stop(Some(&mut app));
    let saved = driver
        .record
        .as_ref()
        .map(|(path, inputs)| save_recording(&app, path, inputs));
    let events = driver.session.finish();
    drop(guard);
    driver.watched = None;
    if let Some(kept) = &driver.program_output {
        // The output of the programs run from the menu, now that the view is gone.
        if let Ok(text) = std::fs::read(kept) {
            io::stdout().write_all(&text).ok();
        }
        std::fs::remove_file(kept).ok();
    }
    // Both outputs are reported; the last one ends the command.
    let mut failed: Vec<Error> = [saved.and_then(Result::err), events]
        .into_iter()
        .flatten()
        .collect();
    if let Some(last) = failed.pop() {
        for e in &failed {
            crate::console::errln(&e.render());
        }
        return Err(last);
    }
    result.map_err(|e| Error::internal("ui", format!("terminal error: {e}")))
}

fn draw(terminal: &mut Tui, looped: &impl Looped) -> io::Result<()> {
    // Synchronized update: the terminal shows the frame whole, never half-drawn.
    queue!(terminal.backend_mut(), terminal::BeginSynchronizedUpdate)?;
    terminal.draw(|frame| {
        let area = frame.area();
        looped.render(area, frame.buffer_mut());
    })?;
    queue!(terminal.backend_mut(), terminal::EndSynchronizedUpdate)?;
    terminal.backend_mut().flush()
}

/// `--record`: the run on screen when the view closed (after a restart, the latest one).
fn save_recording(app: &App, path: &std::path::Path, inputs: &[PathBuf]) -> Result<(), Error> {
    let Some(run) = &app.run else {
        return Err(Error::new(
            "recording",
            "nothing to record: no run was open when the view closed",
        ));
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
}

/// What a terminal event means to the app; true if the screen may have changed.
fn handle(app: &mut App, driver: &mut Driver, event: TermEvent) -> bool {
    let effects = match event {
        TermEvent::Key(key) if key.kind == KeyEventKind::Press => {
            let action = keys::action_for(&key, app.context());
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
        driver.apply(app, e);
    }
    true
}

/// Runs one screen until it closes. `input` is the terminal's one event stream for the whole
/// session: a stream made for each screen would leave the last one's reader behind to swallow
/// the next screen's first keys.
async fn event_loop(
    terminal: &mut Tui,
    looped: &mut impl Looped,
    input: &mut EventStream,
) -> io::Result<Exit> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut files = tokio::time::interval(edits::EVERY);
    files.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let size = terminal.size()?;
    looped.resize(Rect::new(0, 0, size.width, size.height));
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    // For the hardening tests: a panic in the UI itself must still give the terminal back.
    let panic_after_first_frame = std::env::var_os("THREADLAB_TEST_UI_PANIC").is_some();
    loop {
        if looped.poll() {
            dirty = true;
        }
        if looped.quitting() {
            return Ok(Exit::Success);
        }
        // Bursts of input (key repeat) are drawn at most every MIN_GAP: the wake-up below
        // catches the last of them.
        let mut redraw_at = None;
        if dirty {
            match last_draw {
                Some(t) if t.elapsed() < MIN_GAP => redraw_at = Some(t + MIN_GAP),
                _ => {
                    draw(terminal, looped)?;
                    last_draw = Some(Instant::now());
                    dirty = false;
                    if panic_after_first_frame {
                        panic!("THREADLAB_TEST_UI_PANIC is set: the UI panics on purpose");
                    }
                }
            }
        }
        // While paused and idle nothing ticks: the loop sleeps until a key or a signal.
        let wake = match (redraw_at, looped.animating()) {
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
                Some(Ok(event)) => dirty |= looped.handle(event),
                Some(Err(e)) => return Err(e),
                None => return Ok(Exit::Success),
            },
            _ = sigterm.recv() => return Ok(Exit::Signal(15)),
            _ = sighup.recv() => return Ok(Exit::Signal(1)),
            _ = sigint.recv() => return Ok(Exit::Signal(2)),
            _ = tick => {}
            _ = files.tick() => dirty |= looped.watch_files(),
        }
    }
}

// ---- two runs compared ------------------------------------------------------------------------

/// `threadlab compare A B` in the terminal: `scenarios[0]` on top, `scenarios[1]` below, each
/// run as `plans` say; `paused` starts both (and their restarts) at 0s until space or a step.
/// Esc gives the screen to the menu.
pub fn run_compare(
    scenarios: [Arc<Scenario>; 2],
    plans: &[RunPlan; 2],
    theme: Theme,
    paused: bool,
) -> Result<Exit, Error> {
    need_terminal()?;
    let request = CompareRequest::start(scenarios, plans, paused)?;
    let mut app = App::new(
        Menu {
            entries: menu_entries(&[]),
            selected: 0,
        },
        theme,
    );
    app.watch_machine = true;
    let driver = Driver {
        compare: Some(request),
        ..Driver::default()
    };
    run_app(app, driver)
}

/// Two real runs, each with its own session, threads and conductor, driven by one keyboard:
/// every key reaches both, and a run that pauses by itself (at the end of a step by event)
/// pauses the other at once, so both stand at one moment.
struct Comparing {
    pair: Pair,
    drivers: [Driver; 2],
}

impl Comparing {
    /// Both runs on screen, let go together unless asked to start paused.
    fn new(request: CompareRequest, theme: Theme) -> Comparing {
        let CompareRequest {
            scenarios,
            sessions,
            speed,
            paused,
        } = request;
        let mut comparing = Comparing {
            pair: Pair::new(scenarios, speed, paused, theme),
            drivers: sessions.map(Driver::of),
        };
        comparing.link();
        if !paused {
            comparing.apply_all([vec![Effect::Resume], vec![Effect::Resume]]);
        }
        comparing
    }

    /// Ends both runs (every thread joined, every event taken in).
    fn stop(&mut self) {
        for (driver, half) in self.drivers.iter_mut().zip(&mut self.pair.halves) {
            driver.stop(Some(half));
        }
    }

    /// Each run pauses when the other pauses by itself.
    fn link(&self) {
        let [a, b] = &self.drivers;
        if let (Some(a), Some(b)) = (a.session.run(), b.session.run()) {
            a.pause_along(b);
            b.pause_along(a);
        }
    }

    /// Carries out each run's effects on its own engine. A restart starts both held at 0s and
    /// lets them go together, as at the start.
    fn apply_all(&mut self, effects: [Vec<Effect>; 2]) {
        let restart = effects.iter().any(|e| e.contains(&Effect::Restart));
        // A step in each run begins with both held, not with one stepped while the other
        // runs on until its turn comes.
        if effects.iter().any(|e| e.contains(&Effect::StepNext)) {
            for (driver, half) in self.drivers.iter_mut().zip(&mut self.pair.halves) {
                if driver
                    .session
                    .run()
                    .is_some_and(|r| r.phase() == Phase::Running)
                {
                    driver.apply(half, Effect::Pause);
                }
            }
        }
        // What lets a run go (resume, a step by event) is held back until both runs' are known.
        let mut go: [Option<Effect>; 2] = [None, None];
        for (i, (effects, driver)) in effects.into_iter().zip(&mut self.drivers).enumerate() {
            let half = &mut self.pair.halves[i];
            for effect in effects {
                match effect {
                    Effect::Restart => {
                        // Both start held at 0s and go together below, unless they stay paused.
                        let Some(run) = &mut half.run else { continue };
                        let paused = run.paused_start;
                        run.paused_start = true;
                        driver.apply(half, Effect::Restart);
                        if let Some(run) = &mut half.run {
                            run.paused_start = paused;
                        }
                        go[i] = (!paused).then_some(Effect::Resume);
                    }
                    Effect::Resume | Effect::StepEvent => go[i] = Some(effect),
                    effect => driver.apply(half, effect),
                }
            }
        }
        if restart {
            self.link();
        }
        self.let_go(go);
    }

    /// Lets the runs go: when both go the same way, at one moment.
    fn let_go(&mut self, go: [Option<Effect>; 2]) {
        let [da, db] = &mut self.drivers;
        if let ([Some(x), Some(y)], Some(a), Some(b)) = (&go, da.session.run(), db.session.run())
            && x == y
        {
            match x {
                Effect::StepEvent => a.step_event_with(b),
                _ => a.resume_with(b),
            }
            da.settle = SETTLE;
            db.settle = SETTLE;
            return;
        }
        for ((driver, half), go) in self.drivers.iter_mut().zip(&mut self.pair.halves).zip(go) {
            if let Some(effect) = go {
                driver.apply(half, effect);
            }
        }
    }
}

impl Looped for Comparing {
    fn poll(&mut self) -> bool {
        let mut changed = false;
        for (driver, half) in self.drivers.iter_mut().zip(&mut self.pair.halves) {
            changed |= driver.poll(half);
        }
        self.pair.sync();
        changed
    }

    fn quitting(&self) -> bool {
        self.pair.quit
    }

    fn resize(&mut self, size: Rect) {
        self.pair.resize(size);
    }

    fn render(&self, area: Rect, buf: &mut ratatui::buffer::Buffer) {
        view::compare::render(&self.pair, area, buf);
    }

    fn animating(&self) -> bool {
        self.drivers
            .iter()
            .zip(&self.pair.halves)
            .any(|(d, h)| d.animating(h))
    }

    fn handle(&mut self, event: TermEvent) -> bool {
        match event {
            TermEvent::Key(key) if key.kind == KeyEventKind::Press => {
                let action = match keys::action_for(&key, Context::Compare) {
                    Some(action) => action,
                    None if self.pair.help => Action::Help,
                    None => return false,
                };
                let effects = self.pair.update(action);
                self.apply_all(effects);
                true
            }
            TermEvent::Resize(w, h) => {
                self.pair.resize(Rect::new(0, 0, w, h));
                true
            }
            _ => false,
        }
    }
}

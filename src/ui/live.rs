//! The live loop: terminal events, signals and a frame tick in one `select!`, the engine polled
//! and drained into the trace, the screen redrawn only when something changed.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
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

use crate::engine::{Phase, Run, RunOptions};
use crate::headless::RunPlan;
use crate::scenario::model::{Scenario, ThreadIdx};
use crate::trace::Reorder;
use crate::ui::app::{App, DIAGNOSTIC_WIDTH, Effect, Live, Menu, MenuEntry, MenuScenario, Screen};
use crate::ui::keys::{self, Action, Context};
use crate::ui::terminal::{TerminalGuard, Tui};
use crate::ui::theme::Theme;
use crate::ui::view;
use crate::vocab::event::{Event, EventKind, EventRecord};
use crate::vocab::outcome::Exit;

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
    let mut schedule = VecDeque::new();
    for name in &args.schedule {
        match scenario.thread_index(name) {
            Some(t) => schedule.push_back(t),
            None => {
                let names: Vec<&str> = scenario.threads.iter().map(|t| t.name.as_str()).collect();
                crate::console::errln(&format!(
                    "error: --schedule names `{name}`, which is not a thread of {}\n  help: its threads are {}",
                    scenario.name,
                    names.join(", ")
                ));
                return Exit::Usage;
            }
        }
    }
    let inputs: Vec<&std::path::Path> = crate::scenario::input_file(&args.scenario)
        .into_iter()
        .collect();
    let events_out = match &args.events {
        Some(path) => match crate::files::create(path, &inputs) {
            Ok(f) => Some(EventsOut {
                path: path.clone(),
                out: BufWriter::new(f),
                error: None,
            }),
            Err(e) => {
                crate::console::errln(&format!(
                    "error: cannot write the events file: {e}\n  help: {}",
                    e.help()
                ));
                return Exit::Usage;
            }
        },
        None => None,
    };
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
    let mut control = Control {
        start_paused: !schedule.is_empty(),
        scheduling: !schedule.is_empty(),
        schedule,
        stop_after: args.for_.map(|d| d.as_nanos() as u64),
        events_out,
        record,
        ..Control::default()
    };
    control.start(&app, scenario);
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
    run: Option<Run>,
    scratch: Vec<Event>,
    settle: u8,
    start_paused: bool,
    /// `--schedule`: threads still to step, one step each, before running freely.
    schedule: VecDeque<ThreadIdx>,
    scheduling: bool,
    /// `--for`: pause when run time reaches this.
    stop_after: Option<u64>,
    events_out: Option<EventsOut>,
    /// Puts the events file in time order: threads hand over their events only roughly so.
    events_order: Reorder,
    /// `--record`: where to save the run on screen when the view closes, and the input it
    /// must not overwrite.
    record: Option<(PathBuf, Vec<PathBuf>)>,
    /// Replaying a recording: no engine, the history cursor is the clock.
    replay: Option<Replay>,
}

/// The replay clock: while playing, the history cursor moves at the run's speed.
struct Replay {
    playing: bool,
    last: Instant,
    /// Every event time, sorted, for stepping event by event.
    times: Vec<u64>,
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
    app.show_recording(&rec);
    if let Some(run) = &mut app.run {
        run.cursor = Some(0);
        run.notice = Some("replay: space plays, n steps one event, ←/→ scrub".into());
    }
    let mut times: Vec<u64> = rec.events.iter().map(|e| e.t_ns).collect();
    times.dedup();
    let control = Control {
        replay: Some(Replay {
            playing: false,
            last: Instant::now(),
            times,
        }),
        ..Control::default()
    };
    run_app(app, control)
}

impl Replay {
    /// Replay's meaning for the run controls; `None` leaves the action to the app.
    fn handle(&mut self, app: &mut App, action: Action) -> Option<()> {
        let run = app.run.as_mut()?;
        let end = run.end_ns();
        let at = run.cursor.unwrap_or(end);
        match action {
            Action::PauseResume => {
                if !self.playing && run.cursor.is_none() {
                    run.cursor = Some(0);
                }
                self.playing = !self.playing;
                self.last = Instant::now();
            }
            Action::StepNext | Action::StepSelected => {
                self.playing = false;
                // n, the step key, walks the whole run one event at a time (what the replay's
                // hint promises); s follows the selected thread.
                let thread = (action == Action::StepNext).then_some(run.selected);
                let next = match thread {
                    None => self
                        .times
                        .get(self.times.partition_point(|&t| t <= at))
                        .copied(),
                    Some(t) => run
                        .trace
                        .events_before(u64::MAX, usize::MAX)
                        .into_iter()
                        .find(|e| e.thread == t && e.t_ns > at)
                        .map(|e| e.t_ns),
                };
                match (next, thread) {
                    (Some(t), _) => run.cursor = Some(t),
                    (None, Some(t)) => {
                        run.notice = Some(format!(
                            "{} does nothing more in the recording",
                            run.scenario.thread_name(t)
                        ))
                    }
                    (None, None) => run.notice = Some("end of the recording".into()),
                }
            }
            Action::Restart => {
                run.cursor = Some(0);
                self.playing = true;
                self.last = Instant::now();
            }
            _ => return None,
        }
        Some(())
    }

    /// Moves the cursor on while playing; true if it moved.
    fn tick(&mut self, app: &mut App) -> bool {
        if !self.playing {
            return false;
        }
        let Some(run) = app.run.as_mut() else {
            return false;
        };
        let now = Instant::now();
        let real = now.duration_since(self.last);
        self.last = now;
        let end = run.end_ns();
        let at = run.cursor.unwrap_or(end) + (real.as_nanos() as f64 * run.live.speed) as u64;
        if at >= end {
            run.cursor = None;
            self.playing = false;
        } else {
            run.cursor = Some(at);
        }
        true
    }
}

impl Control {
    fn start(&mut self, app: &App, scenario: Arc<Scenario>) {
        self.end_run(None);
        let speed = app.run.as_ref().map_or(1.0, |r| r.live.speed);
        let options = RunOptions {
            speed,
            start_paused: self.start_paused || app.run.as_ref().is_some_and(|r| r.paused_start),
        };
        self.start_paused = false;
        self.run = Some(Run::start(scenario, options));
        self.settle = SETTLE;
    }

    /// Ends the run and forgets what the command line asked of it. `app` is given when the
    /// view still shows this run (quit, back to the menu), so its last events are shown and
    /// saved with `--record`; after a restart or when another scenario is opened, the view
    /// already shows the next run.
    fn stop(&mut self, app: Option<&mut App>) {
        self.schedule.clear();
        self.scheduling = false;
        self.stop_after = None;
        self.end_run(app);
    }

    /// Pauses (so run time ends here), joins every thread, and takes every event the run
    /// recorded that was not drained yet: into the events file, and into `app` if given.
    fn end_run(&mut self, app: Option<&mut App>) {
        let Some(run) = &mut self.run else { return };
        run.pause();
        run.end();
        match app {
            Some(app) => {
                self.poll(app);
            }
            None => {
                self.scratch.clear();
                run.drain_events(&mut self.scratch);
                write_events(
                    &mut self.events_out,
                    &mut self.events_order,
                    &self.scratch,
                    run.scenario(),
                    false,
                );
            }
        }
        if let Some(run) = self.run.take() {
            write_events(
                &mut self.events_out,
                &mut self.events_order,
                &[],
                run.scenario(),
                true,
            );
        }
        // The next run's clock starts again from zero.
        self.events_order = Reorder::default();
    }

    fn apply(&mut self, app: &mut App, effect: Effect) {
        self.settle = SETTLE;
        match effect {
            Effect::Start(s) => {
                // Leaving a replay for the menu and opening a scenario runs it live.
                self.replay = None;
                self.stop(None);
                self.start(app, s);
            }
            Effect::Stop => self.stop(Some(app)),
            Effect::Restart => {
                // The command line's schedule and limit were for the first run; whether the
                // new one starts paused is the view's to say (`RunState::paused_start`).
                self.stop(None);
                if let Some(s) = app.run.as_ref().map(|r| r.scenario.clone()) {
                    self.start(app, s);
                }
            }
            _ => {
                let Some(run) = &self.run else { return };
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
        if let Some(replay) = &mut self.replay {
            return replay.tick(app);
        }
        let Some(run) = &self.run else {
            return false;
        };
        // How the run stands is read before draining, and a deadlock or an end is shown only
        // once every thread has handed over what it recorded: the banner never comes before
        // the events that led to it.
        let phase = run.phase();
        let settled = run.settled();
        self.scratch.clear();
        run.drain_events(&mut self.scratch);
        self.scratch.sort_by_key(|e| e.t_ns);
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
        write_events(
            &mut self.events_out,
            &mut self.events_order,
            &self.scratch,
            run.scenario(),
            false,
        );
        let changed = !self.scratch.is_empty() || app.run.as_ref().is_none_or(|r| r.live != live);

        // --schedule: one step at a time, each once the last has ended (checked without
        // waiting), then the run goes free.
        if self.scheduling && phase == Phase::Paused && run.wait_step_done(Duration::ZERO) {
            match self.schedule.pop_front() {
                Some(t) => {
                    if let Err(e) = run.step(t) {
                        app.notice(format!("--schedule: can't step: {e}"));
                        self.schedule.clear();
                    }
                }
                None => {
                    self.scheduling = false;
                    run.resume();
                }
            }
            self.settle = SETTLE;
        }
        if let Some(limit) = self.stop_after
            && live.now_ns >= limit
            && phase == Phase::Running
        {
            run.pause();
            self.stop_after = None;
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
    fn animating(&self) -> bool {
        if let Some(replay) = &self.replay {
            return replay.playing;
        }
        let Some(run) = &self.run else {
            return false;
        };
        self.settle > 0
            || self.scheduling
            || matches!(run.phase(), Phase::Running | Phase::Stepping(_))
    }
}

/// `--events`: one JSON line per event, named after the run's own scenario, in time order;
/// `all` writes out every event still held for ordering (the run has ended).
fn write_events(
    out: &mut Option<EventsOut>,
    order: &mut Reorder,
    events: &[Event],
    scenario: &Scenario,
    all: bool,
) {
    let Some(out) = out else { return };
    order.extend(events);
    loop {
        let next = if all {
            order.pop_any()
        } else {
            order.pop_ready()
        };
        let Some(e) = next else { break };
        out.write(&EventRecord::new(&e, scenario));
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
    let events = control.events_out.as_mut().and_then(EventsOut::finish);
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

/// `--events FILE` from the live view: every event as a JSON line. The first write that fails
/// is kept, and fails the command when the view closes.
struct EventsOut {
    path: PathBuf,
    out: BufWriter<File>,
    error: Option<io::Error>,
}

impl EventsOut {
    fn write(&mut self, record: &EventRecord) {
        if self.error.is_some() {
            return;
        }
        let written = serde_json::to_writer(&mut self.out, record)
            .map_err(io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(e) = written {
            self.error = Some(e);
        }
    }

    /// Flushes; the error to report, if any write failed.
    fn finish(&mut self) -> Option<String> {
        if self.error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.error = Some(e);
        }
        self.error.as_ref().map(|e| {
            format!(
                "error: writing the events file {} failed: {e}",
                self.path.display()
            )
        })
    }
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
            if let (Some(action), Some(replay)) = (action, control.replay.as_mut())
                && app.screen == Screen::Run
                && !app.help
                && replay.handle(app, action).is_some()
            {
                return true;
            }
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
        let wake = match (redraw_at, control.animating()) {
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

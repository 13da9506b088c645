//! The UI's state and the only place it changes.
//!
//! `App::update` turns an [`Action`] into state changes plus [`Effect`]s for the runner to
//! carry out on the engine; `App::observe` folds in what the engine reported. Views only read.
//! Keeping the engine out of here is what lets the snapshot tests build an `App` from a fixed
//! list of events and draw it.

use crate::trace::machine::{self, Machine};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use ratatui::layout::Rect;

use crate::engine::Phase;
use crate::scenario::builtin::Builtin;
use crate::scenario::model::{ResIdx, ResourceKind, Scenario, ThreadIdx};
use crate::trace::timeline::Trace;
use crate::ui::keys::Action;
use crate::ui::theme::Theme;
use crate::vocab::deadlock::Deadlock;
use crate::vocab::event::{Event, EventKind, State};

/// Time per lane cell, from finest to coarsest.
pub const ZOOM_LEVELS_NS: [u64; 16] = [
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// The speeds `+`/`-` step through.
pub const SPEEDS: [f64; 9] = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Menu,
    Run,
}

/// One row of the menu: a scenario, or a file that failed to load and why.
#[derive(Debug, Clone)]
pub struct MenuEntry {
    pub name: String,
    /// The message naming the heading it is listed under: a built-in's topic, or "Your files".
    pub group: String,
    /// `built-in` or the path.
    pub origin: String,
    pub scenario: MenuScenario,
}

/// Diagnostics are laid out for the menu's preview panel on an 80-column terminal.
pub const DIAGNOSTIC_WIDTH: usize = 52;

/// A menu entry's scenario, or why it did not load. A file is loaded when the menu is built, so
/// a broken one is marked at once; a built-in is parsed the first time it is previewed or
/// opened, so the menu opens without parsing every lesson (each built-in is known to parse:
/// the tests load them all). Parsing is a pure function of the embedded source, so doing it
/// on first look changes nothing a view could show.
#[derive(Debug, Clone)]
pub struct MenuScenario {
    builtin: Option<&'static Builtin>,
    /// A Python program (`*.py`), opened traced: its model is empty until it runs.
    program: Option<std::path::PathBuf>,
    loaded: OnceLock<Result<Arc<Scenario>, String>>,
}

impl MenuScenario {
    pub fn builtin(b: &'static Builtin) -> MenuScenario {
        MenuScenario {
            builtin: Some(b),
            program: None,
            loaded: OnceLock::new(),
        }
    }

    /// The Python program at `path`, whose text is `source` (or why it cannot be read).
    pub fn program(path: &std::path::Path, source: Result<String, String>) -> MenuScenario {
        let script = path.to_string_lossy();
        MenuScenario {
            builtin: None,
            program: Some(path.to_path_buf()),
            loaded: OnceLock::from(
                source.map(|text| crate::watch::model::Model::new(&script, &text).snapshot()),
            ),
        }
    }

    /// The Python program this entry runs traced, if it is one.
    pub fn program_path(&self) -> Option<&std::path::Path> {
        self.program.as_deref()
    }

    /// The same program, now known not to start (no python3, too old): the menu says why.
    pub fn failed(&self, why: String) -> MenuScenario {
        MenuScenario {
            builtin: self.builtin,
            program: self.program.clone(),
            loaded: OnceLock::from(Err(why)),
        }
    }

    /// Whether it is known not to load, without parsing a built-in not looked at yet.
    pub fn is_broken(&self) -> bool {
        self.loaded.get().is_some_and(|r| r.is_err())
    }

    /// Whether this is the scenario from `origin`, without parsing a built-in to find out.
    pub fn is_from(&self, origin: &str) -> bool {
        match (self.loaded.get(), self.builtin) {
            (Some(loaded), _) => loaded.as_ref().is_ok_and(|s| s.origin == origin),
            (None, Some(b)) => origin == crate::scenario::builtin_origin(b.name),
            (None, None) => false,
        }
    }
}

impl From<Result<Arc<Scenario>, String>> for MenuScenario {
    fn from(loaded: Result<Arc<Scenario>, String>) -> MenuScenario {
        MenuScenario {
            builtin: None,
            program: None,
            loaded: OnceLock::from(loaded),
        }
    }
}

impl std::ops::Deref for MenuScenario {
    type Target = Result<Arc<Scenario>, String>;

    fn deref(&self) -> &Self::Target {
        self.loaded.get_or_init(|| {
            let b = self
                .builtin
                .expect("a file's scenario is loaded when it is listed");
            crate::scenario::load(b.name)
                .map(Arc::new)
                .map_err(|report| crate::scenario::render_plain(report.as_ref(), DIAGNOSTIC_WIDTH))
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct Menu {
    pub entries: Vec<MenuEntry>,
    pub selected: usize,
}

/// What a mouse click landed on, as the views' layout (`view::hit`) finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// A menu entry, by index.
    MenuRow(usize),
    /// A thread's lane.
    Lane(ThreadIdx),
    Nothing,
}

/// What to do to the engine; the runner carries these out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Stop any run and start this scenario.
    Start(Arc<Scenario>),
    /// Stop any run and run this Python program traced (`paused`: held at its first call).
    Trace {
        script: std::path::PathBuf,
        paused: bool,
    },
    /// Stop the run (back to the menu).
    Stop,
    /// Stop the run and start the same scenario again.
    Restart,
    Pause,
    Resume,
    Step(ThreadIdx),
    StepNext,
    StepEvent,
    /// Pause whenever this thread blocks, or stop doing so.
    ToggleBreak(ThreadIdx),
    /// Ask before each hand-over with several waiters, or stop asking.
    ToggleQuiz,
    SetSpeed(f64),
    /// Stop any run and show these two side by side (`compare`); paused at 0s if `true`.
    Compare([Arc<Scenario>; 2], bool),
}

/// The engine's state as of the last poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub phase: Phase,
    /// Run time now (stops while paused).
    pub now_ns: u64,
    pub speed: f64,
    pub deadlock: Option<Deadlock>,
    /// Events the recorder had to drop (shown in the header when not zero).
    pub dropped: u64,
    /// Where the run pauses by itself.
    pub breakpoints: Vec<crate::engine::Breakpoint>,
    /// The quiz asks before each hand-over with several waiters.
    pub quizzing: bool,
}

impl Live {
    pub fn new(speed: f64) -> Live {
        Live {
            phase: Phase::Running,
            now_ns: 0,
            speed,
            deadlock: None,
            dropped: 0,
            breakpoints: Vec::new(),
            quizzing: false,
        }
    }
}

/// Everything the run view shows.
pub struct RunState {
    pub scenario: Arc<Scenario>,
    pub trace: Trace,
    pub live: Live,
    pub selected: ThreadIdx,
    /// Which `count=` groups show as one folded lane.
    pub folds: crate::ui::fold::Folds,
    /// For a run with both tasks and threads: what starting each cost, once measured.
    pub footprint: Option<crate::engine::footprint::Footprint>,
    /// The history cursor: `None` follows now.
    pub cursor: Option<u64>,
    /// Index into [`ZOOM_LEVELS_NS`].
    pub zoom: usize,
    /// Why threads failed, in the order they failed.
    pub failures: Vec<(ThreadIdx, String)>,
    /// A one-line notice (a refused step, a speed change), cleared by the next key.
    pub notice: Option<String>,
    /// The run starts paused at 0s, before any thread has taken a step, and so does every
    /// restart of it (`--paused`, the menu's open-paused key, or a restart while paused).
    pub paused_start: bool,
    /// The zoom was chosen to fit the whole run into the lanes: kept fitted as the run grows
    /// and the terminal is resized, until a zoom key chooses again.
    pub fitted: bool,
    /// Replaying a recording: no engine, the history cursor is the clock.
    pub replay: Option<Replay>,
    /// The quiz's question open and this run's score.
    pub quiz: Quiz,
    /// The Python twin the source pane shows instead of the scenario, when asked for.
    pub twin: Option<Arc<crate::trace::export::python::Twin>>,
    /// What the machine could give this run: from the start, then over the whole run once it
    /// has finished (only for a run the app watches the machine for).
    pub machine: Option<Machine>,
    machine_start: Option<machine::Sample>,
    /// Another run drawn on the same time axis, below or above this one (`compare`).
    pub beside: Option<Beside>,
}

/// The run drawn beside a run on one time axis: its lanes' columns are laid out together with
/// this run's, and the axis reaches the later of the two ends.
#[derive(Debug, Clone)]
pub struct Beside {
    pub scenario: Arc<Scenario>,
    pub end_ns: u64,
}

/// The quiz in a run: the question the run paused at, the class's guess, and how many of the
/// guesses held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quiz {
    pub asked: Option<(crate::scenario::model::ResIdx, Vec<ThreadIdx>)>,
    pub guess: Option<ThreadIdx>,
    pub answered: u32,
    pub right: u32,
}

impl RunState {
    pub fn new(scenario: Arc<Scenario>, speed: f64) -> RunState {
        RunState {
            trace: Trace::new(scenario.clone()),
            folds: crate::ui::fold::Folds::new(&scenario),
            footprint: None,
            zoom: default_zoom(&scenario),
            scenario,
            live: Live::new(speed),
            selected: 0,
            cursor: None,
            failures: Vec::new(),
            notice: None,
            paused_start: false,
            fitted: false,
            replay: None,
            quiz: Quiz::default(),
            twin: None,
            machine: None,
            machine_start: None,
            beside: None,
        }
    }

    /// Where the views look: the history cursor, or now.
    pub fn view_ns(&self) -> u64 {
        self.cursor.unwrap_or_else(|| self.end_ns())
    }

    /// The latest instant there is anything to draw for.
    pub fn end_ns(&self) -> u64 {
        self.live.now_ns.max(self.trace.end_ns())
    }

    pub fn ns_per_cell(&self) -> u64 {
        ZOOM_LEVELS_NS[self.zoom.min(ZOOM_LEVELS_NS.len() - 1)]
    }

    /// Where the time axis ends: this run's latest instant, or the later end of the run drawn
    /// beside it.
    pub fn axis_end_ns(&self) -> u64 {
        let beside = self.beside.as_ref().map_or(0, |b| b.end_ns);
        self.end_ns().max(beside)
    }

    /// The scenarios whose lanes share this run's columns: its own, and the one beside it.
    pub fn lane_scenarios(&self) -> Vec<&Scenario> {
        std::iter::once(&*self.scenario)
            .chain(self.beside.as_ref().map(|b| &*b.scenario))
            .collect()
    }

    /// The first instant shown by a lane `cells` wide: the latest time (or the cursor) at the
    /// right edge, aligned to whole cells so the picture does not shimmer as time advances.
    pub fn window_start(&self, cells: u16) -> u64 {
        let per = self.ns_per_cell();
        let cells = u64::from(cells.max(1));
        let end_cell = self.axis_end_ns() / per;
        let mut first = end_cell.saturating_sub(cells - 1);
        if let Some(c) = self.cursor {
            let c = c / per;
            if c < first {
                // Scrubbed off the left edge: the cursor at the right edge, as now is in a
                // live run, since nothing is drawn past it; scrubbing on back scrolls a cell
                // at a time.
                first = c.saturating_sub(cells - 1);
            }
        }
        first * per
    }

    pub fn is_paused(&self) -> bool {
        matches!(
            self.live.phase,
            Phase::Paused | Phase::Deadlock | Phase::Finished
        )
    }

    /// When the run fell into its deadlock: the moment the last of its stuck threads began the
    /// wait it never left. Before it, some thread of the cycle still moved.
    pub fn deadlock_ns(&self) -> Option<u64> {
        let d = self.live.deadlock.as_ref()?;
        let since = |t: &ThreadIdx| self.trace.state_since(*t).unwrap_or(0);
        let cycle = d.cycle.iter().map(|e| &e.thread);
        Some(d.stuck.iter().chain(cycle).map(since).max().unwrap_or(0))
    }

    /// The deadlock, if the run is in it at the time shown: a cursor before the deadlock shows
    /// threads that could still move, and no banner may say otherwise.
    pub fn deadlock_shown(&self) -> Option<&Deadlock> {
        let at = self.deadlock_ns()?;
        match self.cursor {
            Some(c) if c < at => None,
            _ => self.live.deadlock.as_ref(),
        }
    }

    /// How the run stands at the time shown. Looking back from a deadlock or an end, the run
    /// was still under way then; the view is paused there (a replay may be playing it).
    pub fn phase_shown(&self) -> Phase {
        let Some(at) = self.cursor else {
            return self.live.phase;
        };
        match self.live.phase {
            Phase::Deadlock if self.deadlock_shown().is_none() => Phase::Paused,
            Phase::Finished if at < self.trace.end_ns() => Phase::Paused,
            phase => phase,
        }
    }

    /// The threads that had failed by the time shown, and why, in the order they failed.
    pub fn failures_shown(&self) -> impl Iterator<Item = &(ThreadIdx, String)> {
        let view = self.cursor;
        self.failures.iter().filter(move |(t, _)| {
            view.is_none_or(|at| self.trace.state_at(*t, at) == Some(State::Failed))
        })
    }

    /// The threads and resources in the deadlock cycle, if the run is in one at the time shown.
    pub fn cycle(&self) -> (Vec<ThreadIdx>, Vec<ResIdx>) {
        match self.deadlock_shown() {
            Some(d) => (
                d.cycle.iter().map(|e| e.thread).collect(),
                d.cycle.iter().map(|e| e.resource).collect(),
            ),
            None => (Vec::new(), Vec::new()),
        }
    }

    fn thread_count(&self) -> usize {
        self.scenario.threads.len()
    }

    /// Zooms out (or in) to the finest zoom that shows the whole run, from 0s to now, in a
    /// lane `cells` wide; with no room it leaves the zoom as it is.
    pub fn fit(&mut self, cells: u16) {
        let cells = u64::from(cells);
        if cells == 0 {
            return;
        }
        let end = self.axis_end_ns();
        self.zoom = ZOOM_LEVELS_NS
            .iter()
            .position(|per| end / per < cells)
            .unwrap_or(ZOOM_LEVELS_NS.len() - 1);
        self.fitted = true;
    }
}

/// A zoom at which the scenario's shortest timed step spans a few cells.
pub fn default_zoom(scenario: &Scenario) -> usize {
    let shortest = scenario
        .threads
        .iter()
        .flat_map(|t| t.steps.iter())
        .filter_map(|s| s.op.duration())
        .chain(scenario.resources.iter().filter_map(|r| match r.kind {
            ResourceKind::Gil { interval } => Some(interval),
            _ => None,
        }))
        .filter(|d| !d.is_zero())
        .min()
        .map_or(50_000_000, |d| d.as_nanos() as u64);
    let target = (shortest / 4).max(1);
    ZOOM_LEVELS_NS
        .iter()
        .rposition(|z| *z <= target)
        .unwrap_or(0)
        .max(3)
}

pub struct App {
    pub screen: Screen,
    pub menu: Menu,
    pub run: Option<RunState>,
    pub theme: Theme,
    pub help: bool,
    pub quit: bool,
    /// The terminal's size as of the last resize, for mapping mouse clicks.
    pub size: Rect,
    /// Cores on this machine, for the GIL card's ideal speedup.
    pub cores: usize,
    /// Measure what the machine gives each live run and warn when a lesson cannot show (off
    /// for tests, which must draw the same whatever the machine is doing).
    pub watch_machine: bool,
    /// The menu entry chosen to be compared with the next one opened.
    pub compare_from: Option<usize>,
}

impl App {
    pub fn new(menu: Menu, theme: Theme) -> App {
        App {
            screen: Screen::Menu,
            menu,
            run: None,
            theme,
            help: false,
            quit: false,
            size: Rect::ZERO,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            watch_machine: false,
            compare_from: None,
        }
    }

    /// Opens the run view for `scenario` (the runner starts the engine).
    pub fn open(&mut self, scenario: Arc<Scenario>, speed: f64) {
        self.open_run(scenario, speed, false);
    }

    /// Opens the run view for `scenario`, to start paused at 0s: nothing moves until space
    /// or a step.
    pub fn open_paused(&mut self, scenario: Arc<Scenario>, speed: f64) {
        self.open_run(scenario, speed, true);
    }

    fn open_run(&mut self, scenario: Arc<Scenario>, speed: f64, paused: bool) {
        if let Some(i) = self
            .menu
            .entries
            .iter()
            .position(|e| e.scenario.is_from(&scenario.origin))
        {
            self.menu.selected = i;
        }
        let mut run = RunState::new(scenario, speed);
        run.paused_start = paused;
        self.run = Some(run);
        self.screen = Screen::Run;
    }

    /// The terminal's new size; a fitted run is fitted again to its new lane width.
    pub fn resize(&mut self, size: Rect) {
        self.size = size;
        if self.run.as_ref().is_some_and(|r| r.fitted) {
            self.fit_run();
        }
    }

    /// Fits the whole run into the lanes as drawn at the terminal's size.
    pub fn fit_run(&mut self) {
        let size = self.size;
        if let Some(run) = &mut self.run {
            let cells = crate::ui::layout::lane_cells_of(&run.lane_scenarios(), size);
            run.fit(cells);
        }
    }

    /// The engine's latest state, and any events drained since the last call.
    /// What starting the run's threads and tasks cost, as far as measured: kept for a run that
    /// has both, whose card compares them.
    pub fn observe_footprint(&mut self, f: crate::engine::footprint::Footprint) {
        if let Some(run) = &mut self.run {
            // The threads an event loop starts for `to-thread` are its own, not a side of
            // the comparison.
            let both = run.scenario.threads.iter().any(|t| t.is_task())
                && run
                    .scenario
                    .threads
                    .iter()
                    .any(|t| !t.is_task() && t.group != crate::scenario::EXECUTOR_THREADS);
            run.footprint = both.then_some(f);
        }
    }

    pub fn observe(&mut self, live: Live, events: &[Event], failures: Vec<(ThreadIdx, String)>) {
        let finishing = live.phase == Phase::Finished
            && self
                .run
                .as_ref()
                .is_some_and(|r| r.live.phase != Phase::Finished);
        if let Some(run) = &mut self.run {
            if self.watch_machine && run.replay.is_none() {
                let start = *run.machine_start.get_or_insert_with(machine::sample);
                if run.machine.is_none() || finishing {
                    let now = if finishing { machine::sample() } else { start };
                    run.machine = Some(start.until(&now, &run.scenario));
                }
            }
            run.trace.push(events);
            if live.phase == Phase::Running {
                // A cursor means "looking back"; once the run moves again, follow now.
                run.cursor = None;
            }
            run.live = live;
            for (t, why) in failures {
                if !run.failures.iter().any(|(known, _)| *known == t) {
                    // The trace words the log's "T2 failed: …" line with it.
                    run.trace.note_failure(t, why.clone());
                    run.failures.push((t, why));
                }
            }
        }
        // The end of a run: the whole of it at a glance, not only its last window. A fitted
        // view stays fitted as the run grows.
        if finishing || self.run.as_ref().is_some_and(|r| r.fitted) {
            self.fit_run();
        }
    }

    /// Opens a recorded run where the recording stopped: deadlocked, finished, or part-way
    /// (a recording with no outcome, shown paused). Replay plays it at 1×, the pace it ran.
    pub fn show_recording(&mut self, rec: &crate::vocab::recording::Recording) {
        self.open(rec.scenario.clone(), 1.0);
        let Some(run) = &mut self.run else { return };
        run.trace = rec.trace();
        run.live = Live {
            phase: match (&rec.deadlock, rec.outcome) {
                (Some(_), _) => Phase::Deadlock,
                (None, Some(_)) => Phase::Finished,
                (None, None) => Phase::Paused,
            },
            now_ns: rec.end_ns,
            speed: 1.0,
            deadlock: rec.deadlock.clone(),
            dropped: rec.dropped_events,
            breakpoints: Vec::new(),
            quizzing: false,
        };
        run.failures = rec
            .failures
            .iter()
            .enumerate()
            .filter_map(|(t, why)| Some((t as ThreadIdx, why.clone()?)))
            .collect();
    }

    /// Opens a recording to replay from its start: space plays and pauses, `n` steps to the
    /// next event (`s` to the selected thread's next event), the history keys scrub, `r`
    /// plays again from the start.
    pub fn replay(&mut self, rec: &crate::vocab::recording::Recording) {
        self.show_recording(rec);
        let Some(run) = &mut self.run else { return };
        run.cursor = Some(0);
        run.notice = Some(rust_i18n::t!("classroom.notice.replay").into_owned());
        let mut times: Vec<u64> = rec.events.iter().map(|e| e.t_ns).collect();
        times.dedup();
        run.replay = Some(Replay {
            playing: false,
            last: Instant::now(),
            times,
        });
    }

    /// Whether the run view shows a recording rather than a live run.
    pub fn replaying(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.replay.is_some())
    }

    /// Which keys the screen shown now answers to, and in whose words.
    pub fn context(&self) -> crate::ui::keys::Context {
        use crate::ui::keys::Context;
        match self.screen {
            Screen::Menu => Context::Menu,
            Screen::Run if self.replaying() => Context::Replay,
            Screen::Run => Context::Run,
        }
    }

    /// Moves a playing replay's cursor on; true if it moved.
    pub fn tick_replay(&mut self) -> bool {
        let Some(run) = &mut self.run else {
            return false;
        };
        let Some(mut replay) = run.replay.take() else {
            return false;
        };
        let moved = replay.tick(run);
        run.replay = Some(replay);
        moved
    }

    /// Applies one action; returns what the engine must do.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        if self.help {
            // Any key closes the help; quit still quits.
            self.help = false;
            if action == Action::Quit {
                self.quit = true;
            }
            return Vec::new();
        }
        match action {
            Action::Quit => {
                self.quit = true;
                return vec![Effect::Stop];
            }
            Action::Help => self.help = true,
            Action::Theme => self.theme = self.theme.next(),
            Action::Language => crate::i18n::set(crate::i18n::current().other()),
            _ => {}
        }
        match self.screen {
            Screen::Menu => self.update_menu(action),
            Screen::Run => self.update_run(action),
        }
    }

    fn update_menu(&mut self, action: Action) -> Vec<Effect> {
        let n = self.menu.entries.len();
        match action {
            Action::Up if n > 0 => self.menu.selected = (self.menu.selected + n - 1) % n,
            Action::Down if n > 0 => self.menu.selected = (self.menu.selected + 1) % n,
            Action::First => self.menu.selected = 0,
            Action::Last => self.menu.selected = n.saturating_sub(1),
            Action::CompareWith => {
                // Again: never mind.
                self.compare_from = match self.compare_from {
                    Some(_) => None,
                    None => self
                        .menu
                        .entries
                        .get(self.menu.selected)
                        .filter(|e| e.scenario.is_ok())
                        .map(|_| self.menu.selected),
                };
            }
            Action::Open | Action::OpenPaused => {
                let entry = self.menu.entries.get(self.menu.selected);
                if let Some(script) = entry.and_then(|e| e.scenario.program_path())
                    && entry.is_some_and(|e| e.scenario.is_ok())
                {
                    // The view opens once the program has started (or the menu says why not).
                    return vec![Effect::Trace {
                        script: script.to_path_buf(),
                        paused: action == Action::OpenPaused,
                    }];
                }
                if let Some(Ok(s)) = self
                    .menu
                    .entries
                    .get(self.menu.selected)
                    .map(|e| &*e.scenario)
                {
                    let s = s.clone();
                    let paused = action == Action::OpenPaused;
                    if let Some(Ok(first)) = self
                        .compare_from
                        .take()
                        .and_then(|i| self.menu.entries.get(i))
                        .map(|e| &*e.scenario)
                    {
                        return vec![Effect::Compare([first.clone(), s], paused)];
                    }
                    let speed = self.run.as_ref().map_or(1.0, |r| r.live.speed);
                    self.open_run(s.clone(), speed, action == Action::OpenPaused);
                    return vec![Effect::Start(s)];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn update_run(&mut self, action: Action) -> Vec<Effect> {
        let Some(run) = &mut self.run else {
            self.screen = Screen::Menu;
            return Vec::new();
        };
        if let Some(mut replay) = run.replay.take() {
            let handled = replay.handle(run, action).is_some();
            run.replay = Some(replay);
            if handled {
                return Vec::new();
            }
        }
        run.notice = None;
        let n = run.thread_count();
        let last_ns = run.end_ns();
        let per = run.ns_per_cell();
        match action {
            Action::Back => {
                self.screen = Screen::Menu;
                return vec![Effect::Stop];
            }
            Action::Up if n > 0 => run.selected = run.folds.moved(n, run.selected, -1),
            Action::Down if n > 0 => run.selected = run.folds.moved(n, run.selected, 1),
            Action::Fold => {
                let t = run.selected;
                run.notice = (!run.folds.toggle(t)).then(|| {
                    let name = &run.scenario.threads[t as usize].name;
                    rust_i18n::t!("scale.not_in_group", thread = name).into_owned()
                });
            }
            Action::Select(i) => {
                if (i as usize) < n {
                    run.selected = ThreadIdx::from(i);
                    if run.quiz.asked.is_some() {
                        run.quiz.guess = Some(ThreadIdx::from(i));
                        let name = &run.scenario.threads[i as usize].name;
                        run.notice = Some(rust_i18n::t!("quiz.guess", thread = name).into_owned());
                    }
                } else {
                    run.notice = Some(rust_i18n::t!("look2.no_thread", n = i + 1).into_owned());
                }
            }
            Action::PauseResume => {
                return match run.live.phase {
                    Phase::Running | Phase::Stepping(_) => vec![Effect::Pause],
                    Phase::Paused => {
                        run.cursor = None;
                        vec![Effect::Resume]
                    }
                    Phase::Deadlock | Phase::Finished => {
                        run.notice = why_nothing_moves(run.live.phase);
                        Vec::new()
                    }
                };
            }
            Action::StepSelected => {
                run.cursor = None;
                return vec![Effect::Step(run.selected)];
            }
            Action::StepNext => {
                run.cursor = None;
                return vec![Effect::StepNext];
            }
            Action::StepEvent => {
                if let Some(why) = why_nothing_moves(run.live.phase) {
                    run.notice = Some(why);
                    return Vec::new();
                }
                run.cursor = None;
                return vec![Effect::StepEvent];
            }
            Action::Break => return vec![Effect::ToggleBreak(run.selected)],
            Action::Quiz => return vec![Effect::ToggleQuiz],
            Action::Faster | Action::Slower => {
                let i = SPEEDS
                    .iter()
                    .position(|s| *s >= run.live.speed - 1e-9)
                    .unwrap_or(SPEEDS.len() - 1);
                let j = if action == Action::Faster {
                    (i + 1).min(SPEEDS.len() - 1)
                } else {
                    i.saturating_sub(1)
                };
                run.live.speed = SPEEDS[j];
                return vec![Effect::SetSpeed(SPEEDS[j])];
            }
            Action::Restart => {
                let speed = run.live.speed;
                let scenario = run.scenario.clone();
                let zoom = (!run.fitted).then_some(run.zoom);
                let selected = run.selected;
                let folds = run.folds.clone();
                let twin = run.twin.take();
                let paused_start = run.paused_start
                    || matches!(run.live.phase, Phase::Paused | Phase::Stepping(_));
                *run = RunState::new(scenario, speed);
                // A zoom chosen by hand is kept; one fitted to the old run's length is not.
                if let Some(zoom) = zoom {
                    run.zoom = zoom;
                }
                run.selected = selected;
                run.folds = folds;
                run.twin = twin;
                run.paused_start = paused_start;
                return vec![Effect::Restart];
            }
            Action::HistoryBack | Action::HistoryForward | Action::HistoryStart => {
                let at = run.cursor.unwrap_or(last_ns);
                run.cursor = Some(match action {
                    Action::HistoryBack => at.saturating_sub(per),
                    Action::HistoryForward => (at + per).min(last_ns),
                    _ => 0,
                });
                if !run.is_paused() {
                    return vec![Effect::Pause];
                }
            }
            Action::HistoryEnd => run.cursor = None,
            Action::ZoomIn => {
                run.zoom = run.zoom.saturating_sub(1);
                run.fitted = false;
            }
            Action::ZoomOut => {
                run.zoom = (run.zoom + 1).min(ZOOM_LEVELS_NS.len() - 1);
                run.fitted = false;
            }
            Action::Fit => {
                self.fit_run();
                return Vec::new();
            }
            Action::Twin => {
                run.twin = match run.twin {
                    Some(_) => None,
                    None => Some(Arc::new(crate::trace::export::python::twin(&run.scenario))),
                };
            }
            _ => {}
        }
        Vec::new()
    }

    /// A left click on `hit`: choose a menu row, open it when clicked again, or select a lane.
    pub fn click(&mut self, hit: Hit) -> Vec<Effect> {
        if self.help {
            self.help = false;
            return Vec::new();
        }
        match (self.screen, hit) {
            (Screen::Menu, Hit::MenuRow(i)) => {
                if i == self.menu.selected {
                    return self.update(Action::Open);
                }
                self.menu.selected = i;
            }
            (Screen::Run, Hit::Lane(t)) => {
                if let Some(run) = &mut self.run {
                    run.selected = t;
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// A note for the run view's status line (a step the engine refused, say).
    /// The menu's entries read again (a file changed, came or went); the same entry stays
    /// chosen where it still exists.
    /// The selected menu entry, a Python program, did not start: the menu says why.
    pub fn program_failed(&mut self, why: String) {
        if let Some(e) = self.menu.entries.get_mut(self.menu.selected) {
            e.scenario = e.scenario.failed(why);
        }
        self.screen = Screen::Menu;
    }

    pub fn refresh_menu(&mut self, entries: Vec<MenuEntry>) {
        let chosen = self
            .menu
            .entries
            .get(self.menu.selected)
            .map(|e| e.origin.clone());
        self.menu.selected = chosen
            .and_then(|o| entries.iter().position(|e| e.origin == o))
            .unwrap_or(0)
            .min(entries.len().saturating_sub(1));
        self.menu.entries = entries;
    }

    /// The run view shows `scenario` from now on (a newer version of the one it showed), with
    /// nothing of the old run's history.
    pub fn swap_scenario(&mut self, scenario: Arc<Scenario>) {
        let Some(run) = &mut self.run else { return };
        if run.selected as usize >= scenario.threads.len() {
            run.selected = 0;
        }
        run.trace = Trace::new(scenario.clone());
        run.scenario = scenario;
    }

    /// The run paused by itself: say at what (for the quiz: ask, or tell how the guess did),
    /// and show now.
    pub fn stopped_at(&mut self, hit: crate::engine::Hit) {
        use crate::engine::Why;
        let Some(run) = &mut self.run else { return };
        let name = |t: ThreadIdx| run.scenario.threads[t as usize].name.clone();
        let what = || match &hit.event {
            Some(event) => run.trace.describe(crate::i18n::current(), event),
            None => {
                let thread = &run.scenario.threads[hit.thread as usize];
                let line = thread.steps.get(hit.step as usize).map_or(0, |s| s.line);
                rust_i18n::t!("breaks.line", thread = thread.name, line = line).into_owned()
            }
        };
        let notice = match &hit.why {
            Why::Breakpoint(_) => rust_i18n::t!("breaks.hit", what = what()),
            Why::NextEvent => rust_i18n::t!("breaks.next_event", what = what()),
            Why::Question { resource, waiting } => {
                let resource_name = run.scenario.resources[*resource as usize].name.clone();
                let names: Vec<String> = waiting.iter().map(|&t| name(t)).collect();
                run.quiz.asked = Some((*resource, waiting.clone()));
                run.quiz.guess = None;
                rust_i18n::t!(
                    "quiz.question",
                    resource = resource_name,
                    waiting = names.join(", ")
                )
            }
            Why::Answer { resource, thread } => {
                let resource_name = run.scenario.resources[*resource as usize].name.clone();
                run.quiz.asked = None;
                match run.quiz.guess.take() {
                    Some(guess) => {
                        run.quiz.answered += 1;
                        let held = guess == *thread;
                        run.quiz.right += u32::from(held);
                        rust_i18n::t!(
                            if held { "quiz.right" } else { "quiz.wrong" },
                            thread = name(*thread),
                            resource = resource_name,
                            guess = name(guess),
                            right = run.quiz.right,
                            answered = run.quiz.answered
                        )
                    }
                    None => rust_i18n::t!(
                        "quiz.answer",
                        thread = name(*thread),
                        resource = resource_name
                    ),
                }
            }
        };
        run.cursor = None;
        run.notice = Some(notice.into_owned());
    }

    pub fn notice(&mut self, text: impl Into<String>) {
        if let Some(run) = &mut self.run {
            run.notice = Some(text.into());
        }
    }
}

/// The events the log shows: everything but the conductor's holds, which would drown the rest
/// every time the run is paused.
pub fn loggable(e: &Event) -> bool {
    e.kind != EventKind::Hold
}

/// Why a key that lets the run go on does nothing now, if it does nothing.
fn why_nothing_moves(phase: Phase) -> Option<String> {
    match phase {
        Phase::Deadlock => Some(rust_i18n::t!("classroom.notice.deadlocked").into_owned()),
        Phase::Finished => Some(rust_i18n::t!("classroom.notice.over").into_owned()),
        _ => None,
    }
}

/// The replay clock: while playing, the history cursor moves at the run's speed.
pub struct Replay {
    pub playing: bool,
    last: Instant,
    /// Every event time, sorted, for stepping event by event.
    times: Vec<u64>,
}

impl Replay {
    /// Replay's meaning for the run controls; `None` leaves the action to the app.
    fn handle(&mut self, run: &mut RunState, action: Action) -> Option<()> {
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
                        run.notice = Some(
                            rust_i18n::t!(
                                "classroom.notice.nothing_more",
                                who = run.scenario.thread_name(t)
                            )
                            .into_owned(),
                        )
                    }
                    (None, None) => {
                        run.notice = Some(rust_i18n::t!("classroom.notice.end").into_owned())
                    }
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
    fn tick(&mut self, run: &mut RunState) -> bool {
        if !self.playing {
            return false;
        }
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

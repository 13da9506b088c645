//! Two runs compared: each half is a run view's own state (an [`App`] showing one run), and
//! one key reaches both. The halves share one time axis: one zoom, one history cursor, and
//! lanes laid out in the same columns, so a moment in the top run is straight above the same
//! moment in the bottom one.

use std::sync::Arc;

use ratatui::layout::Rect;

use crate::engine::Phase;
use crate::scenario::model::Scenario;
use crate::ui::app::{App, Beside, Effect, Menu, RunState};
use crate::ui::keys::Action;
use crate::ui::theme::Theme;

pub struct Pair {
    /// The top run and the bottom one.
    pub halves: [App; 2],
    pub theme: Theme,
    pub help: bool,
    pub quit: bool,
    /// Esc: the view closes for the menu.
    pub back: bool,
    /// The terminal's size as of the last resize.
    pub size: Rect,
    /// A one-line notice for both runs, cleared by the next key.
    pub notice: Option<String>,
    /// Which runs were in a deadlock as of the last look, so the moment one falls into it is
    /// told once.
    deadlocked: [bool; 2],
}

impl Pair {
    /// Both runs' views at 0s, at `speed`; `paused` keeps them (and their restarts) at 0s
    /// until space or a step.
    pub fn new(scenarios: [Arc<Scenario>; 2], speed: f64, paused: bool, theme: Theme) -> Pair {
        let halves = scenarios.map(|scenario| {
            let mut app = App::new(Menu::default(), theme);
            if paused {
                app.open_paused(scenario, speed);
            } else {
                app.open(scenario, speed);
            }
            app
        });
        let mut pair = Pair {
            halves,
            theme,
            help: false,
            quit: false,
            back: false,
            size: Rect::ZERO,
            notice: None,
            deadlocked: [false; 2],
        };
        pair.sync();
        pair
    }

    /// The run each half shows (both always show one).
    pub fn runs(&self) -> impl Iterator<Item = &RunState> {
        self.halves.iter().filter_map(|h| h.run.as_ref())
    }

    pub fn resize(&mut self, size: Rect) {
        self.size = size;
        for half in &mut self.halves {
            half.resize(size);
        }
        self.sync();
    }

    /// Puts the halves back on one time axis after either changed: each knows the other's
    /// lanes and end, both have the finer of their zooms, and a fitted pair is fitted again
    /// to the longer run.
    pub fn sync(&mut self) {
        self.tell_deadlock();
        let besides: Vec<Option<Beside>> = self
            .halves
            .iter()
            .rev()
            .map(|h| {
                h.run.as_ref().map(|r| Beside {
                    scenario: r.scenario.clone(),
                    end_ns: r.end_ns(),
                })
            })
            .collect();
        for (half, beside) in self.halves.iter_mut().zip(besides) {
            if let Some(run) = &mut half.run {
                run.beside = beside;
            }
        }
        let zoom = self.runs().map(|r| r.zoom).min().unwrap_or(0);
        let fitted = self.runs().any(|r| r.fitted);
        for half in &mut self.halves {
            if let Some(run) = &mut half.run {
                run.zoom = zoom;
            }
            if fitted {
                half.fit_run();
            }
        }
    }

    /// A run that deadlocks pauses the other at the same moment (the engine links them), so the
    /// axis stays one: the notice says which run is stuck and that space lets the other go on.
    fn tell_deadlock(&mut self) {
        let now = self.halves.each_ref().map(|h| {
            h.run
                .as_ref()
                .is_some_and(|r| r.live.phase == Phase::Deadlock)
        });
        for stuck in [0, 1] {
            let other = 1 - stuck;
            let held = self.halves[other]
                .run
                .as_ref()
                .is_some_and(|r| !matches!(r.live.phase, Phase::Deadlock | Phase::Finished));
            if now[stuck] && !self.deadlocked[stuck] && held {
                let at = self.halves[stuck].run.as_ref().map_or(0, |r| r.end_ns());
                self.notice = Some(
                    rust_i18n::t!(
                        "screen2.compare.deadlock_holds_other",
                        stuck = stuck + 1,
                        other = other + 1,
                        at = crate::trace::text::fmt_run_time(at)
                    )
                    .into_owned(),
                );
            }
        }
        // Both stuck: neither goes on, whatever an earlier notice said.
        if now == [true, true] && self.deadlocked != now {
            self.notice = None;
        }
        self.deadlocked = now;
    }

    /// Applies one key's action to both runs; returns what each run's engine must do.
    pub fn update(&mut self, action: Action) -> [Vec<Effect>; 2] {
        let none = || [Vec::new(), Vec::new()];
        if self.help {
            // Any key closes the help; quit still quits.
            self.help = false;
            if action == Action::Quit {
                self.quit = true;
                return self.each(Action::Quit);
            }
            return none();
        }
        self.notice = None;
        let effects = match action {
            Action::Help => {
                self.help = true;
                none()
            }
            Action::Theme => {
                self.theme = self.theme.next();
                for half in &mut self.halves {
                    half.theme = self.theme;
                }
                none()
            }
            // One language for the whole screen: switched once, not once per half.
            Action::Language => {
                crate::i18n::set(crate::i18n::current().other());
                none()
            }
            Action::Back => {
                self.back = true;
                self.quit = true;
                [vec![Effect::Stop], vec![Effect::Stop]]
            }
            Action::Quit => {
                self.quit = true;
                self.each(Action::Quit)
            }
            Action::PauseResume => self.pause_or_resume(),
            Action::StepNext | Action::StepEvent => {
                let live =
                    |r: &RunState| !matches!(r.live.phase, Phase::Deadlock | Phase::Finished);
                if !self.runs().any(live) {
                    // Each half says why nothing moves.
                    return self.each(action);
                }
                let mut effects = none();
                for (half, out) in self.halves.iter_mut().zip(&mut effects) {
                    if half.run.as_ref().is_some_and(live) {
                        *out = half.update(action);
                    }
                }
                effects
            }
            Action::HistoryBack | Action::HistoryForward | Action::HistoryStart => {
                self.scrub(action)
            }
            Action::HistoryEnd => {
                for half in &mut self.halves {
                    if let Some(run) = &mut half.run {
                        run.cursor = None;
                    }
                }
                none()
            }
            Action::Restart
            | Action::Faster
            | Action::Slower
            | Action::ZoomIn
            | Action::ZoomOut
            | Action::Fit => self.each(action),
            _ => none(),
        };
        self.sync();
        effects
    }

    /// The action given to each half as its own run view would take it.
    fn each(&mut self, action: Action) -> [Vec<Effect>; 2] {
        let [a, b] = &mut self.halves;
        [a.update(action), b.update(action)]
    }

    /// Space: if either run moves, both stop; if neither does, both that can go on, go on.
    fn pause_or_resume(&mut self) -> [Vec<Effect>; 2] {
        let moving = |r: &RunState| matches!(r.live.phase, Phase::Running | Phase::Stepping(_));
        if self.runs().any(moving) {
            return self.halves.each_ref().map(|h| {
                if h.run.as_ref().is_some_and(moving) {
                    vec![Effect::Pause]
                } else {
                    Vec::new()
                }
            });
        }
        let paused = |r: &RunState| r.live.phase == Phase::Paused;
        if !self.runs().any(paused) {
            return self.each(Action::PauseResume);
        }
        let mut effects = [Vec::new(), Vec::new()];
        for (half, out) in self.halves.iter_mut().zip(&mut effects) {
            if half.run.as_ref().is_some_and(paused) {
                *out = half.update(Action::PauseResume);
            }
        }
        effects
    }

    /// The history keys move one cursor over both runs, on the shared axis: a run that ended
    /// earlier shows how it ended at any later instant.
    fn scrub(&mut self, action: Action) -> [Vec<Effect>; 2] {
        let Some(first) = self.halves[0].run.as_ref() else {
            return [Vec::new(), Vec::new()];
        };
        let last = first.axis_end_ns();
        let per = first.ns_per_cell();
        let at = first.cursor.unwrap_or(last);
        let cursor = match action {
            Action::HistoryBack => at.saturating_sub(per),
            Action::HistoryForward => (at + per).min(last),
            _ => 0,
        };
        self.halves.each_mut().map(|half| {
            let Some(run) = &mut half.run else {
                return Vec::new();
            };
            run.cursor = Some(cursor);
            if run.is_paused() {
                Vec::new()
            } else {
                vec![Effect::Pause]
            }
        })
    }

    /// The notice to show: the pair's own, else each run's, marked with its number.
    pub fn shown_notice(&self) -> Option<String> {
        if let Some(n) = &self.notice {
            return Some(n.clone());
        }
        let notes: Vec<String> = self
            .runs()
            .enumerate()
            .filter_map(|(i, r)| Some(format!("{}: {}", i + 1, r.notice.as_ref()?)))
            .collect();
        (!notes.is_empty()).then(|| notes.join("  "))
    }
}

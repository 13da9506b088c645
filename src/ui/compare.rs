//! `threadlab compare A B` in the terminal: two real runs, each with its own session, threads
//! and conductor, driven by one keyboard. Every key reaches both; a run that pauses by itself
//! (at the end of a step by event) pauses the other at once, so both stand at one moment.

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{Event as TermEvent, KeyEventKind};
use ratatui::layout::Rect;

use crate::engine::Phase;
use crate::error::Error;
use crate::scenario::model::Scenario;
use crate::session::{RunPlan, Session};
use crate::ui::app::Effect;
use crate::ui::keys::{self, Action, Context};
use crate::ui::pair::Pair;
use crate::ui::runner::{self, Driver, Looped};
use crate::ui::theme::Theme;
use crate::ui::view;
use crate::vocab::outcome::Exit;

/// Opens the compare view: `scenarios[0]` on top, `scenarios[1]` below, each run as `plans`
/// say; `paused` starts both (and their restarts) at 0s until space or a step.
pub fn run(
    scenarios: [Arc<Scenario>; 2],
    plans: &[RunPlan; 2],
    ascii: bool,
    paused: bool,
) -> Result<Exit, Error> {
    runner::need_terminal()?;
    // Both start held at 0s and are let go together, so neither has a head start.
    let [a, b] = &plans;
    let sessions = [
        Session::start(scenarios[0].clone(), a, true)?,
        Session::start(scenarios[1].clone(), b, true)?,
    ];
    let mut comparing = Comparing {
        pair: Pair::new(scenarios, a.speed, paused, Theme::from_env(ascii)),
        drivers: sessions.map(Driver::of),
    };
    comparing.link();
    if !paused {
        comparing.apply_all([vec![Effect::Resume], vec![Effect::Resume]]);
    }
    let ended = runner::run_looped(&mut comparing);
    let Comparing { mut pair, drivers } = comparing;
    for (mut driver, half) in drivers.into_iter().zip(&mut pair.halves) {
        driver.stop(Some(half));
    }
    match ended {
        Ok(Exit::Success) if pair.back => crate::ui::run_menu(&[], ascii),
        ended => ended,
    }
}

/// The two runs on screen and their drivers.
struct Comparing {
    pair: Pair,
    drivers: [Driver; 2],
}

impl Comparing {
    /// Each run pauses when the other pauses by itself.
    fn link(&self) {
        let [a, b] = &self.drivers;
        if let (Some(a), Some(b)) = (a.run(), b.run()) {
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
                if driver.run().is_some_and(|r| r.phase() == Phase::Running) {
                    driver.apply(half, Effect::Pause);
                }
            }
        }
        let mut go = [false; 2];
        for (i, (effects, driver)) in effects.into_iter().zip(&mut self.drivers).enumerate() {
            let half = &mut self.pair.halves[i];
            for effect in effects {
                if effect == Effect::Restart
                    && let Some(run) = &mut half.run
                {
                    go[i] = !run.paused_start;
                    run.paused_start = true;
                    driver.apply(half, Effect::Restart);
                    if let Some(run) = &mut half.run {
                        run.paused_start = !go[i];
                    }
                    continue;
                }
                driver.apply(half, effect);
            }
        }
        if restart {
            self.link();
            for (i, driver) in self.drivers.iter_mut().enumerate() {
                if go[i] {
                    driver.apply(&mut self.pair.halves[i], Effect::Resume);
                }
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

    fn render(&self, area: Rect, buf: &mut Buffer) {
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

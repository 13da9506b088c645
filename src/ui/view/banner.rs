//! The deadlock banner: the cycle spelled out, impossible to miss from the back of the room.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::i18n;
use crate::scenario::model::Scenario;
use crate::ui::theme::Theme;
use crate::vocab::deadlock::Deadlock;

pub struct DeadlockBanner<'a> {
    pub deadlock: &'a Deadlock,
    pub scenario: &'a Scenario,
    pub theme: Theme,
}

/// Rows the banner wants at this width.
pub fn wanted_height(deadlock: &Deadlock, scenario: &Scenario, width: u16) -> u16 {
    let w = width.max(1) as usize;
    lines(deadlock, scenario, width)
        .iter()
        .map(|l| Line::from(l.as_str()).width().div_ceil(w).max(1) as u16)
        .sum()
}

/// What went wrong, the cycle in words, and who can never move again.
fn lines(deadlock: &Deadlock, scenario: &Scenario, width: u16) -> [String; 3] {
    let headline = if width >= 50 {
        rust_i18n::t!("banner.headline", what = deadlock.headline(i18n::current())).into_owned()
    } else {
        rust_i18n::t!("banner.short").into_owned()
    };
    const SHOWN: usize = 6;
    let mut names: Vec<&str> = deadlock
        .stuck
        .iter()
        .take(SHOWN)
        .map(|&t| scenario.thread_name(t))
        .collect();
    let more = deadlock.stuck.len().saturating_sub(SHOWN);
    let more = (more > 0).then(|| rust_i18n::t!("banner.more", count = more).into_owned());
    names.extend(more.as_deref());
    let who = match names.as_slice() {
        [one] => rust_i18n::t!("banner.one_can", name = one),
        [init @ .., last] => rust_i18n::t!(
            "banner.many_can",
            names = init.join(rust_i18n::t!("banner.list_sep").as_ref()),
            last = last
        ),
        [] => rust_i18n::t!("banner.none_can"),
    };
    [
        headline,
        deadlock.words(i18n::current(), scenario),
        rust_i18n::t!("banner.never", who = who).into_owned(),
    ]
}

impl Widget for DeadlockBanner<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let style = self.theme.alarm();
        buf.set_style(area, style);
        let lines: Vec<Line> = lines(self.deadlock, self.scenario, area.width)
            .into_iter()
            .map(Line::from)
            .collect();
        Paragraph::new(lines)
            .style(style)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true })
            .render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::{Op, ResourceKind};
    use crate::scenario::testing::scenario;
    use crate::ui::theme::ThemeKind;
    use crate::vocab::deadlock::{Blame, WaitEdge, Want};

    fn text(deadlock: &Deadlock, scenario: &Scenario, width: u16) -> String {
        let height = wanted_height(deadlock, scenario, width);
        let area = Rect::new(0, 0, width, height);
        let mut buf = Buffer::empty(area);
        DeadlockBanner {
            deadlock,
            scenario,
            theme: Theme::new(ThemeKind::Dark, false),
        }
        .render(area, &mut buf);
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .trim()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_self_deadlock_is_not_called_threads_waiting_for_each_other() {
        let s = scenario(
            &[("S", ResourceKind::Semaphore { permits: 1 })],
            &[
                ("B", vec![Op::Acquire(0), Op::Acquire(0)]),
                ("A", vec![Op::Acquire(0)]),
            ],
        );
        let d = Deadlock {
            cycle: vec![WaitEdge {
                thread: 0,
                resource: 0,
                want: Want::Release,
                blame: Blame::HeldBy(0),
            }],
            stuck: vec![0],
        };
        assert_eq!(
            text(&d, &s, 80),
            "DEADLOCK: a thread waits for itself forever\n\
             B waits for a second permit of S while holding the only one\n\
             B can never move again.  r restarts  ·  Esc menu"
        );
        // Narrow: every line wraps, nothing is cut.
        let narrow = text(&d, &s, 20);
        assert!(narrow.starts_with("DEADLOCK\n"), "{narrow}");
        assert!(narrow.contains("only one"), "{narrow}");
        assert!(narrow.ends_with("Esc menu"), "{narrow}");
    }

    /// A cycle of one whose thread is the only one who could end its wait is worded as a thread
    /// waiting for itself, never as threads waiting for each other.
    #[test]
    fn a_wait_only_the_waiter_could_end_is_a_wait_for_itself() {
        let s = scenario(
            &[("go", ResourceKind::Event)],
            &[("A", vec![Op::Wait(0), Op::Set(0)])],
        );
        let d = Deadlock {
            cycle: vec![WaitEdge {
                thread: 0,
                resource: 0,
                want: Want::Set,
                blame: Blame::OnlyFrom(0),
            }],
            stuck: vec![0],
        };
        assert!(d.is_self_deadlock());
        let shown = text(&d, &s, 100);
        assert!(
            shown.starts_with("DEADLOCK: a thread waits for itself forever\n"),
            "{shown}"
        );
        assert!(!shown.contains("each other"), "{shown}");
        assert!(
            shown.contains("A waits for go, which only it could set"),
            "{shown}"
        );
    }
}

//! Two runs compared, one above the other on one time axis: a header, then for each run its
//! title and outcome, its deadlock banner, its lanes and its card, then one log of both runs'
//! events, each line marked with its run's number, and the footer.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::trace::card::Card;
use crate::ui::app::RunState;
use crate::ui::keys::Context;
use crate::ui::pair::Pair;
use crate::ui::theme::Theme;
use crate::ui::view::{
    banner, card,
    card::CardStack,
    fit, fmt_clock, fmt_ns, footer, framed, lanes, log,
    run::{badge, machine_warning, run_cards, trim_speed},
    too_small,
};
use crate::vocab::event::Event;

/// The smallest terminal the compare view draws in.
pub const COMPARE_MIN_SIZE: (u16, u16) = (60, 20);

/// Rows of one half: its title line, banner, lanes and card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HalfRows {
    pub banner: u16,
    pub lanes: u16,
    pub card: u16,
}

impl HalfRows {
    fn total(self) -> u16 {
        1 + self.banner + self.lanes + self.card
    }
}

/// How tall each half is drawn in `area`, and the log's rows. Both halves are drawn alike, as
/// a run view would draw them if both fit (two rows a lane, legend, card); else, in this
/// order, one row a lane, no card, a banner cut to its first lines, and at last lanes folded
/// into half the rows left each (the panel says which it shows). The log keeps a few lines
/// whatever happens, and takes every row the halves leave.
pub fn rows(pair: &Pair, area: Rect, cards: &[Vec<Card>; 2]) -> ([HalfRows; 2], u16) {
    let log_min = if area.height >= 30 { 6 } else { 4 };
    let room = area.height.saturating_sub(2 + log_min);
    let wants: Vec<(u16, u16, u16, u16)> = pair
        .halves
        .iter()
        .zip(cards)
        .map(|(half, cards)| {
            let Some(run) = &half.run else {
                return (0, 0, 0, 0);
            };
            let scenario = &run.scenario;
            let banner = run
                .deadlock_shown()
                .map_or(0, |d| banner::wanted_height(d, scenario, area.width).min(3));
            let warning = machine_warning(run);
            let card = card::stack_height(cards, area.width, warning.as_deref());
            (
                banner,
                lanes::wanted_height(run, true),
                lanes::wanted_height(run, false),
                card,
            )
        })
        .collect();
    let tier = |tall: bool, card: bool, banner_most: u16| -> [HalfRows; 2] {
        [0, 1].map(|i| {
            let (banner, tall_h, short_h, card_h) = wants[i];
            HalfRows {
                banner: banner.min(banner_most),
                lanes: if tall { tall_h } else { short_h },
                card: if card { card_h } else { 0 },
            }
        })
    };
    let tiers = [
        tier(true, true, 3),
        tier(false, true, 3),
        tier(false, false, 3),
        tier(false, false, 2),
        tier(false, false, 1),
    ];
    let halves = tiers
        .into_iter()
        .find(|t| t.iter().map(|h| h.total()).sum::<u16>() <= room)
        .unwrap_or_else(|| {
            // Half the rows each; a half that needs fewer leaves the rest to the other.
            let mut folded = tier(false, false, 1);
            let need = folded.map(|h| h.total());
            let half = room / 2;
            let budget = match need {
                [a, _] if a <= half => [a, room - a],
                [_, b] if b <= half => [room - b, b],
                _ => [half, room - half],
            };
            for (h, budget) in folded.iter_mut().zip(budget) {
                // At least one lane and the axis, inside the borders.
                h.lanes = h.lanes.min(budget.saturating_sub(1 + h.banner).max(4));
            }
            folded
        });
    let used: u16 = halves.iter().map(|h| h.total()).sum();
    (halves, area.height.saturating_sub(2 + used))
}

pub fn render(pair: &Pair, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    let theme = pair.theme;
    if area.width < COMPARE_MIN_SIZE.0 || area.height < COMPARE_MIN_SIZE.1 {
        too_small(area, buf, COMPARE_MIN_SIZE, theme);
    } else {
        draw(pair, area, buf);
    }
    crate::ui::view::finish(theme, pair.help.then_some(Context::Compare), area, buf);
}

fn draw(pair: &Pair, area: Rect, buf: &mut Buffer) {
    let theme = pair.theme;
    let cards = pair.halves.each_ref().map(|half| {
        half.run
            .as_ref()
            .map_or_else(Vec::new, |run| run_cards(run, half.cores))
    });
    let ([top, bottom], log_h) = rows(pair, area, &cards);
    let [head, top_area, bottom_area, log, foot] = area.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(top.total()),
        Constraint::Length(bottom.total()),
        Constraint::Length(log_h),
        Constraint::Length(1),
    ]));
    header(pair, theme, head, buf);
    for (i, ((half, cards), (rows, area))) in pair
        .halves
        .iter()
        .zip(&cards)
        .zip([(top, top_area), (bottom, bottom_area)])
        .enumerate()
    {
        if let Some(run) = &half.run {
            draw_half(run, i, rows, cards, theme, area, buf);
        }
    }
    Log { pair, theme }.render(log, buf);
    match pair.shown_notice() {
        Some(n) => crate::ui::view::notice(&n, foot, buf, theme),
        None => footer(Context::Compare, foot, buf, theme),
    }
}

fn header(pair: &Pair, theme: Theme, area: Rect, buf: &mut Buffer) {
    let Some(first) = pair.halves[0].run.as_ref() else {
        return;
    };
    let mut spans = vec![
        Span::styled(" threadlab ", theme.title()),
        Span::styled(
            format!(" {} ", rust_i18n::t!("compare.title")),
            theme.text(),
        ),
        Span::raw(format!(" {}×  ", trim_speed(first.live.speed))),
    ];
    if let Some(c) = first.cursor {
        spans.push(Span::styled(
            rust_i18n::t!("run.viewing", at = fmt_ns(c)).into_owned(),
            theme.key(),
        ));
    }
    Line::from(spans).render(area, buf);
}

/// The mark of run `i` (0 or 1) wherever its lines are told apart: its number.
pub fn mark(i: usize) -> String {
    format!("{}", i + 1)
}

fn draw_half(
    run: &RunState,
    i: usize,
    rows: HalfRows,
    cards: &[Card],
    theme: Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let [title, banner_area, lanes_area, card] = area.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(rows.banner),
        Constraint::Length(rows.lanes),
        Constraint::Length(rows.card),
    ]));
    // The title line: the run's number, its lesson's title, and how it stands.
    let (kind, state) = badge(run);
    let right = Line::from(vec![
        Span::styled(state, theme.badge(kind)),
        Span::styled(format!("  {} ", fmt_clock(run.end_ns())), theme.text()),
    ]);
    let right_w = (right.width() as u16).min(title.width);
    let left_w = title.width - right_w;
    let name = fit(
        run.scenario.shown_title(),
        (left_w as usize).saturating_sub(5),
    );
    Line::from(vec![
        Span::styled(format!(" {} ", mark(i)), theme.selected()),
        Span::styled(format!(" {name}"), theme.title()),
    ])
    .render(
        Rect {
            width: left_w,
            ..title
        },
        buf,
    );
    right.render(
        Rect {
            x: title.x + left_w,
            width: right_w,
            ..title
        },
        buf,
    );
    if let Some(d) = run.deadlock_shown() {
        banner::DeadlockBanner {
            deadlock: d,
            scenario: &run.scenario,
            theme,
        }
        .render(banner_area, buf);
    }
    let resources = run.trace.resources_at(run.view_ns());
    lanes::Lanes {
        run,
        theme,
        resources: &resources,
    }
    .render(lanes_area, buf);
    folded_note(run, theme, lanes_area, buf);
    CardStack {
        cards,
        theme,
        warning: machine_warning(run).as_deref(),
    }
    .render(card, buf);
}

/// Lanes folded away for want of rows are said so on the panel's bottom border.
fn folded_note(run: &RunState, theme: Theme, area: Rect, buf: &mut Buffer) {
    if area.height < 3 {
        return;
    }
    let g = lanes::geometry(run, area);
    let shown = (g.rows / g.lane_h.max(1)) as usize;
    let n = run.scenario.threads.len();
    if shown >= n {
        return;
    }
    let note = rust_i18n::t!(
        "compare.folded",
        all = n,
        first = g.first + 1,
        last = g.first + shown
    );
    let text = fit(&format!(" {note} "), area.width.saturating_sub(4) as usize);
    buf.set_stringn(
        area.x + 2,
        area.bottom() - 1,
        &text,
        area.width.saturating_sub(4) as usize,
        theme.warning(),
    );
}

/// What happened in both runs, in run time, newest at the bottom; each line starts with its
/// run's number.
struct Log<'a> {
    pair: &'a Pair,
    theme: Theme,
}

impl Widget for Log<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let inner = framed(rust_i18n::t!("panel.happened"), theme, area, buf);
        if inner.is_empty() {
            return;
        }
        let rows = inner.height as usize;
        let mut lines: Vec<(usize, &RunState, Event)> = Vec::new();
        for (i, run) in self.pair.runs().enumerate() {
            // As the run view's log says it, the last `rows` lines of each run.
            lines.extend(log::shown(run, rows).into_iter().map(|e| (i, run, *e)));
        }
        // In run time; at the same instant the top run's line first.
        lines.sort_by_key(|(i, _, e)| (e.t_ns, *i));
        let skip = lines.len().saturating_sub(rows);
        for (row, (i, run, e)) in lines[skip..].iter().enumerate() {
            let mark = Span::styled(format!("{} ", mark(*i)), theme.key());
            log::event_line(run, e, Some(mark), theme, inner.width).render(
                Rect {
                    y: inner.y + row as u16,
                    height: 1,
                    ..inner
                },
                buf,
            );
        }
    }
}

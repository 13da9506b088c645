//! The run view: header, deadlock banner, lanes, code with markers, the lesson's cards,
//! resources, event log, what to look for, footer. Laid out by priority so 80×24 still shows what matters.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::engine::Phase;
use crate::scenario::model::ThreadIdx;
use crate::trace::ResourceState;
use crate::trace::card::Card;
use crate::ui::app::{App, RunState};
use crate::ui::layout::RUN_MIN_SIZE;
use crate::ui::theme::{Badge, Theme};
use crate::ui::view::{
    banner, card, card::CardStack, code::Code, fit, fmt_clock, fmt_ns, footer, framed, lanes,
    log::Log, notice, resources, side_by_side, too_small, wrap,
};

#[derive(Debug, Default)]
pub struct Areas {
    pub header: Rect,
    pub banner: Rect,
    pub failures: Rect,
    pub lanes: Rect,
    pub code: Rect,
    /// The lesson's comparison cards, one above the other.
    pub cards: Rect,
    pub resources: Rect,
    pub log: Rect,
    pub about: Rect,
    pub footer: Rect,
}

/// The lesson's cards at the time shown.
pub fn run_cards(run: &RunState, cores: usize) -> Vec<Card> {
    crate::trace::cards::cards(&run.trace, run.view_ns(), cores, run.footprint.as_ref())
}

/// Where each panel of `app`'s run goes in `area`, as the run view draws it.
pub fn areas_of(app: &App, area: Rect) -> Option<Areas> {
    let run = app.run.as_ref()?;
    let resources = run.trace.resources_at(run.view_ns());
    Some(areas(run, area, &run_cards(run, app.cores), &resources))
}

/// Where each panel goes, given the lesson's `cards` (see [`run_cards`]) and the `resources`
/// as they stand at the time shown.
pub fn areas(run: &RunState, area: Rect, cards: &[Card], resources: &[ResourceState]) -> Areas {
    let scenario = &run.scenario;
    let banner_h = run
        .deadlock_shown()
        .map_or(0, |d| banner::wanted_height(d, scenario, area.width).min(5));
    let failures_h = run.failures_shown().count().min(2) as u16;
    let fixed = 2 + banner_h + failures_h;
    let room = area.height.saturating_sub(fixed);
    // The lanes are the point, but the code and resources below need a few rows too.
    // Two rows per lane when the panels below still get a good share; else one.
    let tall = lanes::wanted_height(run, true);
    let lanes_h = if room >= tall + 18 {
        tall
    } else {
        lanes::wanted_height(run, false).min(room.saturating_sub(8).max(5))
    };
    let [header, banner, failures, lanes, bottom, foot] = area.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner_h),
        Constraint::Length(failures_h),
        Constraint::Length(lanes_h),
        Constraint::Fill(1),
        Constraint::Length(1),
    ]));
    let [code, right] = side_by_side(bottom, 4, (30, 56));
    let warning = machine_warning(run);
    let cards_h = card::stack_height(cards, right.width, warning.as_deref());
    let res_h = resources::wanted_height(run, resources, right.width.saturating_sub(2))
        .min(right.height.saturating_sub(cards_h + 3));
    // Borders with no row between them say nothing: the log takes the room.
    let res_h = if res_h < 3 { 0 } else { res_h };
    let mut about = crate::ui::view::reflow(scenario.shown_about());
    about.extend(card_notes(run, !cards.is_empty()));
    let about_rows = about
        .iter()
        .map(|p| wrap(p, right.width.saturating_sub(2)).len() as u16)
        .sum::<u16>()
        + about.len().saturating_sub(1) as u16;
    // What to look for comes after the log: only with room to spare, and never so much that
    // the log shrinks below a few lines.
    let spare = right.height.saturating_sub(cards_h + res_h + 6);
    let about_h = if about_rows > 0 && spare >= 4 {
        (about_rows + 2).min(spare)
    } else {
        0
    };
    let [cards, resources, log, about] = right.layout(&Layout::vertical([
        Constraint::Length(cards_h),
        Constraint::Length(res_h),
        Constraint::Fill(1),
        Constraint::Length(about_h),
    ]));
    Areas {
        header,
        banner,
        failures,
        lanes,
        code,
        cards,
        resources,
        log,
        about,
        footer: foot,
    }
}

/// The thread whose lane is under a mouse click.
pub fn lane_at(app: &App, pos: Position) -> Option<ThreadIdx> {
    let run = app.run.as_ref()?;
    if app.size.width < RUN_MIN_SIZE.0 || app.size.height < RUN_MIN_SIZE.1 {
        return None;
    }
    lanes::thread_at(run, areas_of(app, app.size)?.lanes, pos)
}

/// How the run stands at the time shown, as the header's badge says it.
pub fn badge(run: &RunState) -> (Badge, String) {
    let playing = run.replay.as_ref().is_some_and(|r| r.playing);
    match run.phase_shown() {
        Phase::Paused if playing => (Badge::Running, rust_i18n::t!("replay_truth.playing").into()),
        Phase::Running => (Badge::Running, rust_i18n::t!("run.running").into()),
        Phase::Paused => (Badge::Paused, rust_i18n::t!("run.paused").into()),
        Phase::Stepping(t) => (
            Badge::Stepping,
            rust_i18n::t!("run.stepping", thread = run.scenario.thread_name(t)).into(),
        ),
        Phase::Deadlock => (Badge::Deadlock, rust_i18n::t!("run.deadlock").into()),
        Phase::Finished if run.failures_shown().next().is_some() => {
            (Badge::Failed, rust_i18n::t!("run.done_failures").into())
        }
        Phase::Finished => (Badge::Done, rust_i18n::t!("run.done").into()),
    }
}

fn header(run: &RunState, theme: Theme, area: Rect, buf: &mut Buffer) {
    let (kind, text) = badge(run);
    let mut right = vec![
        Span::styled(text, theme.badge(kind)),
        Span::raw(format!("  {}×  ", trim_speed(run.live.speed))),
        Span::styled(fmt_clock(run.end_ns()), theme.text()),
    ];
    if let Some(c) = run.cursor {
        right.push(Span::styled(
            rust_i18n::t!("run.viewing", at = fmt_ns(c)).into_owned(),
            theme.key(),
        ));
    }
    if run.live.dropped > 0 {
        right.push(Span::styled(
            rust_i18n::t!("run.dropped", count = run.live.dropped).into_owned(),
            theme.warning(),
        ));
    }
    if run.live.quizzing {
        right.push(Span::styled(
            rust_i18n::t!(
                "quiz.score",
                right = run.quiz.right,
                answered = run.quiz.answered
            )
            .into_owned(),
            theme.key(),
        ));
    }
    right.push(Span::raw(" "));
    let right = Line::from(right);
    let right_w = (right.width() as u16).min(area.width);
    let left_w = area.width - right_w;
    let title = fit(
        run.scenario.shown_title(),
        (left_w as usize).saturating_sub(13),
    );
    Line::from(vec![
        Span::styled(" threadlab ", theme.title()),
        Span::styled(format!(" {title}"), theme.text()),
    ])
    .render(
        Rect {
            width: left_w,
            ..area
        },
        buf,
    );
    right.render(
        Rect {
            x: area.x + left_w,
            width: right_w,
            ..area
        },
        buf,
    );
}

pub(super) fn trim_speed(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    let theme = app.theme;
    let Some(run) = &app.run else {
        return;
    };
    if area.width < RUN_MIN_SIZE.0 || area.height < RUN_MIN_SIZE.1 {
        too_small(area, buf, RUN_MIN_SIZE, theme);
        return;
    }
    // What the panels share is taken once a frame: the lanes' "holds" and the resources panel
    // read the same states, and the layout measures the panel it draws.
    let cards = run_cards(run, app.cores);
    let states = run.trace.resources_at(run.view_ns());
    let a = areas(run, area, &cards, &states);
    header(run, theme, a.header, buf);
    if let Some(d) = run.deadlock_shown() {
        banner::DeadlockBanner {
            deadlock: d,
            scenario: &run.scenario,
            theme,
        }
        .render(a.banner, buf);
    }
    let failures: Vec<Line> = run
        .failures_shown()
        .map(|(t, why)| {
            Line::styled(
                format!(
                    " {}",
                    rust_i18n::t!(
                        "classroom.log.failed_because",
                        who = run.scenario.thread_name(*t),
                        reason = why
                    )
                ),
                theme.error(),
            )
        })
        .collect();
    Paragraph::new(failures).render(a.failures, buf);
    lanes::Lanes {
        run,
        theme,
        resources: &states,
    }
    .render(a.lanes, buf);
    Code { run, theme }.render(a.code, buf);
    CardStack {
        cards: &cards,
        theme,
        warning: machine_warning(run).as_deref(),
    }
    .render(a.cards, buf);
    resources::Resources {
        run,
        theme,
        states: &states,
    }
    .render(a.resources, buf);
    Log { run, theme }.render(a.log, buf);
    if !a.about.is_empty() {
        let inner = framed(rust_i18n::t!("panel.look_for"), theme, a.about, buf);
        let mut lines = Vec::new();
        let notes = card_notes(run, !cards.is_empty());
        for (i, note) in notes.into_iter().enumerate() {
            let style = if i == 0 { theme.dim() } else { theme.warning() };
            lines.extend(
                wrap(&note, inner.width)
                    .into_iter()
                    .map(|l| Line::styled(l, style)),
            );
            lines.push(Line::raw(""));
        }
        for para in crate::ui::view::reflow(run.scenario.shown_about()) {
            lines.extend(wrap(&para, inner.width).into_iter().map(Line::raw));
            lines.push(Line::raw(""));
        }
        lines.pop();
        Paragraph::new(lines).render(inner, buf);
    }
    match &run.notice {
        Some(n) => notice(n, a.footer, buf, theme),
        None => footer(app.context(), a.footer, buf, theme),
    }
}

/// What the lesson's threads stand for, then the machine's warning if the run could not show
/// what the lesson says and no card says it beside its figures: the first lines of the "look
/// for" panel.
fn card_notes(run: &RunState, cards: bool) -> Vec<String> {
    let mut notes = vec![run.scenario.models_words()];
    if !cards {
        notes.extend(machine_warning(run));
    }
    notes
}

/// Why this run's timings cannot show what the lesson says, if they cannot (a busy machine).
pub fn machine_warning(run: &RunState) -> Option<String> {
    run.machine.as_ref().and_then(|m| m.warning_text())
}

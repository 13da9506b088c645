//! Each resource as it stands at the viewed instant: who holds it, who waits for it.

use crate::cells;
use crate::i18n;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};
use rust_i18n::t;

use crate::scenario::model::{ResIdx, ResourceKind, Scenario, ThreadIdx, UNBOUNDED};
use crate::trace::timeline::ResourceState;
use crate::ui::app::RunState;
use crate::ui::theme::Theme;
use crate::ui::view::{fmt_ns, framed};
use crate::vocab::event::State;

pub struct Resources<'a> {
    pub run: &'a RunState,
    pub theme: Theme,
    /// Every resource's state at the time shown ([`crate::trace::Trace::resources_at`]).
    pub states: &'a [ResourceState],
}

/// Rows the panel wants at this inner width: each resource's line, wrapped, plus borders.
pub fn wanted_height(run: &RunState, states: &[ResourceState], width: u16) -> u16 {
    let theme = Theme::new(crate::ui::theme::ThemeKind::Mono, false);
    let rows: usize = lines(run, states, theme)
        .into_iter()
        .map(|l| hang(l, width).len())
        .sum();
    (rows as u16).max(1) + 2
}

/// `line` (a resource's name, its kind, then what it holds and who waits) as rows of at most
/// `width` cells, broken between words; a row after the first starts under the first word
/// after the kind, so a name wrapped onto the next row is never read as a resource's name.
fn hang(line: Line<'_>, width: u16) -> Vec<Line<'_>> {
    let width = usize::from(width.max(1));
    let lead: usize = line.spans.iter().take(2).map(|s| s.width()).sum();
    let indent = if lead * 2 <= width {
        lead
    } else {
        2.min(width - 1)
    };
    // Words with the spaces before them, so a row's break falls between words; a label
    // ("waiting:") stays with the word after it.
    let mut words: Vec<Vec<Span>> = Vec::new();
    let mut label = false;
    for span in &line.spans {
        let text = span.content.as_ref();
        let mut start = 0;
        let mut cuts: Vec<usize> = Vec::new();
        for (i, c) in text.char_indices() {
            if c == ' ' && i > start && !text[start..i].trim().is_empty() {
                cuts.push(i);
                start = i;
            }
        }
        let mut from = 0;
        for to in cuts.into_iter().chain([text.len()]) {
            let piece = &text[from..to];
            from = to;
            if piece.is_empty() {
                continue;
            }
            let blank = piece.trim().is_empty();
            let ends_label = piece.trim_end().ends_with([':', '：']);
            let piece = Span::styled(piece.to_string(), span.style);
            match words.last_mut() {
                Some(word) if label || blank => word.push(piece),
                _ => words.push(vec![piece]),
            }
            if !blank {
                label = ends_label;
            }
        }
    }
    let mut rows: Vec<Vec<Span>> = vec![Vec::new()];
    let mut col = 0;
    for word in words {
        let w: usize = word.iter().map(|s| s.width()).sum();
        if col > indent && col + w > width {
            rows.push(vec![Span::raw(" ".repeat(indent))]);
            col = indent;
            let mut word = word;
            if let Some(first) = word.first_mut() {
                first.content = first.content.trim_start().to_string().into();
            }
            for span in word {
                // A word longer than a row is cut where the row ends.
                for c in span.content.chars() {
                    let cw = cells::width(c.encode_utf8(&mut [0; 4]));
                    if col + cw > width {
                        rows.push(vec![Span::raw(" ".repeat(indent))]);
                        col = indent;
                    }
                    let row = rows.last_mut().expect("a row");
                    row.push(Span::styled(c.to_string(), span.style));
                    col += cw;
                }
            }
            continue;
        }
        col += w;
        rows.last_mut().expect("a row").extend(word);
    }
    rows.into_iter().map(Line::from).collect()
}

fn lines<'a>(run: &'a RunState, states: &[ResourceState], theme: Theme) -> Vec<Line<'a>> {
    let name_w = run
        .scenario
        .resources
        .iter()
        .map(|r| cells::width(&r.name))
        .max()
        .unwrap_or(1);
    states
        .iter()
        .enumerate()
        .map(|(i, s)| resource_line(run, theme, i as ResIdx, s, name_w))
        .collect()
}

/// Most names a list spells out; the rest are counted ("+9936"). More than any panel shows,
/// and few enough that ten thousand ready tasks cost a frame nothing to lay out.
const MOST_NAMES: usize = 64;

fn names(scenario: &Scenario, threads: &[ThreadIdx]) -> String {
    let mut text = threads
        .iter()
        .take(MOST_NAMES)
        .map(|t| scenario.thread_name(*t))
        .collect::<Vec<_>>()
        .join(" ");
    if threads.len() > MOST_NAMES {
        text.push_str(&format!(" +{}", threads.len() - MOST_NAMES));
    }
    text
}

fn gauge(theme: Theme, full: u32, total: u32) -> String {
    // Beyond a dozen slots a gauge stops being readable at a glance; the numbers carry it.
    if total > 12 {
        return String::new();
    }
    let g = theme.glyphs;
    let mut s: String = (0..total)
        .map(|i| {
            if i < full {
                g.gauge_full()
            } else {
                g.gauge_empty()
            }
        })
        .collect();
    s.push(' ');
    s
}

/// One resource's line.
pub fn resource_line<'a>(
    run: &'a RunState,
    theme: Theme,
    r: ResIdx,
    state: &ResourceState,
    name_w: usize,
) -> Line<'a> {
    let scenario = &run.scenario;
    let (_, cycle) = run.cycle();
    let name = scenario.resource_name(r);
    let name_style = if cycle.contains(&r) {
        theme.in_cycle()
    } else {
        theme.text().add_modifier(ratatui::style::Modifier::BOLD)
    };
    let is_loop = scenario.resources[r as usize].kind == ResourceKind::EventLoop;
    let kind = if is_loop {
        i18n::text_or("classroom.resources.loop", "loop")
    } else {
        let keyword = scenario.resources[r as usize].keyword();
        crate::scenario::kind_word(keyword)
    };
    let mut spans = vec![
        Span::styled(cells::pad(name, name_w), name_style),
        Span::styled(format!(" {} ", cells::pad(&kind, 9)), theme.dim()),
    ];
    // The threads in `who`, after `lead`; nothing at all when there are none.
    let listed = |spans: &mut Vec<Span<'a>>, lead: String, who: &[ThreadIdx], style: Style| {
        if !who.is_empty() {
            spans.push(Span::styled(lead, theme.dim()));
            spans.push(Span::styled(names(scenario, who), style));
        }
    };
    let waiting = |spans: &mut Vec<Span<'a>>, label: &str, who: &[ThreadIdx], style: Style| {
        listed(spans, format!("  {label}"), who, style);
    };
    let blocked = theme.state(crate::vocab::event::State::Locked(r));
    let running = theme.state(crate::vocab::event::State::Running);
    match state {
        ResourceState::Mutex {
            holder,
            depth,
            waiters,
        } => {
            // An event loop is kept like a lock: its holder is the task it runs.
            let (busy, free, queue) = if is_loop {
                (
                    t!("classroom.resources.running"),
                    t!("classroom.resources.idle"),
                    t!("classroom.resources.ready"),
                )
            } else {
                (
                    t!("classroom.resources.held_by"),
                    t!("classroom.resources.free"),
                    t!("classroom.resources.waiting"),
                )
            };
            match holder {
                Some(h) => {
                    spans.push(Span::styled(busy, theme.dim()));
                    spans.push(Span::styled(scenario.thread_name(*h).to_string(), running));
                    // An rlock held more than once: the count its holder must unlock.
                    if *depth > 1 {
                        spans.push(Span::styled(
                            t!("screen.times_held", n = depth).into_owned(),
                            running,
                        ));
                    }
                }
                None => spans.push(Span::styled(free, theme.dim())),
            }
            waiting(&mut spans, &queue, waiters, blocked);
        }
        ResourceState::RwLock {
            readers,
            writer,
            waiters,
        } => {
            match (writer, readers.len()) {
                (Some(w), _) => {
                    spans.push(Span::styled(t!("screen.rwlock.writer"), theme.dim()));
                    spans.push(Span::styled(
                        scenario.thread_name(*w).to_string(),
                        theme.state(State::Writing(r)),
                    ));
                }
                (None, 0) => spans.push(Span::styled(t!("classroom.resources.free"), theme.dim())),
                (None, n) => {
                    spans.push(Span::styled(
                        t!("screen.rwlock.reading", n = n).into_owned(),
                        theme.state(State::Reading(r)),
                    ));
                    listed(
                        &mut spans,
                        ": ".into(),
                        readers,
                        theme.state(State::Reading(r)),
                    );
                }
            }
            waiting(
                &mut spans,
                &t!("classroom.resources.waiting"),
                waiters,
                blocked,
            );
        }
        ResourceState::Pool {
            queued,
            running: tasks,
            finished,
            idle,
            awaiting,
            ..
        } => {
            let style = theme.state(crate::vocab::event::State::Condition(r));
            spans.push(Span::raw(
                rust_i18n::t!(
                    "syllabus.pool.panel",
                    queued = queued.len(),
                    finished = finished
                )
                .into_owned(),
            ));
            if !tasks.is_empty() {
                let now: Vec<String> = tasks
                    .iter()
                    .map(|&(w, n)| format!("{}:#{n}", scenario.thread_name(w)))
                    .collect();
                spans.push(Span::styled(format!("  {}", now.join(" ")), running));
            }
            waiting(
                &mut spans,
                &rust_i18n::t!("syllabus.pool.idle"),
                idle,
                style,
            );
            waiting(
                &mut spans,
                &rust_i18n::t!("syllabus.pool.awaiting"),
                awaiting,
                style,
            );
        }
        ResourceState::Event { set, waiters } => {
            let style = theme.state(crate::vocab::event::State::Condition(r));
            if *set {
                spans.push(Span::styled(
                    rust_i18n::t!("syllabus.event.set").into_owned(),
                    running,
                ));
            } else {
                spans.push(Span::styled(
                    rust_i18n::t!("syllabus.event.clear").into_owned(),
                    theme.dim(),
                ));
            }
            let label = t!("classroom.resources.waiting");
            waiting(&mut spans, &label, waiters, style);
        }
        ResourceState::Semaphore {
            permits,
            holders,
            waiters,
        } => {
            let used = holders.len() as u32;
            spans.push(Span::styled(gauge(theme, used, *permits), running));
            spans.push(Span::raw(
                t!("classroom.resources.in_use", used = used, permits = permits).into_owned(),
            ));
            listed(
                &mut spans,
                t!("classroom.resources.by").into_owned(),
                holders,
                running,
            );
            let style = theme.state(crate::vocab::event::State::Semaphore(r));
            waiting(
                &mut spans,
                &t!("classroom.resources.waiting"),
                waiters,
                style,
            );
        }
        ResourceState::Barrier {
            parties,
            arrived,
            generation,
        } => {
            let style = theme.state(crate::vocab::event::State::Barrier(r));
            let n = arrived.len() as u32;
            spans.push(Span::styled(gauge(theme, n, *parties), style));
            spans.push(Span::raw(
                t!("classroom.resources.arrived", n = n, parties = parties).into_owned(),
            ));
            listed(&mut spans, ": ".into(), arrived, style);
            if *generation > 0 {
                spans.push(Span::styled(
                    t!("classroom.resources.opened", times = generation).into_owned(),
                    theme.dim(),
                ));
            }
        }
        ResourceState::Buffer {
            capacity,
            items,
            producers_waiting,
            consumers_waiting,
            put,
            taken,
        } => {
            let style = theme.state(crate::vocab::event::State::Condition(r));
            let empty = theme.glyphs.gauge_empty();
            // An mp-queue, and a traced program's `Queue()`, have no bound: their items, as
            // many as there are room for.
            let unbounded = scenario.resources[r as usize].kind == ResourceKind::MpQueue
                || *capacity == UNBOUNDED;
            let slots = if unbounded {
                (items.len() as u32).min(12)
            } else {
                (*capacity).min(12)
            };
            let mut cells = String::from("[");
            for i in 0..slots {
                match items.get(i as usize) {
                    Some(item) => cells.push_str(&format!("{item}")),
                    None => cells.push(empty),
                }
                if i + 1 < slots {
                    cells.push(' ');
                }
            }
            cells.push_str("] ");
            spans.push(Span::styled(cells, running));
            spans.push(Span::raw(if unbounded {
                items.len().to_string()
            } else {
                format!("{}/{capacity}", items.len())
            }));
            spans.push(Span::styled(
                t!("classroom.resources.put_taken", put = put, taken = taken).into_owned(),
                theme.dim(),
            ));
            waiting(
                &mut spans,
                &t!("classroom.resources.full_waiting"),
                producers_waiting,
                style,
            );
            waiting(
                &mut spans,
                &t!("classroom.resources.empty_waiting"),
                consumers_waiting,
                style,
            );
        }
        ResourceState::Gil {
            holder,
            waiters,
            drop_requested,
        } => {
            match holder {
                Some(h) => {
                    spans.push(Span::styled(t!("classroom.resources.held_by"), theme.dim()));
                    spans.push(Span::styled(scenario.thread_name(*h).to_string(), running));
                }
                None => spans.push(Span::styled(t!("classroom.resources.free"), theme.dim())),
            }
            let style = theme.state(crate::vocab::event::State::Gil(r));
            waiting(
                &mut spans,
                &t!("classroom.resources.waiting"),
                waiters,
                style,
            );
            if *drop_requested {
                spans.push(Span::styled(
                    t!("classroom.resources.drop_requested"),
                    theme.warning(),
                ));
            }
        }
        ResourceState::Counter {
            value,
            increments,
            reading,
        } => {
            spans.push(Span::raw(
                t!("classroom.resources.value", value = value).into_owned(),
            ));
            spans.push(Span::styled(
                t!("classroom.resources.increments", count = increments).into_owned(),
                theme.dim(),
            ));
            let lost = increments.saturating_sub(*value);
            if lost > 0 {
                spans.push(Span::styled(
                    t!("classroom.resources.lost", count = lost).into_owned(),
                    theme.warning(),
                ));
            }
            if !reading.is_empty() {
                spans.push(Span::styled(
                    t!("classroom.resources.unwritten"),
                    theme.dim(),
                ));
                spans.push(Span::styled(names(scenario, reading), running));
            }
        }
    }
    Line::from(spans)
}

impl Widget for Resources<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let run = self.run;
        let title = match run.cursor {
            Some(c) => rust_i18n::t!("panel.resources_at", at = fmt_ns(c)),
            None => rust_i18n::t!("panel.resources"),
        };
        let inner = framed(title, self.theme, area, buf);
        if inner.is_empty() {
            return;
        }
        let plain = lines(run, self.states, self.theme);
        let hung: Vec<Line> = plain
            .iter()
            .cloned()
            .flat_map(|l| hang(l, inner.width))
            .collect();
        // Hanging rows cost room: where they do not all fit, every word still shows, wrapped
        // to the panel's edge.
        let mut lines = if hung.len() <= usize::from(inner.height) {
            hung
        } else {
            plain
        };
        if lines.is_empty() {
            lines.push(Line::styled(
                t!("classroom.resources.none"),
                self.theme.dim(),
            ));
        }
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(inner, buf);
    }
}

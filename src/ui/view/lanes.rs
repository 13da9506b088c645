//! One lane per thread: its state over time as coloured glyphs, its state now in words, a time
//! axis and a legend.

use crate::cells;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::scenario::model::{Op, ResIdx, ResourceKind, Scenario, ThreadIdx};
use crate::trace::ResourceState;
use crate::ui::app::RunState;
use crate::ui::fold::Row;
use crate::ui::layout::{self, Columns, idle_words, state_words};
use crate::ui::theme::Theme;
use crate::ui::view::fold;
use crate::ui::view::{fit, fmt_ns, fmt_tick, framed, lane_rule};
use crate::vocab::event::{STATES, State};

pub struct Lanes<'a> {
    pub run: &'a RunState,
    pub theme: Theme,
    /// Every resource's state at the time shown ([`crate::trace::Trace::resources_at`]): what
    /// each lane's label says its thread holds.
    pub resources: &'a [ResourceState],
}

/// Where things sit inside the lanes panel, shared by drawing and mouse hit-testing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub inner: Rect,
    pub name_w: u16,
    pub label_w: u16,
    /// First column and width of the time cells.
    pub cells_x: u16,
    pub cells_w: u16,
    /// First row shown (a lane, or a folded group: [`Row`]), the rows all lanes take, and
    /// each lane's height: two rows when there is room, so the timeline reads from the back
    /// of a classroom.
    pub first: usize,
    pub rows: u16,
    pub lane_h: u16,
    pub axis: bool,
    pub legend: bool,
}

/// The rows the lanes panel wants: one (or two, `tall`) per lane (a folded group is one), the
/// axis, the legend and the borders.
pub fn wanted_height(run: &RunState, tall: bool) -> u16 {
    let n = run.folds.rows(run.scenario.threads.len()).len();
    let n = u16::try_from(n).unwrap_or(u16::MAX / 4);
    n.saturating_mul(if tall { 2 } else { 1 }).saturating_add(4)
}

pub fn geometry(run: &RunState, area: Rect) -> Geometry {
    let inner = Rect {
        x: area.x.saturating_add(1),
        y: area.y.saturating_add(1),
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    };
    let rows_all = run.folds.rows(run.scenario.threads.len());
    let n = rows_all.len() as u16;
    let axis = inner.height >= 2;
    let legend = inner.height >= n.clamp(1, 2) + 2;
    let rows = inner.height - u16::from(axis) - u16::from(legend);
    let lane_h = if n > 0 && rows >= 2 * n { 2 } else { 1 };
    let Columns {
        name_w,
        label_w,
        used,
    } = layout::columns_of(&run.lane_scenarios(), inner.width);
    let selected = run.folds.row_of(&rows_all, run.selected);
    let shown = (rows / lane_h) as usize;
    let first = if shown == 0 {
        0
    } else {
        selected.saturating_sub(shown - 1)
    };
    Geometry {
        inner,
        name_w,
        label_w,
        cells_x: inner.x + used,
        cells_w: inner.width - used,
        first,
        rows,
        lane_h,
        axis,
        legend,
    }
}

/// The thread whose lane is at `pos`, for mouse selection.
pub fn thread_at(run: &RunState, area: Rect, pos: Position) -> Option<ThreadIdx> {
    let g = geometry(run, area);
    let lanes = Rect {
        height: g.rows,
        ..g.inner
    };
    if !lanes.contains(pos) {
        return None;
    }
    let i = g.first + ((pos.y - lanes.y) / g.lane_h) as usize;
    let rows = run.folds.rows(run.scenario.threads.len());
    rows.get(i)
        .map(|&row| run.folds.thread_of(row, run.selected))
}

/// The states this scenario's lanes can show, in legend order: running, reading and writing
/// if it has an rwlock, sleeping if anything sleeps, a loop's blocking call and the starving
/// it causes if a task makes one, the wait of every kind of resource it declares, held and
/// failed, and cancelled where a task can be. Done is drawn as
/// nothing, so it has no swatch.
pub fn legend_states(scenario: &Scenario) -> Vec<State> {
    let sleeps = scenario
        .threads
        .iter()
        .flat_map(|t| &t.steps)
        .any(|s| matches!(s.op, Op::Sleep(_) | Op::BlockingSleep(_)));
    let rwlocks = scenario
        .resources
        .iter()
        .any(|r| matches!(r.kind, ResourceKind::RwLock { .. }));
    let blocks = scenario
        .threads
        .iter()
        .any(|t| t.is_task() && t.steps.iter().any(|s| matches!(s.op, Op::BlockingSleep(_))));
    // A traced program's tasks may be cancelled by any of its lines; a scenario's only by the
    // steps that cancel.
    let cancels = scenario.threads.iter().any(|t| {
        (scenario.traced && t.is_task())
            || t.steps
                .iter()
                .any(|s| matches!(s.op, Op::Cancel(_) | Op::WaitTasksFor { .. }))
    });
    let waits: Vec<State> = scenario
        .resources
        .iter()
        .enumerate()
        .filter_map(|(r, res)| State::waiting_for(&res.kind, r as ResIdx))
        .collect();
    STATES
        .iter()
        .map(|row| row.state)
        .filter(|s| match s {
            State::Running | State::Held | State::Failed => true,
            State::Sleeping => sleeps,
            State::Starting => !scenario.processes.is_empty(),
            State::Reading(_) | State::Writing(_) => rwlocks,
            State::Blocking(_) | State::Starved(_) => blocks,
            State::Cancelled => cancels,
            State::Done => false,
            wait => waits.iter().any(|w| w.index() == wait.index()),
        })
        .collect()
}

/// The locks `t` holds, as a lane label's tail (" holds A, account ×2"), since a lane's glyph
/// shows what a thread does, not what it keeps others from: a thread asleep or backing off
/// with a lock in hand looks idle. Empty when it holds none.
pub fn holds(scenario: &Scenario, resources: &[ResourceState], t: ThreadIdx) -> String {
    let held: Vec<(&str, u32)> = resources
        .iter()
        .enumerate()
        .filter(|(r, _)| {
            matches!(
                scenario.resources[*r].kind,
                ResourceKind::Mutex | ResourceKind::RLock
            )
        })
        .filter_map(|(r, state)| match state {
            ResourceState::Mutex {
                holder: Some(h),
                depth,
                ..
            } if *h == t => Some((scenario.resource_name(r as ResIdx), *depth)),
            _ => None,
        })
        .collect();
    layout::holds_words(held)
}

impl Widget for Lanes<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let run = self.run;
        let theme = self.theme;
        let threads = &run.scenario.threads;
        let title = match threads.iter().filter(|t| t.is_task()).count() {
            0 => rust_i18n::t!("panel.threads"),
            n if n == threads.len() => rust_i18n::t!("panel.tasks"),
            _ => rust_i18n::t!("panel.threads_and_tasks"),
        };
        if framed(title, theme, area, buf).is_empty() {
            return;
        }
        let g = geometry(run, area);
        let scenario = &run.scenario;
        let view = run.view_ns();
        let per = run.ns_per_cell();
        let start = run.window_start(g.cells_w);
        let (cycle, _) = run.cycle();
        let stuck: Vec<ThreadIdx> = run
            .deadlock_shown()
            .map(|d| d.stuck.clone())
            .unwrap_or_default();
        let resources = self.resources;
        let lost = run
            .trace
            .lost_updates(start, start + u64::from(g.cells_w) * per);
        // Every lane drawn, and every member of a folded group, is cut into the same cells.
        let window = run.trace.cell_window(
            start,
            start + u64::from(g.cells_w) * per,
            usize::from(g.cells_w),
        );
        let cursor_cell = run
            .cursor
            .filter(|c| *c >= start)
            .map(|c| (c - start) / per)
            .filter(|c| *c < u64::from(g.cells_w));

        let rows = run.folds.rows(threads.len());
        for lane in 0..g.rows / g.lane_h {
            let Some(&row) = rows.get(g.first + lane as usize) else {
                break;
            };
            let y = g.inner.y + lane * g.lane_h;
            let t = match row {
                Row::Lane(t) => t,
                Row::Group(i) => {
                    let place = fold::Place {
                        x: g.inner.x,
                        y,
                        name_w: g.name_w,
                        label_w: g.label_w,
                        cells_x: g.cells_x,
                        cells_w: g.cells_w,
                        lane_h: g.lane_h,
                    };
                    let group = &run.folds.groups[i];
                    fold::draw_group(run, theme, group, place, &window, cursor_cell, buf);
                    continue;
                }
            };
            let spec = &scenario.threads[t as usize];
            let selected = t == run.selected;

            // Name, with the selection pointer.
            let (name_style, pointer) =
                super::name_look(theme, cycle.contains(&t) || stuck.contains(&t), selected);
            let breaks = run.live.breakpoints.iter().any(
                |b| matches!(b, crate::engine::Breakpoint::Thread { thread, .. } if *thread == t),
            );
            let mark = if breaks {
                theme.glyphs.breakpoint()
            } else {
                " "
            };
            // A child process's lane says which OS process it is: under its name in a lane of
            // two rows, else at the right of the name's column, where a name cut shorter than
            // a few cells for it would no longer read.
            let room = usize::from(g.name_w.saturating_sub(3));
            let pid = run
                .trace
                .pid(t)
                .map(|pid| rust_i18n::t!("processes.lane.pid", pid = pid).into_owned());
            let beside = pid
                .as_deref()
                .filter(|pid| g.lane_h == 1 && room >= cells::width(pid) + 1 + 6);
            let name_room = room - beside.map_or(0, |pid| cells::width(pid) + 1);
            let name = format!("{pointer}{mark}{}", cells::fit_name(&spec.name, name_room));
            buf.set_stringn(g.inner.x, y, &name, g.name_w as usize, name_style);
            match (beside, &pid) {
                (Some(pid), _) => {
                    let x = g.inner.x + 2 + (room - cells::width(pid)) as u16;
                    buf.set_stringn(x, y, pid, cells::width(pid), theme.dim());
                }
                (None, Some(pid)) if g.lane_h > 1 => {
                    let w = g.name_w.saturating_sub(2) as usize;
                    buf.set_stringn(g.inner.x + 2, y + 1, fit(pid, w), w, theme.dim());
                }
                _ => {}
            }

            // The state now (or at the cursor), in words.
            let state = run.trace.state_at(t, view);
            let label_x = g.inner.x + g.name_w;
            let (words, style) = match state {
                Some(s) => {
                    let step = run.trace.step_at(t, view);
                    let text = format!(
                        "{} {}{}",
                        theme.glyphs.state(s),
                        state_words(scenario, t, s, step),
                        holds(scenario, resources, t)
                    );
                    (text, theme.state_label(s))
                }
                None => (idle_words(scenario, spec), theme.dim()),
            };
            buf.set_stringn(
                label_x,
                y,
                fit(&words, g.label_w as usize),
                g.label_w as usize,
                style,
            );
            if g.cells_w == 0 {
                continue;
            }
            lane_rule(theme, g.cells_x - 1, y, g.lane_h, buf);

            // The timeline: every cell's dominant state in one pass over the lane's spans.
            let cells = run.trace.window_cells(t, &window);
            for i in 0..g.cells_w {
                let from = start + u64::from(i) * per;
                // Nothing is drawn past the time shown (now, or the history cursor): what had
                // not happened yet then is not known, not even in a deadlock (the banner says
                // the waits never end; the lanes show how long they have lasted), and a replay
                // at 0s gives nothing of its run away.
                if from > view {
                    break;
                }
                // The cell holding the time shown shows the state then: a thread that has just
                // blocked (a deadlock stops the clock right there) must not look as if it were
                // running.
                let state = if from + per > view {
                    run.trace.state_at(t, view)
                } else {
                    cells[usize::from(i)]
                };
                let Some(s) = state else {
                    continue;
                };
                let mut style = theme.state(s);
                if Some(u64::from(i)) == cursor_cell {
                    style = style.add_modifier(Modifier::REVERSED);
                }
                let glyph = theme.glyphs.state(s);
                let glyph = if glyph == ' ' && Some(u64::from(i)) == cursor_cell {
                    theme.glyphs.axis()
                } else {
                    glyph
                };
                for dy in 0..g.lane_h {
                    buf[(g.cells_x + i, y + dy)]
                        .set_char(glyph)
                        .set_style(style);
                }
            }
            // Increments of this thread that another's write then threw away.
            for &(_, at) in lost.iter().filter(|(who, at)| *who == t && *at <= view) {
                let i = (at.saturating_sub(start) / per) as u16;
                if i < g.cells_w {
                    for dy in 0..g.lane_h {
                        buf[(g.cells_x + i, y + dy)]
                            .set_char(theme.glyphs.lost())
                            .set_style(theme.lost());
                    }
                }
            }
        }

        let mut y = g.inner.y + g.rows;
        if g.axis {
            let label = rust_i18n::t!("classroom.lanes.per_cell", time = fmt_ns(per)).into_owned();
            let lx = g.inner.x + g.name_w;
            buf.set_stringn(
                lx,
                y,
                fit(&label, g.label_w as usize),
                g.label_w as usize,
                theme.dim(),
            );
            self.axis(g, start, per, y, buf, cursor_cell);
            y += 1;
        }
        if g.legend {
            let counters = scenario
                .resources
                .iter()
                .any(|r| r.kind == ResourceKind::Counter);
            // What the lanes on screen draw: where not every entry fits, those are the ones a
            // class needs explained, and the others (paused, failed, a wait nobody is in) go.
            let glyph_at = |x: u16, y: u16| buf[(x, y)].symbol().chars().next();
            let mut drawn: Vec<char> = Vec::new();
            for y in g.inner.y..g.inner.y + g.rows {
                for x in g.cells_x..g.cells_x + g.cells_w {
                    if let Some(c) = glyph_at(x, y)
                        && !drawn.contains(&c)
                    {
                        drawn.push(c);
                    }
                }
            }
            // Roomy where it fits; else a glyph and one space each, so more of it shows; else
            // only what is drawn; and where even that does not fit, whole entries up to the
            // width and an ellipsis, never an entry cut in the middle of a word.
            let entries = |roomy: bool, only_drawn: bool| {
                let swatch = |glyph: char| {
                    if roomy {
                        format!("{glyph}{glyph}")
                    } else {
                        glyph.to_string()
                    }
                };
                let gap = if roomy { "  " } else { " " };
                let shown = |glyph: char| !only_drawn || drawn.contains(&glyph);
                let mut entries: Vec<[Span; 2]> = legend_states(scenario)
                    .into_iter()
                    .filter(|&s| shown(theme.glyphs.state(s)))
                    .map(|s| {
                        [
                            Span::styled(swatch(theme.glyphs.state(s)), theme.state(s)),
                            Span::styled(format!(" {}{gap}", s.legend_in(scenario)), theme.dim()),
                        ]
                    })
                    .collect();
                if counters && shown(theme.glyphs.lost()) {
                    entries.push([
                        Span::styled(swatch(theme.glyphs.lost()), theme.lost()),
                        Span::styled(
                            format!(" {}{gap}", rust_i18n::t!("screen.lost_update")),
                            theme.dim(),
                        ),
                    ]);
                }
                entries
            };
            let width = usize::from(g.inner.width);
            let fits = |entries: &[[Span; 2]]| {
                entries
                    .iter()
                    .map(|[a, b]| a.width() + b.width())
                    .sum::<usize>()
                    <= width + 2
            };
            let chosen = [(true, false), (false, false), (false, true)]
                .into_iter()
                .map(|(roomy, only_drawn)| entries(roomy, only_drawn))
                .find(|e| fits(e))
                .unwrap_or_else(|| entries(false, true));
            let mut spans = Vec::new();
            let mut used = 0;
            let ellipsis = if theme.glyphs.ascii { "..." } else { "…" };
            for (i, [a, b]) in chosen.iter().enumerate() {
                // Its trailing gap may fall off the edge; its words may not.
                let w = a.width() + crate::cells::width(b.content.trim_end());
                let last = i + 1 == chosen.len();
                let room = if last {
                    width
                } else {
                    width.saturating_sub(crate::cells::width(ellipsis))
                };
                if used + w > room {
                    spans.push(Span::styled(ellipsis, theme.dim()));
                    break;
                }
                used += a.width() + b.width();
                spans.extend([a.clone(), b.clone()]);
            }
            let line = Line::from(spans);
            line.render(
                Rect {
                    y,
                    height: 1,
                    ..g.inner
                },
                buf,
            );
        }
    }
}

impl Lanes<'_> {
    /// Time labels every ten cells, and the cursor's mark.
    fn axis(
        &self,
        g: Geometry,
        start: u64,
        per: u64,
        y: u16,
        buf: &mut Buffer,
        cursor: Option<u64>,
    ) {
        let theme = self.theme;
        if g.cells_w == 0 {
            return;
        }
        const EVERY: u16 = 10;
        for i in 0..g.cells_w {
            let ch = if i % EVERY == 0 {
                theme.glyphs.tick()
            } else {
                theme.glyphs.axis()
            };
            buf[(g.cells_x + i, y)]
                .set_char(ch)
                .set_style(theme.border());
        }
        let mut i = 0;
        while i < g.cells_w {
            let label = fmt_tick(start + u64::from(i) * per, per);
            let room = (g.cells_w - i).min(EVERY) as usize;
            // The cursor's mark would cover a character of a label ("▲03ms" for 103ms), so
            // that label gives way to it.
            let covered = cursor.is_some_and(|c| {
                (u64::from(i) + 1..=u64::from(i) + cells::width(&label) as u64).contains(&c)
            });
            if cells::width(&label) < room && !covered {
                buf.set_stringn(g.cells_x + i + 1, y, &label, room - 1, theme.dim());
            }
            i += EVERY;
        }
        if let Some(c) = cursor {
            buf[(g.cells_x + c as u16, y)]
                .set_char(theme.glyphs.cursor())
                .set_style(theme.key());
        }
    }
}

//! A folded group's lane: how many of its members are in each state now ("412 running · 100
//! waiting for a permit"), and over time the state most of them were in, cell by cell.

use ratatui::buffer::Buffer;
use ratatui::style::Modifier;

use crate::trace::groups::{self, Group};
use crate::trace::timeline::CellWindow;
use crate::ui::app::RunState;
use crate::ui::theme::Theme;
use crate::ui::view::{fit, lane_rule};
use crate::vocab::event::State;

/// Where a lane's parts sit on screen, as the lanes panel lays them out.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub x: u16,
    pub y: u16,
    pub name_w: u16,
    pub label_w: u16,
    pub cells_x: u16,
    pub cells_w: u16,
    pub lane_h: u16,
}

/// The words a folded group's label says of its `census`: each state with its count, most
/// first.
fn census_words(census: &[(State, u32)]) -> String {
    census
        .iter()
        .map(|(s, n)| format!("{n} {}", s.row().short()))
        .collect::<Vec<_>>()
        .join(" · ")
}

pub fn draw_group(
    run: &RunState,
    theme: Theme,
    group: &Group,
    p: Place,
    window: &CellWindow,
    cursor_cell: Option<u64>,
    buf: &mut Buffer,
) {
    let (cycle, _) = run.cycle();
    let stuck = run.deadlock_shown().map(|d| &d.stuck);
    let caught = cycle.iter().any(|&t| group.contains(t))
        || stuck.is_some_and(|s| s.iter().any(|&t| group.contains(t)));
    let (style, pointer) = super::name_look(theme, caught, group.contains(run.selected));
    let fold = if theme.glyphs.ascii { "+" } else { "▸" };
    let label = crate::ui::layout::folded_name(group);
    let name = format!(
        "{pointer}{fold}{}",
        fit(&label, p.name_w.saturating_sub(3) as usize)
    );
    buf.set_stringn(p.x, p.y, &name, p.name_w as usize, style);

    let view = run.view_ns();
    let now = groups::census(&run.trace, group, view);
    let words = census_words(&now);
    let label_style = now
        .first()
        .map_or(theme.dim(), |&(s, _)| theme.state_label(s));
    buf.set_stringn(
        p.x + p.name_w,
        p.y,
        fit(&words, p.label_w as usize),
        p.label_w as usize,
        label_style,
    );
    if p.cells_w == 0 {
        return;
    }
    lane_rule(theme, p.cells_x - 1, p.y, p.lane_h, buf);
    let per = run.ns_per_cell();
    let start = run.window_start(p.cells_w);
    let cells = groups::group_cells(&run.trace, group, window);
    let then = now.first().map(|&(s, _)| s);
    for i in 0..p.cells_w {
        let from = start + u64::from(i) * per;
        // As in a thread's lane: nothing past the time shown, and the cell holding it shows
        // the state then.
        if from > view {
            break;
        }
        let state = if from + per > view {
            then
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
        for dy in 0..p.lane_h {
            buf[(p.cells_x + i, p.y + dy)]
                .set_char(theme.glyphs.state(s))
                .set_style(style);
        }
    }
}

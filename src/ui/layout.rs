//! Where the lanes' columns fall, from the scenario and the terminal's width alone: the
//! thread names, the label (as wide as the widest words a lane can show) and the time cells.
//! The lanes view draws with it, and the app fits a run's zoom to the cells it leaves, so both
//! agree on the width without the app's state asking the views.

use ratatui::layout::Rect;

use crate::cells;
use crate::i18n;
use crate::scenario::model::{Op, ResIdx, ResourceKind, Scenario, ThreadIdx, ThreadSpec};
use crate::trace::groups::{self, Group};
use crate::ui::fold::FOLD_OVER;
use crate::vocab::event::{STATES, State};

/// The smallest terminal the run view draws in.
pub const RUN_MIN_SIZE: (u16, u16) = (60, 16);

/// The columns of a lane inside the lanes panel's borders, in cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    pub name_w: u16,
    pub label_w: u16,
    /// Cells before the time cells begin: name, label and the blank between.
    pub used: u16,
}

/// The columns of this scenario's lanes in `inner_width` cells.
pub fn columns(scenario: &Scenario, inner_width: u16) -> Columns {
    columns_of(&[scenario], inner_width)
}

/// The columns that lanes of every one of `scenarios` fit in, so that runs drawn one above the
/// other share one time axis (`compare`).
pub fn columns_of(scenarios: &[&Scenario], inner_width: u16) -> Columns {
    // A group that starts folded is named by its size and group ("10000 个 conn"); one folded
    // by hand later is cut like any name.
    let folded = scenarios
        .iter()
        .flat_map(|s| groups::groups(s))
        .filter(|g| g.len() > FOLD_OVER)
        .map(|g| cells::width(&folded_name(&g)));
    let longest_name = scenarios
        .iter()
        .flat_map(|s| &s.threads)
        .map(|t| cells::width(&t.name))
        .chain(folded)
        .max()
        .unwrap_or(1) as u16;
    // A child process's lane says its pid beside its name.
    let pids = scenarios
        .iter()
        .flat_map(|s| &s.threads)
        .any(|t| t.process.is_some());
    // A name is shown whole where the width allows (a quarter of it, at least 16 cells), and
    // beyond that cut in the middle (`cells::fit_name`).
    let mut name_w =
        (longest_name + 3).min((inner_width / 4).max(16)) + if pids { pid_room() } else { 0 };
    // One blank cell between the label and the lane's bar.
    let widest = scenarios.iter().map(|s| widest_label(s)).max().unwrap_or(0);
    // A wide terminal has room for the longest labels (a wait and the locks held besides), and
    // short names leave the label what they do not take of their 16 cells.
    let most = (inner_width / 4).clamp(28, 40) + 16u16.saturating_sub(name_w);
    let mut label_w = (widest as u16 + 1).clamp(10, most);
    if inner_width < name_w + label_w + 20 {
        // Narrow: give the cells at least a third of the width.
        label_w = label_w.min(inner_width / 3).max(4);
        name_w = name_w.min(inner_width / 4).max(2);
    }
    let used = (name_w + label_w + 1).min(inner_width);
    Columns {
        name_w,
        label_w,
        used,
    }
}

/// The name of a folded group's lane: its size and its group ("512 client").
pub fn folded_name(group: &Group) -> String {
    rust_i18n::t!("scale.folded", n = group.len(), group = group.name).into_owned()
}

/// The cells a pid takes beside a lane's name: the blank before it and "pid 4194304", the
/// largest Linux gives.
pub fn pid_room() -> u16 {
    1 + cells::width(&rust_i18n::t!("processes.lane.pid", pid = 4_194_304)) as u16
}

/// How many time cells wide the lanes are drawn in a terminal of `size` (0 if the run view
/// does not fit): the lanes panel spans the whole width, inside its borders.
pub fn lane_cells(scenario: &Scenario, size: Rect) -> u16 {
    lane_cells_of(&[scenario], size)
}

/// [`lane_cells`] for lanes laid out with [`columns_of`] these scenarios.
pub fn lane_cells_of(scenarios: &[&Scenario], size: Rect) -> u16 {
    if size.width < RUN_MIN_SIZE.0 || size.height < RUN_MIN_SIZE.1 {
        return 0;
    }
    let inner_width = size.width.saturating_sub(2);
    inner_width - columns_of(scenarios, inner_width).used
}

/// A thread's state in words, as big and plain as the label column allows: the state's own
/// words with the first one shouted ("BLOCKED on B", "WAITING for event go").
pub fn state_words(
    scenario: &Scenario,
    thread: ThreadIdx,
    state: State,
    step: Option<u32>,
) -> String {
    let words = state.words(i18n::current(), scenario, thread, step);
    match words.split_once(' ') {
        Some((first, rest)) => format!("{} {rest}", first.to_uppercase()),
        None => words.to_uppercase(),
    }
}

/// The label of a thread that has not started: what it starts after, if anything.
pub fn idle_words(scenario: &Scenario, spec: &ThreadSpec) -> String {
    match spec
        .after
        .first()
        .and_then(|&f| scenario.threads.get(f as usize))
    {
        Some(first) => rust_i18n::t!("classroom.lanes.after", group = first.group).into_owned(),
        None => rust_i18n::t!("classroom.lanes.not_started").into_owned(),
    }
}

/// A lane label's tail for the locks a thread holds, each with the times it holds it where
/// that is more than once: " holds A, account ×2". Empty when it holds none.
pub fn holds_words<'a>(held: impl IntoIterator<Item = (&'a str, u32)>) -> String {
    let held: Vec<String> = held
        .into_iter()
        .map(|(name, depth)| {
            if depth > 1 {
                format!("{name}{}", rust_i18n::t!("screen.times_held", n = depth))
            } else {
                name.to_string()
            }
        })
        .collect();
    if held.is_empty() {
        String::new()
    } else {
        rust_i18n::t!("screen.holds", what = held.join(", ")).into_owned()
    }
}

/// The widest label a lane of this scenario can show, in cells, so the label column fits it:
/// the states that name nothing, each resource's wait, a buffer's wait on either side, each
/// loop's blocking call and the starving it causes, each rwlock's reading and writing, a
/// thread with the locks it takes in hand, and a thread not started yet.
fn widest_label(scenario: &Scenario) -> usize {
    // Only a scenario with child processes has lanes whose process is starting.
    let plain = STATES
        .iter()
        .map(|row| (row.state, 0, None))
        .filter(|(s, _, _)| s.waiting_on().is_none())
        .filter(|(s, _, _)| *s != State::Starting || !scenario.processes.is_empty());
    let waits = scenario
        .resources
        .iter()
        .enumerate()
        .filter_map(|(r, res)| State::waiting_for(&res.kind, r as ResIdx).map(|s| (s, 0, None)));
    let sides = scenario.threads.iter().enumerate().flat_map(|(t, spec)| {
        spec.steps
            .iter()
            .enumerate()
            .filter_map(move |(i, step)| match step.op {
                Op::Put(r)
                | Op::Take(r)
                | Op::PutSentinel(r)
                | Op::PutPriority { resource: r, .. }
                | Op::TakeFor { resource: r, .. }
                | Op::Join(r) => Some((State::Condition(r), t, Some(i as u32))),
                Op::BlockingSleep(_) => {
                    Some((State::Blocking(spec.event_loop?), t, Some(i as u32)))
                }
                Op::Read(r) => Some((State::Reading(r), t, Some(i as u32))),
                Op::Write(r) => Some((State::Writing(r), t, Some(i as u32))),
                _ => None,
            })
            .chain(
                // Its loop-mates starve while it blocks.
                spec.steps
                    .iter()
                    .filter(|st| matches!(st.op, Op::BlockingSleep(_)))
                    .filter_map(move |_| Some((State::Starved(spec.event_loop?), t, None)))
                    .take(1),
            )
    });
    let labels = plain
        .chain(waits)
        .chain(sides)
        .map(|(s, t, step)| 2 + cells::width(&state_words(scenario, t as ThreadIdx, s, step)));
    // A thread going about its work with every lock it takes in hand.
    let holding = scenario.threads.iter().enumerate().map(|(t, spec)| {
        // Each lock once, an rlock held twice.
        let mut held: Vec<(&str, u32)> = Vec::new();
        // The longest state it can be in while holding one: asleep, or blocked on another.
        let mut state = cells::width(&state_words(
            scenario,
            t as ThreadIdx,
            State::Sleeping,
            None,
        ));
        for st in &spec.steps {
            if let Op::Lock(r) | Op::TryLock { resource: r, .. } = st.op
                && let Some(res) = scenario.resources.get(r as usize)
            {
                if !held.iter().any(|(name, _)| *name == res.name) {
                    held.push((
                        &res.name,
                        if res.kind == ResourceKind::RLock {
                            2
                        } else {
                            1
                        },
                    ));
                }
                let blocked = state_words(scenario, t as ThreadIdx, State::Locked(r), None);
                state = state.max(cells::width(&blocked));
            }
        }
        if held.is_empty() {
            return 0;
        }
        2 + state + cells::width(&holds_words(held))
    });
    let not_started = scenario
        .threads
        .iter()
        .map(|spec| cells::width(&idle_words(scenario, spec)));
    labels.chain(holding).chain(not_started).max().unwrap_or(0)
}

//! Groups of lanes: the threads or tasks one `count=` node made (`worker-1` … `worker-512`), and
//! how many of them are in each state, which is what a folded group's one lane shows.

use std::ops::Range;

use super::timeline::{CellWindow, Trace};
use crate::scenario::model::{Scenario, ThreadIdx};
use crate::vocab::event::{STATES, State};

/// The lanes one `count=` node made: consecutive, since the parser expands a group in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The node's name before expansion (`worker`).
    pub name: String,
    pub members: Range<usize>,
}

impl Group {
    pub fn contains(&self, t: ThreadIdx) -> bool {
        self.members.contains(&(t as usize))
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Every group of two or more lanes, in lane order.
pub fn groups(scenario: &Scenario) -> Vec<Group> {
    let threads = &scenario.threads;
    let mut out = Vec::new();
    let mut i = 0;
    while i < threads.len() {
        let name = &threads[i].group;
        let mut j = i + 1;
        // A lone thread's name is its group's; a `count=` member's name is `group-N`.
        while j < threads.len() && threads[j].group == *name && threads[j].name != *name {
            j += 1;
        }
        if j - i > 1 && threads[i].name != *name {
            out.push(Group {
                name: name.clone(),
                members: i..j,
            });
        }
        i = j;
    }
    out
}

/// How many members are in each state at `t_ns`, most first (ties in legend order); members
/// not started yet are left out, and so are those done, which a lane draws as nothing.
pub fn census(trace: &Trace, group: &Group, t_ns: u64) -> Vec<(State, u32)> {
    let mut counts = Counts::default();
    for t in group.members.clone() {
        if let Some(s) = trace.state_at(t as ThreadIdx, t_ns) {
            counts.add(s, 1);
        }
    }
    counts.ranked()
}

/// The folded lane cut into the cells of `window`: in each, the state most members show there
/// (each member counted by its own dominant state in the cell).
pub fn group_cells(trace: &Trace, group: &Group, window: &CellWindow) -> Vec<Option<State>> {
    let mut counts: Vec<Counts> = (0..window.cells()).map(|_| Counts::default()).collect();
    for t in group.members.clone() {
        let lane = trace.window_cells(t as ThreadIdx, window);
        for (c, s) in counts.iter_mut().zip(lane) {
            if let Some(s) = s {
                c.add(s, 1);
            }
        }
    }
    counts.iter().map(Counts::most).collect()
}

/// Members per state row; a waiting state keeps the resource of the first member seen in it.
#[derive(Default, Clone)]
struct Counts {
    n: [u32; STATES.len()],
    which: [Option<State>; STATES.len()],
}

impl Counts {
    fn add(&mut self, s: State, k: u32) {
        let i = s.index();
        self.n[i] += k;
        self.which[i].get_or_insert(s);
    }

    /// The state most members are in, leaving out done (drawn as nothing) unless all are.
    fn most(&self) -> Option<State> {
        let done = State::Done.index();
        (0..STATES.len())
            .filter(|&i| self.n[i] > 0 && i != done)
            .max_by_key(|&i| (self.n[i], std::cmp::Reverse(i)))
            .or_else(|| (self.n[done] > 0).then_some(done))
            .and_then(|i| self.which[i])
    }

    fn ranked(&self) -> Vec<(State, u32)> {
        let mut out: Vec<(State, u32)> = (0..STATES.len())
            .filter_map(|i| Some((self.which[i]?, self.n[i])))
            .filter(|&(s, n)| n > 0 && s != State::Done)
            .collect();
        out.sort_by_key(|&(s, n)| (std::cmp::Reverse(n), s.index()));
        // Done is left out beside anything still going, but a group that has all finished
        // says so rather than nothing.
        let done = State::Done.index();
        if out.is_empty()
            && let Some(s) = self.which[done]
        {
            out.push((s, self.n[done]));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::event::{Event, EventKind, NO_STEP};
    use std::sync::Arc;

    fn ev(t_ns: u64, thread: ThreadIdx, kind: EventKind, resource: Option<u16>) -> Event {
        Event {
            t_ns,
            thread,
            kind,
            resource,
            by: None,
            step: NO_STEP,
            item: None,
        }
    }

    #[test]
    fn count_groups_are_found_and_lone_threads_are_not() {
        let s = crate::scenario::parse_source(
            "t",
            "t.kdl",
            "mutex A\nthread main { work \"1ms\" }\nthread w count=3 { lock A; unlock A }\nthread solo count=1 { work \"1ms\" }\n",
        )
        .unwrap();
        let g = groups(&s);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[0].name, "w");
        assert_eq!(g[0].members, 1..4);
    }

    #[test]
    fn a_folded_lane_counts_its_members() {
        let s = Arc::new(
            crate::scenario::parse_source(
                "t",
                "t.kdl",
                "mutex A\nthread w count=3 { lock A; work \"1ms\"; unlock A }\n",
            )
            .unwrap(),
        );
        let mut trace = Trace::new(s.clone());
        trace.push(&[
            ev(0, 0, EventKind::Start, None),
            ev(0, 1, EventKind::Start, None),
            ev(0, 2, EventKind::Start, None),
            ev(10, 0, EventKind::Acquire, Some(0)),
            ev(10, 0, EventKind::Run, None),
            ev(11, 1, EventKind::Block, Some(0)),
            ev(12, 2, EventKind::Block, Some(0)),
        ]);
        let g = &groups(&s)[0];
        let now = census(&trace, g, 20);
        assert_eq!(now, vec![(State::Locked(0), 2), (State::Running, 1)]);
        // Before anyone blocked, all three ran; after, two of three wait.
        let cells = group_cells(&trace, g, &trace.cell_window(0, 20, 2));
        assert_eq!(cells, vec![Some(State::Running), Some(State::Locked(0))]);
        // Done is not counted beside a state still going, but a group all done says so.
        trace.push(&[ev(30, 0, EventKind::Done, None)]);
        assert_eq!(census(&trace, g, 40), vec![(State::Locked(0), 2)]);
        trace.push(&[
            ev(50, 1, EventKind::Done, None),
            ev(50, 2, EventKind::Done, None),
        ]);
        assert_eq!(census(&trace, g, 60), vec![(State::Done, 3)]);
    }
}

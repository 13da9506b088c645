//! Folded lanes: a `count=` group shown as one lane of how many members are in each state,
//! or unfolded into a lane per member. Which groups are folded, and the rows that leaves.

use crate::scenario::model::{Scenario, ThreadIdx};
use crate::trace::groups::{self, Group};

/// Groups with more lanes than this start folded: more than a screenful of lanes on a
/// classroom terminal (50 rows, with the code, resources and log beside them).
pub const FOLD_OVER: usize = 24;

/// One row of the lanes panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Lane(ThreadIdx),
    /// A folded group: its index in [`Folds::groups`].
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folds {
    pub groups: Vec<Group>,
    pub folded: Vec<bool>,
}

impl Folds {
    pub fn new(scenario: &Scenario) -> Folds {
        let groups = groups::groups(scenario);
        let folded = groups.iter().map(|g| g.len() > FOLD_OVER).collect();
        Folds { groups, folded }
    }

    /// The group `t` belongs to, if it is in one.
    pub fn group_of(&self, t: ThreadIdx) -> Option<usize> {
        self.groups.iter().position(|g| g.contains(t))
    }

    /// Fold or unfold the group of thread `t`; false if it is in none.
    pub fn toggle(&mut self, t: ThreadIdx) -> bool {
        let Some(g) = self.group_of(t) else {
            return false;
        };
        self.folded[g] = !self.folded[g];
        true
    }

    /// The rows, in lane order: a folded group takes one.
    pub fn rows(&self, threads: usize) -> Vec<Row> {
        let mut out = Vec::new();
        let mut t = 0;
        let mut next = self.groups.iter().enumerate().peekable();
        while t < threads {
            if let Some((g, group)) = next.peek().copied()
                && group.members.start == t
            {
                next.next();
                if self.folded[g] {
                    out.push(Row::Group(g));
                    t = group.members.end;
                    continue;
                }
            }
            out.push(Row::Lane(t as ThreadIdx));
            t += 1;
        }
        out
    }

    /// The row thread `t` is shown in.
    pub fn row_of(&self, rows: &[Row], t: ThreadIdx) -> usize {
        rows.iter()
            .position(|r| match *r {
                Row::Lane(u) => u == t,
                Row::Group(g) => self.groups[g].contains(t),
            })
            .unwrap_or(0)
    }

    /// The thread a row stands for when it is selected: a folded group by its first member,
    /// unless the selection is already one of its members.
    pub fn thread_of(&self, row: Row, selected: ThreadIdx) -> ThreadIdx {
        match row {
            Row::Lane(t) => t,
            Row::Group(g) if self.groups[g].contains(selected) => selected,
            Row::Group(g) => self.groups[g].members.start as ThreadIdx,
        }
    }

    /// The selection moved `delta` rows, wrapping round.
    pub fn moved(&self, threads: usize, selected: ThreadIdx, delta: isize) -> ThreadIdx {
        let rows = self.rows(threads);
        if rows.is_empty() {
            return selected;
        }
        let n = rows.len() as isize;
        let at = self.row_of(&rows, selected) as isize;
        let to = rows[(at + delta).rem_euclid(n) as usize];
        self.thread_of(to, selected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folds() -> (Folds, usize) {
        let s = crate::scenario::parse_source(
            "t",
            "t.kdl",
            "thread main { work \"1ms\" }\nthread w count=30 { work \"1ms\" }\nthread v count=3 { work \"1ms\" }\n",
        )
        .unwrap();
        (Folds::new(&s), s.threads.len())
    }

    #[test]
    fn groups_over_a_screenful_start_folded_and_take_one_row() {
        let (f, n) = folds();
        assert_eq!(f.folded, vec![true, false]);
        let rows = f.rows(n);
        assert_eq!(rows.len(), 1 + 1 + 3);
        assert_eq!(rows[1], Row::Group(0));
        assert_eq!(f.row_of(&rows, 17), 1);
    }

    #[test]
    fn the_selection_steps_over_a_folded_group_and_into_an_unfolded_one() {
        let (mut f, n) = folds();
        assert_eq!(f.moved(n, 0, 1), 1);
        assert_eq!(f.moved(n, 5, 1), 31);
        assert_eq!(f.moved(n, 31, -1), 1);
        assert_eq!(f.moved(n, 0, -1), 33);
        assert!(f.toggle(5));
        assert_eq!(f.rows(n).len(), n);
        assert_eq!(f.moved(n, 5, 1), 6);
        assert!(!f.toggle(0));
    }
}

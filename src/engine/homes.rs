//! The run's line to each of its child processes (`process.rs` starts them): the teacher's
//! controls go down it, and the deadlock watcher's looks, which each child answers with what
//! its threads are doing ([`Snapshot`]) once the events up to its answer are home.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::deadlock::Snapshot;
use crate::scenario::model::ProcIdx;

/// How long the watcher waits for the children's answers to one look. A child that has not
/// answered by then (still starting, or on a machine too busy to run it) counts as able to do
/// anything, for that look.
const ANSWER_WAIT: Duration = Duration::from_millis(250);

/// The run's line to each running child, and the child's last answer to a look.
pub(super) struct Homes {
    homes: Mutex<Vec<Home>>,
    answered: Condvar,
    round: AtomicU64,
}

#[derive(Default)]
struct Home {
    /// The child's stdin while it runs: the teacher's controls and the watcher's looks.
    to_child: Option<std::process::ChildStdin>,
    /// The round of the last look it answered, and what it said.
    answer: Option<(u64, Snapshot)>,
    /// The child's pid while it is stopped (SIGSTOP, SIGTSTP): its threads cannot move and it
    /// answers no look until it is continued.
    stopped: Option<u32>,
}

impl Homes {
    pub(super) fn new(processes: usize) -> Homes {
        Homes {
            homes: Mutex::new((0..processes).map(|_| Home::default()).collect()),
            answered: Condvar::new(),
            round: AtomicU64::new(0),
        }
    }

    /// Process `p`'s child has started: this is its stdin.
    pub(super) fn attach(&self, p: ProcIdx, stdin: std::process::ChildStdin) {
        self.homes.lock()[p as usize].to_child = Some(stdin);
    }

    /// Process `p`'s child has ended: nothing more to say to it, nor to hear.
    pub(super) fn detach(&self, p: ProcIdx) {
        self.homes.lock()[p as usize] = Home::default();
    }

    /// Writes `line` to process `p`'s child; false if it is not running or its stdin is gone.
    pub(super) fn tell(&self, p: ProcIdx, line: &str) -> bool {
        let mut homes = self.homes.lock();
        let Some(to) = homes[p as usize].to_child.as_mut() else {
            return false;
        };
        writeln!(to, "{line}").and_then(|()| to.flush()).is_ok()
    }

    /// Process `p`'s child was seen stopped (with its pid) or running (`None`); true if that
    /// is news.
    pub(super) fn set_stopped(&self, p: ProcIdx, pid: Option<u32>) -> bool {
        let mut homes = self.homes.lock();
        let was = std::mem::replace(&mut homes[p as usize].stopped, pid);
        was != pid
    }

    /// The child processes stopped now, with their pids.
    pub(super) fn stopped(&self) -> Vec<(ProcIdx, u32)> {
        let homes = self.homes.lock();
        (0..homes.len())
            .filter_map(|p| Some((p as ProcIdx, homes[p].stopped?)))
            .collect()
    }

    pub(super) fn answer(&self, p: ProcIdx, round: u64, snapshot: Snapshot) {
        self.homes.lock()[p as usize].answer = Some((round, snapshot));
        self.answered.notify_all();
    }

    /// What each child process is doing now (`None` for one that is not running or did not
    /// answer in time), and whether every running one answered: each is asked, and each
    /// answers once every event it recorded up to its answer has reached the run. Waits at
    /// most [`ANSWER_WAIT`], less if `cancelled`.
    pub(super) fn look(&self, cancelled: impl Fn() -> bool) -> (Vec<Option<Snapshot>>, bool) {
        let round = self.round.fetch_add(1, Ordering::AcqRel) + 1;
        let mut homes = self.homes.lock();
        let asked: Vec<bool> = homes
            .iter_mut()
            .map(|h| {
                h.to_child.as_mut().is_some_and(|to| {
                    writeln!(to, "look {round}")
                        .and_then(|()| to.flush())
                        .is_ok()
                })
            })
            .collect();
        let deadline = Instant::now() + ANSWER_WAIT;
        let answered =
            |homes: &[Home], p: usize| homes[p].answer.as_ref().is_some_and(|(r, _)| *r == round);
        while (0..asked.len()).any(|p| asked[p] && !answered(&homes, p))
            && !cancelled()
            && Instant::now() < deadline
        {
            self.answered
                .wait_for(&mut homes, Duration::from_millis(20));
        }
        let all = (0..asked.len()).all(|p| !asked[p] || answered(&homes, p));
        let answers = (0..asked.len())
            .map(|p| {
                answered(&homes, p)
                    .then(|| homes[p].answer.as_ref().map(|(_, s)| s.clone()))
                    .flatten()
            })
            .collect();
        (answers, all)
    }
}

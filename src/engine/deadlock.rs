//! Deadlock detection from the engine's own wait-for graph.
//!
//! A waiting thread can only be woken by certain other threads: a lock by its holder (if the
//! holder will still unlock it), a permit by a holder that will still release one, a barrier by
//! threads that will still arrive, a buffer by a thread that will still put (or take), an event
//! by a thread that will still set it, an mp-queue by a thread of any process that will still
//! put into it (or take from it). A thread that has not started yet (it, or its process,
//! starts `after` a group) moves once its whole group can finish; a task awaiting tasks (`gather`, `wait`) once
//! they can all end, or the first of them for FIRST_COMPLETED. Threads that run, sleep or are held by the
//! conductor can move; so can a waiting thread enough of whose possible wakers can, and a
//! not-started thread whose group can. What is left when that fixed point settles can never move
//! again: that is a deadlock.
//!
//! Each link of the chain found blames only truly ([`Blame`]: a holder, a thread that alone
//! could provide, or nobody); `vocab::deadlock` says it in words.

use std::collections::HashMap;

use super::primitives::View;
use super::primitives::mp_queue::Pipe;
use crate::scenario::model::{Op, ResIdx, ResourceKind, Scenario, Tasks, ThreadIdx};
use crate::vocab::deadlock::{Blame, Deadlock, WaitEdge, Want};

/// What doing `op` gives a resource that could end another thread's wait on it.
fn act_of(op: Op, kind: Option<ResourceKind>) -> Option<(Want, ResIdx)> {
    Some(match op {
        Op::Unlock(r) => (Want::Unlock, r),
        Op::Release(r) => (Want::Release, r),
        Op::Set(r) => (Want::Set, r),
        Op::Wait(r) if matches!(kind, Some(ResourceKind::Barrier { .. })) => (Want::Arrive, r),
        Op::Put(r) | Op::PutSentinel(r) | Op::PutPriority { resource: r, .. } => (Want::Put, r),
        Op::Take(r) | Op::TakeFor { resource: r, .. } => (Want::Take, r),
        Op::TaskDone(r) => (Want::TaskDone, r),
        Op::Submit { pool: r, .. } | Op::Shutdown(r) | Op::ToThread { executor: r, .. } => {
            (Want::Submit, r)
        }
        Op::RunNext(r) => (Want::RunTask, r),
        Op::Notify(r) | Op::NotifyAll(r) => (Want::Notify, r),
        _ => return None,
    })
}

/// What one thread may still do, from the step it is at to the end of its script.
struct Ahead {
    acts: Vec<(Want, ResIdx)>,
    /// It may still give up a lock with a timeout, which gives back everything it holds.
    backs_off: bool,
    /// Tasks it may still cancel (`cancel`, a `wait-for`'s timeout), which ends their waits.
    cancels: Vec<Tasks>,
}

impl Ahead {
    fn of(s: &Scenario, t: usize, pc: u32, finished: bool) -> Ahead {
        if finished {
            return Ahead {
                acts: Vec::new(),
                backs_off: false,
                cancels: Vec::new(),
            };
        }
        let from = s.threads[t].steps.get(pc as usize..).unwrap_or_default();
        let backs_off = from.iter().any(|st| matches!(st.op, Op::TryLock { .. }));
        let kind = |op: Op| {
            op.resource()
                .and_then(|r| s.resources.get(r as usize))
                .map(|r| r.kind)
        };
        let mut acts: Vec<(Want, ResIdx)> = from
            .iter()
            .filter_map(|st| act_of(st.op, kind(st.op)))
            .collect();
        acts.sort();
        acts.dedup();
        let cancels = from
            .iter()
            .filter_map(|st| match st.op {
                Op::Cancel(g) | Op::WaitTasksFor { tasks: g, .. } => Some(g),
                _ => None,
            })
            .collect();
        Ahead {
            acts,
            backs_off,
            cancels,
        }
    }

    fn will(&self, act: Want, r: ResIdx) -> bool {
        self.acts.contains(&(act, r))
    }
}

/// Where a thread is, as the wait-for graph sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Finished,
    /// Running, sleeping, held by the conductor, or waiting for something that ends by itself.
    Moving,
    Waiting(ResIdx),
    /// Not started: it starts once every thread of its `after` group has finished.
    NotStarted,
    /// A task awaiting other tasks (`gather`, `wait`): it goes on once they have all ended, or
    /// with `first`, once one of them has. It waits on no primitive.
    Awaiting {
        tasks: Tasks,
        first: bool,
    },
}

/// The earliest step thread `t` may still run: the step it is at, or, if a lock with a timeout
/// lies ahead, the step a back-off would start again from. A back-off gives
/// back everything held and starts again at the step that took the first of it (`holds_since`),
/// and never earlier: each retry takes the same things from the same step.
fn earliest_step(scenario: &Scenario, t: usize, pc: u32, holds_since: Option<u32>) -> u32 {
    let rest = scenario.threads[t]
        .steps
        .get(pc as usize..)
        .unwrap_or_default();
    let backs_off = rest.iter().any(|st| matches!(st.op, Op::TryLock { .. }));
    match holds_since {
        Some(since) if backs_off => since.min(pc),
        _ => pc,
    }
}

/// What the finder reads of a run at one look: per thread whether it has ended, the step it is
/// at and where a back-off would start it again (see [`find`]); per resource its view, and per
/// mp-queue what its pipe would let through then.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub finished: Vec<bool>,
    pub pcs: Vec<u32>,
    pub holds_since: Vec<Option<u32>>,
    pub views: Vec<View>,
    pub pipes: Vec<Option<Pipe>>,
}

impl Snapshot {
    pub fn find(&self, scenario: &Scenario) -> Option<Deadlock> {
        find(
            scenario,
            &self.views,
            &self.finished,
            &self.pcs,
            &self.holds_since,
        )
    }

    /// The whole run at one instant, from what threadlab's own process read (`own`, over every
    /// thread of the scenario: its own threads, and of the others only which have ended) and
    /// what each child process answered (`answers[p]`, in its own numbers; `None` if it did not
    /// answer). A process that did not answer is taken to be able to do anything its threads'
    /// scripts do, from their first step: that can hide a deadlock for a look, never invent
    /// one. Every resource but an mp-queue lives in one process, whose view of it stands; an
    /// mp-queue's waiters are those of every process, without any that the pipe as read here
    /// lets through (an item for a taker, room for a putter).
    pub fn whole(scenario: &Scenario, own: &Snapshot, answers: &[Option<Snapshot>]) -> Snapshot {
        let mut all = own.clone();
        for (p, answer) in answers.iter().enumerate() {
            let members: Vec<ThreadIdx> = (0..scenario.threads.len() as ThreadIdx)
                .filter(|&t| scenario.threads[t as usize].process == Some(p as u16))
                .collect();
            let Some(answer) = answer else {
                for &t in &members {
                    all.pcs[t as usize] = 0;
                    all.holds_since[t as usize] = None;
                }
                continue;
            };
            let global = |local: &ThreadIdx| members.get(*local as usize).copied();
            for (i, &t) in members.iter().enumerate() {
                let t = t as usize;
                all.finished[t] |= answer.finished.get(i).copied().unwrap_or(false);
                all.pcs[t] = answer.pcs.get(i).copied().unwrap_or(0);
                all.holds_since[t] = answer.holds_since.get(i).copied().flatten();
            }
            for (r, view) in answer.views.iter().enumerate().take(all.views.len()) {
                let waiters = view.waiters.iter().filter_map(global);
                if scenario.resources[r].kind == ResourceKind::MpQueue {
                    all.views[r].waiters.extend(waiters);
                } else if *view != View::default() {
                    all.views[r] = View {
                        seq: view.seq,
                        holders: view.holders.iter().filter_map(global).collect(),
                        waiters: waiters.collect(),
                        full: view.full,
                    };
                }
            }
        }
        let Snapshot { views, pcs, .. } = &mut all;
        for (r, view) in views.iter_mut().enumerate() {
            let Some(pipe) = own.pipes.get(r).copied().flatten() else {
                continue;
            };
            let takes = |t: ThreadIdx| {
                scenario.threads[t as usize]
                    .steps
                    .get(pcs[t as usize] as usize)
                    .is_some_and(|st| st.op.takes().is_some())
            };
            view.waiters
                .retain(|&t| if takes(t) { !pipe.item } else { !pipe.room });
            view.full = !pipe.room;
        }
        all
    }

    /// The line a child process writes home (without its pipes, which its parent reads
    /// itself): `FINISHED PCS HOLDS VIEWS`, finished as `0`/`1` per thread, steps and back-off
    /// steps by commas (`-` for none), and per resource `seq/holders/waiters/full` by `;`
    /// with threads by `+` (`-` for none, and for a scenario without resources).
    pub fn to_words(&self) -> String {
        let list = |ts: &[ThreadIdx]| {
            if ts.is_empty() {
                "-".to_string()
            } else {
                ts.iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join("+")
            }
        };
        let finished: String = self
            .finished
            .iter()
            .map(|&f| if f { '1' } else { '0' })
            .collect();
        let pcs: Vec<String> = self.pcs.iter().map(|p| p.to_string()).collect();
        let holds: Vec<String> = self
            .holds_since
            .iter()
            .map(|h| h.map_or_else(|| "-".to_string(), |h| h.to_string()))
            .collect();
        let views: Vec<String> = self
            .views
            .iter()
            .map(|v| {
                format!(
                    "{}/{}/{}/{}",
                    v.seq,
                    list(&v.holders),
                    list(&v.waiters),
                    u8::from(v.full)
                )
            })
            .collect();
        let views = if views.is_empty() {
            "-".to_string()
        } else {
            views.join(";")
        };
        format!("{finished} {} {} {views}", pcs.join(","), holds.join(","))
    }

    /// [`Snapshot::to_words`] read back, for a process of `threads` threads and a scenario of
    /// `resources` resources; `None` if it is not one.
    pub fn from_words(words: &str, threads: usize, resources: usize) -> Option<Snapshot> {
        let [finished, pcs, holds, views] = words.split(' ').collect::<Vec<_>>()[..] else {
            return None;
        };
        let thread = |t: &str| {
            t.parse::<ThreadIdx>()
                .ok()
                .filter(|&t| (t as usize) < threads)
        };
        let list = |l: &str| -> Option<Vec<ThreadIdx>> {
            if l == "-" {
                Some(Vec::new())
            } else {
                l.split('+').map(thread).collect()
            }
        };
        let finished: Vec<bool> = finished
            .chars()
            .map(|c| match c {
                '0' => Some(false),
                '1' => Some(true),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let pcs: Vec<u32> = pcs
            .split(',')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let holds_since: Vec<Option<u32>> = holds
            .split(',')
            .map(|h| {
                if h == "-" {
                    Some(None)
                } else {
                    h.parse().ok().map(Some)
                }
            })
            .collect::<Option<_>>()?;
        let views: Vec<View> = views
            .split(';')
            .filter(|v| *v != "-")
            .map(|v| {
                let [seq, holders, waiters, full] = v.split('/').collect::<Vec<_>>()[..] else {
                    return None;
                };
                Some(View {
                    seq: seq.parse().ok()?,
                    holders: list(holders)?,
                    waiters: list(waiters)?,
                    full: full == "1",
                })
            })
            .collect::<Option<_>>()?;
        let right = finished.len() == threads
            && pcs.len() == threads
            && holds_since.len() == threads
            && views.len() == resources;
        right.then_some(Snapshot {
            finished,
            pcs,
            holds_since,
            views,
            pipes: Vec::new(),
        })
    }
}

/// Look for threads that can never move again.
///
/// `views[r]` is resource r as read at one instant; `finished[t]` whether thread t is done or
/// failed; `pcs[t]` the step thread t is at (the one it waits in, if it waits) and
/// `holds_since[t]` the step that took the first of what it holds, where a back-off would start
/// it again. What a waiter waits for is read from the step it is at; what a thread may still do,
/// from the earliest step it may still run. Read earlier than the views, `finished`, `pcs` and
/// `holds_since` may lag behind them, which only ever makes a thread look able to do more than
/// it can: a deadlock is never reported that is not one.
pub fn find(
    scenario: &Scenario,
    views: &[View],
    finished: &[bool],
    pcs: &[u32],
    holds_since: &[Option<u32>],
) -> Option<Deadlock> {
    let n = scenario.threads.len();
    let mut at: Vec<Where> = (0..n)
        .map(|t| {
            if finished[t] {
                Where::Finished
            } else if scenario
                .starts_after(t as ThreadIdx)
                .all(|g| finished[g as usize])
            {
                Where::Moving
            } else {
                Where::NotStarted
            }
        })
        .collect();
    for (r, view) in views.iter().enumerate() {
        for &t in &view.waiters {
            if let Some(w) = at.get_mut(t as usize) {
                *w = Where::Waiting(r as ResIdx);
            }
        }
    }
    for (t, w) in at.iter_mut().enumerate() {
        if *w != Where::Moving {
            continue;
        }
        match scenario.threads[t]
            .steps
            .get(pcs[t] as usize)
            .map(|st| st.op)
        {
            Some(Op::Gather(tasks)) => {
                *w = Where::Awaiting {
                    tasks,
                    first: false,
                }
            }
            Some(Op::WaitTasks { tasks, first }) => *w = Where::Awaiting { tasks, first },
            _ => {}
        }
    }
    let ahead: Vec<Ahead> = (0..n)
        .map(|t| {
            let from = earliest_step(scenario, t, pcs[t], holds_since[t]);
            Ahead::of(scenario, t, from, finished[t])
        })
        .collect();
    // Who will still do what to which resource, lowest first: asking each waiter's possible
    // wakers of every thread would cost threads² a look, with hundreds of threads waiting.
    let mut will: HashMap<(Want, ResIdx), Vec<usize>> = HashMap::new();
    for (u, a) in ahead.iter().enumerate() {
        for &key in &a.acts {
            will.entry(key).or_default().push(u);
        }
    }
    let doers = |act: Want, r: ResIdx| will.get(&(act, r)).map_or(&[][..], Vec::as_slice);
    // A thread waiting on a buffer in `join` waits for task-dones, not for an item or room.
    let joining = |t: usize| {
        scenario.threads[t]
            .steps
            .get(pcs[t] as usize)
            .is_some_and(|st| matches!(st.op, Op::Join(_)))
    };
    let running_next = |t: usize| {
        scenario.threads[t]
            .steps
            .get(pcs[t] as usize)
            .is_some_and(|st| matches!(st.op, Op::RunNext(_)))
    };
    // Threads waiting on the same resource for the same thing cannot end each other's wait;
    // a joiner and a consumer of one buffer wait for different things.
    let waiting_on_same = |t: usize, u: usize, r: ResIdx| {
        at[u] == Where::Waiting(r) && joining(t) == joining(u) && running_next(t) == running_next(u)
    };

    // What would end each waiting thread's wait, read from the step it waits in. Nothing
    // waits for good on a counter, a list or an event loop. An mp-queue is a buffer whose
    // items and room any process may give: its waiters are listed only by a judge that sees
    // every process (`MpQueue::waiting`), and the pipe was full when they wait for a take.
    let wants: Vec<Option<Want>> = (0..n)
        .map(|t| {
            let Where::Waiting(r) = at[t] else {
                return None;
            };
            Some(match scenario.resources[r as usize].kind {
                ResourceKind::Buffer { .. } if joining(t) => Want::TaskDone,
                ResourceKind::Buffer { .. } | ResourceKind::MpQueue if views[r as usize].full => {
                    Want::Take
                }
                // An idle worker waits for a submit (or the shutdown that stops it); a thread
                // collecting results waits for a worker to run its tasks.
                ResourceKind::Pool if running_next(t) => Want::Submit,
                ResourceKind::Counter | ResourceKind::EventLoop | ResourceKind::List => {
                    return None;
                }
                kind => Want::of_kind(kind),
            })
        })
        .collect();

    // Who could end each waiting thread's wait, and how many of them it needs.
    let wakers: Vec<(Vec<usize>, usize)> = (0..n)
        .map(|t| {
            let (Where::Waiting(r), Some(want)) = (at[t], wants[t]) else {
                return (Vec::new(), 0);
            };
            let view = &views[r as usize];
            let kind = scenario.resources[r as usize].kind;
            if holds_kind(kind) {
                // Giving up a lock with a timeout gives back everything the thread holds; a
                // thread under the GIL gives it up whenever it sleeps, blocks or ends.
                let releases = |u: usize| match kind {
                    ResourceKind::Gil { .. } => !finished[u],
                    _ => ahead[u].will(want, r) || ahead[u].backs_off,
                };
                return (other_holders(view, t, releases), 1);
            }
            let providers: Vec<usize> = doers(want, r)
                .iter()
                .copied()
                .filter(|&u| u != t && !waiting_on_same(t, u, r))
                .collect();
            let needed = match kind {
                ResourceKind::Barrier { parties } => {
                    (parties as usize).saturating_sub(view.waiters.len()).max(1)
                }
                _ => 1,
            };
            (providers, needed)
        })
        .collect();

    // An idle worker of the event loop's executor also stops once every task has ended: the
    // loop then shuts its executor down, as `asyncio.run` does.
    let mut executor = vec![false; views.len()];
    for st in scenario.threads.iter().flat_map(|t| &t.steps) {
        if let Op::ToThread { executor: r, .. } = st.op
            && let Some(e) = executor.get_mut(r as usize)
        {
            *e = true;
        }
    }
    let tasks_end = |can_move: &[bool]| {
        (0..n)
            .filter(|&u| scenario.threads[u].is_task())
            .all(|u| at[u] == Where::Finished || can_move[u])
    };
    let mut can_move: Vec<bool> = (0..n)
        .map(|t| match at[t] {
            Where::Moving => true,
            Where::Finished | Where::NotStarted | Where::Awaiting { .. } => false,
            Where::Waiting(r) => {
                let lock = holds_kind(scenario.resources[r as usize].kind);
                // A lock nobody holds is about to be taken by its first waiter.
                (lock && views[r as usize].holders.is_empty()) || wakers[t].1 == 0
            }
        })
        .collect();
    loop {
        let mut changed = false;
        for t in 0..n {
            if can_move[t] {
                continue;
            }
            // A task's wait also ends when a task that can still move cancels it.
            let cancelled = || {
                (0..n).any(|u| {
                    u != t
                        && can_move[u]
                        && ahead[u].cancels.iter().any(|g| g.contains(t as ThreadIdx))
                })
            };
            let ends = |u: ThreadIdx| at[u as usize] == Where::Finished || can_move[u as usize];
            let moves = match at[t] {
                Where::Waiting(r) => {
                    let (who, needed) = &wakers[t];
                    cancelled()
                        || who.iter().filter(|&&u| can_move[u]).count() >= *needed
                        || (running_next(t) && executor[r as usize] && tasks_end(&can_move))
                }
                Where::Awaiting { tasks, first } => {
                    cancelled()
                        || if first {
                            tasks.members().any(ends)
                        } else {
                            tasks.members().all(ends)
                        }
                }
                Where::NotStarted => scenario.starts_after(t as ThreadIdx).all(ends),
                Where::Finished | Where::Moving => false,
            };
            if moves {
                can_move[t] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let stuck: Vec<ThreadIdx> = (0..n)
        .filter(|&t| at[t] != Where::Finished && !can_move[t])
        .map(|t| t as ThreadIdx)
        .collect();
    // Daemon threads stuck on their own are no deadlock: the program ends without them, and
    // they are stopped when every other thread has ended.
    if stuck.iter().all(|&t| scenario.threads[t as usize].daemon) {
        return None;
    }

    // Whom each stuck waiting thread can truthfully blame: stuck holders (others first, then
    // itself), or stuck threads that would otherwise provide. Threads that have not started
    // are never blamed: they are stuck behind their group, not waiting on a resource.
    let stuck_waiting = |u: usize| !can_move[u] && matches!(at[u], Where::Waiting(_));
    let blamable: Vec<Vec<usize>> = (0..n)
        .map(|t| {
            let Where::Waiting(r) = at[t] else {
                return Vec::new();
            };
            if can_move[t] {
                return Vec::new();
            }
            let view = &views[r as usize];
            if holds_kind(scenario.resources[r as usize].kind) {
                let mut held = other_holders(view, t, stuck_waiting);
                if view.holders.contains(&(t as ThreadIdx)) {
                    held.push(t);
                }
                held
            } else {
                let Some(want) = wants[t] else {
                    return Vec::new();
                };
                doers(want, r)
                    .iter()
                    .copied()
                    .filter(|&u| u != t && stuck_waiting(u) && !waiting_on_same(t, u, r))
                    .collect()
            }
        })
        .collect();
    let edge = |t: usize, next: Option<usize>| {
        let Where::Waiting(r) = at[t] else {
            unreachable!("only waiting threads are on a chain")
        };
        let blame = match next {
            None => Blame::Nobody,
            Some(u) if holds_kind(scenario.resources[r as usize].kind) => {
                Blame::HeldBy(u as ThreadIdx)
            }
            Some(u) => Blame::OnlyFrom(u as ThreadIdx),
        };
        WaitEdge {
            thread: t as ThreadIdx,
            resource: r,
            want: wants[t].unwrap_or(Want::of_kind(scenario.resources[r as usize].kind)),
            blame,
        }
    };

    let cycle = if let Some(ring) = first_cycle(&blamable) {
        (0..ring.len())
            .map(|i| edge(ring[i], Some(ring[(i + 1) % ring.len()])))
            .collect()
    } else if let Some(t) = (0..n).find(|&t| blamable[t].contains(&t)) {
        vec![edge(t, Some(t))]
    } else {
        // No cycle: every chain of blame ends at a thread waiting for what nobody left can
        // provide, or for what a stuck task holds while it awaits tasks (the chain closes
        // through that await, which waits on no resource). That thread is the whole story;
        // the rest only wait behind it.
        let mut t = (0..n).find(|&t| stuck_waiting(t))?;
        while let Some(&u) = blamable[t].first() {
            t = u;
        }
        let Where::Waiting(r) = at[t] else {
            unreachable!("a chain ends at a waiting thread")
        };
        let awaiting = |u: usize| !can_move[u] && matches!(at[u], Where::Awaiting { .. });
        let holder = holds_kind(scenario.resources[r as usize].kind)
            .then(|| {
                other_holders(&views[r as usize], t, awaiting)
                    .first()
                    .copied()
            })
            .flatten();
        vec![edge(t, holder)]
    };
    Some(Deadlock { cycle, stuck })
}

/// The threads other than `t` holding what `view` shows (each once, lowest first) for which
/// `keep` holds.
fn other_holders(view: &View, t: usize, keep: impl Fn(usize) -> bool) -> Vec<usize> {
    let mut held: Vec<usize> = view
        .holders
        .iter()
        .map(|&h| h as usize)
        .filter(|&h| h != t && keep(h))
        .collect();
    held.sort_unstable();
    held.dedup();
    held
}

/// Kinds whose waiters wait for a holder to give it back.
fn holds_kind(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::Mutex
            | ResourceKind::RLock
            | ResourceKind::RwLock { .. }
            | ResourceKind::Gil { .. }
            | ResourceKind::Semaphore { .. }
    )
}

/// The first cycle of at least two threads in the graph "t blames u", searching from the lowest
/// thread and following each thread's candidates in order.
fn first_cycle(blames: &[Vec<usize>]) -> Option<Vec<usize>> {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut mark = vec![NEW; blames.len()];
    for start in 0..blames.len() {
        if mark[start] != NEW {
            continue;
        }
        mark[start] = ON_PATH;
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some((v, next)) = path.last_mut() {
            let v = *v;
            let Some(&u) = blames[v].get(*next) else {
                mark[v] = DONE;
                path.pop();
                continue;
            };
            *next += 1;
            if u == v {
                continue;
            }
            match mark[u] {
                NEW => {
                    mark[u] = ON_PATH;
                    path.push((u, 0));
                }
                ON_PATH => {
                    let from = path.iter().position(|&(w, _)| w == u)?;
                    return Some(path[from..].iter().map(|&(w, _)| w).collect());
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::Op::*;
    use crate::scenario::model::ResourceKind as K;
    use crate::scenario::model::Tasks;
    use crate::scenario::testing::{ms, scenario};

    fn view(holders: &[ThreadIdx], waiters: &[ThreadIdx]) -> View {
        View {
            seq: 0,
            holders: holders.to_vec(),
            waiters: waiters.to_vec(),
            full: false,
        }
    }

    /// `find` for threads that hold nothing a back-off would give back.
    fn find_at(s: &Scenario, views: &[View], finished: &[bool], pcs: &[u32]) -> Option<Deadlock> {
        find(s, views, finished, pcs, &vec![None; pcs.len()])
    }

    /// Every thread can still move: no deadlock is found, and the test says which it found if
    /// one is.
    fn none_stuck(s: &Scenario, views: &[View], finished: &[bool], pcs: &[u32]) {
        if let Some(d) = find_at(s, views, finished, pcs) {
            panic!("nobody should be stuck, but: {}", d.describe(s));
        }
    }

    /// A lock tried for 10 ms, then given up with everything the thread holds.
    fn try_lock(resource: ResIdx) -> Op {
        TryLock {
            resource,
            timeout: ms(10),
            backoff: None,
            jitter: true,
        }
    }

    /// A link of a cycle as the tests name it: who waits, for what, blaming whom.
    fn edge(thread: ThreadIdx, resource: ResIdx, blame: Blame) -> (ThreadIdx, ResIdx, Blame) {
        (thread, resource, blame)
    }

    fn links(d: &Deadlock) -> Vec<(ThreadIdx, ResIdx, Blame)> {
        d.cycle
            .iter()
            .map(|e| (e.thread, e.resource, e.blame))
            .collect()
    }

    /// A back-off starts again where the thread took the first of what it holds, not at the top
    /// of its script: an arrival before that step can never come again.
    #[test]
    fn a_back_off_comes_round_only_from_where_it_took_what_it_holds() {
        let try_lock = try_lock(2);
        let s = scenario(
            &[
                ("b", K::Barrier { parties: 2 }),
                ("A", K::Mutex),
                ("B", K::Mutex),
            ],
            &[
                ("T0", vec![Wait(0), Lock(1), try_lock, Unlock(2), Unlock(1)]),
                ("T1", vec![Wait(0), Wait(0)]),
            ],
        );
        // T0 holds A since step 1 and is trying B; T1 waits for a second round at b.
        let views = [view(&[], &[1]), view(&[0], &[]), view(&[], &[])];
        let d = find(&s, &views, &[false, false], &[2, 1], &[Some(1), None])
            .expect("T1 can never pass");
        assert_eq!(links(&d), vec![edge(1, 0, Blame::Nobody)]);
        assert_eq!(d.stuck, vec![1]);
        // Holding nothing, it would start again at the lock that timed out.
        assert_eq!(earliest_step(&s, 0, 2, None), 2);
        // With no timeout ahead it never comes round at all.
        assert_eq!(earliest_step(&s, 0, 3, Some(1)), 3);
    }

    /// What a waiter waits for is read from the step it waits in, even when a back-off could
    /// take it back to an earlier step: an idle worker waits for a submit, whatever it did
    /// before.
    #[test]
    fn an_idle_worker_that_could_back_off_still_waits_for_a_submit() {
        let script = vec![Lock(1), RunNext(0), Lock(1), try_lock(1), Unlock(1)];
        let s = scenario(
            &[("x", K::Pool), ("m", K::Mutex)],
            &[("T0", script.clone()), ("T1", script)],
        );
        // T1 took m at step 0 and waits for a task; T0 waits for m. Nobody will ever submit.
        let views = [view(&[], &[1]), view(&[1], &[0])];
        let d = find(&s, &views, &[false, false], &[0, 1], &[None, Some(0)]).expect("stuck");
        assert_eq!(links(&d), vec![edge(1, 0, Blame::Nobody)]);
        assert_eq!(d.cycle[0].want, Want::Submit);
        assert_eq!(
            d.describe(&s),
            "T1 waits for x, which no thread left can submit a task to"
        );
        assert_eq!(d.stuck, vec![0, 1]);
    }

    /// A thread that both puts into a queue and joins it waits, in the join, for task-dones:
    /// the words say so, not what its other steps would want.
    #[test]
    fn a_joiner_wants_task_dones_whatever_else_its_script_does() {
        let s = scenario(
            &[("q", K::Buffer { capacity: 2 })],
            &[("A", vec![Put(0), Join(0), Take(0)])],
        );
        let d = find_at(&s, &[view(&[], &[0])], &[false], &[1]).expect("stuck");
        assert_eq!(d.cycle[0].want, Want::TaskDone);
        assert_eq!(
            d.describe(&s),
            "A waits for q, which no thread left can mark its items done (task_done)"
        );
        // In the take, the same thread wants an item.
        let d = find_at(&s, &[view(&[], &[0])], &[false], &[2]).expect("stuck");
        assert_eq!(d.cycle[0].want, Want::Put);
    }

    /// A task awaiting tasks that can never end is stuck with them, though it waits on no
    /// primitive; awaiting only the first of them, one that has ended lets it go on.
    #[test]
    fn a_gather_on_tasks_that_wait_for_the_gatherer_is_stuck() {
        let waiters = Tasks { first: 0, count: 2 };
        let s = |first: bool| {
            scenario(
                &[("go", K::Event)],
                &[
                    ("W0", vec![Wait(0)]),
                    ("W1", vec![Wait(0)]),
                    (
                        "B",
                        vec![
                            WaitTasks {
                                tasks: waiters,
                                first,
                            },
                            Set(0),
                        ],
                    ),
                ],
            )
        };
        let views = [view(&[], &[0, 1])];
        let d = find_at(&s(false), &views, &[false; 3], &[0, 0, 0]).expect("stuck");
        assert_eq!(links(&d), vec![edge(0, 0, Blame::Nobody)]);
        assert_eq!(d.stuck, vec![0, 1, 2]);
        // W1 has ended (its wait timed out, say): FIRST_COMPLETED is over, B sets go.
        let views = [view(&[], &[0])];
        none_stuck(&s(true), &views, &[false, true, false], &[0, 1, 0]);
        let d = find_at(&s(false), &views, &[false, true, false], &[0, 1, 0]).expect("stuck");
        assert_eq!(d.stuck, vec![0, 2]);
    }

    /// `s` with the threads named in `processes[p]` moved into process `p`, each started after
    /// the threads `after[p]`.
    fn in_processes(s: &Scenario, processes: &[(&[ThreadIdx], &[ThreadIdx])]) -> Scenario {
        let mut s = s.clone();
        for (p, (members, after)) in processes.iter().enumerate() {
            for &t in *members {
                s.threads[t as usize].process = Some(p as u16);
            }
            s.processes.push(crate::scenario::model::ProcessSpec {
                name: format!("p{p}"),
                line: 1,
                after: after.to_vec(),
            });
        }
        s
    }

    /// What threadlab's own process reads of a run: `finished` and `pcs` over every thread,
    /// and its resources' views, each mp-queue's pipe as `pipe`.
    fn own(s: &Scenario, finished: &[bool], pcs: &[u32], views: &[View], pipe: Pipe) -> Snapshot {
        Snapshot {
            finished: finished.to_vec(),
            pcs: pcs.to_vec(),
            holds_since: vec![None; pcs.len()],
            views: views.to_vec(),
            pipes: s
                .resources
                .iter()
                .map(|r| (r.kind == K::MpQueue).then_some(pipe))
                .collect(),
        }
    }

    /// A child's answer: its threads' `finished` and `pcs`, and its views (in its numbers).
    fn answer(finished: &[bool], pcs: &[u32], views: &[View]) -> Option<Snapshot> {
        Some(Snapshot {
            finished: finished.to_vec(),
            pcs: pcs.to_vec(),
            holds_since: vec![None; pcs.len()],
            views: views.to_vec(),
            pipes: Vec::new(),
        })
    }

    const EMPTY: Pipe = Pipe {
        item: false,
        room: true,
    };

    /// A take from an mp-queue waits for a put from any process: for good once no thread of
    /// any process can put, and not while one that did not answer, or has not run its put
    /// yet, still could, or while the pipe holds an item.
    #[test]
    fn an_mp_queue_taker_nobody_in_any_process_fills_is_stuck() {
        let s = in_processes(
            &scenario(
                &[("q", K::MpQueue)],
                &[("main", vec![Take(0), Take(0)]), ("w", vec![Put(0)])],
            ),
            &[(&[1], &[])],
        );
        let here = own(&s, &[false, false], &[1, 0], &[view(&[], &[0])], EMPTY);
        let gone = answer(&[true], &[1], &[View::default()]);
        let d = Snapshot::whole(&s, &here, &[gone]).find(&s).expect("stuck");
        assert_eq!(links(&d), vec![edge(0, 0, Blame::Nobody)]);
        assert_eq!(d.cycle[0].want, Want::Put);
        assert_eq!(d.stuck, vec![0]);
        assert_eq!(
            d.describe(&s),
            "main waits for q, which no thread left can fill"
        );
        let will_put = answer(&[false], &[0], &[View::default()]);
        assert!(Snapshot::whole(&s, &here, &[will_put]).find(&s).is_none());
        assert!(Snapshot::whole(&s, &here, &[None]).find(&s).is_none());
        let item = own(
            &s,
            &[false, false],
            &[1, 0],
            &[view(&[], &[0])],
            Pipe {
                item: true,
                room: true,
            },
        );
        let gone = answer(&[true], &[1], &[View::default()]);
        assert!(Snapshot::whole(&s, &item, &[gone]).find(&s).is_none());
    }

    /// A process started `after=` a group that never finishes never puts: its threads are
    /// stuck behind the group, and never blamed.
    #[test]
    fn a_process_behind_a_stuck_group_never_puts() {
        let s = in_processes(
            &scenario(
                &[("q", K::MpQueue)],
                &[("main", vec![Take(0)]), ("w", vec![Put(0)])],
            ),
            &[(&[1], &[0])],
        );
        let here = own(&s, &[false, false], &[0, 0], &[view(&[], &[0])], EMPTY);
        let d = Snapshot::whole(&s, &here, &[None]).find(&s).expect("stuck");
        assert_eq!(links(&d), vec![edge(0, 0, Blame::Nobody)]);
        assert_eq!(d.stuck, vec![0, 1]);
    }

    /// Two processes, each taking from the queue only the other fills: one cycle, read from
    /// their answers in their own numbers.
    #[test]
    fn processes_taking_from_each_others_queues_are_a_cycle() {
        let s = in_processes(
            &scenario(
                &[("a", K::MpQueue), ("b", K::MpQueue)],
                &[
                    ("main", vec![Sleep(ms(1))]),
                    ("x", vec![Take(0), Put(1)]),
                    ("y", vec![Take(1), Put(0)]),
                ],
            ),
            &[(&[1], &[]), (&[2], &[])],
        );
        let here = own(
            &s,
            &[true, false, false],
            &[1, 0, 0],
            &[View::default(), View::default()],
            EMPTY,
        );
        let x = answer(&[false], &[0], &[view(&[], &[0]), View::default()]);
        let y = answer(&[false], &[0], &[View::default(), view(&[], &[0])]);
        let d = Snapshot::whole(&s, &here, &[x.clone(), y.clone()])
            .find(&s)
            .expect("stuck");
        assert_eq!(
            links(&d),
            vec![
                edge(1, 0, Blame::OnlyFrom(2)),
                edge(2, 1, Blame::OnlyFrom(1))
            ]
        );
        assert_eq!(d.stuck, vec![1, 2]);
        // Until y answers, it may still put into a.
        assert!(Snapshot::whole(&s, &here, &[x, None]).find(&s).is_none());
    }

    /// A put into a full pipe waits for a take, from any process; room in the pipe lets it
    /// through.
    #[test]
    fn a_putter_on_a_full_pipe_waits_for_a_take() {
        let s = in_processes(
            &scenario(
                &[("q", K::MpQueue)],
                &[("main", vec![Take(0)]), ("w", vec![Put(0), Put(0)])],
            ),
            &[(&[1], &[])],
        );
        let full = Pipe {
            item: true,
            room: false,
        };
        let here = own(&s, &[true, false], &[1, 0], &[View::default()], full);
        let w = answer(&[false], &[1], &[view(&[], &[0])]);
        let d = Snapshot::whole(&s, &here, std::slice::from_ref(&w))
            .find(&s)
            .expect("stuck");
        assert_eq!(d.cycle[0].want, Want::Take);
        assert_eq!(
            d.describe(&s),
            "w waits for q, which no thread left can make room in"
        );
        let room = own(
            &s,
            &[true, false],
            &[1, 0],
            &[View::default()],
            Pipe {
                item: true,
                room: true,
            },
        );
        assert!(Snapshot::whole(&s, &room, &[w]).find(&s).is_none());
    }

    #[test]
    fn a_child_answer_reads_back_as_written() {
        let snapshot = Snapshot {
            finished: vec![false, true, false],
            pcs: vec![3, 7, 0],
            holds_since: vec![Some(1), None, None],
            views: vec![
                View {
                    seq: 9,
                    holders: vec![0],
                    waiters: vec![2, 1],
                    full: true,
                },
                View::default(),
            ],
            pipes: Vec::new(),
        };
        let words = snapshot.to_words();
        assert_eq!(Snapshot::from_words(&words, 3, 2), Some(snapshot.clone()));
        // Wrong counts, or a thread it does not have, are no answer.
        assert_eq!(Snapshot::from_words(&words, 2, 2), None);
        assert_eq!(Snapshot::from_words(&words, 3, 3), None);
        assert_eq!(Snapshot::from_words("0 0 - 1/5/-/0", 1, 1), None);
        let bare = Snapshot {
            finished: vec![false],
            pcs: vec![0],
            holds_since: vec![None],
            views: Vec::new(),
            pipes: Vec::new(),
        };
        assert_eq!(Snapshot::from_words(&bare.to_words(), 1, 0), Some(bare));
    }

    #[test]
    fn two_locks_in_opposite_order_are_a_cycle_of_holders() {
        let s = scenario(
            &[("A", K::Mutex), ("B", K::Mutex)],
            &[
                ("T1", vec![Lock(0), Lock(1), Unlock(1), Unlock(0)]),
                ("T2", vec![Lock(1), Lock(0), Unlock(0), Unlock(1)]),
            ],
        );
        let views = [view(&[0], &[1]), view(&[1], &[0])];
        let d = find_at(&s, &views, &[false, false], &[1, 1]).expect("a deadlock");
        assert_eq!(
            links(&d),
            vec![edge(0, 1, Blame::HeldBy(1)), edge(1, 0, Blame::HeldBy(0))]
        );
        assert_eq!(d.stuck, vec![0, 1]);
        assert_eq!(
            d.describe(&s),
            "T1 waits for B held by T2, T2 waits for A held by T1"
        );
        assert!(!d.is_self_deadlock());
    }

    #[test]
    fn a_second_permit_of_a_one_permit_semaphore_is_a_self_deadlock_at_once() {
        let s = scenario(
            &[("S", K::Semaphore { permits: 1 })],
            &[
                ("A", vec![Sleep(ms(50)), Acquire(0), Release(0)]),
                ("B", vec![Acquire(0), Acquire(0), Release(0), Release(0)]),
            ],
        );
        // A still sleeps: B is stuck already, and A is not to blame.
        let d = find_at(&s, &[view(&[1], &[1])], &[false, false], &[0, 1]).expect("stuck");
        assert_eq!(links(&d), vec![edge(1, 0, Blame::HeldBy(1))]);
        assert_eq!(d.stuck, vec![1]);
        assert!(d.is_self_deadlock());
        assert_eq!(
            d.describe(&s),
            "B waits for a second permit of S while holding the only one"
        );
        // A arrives: it waits behind B, who holds the permit; the cycle is still B's alone.
        let d = find_at(&s, &[view(&[1], &[1, 0])], &[false, false], &[1, 1]).expect("stuck");
        assert_eq!(links(&d), vec![edge(1, 0, Blame::HeldBy(1))]);
        assert_eq!(d.stuck, vec![0, 1]);
    }

    #[test]
    fn a_mutex_locked_again_by_its_holder() {
        let s = scenario(
            &[("A", K::Mutex)],
            &[("T1", vec![Lock(0), Lock(0), Unlock(0), Unlock(0)])],
        );
        let d = find_at(&s, &[view(&[0], &[0])], &[false], &[1]).expect("stuck");
        assert_eq!(d.describe(&s), "T1 locks A again while holding it");
    }

    #[test]
    fn a_thread_waiting_for_its_after_group_is_stuck_behind_it() {
        let mut s = (*scenario(
            &[("go", K::Event)],
            &[("A", vec![Wait(0)]), ("B", vec![Set(0)])],
        ))
        .clone();
        s.threads[1].after = vec![0];
        let d = find_at(&s, &[view(&[], &[0])], &[false, false], &[0, 0]).expect("stuck");
        // B would set go, but it can never start: nobody left can.
        assert_eq!(links(&d), vec![edge(0, 0, Blame::Nobody)]);
        assert_eq!(d.stuck, vec![0, 1]);
        assert_eq!(
            d.describe(&s),
            "A waits for go, which no thread left can set"
        );
        // Once A's group has finished, B starts and sets it.
        s.threads[1].after.clear();
        none_stuck(&s, &[view(&[], &[0])], &[false, false], &[0, 0]);
    }

    #[test]
    fn an_after_group_that_can_finish_lets_its_followers_move() {
        let mut s = (*scenario(
            &[("go", K::Event)],
            &[
                ("A", vec![Sleep(ms(5))]),
                ("B", vec![Set(0)]),
                ("C", vec![Wait(0)]),
            ],
        ))
        .clone();
        s.threads[1].after = vec![0];
        none_stuck(&s, &[view(&[], &[2])], &[false, false, false], &[0, 0, 0]);
    }

    #[test]
    fn an_event_only_a_stuck_thread_would_set() {
        let s = scenario(
            &[("go", K::Event), ("done", K::Event)],
            &[
                ("A", vec![Wait(0), Set(1)]),
                ("B", vec![Wait(1), Set(0)]),
                ("C", vec![Wait(0)]),
            ],
        );
        let views = [view(&[], &[0, 2]), view(&[], &[1])];
        let d = find_at(&s, &views, &[false; 3], &[0, 0, 0]).expect("stuck");
        assert_eq!(
            links(&d),
            vec![
                edge(0, 0, Blame::OnlyFrom(1)),
                edge(1, 1, Blame::OnlyFrom(0))
            ]
        );
        assert_eq!(d.stuck, vec![0, 1, 2]);
        assert_eq!(
            d.describe(&s),
            "A waits for go, which only B (itself stuck) could set, \
             B waits for done, which only A (itself stuck) could set"
        );
    }

    #[test]
    fn a_barrier_short_of_parties_blames_only_a_stuck_arriver() {
        let s = scenario(
            &[("gate", K::Barrier { parties: 2 }), ("M", K::Mutex)],
            &[
                ("A", vec![Lock(1), Wait(0), Unlock(1)]),
                ("B", vec![Lock(1), Wait(0), Unlock(1)]),
            ],
        );
        let views = [view(&[], &[0]), view(&[0], &[1])];
        let d = find_at(&s, &views, &[false, false], &[1, 0]).expect("stuck");
        assert_eq!(
            links(&d),
            vec![edge(0, 0, Blame::OnlyFrom(1)), edge(1, 1, Blame::HeldBy(0))]
        );
        assert_eq!(
            d.describe(&s),
            "A waits for gate, which only B (itself stuck) could reach, \
             B waits for M held by A"
        );
    }

    #[test]
    fn a_co_waiter_is_never_blamed() {
        // Both wait for go; B would set it afterwards, but it waits for the same thing.
        let s = scenario(
            &[("go", K::Event)],
            &[("A", vec![Wait(0)]), ("B", vec![Wait(0), Set(0)])],
        );
        let d = find_at(&s, &[view(&[], &[0, 1])], &[false, false], &[0, 0]).expect("stuck");
        assert_eq!(links(&d), vec![edge(0, 0, Blame::Nobody)]);
        assert_eq!(d.stuck, vec![0, 1]);
    }

    #[test]
    fn an_empty_buffer_nobody_left_fills() {
        let s = scenario(
            &[("q", K::Buffer { capacity: 1 })],
            &[
                ("C", vec![Take(0)]),
                ("P", vec![Sleep(ms(20)), Put(0), Take(0)]),
            ],
        );
        // P has put and taken back: C waits for an item nobody left will put.
        let d = find_at(&s, &[view(&[], &[0])], &[false, true], &[0, 2]).expect("stuck");
        assert_eq!(
            d.describe(&s),
            "C waits for q, which no thread left can fill"
        );
        // While P can still put, C can move.
        none_stuck(&s, &[view(&[], &[0])], &[false, false], &[0, 1]);
        // A full buffer: its waiters wait for a take.
        let full = View {
            full: true,
            ..view(&[], &[1])
        };
        assert!(find_at(&s, &[full], &[false, false], &[0, 1]).is_none());
    }

    #[test]
    fn a_holder_that_never_unlocks_leaves_its_waiters_to_nobody() {
        let s = scenario(
            &[("A", K::Mutex)],
            &[("T1", vec![Lock(0), Sleep(ms(500))]), ("T2", vec![Lock(0)])],
        );
        // T1 still sleeps, but will never unlock A: T2 is stuck already.
        let d = find_at(&s, &[view(&[0], &[1])], &[false, false], &[1, 0]).expect("stuck");
        assert_eq!(links(&d), vec![edge(1, 0, Blame::Nobody)]);
        assert_eq!(d.stuck, vec![1]);
        assert_eq!(
            d.describe(&s),
            "T2 waits for A, which no thread left will unlock"
        );
    }

    #[test]
    fn a_holder_that_may_back_off_can_still_unlock() {
        let try_lock = try_lock(1);
        let s = scenario(
            &[("A", K::Mutex), ("B", K::Mutex)],
            &[("T1", vec![Lock(0), try_lock]), ("T2", vec![Lock(0)])],
        );
        none_stuck(
            &s,
            &[view(&[0], &[1]), view(&[], &[])],
            &[false, false],
            &[1, 0],
        );
    }

    #[test]
    fn the_cycle_is_reported_before_a_thread_that_only_waits_behind_it() {
        let s = scenario(
            &[("A", K::Mutex), ("B", K::Mutex)],
            &[
                ("W", vec![Lock(0), Unlock(0)]),
                ("T1", vec![Lock(0), Lock(1), Unlock(1), Unlock(0)]),
                ("T2", vec![Lock(1), Lock(0), Unlock(0), Unlock(1)]),
            ],
        );
        let views = [view(&[1], &[2, 0]), view(&[2], &[1])];
        let d = find_at(&s, &views, &[false; 3], &[0, 1, 1]).expect("stuck");
        assert_eq!(
            links(&d),
            vec![edge(1, 1, Blame::HeldBy(2)), edge(2, 0, Blame::HeldBy(1))]
        );
        assert_eq!(d.stuck, vec![0, 1, 2]);
    }

    #[test]
    fn blame_names_round_trip() {
        for b in [Blame::HeldBy(3), Blame::OnlyFrom(1), Blame::Nobody] {
            assert_eq!(Blame::from_name(b.name(), b.by()), Some(b));
        }
        assert_eq!(Blame::from_name("held_by", None), None);
        assert_eq!(Blame::from_name("nobody", Some(1)), None);
    }

    /// A producer waits for room that only joiners could make, and the joiners wait for a
    /// task-done that nobody will do: all three are stuck.
    #[test]
    fn joiners_and_a_producer_waiting_on_each_other_are_stuck() {
        let s = scenario(
            &[("q", K::Buffer { capacity: 1 })],
            &[
                (
                    "P",
                    vec![
                        Put(0),
                        Sleep(ms(2)),
                        Take(0),
                        TaskDone(0),
                        PutSentinel(0),
                        Put(0),
                    ],
                ),
                (
                    "J1",
                    vec![
                        Join(0),
                        TakeFor {
                            resource: 0,
                            timeout: ms(2),
                        },
                        Take(0),
                    ],
                ),
                ("J2", vec![Join(0), Take(0)]),
            ],
        );
        let views = [View {
            full: true,
            ..view(&[], &[0, 1, 2])
        }];
        let d = find_at(&s, &views, &[false; 3], &[5, 0, 0]).expect("a deadlock");
        assert_eq!(d.stuck, vec![0, 1, 2], "{}", d.describe(&s));
    }
}

//! What a deadlock is, as every side of a run speaks of it: the closed wait-for chain, who is
//! blamed for each link, and the words for it. Finding one is the engine's job
//! (`engine::deadlock::find`); drawing, printing and saving one read these types.
//!
//! Who is to blame is said only in true words: "held by" names a thread that holds the resource
//! right now; "only X could provide" names a thread that would provide it if it were not itself
//! stuck; and when no thread left could, nobody is named.

use crate::scenario::model::{ResIdx, ResourceKind, Scenario, ThreadIdx};

/// One link of a wait-for chain: `thread` waits for `resource`, and `blame` says who keeps it
/// waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitEdge {
    pub thread: ThreadIdx,
    pub resource: ResIdx,
    pub blame: Blame,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// `resource` is held right now by this thread: the holder of a mutex/rlock/rwlock/GIL,
    /// or a thread that has acquired a permit of a semaphore and not released it.
    HeldBy(ThreadIdx),
    /// Nobody holds what is missing; only this thread, itself stuck, could still provide it
    /// (put/take on a buffer, arrive at a barrier, set an event). Never a thread that is itself
    /// waiting on this same resource for the same thing.
    OnlyFrom(ThreadIdx),
    /// No thread left can ever provide it.
    Nobody,
}

impl Blame {
    /// The word for this kind of blame in JSON and recordings.
    pub fn name(self) -> &'static str {
        match self {
            Blame::HeldBy(_) => "held_by",
            Blame::OnlyFrom(_) => "only_from",
            Blame::Nobody => "nobody",
        }
    }

    /// The thread blamed, if any.
    pub fn by(self) -> Option<ThreadIdx> {
        match self {
            Blame::HeldBy(t) | Blame::OnlyFrom(t) => Some(t),
            Blame::Nobody => None,
        }
    }

    /// The blame `name` (see [`Blame::name`]) with `by`, if the two fit together.
    pub fn from_name(name: &str, by: Option<ThreadIdx>) -> Option<Blame> {
        match (name, by) {
            ("held_by", Some(t)) => Some(Blame::HeldBy(t)),
            ("only_from", Some(t)) => Some(Blame::OnlyFrom(t)),
            ("nobody", None) => Some(Blame::Nobody),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlock {
    /// The closed chain in order, each edge's blamed thread being the next edge's `thread`; a
    /// thread waiting for itself is a one-edge cycle blaming its own thread; a thread that waits
    /// for what nobody left can provide is a single edge blaming nobody.
    pub cycle: Vec<WaitEdge>,
    /// Every thread that can never move again (the cycle and everything waiting behind it,
    /// including threads that would start after a group that never finishes).
    pub stuck: Vec<ThreadIdx>,
}

impl Deadlock {
    /// "T1 waits for B held by T2, T2 waits for A held by T1".
    pub fn describe(&self, scenario: &Scenario) -> String {
        self.cycle
            .iter()
            .map(|e| e.describe(scenario))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A thread that waits for itself: one edge blaming its own thread.
    pub fn is_self_deadlock(&self) -> bool {
        matches!(self.cycle.as_slice(), [e] if e.blame == Blame::HeldBy(e.thread))
    }

    /// The headline over the cycle, for a banner.
    pub fn headline(&self) -> &'static str {
        if self.is_self_deadlock() {
            "a thread waits for itself forever"
        } else if self.cycle.iter().any(|e| e.blame == Blame::Nobody) {
            "a thread waits for what no thread left can provide"
        } else {
            "these threads wait for each other forever"
        }
    }
}

impl WaitEdge {
    /// The edge in words; one function per kind of blame.
    pub fn describe(&self, s: &Scenario) -> String {
        match self.blame {
            Blame::HeldBy(h) if h == self.thread => self_words(s, self.thread, self.resource),
            Blame::HeldBy(h) => held_by_words(s, self.thread, self.resource, h),
            Blame::OnlyFrom(u) => only_from_words(s, self.thread, self.resource, u),
            Blame::Nobody => nobody_words(s, self.thread, self.resource),
        }
    }
}

/// "T1 waits for B held by T2".
fn held_by_words(s: &Scenario, t: ThreadIdx, r: ResIdx, holder: ThreadIdx) -> String {
    format!(
        "{} waits for {} held by {}",
        s.thread_name(t),
        s.resource_name(r),
        s.thread_name(holder)
    )
}

/// "T1 locks A again while holding it", "B waits for a second permit of S while holding the
/// only one".
fn self_words(s: &Scenario, t: ThreadIdx, r: ResIdx) -> String {
    let (who, res) = (s.thread_name(t), s.resource_name(r));
    match s.resources[r as usize].kind {
        ResourceKind::Mutex => format!("{who} locks {res} again while holding it"),
        ResourceKind::Semaphore { permits: 1 } => {
            format!("{who} waits for a second permit of {res} while holding the only one")
        }
        ResourceKind::Semaphore { .. } => {
            format!("{who} waits for another permit of {res} while holding one itself")
        }
        _ => format!("{who} waits for {res} while holding it itself"),
    }
}

/// "A waits for go, which only B (itself stuck) could set".
fn only_from_words(s: &Scenario, t: ThreadIdx, r: ResIdx, u: ThreadIdx) -> String {
    format!(
        "{} waits for {}, which only {} (itself stuck) could {}",
        s.thread_name(t),
        s.resource_name(r),
        s.thread_name(u),
        provide_verb(s, t, r)
    )
}

/// "C waits for q, which no thread left can fill".
fn nobody_words(s: &Scenario, t: ThreadIdx, r: ResIdx) -> String {
    let (who, res) = (s.thread_name(t), s.resource_name(r));
    match s.resources[r as usize].kind {
        ResourceKind::Barrier { .. } => {
            format!("{who} waits for {res}, which not enough threads left can reach")
        }
        ResourceKind::Event | ResourceKind::Buffer { .. } | ResourceKind::Condition { .. } => {
            format!(
                "{who} waits for {res}, which no thread left can {}",
                provide_verb(s, t, r)
            )
        }
        ResourceKind::Mutex | ResourceKind::RLock | ResourceKind::RwLock { .. } => {
            format!("{who} waits for {res}, which no thread left will unlock")
        }
        _ => format!("{who} waits for {res}, which no thread left will release"),
    }
}

/// What a provider would do to end `t`'s wait on `r`.
fn provide_verb(s: &Scenario, t: ThreadIdx, r: ResIdx) -> &'static str {
    match s.resources[r as usize].kind {
        ResourceKind::Event => "set",
        ResourceKind::Condition { .. } => "notify",
        ResourceKind::Barrier { .. } => "reach",
        ResourceKind::Buffer { .. } => {
            // A thread's script says whether it puts into the buffer, takes from it, or both.
            let ops = || s.threads[t as usize].steps.iter().map(|st| st.op);
            let puts = ops().any(|op| op.puts() == Some(r));
            let takes = ops().any(|op| op.takes() == Some(r));
            match (puts, takes) {
                (true, false) => "make room in",
                (false, true) => "fill",
                _ => "put into or take from",
            }
        }
        ResourceKind::Semaphore { .. } => "release",
        _ => "unlock",
    }
}

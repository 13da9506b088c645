//! What a deadlock is, as every side of a run speaks of it: the closed wait-for chain, who is
//! blamed for each link, and the words for it. Finding one is the engine's job
//! (`engine::deadlock::find`); drawing, printing and saving one read these types.
//!
//! Who is to blame is said only in true words: "held by" names a thread that holds the resource
//! right now; "only X could provide" names a thread that would provide it if it were not itself
//! stuck; and when no thread left could, nobody is named.

use rust_i18n::t;

use crate::i18n::Lang;
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
    /// "T1 waits for B held by T2, T2 waits for A held by T1": the cycle in English, as JSON,
    /// recordings and traces keep it.
    pub fn describe(&self, scenario: &Scenario) -> String {
        self.words(Lang::En, scenario)
    }

    /// The cycle in `lang`, for people.
    pub fn words(&self, lang: Lang, scenario: &Scenario) -> String {
        let sep = t!("classroom.deadlock.edge_sep", locale = lang.code());
        self.cycle
            .iter()
            .map(|e| e.words(lang, scenario))
            .collect::<Vec<_>>()
            .join(&sep)
    }

    /// A thread that waits for itself: one edge blaming its own thread, as the holder or as
    /// the only one who could provide what it waits for.
    pub fn is_self_deadlock(&self) -> bool {
        matches!(self.cycle.as_slice(), [e] if e.blame.by() == Some(e.thread))
    }

    /// The headline over the cycle, for a banner, in `lang`.
    pub fn headline(&self, lang: Lang) -> String {
        let key = if self.is_self_deadlock() {
            "classroom.deadlock.headline.self"
        } else if self.cycle.iter().any(|e| e.blame == Blame::Nobody) {
            "classroom.deadlock.headline.nobody"
        } else {
            "classroom.deadlock.headline.each_other"
        };
        t!(key, locale = lang.code()).into_owned()
    }
}

impl WaitEdge {
    /// The edge in English, as JSON, recordings and traces keep it.
    pub fn describe(&self, s: &Scenario) -> String {
        self.words(Lang::En, s)
    }

    /// The edge in `lang`; one function per kind of blame.
    pub fn words(&self, lang: Lang, s: &Scenario) -> String {
        let l = lang.code();
        match self.blame {
            Blame::HeldBy(h) if h == self.thread => self_words(l, s, self.thread, self.resource),
            Blame::HeldBy(h) => held_by_words(l, s, self.thread, self.resource, h),
            Blame::OnlyFrom(u) if u == self.thread => t!(
                "screen.deadlock_only_itself",
                locale = l,
                who = s.thread_name(u),
                res = s.resource_name(self.resource),
                verb = t!(provide_verb(s, u, self.resource), locale = l)
            )
            .into_owned(),
            Blame::OnlyFrom(u) => only_from_words(l, s, self.thread, self.resource, u),
            Blame::Nobody => nobody_words(l, s, self.thread, self.resource),
        }
    }
}

/// "T1 waits for B held by T2".
fn held_by_words(l: &str, s: &Scenario, t: ThreadIdx, r: ResIdx, holder: ThreadIdx) -> String {
    t!(
        "classroom.deadlock.held_by",
        locale = l,
        who = s.thread_name(t),
        res = s.resource_name(r),
        holder = s.thread_name(holder)
    )
    .into_owned()
}

/// "T1 locks A again while holding it", "B waits for a second permit of S while holding the
/// only one".
fn self_words(l: &str, s: &Scenario, t: ThreadIdx, r: ResIdx) -> String {
    let key = match s.resources[r as usize].kind {
        ResourceKind::Mutex => "classroom.deadlock.self.mutex",
        ResourceKind::Semaphore { permits: 1 } => "classroom.deadlock.self.only_permit",
        ResourceKind::Semaphore { .. } => "classroom.deadlock.self.permit",
        _ => "classroom.deadlock.self.other",
    };
    t!(
        key,
        locale = l,
        who = s.thread_name(t),
        res = s.resource_name(r)
    )
    .into_owned()
}

/// "A waits for go, which only B (itself stuck) could set".
fn only_from_words(l: &str, s: &Scenario, t: ThreadIdx, r: ResIdx, u: ThreadIdx) -> String {
    t!(
        "classroom.deadlock.only_from",
        locale = l,
        who = s.thread_name(t),
        res = s.resource_name(r),
        by = s.thread_name(u),
        verb = t!(provide_verb(s, t, r), locale = l)
    )
    .into_owned()
}

/// "C waits for q, which no thread left can fill".
fn nobody_words(l: &str, s: &Scenario, t: ThreadIdx, r: ResIdx) -> String {
    let key = match s.resources[r as usize].kind {
        ResourceKind::Barrier { .. } => "classroom.deadlock.nobody.reach",
        ResourceKind::Event | ResourceKind::Buffer { .. } | ResourceKind::Condition { .. } => {
            "classroom.deadlock.nobody.provide"
        }
        ResourceKind::Mutex | ResourceKind::RLock | ResourceKind::RwLock { .. } => {
            "classroom.deadlock.nobody.unlock"
        }
        _ => "classroom.deadlock.nobody.release",
    };
    t!(
        key,
        locale = l,
        who = s.thread_name(t),
        res = s.resource_name(r),
        verb = t!(provide_verb(s, t, r), locale = l)
    )
    .into_owned()
}

/// The message key of what a provider would do to end `t`'s wait on `r`.
fn provide_verb(s: &Scenario, t: ThreadIdx, r: ResIdx) -> &'static str {
    match s.resources[r as usize].kind {
        ResourceKind::Event => "classroom.deadlock.verb.set",
        ResourceKind::Condition { .. } => "classroom.deadlock.verb.notify",
        ResourceKind::Barrier { .. } => "classroom.deadlock.verb.reach",
        ResourceKind::Buffer { .. } => {
            // A thread's script says whether it puts into the buffer, takes from it, or both.
            let ops = || s.threads[t as usize].steps.iter().map(|st| st.op);
            let puts = ops().any(|op| op.puts() == Some(r));
            let takes = ops().any(|op| op.takes() == Some(r));
            match (puts, takes) {
                (true, false) => "classroom.deadlock.verb.make_room",
                (false, true) => "classroom.deadlock.verb.fill",
                _ => "classroom.deadlock.verb.put_or_take",
            }
        }
        ResourceKind::Semaphore { .. } => "classroom.deadlock.verb.release",
        _ => "classroom.deadlock.verb.unlock",
    }
}

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

/// One link of a wait-for chain: `thread` waits for `resource` until another thread does
/// `want` to it, and `blame` says who keeps it waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitEdge {
    pub thread: ThreadIdx,
    pub resource: ResIdx,
    pub want: Want,
    pub blame: Blame,
}

/// What another thread would have to do to a resource to end a wait on it. The step a thread
/// waits in says which: a `join` on a buffer wants task-dones where a `take` wants an item, an
/// idle pool worker wants a submit where a collector wants a worker to run its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Want {
    Unlock,
    Release,
    Set,
    Arrive,
    Put,
    Take,
    Notify,
    TaskDone,
    /// Submit a task to a pool, or shut it down.
    Submit,
    /// Run a pool's next task.
    RunTask,
}

impl Want {
    const ALL: [Want; 10] = [
        Want::Unlock,
        Want::Release,
        Want::Set,
        Want::Arrive,
        Want::Put,
        Want::Take,
        Want::Notify,
        Want::TaskDone,
        Want::Submit,
        Want::RunTask,
    ];

    /// The word for it in JSON, recordings and the line a child process sends its parent.
    pub fn name(self) -> &'static str {
        match self {
            Want::Unlock => "unlock",
            Want::Release => "release",
            Want::Set => "set",
            Want::Arrive => "arrive",
            Want::Put => "put",
            Want::Take => "take",
            Want::Notify => "notify",
            Want::TaskDone => "task_done",
            Want::Submit => "submit",
            Want::RunTask => "run_task",
        }
    }

    pub fn from_name(name: &str) -> Option<Want> {
        Want::ALL.into_iter().find(|w| w.name() == name)
    }

    /// What a wait on a resource of `kind` wants, where the step waited in says no more: the
    /// engine reads a queue's join, a put on a full one and an idle pool worker from the step;
    /// a recording written before wants were kept, and a traced program's lock, have only this.
    pub fn of_kind(kind: ResourceKind) -> Want {
        match kind {
            ResourceKind::Mutex | ResourceKind::RLock | ResourceKind::RwLock { .. } => Want::Unlock,
            ResourceKind::Event => Want::Set,
            ResourceKind::Condition { .. } => Want::Notify,
            ResourceKind::Barrier { .. } => Want::Arrive,
            ResourceKind::Buffer { .. } | ResourceKind::MpQueue => Want::Put,
            ResourceKind::Pool => Want::RunTask,
            _ => Want::Release,
        }
    }
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
    /// for what nobody left can provide is a single edge blaming nobody; one that waits for
    /// what a stuck task holds while it awaits tasks is a single edge blaming that holder (the
    /// chain closes through the await, which waits on no resource).
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
                verb = t!(provide_verb(self.want), locale = l)
            )
            .into_owned(),
            Blame::OnlyFrom(u) => only_from_words(l, s, self, u),
            Blame::Nobody => nobody_words(l, s, self),
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
fn only_from_words(l: &str, s: &Scenario, e: &WaitEdge, u: ThreadIdx) -> String {
    t!(
        "classroom.deadlock.only_from",
        locale = l,
        who = s.thread_name(e.thread),
        res = s.resource_name(e.resource),
        by = s.thread_name(u),
        verb = t!(provide_verb(e.want), locale = l)
    )
    .into_owned()
}

/// "C waits for q, which no thread left can fill".
fn nobody_words(l: &str, s: &Scenario, e: &WaitEdge) -> String {
    let key = match e.want {
        Want::Arrive => "classroom.deadlock.nobody.reach",
        Want::Unlock => "classroom.deadlock.nobody.unlock",
        Want::Release => "classroom.deadlock.nobody.release",
        _ => "classroom.deadlock.nobody.provide",
    };
    t!(
        key,
        locale = l,
        who = s.thread_name(e.thread),
        res = s.resource_name(e.resource),
        verb = t!(provide_verb(e.want), locale = l)
    )
    .into_owned()
}

/// The message key of what a provider would do to end a wait that wants `want`.
fn provide_verb(want: Want) -> &'static str {
    match want {
        Want::Set => "classroom.deadlock.verb.set",
        Want::Notify => "classroom.deadlock.verb.notify",
        Want::Arrive => "classroom.deadlock.verb.reach",
        Want::Take => "classroom.deadlock.verb.make_room",
        Want::Put => "classroom.deadlock.verb.fill",
        Want::TaskDone => "classroom.deadlock.verb.task_done",
        Want::Submit => "classroom.deadlock.verb.submit",
        Want::RunTask => "classroom.deadlock.verb.run_task",
        Want::Release => "classroom.deadlock.verb.release",
        Want::Unlock => "classroom.deadlock.verb.unlock",
    }
}

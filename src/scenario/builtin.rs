//! The built-in lessons, embedded so the binary runs from any directory.

/// What a lesson is about, for grouping the menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Mutual exclusion and what goes wrong with it: deadlock, livelock, reentrancy, races,
    /// starvation, rwlocks.
    Locks,
    /// Threads waiting for each other: semaphores, events, barriers, queues.
    Coordination,
    /// Python's global interpreter lock.
    Gil,
    /// Tasks on an event loop: concurrency without threads.
    Async,
}

impl Topic {
    /// Every topic, in menu order.
    pub const ALL: [Topic; 4] = [Topic::Locks, Topic::Coordination, Topic::Gil, Topic::Async];

    /// The heading of the topic in the menu.
    pub fn heading(self) -> &'static str {
        match self {
            Topic::Locks => "Locks",
            Topic::Coordination => "Coordination",
            Topic::Gil => "The GIL",
            Topic::Async => "Async: the event loop",
        }
    }
}

/// One built-in scenario: its name (as typed on the command line), its topic and its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub name: &'static str,
    pub topic: Topic,
    pub source: &'static str,
}

/// In teaching order within each topic: each lesson builds on the one before it, and a lesson
/// with a problem comes right before the lesson that fixes it.
static ALL: [Builtin; 22] = [
    Builtin {
        name: "deadlock",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/deadlock.kdl"),
    },
    Builtin {
        name: "fixed-order",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/fixed-order.kdl"),
    },
    Builtin {
        name: "livelock",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/livelock.kdl"),
    },
    Builtin {
        name: "try-lock",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/try-lock.kdl"),
    },
    Builtin {
        name: "reentrant",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/reentrant.kdl"),
    },
    Builtin {
        name: "reentrant-rlock",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/reentrant-rlock.kdl"),
    },
    Builtin {
        name: "philosophers",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/philosophers.kdl"),
    },
    Builtin {
        name: "philosophers-ordered",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/philosophers-ordered.kdl"),
    },
    Builtin {
        name: "race",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/race.kdl"),
    },
    Builtin {
        name: "race-fixed",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/race-fixed.kdl"),
    },
    Builtin {
        name: "writer-starvation",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/writer-starvation.kdl"),
    },
    Builtin {
        name: "rwlock",
        topic: Topic::Locks,
        source: include_str!("../../scenarios/rwlock.kdl"),
    },
    Builtin {
        name: "semaphore",
        topic: Topic::Coordination,
        source: include_str!("../../scenarios/semaphore.kdl"),
    },
    Builtin {
        name: "event",
        topic: Topic::Coordination,
        source: include_str!("../../scenarios/event.kdl"),
    },
    Builtin {
        name: "barrier",
        topic: Topic::Coordination,
        source: include_str!("../../scenarios/barrier.kdl"),
    },
    Builtin {
        name: "producer-consumer",
        topic: Topic::Coordination,
        source: include_str!("../../scenarios/producer-consumer.kdl"),
    },
    Builtin {
        name: "pipeline",
        topic: Topic::Coordination,
        source: include_str!("../../scenarios/pipeline.kdl"),
    },
    Builtin {
        name: "pool",
        topic: Topic::Coordination,
        source: include_str!("../../scenarios/pool.kdl"),
    },
    Builtin {
        name: "gil",
        topic: Topic::Gil,
        source: include_str!("../../scenarios/gil.kdl"),
    },
    Builtin {
        name: "gil-convoy",
        topic: Topic::Gil,
        source: include_str!("../../scenarios/gil-convoy.kdl"),
    },
    Builtin {
        name: "event-loop",
        topic: Topic::Async,
        source: include_str!("../../scenarios/event-loop.kdl"),
    },
    Builtin {
        name: "event-loop-blocking",
        topic: Topic::Async,
        source: include_str!("../../scenarios/event-loop-blocking.kdl"),
    },
];

/// Every built-in scenario, in teaching order (grouped by topic).
pub fn all() -> &'static [Builtin] {
    &ALL
}

/// The built-in scenario with this name, if there is one.
pub fn find(name: &str) -> Option<&'static Builtin> {
    ALL.iter().find(|b| b.name == name)
}

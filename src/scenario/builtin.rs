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

impl Builtin {
    /// The title in the language shown now.
    pub fn shown_title(&self) -> &'static str {
        match (crate::i18n::current(), self.title_zh) {
            (crate::i18n::Lang::Zh, Some(zh)) => zh,
            _ => self.title,
        }
    }
}

impl Topic {
    /// Every topic, in menu order.
    pub const ALL: [Topic; 4] = [Topic::Locks, Topic::Coordination, Topic::Gil, Topic::Async];

    /// The message naming the topic: its heading in the menu.
    pub fn key(self) -> &'static str {
        match self {
            Topic::Locks => "topic.locks",
            Topic::Coordination => "topic.coordination",
            Topic::Gil => "topic.gil",
            Topic::Async => "topic.async",
        }
    }
}

/// One built-in scenario: its name (as typed on the command line), its topic, its title and its
/// source (`scenarios/NAME.kdl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub name: &'static str,
    pub topic: Topic,
    /// Read at build time, so listing the lessons parses none of them.
    pub title: &'static str,
    /// The title for a Chinese classroom, read the same way.
    pub title_zh: Option<&'static str>,
    pub source: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/builtin_titles.rs"));

macro_rules! lesson {
    ($name:tt, $topic:ident) => {
        Builtin {
            name: $name,
            topic: Topic::$topic,
            title: title!($name).0,
            title_zh: title!($name).1,
            source: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scenarios/",
                $name,
                ".kdl"
            )),
        }
    };
}

/// In teaching order within each topic: each lesson builds on the one before it, and a lesson
/// with a problem comes right before the lesson that fixes it.
static ALL: [Builtin; 37] = [
    lesson!("deadlock", Locks),
    lesson!("fixed-order", Locks),
    lesson!("livelock", Locks),
    lesson!("try-lock", Locks),
    lesson!("reentrant", Locks),
    lesson!("reentrant-rlock", Locks),
    lesson!("philosophers", Locks),
    lesson!("philosophers-ordered", Locks),
    lesson!("race", Locks),
    lesson!("race-fixed", Locks),
    lesson!("writer-starvation", Locks),
    lesson!("rwlock", Locks),
    lesson!("semaphore", Coordination),
    lesson!("event", Coordination),
    lesson!("barrier", Coordination),
    lesson!("producer-consumer", Coordination),
    lesson!("pipeline", Coordination),
    lesson!("pool", Coordination),
    lesson!("condition", Coordination),
    lesson!("condition-if", Coordination),
    lesson!("lost-wakeup", Coordination),
    lesson!("notify-all", Coordination),
    lesson!("event-timeout", Coordination),
    lesson!("daemon", Coordination),
    lesson!("queue-join", Coordination),
    lesson!("futures", Coordination),
    lesson!("gil", Gil),
    lesson!("gil-convoy", Gil),
    lesson!("processes", Gil),
    lesson!("process-pool", Gil),
    lesson!("event-loop", Async),
    lesson!("event-loop-blocking", Async),
    lesson!("async-semaphore", Async),
    lesson!("async-queue", Async),
    lesson!("gather-vs-wait", Async),
    lesson!("to-thread", Async),
    lesson!("c10k", Async),
];

/// Every built-in scenario, in teaching order (grouped by topic).
pub fn all() -> &'static [Builtin] {
    &ALL
}

/// The built-in scenario with this name, if there is one.
pub fn find(name: &str) -> Option<&'static Builtin> {
    ALL.iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The titles listed without parsing are the titles the parser reads.
    #[test]
    fn every_listed_title_is_the_parsed_title() {
        for b in all() {
            let parsed = crate::scenario::parse_source(b.name, b.name, b.source)
                .unwrap_or_else(|e| panic!("{} does not parse: {e:?}", b.name));
            assert_eq!(b.title, parsed.title, "listed title of {}", b.name);
            assert_eq!(
                b.title_zh,
                parsed.title_zh.as_deref(),
                "listed Chinese title of {}",
                b.name
            );
        }
    }
}

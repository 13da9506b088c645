//! The built-in lessons, embedded so the binary runs from any directory.

/// One built-in scenario: its name (as typed on the command line) and its KDL source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub name: &'static str,
    pub source: &'static str,
}

/// In teaching order: each lesson builds on the one before it.
static ALL: [Builtin; 7] = [
    Builtin {
        name: "deadlock",
        source: include_str!("../../scenarios/deadlock.kdl"),
    },
    Builtin {
        name: "fixed-order",
        source: include_str!("../../scenarios/fixed-order.kdl"),
    },
    Builtin {
        name: "semaphore",
        source: include_str!("../../scenarios/semaphore.kdl"),
    },
    Builtin {
        name: "barrier",
        source: include_str!("../../scenarios/barrier.kdl"),
    },
    Builtin {
        name: "producer-consumer",
        source: include_str!("../../scenarios/producer-consumer.kdl"),
    },
    Builtin {
        name: "gil",
        source: include_str!("../../scenarios/gil.kdl"),
    },
    Builtin {
        name: "gil-convoy",
        source: include_str!("../../scenarios/gil-convoy.kdl"),
    },
];

/// Every built-in scenario, in teaching order.
pub fn all() -> &'static [Builtin] {
    &ALL
}

/// The built-in scenario with this name, if there is one.
pub fn find(name: &str) -> Option<&'static Builtin> {
    ALL.iter().find(|b| b.name == name)
}

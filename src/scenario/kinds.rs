//! The one table of resource kinds: for each, the keyword that declares it, the attributes it
//! takes, the steps that work on it and the words used about it. The parser reads declarations
//! and steps from it, hints and diagnostics take their examples from it, and the documentation
//! test holds docs/scenarios.md to it, so a new kind is one row here plus its meaning.

use std::time::Duration;

use super::model::{Op, ResIdx};

/// One row of [`KINDS`].
#[derive(Debug)]
pub struct Kind {
    /// The keyword that declares it: `mutex A`.
    pub keyword: &'static str,
    /// How prose calls it ("GIL", "event loop").
    pub noun: &'static str,
    /// Its properties, such as `permits=`.
    pub attributes: &'static [&'static str],
    /// A declaration to show in help texts.
    pub example: &'static str,
    /// What follows the name when a help text suggests declaring one (` permits=2`).
    pub suggest: &'static str,
    /// The name it gets when the declaration gives none (`gil`, `event-loop`), if it may be
    /// left out.
    pub default_name: Option<&'static str>,
    /// The steps that work on it.
    pub steps: &'static [&'static str],
    /// The step that takes or waits for it, suggested for a step that does not fit.
    pub take: Option<&'static str>,
    /// The step that gives it back or signals it.
    pub give: Option<&'static str>,
    /// The step that takes it alone, where taking it shared is the other way (an rwlock's
    /// `write`), suggested for steps that change something.
    pub exclusive: Option<&'static str>,
    /// Why no step works on it, for kinds without steps; `{name}` is the resource's name.
    pub stepless: &'static str,
}

const MUTEX: Kind = Kind {
    keyword: "mutex",
    noun: "mutex",
    attributes: &[],
    example: "mutex A",
    suggest: "",
    default_name: None,
    steps: &["lock", "unlock"],
    take: Some("lock"),
    give: Some("unlock"),
    exclusive: None,
    stepless: "",
};

/// Every resource kind, in the order help texts list them. Where two kinds share a step
/// (`wait`), the first is the one suggested for it.
pub const KINDS: &[Kind] = &[
    MUTEX,
    Kind {
        keyword: "semaphore",
        noun: "semaphore",
        attributes: &["permits"],
        example: "semaphore pool permits=3",
        suggest: " permits=2",
        default_name: None,
        steps: &["acquire", "release"],
        take: Some("acquire"),
        give: Some("release"),
        exclusive: None,
        stepless: "",
    },
    Kind {
        keyword: "barrier",
        noun: "barrier",
        attributes: &["parties"],
        example: "barrier gate parties=3",
        suggest: " parties=2",
        default_name: None,
        steps: &["wait"],
        take: Some("wait"),
        give: Some("wait"),
        exclusive: None,
        stepless: "",
    },
    Kind {
        keyword: "buffer",
        noun: "buffer",
        attributes: &["capacity"],
        example: "buffer queue capacity=3",
        suggest: " capacity=3",
        default_name: None,
        steps: &["put", "take", "task-done", "join"],
        take: Some("take"),
        give: Some("put"),
        exclusive: None,
        stepless: "",
    },
    Kind {
        keyword: "gil",
        noun: "GIL",
        attributes: &["interval"],
        example: "gil py interval=\"5ms\"",
        suggest: " interval=\"5ms\"",
        default_name: Some("gil"),
        steps: &[],
        take: None,
        give: None,
        exclusive: None,
        stepless: "threads do not take a GIL by hand: write gil={name} on the thread, and its `work` steps run under the GIL",
    },
    // Written like a mutex; only what it does differs.
    Kind {
        keyword: "rlock",
        noun: "rlock",
        example: "rlock R",
        ..MUTEX
    },
    Kind {
        keyword: "event",
        noun: "event",
        attributes: &[],
        example: "event ready",
        suggest: "",
        default_name: None,
        steps: &["wait", "set", "clear"],
        take: Some("wait"),
        give: Some("set"),
        exclusive: None,
        stepless: "",
    },
    Kind {
        keyword: "rwlock",
        noun: "rwlock",
        attributes: &["prefer"],
        example: "rwlock table",
        suggest: "",
        default_name: None,
        steps: &["read", "write", "unlock"],
        take: Some("read"),
        give: Some("unlock"),
        exclusive: Some("write"),
        stepless: "",
    },
    Kind {
        keyword: "counter",
        noun: "counter",
        attributes: &[],
        example: "counter hits",
        suggest: "",
        default_name: None,
        steps: &["increment"],
        take: Some("increment"),
        give: Some("increment"),
        exclusive: None,
        stepless: "",
    },
    Kind {
        keyword: "event-loop",
        noun: "event loop",
        attributes: &[],
        example: "event-loop main",
        suggest: "",
        default_name: Some("loop"),
        steps: &[],
        take: None,
        give: None,
        exclusive: None,
        stepless: "nothing steps on the event loop itself: declare `task`s, and they run on {name}",
    },
    Kind {
        keyword: "condition",
        noun: "condition",
        attributes: &["lock"],
        example: "condition ready lock=L",
        suggest: " lock=L",
        default_name: None,
        steps: &["wait", "notify", "notify-all"],
        take: Some("wait"),
        give: Some("notify"),
        exclusive: None,
        stepless: "",
    },
    Kind {
        keyword: "list",
        noun: "list",
        attributes: &[],
        example: "list items",
        suggest: "",
        default_name: None,
        steps: &["append", "pop"],
        take: Some("pop"),
        give: Some("append"),
        exclusive: None,
        stepless: "",
    },
    Kind {
        keyword: "pool",
        noun: "pool",
        attributes: &[],
        example: "pool ex",
        suggest: "",
        default_name: None,
        steps: &[
            "submit",
            "run-next",
            "result",
            "as-completed",
            "map",
            "shutdown",
        ],
        take: Some("run-next"),
        give: Some("submit"),
        exclusive: None,
        stepless: "",
    },
    Kind {
        keyword: "mp-queue",
        noun: "multiprocessing queue",
        attributes: &[],
        example: "mp-queue tasks",
        suggest: "",
        default_name: None,
        steps: &["put", "take"],
        take: Some("take"),
        give: Some("put"),
        exclusive: None,
        stepless: "",
    },
    // asyncio's own primitives: written like the threading ones, used only by tasks, and
    // awaited, so the loop runs other tasks while one waits.
    Kind {
        keyword: "async-semaphore",
        noun: "asyncio semaphore",
        attributes: &["permits"],
        example: "async-semaphore limit permits=3",
        suggest: " permits=2",
        default_name: None,
        steps: &["acquire", "release"],
        take: Some("acquire"),
        give: Some("release"),
        exclusive: None,
        stepless: "",
    },
    Kind {
        keyword: "async-lock",
        noun: "asyncio lock",
        example: "async-lock L",
        ..MUTEX
    },
    Kind {
        keyword: "async-event",
        noun: "asyncio event",
        attributes: &[],
        example: "async-event ready",
        suggest: "",
        default_name: None,
        steps: &["wait", "set", "clear"],
        take: Some("wait"),
        give: Some("set"),
        exclusive: None,
        stepless: "",
    },
    Kind {
        keyword: "async-queue",
        noun: "asyncio queue",
        attributes: &["capacity"],
        example: "async-queue q capacity=3",
        suggest: " capacity=3",
        default_name: None,
        steps: &["put", "take", "task-done", "join"],
        take: Some("take"),
        give: Some("put"),
        exclusive: None,
        stepless: "",
    },
];

/// Steps that give something back or signal, as against taking or waiting.
const GIVING: &[&str] = &[
    "unlock",
    "release",
    "put",
    "set",
    "clear",
    "notify",
    "notify-all",
    "append",
    "task-done",
    "submit",
    "shutdown",
];
/// Steps that change something, which an rwlock answers with `write`.
const CHANGING: &[&str] = &["write", "put", "set", "increment"];

/// The row of the kind declared by `keyword`.
pub fn by_keyword(keyword: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.keyword == keyword)
}

/// The keyword of the threading kind an asyncio kind behaves like (`async-semaphore` →
/// `semaphore`), or the keyword itself.
pub fn threading(keyword: &str) -> &str {
    keyword.strip_prefix("async-").map_or(keyword, |k| match k {
        "lock" => "mutex",
        "queue" => "buffer",
        other => other,
    })
}

/// What the reader's language calls a resource of the kind `keyword` declares ("semaphore",
/// "信号量"). Every keyword has its words in every language (`tests/i18n.rs` holds the message
/// files to this table), so no keyword stands in for them on a screen.
pub fn word(keyword: &str) -> String {
    crate::i18n::text(&format!("replay_truth.kind.{keyword}"))
}

/// Every keyword that declares a resource.
pub fn keywords() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|k| k.keyword)
}

/// Every step that works on some resource, each once, in table order.
pub fn resource_steps() -> Vec<&'static str> {
    let mut steps: Vec<&'static str> = Vec::new();
    for step in KINDS.iter().flat_map(|k| k.steps.iter().copied()) {
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    steps
}

/// The kind a step is suggested for when its resource is not declared: the first that has it.
pub fn for_step(step: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.steps.contains(&step))
}

impl Kind {
    /// The step that fits this kind where `step` was written, if any step works on it.
    pub fn fitting(&self, step: &str) -> Option<&'static str> {
        if let Some(exclusive) = self.exclusive
            && CHANGING.contains(&step)
        {
            return Some(exclusive);
        }
        if GIVING.contains(&step) {
            self.give
        } else {
            self.take
        }
    }

    /// Why no step works on it, naming the resource.
    pub fn stepless(&self, name: &str) -> String {
        self.stepless.replace("{name}", name)
    }
}

/// "a" or "an" before a kind's name.
pub fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U'])
        || matches!(noun, "rlock" | "rwlock")
    {
        "an"
    } else {
        "a"
    }
}

/// The step `step` on resource `r`, if that step exists; whether it fits the resource's kind is
/// [`Kind::steps`]' to say.
pub fn op(step: &str, r: ResIdx) -> Option<Op> {
    Some(match step {
        "lock" => Op::Lock(r),
        "unlock" => Op::Unlock(r),
        "acquire" => Op::Acquire(r),
        "release" => Op::Release(r),
        "wait" => Op::Wait(r),
        "set" => Op::Set(r),
        "clear" => Op::Clear(r),
        "read" => Op::Read(r),
        "write" => Op::Write(r),
        "increment" => Op::Increment(r),
        "put" => Op::Put(r),
        "take" => Op::Take(r),
        "notify" => Op::Notify(r),
        "notify-all" => Op::NotifyAll(r),
        "append" => Op::Append(r),
        "pop" => Op::Pop(r),
        "task-done" => Op::TaskDone(r),
        "join" => Op::Join(r),
        "run-next" => Op::RunNext(r),
        "as-completed" => Op::AsCompleted(r),
        "map" => Op::Map(r),
        "shutdown" => Op::Shutdown(r),
        // Placeholders the parser fills in from the step's attributes.
        "submit" => Op::Submit {
            pool: r,
            work: Duration::ZERO,
            raises: None,
        },
        "result" => Op::Result {
            pool: r,
            task: 0,
            timeout: None,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCS: &str = include_str!("../../docs/scenarios.md");

    /// The language reference names every kind, its attributes and its steps, in a table row.
    #[test]
    fn the_language_reference_documents_every_kind_and_step() {
        let rows: Vec<&str> = DOCS.lines().filter(|l| l.starts_with('|')).collect();
        for kind in KINDS {
            let row = rows
                .iter()
                .find(|r| r.starts_with(&format!("| `{}", kind.keyword)))
                .unwrap_or_else(|| panic!("docs/scenarios.md has no row for `{}`", kind.keyword));
            for attribute in kind.attributes {
                assert!(row.contains(attribute), "`{attribute}` undocumented: {row}");
            }
            for step in kind.steps {
                assert!(
                    rows.iter().any(|r| r.starts_with(&format!("| `{step} "))
                        || r.contains(&format!("/ `{step} "))),
                    "step `{step}` of `{}` has no row",
                    kind.keyword
                );
            }
        }
    }

    #[test]
    fn every_step_of_a_kind_is_a_step() {
        for kind in KINDS {
            for step in kind.steps {
                assert!(op(step, 0).is_some(), "`{step}` makes no step");
            }
            for step in [kind.take, kind.give, kind.exclusive].into_iter().flatten() {
                assert!(
                    kind.steps.contains(&step),
                    "`{step}` is not a step of {}",
                    kind.keyword
                );
            }
            assert_eq!(
                kind.steps.is_empty(),
                !kind.stepless.is_empty(),
                "{}",
                kind.keyword
            );
        }
    }
}

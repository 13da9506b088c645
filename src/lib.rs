//! threadlab: a terminal lab for teaching concurrency.
//!
//! One direction of flow: `scenario` (KDL → model) → `engine` (real threads, conductor,
//! primitives) → `trace` (timelines, summaries, exports) → `ui` / `headless`. What they say
//! to each other (events, thread states, deadlocks, outcomes, recordings) is `vocab`, which
//! sits below the engine and every reader of a run.
//! The engine knows nothing of the UI; the UI knows nothing of how a primitive works.

pub mod cells;
pub mod children;
pub mod cmd;
pub mod console;
pub mod engine;
pub mod error;
pub mod files;
pub mod headless;
pub mod i18n;
pub mod scenario;
pub mod session;
pub mod trace;
pub mod ui;
pub mod vocab;
pub mod watch;

// The messages of every language, compiled in from locales/; English fills any gap.
rust_i18n::i18n!("locales", fallback = "en");

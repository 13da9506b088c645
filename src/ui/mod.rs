//! The live terminal UI: a menu of scenarios and a run view that draws every thread's state as
//! it happens, with pause, step, history and restart.
//!
//! `app` holds the state and changes it, `view` draws it, `keys` is the one key table,
//! `theme` the one theme, `terminal` takes the terminal over and gives it back, and `live` is
//! the event loop that ties them to a running engine.

pub mod app;
pub mod keys;
pub mod layout;
mod live;
pub mod terminal;
pub mod theme;
pub mod view;
mod watching;

pub use live::{
    FILES_GROUP, menu_entries, menu_entries_from, replay, run_menu, run_scenario,
    run_scenario_recording, run_trace,
};

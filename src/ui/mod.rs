//! The live terminal UI: a menu of scenarios and a run view that draws every thread's state as
//! it happens, with pause, step, history and restart.
//!
//! `app` holds the state and changes it, `view` draws it, `keys` is the one key table,
//! `theme` the one theme, `terminal` takes the terminal over and gives it back, and `runner` is
//! the loop that ties them to a running engine (its `Driver`) and to the keyboard.

pub mod app;
mod edits;
pub mod fold;
pub mod keys;
pub mod layout;
pub mod pair;
mod runner;
pub mod terminal;
pub mod theme;
pub mod view;
mod watching;

pub use runner::{
    FILES_GROUP, menu_entries, menu_entries_from, replay, run_compare, run_menu, run_scenario,
    run_scenario_recording, run_trace,
};

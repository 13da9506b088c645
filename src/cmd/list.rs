//! `threadlab list`: the built-in scenarios and their titles.

use crate::console::outln;
use crate::scenario;
use crate::vocab::outcome::Exit;

pub fn run() -> Exit {
    // Titles are read at build time: listing parses nothing.
    for b in scenario::builtin::all() {
        outln(&format!("{:<20} {}", b.name, b.shown_title()));
    }
    Exit::Success
}

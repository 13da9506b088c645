//! `threadlab list`: the built-in scenarios and their titles.

use crate::console::outln;
use crate::scenario;
use crate::vocab::outcome::Exit;

pub fn run() -> Exit {
    for b in scenario::builtin::all() {
        match scenario::load(b.name) {
            Ok(s) => outln(&format!("{:<20} {}", b.name, s.title)),
            Err(e) => outln(&format!("{:<20} (broken: {e})", b.name)),
        }
    }
    Exit::Success
}

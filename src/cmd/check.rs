//! `threadlab check FILE...`: each scenario file (or built-in lesson) read and checked as a run
//! would read it.

use std::path::PathBuf;

use crate::vocab::outcome::Exit;

pub fn run(files: &[PathBuf]) -> Exit {
    if files_ok(files) {
        Exit::Success
    } else {
        Exit::Usage
    }
}

/// Checks every file, saying "ok" on stdout or the diagnostic on stderr for each; whether all
/// were good.
pub fn files_ok(paths: &[PathBuf]) -> bool {
    let mut all_ok = true;
    for path in paths {
        // A name is resolved as `run` resolves it: a built-in lesson first, then a file.
        let loaded = match path.to_str() {
            Some(arg) => crate::scenario::load(arg),
            None => crate::scenario::load_file(path),
        };
        match loaded {
            Ok(s) => crate::console::outln(&rust_i18n::t!(
                "classroom.check.ok",
                path = path.display(),
                title = s.shown_title()
            )),
            Err(report) => {
                all_ok = false;
                crate::console::errln(&crate::scenario::render_for_terminal(report.as_ref()));
            }
        }
    }
    all_ok
}

//! `threadlab check FILE...`: each scenario file read and checked as a run would read it.

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
        match crate::scenario::load_file(path) {
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

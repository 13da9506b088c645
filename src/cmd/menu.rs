//! `threadlab` with no command: the scenario menu, which needs a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::console::errln;
use crate::vocab::outcome::Exit;

pub fn run(files: &[PathBuf], ascii: bool) -> Exit {
    if !std::io::stdout().is_terminal() {
        errln(
            "threadlab's menu needs a terminal. Without one, run a scenario headless:\n  \
             threadlab run deadlock --headless\n(`threadlab list` shows the scenarios.)",
        );
        return Exit::Usage;
    }
    crate::ui::run_menu(files, ascii)
}

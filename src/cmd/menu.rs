//! `threadlab` with no command: the scenario menu, which needs a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::error::Error;
use crate::ui::theme::Theme;
use crate::vocab::outcome::Exit;

pub fn run(files: &[PathBuf], theme: Theme) -> Result<Exit, Error> {
    if !std::io::stdout().is_terminal() {
        return Err(
            Error::new("usage::no-terminal", "threadlab's menu needs a terminal").help(
                "without one, run a scenario headless: `threadlab run deadlock --headless` \
             (`threadlab list` shows the scenarios)",
            ),
        );
    }
    crate::ui::run_menu(files, theme)
}

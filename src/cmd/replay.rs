//! `threadlab replay FILE`: a recorded run, scrubbed through in the terminal or printed.

use std::io::IsTerminal;

use super::cli::ReplayArgs;
use crate::error::Error;
use crate::ui::theme::Theme;
use crate::vocab::outcome::Exit;
use crate::vocab::recording::Recording;

/// `threadlab replay FILE [--scenario S] [--headless]`. Headless (or without a terminal) prints the same
/// report the recorded run printed and exits with its outcome's code.
pub fn run(args: &ReplayArgs, theme: Theme) -> Result<Exit, Error> {
    let rec = match &args.scenario {
        Some(name) => {
            let scenario = crate::scenario::load(name)?;
            Recording::from_events(&args.file, &scenario)?
        }
        None => Recording::load(&args.file)?,
    };
    if args.headless || args.json || !std::io::stdout().is_terminal() {
        super::print_report(&rec.report(), args.json, theme.glyphs.ascii)
    } else {
        crate::ui::replay(rec, theme)
    }
}

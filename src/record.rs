use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{ReplayArgs, RunArgs};
use crate::console::errln;
use crate::scenario::model::Scenario;
use crate::vocab::recording::{Recording, RecordingError};

/// `threadlab run SCENARIO --headless --record FILE`: the headless run, printed as usual, then
/// saved. A recording that cannot be written is an error (exit 2): the teacher asked for it.
pub fn run_headless(scenario: Arc<Scenario>, args: &RunArgs, path: &Path, ascii: bool) -> ExitCode {
    let inputs: Vec<&Path> = crate::scenario::input_file(&args.scenario)
        .into_iter()
        .collect();
    // Fail before running, not after, when the file cannot be written at all.
    if let Err(e) = crate::files::create(path, &inputs) {
        errln(
            &RecordingError::new(format!("cannot write the recording: {e}"), e.help()).to_string(),
        );
        return ExitCode::from(2);
    }
    let report = match crate::headless::execute(scenario, args) {
        Ok(report) => report,
        Err(e) => {
            errln(&e.to_string());
            return ExitCode::from(2);
        }
    };
    let saved = Recording::from_report(&report, args.speed).and_then(|rec| rec.save(path, &inputs));
    let code = crate::headless::print(&report, args.json, &print_options(ascii));
    match saved {
        Ok(()) => code,
        Err(e) => {
            errln(&e.to_string());
            ExitCode::from(2)
        }
    }
}

/// `threadlab replay FILE [--headless]`. Headless (or without a terminal) prints the same
/// report the recorded run printed and exits with its outcome's code.
pub fn replay(args: &ReplayArgs, ascii: bool) -> ExitCode {
    let rec = match Recording::load(&args.file) {
        Ok(rec) => rec,
        Err(e) => {
            errln(&e.to_string());
            return ExitCode::from(2);
        }
    };
    if args.headless || args.json || !std::io::stdout().is_terminal() {
        crate::headless::print(&rec.report(), args.json, &print_options(ascii))
    } else {
        crate::ui::replay(rec, ascii)
    }
}

/// A report printed as a headless run prints it.
fn print_options(ascii: bool) -> crate::headless::Options {
    crate::headless::Options {
        ascii,
        ..crate::headless::Options::default()
    }
}

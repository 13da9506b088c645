//! `threadlab run SCENARIO`: a scenario live in the terminal, or headless without one (or with
//! `--headless`), optionally saved as a recording.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use super::cli::{RunArgs, RunCommand};
use crate::console::errln;
use crate::headless;
use crate::scenario::{self, model::Scenario};
use crate::vocab::outcome::Exit;
use crate::vocab::recording::{Recording, RecordingError};

pub fn run(command: RunCommand, ascii: bool) -> Exit {
    let RunCommand {
        args,
        record,
        paused,
        break_on,
        quiz,
    } = command;
    let scenario = match scenario::load(&args.scenario) {
        Ok(s) => Arc::new(s),
        Err(report) => {
            errln(&scenario::render_for_terminal(report.as_ref()));
            return Exit::Usage;
        }
    };
    if let (Some(events), Some(record)) = (&args.events, &record)
        && crate::files::same_file(events, record)
    {
        errln(&format!(
            "error: --events and --record both name `{}`: one would overwrite the other\n  \
             help: give each its own file",
            events.display()
        ));
        return Exit::Usage;
    }
    let headless = args.headless || !std::io::stdout().is_terminal();
    if headless && (quiz || !break_on.is_empty()) {
        let flag = if quiz { "--quiz" } else { "--break-on" };
        errln(&format!(
            "error: {flag} pauses the run for someone to look at, and a headless run has \
             no one to resume it\n  help: leave out --headless to watch it; headless, \
             --schedule steps threads in a chosen order and --for stops at a moment"
        ));
        return Exit::Usage;
    }
    let mut plan = super::plan(&args);
    plan.breaks = break_on;
    plan.quiz = quiz;
    match (headless, record) {
        (true, None) => match headless::execute(scenario, &super::plan(&args)) {
            Ok(report) => super::print_report(&report, args.json, ascii),
            Err(e) => {
                errln(&e.to_string());
                Exit::Usage
            }
        },
        (true, Some(path)) => recorded(scenario, &args, &path, ascii),
        (false, record) => {
            crate::ui::run_scenario_recording(scenario, &plan, ascii, record, paused)
        }
    }
}

/// `threadlab run SCENARIO --headless --record FILE`: the headless run, printed as usual, then
/// saved. A recording that cannot be written is an error (exit 2): the teacher asked for it.
fn recorded(scenario: Arc<Scenario>, args: &RunArgs, path: &Path, ascii: bool) -> Exit {
    let inputs: Vec<&Path> = crate::scenario::input_file(&args.scenario)
        .into_iter()
        .collect();
    // Fail before running, not after, when the file cannot be written at all.
    if let Err(e) = crate::files::create(path, &inputs) {
        errln(
            &RecordingError::new(format!("cannot write the recording: {e}"), e.help()).to_string(),
        );
        return Exit::Usage;
    }
    let report = match headless::execute(scenario, &super::plan(args)) {
        Ok(report) => report,
        Err(e) => {
            errln(&e.to_string());
            return Exit::Usage;
        }
    };
    let saved =
        Recording::from_report(&report, args.pacing.speed).and_then(|rec| rec.save(path, &inputs));
    let code = super::print_report(&report, args.json, ascii);
    match saved {
        Ok(()) => code,
        Err(e) => {
            errln(&e.to_string());
            Exit::Usage
        }
    }
}

//! `threadlab run SCENARIO`: a scenario live in the terminal, or headless without one (or with
//! `--headless`), optionally saved as a recording.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use super::cli::{RunArgs, RunCommand};
use crate::error::Error;
use crate::headless;
use crate::scenario::{self, model::Scenario};
use crate::ui::theme::Theme;
use crate::vocab::outcome::Exit;
use crate::vocab::recording::{Recording, recording_error};

pub fn run(command: RunCommand, theme: Theme) -> Result<Exit, Error> {
    let RunCommand {
        args,
        record,
        paused,
        break_on,
        quiz,
    } = command;
    let scenario = Arc::new(scenario::load(&args.scenario)?);
    if let (Some(events), Some(record)) = (&args.events, &record)
        && crate::files::same_file(events, record)
    {
        return Err(Error::new(
            "usage::same-output",
            rust_i18n::t!("errors.same_output", path = events.display()),
        )
        .help(rust_i18n::t!("errors.same_output_help")));
    }
    let headless = args.headless || !std::io::stdout().is_terminal();
    if headless && (quiz || !break_on.is_empty()) {
        let flag = if quiz { "--quiz" } else { "--break-on" };
        return Err(Error::new(
            "usage::needs-a-person",
            rust_i18n::t!("errors.needs_person", flag = flag),
        )
        .help(rust_i18n::t!("errors.needs_person_help")));
    }
    let mut plan = super::plan(&args);
    plan.breaks = break_on;
    plan.quiz = quiz;
    match (headless, record) {
        (true, None) => {
            let report = headless::execute(scenario, &plan)?;
            super::print_report(&report, args.json, theme.glyphs.ascii)
        }
        (true, Some(path)) => recorded(scenario, &args, &path, theme.glyphs.ascii),
        (false, record) => {
            crate::ui::run_scenario_recording(scenario, &plan, theme, record, paused)
        }
    }
}

/// `threadlab run SCENARIO --headless --record FILE`: the headless run, printed as usual, then
/// saved. A recording that cannot be written is an error (exit 2): the teacher asked for it.
fn recorded(
    scenario: Arc<Scenario>,
    args: &RunArgs,
    path: &Path,
    ascii: bool,
) -> Result<Exit, Error> {
    let inputs: Vec<&Path> = crate::scenario::input_file(&args.scenario)
        .into_iter()
        .collect();
    // Fail before running, not after, when the file cannot be written at all.
    crate::files::create(path, &inputs).map_err(|e| {
        let help = e.help.as_deref().unwrap_or_default();
        recording_error(rust_i18n::t!("errors.write_recording", why = e), help)
    })?;
    let report = headless::execute(scenario, &super::plan(args))?;
    let saved =
        Recording::from_report(&report, args.pacing.speed).and_then(|rec| rec.save(path, &inputs));
    // The report is printed even when the recording could not be saved.
    let ended = super::print_report(&report, args.json, ascii)?;
    saved.map(|()| ended)
}

//! The commands: one file per subcommand, each starting here. A command turns clap's
//! arguments ([`cli`]) into the plain options of the rooms below, runs them, and says how it
//! ended ([`Exit`]); `main` turns that into the process exit code.

pub mod bench;
pub mod check;
pub mod cli;
pub mod completions;
pub mod export;
pub mod list;
pub mod man;
pub mod menu;
pub mod replay;
pub mod run;
pub mod trace;

use crate::console::errln;
use crate::headless::{self, Report, RunPlan};
use crate::vocab::outcome::Exit;
use cli::{Cli, Command, Pacing, RunArgs};

/// Runs the command `cli` names.
pub fn dispatch(cli: Cli) -> Exit {
    let lang = cli.lang.as_deref().and_then(crate::i18n::Lang::from_code);
    crate::i18n::set(lang.unwrap_or_else(crate::i18n::Lang::from_env));
    let ascii = cli.ascii;
    match cli.command {
        // `threadlab script.py [ARGS…]` is `threadlab trace script.py [ARGS…]`.
        None if cli.files.first().is_some_and(|f| trace::is_script(f)) => {
            let mut files = cli.files.into_iter();
            let script = files.next().unwrap_or_default();
            trace::run(
                &cli::TraceArgs::of(script, files.map(Into::into).collect()),
                ascii,
            )
        }
        None => menu::run(&cli.files, ascii),
        Some(Command::List) => list::run(),
        Some(Command::Check { files }) => check::run(&files),
        Some(Command::Run(command)) => run::run(command, ascii),
        Some(Command::Replay(args)) => replay::run(&args, ascii),
        Some(Command::Trace(args)) => trace::run(&args, ascii),
        Some(Command::Export(args)) => export::run(&args),
        Some(Command::Completions { shell }) => completions::run(shell),
        Some(Command::Man) => man::run(),
        Some(Command::Bench {
            what,
            threads,
            work,
            json,
        }) => bench::run(what, threads, work, json),
    }
}

/// The run `args` ask for, as the rooms below take it.
pub fn plan(args: &RunArgs) -> RunPlan {
    plan_of(&args.scenario, &args.pacing, args.events.clone())
}

/// A run of `scenario` paced as the command line says, as the rooms below take it.
pub fn plan_of(scenario: &str, pacing: &Pacing, events: Option<std::path::PathBuf>) -> RunPlan {
    RunPlan {
        scenario: scenario.to_string(),
        for_: pacing.for_,
        schedule: pacing.schedule.clone(),
        speed: pacing.speed,
        events,
    }
}

/// Prints a report to stdout, as text or as the JSON summary; it ends as its run did, or as
/// a usage error if an output it was asked for could not be written.
pub fn print_report(report: &Report, json: bool, ascii: bool) -> Exit {
    for w in &report.warnings {
        errln(&format!("warning: {w}"));
    }
    let out = if json {
        match serde_json::to_string(&report.summary) {
            Ok(json) => json + "\n",
            Err(e) => {
                errln(&format!("error: could not write the summary as JSON: {e}"));
                return Exit::Failed;
            }
        }
    } else {
        headless::render(
            report,
            &headless::Options {
                ascii,
                ..headless::Options::default()
            },
        )
    };
    crate::console::out(&out);
    for e in &report.errors {
        errln(&format!("error: {e}"));
    }
    if report.errors.is_empty() {
        Exit::Run(report.outcome)
    } else {
        Exit::Usage
    }
}

//! The commands: one file per subcommand, each starting here. A command turns clap's
//! arguments ([`cli`]) into the plain options of the rooms below, runs them, and says how it
//! ended ([`Exit`]); `main` turns that into the process exit code.

pub mod bench;
pub mod check;
pub mod cli;
pub mod compare;
pub mod completions;
pub mod export;
pub mod list;
pub mod man;
pub mod menu;
pub mod process_child;
pub mod replay;
pub mod run;
pub mod trace;

use crate::console::errln;
use crate::error::Error;
use crate::headless::{self, Report, RunPlan};
use crate::ui::theme::{Theme, ThemeKind};
use crate::vocab::outcome::Exit;
use cli::{Cli, Command, Pacing, RunArgs};

/// Runs the command `cli` names. A command that refuses says why with a [`crate::error::Error`],
/// printed here; it ends as a usage error, or as a failure if threadlab itself failed.
pub fn dispatch(cli: Cli) -> Exit {
    let lang = cli.lang.as_deref().and_then(crate::i18n::Lang::from_code);
    crate::i18n::set(lang.unwrap_or_else(crate::i18n::Lang::from_env));
    let theme = Theme::chosen(
        cli.theme.as_deref().and_then(ThemeKind::from_name),
        cli.ascii,
    );
    let ended = match cli.command {
        // `threadlab script.py [ARGS…]` is `threadlab trace script.py [ARGS…]`.
        None if cli.files.first().is_some_and(|f| trace::is_script(f)) => {
            let mut files = cli.files.into_iter();
            let script = files.next().unwrap_or_default();
            trace::run(
                &cli::TraceArgs::of(script, files.map(Into::into).collect()),
                theme,
            )
        }
        None => menu::run(&cli.files, theme),
        Some(Command::List) => Ok(list::run()),
        Some(Command::Check { files }) => Ok(check::run(&files)),
        Some(Command::Run(command)) => run::run(command, theme),
        Some(Command::Replay(args)) => replay::run(&args, theme),
        Some(Command::Compare(args)) => compare::run(&args, theme),
        Some(Command::Trace(args)) => trace::run(&args, theme),
        Some(Command::Export(args)) => export::run(&args),
        Some(Command::Completions { shell }) => Ok(completions::run(shell)),
        Some(Command::Man) => man::run(),
        Some(Command::ProcessChild { args }) => Ok(process_child::run(&args)),
        Some(Command::Bench {
            what,
            threads,
            work,
            json,
        }) => bench::run(what, threads, work, json),
    };
    // A report that did not reach stdout (a full disk) is not a success; a reader that went
    // away (`| head`) is not a failure.
    let ended = ended.and_then(|exit| match crate::console::stdout_failed() {
        Some(why) => Err(Error::new(
            "output::stdout",
            format!("cannot write to stdout: {why}"),
        )),
        None => Ok(exit),
    });
    ended.unwrap_or_else(|e| {
        errln(&e.render());
        Exit::from(&e)
    })
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
        breaks: Vec::new(),
        quiz: false,
    }
}

/// Prints a report to stdout, as text or as the JSON summary; it ends as its run did, or as
/// a usage error if an output it was asked for could not be written.
pub fn print_report(report: &Report, json: bool, ascii: bool) -> Result<Exit, Error> {
    for w in &report.warnings {
        errln(&rust_i18n::t!("classroom.warning.line", what = w));
    }
    let out = if json {
        serde_json::to_string(&report.summary).map_err(|e| {
            Error::internal(
                "summary",
                format!("could not write the summary as JSON: {e}"),
            )
        })? + "\n"
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
        errln(&e.render());
    }
    // What the machine could give goes beside the report, which a replay prints unchanged; it
    // is a note on the figures, not on the command, so a command that failed leaves it out.
    if report.errors.is_empty()
        && let Some(note) = report
            .summary
            .machine
            .as_ref()
            .and_then(|m| m.warning_text())
    {
        errln(&format!("note: {note}"));
    }
    Ok(if report.errors.is_empty() {
        Exit::Run(report.outcome)
    } else {
        Exit::Usage
    })
}

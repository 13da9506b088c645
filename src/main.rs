//! threadlab: parse the command line and dispatch.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use clap::CommandFactory;

use threadlab::cli::{BenchWhat, Cli, Command, RunCommand, Shell};
use threadlab::console::{errln, out, outln};
use threadlab::trace::export;
use threadlab::{bench, headless, record, scenario, ui};

/// Exit code for usage and scenario errors.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let code = dispatch(Cli::parse());
    // A report that did not reach stdout (a full disk) is not a success; a reader that went
    // away (`| head`) is not a failure.
    match threadlab::console::stdout_failed() {
        Some(why) => {
            errln(&format!("error: cannot write to stdout: {why}"));
            ExitCode::from(USAGE)
        }
        None => code,
    }
}

fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        None => {
            if !std::io::stdout().is_terminal() {
                errln(
                    "threadlab's menu needs a terminal. Without one, run a scenario headless:\n  \
                     threadlab run deadlock --headless\n(`threadlab list` shows the scenarios.)",
                );
                return ExitCode::from(USAGE);
            }
            ui::run_menu(&cli.files, cli.ascii)
        }
        Some(Command::List) => {
            for b in scenario::builtin::all() {
                outln(&format!("{:<20} {}", b.name, b.title));
            }
            ExitCode::SUCCESS
        }
        Some(Command::Check { files }) => {
            if scenario::check_files(&files) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(USAGE)
            }
        }
        Some(Command::Run(RunCommand {
            args,
            record,
            paused,
        })) => {
            let scenario = match scenario::load(&args.scenario) {
                Ok(s) => Arc::new(s),
                Err(report) => {
                    errln(&scenario::render_for_terminal(report.as_ref()));
                    return ExitCode::from(USAGE);
                }
            };
            if let (Some(events), Some(record)) = (&args.events, &record)
                && threadlab::files::same_file(events, record)
            {
                errln(&format!(
                    "error: --events and --record both name `{}`: one would overwrite the other\n  \
                     help: give each its own file",
                    events.display()
                ));
                return ExitCode::from(USAGE);
            }
            let headless = args.headless || !std::io::stdout().is_terminal();
            match (headless, record) {
                (true, None) => {
                    let options = headless::Options {
                        ascii: cli.ascii,
                        ..Default::default()
                    };
                    headless::run_with(scenario, &args, &options)
                }
                (true, Some(path)) => record::run_headless(scenario, &args, &path, cli.ascii),
                (false, record) => {
                    ui::run_scenario_recording(scenario, &args, cli.ascii, record, paused)
                }
            }
        }
        Some(Command::Replay(args)) => record::replay(&args, cli.ascii),
        Some(Command::Export(args)) => export::run(&args),
        Some(Command::Completions { shell }) => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            let mut cmd = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "threadlab", &mut script);
            out(&String::from_utf8_lossy(&script));
            ExitCode::SUCCESS
        }
        Some(Command::Man) => {
            let man = clap_mangen::Man::new(Cli::command());
            let mut page = Vec::new();
            if let Err(e) = man.render(&mut page) {
                errln(&format!("error: cannot render the man page: {e}"));
                return ExitCode::FAILURE;
            }
            out(&String::from_utf8_lossy(&page));
            ExitCode::SUCCESS
        }
        Some(Command::Bench {
            what: BenchWhat::Gil,
            threads,
            work,
            json,
        }) => {
            let threads = threads.unwrap_or_else(threadlab::trace::gil::cores);
            match bench::gil(threads, work, std::time::Duration::from_millis(5)) {
                Ok(figures) if json => {
                    outln(&serde_json::to_string_pretty(&figures).expect("figures serialize"));
                    ExitCode::SUCCESS
                }
                Ok(figures) => {
                    out(&figures.report());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    errln(&format!("bench failed: {e}"));
                    ExitCode::FAILURE
                }
            }
        }
    }
}

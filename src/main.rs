//! threadlab: parse the command line and dispatch.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use threadlab::cli::{BenchWhat, Cli, Command};
use threadlab::{bench, headless, scenario, ui};

/// Exit code for usage and scenario errors.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => {
            if !std::io::stdout().is_terminal() {
                eprintln!(
                    "threadlab's menu needs a terminal. Without one, run a scenario headless:\n  \
                     threadlab run deadlock --headless\n(`threadlab list` shows the scenarios.)"
                );
                return ExitCode::from(USAGE);
            }
            ui::run_menu(&cli.files, cli.ascii)
        }
        Some(Command::List) => {
            for b in scenario::builtin::all() {
                match scenario::load(b.name) {
                    Ok(s) => println!("{:<20} {}", b.name, s.title),
                    Err(e) => println!("{:<20} (broken: {e})", b.name),
                }
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
        Some(Command::Run(args)) => {
            let scenario = match scenario::load(&args.scenario) {
                Ok(s) => Arc::new(s),
                Err(report) => {
                    eprintln!("{}", scenario::render_for_terminal(report.as_ref()));
                    return ExitCode::from(USAGE);
                }
            };
            if args.headless || !std::io::stdout().is_terminal() {
                let options = headless::Options {
                    ascii: cli.ascii,
                    ..Default::default()
                };
                headless::run_with(scenario, &args, &options)
            } else {
                ui::run_scenario(scenario, &args, cli.ascii)
            }
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
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&figures).expect("figures serialize")
                    );
                    ExitCode::SUCCESS
                }
                Ok(figures) => {
                    print!("{}", figures.report());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("bench failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

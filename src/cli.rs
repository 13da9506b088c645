//! The command line: one clap definition, dispatched from `main.rs`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "threadlab",
    version,
    about = "A terminal lab for teaching concurrency: real threads, real locks, drawn live.",
    after_help = "Run with no command to open the scenario menu.\n\nExamples:\n  threadlab                         open the menu\n  threadlab run deadlock            watch two threads deadlock\n  threadlab run semaphore --headless --json\n  threadlab run deadlock --headless --schedule T1,T2\n  threadlab check my-lesson.kdl     validate a scenario file\n\nExit codes: 0 completed, 1 a thread failed, 2 usage or scenario error, 3 deadlock, 4 timeout."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Scenario files to add to the menu.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Draw with plain ASCII (for terminals without box-drawing or block glyphs).
    #[arg(long, global = true)]
    pub ascii: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the built-in scenarios.
    List,
    /// Run a scenario: in the TUI, or headless when stdout is not a terminal.
    Run(RunArgs),
    /// Validate scenario files; exits 0 when all are valid, 2 otherwise.
    Check {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Measure what a lesson claims on this machine (`bench gil`).
    Bench {
        #[arg(value_enum)]
        what: BenchWhat,
        /// CPU-bound threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// CPU work per thread.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        work: Duration,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchWhat {
    /// The GIL lesson: N threads under the GIL vs free, and the convoy effect.
    Gil,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// A built-in scenario name (see `threadlab list`) or a path to a .kdl file.
    pub scenario: String,
    /// Run without the TUI: print a text timeline and a summary.
    #[arg(long)]
    pub headless: bool,
    /// Stop the run after this much run time (e.g. 5s, 500ms); the outcome is then `timeout`.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub for_: Option<Duration>,
    /// Start paused, step these threads in this order (one step each), then run freely.
    #[arg(long, value_name = "T1,T2,...", value_delimiter = ',')]
    pub schedule: Vec<String>,
    /// Speed, from 0.1 to 4 (stretches every timed step).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Print the summary as one JSON object (headless).
    #[arg(long)]
    pub json: bool,
    /// Write every event as JSON Lines to this file.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
}

/// Durations as scenario files write them: `250ms`, `1.5s`, `2m`, `800us`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::scenario::duration::parse(text)
}

fn parse_speed(text: &str) -> Result<f64, String> {
    let x: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.1..=4.0).contains(&x) {
        Ok(x)
    } else {
        Err(format!("speed must be between 0.1 and 4, not {x}"))
    }
}

//! threadlab: parse the command line, run the command, exit with the code it ended with.

use std::process::ExitCode;

use clap::Parser;

use threadlab::cmd::{self, cli::Cli};

fn main() -> ExitCode {
    ExitCode::from(cmd::dispatch(Cli::parse()).code())
}

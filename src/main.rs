//! threadlab: parse the command line, run the command, exit with the code it ended with.

use std::process::ExitCode;

use threadlab::cmd::{self, cli};

fn main() -> ExitCode {
    ExitCode::from(cmd::dispatch(cli::parse()).code())
}

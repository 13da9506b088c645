//! threadlab: parse the command line, run the command, exit with the code it ended with.

use std::process::ExitCode;

use threadlab::cmd::{self, cli};
use threadlab::console::errln;
use threadlab::vocab::Exit;

fn main() -> ExitCode {
    let exit = cmd::dispatch(cli::parse());
    // A report that did not reach stdout (a full disk) is not a success; a reader that went
    // away (`| head`) is not a failure.
    let exit = match threadlab::console::stdout_failed() {
        Some(why) => {
            errln(&format!("error: cannot write to stdout: {why}"));
            Exit::Usage
        }
        None => exit,
    };
    ExitCode::from(exit.code())
}

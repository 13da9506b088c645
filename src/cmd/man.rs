//! `threadlab man`: the man page, rendered from the command line's own definition.

use clap::CommandFactory;

use super::cli::Cli;
use crate::console::{errln, out};
use crate::vocab::outcome::Exit;

pub fn run() -> Exit {
    let man = clap_mangen::Man::new(Cli::command());
    let mut page = Vec::new();
    if let Err(e) = man.render(&mut page) {
        errln(&format!("error: cannot render the man page: {e}"));
        return Exit::Failed;
    }
    out(&String::from_utf8_lossy(&page));
    Exit::Success
}

//! `threadlab man`: the man page, rendered from the command line's own definition.

use clap::CommandFactory;

use super::cli::Cli;
use crate::console::out;
use crate::error::Error;
use crate::vocab::outcome::Exit;

pub fn run() -> Result<Exit, Error> {
    let man = clap_mangen::Man::new(Cli::command());
    let mut page = Vec::new();
    man.render(&mut page)
        .map_err(|e| Error::internal("man", format!("cannot render the man page: {e}")))?;
    out(&String::from_utf8_lossy(&page));
    Ok(Exit::Success)
}

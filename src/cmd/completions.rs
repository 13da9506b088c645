//! `threadlab completions SHELL`: a completion script for bash, zsh or fish.

use clap::CommandFactory;

use super::cli::{Cli, Shell};
use crate::console::out;
use crate::vocab::outcome::Exit;

pub fn run(shell: Shell) -> Exit {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "threadlab", &mut script);
    out(&String::from_utf8_lossy(&script));
    Exit::Success
}

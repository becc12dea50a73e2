//! `overseer`: run a stack of processes from a config file, in the foreground or as a daemon,
//! on the overseer supervision tree.

mod api;
mod cli;
mod client;
mod config;
mod daemon;
mod jobs;
mod paths;
mod printer;
mod tree;
mod up;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { file } => cli::check(file.as_deref()),
        Command::Up {
            file,
            detach: true,
            listen,
            http,
            reap,
            ..
        } => daemon::start(file.as_deref(), cli.socket.as_deref(), listen, http, reap),
        Command::Up {
            file,
            color,
            http,
            reap,
            ..
        } => match cli::become_init(reap) {
            Ok(()) => up::run(file.as_deref(), printer::use_colour(color), http),
            Err(e) => cli::fail(e),
        },
        Command::Client(command) => client::run(command, cli.socket.as_deref()),
        Command::Jobs(args) => jobs::run(args),
        Command::Completions { shell } => cli::completions(shell),
    }
}

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use portreuse::{app, cli::Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = app::run(&cli, &mut out).and_then(|status| {
        out.flush()?;
        Ok(status)
    });
    match result {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) if app::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Not eprintln!: an unwritable stderr must not turn exit 2 into a panic.
            app::say(&format!("{err:#}"));
            ExitCode::from(2)
        }
    }
}

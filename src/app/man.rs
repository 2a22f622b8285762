//! `portreuse man`: the manual page (roff), with the sections man pages have (issue 11):
//! NAME, SYNOPSIS, DESCRIPTION and OPTIONS from the clap definition (so they cannot drift
//! from --help), then COMMANDS, EXIT STATUS, ENVIRONMENT, EXAMPLES (each command on one
//! line, never filled) and SEE ALSO naming only pages that Wireshark and tcpdump install.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_mangen::Man;

use crate::cli::{Cli, EXAMPLE_LIST, EXIT_STATUS};

/// Roff text: backslashes, hyphens (so they stay hyphens, for copy and search) and a
/// leading dot or quote (which would start a request) escaped.
fn roff(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with(['.', '\'']) {
        format!("\\&{text}")
    } else {
        text
    }
}

pub fn render(out: &mut dyn Write) -> io::Result<()> {
    let man = Man::new(Cli::command()).manual("User Commands");
    man.render_title(out)?;
    man.render_name_section(out)?;
    writeln!(out, ".SH SYNOPSIS")?;
    writeln!(
        out,
        ".B portreuse\n[\\fIOPTIONS\\fR] \\fICAPTURE\\fR...\n.br\n.B portreuse completions\n\\fISHELL\\fR\n.br\n.B portreuse man"
    )?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    writeln!(out, ".SH COMMANDS")?;
    let commands = [
        (
            "\\fBcompletions\\fR \\fISHELL\\fR",
            "Print a completion script for bash, zsh, fish, elvish or powershell:",
            "portreuse completions bash > /etc/bash_completion.d/portreuse",
        ),
        (
            "\\fBman\\fR",
            "Print this manual page:",
            "portreuse man | man -l -",
        ),
    ];
    for (name, what, example) in commands {
        writeln!(out, ".TP\n{name}\n{}", roff(what))?;
        example_block(out, example)?;
    }
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for (code, meaning) in EXIT_STATUS {
        writeln!(out, ".TP\n.B {code}\n{}", roff(meaning))?;
    }
    writeln!(out, ".SH ENVIRONMENT")?;
    writeln!(
        out,
        ".TP\n.B NO_COLOR\nWhen set to a non\\-empty value, no colour with \\fB\\-\\-color auto\\fR."
    )?;
    writeln!(
        out,
        ".TP\n.B TERM\n\\fBdumb\\fR: no colour with \\fB\\-\\-color auto\\fR, and no progress line."
    )?;
    writeln!(
        out,
        ".TP\n.B COLUMNS\nThe width \\fB\\-\\-help\\fR is wrapped to (at most 100)."
    )?;
    writeln!(out, ".SH EXAMPLES")?;
    for (command, what) in EXAMPLE_LIST {
        writeln!(out, ".PP\n{}", roff(what))?;
        example_block(out, command)?;
    }
    writeln!(out, ".SH \"SEE ALSO\"")?;
    writeln!(
        out,
        ".BR tshark (1),\n.BR wireshark\\-filter (4),\n.BR tcpdump (8)"
    )?;
    man.render_version_section(out)?;
    Ok(())
}

/// A command as typed: one line, indented, never filled or hyphenated (.nf).
fn example_block(out: &mut dyn Write, command: &str) -> io::Result<()> {
    writeln!(out, ".IP\n.RS 4\n.nf\n{}\n.fi\n.RE", roff(command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_escapes_what_would_be_requests_or_break_copying() {
        assert_eq!(roff("--each"), "\\-\\-each");
        assert_eq!(roff(".hidden"), "\\&.hidden");
        assert_eq!(roff("a\\b"), "a\\eb");
    }
}

//! The one error type: why a command could not do what it was asked. Every room that can
//! refuse (a file, a scenario, a recording, a run's options) says so with an [`Error`]; the
//! command layer prints it with [`Error::render`] and ends with the usage exit code (or, for
//! a failure of threadlab itself, the failure code), in one place (`cmd::dispatch`).
//!
//! An error is a miette diagnostic: a message, a stable code, a `help:` hint and, when the
//! mistake is inside a file, the diagnostic that quotes it at file:line:column.

use std::fmt;
use std::io::IsTerminal;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan};

/// What went wrong, and what to do about it.
#[derive(Debug)]
pub struct Error {
    /// A stable identifier of the kind of error, such as `file::too-big`; `diagnostic` for one
    /// that quotes a file, whose own code (`scenario::unknown-step`) miette shows.
    pub code: &'static str,
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
    /// A failure of threadlab itself (exit 1), rather than of how it was asked (exit 2).
    pub internal: bool,
    /// The diagnostic that points into a file (a scenario's problems), when there is one.
    quoted: Option<miette::Report>,
}

impl Error {
    /// An error of the kind `code` (such as `file::too-big`) saying `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            help: None,
            internal: false,
            quoted: None,
        }
    }

    /// Something threadlab itself could not do (render its man page, measure a benchmark).
    pub fn internal(code: &'static str, message: impl Into<String>) -> Error {
        Error {
            internal: true,
            ..Error::new(code, message)
        }
    }

    /// The same error with a `help:` line.
    pub fn help(mut self, help: impl Into<String>) -> Error {
        self.help = Some(help.into());
        self
    }

    /// The same error with its message led by `context` ("lesson.json: …").
    pub fn within(mut self, context: impl fmt::Display) -> Error {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The text for stderr: a diagnostic that quotes a file is drawn as miette draws it (see
    /// [`render_for_terminal`]); any other error as an `error:` line and its `help:` line.
    pub fn render(&self) -> String {
        if let Some(quoted) = &self.quoted {
            return render_for_terminal(quoted.as_ref());
        }
        let error = rust_i18n::t!("errors.error");
        match &self.help {
            Some(help) => format!(
                "{error}: {}\n  {}: {help}",
                self.message,
                rust_i18n::t!("errors.help")
            ),
            None => format!("{error}: {}", self.message),
        }
    }
}

impl From<miette::Report> for Error {
    fn from(report: miette::Report) -> Error {
        let code = "diagnostic";
        let message = report.to_string();
        let help = report.help().map(|h| h.to_string());
        Error {
            code,
            message,
            help,
            internal: false,
            quoted: Some(report),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Two errors are the same when they say the same thing, whichever room made them.
impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        (self.code, &self.message, &self.help) == (other.code, &other.message, &other.help)
    }
}

impl Diagnostic for Error {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match &self.quoted {
            Some(quoted) => quoted.code(),
            None => Some(Box::new(self.code)),
        }
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.quoted.as_ref().and_then(|q| q.labels())
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.quoted.as_ref().and_then(|q| q.source_code())
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.quoted.as_ref().and_then(|q| q.related())
    }
}

/// Renders a diagnostic for stderr: colour and Unicode on a terminal, monochrome when
/// `NO_COLOR` is set, plain ASCII when stderr is not a terminal.
pub fn render_for_terminal(diagnostic: &dyn Diagnostic) -> String {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = if !std::io::stderr().is_terminal() {
        GraphicalTheme::none()
    } else if no_color {
        GraphicalTheme::unicode_nocolor()
    } else {
        GraphicalTheme::unicode()
    };
    render_with(
        GraphicalReportHandler::new_themed(theme).with_width(100),
        diagnostic,
    )
}

/// A diagnostic on one line, for a notice: `file:3:5: message (help)`.
pub fn one_line(diagnostic: &dyn Diagnostic) -> String {
    let at = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .and_then(|label| {
            let source = diagnostic.source_code()?;
            let span = source.read_span(label.inner(), 0, 0).ok()?;
            let name = span.name().map(|n| format!("{n}:")).unwrap_or_default();
            Some(format!("{name}{}:{}: ", span.line() + 1, span.column() + 1))
        })
        .unwrap_or_default();
    let help = diagnostic
        .help()
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    format!("{at}{diagnostic}{help}")
}

/// Renders a diagnostic in plain ASCII without colour at a fixed width: stable text for
/// snapshots, logs and anywhere escape codes would be noise.
pub fn render_plain(diagnostic: &dyn Diagnostic, width: usize) -> String {
    render_with(
        GraphicalReportHandler::new_themed(GraphicalTheme::none()).with_width(width),
        diagnostic,
    )
}

fn render_with(handler: GraphicalReportHandler, diagnostic: &dyn Diagnostic) -> String {
    let handler = handler.with_links(false).without_syntax_highlighting();
    let mut out = String::new();
    if handler.render_report(&mut out, diagnostic).is_ok() {
        return in_reader_words(out);
    }
    // miette gives up on a span it cannot read; the message and help still say what is wrong.
    let error = rust_i18n::t!("errors.error");
    let mut out = format!("{error}: {diagnostic}\n");
    if let Some(help) = diagnostic.help() {
        out.push_str(&format!("  {}: {help}\n", rust_i18n::t!("errors.help")));
    }
    if let Some(related) = diagnostic.related() {
        for r in related {
            out.push_str(&format!("{error}: {r}\n"));
        }
    }
    out
}

/// miette writes its labels, `help:` and the `Error:` before each further mistake, in
/// English; a reader of another language reads them in theirs (each begins a line, `help:`
/// after the report's indent).
fn in_reader_words(report: String) -> String {
    let help = rust_i18n::t!("errors.help");
    if help == "help" {
        return report;
    }
    let error = rust_i18n::t!("errors.error");
    report
        .lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            if let Some(rest) = line.strip_prefix("Error: ") {
                return format!("{error}: {rest}");
            }
            match line[indent..].strip_prefix("help: ") {
                Some(rest) => format!("{}{help}: {rest}", &line[..indent]),
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if report.ends_with('\n') { "\n" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_error_reads_as_an_error_line_and_a_help_line() {
        let e = Error::new("usage", "no such thing").help("try another");
        assert_eq!(e.render(), "error: no such thing\n  help: try another");
        assert_eq!(e.within("a.json").to_string(), "a.json: no such thing");
        assert_eq!(Error::new("usage", "bare").render(), "error: bare");
    }

    #[test]
    fn a_quoted_diagnostic_keeps_its_code_and_help() {
        let report = miette::miette!(code = "scenario::x", help = "fix it", "broken");
        let e = Error::from(report);
        assert_eq!(e.to_string(), "broken");
        assert_eq!(e.help.as_deref(), Some("fix it"));
        assert_eq!(
            Diagnostic::code(&e).map(|c| c.to_string()).as_deref(),
            Some("scenario::x")
        );
        assert!(render_plain(&e, 80).contains("broken"));
    }
}

//! Exports of a finished run: Trace Event Format JSON for Perfetto and chrome://tracing, and an
//! SVG picture of the timeline for slides. Both read a [`Recording`](crate::record::Recording),
//! so a live run, a headless run and a replayed file export the same way.

pub mod chrome;
pub mod svg;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{ExportArgs, ExportFormat, RunArgs};
use crate::record::{self, Recording};

/// Where an export's run comes from: a recording file as it is, or a scenario run headless now.
pub fn input(args: &ExportArgs) -> Result<Recording, String> {
    let path = Path::new(&args.input);
    if record::looks_like_recording(path) {
        return Recording::load(path).map_err(|e| e.to_string());
    }
    let scenario = crate::scenario::load(&args.input)
        .map(Arc::new)
        .map_err(|report| crate::scenario::render_for_terminal(report.as_ref()))?;
    let run = RunArgs {
        scenario: args.input.clone(),
        headless: true,
        for_: args.for_,
        schedule: args.schedule.clone(),
        speed: args.speed,
        json: false,
        events: None,
    };
    let report = crate::headless::execute(scenario, &run).map_err(|e| e.to_string())?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    Recording::from_report(&report, args.speed).map_err(|e| e.to_string())
}

/// `threadlab export INPUT --format chrome|svg -o FILE`. Exit 0 when written, 2 for a bad
/// input or an unwritable file.
pub fn run(args: &ExportArgs) -> ExitCode {
    let rec = match input(args) {
        Ok(rec) => rec,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let text = match args.format {
        ExportFormat::Chrome => chrome::to_string(&rec) + "\n",
        ExportFormat::Svg => svg::render(&rec),
    };
    let written = if args.output.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
    } else {
        std::fs::write(&args.output, text)
    };
    match written {
        Ok(()) => {
            if args.output.as_os_str() != "-" {
                eprintln!(
                    "wrote {} ({} events, {})",
                    args.output.display(),
                    rec.events.len(),
                    match args.format {
                        ExportFormat::Chrome => "open it in https://ui.perfetto.dev",
                        ExportFormat::Svg => "an SVG picture",
                    }
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: cannot write {}: {e}\n  help: give -o a path in a directory you can write to",
                args.output.display()
            );
            ExitCode::from(2)
        }
    }
}

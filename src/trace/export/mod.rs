//! Exports of a finished run: Trace Event Format JSON for Perfetto and chrome://tracing, and an
//! SVG picture of the timeline for slides. Both read a [`Recording`](crate::vocab::recording::Recording),
//! so a live run, a headless run and a replayed file export the same way.

pub mod chrome;
pub mod svg;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{ExportArgs, ExportFormat, RunArgs};
use crate::console::errln;
use crate::vocab::recording::{self, Recording};

/// Where an export's run comes from: a recording file as it is, or a scenario run headless now.
pub fn input(args: &ExportArgs) -> Result<Recording, String> {
    let path = Path::new(&args.input);
    if recording::looks_like_recording(path) {
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
        errln(&format!("warning: {w}"));
    }
    Recording::from_report(&report, args.speed).map_err(|e| e.to_string())
}

/// `threadlab export INPUT --format chrome|svg -o FILE`. Exit 0 when written, 2 for a bad
/// input or an output that cannot be written (or would overwrite the input).
pub fn run(args: &ExportArgs) -> ExitCode {
    let to_stdout = args.output.as_os_str() == "-";
    let inputs: Vec<&Path> = crate::scenario::input_file(&args.input)
        .filter(|p| p.exists())
        .into_iter()
        .collect();
    // Checked before the run too, so a mistaken -o costs nothing; nothing is truncated yet.
    if let Some(input) = inputs
        .iter()
        .find(|i| !to_stdout && crate::files::same_file(&args.output, i))
    {
        let e = crate::files::FileError::WouldOverwrite {
            output: args.output.clone(),
            input: input.to_path_buf(),
        };
        errln(&format!("error: {e}\n  help: {}", e.help()));
        return ExitCode::from(2);
    }
    let rec = match self::input(args) {
        Ok(rec) => rec,
        Err(e) => {
            errln(&e);
            return ExitCode::from(2);
        }
    };
    let text = match args.format {
        ExportFormat::Chrome => chrome::to_string(&rec) + "\n",
        ExportFormat::Svg => svg::render(&rec),
    };
    if to_stdout {
        // A reader that goes away ends the output quietly; main reports any other failure.
        crate::console::out(&text);
        return ExitCode::SUCCESS;
    }
    let written = crate::files::create(&args.output, &inputs).and_then(|file| {
        let mut out = std::io::BufWriter::new(file);
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| crate::files::FileError::Io(args.output.clone(), e))
    });
    match written {
        Ok(()) => {
            errln(&format!(
                "wrote {} ({} events, {})",
                args.output.display(),
                rec.events.len(),
                match args.format {
                    ExportFormat::Chrome => "open it in https://ui.perfetto.dev",
                    ExportFormat::Svg => "an SVG picture",
                }
            ));
            ExitCode::SUCCESS
        }
        Err(e) => {
            errln(&format!(
                "error: cannot write the export: {e}\n  help: {}",
                e.help()
            ));
            ExitCode::from(2)
        }
    }
}

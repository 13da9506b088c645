//! `threadlab export INPUT --format chrome|svg|python -o FILE`: a recording, or a scenario run
//! headless now, written as a Perfetto trace or an SVG picture; or a scenario written as its
//! Python twin, without running it.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::cli::{ExportArgs, ExportFormat};
use crate::console::errln;
use crate::headless;
use crate::trace::export::{chrome, python, svg};
use crate::vocab::outcome::Exit;
use crate::vocab::recording::{self, Recording};

/// Where an export's run comes from: a recording file as it is, or a scenario run headless now.
pub fn input(args: &ExportArgs) -> Result<Recording, String> {
    let path = Path::new(&args.input);
    if recording::looks_like_recording(path) {
        return Recording::load(path).map_err(|e| e.to_string());
    }
    if super::trace::is_script(path) {
        return super::trace::recording(path, args.pacing.for_);
    }
    let scenario = crate::scenario::load(&args.input)
        .map(Arc::new)
        .map_err(|report| crate::scenario::render_for_terminal(report.as_ref()))?;
    let run = super::plan_of(&args.input, &args.pacing, None);
    let report = headless::execute(scenario, &run).map_err(|e| e.to_string())?;
    for w in &report.warnings {
        errln(&format!("warning: {w}"));
    }
    Recording::from_report(&report, args.pacing.speed).map_err(|e| e.to_string())
}

/// The scenario as its Python twin, and how many lanes it has. A recording will not do: the
/// twin is the script, not one run of it.
fn python_twin(args: &ExportArgs) -> Result<(String, String), String> {
    if super::trace::is_script(Path::new(&args.input)) {
        return Err(format!(
            "error: {} is a Python program already; the twin is written from a scenario\n  help: `--format chrome` or `--format svg` draw its traced run",
            args.input
        ));
    }
    if recording::looks_like_recording(Path::new(&args.input)) {
        return Err(format!(
            "error: {} is a recording; the Python twin is written from a scenario\n  help: give the lesson's name or its .kdl file",
            args.input
        ));
    }
    let scenario = crate::scenario::load(&args.input)
        .map_err(|report| crate::scenario::render_for_terminal(report.as_ref()))?;
    let lanes = scenario.threads.len();
    Ok((
        python::render(&scenario),
        format!("{lanes} threads and tasks"),
    ))
}

/// `threadlab export INPUT --format chrome|svg -o FILE`. Exit 0 when written, 2 for a bad
/// input or an output that cannot be written (or would overwrite the input).
pub fn run(args: &ExportArgs) -> Exit {
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
        return Exit::Usage;
    }
    let exported = match args.format {
        ExportFormat::Python => python_twin(args),
        _ => self::input(args).map(|rec| {
            let text = match args.format {
                ExportFormat::Svg => svg::render(&rec),
                _ => chrome::to_string(&rec) + "\n",
            };
            (text, format!("{} events", rec.events.len()))
        }),
    };
    let (text, what) = match exported {
        Ok(done) => done,
        Err(e) => {
            errln(&e);
            return Exit::Usage;
        }
    };
    if to_stdout {
        // A reader that goes away ends the output quietly; main reports any other failure.
        crate::console::out(&text);
        return Exit::Success;
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
                "wrote {} ({what}, {})",
                args.output.display(),
                match args.format {
                    ExportFormat::Chrome => "open it in https://ui.perfetto.dev",
                    ExportFormat::Svg => "an SVG picture",
                    ExportFormat::Python => "run it with python3",
                }
            ));
            Exit::Success
        }
        Err(e) => {
            errln(&format!(
                "error: cannot write the export: {e}\n  help: {}",
                e.help()
            ));
            Exit::Usage
        }
    }
}

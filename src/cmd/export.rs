//! `threadlab export INPUT --format chrome|svg|python -o FILE`: a recording, or a scenario run
//! headless now, written as a Perfetto trace or an SVG picture; or a scenario written as its
//! Python twin, without running it.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::cli::{ExportArgs, ExportFormat};
use crate::console::errln;
use crate::error::Error;
use crate::headless;
use crate::trace::export::{chrome, python, svg};
use crate::vocab::outcome::Exit;
use crate::vocab::recording::{self, Recording};

/// Where an export's run comes from: a recording file as it is, or a scenario run headless now.
pub fn input(args: &ExportArgs) -> Result<Recording, Error> {
    let path = Path::new(&args.input);
    if recording::looks_like_recording(path) {
        return Recording::load(path);
    }
    if super::trace::is_script(path) {
        return super::trace::recording(path, args.pacing.for_);
    }
    let scenario = Arc::new(crate::scenario::load(&args.input)?);
    let run = super::plan_of(&args.input, &args.pacing, None);
    let report = headless::execute(scenario, &run)?;
    for w in &report.warnings {
        errln(&rust_i18n::t!("classroom.warning.line", what = w));
    }
    Recording::from_report(&report, args.pacing.speed)
}

/// The scenario as its Python twin, and how many lanes it has. A recording will not do: the
/// twin is the script, not one run of it.
fn python_twin(args: &ExportArgs) -> Result<(String, String), Error> {
    if super::trace::is_script(Path::new(&args.input)) {
        return Err(Error::new(
            "export::no-twin",
            format!(
                "{} is a Python program already; the twin is written from a scenario",
                args.input
            ),
        )
        .help("`--format chrome` or `--format svg` draw its traced run"));
    }
    if recording::looks_like_recording(Path::new(&args.input)) {
        return Err(Error::new(
            "export::not-a-scenario",
            format!(
                "{} is a recording; the Python twin is written from a scenario",
                args.input
            ),
        )
        .help("give the lesson's name or its .kdl file"));
    }
    let scenario = crate::scenario::load(&args.input)?;
    if let Some(why) = python::unsupported(&scenario) {
        return Err(Error::new("export::no-twin", why)
            .help("export it as a picture instead: --format svg or --format chrome"));
    }
    let lanes = scenario.threads.len();
    Ok((
        python::render(&scenario),
        rust_i18n::t!("classroom.export.lanes", count = lanes).into_owned(),
    ))
}

/// `threadlab export INPUT --format chrome|svg -o FILE`. Exit 0 when written, 2 for a bad
/// input or an output that cannot be written (or would overwrite the input).
pub fn run(args: &ExportArgs) -> Result<Exit, Error> {
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
        return Err(crate::files::would_overwrite(&args.output, input));
    }
    let exported = match args.format {
        ExportFormat::Python => python_twin(args),
        _ => self::input(args).map(|rec| {
            let text = match args.format {
                ExportFormat::Svg => svg::render(&rec),
                _ => chrome::to_string(&rec) + "\n",
            };
            let events = rust_i18n::t!("classroom.export.events", count = rec.events.len());
            (text, events.into_owned())
        }),
    };
    let (text, what) = exported?;
    if to_stdout {
        // A reader that goes away ends the output quietly; main reports any other failure.
        crate::console::out(&text);
        return Ok(Exit::Success);
    }
    let written = crate::files::create(&args.output, &inputs).and_then(|file| {
        let mut out = std::io::BufWriter::new(file);
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| crate::files::io_failed(&args.output, e))
    });
    written.map_err(|e| e.within(rust_i18n::t!("errors.write_export")))?;
    let next = match args.format {
        ExportFormat::Chrome => rust_i18n::t!("classroom.export.chrome"),
        ExportFormat::Svg => rust_i18n::t!("classroom.export.svg"),
        ExportFormat::Python => rust_i18n::t!("classroom.export.python"),
    };
    errln(&rust_i18n::t!(
        "classroom.export.wrote",
        path = args.output.display(),
        what = what,
        next = next
    ));
    Ok(Exit::Success)
}

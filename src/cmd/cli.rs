//! The command line: one clap definition. Only the commands (`cmd/`) see these types; they
//! hand the rooms below plain options.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::i18n::{self, Lang};

#[derive(Debug, Parser)]
#[command(
    name = "threadlab",
    version,
    about = "A terminal lab for teaching concurrency: real threads, real locks, drawn live.",
    after_help = "Run with no command to open the scenario menu.\n\nExamples:\n  threadlab                         open the menu\n  threadlab run deadlock            watch two threads deadlock\n  threadlab run semaphore --headless --json\n  threadlab run deadlock --paused   open the run paused at 0s; space lets it go\n  threadlab run deadlock --headless --schedule T1,T2\n  threadlab check my-lesson.kdl     validate a scenario file\n  threadlab run deadlock --headless --record deadlock.json\n  threadlab replay deadlock.json    scrub through a recorded run\n  threadlab trace my_threads.py     watch a real Python program's threads; pause and step it\n  threadlab export deadlock --format chrome -o deadlock.trace.json   open in ui.perfetto.dev\n  threadlab export deadlock.json --format svg -o deadlock.svg        a picture for a slide\n  threadlab export deadlock --format python -o deadlock.py           the same lesson in Python\n  threadlab completions bash > ~/.local/share/bash-completion/completions/threadlab\n\nNO_COLOR=1 turns colour off everywhere.\n\nExit codes: 0 completed, 1 a thread failed (or an internal error), 2 usage, scenario or recording error, 3 deadlock, 4 timeout; a signal gives 128+N."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Scenario files to add to the menu; a Python script (`.py`) first is traced instead,
    /// the rest being its arguments (`threadlab trace`).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Draw with plain ASCII (for terminals without box-drawing or block glyphs).
    #[arg(long, global = true)]
    pub ascii: bool,
    /// The language people read: zh (简体中文) or en. Default: from LC_ALL, LC_MESSAGES or
    /// LANG (zh… means Chinese). Machine-readable output is the same in both.
    #[arg(long, global = true, value_name = "LANG",
          value_parser = clap::builder::PossibleValuesParser::new(crate::i18n::Lang::CODES))]
    pub lang: Option<String>,
    /// The colours of the terminal views: dark (for a dark terminal), light (its own white
    /// page, for a light terminal or a projector) or mono (no colour). Default: mono when
    /// NO_COLOR is set, else dark; `t` cycles them while a run is on screen.
    #[arg(long, global = true, value_name = "NAME",
          value_parser = clap::builder::PossibleValuesParser::new(
              crate::ui::theme::ThemeKind::ALL.map(crate::ui::theme::ThemeKind::name)))]
    pub theme: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the built-in scenarios.
    List,
    /// Run a scenario: in the TUI, or headless when stdout is not a terminal.
    Run(RunCommand),
    /// Validate scenario files; exits 0 when all are valid, 2 otherwise.
    Check {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Replay a recorded run: in the TUI (play, pause, step event by event, scrub), or headless.
    Replay(ReplayArgs),
    /// Run two scenarios at once, one above the other on one time axis, driven together by
    /// the same keys; headless, print both outcomes side by side.
    Compare(CompareArgs),
    /// Watch a real Python program: run SCRIPT with python3 under threadlab's tracer and draw
    /// its threads, locks, queues and tasks as a run; headless like `run`.
    Trace(TraceArgs),
    /// Export a run (a scenario, run headless, or a recording) for Perfetto or as an SVG, or a
    /// scenario as the Python program it stands for.
    Export(ExportArgs),
    /// Print a shell completion script (bash, zsh or fish) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff) to stdout: `threadlab man > threadlab.1`.
    Man,
    /// One process of a scenario's `process` blocks, started by threadlab itself: not for
    /// people to type.
    #[command(name = "process-child", hide = true)]
    ProcessChild {
        #[arg(num_args = 0.., allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Measure what a lesson claims on this machine (`bench gil`).
    Bench {
        #[arg(value_enum)]
        what: BenchWhat,
        /// CPU-bound threads (default: one per core).
        #[arg(long, allow_hyphen_values = true, value_parser = parse_bench_threads)]
        threads: Option<usize>,
        /// CPU work per thread.
        #[arg(long, default_value = "1s", allow_hyphen_values = true, value_parser = parse_duration)]
        work: Duration,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Trace Event Format JSON for Perfetto (ui.perfetto.dev) and chrome://tracing.
    Chrome,
    /// The timeline as an SVG picture (lanes, patterns, time axis, legend).
    Svg,
    /// The scenario as a Python program (standard library only) that runs it on CPython.
    Python,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// A built-in scenario, a .kdl file (run headless first), a recording (`run --record`) or
    /// a Python script (traced first, as `threadlab trace` runs it).
    #[arg(value_name = "SCENARIO|RECORDING")]
    pub input: String,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Where to write it; `-` for stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// How a scenario is run first (a recording is exported as it was).
    #[command(flatten)]
    pub pacing: Pacing,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// A recording made with `threadlab run SCENARIO --record FILE`.
    #[arg(value_name = "RECORDING")]
    pub file: PathBuf,
    /// Print the text timeline and summary instead of opening the TUI.
    #[arg(long)]
    pub headless: bool,
    /// With --headless: print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Read FILE as an events file of this scenario (`run --events`, or a Python twin's
    /// `--events`): a CPython run of a lesson's twin, drawn in threadlab's lanes.
    #[arg(long, value_name = "SCENARIO")]
    pub scenario: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchWhat {
    /// The GIL lesson: N threads under the GIL vs free, and the convoy effect.
    Gil,
    /// Every lesson in threadlab and as its Python twin under python3: times and outcomes.
    Fidelity,
    /// What `threadlab trace` adds to a Python Lock acquire/release (needs python3).
    TraceOverhead,
}

/// How long a run may go, which threads step first, and how fast: the same flags for `run`
/// and for `export` of a scenario.
#[derive(Debug, Clone, Args)]
pub struct Pacing {
    /// Stop the run after this much run time (e.g. 5s, 500ms); the outcome is then `timeout`.
    #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true, value_parser = parse_duration)]
    pub for_: Option<Duration>,
    /// Start paused, step these threads in this order (one step each), then run freely.
    #[arg(long, value_name = "T1,T2,...", value_delimiter = ',')]
    pub schedule: Vec<String>,
    /// Speed, from 0.1 to 4 (stretches every timed step).
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true, value_parser = parse_speed)]
    pub speed: f64,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// A built-in scenario name (see `threadlab list`) or a path to a .kdl file.
    pub scenario: String,
    /// Run without the TUI: print a text timeline and a summary.
    #[arg(long)]
    pub headless: bool,
    #[command(flatten)]
    pub pacing: Pacing,
    /// Print the summary as one JSON object (headless).
    #[arg(long)]
    pub json: bool,
    /// Write every event as JSON Lines to this file.
    #[arg(long, value_name = "FILE", value_parser = parse_written_path)]
    pub events: Option<PathBuf>,
}

/// `run`: the run itself, and where to save it.
#[derive(Debug, Clone, Args)]
pub struct RunCommand {
    #[command(flatten)]
    pub args: RunArgs,
    /// Save the run (scenario source and every event) to replay with `threadlab replay FILE`.
    #[arg(long, value_name = "FILE", value_parser = parse_written_path)]
    pub record: Option<PathBuf>,
    /// TUI: start paused at 0s, before any thread takes a step; nothing moves until space or
    /// a step key. Headless runs have no one to press space, so there it changes nothing
    /// (`--schedule` already starts paused and steps the threads it names first).
    #[arg(long)]
    pub paused: bool,
    /// TUI: pause when this happens (repeatable): `T2` (thread T2 changes state),
    /// `T2:block` (T2 blocks; also run, sleep, acquire, release, put, take, pass, set, done,
    /// ...), `B` (resource B changes hands), `line:12` (a thread reaches line 12).
    #[arg(long = "break-on", value_name = "WHAT")]
    pub break_on: Vec<String>,
    /// TUI: predict, then reveal. The run pauses before each hand-over with several waiters
    /// (who gets the lock next?), the class guesses with 1-9, space shows what happened; the
    /// header keeps the score.
    #[arg(long)]
    pub quiz: bool,
}

/// `compare`: two runs, shown and driven together.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The run drawn on top: a built-in scenario name or a path to a .kdl file.
    pub first: String,
    /// The run drawn below it, on the same time axis.
    pub second: String,
    /// Run both without the TUI, one after the other, and print their outcomes side by side
    /// (exit 0 once both are reported, whatever they were).
    #[arg(long)]
    pub headless: bool,
    /// Print both summaries as one JSON object, `{"runs": [FIRST, SECOND]}` (headless).
    #[arg(long)]
    pub json: bool,
    /// Speed, from 0.1 to 4 (stretches every timed step).
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true, value_parser = parse_speed)]
    pub speed: f64,
    /// TUI: start both paused at 0s, before any thread takes a step; nothing moves until
    /// space or a step key.
    #[arg(long)]
    pub paused: bool,
}

/// `trace`: a real Python program and what to do with its run.
#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// The Python script, run as `python3 SCRIPT ARGS...` would run it.
    #[arg(value_name = "SCRIPT")]
    pub script: PathBuf,
    /// Arguments for the script.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<std::ffi::OsString>,
    /// Run without the TUI: the script's output passes through, then the timeline and summary.
    #[arg(long)]
    pub headless: bool,
    /// Stop the program after this long (e.g. 5s); the outcome is then `timeout` (exit 4).
    #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true, value_parser = parse_duration)]
    pub for_: Option<Duration>,
    /// Print the summary as one JSON object (headless); the script's output goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// Write every event as JSON Lines to this file.
    #[arg(long, value_name = "FILE", value_parser = parse_written_path)]
    pub events: Option<PathBuf>,
    /// Write the script's own output (stdout and stderr) to this file.
    #[arg(long, value_name = "FILE", value_parser = parse_written_path)]
    pub output: Option<PathBuf>,
    /// TUI: start with every thread held at its first traced operation; space lets it go.
    /// Headless there is nobody to let it go, so there it changes nothing.
    #[arg(long)]
    pub paused: bool,
    /// Save the run (as shown when the view closes, or headless when it ends) as a recording
    /// for `threadlab replay FILE` and `threadlab export FILE`.
    #[arg(long, value_name = "FILE", value_parser = parse_written_path)]
    pub record: Option<PathBuf>,
}

impl TraceArgs {
    /// `trace SCRIPT ARGS…` with every option left as it is by default.
    pub fn of(script: PathBuf, args: Vec<std::ffi::OsString>) -> TraceArgs {
        TraceArgs {
            script,
            args,
            headless: false,
            for_: None,
            json: false,
            events: None,
            output: None,
            paused: false,
            record: None,
        }
    }
}

/// Durations as scenario files write them: `250ms`, `1.5s`, `2m`, `800us`; never zero, as in
/// scenario files (a run of no time shows nothing).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let unsigned = text.trim_start().strip_prefix('-');
    if unsigned.is_some_and(|x| x.starts_with(|c: char| c.is_ascii_digit() || c == '.')) {
        return Err(rust_i18n::t!("abuse.negative_duration", text = text.trim()).into_owned());
    }
    match crate::scenario::duration::parse(text)? {
        d if d.is_zero() => Err(format!(
            "{}",
            rust_i18n::t!("classroom.cli.refused.zero", text = text.trim())
        )),
        d => Ok(d),
    }
}

pub fn parse_speed(text: &str) -> Result<f64, String> {
    let x: f64 = text.parse().map_err(|_| {
        rust_i18n::t!("classroom.cli.refused.not_a_number", text = text).into_owned()
    })?;
    if (0.1..=4.0).contains(&x) {
        Ok(x)
    } else {
        // The text as typed: `1e-300` printed as a float is three hundred zeros.
        Err(rust_i18n::t!("classroom.cli.refused.speed", x = text.trim()).into_owned())
    }
}

/// `bench --threads N`: at least one thread, and no more than a run may have.
pub fn parse_bench_threads(text: &str) -> Result<usize, String> {
    let max = crate::scenario::model::MAX_THREADS;
    match text.trim().parse::<i128>() {
        Ok(n) if (1..=max as i128).contains(&n) => Ok(n as usize),
        Ok(_) => {
            Err(rust_i18n::t!("abuse.bench_threads", text = text.trim(), max = max).into_owned())
        }
        Err(_) => {
            Err(rust_i18n::t!("classroom.cli.refused.not_a_number", text = text).into_owned())
        }
    }
}

/// A file threadlab writes (`--events`, `--record`, `--output`): a name, never `-`, which
/// would put a second stream on the stdout the report already takes.
pub fn parse_written_path(text: &str) -> Result<PathBuf, String> {
    if text == "-" {
        return Err(rust_i18n::t!("abuse.dash_output").into_owned());
    }
    Ok(PathBuf::from(text))
}

/// The command line as typed, read in the language it asks for: `--lang` if given, else the
/// environment's. The language is chosen before parsing so that `--help` and the usage
/// reads in it.
pub fn parse() -> Cli {
    let lang = lang_asked(std::env::args()).unwrap_or_else(Lang::from_env);
    i18n::set(lang);
    let matches = in_language(Cli::command(), lang)
        .try_get_matches()
        .unwrap_or_else(|e| refused(e, lang));
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| refused(e, lang))
}

/// clap's own refusal of a command line, in the reader's language: clap writes it in English,
/// so its fixed phrases are put in `lang`'s words (names, values and usage stay as typed).
/// Help and version requests go out as clap writes them.
fn refused(e: clap::Error, lang: Lang) -> ! {
    use clap::error::ErrorKind;
    if lang == Lang::En || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit()
    }
    let mut text = e.render().to_string();
    for (english, key) in [
        (
            "error: unexpected argument ",
            "classroom.cli.refused.unexpected",
        ),
        ("' found", "classroom.cli.refused.found"),
        (
            "error: unrecognized subcommand ",
            "classroom.cli.refused.subcommand",
        ),
        (
            "error: the following required arguments were not provided:",
            "classroom.cli.refused.missing",
        ),
        ("error: invalid value ", "classroom.cli.refused.invalid"),
        (
            "error: a value is required for ",
            "classroom.cli.refused.needs_value",
        ),
        ("error: the argument ", "classroom.cli.refused.argument"),
        ("error: ", "classroom.cli.refused.error"),
        (
            " but none was supplied",
            "classroom.cli.refused.none_supplied",
        ),
        (
            " cannot be used with ",
            "classroom.cli.refused.cannot_be_used_with",
        ),
        ("For more information, try ", "classroom.cli.refused.more"),
        ("  tip: ", "classroom.cli.refused.tip"),
        ("to pass ", "classroom.cli.refused.to_pass"),
        (" as a value, use ", "classroom.cli.refused.as_a_value"),
        ("' for '", "classroom.cli.refused.for_arg"),
        ("Usage: ", "classroom.cli.refused.usage"),
        ("[possible values: ", "screen2.cli.possible_values"),
    ] {
        text = text.replace(english, &i18n::text(key));
    }
    crate::console::errln(text.trim_end());
    std::process::exit(e.exit_code())
}

/// The `--lang` an argument list asks for, before clap has read it.
pub fn lang_asked(args: impl IntoIterator<Item = String>) -> Option<Lang> {
    let mut args = args.into_iter().take_while(|a| a != "--");
    while let Some(arg) = args.next() {
        let code = match arg.strip_prefix("--lang") {
            Some("") => args.next(),
            Some(rest) => rest.strip_prefix('=').map(str::to_string),
            None => continue,
        };
        return code.as_deref().and_then(Lang::from_code);
    }
    None
}

/// The command line with every text a person reads in `lang`. English is the doc comments
/// above as clap reads them (`locales/en.yml` holds the same words under `classroom.cli`, and
/// a test keeps the two equal); other languages take each text from the message files, keyed
/// `classroom.cli.COMMAND.ARG` or, for an argument that means the same everywhere,
/// `classroom.cli.any.ARG`.
pub fn in_language(mut cmd: clap::Command, lang: Lang) -> clap::Command {
    if lang == Lang::En {
        return cmd;
    }
    // Built first, so the help and version flags, the `help` command and the global
    // arguments of every command exist to be translated.
    cmd.build();
    // clap keeps headings as `&'static str`; the three are made once per process.
    let headings = Headings {
        commands: i18n::text("classroom.cli.commands").leak(),
        arguments: i18n::text("classroom.cli.arguments").leak(),
        options: i18n::text("classroom.cli.options").leak(),
    };
    translate(cmd, "root", headings)
}

#[derive(Clone, Copy)]
struct Headings {
    commands: &'static str,
    arguments: &'static str,
    options: &'static str,
}

fn translate(mut cmd: clap::Command, name: &str, headings: Headings) -> clap::Command {
    let known = |key: String| {
        let text = i18n::text(&key);
        (text != key).then_some(text)
    };
    if let Some(about) = known(format!("classroom.cli.{name}.about")) {
        cmd = cmd.about(about).long_about(None);
    }
    if let Some(after) = known(format!("classroom.cli.{name}.after_help")) {
        cmd = cmd.after_help(after).after_long_help(None);
    }
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
        i18n::text("classroom.cli.usage")
    );
    cmd = cmd
        .help_template(template)
        .subcommand_help_heading(headings.commands);
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        let help = known(format!("classroom.cli.{name}.{id}"))
            .or_else(|| known(format!("classroom.cli.any.{id}")));
        cmd = cmd.mut_arg(&id, |arg| {
            let heading = if arg.is_positional() {
                headings.arguments
            } else {
                headings.options
            };
            let arg = arg.help_heading(heading);
            match help {
                // The translated text names the values and the default itself: clap would
                // add them in English.
                Some(help) => arg
                    .help(help)
                    .long_help(None)
                    .hide_possible_values(true)
                    .hide_default_value(true),
                None => arg,
            }
        });
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for sub in names {
        cmd = cmd.mut_subcommand(&sub, |c| translate(c, &sub, headings));
    }
    cmd
}

//! Two languages: the message files agree with each other and with the code, people's output
//! follows `--lang` and the environment, and machines' output never does.
//!
//! Every test here that draws in-process does so in Chinese, one at a time (the language is
//! one setting for the whole process, and tests run side by side); the others run the binary.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use threadlab::i18n::{self, Lang};
use threadlab::ui::app::{App, Menu, MenuEntry};
use threadlab::ui::keys::{Action, BINDINGS};
use threadlab::ui::theme::{Theme, ThemeKind};
use threadlab::ui::view;
use threadlab::vocab::event::STATES;

/// A message file flattened: `key.sub.leaf` → text.
fn messages(lang: &str) -> BTreeMap<String, String> {
    let path = format!("{}/locales/{lang}.yml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("a message file");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
    let mut out = BTreeMap::new();
    flatten("", &yaml, &mut out, &path);
    out
}

fn flatten(prefix: &str, v: &serde_yaml::Value, out: &mut BTreeMap<String, String>, path: &str) {
    match v {
        serde_yaml::Value::Mapping(m) => {
            for (k, v) in m {
                let k = k.as_str().expect("keys are words");
                let key = if prefix.is_empty() {
                    k.to_string()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out, path);
            }
        }
        serde_yaml::Value::String(s) => {
            assert!(!s.trim().is_empty(), "{path}: `{prefix}` is empty");
            out.insert(prefix.to_string(), s.clone());
        }
        other => panic!("{path}: `{prefix}` is {other:?}, not a text"),
    }
}

fn placeholders(text: &str) -> BTreeSet<&str> {
    text.split("%{")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

#[test]
fn every_message_is_in_both_languages_with_the_same_placeholders() {
    let en = messages("en");
    let zh = messages("zh");
    let only_en: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
    let only_zh: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
    assert!(only_en.is_empty(), "in en.yml, not in zh.yml: {only_en:?}");
    assert!(only_zh.is_empty(), "in zh.yml, not in en.yml: {only_zh:?}");
    for (key, text) in &en {
        assert_eq!(
            placeholders(text),
            placeholders(&zh[key]),
            "`{key}` has different placeholders in en.yml and zh.yml"
        );
    }
    assert!(placeholders("a %{x} b %{y}") == BTreeSet::from(["x", "y"]));
}

#[test]
fn every_message_the_tables_name_exists() {
    let en = messages("en");
    let mut wanted: Vec<String> = Vec::new();
    for b in BINDINGS {
        wanted.push(format!("key.{}.hint", b.id));
        wanted.push(format!("key.{}.help", b.id));
    }
    for row in STATES {
        wanted.push(format!("state.{}.legend", row.name));
        wanted.push(format!("state.{}.short", row.name));
    }
    for topic in threadlab::scenario::builtin::Topic::ALL {
        wanted.push(topic.key().to_string());
    }
    wanted.push(threadlab::ui::FILES_GROUP.to_string());
    // Every resource kind, asyncio's too: a keyword never stands in for its words.
    for keyword in threadlab::scenario::kind_keywords() {
        wanted.push(format!("replay_truth.kind.{keyword}"));
    }
    for key in wanted {
        assert!(en.contains_key(&key), "no message `{key}` in en.yml");
    }
}

#[test]
fn every_builtin_lesson_has_a_chinese_title_and_about() {
    for b in threadlab::scenario::builtin::all() {
        let s = threadlab::scenario::load(b.name).expect("a built-in");
        for (what, text) in [("title", &s.title_zh), ("about", &s.about_zh)] {
            let text = text
                .as_deref()
                .unwrap_or_else(|| panic!("{} has no Chinese {what}", b.name));
            assert!(
                text.chars()
                    .filter(|c| threadlab::cells::width(&c.to_string()) == 2)
                    .count()
                    > text.chars().count() / 3,
                "{}'s Chinese {what} is mostly not Chinese: {text}",
                b.name
            );
        }
    }
}

// ---- the binary ----------------------------------------------------------------------------

const BOUND: Duration = Duration::from_secs(60);

/// Runs threadlab with `args` and only the language variables given in `env`; its stdout.
fn threadlab(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_threadlab"));
    cmd.args(args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("threadlab starts");
    // Read while it runs, so a full pipe cannot stall it; the wait below is bounded.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).map(|_| out)
    });
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`threadlab {}` still running after {BOUND:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    reader.join().unwrap().expect("stdout is UTF-8")
}

fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn list_follows_the_environment_and_lang_overrides_it() {
    let zh = threadlab(&["list"], &[("LANG", "zh_CN.UTF-8")]);
    let builtins = threadlab::scenario::builtin::all();
    assert_eq!(zh.lines().count(), builtins.len(), "{zh}");
    for (line, b) in zh.lines().zip(builtins) {
        assert!(line.starts_with(b.name), "{line}");
        assert!(line.ends_with(b.title_zh.unwrap()), "{line}");
    }
    assert_eq!(threadlab(&["--lang", "zh", "list"], &[]), zh);
    // LC_ALL outranks LANG, and --lang outranks both.
    let en = threadlab(&["list"], &[("LC_ALL", "C"), ("LANG", "zh_CN.UTF-8")]);
    assert!(!has_chinese(&en), "{en}");
    assert!(
        en.contains("Deadlock: two locks taken in opposite order"),
        "{en}"
    );
    assert_eq!(
        threadlab(&["list", "--lang", "en"], &[("LANG", "zh_CN.UTF-8")]),
        en
    );
}

/// Times, counts and other figures vary run to run: every number becomes 0.
fn without_numbers(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(_) => Value::from(0),
        Value::Array(a) => Value::Array(a.into_iter().map(without_numbers).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, without_numbers(v)))
                .collect(),
        ),
        v => v,
    }
}

#[test]
fn machine_output_is_the_same_in_every_language_and_text_is_not() {
    let run = |lang: &str, json: bool| {
        let mut args = vec!["--lang", lang, "run", "semaphore", "--headless"];
        if json {
            args.push("--json");
        }
        threadlab(&args, &[])
    };
    // What the machine could give is measured at the moment of each run (a busy moment adds
    // a warning), so it is compared for its language only.
    let json = |lang| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_str(&run(lang, true)).expect("a JSON summary");
        let machine = v.as_object_mut().and_then(|o| o.remove("machine"));
        assert!(!has_chinese(&machine.unwrap_or_default().to_string()));
        without_numbers(v)
    };
    let en = json("en");
    assert_eq!(en, json("zh"));
    assert!(!has_chinese(&en.to_string()));
    let text = run("zh", false);
    assert!(has_chinese(&text), "{text}");
    assert!(!has_chinese(&run("en", false)));
}

// ---- the screen, in Chinese --------------------------------------------------------------

/// Held by each test that draws: one of them switches the process's language for a moment.
static DRAWING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::render(app, f.area(), f.buffer_mut()))
        .unwrap();
    t.backend().to_string()
}

fn menu() -> Menu {
    let entries = ["deadlock", "semaphore", "gil", "event-loop"]
        .iter()
        .map(|n| {
            let b = threadlab::scenario::builtin::find(n).unwrap();
            MenuEntry {
                name: n.to_string(),
                group: b.topic.key().into(),
                origin: "built-in".into(),
                scenario: Ok(std::sync::Arc::new(threadlab::scenario::load(n).unwrap())).into(),
            }
        })
        .collect();
    Menu {
        entries,
        selected: 0,
    }
}

#[test]
fn the_menu_and_its_help_in_chinese() {
    let _drawing = DRAWING.lock().unwrap_or_else(|e| e.into_inner());
    i18n::set(Lang::Zh);
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    insta::assert_snapshot!("menu_zh_80x24", screen(&app, 80, 24));
    insta::assert_snapshot!("menu_zh_120x40", screen(&app, 120, 40));
    app.update(Action::Help);
    insta::assert_snapshot!("help_menu_zh_80x24", screen(&app, 80, 24));
    app.update(Action::Help);
    // The language key switches everything, both ways.
    app.update(Action::Language);
    assert_eq!(i18n::current(), Lang::En);
    let en = screen(&app, 80, 24);
    assert!(en.contains("Deadlock"), "{en}");
    app.update(Action::Language);
    assert_eq!(i18n::current(), Lang::Zh);
    let zh = screen(&app, 80, 24);
    assert!(zh.contains("死锁"), "{zh}");
}

#[test]
fn a_deadlocked_run_in_chinese() {
    let _drawing = DRAWING.lock().unwrap_or_else(|e| e.into_inner());
    i18n::set(Lang::Zh);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs/deadlock.json");
    let rec = with_todays_lesson(
        threadlab::vocab::recording::Recording::load(&path).expect("the recorded deadlock"),
    );
    for kind in [ThemeKind::Dark, ThemeKind::Light, ThemeKind::Mono] {
        let mut app = App::new(menu(), Theme::new(kind, false));
        app.cores = 2;
        app.show_recording(&rec);
        let (small, large) = (screen(&app, 80, 24), screen(&app, 120, 40));
        for text in [&small, &large] {
            assert!(text.contains("死锁"), "{text}");
        }
        // Drawn in ASCII, the words stay Chinese and keep their columns.
        let mut ascii = App::new(menu(), Theme::new(kind, true));
        ascii.cores = 2;
        ascii.show_recording(&rec);
        let drawn = screen_text(&ascii, 80, 24);
        assert!(
            drawn.contains("死锁") && drawn.contains("等锁 B 而阻塞"),
            "{drawn}"
        );
        assert!(
            drawn
                .chars()
                .all(|c| c.is_ascii() || threadlab::cells::width(&c.to_string()) == 2),
            "{drawn}"
        );
        if kind == ThemeKind::Dark {
            insta::assert_snapshot!("run_deadlock_zh_80x24", small);
            insta::assert_snapshot!("run_deadlock_zh_120x40", large);
        }
    }
}

// ---- no English left ---------------------------------------------------------------------------

/// Words a Chinese screen may show in Latin letters: the program's name, abbreviations a
/// Chinese classroom uses as they are, the names of keys on the keyboard, Python's own
/// keywords, units, and the other language's own name on the key that switches to it.
const LATIN_ALLOWED: &[&str] = &[
    "threadlab",
    "GIL",
    "CPU",
    "Esc",
    "Enter",
    "Ctrl",
    "Tab",
    "Shift",
    "PgUp",
    "PgDn",
    "Home",
    "End",
    "await",
    "asyncio",
    "Python",
    "CPython",
    "future",
    "English",
    "ms",
    "us",
    "ns",
];

/// The runs of two or more Latin letters in `text` that are neither allowed above nor words of
/// `scenario`'s own names, titles and texts.
fn english_in(text: &str, scenario: &threadlab::scenario::model::Scenario) -> BTreeSet<String> {
    // Allowed words are whole words: "async" is not "asyncio", nor "lock" "GIL".
    let allowed: BTreeSet<String> = LATIN_ALLOWED.iter().map(|w| w.to_lowercase()).collect();
    let mut own: BTreeSet<String> = BTreeSet::new();
    let names = scenario
        .threads
        .iter()
        .flat_map(|t| [t.name.as_str(), t.group.as_str()])
        .chain(scenario.resources.iter().map(|r| r.name.as_str()))
        .chain([scenario.name.as_str()])
        .chain(scenario.title_zh.as_deref())
        .chain(scenario.about_zh.as_deref());
    for name in names {
        own.extend(latin_words(name).map(|w| w.to_lowercase()));
    }
    // A lane or a swatch is states' glyphs ("LLLLSSS", "rrrrwww"), never a word: the glyphs'
    // letters, in their own case, spell none.
    let glyphs: BTreeSet<char> = STATES.iter().flat_map(|r| [r.glyph, r.ascii]).collect();
    let one_glyph = |w: &str| w.chars().all(|c| glyphs.contains(&c));
    latin_words(text)
        .filter(|w| !one_glyph(w) && !allowed.contains(&w.to_lowercase()))
        // A name cut short ("philosophers-orde…") or wrapped ("wo" "rker-1") is still a name.
        .filter(|w| {
            let w = w.to_lowercase();
            !own.iter().any(|o| o.starts_with(&w) || o.ends_with(&w))
        })
        .map(str::to_string)
        .collect()
}

fn latin_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 2)
}

/// The screen as text with the code pane blanked: it shows the scenario file itself, which is
/// the teacher's own text.
fn screen_without_code(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| {
        let area = f.area();
        view::render(app, area, f.buffer_mut());
        let code = view::run::areas_of(app, area).unwrap().code;
        for y in code.top()..code.bottom() {
            for x in code.left()..code.right() {
                f.buffer_mut()[(x, y)].set_symbol(" ");
            }
        }
    })
    .unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| {
            let row: Vec<String> = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
            text_of(&row) + "\n"
        })
        .collect()
}

#[test]
fn no_english_left_on_the_chinese_screens_of_any_lesson() {
    let _drawing = DRAWING.lock().unwrap_or_else(|e| e.into_inner());
    i18n::set(Lang::Zh);
    let mut found = Vec::new();
    for b in threadlab::scenario::builtin::all() {
        let scenario = std::sync::Arc::new(threadlab::scenario::load(b.name).expect("a built-in"));
        // A second of run time at 4× shows every lesson's first acts (and the deadlocks).
        let plan = threadlab::headless::RunPlan {
            scenario: b.name.to_string(),
            for_: Some(Duration::from_secs(1)),
            speed: 4.0,
            ..Default::default()
        };
        let report = threadlab::headless::execute(scenario.clone(), &plan).expect("it runs");
        let text = threadlab::headless::render(&report, &Default::default());
        let rec = threadlab::vocab::recording::Recording::from_report(&report, 1.0)
            .expect("a recording of it");
        let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
        app.cores = 2;
        app.show_recording(&rec);
        for (what, shown) in [
            ("text summary", text),
            ("80x24", screen_without_code(&app, 80, 24)),
            ("120x40", screen_without_code(&app, 120, 40)),
        ] {
            let english = english_in(&shown, &scenario);
            if !english.is_empty() {
                found.push(format!("{} ({what}): {english:?}\n{shown}", b.name));
            }
        }
    }
    // The menu, each lesson chosen in turn: the list shows every lesson by its name.
    let all = threadlab::scenario::builtin::all();
    let names: BTreeSet<String> = all
        .iter()
        .flat_map(|b| {
            latin_words(b.name)
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut app = App::new(
        Menu {
            entries: all
                .iter()
                .map(|b| MenuEntry {
                    name: b.name.to_string(),
                    group: b.topic.key().into(),
                    origin: "built-in".into(),
                    scenario: Ok(std::sync::Arc::new(
                        threadlab::scenario::load(b.name).unwrap(),
                    ))
                    .into(),
                })
                .collect(),
            selected: 0,
        },
        Theme::new(ThemeKind::Dark, false),
    );
    for (i, b) in all.iter().enumerate() {
        app.menu.selected = i;
        let scenario = threadlab::scenario::load(b.name).unwrap();
        for (w, h) in [(80, 24), (120, 40)] {
            let shown = screen_text(&app, w, h);
            let english: BTreeSet<String> = english_in(&shown, &scenario)
                .into_iter()
                .filter(|w| {
                    let w = w.to_lowercase();
                    !names.iter().any(|n| n.starts_with(&w) || n.ends_with(&w))
                })
                .collect();
            if !english.is_empty() {
                found.push(format!(
                    "menu at {} ({w}x{h}): {english:?}\n{shown}",
                    b.name
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "English on Chinese screens:\n{}",
        found.join("\n")
    );
}

/// The screen as the text it shows.
fn screen_text(app: &App, w: u16, h: u16) -> String {
    cells_of(app, w, h)
        .iter()
        .map(|row| text_of(row) + "\n")
        .collect()
}

/// A recorded run of a built-in lesson, shown with the lesson as it is now: the recording
/// keeps the lesson's text from when it was made, and the script (which the events follow)
/// is the same.
fn with_todays_lesson(
    mut rec: threadlab::vocab::recording::Recording,
) -> threadlab::vocab::recording::Recording {
    let now = threadlab::scenario::load(&rec.scenario.name).expect("a built-in");
    let script = |s: &threadlab::scenario::model::Scenario| {
        s.threads
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.steps.iter().map(|st| st.op).collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        script(&now),
        script(&rec.scenario),
        "the lesson's script changed: record again"
    );
    rec.scenario = std::sync::Arc::new(now);
    rec
}

fn fixture(name: &str) -> threadlab::vocab::recording::Recording {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/runs/{name}.json"));
    threadlab::vocab::recording::Recording::load(&path).expect("a recorded run")
}

#[test]
fn a_running_lesson_and_its_help_in_chinese() {
    let _drawing = DRAWING.lock().unwrap_or_else(|e| e.into_inner());
    i18n::set(Lang::Zh);
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.cores = 2;
    app.show_recording(&with_todays_lesson(fixture("semaphore")));
    // Midway: the cursor a few events in, where threads still wait for permits.
    app.update(Action::HistoryStart);
    for _ in 0..6 {
        app.update(Action::HistoryForward);
    }
    let (small, large) = (screen(&app, 80, 24), screen(&app, 120, 40));
    assert!(large.contains("等待"), "{large}");
    insta::assert_snapshot!("run_semaphore_zh_80x24", small);
    insta::assert_snapshot!("run_semaphore_zh_120x40", large);
    app.update(Action::Help);
    insta::assert_snapshot!("help_run_zh_80x24", screen(&app, 80, 24));
    insta::assert_snapshot!("help_run_zh_120x40", screen(&app, 120, 40));
}

/// Each row of the screen as its cells' symbols, one entry per cell.
fn cells_of(app: &App, w: u16, h: u16) -> Vec<Vec<String>> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::render(app, f.area(), f.buffer_mut()))
        .unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect())
        .collect()
}

/// A row of cells as the text it shows: a wide glyph's second cell is not a character.
fn text_of(row: &[String]) -> String {
    let mut text = String::new();
    let mut skip = 0;
    for symbol in row {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        skip = threadlab::cells::width(symbol).saturating_sub(1);
        text.push_str(symbol);
    }
    text
}

#[test]
fn chinese_japanese_and_korean_names_keep_every_column() {
    let _drawing = DRAWING.lock().unwrap_or_else(|e| e.into_inner());
    i18n::set(Lang::Zh);
    let rec = fixture("cjk");
    let s = rec.scenario.clone();
    let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
    app.cores = 2;
    app.show_recording(&rec);
    for (w, h) in [(80, 24), (120, 40)] {
        let rows = cells_of(&app, w, h);
        let areas = view::run::areas_of(&app, ratatui::layout::Rect::new(0, 0, w, h)).unwrap();
        // Lanes: every thread's row has its name whole and the lane's edge in one column.
        let mut edges = BTreeSet::new();
        for t in &s.threads {
            let y = (areas.lanes.top()..areas.lanes.bottom())
                .map(usize::from)
                .find(|&y| text_of(&rows[y]).contains(&t.name))
                .unwrap_or_else(|| panic!("{}'s lane at {w}x{h}", t.name));
            let edge = (1..w as usize - 1)
                .find(|&x| rows[y][x] == "│")
                .unwrap_or_else(|| panic!("no lane edge on {}'s row", t.name));
            edges.insert(edge);
        }
        assert_eq!(edges.len(), 1, "lane edges at {edges:?} ({w}x{h})");
        // Resources: each name whole, and the kind after it in one column.
        let mut kinds = BTreeSet::new();
        for r in &s.resources {
            let x0 = areas.resources.left() as usize + 1;
            let y = (areas.resources.top()..areas.resources.bottom())
                .map(usize::from)
                .find(|&y| text_of(&rows[y][x0..]).starts_with(&format!("{} ", r.name)))
                .unwrap_or_else(|| panic!("{} in the resource panel at {w}x{h}", r.name));
            let after_name = x0 + threadlab::cells::width(&r.name);
            let kind_at = (after_name..w as usize)
                .find(|&x| rows[y][x].trim() != "")
                .expect("a kind after the name");
            kinds.insert(kind_at);
        }
        assert_eq!(kinds.len(), 1, "resource kinds at {kinds:?} ({w}x{h})");
        insta::assert_snapshot!(format!("run_cjk_zh_{w}x{h}"), screen(&app, w, h));
    }
    // The text report: each lane's bar starts in one column, counted in cells.
    let text = threadlab::headless::render(&rec.report(), &Default::default());
    let bars: BTreeSet<usize> = text
        .lines()
        .filter(|l| s.threads.iter().any(|t| l.starts_with(&t.name)))
        .map(|l| threadlab::cells::width(&l[..l.find('│').expect("a lane")]))
        .collect();
    assert_eq!(bars.len(), 1, "{text}");
    assert!(english_in(&text, &s).is_empty(), "{text}");
}

/// Runs threadlab with `args` and the language variables in `env`; its exit code, stdout and
/// stderr.
fn threadlab_all(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_threadlab"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Both commands used here print a screenful at most and end on their own.
    let out = cmd.output().expect("threadlab runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("UTF-8"),
        String::from_utf8(out.stderr).expect("UTF-8"),
    )
}

/// The `file:line:column` a diagnostic points at.
fn location(diagnostic: &str) -> &str {
    let at = diagnostic.find("[tests/").expect("a location");
    let rest = &diagnostic[at + 1..];
    &rest[..rest.find(']').expect("a closing bracket")]
}

#[test]
fn check_speaks_chinese_at_the_same_place() {
    for file in [
        "tests/fixtures/bad/double-unlock.kdl",
        "tests/fixtures/bad/event-never-set.kdl",
        "tests/fixtures/bad/barrier-too-few-parties.kdl",
    ] {
        let (code_en, _, en) = threadlab_all(&["check", file], &[("LANG", "C")]);
        let (code_zh, _, zh) = threadlab_all(&["check", file], &[("LANG", "zh_CN.UTF-8")]);
        assert_eq!((code_en, code_zh), (2, 2), "{en}\n{zh}");
        assert_eq!(location(&en), location(&zh), "{en}\n{zh}");
        assert!(!has_chinese(&en), "{en}");
        assert!(has_chinese(&zh), "{zh}");
        // The message, the label and the hint all in Chinese.
        let message = zh
            .lines()
            .find(|l| l.trim_start().starts_with('x'))
            .expect("a message");
        let hint = zh.lines().find(|l| l.contains("提示:")).expect("a hint");
        assert!(has_chinese(message) && has_chinese(hint), "{zh}");
    }
    // Every mistake after the first is introduced in the reader's words too.
    let file = "tests/fixtures/bad/several-mistakes.kdl";
    let (_, _, en) = threadlab_all(&["check", file], &[("LANG", "C")]);
    let (_, _, zh) = threadlab_all(&["check", file], &[("LANG", "zh_CN.UTF-8")]);
    assert!(en.contains("Error: "), "{en}");
    assert!(!zh.contains("Error") && zh.contains("错误: "), "{zh}");
}

#[test]
fn help_follows_the_environment_and_lang_overrides_it() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["export", "--help"],
        &["help", "check"],
    ] {
        let (code, zh, _) = threadlab_all(args, &[("LANG", "zh_CN.UTF-8")]);
        assert_eq!(code, 0);
        assert!(has_chinese(&zh), "{zh}");
        for english in ["Usage", "Options", "Print help", "Commands"] {
            assert!(!zh.contains(english), "`{english}` in {args:?}:\n{zh}");
        }
        let mut en_args = vec!["--lang", "en"];
        en_args.extend(args);
        let (_, en, _) = threadlab_all(&en_args, &[("LANG", "zh_CN.UTF-8")]);
        assert!(en.contains("Usage"), "{en}");
        assert!(!has_chinese(&en.replace("简体中文", "")), "{en}");
    }
}

/// The English `--help` texts in en.yml are the ones clap reads from the doc comments, so the
/// message file cannot drift from the code.
#[test]
fn the_english_command_line_texts_are_the_doc_comments() {
    use clap::CommandFactory;
    let en = messages("en");
    let mut cmd = threadlab::cmd::cli::Cli::command();
    cmd.build();
    let mut compared = 0;
    let mut walk = vec![("root".to_string(), cmd)];
    while let Some((name, cmd)) = walk.pop() {
        if let (Some(about), Some(text)) = (
            cmd.get_about(),
            en.get(&format!("classroom.cli.{name}.about")),
        ) {
            assert_eq!(&about.to_string(), text, "{name}'s about");
            compared += 1;
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            let key = [
                format!("classroom.cli.{name}.{id}"),
                format!("classroom.cli.any.{id}"),
            ]
            .into_iter()
            .find(|k| en.contains_key(k));
            let (Some(key), Some(help)) = (key, arg.get_help()) else {
                // An argument without help of its own lists its values: the text names them.
                if let Some(key) = en.get(&format!("classroom.cli.{name}.{id}")) {
                    for value in arg.get_possible_values() {
                        assert!(key.contains(value.get_name()), "{name}.{id}: {key}");
                    }
                }
                continue;
            };
            // clap's own flags say more in long help; the first words are what en.yml holds.
            assert!(help.to_string().starts_with(&en[&key]), "{key}: {help}");
            compared += 1;
        }
        walk.extend(
            cmd.get_subcommands()
                .filter(|_| name == "root")
                .map(|c| (c.get_name().to_string(), c.clone())),
        );
    }
    assert!(compared > 30, "only {compared} texts compared");
}

/// The SVG picture gives a wide glyph two cells of room, as the terminal does, and names fonts
/// that have CJK glyphs; the margin grows to fit the widest name.
#[test]
fn the_svg_lays_out_cjk_names_in_cells() {
    let rec = fixture("cjk");
    let text = threadlab::trace::export::svg::render(&rec);
    assert!(text.contains("Noto Sans Mono CJK SC"), "a CJK font first");
    let cell = |name: &str| {
        let at = text
            .find(&format!(">{name}</text>"))
            .unwrap_or_else(|| panic!("{name}'s label"));
        let tag = &text[text[..at].rfind("<text").unwrap()..at];
        let length = tag.split("textLength=\"").nth(1).expect("a textLength");
        length[..length.find('"').unwrap()].parse::<f64>().unwrap()
    };
    // 工人-1 is two wide glyphs and two narrow ones: six cells, as wide as `worker` is.
    let per_cell = cell("工人-1") / 6.0;
    assert_eq!(cell("スレッド"), per_cell * 8.0);
    assert_eq!(cell("worker_소비자"), per_cell * 13.0);
    // Every lane starts right of the widest label.
    let left = |tag: &str| -> f64 {
        let x = tag.split("x=\"").nth(1).unwrap();
        x[..x.find('"').unwrap()].parse().unwrap()
    };
    let label_x = text
        .lines()
        .find(|l| l.contains(">worker_소비자</text>"))
        .map(left)
        .unwrap();
    assert!(label_x >= cell("worker_소비자"), "{label_x}");
}

/// A command line clap refuses is refused in the reader's language too, with the same exit
/// code; names and values stay as typed.
#[test]
fn a_refused_command_line_speaks_chinese() {
    let (code, _, err) = threadlab_all(&["run", "deadlock", "--bogus"], &[("LANG", "zh_CN.UTF-8")]);
    assert_eq!(code, 2, "{err}");
    assert!(has_chinese(&err) && err.contains("--bogus"), "{err}");
    assert!(!err.contains("unexpected argument"), "{err}");
    let (code, _, err) = threadlab_all(
        &["run", "deadlock", "--speed", "9"],
        &[("LANG", "zh_CN.UTF-8")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("0.1") && has_chinese(&err), "{err}");
}

/// Two runs compared, in Chinese: both halves, the shared log and the footer speak it, and the
/// help says what each key does to both runs.
#[test]
fn two_runs_compared_in_chinese() {
    let _drawing = DRAWING.lock().unwrap_or_else(|e| e.into_inner());
    i18n::set(Lang::Zh);
    let recs = ["deadlock", "fixed-order-done"].map(|name| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/runs/{name}.json"));
        with_todays_lesson(threadlab::vocab::recording::Recording::load(&path).expect(name))
    });
    let draw = |pair: &threadlab::ui::pair::Pair, w: u16, h: u16| {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| view::compare::render(pair, f.area(), f.buffer_mut()))
            .unwrap();
        t.backend().to_string()
    };
    for (w, h) in [(80, 24), (120, 40)] {
        let scenarios = [recs[0].scenario.clone(), recs[1].scenario.clone()];
        let mut pair = threadlab::ui::pair::Pair::new(
            scenarios,
            1.0,
            false,
            Theme::new(ThemeKind::Dark, false),
        );
        for (half, rec) in pair.halves.iter_mut().zip(&recs) {
            half.cores = 2;
            half.show_recording(rec);
        }
        pair.resize(ratatui::layout::Rect::new(0, 0, w, h));
        pair.update(Action::Fit);
        let text = draw(&pair, w, h);
        assert!(text.contains("对比") && text.contains("死锁"), "{text}");
        // A word either lesson names (its threads, its resources) is the lesson's own.
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| view::compare::render(&pair, f.area(), f.buffer_mut()))
            .unwrap();
        let buf = t.backend().buffer();
        let plain: String = (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
            .collect();
        let english: BTreeSet<String> = english_in(&plain, &recs[0].scenario)
            .intersection(&english_in(&plain, &recs[1].scenario))
            .cloned()
            .collect();
        assert!(
            english.is_empty(),
            "English at {w}x{h}: {english:?}\n{text}"
        );
        insta::assert_snapshot!(format!("compare_deadlock_fixed_order_zh_{w}x{h}"), text);
        pair.update(Action::Help);
        let help = draw(&pair, w, h);
        assert!(help.contains("各走一步"), "{help}");
    }
}

/// Every resource kind has words of its own in Chinese: none is left as the English (or the
/// keyword) it was copied from, but the GIL, which a Chinese class calls the GIL.
#[test]
fn every_resource_kind_has_chinese_words() {
    let (en, zh) = (messages("en"), messages("zh"));
    for keyword in threadlab::scenario::kind_keywords() {
        let key = format!("replay_truth.kind.{keyword}");
        let words = &zh[&key];
        assert!(
            has_chinese(words) || words == "GIL",
            "`{key}` reads {words:?} in Chinese (English: {:?})",
            en[&key]
        );
    }
}

/// A real Python program traced and shown in Chinese: every Latin word on the screen (the
/// code pane aside) and in the text report is the program's own (a name in its source, a
/// thread's name) or allowed above. A name threadlab makes up for what a thread waits on
/// ("worker finished") would be English on a Chinese screen.
#[test]
fn a_traced_program_in_chinese_has_no_english_of_threadlabs_own() {
    let _drawing = DRAWING.lock().unwrap_or_else(|e| e.into_inner());
    i18n::set(Lang::Zh);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/py");
    let mut found = Vec::new();
    for name in [
        "threads.py",
        "deadlock.py",
        "asyncio_tasks.py",
        "condition.py",
        "library_waits.py",
        "pool.py",
    ] {
        let script = dir.join(name);
        let out = std::env::temp_dir().join(format!(
            "threadlab-i18n-trace-{}-{name}.out",
            std::process::id()
        ));
        let spawn = threadlab::watch::child::Spawn {
            script: script.clone(),
            args: Vec::new(),
            output: threadlab::watch::child::Output::File(out.clone()),
            paused: false,
        };
        let traced = threadlab::cmd::trace::execute(&spawn, Some(Duration::from_secs(30)))
            .expect("python3 3.8+ runs the tracer");
        std::fs::remove_file(&out).ok();
        let report = threadlab::cmd::trace::report(&traced);
        let text = threadlab::headless::render(&report, &Default::default());
        let rec = threadlab::vocab::recording::Recording::from_report(&report, 1.0)
            .expect("a recording of it");
        let source = std::fs::read_to_string(&script).unwrap();
        // The program's own words, and Python's: the calls a wait the library makes is named
        // after (`worker.join`, `work_queue.get()`), and `loop`, asyncio's name for an event
        // loop (`get_running_loop()`), which names a loop's resource after its thread.
        let pythons = ["join", "work", "queue", "get", "map", "loop"];
        let path = script.to_string_lossy();
        let own: BTreeSet<String> = latin_words(&source)
            .chain(latin_words(&path))
            .chain(
                rec.scenario
                    .threads
                    .iter()
                    .flat_map(|t| latin_words(&t.name)),
            )
            .chain(pythons)
            .chain(LATIN_ALLOWED.iter().copied())
            .map(str::to_lowercase)
            .collect();
        let mut app = App::new(menu(), Theme::new(ThemeKind::Dark, false));
        app.cores = 2;
        app.show_recording(&rec);
        for (what, shown) in [
            ("text report", text),
            ("80x24", screen_without_code(&app, 80, 24)),
            ("120x40", screen_without_code(&app, 120, 40)),
        ] {
            let glyphs: BTreeSet<char> = STATES.iter().flat_map(|r| [r.glyph, r.ascii]).collect();
            let english: BTreeSet<&str> = latin_words(&shown)
                .filter(|w| !w.chars().all(|c| glyphs.contains(&c)))
                .filter(|w| {
                    let w = w.to_lowercase();
                    // A word cut short ("pr…") or wrapped ("ducer") is still the word.
                    !own.iter().any(|o| o.starts_with(&w) || o.ends_with(&w))
                })
                .collect();
            if !english.is_empty() {
                found.push(format!("{name} ({what}): {english:?}\n{shown}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "English on Chinese screens of traced programs:\n{}",
        found.join("\n")
    );
}

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
    let json = |lang| -> serde_json::Value {
        without_numbers(serde_json::from_str(&run(lang, true)).expect("a JSON summary"))
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
    let rec = threadlab::vocab::recording::Recording::load(&path).expect("the recorded deadlock");
    for kind in [ThemeKind::Dark, ThemeKind::Light, ThemeKind::Mono] {
        let mut app = App::new(menu(), Theme::new(kind, false));
        app.cores = 2;
        app.show_recording(&rec);
        let (small, large) = (screen(&app, 80, 24), screen(&app, 120, 40));
        for text in [&small, &large] {
            assert!(text.contains("死锁"), "{text}");
        }
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
    "English",
    "ms",
    "us",
    "ns",
];

/// The runs of two or more Latin letters in `text` that are neither allowed above nor words of
/// `scenario`'s own names, titles and texts.
fn english_in(text: &str, scenario: &threadlab::scenario::model::Scenario) -> BTreeSet<String> {
    let mut own: BTreeSet<String> = LATIN_ALLOWED.iter().map(|w| w.to_lowercase()).collect();
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
    // A lane or a swatch is one state's glyph over and over ("LLLL").
    let glyphs: BTreeSet<char> = STATES.iter().flat_map(|r| [r.glyph, r.ascii]).collect();
    let one_glyph = |w: &str| {
        w.chars()
            .all(|c| Some(c) == w.chars().next() && glyphs.contains(&c))
    };
    latin_words(text)
        .filter(|w| !own.contains(&w.to_lowercase()) && !one_glyph(w))
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
        let run = app.run.as_ref().expect("a run on screen");
        let code = view::run::areas(run, area).code;
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
            // A wide glyph's second cell is not a character of its own.
            let mut row = String::new();
            let mut skip = 0;
            for x in 0..w {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                let symbol = buf[(x, y)].symbol();
                skip = threadlab::cells::width(symbol).saturating_sub(1);
                row.push_str(symbol);
            }
            row + "\n"
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
    assert!(
        found.is_empty(),
        "English on Chinese screens:\n{}",
        found.join("\n")
    );
}

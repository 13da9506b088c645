//! Reads the titles (English and Chinese) of every built-in lesson at build time, so `threadlab list` and the menu
//! name the lessons without parsing them. A test in `scenario::builtin` checks every title
//! against the parsed lesson; this scan only takes the simple form all lessons use and stops
//! the build, pointing at the line, for anything else.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new("scenarios");
    println!("cargo::rerun-if-changed=scenarios");
    // The messages are compiled in by rust_i18n::i18n!, which does not tell cargo it read them.
    println!("cargo::rerun-if-changed=locales");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("scenarios/ is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// The titles of a built-in lesson, by name, read from its file at build time: \
         (English, Chinese if given).\n\
         macro_rules! title {\n",
    );
    for path in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        let stem = path.file_stem().unwrap().to_string_lossy();
        let source = std::fs::read_to_string(path).expect("lesson is UTF-8");
        let (title, zh) = title(&source).unwrap_or_else(|line| {
            panic!(
                "{}:{line}:1: a built-in lesson starts with `title \"...\"` or \
                 `title \"...\" zh=\"...\"` on a line of its own (no escapes), before any other \
                 node, so its title is known without parsing it",
                path.display()
            )
        });
        writeln!(out, "    ({stem:?}) => {{ ({title:?}, {zh:?}) }};").unwrap();
    }
    out.push_str("}\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_titles.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// The title of the first node if it is `title "..."`, with its `zh="..."` if it has one;
/// otherwise the line where it is not.
fn title(source: &str) -> Result<(&str, Option<&str>), usize> {
    for (i, line) in source.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let parsed = line.strip_prefix("title ").and_then(|rest| {
            let (en, rest) = text(rest)?;
            match rest.trim_start() {
                "" => Some((en, None)),
                rest => {
                    let (zh, rest) = text(rest.strip_prefix("zh=")?)?;
                    rest.is_empty().then_some((en, Some(zh)))
                }
            }
        });
        return parsed.ok_or(i + 1);
    }
    Err(1)
}

/// A quoted text without escapes at the start of `s`, and what follows it.
fn text(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('"')?;
    let end = rest.find('"')?;
    let t = &rest[..end];
    (!t.contains('\\')).then_some((t, &rest[end + 1..]))
}

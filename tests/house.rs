//! The house rules, read from the source: every arrow between rooms points down, and no two
//! files or folders import each other.
//!
//! Each file under `src/` is read as text (comments and string literals skipped); its imports
//! are the `crate::…`, `super::…` and `self::…` paths it names (in `use` trees and inline), and
//! the paths into the child modules it declares. Each path is resolved to the file that defines
//! the module it goes through.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The rooms from low to high; a room may import its own layer and those below it.
const LAYERS: &[&[&str]] = &[
    &["cells", "children", "console", "error", "files", "i18n"],
    &["scenario"],
    &["vocab"],
    &["engine", "watch"],
    &["trace"],
    &["session"],
    &["headless"],
    &["ui"],
    &["cmd"],
    &["main"],
];

/// A module path, e.g. `["engine", "primitives", "mutex"]`.
type ModPath = Vec<String>;

struct SourceFile {
    /// Relative to `src/`, for messages.
    name: String,
    module: ModPath,
    /// `mod.rs` (and the crate roots) stand for their folder; `super` is then one step up.
    is_folder: bool,
    /// The code outside `#[cfg(test)]` items.
    code: String,
    /// The code of its `#[cfg(test)]` items.
    test_code: String,
    /// The child modules it declares only for tests.
    test_children: Vec<String>,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read_tree(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_tree(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<SourceFile> {
    let root = src_dir();
    let mut paths = Vec::new();
    read_tree(&root, &mut paths);
    paths
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(&root).expect("under src");
            let name = rel.to_string_lossy().replace('\\', "/");
            if name == "lib.rs" {
                // The library root only declares the rooms.
                return None;
            }
            let mut module: ModPath = rel
                .with_extension("")
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            let is_folder = module.last().is_some_and(|m| m == "mod") || name == "main.rs";
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let (code, test_code, test_children) = split_tests(&strip(&text));
            Some(SourceFile {
                name,
                module,
                is_folder,
                code,
                test_code,
                test_children,
            })
        })
        .collect()
}

/// The code without comments, string literals and char literals (their text is blanked), so
/// that only real paths are read.
fn strip(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
            }
            'r' if (c.get(i + 1) == Some(&'"') || c.get(i + 1) == Some(&'#'))
                && (i == 0 || !is_ident(c[i - 1])) =>
            {
                // A raw string: r"…", r#"…"#.
                let mut j = i + 1;
                let mut hashes = 0;
                while c.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if c.get(j) != Some(&'"') {
                    out.push(c[i]);
                    i += 1;
                    continue;
                }
                j += 1;
                while j < c.len() {
                    if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                i = j;
                out.push_str("\"\"");
            }
            '"' => {
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            }
            '\'' if c.get(i + 1) == Some(&'\\') => {
                // An escaped char literal: '\n', '\'', '\u{1F600}'.
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            }
            '\'' if c.get(i + 2) == Some(&'\'') => {
                i += 3;
                out.push_str("' '");
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

/// The code apart from its `#[cfg(test)]` items, those items, and the names of the modules
/// declared only for tests.
fn split_tests(code: &str) -> (String, String, Vec<String>) {
    const MARK: &str = "#[cfg(test)]";
    let (mut main, mut tests, mut children) = (String::new(), String::new(), Vec::new());
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        main.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        let semi = item.find(';').unwrap_or(item.len());
        let brace = item.find('{').unwrap_or(item.len());
        let end = if semi < brace {
            // `mod name;`: a whole file only for tests.
            let words: Vec<&str> = item[..semi].split_whitespace().collect();
            if let [.., "mod", name] = words.as_slice() {
                children.push(name.to_string());
            }
            semi + 1
        } else {
            let mut depth = 0;
            let mut end = item.len();
            for (i, ch) in item.char_indices().skip(brace) {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            end
        };
        tests.push_str(&item[..end]);
        tests.push('\n');
        rest = &item[end..];
    }
    main.push_str(rest);
    (main, tests, children)
}

fn is_ident(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// Every path a `use` tree names: `a::{b, c::{d, e}}` gives `a::b`, `a::c::d`, `a::c::e`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    expand_into("", &tree, &mut out);
    out
}

fn expand_into(prefix: &str, tree: &str, out: &mut Vec<String>) {
    match tree.find('{') {
        None => out.push(format!("{prefix}{tree}")),
        Some(open) => {
            let head = &tree[..open];
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut start = 0;
            let mut parts = Vec::new();
            for (i, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(&inner[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            parts.push(&inner[start..]);
            for part in parts.into_iter().filter(|p| !p.is_empty()) {
                expand_into(&format!("{prefix}{head}"), part, out);
            }
        }
    }
}

/// Every path a file names, as written, whatever its root: from `use` trees and inline.
fn all_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    // `use` trees (including `pub use`, `pub(crate) use`).
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find("use ") {
        let start = from + at;
        from = start + 4;
        if start > 0 && is_ident(bytes[start - 1] as char) {
            continue;
        }
        if let Some(end) = code[from..].find(';') {
            paths.extend(expand_use(&code[from..from + end]));
        }
    }
    // Inline paths: a root, then `::` and names.
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            let mut j = i;
            while j < chars.len() && (is_ident(chars[j]) || (chars[j] == ':')) {
                j += 1;
            }
            let path: String = chars[i..j].iter().collect();
            let path = path.trim_end_matches(':').to_string();
            if path.contains("::") {
                paths.push(path);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    paths
}

/// The paths a file names into this crate: rooted at `crate`, `super`, `self`, the crate's
/// name (from `main.rs`) or a child module it declares.
fn written_paths(code: &str, crate_name: &str, children: &BTreeSet<String>) -> Vec<String> {
    let roots = ["crate", "super", "self", crate_name];
    all_paths(code)
        .into_iter()
        .filter(|p| {
            let root = p.split("::").next().unwrap_or("");
            roots.contains(&root) || children.contains(root)
        })
        .collect()
}

/// The module a written path goes into, as a module path from the crate root.
fn absolute(path: &str, file: &SourceFile, crate_name: &str) -> Option<ModPath> {
    let mut parts = path.split("::").map(str::to_string).peekable();
    let mut here: ModPath = if file.is_folder {
        file.module.clone()
    } else {
        file.module[..file.module.len() - 1].to_vec()
    };
    if file.name == "main.rs" {
        here.clear();
    }
    let mut base = match parts.peek()?.as_str() {
        "crate" => {
            parts.next();
            Vec::new()
        }
        root if root == crate_name => {
            parts.next();
            Vec::new()
        }
        "self" => {
            parts.next();
            file.module.clone()
        }
        "super" => {
            parts.next();
            here.clone()
        }
        _ => {
            // A path into a child module this file declares.
            file.module.clone()
        }
    };
    if file.name == "main.rs" && !path.starts_with(crate_name) {
        return None;
    }
    for p in parts {
        if p == "super" {
            base.pop();
        } else {
            base.push(p);
        }
    }
    Some(base)
}

/// The file that defines the deepest module `path` goes through.
fn resolve(path: &ModPath, files: &BTreeMap<ModPath, usize>) -> Option<usize> {
    (1..=path.len())
        .rev()
        .find_map(|n| files.get(&path[..n].to_vec()).copied())
}

fn layer(room: &str) -> Option<usize> {
    LAYERS.iter().position(|rooms| rooms.contains(&room))
}

/// Which file imports which, by index into `sources()`: with `tests`, counting test code
/// too; without, only what the program itself is built from.
fn graph(files: &[SourceFile], tests: bool) -> BTreeMap<usize, BTreeSet<usize>> {
    let crate_name = "threadlab";
    let by_module: BTreeMap<ModPath, usize> = files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name != "main.rs")
        .map(|(i, f)| (f.module.clone(), i))
        .collect();
    let test_only: BTreeSet<ModPath> = files
        .iter()
        .flat_map(|f| {
            f.test_children.iter().map(|c| {
                let mut m = f.module.clone();
                m.push(c.clone());
                m
            })
        })
        .collect();
    let mut edges: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for (i, file) in files.iter().enumerate() {
        if !tests && test_only.contains(&file.module) {
            continue;
        }
        let code = if tests {
            format!("{}\n{}", file.code, file.test_code)
        } else {
            file.code.clone()
        };
        let children: BTreeSet<String> = code
            .split(';')
            .filter_map(|stmt| {
                let words: Vec<&str> = stmt.split_whitespace().collect();
                let at = words.iter().position(|w| *w == "mod")?;
                (at + 2 == words.len()).then(|| words[at + 1].to_string())
            })
            .collect();
        for written in written_paths(&code, crate_name, &children) {
            let Some(module) = absolute(&written, file, crate_name) else {
                continue;
            };
            if let Some(target) = resolve(&module, &by_module)
                && target != i
                && (tests || !test_only.contains(&files[target].module))
            {
                edges.entry(i).or_default().insert(target);
            }
        }
    }
    edges
}

#[test]
fn every_room_has_a_layer() {
    let files = sources();
    let unknown: BTreeSet<&str> = files
        .iter()
        .map(|f| f.module[0].as_str())
        .filter(|room| layer(room).is_none())
        .collect();
    assert!(
        unknown.is_empty(),
        "rooms with no layer: {unknown:?}; put each in LAYERS in tests/house.rs, where it belongs"
    );
}

#[test]
fn no_room_imports_one_above_it() {
    let files = sources();
    let mut wrong = Vec::new();
    for (from, targets) in graph(&files, true) {
        let (a, la) = (&files[from], layer(&files[from].module[0]));
        for to in targets {
            let (b, lb) = (&files[to], layer(&files[to].module[0]));
            if let (Some(la), Some(lb)) = (la, lb)
                && lb > la
            {
                wrong.push(format!(
                    "src/{} ({}) imports src/{} ({}), a room above it",
                    a.name, a.module[0], b.name, b.module[0]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn clap_stays_in_the_command_layer() {
    // The rooms below take plain options; only the commands (and main, which parses) know the
    // command line's types.
    let files = sources();
    let crates = ["clap", "clap_complete", "clap_mangen"];
    let wrong: Vec<String> = files
        .iter()
        .filter(|f| !matches!(f.module[0].as_str(), "cmd" | "main"))
        .filter(|f| {
            let code = format!("{}\n{}", f.code, f.test_code);
            all_paths(&code)
                .iter()
                .any(|p| crates.contains(&p.split("::").next().unwrap_or("")))
        })
        .map(|f| format!("src/{} uses clap", f.name))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Groups of nodes that reach each other (Tarjan's strongly connected components), only those
/// of more than one node.
fn cycles(nodes: usize, edges: &BTreeMap<usize, BTreeSet<usize>>) -> Vec<Vec<usize>> {
    struct Tarjan<'a> {
        edges: &'a BTreeMap<usize, BTreeSet<usize>>,
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: usize) {
            self.index[v] = Some(self.next);
            self.low[v] = self.next;
            self.next += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            for &w in self.edges.get(&v).into_iter().flatten() {
                match self.index[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                    Some(_) => {}
                }
            }
            if Some(self.low[v]) == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    group.push(w);
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.out.push(group);
                }
            }
        }
    }
    let mut t = Tarjan {
        edges,
        index: vec![None; nodes],
        low: vec![0; nodes],
        on_stack: vec![false; nodes],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..nodes {
        if t.index[v].is_none() {
            t.visit(v);
        }
    }
    t.out
}

/// A file and the folder it is in (its `mod.rs`) are one room's door and a room of it: the
/// folder names its files, and its files reach each other's items through it.
fn nested(a: &ModPath, b: &ModPath) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

#[test]
fn no_two_files_import_each_other() {
    // Test code may share helpers within a room both ways; the program may not.
    let files = sources();
    let mut edges = graph(&files, false);
    for (from, targets) in edges.iter_mut() {
        targets.retain(|&to| !nested(&files[*from].module, &files[to].module));
    }
    let found: Vec<String> = cycles(files.len(), &edges)
        .into_iter()
        .map(|group| {
            let names: Vec<String> = group
                .iter()
                .map(|&i| format!("src/{}", files[i].name))
                .collect();
            names.join(" ⇄ ")
        })
        .collect();
    assert!(
        found.is_empty(),
        "files that import each other (directly or round a loop):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_two_folders_import_each_other() {
    // Each import between two files is an import between the two entries (file or folder) of
    // their nearest common folder that hold them; a folder's own mod.rs is the folder itself,
    // so a file and the folder that holds it are not two entries of one folder.
    let files = sources();
    let mut entries: Vec<ModPath> = Vec::new();
    let mut edges: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    let id = |p: ModPath, entries: &mut Vec<ModPath>| match entries.iter().position(|e| *e == p) {
        Some(i) => i,
        None => {
            entries.push(p);
            entries.len() - 1
        }
    };
    for (from, targets) in graph(&files, false) {
        for to in targets {
            let (a, b) = (&files[from].module, &files[to].module);
            let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            if nested(a, b) {
                continue;
            }
            let ea = id(a[..=common].to_vec(), &mut entries);
            let eb = id(b[..=common].to_vec(), &mut entries);
            edges.entry(ea).or_default().insert(eb);
        }
    }
    let found: Vec<String> = cycles(entries.len(), &edges)
        .into_iter()
        .map(|group| {
            let names: Vec<String> = group.iter().map(|&i| entries[i].join("/")).collect();
            names.join(" ⇄ ")
        })
        .collect();
    assert!(
        found.is_empty(),
        "files or folders of one folder that import each other (directly or round a loop):\n{}",
        found.join("\n")
    );
}

/// The reader itself: each kind of path it must see, and what it must not mistake for one.
#[test]
fn the_reader_sees_every_kind_of_import() {
    let code = strip(
        "use crate::{a::{b, c}, d};\n\
         // use crate::comment::Hidden;\n\
         let s = \"crate::string::Hidden\";\n\
         let c = '\"'; let x = crate::inline::f();\n\
         use super::sibling::X;\n\
         mod child;\n\
         child::g();",
    );
    let children = BTreeSet::from(["child".to_string()]);
    let paths: BTreeSet<String> = written_paths(&code, "threadlab", &children)
        .into_iter()
        .collect();
    for want in [
        "crate::a::b",
        "crate::a::c",
        "crate::d",
        "crate::inline::f",
        "super::sibling::X",
        "child::g",
    ] {
        assert!(paths.contains(want), "{want} missing from {paths:?}");
    }
    assert!(
        !paths.iter().any(|p| p.contains("Hidden")),
        "a comment or a string was read as code: {paths:?}"
    );
    let file = SourceFile {
        name: "engine/run.rs".into(),
        module: vec!["engine".into(), "run".into()],
        is_folder: false,
        code: String::new(),
        test_code: String::new(),
        test_children: Vec::new(),
    };
    assert_eq!(
        absolute("super::sibling::X", &file, "threadlab"),
        Some(vec!["engine".into(), "sibling".into(), "X".into()])
    );
    assert_eq!(
        absolute("crate::trace::timeline::Trace", &file, "threadlab"),
        Some(vec!["trace".into(), "timeline".into(), "Trace".into()])
    );
    let mut cyclic = BTreeMap::new();
    cyclic.insert(0, BTreeSet::from([1]));
    cyclic.insert(1, BTreeSet::from([2]));
    cyclic.insert(2, BTreeSet::from([0]));
    cyclic.insert(3, BTreeSet::from([0]));
    assert_eq!(cycles(4, &cyclic), vec![vec![0, 1, 2]]);
}

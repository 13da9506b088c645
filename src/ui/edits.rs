//! Files a teacher edits while the class watches: the scenario running and the menu's files.
//! Looked at a few times a second by their size and modification time, which every filesystem
//! keeps and which costs one `stat` per file; an editor's save changes one or the other.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often the files are looked at.
pub const EVERY: Duration = Duration::from_millis(400);

type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[derive(Debug, Default)]
pub struct Edits {
    seen: HashMap<PathBuf, Stamp>,
}

impl Edits {
    /// Whether any of `paths` changed (appeared, went, or was written) since the last look at
    /// it. A path looked at for the first time is remembered, not reported.
    pub fn changed<'a>(&mut self, paths: impl IntoIterator<Item = &'a Path>) -> bool {
        let mut changed = false;
        for path in paths {
            let now = stamp(path);
            match self.seen.insert(path.to_path_buf(), now) {
                Some(before) if before != now => changed = true,
                _ => {}
            }
        }
        changed
    }

    /// Whether `path` may differ from what was read of it: it changed since the last look, or
    /// this is the first look (it may have been written between the reading and now).
    pub fn maybe_changed(&mut self, path: &Path) -> bool {
        let now = stamp(path);
        self.seen
            .insert(path.to_path_buf(), now)
            .is_none_or(|before| before != now)
    }

    /// Take `path` as it is now, so the next look reports only later changes.
    pub fn settle(&mut self, path: &Path) {
        self.seen.insert(path.to_path_buf(), stamp(path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_seen_once_and_a_new_file_is_not_a_change() {
        let dir = std::env::temp_dir().join(format!("threadlab-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("lesson.kdl");
        std::fs::write(&file, "a").unwrap();
        let mut w = Edits::default();
        assert!(!w.changed([file.as_path()]));
        assert!(!w.changed([file.as_path()]));
        std::fs::write(&file, "ab").unwrap();
        assert!(w.changed([file.as_path()]));
        assert!(!w.changed([file.as_path()]));
        std::fs::remove_file(&file).unwrap();
        assert!(w.changed([file.as_path()]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

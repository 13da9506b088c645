//! THE key table. One list of (keys, action, help) drives the input handler, the footer hints
//! and the help overlay, so what the footer promises is what the keys do (gitui's pattern).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Everything a key can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Back,
    Help,
    Up,
    Down,
    /// The first or last entry of the menu.
    First,
    Last,
    Open,
    /// Open the chosen scenario paused at t=0: nothing moves until space or a step.
    OpenPaused,
    /// Fit the whole run into the lane width.
    Fit,
    /// Select the thread with this index (0-based; the keys say 1–9).
    Select(u8),
    PauseResume,
    StepSelected,
    StepNext,
    /// Run on to the run's next event, whoever's it is, and pause there.
    StepEvent,
    /// Pause whenever the selected thread blocks; again to clear.
    Break,
    /// Predict, then reveal: pause before each hand-over with several waiters.
    Quiz,
    Faster,
    Slower,
    Restart,
    HistoryBack,
    HistoryForward,
    HistoryStart,
    HistoryEnd,
    ZoomIn,
    ZoomOut,
    Theme,
    /// Switch between Chinese and English.
    Language,
    /// Switch the source pane between the scenario and its Python twin.
    Twin,
    /// Fold the selected thread's `count=` group into one lane, or unfold it.
    Fold,
    /// In the menu: compare the chosen scenario with the next one opened.
    CompareWith,
}

/// Which screen a binding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Menu,
    Run,
    /// Two runs, one above the other, driven together (`threadlab compare`).
    Compare,
    /// A recording played back: the run's keys, meaning what they mean on a recording.
    Replay,
}

/// A key as the table writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    Enter,
    Esc,
    /// 1 to 9: carries the digit into [`Action::Select`].
    Digits,
}

impl Key {
    pub fn label(self) -> String {
        match self {
            Key::Char(' ') => rust_i18n::t!("key.space").into_owned(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("Ctrl-{}", c.to_ascii_uppercase()),
            Key::Up => "↑".into(),
            Key::Down => "↓".into(),
            Key::Left => "←".into(),
            Key::Right => "→".into(),
            Key::Home => "Home".into(),
            Key::End => "End".into(),
            Key::Enter => "Enter".into(),
            Key::Esc => "Esc".into(),
            Key::Digits => "1-9".into(),
        }
    }

    /// The action this key gives for `binding`, if `event` is this key.
    fn matches(self, event: &KeyEvent, action: Action) -> Option<Action> {
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        let alt = event.modifiers.contains(KeyModifiers::ALT);
        let hit = match (self, event.code) {
            // Shift is part of the character itself ('Z', '+', '?'), so it is not checked.
            (Key::Char(k), KeyCode::Char(c)) => !ctrl && !alt && k == c,
            (Key::Ctrl(k), KeyCode::Char(c)) => ctrl && k.eq_ignore_ascii_case(&c),
            (Key::Up, KeyCode::Up)
            | (Key::Down, KeyCode::Down)
            | (Key::Left, KeyCode::Left)
            | (Key::Right, KeyCode::Right)
            | (Key::Home, KeyCode::Home)
            | (Key::End, KeyCode::End)
            | (Key::Enter, KeyCode::Enter)
            | (Key::Esc, KeyCode::Esc) => true,
            (Key::Digits, KeyCode::Char(c @ '1'..='9')) if !ctrl && !alt => {
                return Some(Action::Select(c as u8 - b'1'));
            }
            _ => false,
        };
        hit.then_some(action)
    }
}

pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    /// Names its words in the message files: `key.ID.hint`, a word or two for the footer, and
    /// `key.ID.help`, a sentence for the help overlay.
    pub id: &'static str,
    pub contexts: &'static [Context],
    /// Whether the footer shows it (the rest only in the help overlay).
    pub footer: Footer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Footer {
    No,
    Yes,
    /// Shown with these keys instead, for a pair of rows that is one idea (←/→).
    As(&'static str),
}

impl Binding {
    /// A word or two for the footer, in the current language.
    pub fn hint(&self) -> String {
        crate::i18n::text(&format!("key.{}.hint", self.id))
    }

    /// A sentence for the help overlay, in the current language.
    pub fn help(&self) -> String {
        crate::i18n::text(&format!("key.{}.help", self.id))
    }

    /// The footer's words on `context`'s screen: comparing, a key that reaches both runs says
    /// so (`compare.key.ID.hint`), and a replay says what the key does to a recording
    /// (`screen.replay_keys.ID.hint`), where its meaning changes.
    pub fn hint_in(&self, context: Context) -> String {
        in_context(context, self.id, "hint").unwrap_or_else(|| self.hint())
    }

    /// The help overlay's sentence on `context`'s screen (see [`Binding::hint_in`]).
    pub fn help_in(&self, context: Context) -> String {
        in_context(context, self.id, "help").unwrap_or_else(|| self.help())
    }

    pub fn keys_label(&self) -> String {
        self.keys
            .iter()
            .map(|k| k.label())
            .collect::<Vec<_>>()
            .join("/")
    }
}

const MENU: &[Context] = &[Context::Menu];
/// One run, live or replayed.
const RUN: &[Context] = &[Context::Run, Context::Replay];
/// Only a live run: what changes how threads go on has nothing to change in a recording.
const LIVE: &[Context] = &[Context::Run];
/// Any run: one, live or replayed, and the two runs compared, where a key reaches both.
const RUNS: &[Context] = &[Context::Run, Context::Replay, Context::Compare];
/// A live run, one or two compared.
const LIVE_RUNS: &[Context] = &[Context::Run, Context::Compare];
/// Every screen.
const BOTH: &[Context] = &[
    Context::Menu,
    Context::Run,
    Context::Replay,
    Context::Compare,
];

/// The table, in the order the footer and the help overlay list it.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Up, Key::Char('k')],
        action: Action::Up,
        id: "menu_up",
        contexts: MENU,
        footer: Footer::As("↑/↓"),
    },
    Binding {
        keys: &[Key::Down, Key::Char('j')],
        action: Action::Down,
        id: "menu_down",
        contexts: MENU,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Home],
        action: Action::First,
        id: "menu_first",
        contexts: MENU,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::End],
        action: Action::Last,
        id: "menu_last",
        contexts: MENU,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Enter],
        action: Action::Open,
        id: "open",
        contexts: MENU,
        footer: Footer::Yes,
    },
    Binding {
        keys: &[Key::Char('p')],
        action: Action::OpenPaused,
        id: "open_paused",
        contexts: MENU,
        footer: Footer::Yes,
    },
    Binding {
        keys: &[Key::Char('c')],
        action: Action::CompareWith,
        id: "compare_with",
        contexts: MENU,
        // The footer of an 80-column menu has no room left for it: the help lists it.
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char(' ')],
        action: Action::PauseResume,
        id: "pause",
        contexts: RUNS,
        footer: Footer::Yes,
    },
    Binding {
        keys: &[Key::Char('n')],
        action: Action::StepSelected,
        id: "step",
        contexts: RUN,
        footer: Footer::Yes,
    },
    Binding {
        keys: &[Key::Char('r')],
        action: Action::Restart,
        id: "restart",
        contexts: RUNS,
        footer: Footer::Yes,
    },
    Binding {
        keys: &[Key::Char('s')],
        action: Action::StepNext,
        id: "step_next",
        contexts: RUNS,
        footer: Footer::Yes,
    },
    Binding {
        keys: &[Key::Char('e')],
        action: Action::StepEvent,
        id: "step_event",
        contexts: LIVE_RUNS,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char('b')],
        action: Action::Break,
        id: "break",
        contexts: LIVE,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char('Q')],
        action: Action::Quiz,
        id: "quiz",
        contexts: LIVE,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Up, Key::Char('k')],
        action: Action::Up,
        id: "run_up",
        contexts: RUN,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Down, Key::Char('j')],
        action: Action::Down,
        id: "run_down",
        contexts: RUN,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Digits],
        action: Action::Select(0),
        id: "select",
        contexts: RUN,
        footer: Footer::Yes,
    },
    Binding {
        keys: &[Key::Left],
        action: Action::HistoryBack,
        id: "history_back",
        contexts: RUNS,
        footer: Footer::As("←/→"),
    },
    Binding {
        keys: &[Key::Right],
        action: Action::HistoryForward,
        id: "history_forward",
        contexts: RUNS,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Home],
        action: Action::HistoryStart,
        id: "history_start",
        contexts: RUNS,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::End],
        action: Action::HistoryEnd,
        id: "history_end",
        contexts: RUNS,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char('+'), Key::Char('=')],
        action: Action::Faster,
        id: "faster",
        contexts: RUNS,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char('-'), Key::Char('_')],
        action: Action::Slower,
        id: "slower",
        contexts: RUNS,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char('z')],
        action: Action::ZoomIn,
        id: "zoom_in",
        contexts: RUNS,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char('Z')],
        action: Action::ZoomOut,
        id: "zoom_out",
        contexts: RUNS,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char('f')],
        action: Action::Fit,
        id: "fit",
        contexts: RUNS,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char('o')],
        action: Action::Fold,
        id: "fold",
        contexts: RUN,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char('y')],
        action: Action::Twin,
        id: "twin",
        contexts: RUN,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char('t')],
        action: Action::Theme,
        id: "theme",
        contexts: BOTH,
        footer: Footer::No,
    },
    Binding {
        keys: &[Key::Char('l')],
        action: Action::Language,
        id: "language",
        contexts: BOTH,
        footer: Footer::Yes,
    },
    Binding {
        keys: &[Key::Esc],
        action: Action::Back,
        id: "back",
        contexts: RUNS,
        footer: Footer::Yes,
    },
    Binding {
        keys: &[Key::Char('?')],
        action: Action::Help,
        id: "help",
        contexts: BOTH,
        footer: Footer::Yes,
    },
    Binding {
        keys: &[Key::Char('q'), Key::Ctrl('c')],
        action: Action::Quit,
        id: "quit",
        contexts: BOTH,
        footer: Footer::Yes,
    },
];

/// The words `compare.key.ID.WHAT` give a key on the compare screen, if they differ from the
/// run view's.
fn in_context(context: Context, id: &str, what: &str) -> Option<String> {
    let key = match context {
        Context::Compare => format!("compare.key.{id}.{what}"),
        Context::Replay => format!("screen.replay_keys.{id}.{what}"),
        Context::Menu | Context::Run => return None,
    };
    let text = crate::i18n::text(&key);
    (text != key).then_some(text)
}

/// The action a key press asks for on this screen, if any.
pub fn action_for(event: &KeyEvent, context: Context) -> Option<Action> {
    if event.kind != KeyEventKind::Press {
        return None;
    }
    BINDINGS
        .iter()
        .filter(|b| b.contexts.contains(&context))
        .find_map(|b| b.keys.iter().find_map(|k| k.matches(event, b.action)))
}

/// The bindings of a screen, in table order.
pub fn bindings(context: Context) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| b.contexts.contains(&context))
}

/// The footer's hints for a screen: (keys, hint).
pub fn footer_hints(context: Context) -> Vec<(String, String)> {
    bindings(context)
        .filter_map(|b| match b.footer {
            Footer::No => None,
            Footer::Yes => Some((b.keys_label(), b.hint_in(context))),
            Footer::As(keys) => Some((keys.to_string(), b.hint_in(context))),
        })
        .collect()
}

/// Bindings the help overlay shows as one row: one idea in two directions, said by the
/// first's `key.ID.pair` sentence. Keeps the whole help on an 80x24 screen.
const HELP_PAIRS: &[(&str, &str)] = &[
    ("menu_up", "menu_down"),
    ("menu_first", "menu_last"),
    ("run_up", "run_down"),
    ("history_back", "history_forward"),
    ("history_start", "history_end"),
    ("faster", "slower"),
    ("zoom_in", "zoom_out"),
];

/// The help overlay's lines for a screen: (keys, help).
pub fn help_lines(context: Context) -> Vec<(String, String)> {
    let shown: Vec<&Binding> = bindings(context).collect();
    let has = |id: &str| shown.iter().any(|b| b.id == id);
    shown
        .iter()
        .filter(|b| !HELP_PAIRS.iter().any(|(a, z)| *z == b.id && has(a)))
        .map(
            |b| match HELP_PAIRS.iter().find(|(a, z)| *a == b.id && has(z)) {
                Some((_, z)) => {
                    let second = shown.iter().find(|s| s.id == *z).expect("has");
                    (
                        format!("{} {}", b.keys_label(), second.keys_label()),
                        in_context(context, b.id, "pair")
                            .unwrap_or_else(|| crate::i18n::text(&format!("key.{}.pair", b.id))),
                    )
                }
                None => (b.keys_label(), b.help_in(context)),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    const ALL: [Action; 31] = [
        Action::Quit,
        Action::Back,
        Action::Help,
        Action::Up,
        Action::Down,
        Action::First,
        Action::Last,
        Action::Open,
        Action::OpenPaused,
        Action::Fit,
        Action::Select(0),
        Action::PauseResume,
        Action::StepSelected,
        Action::StepNext,
        Action::StepEvent,
        Action::Break,
        Action::Quiz,
        Action::Faster,
        Action::Slower,
        Action::Restart,
        Action::HistoryBack,
        Action::HistoryForward,
        Action::HistoryStart,
        Action::HistoryEnd,
        Action::ZoomIn,
        Action::ZoomOut,
        Action::Theme,
        Action::Language,
        Action::Twin,
        Action::Fold,
        Action::CompareWith,
    ];

    #[test]
    fn every_action_has_a_key_and_a_help_line() {
        for a in ALL {
            let b = BINDINGS
                .iter()
                .find(|b| b.action == a)
                .unwrap_or_else(|| panic!("{a:?} has no binding"));
            assert!(!b.keys.is_empty(), "{a:?}");
            assert!(!b.help().is_empty() && !b.hint().is_empty(), "{a:?}");
        }
    }

    #[test]
    fn every_binding_is_reachable_from_its_keys() {
        for b in BINDINGS {
            for ctx in b.contexts {
                for k in b.keys {
                    let ev = match *k {
                        Key::Char(c) => press(KeyCode::Char(c)),
                        Key::Ctrl(c) => KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL),
                        Key::Up => press(KeyCode::Up),
                        Key::Down => press(KeyCode::Down),
                        Key::Left => press(KeyCode::Left),
                        Key::Right => press(KeyCode::Right),
                        Key::Home => press(KeyCode::Home),
                        Key::End => press(KeyCode::End),
                        Key::Enter => press(KeyCode::Enter),
                        Key::Esc => press(KeyCode::Esc),
                        Key::Digits => press(KeyCode::Char('1')),
                    };
                    assert_eq!(action_for(&ev, *ctx), Some(b.action), "{k:?} in {ctx:?}");
                }
            }
        }
    }

    #[test]
    fn no_key_means_two_things_on_one_screen() {
        for ctx in [Context::Menu, Context::Run, Context::Compare] {
            let mut seen: Vec<Key> = Vec::new();
            for b in bindings(ctx) {
                for k in b.keys {
                    assert!(!seen.contains(k), "{k:?} bound twice in {ctx:?}");
                    seen.push(*k);
                }
            }
        }
    }

    #[test]
    fn keys_map_to_actions() {
        let run = Context::Run;
        assert_eq!(
            action_for(&press(KeyCode::Char(' ')), run),
            Some(Action::PauseResume)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('n')), run),
            Some(Action::StepSelected)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('3')), run),
            Some(Action::Select(2))
        );
        assert_eq!(action_for(&press(KeyCode::Char('0')), run), None);
        assert_eq!(
            action_for(&KeyEvent::new(KeyCode::Char('Z'), KeyModifiers::SHIFT), run),
            Some(Action::ZoomOut)
        );
        assert_eq!(
            action_for(
                &KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                run
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(
                &KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                Context::Menu
            ),
            Some(Action::Quit)
        );
        // Plain 'c' is not Ctrl-C.
        assert_eq!(action_for(&press(KeyCode::Char('c')), run), None);
        assert_eq!(
            action_for(&press(KeyCode::Down), Context::Menu),
            Some(Action::Down)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('k')), Context::Menu),
            Some(Action::Up)
        );
        assert_eq!(
            action_for(&press(KeyCode::Enter), Context::Menu),
            Some(Action::Open)
        );
        assert_eq!(action_for(&press(KeyCode::Char(' ')), Context::Menu), None);
    }

    #[test]
    fn releases_are_ignored() {
        let mut ev = press(KeyCode::Char('q'));
        ev.kind = KeyEventKind::Release;
        assert_eq!(action_for(&ev, Context::Run), None);
    }

    #[test]
    fn the_readme_key_table_lists_every_key() {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("| key | does |")
            .nth(1)
            .expect("README has a key table");
        let keys: Vec<String> = table
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.split('|').nth(1))
            .flat_map(|cell| {
                cell.split([',', '/', ' '])
                    .map(|k| k.trim().replace('–', "-"))
                    .collect::<Vec<_>>()
            })
            .filter(|k| !k.is_empty())
            .collect();
        for b in BINDINGS {
            for k in b.keys {
                let label = k.label();
                assert!(
                    keys.contains(&label),
                    "README's key table does not list {label} ({})",
                    b.help()
                );
            }
        }
    }

    #[test]
    fn footer_and_help_come_from_the_table() {
        let footer = footer_hints(Context::Run);
        assert!(footer.iter().any(|(k, h)| k == "space" && h == "pause/run"));
        assert!(footer.iter().any(|(k, _)| k == "q/Ctrl-C"));
        // Every binding is in the help: on a row of its own, or in its pair's row, with both
        // keys of the pair.
        let help = help_lines(Context::Run);
        let paired = HELP_PAIRS
            .iter()
            .filter(|(a, _)| bindings(Context::Run).any(|b| b.id == *a));
        assert_eq!(help.len(), bindings(Context::Run).count() - paired.count());
        for b in bindings(Context::Run) {
            let own = help.iter().any(|(_, h)| *h == b.help());
            let in_pair = HELP_PAIRS.iter().any(|(a, z)| {
                (b.id == *a || b.id == *z)
                    && help.iter().any(|(k, h)| {
                        *h == crate::i18n::text(&format!("key.{a}.pair"))
                            && k.contains(&b.keys_label())
                    })
            });
            assert!(own || in_pair, "{} is not in the help", b.id);
        }
    }
}

//! The language a person reads: Simplified Chinese or English. Every word on a screen, in a
//! text summary or in `list` comes from `locales/<lang>.yml` through `rust_i18n::t!`; what
//! machines read (`--json`, `--events`, recordings, traces) never goes through here, so it is
//! the same in every language.
//!
//! The language is one process-wide setting: the TUI switches it with a key, and every panel
//! reads it when it draws.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// Every language, by the code `--lang` takes.
    pub const CODES: [&'static str; 2] = ["zh", "en"];

    /// The language with this code (`zh`, `en`).
    pub fn from_code(code: &str) -> Option<Lang> {
        [Lang::En, Lang::Zh].into_iter().find(|l| l.code() == code)
    }

    /// The locale name the message files use.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The language the environment asks for, the way POSIX ranks the variables: the first of
    /// `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and not empty decides, and only `zh…` means
    /// Chinese.
    pub fn from_env() -> Lang {
        Lang::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Lang::from_env`] over any source of variables, so the ranking can be tested without
    /// touching the process environment.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Lang {
        let chosen = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .into_iter()
            .filter_map(var)
            .find(|value| !value.is_empty());
        match chosen {
            Some(value) if value.starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    /// The other language, for the TUI's switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }
}

/// Makes `lang` the language of everything shown from now on.
pub fn set(lang: Lang) {
    rust_i18n::set_locale(lang.code());
}

/// The language everything is shown in now.
pub fn current() -> Lang {
    if &*rust_i18n::locale() == "zh" {
        Lang::Zh
    } else {
        Lang::En
    }
}

/// The message `key` in the current language, for keys built at run time (a state's name, a
/// binding's id). Literal keys use `rust_i18n::t!` directly.
pub fn text(key: &str) -> String {
    rust_i18n::t!(key).into_owned()
}

/// The message `key` in the current language, or `fallback` where the message files have no
/// such key (a resource kind added to the language before its words were written).
pub fn text_or(key: &str, fallback: &str) -> String {
    let text = text(key);
    if text == key {
        fallback.to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_first_set_variable_decides() {
        assert_eq!(Lang::from_vars(env(&[])), Lang::En);
        assert_eq!(Lang::from_vars(env(&[("LANG", "zh_CN.UTF-8")])), Lang::Zh);
        assert_eq!(
            Lang::from_vars(env(&[("LC_ALL", "C"), ("LANG", "zh_CN.UTF-8")])),
            Lang::En
        );
        assert_eq!(
            Lang::from_vars(env(&[("LC_MESSAGES", "zh_TW"), ("LANG", "en_US")])),
            Lang::Zh
        );
        // An empty variable counts as unset.
        assert_eq!(
            Lang::from_vars(env(&[("LC_ALL", ""), ("LANG", "zh_CN")])),
            Lang::Zh
        );
        assert_eq!(Lang::from_vars(env(&[("LANG", "en_GB.UTF-8")])), Lang::En);
    }
}

//! Durations as a teacher writes them: `250ms`, `1.5s`, `2m`, `800us`.

use rust_i18n::t;
use std::time::Duration;

/// The longest duration threadlab reads anywhere (`--for`, a recording's run time): a day.
pub const MAX_RUN: Duration = Duration::from_secs(24 * 3600);

/// Parses a duration with a unit. Returns a message fit for a diagnostic's help line on error.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(t!("classroom.parse.is_not_a_duration_write", text = text).into_owned());
    }
    let value: f64 = number
        .parse()
        .map_err(|_| t!("classroom.parse.is_not_a_number", number = number).into_owned())?;
    let scale = match unit.trim() {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "" => {
            return Err(t!("classroom.parse.has_no_unit_write_ms", text = text).into_owned());
        }
        other => {
            return Err(t!("classroom.parse.unknown_unit_use_us_ms", other = other).into_owned());
        }
    };
    let seconds = value * scale;
    if !seconds.is_finite() || seconds > MAX_RUN.as_secs_f64() {
        return Err(t!("classroom.parse.is_too_long", text = text).into_owned());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The shortest faithful way to write a duration back: `100ms`, `1.5s`, `800us`.
pub fn format(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        "0ms".to_string()
    } else if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us >= 1_000_000 {
        format!("{}s", trim(us as f64 / 1e6))
    } else if us.is_multiple_of(1_000) {
        format!("{}ms", us / 1_000)
    } else if us >= 1_000 {
        format!("{}ms", trim(us as f64 / 1e3))
    } else {
        format!("{us}us")
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("800us"), Ok(Duration::from_micros(800)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
    }

    #[test]
    fn rejects_nonsense_with_a_hint() {
        assert!(parse("100").unwrap_err().contains("no unit"));
        assert!(parse("ms").unwrap_err().contains("not a duration"));
        assert!(parse("5 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("1e300s").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for text in ["100ms", "1.5s", "800us", "2s", "1.25ms"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
    }
}

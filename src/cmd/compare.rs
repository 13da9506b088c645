//! `threadlab compare A B`: two scenarios at once, one above the other on one time axis,
//! driven together; headless, both outcomes side by side.

use std::io::IsTerminal;
use std::sync::Arc;

use super::cli::CompareArgs;
use crate::cells;
use crate::console::errln;
use crate::error::Error;
use crate::headless::{self, Report, RunPlan};
use crate::scenario::{self, model::Scenario};
use crate::ui::theme::Theme;
use crate::vocab::outcome::Exit;

pub fn run(args: &CompareArgs, theme: Theme) -> Result<Exit, Error> {
    // Each is resolved exactly as `run` resolves it, with the same errors, before either runs.
    let first = Arc::new(scenario::load(&args.first)?);
    let second = Arc::new(scenario::load(&args.second)?);
    let plan = |name: &str| RunPlan {
        scenario: name.to_string(),
        speed: args.speed,
        ..RunPlan::default()
    };
    let plans = [plan(&args.first), plan(&args.second)];
    if args.headless || !std::io::stdout().is_terminal() {
        return headless_pair([first, second], &plans, args.json);
    }
    crate::ui::run_compare([first, second], &plans, theme, args.paused)
}

/// Both runs headless, one after the other so neither takes the other's cores, then both
/// reports side by side. The outcomes are what is compared, so any pair of them is a success.
fn headless_pair(
    scenarios: [Arc<Scenario>; 2],
    plans: &[RunPlan; 2],
    json: bool,
) -> Result<Exit, Error> {
    let mut reports = Vec::new();
    for (scenario, plan) in scenarios.into_iter().zip(plans) {
        reports.push(headless::execute(scenario, plan)?);
    }
    for w in reports.iter().flat_map(|r| &r.warnings) {
        errln(&rust_i18n::t!("classroom.warning.line", what = w));
    }
    let out = if json {
        let runs: Vec<&crate::trace::summary::Summary> =
            reports.iter().map(|r| &r.summary).collect();
        serde_json::to_string(&serde_json::json!({ "runs": runs })).map_err(|e| {
            Error::internal(
                "summary",
                format!("could not write the summaries as JSON: {e}"),
            )
        })? + "\n"
    } else {
        side_by_side(&reports, plans)
    };
    crate::console::out(&out);
    Ok(Exit::Success)
}

/// A table of the two runs: their names, titles, outcomes and who is left stuck.
fn side_by_side(reports: &[Report], plans: &[RunPlan; 2]) -> String {
    let lang = crate::i18n::current();
    let column = |r: &Report, plan: &RunPlan, i: usize| -> Vec<String> {
        let scenario = r.trace.scenario();
        let outcome = crate::trace::text::outcome_words(Some(r.outcome), r.end_ns);
        let cycle = r.summary.deadlock.as_ref().map_or_else(
            || rust_i18n::t!("compare.headless.none").into_owned(),
            |d| d.deadlock(scenario).words(lang, scenario),
        );
        let failed = r
            .summary
            .threads
            .iter()
            .filter_map(|t| Some(format!("{}: {}", t.name, t.failure.as_ref()?)))
            .collect::<Vec<_>>();
        let failed = if failed.is_empty() {
            rust_i18n::t!("compare.headless.none").into_owned()
        } else {
            failed.join("; ")
        };
        vec![
            format!("{} {}", i + 1, plan.scenario),
            scenario.shown_title().to_string(),
            outcome,
            cycle,
            failed,
        ]
    };
    let heads = ["", "title", "outcome", "cycle", "failed"].map(|h| {
        if h.is_empty() {
            String::new()
        } else {
            crate::i18n::text(&format!("compare.headless.{h}"))
        }
    });
    let columns: Vec<Vec<String>> = reports
        .iter()
        .zip(plans)
        .enumerate()
        .map(|(i, (r, p))| column(r, p, i))
        .collect();
    let head_w = heads.iter().map(|h| cells::width(h)).max().unwrap_or(0) + 2;
    let left_w = columns[0]
        .iter()
        .map(|c| cells::width(c))
        .max()
        .unwrap_or(0)
        + 3;
    let mut out = String::new();
    for (row, head) in heads.iter().enumerate() {
        let line = format!(
            "{}{}{}",
            cells::pad(head, head_w),
            cells::pad(&columns[0][row], left_w),
            columns[1][row]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

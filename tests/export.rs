//! Exports: the Trace Event Format document's structure (units, ordering, nesting per track,
//! flows), the SVG picture, and the CLI conventions that come with them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use threadlab::headless::RunPlan;
use threadlab::trace::export::{chrome, svg};
use threadlab::vocab::recording::Recording;

fn recording(name: &str, schedule: &[&str]) -> Recording {
    let scenario = Arc::new(threadlab::scenario::load(name).expect("built-in loads"));
    let args = RunPlan {
        scenario: name.into(),
        // A bound against a hang only: a loaded machine stretches a CPU-bound lesson many times.
        for_: Some(Duration::from_secs(600)),
        schedule: schedule.iter().map(|s| s.to_string()).collect(),
        speed: 4.0,
        events: None,
        ..RunPlan::default()
    };
    let report = threadlab::headless::execute(scenario, &args).expect("runs");
    Recording::from_report(&report, 4.0).expect("records")
}

fn temp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("threadlab-export-{}-{tag}", std::process::id()))
}

/// Checks everything Perfetto and chrome://tracing rely on; returns the number of flows.
fn check_chrome(rec: &Recording) -> usize {
    let doc: Value = serde_json::from_str(&chrome::to_string(rec)).expect("valid JSON");
    let events = doc["traceEvents"].as_array().expect("traceEvents array");
    let end_us = doc["otherData"]["run_time_us"].as_u64().expect("run time");
    assert_eq!(end_us, rec.end_ns / 1_000, "units are microseconds");

    // Every track is named, and named once.
    let mut names: HashMap<u64, String> = HashMap::new();
    for e in events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
    {
        let tid = e["tid"].as_u64().expect("tid");
        let name = e["args"]["name"].as_str().expect("name").to_string();
        assert!(names.insert(tid, name).is_none(), "tid {tid} named twice");
    }
    assert_eq!(names.len(), rec.scenario.threads.len());
    for (i, t) in rec.scenario.threads.iter().enumerate() {
        assert_eq!(names[&(i as u64 + 1)], t.name);
    }

    // Timed events: integer microseconds within the run, in time order.
    let timed: Vec<&Value> = events.iter().filter(|e| e["ph"] != "M").collect();
    let mut last = 0;
    for e in &timed {
        let ts = e["ts"]
            .as_u64()
            .unwrap_or_else(|| panic!("ts is whole µs: {e}"));
        assert!(ts <= end_us, "{e} after the end ({end_us})");
        assert!(ts >= last, "out of order: {e}");
        last = ts;
        assert_eq!(e["pid"], 1);
    }

    // Complete events nest properly on each track: never a partial overlap.
    let mut by_tid: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
    for e in timed.iter().filter(|e| e["ph"] == "X") {
        let tid = e["tid"].as_u64().expect("tid");
        assert!(names.contains_key(&tid), "X event on an unnamed track: {e}");
        let ts = e["ts"].as_u64().unwrap();
        let dur = e["dur"].as_u64().expect("dur is whole µs");
        assert!(dur > 0, "empty slice: {e}");
        assert!(ts + dur <= end_us, "{e} runs past the end");
        by_tid.entry(tid).or_default().push((ts, ts + dur));
    }
    assert_eq!(
        by_tid.len(),
        rec.scenario.threads.len(),
        "every thread has a track"
    );
    for (tid, mut slices) in by_tid {
        slices.sort_by_key(|&(a, b)| (a, std::cmp::Reverse(b)));
        let mut stack: Vec<(u64, u64)> = Vec::new();
        let mut depth1_end = 0;
        for (a, b) in slices {
            while stack.last().is_some_and(|&(_, end)| end <= a) {
                stack.pop();
            }
            if let Some(&(pa, pb)) = stack.last() {
                assert!(
                    pa <= a && b <= pb,
                    "tid {tid}: [{a},{b}) overlaps [{pa},{pb}) without nesting"
                );
            }
            if stack.len() == 1 {
                assert!(a >= depth1_end, "tid {tid}: sibling state slices overlap");
                depth1_end = b;
            }
            stack.push((a, b));
        }
    }

    // Counters: one track per resource, numeric values.
    for r in &rec.scenario.resources {
        let name = format!("{} ({})", r.name, r.keyword());
        let counters: Vec<_> = timed
            .iter()
            .filter(|e| e["ph"] == "C" && e["name"] == name.as_str())
            .collect();
        assert!(!counters.is_empty(), "no counter for {name}");
        for c in counters {
            for v in c["args"].as_object().expect("args").values() {
                assert!(v.is_u64(), "counter value {v} in {c}");
            }
        }
    }

    // Flows: every start has exactly one finish, later or at the same time, on another track.
    let mut starts: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut finishes: HashMap<u64, (u64, u64)> = HashMap::new();
    for e in &timed {
        let slot = match e["ph"].as_str() {
            Some("s") => &mut starts,
            Some("f") => {
                assert_eq!(e["bp"], "e", "a finish binds to its enclosing slice");
                &mut finishes
            }
            _ => continue,
        };
        let id = e["id"].as_u64().expect("flow id");
        let at = (e["ts"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        assert!(slot.insert(id, at).is_none(), "flow id {id} used twice");
    }
    assert_eq!(starts.len(), finishes.len());
    for (id, (ts, tid)) in &starts {
        let (fts, ftid) = finishes
            .get(id)
            .unwrap_or_else(|| panic!("flow {id} never finishes"));
        assert!(fts >= ts, "flow {id} goes back in time");
        assert_ne!(tid, ftid, "flow {id} wakes its own thread");
    }
    starts.len()
}

#[test]
fn chrome_export_of_a_deadlock() {
    let rec = recording("deadlock", &[]);
    check_chrome(&rec);
    let doc = chrome::to_value(&rec);
    let text = doc.to_string();
    assert!(text.contains("deadlock: "), "the deadlock is marked");
    assert!(text.contains("blocked on B"));
}

#[test]
fn chrome_export_has_wake_flows_for_a_buffer_and_a_semaphore() {
    for name in ["producer-consumer", "semaphore"] {
        let rec = recording(name, &[]);
        let flows = check_chrome(&rec);
        assert!(flows > 0, "{name}: someone was woken, so there are flows");
    }
}

#[test]
fn chrome_export_of_every_builtin_is_well_formed() {
    for b in threadlab::scenario::builtin::all() {
        if b.name.starts_with("gil") {
            // Long CPU-bound lessons; the GIL hand-offs are covered by the unit shape above.
            continue;
        }
        check_chrome(&recording(b.name, &[]));
    }
}

/// A tag-balance check: enough to know every element is closed and nested.
fn check_xml(text: &str) {
    assert!(text.starts_with("<svg "), "starts with the svg element");
    let mut stack: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let j = rest.find('>').expect("every tag closes");
        let tag = &rest[..j];
        rest = &rest[j + 1..];
        assert!(!tag.contains('<'), "a stray < inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().expect("tag name");
            stack.push(name.to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert!(!text.contains("& "), "unescaped ampersand");
}

#[test]
fn svg_has_title_lanes_axis_and_legend() {
    let rec = recording("deadlock", &[]);
    let text = svg::render(&rec);
    check_xml(&text);
    assert!(text.contains(&rec.scenario.title.replace('"', "&quot;")));
    for t in &rec.scenario.threads {
        assert!(text.contains(&format!(r#"class="lane" data-thread="{}""#, t.name)));
    }
    assert!(text.contains(r#"class="axis""#));
    assert!(text.contains(r#"class="legend""#));
    assert!(
        text.contains("blocked on lock"),
        "the legend names what appears"
    );
    assert!(
        text.contains("url(#p-blocked)"),
        "blocked lanes use their pattern"
    );
    assert!(text.contains(r#"<pattern id="p-blocked""#));
}

#[test]
fn svg_escapes_names() {
    let src = "title \"Fish & <chips>\"\nmutex A\nthread T1 { lock A\n unlock A }\n";
    let scenario = threadlab::scenario::parse_source("esc", "esc.kdl", src).expect("parses");
    let rec = Recording {
        scenario: Arc::new(scenario),
        events: Vec::new(),
        end_ns: 1_000,
        outcome: None,
        deadlock: None,
        failures: vec![None],
        dropped_events: 0,
        speed: 1.0,
    };
    let text = svg::render(&rec);
    check_xml(&text);
    assert!(text.contains("Fish &amp; &lt;chips&gt;"));
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_threadlab"))
}

#[test]
fn export_command_writes_chrome_and_svg_from_a_scenario_and_a_recording() {
    let rec_path = temp("rec.json");
    let out = bin()
        .args(["run", "deadlock", "--headless", "--speed", "4", "--record"])
        .arg(&rec_path)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for (input, format, file) in [
        ("deadlock", "chrome", temp("a.json")),
        (rec_path.to_str().unwrap(), "chrome", temp("b.json")),
        (rec_path.to_str().unwrap(), "svg", temp("c.svg")),
    ] {
        let out = bin()
            .args(["export", input, "--format", format, "--speed", "4", "-o"])
            .arg(&file)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "export {input} {format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&file).expect("written");
        if format == "chrome" {
            let doc: Value = serde_json::from_str(&text).expect("JSON");
            assert!(doc["traceEvents"].as_array().is_some_and(|a| !a.is_empty()));
        } else {
            check_xml(&text);
        }
        let _ = std::fs::remove_file(&file);
    }
    let _ = std::fs::remove_file(&rec_path);
}

#[test]
fn export_of_a_missing_scenario_is_a_usage_error() {
    let out = bin()
        .args(["export", "no-such-lesson", "--format", "svg", "-o"])
        .arg(temp("never.svg"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn version_completions_and_man_page() {
    let out = bin().arg("--version").output().expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));

    for shell in ["bash", "zsh", "fish"] {
        let out = bin().args(["completions", shell]).output().expect("runs");
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("threadlab") && text.contains("replay"),
            "{shell}"
        );
    }
    let out = bin().arg("man").output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(".ie") || text.contains(".TH"), "roff");
    assert!(text.contains("threadlab"));

    let out = bin().arg("--help").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Exit codes"));
    assert!(text.contains("NO_COLOR"));
    assert!(text.contains("threadlab export"));
}

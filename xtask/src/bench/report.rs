//! The bench's result: one row per figure, Berth beside the reference dockerd, written as `report.json` and
//! printed as a table. Every figure of [`FIGURES`] is always present: one that could not be measured has null
//! values and a note saying why, so the report's shape never depends on what worked.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::stats::Summary;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    Seconds,
    Megabytes,
    PerSecond,
}

impl Unit {
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Milliseconds => "ms",
            Unit::Seconds => "s",
            Unit::Megabytes => "MB",
            Unit::PerSecond => "/s",
        }
    }
}

/// What the project aims for on a figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Berth / dockerd at most this.
    RatioAtMost(f64),
    /// Berth's own value at most this, in the figure's unit.
    BerthAtMost(f64),
}

impl Target {
    fn describe(self, unit: Unit) -> String {
        match self {
            Target::RatioAtMost(ratio) => format!("ratio <= {ratio:.2}"),
            Target::BerthAtMost(value) => format!("berth <= {value} {}", unit.symbol()),
        }
    }
}

/// Every figure, in report order, with its unit and target.
pub const FIGURES: &[(&str, Unit, Option<Target>)] = &[
    ("run_rm_true_ms", Unit::Milliseconds, Some(Target::RatioAtMost(0.10))),
    ("run_d_20_s", Unit::Seconds, Some(Target::RatioAtMost(0.10))),
    ("rm_f_20_s", Unit::Seconds, None),
    ("idle_mem_per_container_mb", Unit::Megabytes, Some(Target::BerthAtMost(1.0))),
    ("ps_100_ms", Unit::Milliseconds, Some(Target::RatioAtMost(0.5))),
    ("ps_1000_ms", Unit::Milliseconds, Some(Target::BerthAtMost(30.0))),
    ("build_cold_s", Unit::Seconds, Some(Target::RatioAtMost(0.5))),
    ("build_cached_s", Unit::Seconds, Some(Target::RatioAtMost(1.0))),
    ("pull_200mb_s", Unit::Seconds, None),
    ("push_200mb_s", Unit::Seconds, None),
    ("start_in_process_ms", Unit::Milliseconds, None),
    ("unshare_floor_ms", Unit::Milliseconds, None),
    ("ws_echo_p99_ms", Unit::Milliseconds, None),
    ("layer_summary_10k_ms", Unit::Milliseconds, None),
    ("lint_1000_lines_ms", Unit::Milliseconds, None),
    ("run_rm_userns_ms", Unit::Milliseconds, None),
    ("daemon_restart_adopt_100_ms", Unit::Milliseconds, None),
    ("stats_100_containers_ms", Unit::Milliseconds, None),
    ("metrics_scrape_100_ms", Unit::Milliseconds, None),
    ("class_ps_p99_ms", Unit::Milliseconds, Some(Target::BerthAtMost(200.0))),
    ("class_join_to_shell_p99_ms", Unit::Milliseconds, Some(Target::BerthAtMost(200.0))),
    // Against a direct connection, not dockerd: targets (>= 0.8x direct, p99 overhead <= 0.2 ms) in the extras.
    ("route_rps", Unit::PerSecond, None),
    ("route_p99_ms", Unit::Milliseconds, None),
];

/// Which engine a value belongs to; names the JSON fields (`berth`, `dockerd_p95`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Berth,
    Dockerd,
}

impl Side {
    pub fn key(self) -> &'static str {
        match self {
            Side::Berth => "berth",
            Side::Dockerd => "dockerd",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: &'static str,
    pub unit: Unit,
    pub target: Option<Target>,
    pub berth: Option<f64>,
    pub dockerd: Option<f64>,
    /// Tail figures (`berth_p95`), run counts and other context, in insertion order.
    pub extra: Vec<(String, Value)>,
    /// Why a value is missing, or what to know when reading it.
    pub notes: Vec<String>,
}

impl Figure {
    fn new(name: &'static str, unit: Unit, target: Option<Target>) -> Figure {
        Figure { name, unit, target, berth: None, dockerd: None, extra: Vec::new(), notes: Vec::new() }
    }

    pub fn value(&self, side: Side) -> Option<f64> {
        match side {
            Side::Berth => self.berth,
            Side::Dockerd => self.dockerd,
        }
    }

    pub fn set(&mut self, side: Side, value: f64) {
        match side {
            Side::Berth => self.berth = Some(value),
            Side::Dockerd => self.dockerd = Some(value),
        }
    }

    /// The median as the value, the p95 and the run count beside it.
    pub fn set_summary(&mut self, side: Side, summary: Summary) {
        self.set(side, summary.median);
        self.add_extra(format!("{}_p95", side.key()), rounded(summary.p95));
        self.add_extra(format!("{}_runs", side.key()), summary.runs);
    }

    pub fn add_extra(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        match self.extra.iter_mut().find(|(existing, _)| *existing == key) {
            Some(slot) => slot.1 = value,
            None => self.extra.push((key, value)),
        }
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Berth / dockerd, when both were measured, Berth's is not negative and dockerd's is positive. (A negative
    /// value is a measurement swamped by noise, such as memory the rest of the machine freed meanwhile.)
    pub fn ratio(&self) -> Option<f64> {
        match (self.berth, self.dockerd) {
            (Some(berth), Some(dockerd)) if berth >= 0.0 && dockerd > 0.0 => Some(berth / dockerd),
            _ => None,
        }
    }

    /// None when there is no target or not enough to judge it (no value, or a negative one).
    pub fn target_met(&self) -> Option<bool> {
        match self.target? {
            Target::RatioAtMost(limit) => self.ratio().map(|ratio| ratio <= limit),
            Target::BerthAtMost(limit) => self.berth.filter(|&berth| berth >= 0.0).map(|berth| berth <= limit),
        }
    }

    /// The JSON fields in reading order: name, unit, the values, the ratio, the extras, target, note.
    fn fields(&self) -> Vec<(String, Value)> {
        let mut fields = vec![
            ("name".to_string(), json!(self.name)),
            ("unit".to_string(), json!(self.unit.symbol())),
            ("berth".to_string(), json!(self.berth.map(rounded))),
            ("dockerd".to_string(), json!(self.dockerd.map(rounded))),
            ("ratio".to_string(), json!(self.ratio().map(rounded))),
        ];
        fields.extend(self.extra.iter().cloned());
        if let Some(target) = self.target {
            fields.push(("target".into(), json!(target.describe(self.unit))));
            fields.push(("target_met".into(), json!(self.target_met())));
        }
        if !self.notes.is_empty() {
            fields.push(("note".into(), json!(self.notes.join("; "))));
        }
        fields
    }
}

/// Three decimals: finer than any of these measurements can be trusted, and short to read.
pub fn rounded(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub figures: Vec<Figure>,
}

impl Default for Report {
    fn default() -> Self {
        Report { figures: FIGURES.iter().map(|&(name, unit, target)| Figure::new(name, unit, target)).collect() }
    }
}

impl Report {
    /// The figure called `name`; panics on a name missing from [`FIGURES`], which is a bug in the bench.
    pub fn figure(&mut self, name: &str) -> &mut Figure {
        self.figures
            .iter_mut()
            .find(|figure| figure.name == name)
            .unwrap_or_else(|| panic!("{name} is not one of the bench figures"))
    }

    /// report.json: an array of figures, one field per line, each figure's fields in reading order (a
    /// serde_json map would sort them, putting "berth" before "name").
    pub fn to_json_text(&self) -> String {
        let figures: Vec<String> = self
            .figures
            .iter()
            .map(|figure| {
                let fields: Vec<String> =
                    figure.fields().iter().map(|(key, value)| format!("    {}: {value}", json!(key))).collect();
                format!("  {{\n{}\n  }}", fields.join(",\n"))
            })
            .collect();
        format!("[\n{}\n]\n", figures.join(",\n"))
    }

    /// A fixed-width table, then the notes numbered below it so that the rows stay one line each.
    pub fn table(&self) -> String {
        let header = ["figure", "unit", "berth (p95)", "dockerd (p95)", "ratio", "target", ""];
        let mut rows: Vec<[String; 7]> = Vec::new();
        let mut footnotes = Vec::new();
        for figure in &self.figures {
            let mut mark = String::new();
            if !figure.notes.is_empty() {
                footnotes.push(format!("[{}] {}: {}", footnotes.len() + 1, figure.name, figure.notes.join("; ")));
                mark = format!("[{}]", footnotes.len());
            }
            let verdict = match figure.target_met() {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            };
            let target = figure.target.map(|t| format!("{} {verdict}", t.describe(figure.unit))).unwrap_or_default();
            rows.push([
                figure.name.to_string(),
                figure.unit.symbol().to_string(),
                value_cell(figure, Side::Berth),
                value_cell(figure, Side::Dockerd),
                figure.ratio().map(|ratio| format!("{ratio:.2}")).unwrap_or_else(|| "-".into()),
                target.trim_end().to_string(),
                mark,
            ]);
        }
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let padded: Vec<String> = cells.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
            let _ = writeln!(out, "{}", padded.join("  ").trim_end());
        };
        line(&header.map(String::from));
        line(&widths.map(|width| "-".repeat(width)));
        for row in &rows {
            line(row);
        }
        for footnote in footnotes {
            let _ = writeln!(out, "{footnote}");
        }
        out
    }
}

/// `112 (130)`: the median with the p95 beside it when there is one; `-` when not measured.
fn value_cell(figure: &Figure, side: Side) -> String {
    let Some(value) = figure.value(side) else { return "-".into() };
    let p95_key = format!("{}_p95", side.key());
    let p95 = figure.extra.iter().find(|(key, _)| *key == p95_key).and_then(|(_, value)| value.as_f64());
    match p95 {
        Some(p95) => format!("{} ({})", human(value), human(p95)),
        None => human(value),
    }
}

/// Three significant digits or so: 1234 -> "1234", 56.78 -> "56.8", 0.1234 -> "0.123".
pub fn human(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::summarize;

    fn json(report: &Report) -> Value {
        serde_json::from_str(&report.to_json_text()).expect("report.json is JSON")
    }

    #[test]
    fn every_figure_is_present_with_null_values_when_unmeasured() {
        let report = json(&Report::default());
        let figures = report.as_array().unwrap();
        let names: Vec<&str> = figures.iter().map(|figure| figure["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "run_rm_true_ms",
                "run_d_20_s",
                "rm_f_20_s",
                "idle_mem_per_container_mb",
                "ps_100_ms",
                "ps_1000_ms",
                "build_cold_s",
                "build_cached_s",
                "pull_200mb_s",
                "push_200mb_s",
                "start_in_process_ms",
                "unshare_floor_ms",
                "ws_echo_p99_ms",
                "layer_summary_10k_ms",
                "lint_1000_lines_ms",
                "run_rm_userns_ms",
                "daemon_restart_adopt_100_ms",
                "stats_100_containers_ms",
                "metrics_scrape_100_ms",
                "class_ps_p99_ms",
                "class_join_to_shell_p99_ms",
                "route_rps",
                "route_p99_ms",
            ]
        );
        for figure in figures {
            for key in ["berth", "dockerd", "ratio"] {
                assert!(figure[key].is_null(), "{key} of {figure}");
            }
            assert!(["ms", "s", "MB", "/s"].contains(&figure["unit"].as_str().unwrap()));
        }
    }

    #[test]
    fn json_carries_values_ratio_tails_target_and_notes() {
        let mut report = Report::default();
        let figure = report.figure("run_rm_true_ms");
        figure.set_summary(Side::Berth, summarize(&[10.0, 12.0, 30.0]).unwrap());
        figure.set_summary(Side::Dockerd, summarize(&[100.0, 120.0, 300.0]).unwrap());
        let cold = report.figure("build_cold_s");
        cold.set(Side::Dockerd, 4.0);
        cold.note("berth: POST /build answered 404");

        let json = json(&report);
        let run = &json[0];
        assert_eq!(run["berth"], 12.0);
        assert_eq!(run["dockerd"], 120.0);
        assert_eq!(run["ratio"], 0.1);
        assert_eq!(run["berth_p95"], 30.0);
        assert_eq!(run["dockerd_runs"], 3);
        assert_eq!(run["target"], "ratio <= 0.10");
        assert_eq!(run["target_met"], true);
        assert!(run.get("note").is_none());

        let cold = &json[6];
        assert!(cold["berth"].is_null());
        assert!(cold["ratio"].is_null());
        assert!(cold["target_met"].is_null());
        assert_eq!(cold["note"], "berth: POST /build answered 404");
    }

    #[test]
    fn json_text_puts_the_name_first_and_escapes_notes() {
        let mut report = Report::default();
        report.figure("run_rm_true_ms").set_summary(Side::Berth, summarize(&[1.0, 2.0]).unwrap());
        report.figure("lint_1000_lines_ms").note("a \"quoted\" note");
        let text = report.to_json_text();
        assert_eq!(json(&report)[14]["note"], "a \"quoted\" note");
        assert!(
            text.starts_with("[\n  {\n    \"name\": \"run_rm_true_ms\",\n    \"unit\": \"ms\",\n    \"berth\": 1.5,")
        );
    }

    #[test]
    fn memory_target_is_on_berth_alone() {
        let mut report = Report::default();
        let memory = report.figure("idle_mem_per_container_mb");
        memory.set(Side::Berth, 1.5);
        assert_eq!(memory.target_met(), Some(false));
        memory.set(Side::Berth, 0.5);
        assert_eq!(memory.target_met(), Some(true));
    }

    #[test]
    fn negative_values_are_not_judged_or_compared() {
        let mut report = Report::default();
        let memory = report.figure("idle_mem_per_container_mb");
        memory.set(Side::Berth, -6.5);
        memory.set(Side::Dockerd, 7.0);
        assert_eq!(memory.target_met(), None);
        assert_eq!(memory.ratio(), None);
    }

    #[test]
    fn ratio_needs_a_nonzero_dockerd_value() {
        let mut report = Report::default();
        let figure = report.figure("ps_100_ms");
        figure.set(Side::Berth, 5.0);
        assert_eq!(figure.ratio(), None);
        figure.set(Side::Dockerd, 0.0);
        assert_eq!(figure.ratio(), None);
        figure.set(Side::Dockerd, 20.0);
        assert_eq!(figure.ratio(), Some(0.25));
    }

    #[test]
    fn table_rows_line_up_and_notes_become_footnotes() {
        let mut report = Report::default();
        let run = report.figure("run_rm_true_ms");
        run.set_summary(Side::Berth, summarize(&[150.0, 160.0, 170.0]).unwrap());
        run.set_summary(Side::Dockerd, summarize(&[350.0, 360.0, 400.0]).unwrap());
        report.figure("ws_echo_p99_ms").note("berth: no websocket endpoint yet");

        let table = report.table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("figure"));
        assert!(lines[1].starts_with("---"));
        let run_row = lines.iter().find(|line| line.starts_with("run_rm_true_ms")).unwrap();
        assert!(run_row.contains("160 (170)"), "{run_row}");
        assert!(run_row.contains("360 (400)"), "{run_row}");
        assert!(run_row.contains("0.44"), "{run_row}");
        assert!(run_row.contains("ratio <= 0.10 MISSED"), "{run_row}");
        let ws_row = lines.iter().find(|line| line.starts_with("ws_echo_p99_ms")).unwrap();
        assert!(ws_row.ends_with("[1]"), "{ws_row}");
        assert_eq!(lines.last().unwrap(), &"[1] ws_echo_p99_ms: berth: no websocket endpoint yet");
        // Every column starts at the same offset in every row: the header's second column lines up with the rows'.
        let unit_column = lines[0].find("unit").unwrap();
        assert_eq!(&run_row[unit_column..unit_column + 2], "ms");
        assert_eq!(lines.len(), 2 + FIGURES.len() + 1);
    }

    #[test]
    fn human_numbers_keep_about_three_digits() {
        assert_eq!(human(1234.4), "1234");
        assert_eq!(human(56.78), "56.8");
        assert_eq!(human(4.567), "4.57");
        assert_eq!(human(0.1234), "0.123");
    }
}

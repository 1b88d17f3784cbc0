//! Results: one row per measure, printed as a markdown table and written as JSON.

use std::path::Path;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::drive::Run;

/// Latency percentiles, in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// From a histogram in microseconds; `None` when it is empty.
    pub fn of(histogram: &Histogram<u64>) -> Option<Percentiles> {
        if histogram.is_empty() {
            return None;
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Some(Percentiles {
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        })
    }
}

/// One measure.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub measure: String,
    /// Requests answered (or events counted).
    pub count: u64,
    /// Answers that were not what correctness requires.
    pub unexpected: u64,
    pub seconds: f64,
    /// Answers per second, where throughput is the point of the measure.
    pub per_sec: Option<f64>,
    pub latency: Option<Percentiles>,
    /// Peak resident memory of the service process, kB.
    pub service_peak_rss_kb: Option<u64>,
    /// Cores the load generator kept busy (near 1 per runtime thread: it may be the
    /// bottleneck).
    pub client_cores: Option<f64>,
    /// Cores the service process kept busy meanwhile.
    pub service_cores: Option<f64>,
    pub note: String,
}

impl Row {
    /// A row for a run of requests.
    pub fn from_run(scenario: &str, measure: &str, run: &Run, throughput: bool) -> Row {
        let mut note = String::new();
        if let Some(first) = &run.first_unexpected {
            note = format!("first unexpected answer: {first}");
        }
        Row {
            scenario: scenario.to_owned(),
            measure: measure.to_owned(),
            count: run.count,
            unexpected: run.unexpected,
            seconds: run.elapsed.as_secs_f64(),
            per_sec: throughput.then(|| run.per_sec()),
            latency: Percentiles::of(&run.latency),
            service_peak_rss_kb: None,
            client_cores: run.client_cores,
            service_cores: None,
            note,
        }
    }

    /// A row with only a note and a figure, for derived measures (ratios, timings).
    pub fn figure(scenario: &str, measure: &str, note: String) -> Row {
        Row {
            scenario: scenario.to_owned(),
            measure: measure.to_owned(),
            count: 0,
            unexpected: 0,
            seconds: 0.0,
            per_sec: None,
            latency: None,
            service_peak_rss_kb: None,
            client_cores: None,
            service_cores: None,
            note,
        }
    }

    /// The same row with the service's peak RSS.
    pub fn rss(mut self, kb: Option<u64>) -> Row {
        self.service_peak_rss_kb = kb;
        self
    }

    /// The same row with the cores the service used meanwhile.
    pub fn service_cores(mut self, cores: Option<f64>) -> Row {
        self.service_cores = cores;
        self
    }

    /// The same row with more said in its note.
    pub fn note(mut self, more: &str) -> Row {
        if !self.note.is_empty() {
            self.note.push_str("; ");
        }
        self.note.push_str(more);
        self
    }
}

fn cell<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map(show).unwrap_or_else(|| "—".to_owned())
}

/// The table, one line per row.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | measure | n | bad | per s | p50 ms | p99 ms | p99.9 ms | max ms | RSS MB | cores (client/service) | note |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n",
    );
    for row in rows {
        let lat = row.latency.as_ref();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.scenario,
            row.measure,
            row.count,
            row.unexpected,
            cell(row.per_sec, |v| format!("{v:.0}")),
            cell(lat, |l| format!("{:.2}", l.p50_ms)),
            cell(lat, |l| format!("{:.2}", l.p99_ms)),
            cell(lat, |l| format!("{:.2}", l.p999_ms)),
            cell(lat, |l| format!("{:.2}", l.max_ms)),
            cell(row.service_peak_rss_kb, |kb| format!(
                "{:.1}",
                kb as f64 / 1024.0
            )),
            match (row.client_cores, row.service_cores) {
                (None, None) => "—".to_owned(),
                (client, service) => format!(
                    "{} / {}",
                    cell(client, |c| format!("{c:.2}")),
                    cell(service, |c| format!("{c:.2}"))
                ),
            },
            row.note.replace('|', "\\|"),
        ));
    }
    out
}

/// Writes the results and the run's context as JSON.
pub fn write_json(path: &Path, context: serde_json::Value, rows: &[Row]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let document = serde_json::json!({"context": context, "rows": rows});
    let text = serde_json::to_string_pretty(&document)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

//! Snapshot progress for the operator, from the checkpoints the source
//! yields (each carries where the snapshot stands): on a terminal a
//! progress bar per table (rows sent of the table's estimated rows, rate,
//! ETA), otherwise a log line per table every ten seconds. The estimate is
//! the planner's (`pg_class.reltuples`), so a bar may end short of or past
//! its length; a table without one gets a counter.

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use logtap_core::SnapshotProgress;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often a log line reports a table's progress when stderr is no terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// See the module documentation.
pub struct ProgressView {
    terminal: bool,
    table: Option<Table>,
    /// When this process first saw the running snapshot.
    snapshot_started: Option<Instant>,
}

/// The table being read.
struct Table {
    name: String,
    bar: Option<ProgressBar>,
    started: Instant,
    /// Rows already sent when this start first saw the table (a resumed
    /// snapshot): the rate counts only what this start sent.
    rows_at_start: u64,
    last_log: Instant,
}

impl Default for ProgressView {
    fn default() -> Self {
        ProgressView {
            terminal: std::io::stderr().is_terminal(),
            table: None,
            snapshot_started: None,
        }
    }
}

impl ProgressView {
    /// A checkpoint's snapshot progress (`None`: no snapshot, or finished).
    pub fn update(&mut self, progress: Option<&SnapshotProgress>) {
        let Some((p, name)) = progress.and_then(|p| Some((p, p.pending_tables.first()?))) else {
            self.finish_table();
            if let Some(started) = self.snapshot_started.take() {
                metrics::gauge!("logtap_snapshot_running").set(0.0);
                metrics::gauge!("logtap_snapshot_tables_remaining").set(0.0);
                metrics::gauge!("logtap_snapshot_duration_seconds")
                    .set(started.elapsed().as_secs_f64());
            }
            return;
        };
        let started = *self.snapshot_started.get_or_insert_with(Instant::now);
        metrics::gauge!("logtap_snapshot_running").set(1.0);
        metrics::gauge!("logtap_snapshot_tables_remaining").set(p.pending_tables.len() as f64);
        metrics::gauge!("logtap_snapshot_duration_seconds").set(started.elapsed().as_secs_f64());

        if self.table.as_ref().is_none_or(|t| &t.name != name) {
            self.finish_table();
            self.table = Some(self.start_table(name, p));
        }
        let Some(t) = &mut self.table else { return };
        let rows = p.rows_done;
        if let Some(bar) = &t.bar {
            if let Some(total) = p.estimated_rows {
                bar.set_length(total.max(rows));
            }
            bar.set_position(rows);
            return;
        }
        if t.last_log.elapsed() < LOG_EVERY {
            return;
        }
        t.last_log = Instant::now();
        let secs = t.started.elapsed().as_secs_f64().max(0.001);
        let rate = (rows.saturating_sub(t.rows_at_start)) as f64 / secs;
        let eta_s = p
            .estimated_rows
            .filter(|total| *total > rows && rate > 0.0)
            .map(|total| ((total - rows) as f64 / rate).round() as u64);
        tracing::info!(
            table = %name,
            rows,
            estimated = ?p.estimated_rows,
            rows_per_s = rate.round() as u64,
            eta_s = ?eta_s,
            tables_done = p.tables_done,
            tables_left = p.pending_tables.len(),
            "snapshot progress"
        );
    }

    fn start_table(&self, name: &str, p: &SnapshotProgress) -> Table {
        let bar = self.terminal.then(|| {
            let bar = match p.estimated_rows {
                Some(total) => ProgressBar::new(total),
                None => ProgressBar::no_length(),
            };
            let template = if p.estimated_rows.is_some() {
                "{prefix} [{bar:30}] {human_pos}/~{human_len} rows, {rate}, ETA {eta}"
            } else {
                "{prefix} {spinner} {human_pos} rows, {rate}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                let rate = |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0} rows/s", s.per_sec());
                };
                bar.set_style(style.progress_chars("=> ").with_key("rate", rate));
            }
            bar.set_prefix(name.to_string());
            bar.set_position(p.rows_done);
            bar.reset_eta();
            bar
        });
        Table {
            name: name.to_string(),
            bar,
            started: Instant::now(),
            rows_at_start: p.rows_done,
            last_log: Instant::now(),
        }
    }

    fn finish_table(&mut self) {
        if let Some(Table { bar: Some(bar), .. }) = self.table.take() {
            bar.finish();
        }
    }
}

//! A run, stage by stage: the plan of stages and what each needs, the lock on the output
//! folder, parallel execution of independent stages, timings, and the atomic publish.
//!
//! ```text
//! config ─► ingest+contracts (one stage per source, all in parallel)
//!        ─► checks ─► indicators:exclusion ┐
//!                     indicators:spending  ├─ in parallel ─► output:tables ─► output:charts
//!                     indicators:climate   ┘                ─► output:manifest ─► publish
//! ```
//!
//! - `execute`: the stages of one run, in order;
//! - `plan`: what would run and why (`cityimpact plan`), `incremental`: what may be reused;
//! - `custom`, `evaluation`, `index`: the stages of custom indicators, the evaluation and the
//!   index; `tables`: the output tables; `history`: `runs.parquet`;
//! - `lock`: one run per output folder; `rechart`: charts and report again from a folder;
//! - `memory`: freed memory given back to the system between stages;
//! - `error`: why a run stopped; `timer`: the stages' timings; `checks`: the data checks;
//!   `settings`: what the pipeline decides for the catalogue, the charts and the report;
//! - here: options, the run's entry point, its record in the history, and `cityimpact
//!   validate`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::catalogue;
use crate::config::{self, Pipeline};
use crate::indicators;
use crate::ingest;
use crate::output::manifest::{Manifest, OutputFile, SourceRows};
use crate::output::{self, InputFile, Provenance};

mod checks;
mod custom;
mod error;
mod evaluation;
mod execute;
mod history;
mod incremental;
mod index;
mod lock;
mod memory;
mod plan;
mod rechart;
mod settings;
mod tables;
mod timer;

use checks::check;
pub use error::RunError;
pub use lock::Lock;
pub use plan::{plan, Planned};
pub use rechart::{rechart, ChartOptions};
pub use settings::catalogue_settings;
pub(crate) use settings::index_names;
use settings::{area_names, chart_settings, source_note};
use timer::{stage_order, Timer};

/// The tool's version, as recorded in every output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides the pipeline's output folder.
    pub out: Option<PathBuf>,
    /// Recompute everything, whatever the last run did.
    pub force: bool,
    /// Wait this long for another run's lock instead of failing at once.
    pub wait: Option<std::time::Duration>,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    pub out: PathBuf,
    /// `published`, or `up-to-date` when nothing changed since the last good run.
    pub status: &'static str,
    /// The manifest of the published outputs (for `up-to-date`, the last good run's).
    pub manifest: serde_json::Value,
}

/// Progress messages, for the binary to show or not.
pub type Report<'a> = &'a (dyn Fn(&str) + Sync);

/// Runs a pipeline file end to end and publishes its outputs. Every run that got as far as
/// the lock leaves a row in the output folder's `runs.parquet`, failed ones included.
pub fn run(pipeline_file: &Path, options: &Options, report: Report) -> Result<Summary, RunError> {
    let started_at = chrono::Utc::now();
    let t = Instant::now();
    let pipeline = config::load(pipeline_file)?;
    let out = options.out.clone().unwrap_or_else(|| pipeline.out.clone());
    // Before the lock and the history touch anything: a user's own folder is never ours to swap.
    output::publish::check_replaceable(&out).map_err(|why| RunError::NotOurFolder {
        out: out.clone(),
        why,
    })?;
    let _lock = Lock::acquire_waiting(&out, options.wait)?;
    // What killed runs left beside the folder goes first, whether or not this run computes.
    if let Err(e) = output::publish::remove_stale(&out) {
        tracing::warn!(
            "could not remove a killed run's staging folder beside {}: {e}",
            out.display()
        );
    }
    let config_time = t.elapsed();
    let result = execute::execute(&pipeline, &out, options, report, started_at, config_time);
    if let Err(e) = &result {
        let status = match e {
            RunError::Checks { .. } => "checks-failed",
            _ => "failed",
        };
        let record = history::RunRecord {
            run_id: String::new(),
            started: started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            finished: now(),
            status: status.into(),
            exit_code: e.exit_code() as i32,
            rows_read: 0,
            rows_kept: 0,
            rows_rejected: 0,
            indicator_values: 0,
            inputs: "{}".into(),
            version: VERSION.into(),
            pipeline_blake3: pipeline.file_hash.clone(),
            message: Some(e.to_string()),
        };
        // The history is a courtesy to the scheduler; the run's own error matters more.
        // No inputs were hashed, or not all: the footer names the tool and the pipeline only.
        let fallback = Provenance::new(VERSION, &pipeline.name, &pipeline.file_hash, vec![]);
        if let Err(h) = history::append_in_place(&out, &record, None, &fallback.metadata()) {
            tracing::warn!("could not record the failed run in runs.parquet: {h}");
        }
    }
    result
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Writes the run history into the staging folder: the last good outputs' runs and this one.
fn write_history(
    out: &Path,
    dir: &Path,
    pipeline: &Pipeline,
    provenance: &Provenance,
    manifest: &Manifest,
    indicator_rows: usize,
) -> Result<(), RunError> {
    let totals = |f: fn(&SourceRows) -> usize| manifest.rows.iter().map(f).sum::<usize>() as i64;
    let record = history::RunRecord {
        run_id: provenance.run_id.clone(),
        started: manifest.started.clone(),
        finished: manifest.finished.clone(),
        status: "published".into(),
        exit_code: 0,
        rows_read: totals(|r| r.read),
        rows_kept: totals(|r| r.kept),
        rows_rejected: totals(|r| r.rejected),
        indicator_values: indicator_rows as i64,
        inputs: inputs_json(&manifest.inputs),
        version: VERSION.into(),
        pipeline_blake3: pipeline.file_hash.clone(),
        message: None,
    };
    let err = |source| RunError::Stage {
        stage: "output:history".into(),
        source,
    };
    let mut runs = history::appended(out, &record).map_err(err)?;
    history::write(dir, &mut runs, &provenance.metadata()).map_err(err)
}

/// A run whose inputs, pipeline file and tool version are the last good run's: it publishes
/// nothing, and says so in the run history.
fn up_to_date(
    pipeline: &Pipeline,
    out: &Path,
    provenance: &Provenance,
    inputs: &[InputFile],
    started_at: chrono::DateTime<chrono::Utc>,
    prev: &serde_json::Value,
) -> Result<Summary, RunError> {
    let record = history::RunRecord {
        run_id: provenance.run_id.clone(),
        started: started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished: now(),
        status: "up-to-date".into(),
        exit_code: 0,
        rows_read: 0,
        rows_kept: 0,
        rows_rejected: 0,
        indicator_values: 0,
        inputs: inputs_json(inputs),
        version: VERSION.into(),
        pipeline_blake3: pipeline.file_hash.clone(),
        message: Some("inputs, pipeline file and tool version unchanged".into()),
    };
    let metadata = provenance.metadata();
    history::append_in_place(out, &record, Some(&metadata), &metadata).map_err(|source| {
        RunError::Stage {
            stage: "history".into(),
            source,
        }
    })?;
    Ok(Summary {
        out: out.to_path_buf(),
        status: "up-to-date",
        manifest: prev.clone(),
    })
}

/// Size and BLAKE3 of output files (paths relative to `dir`), charts included.
pub(crate) fn hash_outputs(
    dir: &Path,
    mut files: Vec<(String, Option<usize>)>,
    charts: &[PathBuf],
) -> Result<Vec<OutputFile>, RunError> {
    for c in charts {
        if let Some(name) = c.file_name() {
            files.push((format!("charts/{}", name.to_string_lossy()), None));
        }
    }
    files
        .into_iter()
        .map(|(name, rows)| {
            let path = dir.join(&name);
            let (bytes, blake3) =
                output::hash_file(&path).map_err(|source| RunError::Write { path, source })?;
            Ok(OutputFile {
                path: name,
                bytes,
                blake3,
                rows,
            })
        })
        .collect()
}

/// One entry per file read (a glob gives several per source).
pub(crate) fn input_files(pipeline: &Pipeline, loaded: &[ingest::Loaded]) -> Vec<InputFile> {
    pipeline
        .sources
        .iter()
        .zip(loaded)
        .flat_map(|(s, l)| {
            l.files.iter().map(|f| InputFile {
                source: s.name.clone(),
                path: f.path.clone(),
                bytes: f.size(),
                blake3: f.blake3.clone(),
            })
        })
        .collect()
}

fn inputs_json(inputs: &[InputFile]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = inputs
        .iter()
        .map(|i| (i.path.clone(), serde_json::Value::from(i.blake3.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// `cityimpact validate`: the pipeline file, and every source's file and columns, without
/// computing anything. Returns one line per source.
pub fn validate(pipeline_file: &Path) -> Result<Vec<String>, RunError> {
    let pipeline = config::load(pipeline_file)?;
    let resolved = catalogue::Resolved::new(&catalogue_settings(&pipeline));
    indicators::custom::check(&pipeline, &resolved)?;
    let mut lines = Vec::new();
    for source in &pipeline.sources {
        // A full read proves more than the header would: the file parses, is valid in its
        // encoding, and has a column for every required role.
        let raw = ingest::read(source)?;
        lines.push(format!(
            "source {:<14} {:<12} {} ({} columns, {} rows; roles: {})",
            source.name,
            source.kind.as_str(),
            source.path,
            raw.header_len,
            raw.len(),
            raw.roles.join(", ")
        ));
    }
    Ok(lines)
}

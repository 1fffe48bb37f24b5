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
//! - here: errors, options, the run's entry point and `cityimpact validate`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;

use crate::catalogue::{self, Family};
use crate::charts::ChartError;
use crate::config::{self, ConfigError, Pipeline};
use crate::contracts::Table;
use crate::indicators;
use crate::ingest::{self, IngestError};
use crate::output::manifest::{Manifest, OutputFile, SourceRows, StageTiming};
use crate::output::{self, InputFile, Provenance};

mod custom;
mod evaluation;
mod execute;
mod history;
mod incremental;
mod index;
mod lock;
mod memory;
mod plan;
mod rechart;
mod tables;

pub use lock::Lock;
pub use plan::{plan, Planned};
pub use rechart::{rechart, ChartOptions};

/// The tool's version, as recorded in every output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a run stopped. Each variant maps to one exit code of the output contract.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("another run holds the lock on {}: {holder}", out.display())]
    Locked { out: PathBuf, holder: String },
    #[error("data checks failed; outputs were not published:\n{}", failures.join("\n"))]
    Checks { failures: Vec<String> },
    #[error("stage {stage} failed: {source}")]
    Stage {
        stage: String,
        #[source]
        source: PolarsError,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error("cannot write the indicators table: {0}")]
    Table(#[from] indicators::TableError),
    #[error("will not publish into {}: {why}", out.display())]
    NotOurFolder { out: PathBuf, why: String },
    #[error(transparent)]
    Custom(#[from] indicators::custom::CustomError),
    #[error(transparent)]
    Pdf(#[from] crate::report::pdf::PdfError),
}

impl RunError {
    /// The exit code of the output contract.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Config(_) | RunError::NotOurFolder { .. } => 2,
            RunError::Custom(e) if e.is_config() => 2,
            RunError::Ingest(e) if e.is_config() => 2,
            RunError::Checks { .. } => 3,
            RunError::Locked { .. } => 4,
            _ => 1,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Config(e) => e.hint().map(String::from),
            RunError::Ingest(e) => Some(e.hint()),
            RunError::Locked { .. } => Some("wait for it to finish, or run with another --out".into()),
            RunError::Checks { .. } => Some(
                "fix the rows named above (the first reject of each source is shown), or raise [checks] max_reject_share"
                    .into(),
            ),
            RunError::Stage { .. } => Some("this is likely a bug in cityimpact; please report it with the pipeline file".into()),
            RunError::Write { .. } => Some("check free space and permissions on the output folder".into()),
            RunError::Chart(_) => None,
            RunError::Pdf(e) => Some(e.hint().into()),
            RunError::Custom(e) => e.hint(),
            RunError::Table(indicators::TableError::Duplicate { .. }) => Some(
                "two sources give the same indicator for the same area and period; keep one of them, or give one source's areas other codes"
                    .into(),
            ),
            RunError::Table(_) => Some("this is likely a bug in cityimpact; please report it with the pipeline file".into()),
            RunError::NotOurFolder { .. } => Some(
                "name a folder that does not exist yet, an empty one, or one that holds an earlier cityimpact output (--out, or `out =` in [pipeline])"
                    .into(),
            ),
        }
    }
}

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

struct Timer {
    stages: std::sync::Mutex<Vec<StageTiming>>,
}

impl Timer {
    /// A timer whose first stage is the pipeline file's reading, already done.
    fn after_config(config_time: std::time::Duration) -> Timer {
        let timer = Timer {
            stages: Default::default(),
        };
        timer.push(StageTiming {
            stage: "config".into(),
            after: vec![],
            seconds: config_time.as_secs_f64(),
            rows_out: None,
            status: "ran".into(),
            reason: None,
            key: None,
        });
        timer
    }

    fn into_stages(self) -> Vec<StageTiming> {
        self.stages.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    fn record<S: AsRef<str>>(
        &self,
        stage: &str,
        after: &[S],
        started: Instant,
        rows_out: Option<usize>,
    ) {
        self.push(StageTiming {
            stage: stage.to_string(),
            after: after.iter().map(|s| s.as_ref().to_string()).collect(),
            seconds: started.elapsed().as_secs_f64(),
            rows_out,
            status: "ran".into(),
            reason: None,
            key: None,
        });
    }

    fn push(&self, timing: StageTiming) {
        self.stages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(timing);
    }
}

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

/// What the pipeline decides about the catalogue's texts (units, discount rate, booking).
pub fn catalogue_settings(pipeline: &Pipeline) -> catalogue::Settings {
    let by = |spread: config::Spread| -> Vec<&str> {
        pipeline
            .sources
            .iter()
            .filter(|s| s.kind == config::SourceKind::Projects && s.spread == spread)
            .map(|s| s.name.as_str())
            .collect()
    };
    let (start, pro_rata) = (by(config::Spread::StartYear), by(config::Spread::ProRata));
    let booking = match (start.is_empty(), pro_rata.is_empty()) {
        (_, true) => "a project's amount is booked in its start year".to_string(),
        (true, false) => {
            "a project's amount is spread over its duration, pro rata by days".to_string()
        }
        (false, false) => format!(
            "a project's amount is booked in its start year (sources {}) or spread over its duration pro rata by days (sources {})",
            start.join(", "),
            pro_rata.join(", ")
        ),
    };
    let index_inputs: Vec<catalogue::Entry> = pipeline
        .index
        .iter()
        .flat_map(|i| {
            i.inputs()
                .into_iter()
                .filter(|c| catalogue::get(c).is_none() && pipeline.custom(c).is_none())
                .map(|c| {
                    let node = i.node(&c);
                    catalogue::Entry {
                        id: c.clone(),
                        family: Family::Exclusion,
                        name: node.map_or_else(|| c.clone(), |n| n.name.clone()),
                        unit: node.map_or_else(String::new, |n| n.unit.clone()),
                        direction: match node.map(|n| n.direction) {
                            Some(d) if d < 0.0 => catalogue::Direction::LowerBetter,
                            Some(_) => catalogue::Direction::HigherBetter,
                            None => catalogue::Direction::Neutral,
                        },
                        definition: format!(
                            "Passed through from city statistics for the index ({}).",
                            i.structure_path
                        ),
                        source: "declared in the index structure ([index] structure)".into(),
                        sql: None,
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let extra = pipeline
        .evaluation
        .iter()
        .flat_map(|e| &e.series)
        .map(|s| catalogue::Entry {
            id: s.id.clone(),
            // Passed through from city statistics, which the exclusion family reads.
            family: Family::Exclusion,
            name: s.name.clone(),
            unit: s.unit.clone(),
            direction: catalogue::Direction::from_config(&s.direction),
            definition: s.definition.clone(),
            source: "declared in the pipeline file ([evaluation.series])".into(),
            sql: None,
        })
        .chain(index_inputs)
        .chain(pipeline.custom.iter().map(|c| catalogue::Entry {
            id: c.id.clone(),
            family: Family::parse(&c.family).unwrap_or(Family::Custom),
            name: c.name.clone(),
            unit: c.unit.clone(),
            direction: catalogue::Direction::from_config(&c.direction),
            definition: c.definition.clone(),
            source: format!(
                "the pipeline's own SQL ([indicators.custom.{}] in {})",
                c.id,
                pipeline.file.file_name().map_or_else(
                    || pipeline.file.display().to_string(),
                    |f| f.to_string_lossy().into_owned()
                )
            ),
            sql: Some(c.sql.trim().to_string()),
        }))
        .collect();
    catalogue::Settings {
        currency: pipeline.currency.unit(),
        discount_rate: pipeline.indicators.sroi.discount_rate,
        booking,
        extra,
    }
}

/// Area code → the name a reader sees, from the `areas` sources' `name` role. A name that
/// several codes share gets its code beside it, so that no two areas look alike.
fn area_names(tables: &[Table]) -> PolarsResult<std::collections::BTreeMap<String, String>> {
    use std::collections::BTreeMap;
    let mut names = indicators::area_texts(tables, "name")?;
    let mut uses: BTreeMap<&str, usize> = BTreeMap::new();
    for n in names.values() {
        *uses.entry(n.as_str()).or_default() += 1;
    }
    let shared: std::collections::BTreeSet<String> = uses
        .into_iter()
        .filter(|(_, k)| *k > 1)
        .map(|(n, _)| n.to_string())
        .collect();
    for (code, name) in names.iter_mut() {
        if shared.contains(name.as_str()) {
            *name = format!("{name} ({code})");
        }
    }
    Ok(names)
}

/// Node code → name of the index's nodes, from its report.
pub(crate) fn index_names(report: Option<&serde_json::Value>) -> Vec<(String, String)> {
    report
        .and_then(|r| r["names"].as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
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

fn stage_order(stage: &str) -> (usize, String) {
    let rank = [
        "config",
        "ingest:",
        "checks",
        "indicators:",
        "evaluate",
        "index",
        "output:tables",
        "output:charts",
        "output:manifest",
    ]
    .iter()
    .position(|p| stage.starts_with(p))
    .unwrap_or(99);
    (rank, stage.to_string())
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

/// `[checks]`: a source that rejects more than its share fails the run (exit 3).
/// The data checks: no source may lose every row to its contract (whatever
/// `max_reject_share` says: a source that keeps nothing would publish tables without it), and
/// none may reject more than `[checks] max_reject_share` of its rows.
fn check(pipeline: &Pipeline, tables: &[Table]) -> Result<(), RunError> {
    let first_reject = |t: &Table| {
        t.rejects
            .iter()
            .find(|r| !r.reason.starts_with("period "))
            .map(|r| format!("; first: {}:{}: {}", r.file, r.line, r.reason))
            .unwrap_or_default()
    };
    let mut failures: Vec<String> = tables
        .iter()
        .filter(|t| t.rows_read > 0 && t.rows_kept() == 0 && t.rows_filtered < t.rows_read)
        .map(|t| {
            format!(
                "  source `{}` kept none of its {} rows{}",
                t.source,
                t.rows_read,
                first_reject(t)
            )
        })
        .collect();
    if let Some(max) = pipeline.checks.max_reject_share {
        failures.extend(
            tables
                .iter()
                .filter(|t| t.rows_kept() > 0 && t.reject_share() > max)
                .map(|t| {
                    format!(
                        "  source `{}` rejected {:.1} % of its {} rows (max_reject_share = {:.1} %){}",
                        t.source,
                        100.0 * t.reject_share(),
                        t.rows_read,
                        100.0 * max,
                        first_reject(t)
                    )
                }),
        );
    }
    if failures.is_empty() {
        warn_of_rejects(tables);
        Ok(())
    } else {
        Err(RunError::Checks { failures })
    }
}

/// The share of a source's rows whose rejection is worth a warning, with its commonest reasons.
const WARN_REJECT_SHARE: f64 = 0.05;

/// Warns of every source that rejected more than 5 % of its rows (period filtering aside),
/// with its three commonest reasons: a run that publishes may still have lost much of a file.
fn warn_of_rejects(tables: &[Table]) {
    for t in tables
        .iter()
        .filter(|t| t.reject_share() > WARN_REJECT_SHARE)
    {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for r in t
            .rejects
            .iter()
            .filter(|r| !r.reason.starts_with("period "))
        {
            *counts.entry(reason_class(&r.reason)).or_default() += 1;
        }
        let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let commonest: Vec<String> = counts
            .iter()
            .take(3)
            .map(|(reason, n)| format!("{n} × {reason}"))
            .collect();
        tracing::warn!(
            "source `{}` rejected {:.1} % of its {} rows (rejects.parquet has each); the commonest reasons: {}",
            t.source,
            100.0 * t.reject_share(),
            t.rows_read,
            commonest.join("; ")
        );
    }
}

/// A reason with the values it quotes left out, so that rows rejected for the same reason
/// count together: "`value` (value): `4,5` is not a number" → "`value` (value): `…` is not a
/// number". A reason that starts with a quoted name keeps it: it is the file's column.
fn reason_class(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    for (k, part) in reason.split('`').enumerate() {
        if k > 0 {
            out.push('`');
        }
        let masked = k % 2 == 1 && !(k == 1 && reason.starts_with('`'));
        out.push_str(if masked { "…" } else { part });
    }
    out
}

/// The pipeline's chart settings, with the areas to highlight resolved: the ones it names, or
/// else the treated areas of its `areas` sources.
fn chart_settings(pipeline: &Pipeline, tables: &[Table]) -> config::Charts {
    let mut settings = pipeline.charts.clone();
    if settings.highlight.is_empty() {
        for t in tables
            .iter()
            .filter(|t| t.kind == config::SourceKind::Areas)
        {
            let (Ok(area), Ok(treated)) = (t.frame.column("area"), t.frame.column("treated"))
            else {
                continue;
            };
            let (Ok(area), Ok(treated)) = (
                area.as_materialized_series().str(),
                treated.as_materialized_series().bool(),
            ) else {
                continue;
            };
            for (a, tr) in area.iter().zip(treated.iter()) {
                if let (Some(a), Some(true)) = (a, tr) {
                    if !settings.highlight.iter().any(|h| h == a) {
                        settings.highlight.push(a.to_string());
                    }
                }
            }
        }
        settings.highlight.sort();
    }
    settings
}

/// Where chart numbers come from, for their subtitles.
fn source_note(pipeline: &Pipeline) -> String {
    format!("{} (cityimpact {VERSION})", pipeline.title)
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

//! A run, stage by stage: the plan of stages and what each needs, the lock on the output
//! folder, parallel execution of independent stages, timings, and the atomic publish.
//!
//! ```text
//! config ─► ingest+contracts (one stage per source, all in parallel)
//!        ─► checks ─► indicators:exclusion ┐
//!                     indicators:spending  ├─ in parallel ─► output:tables ─► output:charts
//!                     indicators:climate   ┘                ─► output:manifest ─► publish
//! ```

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use rayon::prelude::*;

use crate::catalogue;
use crate::charts::{self, ChartError};
use crate::config::{self, ConfigError, Pipeline, Source};
use crate::contracts::{self, Table};
use crate::indicators::{self, Inputs, Skipped};
use crate::ingest::{self, IngestError};
use crate::output::manifest::{Manifest, OutputFile, PipelineInfo, SourceRows, StageTiming};
use crate::output::{self, datapackage, publish::Staging, InputFile, Provenance};
use crate::report;

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
}

impl RunError {
    /// The exit code of the output contract.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Config(_) => 2,
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
        }
    }
}

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides the pipeline's output folder.
    pub out: Option<PathBuf>,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    pub out: PathBuf,
    pub manifest: Manifest,
    pub rows: usize,
}

/// Progress messages, for the binary to show or not.
pub type Report<'a> = &'a (dyn Fn(&str) + Sync);

struct Timer {
    stages: std::sync::Mutex<Vec<StageTiming>>,
}

impl Timer {
    fn record(&self, stage: &str, after: &[&str], started: Instant, rows_out: Option<usize>) {
        let mut stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        stages.push(StageTiming {
            stage: stage.to_string(),
            after: after.iter().map(|s| s.to_string()).collect(),
            seconds: started.elapsed().as_secs_f64(),
            rows_out,
        });
    }
}

/// Runs a pipeline file end to end and publishes its outputs.
pub fn run(pipeline_file: &Path, options: &Options, report: Report) -> Result<Summary, RunError> {
    let started_at = chrono::Utc::now();
    let started = Instant::now();
    let timer = Timer {
        stages: Default::default(),
    };

    let t = Instant::now();
    let pipeline = config::load(pipeline_file)?;
    timer.record("config", &[], t, None);
    let out = options.out.clone().unwrap_or_else(|| pipeline.out.clone());
    let _lock = Lock::acquire(&out)?;

    // Ingest and contracts: sources are independent, so all at once.
    report(&format!("reading {} sources", pipeline.sources.len()));
    let results: Vec<Result<(InputFile, Table), RunError>> = pipeline
        .sources
        .par_iter()
        .map(|source| {
            let t = Instant::now();
            let r = read_source(&pipeline, source);
            if let Ok((_, table)) = &r {
                timer.record(
                    &format!("ingest:{}", source.name),
                    &["config"],
                    t,
                    Some(table.rows_kept()),
                );
            }
            r
        })
        .collect();
    let mut inputs = Vec::new();
    let mut tables = Vec::new();
    for r in results {
        let (input, table) = r?;
        inputs.push(input);
        tables.push(table);
    }
    for t in &tables {
        report(&format!(
            "source {}: {} rows read, {} kept, {} rejected",
            t.source,
            t.rows_read,
            t.rows_kept(),
            t.rejects.len()
        ));
    }

    let t = Instant::now();
    let ingest_stages: Vec<String> = pipeline
        .sources
        .iter()
        .map(|s| format!("ingest:{}", s.name))
        .collect();
    let ingest_refs: Vec<&str> = ingest_stages.iter().map(String::as_str).collect();
    check(&pipeline, &tables)?;
    timer.record("checks", &ingest_refs, t, None);

    // Indicators: the three families side by side.
    report("computing indicators");
    let inputs_view = Inputs::new(&pipeline, &tables).map_err(|source| RunError::Stage {
        stage: "indicators".into(),
        source,
    })?;
    let families = indicators::compute_all(&inputs_view).map_err(|source| RunError::Stage {
        stage: "indicators".into(),
        source,
    })?;
    let mut values = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    for (family, out, took) in families {
        let mut stages = timer.stages.lock().unwrap_or_else(|e| e.into_inner());
        stages.push(StageTiming {
            stage: format!("indicators:{}", family.as_str()),
            after: vec!["checks".into()],
            seconds: took.as_secs_f64(),
            rows_out: Some(out.values.len()),
        });
        values.extend(out.values);
        skipped.extend(out.skipped);
    }
    let family_stages = [
        "indicators:exclusion",
        "indicators:spending",
        "indicators:climate",
    ];

    // Outputs, into a staging folder beside the output folder.
    let t = Instant::now();
    let staging = Staging::new(&out).map_err(|source| RunError::Write {
        path: out.clone(),
        source,
    })?;
    let dir = staging.path().to_path_buf();
    let provenance = Provenance::new(VERSION, &pipeline.name, &pipeline.file_hash, inputs.clone());
    let stage_err = |stage: &str| {
        let stage = stage.to_string();
        move |source| RunError::Stage {
            stage: stage.clone(),
            source,
        }
    };
    let mut indicators_df = indicators::long_frame(values).map_err(stage_err("output:tables"))?;
    let mut rejects: Vec<contracts::Reject> = tables
        .iter()
        .flat_map(|t| t.rejects.iter().cloned())
        .collect();
    rejects.sort_by(|a, b| (&a.source, a.line).cmp(&(&b.source, b.line)));
    let mut rejects_df = contracts::rejects_frame(&rejects).map_err(stage_err("output:tables"))?;
    let catalogue = serde_json::to_string(catalogue::all()).unwrap_or_default();
    output::write_table(
        &dir,
        "indicators.parquet",
        &mut indicators_df,
        &provenance,
        vec![("cityimpact.catalogue".into(), catalogue)],
    )
    .map_err(stage_err("output:tables"))?;
    output::write_table(
        &dir,
        "rejects.parquet",
        &mut rejects_df,
        &provenance,
        vec![],
    )
    .map_err(stage_err("output:tables"))?;
    let mut projects_df =
        indicators::projects::table(&inputs_view.projects).map_err(stage_err("output:tables"))?;
    let mut outcomes_df = indicators::projects::outcomes_table(
        &inputs_view.projects,
        pipeline.indicators.sroi.discount_rate,
    )
    .map_err(stage_err("output:tables"))?;
    output::write_table(
        &dir,
        "projects.parquet",
        &mut projects_df,
        &provenance,
        vec![],
    )
    .map_err(stage_err("output:tables"))?;
    output::write_table(
        &dir,
        "outcomes.parquet",
        &mut outcomes_df,
        &provenance,
        vec![],
    )
    .map_err(stage_err("output:tables"))?;
    timer.record(
        "output:tables",
        &family_stages,
        t,
        Some(indicators_df.height()),
    );

    let t = Instant::now();
    let chart_context = charts::Context {
        settings: chart_settings(&pipeline, &tables),
        source: source_note(&pipeline),
    };
    let chart_files = charts::render_all(&indicators_df, &dir.join("charts"), &chart_context)?;
    timer.record(
        "output:charts",
        &["output:tables"],
        t,
        Some(chart_files.len()),
    );

    let t = Instant::now();
    let package = datapackage::build(
        &pipeline,
        &provenance,
        &[
            (
                "indicators",
                &indicators_df,
                "Every indicator value, one row per value (long format)",
            ),
            (
                "rejects",
                &rejects_df,
                "Every input row that was not used, and why",
            ),
            (
                "projects",
                &projects_df,
                "One row per project (funding rows merged by id), with its own indicators and SROI",
            ),
            (
                "outcomes",
                &outcomes_df,
                "One row per project outcome, with the inputs of its SROI and its present value",
            ),
        ],
    );
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Write {
            path: path.clone(),
            source,
        }
    };
    let dp_path = dir.join("datapackage.json");
    output::write_json(&dp_path, &package).map_err(write_err(&dp_path))?;

    let files: Vec<(String, Option<usize>)> = vec![
        ("datapackage.json".into(), None),
        ("indicators.parquet".into(), Some(indicators_df.height())),
        ("rejects.parquet".into(), Some(rejects_df.height())),
        ("projects.parquet".into(), Some(projects_df.height())),
        ("outcomes.parquet".into(), Some(outcomes_df.height())),
    ];
    let mut outputs = hash_outputs(&dir, files, &chart_files)?;
    timer.record(
        "output:manifest",
        &["output:tables", "output:charts"],
        t,
        None,
    );

    let mut stages = timer.stages.into_inner().unwrap_or_else(|e| e.into_inner());
    stages.sort_by_key(|s| stage_order(&s.stage));
    let manifest = Manifest {
        cityimpact: VERSION.to_string(),
        contract: output::CONTRACT_VERSION,
        run_id: provenance.run_id.clone(),
        status: "ok",
        pipeline: PipelineInfo {
            name: pipeline.name.clone(),
            title: pipeline.title.clone(),
            file: pipeline.file.display().to_string(),
            blake3: pipeline.file_hash.clone(),
        },
        started: started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        seconds: started.elapsed().as_secs_f64(),
        inputs,
        rows: tables
            .iter()
            .map(|t| SourceRows {
                source: t.source.clone(),
                kind: t.kind.as_str().to_string(),
                read: t.rows_read,
                kept: t.rows_kept(),
                rejected: t.rejects.len(),
                outside_periods: t.rows_filtered,
            })
            .collect(),
        stages,
        outputs: outputs.clone(),
        skipped,
        charts: chart_context.settings.clone(),
        chart_source: chart_context.source.clone(),
    };
    // The report shows the run as the manifest describes it, and is then listed in it.
    let t = Instant::now();
    let report_json = serde_json::to_value(&manifest).unwrap_or_default();
    report::write(&dir, &indicators_df, &report_json, &chart_files)
        .map_err(write_err(&dir.join("report.html")))?;
    outputs.extend(hash_outputs(&dir, vec![("report.html".into(), None)], &[])?);
    let mut manifest = manifest;
    manifest.outputs = outputs;
    manifest.stages.push(StageTiming {
        stage: "output:report".into(),
        after: vec!["output:charts".into()],
        seconds: t.elapsed().as_secs_f64(),
        rows_out: None,
    });
    let manifest_path = dir.join("manifest.json");
    output::write_json(&manifest_path, &manifest).map_err(write_err(&manifest_path))?;

    staging.publish().map_err(write_err(&out))?;
    Ok(Summary {
        out,
        rows: indicators_df.height(),
        manifest,
    })
}

/// Size and BLAKE3 of output files (paths relative to `dir`), charts included.
fn hash_outputs(
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
        "output:tables",
        "output:charts",
        "output:manifest",
    ]
    .iter()
    .position(|p| stage.starts_with(p))
    .unwrap_or(99);
    (rank, stage.to_string())
}

fn read_source(pipeline: &Pipeline, source: &Source) -> Result<(InputFile, Table), RunError> {
    let raw = ingest::read(source)?;
    let table = contracts::apply(pipeline, source, &raw).map_err(|e| RunError::Stage {
        stage: format!("contracts:{}", source.name),
        source: e,
    })?;
    Ok((
        InputFile {
            source: source.name.clone(),
            path: source.path.clone(),
            bytes: raw.bytes,
            blake3: raw.blake3.clone(),
        },
        table,
    ))
}

/// `[checks]`: a source that rejects more than its share fails the run (exit 3).
fn check(pipeline: &Pipeline, tables: &[Table]) -> Result<(), RunError> {
    let Some(max) = pipeline.checks.max_reject_share else {
        return Ok(());
    };
    let failures: Vec<String> = tables
        .iter()
        .filter(|t| t.reject_share() > max)
        .map(|t| {
            let first = t
                .rejects
                .iter()
                .find(|r| !r.reason.starts_with("period "))
                .map(|r| format!("; first: {}:{}: {}", r.file, r.line, r.reason))
                .unwrap_or_default();
            format!(
                "  source `{}` rejected {:.1} % of its {} rows (max_reject_share = {:.1} %){first}",
                t.source,
                100.0 * t.reject_share(),
                t.rows_read,
                100.0 * max
            )
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(RunError::Checks { failures })
    }
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

/// An advisory lock on the output folder, held for the run and released by the OS when the
/// process ends, however it ends.
pub struct Lock {
    _file: File,
}

impl Lock {
    /// The lock file sits beside the output folder, so that publishing (which swaps the folder)
    /// does not move it.
    pub fn path(out: &Path) -> PathBuf {
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        parent.join(format!(".{name}.lock"))
    }

    pub fn acquire(out: &Path) -> Result<Lock, RunError> {
        let path = Self::path(out);
        let write_err = |source| RunError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_err)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(write_err)?;
        match file.try_lock() {
            Ok(()) => {
                let note = format!(
                    "pid {} started {}\n",
                    std::process::id(),
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                file.set_len(0).map_err(write_err)?;
                file.rewind().map_err(write_err)?;
                file.write_all(note.as_bytes()).map_err(write_err)?;
                Ok(Lock { _file: file })
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                Err(RunError::Locked {
                    out: out.to_path_buf(),
                    holder: if holder.is_empty() {
                        "unknown holder".into()
                    } else {
                        holder.to_string()
                    },
                })
            }
            Err(TryLockError::Error(e)) => Err(write_err(e)),
        }
    }
}

/// `cityimpact validate`: the pipeline file, and every source's file and columns, without
/// computing anything. Returns one line per source.
pub fn validate(pipeline_file: &Path) -> Result<Vec<String>, RunError> {
    let pipeline = config::load(pipeline_file)?;
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

/// Overrides for `cityimpact chart`.
#[derive(Debug, Clone, Default)]
pub struct ChartOptions {
    pub formats: Option<Vec<config::ChartFormat>>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub highlight: Option<Vec<String>>,
}

/// `cityimpact chart OUTPUT_DIR`: draws the charts and the report again from a published
/// output folder (its Parquet tables and manifest) without recomputing anything, and swaps
/// the new charts in as a whole. Returns the chart files written.
pub fn rechart(out: &Path, options: &ChartOptions) -> Result<Vec<PathBuf>, RunError> {
    let _lock = Lock::acquire(out)?;
    let read_err = |path: PathBuf| {
        move |e: std::io::Error| {
            RunError::Ingest(IngestError::Io {
                source_name: "outputs".into(),
                path: path.clone(),
                error: e,
            })
        }
    };
    let manifest_path = out.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(read_err(manifest_path.clone()))?;
    let mut manifest: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| read_err(manifest_path.clone())(std::io::Error::other(e)))?;
    let mut settings: config::Charts =
        serde_json::from_value(manifest["charts"].clone()).map_err(|e| {
            read_err(manifest_path.clone())(std::io::Error::other(format!(
                "no chart settings: {e}"
            )))
        })?;
    if let Some(f) = &options.formats {
        settings.formats = f.clone();
    }
    if let Some(w) = options.width {
        settings.width = w;
    }
    if let Some(h) = options.height {
        settings.height = h;
    }
    if let Some(h) = &options.highlight {
        settings.highlight = h.clone();
    }
    let indicators_path = out.join("indicators.parquet");
    let indicators = output::parquet::read(&indicators_path).map_err(|source| RunError::Stage {
        stage: format!("read {}", indicators_path.display()),
        source,
    })?;
    let ctx = charts::Context {
        settings: settings.clone(),
        source: manifest["chart_source"].as_str().unwrap_or("").to_string(),
    };

    // New charts in a staging folder inside the output folder, then swapped in whole.
    let staging = tempfile::Builder::new()
        .prefix(".charts.staging-")
        .tempdir_in(out)
        .map_err(|source| RunError::Write {
            path: out.to_path_buf(),
            source,
        })?;
    let files = charts::render_all(&indicators, staging.path(), &ctx)?;
    let final_files: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| out.join("charts").join(n)))
        .collect();
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Write {
            path: path.clone(),
            source,
        }
    };
    output::publish::replace_dir(staging.keep().as_path(), &out.join("charts"))
        .map_err(write_err(&out.join("charts")))?;

    // The report and the manifest describe the new charts.
    manifest["charts"] = serde_json::to_value(&settings).unwrap_or_default();
    let tmp_dir = tempfile::Builder::new()
        .prefix(".report.staging-")
        .tempdir_in(out)
        .map_err(write_err(out))?;
    report::write(tmp_dir.path(), &indicators, &manifest, &final_files)
        .map_err(write_err(&out.join("report.html")))?;
    std::fs::rename(tmp_dir.path().join("report.html"), out.join("report.html"))
        .map_err(write_err(&out.join("report.html")))?;
    let mut outputs: Vec<serde_json::Value> = manifest["outputs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| {
            let p = o["path"].as_str().unwrap_or("");
            !p.starts_with("charts/") && p != "report.html"
        })
        .collect();
    for o in hash_outputs(out, vec![("report.html".into(), None)], &final_files)? {
        outputs.push(serde_json::to_value(o).unwrap_or_default());
    }
    manifest["outputs"] = serde_json::Value::Array(outputs);
    let manifest_tmp = tmp_dir.path().join("manifest.json");
    output::write_json(&manifest_tmp, &manifest).map_err(write_err(&manifest_tmp))?;
    std::fs::rename(&manifest_tmp, &manifest_path).map_err(write_err(&manifest_path))?;
    Ok(final_files)
}

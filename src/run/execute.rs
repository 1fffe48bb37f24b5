//! A run's stages, in the order they run: read every input once (and stop when nothing
//! changed), ingest and check the sources, compute the indicators, evaluate and build the
//! index, then write the tables, the charts, the data package, the report and the manifest
//! into a staging folder, and publish it in one step. [`execute`] reads as that list; each
//! stage is a function below it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use super::error::{stage_err, write_err};
use super::{
    area_names, chart_settings, check, custom, evaluation, hash_outputs, incremental, index,
    index_names, input_files, memory, source_note, stage_order, tables, up_to_date, write_history,
    Options, Report, RunError, Summary, Timer, VERSION,
};
use crate::catalogue::{self, Family};
use crate::charts;
use crate::config::{Pipeline, Source};
use crate::contracts::{self, Table};
use crate::indicators::families::FAMILIES;
use crate::indicators::{self, Inputs, Skipped};
use crate::ingest;
use crate::output::manifest::{Manifest, OutputFile, PipelineInfo, SourceRows, StageTiming};
use crate::output::{self, datapackage, publish::Staging, InputFile, Provenance};
use crate::report;

/// Runs the pipeline's stages and publishes their outputs, unless nothing changed since the
/// last good run.
pub(super) fn execute(
    pipeline: &Pipeline,
    out: &Path,
    options: &Options,
    report: Report,
    started_at: chrono::DateTime<chrono::Utc>,
    config_time: std::time::Duration,
) -> Result<Summary, RunError> {
    let started = Instant::now();
    let timer = Timer::after_config(config_time);
    // Every custom query is checked on empty tables before any source is read.
    let resolved = catalogue::Resolved::new(&super::catalogue_settings(pipeline));
    indicators::custom::check(pipeline, &resolved)?;

    let read = read_inputs(pipeline, out, report)?;
    if let Some(prev) = read.unchanged(options) {
        report("nothing changed since the last good run: outputs are up to date");
        return up_to_date(
            pipeline,
            out,
            &read.provenance,
            &read.inputs,
            started_at,
            prev,
        );
    }
    let Read {
        loaded,
        inputs,
        provenance,
        previous,
    } = read;
    let tables = ingest_all(pipeline, loaded, &timer)?;
    memory::release();

    report("computing indicators");
    let inputs_view = Inputs::new(pipeline, &tables).map_err(stage_err("indicators"))?;
    memory::release();
    let last = custom::Previous {
        manifest: previous.as_ref(),
        out,
        force: options.force,
    };
    let (values, skipped) =
        indicator_values(pipeline, &inputs_view, &inputs, last, &resolved, &timer)?;
    memory::release();
    let run = Run {
        pipeline,
        out,
        tables: &tables,
        inputs_view: &inputs_view,
        resolved: &resolved,
        provenance: &provenance,
        timer,
        started,
        started_at,
    };
    write_outputs(run, inputs, values, skipped)
}

/// What the stages that write the outputs read of the run so far.
struct Run<'a> {
    pipeline: &'a Pipeline,
    out: &'a Path,
    tables: &'a [Table],
    inputs_view: &'a Inputs<'a>,
    resolved: &'a catalogue::Resolved,
    provenance: &'a Provenance,
    timer: Timer,
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
}

/// The outputs, written into a staging folder beside the output folder and published in one
/// step: the evaluation and the index, the tables, the charts, the data package, the report,
/// the manifest and the history.
fn write_outputs(
    run: Run,
    inputs: Vec<InputFile>,
    values: Vec<indicators::Value>,
    mut skipped: Vec<Skipped>,
) -> Result<Summary, RunError> {
    let Run {
        pipeline,
        out,
        tables,
        inputs_view,
        resolved,
        provenance,
        timer,
        started,
        started_at,
    } = run;
    let t = Instant::now();
    let staging = Staging::new(out).map_err(write_err(out))?;
    let dir = staging.path().to_path_buf();
    let values = indicators::guard(values, &mut skipped)?;
    let evaluated = evaluate(pipeline, tables, inputs_view, &values, &timer)?;
    let built_index = build_index(pipeline, tables, inputs_view, &values, &timer)?;
    let written = tables::write(
        &dir,
        pipeline,
        tables,
        inputs_view,
        tables::Computed {
            values,
            evaluated: evaluated.as_ref(),
            index: built_index.as_ref(),
            skipped: &mut skipped,
        },
        resolved,
        provenance,
    )?;
    timer.record(
        "output:tables",
        &family_stages(),
        t,
        Some(written.indicator_rows),
    );
    let (chart_context, chart_files) = draw_charts(
        pipeline,
        tables,
        &written,
        built_index.as_ref(),
        resolved,
        &dir,
        &timer,
    )?;
    let outputs = write_package(
        pipeline,
        provenance,
        resolved,
        &written,
        &chart_files,
        &dir,
        &timer,
    )?;

    let manifest = manifest(
        pipeline,
        Facts {
            provenance,
            started_at,
            seconds: started.elapsed().as_secs_f64(),
            inputs,
            tables,
            stages: timer.into_stages(),
            outputs,
            skipped,
            charts: chart_context,
            evaluation: evaluated.as_ref().map(evaluation::describe),
            index: built_index.as_ref().map(|b| b.report.clone()),
        },
    );
    let manifest = write_report_and_manifest(manifest, &written, &chart_files, resolved, &dir)?;
    // The history goes with the outputs: the last good one's rows and this run's.
    write_history(
        out,
        &dir,
        pipeline,
        provenance,
        &manifest,
        written.indicator_rows,
    )?;
    staging.publish().map_err(write_err(out))?;
    Ok(Summary {
        out: out.to_path_buf(),
        status: "published",
        manifest: serde_json::to_value(&manifest).unwrap_or_default(),
    })
}

/// Every source's bytes read once and hashed, and the last good run: together they decide
/// whether anything changed.
struct Read {
    loaded: Vec<ingest::Loaded>,
    inputs: Vec<InputFile>,
    provenance: Provenance,
    /// The last good run's manifest, where its outputs are intact.
    previous: Option<serde_json::Value>,
}

impl Read {
    /// The last good run's manifest when this run would repeat it (and is not forced).
    fn unchanged(&self, options: &Options) -> Option<&serde_json::Value> {
        self.previous
            .as_ref()
            .filter(|_| !options.force)
            .filter(|prev| prev["run_id"].as_str() == Some(self.provenance.run_id.as_str()))
    }
}

fn read_inputs(pipeline: &Pipeline, out: &Path, report: Report) -> Result<Read, RunError> {
    report(&format!("reading {} sources", pipeline.sources.len()));
    let loaded: Vec<ingest::Loaded> = pipeline
        .sources
        .par_iter()
        .map(ingest::load)
        .collect::<Result<_, _>>()?;
    let inputs = input_files(pipeline, &loaded);
    let provenance = Provenance::new(VERSION, &pipeline.name, &pipeline.file_hash, inputs.clone());
    let previous =
        incremental::previous(out).filter(|m| incremental::outputs_intact(out, m).is_ok());
    Ok(Read {
        loaded,
        inputs,
        provenance,
        previous,
    })
}

/// Reads every source and applies its contract, side by side, then the checks across
/// sources and the run's own checks (a source keeping no rows, too many rejects).
fn ingest_all(
    pipeline: &Pipeline,
    loaded: Vec<ingest::Loaded>,
    timer: &Timer,
) -> Result<Vec<Table>, RunError> {
    // Ingest and contracts: sources are independent, so all at once.
    let results: Vec<Result<Table, RunError>> = pipeline
        .sources
        .par_iter()
        .zip(loaded)
        .map(|(source, bytes)| {
            let t = Instant::now();
            let r = read_source(pipeline, source, bytes);
            if let Ok(table) = &r {
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
    let mut tables: Vec<Table> = results.into_iter().collect::<Result<_, _>>()?;
    contracts::reconcile(pipeline, &mut tables).map_err(|source| RunError::Stage {
        stage: "contracts".into(),
        source,
    })?;

    let t = Instant::now();
    let ingest_stages: Vec<String> = pipeline
        .sources
        .iter()
        .map(|s| format!("ingest:{}", s.name))
        .collect();
    check(pipeline, &tables)?;
    timer.record("checks", &ingest_stages, t, None);

    Ok(tables)
}

/// One source parsed and checked. Its bytes are dropped once parsed: the cells hold what the
/// contract reads, and a 1 GB file would otherwise be held twice while it runs.
fn read_source(
    pipeline: &Pipeline,
    source: &Source,
    loaded: ingest::Loaded,
) -> Result<Table, RunError> {
    let raw = ingest::parse(source, &loaded)?;
    drop(loaded);
    contracts::apply(pipeline, source, &raw).map_err(|e| RunError::Stage {
        stage: format!("contracts:{}", source.name),
        source: e,
    })
}

/// Every indicator value: the built-in families, then the pipeline's own SQL indicators
/// (which may read the families' values). Gives the values and the notes of what was skipped.
fn indicator_values(
    pipeline: &Pipeline,
    inputs_view: &Inputs,
    inputs: &[InputFile],
    last: custom::Previous,
    resolved: &catalogue::Resolved,
    timer: &Timer,
) -> Result<(Vec<indicators::Value>, Vec<Skipped>), RunError> {
    let (mut values, mut skipped) = families(pipeline, inputs_view, inputs, last, timer)?;
    let (custom_values, custom_notes) =
        custom::run(inputs_view, &values, resolved, inputs, last, timer)?;
    values.extend(custom_values);
    skipped.extend(custom_notes);
    Ok((values, skipped))
}

/// The indicator families: those whose inputs changed are computed side by side, the others
/// are taken from the last good outputs. Gives the values and the notes of what was skipped.
fn families(
    pipeline: &Pipeline,
    inputs_view: &Inputs,
    inputs: &[InputFile],
    last: custom::Previous,
    timer: &Timer,
) -> Result<(Vec<indicators::Value>, Vec<Skipped>), RunError> {
    let custom::Previous {
        manifest: previous,
        out,
        force,
    } = last;
    let mut todo = Vec::new();
    let mut values = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    for family in FAMILIES.iter().map(|d| d.family) {
        let stage = format!("indicators:{}", family.as_str());
        let key = incremental::family_key(VERSION, pipeline, inputs, family);
        let reason = incremental::reason_to_run(previous, &stage, &key, force);
        let reused = match reason {
            None => incremental::reuse(out, family, pipeline).ok(),
            Some(_) => None,
        };
        match reused {
            Some(rows) => {
                timer.push(StageTiming {
                    stage,
                    after: vec!["checks".into()],
                    seconds: 0.0,
                    rows_out: Some(rows.len()),
                    status: "reused".into(),
                    reason: Some(
                        "its inputs and the pipeline file are unchanged since the last good run"
                            .into(),
                    ),
                    key: Some(key),
                });
                // Values that could not be computed then cannot be now either.
                if let Some(prev) = previous {
                    for s in prev["skipped"].as_array().into_iter().flatten() {
                        let id = s["indicator"].as_str().unwrap_or("");
                        if catalogue::get(id).is_some_and(|c| c.family == family) {
                            // Notes about many projects are made afresh with their values.
                            if let Ok(s) = serde_json::from_value::<Skipped>(s.clone()) {
                                if s.projects.is_none() {
                                    skipped.push(s);
                                }
                            }
                        }
                    }
                }
                values.extend(rows);
            }
            None => todo.push((
                family,
                key,
                reason.unwrap_or_else(|| "the last outputs could not be read".into()),
            )),
        }
    }
    let wanted: Vec<Family> = todo.iter().map(|t| t.0).collect();
    let families =
        indicators::compute_all(inputs_view, &wanted).map_err(|source| RunError::Stage {
            stage: "indicators".into(),
            source,
        })?;
    for (family, result, took) in families {
        let (_, key, reason) = todo.iter().find(|t| t.0 == family).cloned().unwrap_or((
            family,
            String::new(),
            String::new(),
        ));
        timer.push(StageTiming {
            stage: format!("indicators:{}", family.as_str()),
            after: vec!["checks".into()],
            seconds: took.as_secs_f64(),
            rows_out: Some(result.values.len()),
            status: "ran".into(),
            reason: Some(reason),
            key: Some(key),
        });
        values.extend(result.values);
        skipped.extend(result.skipped);
    }
    Ok((values, skipped))
}

/// The stages of the built-in families, which the later stages come after.
fn family_stages() -> Vec<String> {
    FAMILIES
        .iter()
        .map(|d| format!("indicators:{}", d.family.as_str()))
        .collect()
}

fn evaluate(
    pipeline: &Pipeline,
    tables: &[Table],
    inputs_view: &Inputs,
    values: &[indicators::Value],
    timer: &Timer,
) -> Result<Option<crate::evaluate::Evaluated>, RunError> {
    let t = Instant::now();
    let evaluated =
        evaluation::run(pipeline, tables, inputs_view, values).map_err(stage_err("evaluate"))?;
    if let Some(e) = &evaluated {
        timer.record("evaluate", &family_stages(), t, Some(e.effects.len()));
    }
    Ok(evaluated)
}

fn build_index(
    pipeline: &Pipeline,
    tables: &[Table],
    inputs_view: &Inputs,
    values: &[indicators::Value],
    timer: &Timer,
) -> Result<Option<crate::index::Built>, RunError> {
    let t = Instant::now();
    let built = index::run(pipeline, tables, inputs_view, values).map_err(stage_err("index"))?;
    if let Some(b) = &built {
        timer.record("index", &family_stages(), t, Some(b.rows.len()));
    }
    Ok(built)
}

/// The charts of the written tables, with the context they were drawn in (settings, source
/// note, area names, titles), which the manifest keeps for `cityimpact chart`.
fn draw_charts(
    pipeline: &Pipeline,
    tables: &[Table],
    written: &tables::Written,
    built_index: Option<&crate::index::Built>,
    resolved: &catalogue::Resolved,
    dir: &Path,
    timer: &Timer,
) -> Result<(charts::Context, Vec<PathBuf>), RunError> {
    let t = Instant::now();
    let context = charts::Context {
        settings: chart_settings(pipeline, tables),
        source: source_note(pipeline),
        names: area_names(tables).map_err(stage_err("output:charts"))?,
        titles: resolved
            .entries
            .iter()
            .map(|e| (e.id.clone(), e.name.clone()))
            .chain(index_names(built_index.map(|b| &b.report)))
            .collect(),
    };
    let files = charts::render_all(
        &written.indicators,
        written.outputs(),
        &dir.join("charts"),
        &context,
    )?;
    timer.record("output:charts", &["output:tables"], t, Some(files.len()));
    Ok((context, files))
}

/// `datapackage.json`, then the size and hash of every output so far.
fn write_package(
    pipeline: &Pipeline,
    provenance: &Provenance,
    resolved: &catalogue::Resolved,
    written: &tables::Written,
    chart_files: &[PathBuf],
    dir: &Path,
    timer: &Timer,
) -> Result<Vec<OutputFile>, RunError> {
    let t = Instant::now();
    let package = datapackage::build(pipeline, provenance, resolved, &written.resources());
    let path = dir.join("datapackage.json");
    output::write_json(&path, &package).map_err(write_err(&path))?;
    let outputs = hash_outputs(dir, written.files(), chart_files)?;
    timer.record(
        "output:manifest",
        &["output:tables", "output:charts"],
        t,
        None,
    );
    Ok(outputs)
}

/// What a published run's manifest says, gathered from the stages.
struct Facts<'a> {
    provenance: &'a Provenance,
    started_at: chrono::DateTime<chrono::Utc>,
    seconds: f64,
    inputs: Vec<InputFile>,
    tables: &'a [Table],
    stages: Vec<StageTiming>,
    outputs: Vec<OutputFile>,
    skipped: Vec<Skipped>,
    charts: charts::Context,
    evaluation: Option<serde_json::Value>,
    index: Option<serde_json::Value>,
}

/// The manifest of a published run: the one place it is built.
fn manifest(pipeline: &Pipeline, f: Facts) -> Manifest {
    let mut stages = f.stages;
    stages.sort_by_key(|s| stage_order(&s.stage));
    Manifest {
        cityimpact: VERSION.to_string(),
        contract: output::CONTRACT_VERSION,
        run_id: f.provenance.run_id.clone(),
        status: "ok",
        pipeline: PipelineInfo {
            name: pipeline.name.clone(),
            title: pipeline.title.clone(),
            file: pipeline.file.display().to_string(),
            blake3: pipeline.file_hash.clone(),
        },
        started: f
            .started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished: super::now(),
        seconds: f.seconds,
        inputs: f.inputs,
        rows: f
            .tables
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
        outputs: f.outputs,
        skipped: f.skipped,
        charts: f.charts.settings,
        chart_source: f.charts.source,
        area_names: f.charts.names,
        evaluation: f.evaluation,
        index: f.index,
    }
}

/// The report shows the run as the manifest describes it, and is then listed in it; the
/// manifest is written last.
fn write_report_and_manifest(
    mut manifest: Manifest,
    written: &tables::Written,
    chart_files: &[PathBuf],
    resolved: &catalogue::Resolved,
    dir: &Path,
) -> Result<Manifest, RunError> {
    let t = Instant::now();
    let report_json = serde_json::to_value(&manifest).unwrap_or_default();
    report::write(
        dir,
        &written.indicators,
        written.outputs(),
        &report_json,
        chart_files,
        resolved,
    )
    .map_err(write_err(&dir.join("report.html")))?;
    manifest
        .outputs
        .extend(hash_outputs(dir, vec![("report.html".into(), None)], &[])?);
    manifest.stages.push(StageTiming {
        stage: "output:report".into(),
        after: vec!["output:charts".into()],
        seconds: t.elapsed().as_secs_f64(),
        rows_out: None,
        status: "ran".into(),
        reason: None,
        key: None,
    });
    let path = dir.join("manifest.json");
    output::write_json(&path, &manifest).map_err(write_err(&path))?;
    Ok(manifest)
}

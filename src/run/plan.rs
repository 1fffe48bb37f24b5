//! `cityimpact plan PIPELINE.toml`: the stages of a run, what each reads and writes, and which
//! of them would run now and why. Reads the inputs to hash them; computes and writes nothing.

use std::path::Path;

use rayon::prelude::*;

use super::{incremental, Options, RunError, VERSION};
use crate::config;
use crate::indicators::families::{self, FAMILIES};
use crate::ingest;
use crate::output::Provenance;

/// One stage of the plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Planned {
    pub stage: String,
    pub reads: Vec<String>,
    pub writes: Vec<String>,
    pub will_run: bool,
    pub reason: String,
}

pub fn plan(pipeline_file: &Path, options: &Options) -> Result<Vec<Planned>, RunError> {
    let pipeline = config::load(pipeline_file)?;
    let out = options.out.clone().unwrap_or_else(|| pipeline.out.clone());
    let loaded: Vec<ingest::Loaded> = pipeline
        .sources
        .par_iter()
        .map(ingest::load)
        .collect::<Result<_, _>>()?;
    let inputs = super::input_files(&pipeline, &loaded);
    let run_id =
        Provenance::new(VERSION, &pipeline.name, &pipeline.file_hash, inputs.clone()).run_id;
    let raw_previous = incremental::previous(&out);
    let intact = raw_previous
        .as_ref()
        .map(|m| incremental::outputs_intact(&out, m));
    let previous = raw_previous.filter(|_| matches!(intact, Some(Ok(()))));
    let up_to_date = !options.force
        && previous
            .as_ref()
            .is_some_and(|p| p["run_id"].as_str() == Some(run_id.as_str()));
    let whole_reason = if options.force {
        "--force".to_string()
    } else if up_to_date {
        "up to date: pipeline file, inputs and tool version unchanged since the last good run"
            .to_string()
    } else {
        match &intact {
            None => "no earlier run in this output folder".to_string(),
            Some(Err(why)) => why.clone(),
            Some(Ok(())) => "an input, the pipeline file or the tool version changed".to_string(),
        }
    };

    let whole = Whole {
        up_to_date,
        reason: whole_reason,
    };
    let previous = previous.as_ref();
    let mut stages = ingest_stages(&pipeline, &inputs, previous, &whole);
    stages.extend(indicator_stages(
        &pipeline, &inputs, previous, options, &whole,
    )?);
    stages.extend(evaluation_and_index(&pipeline, &whole));
    stages.extend(output_stages(&whole));
    Ok(stages)
}

/// Whether the whole run is up to date, and why it runs or not.
struct Whole {
    up_to_date: bool,
    reason: String,
}

/// Each source's ingest: every run that is not up to date reads and checks them all.
fn ingest_stages(
    pipeline: &config::Pipeline,
    inputs: &[super::InputFile],
    previous: Option<&serde_json::Value>,
    whole: &Whole,
) -> Vec<Planned> {
    let mut stages = Vec::new();
    for (source, input) in pipeline.sources.iter().zip(inputs) {
        let before = previous.and_then(|p| {
            p["inputs"]
                .as_array()?
                .iter()
                .find(|i| i["source"] == source.name.as_str())
                .and_then(|i| i["blake3"].as_str().map(String::from))
        });
        let reason = if whole.up_to_date {
            whole.reason.clone()
        } else if before.as_deref() != Some(input.blake3.as_str()) && before.is_some() {
            "its input's hash changed".to_string()
        } else {
            "every run that is not up to date reads and checks all sources".to_string()
        };
        stages.push(Planned {
            stage: format!("ingest:{}", source.name),
            reads: vec![source.path.clone()],
            writes: vec!["rejects.parquet".into()],
            will_run: !whole.up_to_date,
            reason,
        });
    }
    stages
}

/// Each family's indicators and each custom indicator: run or reused, by their own keys.
fn indicator_stages(
    pipeline: &config::Pipeline,
    inputs: &[super::InputFile],
    previous: Option<&serde_json::Value>,
    options: &Options,
    whole: &Whole,
) -> Result<Vec<Planned>, RunError> {
    let mut stages = Vec::new();
    for def in &FAMILIES {
        let stage = format!("indicators:{}", def.family.as_str());
        let key = incremental::family_key(VERSION, pipeline, inputs, def.family);
        let why = incremental::reason_to_run(previous, &stage, &key, options.force);
        let reads = pipeline
            .sources
            .iter()
            .filter(|s| def.reads.contains(&s.kind))
            .map(|s| format!("source {}", s.name))
            .collect();
        stages.push(indicator_stage(
            stage,
            (reads, def.writes),
            why,
            whole.up_to_date.then_some(&whole.reason),
            "reused: its inputs and the pipeline file are unchanged",
        ));
    }
    for c in super::custom::stages(pipeline, inputs)? {
        let why = incremental::reason_to_run(previous, &c.name, &c.key, options.force);
        let reads = c
            .reads
            .iter()
            .map(|t| match t.as_str() {
                "indicators" => "the indicator stages".to_string(),
                t => format!("source {t}"),
            })
            .collect();
        stages.push(indicator_stage(
            c.name,
            (reads, &["indicators.parquet"]),
            why,
            whole.up_to_date.then_some(&whole.reason),
            "reused: its query, the inputs it reads and the settings are unchanged",
        ));
    }
    Ok(stages)
}

/// The evaluation and the index, where the pipeline asks for them.
fn evaluation_and_index(pipeline: &config::Pipeline, whole: &Whole) -> Vec<Planned> {
    let mut stages = Vec::new();
    if let Some(e) = &pipeline.evaluation {
        stages.push(Planned {
            stage: "evaluate".into(),
            reads: e
                .outcomes
                .iter()
                .map(|o| format!("indicator {o}"))
                .collect(),
            writes: vec!["effects.parquet".into()],
            will_run: !whole.up_to_date,
            reason: if whole.up_to_date {
                whole.reason.clone()
            } else {
                "every run that is not up to date evaluates again from the indicator values".into()
            },
        });
    }
    if let Some(i) = &pipeline.index {
        stages.push(Planned {
            stage: "index".into(),
            reads: vec![format!("structure {}", i.structure_path)],
            writes: vec![
                "index.parquet".into(),
                "index_runs.parquet".into(),
                "index_sensitivity.parquet".into(),
            ],
            will_run: !whole.up_to_date,
            reason: if whole.up_to_date {
                whole.reason.clone()
            } else {
                "every run that is not up to date builds the index again from the indicator values"
                    .into()
            },
        });
    }
    stages
}

/// The tables, the charts, the manifest and the report.
fn output_stages(whole: &Whole) -> Vec<Planned> {
    let mut stages = Vec::new();
    for (stage, writes) in [
        (
            "output:tables",
            // indicators.parquet first, then the rejects, then the families' own tables.
            {
                let mut w = families::tables_written();
                w.insert(1.min(w.len()), "rejects.parquet");
                w
            },
        ),
        ("output:charts", vec!["charts/"]),
        (
            "output:manifest",
            vec![
                "manifest.json",
                "datapackage.json",
                "report.html",
                "runs.parquet",
            ],
        ),
    ] {
        stages.push(Planned {
            stage: stage.into(),
            reads: vec!["the indicator stages".into()],
            writes: writes.into_iter().map(String::from).collect(),
            will_run: !whole.up_to_date,
            reason: whole.reason.clone(),
        });
    }
    stages
}

/// A stage that writes indicator values: it runs when `why` says so, unless the whole run is
/// up to date (`up_to_date` then says why nothing runs).
fn indicator_stage(
    stage: String,
    (reads, writes): (Vec<String>, &[&str]),
    why: Option<String>,
    up_to_date: Option<&String>,
    reused: &str,
) -> Planned {
    Planned {
        stage,
        reads,
        writes: writes.iter().map(|w| w.to_string()).collect(),
        will_run: up_to_date.is_none() && why.is_some(),
        reason: match up_to_date {
            Some(whole) => whole.clone(),
            None => why.unwrap_or_else(|| reused.into()),
        },
    }
}

//! The custom-indicator stages inside a run: one stage per `[indicators.custom.ID]`, in the
//! order their queries need. A stage whose key is unchanged takes its values from the last good
//! outputs; editing one query recomputes it and what reads it, nothing else.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use super::{incremental, RunError, Timer, VERSION};
use crate::catalogue::{Family, Resolved};
use crate::config::{CustomIndicator, Pipeline};
use crate::indicators::custom::{self, tables::INDICATORS, CustomError, Session};
use crate::indicators::{Inputs, Skipped, Value};
use crate::output::manifest::StageTiming;
use crate::output::InputFile;

/// Where the last good run is and whether it may be reused.
#[derive(Clone, Copy)]
pub struct Previous<'a> {
    pub manifest: Option<&'a serde_json::Value>,
    pub out: &'a Path,
    pub force: bool,
}

/// The custom indicators' values and notes, after the families' `values`, over the contract
/// tables `inputs_view` holds.
pub fn run(
    inputs_view: &Inputs,
    values: &[Value],
    catalogue: &Resolved,
    inputs: &[InputFile],
    previous: Previous,
    timer: &Timer,
) -> Result<(Vec<Value>, Vec<Skipped>), RunError> {
    let (pipeline, tables) = (inputs_view.pipeline, inputs_view.tables);
    if pipeline.custom.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut session = Session::new(pipeline, tables, values, catalogue, &inputs_view.levels)
        .map_err(|source| RunError::Stage {
            stage: "indicators:custom".into(),
            source,
        })?;
    let (mut out_values, mut out_skipped) = (Vec::new(), Vec::new());
    for Stage {
        custom: c,
        name: stage,
        key,
        after,
        ..
    } in stages(pipeline, inputs)?
    {
        let t = Instant::now();
        let reason = incremental::reason_to_run(previous.manifest, &stage, &key, previous.force);
        let reused = match reason {
            None => incremental::reuse_custom(previous.out, &c.id).ok(),
            Some(_) => None,
        };
        let (status, why, (vals, notes)) = match reused {
            Some(vals) => (
                "reused",
                "its query, the inputs it reads and the pipeline's settings are unchanged since the last good run".to_string(),
                (vals, previous_notes(previous.manifest, &c.id)),
            ),
            None => {
                let o = session.compute(c)?;
                (
                    "ran",
                    reason.unwrap_or_else(|| "the last outputs could not be read".into()),
                    (o.values, o.skipped),
                )
            }
        };
        session
            .record(&c.id, &vals)
            .map_err(|source| RunError::Stage {
                stage: stage.clone(),
                source,
            })?;
        timer.push(StageTiming {
            stage,
            after,
            seconds: t.elapsed().as_secs_f64(),
            rows_out: Some(vals.len()),
            status: status.into(),
            reason: Some(why),
            key: Some(key),
        });
        out_values.extend(vals);
        out_skipped.extend(notes);
    }
    Ok((out_values, out_skipped))
}

/// A custom indicator's stage: what it waits for, what it reads, and its key.
pub struct Stage<'p> {
    pub custom: &'p CustomIndicator,
    /// `indicators:custom:ID`.
    pub name: String,
    pub key: String,
    pub after: Vec<String>,
    /// The tables its query reads, lower-cased.
    pub reads: BTreeSet<String>,
}

/// The custom indicators' stages in the order they run. A stage that reads `indicators`
/// depends on the families' keys and on the keys of the custom indicators it quotes.
pub fn stages<'p>(
    pipeline: &'p Pipeline,
    inputs: &[InputFile],
) -> Result<Vec<Stage<'p>>, CustomError> {
    let family_keys: Vec<String> = Family::ALL
        .iter()
        .map(|f| incremental::family_key(VERSION, pipeline, inputs, *f))
        .collect();
    let mut out: Vec<Stage> = Vec::new();
    for c in custom::order(pipeline)? {
        let reads = custom::reads(c);
        let mut upstream = Vec::new();
        let mut after = vec!["checks".to_string()];
        if reads.contains(INDICATORS) {
            upstream.extend(family_keys.iter().cloned());
            after.extend(
                Family::ALL
                    .iter()
                    .map(|f| format!("indicators:{}", f.as_str())),
            );
            for d in custom::dependencies(c, &pipeline.custom) {
                if let Some(s) = out.iter().find(|s| s.custom.id == d) {
                    upstream.push(s.key.clone());
                    after.push(s.name.clone());
                }
            }
        }
        out.push(Stage {
            custom: c,
            name: format!("indicators:custom:{}", c.id),
            key: incremental::custom_key(VERSION, pipeline, inputs, c, &reads, &upstream),
            after,
            reads,
        });
    }
    Ok(out)
}

/// The notes the last good run made about indicator `id`.
fn previous_notes(previous: Option<&serde_json::Value>, id: &str) -> Vec<Skipped> {
    previous
        .and_then(|p| p["skipped"].as_array())
        .into_iter()
        .flatten()
        .filter(|s| s["indicator"].as_str() == Some(id))
        .filter_map(|s| serde_json::from_value(s.clone()).ok())
        .collect()
}

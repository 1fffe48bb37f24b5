//! Incremental runs: a run whose pipeline file, inputs (by BLAKE3) and tool version are those
//! of the last good run does nothing; otherwise only the indicator families whose inputs
//! changed are computed again, and the others are taken from the last good outputs. The
//! manifest says, for every stage, whether it ran or was reused, and why.

use std::path::Path;

use polars::prelude::*;

use crate::catalogue::Family;
use crate::config::{CustomIndicator, Pipeline};
use crate::indicators::{families, floats, ints, strings, Value};
use crate::output::InputFile;

/// What a family's values depend on: the tool, the pipeline file's settings (anywhere in it
/// they may change a family; its custom indicators excepted), and the files of the sources
/// it reads.
pub fn family_key(
    version: &str,
    pipeline: &Pipeline,
    inputs: &[InputFile],
    family: Family,
) -> String {
    let mut h = blake3::Hasher::new();
    h.update(version.as_bytes());
    h.update(pipeline.settings_hash.as_bytes());
    h.update(family.as_str().as_bytes());
    for input in inputs {
        let kind = pipeline.source(&input.source).map(|s| s.kind);
        if kind.is_some_and(|k| families::reads(family).contains(&k)) {
            h.update(input.source.as_bytes());
            h.update(input.blake3.as_bytes());
        }
    }
    h.finalize().to_hex()[..16].to_string()
}

/// The last good run's manifest, if the output folder has one.
pub fn previous(out: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(out.join("manifest.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether every output the manifest lists is there, unchanged.
pub fn outputs_intact(out: &Path, manifest: &serde_json::Value) -> Result<(), String> {
    let outputs = manifest["outputs"]
        .as_array()
        .ok_or("the manifest lists no outputs")?;
    for o in outputs {
        let name = o["path"].as_str().unwrap_or("");
        let bytes =
            std::fs::read(out.join(name)).map_err(|_| format!("output {name} is missing"))?;
        if blake3::hash(&bytes).to_hex().as_str() != o["blake3"].as_str().unwrap_or("") {
            return Err(format!("output {name} was changed since the last run"));
        }
    }
    Ok(())
}

/// Why a stage must run, or `None` when the last good run's result can be reused.
pub fn reason_to_run(
    previous: Option<&serde_json::Value>,
    stage: &str,
    key: &str,
    force: bool,
) -> Option<String> {
    if force {
        return Some("--force".into());
    }
    let Some(prev) = previous else {
        return Some("no earlier run in this output folder".into());
    };
    let old = prev["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stage"] == stage));
    match old.and_then(|s| s["key"].as_str()) {
        Some(k) if k == key => None,
        Some(_) => Some("an input it reads or the pipeline file changed".into()),
        None => Some("the earlier run has no result for it".into()),
    }
}

/// What a custom indicator's values depend on: the tool, the pipeline's settings, its own
/// table in the pipeline file, the files of the sources its query reads, and the keys of what
/// it reads from `indicators` (`upstream`: the families' keys and its dependencies').
pub fn custom_key(
    version: &str,
    pipeline: &Pipeline,
    inputs: &[InputFile],
    c: &CustomIndicator,
    reads: &std::collections::BTreeSet<String>,
    upstream: &[String],
) -> String {
    let mut h = blake3::Hasher::new();
    h.update(version.as_bytes());
    h.update(pipeline.settings_hash.as_bytes());
    for field in [
        &c.id,
        &c.name,
        &c.unit,
        &c.direction,
        &c.definition,
        &c.family,
        &c.sql,
    ] {
        h.update(field.as_bytes());
        h.update(&[0]);
    }
    for input in inputs {
        if reads.contains(&input.source.to_lowercase()) {
            h.update(input.source.as_bytes());
            h.update(input.blake3.as_bytes());
        }
    }
    for key in upstream {
        h.update(key.as_bytes());
    }
    h.finalize().to_hex()[..16].to_string()
}

/// One family's rows from the last good `indicators.parquet` (custom indicators that join the
/// family excepted: they have their own stages).
pub fn reuse(out: &Path, family: Family, pipeline: &Pipeline) -> PolarsResult<Vec<Value>> {
    reuse_where(out, col("family").eq(lit(family.as_str())), &|id| {
        pipeline.custom(id).is_none()
    })
}

/// One custom indicator's rows from the last good `indicators.parquet`.
pub fn reuse_custom(out: &Path, id: &str) -> PolarsResult<Vec<Value>> {
    reuse_where(out, col("indicator").eq(lit(id)), &|i| i == id)
}

/// The area rows of the last good `indicators.parquet` that `filter` selects, of the
/// indicators `keep` accepts.
fn reuse_where(out: &Path, filter: Expr, keep: &dyn Fn(&str) -> bool) -> PolarsResult<Vec<Value>> {
    // Per-project values are derived afresh from the projects in every run.
    let df = crate::output::parquet::read_where(
        &out.join("indicators.parquet"),
        filter.and(col("level").neq(lit("project"))),
    )?;
    let ind = strings(&df, "indicator")?;
    let area = strings(&df, "area")?;
    let level = strings(&df, "level")?;
    let period = ints(&df, "period")?;
    let breakdown = strings(&df, "breakdown")?;
    let value = floats(&df, "value")?;
    let num = floats(&df, "numerator")?;
    let den = floats(&df, "denominator")?;
    let n: Vec<Option<i64>> = df
        .column("n")?
        .as_materialized_series()
        .i64()?
        .iter()
        .collect();
    let lo = floats(&df, "ci_low")?;
    let hi = floats(&df, "ci_high")?;
    let flag = strings(&df, "flag")?;
    let mut out = Vec::new();
    for i in 0..df.height() {
        let (Some(id), Some(a), Some(l), Some(v)) = (&ind[i], &area[i], &level[i], value[i]) else {
            continue;
        };
        if !keep(id) {
            continue;
        }
        out.push(Value {
            indicator: id.clone(),
            area: a.clone(),
            level: l.clone(),
            period: period[i],
            breakdown: breakdown[i].clone(),
            value: v,
            numerator: num[i],
            denominator: den[i],
            n: n[i],
            ci_low: lo[i],
            ci_high: hi[i],
            flag: flag[i].clone(),
        });
    }
    Ok(out)
}

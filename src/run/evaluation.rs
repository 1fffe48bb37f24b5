//! The evaluate stage inside a run: each area's first treated period from the sources, the
//! estimates, and `effects.parquet` with its settings in the footer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use polars::prelude::*;

use crate::config::evaluation::{Evaluation, Treatment};
use crate::config::{Pipeline, SourceKind};
use crate::contracts::Table;
use crate::evaluate::{self, Evaluated};
use crate::indicators::{self, Inputs, Value};
use crate::output::{self, Provenance};

/// Each area's first treated period (`None`: never treated), for the areas at the level of
/// the treated ones: districts are compared with districts, not with their city.
pub fn treatment(
    e: &Evaluation,
    tables: &[Table],
    inputs: &Inputs,
) -> PolarsResult<BTreeMap<String, Option<i32>>> {
    let mut map: BTreeMap<String, Option<i32>> = BTreeMap::new();
    for t in tables.iter().filter(|t| t.kind == SourceKind::Areas) {
        let area = indicators::strings(&t.frame, "area")?;
        let from = match (&e.treatment, t.frame.schema().contains("treated_from")) {
            (Treatment::TreatedFrom, true) => Some(indicators::floats(&t.frame, "treated_from")?),
            _ => None,
        };
        for (i, a) in area.into_iter().enumerate() {
            let Some(a) = a else { continue };
            let g = from
                .as_ref()
                .and_then(|f| f[i])
                .filter(|y| *y > 0.0)
                .map(|y| y as i32);
            let slot = map.entry(a).or_insert(None);
            // One start per area: the earliest any row gives.
            *slot = match (*slot, g) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    if let Treatment::FirstProject { min_amount } = e.treatment {
        let projects = &inputs.projects;
        let (area, period, amount) = (
            projects.texts("area")?,
            projects.periods()?,
            projects.numbers("amount")?,
        );
        for row in 0..projects.len() {
            let (Some(a), Some(x)) = (area.get(row), amount.get(row)) else {
                continue;
            };
            if x < min_amount {
                continue;
            }
            let slot = map.entry(a.to_string()).or_insert(None);
            *slot = match (*slot, period.get(row)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    let treated_levels: BTreeSet<String> = map
        .iter()
        .filter(|(_, g)| g.is_some())
        .map(|(a, _)| inputs.level(a, ""))
        .collect();
    if !treated_levels.is_empty() {
        map.retain(|a, _| treated_levels.contains(&inputs.level(a, "")));
    }
    Ok(map)
}

/// Runs the evaluation of `pipeline`, if it has one.
pub fn run(
    pipeline: &Pipeline,
    tables: &[Table],
    inputs: &Inputs,
    values: &[Value],
) -> PolarsResult<Option<Evaluated>> {
    let Some(e) = &pipeline.evaluation else {
        return Ok(None);
    };
    let treatment = treatment(e, tables, inputs)?;
    Ok(Some(evaluate::evaluate(e, values, &treatment)))
}

/// The settings and per-outcome reports, as the manifest and the footer carry them.
pub fn describe(evaluated: &Evaluated) -> serde_json::Value {
    serde_json::json!({
        "settings": evaluated.settings,
        "outcomes": evaluated.outcomes,
    })
}

/// Writes `effects.parquet` into `dir`; returns its frame.
pub fn write(
    dir: &Path,
    evaluated: &Evaluated,
    provenance: &Provenance,
) -> PolarsResult<DataFrame> {
    let mut df = evaluate::effects_frame(&evaluated.effects)?;
    output::write_table(
        dir,
        "effects.parquet",
        &mut df,
        provenance,
        vec![(
            "cityimpact.evaluation".into(),
            describe(evaluated).to_string(),
        )],
    )?;
    Ok(df)
}

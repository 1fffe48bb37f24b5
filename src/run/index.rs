//! The index stage inside a run: each area's group from the `areas` sources, the index, and
//! its three tables with the settings in their footers.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use crate::config::{Pipeline, SourceKind};
use crate::contracts::Table;
use crate::index::{self, Built};
use crate::indicators::{self, Inputs, Value};
use crate::output::{self, Provenance};

/// Each area's group (the `group` role of the `areas` sources), for group-mean imputation.
fn groups(tables: &[Table]) -> PolarsResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for t in tables.iter().filter(|t| t.kind == SourceKind::Areas) {
        let Some(group) = indicators::opt_strings(&t.frame, "group")? else {
            continue;
        };
        for (a, g) in indicators::strings(&t.frame, "area")?
            .into_iter()
            .zip(group)
        {
            if let (Some(a), Some(g)) = (a, g) {
                out.entry(a).or_insert(g);
            }
        }
    }
    Ok(out)
}

/// Builds the pipeline's index, if it has one.
pub fn run(
    pipeline: &Pipeline,
    tables: &[Table],
    inputs: &Inputs,
    values: &[Value],
) -> PolarsResult<Option<Built>> {
    let Some(settings) = &pipeline.index else {
        return Ok(None);
    };
    let groups = groups(tables)?;
    Ok(Some(index::build(settings, values, &groups, &|a| {
        inputs.level(a, "")
    })))
}

/// The tables written, with their frames: index, runs, sensitivity.
pub struct Written {
    pub index: DataFrame,
    pub runs: DataFrame,
    pub sensitivity: DataFrame,
}

pub fn write(dir: &Path, built: &Built, provenance: &Provenance) -> PolarsResult<Written> {
    let meta = vec![("cityimpact.index".to_string(), built.report.to_string())];
    let mut index = index::index_frame(&built.rows)?;
    output::write_table(dir, "index.parquet", &mut index, provenance, meta.clone())?;
    let mut runs = index::runs_frame(&built.runs)?;
    output::write_table(
        dir,
        "index_runs.parquet",
        &mut runs,
        provenance,
        meta.clone(),
    )?;
    let mut sensitivity = index::sensitivity_frame(&built.sensitivity)?;
    output::write_table(
        dir,
        "index_sensitivity.parquet",
        &mut sensitivity,
        provenance,
        meta,
    )?;
    Ok(Written {
        index,
        runs,
        sensitivity,
    })
}

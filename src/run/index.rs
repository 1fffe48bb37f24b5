//! The index stage inside a run: each area's group from the `areas` sources, the index, and
//! its three tables with the settings in their footers.

use std::path::Path;

use polars::prelude::*;

use crate::config::Pipeline;
use crate::contracts::Table;
use crate::index::{self, Built};
use crate::indicators::{self, Inputs, Value};
use crate::output::{self, Provenance};

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
    // Each area's group (the areas sources' `group` role), for group-mean imputation.
    let groups = indicators::area_texts(tables, "group")?;
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

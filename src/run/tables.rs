//! The run's tables, written into the staging folder: indicators (area values and per-project
//! values), rejects, projects, outcomes and procurement, and the evaluation's and the index's
//! when they ran; and how the data package and the manifest list them.

use std::path::Path;

use polars::prelude::*;

use super::error::stage_err;
use super::{evaluation, index, RunError};
use crate::catalogue::Resolved;
use crate::config::Pipeline;
use crate::contracts::{self, Table};
use crate::indicators::{self, Inputs, Skipped, Value};
use crate::output::{self, Provenance};

/// What the indicators, evaluation and index gave, ready to be written.
pub(super) struct Computed<'a> {
    pub values: Vec<Value>,
    pub evaluated: Option<&'a crate::evaluate::Evaluated>,
    pub index: Option<&'a crate::index::Built>,
    /// Values that could not be computed: per-project notes join them.
    pub skipped: &'a mut Vec<Skipped>,
}

/// The tables as written, for the charts, the report, the data package and the manifest.
pub(super) struct Written {
    pub indicators: DataFrame,
    /// Rows of `indicators.parquet`: area values and per-project values.
    pub indicator_rows: usize,
    /// The rejects' columns, without their rows (written a row group at a time), and how
    /// many rows `rejects.parquet` has.
    pub rejects: DataFrame,
    pub reject_rows: usize,
    pub projects: DataFrame,
    pub outcomes: DataFrame,
    pub procurement: DataFrame,
    pub effects: Option<DataFrame>,
    pub index: Option<index::Written>,
}

/// Writes every table into `dir`.
pub(super) fn write(
    dir: &Path,
    pipeline: &Pipeline,
    tables: &[Table],
    inputs: &Inputs,
    computed: Computed,
    resolved: &Resolved,
    provenance: &Provenance,
) -> Result<Written, RunError> {
    let err = stage_err("output:tables");
    // Per-project values are always derived afresh from the projects: they cost one pass.
    let (project_values, notes) = indicators::projects::values::blocks(&inputs.projects, &|id| {
        indicators::wanted(pipeline, id)
    })
    .map_err(&err)?;
    computed.skipped.extend(notes);
    let indicators_df = indicators::long_frame(computed.values, resolved).map_err(&err)?;
    // Borrowed: a source outside the pipeline's periods can reject millions of rows.
    let (rejects_df, reject_rows) = write_rejects(dir, tables, provenance).map_err(&err)?;
    let catalogue = serde_json::to_string(&resolved.entries).unwrap_or_default();
    let mut metadata = provenance.metadata();
    metadata.push(("cityimpact.catalogue".into(), catalogue));
    let indicator_rows = indicators::long::write(
        &dir.join("indicators.parquet"),
        &indicators_df,
        &project_values,
        resolved,
        &metadata,
    )?;
    drop(project_values);
    let mut projects_df = inputs.projects.frame.clone();
    let mut outcomes_df = indicators::projects::outcomes_table(
        &inputs.projects,
        pipeline.indicators.sroi.discount_rate,
    )
    .map_err(&err)?;
    let mut procurement_df =
        indicators::procurement::table(tables, &pipeline.currency.report).map_err(&err)?;
    for (name, df) in [
        ("projects.parquet", &mut projects_df),
        ("outcomes.parquet", &mut outcomes_df),
        ("procurement.parquet", &mut procurement_df),
    ] {
        output::write_table(dir, name, df, provenance, vec![]).map_err(&err)?;
    }
    let effects = match computed.evaluated {
        Some(e) => Some(evaluation::write(dir, e, provenance).map_err(&err)?),
        None => None,
    };
    let index = match computed.index {
        Some(b) => Some(index::write(dir, b, provenance).map_err(&err)?),
        None => None,
    };
    Ok(Written {
        indicators: indicators_df,
        indicator_rows,
        rejects: rejects_df,
        reject_rows,
        projects: projects_df,
        outcomes: outcomes_df,
        procurement: procurement_df,
        effects,
        index,
    })
}

impl Written {
    /// The tables beside the indicators, as the charts and the report read them.
    pub fn outputs(&self) -> crate::charts::Outputs<'_> {
        crate::charts::Outputs {
            effects: self.effects.as_ref(),
            index: self.index.as_ref().map(|w| &w.index),
            projects: Some(&self.projects),
        }
    }

    /// The data package's resources: name, table, description.
    pub fn resources(&self) -> Vec<(&'static str, &DataFrame, &'static str)> {
        let mut r = vec![
            ("indicators", &self.indicators, "Every indicator value, one row per value (long format)"),
            ("rejects", &self.rejects, "Every input row that was not used, and why"),
            ("projects", &self.projects, "One row per project (funding rows merged by id), with its own indicators and SROI"),
            ("outcomes", &self.outcomes, "One row per project outcome, with the inputs of its SROI and its present value"),
            ("procurement", &self.procurement, "One row per procurement award (an OCDS process compiled from its releases; a contract without an award is a row of its own), with its amount in the reporting currency and as published"),
        ];
        if let Some(df) = &self.effects {
            r.push(("effects", df, "Outcome evaluation: one row per estimate (Callaway & Sant'Anna group-time effects and their aggregations, TWFE and 2x2 DiD)"));
        }
        if let Some(w) = &self.index {
            r.push(("index", &w.index, "Composite index: one row per area, period and node, with score, rank and its Monte-Carlo rank interval"));
            r.push(("index_runs", &w.runs, "The drawn parameters of every Monte-Carlo run of the index (weights, normalisation, aggregation)"));
            r.push(("index_sensitivity", &w.sensitivity, "Variance-based sensitivity of the index's ranks: first-order and total indices per uncertain input"));
        }
        r
    }

    /// The files the manifest lists (before the charts and the report), with their rows.
    pub fn files(&self) -> Vec<(String, Option<usize>)> {
        let mut files = vec![
            ("datapackage.json".to_string(), None),
            ("indicators.parquet".to_string(), Some(self.indicator_rows)),
        ];
        files.push(("rejects.parquet".to_string(), Some(self.reject_rows)));
        for (name, df) in [
            ("projects.parquet", &self.projects),
            ("outcomes.parquet", &self.outcomes),
            ("procurement.parquet", &self.procurement),
        ]
        .into_iter()
        .chain(self.effects.iter().map(|df| ("effects.parquet", df)))
        .chain(self.index.iter().flat_map(|w| {
            [
                ("index.parquet", &w.index),
                ("index_runs.parquet", &w.runs),
                ("index_sensitivity.parquet", &w.sensitivity),
            ]
        })) {
            files.push((name.to_string(), Some(df.height())));
        }
        files
    }
}

/// Writes `rejects.parquet` from every source's rejects, sorted by source and line, a row
/// group at a time: a source can reject millions of rows (those outside the pipeline's
/// periods), and their texts as one frame would take a gigabyte beside everything else.
/// Gives the table's columns (without rows) and its rows.
fn write_rejects(
    dir: &Path,
    tables: &[Table],
    provenance: &Provenance,
) -> PolarsResult<(DataFrame, usize)> {
    // Borrowed: a source outside the pipeline's periods can reject millions of rows.
    let mut rejects: Vec<&contracts::Reject> =
        tables.iter().flat_map(|t| t.rejects.iter()).collect();
    rejects.sort_by(|a, b| (&a.source, a.line).cmp(&(&b.source, b.line)));
    let columns = contracts::rejects_frame(&[])?;
    let mut groups = output::parquet::RowGroups::create(
        &dir.join("rejects.parquet"),
        &columns,
        &provenance.metadata(),
    )?;
    // Row groups as polars cuts a whole table into them (rows / ROW_GROUP groups of equal
    // size, the last taking the rest), so that the file has the bytes it had when the table
    // was written at once.
    let n = rejects.len();
    let splits = (n / output::parquet::ROW_GROUP).max(1);
    let size = n / splits;
    for k in 0..splits {
        let end = if k + 1 == splits { n } else { (k + 1) * size };
        let group = &rejects[k * size..end];
        if !group.is_empty() {
            groups.push_group(contracts::rejects_frame(group)?)?;
        }
    }
    let rows = groups.finish()?;
    Ok((columns, rows))
}

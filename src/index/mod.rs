//! The composite index stage: the pipeline's own indicator values (and declared series) per
//! area and period, built into an index the way the OECD/JRC handbook and COINr do, with its
//! uncertainty. Writes `index.parquet`, `index_runs.parquet` and `index_sensitivity.parquet`.
//!
//! - `inputs.rs`: the values as cells per period and unit, and imputation;
//! - `period.rs`: one period's index, step by step;
//! - `treat.rs`: skewness, kurtosis and COINr's outlier treatment;
//! - `compute.rs`: the hierarchy by position, normalisation, aggregation and ranks;
//! - `uncertainty.rs`: Monte-Carlo runs, rank intervals and variance-based sensitivity;
//! - `stats.rs`: data availability, correlations and Cronbach's alpha per node;
//! - `tables.rs`: the three tables' rows and frames.
//!
//! Steps per period, as COINr's example builds its index: denominate, impute, screen units by
//! data availability, treat outliers, normalise, aggregate with weights, rank on unrounded
//! scores.

pub mod compute;
mod inputs;
mod period;
pub mod stats;
mod tables;
pub mod treat;
pub mod uncertainty;

use std::collections::BTreeMap;

use serde_json::json;

use crate::config::index::IndexSettings;
use crate::indicators::Value;
use compute::Tree;

pub use tables::{index_frame, runs_frame, sensitivity_frame, IndexRow, RunRow, SensitivityRow};

/// The stage's result.
#[derive(Debug, Clone)]
pub struct Built {
    pub rows: Vec<IndexRow>,
    pub runs: Vec<RunRow>,
    pub sensitivity: Vec<SensitivityRow>,
    /// Settings, per-period statistics and notes, for the manifest, footer and report.
    pub report: serde_json::Value,
}

/// Builds the index for every period of its indicators. `groups` gives each area's group
/// (for group-mean imputation); `level` each area's level.
pub fn build(
    settings: &IndexSettings,
    values: &[Value],
    groups: &BTreeMap<String, String>,
    level: &dyn Fn(&str) -> String,
) -> Built {
    let tree = Tree::new(&settings.nodes);
    let (cells, unit_level) = inputs::cells(settings, values, level);
    let mut out = Built {
        rows: Vec::new(),
        runs: Vec::new(),
        sensitivity: Vec::new(),
        report: json!({}),
    };
    let mut periods = Vec::new();
    for (period, areas) in &cells {
        periods.push(period::build(
            settings, &tree, *period, areas, groups, &mut out,
        ));
    }
    let names: BTreeMap<String, String> = settings
        .nodes
        .iter()
        .map(|n| {
            let code = if n.parent.is_none() {
                settings.name.clone()
            } else {
                n.code.clone()
            };
            (code, n.name.clone())
        })
        .collect();
    out.report = json!({
        "name": settings.name,
        "names": names,
        "structure": settings.structure_path,
        "unit_level": unit_level,
        "denominate": settings.denominate,
        "impute": format!("{:?}", settings.impute).to_lowercase(),
        "min_availability": settings.min_availability,
        "outliers": settings.outliers.map(|o| json!({"winmax": o.winmax, "skew": o.skew, "kurtosis": o.kurtosis})),
        "normalise": settings.normalise.label(),
        "aggregate": settings.aggregate.as_str(),
        "uncertainty": settings.uncertainty.as_ref().map(|u| json!({
            "runs": u.runs, "seed": u.seed, "weights": u.weight_share,
            "normalise": u.normalise.iter().map(|n| n.label()).collect::<Vec<_>>(),
            "aggregate": u.aggregate.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            "sensitivity_samples": u.sensitivity_samples,
        })),
        "periods": periods,
    });
    out.rows
        .sort_by(|a, b| (&a.node, a.period, &a.area).cmp(&(&b.node, b.period, &b.area)));
    out
}

//! The stage's three tables as rows, and each as a frame for its Parquet file.

use polars::prelude::*;

/// One row of `index.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    pub area: String,
    pub period: Option<i32>,
    pub node: String,
    pub level: i32,
    pub score: Option<f64>,
    pub rank: Option<i32>,
    pub rank_median: Option<f64>,
    pub rank_low: Option<f64>,
    pub rank_high: Option<f64>,
    pub n_indicators: i64,
    pub flag: Option<String>,
}

/// One drawn parameter of one Monte-Carlo run (`index_runs.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub period: Option<i32>,
    pub run: i32,
    pub parameter: String,
    pub value: Option<f64>,
    pub choice: Option<String>,
}

/// One input's sensitivity indices (`index_sensitivity.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct SensitivityRow {
    pub period: Option<i32>,
    pub input: String,
    pub first_order: f64,
    pub total: f64,
    pub samples: i64,
}

macro_rules! col {
    ($name:expr, $rows:expr, $f:expr) => {
        Column::new($name.into(), $rows.iter().map($f).collect::<Vec<_>>())
    };
}

/// `index.parquet` as a frame.
pub fn index_frame(rows: &[IndexRow]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        rows.len(),
        vec![
            col!("area", rows, |r| r.area.as_str()),
            col!("period", rows, |r| r.period),
            col!("node", rows, |r| r.node.as_str()),
            col!("level", rows, |r| r.level),
            col!("score", rows, |r| r.score),
            col!("rank", rows, |r| r.rank),
            col!("rank_median", rows, |r| r.rank_median),
            col!("rank_low", rows, |r| r.rank_low),
            col!("rank_high", rows, |r| r.rank_high),
            col!("n_indicators", rows, |r| r.n_indicators),
            col!("flag", rows, |r| r.flag.as_deref()),
        ],
    )
}

/// `index_runs.parquet` as a frame.
pub fn runs_frame(rows: &[RunRow]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        rows.len(),
        vec![
            col!("period", rows, |r| r.period),
            col!("run", rows, |r| r.run),
            col!("parameter", rows, |r| r.parameter.as_str()),
            col!("value", rows, |r| r.value),
            col!("choice", rows, |r| r.choice.as_deref()),
        ],
    )
}

/// `index_sensitivity.parquet` as a frame.
pub fn sensitivity_frame(rows: &[SensitivityRow]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        rows.len(),
        vec![
            col!("period", rows, |r| r.period),
            col!("input", rows, |r| r.input.as_str()),
            col!("first_order", rows, |r| r.first_order),
            col!("total", rows, |r| r.total),
            col!("samples", rows, |r| r.samples),
        ],
    )
}

//! `manifest.json`: one run, for people and schedulers. It holds what the tables must not (clock
//! times), and everything needed to tell whether two runs saw the same inputs.

use serde::Serialize;

use super::InputFile;
use crate::indicators::Skipped;

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub cityimpact: String,
    pub contract: &'static str,
    pub run_id: String,
    pub status: &'static str,
    pub pipeline: PipelineInfo,
    pub started: String,
    pub finished: String,
    pub seconds: f64,
    pub inputs: Vec<InputFile>,
    pub rows: Vec<SourceRows>,
    pub stages: Vec<StageTiming>,
    pub outputs: Vec<OutputFile>,
    /// Values that could not be computed, and why.
    pub skipped: Vec<Skipped>,
    /// The chart settings the run used, so that `cityimpact chart` can draw them again.
    pub charts: crate::config::Charts,
    pub chart_source: String,
    /// Area code → the name charts and the report show (from the `areas` sources).
    pub area_names: std::collections::BTreeMap<String, String>,
    /// How outcomes were evaluated: settings, and per outcome its panel, pre-test and notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<serde_json::Value>,
    /// How the composite index was built: settings, per period its treatments, node
    /// statistics and notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PipelineInfo {
    pub name: String,
    pub title: String,
    pub file: String,
    pub blake3: String,
}

/// Rows read = rows kept + rows rejected, per source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRows {
    pub source: String,
    pub kind: String,
    pub read: usize,
    pub kept: usize,
    pub rejected: usize,
    /// Of the rejected rows, those outside the pipeline's periods.
    pub outside_periods: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    pub stage: String,
    /// Stages it waits for.
    pub after: Vec<String>,
    pub seconds: f64,
    pub rows_out: Option<usize>,
    /// `ran`, or `reused` (taken from the last good run).
    pub status: String,
    /// Why it ran or was reused.
    pub reason: Option<String>,
    /// What its result depends on (hash of tool version, pipeline file and the inputs it reads).
    pub key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputFile {
    pub path: String,
    pub bytes: u64,
    pub blake3: String,
    pub rows: Option<usize>,
}

//! `runs.parquet`: one row per run of an output folder, appended and never rewritten, so the
//! scheduler's view of past runs survives. A published run carries the history in its new
//! outputs; a failed or skipped run appends to the published file in place (atomically).

use std::path::Path;

use polars::prelude::*;

/// One run, as the history records it.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub run_id: String,
    pub started: String,
    pub finished: String,
    /// `published`, `up-to-date`, `failed`, `checks-failed`, `interrupted`
    pub status: String,
    pub exit_code: i32,
    pub rows_read: i64,
    pub rows_kept: i64,
    pub rows_rejected: i64,
    pub indicator_values: i64,
    /// JSON: source → BLAKE3 of its file.
    pub inputs: String,
    pub version: String,
    pub pipeline_blake3: String,
    pub message: Option<String>,
}

fn frame(r: &RunRecord) -> PolarsResult<DataFrame> {
    let s = |name: &str, v: &str| Column::new(name.into(), [v]);
    let i = |name: &str, v: i64| Column::new(name.into(), [v]);
    DataFrame::new(
        1,
        vec![
            s("run_id", &r.run_id),
            s("started", &r.started),
            s("finished", &r.finished),
            s("status", &r.status),
            Column::new("exit_code".into(), [r.exit_code]),
            i("rows_read", r.rows_read),
            i("rows_kept", r.rows_kept),
            i("rows_rejected", r.rows_rejected),
            i("indicator_values", r.indicator_values),
            s("inputs", &r.inputs),
            s("cityimpact_version", &r.version),
            s("pipeline_blake3", &r.pipeline_blake3),
            Column::new("message".into(), [r.message.as_deref()]),
        ],
    )
}

/// The previous history of `out` with `record` appended.
pub fn appended(out: &Path, record: &RunRecord) -> PolarsResult<DataFrame> {
    let new = frame(record)?;
    let path = out.join("runs.parquet");
    if !path.exists() {
        return Ok(new);
    }
    let old = crate::output::parquet::read(&path)?;
    if old.schema() != new.schema() {
        // Never drop history: say what is wrong instead.
        return Err(PolarsError::SchemaMismatch(
            format!("{} has other columns than this version writes; move it aside to start a new history", path.display()).into(),
        ));
    }
    old.vstack(&new)
}

/// Writes the history into `dir` (a staging folder, or the output folder itself through a
/// temporary file and a rename).
pub fn write(
    dir: &Path,
    history: &mut DataFrame,
    metadata: &[(String, String)],
) -> PolarsResult<()> {
    let tmp = dir.join(".runs.parquet.tmp");
    crate::output::parquet::write(history, &tmp, metadata)?;
    std::fs::rename(&tmp, dir.join("runs.parquet"))?;
    Ok(())
}

/// Appends a run that published nothing (failed, up to date) to the published history. The
/// footer keeps the provenance of the published outputs (`published`, when the caller has it,
/// else the one already in the file); a history without one gets `fallback`.
pub fn append_in_place(
    out: &Path,
    record: &RunRecord,
    published: Option<&[(String, String)]>,
    fallback: &[(String, String)],
) -> PolarsResult<()> {
    std::fs::create_dir_all(out)?;
    let path = out.join("runs.parquet");
    let kept = match published {
        Some(m) => m.to_vec(),
        None if path.exists() => crate::output::parquet::read_footer(&path)?,
        None => Vec::new(),
    };
    let metadata = if kept.iter().any(|(k, _)| k == "cityimpact.version") {
        kept
    } else {
        fallback.to_vec()
    };
    let mut history = appended(out, record)?;
    write(out, &mut history, &metadata)
}

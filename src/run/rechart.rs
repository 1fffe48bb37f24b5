//! `cityimpact chart OUTPUT_DIR`: the charts and the report drawn again from a published
//! output folder, without recomputing.

use std::path::{Path, PathBuf};

use polars::prelude::{col, lit, DataFrame, PolarsError};

use super::error::{stage_err, write_err};
use super::{hash_outputs, Lock, RunError};
use crate::catalogue;
use crate::charts;
use crate::config;
use crate::ingest::IngestError;
use crate::output;
use crate::report;

/// Overrides for `cityimpact chart`.
#[derive(Debug, Clone, Default)]
pub struct ChartOptions {
    pub formats: Option<Vec<config::ChartFormat>>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub highlight: Option<Vec<String>>,
    /// Print `report.pdf` too, with headless Chromium.
    pub pdf: bool,
}

/// `cityimpact chart OUTPUT_DIR`: draws the charts and the report again from a published
/// output folder (its Parquet tables and manifest) without recomputing anything, and swaps
/// the new charts in as a whole. Returns the chart files written.
pub fn rechart(out: &Path, options: &ChartOptions) -> Result<Vec<PathBuf>, RunError> {
    // `charts/` and `report.html` are replaced: only in a folder that cityimpact published.
    if !output::publish::holds_our_outputs(out) || !out.join("manifest.json").exists() {
        return Err(RunError::NotOurFolder {
            out: out.to_path_buf(),
            why: "it holds no cityimpact output (no manifest.json written by a cityimpact run)"
                .into(),
        });
    }
    // Without a browser the PDF cannot be made: say so before drawing anything.
    let browser = options.pdf.then(report::pdf::browser).transpose()?;
    let _lock = Lock::acquire(out)?;
    let manifest_path = out.join("manifest.json");
    let mut manifest = read_manifest(&manifest_path)?;
    let settings = settings(&manifest, &manifest_path, options)?;
    let published = Published::read(out)?;
    let ctx = charts::Context {
        settings: settings.clone(),
        source: manifest["chart_source"].as_str().unwrap_or("").to_string(),
        names: serde_json::from_value(manifest["area_names"].clone()).unwrap_or_default(),
        titles: published
            .catalogue
            .entries
            .iter()
            .map(|e| (e.id.clone(), e.name.clone()))
            .chain(super::index_names(Some(&manifest["index"])))
            .collect(),
    };
    let final_files = draw(out, &published, &ctx)?;

    // The report and the manifest describe the new charts.
    manifest["charts"] = serde_json::to_value(&settings).unwrap_or_default();
    let tmp_dir = tempfile::Builder::new()
        .prefix(".report.staging-")
        .tempdir_in(out)
        .map_err(write_err(out))?;
    report::write(
        tmp_dir.path(),
        &published.indicators,
        published.outputs(),
        &manifest,
        &final_files,
        &published.catalogue,
    )
    .map_err(write_err(&out.join("report.html")))?;
    std::fs::rename(tmp_dir.path().join("report.html"), out.join("report.html"))
        .map_err(write_err(&out.join("report.html")))?;
    let mut written = vec![("report.html".to_string(), None)];
    if let Some(browser) = &browser {
        let tmp = tmp_dir.path().join("report.pdf");
        report::pdf::print(browser, &out.join("report.html"), &tmp)?;
        std::fs::rename(&tmp, out.join("report.pdf"))
            .map_err(write_err(&out.join("report.pdf")))?;
        written.push(("report.pdf".to_string(), None));
    }
    list_outputs(out, &mut manifest, written, &final_files, browser.is_some())?;
    let manifest_tmp = tmp_dir.path().join("manifest.json");
    output::write_json(&manifest_tmp, &manifest).map_err(write_err(&manifest_tmp))?;
    std::fs::rename(&manifest_tmp, &manifest_path).map_err(write_err(&manifest_path))?;
    Ok(final_files)
}

/// An error reading a published file, named by its path.
fn read_err(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |error| {
        RunError::Ingest(IngestError::Io {
            source_name: "outputs".into(),
            path: path.to_path_buf(),
            error,
        })
    }
}

fn read_manifest(path: &Path) -> Result<serde_json::Value, RunError> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    serde_json::from_str(&text).map_err(|e| read_err(path)(std::io::Error::other(e)))
}

/// The run's chart settings, from its manifest, with the command's overrides.
fn settings(
    manifest: &serde_json::Value,
    path: &Path,
    options: &ChartOptions,
) -> Result<config::Charts, RunError> {
    let mut settings: config::Charts = serde_json::from_value(manifest["charts"].clone())
        .map_err(|e| read_err(path)(std::io::Error::other(format!("no chart settings: {e}"))))?;
    if let Some(f) = &options.formats {
        settings.formats = f.clone();
    }
    if let Some(w) = options.width {
        settings.width = w;
    }
    if let Some(h) = options.height {
        settings.height = h;
    }
    if let Some(h) = &options.highlight {
        settings.highlight = h.clone();
    }
    Ok(settings)
}

/// The published tables the charts and the report are drawn from, and the catalogue as the
/// run computed it (units in its currency), from the indicator table's footer.
struct Published {
    indicators: DataFrame,
    projects: Option<DataFrame>,
    effects: Option<DataFrame>,
    index: Option<DataFrame>,
    catalogue: catalogue::Resolved,
}

impl Published {
    fn read(out: &Path) -> Result<Published, RunError> {
        let indicators_path = out.join("indicators.parquet");
        // Per-project values are drawn from projects.parquet.
        let indicators =
            output::parquet::read_where(&indicators_path, col("level").neq(lit("project")))
                .map_err(read_table_err(&indicators_path))?;
        let catalogue = output::parquet::read_footer(&indicators_path)
            .ok()
            .and_then(|kv| kv.into_iter().find(|(k, _)| k == "cityimpact.catalogue"))
            .and_then(|(_, v)| serde_json::from_str::<Vec<catalogue::Entry>>(&v).ok())
            .map(catalogue::Resolved::from_entries)
            .unwrap_or_else(|| catalogue::Resolved::new(&catalogue::Settings::default()));
        Ok(Published {
            indicators,
            projects: optional(out, "projects.parquet")?,
            effects: optional(out, "effects.parquet")?,
            index: optional(out, "index.parquet")?,
            catalogue,
        })
    }

    fn outputs(&self) -> charts::Outputs<'_> {
        charts::Outputs {
            effects: self.effects.as_ref(),
            index: self.index.as_ref(),
            projects: self.projects.as_ref(),
        }
    }
}

/// A table the run may not have written.
fn optional(out: &Path, name: &str) -> Result<Option<DataFrame>, RunError> {
    let path = out.join(name);
    match path.exists() {
        true => output::parquet::read(&path)
            .map(Some)
            .map_err(read_table_err(&path)),
        false => Ok(None),
    }
}

/// A polars error reading a published table.
fn read_table_err(path: &Path) -> impl Fn(PolarsError) -> RunError {
    stage_err(&format!("read {}", path.display()))
}

/// Draws the charts into a staging folder inside the output folder and swaps it in whole for
/// `charts/`; gives the charts' final paths.
fn draw(
    out: &Path,
    published: &Published,
    ctx: &charts::Context,
) -> Result<Vec<PathBuf>, RunError> {
    let staging = tempfile::Builder::new()
        .prefix(".charts.staging-")
        .tempdir_in(out)
        .map_err(write_err(out))?;
    let files = charts::render_all(
        &published.indicators,
        published.outputs(),
        staging.path(),
        ctx,
    )?;
    let final_files: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| out.join("charts").join(n)))
        .collect();
    let charts_dir = out.join("charts");
    output::publish::replace_dir(staging.keep().as_path(), &charts_dir)
        .map_err(write_err(&charts_dir))?;
    Ok(final_files)
}

/// The manifest's outputs with the new charts and report (and PDF, where printed) in place of
/// the old ones, each with its hash.
fn list_outputs(
    out: &Path,
    manifest: &mut serde_json::Value,
    written: Vec<(String, Option<usize>)>,
    final_files: &[PathBuf],
    printed: bool,
) -> Result<(), RunError> {
    let mut outputs: Vec<serde_json::Value> = manifest["outputs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| {
            let p = o["path"].as_str().unwrap_or("");
            // A PDF printed before stays listed (and on disk) unless it is printed again.
            !p.starts_with("charts/") && p != "report.html" && !(p == "report.pdf" && printed)
        })
        .collect();
    for o in hash_outputs(out, written, final_files)? {
        outputs.push(serde_json::to_value(o).unwrap_or_default());
    }
    manifest["outputs"] = serde_json::Value::Array(outputs);
    Ok(())
}

//! `cityimpact chart OUTPUT_DIR`: the charts and the report drawn again from a published
//! output folder, without recomputing.

use std::path::{Path, PathBuf};

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
    let read_err = |path: PathBuf| {
        move |e: std::io::Error| {
            RunError::Ingest(IngestError::Io {
                source_name: "outputs".into(),
                path: path.clone(),
                error: e,
            })
        }
    };
    let manifest_path = out.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(read_err(manifest_path.clone()))?;
    let mut manifest: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| read_err(manifest_path.clone())(std::io::Error::other(e)))?;
    let mut settings: config::Charts =
        serde_json::from_value(manifest["charts"].clone()).map_err(|e| {
            read_err(manifest_path.clone())(std::io::Error::other(format!(
                "no chart settings: {e}"
            )))
        })?;
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
    let indicators_path = out.join("indicators.parquet");
    // Per-project values are drawn from projects.parquet.
    let indicators = output::parquet::read_where(
        &indicators_path,
        polars::prelude::col("level").neq(polars::prelude::lit("project")),
    )
    .map_err(|source| RunError::Stage {
        stage: format!("read {}", indicators_path.display()),
        source,
    })?;
    let projects_path = out.join("projects.parquet");
    let projects = match projects_path.exists() {
        true => Some(
            output::parquet::read(&projects_path).map_err(|source| RunError::Stage {
                stage: format!("read {}", projects_path.display()),
                source,
            })?,
        ),
        false => None,
    };
    let mut ctx = charts::Context {
        settings: settings.clone(),
        source: manifest["chart_source"].as_str().unwrap_or("").to_string(),
        names: serde_json::from_value(manifest["area_names"].clone()).unwrap_or_default(),
        titles: Default::default(),
    };
    // The catalogue as the run computed it (units in its currency), from the table's footer.
    let catalogue = output::parquet::read_footer(&indicators_path)
        .ok()
        .and_then(|kv| kv.into_iter().find(|(k, _)| k == "cityimpact.catalogue"))
        .and_then(|(_, v)| serde_json::from_str::<Vec<catalogue::Entry>>(&v).ok())
        .map(catalogue::Resolved::from_entries)
        .unwrap_or_else(|| catalogue::Resolved::new(&catalogue::Settings::default()));
    ctx.titles = catalogue
        .entries
        .iter()
        .map(|e| (e.id.clone(), e.name.clone()))
        .chain(super::index_names(Some(&manifest["index"])))
        .collect();
    let effects_path = out.join("effects.parquet");
    let effects = match effects_path.exists() {
        true => Some(
            output::parquet::read(&effects_path).map_err(|source| RunError::Stage {
                stage: format!("read {}", effects_path.display()),
                source,
            })?,
        ),
        false => None,
    };

    // New charts in a staging folder inside the output folder, then swapped in whole.
    let staging = tempfile::Builder::new()
        .prefix(".charts.staging-")
        .tempdir_in(out)
        .map_err(|source| RunError::Write {
            path: out.to_path_buf(),
            source,
        })?;
    let index_path = out.join("index.parquet");
    let index = match index_path.exists() {
        true => Some(
            output::parquet::read(&index_path).map_err(|source| RunError::Stage {
                stage: format!("read {}", index_path.display()),
                source,
            })?,
        ),
        false => None,
    };
    let files = charts::render_all(
        &indicators,
        charts::Outputs {
            effects: effects.as_ref(),
            index: index.as_ref(),
            projects: projects.as_ref(),
        },
        staging.path(),
        &ctx,
    )?;
    let final_files: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| out.join("charts").join(n)))
        .collect();
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Write {
            path: path.clone(),
            source,
        }
    };
    output::publish::replace_dir(staging.keep().as_path(), &out.join("charts"))
        .map_err(write_err(&out.join("charts")))?;

    // The report and the manifest describe the new charts.
    manifest["charts"] = serde_json::to_value(&settings).unwrap_or_default();
    let tmp_dir = tempfile::Builder::new()
        .prefix(".report.staging-")
        .tempdir_in(out)
        .map_err(write_err(out))?;
    report::write(
        tmp_dir.path(),
        &indicators,
        charts::Outputs {
            effects: effects.as_ref(),
            index: index.as_ref(),
            projects: projects.as_ref(),
        },
        &manifest,
        &final_files,
        &catalogue,
    )
    .map_err(write_err(&out.join("report.html")))?;
    std::fs::rename(tmp_dir.path().join("report.html"), out.join("report.html"))
        .map_err(write_err(&out.join("report.html")))?;
    let mut outputs: Vec<serde_json::Value> = manifest["outputs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| {
            let p = o["path"].as_str().unwrap_or("");
            // A PDF printed before stays listed (and on disk) unless it is printed again.
            !p.starts_with("charts/")
                && p != "report.html"
                && !(p == "report.pdf" && browser.is_some())
        })
        .collect();
    let mut written = vec![("report.html".to_string(), None)];
    if let Some(browser) = &browser {
        let tmp = tmp_dir.path().join("report.pdf");
        report::pdf::print(browser, &out.join("report.html"), &tmp)?;
        std::fs::rename(&tmp, out.join("report.pdf"))
            .map_err(write_err(&out.join("report.pdf")))?;
        written.push(("report.pdf".to_string(), None));
    }
    for o in hash_outputs(out, written, &final_files)? {
        outputs.push(serde_json::to_value(o).unwrap_or_default());
    }
    manifest["outputs"] = serde_json::Value::Array(outputs);
    let manifest_tmp = tmp_dir.path().join("manifest.json");
    output::write_json(&manifest_tmp, &manifest).map_err(write_err(&manifest_tmp))?;
    std::fs::rename(&manifest_tmp, &manifest_path).map_err(write_err(&manifest_path))?;
    Ok(final_files)
}

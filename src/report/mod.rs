//! `report.html`: one self-contained file a person can open or print. It holds the charts
//! (inline SVG, or PNG as data URIs), the latest value of every indicator per area, the
//! definitions and sources from the catalogue, and the run's provenance. It reads only the
//! output tables, the manifest and the chart files, like the charts themselves.
//!
//! - `findings.rs`: what changed and where, first;
//! - `evaluation.rs`, `index.rs`: the evaluation and the composite index;
//! - `tables.rs`: each family's latest values per area;
//! - `figures.rs`: the charts as figures;
//! - `appendix.rs`: definitions and sources, provenance;
//! - `names.rs`: the names areas and indicators are shown by;
//! - `html.rs`: escaping, data URIs, the style sheet;
//! - `pdf.rs`: printing the report to PDF with a headless browser.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::Value as Json;

use crate::catalogue::{Family, Resolved};
use figures::Figures;
use html::{esc, slug, STYLE};

mod appendix;
mod evaluation;
mod figures;
mod findings;
mod html;
mod index;
mod names;
pub mod pdf;
mod tables;

pub use names::Names;

/// A family's heading as a reader sees it.
pub fn family_title(family: Family) -> &'static str {
    match family {
        Family::Exclusion => "Social exclusion",
        Family::Spending => "Spending and financing",
        Family::Climate => "Climate",
        Family::Custom => "The pipeline's own indicators",
    }
}

/// Writes `report.html` into `dir`, from the tables and files already there.
pub fn write(
    dir: &Path,
    indicators: &DataFrame,
    outputs: crate::charts::Outputs,
    manifest: &Json,
    charts: &[PathBuf],
    catalogue: &Resolved,
) -> std::io::Result<()> {
    let html =
        build(indicators, outputs, manifest, charts, catalogue).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.html"), html)
}

/// The report as one HTML text: its heading, then the sections in the order a reader needs them.
fn build(
    indicators: &DataFrame,
    outputs: crate::charts::Outputs,
    manifest: &Json,
    charts: &[PathBuf],
    catalogue: &Resolved,
) -> PolarsResult<String> {
    let names = Names::new(
        serde_json::from_value(manifest["area_names"].clone()).unwrap_or_default(),
        manifest,
    );
    let title = manifest["pipeline"]["title"]
        .as_str()
        .unwrap_or("cityimpact report");
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p class=\"meta\">cityimpact {} · run {} · {}</p>\n",
        esc(title),
        esc(title),
        esc(manifest["cityimpact"].as_str().unwrap_or("")),
        esc(manifest["run_id"].as_str().unwrap_or("")),
        esc(manifest["finished"].as_str().unwrap_or("")),
    );

    // Charts are grouped by family: their file names start with it.
    let figures = Figures::new(charts);
    // What changed and where comes first; then the evaluation and the index, which answer the
    // questions the pipeline exists for; then each family's charts and tables.
    h.push_str(&findings::section(&findings::Inputs {
        indicators,
        outputs,
        manifest,
        catalogue,
        names: &names,
        charts: &figures.stems(),
    })?);
    if let Some(effects) = outputs.effects {
        let text = evaluation::section(effects, manifest, catalogue)?;
        let shown = figures.of("evaluation");
        if !text.is_empty() || !shown.is_empty() {
            let _ = write!(h, "<h2 id=\"evaluation\">Evaluation</h2>\n{text}{shown}");
        }
    }
    if let Some(df) = outputs.index {
        let text = index::section(df, manifest, names.areas())?;
        let shown = figures.of("index");
        if !text.is_empty() || !shown.is_empty() {
            let _ = write!(h, "<h2 id=\"index\">Composite index</h2>\n{text}{shown}");
        }
    }
    for family in Family::SHOWN {
        let shown = figures.of(family.as_str());
        let table = tables::latest(indicators, family, &names, catalogue)?;
        if shown.is_empty() && table.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<h2 id=\"{}\">{}</h2>\n{shown}{table}",
            family.as_str(),
            esc(family_title(family))
        );
    }

    appendix::definitions(&mut h, indicators, catalogue)?;
    appendix::provenance(&mut h, manifest);
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_svg_gives_way_to_its_png() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, body: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            p
        };
        let big = format!("<svg>{}</svg>", "<circle/>".repeat(200_000));
        let charts = vec![
            file("spending-scatter.svg", big.as_bytes()),
            file("spending-scatter.png", b"PNG of the scatter"),
            file("climate-bars.svg", b"<svg><title>bars</title></svg>"),
            file("climate-bars.png", b"PNG of the bars"),
            file("exclusion-only.svg", big.as_bytes()),
        ];
        let indicators = df!(
            "indicator" => ["ghg_total"],
            "family" => ["climate"],
            "area" => ["X"],
            "level" => ["city"],
            "period" => [2021i32],
            "breakdown" => [None::<&str>],
            "value" => [1.0],
            "ci_low" => [None::<f64>],
            "ci_high" => [None::<f64>],
            "unit" => ["tCO2e"],
            "flag" => [None::<&str>],
        )
        .unwrap();
        let catalogue = Resolved::new(&crate::catalogue::Settings::default());
        let html = build(
            &indicators,
            crate::charts::Outputs::default(),
            &serde_json::json!({}),
            &charts,
            &catalogue,
        )
        .unwrap();
        assert!(
            html.contains(&html::base64(b"PNG of the scatter")),
            "the PNG stands in"
        );
        assert!(
            html.contains("<title>bars</title>"),
            "a small SVG is inline"
        );
        assert!(!html.contains(&html::base64(b"PNG of the bars")));
        // The scatter's SVG is left out; without a PNG, even a large SVG is used (a chart is
        // never dropped): the one copy is the exclusion chart's.
        assert_eq!(html.matches(big.as_str()).count(), 1);
        let exclusion = html
            .find("<h2 id=\"exclusion\">Social exclusion</h2>")
            .unwrap();
        assert!(html[exclusion..].contains(big.as_str()));
    }
}

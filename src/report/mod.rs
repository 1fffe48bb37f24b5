//! `report.html`: one self-contained file a person can open or print. It holds the charts
//! (inline SVG, or PNG as data URIs), the latest value of every indicator per area, the
//! definitions and sources from the catalogue, and the run's provenance. It reads only the
//! output tables, the manifest and the chart files, like the charts themselves.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::Value as Json;

use crate::catalogue::{Family, Resolved};
use crate::charts::theme;
use crate::indicators::strings;

mod evaluation;
mod findings;
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

/// A fragment-safe version of an id, for anchors.
fn slug(s: &str) -> String {
    crate::charts::slug(s)
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Standard base64 (RFC 4648), for PNG data URIs.
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(T[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', Verdana, sans-serif; color: #212121; max-width: 1200px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.8em; margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #0072b2; padding-bottom: 0.2em; margin-top: 2em; }
h3 { margin-top: 1.6em; page-break-after: avoid; }
.meta { color: #6e6e6e; } figure { margin: 1.5em 0; page-break-inside: avoid; } figure svg, figure img { width: 100%; height: auto; }
ul.findings { padding-left: 1.2em; } ul.findings li { margin: 0.6em 0; } ul.findings a { white-space: nowrap; font-size: 0.9em; }
ul.findings a::before { content: '→ '; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; page-break-inside: auto; } th, td { border-bottom: 1px solid #e1e1e1; padding: 0.3em 0.6em; text-align: right; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f4f4; font-weight: 600; } tr { page-break-inside: avoid; }
table.values { width: 100%; } table.values th { width: 13%; } table.values th:first-child { width: auto; }
table.transposed th[scope=row] { background: none; font-weight: normal; text-align: left; }
td[title], th[title] { cursor: help; } small { color: #555; font-weight: normal; }
dt { font-weight: bold; margin-top: 0.8em; } dd { margin-left: 1.2em; } code { font-size: 0.9em; }
.scroll { overflow-x: auto; max-width: 100%; }
@media print { @page { size: A4; margin: 14mm 12mm; } body { margin: 0; max-width: none; font-size: 10pt; } h2 { page-break-before: always; }
  h2#findings { page-break-before: avoid; } a { color: inherit; text-decoration: none; }
  .scroll { overflow: visible; } table { width: 100%; table-layout: fixed; font-size: 7.5pt; } th, td { padding: 0.2em 0.3em; overflow-wrap: anywhere; hyphens: auto; } }
";

/// The largest SVG written into the report as it is; a larger chart comes as its PNG.
const MAX_INLINE_SVG: u64 = 1 << 20;

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

    // Charts, grouped by family (the file names start with it). SVG is sharp in print; but an
    // SVG of many thousand points would bloat the report, so above a size its PNG stands in.
    let inline_svg: BTreeSet<&Path> = charts
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .filter(|p| {
            let small = std::fs::metadata(p).is_ok_and(|m| m.len() <= MAX_INLINE_SVG);
            small || !charts.contains(&p.with_extension("png"))
        })
        .map(|p| p.as_path())
        .collect();
    let stems: BTreeSet<String> = charts
        .iter()
        .filter_map(|p| p.file_stem()?.to_str().map(String::from))
        .collect();
    // What changed and where comes first; then the evaluation and the index, which answer the
    // questions the pipeline exists for; then each family's charts and tables.
    h.push_str(&findings::section(&findings::Inputs {
        indicators,
        outputs,
        manifest,
        catalogue,
        names: &names,
        charts: &stems,
    })?);
    if let Some(effects) = outputs.effects {
        let text = evaluation::section(effects, manifest, catalogue)?;
        let figures = figures(charts, &inline_svg, "evaluation");
        if !text.is_empty() || !figures.is_empty() {
            let _ = write!(h, "<h2 id=\"evaluation\">Evaluation</h2>\n{text}{figures}");
        }
    }
    if let Some(df) = outputs.index {
        let text = index::section(df, manifest, names.areas())?;
        let figures = figures(charts, &inline_svg, "index");
        if !text.is_empty() || !figures.is_empty() {
            let _ = write!(h, "<h2 id=\"index\">Composite index</h2>\n{text}{figures}");
        }
    }
    for family in Family::SHOWN {
        let figures = figures(charts, &inline_svg, family.as_str());
        let table = tables::latest(indicators, family, &names, catalogue)?;
        if figures.is_empty() && table.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<h2 id=\"{}\">{}</h2>\n{figures}{table}",
            family.as_str(),
            esc(family_title(family))
        );
    }

    // Definitions of the indicators in the table.
    let ids: BTreeSet<String> = strings(
        &indicators
            .select(["indicator"])?
            .unique_stable(None, UniqueKeepStrategy::First, None)?,
        "indicator",
    )?
    .into_iter()
    .flatten()
    .collect();
    h.push_str("<h2>Definitions and sources</h2>\n<dl>\n");
    for entry in catalogue.entries.iter().filter(|e| ids.contains(&e.id)) {
        let _ = writeln!(
            h,
            "<dt>{} <code>{}</code></dt><dd>{} Unit: {}; {}. <em>Source: {}.</em>{}</dd>",
            esc(&entry.name),
            esc(&entry.id),
            esc(&sentence(&entry.definition)),
            esc(&entry.unit),
            esc(entry.direction.as_str()),
            esc(&entry.source),
            entry.sql.as_ref().map_or_else(String::new, |q| format!(
                "<details><summary>Query</summary><pre><code>{}</code></pre></details>",
                esc(q)
            ))
        );
    }
    h.push_str("</dl>\n");
    provenance(&mut h, manifest);
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

/// The charts whose file names start with `prefix`, as figures: inline SVG, or the PNG where
/// the SVG is too large.
fn figures(charts: &[PathBuf], inline_svg: &BTreeSet<&Path>, prefix: &str) -> String {
    let mut figures = String::new();
    for chart in charts {
        let name = chart.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if !name.starts_with(prefix) {
            continue;
        }
        let ext = chart.extension().and_then(|e| e.to_str()).unwrap_or("");
        let use_svg = inline_svg.contains(chart.with_extension("svg").as_path());
        if (ext == "png" && use_svg) || (ext == "svg" && !use_svg) {
            continue;
        }
        let Ok(bytes) = std::fs::read(chart) else {
            continue;
        };
        match ext {
            "svg" => {
                let text = String::from_utf8_lossy(&bytes);
                // Drop the XML declaration, which is not allowed inside HTML.
                let body = text.find("<svg").map_or(&text[..], |i| &text[i..]);
                let _ = writeln!(
                    figures,
                    "<figure id=\"chart-{}\">{body}</figure>",
                    esc(name)
                );
            }
            _ => {
                let _ = writeln!(
                    figures,
                    "<figure id=\"chart-{}\"><img alt=\"{}\" src=\"data:image/png;base64,{}\"></figure>",
                    esc(name),
                    esc(name),
                    base64(&bytes)
                );
            }
        }
    }
    figures
}

/// A definition as a sentence: a pipeline's own may be written without the full stop.
fn sentence(s: &str) -> String {
    let s = s.trim();
    match s.ends_with(['.', '!', '?']) {
        true => s.to_string(),
        false => format!("{s}."),
    }
}

fn provenance(h: &mut String, m: &Json) {
    h.push_str("<h2>Provenance</h2>\n");
    let _ = writeln!(
        h,
        "<p>Pipeline <code>{}</code> (BLAKE3 <code>{}</code>), run <code>{}</code>, {} to {}.</p>",
        esc(m["pipeline"]["file"].as_str().unwrap_or("")),
        esc(m["pipeline"]["blake3"].as_str().unwrap_or("")),
        esc(m["run_id"].as_str().unwrap_or("")),
        esc(m["started"].as_str().unwrap_or("")),
        esc(m["finished"].as_str().unwrap_or("")),
    );
    h.push_str("<table>\n<tr><th>Source</th><th>File</th><th>Bytes</th><th>BLAKE3</th></tr>\n");
    for i in m["inputs"].as_array().into_iter().flatten() {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(i["source"].as_str().unwrap_or("")),
            esc(i["path"].as_str().unwrap_or("")),
            theme::number(i["bytes"].as_f64().unwrap_or(0.0)),
            esc(&i["blake3"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(16)
                .collect::<String>())
        );
    }
    h.push_str("</table>\n<table>\n<tr><th>Source</th><th>Rows read</th><th>Kept</th><th>Rejected</th></tr>\n");
    for r in m["rows"].as_array().into_iter().flatten() {
        let n = |k: &str| theme::number(r[k].as_f64().unwrap_or(0.0));
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(r["source"].as_str().unwrap_or("")),
            n("read"),
            n("kept"),
            n("rejected")
        );
    }
    h.push_str("</table>\n<p class=\"meta\">Rejected rows are listed with their reasons in <code>rejects.parquet</code>; values that could not be computed are listed under <code>skipped</code> in <code>manifest.json</code>.</p>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        // RFC 4648, section 10.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
    }

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
            html.contains(&base64(b"PNG of the scatter")),
            "the PNG stands in"
        );
        assert!(
            html.contains("<title>bars</title>"),
            "a small SVG is inline"
        );
        assert!(!html.contains(&base64(b"PNG of the bars")));
        // The scatter's SVG is left out; without a PNG, even a large SVG is used (a chart is
        // never dropped): the one copy is the exclusion chart's.
        assert_eq!(html.matches(big.as_str()).count(), 1);
        let exclusion = html
            .find("<h2 id=\"exclusion\">Social exclusion</h2>")
            .unwrap();
        assert!(html[exclusion..].contains(big.as_str()));
    }
}

//! `report.html`: one self-contained file a person can open or print. It holds the charts
//! (inline SVG, or PNG as data URIs), the latest value of every indicator per area, the
//! definitions and sources from the catalogue, and the run's provenance. It reads only the
//! output tables, the manifest and the chart files, like the charts themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::Value as Json;

use crate::catalogue::{Family, Resolved};
use crate::charts::theme;
use crate::indicators::{floats, ints, strings};

mod evaluation;
mod index;

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
.meta { color: #6e6e6e; } figure { margin: 1.5em 0; page-break-inside: avoid; } figure svg, figure img { width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; page-break-inside: auto; } th, td { border-bottom: 1px solid #e1e1e1; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f4f4; } tr { page-break-inside: avoid; }
dt { font-weight: bold; margin-top: 0.8em; } dd { margin-left: 1.2em; } code { font-size: 0.9em; }
.scroll { overflow-x: auto; max-width: 100%; }
@media print { @page { size: A4; margin: 12mm; } body { margin: 0; max-width: none; } h2 { page-break-before: always; }
  .scroll { overflow: visible; } table { width: 100%; table-layout: fixed; font-size: 6.5pt; } th, td { padding: 0.15em 0.25em; overflow-wrap: anywhere; } }
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
    let names: BTreeMap<String, String> =
        serde_json::from_value(manifest["area_names"].clone()).unwrap_or_default();
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
    // The evaluation and the index lead: they answer the questions the pipeline exists for.
    if let Some(effects) = outputs.effects {
        let text = evaluation::section(effects, manifest, catalogue)?;
        let figures = figures(charts, &inline_svg, "evaluation");
        if !text.is_empty() || !figures.is_empty() {
            let _ = write!(h, "<h2>Evaluation</h2>\n{text}{figures}");
        }
    }
    if let Some(df) = outputs.index {
        let text = index::section(df, manifest, &names)?;
        let figures = figures(charts, &inline_svg, "index");
        if !text.is_empty() || !figures.is_empty() {
            let _ = write!(h, "<h2>Composite index</h2>\n{text}{figures}");
        }
    }
    for family in Family::SHOWN {
        let figures = figures(charts, &inline_svg, family.as_str());
        let table = latest_table(indicators, family, &names, catalogue)?;
        if figures.is_empty() && table.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<h2>{}</h2>\n{figures}{table}",
            esc(&capitalise(family.as_str()))
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
                let _ = writeln!(figures, "<figure>{body}</figure>");
            }
            _ => {
                let _ = writeln!(
                    figures,
                    "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"></figure>",
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

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The latest value of each indicator of a family, one row per area (no breakdowns, no
/// projects), as an HTML table.
fn latest_table(
    all: &DataFrame,
    family: Family,
    names: &BTreeMap<String, String>,
    catalogue: &Resolved,
) -> PolarsResult<String> {
    // Only the family's area values; per-project values can be millions of rows.
    let indicators = &all
        .clone()
        .lazy()
        .filter(
            col("family")
                .eq(lit(family.as_str()))
                .and(col("level").neq(lit("project")))
                .and(col("breakdown").is_null()),
        )
        .collect()?;
    let ind = strings(indicators, "indicator")?;
    let fam = strings(indicators, "family")?;
    let area = strings(indicators, "area")?;
    let level = strings(indicators, "level")?;
    let period = ints(indicators, "period")?;
    let breakdown = strings(indicators, "breakdown")?;
    let value = floats(indicators, "value")?;
    let flag = strings(indicators, "flag")?;
    let unit_col = match indicators.schema().contains("unit") {
        true => strings(indicators, "unit")?,
        false => vec![None; indicators.height()],
    };
    // The unit as the table writes it (in the pipeline's reporting currency).
    let mut units: BTreeMap<&str, &str> = BTreeMap::new();
    for (id, u) in ind.iter().zip(&unit_col) {
        if let (Some(id), Some(u)) = (id, u) {
            units.entry(id).or_insert(u);
        }
    }
    // indicator → latest period; (area, indicator) → value of that period
    let mut latest: BTreeMap<&str, i32> = BTreeMap::new();
    for i in 0..indicators.height() {
        let (Some(id), Some(p)) = (ind[i].as_deref(), period[i]) else {
            continue;
        };
        if fam[i].as_deref() == Some(family.as_str())
            && breakdown[i].is_none()
            && level[i].as_deref() != Some("project")
            && !id.ends_with("_change")
        {
            let e = latest.entry(id).or_insert(p);
            *e = (*e).max(p);
        }
    }
    if latest.is_empty() {
        return Ok(String::new());
    }
    let mut cells: BTreeMap<&str, BTreeMap<&str, (f64, Option<String>)>> = BTreeMap::new();
    for i in 0..indicators.height() {
        let (Some(id), Some(a), Some(v)) = (ind[i].as_deref(), area[i].as_deref(), value[i]) else {
            continue;
        };
        if latest.get(id) == period[i].as_ref()
            && breakdown[i].is_none()
            && level[i].as_deref() != Some("project")
        {
            cells.entry(a).or_default().insert(id, (v, flag[i].clone()));
        }
    }
    // One number of decimals per indicator, set by its largest value, so a column reads alike.
    let decimals: BTreeMap<&str, usize> = latest
        .keys()
        .map(|id| {
            let top = cells
                .values()
                .filter_map(|row| row.get(id).map(|c| c.0.abs()))
                .fold(0.0, f64::max);
            (*id, theme::decimals_for(top))
        })
        .collect();
    let mut t = String::from("<div class=\"scroll\"><table>\n<tr><th>Area</th>");
    for (id, p) in &latest {
        let unit = units.get(id).copied().unwrap_or("");
        let name = catalogue.get(id).map(|e| e.name.as_str()).unwrap_or(id);
        let _ = write!(
            t,
            "<th title=\"{}\">{}<br><small>{}, {}</small></th>",
            esc(id),
            esc(name),
            esc(unit),
            p
        );
    }
    t.push_str("</tr>\n");
    for (a, row) in &cells {
        match names.get(*a) {
            Some(name) => {
                let _ = write!(t, "<tr><td title=\"{}\">{}</td>", esc(a), esc(name));
            }
            None => {
                let _ = write!(t, "<tr><td>{}</td>", esc(a));
            }
        }
        for id in latest.keys() {
            match row.get(id) {
                Some((v, flag)) => {
                    let text = theme::number_with(*v, decimals[id]);
                    match flag {
                        Some(f) => {
                            let _ = write!(t, "<td title=\"flag: {}\">{}*</td>", esc(f), text);
                        }
                        None => {
                            let _ = write!(t, "<td>{text}</td>");
                        }
                    }
                }
                None => {
                    let _ = write!(t, "<td title=\"no value for this area in this period (the manifest's skipped list says why)\">–</td>");
                }
            }
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</table></div>\n<p class=\"meta\">Latest period of each indicator; * a flagged value (low reliability, or a flag of the source: hover to read it); – no value. Indicator ids are in the headers' tooltips.</p>\n");
    Ok(t)
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
    fn a_column_has_one_number_of_decimals_and_missing_values_show_a_dash() {
        // 40.0 sets one decimal for the column: 0.0004 is written 0.0, not 0.000; area Z has
        // no value and shows "–" with the reason on hover.
        let df = df!(
            "indicator" => ["arpr", "arpr", "gini"],
            "family" => ["exclusion", "exclusion", "exclusion"],
            "area" => ["X", "Y", "Z"],
            "level" => ["city", "city", "city"],
            "period" => [2021i32, 2021, 2021],
            "breakdown" => [None::<&str>, None, None],
            "value" => [40.0, 0.0004, 30.0],
            "unit" => ["%", "%", "%"],
            "flag" => [None::<&str>, Some("low_reliability"), None],
        )
        .unwrap();
        let catalogue = Resolved::new(&crate::catalogue::Settings::default());
        let t = latest_table(&df, Family::Exclusion, &BTreeMap::new(), &catalogue).unwrap();
        assert!(t.contains("<td>40.0</td>"), "{t}");
        assert!(
            t.contains("<td title=\"flag: low_reliability\">0.0*</td>"),
            "{t}"
        );
        assert!(t.contains(">–</td>"), "{t}");
        assert!(t.contains("<th title=\"gini\">Gini coefficient"), "{t}");
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
        let exclusion = html.find("<h2>Exclusion</h2>").unwrap();
        assert!(html[exclusion..].contains(big.as_str()));
    }
}

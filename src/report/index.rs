//! The report's index section: who leads and trails, how sure the ranking is, and what drives
//! its uncertainty, in plain words, from `index.parquet` and the manifest's `index` entry.

use std::fmt::Write as _;

use polars::prelude::*;
use serde_json::Value as Json;

use super::esc;
use crate::charts::theme;
use crate::indicators::{floats, ints, strings};

/// The index's headline: who leads and trails in the latest period, and how sure the ranking
/// is; the first two paragraphs of the section, and the index's line among the key findings.
pub fn summary(
    index: &DataFrame,
    manifest: &Json,
    names: &std::collections::BTreeMap<String, String>,
) -> PolarsResult<Option<Summary>> {
    let ix = &manifest["index"];
    let top = ix["name"].as_str().unwrap_or("Index");
    let title = ix["names"][top].as_str().unwrap_or(top);
    let area = strings(index, "area")?;
    let node = strings(index, "node")?;
    let period = ints(index, "period")?;
    let score = floats(index, "score")?;
    let rank = ints(index, "rank")?;
    let (lo, hi) = (floats(index, "rank_low")?, floats(index, "rank_high")?);
    let latest = period.iter().flatten().max().copied();
    // (rank, area, score, 5-95 % interval of ranks)
    type Row = (i32, String, f64, Option<(f64, f64)>);
    let mut rows: Vec<Row> = (0..index.height())
        .filter(|&i| node[i].as_deref() == Some(top) && period[i] == latest)
        .filter_map(|i| {
            let a = area[i].clone()?;
            Some((rank[i]?, a, score[i]?, lo[i].zip(hi[i])))
        })
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let name = |a: &str| names.get(a).cloned().unwrap_or_else(|| a.to_string());
    let lead: Vec<String> = rows
        .iter()
        .take(3)
        .map(|r| format!("{} ({})", name(&r.1), theme::number(r.2)))
        .collect();
    let last = rows.last().expect("not empty");
    let when = latest.map(|p| format!(" in {p}")).unwrap_or_default();
    let lead = format!(
        "<strong>{}{when}: {} lead; {} is last ({})</strong>, of {} areas scored.",
        esc(title),
        esc(&lead.join(", ")),
        esc(&name(&last.1)),
        theme::number(last.2),
        rows.len()
    );
    let widest = rows
        .iter()
        .filter_map(|r| r.3.map(|(l, h)| (h - l, r)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let sure = widest.map(|(w, r)| {
        let settled = rows
            .iter()
            .filter(|r| r.3.is_some_and(|(l, h)| h - l <= 2.0))
            .count();
        format!(
            "How sure the ranking is: over the Monte-Carlo runs (weights, normalisation and aggregation drawn from the pipeline's sets), {settled} of {} areas stay within two ranks of each other (5-95 % of runs); {} moves the most, over {} ranks.",
            rows.len(),
            esc(&name(&r.1)),
            theme::number(w)
        )
    });
    Ok(Some(Summary { lead, sure, latest }))
}

/// The index's headline, as HTML sentences.
pub struct Summary {
    pub lead: String,
    pub sure: Option<String>,
    latest: Option<i32>,
}

/// The section's HTML (empty without an index).
pub fn section(
    index: &DataFrame,
    manifest: &Json,
    names: &std::collections::BTreeMap<String, String>,
) -> PolarsResult<String> {
    let ix = &manifest["index"];
    let Some(summary) = summary(index, manifest, names)? else {
        return Ok(String::new());
    };
    let latest = summary.latest;
    let mut h = format!("<p>{}</p>\n", summary.lead);
    if let Some(sure) = &summary.sure {
        let _ = writeln!(h, "<p>{sure}</p>");
    }
    let period_entry = ix["periods"].as_array().and_then(|p| {
        p.iter()
            .find(|p| p["period"].as_i64() == latest.map(i64::from))
    });
    if let Some(sens) = period_entry.and_then(|p| p["sensitivity"].as_array()) {
        if let Some(s) = sens.iter().max_by(|a, b| {
            a["total"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b["total"].as_f64().unwrap_or(0.0))
        }) {
            let _ = writeln!(
                h,
                "<p>The ranking depends most on <strong>{}</strong>: it accounts for {} % of the variance of the ranks' changes with its interactions (total sensitivity index {}).</p>",
                esc(s["input"].as_str().unwrap_or("")),
                theme::number(100.0 * s["total"].as_f64().unwrap_or(0.0)),
                theme::number(s["total"].as_f64().unwrap_or(0.0)),
            );
        }
    }
    if let Some(notes) = period_entry.and_then(|p| p["notes"].as_array()) {
        if !notes.is_empty() {
            h.push_str("<ul class=\"meta\">");
            for n in notes.iter().filter_map(|n| n.as_str()) {
                let _ = write!(h, "<li>{}</li>", esc(n));
            }
            h.push_str("</ul>\n");
        }
    }
    let _ = writeln!(
        h,
        "<p class=\"meta\">How: structure {}; denominators {}; imputation {}; outliers {}; normalisation {}; aggregation {}; ranks on unrounded scores. Every score is in <code>index.parquet</code>, every run's parameters in <code>index_runs.parquet</code>.</p>",
        esc(ix["structure"].as_str().unwrap_or("")),
        if ix["denominate"].as_bool() == Some(true) { "applied" } else { "not applied" },
        esc(ix["impute"].as_str().unwrap_or("")),
        if ix["outliers"].is_null() { "not treated".to_string() } else { "winsorised (COINr's rule), log where that is not enough".to_string() },
        esc(ix["normalise"].as_str().unwrap_or("")),
        esc(ix["aggregate"].as_str().unwrap_or("")),
    );
    Ok(h)
}

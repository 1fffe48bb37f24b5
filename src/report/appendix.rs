//! The report's last sections: the definitions and sources of the indicators it shows, and
//! the run's provenance (its pipeline, inputs and rows).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use polars::prelude::*;
use serde_json::Value as Json;

use super::html::{esc, sentence};
use crate::catalogue::Resolved;
use crate::charts::theme;
use crate::indicators::strings;

/// The definition, unit, direction and source of every indicator in the table, from the
/// catalogue (with a custom indicator's query).
pub(super) fn definitions(
    h: &mut String,
    indicators: &DataFrame,
    catalogue: &Resolved,
) -> PolarsResult<()> {
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
    Ok(())
}

/// The pipeline file and run, every input file with its size and hash, and each source's rows
/// read, kept and rejected.
pub(super) fn provenance(h: &mut String, m: &Json) {
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

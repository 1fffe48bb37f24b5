//! The report's evaluation section: for each outcome, in plain words, what the evaluation
//! found, how sure it is, what the pre-trend test says, and how it was set up, from
//! `effects.parquet` and the manifest's `evaluation` entry.

use std::fmt::Write as _;

use polars::prelude::*;
use serde_json::Value as Json;

use super::esc;
use crate::catalogue::Resolved;
use crate::charts::theme;
use crate::indicators::{floats, ints, strings};

/// One estimate, as the section reads it.
struct Row {
    att: f64,
    lo: Option<f64>,
    hi: Option<f64>,
    p: Option<f64>,
    n_treated: i64,
    n_control: i64,
}

fn find(
    df: &DataFrame,
    outcome: &str,
    estimator: &str,
    aggregation: &str,
) -> PolarsResult<Option<Row>> {
    let o = strings(df, "outcome")?;
    let e = strings(df, "estimator")?;
    let a = strings(df, "aggregation")?;
    let g = ints(df, "group")?;
    let p = ints(df, "period")?;
    let ev = ints(df, "event_time")?;
    let att = floats(df, "att")?;
    let (lo, hi, pv) = (
        floats(df, "ci_low")?,
        floats(df, "ci_high")?,
        floats(df, "p_value")?,
    );
    let nt = df.column("n_treated")?.i64()?.clone();
    let nc = df.column("n_control")?.i64()?.clone();
    for i in 0..df.height() {
        let overall = g[i].is_none() && p[i].is_none() && ev[i].is_none();
        if overall
            && o[i].as_deref() == Some(outcome)
            && e[i].as_deref() == Some(estimator)
            && a[i].as_deref() == Some(aggregation)
        {
            if let Some(att) = att[i] {
                return Ok(Some(Row {
                    att,
                    lo: lo[i],
                    hi: hi[i],
                    p: pv[i],
                    n_treated: nt.get(i).unwrap_or(0),
                    n_control: nc.get(i).unwrap_or(0),
                }));
            }
        }
    }
    Ok(None)
}

fn p_text(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "p < 0.001".into(),
        Some(p) => format!("p = {p:.3}"),
        None => "no p-value".into(),
    }
}

/// "fell by 0.706 percentage points more in the 3 treated areas than in the 6 areas never
/// treated" (HTML).
fn effect(r: &Row, unit: &str, comparison: &str) -> String {
    format!(
        "{} by {} {} more in the {} treated areas than in the {} {comparison}",
        if r.att < 0.0 { "fell" } else { "rose" },
        theme::number(r.att.abs()),
        esc(unit),
        r.n_treated,
        r.n_control,
    )
}

/// "95 % interval -1.11 to -0.306; p = 0.001".
fn uncertainty(r: &Row, alpha: f64) -> String {
    format!(
        "{:.0} % interval {} to {}; {}",
        100.0 * (1.0 - alpha),
        r.lo.map(theme::number).unwrap_or_else(|| "–".into()),
        r.hi.map(theme::number).unwrap_or_else(|| "–".into()),
        p_text(r.p),
    )
}

/// How sure: a plain reading of the interval and p-value.
fn certainty(r: &Row, alpha: f64) -> &'static str {
    match r.p {
        Some(p) if p < alpha / 5.0 => "a clear difference",
        Some(p) if p < alpha => "a difference, though not a large margin of certainty",
        Some(_) => "no difference that can be told apart from chance",
        None => "an estimate without a measure of its uncertainty",
    }
}

/// Where an outcome's part of the section starts, for links from the key findings.
pub fn anchor(outcome: &str) -> String {
    format!("evaluation-{}", super::slug(outcome))
}

/// One sentence per evaluated outcome for the key findings: the overall effect, its interval
/// and how sure it is, and a caution when the treated areas already differed before.
/// (outcome id, HTML)
pub fn headlines(
    effects: &DataFrame,
    manifest: &Json,
    catalogue: &Resolved,
) -> PolarsResult<Vec<(String, String)>> {
    let ev = &manifest["evaluation"];
    let alpha = ev["settings"]["alpha"].as_f64().unwrap_or(0.05);
    let comparison = match ev["settings"]["control_group"].as_str() {
        Some("not_yet_treated") => "areas not yet treated",
        _ => "areas never treated",
    };
    let mut out = Vec::new();
    for o in ev["outcomes"].as_array().into_iter().flatten() {
        let id = o["outcome"].as_str().unwrap_or("");
        let Some(r) = find(effects, id, "cs_did", "simple")? else {
            continue;
        };
        let entry = catalogue.get(id);
        let name = entry.map(|e| e.name.as_str()).unwrap_or(id);
        let unit = match entry.map(|e| e.unit.as_str()).unwrap_or("") {
            "%" => "percentage points",
            u => u,
        };
        let mut s = format!(
            "<strong>{}</strong> {} ({}): {}.",
            esc(name),
            effect(&r, unit, comparison),
            uncertainty(&r, alpha),
            certainty(&r, alpha),
        );
        if o["pre_test"]["p_value"].as_f64().is_some_and(|p| p < alpha) {
            s.push_str(" Read it with caution: the treated areas already moved differently before treatment.");
        }
        out.push((id.to_string(), s));
    }
    Ok(out)
}

/// The section's HTML (empty when nothing was evaluated).
pub fn section(effects: &DataFrame, manifest: &Json, catalogue: &Resolved) -> PolarsResult<String> {
    let ev = &manifest["evaluation"];
    let settings = &ev["settings"];
    let alpha = settings["alpha"].as_f64().unwrap_or(0.05);
    let control = settings["control_group"]
        .as_str()
        .unwrap_or("never_treated");
    let comparison = if control == "not_yet_treated" {
        "areas not yet treated at the time"
    } else {
        "areas never treated"
    };
    let mut h = String::new();
    for o in ev["outcomes"].as_array().into_iter().flatten() {
        let id = o["outcome"].as_str().unwrap_or("");
        let entry = catalogue.get(id);
        let name = entry.map(|e| e.name.as_str()).unwrap_or(id);
        // A difference of two rates is in percentage points, not per cent.
        let unit = match entry.map(|e| e.unit.as_str()).unwrap_or("") {
            "%" => "percentage points",
            u => u,
        };
        let _ = writeln!(h, "<h3 id=\"{}\">{}</h3>", anchor(id), esc(name));
        let Some(simple) = find(effects, id, "cs_did", "simple")? else {
            let why: Vec<&str> = o["notes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str())
                .collect();
            let _ = writeln!(h, "<p>Not evaluated: {}.</p>", esc(&why.join("; ")));
            continue;
        };
        let _ = writeln!(
            h,
            "<p><strong>After treatment started, {} {}</strong> (average over treated areas and years; {}). That is {}.</p>",
            esc(name),
            effect(&simple, unit, comparison),
            uncertainty(&simple, alpha),
            certainty(&simple, alpha),
        );
        if let Some(d) = find(effects, id, "cs_did", "dynamic")? {
            let _ = writeln!(
                h,
                "<p>Averaged by years since treatment (the event study below), the effect is {} {} ({}).</p>",
                theme::number(d.att),
                esc(unit),
                p_text(d.p)
            );
        }
        match o["pre_test"]["p_value"].as_f64() {
            Some(p) if p < alpha => {
                let _ = writeln!(h, "<p><strong>Caution: before treatment, the treated areas already moved differently from the comparison areas</strong> (pre-test of parallel trends over {} pre-treatment cells, {}). The estimates above may reflect those differences, not the programme.</p>", o["pre_test"]["cells"], p_text(Some(p)));
            }
            Some(p) => {
                let _ = writeln!(h, "<p>Before treatment, treated and comparison areas moved alike: the pre-test of parallel trends over {} pre-treatment cells does not reject them ({}).</p>", o["pre_test"]["cells"], p_text(Some(p)));
            }
            None => {
                let _ = writeln!(h, "<p>The pre-test of parallel trends could not be computed (too few pre-treatment periods or areas).</p>");
            }
        }
        if o["few_clusters"].as_bool() == Some(true) {
            let _ = writeln!(h, "<p>With only {} areas, the usual standard errors are unreliable: p-values come from a wild bootstrap with Webb weights, and every estimate carries the flag <code>few_clusters</code>.</p>", o["areas"]);
        }
        if let Some(t) = find(effects, id, "twfe", "simple")? {
            let staggered = o["cohorts"].as_array().map_or(0, |c| c.len()) > 1;
            let _ = writeln!(
                h,
                "<p>For comparison, a two-way fixed-effects regression gives {} {}{}.</p>",
                theme::number(t.att),
                esc(unit),
                if staggered {
                    "; with treatment starting in different years its implicit weights can be negative, so the estimate above is the one to read"
                } else {
                    ""
                }
            );
        }
        let notes: Vec<&str> = o["notes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str())
            .collect();
        if !notes.is_empty() {
            h.push_str("<ul class=\"meta\">");
            for n in notes {
                let _ = write!(h, "<li>{}</li>", esc(n));
            }
            h.push_str("</ul>\n");
        }
    }
    if !h.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"meta\">How: Callaway &amp; Sant'Anna (2021) group-time effects under unconditional parallel trends; comparison group {}; base period {}; anticipation {} periods; standard errors clustered by area; uniform bands from {} multiplier-bootstrap replicates (seed {}). Every estimate is in <code>effects.parquet</code>.</p>",
            esc(control),
            esc(settings["base_period"].as_str().unwrap_or("")),
            settings["anticipation"],
            settings["bootstrap_replicates"],
            settings["bootstrap_seed"],
        );
    }
    Ok(h)
}

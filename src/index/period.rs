//! One period's index, step by step as COINr's example builds it: denominate and impute,
//! screen units by data availability, treat outliers, normalise and aggregate, rank, then the
//! Monte-Carlo runs and the rows of every node for every unit.

use std::collections::BTreeMap;

use serde_json::json;

use super::compute::{ranks, scores, Tree};
use super::tables::{IndexRow, RunRow, SensitivityRow};
use super::treat::{self, Column as Values, Treatment};
use super::{inputs, stats, uncertainty, Built};
use crate::config::index::{IndexSettings, Uncertainty};

/// A unit's rank median and its 5 % and 95 % quantiles over the Monte-Carlo runs.
type Interval = Option<(f64, f64, f64)>;

/// Builds one period's rows, runs and sensitivity into `out`; returns the period's part of
/// the stage's report.
pub(super) fn build(
    settings: &IndexSettings,
    tree: &Tree,
    period: Option<i32>,
    areas: &BTreeMap<String, BTreeMap<String, f64>>,
    groups: &BTreeMap<String, String>,
    out: &mut Built,
) -> serde_json::Value {
    let units: Vec<&String> = areas.keys().collect();
    let mut notes: Vec<String> = Vec::new();
    let data = raw(settings, tree, &units, areas, groups, &mut notes);
    let kept = screen(settings, tree, &units, &data, &mut notes);
    let (treated, treatments) = treated(settings, tree, &data, &kept);
    let base: Vec<f64> = tree
        .codes
        .iter()
        .map(|c| settings.node(c).map_or(1.0, |n| n.weight))
        .collect();
    let (nominal, why) = scores(
        tree,
        &treated,
        &base,
        settings.normalise,
        settings.aggregate,
    );
    let rank_of: Vec<Vec<Option<u32>>> = nominal.iter().map(ranks).collect();
    let mut intervals: Vec<Vec<Interval>> = vec![vec![None; kept.len()]; tree.len()];
    if let Some(un) = &settings.uncertainty {
        intervals = monte_carlo(tree, &treated, &base, un, period, out);
        let top = tree.len() - 1;
        sensitivity(tree, &treated, &base, &rank_of[top], un, period, out);
    }
    let counts = stats::indicators_under(tree, &treated);
    for (u, area) in units.iter().enumerate() {
        let pos = kept.iter().position(|k| *k == u);
        for n in 0..tree.len() {
            let mut row = blank_row(settings, tree, area, period, n);
            match pos {
                None => row.flag = Some("insufficient_data".into()),
                Some(p) => {
                    row.score = nominal[n][p];
                    row.rank = rank_of[n][p].map(|r| r as i32);
                    if let Some((m, lo, hi)) = intervals[n][p] {
                        row.rank_median = Some(m);
                        row.rank_low = Some(lo);
                        row.rank_high = Some(hi);
                    }
                    row.n_indicators = counts[n][p] as i64;
                    row.flag = why[n][p].map(String::from);
                    if n < tree.indicators
                        && data[n][u].is_some()
                        && !areas[*area].contains_key(&tree.codes[n])
                    {
                        row.flag = Some("imputed".into());
                    }
                }
            }
            out.rows.push(row);
        }
    }
    let sensitivity: Vec<serde_json::Value> = out
        .sensitivity
        .iter()
        .filter(|s| s.period == period)
        .map(|s| json!({"input": s.input, "first_order": s.first_order, "total": s.total}))
        .collect();
    json!({
        "period": period,
        "sensitivity": sensitivity,
        "areas": units.len(),
        "scored": kept.len(),
        "treatments": treatments,
        "nodes": stats::nodes(tree, &nominal, &settings.name),
        "notes": notes,
    })
}

/// Each indicator's column over the units: raw, denominated where the node says so, imputed.
fn raw(
    settings: &IndexSettings,
    tree: &Tree,
    units: &[&String],
    areas: &BTreeMap<String, BTreeMap<String, f64>>,
    groups: &BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> Vec<Values> {
    let unit_groups: Vec<Option<String>> = units.iter().map(|u| groups.get(*u).cloned()).collect();
    let mut data: Vec<Values> = Vec::with_capacity(tree.indicators);
    let mut imputed = 0;
    let mut denominator_missing = 0;
    for code in &tree.codes[..tree.indicators] {
        let node = settings
            .node(code)
            .expect("the tree is built from the nodes");
        let mut x: Values = units
            .iter()
            .map(|u| {
                let v = areas[*u].get(code).copied()?;
                match (&node.denominator, settings.denominate) {
                    (Some(d), true) => match areas[*u].get(d) {
                        Some(den) if *den != 0.0 => Some(v / den),
                        _ => {
                            denominator_missing += 1;
                            None
                        }
                    },
                    _ => Some(v),
                }
            })
            .collect();
        imputed += inputs::impute(&mut x, &settings.impute, &unit_groups);
        data.push(x);
    }
    if denominator_missing > 0 {
        notes.push(format!("{denominator_missing} values have no denominator (missing or zero) and count as missing"));
    }
    if imputed > 0 {
        notes.push(
            format!("{imputed} missing values imputed ({:?})", settings.impute).to_lowercase(),
        );
    }
    data
}

/// The positions of the units with data for enough of the indicators; the others get no score,
/// and a note says which.
fn screen(
    settings: &IndexSettings,
    tree: &Tree,
    units: &[&String],
    data: &[Values],
    notes: &mut Vec<String>,
) -> Vec<usize> {
    let k = tree.indicators as f64;
    let keep: Vec<bool> = (0..units.len())
        .map(|u| data.iter().filter(|c| c[u].is_some()).count())
        .map(|a| a as f64 / k >= settings.min_availability)
        .collect();
    let dropped: Vec<&str> = units
        .iter()
        .zip(&keep)
        .filter(|(_, k)| !**k)
        .map(|(u, _)| u.as_str())
        .collect();
    if !dropped.is_empty() {
        notes.push(format!(
            "{} areas have data for fewer than {:.0} % of the indicators and get no score: {}",
            dropped.len(),
            settings.min_availability * 100.0,
            crate::evaluate::panel::first_few(dropped.iter().copied())
        ));
    }
    (0..units.len()).filter(|u| keep[*u]).collect()
}

/// Each indicator over the kept units, its outliers treated; and what was done to which.
fn treated(
    settings: &IndexSettings,
    tree: &Tree,
    data: &[Values],
    kept: &[usize],
) -> (Vec<Values>, Vec<serde_json::Value>) {
    let mut treated: Vec<Values> = Vec::with_capacity(tree.indicators);
    let mut treatments = Vec::new();
    for (i, c) in data.iter().enumerate() {
        let x: Values = kept.iter().map(|&u| c[u]).collect();
        let (t, how) = match &settings.outliers {
            Some(o) => treat::outliers(&x, o),
            None => (x.clone(), Treatment::None),
        };
        if how != Treatment::None {
            treatments.push(json!({"indicator": tree.codes[i], "treatment": match how {
                Treatment::Winsorised(n) => format!("winsorised {n} points"),
                Treatment::Log => "log (winsorisation was not enough)".into(),
                Treatment::None => String::new(),
            }}));
        }
        treated.push(t);
    }
    (treated, treatments)
}

/// Runs the Monte-Carlo draws, records each run's parameters in `out.runs`, and returns every
/// aggregate's rank interval per kept unit (indicators have none).
fn monte_carlo(
    tree: &Tree,
    treated: &[Values],
    base: &[f64],
    un: &Uncertainty,
    period: Option<i32>,
    out: &mut Built,
) -> Vec<Vec<Interval>> {
    let units = treated.first().map_or(0, Vec::len);
    let mut intervals: Vec<Vec<Interval>> = vec![vec![None; units]; tree.len()];
    let (draws, run_ranks) = uncertainty::monte_carlo(tree, treated, base, un);
    for (a, slot) in intervals.iter_mut().enumerate().skip(tree.indicators) {
        for (u, cell) in slot.iter_mut().enumerate() {
            let mut r: Vec<f64> = run_ranks
                .iter()
                .filter_map(|run| run[a - tree.indicators][u].map(f64::from))
                .collect();
            if r.is_empty() {
                continue;
            }
            r.sort_by(f64::total_cmp);
            *cell = Some((
                uncertainty::quantile7(&r, 0.5),
                uncertainty::quantile7(&r, 0.05),
                uncertainty::quantile7(&r, 0.95),
            ));
        }
    }
    for d in &draws {
        let run = d.run as i32;
        for (i, w) in &d.weights {
            out.runs.push(RunRow {
                period,
                run,
                parameter: format!("weight:{}", tree.codes[*i]),
                value: Some(*w),
                choice: None,
            });
        }
        out.runs.push(RunRow {
            period,
            run,
            parameter: "normalisation".into(),
            value: None,
            choice: Some(d.normalise.label()),
        });
        out.runs.push(RunRow {
            period,
            run,
            parameter: "aggregation".into(),
            value: None,
            choice: Some(d.aggregate.as_str().into()),
        });
    }
    intervals
}

/// The variance-based sensitivity of the index's ranks to each uncertain input, when asked for.
fn sensitivity(
    tree: &Tree,
    treated: &[Values],
    base: &[f64],
    nominal_ranks: &[Option<u32>],
    un: &Uncertainty,
    period: Option<i32>,
    out: &mut Built,
) {
    if un.sensitivity_samples == 0 {
        return;
    }
    let samples = un.sensitivity_samples;
    let si = uncertainty::sensitivity(tree, treated, base, nominal_ranks, un, samples);
    for (input, (first_order, total)) in uncertainty::inputs(tree).into_iter().zip(si) {
        out.sensitivity.push(SensitivityRow {
            period,
            input,
            first_order,
            total,
            samples: samples as i64,
        });
    }
}

/// A node's row for a unit before its figures are filled in; the top node takes the index's name.
fn blank_row(
    settings: &IndexSettings,
    tree: &Tree,
    area: &str,
    period: Option<i32>,
    n: usize,
) -> IndexRow {
    let node = if n == tree.len() - 1 {
        settings.name.clone()
    } else {
        tree.codes[n].clone()
    };
    IndexRow {
        area: area.to_string(),
        period,
        node,
        level: tree.levels[n] as i32,
        score: None,
        rank: None,
        rank_median: None,
        rank_low: None,
        rank_high: None,
        n_indicators: 0,
        flag: None,
    }
}

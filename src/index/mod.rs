//! The composite index stage: the pipeline's own indicator values (and declared series) per
//! area and period, built into an index the way the OECD/JRC handbook and COINr do, with its
//! uncertainty. Writes `index.parquet`, `index_runs.parquet` and `index_sensitivity.parquet`.
//!
//! - `treat.rs`: skewness, kurtosis and COINr's outlier treatment;
//! - `compute.rs`: the hierarchy by position, normalisation, aggregation and ranks;
//! - `uncertainty.rs`: Monte-Carlo runs, rank intervals and variance-based sensitivity;
//! - `stats.rs`: data availability, correlations and Cronbach's alpha per node.
//!
//! Steps per period, as COINr's example builds its index: denominate, impute, screen units by
//! data availability, treat outliers, normalise, aggregate with weights, rank on unrounded
//! scores.

pub mod compute;
pub mod stats;
pub mod treat;
pub mod uncertainty;

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;
use serde_json::json;

use crate::config::index::{Impute, IndexSettings};
use crate::indicators::Value;
use compute::{ranks, scores, Tree};
use treat::{Column as Values, Treatment};

/// One row of `index.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    pub area: String,
    pub period: Option<i32>,
    pub node: String,
    pub level: i32,
    pub score: Option<f64>,
    pub rank: Option<i32>,
    pub rank_median: Option<f64>,
    pub rank_low: Option<f64>,
    pub rank_high: Option<f64>,
    pub n_indicators: i64,
    pub flag: Option<String>,
}

/// One drawn parameter of one Monte-Carlo run (`index_runs.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub period: Option<i32>,
    pub run: i32,
    pub parameter: String,
    pub value: Option<f64>,
    pub choice: Option<String>,
}

/// One input's sensitivity indices (`index_sensitivity.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct SensitivityRow {
    pub period: Option<i32>,
    pub input: String,
    pub first_order: f64,
    pub total: f64,
    pub samples: i64,
}

/// The stage's result.
#[derive(Debug, Clone)]
pub struct Built {
    pub rows: Vec<IndexRow>,
    pub runs: Vec<RunRow>,
    pub sensitivity: Vec<SensitivityRow>,
    /// Settings, per-period statistics and notes, for the manifest, footer and report.
    pub report: serde_json::Value,
}

/// Values by (period, area) → code.
type Cells = BTreeMap<Option<i32>, BTreeMap<String, BTreeMap<String, f64>>>;

fn cells(
    settings: &IndexSettings,
    values: &[Value],
    level: &dyn Fn(&str) -> String,
) -> (Cells, String) {
    let wanted = settings.inputs();
    let mut levels: BTreeMap<String, usize> = BTreeMap::new();
    let mut cells: Cells = BTreeMap::new();
    let indicators: BTreeSet<&str> = settings
        .nodes
        .iter()
        .filter(|n| n.indicator)
        .map(|n| n.code.as_str())
        .collect();
    for v in values {
        if !wanted.contains(&v.indicator) || v.breakdown.is_some() || v.level == "project" {
            continue;
        }
        if indicators.contains(v.indicator.as_str()) {
            *levels.entry(level(&v.area)).or_default() += 1;
        }
        cells
            .entry(v.period)
            .or_default()
            .entry(v.area.clone())
            .or_default()
            .insert(v.indicator.clone(), v.value);
    }
    let unit_level = settings.level.clone().unwrap_or_else(|| {
        levels
            .iter()
            .max_by_key(|(_, c)| **c)
            .map(|(l, _)| l.clone())
            .unwrap_or_default()
    });
    for areas in cells.values_mut() {
        areas.retain(|a, codes| {
            level(a) == unit_level && codes.keys().any(|c| indicators.contains(c.as_str()))
        });
    }
    cells.retain(|_, areas| !areas.is_empty());
    (cells, unit_level)
}

fn impute(x: &mut Values, how: &Impute, groups: &[Option<String>]) -> usize {
    let missing = x.iter().filter(|v| v.is_none()).count();
    if missing == 0 || *how == Impute::None {
        return 0;
    }
    let fill = |vals: Vec<f64>, median: bool| -> Option<f64> {
        if vals.is_empty() {
            return None;
        }
        if median {
            let mut v = vals;
            v.sort_by(f64::total_cmp);
            let n = v.len();
            Some(if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            })
        } else {
            Some(vals.iter().sum::<f64>() / vals.len() as f64)
        }
    };
    let before = x.clone();
    match how {
        Impute::Mean | Impute::Median => {
            let v = fill(
                before.iter().flatten().copied().collect(),
                *how == Impute::Median,
            );
            x.iter_mut().filter(|y| y.is_none()).for_each(|y| *y = v);
        }
        Impute::GroupMean => {
            for (u, y) in x.iter_mut().enumerate() {
                if y.is_none() {
                    let Some(g) = &groups[u] else { continue };
                    let vals: Vec<f64> = before
                        .iter()
                        .zip(groups)
                        .filter(|(_, h)| h.as_ref() == Some(g))
                        .filter_map(|(v, _)| *v)
                        .collect();
                    *y = fill(vals, false);
                }
            }
        }
        Impute::None => {}
    }
    missing - x.iter().filter(|v| v.is_none()).count()
}

/// Builds the index for every period of its indicators. `groups` gives each area's group
/// (for group-mean imputation); `level` each area's level.
pub fn build(
    settings: &IndexSettings,
    values: &[Value],
    groups: &BTreeMap<String, String>,
    level: &dyn Fn(&str) -> String,
) -> Built {
    let tree = Tree::new(&settings.nodes);
    let (cells, unit_level) = cells(settings, values, level);
    let mut out = Built {
        rows: Vec::new(),
        runs: Vec::new(),
        sensitivity: Vec::new(),
        report: json!({}),
    };
    let mut periods = Vec::new();
    for (period, areas) in &cells {
        periods.push(one_period(
            settings, &tree, *period, areas, groups, &mut out,
        ));
    }
    let names: BTreeMap<String, String> = settings
        .nodes
        .iter()
        .map(|n| {
            let code = if n.parent.is_none() {
                settings.name.clone()
            } else {
                n.code.clone()
            };
            (code, n.name.clone())
        })
        .collect();
    out.report = json!({
        "name": settings.name,
        "names": names,
        "structure": settings.structure_path,
        "unit_level": unit_level,
        "denominate": settings.denominate,
        "impute": format!("{:?}", settings.impute).to_lowercase(),
        "min_availability": settings.min_availability,
        "outliers": settings.outliers.map(|o| json!({"winmax": o.winmax, "skew": o.skew, "kurtosis": o.kurtosis})),
        "normalise": settings.normalise.label(),
        "aggregate": settings.aggregate.as_str(),
        "uncertainty": settings.uncertainty.as_ref().map(|u| json!({
            "runs": u.runs, "seed": u.seed, "weights": u.weight_share,
            "normalise": u.normalise.iter().map(|n| n.label()).collect::<Vec<_>>(),
            "aggregate": u.aggregate.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            "sensitivity_samples": u.sensitivity_samples,
        })),
        "periods": periods,
    });
    out.rows
        .sort_by(|a, b| (&a.node, a.period, &a.area).cmp(&(&b.node, b.period, &b.area)));
    out
}

fn one_period(
    settings: &IndexSettings,
    tree: &Tree,
    period: Option<i32>,
    areas: &BTreeMap<String, BTreeMap<String, f64>>,
    groups: &BTreeMap<String, String>,
    out: &mut Built,
) -> serde_json::Value {
    let units: Vec<&String> = areas.keys().collect();
    let unit_groups: Vec<Option<String>> = units.iter().map(|u| groups.get(*u).cloned()).collect();
    let mut notes: Vec<String> = Vec::new();
    // Raw, denominated, imputed.
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
        imputed += impute(&mut x, &settings.impute, &unit_groups);
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
    // Screen units by data availability.
    let k = tree.indicators as f64;
    let available: Vec<usize> = (0..units.len())
        .map(|u| data.iter().filter(|c| c[u].is_some()).count())
        .collect();
    let keep: Vec<bool> = available
        .iter()
        .map(|a| *a as f64 / k >= settings.min_availability)
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
    let kept: Vec<usize> = (0..units.len()).filter(|u| keep[*u]).collect();
    let sub = |c: &Values| -> Values { kept.iter().map(|&u| c[u]).collect() };
    // Outliers, per indicator over the kept units.
    let mut treated: Vec<Values> = Vec::with_capacity(tree.indicators);
    let mut treatments = Vec::new();
    for (i, c) in data.iter().enumerate() {
        let x = sub(c);
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
    // Monte Carlo.
    let mut intervals: Vec<Vec<Option<(f64, f64, f64)>>> = vec![vec![None; kept.len()]; tree.len()];
    if let Some(un) = &settings.uncertainty {
        let (draws, run_ranks) = uncertainty::monte_carlo(tree, &treated, &base, un);
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
            for (i, w) in &d.weights {
                out.runs.push(RunRow {
                    period,
                    run: d.run as i32,
                    parameter: format!("weight:{}", tree.codes[*i]),
                    value: Some(*w),
                    choice: None,
                });
            }
            out.runs.push(RunRow {
                period,
                run: d.run as i32,
                parameter: "normalisation".into(),
                value: None,
                choice: Some(d.normalise.label()),
            });
            out.runs.push(RunRow {
                period,
                run: d.run as i32,
                parameter: "aggregation".into(),
                value: None,
                choice: Some(d.aggregate.as_str().into()),
            });
        }
        if un.sensitivity_samples > 0 {
            let top = tree.len() - 1;
            let si = uncertainty::sensitivity(
                tree,
                &treated,
                &base,
                &rank_of[top],
                un,
                un.sensitivity_samples,
            );
            for (name, (s, t)) in uncertainty::inputs(tree).into_iter().zip(si) {
                out.sensitivity.push(SensitivityRow {
                    period,
                    input: name,
                    first_order: s,
                    total: t,
                    samples: un.sensitivity_samples as i64,
                });
            }
        }
    }
    // Rows: every node for every area (dropped areas without a score, and why).
    let top = tree.len() - 1;
    let counts = stats::indicators_under(tree, &treated);
    for (u, area) in units.iter().enumerate() {
        let pos = kept.iter().position(|k| *k == u);
        for n in 0..tree.len() {
            let code = if n == top {
                settings.name.clone()
            } else {
                tree.codes[n].clone()
            };
            let mut row = IndexRow {
                area: area.to_string(),
                period,
                node: code,
                level: tree.levels[n] as i32,
                score: None,
                rank: None,
                rank_median: None,
                rank_low: None,
                rank_high: None,
                n_indicators: 0,
                flag: None,
            };
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

/// A frame column from one field of every row.
macro_rules! col {
    ($name:expr, $rows:expr, $f:expr) => {
        Column::new($name.into(), $rows.iter().map($f).collect::<Vec<_>>())
    };
}

/// `index.parquet` as a frame.
pub fn index_frame(rows: &[IndexRow]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        rows.len(),
        vec![
            col!("area", rows, |r| r.area.as_str()),
            col!("period", rows, |r| r.period),
            col!("node", rows, |r| r.node.as_str()),
            col!("level", rows, |r| r.level),
            col!("score", rows, |r| r.score),
            col!("rank", rows, |r| r.rank),
            col!("rank_median", rows, |r| r.rank_median),
            col!("rank_low", rows, |r| r.rank_low),
            col!("rank_high", rows, |r| r.rank_high),
            col!("n_indicators", rows, |r| r.n_indicators),
            col!("flag", rows, |r| r.flag.as_deref()),
        ],
    )
}

/// `index_runs.parquet` as a frame.
pub fn runs_frame(rows: &[RunRow]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        rows.len(),
        vec![
            col!("period", rows, |r| r.period),
            col!("run", rows, |r| r.run),
            col!("parameter", rows, |r| r.parameter.as_str()),
            col!("value", rows, |r| r.value),
            col!("choice", rows, |r| r.choice.as_deref()),
        ],
    )
}

/// `index_sensitivity.parquet` as a frame.
pub fn sensitivity_frame(rows: &[SensitivityRow]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        rows.len(),
        vec![
            col!("period", rows, |r| r.period),
            col!("input", rows, |r| r.input.as_str()),
            col!("first_order", rows, |r| r.first_order),
            col!("total", rows, |r| r.total),
            col!("samples", rows, |r| r.samples),
        ],
    )
}

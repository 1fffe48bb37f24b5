//! The index's inputs: the pipeline's values as cells per period and unit, and the
//! imputation of missing cells.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::index::{Impute, IndexSettings};
use crate::indicators::Value;

use super::treat::Column as Values;

/// Values by (period, area) → code.
pub(super) type Cells = BTreeMap<Option<i32>, BTreeMap<String, BTreeMap<String, f64>>>;

/// The values the index reads, by period and unit, and the level its units are at: the
/// declared level, or else the level most of its indicators' values are at.
pub(super) fn cells(
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

/// Fills the column's missing cells as `how` says; returns how many it filled.
pub(super) fn impute(x: &mut Values, how: &Impute, groups: &[Option<String>]) -> usize {
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

//! Multi-dimensional tables (Eurostat's, SDMX-CSV): most hold a value only once every
//! dimension but area, variable and time is chosen (`freq,age,sex,statinfo,unit,geo`). The
//! source's `filter` picks one slice; when more than one is left for an area, variable and
//! period, reading stops and says which dimensions vary, with a `filter =` line to copy.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

use super::{FilterMismatch, IngestError, RawColumn, RawTable};
use crate::config::{nearest, Source};

/// The pseudo-roles under which a text table's filter columns and, for SDMX-CSV, its other
/// dimensions are read; [`apply`] removes them.
pub const FILTER: &str = "\u{1f}filter:";
pub const DIMENSION: &str = "\u{1f}dimension:";

/// SDMX-CSV columns that describe an observation or the file, not a dimension.
pub const SDMX_ATTRIBUTES: [&str; 12] = [
    "DATAFLOW",
    "STRUCTURE",
    "STRUCTURE_ID",
    "STRUCTURE_NAME",
    "ACTION",
    "LAST UPDATE",
    "TIME_PERIOD",
    "OBS_VALUE",
    "OBS_FLAG",
    "OBS_STATUS",
    "CONF_STATUS",
    "UNIT_MULT",
];

/// Keeps the rows of the filter's slice, stops when more than one slice is left (SDMX-CSV),
/// and drops the pseudo-roles the reader added.
pub fn apply(source: &Source, raw: &mut RawTable) -> Result<(), IngestError> {
    let pseudo: Vec<usize> = (0..raw.roles.len())
        .filter(|&r| raw.roles[r].starts_with(FILTER) || raw.roles[r].starts_with(DIMENSION))
        .collect();
    if pseudo.is_empty() {
        return Ok(());
    }
    // Cells borrowed from the text columns: a filtered CSV can be large, and a String per
    // cell is what the columnar core avoids.
    let cell = |r: usize, i: usize| -> Cow<'_, str> {
        match &raw.cells[r] {
            RawColumn::Text(t) => Cow::Borrowed(t.get(i).unwrap_or("")),
            other => Cow::Owned(other.text(i).unwrap_or_default()),
        }
    };
    let dims: Vec<String> = pseudo.iter().map(|&r| raw.columns[r].clone()).collect();
    let filter: Vec<(usize, String)> = pseudo
        .iter()
        .enumerate()
        .filter(|(_, &r)| raw.roles[r].starts_with(FILTER))
        .filter_map(|(d, _)| Some((d, source.filter.get(&dims[d])?.clone())))
        .collect();
    let n = raw.len();
    let mut all = vec![BTreeSet::new(); dims.len()];
    let mut kept = vec![BTreeSet::new(); dims.len()];
    let mut keep = vec![true; n];
    let note = |set: &mut BTreeSet<String>, v: &str, cap: usize| {
        if set.len() < cap && !set.contains(v) {
            set.insert(v.to_string());
        }
    };
    for (i, k) in keep.iter_mut().enumerate() {
        *k = filter
            .iter()
            .all(|(d, v)| cell(pseudo[*d], i) == v.as_str());
        for (d, &r) in pseudo.iter().enumerate() {
            let v = cell(r, i);
            note(&mut all[d], &v, 1000);
            if *k {
                note(&mut kept[d], &v, usize::MAX);
            }
        }
    }
    check_values(source, &dims, &filter, &all)?;
    let at = |role: &str| raw.role(role);
    if let (Some(a), Some(v), Some(p)) = (at("area"), at("variable"), at("period")) {
        let rows: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
        let keys: Vec<_> = rows
            .iter()
            .map(|&i| (cell(a, i), cell(v, i), cell(p, i)))
            .collect();
        let lines: Vec<u64> = rows.iter().map(|&i| raw.lines.at(i)).collect();
        if let Some(((area, variable, period), first, second)) = first_repeat(&keys, &lines) {
            let fixed: Vec<usize> = filter.iter().map(|(d, _)| *d).collect();
            let key = (area.as_ref(), variable.as_ref(), period.as_ref());
            if let Some(e) = ambiguous(source, &dims, &kept, &fixed, key, first, second) {
                return Err(e);
            }
        }
    }
    raw.retain(&keep, &pseudo);
    Ok(())
}

/// Values a statistical office uses for "all of them" in a dimension, in the order they are
/// proposed.
const TOTALS: [&str; 6] = ["T", "TOTAL", "_T", "TOT", "_Z", "A"];

/// The source's filter as column positions in `dims`, or an error naming a dimension the
/// table does not have.
pub fn positions(source: &Source, dims: &[String]) -> Result<Vec<(usize, String)>, IngestError> {
    source
        .filter
        .iter()
        .map(|(dim, value)| match dims.iter().position(|d| d == dim) {
            Some(i) => Ok((i, value.clone())),
            None => Err(no_dimension(source, dim, value, dims)),
        })
        .collect()
}

/// A filter on a dimension (or column) the table does not have.
pub fn no_dimension(source: &Source, dim: &str, value: &str, dims: &[String]) -> IngestError {
    IngestError::FilterDimension(Box::new(FilterMismatch {
        source_name: source.name.clone(),
        path: source.resolved.clone(),
        dimension: dim.to_string(),
        value: value.to_string(),
        nearest: nearest(dim, dims.iter().map(String::as_str)).map(String::from),
        choices: dims.to_vec(),
    }))
}

/// Every filter value must be one the table has; a filter that keeps nothing is a typo.
pub fn check_values(
    source: &Source,
    dims: &[String],
    filter: &[(usize, String)],
    seen: &[BTreeSet<String>],
) -> Result<(), IngestError> {
    for (i, value) in filter {
        if !seen[*i].contains(value) {
            let values: Vec<&str> = seen[*i].iter().map(String::as_str).collect();
            return Err(IngestError::FilterValue(Box::new(FilterMismatch {
                source_name: source.name.clone(),
                path: source.resolved.clone(),
                dimension: dims[*i].clone(),
                value: value.clone(),
                nearest: nearest(value, values.iter().copied()).map(String::from),
                choices: values.iter().take(40).map(|v| v.to_string()).collect(),
            })));
        }
    }
    Ok(())
}

/// Finds the first (area, variable, period) that two kept rows share. `keys[i]` is row i's
/// key and `lines[i]` its line; gives the key and both lines.
pub fn first_repeat<'k, K: Hash + Eq>(keys: &'k [K], lines: &[u64]) -> Option<(&'k K, u64, u64)> {
    let mut seen: HashMap<&K, usize> = HashMap::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        if let Some(&first) = seen.get(k) {
            return Some((k, lines[first], lines[i]));
        }
        seen.insert(k, i);
    }
    None
}

/// The error for a table that still has several slices (`None` when no dimension varies): `dims` are the dimension names and
/// `values[d]` the values dimension d takes among the kept rows; `fixed` are the dimensions
/// that are not slices (area, variable, time) or already filtered.
#[allow(clippy::too_many_arguments)]
pub fn ambiguous(
    source: &Source,
    dims: &[String],
    values: &[BTreeSet<String>],
    fixed: &[usize],
    key: (&str, &str, &str),
    first: u64,
    second: u64,
) -> Option<IngestError> {
    let varying: Vec<(String, Vec<String>)> = dims
        .iter()
        .enumerate()
        .filter(|(i, _)| !fixed.contains(i) && values[*i].len() > 1)
        .map(|(i, d)| (d.clone(), values[i].iter().cloned().collect()))
        .collect();
    // A row given twice is a duplicate, which the contract rejects; only slices stop a run.
    if varying.is_empty() {
        return None;
    }
    let mut pick: BTreeMap<String, String> = source.filter.clone();
    for (d, vals) in &varying {
        let total = TOTALS
            .iter()
            .find(|t| vals.iter().any(|v| v == *t))
            .map(|t| t.to_string())
            .unwrap_or_else(|| vals[0].clone());
        pick.insert(d.clone(), total);
    }
    let suggestion = format!(
        "filter = {{ {} }}",
        pick.iter()
            .map(|(d, v)| format!("{d} = \"{v}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Some(IngestError::Slices(Box::new(super::Slices {
        source_name: source.name.clone(),
        path: source.resolved.clone(),
        key: format!("area `{}`, variable `{}`, period {}", key.0, key.1, key.2),
        lines: (first, second),
        varying,
        suggestion,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_found_with_their_lines() {
        let k = |a: &str, p: &str| (a.to_string(), "v".to_string(), p.to_string());
        let keys = vec![k("AT", "2020"), k("AT", "2021"), k("AT", "2020")];
        let (key, a, b) = first_repeat(&keys, &[2, 2, 5]).unwrap();
        assert_eq!((key.0.as_str(), a, b), ("AT", 2, 5));
        assert!(first_repeat(&keys[..2], &[2, 2]).is_none());
    }
}

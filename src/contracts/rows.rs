//! The row contract: any kind of source checked row by row in runs of rows side by side,
//! with the rules that look at more than one cell (periods, currency, dates in order, variable
//! mapping) and the keys that must be unique across the whole source. Every kind now takes the
//! column contract (`columnar.rs`); this one, written rule by rule as a person reads them, is
//! kept as the reference the column contract is tested against (tests read files both ways).

use std::borrow::Cow;
use std::collections::HashMap;

use polars::prelude::*;
use rayon::prelude::*;

use crate::config::SourceKind;

use super::cells::Builder;
use super::cells::{prepare, Cell, Cursor};
use super::columnar::key_of;
use super::context::{At, Contract, Outside, WIDE_VALUE};
use super::rules::{city_stat, convert, Value};
use super::{Reject, Table};

/// Rows per run of rows checked on one core: a few runs per core to keep all busy to the end,
/// no fewer rows than make building a run's columns worth it, and no more than keep a run's
/// buffers small. Each run becomes a chunk of the table's columns, so the sample data already
/// gives tables of several chunks.
pub(super) fn rows_per_part(rows: usize) -> usize {
    rows.div_ceil(4 * rayon::current_num_threads())
        .clamp(1 << 10, 1 << 18)
}

/// What checking a run of rows gives: their kept rows as typed columns, and the rest.
struct Part {
    columns: Vec<Builder>,
    period: Vec<Option<i32>>,
    /// (row, reject), in row order.
    rejects: Vec<(usize, Reject)>,
    filtered: usize,
    /// The unique key of each kept row (row, key), for kinds that have one.
    keys: Vec<(usize, String)>,
    /// The line of each kept row, where the table keeps them (see [`Table::lines`]).
    lines: Vec<u64>,
}

impl Contract<'_> {
    /// The row-by-row contract: every kind of source, and microdata with short rows.
    pub(super) fn by_rows(mut self) -> Result<Table, PolarsError> {
        let (raw, source, kind, n) = (self.raw, self.source, self.source.kind, self.raw.len());
        self.prepared = (self.rules.iter().zip(&raw.cells))
            .map(|(rule, c)| prepare(*rule, c))
            .collect::<PolarsResult<_>>()?;
        let contract = &self;
        let per_part = rows_per_part(n);
        let starts: Vec<usize> = (0..n.max(1)).step_by(per_part).collect();
        let parts: Vec<Part> = starts
            .par_iter()
            .map(|&start| contract.check_rows(start..(start + per_part).min(n)))
            .collect();

        // Ids must be unique across the whole source, first row first: checked in row order once
        // every row has been typed.
        let mut seen: HashMap<&str, u64> = HashMap::new();
        let mut duplicates: Vec<(usize, Reject)> = Vec::new();
        let mut keep: Vec<bool> = Vec::new();
        for part in &parts {
            for (row, key) in &part.keys {
                let line = raw.lines.at(*row);
                match seen.get(key.as_str()) {
                    Some(first) => {
                        duplicates.push((
                            *row,
                            contract.reject(
                                *row,
                                None,
                                Some(key),
                                format!(
                                "duplicate {key}: the same row key was already read at line {first}"
                            ),
                            ),
                        ));
                        keep.push(false);
                    }
                    None => {
                        seen.insert(key, line);
                        keep.push(true);
                    }
                }
            }
        }

        let mut filtered = 0;
        let mut rejects: Vec<(usize, Reject)> = duplicates;
        let mut columns: Vec<Option<Series>> = vec![None; raw.roles.len()];
        let mut period: Vec<Option<i32>> = Vec::with_capacity(n);
        let mut lines: Vec<u64> = Vec::new();
        for part in parts {
            filtered += part.filtered;
            lines.extend(part.lines);
            rejects.extend(part.rejects);
            period.extend(part.period);
            for (c, b) in columns.iter_mut().zip(part.columns) {
                let s = b.finish();
                match c {
                    Some(c) => {
                        c.append(&s)?;
                    }
                    None => *c = Some(s),
                }
            }
        }
        // Each row has at most one reject, so the order by row is total.
        rejects.sort_by_key(|(row, _)| *row);
        let height = period.len();
        let mut columns: Vec<Column> = raw
            .roles
            .iter()
            .zip(columns)
            .filter(|(role, _)| role.as_str() != "period")
            .filter_map(|(_, s)| s.map(Column::from))
            .collect();
        columns.push(Column::new("period".into(), period));
        let mut frame = DataFrame::new(height, columns)?;
        if keep.contains(&false) {
            frame = frame.filter(&BooleanChunked::from_slice("keep".into(), &keep))?;
            if !lines.is_empty() {
                lines = lines
                    .into_iter()
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(l, _)| l)
                    .collect();
            }
        }
        // No rechunk: the parts stay chunks of the columns, which every reader takes as they are;
        // copying them into one would touch as much fresh memory again.
        Ok(Table {
            source: source.name.clone(),
            kind,
            frame,
            rows_read: n,
            rejects: rejects.into_iter().map(|(_, r)| r).collect(),
            rows_filtered: filtered,
            lines,
        })
    }
}

impl<'a> Contract<'a> {
    /// Types and checks a run of rows.
    fn check_rows(&self, rows: std::ops::Range<usize>) -> Part {
        let (raw, source) = (self.raw, self.source);
        let kind = source.kind;
        let mut outside = Outside::new();
        let mut part = Part {
            columns: raw
                .roles
                .iter()
                .zip(&self.rules)
                .map(|(role, rule)| Builder::new(role, *rule, rows.len()))
                .collect(),
            period: Vec::with_capacity(rows.len()),
            rejects: Vec::new(),
            filtered: 0,
            keys: Vec::new(),
            lines: Vec::new(),
        };
        let mut row: Vec<Option<Value<'_>>> = Vec::with_capacity(raw.roles.len());
        let mut cursors: Vec<Cursor> = self
            .prepared
            .iter()
            .map(|p| Cursor::new(p, rows.start))
            .collect();
        let mut cells: Vec<Cell> = Vec::with_capacity(raw.roles.len());
        for i in rows {
            row.clear();
            cells.clear();
            cells.extend(cursors.iter_mut().map(Cursor::next));
            let line = raw.lines.at(i);
            let mut bad: Option<Reject> = self.ragged_reject(i);
            if bad.is_none() {
                for (r, role) in raw.roles.iter().enumerate() {
                    // The cell as text only for a reject: typed numbers are not written out.
                    let text = || cells[r].text();
                    let column = raw.columns[r].as_str();
                    match cells[r].check(self.rules[r], source.decimal_comma) {
                        Ok(None) if self.required[r] => {
                            // In a wide file the value's column is the variable's own.
                            let wide = self.at.variable.and_then(|v| match cells[v] {
                                Cell::Text(t) => t,
                                Cell::Number(_) => None,
                            });
                            let (column, why) = match wide {
                                Some(code) if column == WIDE_VALUE => (
                                    code,
                                    format!("`{code}` is empty: this area has no value of {code}"),
                                ),
                                _ => (column, self.empty_why[r].clone()),
                            };
                            bad = Some(self.reject(i, Some(column), text().as_deref(), why));
                        }
                        Ok(v) => row.push(v),
                        Err(why) => {
                            bad = Some(self.reject(
                                i,
                                Some(column),
                                text().as_deref(),
                                format!("`{column}` ({role}): {why}"),
                            ))
                        }
                    }
                    if bad.is_some() {
                        break;
                    }
                }
            }
            // Cross-field rules.
            let mut row_period = source.period;
            if bad.is_none() {
                bad = self
                    .cross_checks(&mut row, &mut row_period)
                    .map(|(col, val, why)| self.reject(i, col.as_deref(), val.as_deref(), why));
            }
            if bad.is_none() {
                bad = row_period.and_then(|p| self.reject_outside(i, p, &mut outside));
                part.filtered += usize::from(bad.is_some());
            }
            match bad {
                Some(r) => part.rejects.push((i, r)),
                None => {
                    if let Some(key) = unique_key(kind, &self.at, &row, row_period) {
                        part.keys.push((i, key));
                    }
                    for (b, v) in part.columns.iter_mut().zip(&row) {
                        b.push(v.as_ref());
                    }
                    part.period.push(row_period);
                    if kind == SourceKind::Areas {
                        part.lines.push(line);
                    }
                }
            }
        }
        part
    }

    /// Rules that look at more than one cell: the period, currency conversion, date order and
    /// variable mapping. May rewrite the row (converted amount, mapped variable id).
    fn cross_checks<'r>(
        &'r self,
        row: &mut [Option<Value<'r>>],
        period: &mut Option<i32>,
    ) -> Option<CrossFailure> {
        let (source, pipeline, at) = (self.source, self.pipeline, &self.at);
        // A macro rather than a closure, so that reading one cell does not hold a borrow of
        // the row that is rewritten below. Cloning a borrowed text is cheap.
        macro_rules! get {
            ($at:expr) => {
                $at.and_then(|r: usize| row.get(r).cloned().flatten())
            };
        }
        let col = |role: &str| Some(source.column_for(role).to_string());
        if let Some(Value::Int(p)) = get!(at.period) {
            *period = Some(p);
        }
        let survey_currency = pipeline.currency.of_survey(source.currency.as_deref());
        if let (SourceKind::Microdata, Some(code)) = (source.kind, survey_currency) {
            // The survey's currency into the reporting one; config checked the rate exists.
            let year = period.or(source.period);
            let factor = match convert(&pipeline.currency, code, year) {
                Ok(f) => f,
                Err(why) => return Some((col("period"), year.map(|y| y.to_string()), why)),
            };
            for r in [at.income, at.household_income].into_iter().flatten() {
                if let Some(Value::Number(x)) = row[r] {
                    row[r] = Some(Value::Number(x * factor));
                }
            }
        }
        match source.kind {
            SourceKind::Projects | SourceKind::Procurement => {
                let date_at = if source.kind == SourceKind::Projects {
                    at.start
                } else {
                    at.date
                };
                if let Some(Value::Text(d)) = get!(date_at) {
                    *period = d.get(..4).and_then(|y| y.parse().ok());
                }
                if let (Some(Value::Text(start)), Some(Value::Text(end))) =
                    (get!(at.start), get!(at.end))
                {
                    if end < start {
                        return Some((
                            col("end"),
                            Some(end.to_string()),
                            format!("the end date {end} is before the start date {start}"),
                        ));
                    }
                }
                if at.currency.is_some() || pipeline.currency.deflates() {
                    let report = pipeline.currency.report.as_str();
                    let code = match get!(at.currency) {
                        Some(Value::Text(c)) => c,
                        _ => Cow::Borrowed(report),
                    };
                    match convert(&pipeline.currency, &code, *period) {
                        Ok(factor) => {
                            if let Some(a) = at.amount {
                                if let Some(Value::Number(x)) = row[a] {
                                    row[a] = Some(Value::Number(x * factor));
                                }
                            }
                            if let Some(r) = at.currency {
                                row[r] = Some(Value::Text(Cow::Borrowed(report)));
                            }
                        }
                        Err(why) => {
                            let column = match at.currency {
                                Some(_) => col("currency"),
                                None => col(if source.kind == SourceKind::Projects {
                                    "start"
                                } else {
                                    "date"
                                }),
                            };
                            return Some((column, Some(code.into_owned()), why));
                        }
                    }
                }
            }
            SourceKind::CityStats => {
                if let (Some(r), Some(Value::Text(code))) = (at.variable, get!(at.variable)) {
                    let mapped = source.variables.get(code.as_ref());
                    let value = match get!(at.value) {
                        Some(Value::Number(v)) => Some(v),
                        _ => None,
                    };
                    if let Err((role, text, why)) = city_stat(source, pipeline, &code, value) {
                        let column = self.stat_column(role, &code).to_string();
                        return Some((Some(column), Some(text), why));
                    }
                    let id = match mapped {
                        Some(m) => Cow::Borrowed(m.as_str()),
                        None => code,
                    };
                    row[r] = Some(Value::Text(id));
                }
                if get!(at.value).is_none() {
                    return Some((col("value"), None, "the value is missing".into()));
                }
            }
            SourceKind::Microdata => {
                for (role, r, why) in &self.needs {
                    if get!(*r).is_none() {
                        return Some((col(role), None, why.clone()));
                    }
                }
            }
            _ => {}
        }
        None
    }
}

type CrossFailure = (Option<String>, Option<String>, String);

/// The key that must be unique within a source, where the kind has one, of a typed row.
fn unique_key(
    kind: SourceKind,
    at: &At,
    row: &[Option<Value>],
    period: Option<i32>,
) -> Option<String> {
    let text = |r: Option<usize>| match r.and_then(|r| row[r].as_ref()) {
        Some(Value::Text(s)) => s.to_string(),
        Some(Value::Int(x)) => x.to_string(),
        _ => String::new(),
    };
    key_of(kind, at, text, period)
}

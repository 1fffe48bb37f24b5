//! The contract of every kind of source over a file's columns, checked column by column
//! rather than row by row: a typed file's (Parquet) number column is scanned once and kept as
//! it is, text without stray spaces is kept as it is, a text file's (CSV) numbers arrive typed
//! as they were read and only the cells the reader could not type are checked (`text`), the
//! rules across cells run over the checked columns (`projects`: dates in order, currency and
//! period; `stats`: city statistics' variables and values; `keys`: keys unique within a
//! source), and only the failing rows become rejects. The result is the same table and the
//! same rejects as the row-by-row contract gives for the same cells (tests read one file both
//! ways), and a household id written as an integer stays an integer: it is only ever compared.

use std::borrow::Cow;

use polars::prelude::*;
use polars_arrow::array::Array;
use polars_arrow::bitmap::Bitmap;
use rayon::prelude::*;

use super::cells::{prepare, Builder, Cell, Cursor, Prepared, TextColumn};
use super::context::{Contract, Outside};
use super::rules::{as_written, check_number, passes, Rates, Rule};
use super::{Reject, Table};
use crate::config::SourceKind;
use crate::ingest::RawColumn;

mod keys;
#[cfg(test)]
pub(super) use keys::key_of;
mod projects;
mod stats;
mod text;

/// A cell that broke its rule: (row, role index, the cell as text, the reason).
type Failure = (usize, usize, Option<String>, String);

/// A role's failures, named by the file's column and the role, as the row contract names them.
#[derive(Clone, Copy)]
struct Named<'a> {
    r: usize,
    column: &'a str,
    role: &'a str,
    /// Why an empty cell rejects its row, where the role is required.
    empty_why: &'a str,
}

impl Named<'_> {
    /// An empty cell of a role every row needs; `value` is the cell's text where it has one.
    fn empty(&self, row: usize, value: Option<&str>) -> Failure {
        let why = self.empty_why.to_string();
        (row, self.r, value.map(String::from), why)
    }

    /// A cell that broke the role's rule.
    fn broke(&self, row: usize, value: Option<String>, why: String) -> Failure {
        (
            row,
            self.r,
            value,
            format!("`{}` ({}): {why}", self.column, self.role),
        )
    }
}

/// The rows rejected so far: at most one reject a row, for the first rule it broke, in the
/// order the row contract checks them (its shape, its cells in role order, then the rules
/// across cells).
struct Rejected {
    ok: Vec<bool>,
    rejects: Vec<(usize, Reject)>,
}

impl Rejected {
    fn new(n: usize) -> Rejected {
        Rejected {
            ok: vec![true; n],
            rejects: Vec::new(),
        }
    }

    /// Rejects `row` unless an earlier rule already did.
    fn add(&mut self, row: usize, reject: impl FnOnce() -> Reject) {
        if std::mem::replace(&mut self.ok[row], false) {
            self.rejects.push((row, reject()));
        }
    }

    /// Rejects found side by side for rows that passed every earlier rule.
    fn extend(&mut self, found: impl IntoIterator<Item = (usize, Reject)>) {
        for (row, reject) in found {
            self.add(row, || reject);
        }
    }

    /// The rows kept, and the rejects in row order. Each rule found its rejects in row
    /// order, and a stable sort merges such runs in a pass or two.
    fn finish(mut self) -> (Vec<bool>, Vec<Reject>) {
        self.rejects.sort_by_key(|(row, _)| *row);
        let mut rejects: Vec<Reject> = self.rejects.into_iter().map(|(_, r)| r).collect();
        rejects.shrink_to_fit();
        (self.ok, rejects)
    }
}

impl Contract<'_> {
    /// The contract of a table [`applies`] accepts.
    pub fn by_columns(&self) -> PolarsResult<Table> {
        let raw = self.raw;
        let n = raw.len();
        let mut bad = Rejected::new(n);
        if !self.ragged.is_empty() {
            (0..n).for_each(|row| bad.extend(self.ragged_reject(row).map(|r| (row, r))));
        }
        let mut failures: Vec<Failure> = Vec::new();
        let mut columns: Vec<Series> = Vec::with_capacity(raw.roles.len());
        let checked: Vec<(Series, Vec<Failure>)> = (0..raw.roles.len())
            .into_par_iter()
            .map(|r| self.column(r))
            .collect::<PolarsResult<_>>()?;
        for (column, failed) in checked {
            columns.push(column);
            failures.extend(failed);
        }
        // The first failing role of a row, as the row-by-row contract stops at it.
        failures.sort_by_key(|f| (f.0, f.1));
        failures.dedup_by_key(|f| f.0);
        for (row, role, value, why) in failures {
            bad.add(row, || {
                let (column, why) = self.wide_empty(row, role, why);
                self.reject(row, Some(&column), value.as_deref(), why)
            });
        }
        let (period, filtered) = match self.source.kind {
            SourceKind::Projects | SourceKind::Procurement => {
                let mut period = self.period_rows(&columns);
                self.project_checks(&mut columns, &mut period, &mut bad)?;
                let period = period_column(&period);
                let filtered = self.outside(&period, &mut bad);
                self.unique_keys(&columns, &period, &mut bad)?;
                (period, filtered)
            }
            SourceKind::Microdata => {
                let period = self.periods(&columns);
                self.needs_by_column(&columns, &mut bad);
                let filtered = self.outside(&period, &mut bad);
                self.convert_currency(&mut columns, &period, &mut bad)?;
                (period, filtered)
            }
            // The small tables: city statistics' rules, the periods, then the keys.
            SourceKind::CityStats
            | SourceKind::Emissions
            | SourceKind::Areas
            | SourceKind::Outcomes => {
                let period = self.periods(&columns);
                if self.source.kind == SourceKind::CityStats {
                    self.city_stats_checks(&mut columns, &mut bad)?;
                }
                let filtered = self.outside(&period, &mut bad);
                self.unique_keys(&columns, &period, &mut bad)?;
                (period, filtered)
            }
        };

        let (keep, rejects) = bad.finish();
        // An areas source keeps the lines of its rows, for the checks across sources.
        let lines = match self.source.kind {
            SourceKind::Areas => (0..n)
                .filter(|&row| keep[row])
                .map(|row| raw.lines.at(row))
                .collect(),
            _ => Vec::new(),
        };
        let mut frame_columns: Vec<Column> = raw
            .roles
            .iter()
            .zip(columns)
            .filter(|(role, _)| role.as_str() != "period")
            .map(|(_, s)| Column::from(s))
            .collect();
        frame_columns.push(period.into_column());
        let mut frame = DataFrame::new(n, frame_columns)?;
        if !rejects.is_empty() {
            frame = kept(frame, &keep)?;
        }
        self.report_currency(&mut frame)?;
        Ok(Table {
            source: self.source.name.clone(),
            kind: self.source.kind,
            frame,
            rows_read: n,
            rejects,
            rows_filtered: filtered,
            lines,
        })
    }

    /// Role `r`'s checked column, named after the role, and its failing cells.
    fn column(&self, r: usize) -> PolarsResult<(Series, Vec<Failure>)> {
        let raw = self.raw;
        let (role, rule, required) = (&raw.roles[r], self.rules[r], self.required[r]);
        let name = PlSmallStr::from(role.as_str());
        let named = self.named(r);
        let mut failed: Vec<Failure> = Vec::new();
        // A column its reader vouched for is kept as read (see `ingest::RawColumn::Written`).
        let (typed, vouched) = match &raw.cells[r] {
            RawColumn::Typed(typed) => (typed, false),
            RawColumn::Written(written) => (written, true),
            RawColumn::Text(texts) => return self.text(r, TextColumn::Texts(texts)),
            RawColumn::Numbers(numbers) if matches!(rule, Rule::Number { .. }) => {
                let (checked, failed) = text::parsed(numbers, rule, required, named);
                return Ok((checked.with_name(name), failed));
            }
            RawColumn::Numbers(_) => return self.cell_by_cell(r, &prepare(rule, &raw.cells[r])?),
        };
        // Kept as the file has it: a key written as integers, text with nothing to trim, and
        // dates and codes all in their plain form (in the file's chunks, not copied into one).
        let kept = vouched
            || match rule {
                Rule::Key if typed.dtype().is_integer() => true,
                Rule::Text | Rule::Key | Rule::Date | Rule::OneOf(_) => typed
                    .str()
                    .is_ok_and(|ca| all_texts(ca, &|s| !s.is_empty() && as_written(rule, s))),
                _ => false,
            };
        if kept {
            if required {
                failed.extend(nulls(typed).map(|row| named.empty(row, None)));
            }
            return Ok((typed.clone().with_name(name), failed));
        }
        if let Ok(ca) = typed.str() {
            return self.text(r, TextColumn::Str(ca));
        }
        // Numbers in one piece, as the families read them: the file's chunks are then dropped
        // with the file's other columns, where a family would copy them into one.
        let prepared = prepare(rule, &raw.cells[r])?;
        match (&prepared, rule) {
            (Prepared::Number(ca), Rule::Number { min, above, max }) => {
                let failed = checked_numbers(ca, (min, above, max), required, named);
                Ok((ca.clone().into_series().with_name(name), failed))
            }
            _ => self.cell_by_cell(r, &prepared),
        }
    }

    /// Role `r`'s column of text checked as a whole where its rule allows (see `text`), else
    /// cell by cell.
    fn text(&self, r: usize, texts: TextColumn) -> PolarsResult<(Series, Vec<Failure>)> {
        let (rule, required, named) = (self.rules[r], self.required[r], self.named(r));
        let (checked, failed) = match rule {
            Rule::Number { .. } if !self.source.decimal_comma => {
                text::numbers(texts, rule, required, named)
            }
            Rule::Text | Rule::Key => text::trimmed(texts, required, named),
            Rule::Date | Rule::OneOf(_) => text::coded(texts, rule, required, named),
            _ => return self.cell_by_cell(r, &prepare(rule, &self.raw.cells[r])?),
        };
        let name = PlSmallStr::from(self.raw.roles[r].as_str());
        Ok((checked.with_name(name), failed))
    }

    /// Any other rule, or text to trim: role `r` cell by cell, as the row contract reads it,
    /// in runs of rows side by side.
    fn cell_by_cell(&self, r: usize, prepared: &Prepared) -> PolarsResult<(Series, Vec<Failure>)> {
        let raw = self.raw;
        let (rule, required, named) = (self.rules[r], self.required[r], self.named(r));
        let decimal_comma = self.source.decimal_comma;
        Ok(by_runs(raw.len(), |rows| {
            let mut failed: Vec<Failure> = Vec::new();
            let mut b = Builder::new(&raw.roles[r], rule, rows.len());
            let mut cursor = Cursor::new(prepared, rows.start);
            for row in rows {
                let cell: Cell = cursor.next();
                match cell.check(rule, decimal_comma) {
                    Ok(None) if required => {
                        failed.push(named.empty(row, cell.text().as_deref()));
                        b.push(None);
                    }
                    Ok(v) => b.push(v.as_ref()),
                    Err(why) => {
                        failed.push(named.broke(row, cell.text().map(Cow::into_owned), why));
                        b.push(None);
                    }
                }
            }
            (b.finish(), failed)
        }))
    }

    /// How role `r`'s failures are named.
    fn named(&self, r: usize) -> Named<'_> {
        Named {
            r,
            column: &self.raw.columns[r],
            role: &self.raw.roles[r],
            empty_why: &self.empty_why[r],
        }
    }

    /// Each row's period, for rules that set it row by row: its own column's, else the
    /// source's.
    fn period_rows(&self, columns: &[Series]) -> Vec<Option<i32>> {
        match self.at.period.and_then(|p| columns[p].i32().ok()) {
            Some(ca) => ca.iter().map(|p| p.or(self.source.period)).collect(),
            None => vec![self.source.period; self.raw.len()],
        }
    }

    /// Each row's period as a column: its own column's, else the source's.
    fn periods(&self, columns: &[Series]) -> Int32Chunked {
        let (name, n) = ("period".into(), self.raw.len());
        match (
            self.at.period.and_then(|p| columns[p].i32().ok()),
            self.source.period,
        ) {
            (Some(ca), Some(p)) if ca.null_count() > 0 => ca
                .iter()
                .map(|v| v.or(Some(p)))
                .collect::<Int32Chunked>()
                .with_name(name),
            (Some(ca), _) => ca.clone().with_name(name),
            (None, Some(p)) => Int32Chunked::full(name, p, n),
            (None, None) => Int32Chunked::full_null(name, n),
        }
    }

    /// The microdata rules across cells, for rows whose cells passed: income, or what
    /// equivalising household income needs.
    fn needs_by_column(&self, columns: &[Series], bad: &mut Rejected) {
        for (role, r, why) in &self.needs {
            let empty: Vec<usize> = match r {
                Some(r) => nulls(&columns[*r]).collect(),
                None => (0..self.raw.len()).collect(),
            };
            let column = self.source.column_for(role);
            for row in empty {
                bad.add(row, || self.reject(row, Some(column), None, why.clone()));
            }
        }
    }

    /// Rows whose period the pipeline's periods leave out, among those that passed every
    /// other rule; returns how many.
    fn outside(&self, period: &Int32Chunked, bad: &mut Rejected) -> usize {
        // One period for every row, as a source's own `period` gives: one look.
        let one = (period.null_count() == 0 && period.min() == period.max()).then(|| period.min());
        if let Some(Some(p)) = one {
            if self.pipeline.in_periods(p) {
                return 0;
            }
        }
        let ok = &bad.ok;
        let found: Vec<Vec<(usize, Reject)>> = runs(period.len())
            .into_par_iter()
            .map(|rows| {
                let mut seen = Outside::new();
                let part = period.slice(rows.start as i64, rows.len());
                rows.zip(part.iter())
                    .filter(|(row, _)| ok[*row])
                    .filter_map(|(row, p)| Some((row, self.reject_outside(row, p?, &mut seen)?)))
                    .collect()
            })
            .collect();
        let filtered = found.iter().map(Vec::len).sum();
        found.into_iter().for_each(|f| bad.extend(f));
        filtered
    }

    /// The survey's currency into the reporting one, at each row's year's rate where rates
    /// are given per year (config checked that a rate exists); a row whose year has none is
    /// rejected.
    fn convert_currency(
        &self,
        columns: &mut [Series],
        period: &Int32Chunked,
        bad: &mut Rejected,
    ) -> PolarsResult<()> {
        let currency = &self.pipeline.currency;
        let Some(code) = currency.of_survey(self.source.currency.as_deref()) else {
            return Ok(());
        };
        let targets: Vec<usize> = [self.at.income, self.at.household_income]
            .into_iter()
            .flatten()
            .collect();
        let fixed = match currency.rates.get(&code.to_ascii_uppercase()) {
            Some(crate::config::Rate::Fixed(f)) => Some(*f),
            None if code.eq_ignore_ascii_case(&currency.report) => Some(1.0),
            _ => None,
        };
        if let (Some(factor), false) = (fixed, currency.deflates()) {
            for &r in &targets {
                columns[r] = (columns[r].f64()? * factor).into_series();
            }
            return Ok(());
        }
        let column = self.source.column_for("period");
        let mut rates = Rates::new(currency);
        let mut factors = Vec::with_capacity(period.len());
        for (row, year) in period.iter().enumerate() {
            match rates.factor(code, year) {
                Ok(f) => factors.push(Some(*f)),
                Err(why) => {
                    factors.push(None);
                    let value = year.map(|y| y.to_string());
                    bad.add(row, || {
                        self.reject(row, Some(column), value.as_deref(), why.clone())
                    });
                }
            }
        }
        let factors = Float64Chunked::from_iter_options("factor".into(), factors.into_iter());
        for &r in &targets {
            let scaled = columns[r].f64()? * &factors;
            columns[r] = scaled.with_name(columns[r].name().clone()).into_series();
        }
        Ok(())
    }
}

/// The failing cells of a number column, in row order. Its chunks are checked side by side,
/// each first in one branch-free pass that the compiler vectorises; only a piece in which
/// some value fails (or that has empty cells) is read again value by value.
fn checked_numbers(
    ca: &Float64Chunked,
    bounds: (Option<f64>, bool, Option<f64>),
    required: bool,
    named: Named,
) -> Vec<Failure> {
    let found: Vec<Vec<Failure>> = chunk_runs(ca.downcast_iter())
        .into_par_iter()
        .map(|(offset, a, rows)| {
            let values = &a.values()[rows.clone()];
            if a.null_count() == 0 && all_pass(bounds, values) {
                return Vec::new();
            }
            let mut failed = Vec::new();
            for (row, x) in rows.zip(values) {
                if !a.is_valid(row) {
                    if required {
                        failed.push(named.empty(offset + row, None));
                    }
                } else if let Err(why) = check_number(bounds, *x, x) {
                    failed.push(named.broke(offset + row, Some(x.to_string()), why));
                }
            }
            failed
        })
        .collect();
    found.into_iter().flatten().collect()
}

/// Whether every value passes `check_number`'s bounds (NaN and infinities fail), in one
/// branch-free pass the compiler vectorises.
fn all_pass(bounds: (Option<f64>, bool, Option<f64>), xs: &[f64]) -> bool {
    xs.iter().fold(true, |ok, &x| ok & passes(bounds, x))
}

/// Whether every text of a column passes `plain`, its chunks read side by side.
///
/// A text is checked once per distinct Arrow view a run meets (a few slots remember views that
/// passed): equal views are equal texts, and a column of codes (areas, sexes) repeats a few
/// views millions of times (10 M persons' areas: 85 -> 20 ms).
fn all_texts(ca: &StringChunked, plain: &(dyn Fn(&str) -> bool + Sync)) -> bool {
    chunk_runs(ca.downcast_iter())
        .into_par_iter()
        .all(|(_, a, rows)| {
            let views = a.views();
            let mut passed: [Option<u128>; PASSED] = [None; PASSED];
            rows.filter(|&i| a.is_valid(i)).all(|i| {
                let view = views[i].as_u128();
                let slot = &mut passed[slot_of(view)];
                if *slot == Some(view) {
                    return true;
                }
                let ok = plain(a.value(i));
                if ok {
                    *slot = Some(view);
                }
                ok
            })
        })
}

/// Views that passed, remembered by [`all_texts`] in slots chosen by their hash.
const PASSED: usize = 64;

fn slot_of(view: u128) -> usize {
    let h = (view as u64 ^ (view >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 58) as usize % PASSED
}

/// The runs of rows of a column's chunks, to read side by side: each run's chunk, the rows
/// before that chunk, and the run's rows within it.
fn chunk_runs<'a, A: Array>(
    chunks: impl Iterator<Item = &'a A>,
) -> Vec<(usize, &'a A, std::ops::Range<usize>)> {
    let mut pieces = Vec::new();
    let mut offset = 0;
    for a in chunks {
        pieces.extend(runs(a.len()).into_iter().map(|rows| (offset, a, rows)));
        offset += a.len();
    }
    pieces
}

/// Periods set row by row as a column: values and validity built apart, which the compiler
/// vectorises, where a builder would take an option at a time.
fn period_column(period: &[Option<i32>]) -> Int32Chunked {
    let values: Vec<i32> = period.iter().map(|p| p.unwrap_or(0)).collect();
    let validity = period
        .iter()
        .any(Option::is_none)
        .then(|| Bitmap::from_iter(period.iter().map(Option::is_some)));
    Int32Chunked::from_vec_validity("period".into(), values, validity)
}

/// Most cuts of a table into the runs of its kept rows: more, and the copy `filter` makes is
/// cheaper than the chunks the cuts leave.
const MOST_CUTS: usize = 1 << 12;

/// The frame's kept rows. Rejected rows are usually few, and the runs of kept rows between them
/// share the frame's buffers, where `filter` would copy every column (1.8 s for 14 M rows of
/// nine columns, more than checking them).
fn kept(frame: DataFrame, keep: &[bool]) -> PolarsResult<DataFrame> {
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut row = 0;
    while row < keep.len() {
        let start = row
            + keep[row..]
                .iter()
                .position(|k| *k)
                .unwrap_or(keep.len() - row);
        let len = keep[start..]
            .iter()
            .position(|k| !*k)
            .unwrap_or(keep.len() - start);
        if len > 0 {
            cuts.push((start, len));
        }
        if cuts.len() > MOST_CUTS {
            return filtered(frame, keep);
        }
        row = start + len;
    }
    let mut out = frame.clear();
    for (start, len) in cuts {
        out.vstack_mut_owned(frame.slice(start as i64, len))?;
    }
    Ok(out)
}

/// The frame's kept rows, column by column: each column is dropped once its kept rows are
/// copied, so that the table is never held twice.
fn filtered(frame: DataFrame, keep: &[bool]) -> PolarsResult<DataFrame> {
    let mask = BooleanChunked::from_slice("keep".into(), keep);
    let height = keep.iter().filter(|k| **k).count();
    let columns = frame
        .into_columns()
        .into_iter()
        .map(|c| c.filter(&mask))
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(height, columns)
}

/// The rows where a column has no value.
fn nulls(s: &Series) -> impl Iterator<Item = usize> {
    let rows: Vec<usize> = match s.null_count() {
        0 => Vec::new(),
        _ => s
            .is_null()
            .iter()
            .enumerate()
            .filter_map(|(i, m)| (m == Some(true)).then_some(i))
            .collect(),
    };
    rows.into_iter()
}

/// Rows checked together: enough to keep both cores busy, few enough chunks to append.
const RUN: usize = 1 << 18;

/// The runs of rows of a column of `n` cells; one empty run for none, so that an empty
/// column still has its type.
fn runs(n: usize) -> Vec<std::ops::Range<usize>> {
    (0..n.max(1))
        .step_by(RUN)
        .map(|s| s..(s + RUN).min(n))
        .collect()
}

/// A column checked in runs of rows side by side: `check` gives a run's column and failures.
fn by_runs(
    n: usize,
    check: impl Fn(std::ops::Range<usize>) -> (Series, Vec<Failure>) + Sync + Send,
) -> (Series, Vec<Failure>) {
    join(runs(n).into_par_iter().map(check).collect())
}

/// The runs as one column of as many chunks, and their failures in row order.
fn join(parts: Vec<(Series, Vec<Failure>)>) -> (Series, Vec<Failure>) {
    let mut failed = Vec::new();
    let mut column: Option<Series> = None;
    for (s, f) in parts {
        failed.extend(f);
        match &mut column {
            Some(c) => {
                c.append_owned(s)
                    .unwrap_or_else(|_| unreachable!("runs of one type"));
            }
            None => column = Some(s),
        }
    }
    (column.unwrap_or_default(), failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Numbers, Texts};

    /// The failures `check_number` gives value by value.
    fn one_by_one(ca: &Float64Chunked, bounds: (Option<f64>, bool, Option<f64>)) -> Vec<usize> {
        let values = ca.iter().enumerate();
        values
            .filter(|(_, x)| x.is_none_or(|x| check_number(bounds, x, &x).is_err()))
            .map(|(row, _)| row)
            .collect()
    }

    #[test]
    fn numbers_checked_in_pieces_fail_where_each_value_fails() {
        let named = Named {
            r: 0,
            column: "w",
            role: "weight",
            empty_why: "no weight",
        };
        // Three chunks, the second longer than a run: the failures sit at both ends of
        // pieces, and one chunk has an empty cell.
        let mut values: Vec<Option<f64>> = (0..RUN + 10).map(|i| Some(i as f64 + 0.5)).collect();
        values[0] = Some(0.0);
        values[RUN - 1] = Some(f64::NAN);
        values[RUN] = Some(-1e15);
        values[RUN + 9] = Some(f64::INFINITY);
        let mut ca = Float64Chunked::new("w".into(), &[Some(1.0), Some(2e15)]);
        ca.append(&Float64Chunked::new("w".into(), &values))
            .unwrap();
        ca.append(&Float64Chunked::new(
            "w".into(),
            &[Some(3.0), None, Some(1e15)],
        ))
        .unwrap();
        assert_eq!(ca.chunks().len(), 3);
        for bounds in [
            (Some(0.0), true, None),
            (Some(0.0), false, None),
            (None, false, None),
            (None, true, Some(100.0)),
        ] {
            let failed = checked_numbers(&ca, bounds, true, named);
            let rows: Vec<usize> = failed.iter().map(|f| f.0).collect();
            assert_eq!(rows, one_by_one(&ca, bounds), "{bounds:?}");
        }
        // By hand, for weights that must be above 0: 2e15 (row 1), 0 (row 2), NaN, -1e15 and
        // inf in the long chunk, and the empty cell; 1e15 itself is allowed.
        let failed = checked_numbers(&ca, (Some(0.0), true, None), true, named);
        let rows: Vec<usize> = failed.iter().map(|f| f.0).collect();
        assert_eq!(rows, [1, 2, RUN + 1, RUN + 2, RUN + 11, RUN + 13]);
        assert_eq!(failed[5].3, "no weight");
        assert_eq!(failed[1].2.as_deref(), Some("0"));
    }

    /// A CSV's number cells typed as they are read, in pieces that cross runs, give the same
    /// column and the same failures as the same cells read from text buffers.
    #[test]
    fn numbers_typed_as_read_check_like_their_text() {
        let named = Named {
            r: 0,
            column: "w",
            role: "weight",
            empty_why: "no weight",
        };
        let rule = super::super::rules::PlainNumbers::of(SourceKind::Microdata, "weight", false);
        let odd = [" 7", "", "x", "0", "-2.50", "1,5", "inf", "2e15"];
        let cell = |i: usize| match i % 50_001 {
            0 => None,
            k if k <= odd.len() => Some(odd[k - 1].to_string()),
            _ => Some(format!("{}.25", i % 977 + 1)),
        };
        let (mut numbers, mut texts) = (Numbers::new(rule.unwrap()), Texts::default());
        for (first, len) in [(0, 5), (5, RUN + 3), (RUN + 8, RUN)] {
            let mut piece = Numbers::new(rule.unwrap());
            for i in first..first + len {
                piece.push(cell(i).as_deref());
                texts.push(cell(i).as_deref());
            }
            numbers.append(piece);
        }
        let weight = super::super::rules::rule(SourceKind::Microdata, "weight");
        for required in [true, false] {
            let (a, fa) = text::parsed(&numbers, weight, required, named);
            let (b, fb) = text::numbers(TextColumn::Texts(&texts), weight, required, named);
            assert!(a.equals_missing(&b), "required: {required}");
            assert_eq!(fa, fb, "required: {required}");
        }
        // By hand: row 50 002 is " 7", kept as 7; row 50 006 is "-2.50", rejected as written.
        let (a, failed) = text::parsed(&numbers, weight, true, named);
        assert_eq!(a.f64().unwrap().get(50_002), Some(7.0));
        let row = failed.iter().find(|f| f.0 == 50_006).unwrap();
        assert_eq!(row.2.as_deref(), Some("-2.50"));
        assert_eq!(row.3, "`w` (weight): -2.5 must be greater than 0");
    }

    #[test]
    fn plain_texts_are_checked_in_every_chunk() {
        let mut ca = StringChunked::new("a".into(), &[Some("x"), None]);
        let long: Vec<&str> = vec!["y"; RUN + 1];
        ca.append(&StringChunked::new("a".into(), &long)).unwrap();
        let trimmed = |s: &str| s.trim() == s;
        assert!(all_texts(&ca, &trimmed));
        ca.append(&StringChunked::new("a".into(), &["z "])).unwrap();
        assert!(!all_texts(&ca, &trimmed));
    }
}

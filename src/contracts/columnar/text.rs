//! A text file's column (CSV) checked as a whole: numbers parsed straight from the file's
//! text into a float64 column, text trimmed into a string column, runs of rows side by side.
//! A cell the plain parse cannot read goes through the row contract's own check, so both
//! contracts keep the same values and give the same reasons.

use polars::prelude::*;
use rayon::prelude::*;

use super::super::rules::{check_number, check_with, Rule, Value};
use super::{Failure, Named};
use crate::ingest::Texts;

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

/// A number rule's column: float64, nulls where a cell is empty or broke the rule.
pub fn numbers(texts: &Texts, rule: Rule, required: bool, named: Named) -> (Series, Vec<Failure>) {
    let Rule::Number { min, above, max } = rule else {
        unreachable!("numbers are read for a number's rule")
    };
    let parts: Vec<(Series, Vec<Failure>)> = runs(texts.len())
        .into_par_iter()
        .map(|rows| {
            let mut values: Vec<Option<f64>> = Vec::with_capacity(rows.len());
            let mut failed = Vec::new();
            for (row, cell) in rows.clone().zip(texts.iter_from(rows.start)) {
                // The plain parse takes no spaces, so a cell it reads needs no trimming.
                let checked = match cell.map(|s| (s, s.parse::<f64>())) {
                    None => Ok(None),
                    Some((s, Ok(x))) if x.is_finite() => {
                        check_number((min, above, max), x, &s).map(Some)
                    }
                    Some((s, _)) => check_with(rule, s, false),
                };
                match checked {
                    Ok(Some(Value::Number(x))) => values.push(Some(x)),
                    Ok(_) => {
                        if required {
                            failed.push(named.empty(row, cell));
                        }
                        values.push(None);
                    }
                    Err(why) => {
                        failed.push(named.broke(row, cell.map(String::from), why));
                        values.push(None);
                    }
                }
            }
            let ca = Float64Chunked::from_iter_options(PlSmallStr::EMPTY, values.into_iter());
            (ca.into_series(), failed)
        })
        .collect();
    join(parts)
}

/// A text or key rule's column: each cell trimmed, null where nothing is left.
pub fn trimmed(texts: &Texts, required: bool, named: Named) -> (Series, Vec<Failure>) {
    let parts: Vec<(Series, Vec<Failure>)> = runs(texts.len())
        .into_par_iter()
        .map(|rows| {
            let mut b = StringChunkedBuilder::new(PlSmallStr::EMPTY, rows.len());
            let mut failed = Vec::new();
            for (row, cell) in rows.clone().zip(texts.iter_from(rows.start)) {
                let kept = cell.map(str::trim).filter(|s| !s.is_empty());
                if kept.is_none() && required {
                    failed.push(named.empty(row, cell));
                }
                b.append_option(kept);
            }
            (b.finish().into_series(), failed)
        })
        .collect();
    join(parts)
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

//! A column of text (a CSV's, or a typed file's text) checked as a whole: numbers parsed
//! straight from the text into a float64 column, text trimmed into a string column, dates and
//! codes kept as written when they are in their plain form, runs of rows side by side.
//! A cell the plain parse cannot read goes through the row contract's own check, so both
//! contracts keep the same values and give the same reasons.

use polars::prelude::*;

use super::super::cells::TextColumn;
use super::super::rules::{check_number, check_with, plain_date, Rule, Value};
use super::{by_runs, Failure, Named};

/// A number rule's column: float64, nulls where a cell is empty or broke the rule.
pub fn numbers(
    texts: TextColumn,
    rule: Rule,
    required: bool,
    named: Named,
) -> (Series, Vec<Failure>) {
    let Rule::Number { min, above, max } = rule else {
        unreachable!("numbers are read for a number's rule")
    };
    by_runs(texts.len(), |rows| {
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
}

/// A date's or a code's column: a cell in the form the contract keeps (`2021-03-01`, a code
/// as the vocabulary spells it) is kept as it is; any other goes through the row contract's
/// check, which rewrites it or says why not.
pub fn coded(
    texts: TextColumn,
    rule: Rule,
    required: bool,
    named: Named,
) -> (Series, Vec<Failure>) {
    let plain = |s: &str| -> bool {
        match rule {
            Rule::Date => plain_date(s),
            Rule::OneOf(allowed) => allowed.contains(&s),
            _ => false,
        }
    };
    by_runs(texts.len(), |rows| {
        let mut b = StringChunkedBuilder::new(PlSmallStr::EMPTY, rows.len());
        let mut failed = Vec::new();
        for (row, cell) in rows.clone().zip(texts.iter_from(rows.start)) {
            let checked = match cell {
                Some(s) if plain(s) => Ok(Some(Value::Text(s.into()))),
                _ => check_with(rule, cell.unwrap_or(""), false),
            };
            match checked {
                Ok(Some(Value::Text(t))) => b.append_value(t),
                Ok(_) => {
                    if required {
                        failed.push(named.empty(row, cell));
                    }
                    b.append_null();
                }
                Err(why) => {
                    failed.push(named.broke(row, cell.map(String::from), why));
                    b.append_null();
                }
            }
        }
        (b.finish().into_series(), failed)
    })
}

/// A text or key rule's column: each cell trimmed, null where nothing is left.
pub fn trimmed(texts: TextColumn, required: bool, named: Named) -> (Series, Vec<Failure>) {
    by_runs(texts.len(), |rows| {
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
}

//! A column of text (a CSV's, or a typed file's text) checked as a whole: numbers parsed
//! straight from the text into a float64 column, text trimmed into a string column, dates and
//! codes kept as written when they are in their plain form, runs of rows side by side.
//! A cell the plain parse cannot read goes through the row contract's own check, so both
//! contracts keep the same values and give the same reasons.

use polars::prelude::*;
use polars_arrow::bitmap::{Bitmap, MutableBitmap};
use rayon::prelude::*;

use super::super::cells::{joined, TextColumn};
use super::super::rules::{as_written, check_number, check_with, Rule, Value};
use super::{by_runs, Failure, Named, RUN};
use crate::ingest::Numbers;

/// A number rule's column: float64 in one piece (as the families read it), nulls where a cell
/// is empty or broke the rule. Runs of rows are parsed side by side, each into its own part
/// of the column.
pub fn numbers(
    texts: TextColumn,
    rule: Rule,
    required: bool,
    named: Named,
) -> (Series, Vec<Failure>) {
    let Rule::Number { min, above, max } = rule else {
        unreachable!("numbers are read for a number's rule")
    };
    let n = texts.len();
    let (mut values, mut valid) = (vec![0.0; n], vec![true; n]);
    let found: Vec<Vec<Failure>> = values
        .par_chunks_mut(RUN)
        .zip(valid.par_chunks_mut(RUN))
        .enumerate()
        .map(|(run, (values, valid))| {
            let start = run * RUN;
            let mut failed = Vec::new();
            let cells = texts.iter_from(start).zip(values.iter_mut().zip(valid));
            for (row, (cell, (value, valid))) in (start..).zip(cells) {
                // The plain parse takes no spaces, so a cell it reads needs no trimming.
                let checked = match cell.map(|s| (s, plain_number(s))) {
                    None => Ok(None),
                    Some((s, Ok(x))) if x.is_finite() => {
                        check_number((min, above, max), x, &s).map(Some)
                    }
                    Some((s, _)) => check_with(rule, s, false),
                };
                match kept_number(checked, (row, cell), required, named, &mut failed) {
                    Some(x) => *value = x,
                    None => *valid = false,
                }
            }
            failed
        })
        .collect();
    let validity = valid.contains(&false).then(|| Bitmap::from_iter(valid));
    let ca = Float64Chunked::from_vec_validity(PlSmallStr::EMPTY, values, validity);
    (ca.into_series(), found.into_iter().flatten().collect())
}

/// A text file's number column typed as it was read (see `ingest::Numbers`): its numbers are
/// kept as they are (the reader kept only those the rule keeps), and only its other cells are
/// checked, as [`numbers`] checks them, side by side in runs.
pub fn parsed(
    numbers: &Numbers,
    rule: Rule,
    required: bool,
    named: Named,
) -> (Series, Vec<Failure>) {
    let (n, odd_rows) = (numbers.len(), numbers.odd_rows());
    // One piece, as the families read it.
    let mut values = joined(n, numbers.pieces(), |x| x);
    let mut checked: Vec<Option<f64>> = vec![None; odd_rows.len()];
    let found: Vec<Vec<Failure>> = checked
        .par_chunks_mut(RUN)
        .enumerate()
        .map(|(run, checked)| {
            let start = run * RUN;
            let mut failed = Vec::new();
            let cells = odd_rows[start..].iter().zip(numbers.odd_from(start));
            for ((&row, cell), x) in cells.zip(checked) {
                let one = check_with(rule, cell.unwrap_or(""), false);
                *x = kept_number(one, (row, cell), required, named, &mut failed);
            }
            failed
        })
        .collect();
    let mut validity: Option<MutableBitmap> = None;
    for (&row, x) in odd_rows.iter().zip(checked) {
        values[row] = x.unwrap_or(0.0);
        if x.is_none() {
            let bits = validity.get_or_insert_with(|| MutableBitmap::from_len_set(n));
            bits.set(row, false);
        }
    }
    let ca = Float64Chunked::from_vec_validity(PlSmallStr::EMPTY, values, validity.map(Into::into));
    (ca.into_series(), found.into_iter().flatten().collect())
}

/// The number a checked cell keeps, or why it keeps none, added to `failed` (an empty cell
/// only where the role is required).
fn kept_number(
    checked: Result<Option<Value>, String>,
    (row, cell): (usize, Option<&str>),
    required: bool,
    named: Named,
    failed: &mut Vec<Failure>,
) -> Option<f64> {
    match checked {
        Ok(Some(Value::Number(x))) => return Some(x),
        Ok(_) if required => failed.push(named.empty(row, cell)),
        Ok(_) => {}
        Err(why) => failed.push(named.broke(row, cell.map(String::from), why)),
    }
    None
}

/// A cell read as `str::parse::<f64>` reads it.
fn plain_number(s: &str) -> Result<f64, fast_float2::Error> {
    fast_float2::parse(s)
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
    by_runs(texts.len(), |rows| {
        let mut b = StringChunkedBuilder::new(PlSmallStr::EMPTY, rows.len());
        let mut failed = Vec::new();
        for (row, cell) in rows.clone().zip(texts.iter_from(rows.start)) {
            let checked = match cell {
                Some(s) if as_written(rule, s) => Ok(Some(Value::Text(s.into()))),
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

#[cfg(test)]
mod tests {
    use super::plain_number;

    fn agree(s: &str) {
        let (ours, std) = (plain_number(s).ok(), s.parse::<f64>().ok());
        assert_eq!(ours.map(f64::to_bits), std.map(f64::to_bits), "{s:?}");
    }

    #[test]
    fn the_plain_parse_reads_what_std_reads() {
        let tricky = [
            "", "0", "-0", "+0", "1", "+3", "-7", "1.", ".5", "+.5", "-.5", ".", "+", "-", "1e3",
            "1E3", "1e+3", "1e-3", "1e", "e3", "1.e5", "1.5e308", "1e309", "-1e309", "4.9e-324",
            "2.2250738585072011e-308", "9007199254740993", "0.1", "1_000", "1,5", " 1", "1 ",
            "0x10", "inf", "Inf", "INF", "-inf", "+inf", "infinity", "Infinity", "infinit", "nan",
            "NaN", "-nan", "NAN", "1e3.5", "--1", "1..2", "00012.50", "21000.50",
            "179769313486231570000000000000000000000000000000000000000000000000000000000000000000             00000000000000000000000000000000000000000000000000000000000000000000000000000000000             000000000000000000000000000000000000000000000000000000000000000000000000000000000000             000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        ];
        tricky.iter().for_each(|s| agree(s));
        // Random cells over the characters numbers are written with.
        let alphabet = b"0123456789.eE+-infatyINFATY _,x";
        let mut state = 1u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..300_000 {
            let len = 1 + next() % 12;
            let s: String = (0..len)
                .map(|_| {
                    // Mostly digits, so that many cells are numbers.
                    let r = next();
                    match r % 3 {
                        0 | 1 => (b'0' + (r / 3 % 10) as u8) as char,
                        _ => alphabet[(r / 3) as usize % alphabet.len()] as char,
                    }
                })
                .collect();
            agree(&s);
        }
    }
}

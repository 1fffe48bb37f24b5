//! The rules across cells of projects and procurement, over columns: a project's period is its
//! start's year (a contract's, its date's), its end is not before its start, and its amount is
//! converted into the reporting currency at the rate of its currency and year (at base-year
//! prices where the pipeline deflates). Only rows whose cells passed are looked at, and each
//! rule gives the reject the row contract gives.

use polars::prelude::*;
use rayon::prelude::*;

use super::super::cells::{TextCells, TextColumn};
use super::super::context::Contract;
use super::super::rules::Rates;
use super::super::Reject;
use super::{runs, Rejected, RUN};
use crate::config::SourceKind;

impl Contract<'_> {
    /// The role whose date gives a row's period, and its place: a project's start, a
    /// contract's date.
    fn dated_by(&self) -> (&'static str, Option<usize>) {
        match self.source.kind {
            SourceKind::Projects => ("start", self.at.start),
            _ => ("date", self.at.date),
        }
    }

    /// Sets each row's period from its date (see [`Contract::dated_by`]), rejects rows whose
    /// dates are out of order or whose amount cannot be converted, and converts the amounts
    /// (see [`Contract::report_currency`] for their currency column).
    pub(super) fn project_checks(
        &self,
        columns: &mut [Series],
        period: &mut [Option<i32>],
        bad: &mut Rejected,
    ) -> PolarsResult<()> {
        let at = &self.at;
        let text = |r: Option<usize>| r.map(|r| columns[r].str()).transpose();
        let (dated, start, end) = (text(self.dated_by().1)?, text(at.start)?, text(at.end)?);
        let code = text(at.currency)?;
        let converts = at.currency.is_some() || self.pipeline.currency.deflates();
        let mut factors = vec![1.0; period.len()];
        let ok = &bad.ok;
        let found: Vec<Vec<(usize, Reject)>> = runs(period.len())
            .into_par_iter()
            .zip(period.par_chunks_mut(RUN))
            .zip(factors.par_chunks_mut(RUN))
            .map(|((rows, period), factors)| {
                let run = Run {
                    ok: &ok[rows.clone()],
                    first: rows.start,
                    converts,
                };
                let cells = [dated, start, end, code]
                    .map(|ca| ca.map(|ca| TextColumn::Str(ca).iter_from(rows.start)));
                run.check(self, cells, period, factors)
            })
            .collect();
        bad.extend(found.into_iter().flatten());
        if !converts {
            return Ok(());
        }
        if let (Some(a), true) = (at.amount, factors.par_iter().any(|f| *f != 1.0)) {
            columns[a] = scaled(columns[a].f64()?, &factors).into_series();
        }
        Ok(())
    }

    /// The currency column of the kept rows names the reporting currency, where amounts were
    /// converted (a column of one value, made for the kept rows only).
    pub(super) fn report_currency(&self, frame: &mut DataFrame) -> PolarsResult<()> {
        let converts = self.at.currency.is_some();
        if converts {
            let report = self.pipeline.currency.report.as_str();
            let column = StringChunked::full("currency".into(), report, frame.height());
            frame.with_column(column.into_series().into_column())?;
        }
        Ok(())
    }
}

/// Each amount times its row's factor, side by side, missing where the amount is (the values
/// under a missing amount are multiplied too, as polars' own product does).
fn scaled(amount: &Float64Chunked, factors: &[f64]) -> Float64Chunked {
    let amount = amount.rechunk();
    let Some(a) = amount.downcast_iter().next() else {
        return amount.into_owned();
    };
    let values: Vec<f64> = a
        .values()
        .par_iter()
        .zip(factors)
        .map(|(x, f)| x * f)
        .collect();
    Float64Chunked::from_vec_validity(amount.name().clone(), values, a.validity().cloned())
}

/// A run of rows checked on one core.
struct Run<'a> {
    /// Whether each row of the run passed its cells' rules.
    ok: &'a [bool],
    first: usize,
    converts: bool,
}

impl Run<'_> {
    /// The run's rejects, in row order, from its date, start, end and currency cells (none
    /// where the file lacks the role); fills in its periods and currency factors.
    fn check(
        &self,
        contract: &Contract,
        mut cells: [Option<TextCells>; 4],
        period: &mut [Option<i32>],
        factors: &mut [f64],
    ) -> Vec<(usize, Reject)> {
        let source = contract.source;
        let currency = &contract.pipeline.currency;
        let (end_column, currency_column) = (
            source.column_for("end"),
            match contract.at.currency {
                Some(_) => source.column_for("currency"),
                None => source.column_for(contract.dated_by().0),
            },
        );
        let mut rates = Rates::new(currency);
        let mut found = Vec::new();
        for k in 0..self.ok.len() {
            // A role the file lacks has no cells.
            let [d, s, e, c] = cells
                .each_mut()
                .map(|c| c.as_mut().and_then(|c| c.next().flatten()));
            if !self.ok[k] {
                continue;
            }
            let row = self.first + k;
            if let Some(d) = d {
                period[k] = d.get(..4).and_then(|y| y.parse().ok());
            }
            if let (Some(s), Some(e)) = (s, e) {
                if e < s {
                    let why = format!("the end date {e} is before the start date {s}");
                    found.push((row, contract.reject(row, Some(end_column), Some(e), why)));
                    continue;
                }
            }
            if !self.converts {
                continue;
            }
            let code = c.unwrap_or(&currency.report);
            let factor = rates.factor(code, period[k]);
            match factor {
                Ok(f) => factors[k] = *f,
                Err(why) => {
                    let reject =
                        contract.reject(row, Some(currency_column), Some(code), why.clone());
                    found.push((row, reject));
                }
            }
        }
        found
    }
}

//! The spending family: how much money went where, per inhabitant and per beneficiary, how it
//! was financed, and how much of the city's purchasing went to social enterprises.
//!
//! A project with several funders appears in several rows (one per funding source) with the
//! same id. Amounts add up across its rows; beneficiaries and tonnes avoided belong to the
//! project, so the largest value stated on any of its rows counts once.

use std::collections::HashMap;

use polars::prelude::*;

use chrono::{Datelike, NaiveDate};

use super::projects::PUBLIC;
use super::{collect_all, counts, divide, floats, ints, strings, sum_of, Inputs, Output, Value};
use crate::config::{SourceKind, Spread};
use crate::contracts::{Table, FUNDING_SOURCES};

/// Non-public money, set against public money by the leverage ratio.
const PRIVATE: [&str; 4] = [
    "crowdfunding",
    "impact_investment",
    "philanthropy",
    "private",
];

pub fn compute(inputs: &Inputs) -> PolarsResult<Output> {
    let wanted = &inputs.pipeline.indicators.spending;
    let want = |id: &str| wanted.iter().any(|w| w == id);
    let mut out = Output::default();
    if wanted.is_empty() {
        return Ok(out);
    }
    if let Some(rows) = &inputs.project_rows {
        projects(inputs, &rows.table, &rows.spreads, &want, &mut out)?;
    }
    if want("sroi") {
        area_sroi(inputs, &mut out)?;
        out.skipped.extend(inputs.project_notes.iter().cloned());
    }
    if want("procurement_total") || want("social_procurement_share") {
        for table in inputs.of(SourceKind::Procurement) {
            procurement(inputs, table, &want, &mut out)?;
        }
    }
    Ok(out)
}

/// Area figures over every projects source's rows (see [`super::projects::merged`]).
fn projects(
    inputs: &Inputs,
    table: &Table,
    spreads: &[Spread],
    want: &dyn Fn(&str) -> bool,
    out: &mut Output,
) -> PolarsResult<()> {
    let schema = table.frame.schema();
    let has = |c: &str| schema.contains(c);
    let frames = collect_all(area_plans(inputs, table, spreads, &has)?)?;
    spend(inputs, &frames[0], want, out)?;
    if has("beneficiaries") && want("cost_per_beneficiary") {
        cost_per_beneficiary(inputs, &frames[1], out)?;
    }
    if let (true, Some(fund)) = (has("funding_source"), frames.last()) {
        financing(inputs, fund, want, out)?;
    }
    Ok(())
}

/// The queries per area and period: spending over the booked amounts (start year, or pro
/// rata); beneficiaries over projects by start year, where the rows have them; financing over
/// the booked funding rows, where the rows name their source.
fn area_plans(
    inputs: &Inputs,
    table: &Table,
    spreads: &[Spread],
    has: &dyn Fn(&str) -> bool,
) -> PolarsResult<Vec<LazyFrame>> {
    let keys = [col("area"), col("period")];
    let booked = booked(table, spreads)?;
    let mut plans = vec![booked
        .clone()
        .lazy()
        .group_by(keys.clone())
        .agg([
            sum_of(col("amount")).alias("spend"),
            col("id").n_unique().alias("n"),
        ])
        .sort(["area", "period"], SortMultipleOptions::default())];
    // Beneficiaries per area and start year, over projects.
    if has("beneficiaries") {
        plans.push(
            inputs
                .projects
                .areas
                .clone()
                .lazy()
                .group_by(keys.clone())
                .agg([
                    sum_of(col("beneficiaries")).alias("beneficiaries"),
                    sum_of(col("amount").filter(col("beneficiaries").gt(lit(0.0))))
                        .alias("amount_with_beneficiaries"),
                    col("beneficiaries")
                        .gt(lit(0.0))
                        .sum()
                        .alias("n_with_beneficiaries"),
                ])
                .sort(["area", "period"], SortMultipleOptions::default()),
        );
    }
    // Financing per area and period, over the booked funding rows.
    if has("funding_source") {
        let mut aggs: Vec<Expr> = FUNDING_SOURCES
            .iter()
            .map(|s| sum_of(col("amount").filter(col("funding_source").eq(lit(*s)))).alias(*s))
            .collect();
        aggs.push(sum_of(col("amount").filter(col("funding_source").is_not_null())).alias("known"));
        aggs.push(
            col("id")
                .filter(col("funding_source").is_not_null())
                .n_unique()
                .alias("n_known"),
        );
        plans.push(
            booked
                .lazy()
                .group_by(keys)
                .agg(aggs)
                .sort(["area", "period"], SortMultipleOptions::default()),
        );
    }
    Ok(plans)
}

/// Spending in total and per inhabitant.
fn spend(
    inputs: &Inputs,
    totals: &DataFrame,
    want: &dyn Fn(&str) -> bool,
    out: &mut Output,
) -> PolarsResult<()> {
    let area = strings(totals, "area")?;
    let period = ints(totals, "period")?;
    let spend = floats(totals, "spend")?;
    let n = counts(totals, "n")?;
    for i in 0..totals.height() {
        let (Some(a), Some(s)) = (&area[i], spend[i]) else {
            continue;
        };
        let p = period[i];
        let level = inputs.level(a, "city");
        if want("spend_total") {
            out.values
                .push(Value::new("spend_total", a, &level, p, s).n(n[i]));
        }
        if want("spend_per_capita") {
            let v = inputs.population(a, p).and_then(|pop| {
                divide(s, pop).map(|v| {
                    Value::new("spend_per_capita", a, &level, p, v)
                        .ratio(s, pop)
                        .n(n[i])
                })
            });
            out.push_checked(
                v,
                "spend_per_capita",
                a,
                p,
                "no population for this area and period in an `areas` source",
            );
        }
    }
    Ok(())
}

/// What each beneficiary cost, over the projects that report beneficiaries.
fn cost_per_beneficiary(inputs: &Inputs, df: &DataFrame, out: &mut Output) -> PolarsResult<()> {
    let area = strings(df, "area")?;
    let period = ints(df, "period")?;
    let b = floats(df, "beneficiaries")?;
    let amount_b = floats(df, "amount_with_beneficiaries")?;
    let n_b = counts(df, "n_with_beneficiaries")?;
    for i in 0..df.height() {
        let Some(a) = &area[i] else { continue };
        let (p, b, amount_b) = (period[i], b[i].unwrap_or(0.0), amount_b[i].unwrap_or(0.0));
        let v = divide(amount_b, b).map(|v| {
            Value::new("cost_per_beneficiary", a, &inputs.level(a, "city"), p, v)
                .ratio(amount_b, b)
                .n(n_b[i])
        });
        out.push_checked(
            v,
            "cost_per_beneficiary",
            a,
            p,
            "no project here reports beneficiaries",
        );
    }
    Ok(())
}

/// Each funding source's share of the money whose source is known, and private money per
/// unit of public money.
fn financing(
    inputs: &Inputs,
    fund: &DataFrame,
    want: &dyn Fn(&str) -> bool,
    out: &mut Output,
) -> PolarsResult<()> {
    let area = strings(fund, "area")?;
    let period = ints(fund, "period")?;
    let known = floats(fund, "known")?;
    let n_known = counts(fund, "n_known")?;
    let by_source: HashMap<&str, Vec<Option<f64>>> = FUNDING_SOURCES
        .iter()
        .map(|s| floats(fund, s).map(|v| (*s, v)))
        .collect::<PolarsResult<_>>()?;
    for i in 0..fund.height() {
        let Some(a) = &area[i] else { continue };
        let p = period[i];
        let level = inputs.level(a, "city");
        let total = known[i].unwrap_or(0.0);
        let amount = |s: &str| by_source[s][i].unwrap_or(0.0);
        for s in FUNDING_SOURCES {
            let id = format!("financing_share_{s}");
            if want(&id) {
                let v = divide(100.0 * amount(s), total).map(|v| {
                    Value::new(&id, a, &level, p, v)
                        .ratio(amount(s), total)
                        .n(n_known[i])
                });
                out.push_checked(
                    v,
                    &id,
                    a,
                    p,
                    "no project amount here names its funding source",
                );
            }
        }
        if want("leverage_ratio") {
            let public: f64 = PUBLIC.iter().map(|s| amount(s)).sum();
            let private: f64 = PRIVATE.iter().map(|s| amount(s)).sum();
            let v = divide(private, public).map(|v| {
                Value::new("leverage_ratio", a, &level, p, v)
                    .ratio(private, public)
                    .n(n_known[i])
            });
            out.push_checked(v, "leverage_ratio", a, p, "no public money here to lever");
        }
    }
    Ok(())
}

/// Procurement per buyer's area and period: the total awarded, and the share of it awarded to
/// social enterprises (where the source says which suppliers are).
fn procurement(
    inputs: &Inputs,
    table: &Table,
    want: &dyn Fn(&str) -> bool,
    out: &mut Output,
) -> PolarsResult<()> {
    let schema = table.frame.schema();
    let typed = schema.contains("supplier_type");
    let share = want("social_procurement_share");
    if share && !typed {
        out.skipped.push(super::Skipped {
            indicator: "social_procurement_share".into(),
            area: "ALL".into(),
            period: None,
            reason: format!("source `{}` has no supplier_type column", table.source),
            projects: None,
        });
    }
    // The buyer's area where the source gives one, else the buyer itself.
    let area = if schema.contains("area") {
        when(col("area").is_not_null())
            .then(col("area"))
            .otherwise(col("buyer"))
    } else {
        col("buyer")
    };
    let social = match typed {
        true => sum_of(col("amount").filter(col("supplier_type").eq(lit("social_enterprise")))),
        false => lit(NULL).cast(DataType::Float64),
    };
    let frames = collect_all(vec![table
        .frame
        .clone()
        .lazy()
        .with_column(area.alias("area_key"))
        .group_by([col("area_key"), col("period")])
        .agg([
            sum_of(col("amount")).alias("total"),
            social.alias("social"),
            len().alias("n"),
        ])
        .sort(["area_key", "period"], SortMultipleOptions::default())])?;
    let df = &frames[0];
    let area = strings(df, "area_key")?;
    let period = ints(df, "period")?;
    let total = floats(df, "total")?;
    let social = floats(df, "social")?;
    let n = counts(df, "n")?;
    for i in 0..df.height() {
        let Some(a) = &area[i] else { continue };
        let level = inputs.level(a, "city");
        let (t, s) = (total[i].unwrap_or(0.0), social[i].unwrap_or(0.0));
        if want("procurement_total") {
            out.values
                .push(Value::new("procurement_total", a, &level, period[i], t).n(n[i]));
        }
        if !(share && typed) {
            continue;
        }
        let v = divide(100.0 * s, t).map(|v| {
            Value::new("social_procurement_share", a, &level, period[i], v)
                .ratio(s, t)
                .n(n[i])
        });
        out.push_checked(
            v,
            "social_procurement_share",
            a,
            period[i],
            "the buyer's procurement amount is zero",
        );
    }
    Ok(())
}

/// SROI per area and start year: the present value of all outcomes of the area's projects
/// over their inputs.
fn area_sroi(inputs: &Inputs, out: &mut Output) -> PolarsResult<()> {
    let mut sums: std::collections::BTreeMap<(&str, Option<i32>), (f64, f64, usize)> =
        Default::default();
    let projects = &inputs.projects;
    let (area, period) = (projects.texts("area")?, projects.periods()?);
    let (pv, inputs_of) = (
        projects.numbers("sroi_present_value")?,
        projects.numbers("sroi_inputs")?,
    );
    // The projects with outcomes are the ones with SROI inputs.
    for run in projects.outcomes.chunk_by(|a, b| a.0 == b.0) {
        let row = run[0].0;
        if let (Some(pv), Some(i)) = (pv.get(row), inputs_of.get(row)) {
            let e = sums
                .entry((area.get(row).unwrap_or(""), period.get(row)))
                .or_default();
            e.0 += pv;
            e.1 += i;
            e.2 += 1;
        }
    }
    for ((a, p), (pv, inputs_sum, n)) in sums {
        let v = divide(pv, inputs_sum).map(|v| {
            Value::new("sroi", a, &inputs.level(a, "city"), p, v)
                .ratio(pv, inputs_sum)
                .n(n)
        });
        out.push_checked(
            v,
            "sroi",
            a,
            p,
            "the inputs of the projects with outcomes are zero",
        );
    }
    Ok(())
}

/// A project row's amount by year: all of it in the start year, or pro rata to the days of
/// its duration (start and end dates both counted) that fall in each year.
pub fn book(
    amount: f64,
    start: NaiveDate,
    end: Option<NaiveDate>,
    spread: Spread,
) -> Vec<(i32, f64)> {
    let mut parts = Vec::new();
    book_into(amount, start, end, spread, &mut |y, part| {
        parts.push((y, part))
    });
    parts
}

/// [`book`], each (year, part) handed to `emit`, without a list per row.
fn book_into(
    amount: f64,
    start: NaiveDate,
    end: Option<NaiveDate>,
    spread: Spread,
    emit: &mut dyn FnMut(i32, f64),
) {
    let end = match (spread, end) {
        (Spread::ProRata, Some(e)) if e > start => e,
        _ => return emit(start.year(), amount),
    };
    let days = (end - start).num_days() as f64 + 1.0;
    for y in start.year()..=end.year() {
        let (Some(jan1), Some(dec31)) = (
            NaiveDate::from_ymd_opt(y, 1, 1),
            NaiveDate::from_ymd_opt(y, 12, 31),
        ) else {
            continue;
        };
        let from = start.max(jan1);
        let to = end.min(dec31);
        let d = (to - from).num_days() as f64 + 1.0;
        emit(y, amount * d / days);
    }
}

/// An ISO date (`2021-03-01`, as the contract writes dates), read without a format parser
/// in the common case.
fn iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        if let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) {
            return NaiveDate::from_ymd_opt(y as i32, m, d);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// The project rows as booked: id, area, period, funding source, amount. Positions and
/// numbers are gathered first; the text columns are then taken from the rows by position.
fn booked(table: &Table, spreads: &[Spread]) -> PolarsResult<DataFrame> {
    let df = &table.frame;
    let booking = Booking::of(df, &|i| spreads.get(i).copied().unwrap_or_default())?;
    let n = booking.periods.len();
    let take = |name: &str| -> PolarsResult<Column> {
        Ok(match df.column(name) {
            Ok(c) => c
                .as_materialized_series()
                .take(&booking.rows)?
                .into_column(),
            Err(_) => Column::full_null(name.into(), n, &DataType::String),
        })
    };
    DataFrame::new(
        n,
        vec![
            take("id")?,
            take("area")?,
            Column::new("period".into(), booking.periods),
            take("funding_source")?,
            Column::new("amount".into(), booking.amounts),
        ],
    )
}

/// Project rows booked over the years: for each booked part, its row, year and amount.
pub(crate) struct Booking {
    pub rows: IdxCa,
    pub periods: Vec<i32>,
    pub amounts: Vec<f64>,
}

impl Booking {
    /// Books every row of a projects frame (`amount`, `start`, optional `end`) with the
    /// booking `spread(row)` gives. Rows without an amount or a start date book nothing.
    pub(crate) fn of(df: &DataFrame, spread: &dyn Fn(usize) -> Spread) -> PolarsResult<Booking> {
        let amount = df.column("amount")?.f64()?.rechunk();
        let start = df.column("start")?.str()?.rechunk();
        let end = match df.schema().contains("end") {
            true => Some(df.column("end")?.str()?.rechunk()),
            false => None,
        };
        let (mut rows, mut periods, mut amounts) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..df.height() {
            let (Some(x), Some(s)) = (amount.get(i), start.get(i).and_then(iso_date)) else {
                continue;
            };
            let e = end.as_ref().and_then(|e| e.get(i)).and_then(iso_date);
            book_into(x, s, e, spread(i), &mut |year, part| {
                rows.push(i as IdxSize);
                periods.push(year);
                amounts.push(part);
            });
        }
        Ok(Booking {
            rows: IdxCa::from_vec("".into(), rows),
            periods,
            amounts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn start_year_books_everything_at_the_start() {
        assert_eq!(
            book(
                900.0,
                d(2021, 7, 1),
                Some(d(2023, 6, 30)),
                Spread::StartYear
            ),
            vec![(2021, 900.0)]
        );
    }

    #[test]
    fn pro_rata_follows_the_days() {
        // 2021-07-01 to 2023-06-30: 184 days in 2021, 365 in 2022, 181 in 2023; 730 in all.
        let parts = book(
            730_000.0,
            d(2021, 7, 1),
            Some(d(2023, 6, 30)),
            Spread::ProRata,
        );
        assert_eq!(
            parts,
            vec![(2021, 184_000.0), (2022, 365_000.0), (2023, 181_000.0)]
        );
        // A leap year counts its 366 days: 2024-01-01 to 2025-12-31 is 731 days.
        let parts = book(731.0, d(2024, 1, 1), Some(d(2025, 12, 31)), Spread::ProRata);
        assert_eq!(parts, vec![(2024, 366.0), (2025, 365.0)]);
        // No end date: nothing to spread over.
        assert_eq!(
            book(5.0, d(2022, 3, 1), None, Spread::ProRata),
            vec![(2022, 5.0)]
        );
    }

    #[test]
    fn dates_read_fast_are_the_dates_chrono_reads() {
        for s in [
            "2021-03-01",
            "2024-02-29",
            "2023-02-29",
            "2021-13-01",
            "2021-1-5",
            "20210301",
            "2021-03-0x",
            "",
        ] {
            let chrono = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
            assert_eq!(iso_date(s), chrono, "{s}");
        }
        assert_eq!(iso_date("2024-02-29"), Some(d(2024, 2, 29)));
    }
}

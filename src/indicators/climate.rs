//! The climate family: city GHG inventories at GPC BASIC and BASIC+ level, per inhabitant and
//! against a base year; tonnes avoided by projects and what they cost; green area (ISO 37120).
//!
//! GPC BASIC covers scopes 1 and 2 of stationary energy and transportation and scopes 1 and 3
//! of waste. BASIC+ adds IPPU and AFOLU (scope 1) and scope 3 of stationary energy and
//! transportation. Rows reported by sub-sector (several per sector and scope) add up. A row
//! whose missing sector or scope leaves its place open (transport without a scope: 1, 2 or 3?)
//! is never counted silently: the area's total then adds it in full and carries the flag
//! `estimated`, an upper bound of the level. An IPPU row without a scope is still outside
//! BASIC.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::{collect_all, counts, divide, floats, ints, strings, sum_of, Inputs, Output, Value};
use crate::config::SourceKind;

fn sector_is(names: &[&str]) -> Expr {
    names
        .iter()
        .map(|n| col("sector").eq(lit(*n)))
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(false))
        .fill_null(lit(false))
}

fn scope_is(scopes: &[i32]) -> Expr {
    scopes
        .iter()
        .map(|s| col("scope").eq(lit(*s)))
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(false))
        .fill_null(lit(false))
}

const ENERGY_TRANSPORT: [&str; 2] = ["stationary_energy", "transportation"];
const IPPU_AFOLU: [&str; 2] = ["ippu", "afolu"];

/// Whether a row's sector and scope are known well enough to say whether it is in BASIC:
/// IPPU and AFOLU never are, whatever the scope; every other row needs both.
fn placed_basic() -> Expr {
    sector_is(&IPPU_AFOLU).or(col("sector").is_not_null().and(col("scope").is_not_null()))
}

/// A row that counts at GPC BASIC level: scopes 1 and 2 of stationary energy and
/// transportation, scopes 1 and 3 of waste.
fn basic() -> Expr {
    sector_is(&ENERGY_TRANSPORT)
        .and(scope_is(&[1, 2]))
        .or(sector_is(&["waste"]).and(scope_is(&[1, 3])))
}

/// Whether a row can be placed at BASIC+ level: with sector and scope; or energy and
/// transport of any scope (all three are in BASIC+); or scope 1 of any sector (every sector's
/// scope 1 is in BASIC+).
fn placed_basic_plus() -> Expr {
    col("sector")
        .is_not_null()
        .and(col("scope").is_not_null())
        .or(sector_is(&ENERGY_TRANSPORT))
        .or(scope_is(&[1]))
}

/// A row that counts at BASIC+ level: BASIC, plus scope 1 of IPPU and AFOLU and scope 3 of
/// stationary energy and transportation. Rows of energy or transport without a scope and
/// scope-1 rows without a sector are in BASIC+ whatever the missing field is.
fn basic_plus() -> Expr {
    basic()
        .or(sector_is(&IPPU_AFOLU).and(scope_is(&[1])))
        .or(sector_is(&ENERGY_TRANSPORT).and(scope_is(&[3])))
        .or(sector_is(&ENERGY_TRANSPORT).and(col("scope").is_null()))
        .or(col("sector").is_null().and(scope_is(&[1])))
}

/// The inventory with a `sector` and a `scope` column whether or not the source has them
/// (missing ones are all null), and each row's place at BASIC and BASIC+ level.
fn classified(frame: &DataFrame) -> LazyFrame {
    let schema = frame.schema();
    let mut lf = frame.clone().lazy();
    if !schema.contains("sector") {
        lf = lf.with_column(lit(NULL).cast(DataType::String).alias("sector"));
    }
    if !schema.contains("scope") {
        lf = lf.with_column(lit(NULL).cast(DataType::Int32).alias("scope"));
    }
    lf.with_columns([
        basic().alias("basic"),
        placed_basic().not().alias("unplaced"),
        basic_plus().alias("basic_plus"),
        placed_basic_plus().not().alias("unplaced_plus"),
    ])
}

pub fn compute(inputs: &Inputs) -> PolarsResult<Output> {
    let wanted = &inputs.pipeline.indicators.climate;
    let want = |id: &str| wanted.iter().any(|w| w == id);
    let mut out = Output::default();
    if wanted.is_empty() {
        return Ok(out);
    }
    for table in inputs.of(SourceKind::Emissions) {
        let schema = table.frame.schema();
        let (has_sector, has_scope) = (schema.contains("sector"), schema.contains("scope"));
        let lf = classified(&table.frame);
        // Rows that cannot be placed are added in full to a total flagged `estimated`: an
        // upper bound, never silently counted as BASIC.
        let mut plans = vec![lf
            .clone()
            .group_by([col("area"), col("period")])
            .agg([
                sum_of(col("tco2e").filter(col("basic"))).alias("basic"),
                sum_of(col("tco2e").filter(col("unplaced"))).alias("unplaced"),
                sum_of(col("tco2e").filter(col("basic_plus"))).alias("basic_plus"),
                sum_of(col("tco2e").filter(col("unplaced_plus"))).alias("unplaced_plus"),
                col("basic").sum().alias("n_basic"),
                col("unplaced").sum().alias("n_unplaced"),
                col("basic_plus").sum().alias("n_basic_plus"),
                col("unplaced_plus").sum().alias("n_unplaced_plus"),
            ])
            .sort(["area", "period"], SortMultipleOptions::default())];
        // Breakdowns of the BASIC total: by sector, by scope, and by both.
        let mut breakdowns: Vec<Vec<&str>> = Vec::new();
        if has_sector {
            breakdowns.push(vec!["sector"]);
        }
        if has_scope {
            breakdowns.push(vec!["scope"]);
        }
        if has_sector && has_scope {
            breakdowns.push(vec!["scope", "sector"]);
        }
        for keys in &breakdowns {
            let mut by = vec![col("area"), col("period")];
            let mut present = col("basic");
            for k in keys {
                by.push(col(*k));
                present = present.and(col(*k).is_not_null());
            }
            plans.push(
                lf.clone()
                    .filter(present)
                    .group_by(by)
                    .agg([sum_of(col("tco2e")).alias("tco2e"), len().alias("n")]),
            );
        }
        let frames = collect_all(plans)?;
        inventory(inputs, &frames[0], &want, &mut out)?;
        if want("ghg_total") {
            for (keys, df) in breakdowns.iter().zip(&frames[1..]) {
                let area = strings(df, "area")?;
                let period = ints(df, "period")?;
                let t = floats(df, "tco2e")?;
                let n = counts(df, "n")?;
                let labels: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        let c = df
                            .column(k)?
                            .as_materialized_series()
                            .cast(&DataType::String)?;
                        Ok(c.str()?
                            .iter()
                            .map(|v| v.unwrap_or_default().to_string())
                            .collect())
                    })
                    .collect::<PolarsResult<_>>()?;
                for i in 0..df.height() {
                    let (Some(a), Some(v)) = (&area[i], t[i]) else {
                        continue;
                    };
                    // keys are listed sorted, so the label is too.
                    let label = keys
                        .iter()
                        .zip(&labels)
                        .map(|(k, l)| format!("{k}={}", l[i]))
                        .collect::<Vec<_>>()
                        .join(";");
                    out.values.push(
                        Value::new("ghg_total", a, &inputs.level(a, "city"), period[i], v)
                            .breakdown(Some(label))
                            .n(n[i]),
                    );
                }
            }
        }
    }
    if let Some(rows) = &inputs.project_rows {
        if rows.table.frame.schema().contains("co2e_avoided_t") {
            avoided(inputs, &want, &mut out)?;
        }
    }
    if want("green_area_per_100k") {
        green_area(inputs, &mut out)?;
    }
    Ok(out)
}

fn inventory(
    inputs: &Inputs,
    df: &DataFrame,
    want: &dyn Fn(&str) -> bool,
    out: &mut Output,
) -> PolarsResult<()> {
    let area = strings(df, "area")?;
    let period = ints(df, "period")?;
    let basic = floats(df, "basic")?;
    let unplaced = floats(df, "unplaced")?;
    let plus = floats(df, "basic_plus")?;
    let unplaced_plus = floats(df, "unplaced_plus")?;
    let n_basic = counts(df, "n_basic")?;
    let n_unplaced = counts(df, "n_unplaced")?;
    let n_plus = counts(df, "n_basic_plus")?;
    let n_unplaced_plus = counts(df, "n_unplaced_plus")?;
    let estimated = |n: usize| (n > 0).then(|| "estimated".to_string());
    // Base year per area: the pipeline's, or the area's first year in the source.
    let mut series: BTreeMap<String, Vec<(i32, f64, Option<String>)>> = BTreeMap::new();
    for i in 0..df.height() {
        let (Some(a), Some(placed)) = (&area[i], basic[i]) else {
            continue;
        };
        let e = placed + unplaced[i].unwrap_or(0.0);
        let flag = estimated(n_unplaced[i]);
        let n = n_basic[i] + n_unplaced[i];
        let p = period[i];
        let level = inputs.level(a, "city");
        if want("ghg_total") {
            out.values.push(
                Value::new("ghg_total", a, &level, p, e)
                    .n(n)
                    .flag(flag.clone()),
            );
        }
        if want("ghg_total_basic_plus") {
            if let Some(plus) = plus[i] {
                let e = plus + unplaced_plus[i].unwrap_or(0.0);
                out.values.push(
                    Value::new("ghg_total_basic_plus", a, &level, p, e)
                        .n(n_plus[i] + n_unplaced_plus[i])
                        .flag(estimated(n_unplaced_plus[i])),
                );
            }
        }
        if want("ghg_per_capita") {
            let v = inputs.population(a, p).and_then(|pop| {
                divide(e, pop).map(|v| {
                    Value::new("ghg_per_capita", a, &level, p, v)
                        .ratio(e, pop)
                        .n(n)
                        .flag(flag.clone())
                })
            });
            out.push_checked(
                v,
                "ghg_per_capita",
                a,
                p,
                "no population for this area and period in an `areas` source",
            );
        }
        if let Some(p) = p {
            series.entry(a.clone()).or_default().push((p, e, flag));
        }
    }
    if want("ghg_change_vs_base") {
        for (a, years) in series {
            let base_year = inputs
                .pipeline
                .indicators
                .base_year
                .or_else(|| years.iter().map(|(y, _, _)| *y).min());
            let Some(base_year) = base_year else { continue };
            let Some((_, base, base_flag)) =
                years.iter().find(|(y, _, _)| *y == base_year).cloned()
            else {
                out.push_checked(
                    None,
                    "ghg_change_vs_base",
                    &a,
                    Some(base_year),
                    "the inventory has no value for the base year in this area",
                );
                continue;
            };
            let level = inputs.level(&a, "city");
            for (y, e, flag) in years {
                let v = divide(100.0 * (e - base), base)
                    .filter(|_| base > 0.0)
                    .map(|v| {
                        Value::new("ghg_change_vs_base", &a, &level, Some(y), v)
                            .ratio(e - base, base)
                            .flag(flag.or_else(|| base_flag.clone()))
                    });
                out.push_checked(
                    v,
                    "ghg_change_vs_base",
                    &a,
                    Some(y),
                    "base-year emissions are not positive",
                );
            }
        }
    }
    Ok(())
}

fn avoided(inputs: &Inputs, want: &dyn Fn(&str) -> bool, out: &mut Output) -> PolarsResult<()> {
    let frames = collect_all(vec![inputs
        .projects
        .areas
        .clone()
        .lazy()
        .group_by([col("area"), col("period")])
        .agg([
            sum_of(col("co2e_avoided_t")).alias("avoided"),
            sum_of(col("amount").filter(col("co2e_avoided_t").gt(lit(0.0)))).alias("amount"),
            // Projects that report tonnes, zero included.
            col("co2e_avoided_t").is_not_null().sum().alias("n"),
        ])
        .sort(["area", "period"], SortMultipleOptions::default())])?;
    let df = &frames[0];
    let area = strings(df, "area")?;
    let period = ints(df, "period")?;
    let t = floats(df, "avoided")?;
    let amount = floats(df, "amount")?;
    let n = counts(df, "n")?;
    for i in 0..df.height() {
        let Some(a) = &area[i] else { continue };
        let (p, t, m) = (period[i], t[i].unwrap_or(0.0), amount[i].unwrap_or(0.0));
        let level = inputs.level(a, "city");
        if n[i] == 0 {
            continue;
        }
        if want("co2e_avoided") {
            out.values
                .push(Value::new("co2e_avoided", a, &level, p, t).n(n[i]));
        }
        if want("cost_per_tco2e_avoided") {
            let v = divide(m, t).map(|v| {
                Value::new("cost_per_tco2e_avoided", a, &level, p, v)
                    .ratio(m, t)
                    .n(n[i])
            });
            out.push_checked(
                v,
                "cost_per_tco2e_avoided",
                a,
                p,
                "the projects here report zero tonnes avoided",
            );
        }
    }
    Ok(())
}

fn green_area(inputs: &Inputs, out: &mut Output) -> PolarsResult<()> {
    for table in inputs.of(SourceKind::Areas) {
        let df = &table.frame;
        if !df.schema().contains("green_space_m2") {
            continue;
        }
        let area = strings(df, "area")?;
        let period = ints(df, "period")?;
        let green = floats(df, "green_space_m2")?;
        for i in 0..df.height() {
            let (Some(a), Some(m2)) = (&area[i], green[i]) else {
                continue;
            };
            let p = period[i];
            let ha = m2 / 10_000.0;
            let v = inputs.population(a, p).and_then(|pop| {
                divide(ha * 100_000.0, pop).map(|v| {
                    Value::new("green_area_per_100k", a, &inputs.level(a, "city"), p, v)
                        .ratio(ha, pop)
                })
            });
            out.push_checked(
                v,
                "green_area_per_100k",
                a,
                p,
                "no population for this area",
            );
        }
    }
    Ok(())
}

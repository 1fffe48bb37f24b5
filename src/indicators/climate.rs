//! The climate family: city GHG inventories at GPC BASIC and BASIC+ level, per inhabitant and
//! against a base year; tonnes avoided by projects and what they cost; green area (ISO 37120).
//!
//! GPC BASIC covers scopes 1 and 2 of stationary energy and transportation and scopes 1 and 3
//! of waste. BASIC+ adds IPPU and AFOLU (scope 1) and scope 3 of stationary energy and
//! transportation. An inventory row without a sector or scope cannot be placed, so it counts in
//! full at both levels (the documentation says so).

use std::collections::BTreeMap;

use polars::prelude::*;

use super::spending::projects_lazy;
use super::{collect_all, counts, divide, floats, ints, strings, Inputs, Output, Value};
use crate::config::SourceKind;

fn sector_is(names: &[&str]) -> Expr {
    names
        .iter()
        .map(|n| col("sector").eq(lit(*n)))
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(false))
}

fn scope_is(scopes: &[i32]) -> Expr {
    scopes
        .iter()
        .map(|s| col("scope").eq(lit(*s)))
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(false))
}

/// Whether a row counts at GPC BASIC level.
fn basic(has_sector: bool, has_scope: bool) -> Expr {
    match (has_sector, has_scope) {
        (true, true) => col("sector")
            .is_null()
            .or(col("scope").is_null())
            .or(sector_is(&["stationary_energy", "transportation"]).and(scope_is(&[1, 2])))
            .or(sector_is(&["waste"]).and(scope_is(&[1, 3]))),
        // Without scopes, the sectors BASIC covers count in full.
        (true, false) => {
            col("sector")
                .is_null()
                .or(sector_is(&["stationary_energy", "transportation", "waste"]))
        }
        (false, true) => scope_is(&[1, 2]).or(col("scope").is_null()),
        (false, false) => lit(true),
    }
}

/// Whether a row counts at GPC BASIC+ level.
fn basic_plus(has_sector: bool, has_scope: bool) -> Expr {
    match (has_sector, has_scope) {
        (true, true) => basic(true, true)
            .or(sector_is(&["ippu", "afolu"]).and(scope_is(&[1])))
            .or(sector_is(&["stationary_energy", "transportation"]).and(scope_is(&[3]))),
        (true, false) => lit(true),
        (false, true) => lit(true),
        (false, false) => lit(true),
    }
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
        let lf = table.frame.clone().lazy().with_columns([
            basic(has_sector, has_scope).alias("basic"),
            basic_plus(has_sector, has_scope).alias("basic_plus"),
        ]);
        let mut plans = vec![lf
            .clone()
            .group_by([col("area"), col("period")])
            .agg([
                col("tco2e").filter(col("basic")).sum().alias("basic"),
                col("tco2e")
                    .filter(col("basic_plus"))
                    .sum()
                    .alias("basic_plus"),
                col("basic").sum().alias("n_basic"),
                col("basic_plus").sum().alias("n_basic_plus"),
            ])
            .sort(["area", "period"], SortMultipleOptions::default())];
        if has_sector {
            plans.push(
                lf.filter(col("basic").and(col("sector").is_not_null()))
                    .group_by([col("area"), col("period"), col("sector")])
                    .agg([col("tco2e").sum().alias("tco2e"), len().alias("n")])
                    .sort(["area", "period", "sector"], SortMultipleOptions::default()),
            );
        }
        let frames = collect_all(plans)?;
        inventory(inputs, &frames[0], &want, &mut out)?;
        if let Some(by_sector) = frames.get(1) {
            if want("ghg_total") {
                let area = strings(by_sector, "area")?;
                let period = ints(by_sector, "period")?;
                let sector = strings(by_sector, "sector")?;
                let t = floats(by_sector, "tco2e")?;
                let n = counts(by_sector, "n")?;
                for i in 0..by_sector.height() {
                    if let (Some(a), Some(s), Some(v)) = (&area[i], &sector[i], t[i]) {
                        out.values.push(
                            Value::new("ghg_total", a, &inputs.level(a, "city"), period[i], v)
                                .breakdown(Some(format!("sector={s}")))
                                .n(n[i]),
                        );
                    }
                }
            }
        }
    }
    for table in inputs.of(SourceKind::Projects) {
        if table.frame.schema().contains("co2e_avoided_t") {
            avoided(inputs, table, &want, &mut out)?;
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
    let plus = floats(df, "basic_plus")?;
    let n_basic = counts(df, "n_basic")?;
    let n_plus = counts(df, "n_basic_plus")?;
    // Base year per area: the pipeline's, or the area's first year in the source.
    let mut series: BTreeMap<String, Vec<(i32, f64)>> = BTreeMap::new();
    for i in 0..df.height() {
        let (Some(a), Some(e)) = (&area[i], basic[i]) else {
            continue;
        };
        let p = period[i];
        let level = inputs.level(a, "city");
        if want("ghg_total") {
            out.values
                .push(Value::new("ghg_total", a, &level, p, e).n(n_basic[i]));
        }
        if want("ghg_total_basic_plus") {
            if let Some(e) = plus[i] {
                out.values
                    .push(Value::new("ghg_total_basic_plus", a, &level, p, e).n(n_plus[i]));
            }
        }
        if want("ghg_per_capita") {
            let v = inputs.population(a, p).and_then(|pop| {
                divide(e, pop).map(|v| {
                    Value::new("ghg_per_capita", a, &level, p, v)
                        .ratio(e, pop)
                        .n(n_basic[i])
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
            series.entry(a.clone()).or_default().push((p, e));
        }
    }
    if want("ghg_change_vs_base") {
        for (a, years) in series {
            let base_year = inputs
                .pipeline
                .indicators
                .base_year
                .or_else(|| years.iter().map(|(y, _)| *y).min());
            let Some(base_year) = base_year else { continue };
            let Some(&(_, base)) = years.iter().find(|(y, _)| *y == base_year) else {
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
            for (y, e) in years {
                let v = divide(100.0 * (e - base), base)
                    .filter(|_| base > 0.0)
                    .map(|v| {
                        Value::new("ghg_change_vs_base", &a, &level, Some(y), v)
                            .ratio(e - base, base)
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

fn avoided(
    inputs: &Inputs,
    table: &crate::contracts::Table,
    want: &dyn Fn(&str) -> bool,
    out: &mut Output,
) -> PolarsResult<()> {
    let frames = collect_all(vec![projects_lazy(table)
        .group_by([col("area"), col("period")])
        .agg([
            col("co2e_avoided_t").sum().alias("avoided"),
            col("amount")
                .filter(col("co2e_avoided_t").gt(lit(0.0)))
                .sum()
                .alias("amount"),
            col("co2e_avoided_t").gt(lit(0.0)).sum().alias("n"),
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
            out.push_checked(v, "cost_per_tco2e_avoided", a, p, "no tonnes avoided here");
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

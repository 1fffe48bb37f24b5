//! The spending family: how much money went where, per inhabitant and per beneficiary, how it
//! was financed, and how much of the city's purchasing went to social enterprises.
//!
//! A project with several funders appears in several rows (one per funding source) with the
//! same id. Amounts add up across its rows; beneficiaries and tonnes avoided belong to the
//! project, so the largest value stated on any of its rows counts once.

use std::collections::HashMap;

use polars::prelude::*;

use super::{collect_all, counts, divide, floats, ints, strings, Inputs, Output, Value};
use crate::config::SourceKind;
use crate::contracts::{Table, FUNDING_SOURCES};

/// Non-public money over public money.
const PUBLIC: [&str; 2] = ["public", "eu_fund"];
const PRIVATE: [&str; 4] = [
    "crowdfunding",
    "impact_investment",
    "philanthropy",
    "private",
];

/// One project, its rows merged.
pub fn projects_lazy(table: &Table) -> LazyFrame {
    let schema = table.frame.schema();
    let mut aggs = vec![
        col("area").first().alias("area"),
        col("period").min().alias("period"),
        col("amount").sum().alias("amount"),
    ];
    for optional in ["beneficiaries", "co2e_avoided_t"] {
        if schema.contains(optional) {
            aggs.push(col(optional).max().alias(optional));
        }
    }
    table
        .frame
        .clone()
        .lazy()
        .group_by_stable([col("id")])
        .agg(aggs)
}

pub fn compute(inputs: &Inputs) -> PolarsResult<Output> {
    let wanted = &inputs.pipeline.indicators.spending;
    let want = |id: &str| wanted.iter().any(|w| w == id);
    let mut out = Output::default();
    if wanted.is_empty() {
        return Ok(out);
    }
    for table in inputs.of(SourceKind::Projects) {
        projects(inputs, table, &want, &mut out)?;
    }
    if want("social_procurement_share") {
        for table in inputs.of(SourceKind::Procurement) {
            procurement(inputs, table, &mut out)?;
        }
    }
    Ok(out)
}

fn projects(
    inputs: &Inputs,
    table: &Table,
    want: &dyn Fn(&str) -> bool,
    out: &mut Output,
) -> PolarsResult<()> {
    let schema = table.frame.schema();
    let has = |c: &str| schema.contains(c);
    let keys = [col("area"), col("period")];

    // Per area and period, over projects.
    let mut per_project = vec![col("amount").sum().alias("spend"), len().alias("n")];
    if has("beneficiaries") {
        per_project.push(col("beneficiaries").sum().alias("beneficiaries"));
        per_project.push(
            col("amount")
                .filter(col("beneficiaries").gt(lit(0.0)))
                .sum()
                .alias("amount_with_beneficiaries"),
        );
        per_project.push(
            col("beneficiaries")
                .gt(lit(0.0))
                .sum()
                .alias("n_with_beneficiaries"),
        );
    }
    let area_totals = projects_lazy(table)
        .group_by(keys.clone())
        .agg(per_project)
        .sort(["area", "period"], SortMultipleOptions::default());

    // Per area and period, over funding rows.
    let mut plans = vec![area_totals];
    if has("funding_source") {
        let mut aggs: Vec<Expr> = FUNDING_SOURCES
            .iter()
            .map(|s| {
                col("amount")
                    .filter(col("funding_source").eq(lit(*s)))
                    .sum()
                    .alias(*s)
            })
            .collect();
        aggs.push(
            col("amount")
                .filter(col("funding_source").is_not_null())
                .sum()
                .alias("known"),
        );
        aggs.push(col("funding_source").is_not_null().sum().alias("n_known"));
        plans.push(
            table
                .frame
                .clone()
                .lazy()
                .group_by(keys)
                .agg(aggs)
                .sort(["area", "period"], SortMultipleOptions::default()),
        );
    }
    let frames = collect_all(plans)?;

    let totals = &frames[0];
    let area = strings(totals, "area")?;
    let period = ints(totals, "period")?;
    let spend = floats(totals, "spend")?;
    let n = counts(totals, "n")?;
    let ben = if has("beneficiaries") {
        Some((
            floats(totals, "beneficiaries")?,
            floats(totals, "amount_with_beneficiaries")?,
            counts(totals, "n_with_beneficiaries")?,
        ))
    } else {
        None
    };

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
        if let (true, Some((b, amount_b, n_b))) = (want("cost_per_beneficiary"), &ben) {
            let (b, amount_b) = (b[i].unwrap_or(0.0), amount_b[i].unwrap_or(0.0));
            let v = divide(amount_b, b).map(|v| {
                Value::new("cost_per_beneficiary", a, &level, p, v)
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
    }

    if let Some(fund) = frames.get(1) {
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
    }
    Ok(())
}

fn procurement(inputs: &Inputs, table: &Table, out: &mut Output) -> PolarsResult<()> {
    let schema = table.frame.schema();
    if !schema.contains("supplier_type") {
        out.skipped.push(super::Skipped {
            indicator: "social_procurement_share".into(),
            area: "ALL".into(),
            period: None,
            reason: format!("source `{}` has no supplier_type column", table.source),
        });
        return Ok(());
    }
    // The buyer's area where the source gives one, else the buyer itself.
    let area = if schema.contains("area") {
        when(col("area").is_not_null())
            .then(col("area"))
            .otherwise(col("buyer"))
    } else {
        col("buyer")
    };
    let frames = collect_all(vec![table
        .frame
        .clone()
        .lazy()
        .with_column(area.alias("area_key"))
        .group_by([col("area_key"), col("period")])
        .agg([
            col("amount").sum().alias("total"),
            col("amount")
                .filter(col("supplier_type").eq(lit("social_enterprise")))
                .sum()
                .alias("social"),
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
        let (t, s) = (total[i].unwrap_or(0.0), social[i].unwrap_or(0.0));
        let v = divide(100.0 * s, t).map(|v| {
            Value::new(
                "social_procurement_share",
                a,
                &inputs.level(a, "city"),
                period[i],
                v,
            )
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

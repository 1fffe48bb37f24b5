//! Labour-market rates from city statistics: published rates pass through with their flags,
//! counts become rates with their numerator and denominator kept.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::indicators::{divide, floats, ints, opt_strings, strings, Inputs, Output, Value};

pub fn city_stats(
    inputs: &Inputs,
    df: &DataFrame,
    wanted: &[String],
    out: &mut Output,
) -> PolarsResult<()> {
    let area = strings(df, "area")?;
    let period = ints(df, "period")?;
    let variable = strings(df, "variable")?;
    let value = floats(df, "value")?;
    let flag = opt_strings(df, "flag")?;
    // (area, period) → variable → (value, flag)
    type Cell = (f64, Option<String>);
    let mut cells: BTreeMap<(String, Option<i32>), BTreeMap<String, Cell>> = BTreeMap::new();
    for i in 0..df.height() {
        let (Some(a), Some(var), Some(v)) = (&area[i], &variable[i], value[i]) else {
            continue;
        };
        let f = flag
            .as_ref()
            .and_then(|f| f[i].clone())
            .filter(|f| !f.trim().is_empty());
        cells
            .entry((a.clone(), period[i]))
            .or_default()
            .insert(var.clone(), (v, f));
    }
    let want = |id: &str| wanted.iter().any(|w| w == id);
    let pipeline = inputs.pipeline;
    for ((a, p), vars) in &cells {
        let level = inputs.level(a, "city");
        let flags = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| vars.get(*n).and_then(|c| c.1.clone()))
        };
        let get = |n: &str| vars.get(n).map(|c| c.0);
        // A rate and the counts behind it: unemployed / (employed + unemployed) unless the
        // source gives the labour force itself.
        let counted = |num: &str, employed: &str, force: &str| -> Option<(f64, f64)> {
            let n = get(num)?;
            let d = get(force).or_else(|| get(employed).map(|e| e + n))?;
            Some((n, d))
        };
        // (rate, its counts where the source has them, the variables whose flags it carries)
        type Rate<'a> = (&'a str, Option<(f64, f64)>, Vec<&'a str>);
        let rates: [Rate; 4] = [
            (
                "unemployment_rate",
                counted("unemployed", "employed", "labour_force"),
                vec!["unemployed", "employed", "labour_force"],
            ),
            (
                "youth_unemployment_rate",
                counted("youth_unemployed", "youth_employed", "youth_labour_force"),
                vec!["youth_unemployed", "youth_employed", "youth_labour_force"],
            ),
            (
                "long_term_unemployment_rate",
                get("long_term_unemployed").zip(
                    get("labour_force").or_else(|| Some(get("employed")? + get("unemployed")?)),
                ),
                vec![
                    "long_term_unemployed",
                    "labour_force",
                    "employed",
                    "unemployed",
                ],
            ),
            (
                "neet_rate",
                get("neet").zip(get("population_15_29")),
                vec!["neet", "population_15_29"],
            ),
        ];
        for (id, counts, parts) in rates {
            if !want(id) {
                continue;
            }
            if let Some((v, f)) = vars.get(id) {
                // Published rates pass through with the source's flag.
                out.values
                    .push(Value::new(id, a, &level, *p, *v).flag(f.clone()));
            } else if let Some((num, den)) = counts {
                let v = divide(100.0 * num, den).map(|v| {
                    Value::new(id, a, &level, *p, v)
                        .ratio(num, den)
                        .flag(flags(&parts))
                });
                out.push_checked(v, id, a, *p, "the labour force (denominator) is zero");
            }
        }
        // Series the pipeline declares for its evaluation (`[evaluation.series]`) pass
        // through under their own id, with the source's flag.
        for (id, (v, f)) in vars {
            if pipeline.declares(id) {
                out.values
                    .push(Value::new(id, a, &level, *p, *v).flag(f.clone()));
            }
        }
    }
    Ok(())
}

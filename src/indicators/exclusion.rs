//! The exclusion family: poverty and inequality from person-level income microdata (EU-SILC
//! style), and labour-market rates published by city statistics.
//!
//! The at-risk-of-poverty threshold is national: one per country and period, from the whole
//! population of the source in that country (the whole source when it has no `country`
//! column), and every breakdown (area, sex, age group) is measured against it. Gini and
//! S80/S20 describe the distribution inside each group.

use std::collections::BTreeMap;

use polars::prelude::*;
use rayon::prelude::*;

use super::stats::Distribution;
use super::{divide, floats, ints, opt_floats, opt_strings, strings, Inputs, Output, Value};
use crate::config::{AgeGroup, SourceKind};

/// Eurostat publishes values from fewer records with a flag rather than dropping them.
pub const MIN_RECORDS: usize = 20;

/// One person record.
struct Person {
    income: f64,
    weight: f64,
    area: Option<String>,
    sex: Option<String>,
    age: Option<f64>,
}

/// The population a value describes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Group {
    area: Option<String>,
    /// `key=value` pairs, keys sorted.
    breakdown: Option<String>,
}

/// The groups a person belongs to under one breakdown (several when age groups overlap).
fn groups_of(p: &Person, keys: &[String], ages: &[AgeGroup]) -> Vec<Group> {
    let mut out = vec![(None::<String>, Vec::<String>::new())];
    for key in keys {
        let labels: Vec<String> = match key.as_str() {
            "area" => p.area.iter().cloned().collect(),
            "sex" => p.sex.iter().map(|s| format!("sex={s}")).collect(),
            "age_group" => match p.age {
                Some(age) => ages
                    .iter()
                    .filter(|g| g.contains(age))
                    .map(|g| format!("age={}", g.label()))
                    .collect(),
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
        // A person without the key's value is in no group of this breakdown.
        let mut next = Vec::new();
        for (area, parts) in &out {
            for label in &labels {
                if key == "area" {
                    next.push((Some(label.clone()), parts.clone()));
                } else {
                    let mut parts = parts.clone();
                    parts.push(label.clone());
                    next.push((area.clone(), parts));
                }
            }
        }
        out = next;
    }
    out.into_iter()
        .map(|(area, mut parts)| {
            parts.sort();
            Group {
                area,
                breakdown: (!parts.is_empty()).then(|| parts.join(";")),
            }
        })
        .collect()
}

pub fn compute(inputs: &Inputs) -> PolarsResult<Output> {
    let wanted = &inputs.pipeline.indicators.exclusion;
    let mut out = Output::default();
    if wanted.is_empty() {
        return Ok(out);
    }
    for table in inputs.of(SourceKind::Microdata) {
        microdata(inputs, &table.frame, wanted, &mut out)?;
    }
    for table in inputs.of(SourceKind::CityStats) {
        city_stats(inputs, &table.frame, wanted, &mut out)?;
    }
    Ok(out)
}

fn microdata(
    inputs: &Inputs,
    df: &DataFrame,
    wanted: &[String],
    out: &mut Output,
) -> PolarsResult<()> {
    let income = floats(df, "income")?;
    let weight = floats(df, "weight")?;
    let period = ints(df, "period")?;
    let area = opt_strings(df, "area")?;
    let sex = opt_strings(df, "sex")?;
    let age = opt_floats(df, "age")?;
    let country = opt_strings(df, "country")?;
    let mut by_population: BTreeMap<(Option<String>, Option<i32>), Vec<Person>> = BTreeMap::new();
    for i in 0..df.height() {
        let (Some(income), Some(weight)) = (income[i], weight[i]) else {
            continue;
        };
        let c = country.as_ref().and_then(|c| c[i].clone());
        by_population
            .entry((c, period[i]))
            .or_default()
            .push(Person {
                income,
                weight,
                area: area.as_ref().and_then(|a| a[i].clone()),
                sex: sex.as_ref().and_then(|s| s[i].clone()),
                age: age.as_ref().and_then(|a| a[i]),
            });
    }
    let selection = &inputs.pipeline.indicators;
    let want = |id: &str| wanted.iter().any(|w| w == id);

    for ((country, period), persons) in by_population {
        let national = Distribution::new(persons.iter().map(|p| (p.income, p.weight)).collect());
        let Some(median) = national.median() else {
            continue;
        };
        let arpt = 0.6 * median;
        let (whole, whole_level) = match &country {
            Some(c) => (c.as_str(), "country"),
            None => ("ALL", "all"),
        };
        if want("arpt") {
            out.values.push(
                Value::new("arpt", whole, whole_level, period, arpt)
                    .n(national.len())
                    .flag(reliability(national.len())),
            );
        }
        // Every population: the whole source, then each group of each breakdown.
        let mut groups: BTreeMap<Group, Vec<(f64, f64)>> = BTreeMap::new();
        groups.insert(
            Group {
                area: None,
                breakdown: None,
            },
            persons.iter().map(|p| (p.income, p.weight)).collect(),
        );
        for keys in &selection.breakdowns {
            for p in &persons {
                for g in groups_of(p, keys, &selection.age_groups) {
                    groups.entry(g).or_default().push((p.income, p.weight));
                }
            }
        }
        let values: Vec<Vec<Value>> = groups
            .into_par_iter()
            .map(|(group, pairs)| {
                let whole = (whole, whole_level);
                group_values(inputs, &group, whole, period, median, pairs, &want)
            })
            .collect();
        out.values.extend(values.into_iter().flatten());
    }
    Ok(())
}

fn reliability(n: usize) -> Option<String> {
    (n < MIN_RECORDS).then(|| "low_reliability".to_string())
}

fn group_values(
    inputs: &Inputs,
    group: &Group,
    (whole, whole_level): (&str, &str),
    period: Option<i32>,
    national_median: f64,
    pairs: Vec<(f64, f64)>,
    want: &(dyn Fn(&str) -> bool + Sync),
) -> Vec<Value> {
    let d = Distribution::new(pairs);
    let n = d.len();
    let area = group.area.as_deref().unwrap_or(whole);
    let level = match &group.area {
        Some(a) => inputs.level(a, "region"),
        None => whole_level.to_string(),
    };
    let flag = reliability(n);
    let base = |id: &str, value: f64| {
        Value::new(id, area, &level, period, value)
            .breakdown(group.breakdown.clone())
            .n(n)
            .flag(flag.clone())
    };
    let mut values = Vec::new();
    let total = d.total_weight();
    for (id, share) in [
        ("arpr", 0.6),
        ("arpr40", 0.4),
        ("arpr50", 0.5),
        ("arpr70", 0.7),
    ] {
        if want(id) {
            let threshold = share * national_median;
            let below = d.weight_below(threshold);
            if let Some(rate) = divide(100.0 * below, total) {
                values.push(base(id, rate).ratio(below, total));
            }
        }
    }
    if want("qsr") {
        if let Some(q) = d.qsr() {
            values.push(base("qsr", q));
        }
    }
    if want("gini") {
        if let Some(g) = d.gini() {
            values.push(base("gini", g));
        }
    }
    if want("rmpg") {
        if let Some(g) = d.rmpg(0.6 * national_median) {
            values.push(base("rmpg", g));
        }
    }
    values
}

fn city_stats(
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
    for i in 0..df.height() {
        let (Some(a), Some(var), Some(v)) = (&area[i], &variable[i], value[i]) else {
            continue;
        };
        if !wanted.iter().any(|w| w == var) {
            continue;
        }
        out.values.push(
            Value::new(var, a, &inputs.level(a, "city"), period[i], v).flag(
                flag.as_ref()
                    .and_then(|f| f[i].clone())
                    .filter(|f| !f.trim().is_empty()),
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(area: &str, sex: &str, age: f64) -> Person {
        Person {
            income: 1.0,
            weight: 1.0,
            area: Some(area.into()),
            sex: Some(sex.into()),
            age: Some(age),
        }
    }

    #[test]
    fn breakdown_labels_are_sorted_key_value_pairs() {
        let ages = vec![
            AgeGroup {
                min: 16,
                max: Some(24),
            },
            AgeGroup {
                min: 18,
                max: Some(64),
            },
        ];
        let p = person("Tyrol", "female", 20.0);
        let keys = vec!["age_group".to_string(), "sex".to_string()];
        let mut g = groups_of(&p, &keys, &ages);
        g.sort();
        assert_eq!(
            g,
            vec![
                Group {
                    area: None,
                    breakdown: Some("age=16-24;sex=female".into())
                },
                Group {
                    area: None,
                    breakdown: Some("age=18-64;sex=female".into())
                },
            ]
        );
        let g = groups_of(&p, &["area".to_string(), "sex".to_string()], &ages);
        assert_eq!(
            g,
            vec![Group {
                area: Some("Tyrol".into()),
                breakdown: Some("sex=female".into())
            }]
        );
        // Age 70 is in neither band: no group.
        assert!(groups_of(
            &person("x", "male", 70.0),
            &["age_group".to_string()],
            &ages
        )
        .is_empty());
    }
}

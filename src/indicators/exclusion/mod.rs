//! The exclusion family: poverty, inequality, deprivation and work intensity from person-level
//! income microdata (EU-SILC style), and labour-market rates from city statistics.
//!
//! The at-risk-of-poverty threshold is national: one per country and period, from the whole
//! population of the source in that country (the whole source when it has no `country`
//! column), and every breakdown (area, sex, age group) is measured against it. Gini and
//! S80/S20 describe the distribution inside each group.
//!
//! Every microdata value gets a 95 % percentile bootstrap interval: households are drawn with
//! replacement within each country and period, the threshold is re-estimated in each
//! replicate, and replicates run in parallel on rayon, each with its own seeded generator.
//!
//! - `persons`: the contract's frame as income-sorted columns per country and period.
//! - `order`: a population sorted by income, as a bucket sort side by side.
//! - `groups`: the groups of the breakdowns, as member positions in those columns.
//! - `microdata`: every group's values and the bootstrap over households.
//! - `labour`: rates from city statistics.

mod groups;
mod labour;
mod microdata;
mod order;
mod persons;

use std::collections::HashMap;

use polars::prelude::*;

use super::{Inputs, Output, Value};
use crate::catalogue::CHANGE;
use crate::config::SourceKind;

/// Eurostat's EU-SILC publication rule (Commission Regulation (EC) No 1982/2003): a value from
/// fewer than 20 sample observations is not published.
pub const MIN_RECORDS: usize = 20;
/// ... and a value from 20 to 49 observations is published with the flag `low_reliability`.
pub const RELIABLE_RECORDS: usize = 50;
/// The indicators computed from microdata, in the order of a group's value slots.
const MICRO: [&str; 11] = [
    "arpt", "arpr", "arpr40", "arpr50", "arpr70", "qsr", "gini", "rmpg", "smsd", "lwi", "arope",
];
const POVERTY_LINES: [(&str, f64); 4] = [
    ("arpr", 0.6),
    ("arpr40", 0.4),
    ("arpr50", 0.5),
    ("arpr70", 0.7),
];

pub fn compute(inputs: &Inputs) -> PolarsResult<Output> {
    let wanted = &inputs.pipeline.indicators.exclusion;
    let mut out = Output::default();
    let declared = inputs
        .pipeline
        .evaluation
        .as_ref()
        .is_some_and(|e| !e.series.is_empty())
        || inputs.pipeline.index.is_some();
    if wanted.is_empty() && !declared {
        return Ok(out);
    }
    for table in inputs.of(SourceKind::Microdata) {
        microdata::microdata(inputs, &table.frame, wanted, &mut out)?;
    }
    for table in inputs.of(SourceKind::CityStats) {
        labour::city_stats(inputs, &table.frame, wanted, &mut out)?;
    }
    let changes = year_on_year(&out.values);
    out.values.extend(changes);
    Ok(out)
}

/// OECD-modified equivalence scale: 1 for the first member aged 14 or over, 0.5 for each
/// further one, 0.3 for each member under 14. A household of children only (no member aged
/// 14 or over) counts its first member as 1.
pub fn oecd_modified_scale(ages: &[f64]) -> f64 {
    let adults = ages.iter().filter(|a| **a >= 14.0).count();
    persons::scale(adults, ages.len() - adults)
}

/// Eurostat's flag for a value that is published: `low_reliability` from fewer than 50 records,
/// or when the records' weights add up to less than half the group's known population.
fn reliability(n: usize, weights: f64, population: Option<f64>) -> Option<String> {
    let thin = population.is_some_and(|p| p > 0.0 && weights < 0.5 * p);
    (n < RELIABLE_RECORDS || thin).then(|| "low_reliability".to_string())
}

/// An area with its breakdown, for a note about one group.
fn label(area: &str, breakdown: Option<&str>) -> String {
    match breakdown {
        Some(b) => format!("{area} ({b})"),
        None => area.to_string(),
    }
}

/// The change on the previous year of every exclusion value, for the same area and breakdown.
fn year_on_year(values: &[Value]) -> Vec<Value> {
    type Key<'a> = (&'a str, &'a str, Option<i32>, Option<&'a str>);
    let index: HashMap<Key, &Value> = values
        .iter()
        .map(|v| {
            (
                (
                    v.indicator.as_str(),
                    v.area.as_str(),
                    v.period,
                    v.breakdown.as_deref(),
                ),
                v,
            )
        })
        .collect();
    let mut out = Vec::new();
    for v in values {
        let Some(p) = v.period else { continue };
        // Declared series have no derived change in the catalogue.
        if crate::catalogue::get(&format!("{}{CHANGE}", v.indicator)).is_none() {
            continue;
        }
        let key = (
            v.indicator.as_str(),
            v.area.as_str(),
            Some(p - 1),
            v.breakdown.as_deref(),
        );
        if let Some(prev) = index.get(&key) {
            let flag = v.flag.clone().or_else(|| prev.flag.clone());
            out.push(
                Value::new(
                    &format!("{}{CHANGE}", v.indicator),
                    &v.area,
                    &v.level,
                    Some(p),
                    v.value - prev.value,
                )
                .breakdown(v.breakdown.clone())
                .ratio(v.value, prev.value)
                .flag(flag),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::groups::{Group, Plan};
    use super::microdata::values;
    use super::persons::{self, Needs};
    use super::*;
    use crate::config::AgeGroup;

    fn frame(columns: Vec<Column>) -> DataFrame {
        let n = columns[0].len();
        let mut columns = columns;
        columns.push(Column::new("period".into(), vec![Some(2020i32); n]));
        DataFrame::new(n, columns).unwrap()
    }

    fn floats(name: &str, v: &[f64]) -> Column {
        Column::new(name.into(), v)
    }

    fn texts(name: &str, v: &[&str]) -> Column {
        Column::new(name.into(), v)
    }

    const NO_CLUSTERS: Needs = Needs {
        clusters: false,
        ..Needs::ALL
    };

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
        // A woman of 20 in Tyrol (both age bands), a man of 70 (neither).
        let df = frame(vec![
            floats("income", &[1.0, 2.0]),
            floats("weight", &[1.0, 1.0]),
            texts("area", &["Tyrol", "x"]),
            texts("sex", &["female", "male"]),
            floats("age", &[20.0, 70.0]),
        ]);
        let data = persons::read(&df, NO_CLUSTERS).unwrap();
        let p = &data.populations[0];
        let b = |keys: &[&str]| vec![keys.iter().map(|k| k.to_string()).collect::<Vec<_>>()];
        let plan = Plan::new(p, &data, &b(&["age_group", "sex"]), &ages);
        let group = |area: Option<&str>, breakdown: &str| Group {
            area: area.map(String::from),
            breakdown: Some(breakdown.into()),
        };
        assert_eq!(
            plan.groups[1..],
            [
                group(None, "age=16-24;sex=female"),
                group(None, "age=18-64;sex=female")
            ]
        );
        assert_eq!(plan.members(1), [0]);
        let plan = Plan::new(p, &data, &b(&["area", "sex"]), &ages);
        assert_eq!(
            plan.groups[1..],
            [
                group(Some("Tyrol"), "sex=female"),
                group(Some("x"), "sex=male")
            ]
        );
        // Age 70 is in neither band: no group, only the whole population.
        let plan = Plan::new(p, &data, &b(&["age_group"]), &ages[..1]);
        assert_eq!(plan.groups.len(), 2);
        assert_eq!(plan.members(1), [0]);
    }

    #[test]
    fn groups_of_a_large_population_are_its_members_in_income_order() {
        // More persons than one piece of the layout: three areas, two sexes, an age band
        // that overlaps another, a person now and then without an area or an age.
        let n = 2 * (1 << 18) + 7;
        let ages = vec![
            AgeGroup {
                min: 0,
                max: Some(40),
            },
            AgeGroup { min: 30, max: None },
        ];
        let income: Vec<f64> = (0..n).map(|i| ((i * 7919) % 100_003) as f64).collect();
        let areas = ["", "North", "South", "East"];
        let area: Vec<Option<&str>> = (0..n)
            .map(|i| Some(areas[i % 4]).filter(|a| !a.is_empty()))
            .collect();
        let sex: Vec<&str> = (0..n).map(|i| ["f", "m"][i / 3 % 2]).collect();
        let age: Vec<Option<f64>> = (0..n)
            .map(|i| (i % 11 != 0).then_some((i % 90) as f64))
            .collect();
        let df = frame(vec![
            floats("income", &income),
            floats("weight", &vec![1.0; n]),
            Column::new("area".into(), area),
            texts("sex", &sex),
            Column::new("age".into(), age),
        ]);
        let data = persons::read(&df, NO_CLUSTERS).unwrap();
        let p = &data.populations[0];
        let keys = |k: &[&str]| k.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        let breakdowns = vec![keys(&["area"]), keys(&["sex", "age_group"])];
        let plan = Plan::new(p, &data, &breakdowns, &ages);
        // 3 areas, 2 sexes x 2 age bands.
        assert_eq!(plan.groups.len(), 1 + 3 + 4);
        let code = |c: &Option<Vec<u32>>, k: usize, codes: &persons::Codes| {
            let c = c.as_ref().unwrap()[k];
            (c != persons::NO_CODE).then(|| codes.name(c).to_string())
        };
        for g in 1..plan.groups.len() {
            let group = &plan.groups[g];
            let wanted: Vec<u32> = (0..p.len())
                .filter(|&k| match &group.breakdown {
                    None => code(&p.area, k, &data.areas) == group.area,
                    Some(b) => {
                        let age = p.age.as_ref().unwrap()[k];
                        let band = ages
                            .iter()
                            .find(|a| b.contains(&format!("age={}", a.label())));
                        let sex = code(&p.sex, k, &data.sexes).unwrap();
                        b.contains(&format!("sex={sex}"))
                            && !age.is_nan()
                            && band.is_some_and(|a| a.contains(age))
                    }
                })
                .map(|k| k as u32)
                .collect();
            assert!(!wanted.is_empty());
            assert_eq!(plan.members(g), wanted, "{group:?}");
            let incomes: Vec<f64> = wanted.iter().map(|&k| p.income[k as usize]).collect();
            assert_eq!(plan.incomes(g), incomes, "{group:?}");
            assert!(incomes.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn oecd_modified_scale_by_hand() {
        // Two adults and two children under 14: 1 + 0.5 + 0.3 + 0.3 = 2.1 (Eurostat's own
        // example in the glossary "Equivalised disposable income").
        assert!((oecd_modified_scale(&[40.0, 38.0, 10.0, 6.0]) - 2.1).abs() < 1e-12);
        // A 14-year-old counts as an adult: 1 + 0.5.
        assert!((oecd_modified_scale(&[45.0, 14.0]) - 1.5).abs() < 1e-12);
        assert_eq!(oecd_modified_scale(&[70.0]), 1.0);
        // Children only: the first counts 1.
        assert!((oecd_modified_scale(&[13.0, 9.0]) - 1.3).abs() < 1e-12);
    }

    #[test]
    fn deprivation_work_intensity_and_arope_by_hand() {
        // Ten persons, unit weights, incomes 100..1000 (given in reverse, so the sort is
        // exercised): median 550, threshold 330, so 100, 200 and 300 are at risk of poverty.
        // (income, age, deprivation items, work intensity)
        let rows = [
            (100.0, 30.0, 0.0, 0.5),        // poor only
            (200.0, 30.0, 8.0, 0.5),        // poor and deprived
            (300.0, 70.0, 0.0, 0.0),        // poor; WI not counted over 64
            (400.0, 30.0, 7.0, 0.5),        // deprived (exactly 7 items)
            (500.0, 30.0, 6.0, 0.1),        // very low work intensity
            (600.0, 64.0, 0.0, 0.19),       // very low work intensity (64 is in 0-64)
            (700.0, 30.0, 0.0, 2.4 / 12.0), // 20 % counts (2021: "20 % or less")
            (800.0, 30.0, 0.0, 0.9),
            (900.0, 30.0, 0.0, 0.9),
            (1000.0, 30.0, 0.0, 0.9),
        ];
        let col =
            |f: fn(&(f64, f64, f64, f64)) -> f64| rows.iter().rev().map(f).collect::<Vec<_>>();
        let df = frame(vec![
            floats("income", &col(|r| r.0)),
            floats("weight", &[1.0; 10]),
            floats("age", &col(|r| r.1)),
            floats("deprivation_items", &col(|r| r.2)),
            floats("work_intensity", &col(|r| r.3)),
        ]);
        let data = persons::read(&df, NO_CLUSTERS).unwrap();
        let p = &data.populations[0];
        assert_eq!(p.income[0], 100.0);
        let plan = Plan::new(p, &data, &[], &[]);
        let v = values(p, &plan, &p.weight);
        let get = |id: &str| v[MICRO.iter().position(|m| *m == id).unwrap()].unwrap();
        assert_eq!(get("arpt").0, 330.0);
        assert_eq!(get("arpr").0, 30.0);
        // smsd: 200 (8 items) and 400 (7 items): 2 of 10.
        assert_eq!(get("smsd"), (20.0, Some(2.0), Some(10.0)));
        // lwi: 9 persons aged 0-64; WI <= 0.20 for 500, 600 and 700: 3 of 9.
        assert_eq!(get("lwi"), (300.0 / 9.0, Some(3.0), Some(9.0)));
        // arope: 100, 200, 300 (poor), 400 (deprived), 500, 600, 700 (low WI): 7 of 10, each
        // once.
        assert_eq!(get("arope"), (70.0, Some(7.0), Some(10.0)));
    }

    #[test]
    fn equivalising_divides_household_income_by_the_scale() {
        let df = frame(vec![
            floats(
                "household_income",
                &[42000.0, 42000.0, 15000.0, 42000.0, 42000.0],
            ),
            floats("weight", &[1.0; 5]),
            texts("household", &["h1", "h1", "h2", "h1", "h1"]),
            floats("age", &[40.0, 38.0, 80.0, 10.0, 6.0]),
        ]);
        let data = persons::read(&df, NO_CLUSTERS).unwrap();
        // 42 000 / 2.1 = 20 000 for each member of h1; a single person keeps 15 000.
        let p = &data.populations[0];
        assert_eq!(p.income[0], 15000.0);
        assert!(p.income[1..].iter().all(|x| (x - 20000.0).abs() < 1e-9));
    }

    #[test]
    fn bootstrap_resamples_whole_households() {
        // Households numbered in file order (a = 0, b = 1), carried to the income order.
        let df = frame(vec![
            floats("income", &[2.0, 3.0, 1.0]),
            floats("weight", &[1.0; 3]),
            texts("household", &["a", "b", "a"]),
        ]);
        let data = persons::read(&df, Needs::ALL).unwrap();
        let p = &data.populations[0];
        assert_eq!(p.clusters, 2);
        assert_eq!(p.income, [1.0, 2.0, 3.0]);
        assert_eq!(p.cluster.as_deref(), Some(&[0, 0, 1][..]));
    }

    #[test]
    fn populations_follow_country_and_period() {
        let df = DataFrame::new(
            3,
            vec![
                floats("income", &[1.0, 2.0, 3.0]),
                floats("weight", &[1.0; 3]),
                texts("country", &["SE", "AT", "SE"]),
                Column::new("period".into(), [2021i32, 2020, 2020]),
            ],
        )
        .unwrap();
        let data = persons::read(&df, NO_CLUSTERS).unwrap();
        let keys: Vec<_> = data
            .populations
            .iter()
            .map(|p| (p.country, p.period, p.len()))
            .collect();
        assert_eq!(
            keys,
            [
                (Some("AT"), Some(2020), 1),
                (Some("SE"), Some(2020), 1),
                (Some("SE"), Some(2021), 1)
            ]
        );
    }

    #[test]
    fn changes_on_the_previous_year() {
        let v = vec![
            Value::new("arpr", "X", "city", Some(2020), 15.0),
            Value::new("arpr", "X", "city", Some(2021), 13.5),
            Value::new("arpr", "X", "city", Some(2023), 12.0),
        ];
        let c = year_on_year(&v);
        // 2021 - 2020 = -1.5 points; 2023 has no 2022 to compare with.
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].indicator.as_str(), c[0].period, c[0].value),
            ("arpr_change", Some(2021), -1.5)
        );
    }
}

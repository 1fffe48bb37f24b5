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

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use rayon::prelude::*;

use super::stats::{percentile, Distribution, SplitMix64};
use super::{
    divide, floats, ints, opt_floats, opt_strings, strings, Inputs, Output, Skipped, Value,
};
use crate::catalogue::CHANGE;
use crate::config::{AgeGroup, SourceKind};

/// Eurostat's EU-SILC publication rule (Commission Regulation (EC) No 1982/2003): a value from
/// fewer than 20 sample observations is not published.
pub const MIN_RECORDS: usize = 20;
/// ... and a value from 20 to 49 observations is published with the flag `low_reliability`.
pub const RELIABLE_RECORDS: usize = 50;
/// Severe material and social deprivation: lacking at least 7 of the 13 items.
const SMSD_ITEMS: f64 = 7.0;
/// Very low work intensity, 2021 definition: working-age members worked 20 % or less of their
/// potential, for persons aged 0-64 (before 2021 it was "less than 20 %"). The tolerance keeps
/// a share computed as 2.4 / 12 (0.19999999999999998 or 0.2000000000000001) at 20 %.
const LWI_AT_MOST: f64 = 0.20 + 1e-9;
const LWI_MAX_AGE: f64 = 64.0;

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

/// One person record.
#[derive(Debug, Clone)]
/// Text fields are codes into [`Names`]: ten million persons share a few hundred areas, and
/// a string per person would cost gigabytes.
struct Person {
    income: f64,
    weight: f64,
    household: Option<u32>,
    area: Option<u32>,
    sex: Option<u32>,
    age: Option<f64>,
    deprivation: Option<f64>,
    work_intensity: Option<f64>,
}

/// Interned texts: a code per distinct value.
#[derive(Debug, Default)]
struct Dict {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Dict {
    fn code(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// The dictionaries of one microdata source.
#[derive(Debug, Default)]
struct Names {
    area: Dict,
    sex: Dict,
    household: Dict,
}

/// The population a value describes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Group {
    area: Option<String>,
    /// `key=value` pairs, keys sorted.
    breakdown: Option<String>,
}

/// The groups a person belongs to under one breakdown (several when age groups overlap).
fn groups_of(p: &Person, keys: &[String], ages: &[AgeGroup], names: &Names) -> Vec<Group> {
    let mut out = vec![(None::<String>, Vec::<String>::new())];
    for key in keys {
        let labels: Vec<String> = match key.as_str() {
            "area" => p
                .area
                .iter()
                .map(|a| names.area.name(*a).to_string())
                .collect(),
            "sex" => p
                .sex
                .iter()
                .map(|s| format!("sex={}", names.sex.name(*s)))
                .collect(),
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
        microdata(inputs, &table.frame, wanted, &mut out)?;
    }
    for table in inputs.of(SourceKind::CityStats) {
        city_stats(inputs, &table.frame, wanted, &mut out)?;
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
    let children = ages.len() - adults;
    if adults == 0 {
        1.0 + 0.3 * children.saturating_sub(1) as f64
    } else {
        1.0 + 0.5 * (adults - 1) as f64 + 0.3 * children as f64
    }
}

fn microdata(
    inputs: &Inputs,
    df: &DataFrame,
    wanted: &[String],
    out: &mut Output,
) -> PolarsResult<()> {
    let weight = floats(df, "weight")?;
    let period = ints(df, "period")?;
    let income = opt_floats(df, "income")?;
    let household_income = opt_floats(df, "household_income")?;
    let age = opt_floats(df, "age")?;
    let deprivation = opt_floats(df, "deprivation_items")?;
    let work_intensity = opt_floats(df, "work_intensity")?;
    let atf = |v: &Option<Vec<Option<f64>>>, i: usize| v.as_ref().and_then(|v| v[i]);
    // Text columns are read in place and interned, not copied out as strings.
    let text = |name: &str| -> PolarsResult<Option<&StringChunked>> {
        match df.schema().contains(name) {
            true => Ok(Some(df.column(name)?.as_materialized_series().str()?)),
            false => Ok(None),
        }
    };
    let (household, area, sex, country) = (
        text("household")?,
        text("area")?,
        text("sex")?,
        text("country")?,
    );
    let mut names = Names::default();
    let code = |d: &mut Dict, c: Option<&StringChunked>, i: usize| {
        c.and_then(|c| c.get(i)).map(|s| d.code(s))
    };

    let mut populations: BTreeMap<(Option<String>, Option<i32>), Vec<Person>> = BTreeMap::new();
    for i in 0..df.height() {
        let Some(weight) = weight[i] else { continue };
        // Equivalised income as given, or household income to equivalise below.
        let Some(income) = atf(&income, i).or(atf(&household_income, i)) else {
            continue;
        };
        let person = Person {
            income,
            weight,
            household: code(&mut names.household, household, i),
            area: code(&mut names.area, area, i),
            sex: code(&mut names.sex, sex, i),
            age: atf(&age, i),
            deprivation: atf(&deprivation, i),
            work_intensity: atf(&work_intensity, i),
        };
        let c = country.and_then(|c| c.get(i));
        match populations
            .iter_mut()
            .find(|((k, p), _)| k.as_deref() == c && *p == period[i])
        {
            Some((_, list)) => list.push(person),
            None => {
                populations.insert((c.map(String::from), period[i]), vec![person]);
            }
        }
    }
    let equivalise = income.is_none();
    let has = Has {
        deprivation: deprivation.is_some(),
        work_intensity: work_intensity.is_some() && age.is_some(),
    };
    let selection = &inputs.pipeline.indicators;
    let want: Vec<bool> = MICRO
        .iter()
        .map(|id| wanted.iter().any(|w| w == id))
        .collect();

    for (index, ((country, period), mut persons)) in populations.into_iter().enumerate() {
        if equivalise {
            equivalise_households(&mut persons);
        }
        let (whole, whole_level) = match &country {
            Some(c) => (c.clone(), "country"),
            None => ("ALL".to_string(), "all"),
        };
        let plan = Plan::new(
            &persons,
            &selection.breakdowns,
            &selection.age_groups,
            &names,
        );
        let point = plan.values(
            &persons,
            &persons.iter().map(|p| p.weight).collect::<Vec<_>>(),
            has,
        );

        // Bootstrap over households within this country and period.
        let boot = selection.bootstrap;
        let replicates: Vec<Vec<Option<f64>>> = if boot.replicates > 0 {
            let clusters = clusters(&persons);
            (0..boot.replicates as u64)
                .into_par_iter()
                .map(|r| {
                    let mut rng = SplitMix64::stream(boot.seed, ((index as u64) << 32) | r);
                    let mut times = vec![0u32; clusters.count];
                    for _ in 0..clusters.count {
                        times[rng.below(clusters.count as u64) as usize] += 1;
                    }
                    let w: Vec<f64> = persons
                        .iter()
                        .zip(&clusters.of_person)
                        .map(|(p, c)| p.weight * times[*c] as f64)
                        .collect();
                    plan.values(&persons, &w, has)
                        .into_iter()
                        .map(|v| v.map(|v| v.0))
                        .collect()
                })
                .collect()
        } else {
            Vec::new()
        };

        for (g, group) in plan.groups.iter().enumerate() {
            let n = plan.members[g].len();
            let area = group.area.clone().unwrap_or_else(|| whole.clone());
            let level = match &group.area {
                Some(a) => inputs.level(a, "region"),
                None => whole_level.to_string(),
            };
            // Only a whole area's population is known (not its women or its young).
            let population = match (&group.area, &group.breakdown) {
                (Some(a), None) => inputs.population(a, period),
                _ => None,
            };
            let weights: f64 = plan.members[g].iter().map(|&i| persons[i].weight).sum();
            let flag = reliability(n, weights, population);
            for (k, id) in MICRO.iter().enumerate() {
                let slot = g * MICRO.len() + k;
                let Some((v, num, den)) = point[slot] else {
                    continue;
                };
                if !want[k] || (*id == "arpt" && g != 0) {
                    continue;
                }
                if n < MIN_RECORDS {
                    out.skipped.push(Skipped {
                        indicator: id.to_string(),
                        area: label(&area, group.breakdown.as_deref()),
                        period,
                        reason: format!(
                            "{n} records: Eurostat's EU-SILC rule publishes no value from fewer than {MIN_RECORDS}"
                        ),
                        projects: None,
                    });
                    continue;
                }
                let mut value = Value::new(id, &area, &level, period, v)
                    .breakdown(group.breakdown.clone())
                    .n(n)
                    .flag(flag.clone());
                if let (Some(num), Some(den)) = (num, den) {
                    value = value.ratio(num, den);
                }
                let mut draws: Vec<f64> = replicates.iter().filter_map(|r| r[slot]).collect();
                // An interval needs most replicates to have a value (tiny groups may vanish
                // from a replicate that draws none of their households).
                if !draws.is_empty() && draws.len() * 10 >= replicates.len() * 9 {
                    value.ci_low = percentile(&mut draws, 0.025);
                    value.ci_high = percentile(&mut draws, 0.975);
                }
                out.values.push(value);
            }
        }
    }
    Ok(())
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

/// Which optional components the source carries.
#[derive(Debug, Clone, Copy)]
struct Has {
    deprivation: bool,
    work_intensity: bool,
}

/// Replaces household income with equivalised income for every member.
fn equivalise_households(persons: &mut [Person]) {
    let mut ages: HashMap<u32, Vec<f64>> = HashMap::new();
    for p in persons.iter() {
        if let (Some(h), Some(a)) = (p.household, p.age) {
            ages.entry(h).or_default().push(a);
        }
    }
    for p in persons.iter_mut() {
        let scale = p
            .household
            .as_ref()
            .and_then(|h| ages.get(h))
            .map(|a| oecd_modified_scale(a))
            .unwrap_or(1.0);
        p.income /= scale;
    }
}

/// Households as bootstrap clusters (a person without a household is a cluster of one).
struct Clusters {
    count: usize,
    of_person: Vec<usize>,
}

fn clusters(persons: &[Person]) -> Clusters {
    let mut ids: HashMap<u32, usize> = HashMap::new();
    let mut count = 0;
    let of_person = persons
        .iter()
        .map(|p| match p.household {
            Some(h) => *ids.entry(h).or_insert_with(|| {
                count += 1;
                count - 1
            }),
            None => {
                count += 1;
                count - 1
            }
        })
        .collect();
    Clusters { count, of_person }
}

/// The groups of one population and their members, sorted by income once so that every
/// replicate only re-weights them.
struct Plan {
    /// Group 0 is the whole population.
    groups: Vec<Group>,
    /// Member indices per group, ascending by income (stable).
    members: Vec<Vec<usize>>,
}

/// A value, its numerator and its denominator.
type Slot = Option<(f64, Option<f64>, Option<f64>)>;

impl Plan {
    fn new(
        persons: &[Person],
        breakdowns: &[Vec<String>],
        ages: &[AgeGroup],
        names: &Names,
    ) -> Plan {
        let mut by_income: Vec<usize> = (0..persons.len()).collect();
        by_income.sort_by(|a, b| persons[*a].income.total_cmp(&persons[*b].income));
        let mut index: BTreeMap<Group, Vec<usize>> = BTreeMap::new();
        for &i in &by_income {
            for keys in breakdowns {
                for g in groups_of(&persons[i], keys, ages, names) {
                    index.entry(g).or_default().push(i);
                }
            }
        }
        let mut groups = vec![Group {
            area: None,
            breakdown: None,
        }];
        let mut members = vec![by_income];
        for (g, m) in index {
            groups.push(g);
            members.push(m);
        }
        Plan { groups, members }
    }

    /// Every group's values under the weights `w`, in slots of `MICRO.len()`.
    fn values(&self, persons: &[Person], w: &[f64], has: Has) -> Vec<Slot> {
        let dist = |m: &[usize]| {
            Distribution::from_sorted(
                m.iter().map(|&i| persons[i].income).collect(),
                m.iter().map(|&i| w[i]).collect(),
            )
        };
        let national = dist(&self.members[0]);
        let mut slots = vec![None; self.groups.len() * MICRO.len()];
        let Some(median) = national.median() else {
            return slots;
        };
        let threshold = 0.6 * median;
        for (g, members) in self.members.iter().enumerate() {
            let d = if g == 0 {
                national.clone()
            } else {
                dist(members)
            };
            let total = d.total_weight();
            if total <= 0.0 {
                continue;
            }
            let s = &mut slots[g * MICRO.len()..(g + 1) * MICRO.len()];
            s[0] = Some((threshold, None, None));
            for (k, (_, share)) in POVERTY_LINES.iter().enumerate() {
                let below = d.weight_below(share * median);
                s[1 + k] = divide(100.0 * below, total).map(|v| (v, Some(below), Some(total)));
            }
            s[5] = d.qsr().map(|v| (v, None, None));
            s[6] = d.gini().map(|v| (v, None, None));
            s[7] = d.rmpg(threshold).map(|v| (v, None, None));
            let share = |count: &dyn Fn(&Person) -> Option<bool>| {
                let (mut yes, mut all) = (0.0, 0.0);
                for &i in members {
                    if let Some(b) = count(&persons[i]) {
                        all += w[i];
                        if b {
                            yes += w[i];
                        }
                    }
                }
                divide(100.0 * yes, all).map(|v| (v, Some(yes), Some(all)))
            };
            let deprived = |p: &Person| p.deprivation.map(|d| d >= SMSD_ITEMS);
            let low_work = |p: &Person| match (p.age, p.work_intensity) {
                (Some(a), Some(wi)) if a <= LWI_MAX_AGE => Some(wi <= LWI_AT_MOST),
                _ => None,
            };
            if has.deprivation {
                s[8] = share(&deprived);
            }
            if has.work_intensity {
                s[9] = share(&low_work);
            }
            if has.deprivation && has.work_intensity {
                // Each person once: poor, or deprived, or in a very-low-work-intensity
                // household; an unknown component counts as "no".
                s[10] = share(&|p: &Person| {
                    Some(
                        p.income < threshold
                            || deprived(p) == Some(true)
                            || low_work(p) == Some(true),
                    )
                });
            }
        }
        slots
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

#[cfg(test)]
mod tests {
    use super::*;

    fn person(names: &mut Names, area: &str, sex: &str, age: f64) -> Person {
        Person {
            income: 1.0,
            weight: 1.0,
            household: None,
            area: Some(names.area.code(area)),
            sex: Some(names.sex.code(sex)),
            age: Some(age),
            deprivation: None,
            work_intensity: None,
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
        let mut names = Names::default();
        let p = person(&mut names, "Tyrol", "female", 20.0);
        let keys = vec!["age_group".to_string(), "sex".to_string()];
        let mut g = groups_of(&p, &keys, &ages, &names);
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
        let g = groups_of(&p, &["area".to_string(), "sex".to_string()], &ages, &names);
        assert_eq!(
            g,
            vec![Group {
                area: Some("Tyrol".into()),
                breakdown: Some("sex=female".into())
            }]
        );
        // Age 70 is in neither band: no group.
        let old = person(&mut names, "x", "male", 70.0);
        assert!(groups_of(&old, &["age_group".to_string()], &ages, &names).is_empty());
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

    /// A person of household `household` (the tests' short names are distinct by their bytes).
    fn p(income: f64, household: &str, age: f64, dep: f64, wi: f64) -> Person {
        Person {
            income,
            weight: 1.0,
            household: Some(household.bytes().map(u32::from).sum()),
            area: None,
            sex: None,
            age: Some(age),
            deprivation: Some(dep),
            work_intensity: Some(wi),
        }
    }

    #[test]
    fn deprivation_work_intensity_and_arope_by_hand() {
        // Ten persons, unit weights, incomes 100..1000: median 550, threshold 330, so the
        // persons with 100, 200, 300 are at risk of poverty.
        let persons = vec![
            p(100.0, "a", 30.0, 0.0, 0.5),        // poor only
            p(200.0, "b", 30.0, 8.0, 0.5),        // poor and deprived
            p(300.0, "c", 70.0, 0.0, 0.0),        // poor; WI not counted over 64
            p(400.0, "d", 30.0, 7.0, 0.5),        // deprived (exactly 7 items)
            p(500.0, "e", 30.0, 6.0, 0.1),        // very low work intensity
            p(600.0, "f", 64.0, 0.0, 0.19),       // very low work intensity (64 is in 0-64)
            p(700.0, "g", 30.0, 0.0, 2.4 / 12.0), // 20 % counts (2021: "20 % or less")
            p(800.0, "h", 30.0, 0.0, 0.9),
            p(900.0, "i", 30.0, 0.0, 0.9),
            p(1000.0, "j", 30.0, 0.0, 0.9),
        ];
        let plan = Plan::new(&persons, &[], &[], &Names::default());
        let w = vec![1.0; 10];
        let v = plan.values(
            &persons,
            &w,
            Has {
                deprivation: true,
                work_intensity: true,
            },
        );
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
        let mut persons = vec![
            p(42000.0, "h1", 40.0, 0.0, 0.5),
            p(42000.0, "h1", 38.0, 0.0, 0.5),
            p(42000.0, "h1", 10.0, 0.0, 0.5),
            p(42000.0, "h1", 6.0, 0.0, 0.5),
            p(15000.0, "h2", 80.0, 0.0, 0.5),
        ];
        equivalise_households(&mut persons);
        // 42 000 / 2.1 = 20 000 for each member; a single person keeps 15 000.
        assert!(persons[..4]
            .iter()
            .all(|p| (p.income - 20000.0).abs() < 1e-9));
        assert_eq!(persons[4].income, 15000.0);
    }

    #[test]
    fn bootstrap_resamples_whole_households() {
        let persons = vec![
            p(1.0, "a", 1.0, 0.0, 0.0),
            p(2.0, "a", 1.0, 0.0, 0.0),
            p(3.0, "b", 1.0, 0.0, 0.0),
        ];
        let c = clusters(&persons);
        assert_eq!(c.count, 2);
        assert_eq!(c.of_person, vec![0, 0, 1]);
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

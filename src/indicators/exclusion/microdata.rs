//! Poverty, inequality, deprivation and work intensity from person records: every group's
//! values from its income-sorted slice, groups side by side on rayon, and the household
//! bootstrap, which re-weights the same sorted slices once per replicate.

use rayon::prelude::*;

use super::groups::Plan;
use super::persons::{self, Needs, Population};
use super::{label, reliability, MICRO, MIN_RECORDS, POVERTY_LINES};
use crate::indicators::stats::{percentile, Distribution, SplitMix64};
use crate::indicators::{divide, Inputs, Output, Skipped, Value};
use polars::prelude::*;

/// Severe material and social deprivation: lacking at least 7 of the 13 items.
const SMSD_ITEMS: f64 = 7.0;
/// Very low work intensity, 2021 definition: working-age members worked 20 % or less of their
/// potential, for persons aged 0-64 (before 2021 it was "less than 20 %"). The tolerance keeps
/// a share computed as 2.4 / 12 (0.19999999999999998 or 0.2000000000000001) at 20 %.
const LWI_AT_MOST: f64 = 0.20 + 1e-9;
const LWI_MAX_AGE: f64 = 64.0;

/// A value, its numerator and its denominator.
pub type Slot = Option<(f64, Option<f64>, Option<f64>)>;

pub fn microdata(
    inputs: &Inputs,
    df: &DataFrame,
    wanted: &[String],
    out: &mut Output,
) -> PolarsResult<()> {
    let selection = &inputs.pipeline.indicators;
    let boot = selection.bootstrap;
    let keyed = |key: &str| selection.breakdowns.iter().flatten().any(|k| k == key);
    let data = persons::read(
        df,
        Needs {
            clusters: boot.replicates > 0,
            sex: keyed("sex"),
            age: keyed("age_group") || df.schema().contains("work_intensity"),
        },
    )?;
    let want: Vec<bool> = MICRO
        .iter()
        .map(|id| wanted.iter().any(|w| w == id))
        .collect();
    for (index, population) in data.populations.iter().enumerate() {
        // The national running sums are one sequential pass (their order fixes every sum's
        // last bit): they are made while the groups are laid out on the other cores.
        let (plan, national) = rayon::join(
            || {
                Plan::new(
                    population,
                    &data,
                    &selection.breakdowns,
                    &selection.age_groups,
                )
            },
            || Distribution::from_sorted(&population.income, &population.weight),
        );
        let point = values_with(population, &plan, &population.weight, national);
        let replicates: Vec<Vec<Option<f64>>> = (0..boot.replicates as u64)
            .into_par_iter()
            .map(|r| {
                let mut rng = SplitMix64::stream(boot.seed, ((index as u64) << 32) | r);
                let w = resample(population, &mut rng);
                values(population, &plan, &w)
                    .into_iter()
                    .map(|v| v.map(|v| v.0))
                    .collect()
            })
            .collect();
        publish(inputs, population, &plan, &point, &replicates, &want, out);
    }
    Ok(())
}

/// One replicate's weights: households drawn with replacement, each person weighted by the
/// times its household was drawn.
fn resample(p: &Population, rng: &mut SplitMix64) -> Vec<f64> {
    let mut times = vec![0u32; p.clusters];
    for _ in 0..p.clusters {
        times[rng.below(p.clusters as u64) as usize] += 1;
    }
    let cluster = p.cluster.as_deref().unwrap_or_default();
    p.weight
        .iter()
        .zip(cluster)
        .map(|(w, c)| w * times[*c as usize] as f64)
        .collect()
}

/// Every group's values under the weights `w` (by sorted position), in slots of `MICRO.len()`.
pub fn values(p: &Population, plan: &Plan, w: &[f64]) -> Vec<Slot> {
    values_with(p, plan, w, Distribution::from_sorted(&p.income, w))
}

/// [`values`] with the national distribution under `w` already made.
fn values_with(p: &Population, plan: &Plan, w: &[f64], national: Distribution) -> Vec<Slot> {
    let Some(median) = national.median() else {
        return vec![None; plan.groups.len() * MICRO.len()];
    };
    (0..plan.groups.len())
        .into_par_iter()
        .flat_map_iter(|g| {
            let slots = if g == 0 {
                group(p, &national, None, w, median)
            } else {
                let m = plan.members(g);
                let gw: Vec<f64> = m.iter().map(|&k| w[k as usize]).collect();
                let d = Distribution::with_weights(plan.incomes(g), gw.into());
                group(p, &d, Some(m), w, median)
            };
            slots.into_iter()
        })
        .collect()
}

/// One group's slots; `members` are its positions in the population (all when `None`).
fn group(
    p: &Population,
    d: &Distribution,
    members: Option<&[u32]>,
    w: &[f64],
    median: f64,
) -> [Slot; MICRO.len()] {
    let mut s: [Slot; MICRO.len()] = [None; MICRO.len()];
    let total = d.total_weight();
    if total <= 0.0 {
        return s;
    }
    let threshold = 0.6 * median;
    s[0] = Some((threshold, None, None));
    for (k, (_, share)) in POVERTY_LINES.iter().enumerate() {
        let below = d.weight_below(share * median);
        s[1 + k] = divide(100.0 * below, total).map(|v| (v, Some(below), Some(total)));
    }
    s[5] = d.qsr().map(|v| (v, None, None));
    s[6] = d.gini().map(|v| (v, None, None));
    s[7] = d.rmpg(threshold).map(|v| (v, None, None));
    // The shares of persons with a trait, over those whose trait is known.
    let share = |has: &dyn Fn(usize) -> Option<bool>| {
        let (mut yes, mut all) = (0.0, 0.0);
        let mut add = |k: usize| {
            if let Some(b) = has(k) {
                all += w[k];
                if b {
                    yes += w[k];
                }
            }
        };
        match members {
            Some(m) => m.iter().for_each(|&k| add(k as usize)),
            None => (0..p.len()).for_each(&mut add),
        }
        divide(100.0 * yes, all).map(|v| (v, Some(yes), Some(all)))
    };
    let known = |v: f64| (!v.is_nan()).then_some(v);
    let deprived = |k: usize| {
        let d = p.deprivation.as_ref()?;
        known(d[k]).map(|d| d >= SMSD_ITEMS)
    };
    let low_work = |k: usize| {
        let (age, wi) = (p.age.as_ref()?, p.work_intensity.as_ref()?);
        match (known(age[k]), known(wi[k])) {
            (Some(a), Some(wi)) if a <= LWI_MAX_AGE => Some(wi <= LWI_AT_MOST),
            _ => None,
        }
    };
    let has_deprivation = p.deprivation.is_some();
    let has_work = p.work_intensity.is_some() && p.age.is_some();
    if has_deprivation {
        s[8] = share(&deprived);
    }
    if has_work {
        s[9] = share(&low_work);
    }
    if has_deprivation && has_work {
        // Each person once: poor, or deprived, or in a very-low-work-intensity household; an
        // unknown component counts as "no".
        s[10] = share(&|k| {
            Some(p.income[k] < threshold || deprived(k) == Some(true) || low_work(k) == Some(true))
        });
    }
    s
}

/// The values of one population's groups, with their intervals, notes and flags.
fn publish(
    inputs: &Inputs,
    population: &Population,
    plan: &Plan,
    point: &[Slot],
    replicates: &[Vec<Option<f64>>],
    want: &[bool],
    out: &mut Output,
) {
    let period = population.period;
    let (whole, whole_level) = match population.country {
        Some(c) => (c.to_string(), "country"),
        None => ("ALL".to_string(), "all"),
    };
    // Each group's records and their weights, groups side by side.
    let sizes: Vec<(usize, f64)> = (0..plan.groups.len())
        .into_par_iter()
        .map(|g| match g {
            0 => (population.len(), population.weight.iter().sum()),
            _ => {
                let m = plan.members(g);
                (
                    m.len(),
                    m.iter().map(|&k| population.weight[k as usize]).sum(),
                )
            }
        })
        .collect();
    for ((g, group), &(n, weights)) in plan.groups.iter().enumerate().zip(&sizes) {
        let area = group.area.clone().unwrap_or_else(|| whole.clone());
        let level = match &group.area {
            Some(a) => inputs.level(a, "region"),
            None => whole_level.to_string(),
        };
        // Only a whole area's population is known (not its women or its young).
        let known = match (&group.area, &group.breakdown) {
            (Some(a), None) => inputs.population(a, period),
            _ => None,
        };
        let flag = reliability(n, weights, known);
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
            // An interval needs most replicates to have a value (tiny groups may vanish from a
            // replicate that draws none of their households).
            if !draws.is_empty() && draws.len() * 10 >= replicates.len() * 9 {
                value.ci_low = percentile(&mut draws, 0.025);
                value.ci_high = percentile(&mut draws, 0.975);
            }
            out.values.push(value);
        }
    }
}

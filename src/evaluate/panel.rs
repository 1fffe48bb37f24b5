//! One outcome as a panel: areas × periods, each area's cohort (its first treated period, or
//! never), and the notes on what was left out and why.

use std::collections::{BTreeMap, BTreeSet};

use crate::indicators::Value;

/// Areas × periods of one outcome, areas sorted by code, periods ascending.
#[derive(Debug, Clone)]
pub struct Panel {
    pub units: Vec<String>,
    pub periods: Vec<i32>,
    /// Unit-major: `y[u * periods.len() + t]`.
    pub y: Vec<Option<f64>>,
    /// Each unit's first treated period; `None` = never treated within the panel.
    pub cohort: Vec<Option<i32>>,
    /// What the panel left out or changed, for the manifest and the report.
    pub notes: Vec<String>,
}

impl Panel {
    pub fn n(&self) -> usize {
        self.units.len()
    }

    pub fn at(&self, unit: usize, period: usize) -> Option<f64> {
        self.y[unit * self.periods.len() + period]
    }

    /// The treated cohorts, ascending.
    pub fn cohorts(&self) -> Vec<i32> {
        let set: BTreeSet<i32> = self.cohort.iter().flatten().copied().collect();
        set.into_iter().collect()
    }

    /// Whether every unit has every period.
    pub fn balanced(&self) -> bool {
        self.y.iter().all(Option::is_some)
    }

    /// Builds the panel of `outcome` from the long indicator values (whole areas only: no
    /// breakdown, no projects), for the areas `treatment` knows. Areas first treated in or
    /// before the first period (after anticipation) have no pre-treatment period to compare
    /// with and are left out; areas first treated after the last period are never treated
    /// within the panel, as R `did` counts them.
    pub fn build(
        outcome: &str,
        values: &[Value],
        treatment: &BTreeMap<String, Option<i32>>,
        anticipation: u32,
    ) -> Panel {
        let mut cells: BTreeMap<&str, BTreeMap<i32, f64>> = BTreeMap::new();
        for v in values {
            if v.indicator != outcome || v.breakdown.is_some() || v.level == "project" {
                continue;
            }
            let Some(p) = v.period else { continue };
            if treatment.contains_key(&v.area) {
                cells.entry(v.area.as_str()).or_default().insert(p, v.value);
            }
        }
        let periods: Vec<i32> = cells
            .values()
            .flat_map(|m| m.keys().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut notes = Vec::new();
        let missing: Vec<&String> = treatment
            .keys()
            .filter(|a| !cells.contains_key(a.as_str()))
            .collect();
        if !missing.is_empty() {
            notes.push(format!(
                "{} areas have no value of {outcome} and are left out: {}",
                missing.len(),
                first_few(missing.iter().map(|s| s.as_str()))
            ));
        }
        let (first, last) = match (periods.first(), periods.last()) {
            (Some(f), Some(l)) => (*f, *l),
            _ => {
                return Panel {
                    units: vec![],
                    periods,
                    y: vec![],
                    cohort: vec![],
                    notes,
                }
            }
        };
        let (mut early, mut late) = (Vec::new(), Vec::new());
        let mut units = Vec::new();
        let mut cohort = Vec::new();
        let mut y = Vec::new();
        for (area, series) in &cells {
            let g = treatment.get(*area).copied().flatten();
            let g = match g {
                Some(g) if g - anticipation as i32 <= first => {
                    early.push(*area);
                    continue;
                }
                Some(g) if g > last => {
                    late.push(*area);
                    None
                }
                other => other,
            };
            units.push(area.to_string());
            cohort.push(g);
            y.extend(periods.iter().map(|p| series.get(p).copied()));
        }
        if !early.is_empty() {
            notes.push(format!(
                "{} areas first treated in or before the first period ({first}{}) have no period before treatment to compare with and are left out: {}",
                early.len(),
                if anticipation > 0 { format!(", with {anticipation} periods of anticipation") } else { String::new() },
                first_few(early.iter().copied())
            ));
        }
        if !late.is_empty() {
            notes.push(format!(
                "{} areas first treated after the last period ({last}) count as never treated: {}",
                late.len(),
                first_few(late.iter().copied())
            ));
        }
        let panel = Panel {
            units,
            periods,
            y,
            cohort,
            notes,
        };
        let gaps = panel.y.iter().filter(|v| v.is_none()).count();
        let mut panel = panel;
        if gaps > 0 {
            panel.notes.push(format!(
                "the panel is unbalanced: {gaps} area-periods of {outcome} are missing; an area is left out of each cell whose two periods it does not both have"
            ));
        }
        panel
    }
}

/// Up to five names, then how many more.
pub fn first_few<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = names.collect();
    let mut s = all.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    if all.len() > 5 {
        s.push_str(&format!(" and {} more", all.len() - 5));
    }
    s
}

//! The groups of a population that values are published for (the whole population, then each
//! area, sex and age group of the pipeline's breakdowns), each as the positions of its
//! members in the income-sorted population, ascending, with its incomes copied alongside so
//! that every group's distribution is one contiguous slice.

use super::persons::{Microdata, Population, NO_CODE};
use crate::config::AgeGroup;

/// The population a value describes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Group {
    pub area: Option<String>,
    /// `key=value` pairs, keys sorted.
    pub breakdown: Option<String>,
}

/// A population's groups. Group 0 is the whole population, whose members are every position.
pub struct Plan {
    pub groups: Vec<Group>,
    /// Members of group g ≥ 1: `members[offsets[g - 1]..offsets[g]]`.
    offsets: Vec<usize>,
    members: Vec<u32>,
    /// The members' incomes, in the same layout.
    incomes: Vec<f64>,
}

/// Which keys a breakdown uses; a person without a used key's value is in none of its groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Keys {
    area: bool,
    sex: bool,
    age: bool,
    /// A key the microdata cannot break down by: nobody is in the breakdown's groups.
    other: bool,
}

impl Keys {
    fn of(keys: &[String]) -> Keys {
        let mut k = Keys::default();
        for key in keys {
            match key.as_str() {
                "area" => k.area = true,
                "sex" => k.sex = true,
                "age_group" => k.age = true,
                _ => k.other = true,
            }
        }
        k
    }
}

impl Plan {
    pub fn new(
        population: &Population,
        data: &Microdata,
        breakdowns: &[Vec<String>],
        ages: &[AgeGroup],
    ) -> Plan {
        let mut keyed: Vec<Keys> = Vec::new();
        for b in breakdowns.iter().map(|b| Keys::of(b)) {
            if !keyed.contains(&b) {
                keyed.push(b);
            }
        }
        let mut found: Vec<(Group, Vec<u32>)> = keyed
            .iter()
            .filter(|k| !k.other)
            .flat_map(|k| breakdown(population, data, *k, ages))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let mut plan = Plan {
            groups: vec![Group {
                area: None,
                breakdown: None,
            }],
            offsets: vec![0],
            members: Vec::with_capacity(found.iter().map(|f| f.1.len()).sum()),
            incomes: Vec::new(),
        };
        for (g, m) in found {
            plan.groups.push(g);
            plan.members.extend(m);
            plan.offsets.push(plan.members.len());
        }
        plan.incomes = plan
            .members
            .iter()
            .map(|&m| population.income[m as usize])
            .collect();
        plan
    }

    /// The members of group `g ≥ 1`.
    pub fn members(&self, g: usize) -> &[u32] {
        &self.members[self.offsets[g - 1]..self.offsets[g]]
    }

    /// The incomes of group `g ≥ 1`, ascending.
    pub fn incomes(&self, g: usize) -> &[f64] {
        &self.incomes[self.offsets[g - 1]..self.offsets[g]]
    }
}

/// The groups of one breakdown with their members. A person falls in one cell of the area ×
/// sex × age-group grid, or several when the pipeline's age groups overlap; cells are counted
/// first so that each group's members are written once, in income order.
fn breakdown(
    p: &Population,
    data: &Microdata,
    keys: Keys,
    ages: &[AgeGroup],
) -> Vec<(Group, Vec<u32>)> {
    let (na, ns, ng) = (data.areas.len() + 1, data.sexes.len() + 1, ages.len() + 1);
    // Cell 0 of a dimension: the breakdown does not use it.
    let code = |on: bool, c: Option<&Vec<u32>>, k: usize| -> Option<usize> {
        match (on, c) {
            (false, _) => Some(0),
            (true, Some(c)) if c[k] != NO_CODE => Some(c[k] as usize + 1),
            _ => None,
        }
    };
    let mut cells: Vec<Vec<u32>> = vec![Vec::new(); na * ns * ng];
    let mut bands: Vec<usize> = Vec::with_capacity(ages.len());
    for k in 0..p.len() {
        let (Some(a), Some(s)) = (
            code(keys.area, p.area.as_ref(), k),
            code(keys.sex, p.sex.as_ref(), k),
        ) else {
            continue;
        };
        bands.clear();
        if keys.age {
            let Some(age) = p.age.as_ref().map(|v| v[k]).filter(|a| !a.is_nan()) else {
                continue;
            };
            bands.extend(
                (0..ages.len())
                    .filter(|g| ages[*g].contains(age))
                    .map(|g| g + 1),
            );
        } else {
            bands.push(0);
        }
        for &g in &bands {
            cells[(a * ns + s) * ng + g].push(k as u32);
        }
    }
    cells
        .into_iter()
        .enumerate()
        .filter(|(_, m)| !m.is_empty())
        .map(|(cell, m)| {
            let (a, s, g) = (cell / (ns * ng), cell / ng % ns, cell % ng);
            (label(data, ages, a, s, g), m)
        })
        .collect()
}

/// The group of a grid cell (0 in a dimension: not used).
fn label(data: &Microdata, ages: &[AgeGroup], a: usize, s: usize, g: usize) -> Group {
    let mut parts: Vec<String> = Vec::new();
    if s > 0 {
        parts.push(format!("sex={}", data.sexes.name(s as u32 - 1)));
    }
    if g > 0 {
        parts.push(format!("age={}", ages[g - 1].label()));
    }
    parts.sort();
    Group {
        area: (a > 0).then(|| data.areas.name(a as u32 - 1).to_string()),
        breakdown: (!parts.is_empty()).then(|| parts.join(";")),
    }
}

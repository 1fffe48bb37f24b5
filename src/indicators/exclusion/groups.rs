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
    /// Groups are laid out by a counting sort: one pass counts each grid cell's members, the
    /// cells are ordered by their groups, and a second pass writes every member once, straight
    /// into its place, in income order.
    pub fn new(
        population: &Population,
        data: &Microdata,
        breakdowns: &[Vec<String>],
        ages: &[AgeGroup],
    ) -> Plan {
        let mut keyed: Vec<Keys> = Vec::new();
        for b in breakdowns.iter().map(|b| Keys::of(b)) {
            if !keyed.contains(&b) && !b.other {
                keyed.push(b);
            }
        }
        let grids: Vec<Grid> = keyed
            .iter()
            .map(|&keys| Grid::new(population, data, keys, ages))
            .collect();
        // Cells of all breakdowns, numbered one grid after the other.
        let bases: Vec<usize> = grids
            .iter()
            .scan(0, |sum, g| {
                let base = *sum;
                *sum += g.len();
                Some(base)
            })
            .collect();
        let mut counts = vec![0usize; bases.last().map_or(0, |b| b + grids[grids.len() - 1].len())];
        let mut cells = Vec::with_capacity(ages.len().max(1));
        for (grid, base) in grids.iter().zip(&bases) {
            for k in 0..population.len() {
                grid.cells(k, &mut cells);
                for c in &cells {
                    counts[base + c] += 1;
                }
            }
        }
        let mut found: Vec<(Group, usize)> = Vec::new();
        for (grid, base) in grids.iter().zip(&bases) {
            let full = (0..grid.len()).filter(|c| counts[base + c] > 0);
            found.extend(full.map(|c| (grid.label(c), base + c)));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let mut plan = Plan {
            groups: vec![Group {
                area: None,
                breakdown: None,
            }],
            offsets: vec![0],
            members: Vec::new(),
            incomes: Vec::new(),
        };
        // Where each cell's next member goes.
        let mut next = vec![0usize; counts.len()];
        for (g, cell) in found {
            next[cell] = *plan.offsets.last().unwrap_or(&0);
            plan.groups.push(g);
            plan.offsets.push(next[cell] + counts[cell]);
        }
        let total = *plan.offsets.last().unwrap_or(&0);
        plan.members = vec![0; total];
        plan.incomes = vec![0.0; total];
        for (grid, base) in grids.iter().zip(&bases) {
            for k in 0..population.len() {
                grid.cells(k, &mut cells);
                for c in &cells {
                    let at = &mut next[base + c];
                    plan.members[*at] = k as u32;
                    plan.incomes[*at] = population.income[k];
                    *at += 1;
                }
            }
        }
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

/// One breakdown's area × sex × age-group grid. A person falls in one cell, or several when
/// the pipeline's age groups overlap, or none when it lacks a value the breakdown uses.
/// Cell 0 of a dimension means that the breakdown does not use it.
struct Grid<'a> {
    p: &'a Population<'a>,
    data: &'a Microdata<'a>,
    keys: Keys,
    ages: &'a [AgeGroup],
    /// Cells along sex and along age groups.
    ns: usize,
    ng: usize,
}

impl<'a> Grid<'a> {
    fn new(p: &'a Population, data: &'a Microdata, keys: Keys, ages: &'a [AgeGroup]) -> Self {
        Grid {
            p,
            data,
            keys,
            ages,
            ns: data.sexes.len() + 1,
            ng: ages.len() + 1,
        }
    }

    fn len(&self) -> usize {
        (self.data.areas.len() + 1) * self.ns * self.ng
    }

    /// The cells of the person at sorted position `k`, into `out`.
    fn cells(&self, k: usize, out: &mut Vec<usize>) {
        out.clear();
        let code = |on: bool, c: Option<&Vec<u32>>| -> Option<usize> {
            match (on, c) {
                (false, _) => Some(0),
                (true, Some(c)) if c[k] != NO_CODE => Some(c[k] as usize + 1),
                _ => None,
            }
        };
        let (Some(a), Some(s)) = (
            code(self.keys.area, self.p.area.as_ref()),
            code(self.keys.sex, self.p.sex.as_ref()),
        ) else {
            return;
        };
        let cell = (a * self.ns + s) * self.ng;
        if !self.keys.age {
            out.push(cell);
            return;
        }
        let Some(age) = self.p.age.as_ref().map(|v| v[k]).filter(|a| !a.is_nan()) else {
            return;
        };
        let bands = (0..self.ages.len()).filter(|g| self.ages[*g].contains(age));
        out.extend(bands.map(|g| cell + g + 1));
    }

    fn label(&self, cell: usize) -> Group {
        let (ns, ng) = (self.ns, self.ng);
        label(
            self.data,
            self.ages,
            cell / (ns * ng),
            cell / ng % ns,
            cell % ng,
        )
    }
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

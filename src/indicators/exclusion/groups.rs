//! The groups of a population that values are published for (the whole population, then each
//! area, sex and age group of the pipeline's breakdowns), each as the positions of its
//! members in the income-sorted population, ascending, with its incomes copied alongside so
//! that every group's distribution is one contiguous slice.

use rayon::prelude::*;

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
    /// Groups are laid out by a counting sort: pieces of the population count their members
    /// in each grid cell side by side, the cells are ordered by their groups, and each piece
    /// then writes its members straight into its own part of every cell, in income order.
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
        let grids = Grids::new(
            keyed
                .iter()
                .map(|&keys| Grid::new(population, data, keys, ages))
                .collect(),
        );
        let pieces: Vec<std::ops::Range<usize>> = (0..population.len())
            .step_by(PIECE)
            .map(|k| k..(k + PIECE).min(population.len()))
            .collect();
        let counts: Vec<Vec<usize>> = pieces.par_iter().map(|r| grids.count(r.clone())).collect();
        let total: Vec<usize> = (0..grids.len())
            .map(|cell| counts.iter().map(|c| c[cell]).sum())
            .collect();
        let mut found: Vec<(Group, usize)> = (0..grids.len())
            .filter(|&cell| total[cell] > 0)
            .map(|cell| (grids.label(cell), cell))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let (groups, cells): (Vec<Group>, Vec<usize>) = found.into_iter().unzip();
        let mut offsets = vec![0];
        for cell in &cells {
            offsets.push(offsets[offsets.len() - 1] + total[*cell]);
        }
        let size = offsets[offsets.len() - 1];
        let (mut members, mut incomes) = (vec![0; size], vec![0.0; size]);
        let (parts, slots) = cut(&cells, &counts, grids.len(), &mut members, &mut incomes);
        pieces
            .into_par_iter()
            .zip(parts)
            .zip(slots)
            .for_each(|((range, mut parts), slots)| {
                grids.place(range, &mut parts, &slots, &population.income)
            });
        let whole = Group {
            area: None,
            breakdown: None,
        };
        Plan {
            groups: std::iter::once(whole).chain(groups).collect(),
            offsets,
            members,
            incomes,
        }
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

/// Each piece's part of each cell (members and incomes), cut in the order the cells and the
/// pieces lie in, and where each piece finds a cell's part among its own (`slots[piece][cell]`).
type Parts<'m> = Vec<Vec<(&'m mut [u32], &'m mut [f64])>>;

fn cut<'m>(
    cells: &[usize],
    counts: &[Vec<usize>],
    n_cells: usize,
    mut members: &'m mut [u32],
    mut incomes: &'m mut [f64],
) -> (Parts<'m>, Vec<Vec<usize>>) {
    let mut parts: Parts = counts.iter().map(|_| Vec::new()).collect();
    let mut slots: Vec<Vec<usize>> = counts.iter().map(|_| vec![0; n_cells]).collect();
    for &cell in cells {
        for (p, c) in counts.iter().enumerate() {
            let (m, rest_m) = std::mem::take(&mut members).split_at_mut(c[cell]);
            let (x, rest_x) = std::mem::take(&mut incomes).split_at_mut(c[cell]);
            (members, incomes) = (rest_m, rest_x);
            slots[p][cell] = parts[p].len();
            parts[p].push((m, x));
        }
    }
    (parts, slots)
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

    /// The population's area codes, where this grid breaks down by area and nothing else.
    fn by_area_alone(&self) -> Option<&'a [u32]> {
        let area_only = Keys {
            area: true,
            ..Keys::default()
        };
        match self.keys == area_only {
            true => self.p.area.as_deref(),
            false => None,
        }
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

/// Persons counted and placed together in pieces of this many.
const PIECE: usize = 1 << 18;

/// The grids of all breakdowns, their cells numbered one grid after the other.
struct Grids<'a> {
    grids: Vec<Grid<'a>>,
    /// The number of each grid's first cell.
    bases: Vec<usize>,
}

impl<'a> Grids<'a> {
    fn new(grids: Vec<Grid<'a>>) -> Self {
        let mut bases = Vec::with_capacity(grids.len() + 1);
        bases.push(0);
        for g in &grids {
            bases.push(bases[bases.len() - 1] + g.len());
        }
        Grids { grids, bases }
    }

    fn len(&self) -> usize {
        self.bases[self.bases.len() - 1]
    }

    fn label(&self, cell: usize) -> Group {
        let g = self.bases.partition_point(|&b| b <= cell) - 1;
        self.grids[g].label(cell - self.bases[g])
    }

    /// Calls `f(k, cell)` for each cell of every person at `range`, in order of grid, then
    /// person.
    fn each(&self, range: std::ops::Range<usize>, mut f: impl FnMut(usize, usize)) {
        let mut cells = Vec::new();
        for (grid, base) in self.grids.iter().zip(&self.bases) {
            if let Some(areas) = grid.by_area_alone() {
                // The usual breakdown, by area alone: one cell a person, read off its code.
                let across = grid.ns * grid.ng;
                for (k, &a) in areas[range.clone()].iter().enumerate() {
                    if a != NO_CODE {
                        f(range.start + k, base + (a as usize + 1) * across);
                    }
                }
                continue;
            }
            for k in range.clone() {
                grid.cells(k, &mut cells);
                cells.iter().for_each(|c| f(k, base + c));
            }
        }
    }

    /// The members each cell has among the persons at `range`.
    fn count(&self, range: std::ops::Range<usize>) -> Vec<usize> {
        let mut counts = vec![0; self.len()];
        self.each(range, |_, cell| counts[cell] += 1);
        counts
    }

    /// Writes the persons at `range` into their cells' parts (`parts[slots[cell]]`).
    fn place(
        &self,
        range: std::ops::Range<usize>,
        parts: &mut [(&mut [u32], &mut [f64])],
        slots: &[usize],
        income: &[f64],
    ) {
        let mut next = vec![0; parts.len()];
        self.each(range, |k, cell| {
            let slot = slots[cell];
            let (members, incomes) = &mut parts[slot];
            members[next[slot]] = k as u32;
            incomes[next[slot]] = income[k];
            next[slot] += 1;
        });
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

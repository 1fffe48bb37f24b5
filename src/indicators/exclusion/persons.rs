//! One microdata source's persons as columns: split into populations (a country and a
//! period), equivalised where the source gives household income, and sorted by income once.
//! Every group, indicator and bootstrap replicate then reads these sorted slices; no struct
//! or string is made per person.

use std::borrow::Cow;
use std::collections::HashMap;

use polars::prelude::*;
use polars_arrow::array::Array;
use rayon::prelude::*;

/// A missing number in the columns below. The contracts let only finite numbers through, so
/// NaN can only mean "no value"; it never leaves this module's callers as a value.
const NONE: f64 = f64::NAN;
/// A missing code (no area, no sex).
pub const NO_CODE: u32 = u32::MAX;

/// Texts of a column as small integers, in the order first met; the names borrow the frame.
#[derive(Debug, Default)]
pub struct Codes<'a> {
    ids: HashMap<&'a str, u32>,
    pub names: Vec<&'a str>,
}

impl<'a> Codes<'a> {
    fn code(&mut self, s: &'a str) -> u32 {
        *self.ids.entry(s).or_insert_with(|| {
            self.names.push(s);
            self.names.len() as u32 - 1
        })
    }

    pub fn name(&self, code: u32) -> &'a str {
        self.names[code as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
}

/// One country and period: its persons sorted ascending by income (ties in file order).
#[derive(Debug)]
pub struct Population<'a> {
    pub country: Option<&'a str>,
    pub period: Option<i32>,
    pub income: Vec<f64>,
    pub weight: Vec<f64>,
    /// Codes into [`Microdata::areas`] and [`Microdata::sexes`] ([`NO_CODE`] when missing).
    pub area: Option<Vec<u32>>,
    pub sex: Option<Vec<u32>>,
    /// NaN where a person has no value.
    pub age: Option<Vec<f64>>,
    pub deprivation: Option<Vec<f64>>,
    pub work_intensity: Option<Vec<f64>>,
    /// Each person's household as a bootstrap cluster, numbered in file order (a person
    /// without a household is a cluster of one); present when the bootstrap needs it.
    pub cluster: Option<Vec<u32>>,
    pub clusters: usize,
}

impl Population<'_> {
    pub fn len(&self) -> usize {
        self.income.len()
    }
}

/// A microdata source's populations, in the order of (country, period), and the names
/// behind its codes.
#[derive(Debug)]
pub struct Microdata<'a> {
    pub populations: Vec<Population<'a>>,
    pub areas: Codes<'a>,
    pub sexes: Codes<'a>,
}

/// What the indicators need beyond income, weight and area: columns carried into the income
/// order only when a breakdown or an indicator reads them.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    pub clusters: bool,
    pub sex: bool,
    pub age: bool,
}

impl Needs {
    #[cfg(test)]
    pub const ALL: Needs = Needs {
        clusters: true,
        sex: true,
        age: true,
    };
}

/// A number column: borrowed where it is one chunk without missing values (as the contract
/// of a typed file leaves it), else copied chunk by chunk.
fn numbers<'a>(df: &'a DataFrame, name: &str) -> PolarsResult<Option<Cow<'a, [f64]>>> {
    if !df.schema().contains(name) {
        return Ok(None);
    }
    let c = df.column(name)?.as_materialized_series().f64()?;
    if let (1, 0, Ok(slice)) = (c.chunks().len(), c.null_count(), c.cont_slice()) {
        return Ok(Some(Cow::Borrowed(slice)));
    }
    let mut out = Vec::with_capacity(c.len());
    for a in c.downcast_iter() {
        match a.null_count() {
            0 => out.extend_from_slice(a.values()),
            _ => out.extend(a.iter().map(|v| v.copied().unwrap_or(NONE))),
        }
    }
    Ok(Some(Cow::Owned(out)))
}

fn texts<'a>(df: &'a DataFrame, name: &str) -> PolarsResult<Option<&'a StringChunked>> {
    match df.schema().contains(name) {
        true => Ok(Some(df.column(name)?.as_materialized_series().str()?)),
        false => Ok(None),
    }
}

/// Codes for every row of a text column.
fn encode<'a>(column: Option<&'a StringChunked>, codes: &mut Codes<'a>) -> Option<Vec<u32>> {
    let column = column?;
    let mut last: Option<(&str, u32)> = None;
    Some(
        column
            .iter()
            .map(|v| match v {
                None => NO_CODE,
                // Files are usually grouped by area: most rows repeat the row before.
                Some(s) => match last {
                    Some((l, c)) if l == s => c,
                    _ => {
                        let c = codes.code(s);
                        last = Some((s, c));
                        c
                    }
                },
            })
            .collect(),
    )
}

/// The OECD-modified scale from a household's members aged 14 or over and under 14.
pub fn scale(adults: usize, children: usize) -> f64 {
    if adults == 0 {
        1.0 + 0.3 * children.saturating_sub(1) as f64
    } else {
        1.0 + 0.5 * (adults - 1) as f64 + 0.3 * children as f64
    }
}

/// Reads the frame the microdata contract made into populations.
pub fn read<'a>(df: &'a DataFrame, needs: Needs) -> PolarsResult<Microdata<'a>> {
    let weight = numbers(df, "weight")?.unwrap_or_default();
    let given = numbers(df, "income")?;
    let equivalise = given.is_none();
    let income = match given {
        Some(i) => Some(i),
        None => numbers(df, "household_income")?,
    }
    .unwrap_or_default();
    // Ages are read where a breakdown, work intensity or equivalising needs them.
    let age = match needs.age || equivalise {
        true => numbers(df, "age")?,
        false => None,
    };
    let deprivation = numbers(df, "deprivation_items")?;
    let work_intensity = numbers(df, "work_intensity")?;
    let (mut areas, mut sexes) = (Codes::default(), Codes::default());
    let area = encode(texts(df, "area")?, &mut areas);
    let sex = encode(texts(df, "sex")?, &mut sexes);
    let household = match df.schema().contains("household") {
        true => Some(df.column("household")?.as_materialized_series()),
        false => None,
    };
    let country = texts(df, "country")?;
    let period = df.column("period")?.i32()?;
    let period: Vec<Option<i32>> = match (period.null_count(), period.first()) {
        // One period for the whole source, as a `period = 2020` source has.
        (0, Some(p)) if period.min() == period.max() => vec![Some(p); period.len()],
        _ => period.iter().collect(),
    };

    // Each row's population, keys in the order first met.
    let mut keys: Vec<(Option<&str>, Option<i32>)> = Vec::new();
    let mut rows: Vec<Vec<u32>> = Vec::new();
    let mut last = usize::MAX;
    let countries: Box<dyn Iterator<Item = Option<&str>>> = match country {
        Some(c) => Box::new(c.iter()),
        None => Box::new(std::iter::repeat(None)),
    };
    for (i, (c, p)) in countries.zip(&period).enumerate() {
        if weight[i].is_nan() || income[i].is_nan() {
            continue;
        }
        let key = (c, *p);
        if last == usize::MAX || keys[last] != key {
            last = match keys.iter().position(|k| *k == key) {
                Some(k) => k,
                None => {
                    keys.push(key);
                    rows.push(Vec::new());
                    keys.len() - 1
                }
            };
        }
        rows[last].push(i as u32);
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|a, b| keys[*a].cmp(&keys[*b]));
    // Households are read only for the bootstrap's clusters or to equivalise.
    let households = match household.filter(|_| needs.clusters || equivalise) {
        Some(h) if h.dtype().is_integer() => Some(
            h.cast(&DataType::Int64)?
                .i64()?
                .iter()
                .map(|v| v.map(Household::Number))
                .collect::<Vec<_>>(),
        ),
        Some(h) => Some(h.str()?.iter().map(|v| v.map(Household::Text)).collect()),
        None => None,
    };
    let columns = Columns {
        income: &income,
        weight: &weight,
        area: area.as_deref(),
        sex: sex.as_deref(),
        age: age.as_deref(),
        deprivation: deprivation.as_deref(),
        work_intensity: work_intensity.as_deref(),
        household: households.as_deref(),
    };
    let populations = order
        .into_iter()
        .map(|k| {
            let (country, period) = keys[k];
            columns.population(country, period, &rows[k], equivalise, needs)
        })
        .collect();
    Ok(Microdata {
        populations,
        areas,
        sexes,
    })
}

/// The source's columns by row, before they are split.
struct Columns<'c, 'a> {
    income: &'c [f64],
    weight: &'c [f64],
    area: Option<&'c [u32]>,
    sex: Option<&'c [u32]>,
    age: Option<&'c [f64]>,
    deprivation: Option<&'c [f64]>,
    work_intensity: Option<&'c [f64]>,
    household: Option<&'c [Option<Household<'a>>]>,
}

/// A household id as the contract keeps it: text, or an integer from a typed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Household<'a> {
    Text(&'a str),
    Number(i64),
}

impl<'a> Columns<'_, 'a> {
    fn population(
        &self,
        country: Option<&'a str>,
        period: Option<i32>,
        rows: &[u32],
        equivalise: bool,
        needs: Needs,
    ) -> Population<'a> {
        // Households numbered in file order, as the bootstrap's clusters.
        let (cluster, clusters) = match self.household {
            Some(h) => {
                let mut ids: HashMap<Household, u32> = HashMap::new();
                let mut count = 0u32;
                let c: Vec<u32> = rows
                    .iter()
                    .map(|&r| {
                        let mut fresh = || {
                            count += 1;
                            count - 1
                        };
                        match h[r as usize] {
                            Some(s) => *ids.entry(s).or_insert_with(fresh),
                            None => fresh(),
                        }
                    })
                    .collect();
                (Some(c), count as usize)
            }
            // Without a household column every person is a cluster of one.
            _ if needs.clusters => (
                (0..rows.len() as u32).collect::<Vec<_>>().into(),
                rows.len(),
            ),
            _ => (None, 0),
        };
        let mut income: Vec<f64> = rows.iter().map(|&r| self.income[r as usize]).collect();
        if equivalise {
            if let (Some(c), Some(age)) = (&cluster, self.age) {
                equivalise_by(&mut income, c, clusters, rows, age, self.household);
            }
        }
        // One sort by income, ties in file order, carrying the weight and the area: the other
        // columns are gathered after it, and only where they are needed.
        let mut by: Vec<Sorted> = income
            .iter()
            .zip(0u32..)
            .map(|(x, k)| {
                let r = rows[k as usize] as usize;
                Sorted {
                    income: *x,
                    weight: self.weight[r],
                    k,
                    area: self.area.map_or(NO_CODE, |a| a[r]),
                }
            })
            .collect();
        by.par_sort_unstable_by(|a, b| a.income.total_cmp(&b.income).then(a.k.cmp(&b.k)));
        let row = |s: &Sorted| rows[s.k as usize] as usize;
        let gather = |c: Option<&[f64]>, needed: bool| {
            c.filter(|_| needed)
                .map(|c| by.par_iter().map(|s| c[row(s)]).collect::<Vec<_>>())
        };
        Population {
            country,
            period,
            weight: by.iter().map(|s| s.weight).collect(),
            area: self.area.map(|_| by.iter().map(|s| s.area).collect()),
            sex: self
                .sex
                .filter(|_| needs.sex)
                .map(|c| by.par_iter().map(|s| c[row(s)]).collect()),
            age: gather(self.age, needs.age),
            deprivation: gather(self.deprivation, true),
            work_intensity: gather(self.work_intensity, true),
            cluster: cluster
                .filter(|_| needs.clusters)
                .map(|c| by.par_iter().map(|s| c[s.k as usize]).collect()),
            clusters,
            income: by.into_iter().map(|s| s.income).collect(),
        }
    }
}

/// A person in the sort by income, with what every value reads.
#[derive(Clone, Copy)]
struct Sorted {
    income: f64,
    weight: f64,
    /// The person's place in its population, in file order.
    k: u32,
    area: u32,
}

/// Household income divided by the household's OECD-modified scale, for every member. A
/// person without a household keeps the income as given.
fn equivalise_by(
    income: &mut [f64],
    cluster: &[u32],
    clusters: usize,
    rows: &[u32],
    age: &[f64],
    household: Option<&[Option<Household>]>,
) {
    let mut members = vec![(0usize, 0usize); clusters];
    let has_household = |k: usize| household.is_some_and(|h| h[rows[k] as usize].is_some());
    for (k, c) in cluster.iter().enumerate() {
        let a = age[rows[k] as usize];
        if has_household(k) && !a.is_nan() {
            let m = &mut members[*c as usize];
            if a >= 14.0 {
                m.0 += 1;
            } else {
                m.1 += 1;
            }
        }
    }
    for (k, x) in income.iter_mut().enumerate() {
        let (adults, children) = members[cluster[k] as usize];
        if has_household(k) && adults + children > 0 {
            *x /= scale(adults, children);
        }
    }
}

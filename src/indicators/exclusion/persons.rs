//! One microdata source's persons as columns: split into populations (a country and a
//! period), equivalised where the source gives household income, and sorted by income once.
//! Every group, indicator and bootstrap replicate then reads these sorted slices; no struct
//! or string is made per person.

use std::borrow::Cow;
use std::collections::HashMap;

use polars::prelude::*;
use polars_arrow::array::{Array, Utf8ViewArray};
use rayon::prelude::*;

use super::order::{self, ordered, Order, Sorted};

/// A missing number in the columns below. The contracts let only finite numbers through, so
/// NaN can only mean "no value"; it never leaves this module's callers as a value.
const NONE: f64 = f64::NAN;
/// A missing code (no area, no sex).
pub const NO_CODE: u32 = u32::MAX;

/// Texts of a column as small integers, in the order first met; the names borrow the frame.
#[derive(Debug, Default)]
pub struct Codes<'a> {
    ids: PlHashMap<&'a str, u32>,
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

/// Codes for every row of a text column. Pieces of the column are coded side by side, each
/// with codes of its own, which are then renumbered piece after piece: the codes come out in
/// the order first met in the whole column, as one pass would give them.
fn encode<'a>(column: Option<&'a StringChunked>, codes: &mut Codes<'a>) -> Option<Vec<u32>> {
    let column = column?;
    let mut out = vec![NO_CODE; column.len()];
    let mut pieces: Vec<(&'a Utf8ViewArray, std::ops::Range<usize>, &mut [u32])> = Vec::new();
    let mut rest = out.as_mut_slice();
    for array in column.downcast_iter() {
        for at in (0..array.len()).step_by(ENCODE_PIECE) {
            let range = at..(at + ENCODE_PIECE).min(array.len());
            let (piece, after) = std::mem::take(&mut rest).split_at_mut(range.len());
            rest = after;
            pieces.push((array, range, piece));
        }
    }
    let local: Vec<Codes<'a>> = pieces
        .par_iter_mut()
        .map(|(array, range, out)| encode_piece(array, range.clone(), out))
        .collect();
    let global: Vec<Vec<u32>> = local
        .iter()
        .map(|l| l.names.iter().map(|n| codes.code(n)).collect())
        .collect();
    pieces
        .into_par_iter()
        .zip(global)
        .for_each(|((_, _, out), global)| {
            for c in out.iter_mut().filter(|c| **c != NO_CODE) {
                *c = global[*c as usize];
            }
        });
    Some(out)
}

/// Rows coded side by side in pieces of this many.
const ENCODE_PIECE: usize = 1 << 20;

/// Codes of its own for `array[range]`, into `out`.
///
/// A cell is first looked up by its Arrow view (16 bytes: a short text itself, or where a long
/// one sits), which equal texts share where the file stores each distinct value once (a
/// Parquet dictionary): one integer hash a row instead of hashing and comparing text (the
/// 10 M persons' areas: 72 -> 53 ms). Where views keep missing (long texts a CSV stores one
/// by one), new ones stop being remembered after [`VIEW_MISSES`]; texts are looked up as
/// before.
fn encode_piece<'a>(
    array: &'a Utf8ViewArray,
    range: std::ops::Range<usize>,
    out: &mut [u32],
) -> Codes<'a> {
    let mut codes = Codes::default();
    let views = array.views();
    let mut by_view: PlHashMap<u128, u32> = PlHashMap::new();
    let mut misses = 0;
    let mut last: Option<(u128, u32)> = None;
    for (i, slot) in range.zip(out.iter_mut()) {
        if !array.is_valid(i) {
            continue;
        }
        let view = views[i].as_u128();
        // Files are usually grouped by area: most rows repeat the row before.
        *slot = match last {
            Some((v, c)) if v == view => c,
            _ => {
                let c = match by_view.get(&view) {
                    Some(&c) => c,
                    None => {
                        let c = codes.code(array.value(i));
                        if misses < VIEW_MISSES {
                            misses += 1;
                            by_view.insert(view, c);
                        }
                        c
                    }
                };
                last = Some((view, c));
                c
            }
        };
    }
    codes
}

/// Distinct views looked up by text before a piece stops remembering them.
const VIEW_MISSES: usize = 1024;

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
    let kept = |i: usize| !(weight[i].is_nan() || income[i].is_nan());
    let (keys, rows) = split(country, period, income.len(), kept);
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

/// A population's rows of the source, ascending: every row (the usual single population of a
/// source without a country column, whose rows all passed, with no list to write or read), or
/// those listed.
#[derive(Debug, PartialEq)]
enum Rows {
    All(usize),
    Listed(Vec<u32>),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::All(n) => *n,
            Rows::Listed(rows) => rows.len(),
        }
    }

    /// The row of the population's `k`-th person.
    fn at(&self, k: usize) -> usize {
        match self {
            Rows::All(_) => k,
            Rows::Listed(rows) => rows[k] as usize,
        }
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).map(|k| self.at(k))
    }
}

/// Each population's key (country, period) in the order first met, and its rows: those that
/// `kept` keeps, ascending.
type Split<'a> = (Vec<(Option<&'a str>, Option<i32>)>, Vec<Rows>);

fn split<'a>(
    country: Option<&'a StringChunked>,
    period: &Int32Chunked,
    len: usize,
    kept: impl Fn(usize) -> bool + Sync,
) -> Split<'a> {
    let (mut keys, mut rows): Split = (Vec::new(), Vec::new());
    let one_period = match (period.null_count(), period.first()) {
        // One period for the whole source, as a `period = 2020` source has.
        (0, Some(p)) if period.min() == period.max() => Some(Some(p)),
        _ if period.null_count() == period.len() => Some(None),
        _ => None,
    };
    if let (None, Some(p)) = (country, one_period) {
        // One population: no key to look up per row.
        let all = match (0..len).into_par_iter().all(&kept) {
            true => Rows::All(len),
            false => Rows::Listed((0..len as u32).filter(|&i| kept(i as usize)).collect()),
        };
        if all.len() > 0 {
            keys.push((None, p));
            rows.push(all);
        }
        return (keys, rows);
    }
    let countries: Box<dyn Iterator<Item = Option<&str>>> = match country {
        Some(c) => Box::new(c.iter()),
        None => Box::new(std::iter::repeat(None)),
    };
    let mut listed: Vec<Vec<u32>> = Vec::new();
    let mut last = usize::MAX;
    for (i, (c, p)) in countries.zip(period.iter()).enumerate() {
        if !kept(i) {
            continue;
        }
        let key = (c, p);
        if last == usize::MAX || keys[last] != key {
            last = match keys.iter().position(|k| *k == key) {
                Some(k) => k,
                None => {
                    keys.push(key);
                    listed.push(Vec::new());
                    keys.len() - 1
                }
            };
        }
        listed[last].push(i as u32);
    }
    rows.extend(listed.into_iter().map(Rows::Listed));
    (keys, rows)
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
    /// Each person's household, numbered in file order, as the bootstrap's clusters, and
    /// how many there are; every person a cluster of one without a household column.
    fn clusters(&self, rows: &Rows, needs: Needs) -> (Option<Vec<u32>>, usize) {
        match self.household {
            Some(h) => {
                let mut ids: HashMap<Household, u32> = HashMap::new();
                let mut count = 0u32;
                let c: Vec<u32> = rows
                    .iter()
                    .map(|r| {
                        let mut fresh = || {
                            count += 1;
                            count - 1
                        };
                        match h[r] {
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
        }
    }

    fn population(
        &self,
        country: Option<&'a str>,
        period: Option<i32>,
        rows: &Rows,
        equivalise: bool,
        needs: Needs,
    ) -> Population<'a> {
        let (cluster, clusters) = self.clusters(rows, needs);
        // Equivalised incomes are the household's income over its scale; given ones are read
        // as they are, straight into the sort's records.
        let equivalised = match (equivalise, &cluster, self.age) {
            (true, Some(c), Some(age)) => {
                let mut income: Vec<f64> = rows.iter().map(|r| self.income[r]).collect();
                equivalise_by(&mut income, c, clusters, rows, age, self.household);
                Some(income)
            }
            _ => None,
        };
        let income_of = |k: usize| match &equivalised {
            Some(income) => income[k],
            None => self.income[rows.at(k)],
        };
        // One sort by income, ties in file order, carrying the weight and the area: the other
        // columns are gathered after it, and only where they are needed.
        let record = |k: u32| {
            let r = rows.at(k as usize);
            Sorted {
                key: ordered(income_of(k as usize)),
                weight: self.weight[r],
                k,
                area: self.area.map_or(NO_CODE, |a| a[r]),
            }
        };
        // Places in file order are kept only for the columns gathered after the sort.
        let sex = self.sex.filter(|_| needs.sex);
        let age = self.age.filter(|_| needs.age);
        let cluster = cluster.filter(|_| needs.clusters);
        let carry = order::Carry {
            area: self.area.is_some(),
            places: sex.is_some()
                || age.is_some()
                || self.deprivation.is_some()
                || self.work_intensity.is_some()
                || cluster.is_some(),
        };
        let Order {
            income,
            weight,
            area,
            places,
        } = order::by_income(
            rows.len(),
            |k| ordered(income_of(k as usize)),
            record,
            carry,
        );
        drop(equivalised);
        let places = places.unwrap_or_default();
        let gather = |c: Option<&[f64]>| c.map(|c| in_order(&places, rows, c));
        Population {
            country,
            period,
            weight,
            area,
            sex: sex.map(|c| in_order(&places, rows, c)),
            age: gather(age),
            deprivation: gather(self.deprivation),
            work_intensity: gather(self.work_intensity),
            // Clusters are numbered by place in the population already, not by row.
            cluster: cluster.map(|c| in_order(&places, &Rows::All(c.len()), &c)),
            clusters,
            income,
        }
    }
}

/// A column of the source's rows (of the population's `rows`) in the income order: the value
/// at each person's place.
fn in_order<T: Copy + Send + Sync>(places: &[u32], rows: &Rows, column: &[T]) -> Vec<T> {
    places
        .par_iter()
        .map(|&k| column[rows.at(k as usize)])
        .collect()
}

/// Household income divided by the household's OECD-modified scale, for every member. A
/// person without a household keeps the income as given.
fn equivalise_by(
    income: &mut [f64],
    cluster: &[u32],
    clusters: usize,
    rows: &Rows,
    age: &[f64],
    household: Option<&[Option<Household>]>,
) {
    let mut members = vec![(0usize, 0usize); clusters];
    let has_household = |k: usize| household.is_some_and(|h| h[rows.at(k)].is_some());
    for (k, c) in cluster.iter().enumerate() {
        let a = age[rows.at(k)];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_order_first_met_across_pieces() {
        // Two chunks, the first longer than a piece: "a" is first met at the end of the first
        // chunk's second piece, "c" in the second chunk; the second piece meets "a" before "b".
        let n = ENCODE_PIECE + 3;
        let mut first: Vec<Option<&str>> = vec![Some("b"); n];
        first[ENCODE_PIECE] = Some("a");
        let mut column = StringChunked::new("area".into(), &first);
        column
            .append(&StringChunked::new(
                "area".into(),
                &[None, Some("c"), Some("a")],
            ))
            .unwrap();
        assert_eq!(column.chunks().len(), 2);
        let mut codes = Codes::default();
        let coded = encode(Some(&column), &mut codes).unwrap();
        assert_eq!(codes.names, ["b", "a", "c"]);
        assert_eq!(coded.len(), n + 3);
        assert_eq!(coded[..3], [0, 0, 0]);
        assert_eq!(coded[ENCODE_PIECE..], [1, 0, 0, NO_CODE, 2, 1]);
    }

    /// Long texts stored once each (as a CSV's are) have views of their own: equal texts with
    /// different views share a code, and views stop being remembered after `VIEW_MISSES`.
    #[test]
    fn codes_are_by_text_whatever_the_views() {
        let long = |k: usize| format!("a region with a long name {}", k % 3);
        let cells: Vec<String> = (0..VIEW_MISSES * 3).map(long).collect();
        let mut array = polars_arrow::array::MutableBinaryViewArray::<str>::new();
        cells.iter().for_each(|c| array.push_value(c));
        let array: Utf8ViewArray = array.into();
        let views: std::collections::HashSet<u128> =
            array.views().iter().map(|v| v.as_u128()).collect();
        assert_eq!(views.len(), cells.len(), "each long text stored on its own");
        let mut out = vec![NO_CODE; cells.len()];
        let codes = encode_piece(&array, 0..cells.len(), &mut out);
        assert_eq!(codes.names, [long(0), long(1), long(2)]);
        assert!(out.iter().enumerate().all(|(i, c)| *c as usize == i % 3));
        // Short texts are their own views: equal texts, equal views; a piece codes its range.
        let short = Utf8ViewArray::from_slice_values(["AT1", "AT2", "AT1", "AT1", "AT2"]);
        assert_eq!(short.views()[0].as_u128(), short.views()[2].as_u128());
        let mut out = vec![NO_CODE; 5];
        let codes = encode_piece(&short, 1..5, &mut out[1..]);
        assert_eq!(codes.names, ["AT2", "AT1"]);
        assert_eq!(out, [NO_CODE, 0, 1, 1, 0]);
    }

    #[test]
    fn one_country_and_period_is_one_population_of_the_rows_kept() {
        let period = Int32Chunked::new("period".into(), &[2020, 2020, 2020, 2020]);
        let (keys, rows) = split(None, &period, 4, |i| i != 2);
        assert_eq!(keys, [(None, Some(2020))]);
        assert_eq!(rows, [Rows::Listed(vec![0, 1, 3])]);
        // Two periods: one population each, in the order first met.
        let period = Int32Chunked::new("period".into(), &[2021, 2020, 2021]);
        let (keys, rows) = split(None, &period, 3, |_| true);
        assert_eq!(keys, [(None, Some(2021)), (None, Some(2020))]);
        assert_eq!(rows, [Rows::Listed(vec![0, 2]), Rows::Listed(vec![1])]);
        // Every row kept: all of them, with no list.
        let period = Int32Chunked::new("period".into(), &[2020, 2020, 2020]);
        assert_eq!(split(None, &period, 3, |_| true).1, [Rows::All(3)]);
    }
}

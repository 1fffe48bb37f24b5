//! One contract per source kind: the type and the checks behind each role. A row that breaks its
//! contract becomes a [`Reject`] with the file, line, column, value and a reason a person can act
//! on; the rest becomes a typed polars frame whose columns are the role names. Nothing is
//! dropped silently: rows read = rows kept + rows rejected, for every source.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use rayon::prelude::*;

use crate::config::{Currency, Format, Pipeline, Source, SourceKind};
use crate::ingest::RawTable;

mod cells;
mod columnar;

use cells::{prepare, Cell, Cursor, Prepared};

/// An input row that was not used, and why. The texts that many rejects share (the source,
/// the file, the column, a reason without the row's value) are shared, not copied: a source
/// can reject millions of rows for lying outside the pipeline's periods.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub source: Arc<str>,
    pub file: Arc<str>,
    pub line: i64,
    pub column: Option<Arc<str>>,
    pub value: Option<String>,
    pub reason: Arc<str>,
}

/// A source after its contract: typed rows, and the count of everything read.
#[derive(Debug, Clone)]
pub struct Table {
    pub source: String,
    pub kind: SourceKind,
    pub frame: DataFrame,
    pub rows_read: usize,
    pub rejects: Vec<Reject>,
    /// Rejected only because their period lies outside the pipeline's `periods` (a subset of
    /// `rejects`; not counted against `max_reject_share`).
    pub rows_filtered: usize,
    /// The file line of each kept row, for `areas` sources only (small tables whose rows the
    /// cross-source checks name); empty for other kinds.
    pub lines: Vec<u64>,
}

impl Table {
    pub fn rows_kept(&self) -> usize {
        self.frame.height()
    }

    /// Share of rows that broke the contract (period filtering excluded).
    pub fn reject_share(&self) -> f64 {
        if self.rows_read == 0 {
            0.0
        } else {
            (self.rejects.len() - self.rows_filtered) as f64 / self.rows_read as f64
        }
    }
}

/// The funding sources a project row may name.
pub const FUNDING_SOURCES: [&str; 6] = [
    "public",
    "eu_fund",
    "crowdfunding",
    "impact_investment",
    "philanthropy",
    "private",
];
/// GPC sectors.
pub const SECTORS: [&str; 5] = [
    "stationary_energy",
    "transportation",
    "waste",
    "ippu",
    "afolu",
];
const SUPPLIER_TYPES: [&str; 3] = ["social_enterprise", "sme", "other"];
const LEVELS: [&str; 5] = ["country", "region", "city", "district", "neighbourhood"];
/// Rates that a city_stats source may publish directly.
pub const CITY_STAT_RATES: [&str; 4] = [
    "unemployment_rate",
    "youth_unemployment_rate",
    "long_term_unemployment_rate",
    "neet_rate",
];

/// Counts a city_stats source may publish instead of a rate; the rate is then computed with
/// its numerator and denominator kept.
pub const CITY_STAT_COUNTS: [&str; 9] = [
    "unemployed",
    "employed",
    "labour_force",
    "youth_unemployed",
    "youth_employed",
    "youth_labour_force",
    "long_term_unemployed",
    "neet",
    "population_15_29",
];

/// The type and checks of a role.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Text,
    /// An identifier only ever compared (a household): text, or integers kept as integers
    /// where a typed file has them so.
    Key,
    /// A finite number within optional bounds; `above` excludes the lower bound.
    Number {
        min: Option<f64>,
        above: bool,
        max: Option<f64>,
    },
    Year,
    Date,
    Sex,
    OneOf(&'static [&'static str]),
    Scope,
    Bool,
}

/// The largest magnitude any number role takes. A quadrillion euros, persons or tonnes is more
/// than any city, survey or inventory holds, and bounding every input here keeps every sum,
/// product and square in the indicators finite (1e15 squared times ten million rows is still
/// 1e37, far from f64's 1.8e308): no NaN or infinity can reach a table.
pub const MAGNITUDE: f64 = 1e15;

const ANY: Rule = Rule::Number {
    min: None,
    above: false,
    max: None,
};
const NON_NEGATIVE: Rule = Rule::Number {
    min: Some(0.0),
    above: false,
    max: None,
};
const FRACTION: Rule = Rule::Number {
    min: Some(0.0),
    above: false,
    max: Some(1.0),
};
const POSITIVE: Rule = Rule::Number {
    min: Some(0.0),
    above: true,
    max: None,
};

fn rule(kind: SourceKind, role: &str) -> Rule {
    use SourceKind::*;
    match (kind, role) {
        (Microdata, "income") => ANY,
        (Microdata, "weight") => POSITIVE,
        // EU-SILC ages refer to the end of the income reference period, so a child born after
        // it has age -1 and is a member of the population all the same.
        (Microdata, "age") => Rule::Number {
            min: Some(-1.0),
            above: false,
            max: Some(130.0),
        },
        (Microdata, "sex") => Rule::Sex,
        (Microdata, "household") => Rule::Key,
        (Microdata, "household_income") => ANY,
        (Microdata, "deprivation_items") => Rule::Number {
            min: Some(0.0),
            above: false,
            max: Some(13.0),
        },
        (Microdata, "work_intensity") => Rule::Number {
            min: Some(0.0),
            above: false,
            max: Some(1.0),
        },
        (CityStats, "value") => ANY,
        (Projects, "amount") | (Procurement, "amount") => NON_NEGATIVE,
        (Procurement, "amount_original") => NON_NEGATIVE,
        (Projects, "beneficiaries") | (Projects, "co2e_avoided_t") => NON_NEGATIVE,
        (Projects, "start") | (Projects, "end") | (Procurement, "date") => Rule::Date,
        (Projects, "funding_source") => Rule::OneOf(&FUNDING_SOURCES),
        (Procurement, "supplier_type") => Rule::OneOf(&SUPPLIER_TYPES),
        (Emissions, "tco2e") => ANY,
        (Emissions, "sector") => Rule::OneOf(&SECTORS),
        (Emissions, "scope") => Rule::Scope,
        (Areas, "population") => POSITIVE,
        (Areas, "green_space_m2") => NON_NEGATIVE,
        (Areas, "level") => Rule::OneOf(&LEVELS),
        (Areas, "treated") => Rule::Bool,
        // The first treated year; 0 (or empty) means never treated, as R `did` writes it.
        (Areas, "treated_from") => Rule::Number {
            min: Some(0.0),
            above: false,
            max: Some(9999.0),
        },
        (Outcomes, "quantity") | (Outcomes, "proxy") => NON_NEGATIVE,
        (Outcomes, "deadweight")
        | (Outcomes, "displacement")
        | (Outcomes, "attribution")
        | (Outcomes, "drop_off") => FRACTION,
        (Outcomes, "duration_years") => Rule::Number {
            min: Some(1.0),
            above: false,
            max: Some(100.0),
        },
        (_, "period") => Rule::Year,
        _ => Rule::Text,
    }
}

/// The type a role's column has after the contract: numbers are float64, years and GPC
/// scopes int32, flags boolean, and everything else (codes, dates as ISO text, keys) text.
pub fn role_dtype(kind: SourceKind, role: &str) -> DataType {
    match rule(kind, role) {
        Rule::Number { .. } => DataType::Float64,
        Rule::Year | Rule::Scope => DataType::Int32,
        Rule::Bool => DataType::Boolean,
        _ => DataType::String,
    }
}

/// A typed cell. Text borrows from the raw table (or the pipeline) unless checking rewrote it,
/// so that a large file is not copied cell by cell.
#[derive(Debug, Clone)]
enum Value<'a> {
    Text(Cow<'a, str>),
    Number(f64),
    Int(i32),
    Bool(bool),
}

/// Parses and checks one cell; `Ok(None)` is an empty cell.
#[cfg(test)]
fn check(rule: Rule, raw: &str) -> Result<Option<Value<'_>>, String> {
    check_with(rule, raw, false)
}

/// Parses and checks one cell; with `decimal_comma`, numbers are read as `1.234,56`.
fn check_with(rule: Rule, raw: &str, decimal_comma: bool) -> Result<Option<Value<'_>>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let v = match rule {
        Rule::Text | Rule::Key => Value::Text(Cow::Borrowed(s)),
        Rule::Number { min, above, max } => {
            let parsed = if decimal_comma {
                s.replace('.', "").replace(',', ".").parse::<f64>()
            } else {
                s.parse::<f64>()
            };
            let x: f64 = parsed.ok().filter(|x: &f64| x.is_finite()).ok_or_else(|| {
                let comma = s.contains(',')
                    && s.replace(',', ".").parse::<f64>().is_ok_and(f64::is_finite);
                match !decimal_comma && comma {
                    true => format!(
                        "`{s}` is not a number; if the file writes decimal commas, set decimal = \",\" on the source"
                    ),
                    false => format!("`{s}` is not a number"),
                }
            })?;
            check_number((min, above, max), x, &s)?
        }
        Rule::Year => {
            let y: i32 = s
                .parse()
                .map_err(|_| format!("`{s}` is not a year (write it as 2021)"))?;
            if !(1900..=2100).contains(&y) {
                return Err(format!("year {y} is outside 1900-2100"));
            }
            Value::Int(y)
        }
        Rule::Date => {
            let d = parse_date(s)
                .ok_or_else(|| format!("`{s}` is not a date (write it as YYYY-MM-DD, ISO 8601)"))?;
            if !(1900..=2100).contains(&d.year()) {
                return Err(format!("date {d} is outside 1900-2100"));
            }
            if is_plain_date(s) {
                Value::Text(Cow::Borrowed(s))
            } else {
                Value::Text(Cow::Owned(d.format("%Y-%m-%d").to_string()))
            }
        }
        Rule::Sex => match s.to_ascii_lowercase().as_str() {
            // EU-SILC RB090 codes 1 and 2.
            "male" | "m" | "1" => Value::Text(Cow::Borrowed("male")),
            "female" | "f" | "2" => Value::Text(Cow::Borrowed("female")),
            _ => {
                return Err(format!(
                    "`{s}` is not a sex (male/female, or RB090 codes 1/2)"
                ))
            }
        },
        Rule::OneOf(allowed) => {
            if let Some(a) = allowed.iter().find(|a| **a == s) {
                return Ok(Some(Value::Text(Cow::Borrowed(a))));
            }
            let l = s.to_ascii_lowercase().replace([' ', '-'], "_");
            match allowed.iter().find(|a| **a == l) {
                Some(a) => Value::Text(Cow::Borrowed(a)),
                None => {
                    let hint = crate::config::nearest(&l, allowed.iter().copied())
                        .map(|n| format!("did you mean `{n}`?"))
                        .unwrap_or_else(|| format!("allowed: {}", allowed.join(", ")));
                    return Err(format!("`{s}` is not allowed here; {hint}"));
                }
            }
        }
        Rule::Scope => match s {
            "1" | "2" | "3" => Value::Int(s.parse().unwrap_or(1)),
            _ => return Err(format!("`{s}` is not a GPC scope (1, 2 or 3)")),
        },
        Rule::Bool => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "y" => Value::Bool(true),
            "false" | "no" | "0" | "n" => Value::Bool(false),
            _ => return Err(format!("`{s}` is not true/false")),
        },
    };
    Ok(Some(v))
}

/// Checks a number against the bounds of its rule; `s` is the number as the file wrote it.
fn check_number(
    (min, above, max): (Option<f64>, bool, Option<f64>),
    x: f64,
    s: &dyn std::fmt::Display,
) -> Result<Value<'static>, String> {
    if !x.is_finite() {
        return Err(format!("`{s}` is not a number"));
    }
    if x.abs() > MAGNITUDE {
        return Err(format!(
            "{s} lies beyond ±1e15, more than any income, amount, weight, population or tonnage can be; check the column's unit and decimal separator"
        ));
    }
    if let Some(m) = min {
        if above && x <= m {
            return Err(format!("{x} must be greater than {m}"));
        }
        if !above && x < m {
            return Err(format!("{x} must not be below {m}"));
        }
    }
    if let Some(m) = max {
        if x > m {
            return Err(format!("{x} must not be above {m}"));
        }
    }
    Ok(Value::Number(x))
}

/// `YYYY-MM-DD` exactly, the form dates are kept in (validity is checked by `parse_date`).
fn is_plain_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
}

/// ISO dates as grant makers publish them: `2021-03-01`, with a time part, or a bare year.
fn parse_date(s: &str) -> Option<NaiveDate> {
    if is_plain_date(s) {
        // The common form, read without chrono's format machinery.
        let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
        return NaiveDate::from_ymd_opt(n(0..4)? as i32, n(5..7)?, n(8..10)?);
    }
    let head = s.get(..10).unwrap_or(s);
    NaiveDate::parse_from_str(head, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            (s.len() == 4)
                .then(|| s.parse::<i32>().ok())
                .flatten()
                .and_then(|y| NaiveDate::from_ymd_opt(y, 1, 1))
        })
}

/// A typed column being filled with the kept rows.
enum Builder {
    Number(PrimitiveChunkedBuilder<Float64Type>),
    Int(PrimitiveChunkedBuilder<Int32Type>),
    Bool(BooleanChunkedBuilder),
    Text(StringChunkedBuilder),
}

impl Builder {
    fn new(name: &str, rule: Rule, capacity: usize) -> Builder {
        let name = PlSmallStr::from(name);
        match rule {
            Rule::Number { .. } => Builder::Number(PrimitiveChunkedBuilder::new(name, capacity)),
            Rule::Year | Rule::Scope => Builder::Int(PrimitiveChunkedBuilder::new(name, capacity)),
            Rule::Bool => Builder::Bool(BooleanChunkedBuilder::new(name, capacity)),
            _ => Builder::Text(StringChunkedBuilder::new(name, capacity)),
        }
    }

    /// A cell of the rule's type, or a missing one (`None`, or a value of another type).
    fn push(&mut self, v: Option<&Value>) {
        match self {
            Builder::Number(b) => b.append_option(match v {
                Some(Value::Number(x)) => Some(*x),
                _ => None,
            }),
            Builder::Int(b) => b.append_option(match v {
                Some(Value::Int(x)) => Some(*x),
                _ => None,
            }),
            Builder::Bool(b) => b.append_option(match v {
                Some(Value::Bool(x)) => Some(*x),
                _ => None,
            }),
            Builder::Text(b) => b.append_option(match v {
                Some(Value::Text(x)) => Some(x.as_ref()),
                _ => None,
            }),
        }
    }

    fn finish(self) -> Series {
        match self {
            Builder::Number(b) => b.finish().into_series(),
            Builder::Int(b) => b.finish().into_series(),
            Builder::Bool(b) => b.finish().into_series(),
            Builder::Text(b) => b.finish().into_series(),
        }
    }
}

/// Where the roles that cross-row and cross-field rules read sit in a raw table, looked up
/// once rather than by name on every row.
struct At {
    period: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    date: Option<usize>,
    currency: Option<usize>,
    amount: Option<usize>,
    variable: Option<usize>,
    value: Option<usize>,
    income: Option<usize>,
    household_income: Option<usize>,
    household: Option<usize>,
    age: Option<usize>,
    area: Option<usize>,
    id: Option<usize>,
    sector: Option<usize>,
    subsector: Option<usize>,
    scope: Option<usize>,
    project: Option<usize>,
    outcome: Option<usize>,
}

impl At {
    fn new(raw: &RawTable) -> At {
        At {
            period: raw.role("period"),
            start: raw.role("start"),
            end: raw.role("end"),
            date: raw.role("date"),
            currency: raw.role("currency"),
            amount: raw.role("amount"),
            variable: raw.role("variable"),
            value: raw.role("value"),
            income: raw.role("income"),
            household_income: raw.role("household_income"),
            household: raw.role("household"),
            age: raw.role("age"),
            area: raw.role("area"),
            id: raw.role("id"),
            sector: raw.role("sector"),
            subsector: raw.role("subsector"),
            scope: raw.role("scope"),
            project: raw.role("project"),
            outcome: raw.role("outcome"),
        }
    }
}

/// What checking a run of rows gives: their kept rows as typed columns, and the rest.
struct Part {
    columns: Vec<Builder>,
    period: Vec<Option<i32>>,
    /// (row, reject), in row order.
    rejects: Vec<(usize, Reject)>,
    filtered: usize,
    /// The unique key of each kept row (row, key), for kinds that have one.
    keys: Vec<(usize, String)>,
    /// The line of each kept row, where the table keeps them (see [`Table::lines`]).
    lines: Vec<u64>,
}

/// Everything a row check reads, shared by the runs of rows checked side by side.
struct Contract<'a> {
    pipeline: &'a Pipeline,
    source: &'a Source,
    raw: &'a RawTable,
    rules: Vec<Rule>,
    required: Vec<bool>,
    at: At,
    ragged: HashMap<u64, usize>,
    /// Each role's column, ready to be read row by row.
    prepared: Vec<Prepared<'a>>,
    /// Microdata: the roles a row needs beyond its own rules, see [`microdata_needs`].
    needs: Vec<Need>,
    /// The texts rejects share.
    shared: Mutex<HashSet<Arc<str>>>,
}

/// A role a row cannot do without (its position in the raw table, if the file has it) and the
/// reason given when it is empty.
type Need = (&'static str, Option<usize>, String);

/// What a microdata row needs: its equivalised income, or what equivalising household income
/// takes (the household income, the household and every member's age).
fn microdata_needs(source: &Source, at: &At) -> Vec<Need> {
    if source.kind != SourceKind::Microdata {
        return Vec::new();
    }
    if let Some(i) = at.income {
        let c = source.column_for("income");
        return vec![(
            "income",
            Some(i),
            format!("`{c}` (income) is empty; every row needs it"),
        )];
    }
    [
        ("household_income", at.household_income),
        ("household", at.household),
        ("age", at.age),
    ]
    .into_iter()
    .map(|(role, r)| {
        let c = source.column_for(role);
        let why = format!("`{c}` ({role}) is empty; it is needed to equivalise household income");
        (role, r, why)
    })
    .collect()
}

/// Why a row of period `p` is left out, when the pipeline's periods do not include it.
fn outside_periods(pipeline: &Pipeline, p: i32) -> Option<String> {
    let (from, to) = pipeline.periods.unwrap_or((p, p));
    (!pipeline.in_periods(p))
        .then(|| format!("period {p} is outside the pipeline's periods {from}-{to}"))
}

/// Rows per run of rows checked on one core: a few runs per core to keep all busy to the end,
/// no fewer rows than make building a run's columns worth it, and no more than keep a run's
/// buffers small. Each run becomes a chunk of the table's columns, so the sample data already
/// gives tables of several chunks.
fn rows_per_part(rows: usize) -> usize {
    rows.div_ceil(4 * rayon::current_num_threads())
        .clamp(1 << 10, 1 << 18)
}

/// Applies a source's contract to its raw rows.
pub fn apply(pipeline: &Pipeline, source: &Source, raw: &RawTable) -> Result<Table, PolarsError> {
    let contract = Contract::new(pipeline, source, raw);
    match columnar::applies(&contract) {
        true => contract.by_columns(),
        false => contract.by_rows(),
    }
}

impl<'a> Contract<'a> {
    fn new(pipeline: &'a Pipeline, source: &'a Source, raw: &'a RawTable) -> Contract<'a> {
        let kind = source.kind;
        let at = At::new(raw);
        Contract {
            pipeline,
            source,
            raw,
            rules: raw.roles.iter().map(|r| rule(kind, r)).collect(),
            required: raw
                .roles
                .iter()
                .map(|r| kind.required_roles().contains(&r.as_str()))
                .collect(),
            needs: microdata_needs(source, &at),
            at,
            ragged: raw.ragged.iter().copied().collect(),
            prepared: Vec::new(),
            shared: Mutex::new(HashSet::new()),
        }
    }
}

impl Contract<'_> {
    /// The row-by-row contract: every kind of source, and microdata with short rows.
    fn by_rows(mut self) -> Result<Table, PolarsError> {
        let (raw, source, kind, n) = (self.raw, self.source, self.source.kind, self.raw.len());
        self.prepared = (self.rules.iter().zip(&raw.cells))
            .map(|(rule, c)| prepare(*rule, c))
            .collect::<PolarsResult<_>>()?;
        let contract = &self;
        let per_part = rows_per_part(n);
        let starts: Vec<usize> = (0..n.max(1)).step_by(per_part).collect();
        let parts: Vec<Part> = starts
            .par_iter()
            .map(|&start| contract.check_rows(start..(start + per_part).min(n)))
            .collect();

        // Ids must be unique across the whole source, first row first: checked in row order once
        // every row has been typed.
        let mut seen: HashMap<&str, u64> = HashMap::new();
        let mut duplicates: Vec<(usize, Reject)> = Vec::new();
        let mut keep: Vec<bool> = Vec::new();
        for part in &parts {
            for (row, key) in &part.keys {
                let line = raw.lines[*row];
                match seen.get(key.as_str()) {
                    Some(first) => {
                        duplicates.push((
                            *row,
                            contract.reject(
                                *row,
                                None,
                                Some(key),
                                format!(
                                "duplicate {key}: the same row key was already read at line {first}"
                            ),
                            ),
                        ));
                        keep.push(false);
                    }
                    None => {
                        seen.insert(key, line);
                        keep.push(true);
                    }
                }
            }
        }

        let mut filtered = 0;
        let mut rejects: Vec<(usize, Reject)> = duplicates;
        let mut columns: Vec<Option<Series>> = vec![None; raw.roles.len()];
        let mut period: Vec<Option<i32>> = Vec::with_capacity(n);
        let mut lines: Vec<u64> = Vec::new();
        for part in parts {
            filtered += part.filtered;
            lines.extend(part.lines);
            rejects.extend(part.rejects);
            period.extend(part.period);
            for (c, b) in columns.iter_mut().zip(part.columns) {
                let s = b.finish();
                match c {
                    Some(c) => {
                        c.append(&s)?;
                    }
                    None => *c = Some(s),
                }
            }
        }
        // Each row has at most one reject, so the order by row is total.
        rejects.sort_by_key(|(row, _)| *row);
        let height = period.len();
        let mut columns: Vec<Column> = raw
            .roles
            .iter()
            .zip(columns)
            .filter(|(role, _)| role.as_str() != "period")
            .filter_map(|(_, s)| s.map(Column::from))
            .collect();
        columns.push(Column::new("period".into(), period));
        let mut frame = DataFrame::new(height, columns)?;
        if keep.contains(&false) {
            frame = frame.filter(&BooleanChunked::from_slice("keep".into(), &keep))?;
            if !lines.is_empty() {
                lines = lines
                    .into_iter()
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(l, _)| l)
                    .collect();
            }
        }
        // No rechunk: the parts stay chunks of the columns, which every reader takes as they are;
        // copying them into one would touch as much fresh memory again.
        Ok(Table {
            source: source.name.clone(),
            kind,
            frame,
            rows_read: n,
            rejects: rejects.into_iter().map(|(_, r)| r).collect(),
            rows_filtered: filtered,
            lines,
        })
    }
}

impl<'a> Contract<'a> {
    fn reject(
        &self,
        row: usize,
        column: Option<&str>,
        value: Option<&str>,
        reason: impl Into<Arc<str>>,
    ) -> Reject {
        // In a JSON file the column is the value's JSON pointer (`/grants/3/amountAwarded`).
        let pointer = self.raw.pointers.as_ref().and_then(|p| {
            let file = self.raw.file_of.get(row).copied().unwrap_or(0);
            p.of(file, row, column)
        });
        Reject {
            source: self.share(&self.source.name),
            file: self.share(self.raw.file(row).unwrap_or(&self.source.path)),
            line: self.raw.lines[row] as i64,
            column: match pointer {
                Some(p) => Some(p.into()),
                None => column.map(|c| self.share(c)),
            },
            value: value.map(String::from),
            reason: reason.into(),
        }
    }

    /// A row outside the pipeline's periods: its reason is the same for every such row of
    /// the period, and kept once.
    fn reject_outside(&self, row: usize, period: i32, why: &str) -> Reject {
        self.reject(row, None, Some(&period.to_string()), self.share(why))
    }

    /// A text many rejects hold, kept once.
    fn share(&self, text: &str) -> Arc<str> {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        match shared.get(text) {
            Some(s) => s.clone(),
            None => {
                let s: Arc<str> = text.into();
                shared.insert(s.clone());
                s
            }
        }
    }

    /// Types and checks a run of rows.
    fn check_rows(&self, rows: std::ops::Range<usize>) -> Part {
        let (raw, source, pipeline) = (self.raw, self.source, self.pipeline);
        let kind = source.kind;
        let mut part = Part {
            columns: raw
                .roles
                .iter()
                .zip(&self.rules)
                .map(|(role, rule)| Builder::new(role, *rule, rows.len()))
                .collect(),
            period: Vec::with_capacity(rows.len()),
            rejects: Vec::new(),
            filtered: 0,
            keys: Vec::new(),
            lines: Vec::new(),
        };
        let mut row: Vec<Option<Value<'_>>> = Vec::with_capacity(raw.roles.len());
        let mut cursors: Vec<Cursor> = self
            .prepared
            .iter()
            .map(|p| Cursor::new(p, rows.start))
            .collect();
        let mut cells: Vec<Cell> = Vec::with_capacity(raw.roles.len());
        for i in rows {
            row.clear();
            cells.clear();
            cells.extend(cursors.iter_mut().map(Cursor::next));
            let line = raw.lines[i];
            let mut bad: Option<Reject> = None;
            if !self.ragged.is_empty() {
                // Ragged rows are keyed by line and file (see RawTable::concat).
                let key = line | (raw.file_of.get(i).copied().unwrap_or(0) as u64) << 40;
                if let Some(&fields) = self.ragged.get(&key) {
                    let why = if fields == 0 {
                        "this line is not a record (not valid JSON, or not an object); fix or remove it"
                            .to_string()
                    } else {
                        format!(
                            "the row has {fields} fields but the header has {}; check for an unquoted separator",
                            raw.header_len
                        )
                    };
                    bad = Some(self.reject(i, None, None, why));
                }
            }
            if bad.is_none() {
                for (r, role) in raw.roles.iter().enumerate() {
                    // The cell as text only for a reject: typed numbers are not written out.
                    let text = || cells[r].text();
                    let column = raw.columns[r].as_str();
                    match cells[r].check(self.rules[r], source.decimal_comma) {
                        Ok(None) if self.required[r] => {
                            // In a wide file the value's column is the variable's own.
                            let wide = self.at.variable.and_then(|v| match cells[v] {
                                Cell::Text(t) => t,
                                Cell::Number(_) => None,
                            });
                            let (column, why) = match wide {
                                Some(code) if column == "(variable column)" => (
                                    code,
                                    format!("`{code}` is empty: this area has no value of {code}"),
                                ),
                                _ if role == "area" && source.format == Format::Giving360 => (
                                    column,
                                    match column == "Beneficiary Location:Name" {
                                        true => format!("the grant has no beneficiary location (`{column}` is empty); if the file gives codes, map them: columns = {{ area = \"Beneficiary Location:Geographic Code\" }}"),
                                        false => format!("the grant has no beneficiary location (`{column}` is empty)"),
                                    },
                                ),
                                _ => (
                                    column,
                                    format!("`{column}` ({role}) is empty; every row needs it"),
                                ),
                            };
                            bad = Some(self.reject(i, Some(column), text().as_deref(), why));
                        }
                        Ok(v) => row.push(v),
                        Err(why) => {
                            bad = Some(self.reject(
                                i,
                                Some(column),
                                text().as_deref(),
                                format!("`{column}` ({role}): {why}"),
                            ))
                        }
                    }
                    if bad.is_some() {
                        break;
                    }
                }
            }
            // Cross-field rules.
            let mut row_period = source.period;
            if bad.is_none() {
                bad = self
                    .cross_checks(&mut row, &mut row_period)
                    .map(|(col, val, why)| self.reject(i, col.as_deref(), val.as_deref(), why));
            }
            if bad.is_none() {
                if let Some((p, why)) =
                    row_period.and_then(|p| Some((p, outside_periods(pipeline, p)?)))
                {
                    bad = Some(self.reject_outside(i, p, &why));
                    part.filtered += 1;
                }
            }
            match bad {
                Some(r) => part.rejects.push((i, r)),
                None => {
                    if let Some(key) = unique_key(kind, &self.at, &row, row_period) {
                        part.keys.push((i, key));
                    }
                    for (b, v) in part.columns.iter_mut().zip(&row) {
                        b.push(v.as_ref());
                    }
                    part.period.push(row_period);
                    if kind == SourceKind::Areas {
                        part.lines.push(line);
                    }
                }
            }
        }
        part
    }

    /// Rules that look at more than one cell: the period, currency conversion, date order and
    /// variable mapping. May rewrite the row (converted amount, mapped variable id).
    fn cross_checks<'r>(
        &'r self,
        row: &mut [Option<Value<'r>>],
        period: &mut Option<i32>,
    ) -> Option<CrossFailure> {
        let (source, pipeline, at) = (self.source, self.pipeline, &self.at);
        // A macro rather than a closure, so that reading one cell does not hold a borrow of
        // the row that is rewritten below. Cloning a borrowed text is cheap.
        macro_rules! get {
            ($at:expr) => {
                $at.and_then(|r: usize| row.get(r).cloned().flatten())
            };
        }
        let col = |role: &str| Some(source.column_for(role).to_string());
        if let Some(Value::Int(p)) = get!(at.period) {
            *period = Some(p);
        }
        let survey_currency = pipeline.currency.of_survey(source.currency.as_deref());
        if let (SourceKind::Microdata, Some(code)) = (source.kind, survey_currency) {
            // The survey's currency into the reporting one; config checked the rate exists.
            let year = period.or(source.period);
            let factor = match convert(&pipeline.currency, code, year) {
                Ok(f) => f,
                Err(why) => return Some((col("period"), year.map(|y| y.to_string()), why)),
            };
            for r in [at.income, at.household_income].into_iter().flatten() {
                if let Some(Value::Number(x)) = row[r] {
                    row[r] = Some(Value::Number(x * factor));
                }
            }
        }
        match source.kind {
            SourceKind::Projects | SourceKind::Procurement => {
                let date_at = if source.kind == SourceKind::Projects {
                    at.start
                } else {
                    at.date
                };
                if let Some(Value::Text(d)) = get!(date_at) {
                    *period = d.get(..4).and_then(|y| y.parse().ok());
                }
                if let (Some(Value::Text(start)), Some(Value::Text(end))) =
                    (get!(at.start), get!(at.end))
                {
                    if end < start {
                        return Some((
                            col("end"),
                            Some(end.to_string()),
                            format!("the end date {end} is before the start date {start}"),
                        ));
                    }
                }
                if at.currency.is_some() || pipeline.currency.deflates() {
                    let report = pipeline.currency.report.as_str();
                    let code = match get!(at.currency) {
                        Some(Value::Text(c)) => c,
                        _ => Cow::Borrowed(report),
                    };
                    match convert(&pipeline.currency, &code, *period) {
                        Ok(factor) => {
                            if let Some(a) = at.amount {
                                if let Some(Value::Number(x)) = row[a] {
                                    row[a] = Some(Value::Number(x * factor));
                                }
                            }
                            if let Some(r) = at.currency {
                                row[r] = Some(Value::Text(Cow::Borrowed(report)));
                            }
                        }
                        Err(why) => {
                            let column = match at.currency {
                                Some(_) => col("currency"),
                                None => col(if source.kind == SourceKind::Projects {
                                    "start"
                                } else {
                                    "date"
                                }),
                            };
                            return Some((column, Some(code.into_owned()), why));
                        }
                    }
                }
            }
            SourceKind::CityStats => {
                if let (Some(r), Some(Value::Text(code))) = (at.variable, get!(at.variable)) {
                    let mapped = source.variables.get(code.as_ref());
                    let id: &str = mapped.map(String::as_str).unwrap_or(&code);
                    let is_rate = CITY_STAT_RATES.contains(&id);
                    let declared = pipeline.declares(id);
                    if !is_rate && !declared && !CITY_STAT_COUNTS.contains(&id) {
                        let why = if mapped.is_some() {
                            format!(
                                "variable `{code}` maps to `{id}`, which a city_stats source cannot give; use a rate ({}) or a count ({})",
                                CITY_STAT_RATES.join(", "),
                                CITY_STAT_COUNTS.join(", ")
                            )
                        } else {
                            format!("variable `{code}` is not mapped to an indicator; add it to `variables` in [sources.{}], e.g. {{ {code} = \"unemployment_rate\" }}", source.name)
                        };
                        return Some((col("variable"), Some(code.into_owned()), why));
                    }
                    if let Some(Value::Number(v)) = get!(at.value) {
                        if is_rate && !(0.0..=100.0).contains(&v) {
                            return Some((
                                col("value"),
                                Some(v.to_string()),
                                format!("{id} is a percentage; {v} lies outside 0-100"),
                            ));
                        }
                        if !is_rate && !declared && v < 0.0 {
                            return Some((
                                col("value"),
                                Some(v.to_string()),
                                format!("{id} is a count of persons; {v} is negative"),
                            ));
                        }
                    }
                    let id = match mapped {
                        Some(m) => Cow::Borrowed(m.as_str()),
                        None => code,
                    };
                    row[r] = Some(Value::Text(id));
                }
                if get!(at.value).is_none() {
                    return Some((col("value"), None, "the value is missing".into()));
                }
            }
            SourceKind::Microdata => {
                for (role, r, why) in &self.needs {
                    if get!(*r).is_none() {
                        return Some((col(role), None, why.clone()));
                    }
                }
            }
            _ => {}
        }
        None
    }
}

/// Checks across sources that no single source can make: two `areas` sources that give one
/// area and period different populations. The later source's row is rejected with a reason
/// naming the row it contradicts; rows that agree stay. Runs after every contract, in the
/// pipeline's source order, so the result does not depend on which source finished first.
pub fn reconcile(pipeline: &Pipeline, tables: &mut [Table]) -> PolarsResult<()> {
    type Seen = (f64, String, u64);
    let mut first: HashMap<(String, Option<i32>), Seen> = HashMap::new();
    for t in tables.iter_mut().filter(|t| t.kind == SourceKind::Areas) {
        if !t.frame.schema().contains("population") || t.lines.len() != t.frame.height() {
            continue;
        }
        let file = pipeline
            .sources
            .iter()
            .find(|s| s.name == t.source)
            .map(|s| s.path.clone())
            .unwrap_or_default();
        let area = t.frame.column("area")?.str()?.clone();
        let period = t.frame.column("period")?.i32()?.clone();
        let population = t.frame.column("population")?.f64()?.clone();
        let mut keep = vec![true; t.frame.height()];
        for (i, k) in keep.iter_mut().enumerate() {
            let (Some(a), Some(pop)) = (area.get(i), population.get(i)) else {
                continue;
            };
            let key = (a.to_string(), period.get(i));
            match first.get(&key) {
                Some((seen, by, line)) if *seen != pop => {
                    *k = false;
                    let when = key.1.map(|p| format!(" in {p}")).unwrap_or_default();
                    t.rejects.push(Reject {
                        source: t.source.as_str().into(),
                        file: file.as_str().into(),
                        line: t.lines[i] as i64,
                        column: Some("population".into()),
                        value: Some(pop.to_string()),
                        reason: format!(
                            "area `{a}`{when} has population {pop} here but {seen} in source `{by}` (line {line}); keep one population per area and period"
                        ).into(),
                    });
                }
                Some(_) => {}
                None => {
                    first.insert(key, (pop, t.source.clone(), t.lines[i]));
                }
            }
        }
        if keep.contains(&false) {
            t.frame = t
                .frame
                .filter(&BooleanChunked::from_slice("keep".into(), &keep))?;
            t.lines = t
                .lines
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(l, _)| *l)
                .collect();
            t.rejects.sort_by_key(|r| r.line);
        }
    }
    Ok(())
}

type CrossFailure = (Option<String>, Option<String>, String);

/// The factor from `code` in `year` to the reporting currency (at the deflator's base-year
/// prices, where there is one), or why there is none.
fn convert(currency: &Currency, code: &str, year: Option<i32>) -> Result<f64, String> {
    let code_u = code.to_ascii_uppercase();
    let report = &currency.report;
    if let (Some(d), true) = (&currency.deflator, currency.knows(code)) {
        match year {
            Some(y) if !d.index.contains_key(&y) => {
                return Err(format!(
                    "the deflator's price index has no value for {y}; add {y} = <index> to [currency] deflator.index"
                ))
            }
            None => return Err("amounts are deflated by year and this row has no year".into()),
            _ => {}
        }
    }
    currency.factor(code, year).ok_or_else(|| match (currency.knows(code), year) {
        (false, _) => format!(
            "no exchange rate for {code_u}; add {code_u} = <{report} per {code_u}> to rates in [currency]"
        ),
        (true, Some(y)) => format!(
            "no {code_u} rate for {y}; add {y} = <{report} per {code_u}> to rates.{code_u} in [currency]"
        ),
        (true, None) => format!(
            "{code_u} has rates per year and this row has no year to pick one"
        ),
    })
}

/// The key that must be unique within a source, where the kind has one.
fn unique_key(
    kind: SourceKind,
    at: &At,
    row: &[Option<Value>],
    period: Option<i32>,
) -> Option<String> {
    let text = |r: Option<usize>| match r.and_then(|r| row[r].as_ref()) {
        Some(Value::Text(s)) => s.to_string(),
        Some(Value::Int(x)) => x.to_string(),
        _ => String::new(),
    };
    let p = period.map(|p| p.to_string()).unwrap_or_default();
    match kind {
        SourceKind::Areas => Some(format!("area `{}` in period `{p}`", text(at.area))),
        SourceKind::CityStats => Some(format!(
            "`{}` for area `{}` in period `{p}`",
            text(at.variable),
            text(at.area)
        )),
        SourceKind::Procurement => Some(format!("contract id `{}`", text(at.id))),
        // Inventories are often reported by sub-sector, several rows per sector and scope, and
        // those rows add up; only a sub-sector named twice is a duplicate.
        SourceKind::Emissions if at.subsector.is_some() => Some(format!(
            "emissions row for area `{}`, period `{p}`, sector `{}`, sub-sector `{}`, scope `{}`",
            text(at.area),
            text(at.sector),
            text(at.subsector),
            text(at.scope)
        )),
        // The same outcome of a project twice would count its value twice.
        SourceKind::Outcomes => Some(format!(
            "outcome `{}` of project `{}` in period `{p}`",
            text(at.outcome),
            text(at.project)
        )),
        _ => None,
    }
}

/// The rejects of all sources as the contract's `rejects` table.
pub fn rejects_frame(rejects: &[&Reject]) -> PolarsResult<DataFrame> {
    let n = rejects.len();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "source".into(),
                rejects.iter().map(|r| &*r.source).collect::<Vec<_>>(),
            ),
            Column::new(
                "file".into(),
                rejects.iter().map(|r| &*r.file).collect::<Vec<_>>(),
            ),
            Column::new(
                "line".into(),
                rejects.iter().map(|r| r.line).collect::<Vec<_>>(),
            ),
            Column::new(
                "column".into(),
                rejects
                    .iter()
                    .map(|r| r.column.as_deref())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "value".into(),
                rejects
                    .iter()
                    .map(|r| r.value.as_deref())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "reason".into(),
                rejects.iter().map(|r| &*r.reason).collect::<Vec<_>>(),
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A microdata CSV checked column by column (as `apply` does) and row by row: the same
    /// kept rows, values and rejects, for cells the plain parse reads and cells it leaves to
    /// the row contract's check (spaces, `+`, exponents, `inf`, `NaN`, commas, empty cells).
    #[test]
    fn csv_microdata_by_columns_equals_by_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = String::from("hid,region,income,weight,age\n");
        let incomes = [
            "100", " 250.5 ", "+3", "1e3", "inf", "NaN", "\"1,5\"", "", "-7", "2e16", "abc", "0.1",
        ];
        let regions = ["AT1", " AT2", "", "AT1 ", "AT3"];
        let weights = ["1", "0", "2.5", " 3", "", "-1", "4"];
        for i in 0..600 {
            let (inc, reg, w) = (
                incomes[i % incomes.len()],
                regions[i % regions.len()],
                weights[i % weights.len()],
            );
            csv.push_str(&format!("{},{reg},{inc},{w},{}\n", i / 3, i % 140));
        }
        std::fs::write(dir.path().join("p.csv"), &csv).unwrap();
        let toml = dir.path().join("t.toml");
        std::fs::write(
            &toml,
            "[pipeline]\nname = \"t\"\n[sources.p]\nkind = \"microdata\"\npath = \"p.csv\"\n\
             period = 2020\ncolumns = { household = \"hid\", area = \"region\" }\n",
        )
        .unwrap();
        let pipeline = crate::config::load(&toml).unwrap();
        let source = &pipeline.sources[0];
        let raw = crate::ingest::read(source).unwrap();
        let by_columns = apply(&pipeline, source, &raw).unwrap();
        let by_rows = Contract::new(&pipeline, source, &raw).by_rows().unwrap();
        assert!(columnar::applies(&Contract::new(&pipeline, source, &raw)));
        assert_eq!(by_columns.rows_read, 600);
        assert!(by_columns.frame.height() > 0 && !by_columns.rejects.is_empty());
        for c in ["income", "weight", "age", "area", "household", "period"] {
            let (a, b) = (
                by_columns.frame.column(c).unwrap(),
                by_rows.frame.column(c).unwrap(),
            );
            assert!(
                a.as_materialized_series()
                    .equals_missing(b.as_materialized_series()),
                "{c}"
            );
        }
        let rejects = |t: &Table| -> Vec<_> {
            t.rejects
                .iter()
                .map(|r| (r.line, r.column.clone(), r.value.clone(), r.reason.clone()))
                .collect()
        };
        assert_eq!(rejects(&by_columns), rejects(&by_rows));
        assert_eq!(
            by_columns.frame.height() + by_columns.rejects.len(),
            by_columns.rows_read
        );
    }

    #[test]
    fn numbers_respect_bounds() {
        assert!(check(POSITIVE, "0").is_err());
        assert!(check(POSITIVE, "0.1").is_ok());
        assert!(check(NON_NEGATIVE, "-1").is_err());
        assert!(check(NON_NEGATIVE, "NaN").is_err());
        assert!(check(NON_NEGATIVE, "inf").is_err());
        assert!(matches!(check(ANY, " -3.5 "), Ok(Some(Value::Number(x))) if x == -3.5));
        assert!(matches!(check(ANY, ""), Ok(None)));
    }

    #[test]
    fn decimal_comma_numbers() {
        assert!(
            matches!(check_with(ANY, "1.234,56", true), Ok(Some(Value::Number(x))) if x == 1234.56)
        );
        assert!(matches!(check_with(ANY, "-0,5", true), Ok(Some(Value::Number(x))) if x == -0.5));
        // Years and texts are left alone.
        assert!(matches!(
            check_with(Rule::Year, "2021", true),
            Ok(Some(Value::Int(2021)))
        ));
        assert!(
            matches!(check_with(Rule::Text, "a.b,c", true), Ok(Some(Value::Text(t))) if t == "a.b,c")
        );
    }

    #[test]
    fn dates_take_iso_forms() {
        assert_eq!(
            parse_date("2021-03-01"),
            NaiveDate::from_ymd_opt(2021, 3, 1)
        );
        assert_eq!(
            parse_date("2021-03-01T00:00:00Z"),
            NaiveDate::from_ymd_opt(2021, 3, 1)
        );
        assert_eq!(parse_date("2021"), NaiveDate::from_ymd_opt(2021, 1, 1));
        assert_eq!(parse_date("01/03/2021"), None);
        assert_eq!(parse_date("2021-02-30"), None);
    }

    #[test]
    fn enumerations_suggest_the_nearest_value() {
        let err = check(Rule::OneOf(&FUNDING_SOURCES), "crowdfundng").unwrap_err();
        assert!(err.contains("did you mean `crowdfunding`?"), "{err}");
        assert!(
            matches!(check(Rule::OneOf(&FUNDING_SOURCES), "EU fund"), Ok(Some(Value::Text(s))) if s == "eu_fund")
        );
        assert!(matches!(check(Rule::Sex, "2"), Ok(Some(Value::Text(s))) if s == "female"));
    }

    #[test]
    fn rows_checked_in_parts_keep_file_order() {
        // 3000 contracts: more rows than one part, so parts are checked side by side; a
        // duplicate id far from its first row, and broken rows in several parts.
        let (dir, pipeline) = crate::config::one_source("procurement");
        let mut csv = String::from("id,buyer,supplier,amount,date\n");
        let mut expected_sum = 0.0;
        for i in 0..3000 {
            let id = if i == 2500 { 10 } else { i };
            let amount = if i % 700 == 3 {
                "-5".to_string()
            } else {
                format!("{i}.25")
            };
            csv.push_str(&format!("C{id},city,firm{i},{amount},2021-05-01\n"));
            if i % 700 != 3 && i != 2500 {
                expected_sum += i as f64 + 0.25;
            }
        }
        std::fs::write(dir.path().join("p.csv"), csv).unwrap();
        let source = &pipeline.sources[0];
        let raw = crate::ingest::read(source).unwrap();
        assert!(rows_per_part(raw.len()) < raw.len());
        let table = apply(&pipeline, source, &raw).unwrap();
        let lines: Vec<i64> = table.rejects.iter().map(|r| r.line).collect();
        // Row i is on line i + 2; the negative amounts sit at rows 3, 703, 1403, 2103, 2803.
        assert_eq!(lines, [5, 705, 1405, 2105, 2502, 2805]);
        assert_eq!(
            &*table.rejects[4].reason,
            "duplicate contract id `C10`: the same row key was already read at line 12"
        );
        assert_eq!(table.rows_read, 3000);
        assert_eq!(table.rows_kept(), 3000 - 6);
        let amounts = table.frame.column("amount").unwrap().f64().unwrap();
        assert_eq!(amounts.sum(), Some(expected_sum));
        let suppliers = table.frame.column("supplier").unwrap().str().unwrap();
        assert_eq!(suppliers.get(0), Some("firm0"));
        assert_eq!(suppliers.get(2994 - 1), Some("firm2999"));
    }
}

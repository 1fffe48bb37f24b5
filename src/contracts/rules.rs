//! The vocabulary and the rules behind each role: which codes a role allows, the type and bounds
//! of its values, and how one cell is parsed and checked. A check returns the typed value or a
//! reason a person can act on; it knows nothing of rows, files or rejects.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;

use crate::config::{Currency, Pipeline, Source, SourceKind};

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
pub(super) enum Rule {
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

pub(super) const ANY: Rule = Rule::Number {
    min: None,
    above: false,
    max: None,
};
pub(super) const NON_NEGATIVE: Rule = Rule::Number {
    min: Some(0.0),
    above: false,
    max: None,
};
const FRACTION: Rule = Rule::Number {
    min: Some(0.0),
    above: false,
    max: Some(1.0),
};
pub(super) const POSITIVE: Rule = Rule::Number {
    min: Some(0.0),
    above: true,
    max: None,
};

pub(super) fn rule(kind: SourceKind, role: &str) -> Rule {
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
pub(super) enum Value<'a> {
    Text(Cow<'a, str>),
    Number(f64),
    Int(i32),
    Bool(bool),
}

/// Parses and checks one cell; `Ok(None)` is an empty cell.
#[cfg(test)]
pub(super) fn check(rule: Rule, raw: &str) -> Result<Option<Value<'_>>, String> {
    check_with(rule, raw, false)
}

/// Parses and checks one cell; with `decimal_comma`, numbers are read as `1.234,56`.
pub(super) fn check_with(
    rule: Rule,
    raw: &str,
    decimal_comma: bool,
) -> Result<Option<Value<'_>>, String> {
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
pub(super) fn check_number(
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

/// Whether `x` passes [`check_number`], without the message it would give. Branch-free, so
/// that a loop over a column's values vectorises (NaN fails every comparison).
#[inline]
pub(super) fn passes((min, above, max): (Option<f64>, bool, Option<f64>), x: f64) -> bool {
    let (lo, hi) = (min.unwrap_or(-MAGNITUDE), max.unwrap_or(MAGNITUDE));
    let low = (above & (x > lo)) | (!above & (x >= lo));
    (x.abs() <= MAGNITUDE) & (x <= hi) & low
}

/// What a text file's reader may type as it reads a number role's cells: a cell written as a
/// plain number (as `str::parse::<f64>` reads it: no spaces, no thousands separators) that
/// passes the role's bounds is a cell the contract keeps as that number, with nothing to say
/// about it. Every other cell is for the contract to check, and to quote as written.
#[derive(Debug, Clone, Copy)]
pub struct PlainNumbers {
    bounds: (Option<f64>, bool, Option<f64>),
}

impl PlainNumbers {
    /// For a number role of a source that writes decimal points; `None` for any other role,
    /// or where decimal commas make `1.234` a thousand.
    pub fn of(kind: SourceKind, role: &str, decimal_comma: bool) -> Option<PlainNumbers> {
        match rule(kind, role) {
            Rule::Number { min, above, max } if !decimal_comma => Some(PlainNumbers {
                bounds: (min, above, max),
            }),
            _ => None,
        }
    }

    /// The number the contract keeps for `cell`, where it keeps it as written.
    pub fn read(&self, cell: &str) -> Option<f64> {
        self.keeps(fast_float2::parse(cell).ok()?)
    }

    /// `x`, where the contract keeps the cell that reads as it as that number.
    pub fn keeps(&self, x: f64) -> Option<f64> {
        passes(self.bounds, x).then_some(x)
    }
}

/// Whether the contract keeps a non-empty cell of `rule` exactly as written: text and keys
/// with nothing to trim, dates in the form `2021-03-01`, codes as the vocabulary spells them.
pub(super) fn as_written(rule: Rule, s: &str) -> bool {
    match rule {
        Rule::Text | Rule::Key => s.trim().len() == s.len(),
        Rule::Date => plain_date(s),
        Rule::OneOf(allowed) => allowed.contains(&s),
        _ => false,
    }
}

/// What a text file's reader may note about a text role's cells while it reads them: whether
/// each is one the contract keeps exactly as written (see [`as_written`]; an empty cell is
/// not, it becomes missing). Where every cell of a column is, the contract keeps the column as
/// it was read without reading it again, while the reader looks at each cell as it passes.
#[derive(Debug, Clone, Copy)]
pub struct AsWritten {
    rule: Rule,
}

impl AsWritten {
    /// For a role kept as text, a date or a code; `None` for any other.
    pub fn of(kind: SourceKind, role: &str) -> Option<AsWritten> {
        let rule = rule(kind, role);
        matches!(rule, Rule::Text | Rule::Key | Rule::Date | Rule::OneOf(_))
            .then_some(AsWritten { rule })
    }

    pub fn holds(&self, cell: &str) -> bool {
        !cell.is_empty() && as_written(self.rule, cell)
    }
}

/// A valid date within 1900-2100 written `YYYY-MM-DD`: the form the contract keeps as it is.
pub(super) fn plain_date(s: &str) -> bool {
    if !is_plain_date(s) {
        return false;
    }
    let b = s.as_bytes();
    let n = |i: usize, k: usize| {
        b[i..i + k]
            .iter()
            .fold(0u32, |v, d| v * 10 + (d - b'0') as u32)
    };
    let (y, m, d) = (n(0, 4), n(5, 2), n(8, 2));
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    (1900..=2100).contains(&y) && (1..=days).contains(&d)
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
pub(super) fn parse_date(s: &str) -> Option<NaiveDate> {
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

/// The factors from a currency in a year to the reporting currency, each found once: a file has
/// a few currencies and years, and a short list finds them faster than converting (or hashing)
/// each row's.
pub(super) struct Rates<'a> {
    currency: &'a Currency,
    seen: Vec<(Key<'a>, Result<f64, Arc<str>>)>,
}

/// A currency code and a year.
type Key<'a> = (&'a str, Option<i32>);

impl<'a> Rates<'a> {
    pub(super) fn new(currency: &'a Currency) -> Rates<'a> {
        Rates {
            currency,
            seen: Vec::new(),
        }
    }

    /// [`convert`]'s answer for `code` in `year`, the reason shared by every row it rejects.
    pub(super) fn factor(&mut self, code: &'a str, year: Option<i32>) -> &Result<f64, Arc<str>> {
        let at = match self
            .seen
            .iter()
            .position(|((c, y), _)| *y == year && *c == code)
        {
            Some(i) => i,
            None => {
                let factor = convert(self.currency, code, year).map_err(Arc::from);
                self.seen.push(((code, year), factor));
                self.seen.len() - 1
            }
        };
        &self.seen[at].1
    }
}

/// The factor from `code` in `year` to the reporting currency (at the deflator's base-year
/// prices, where there is one), or why there is none.
pub(super) fn convert(currency: &Currency, code: &str, year: Option<i32>) -> Result<f64, String> {
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

/// A city statistic's rule across its variable and value: the variable must map to a rate, a
/// count of persons or an indicator the pipeline declares; a rate lies within 0-100 and a
/// count is not negative. Breaking it gives the role whose cell broke it, the cell as text,
/// and why.
pub fn city_stat(
    source: &Source,
    pipeline: &Pipeline,
    code: &str,
    value: Option<f64>,
) -> Result<(), (&'static str, String, String)> {
    let mapped = source.variables.get(code);
    let id: &str = mapped.map(String::as_str).unwrap_or(code);
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
        return Err(("variable", code.to_string(), why));
    }
    let Some(v) = value else {
        return Ok(());
    };
    if is_rate && !(0.0..=100.0).contains(&v) {
        return Err((
            "value",
            v.to_string(),
            format!("{id} is a percentage; {v} lies outside 0-100"),
        ));
    }
    if !is_rate && !declared && v < 0.0 {
        return Err((
            "value",
            v.to_string(),
            format!("{id} is a count of persons; {v} is negative"),
        ));
    }
    Ok(())
}

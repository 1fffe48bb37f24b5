//! One contract per source kind: the type and the checks behind each role. A row that breaks its
//! contract becomes a [`Reject`] with the file, line, column, value and a reason a person can act
//! on; the rest becomes a typed polars frame whose columns are the role names. Nothing is
//! dropped silently: rows read = rows kept + rows rejected, for every source.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;

use crate::config::{Currency, Pipeline, Source, SourceKind};
use crate::ingest::RawTable;

/// An input row that was not used, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub source: String,
    pub file: String,
    pub line: i64,
    pub column: Option<String>,
    pub value: Option<String>,
    pub reason: String,
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

/// A typed cell.
#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Number(f64),
    Int(i32),
    Bool(bool),
}

/// Parses and checks one cell; `Ok(None)` is an empty cell.
#[cfg(test)]
fn check(rule: Rule, raw: &str) -> Result<Option<Value>, String> {
    check_with(rule, raw, false)
}

/// Parses and checks one cell; with `decimal_comma`, numbers are read as `1.234,56`.
fn check_with(rule: Rule, raw: &str, decimal_comma: bool) -> Result<Option<Value>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let normalised;
    let s = if decimal_comma && matches!(rule, Rule::Number { .. }) {
        normalised = s.replace('.', "").replace(',', ".");
        normalised.as_str()
    } else {
        s
    };
    let v = match rule {
        Rule::Text => Value::Text(s.to_string()),
        Rule::Number { min, above, max } => {
            let x: f64 = s
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| format!("`{s}` is not a number"))?;
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
            Value::Number(x)
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
            Value::Text(d.format("%Y-%m-%d").to_string())
        }
        Rule::Sex => match s.to_ascii_lowercase().as_str() {
            // EU-SILC RB090 codes 1 and 2.
            "male" | "m" | "1" => Value::Text("male".into()),
            "female" | "f" | "2" => Value::Text("female".into()),
            _ => {
                return Err(format!(
                    "`{s}` is not a sex (male/female, or RB090 codes 1/2)"
                ))
            }
        },
        Rule::OneOf(allowed) => {
            let l = s.to_ascii_lowercase().replace([' ', '-'], "_");
            if allowed.contains(&l.as_str()) {
                Value::Text(l)
            } else {
                let hint = crate::config::nearest(&l, allowed.iter().copied())
                    .map(|n| format!("did you mean `{n}`?"))
                    .unwrap_or_else(|| format!("allowed: {}", allowed.join(", ")));
                return Err(format!("`{s}` is not allowed here; {hint}"));
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

/// ISO dates as grant makers publish them: `2021-03-01`, with a time part, or a bare year.
fn parse_date(s: &str) -> Option<NaiveDate> {
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

fn dtype(rule: Rule) -> DataType {
    match rule {
        Rule::Number { .. } => DataType::Float64,
        Rule::Year | Rule::Scope => DataType::Int32,
        Rule::Bool => DataType::Boolean,
        _ => DataType::String,
    }
}

/// Builds a typed column from checked cells of the kept rows.
fn column(name: &str, dt: &DataType, values: Vec<Option<Value>>) -> Column {
    let name = PlSmallStr::from(name);
    match dt {
        DataType::Float64 => Column::new(
            name,
            values
                .into_iter()
                .map(|v| match v {
                    Some(Value::Number(x)) => Some(x),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        DataType::Int32 => Column::new(
            name,
            values
                .into_iter()
                .map(|v| match v {
                    Some(Value::Int(x)) => Some(x),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        DataType::Boolean => Column::new(
            name,
            values
                .into_iter()
                .map(|v| match v {
                    Some(Value::Bool(x)) => Some(x),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        _ => Column::new(
            name,
            values
                .into_iter()
                .map(|v| match v {
                    Some(Value::Text(x)) => Some(x),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
    }
}

/// Applies a source's contract to its raw rows.
pub fn apply(pipeline: &Pipeline, source: &Source, raw: &RawTable) -> Result<Table, PolarsError> {
    let kind = source.kind;
    let n = raw.len();
    let rules: Vec<Rule> = raw.roles.iter().map(|r| rule(kind, r)).collect();
    let mut typed: Vec<Vec<Option<Value>>> = vec![Vec::with_capacity(n); raw.roles.len()];
    let mut rejects = Vec::new();
    let mut filtered = 0usize;
    let ragged: HashMap<u64, usize> = raw.ragged.iter().copied().collect();
    let mut seen_keys: HashMap<String, u64> = HashMap::new();
    // Derived per-row values: period, converted amount, mapped variable.
    let mut period: Vec<Option<i32>> = Vec::with_capacity(n);
    let mut keep = Vec::with_capacity(n);
    let required: HashSet<&str> = kind.required_roles().iter().copied().collect();

    for i in 0..n {
        let line = raw.lines[i];
        let file = raw.file(i).unwrap_or(&source.path).to_string();
        let reject = |column: Option<&str>, value: Option<&str>, reason: String| Reject {
            source: source.name.clone(),
            file: file.clone(),
            line: line as i64,
            column: column.map(String::from),
            value: value.map(String::from),
            reason,
        };
        let mut row: Vec<Option<Value>> = Vec::with_capacity(raw.roles.len());
        let mut bad: Option<Reject> = None;
        // Ragged rows are keyed by line and file (see RawTable::concat).
        let ragged_key = line | (raw.file_of.get(i).copied().unwrap_or(0) as u64) << 40;
        if let Some(&fields) = ragged.get(&ragged_key) {
            let why = if fields == 0 {
                "this line is not a record (not valid JSON, or not an object); fix or remove it"
                    .to_string()
            } else {
                format!(
                    "the row has {fields} fields but the header has {}; check for an unquoted separator",
                    raw.header_len
                )
            };
            bad = Some(reject(None, None, why));
        }
        for (r, role) in raw.roles.iter().enumerate() {
            if bad.is_some() {
                break;
            }
            let cell = raw.cells[r][i].as_deref();
            let column = raw.columns[r].as_str();
            match check_with(rules[r], cell.unwrap_or(""), source.decimal_comma) {
                Ok(None) if required.contains(role.as_str()) => {
                    bad = Some(reject(
                        Some(column),
                        cell,
                        format!("`{column}` ({role}) is empty; every row needs it"),
                    ));
                }
                Ok(v) => row.push(v),
                Err(why) => {
                    bad = Some(reject(
                        Some(column),
                        cell,
                        format!("`{column}` ({role}): {why}"),
                    ))
                }
            }
        }
        // Cross-field rules.
        let mut row_period = source.period;
        if bad.is_none() {
            bad = cross_checks(pipeline, source, raw, &mut row, &mut row_period)
                .map(|(col, val, why)| reject(col.as_deref(), val.as_deref(), why));
        }
        if bad.is_none() {
            if let Some(p) = row_period {
                if !pipeline.in_periods(p) {
                    let (from, to) = pipeline.periods.unwrap_or((p, p));
                    bad = Some(reject(
                        None,
                        Some(&p.to_string()),
                        format!("period {p} is outside the pipeline's periods {from}-{to}"),
                    ));
                    filtered += 1;
                }
            }
        }
        if bad.is_none() {
            if let Some(key) = unique_key(kind, raw, &row, row_period) {
                if let Some(first) = seen_keys.get(&key) {
                    bad = Some(reject(
                        None,
                        Some(&key),
                        format!(
                            "duplicate {key}: the same row key was already read at line {first}"
                        ),
                    ));
                } else {
                    seen_keys.insert(key, line);
                }
            }
        }
        match bad {
            Some(r) => {
                rejects.push(r);
                keep.push(false);
            }
            None => {
                for (r, v) in row.into_iter().enumerate() {
                    typed[r].push(v);
                }
                period.push(row_period);
                keep.push(true);
            }
        }
    }

    let height = period.len();
    let mut columns: Vec<Column> = raw
        .roles
        .iter()
        .zip(rules.iter())
        .zip(typed)
        .filter(|((role, _), _)| role.as_str() != "period")
        .map(|((role, rule), values)| column(role, &dtype(*rule), values))
        .collect();
    columns.push(Column::new("period".into(), period));
    let frame = DataFrame::new(height, columns)?;
    Ok(Table {
        source: source.name.clone(),
        kind,
        frame,
        rows_read: n,
        rejects,
        rows_filtered: filtered,
    })
}

type CrossFailure = (Option<String>, Option<String>, String);

/// Rules that look at more than one cell: the period, currency conversion, date order and
/// variable mapping. May rewrite the row (converted amount, mapped variable id).
fn cross_checks(
    pipeline: &Pipeline,
    source: &Source,
    raw: &RawTable,
    row: &mut [Option<Value>],
    period: &mut Option<i32>,
) -> Option<CrossFailure> {
    // A macro rather than a closure, so that reading one cell does not hold a borrow of the
    // row that is rewritten below (and no copy of the whole row is needed).
    macro_rules! get {
        ($role:expr) => {
            raw.role($role).and_then(|r| row.get(r).cloned().flatten())
        };
    }
    let col = |role: &str| Some(source.column_for(role).to_string());
    if let Some(Value::Int(p)) = get!("period") {
        *period = Some(p);
    }
    match source.kind {
        SourceKind::Projects | SourceKind::Procurement => {
            let date_role = if source.kind == SourceKind::Projects {
                "start"
            } else {
                "date"
            };
            if let Some(Value::Text(d)) = get!(date_role) {
                *period = d.get(..4).and_then(|y| y.parse().ok());
            }
            if let (Some(Value::Text(start)), Some(Value::Text(end))) = (get!("start"), get!("end"))
            {
                if end < start {
                    return Some((
                        col("end"),
                        Some(end.clone()),
                        format!("the end date {end} is before the start date {start}"),
                    ));
                }
            }
            if let Some(r) = raw.role("currency") {
                let code = match get!("currency") {
                    Some(Value::Text(c)) => c,
                    _ => pipeline.currency.report.clone(),
                };
                match convert(&pipeline.currency, &code) {
                    Ok(factor) => {
                        if let Some(a) = raw.role("amount") {
                            if let Some(Value::Number(x)) = row[a] {
                                row[a] = Some(Value::Number(x * factor));
                            }
                        }
                        row[r] = Some(Value::Text(pipeline.currency.report.clone()));
                    }
                    Err(why) => return Some((col("currency"), Some(code), why)),
                }
            }
        }
        SourceKind::CityStats => {
            if let (Some(r), Some(Value::Text(code))) = (raw.role("variable"), get!("variable")) {
                let id = source.variables.get(&code).cloned().unwrap_or(code.clone());
                let is_rate = CITY_STAT_RATES.contains(&id.as_str());
                if !is_rate && !CITY_STAT_COUNTS.contains(&id.as_str()) {
                    let why = if source.variables.contains_key(&code) {
                        format!(
                            "variable `{code}` maps to `{id}`, which a city_stats source cannot give; use a rate ({}) or a count ({})",
                            CITY_STAT_RATES.join(", "),
                            CITY_STAT_COUNTS.join(", ")
                        )
                    } else {
                        format!("variable `{code}` is not mapped to an indicator; add it to `variables` in [sources.{}], e.g. {{ {code} = \"unemployment_rate\" }}", source.name)
                    };
                    return Some((col("variable"), Some(code), why));
                }
                if let Some(Value::Number(v)) = get!("value") {
                    if is_rate && !(0.0..=100.0).contains(&v) {
                        return Some((
                            col("value"),
                            Some(v.to_string()),
                            format!("{id} is a percentage; {v} lies outside 0-100"),
                        ));
                    }
                    if !is_rate && v < 0.0 {
                        return Some((
                            col("value"),
                            Some(v.to_string()),
                            format!("{id} is a count of persons; {v} is negative"),
                        ));
                    }
                }
                row[r] = Some(Value::Text(id));
            }
            if get!("value").is_none() {
                return Some((col("value"), None, "the value is missing".into()));
            }
        }
        SourceKind::Microdata if raw.role("income").is_some() && get!("income").is_none() => {
            let c = source.column_for("income");
            return Some((
                col("income"),
                None,
                format!("`{c}` (income) is empty; every row needs it"),
            ));
        }
        SourceKind::Microdata if raw.role("income").is_none() => {
            // Equivalising household income here needs the household and every member's age.
            for role in ["household_income", "household", "age"] {
                if get!(role).is_none() {
                    return Some((
                        col(role),
                        None,
                        format!(
                            "`{}` ({role}) is empty; it is needed to equivalise household income",
                            source.column_for(role)
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    None
}

fn convert(currency: &Currency, code: &str) -> Result<f64, String> {
    currency.factor(code).ok_or_else(|| {
        format!(
            "no exchange rate for {code}; add {code} = <{report} per {code}> to rates in [currency]",
            code = code.to_ascii_uppercase(),
            report = currency.report
        )
    })
}

/// The key that must be unique within a source, where the kind has one.
fn unique_key(
    kind: SourceKind,
    raw: &RawTable,
    row: &[Option<Value>],
    period: Option<i32>,
) -> Option<String> {
    let text = |role: &str| match raw.role(role).and_then(|r| row[r].as_ref()) {
        Some(Value::Text(s)) => s.clone(),
        Some(Value::Int(x)) => x.to_string(),
        _ => String::new(),
    };
    let p = period.map(|p| p.to_string()).unwrap_or_default();
    match kind {
        SourceKind::Areas => Some(format!("area `{}` in period `{p}`", text("area"))),
        SourceKind::CityStats => Some(format!(
            "`{}` for area `{}` in period `{p}`",
            text("variable"),
            text("area")
        )),
        SourceKind::Procurement => Some(format!("contract id `{}`", text("id"))),
        SourceKind::Emissions => Some(format!(
            "emissions row for area `{}`, period `{p}`, sector `{}`, scope `{}`",
            text("area"),
            text("sector"),
            text("scope")
        )),
        _ => None,
    }
}

/// The rejects of all sources as the contract's `rejects` table.
pub fn rejects_frame(rejects: &[Reject]) -> PolarsResult<DataFrame> {
    let n = rejects.len();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "source".into(),
                rejects
                    .iter()
                    .map(|r| r.source.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "file".into(),
                rejects.iter().map(|r| r.file.as_str()).collect::<Vec<_>>(),
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
                rejects
                    .iter()
                    .map(|r| r.reason.as_str())
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

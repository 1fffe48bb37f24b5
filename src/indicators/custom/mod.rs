//! Custom indicators: an analyst's own SQL over the pipeline's tables, run with polars' SQL
//! over lazy frames (`[indicators.custom.ID]` in the pipeline file).
//!
//! - `tables`: what a query reads: each source under its name, and `indicators`.
//! - `explain`: polars' errors as a place in the pipeline file and the nearest valid name.
//! - here: the order the queries run in (a query that reads another custom indicator by its
//!   quoted id runs after it), [`check`] on empty tables before anything is read, and
//!   [`Session`], which runs the queries and turns their rows into indicator values.
//!
//! A query returns `area`, `period` and `value`, and may return `breakdown`, `numerator`,
//! `denominator` and `n`. NaN, infinity, a missing area and a duplicate key are errors that
//! name the indicator; a missing value is left out with a note, as the families do.

mod explain;
pub mod tables;

use std::collections::{BTreeSet, HashMap};

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::catalogue::Resolved;
use crate::config::{CustomIndicator, Location, Pipeline};
use crate::contracts::Table;
use crate::indicators::{Output, Skipped, Value};
use explain::{explain, find_word};
use tables::INDICATORS;

/// A custom indicator's query could not be run, or gave values the contract does not allow.
#[derive(Debug, thiserror::Error)]
pub enum CustomError {
    #[error("{location}: custom indicator `{id}`: {message}")]
    Query {
        id: String,
        location: Location,
        message: String,
        hint: Option<String>,
    },
    #[error("custom indicator `{id}`: cannot build its tables: {source}")]
    Internal {
        id: String,
        #[source]
        source: PolarsError,
    },
}

impl CustomError {
    fn query(
        c: &CustomIndicator,
        location: Location,
        message: String,
        hint: Option<String>,
    ) -> CustomError {
        CustomError::Query {
            id: c.id.clone(),
            location,
            message,
            hint,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            CustomError::Query { hint, .. } => hint.clone(),
            CustomError::Internal { .. } => Some(
                "this is likely a bug in cityimpact; please report it with the pipeline file"
                    .into(),
            ),
        }
    }

    /// Query errors are the pipeline file's to fix (exit 2); the rest are ours (exit 1).
    pub fn is_config(&self) -> bool {
        matches!(self, CustomError::Query { .. })
    }
}

/// The columns a query may return, and whether each is required.
const RESULT: [(&str, bool); 7] = [
    ("area", true),
    ("period", true),
    ("value", true),
    ("breakdown", false),
    ("numerator", false),
    ("denominator", false),
    ("n", false),
];

/// The tables a query reads, lower-cased; a query that does not parse reads nothing yet.
pub fn reads(c: &CustomIndicator) -> BTreeSet<String> {
    polars::sql::extract_table_identifiers(&c.sql, false, true)
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.to_lowercase())
        .collect()
}

/// The custom indicators `c` reads from `indicators`: those whose id its query quotes.
pub fn dependencies<'p>(c: &CustomIndicator, all: &'p [CustomIndicator]) -> Vec<&'p str> {
    if !reads(c).contains(INDICATORS) {
        return Vec::new();
    }
    all.iter()
        .filter(|o| o.id != c.id && c.sql.contains(&format!("'{}'", o.id)))
        .map(|o| o.id.as_str())
        .collect()
}

/// The custom indicators in an order where each comes after those it reads; among those
/// free to go, by id. A cycle is an error at its first member.
pub fn order(pipeline: &Pipeline) -> Result<Vec<&CustomIndicator>, CustomError> {
    let all = &pipeline.custom;
    let deps: HashMap<&str, Vec<&str>> = all
        .iter()
        .map(|c| (c.id.as_str(), dependencies(c, all)))
        .collect();
    let mut done: Vec<&CustomIndicator> = Vec::with_capacity(all.len());
    while done.len() < all.len() {
        let next = all.iter().find(|c| {
            !done.iter().any(|d| d.id == c.id)
                && deps[c.id.as_str()]
                    .iter()
                    .all(|d| done.iter().any(|x| x.id == *d))
        });
        match next {
            Some(c) => done.push(c),
            None => {
                let left: Vec<&CustomIndicator> = all
                    .iter()
                    .filter(|c| !done.iter().any(|d| d.id == c.id))
                    .collect();
                let first = left[0];
                return Err(CustomError::query(
                    first,
                    first.at.clone(),
                    format!(
                        "custom indicators {} read each other in a cycle",
                        cycle(first, &deps)
                    ),
                    Some(
                        "a query reads another custom indicator when it quotes its id; break the cycle"
                            .into(),
                    ),
                ));
            }
        }
    }
    Ok(done)
}

/// `a` → `b` → `a`, following the first unfinished dependency from `start`.
fn cycle(start: &CustomIndicator, deps: &HashMap<&str, Vec<&str>>) -> String {
    let mut path = vec![start.id.as_str()];
    loop {
        let last = path[path.len() - 1];
        let Some(next) = deps.get(last).and_then(|d| d.first()) else {
            break;
        };
        let seen = path.contains(next);
        path.push(next);
        if seen || path.len() > deps.len() + 1 {
            break;
        }
    }
    path.iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Every query, run on empty tables of the right columns: it parses, reads tables and
/// columns that exist, and returns the columns an indicator needs in usable types. Nothing is
/// read, so `validate` and `run` call this before any source.
pub fn check(pipeline: &Pipeline, catalogue: &Resolved) -> Result<(), CustomError> {
    if pipeline.custom.is_empty() {
        return Ok(());
    }
    let internal = |c: &CustomIndicator| {
        let id = c.id.clone();
        move |source| CustomError::Internal { id, source }
    };
    let first = &pipeline.custom[0];
    let mut schemas: Vec<(String, Schema)> = pipeline
        .sources
        .iter()
        .map(|s| (s.name.clone(), tables::source_schema(s.kind)))
        .collect();
    schemas.push((
        INDICATORS.into(),
        tables::indicators_schema(catalogue).map_err(internal(first))?,
    ));
    let names: Vec<(String, Vec<String>)> = schemas
        .iter()
        .map(|(n, s)| (n.clone(), s.iter_names().map(|c| c.to_string()).collect()))
        .collect();
    let known = explain::Tables { tables: &names };
    for c in order(pipeline)? {
        let ctx = SQLContext::new();
        for (name, schema) in &schemas {
            ctx.register(name, DataFrame::empty_with_schema(schema).lazy());
        }
        let df = run_query(ctx, c, &known)?;
        result_columns(c, &df)?;
    }
    Ok(())
}

fn run_query(
    mut ctx: SQLContext,
    c: &CustomIndicator,
    known: &explain::Tables,
) -> Result<DataFrame, CustomError> {
    ctx.execute(&c.sql)
        .and_then(|lf| lf.collect())
        .map_err(|e| explain(c, known, &e))
}

/// The result's columns, cast to the contract's types, or an error naming the column.
fn result_columns(c: &CustomIndicator, df: &DataFrame) -> Result<Vec<Option<Column>>, CustomError> {
    let names: Vec<&str> = RESULT.iter().map(|(n, _)| *n).collect();
    for name in df.get_column_names() {
        if !names.contains(&name.as_str()) {
            let near = crate::config::nearest(name, names.iter().copied())
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            return Err(CustomError::query(
                c,
                c.location(find_word(&c.sql, name).unwrap_or(0)),
                format!("the query returns a column `{name}` an indicator does not have"),
                Some(format!(
                    "{near}a query returns area, period and value, and may return breakdown, numerator, denominator and n; name them with AS"
                )),
            ));
        }
    }
    let mut out = Vec::with_capacity(RESULT.len());
    for (name, required) in RESULT {
        let Ok(col) = df.column(name) else {
            if required {
                return Err(CustomError::query(
                    c,
                    c.location(0),
                    format!("the query returns no `{name}` column"),
                    Some(format!(
                        "name the column `{name}` with AS; a query returns area, period and value"
                    )),
                ));
            }
            out.push(None);
            continue;
        };
        let dtype = col.dtype();
        let (target, fits) = match name {
            "area" | "breakdown" => (
                DataType::String,
                dtype.is_string() || dtype.is_integer() || dtype.is_null(),
            ),
            "period" => (DataType::Int32, dtype.is_integer() || dtype.is_null()),
            "n" => (DataType::Int64, dtype.is_integer() || dtype.is_null()),
            _ => (
                DataType::Float64,
                dtype.is_primitive_numeric() || dtype.is_null(),
            ),
        };
        if !fits {
            return Err(CustomError::query(
                c,
                c.location(find_word(&c.sql, name).unwrap_or(0)),
                format!(
                    "the query's `{name}` column is {dtype}, not {}",
                    kind_of(name)
                ),
                Some(format!(
                    "CAST it in the query, e.g. CAST(... AS {})",
                    sql_type(name)
                )),
            ));
        }
        let cast = col.cast(&target).map_err(|e| {
            CustomError::query(
                c,
                c.location(0),
                format!(
                    "the query's `{name}` column cannot be read as {}: {e}",
                    kind_of(name)
                ),
                None,
            )
        })?;
        out.push(Some(cast));
    }
    Ok(out)
}

fn kind_of(name: &str) -> &'static str {
    match name {
        "area" | "breakdown" => "text",
        "period" => "a whole year",
        "n" => "a whole number",
        _ => "a number",
    }
}

fn sql_type(name: &str) -> &'static str {
    match name {
        "area" | "breakdown" => "VARCHAR",
        "period" | "n" => "INTEGER",
        _ => "DOUBLE",
    }
}

/// Runs the pipeline's queries over its contract tables and the values computed before them.
pub struct Session<'a> {
    pipeline: &'a Pipeline,
    tables: &'a [Table],
    catalogue: &'a Resolved,
    levels: &'a HashMap<String, String>,
    /// The built-in values as the `indicators` table.
    built_in: DataFrame,
    /// Each custom indicator's values as the `indicators` table holds them.
    computed: HashMap<String, DataFrame>,
    names: Vec<(String, Vec<String>)>,
}

impl<'a> Session<'a> {
    pub fn new(
        pipeline: &'a Pipeline,
        tables: &'a [Table],
        values: &[Value],
        catalogue: &'a Resolved,
        levels: &'a HashMap<String, String>,
    ) -> PolarsResult<Session<'a>> {
        let mut names: Vec<(String, Vec<String>)> = pipeline
            .sources
            .iter()
            .map(|s| {
                let schema = tables::source_schema(s.kind);
                (
                    s.name.clone(),
                    schema.iter_names().map(|c| c.to_string()).collect(),
                )
            })
            .collect();
        let built_in = tables::values_frame(values, catalogue)?;
        names.push((
            INDICATORS.into(),
            built_in
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect(),
        ));
        Ok(Session {
            pipeline,
            tables,
            catalogue,
            levels,
            built_in,
            computed: HashMap::new(),
            names,
        })
    }

    /// Makes `values` (computed now or reused) readable by the queries that depend on `id`.
    pub fn record(&mut self, id: &str, values: &[Value]) -> PolarsResult<()> {
        let df = tables::values_frame(values, self.catalogue)?;
        self.computed.insert(id.to_string(), df);
        Ok(())
    }

    /// Runs `c`'s query and gives its values (and notes for rows without a value).
    pub fn compute(&mut self, c: &CustomIndicator) -> Result<Output, CustomError> {
        let internal = |source| CustomError::Internal {
            id: c.id.clone(),
            source,
        };
        let ctx = SQLContext::new();
        let read = reads(c);
        for t in self.tables {
            if !read.contains(&t.source.to_lowercase()) {
                continue;
            }
            // Only the columns this query reads: a table per query, built in its own pass.
            let only = tables::columns_read(t.kind, &c.sql);
            let df = tables::source_frame(self.pipeline, t, Some(&only)).map_err(internal)?;
            ctx.register(&t.source, df.lazy());
        }
        if read.contains(INDICATORS) {
            let mut df = self.built_in.clone();
            for dep in dependencies(c, &self.pipeline.custom) {
                if let Some(d) = self.computed.get(dep) {
                    df.vstack_mut(d).map_err(internal)?;
                }
            }
            ctx.register(INDICATORS, df.lazy());
        }
        let known = explain::Tables {
            tables: &self.names,
        };
        let df = run_query(ctx, c, &known)?;
        let columns = result_columns(c, &df)?;
        values(c, &columns, self.levels)
    }
}

/// The result's rows as values, in the order the query gave them.
fn values(
    c: &CustomIndicator,
    columns: &[Option<Column>],
    levels: &HashMap<String, String>,
) -> Result<Output, CustomError> {
    let text = |k: usize| -> Vec<Option<String>> {
        columns[k].as_ref().map_or_else(Vec::new, |col| {
            col.str()
                .map(|s| s.iter().map(|v| v.map(str::to_string)).collect())
                .unwrap_or_default()
        })
    };
    let float = |k: usize| -> Vec<Option<f64>> {
        columns[k].as_ref().map_or_else(Vec::new, |col| {
            col.f64().map(|s| s.iter().collect()).unwrap_or_default()
        })
    };
    let (area, breakdown) = (text(0), text(3));
    let period: Vec<Option<i32>> = columns[1]
        .as_ref()
        .and_then(|col| col.i32().ok().map(|s| s.iter().collect()))
        .unwrap_or_default();
    let n: Vec<Option<i64>> = columns[6]
        .as_ref()
        .and_then(|col| col.i64().ok().map(|s| s.iter().collect()))
        .unwrap_or_default();
    let (value, numerator, denominator) = (float(2), float(4), float(5));
    let at = |v: &[Option<f64>], i: usize| v.get(i).copied().flatten();
    let mut out = Output::default();
    let mut seen = BTreeSet::new();
    for (i, a) in area.iter().enumerate() {
        let p = period.get(i).copied().flatten();
        let b = breakdown.get(i).cloned().flatten();
        let where_ = |a: &str| {
            format!(
                "area `{a}`, period {}{}",
                p.map_or("-".into(), |p| p.to_string()),
                b.as_ref()
                    .map_or(String::new(), |b| format!(", breakdown `{b}`"))
            )
        };
        let Some(a) = a else {
            return Err(CustomError::query(
                c,
                c.location(find_word(&c.sql, "area").unwrap_or(0)),
                format!("row {} of the result has no area", i + 1),
                Some("filter out rows without an area (WHERE area IS NOT NULL)".into()),
            ));
        };
        for (name, x) in [
            ("value", at(&value, i)),
            ("numerator", at(&numerator, i)),
            ("denominator", at(&denominator, i)),
        ] {
            if x.is_some_and(|x| !x.is_finite()) {
                return Err(CustomError::query(
                    c,
                    c.location(find_word(&c.sql, name).unwrap_or(0)),
                    format!("the query gives {name} {} for {}", x.unwrap_or_default(), where_(a)),
                    Some("a division by zero gives infinity or NaN; divide by NULLIF(x, 0) so that the row has no value".into()),
                ));
            }
        }
        if !seen.insert((a.clone(), p, b.clone())) {
            return Err(CustomError::query(
                c,
                c.location(0),
                format!("the query gives more than one row for {}", where_(a)),
                Some("GROUP BY area and period (and breakdown), or filter to one row each".into()),
            ));
        }
        let Some(v) = at(&value, i) else {
            out.skipped.push(Skipped {
                indicator: c.id.clone(),
                area: a.clone(),
                period: p,
                reason: "the custom query gives no value (NULL) for this area and period".into(),
                projects: None,
            });
            continue;
        };
        let level = levels.get(a).map_or("city", String::as_str);
        let mut value = Value::new(&c.id, a, level, p, v).breakdown(b);
        value.numerator = at(&numerator, i);
        value.denominator = at(&denominator, i);
        value.n = n.get(i).copied().flatten();
        out.values.push(value);
    }
    Ok(out)
}

//! Projects as units: a project's funding rows (one per funder) merged by id, its outcomes
//! attached, and its own indicators: cost per beneficiary, financing mix, leverage, tonnes
//! avoided and their cost, and SROI with its sensitivity range. Built once per run (in
//! [`super::Inputs`]) and shared by the spending and climate families, the long table and
//! `projects.parquet`.
//!
//! Everything here is columns: a city with millions of grants gets one row per project in
//! [`Projects::frame`] and no Rust struct or String per project or value.
//!
//! - [`collect`]: the rows merged into projects, in one pass over the rows sorted by id.
//! - [`values`]: the per-project values of the long table, as column blocks.

mod collect;
pub mod values;

use polars::prelude::*;

use super::sroi::{Outcome, Override};
use super::{number_column, text_column, year_column};
use crate::config::{Pipeline, SourceKind, Spread};
use crate::contracts::Table;

pub use collect::collect;

/// Public money, for leverage; the other funding sources are non-public.
pub const PUBLIC: [&str; 2] = ["public", "eu_fund"];

/// Positions of [`PUBLIC`] in [`FUNDING_SOURCES`](crate::contracts::FUNDING_SOURCES).
const PUBLIC_AT: [usize; 2] = [0, 1];

/// Positions in [`FUNDING_SOURCES`](crate::contracts::FUNDING_SOURCES) in the alphabetical order of the names.
const ALPHABETICAL: [usize; 6] = [2, 1, 3, 4, 5, 0];

/// A project's money whose source is named, `amount(k)` being what the `k`-th of
/// [`FUNDING_SOURCES`](crate::contracts::FUNDING_SOURCES) gave. Summed in the names' alphabetical order, the order the shares
/// were always summed in: a floating-point sum depends on it.
fn known_amount(amount: impl Fn(usize) -> Option<f64>) -> f64 {
    ALPHABETICAL.iter().filter_map(|&k| amount(k)).sum()
}

/// A project's public money, as [`known_amount`] takes it.
fn public_amount(amount: impl Fn(usize) -> Option<f64>) -> f64 {
    PUBLIC_AT.iter().filter_map(|&k| amount(k)).sum()
}

/// An outcome as the `outcomes` source names it.
#[derive(Debug, Clone)]
pub struct NamedOutcome {
    pub name: String,
    pub outcome: Outcome,
    pub period: Option<i32>,
}

/// The run's projects.
#[derive(Debug, Clone, Default)]
pub struct Projects {
    /// `projects.parquet`: one row per project, in the order of (id space, id), with its own
    /// indicators (see [`collect`] for the columns).
    pub frame: DataFrame,
    /// Outcomes by the row of their project in `frame`, in that order.
    pub outcomes: Vec<(usize, NamedOutcome)>,
    /// Each project as the area figures count it: `area`, `period` (the earliest of its
    /// rows), `amount` (summed in sorted order), `beneficiaries` and `co2e_avoided_t` where
    /// the sources have them.
    pub areas: DataFrame,
}

impl Projects {
    pub fn len(&self) -> usize {
        self.frame.height()
    }

    pub fn is_empty(&self) -> bool {
        self.frame.height() == 0
    }

    /// A text column of `frame`, one chunk.
    pub fn texts(&self, name: &str) -> PolarsResult<StringChunked> {
        text_column(&self.frame, name)
    }

    /// A number column of `frame`, one chunk.
    pub fn numbers(&self, name: &str) -> PolarsResult<Float64Chunked> {
        number_column(&self.frame, name)
    }

    /// The start year of each project.
    pub fn periods(&self) -> PolarsResult<Int32Chunked> {
        year_column(&self.frame, "period")
    }
}

/// Every projects source's rows as one table (see [`merged`]).
#[derive(Debug, Clone)]
pub struct Rows {
    pub table: Table,
    /// Each row's booking.
    pub spreads: Vec<Spread>,
    /// (source, its rows): the sources in the order their rows follow each other.
    pub sources: Vec<(String, usize)>,
}

impl Rows {
    /// No rows, with every column (a pipeline without projects still writes its tables).
    pub fn empty() -> Rows {
        let columns = COLUMNS
            .iter()
            .map(|(name, dtype)| Column::full_null((*name).into(), 0, dtype))
            .collect();
        Rows {
            table: Table {
                source: String::new(),
                kind: SourceKind::Projects,
                frame: DataFrame::new(0, columns).unwrap_or_default(),
                rows_read: 0,
                rejects: Vec::new(),
                rows_filtered: 0,
                lines: Vec::new(),
            },
            spreads: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// The source of each row, as a column.
    pub fn source_column(&self) -> Column {
        let names: Vec<&str> = self
            .sources
            .iter()
            .flat_map(|(s, n)| std::iter::repeat_n(s.as_str(), *n))
            .collect();
        Column::new("source".into(), names)
    }
}

/// The columns of the projects sources that projects and area figures read, and their types.
const COLUMNS: [(&str, DataType); 15] = [
    ("id", DataType::String),
    ("area", DataType::String),
    ("period", DataType::Int32),
    ("amount", DataType::Float64),
    ("start", DataType::String),
    ("end", DataType::String),
    ("title", DataType::String),
    ("theme", DataType::String),
    ("recipient_id", DataType::String),
    ("recipient", DataType::String),
    ("funder_id", DataType::String),
    ("funder", DataType::String),
    ("funding_source", DataType::String),
    ("beneficiaries", DataType::Float64),
    ("co2e_avoided_t", DataType::Float64),
];

/// Separates an id space from an id in the merged rows' ids, where there are several spaces.
/// Below every printable character, so that the joined ids sort as (space, id) pairs do.
pub const SPACE_SEPARATOR: char = '\u{1f}';

/// Every projects source's rows as one table, so that an area's totals count each of its
/// projects once, whichever source holds it: ids qualified by their id space where there are
/// several (two sources' `P1` are two projects unless they share an id space), and the
/// optional columns any source has, empty where a source has not. `None` without projects
/// sources.
pub fn merged(pipeline: &Pipeline, tables: &[Table]) -> PolarsResult<Option<Rows>> {
    let sources: Vec<&Table> = tables
        .iter()
        .filter(|t| t.kind == SourceKind::Projects)
        .collect();
    let Some(first) = sources.first() else {
        return Ok(None);
    };
    let spaces: std::collections::BTreeSet<&str> = sources
        .iter()
        .map(|t| id_space(pipeline, &t.source))
        .collect();
    let present: Vec<&(&str, DataType)> = COLUMNS
        .iter()
        .filter(|(c, _)| sources.iter().any(|t| t.frame.schema().contains(c)))
        .collect();
    let mut frame: Option<DataFrame> = None;
    let mut spreads = Vec::new();
    let mut names = Vec::new();
    let (mut rows_read, mut rows_filtered) = (0, 0);
    for t in &sources {
        let n = t.frame.height();
        let mut columns = Vec::with_capacity(present.len());
        for (name, dtype) in &present {
            let c = match t.frame.column(name) {
                Ok(c) if *name == "id" && spaces.len() > 1 => {
                    let space = id_space(pipeline, &t.source);
                    let ids: StringChunked = c
                        .str()?
                        .apply_into_string_amortized(|id, out| {
                            out.push_str(space);
                            out.push(SPACE_SEPARATOR);
                            out.push_str(id);
                        })
                        .with_name("id".into());
                    ids.into_column()
                }
                Ok(c) => c.cast(dtype)?,
                Err(_) => Column::full_null((*name).into(), n, dtype),
            };
            columns.push(c);
        }
        let df = DataFrame::new(n, columns)?;
        frame = Some(match frame {
            None => df,
            Some(mut all) => {
                all.vstack_mut(&df)?;
                all
            }
        });
        let spread = pipeline
            .source(&t.source)
            .map(|s| s.spread)
            .unwrap_or_default();
        spreads.extend(std::iter::repeat_n(spread, n));
        names.push((t.source.clone(), n));
        rows_read += t.rows_read;
        rows_filtered += t.rows_filtered;
    }
    let table = Table {
        source: first.source.clone(),
        kind: SourceKind::Projects,
        frame: frame.unwrap_or_default(),
        rows_read,
        rejects: Vec::new(),
        rows_filtered,
        lines: Vec::new(),
    };
    Ok(Some(Rows {
        table,
        spreads,
        sources: names,
    }))
}

/// A source's id space: the one it names, else its own name (ids are unique per source).
fn id_space<'a>(pipeline: &'a Pipeline, source: &'a str) -> &'a str {
    pipeline
        .sources
        .iter()
        .find(|s| s.name == source)
        .and_then(|s| s.id_space.as_deref())
        .unwrap_or(source)
}

/// `outcomes.parquet`: one row per project outcome with its present value.
pub fn outcomes_table(projects: &Projects, discount_rate: f64) -> PolarsResult<DataFrame> {
    let rows = &projects.outcomes;
    let ids = projects.texts("project")?;
    let f = |name: &str, g: &dyn Fn(&Outcome) -> f64| {
        Column::new(
            name.into(),
            rows.iter().map(|(_, o)| g(&o.outcome)).collect::<Vec<_>>(),
        )
    };
    DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "project".into(),
                rows.iter()
                    .map(|(p, _)| ids.get(*p).unwrap_or_default())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "outcome".into(),
                rows.iter()
                    .map(|(_, o)| o.name.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "period".into(),
                rows.iter().map(|(_, o)| o.period).collect::<Vec<_>>(),
            ),
            f("quantity", &|o| o.quantity),
            f("proxy", &|o| o.proxy),
            f("deadweight", &|o| o.deadweight),
            f("displacement", &|o| o.displacement),
            f("attribution", &|o| o.attribution),
            f("drop_off", &|o| o.drop_off),
            Column::new(
                "duration_years".into(),
                rows.iter()
                    .map(|(_, o)| o.outcome.years as i32)
                    .collect::<Vec<_>>(),
            ),
            f("present_value", &|o| {
                o.present_value(discount_rate, Override::default())
            }),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::FUNDING_SOURCES;

    #[test]
    fn source_positions_name_the_sources_they_stand_for() {
        // Known amounts are summed in the order of the names (a map keyed by name did so).
        let names: Vec<&str> = ALPHABETICAL.iter().map(|&k| FUNDING_SOURCES[k]).collect();
        let mut sorted = FUNDING_SOURCES.to_vec();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        let public: Vec<&str> = PUBLIC_AT.iter().map(|&k| FUNDING_SOURCES[k]).collect();
        assert_eq!(public, PUBLIC);
    }
}

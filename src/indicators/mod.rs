//! Indicator families. Each family takes contract tables and returns rows in the one long
//! indicator schema of the output contract, built here by [`long_frame`] and nowhere else.
//!
//! A value that cannot be computed (a zero denominator, a missing population) is never written
//! as NaN or infinity: the row is left out and a [`Skipped`] note says why, and the manifest
//! carries those notes.

pub mod climate;
pub mod custom;
pub mod exclusion;
pub mod families;
pub mod long;
pub mod procurement;
pub mod projects;
pub mod spending;
pub mod sroi;
pub mod stats;

use std::collections::HashMap;

use polars::prelude::*;

use crate::catalogue::{self, Family};
use crate::config::{Pipeline, SourceKind};
use crate::contracts::Table;

pub use families::compute_all;
pub use long::{guard, long_frame, TableError};

/// One indicator value; the fields are the contract's columns less `family` and `unit`, which
/// come from the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub indicator: String,
    pub area: String,
    pub level: String,
    pub period: Option<i32>,
    pub breakdown: Option<String>,
    pub value: f64,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub n: Option<i64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub flag: Option<String>,
}

impl Value {
    pub fn new(indicator: &str, area: &str, level: &str, period: Option<i32>, value: f64) -> Self {
        Value {
            indicator: indicator.to_string(),
            area: area.to_string(),
            level: level.to_string(),
            period,
            breakdown: None,
            value,
            numerator: None,
            denominator: None,
            n: None,
            ci_low: None,
            ci_high: None,
            flag: None,
        }
    }

    pub fn ratio(mut self, numerator: f64, denominator: f64) -> Self {
        self.numerator = Some(numerator);
        self.denominator = Some(denominator);
        self
    }

    pub fn n(mut self, n: usize) -> Self {
        self.n = Some(n as i64);
        self
    }

    pub fn breakdown(mut self, breakdown: Option<String>) -> Self {
        self.breakdown = breakdown;
        self
    }

    pub fn flag(mut self, flag: Option<String>) -> Self {
        self.flag = flag;
        self
    }
}

/// A value that was not computed, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub indicator: String,
    pub area: String,
    pub period: Option<i32>,
    pub reason: String,
    /// A note for many projects at once: how many there are (`area` then names the first few
    /// and `period` is empty). A city with a million grants gets one note per reason, not a
    /// million; `projects.parquet` has every project's row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projects: Option<usize>,
}

/// What a family hands back.
#[derive(Debug, Default)]
pub struct Output {
    pub values: Vec<Value>,
    pub skipped: Vec<Skipped>,
}

impl Output {
    /// Adds `value` when it is finite; otherwise records why it is missing.
    pub fn push_checked(
        &mut self,
        v: Option<Value>,
        id: &str,
        area: &str,
        period: Option<i32>,
        why: &str,
    ) {
        match v {
            Some(v) if v.value.is_finite() => self.values.push(v),
            _ => self.skipped.push(Skipped {
                indicator: id.to_string(),
                area: area.to_string(),
                period,
                reason: why.to_string(),
                projects: None,
            }),
        }
    }
}

/// The sum of a float expression within a group, the same to the last bit on every run.
/// polars treats a sum as blind to the order of its input, so its optimiser lets the steps
/// before one (a stable group-by, say) hand rows over in any order; float addition is not
/// associative, and a sum of thousands of amounts then differed in its last bit between runs
/// on the same input. A running sum over the sorted values observes order, so the optimiser
/// must keep it, and it depends on the values alone. An empty group sums to zero, as with
/// `sum`.
pub fn sum_of(e: Expr) -> Expr {
    e.sort(SortOptions::default())
        .cum_sum(false)
        .last()
        .fill_null(lit(0.0))
}

/// `numerator / denominator`, or `None` where that is not a number (zero, missing).
pub fn divide(numerator: f64, denominator: f64) -> Option<f64> {
    let q = numerator / denominator;
    (denominator != 0.0 && q.is_finite()).then_some(q)
}

/// The contract tables, grouped for the families.
pub struct Inputs<'a> {
    pub pipeline: &'a Pipeline,
    pub tables: &'a [Table],
    /// Area → level, from `areas` sources.
    pub levels: HashMap<String, String>,
    /// (area, period) → population; period `None` applies to every period.
    pub population: HashMap<(String, Option<i32>), f64>,
    /// Projects merged by id, with their outcomes and SROI.
    pub projects: projects::Projects,
    /// Why some project data could not be used (outcomes without a project).
    pub project_notes: Vec<Skipped>,
    /// Every projects source's rows as one table, with each row's booking, for area totals.
    pub project_rows: Option<projects::Rows>,
}

impl<'a> Inputs<'a> {
    pub fn new(pipeline: &'a Pipeline, tables: &'a [Table]) -> PolarsResult<Self> {
        let mut levels = HashMap::new();
        let mut population = HashMap::new();
        for t in tables.iter().filter(|t| t.kind == SourceKind::Areas) {
            let area = strings(&t.frame, "area")?;
            let period = ints(&t.frame, "period")?;
            if let Some(level) = opt_strings(&t.frame, "level")? {
                for (a, l) in area.iter().zip(level) {
                    if let (Some(a), Some(l)) = (a, l) {
                        levels.insert(a.clone(), l);
                    }
                }
            }
            if let Some(pop) = opt_floats(&t.frame, "population")? {
                for ((a, p), pop) in area.iter().zip(period).zip(pop) {
                    if let (Some(a), Some(pop)) = (a, pop) {
                        population.insert((a.clone(), p), pop);
                    }
                }
            }
        }
        let project_rows = projects::merged(pipeline, tables)?;
        let (projects, project_notes) = projects::collect(
            pipeline,
            tables,
            project_rows.as_ref(),
            &pipeline.indicators.sroi,
        )?;
        Ok(Inputs {
            pipeline,
            tables,
            levels,
            population,
            projects,
            project_notes,
            project_rows,
        })
    }

    pub fn of(&self, kind: SourceKind) -> impl Iterator<Item = &'a Table> {
        self.tables.iter().filter(move |t| t.kind == kind)
    }

    /// The area's level from the `areas` source, or the family's default.
    pub fn level(&self, area: &str, default: &str) -> String {
        self.levels
            .get(area)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    /// Population of an area in a period, falling back to a population without a period.
    pub fn population(&self, area: &str, period: Option<i32>) -> Option<f64> {
        self.population
            .get(&(area.to_string(), period))
            .or_else(|| self.population.get(&(area.to_string(), None)))
            .copied()
    }
}

/// Whether the pipeline asks for indicator `id` (in the family the catalogue puts it in).
pub fn wanted(pipeline: &Pipeline, id: &str) -> bool {
    let Some(entry) = catalogue::get(id) else {
        return false;
    };
    let asked = match entry.family {
        Family::Exclusion => &pipeline.indicators.exclusion,
        Family::Spending => &pipeline.indicators.spending,
        Family::Climate => &pipeline.indicators.climate,
        Family::Custom => return pipeline.custom(id).is_some(),
    };
    asked.iter().any(|w| w == id)
}

/// Area code → the first non-empty text an `areas` source gives for `role` (a name, a group).
pub fn area_texts(
    tables: &[Table],
    role: &str,
) -> PolarsResult<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for t in tables.iter().filter(|t| t.kind == SourceKind::Areas) {
        let Some(texts) = opt_strings(&t.frame, role)? else {
            continue;
        };
        for (code, text) in strings(&t.frame, "area")?.into_iter().zip(texts) {
            if let (Some(code), Some(text)) = (code, text) {
                let text = text.trim();
                if !text.is_empty() {
                    out.entry(code).or_insert_with(|| text.to_string());
                }
            }
        }
    }
    Ok(out)
}

/// A text column in one chunk, for reading by position.
pub fn text_column(df: &DataFrame, name: &str) -> PolarsResult<StringChunked> {
    Ok(df.column(name)?.str()?.rechunk().into_owned())
}

/// A number column in one chunk, for reading by position.
pub fn number_column(df: &DataFrame, name: &str) -> PolarsResult<Float64Chunked> {
    Ok(df.column(name)?.f64()?.rechunk().into_owned())
}

/// A year column in one chunk, for reading by position.
pub fn year_column(df: &DataFrame, name: &str) -> PolarsResult<Int32Chunked> {
    Ok(df.column(name)?.i32()?.rechunk().into_owned())
}

pub fn strings(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df
        .column(name)?
        .as_materialized_series()
        .str()?
        .iter()
        .map(|s| s.map(String::from))
        .collect())
}

pub fn opt_strings(df: &DataFrame, name: &str) -> PolarsResult<Option<Vec<Option<String>>>> {
    if df.schema().contains(name) {
        strings(df, name).map(Some)
    } else {
        Ok(None)
    }
}

pub fn floats(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    Ok(df
        .column(name)?
        .as_materialized_series()
        .f64()?
        .iter()
        .collect())
}

pub fn opt_floats(df: &DataFrame, name: &str) -> PolarsResult<Option<Vec<Option<f64>>>> {
    if df.schema().contains(name) {
        floats(df, name).map(Some)
    } else {
        Ok(None)
    }
}

pub fn ints(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i32>>> {
    Ok(df
        .column(name)?
        .as_materialized_series()
        .i32()?
        .iter()
        .collect())
}

/// Non-negative integer counts (a `len()` or a boolean `sum()`), nulls as zero.
pub fn counts(df: &DataFrame, name: &str) -> PolarsResult<Vec<usize>> {
    let s = df
        .column(name)?
        .as_materialized_series()
        .cast(&DataType::Int64)?;
    Ok(s.i64()?
        .iter()
        .map(|v| v.unwrap_or(0).max(0) as usize)
        .collect())
}

/// Runs several lazy queries in one polars call, so they share its thread pool.
pub fn collect_all(plans: Vec<LazyFrame>) -> PolarsResult<Vec<DataFrame>> {
    LazyFrame::collect_all_with_engine(
        plans.into_iter().map(|lf| lf.logical_plan).collect(),
        Engine::Auto,
        OptFlags::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_sums_do_not_depend_on_row_order() {
        // Added in this order group a's values give 0 (the small ones vanish beside 1e16);
        // reversed, 0.6.
        let x = [0.1, 0.2, 0.3, 1e16, -1e16, 5.0];
        let g = ["a", "a", "a", "a", "a", "b"];
        let sums = |x: Vec<f64>, g: Vec<&str>| {
            let df = df!("g" => g, "x" => x).unwrap();
            df.lazy()
                .group_by([col("g")])
                .agg([
                    sum_of(col("x")).alias("all"),
                    sum_of(col("x").filter(col("x").gt(lit(100.0)))).alias("big"),
                ])
                .sort(["g"], SortMultipleOptions::default())
                .collect()
                .unwrap()
        };
        let forward = sums(x.to_vec(), g.to_vec());
        let backward = sums(
            x.iter().rev().copied().collect(),
            g.iter().rev().copied().collect(),
        );
        assert!(forward.equals_missing(&backward), "{forward}\n{backward}");
        // Sorted: -1e16 + 0.1 + 0.2 + 0.3 stays -1e16 (each is under half an ulp of 1e16,
        // which is 2), then + 1e16 gives 0. Group b has nothing over 100: its sum is 0.
        assert_eq!(floats(&forward, "all").unwrap(), [Some(0.0), Some(5.0)]);
        assert_eq!(floats(&forward, "big").unwrap(), [Some(1e16), Some(0.0)]);
    }
}

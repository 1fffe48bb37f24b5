//! The contract tables grouped for the families: areas' levels and populations, projects
//! merged by id, and which indicators the pipeline asks for.

use std::collections::HashMap;

use polars::prelude::*;

use super::columns::{ints, opt_floats, opt_strings, strings};
use super::{projects, Skipped};
use crate::catalogue::{self, Family};
use crate::config::{Pipeline, SourceKind};
use crate::contracts::Table;

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

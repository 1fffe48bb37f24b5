//! What a chart is drawn from: the indicator table's rows by indicator and area, each series
//! with its unit, periods and intervals, and what every chart says of its source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use plotters::style::RGBColor;
use polars::prelude::*;

use super::theme;
use crate::catalogue;
use crate::config::Charts;
use crate::indicators::{floats, ints, strings};

/// A period, its value, and the confidence interval where there is one.
pub type Point = (i32, f64, Option<(f64, f64)>);

/// What every chart needs to say where its numbers come from.
#[derive(Debug, Clone)]
pub struct Context {
    pub settings: Charts,
    /// For subtitles: the pipeline's title and the tool's version.
    pub source: String,
    /// Area code → the name a reader sees (from the `areas` sources); codes without one are
    /// shown as they are.
    pub names: BTreeMap<String, String>,
    /// Indicator id → its name, for the pipeline's own series as well as the catalogue's.
    pub titles: BTreeMap<String, String>,
}

impl Context {
    /// The name of an area as a reader should see it.
    pub fn name<'a>(&'a self, area: &'a str) -> &'a str {
        self.names.get(area).map(String::as_str).unwrap_or(area)
    }
}

/// One indicator's values for all areas of one level (no breakdown).
#[derive(Debug, Clone)]
pub struct Series {
    pub indicator: String,
    pub name: String,
    pub unit: String,
    pub family: String,
    /// The level of the areas drawn (the level with the most areas).
    pub level: String,
    /// area → points, sorted by period
    pub series: BTreeMap<String, Vec<Point>>,
    /// Areas drawn in colour; the others are grey.
    pub highlight: BTreeSet<String>,
}

impl Series {
    pub fn periods(&self) -> (i32, i32) {
        span(self.series.values().flatten().map(|p| p.0))
    }

    /// Whether an area is drawn in colour.
    pub fn is_highlighted(&self, area: &str) -> bool {
        self.highlight.is_empty() || self.highlight.contains(area)
    }

    /// An area's colour: the same in every chart of a run (its place among the highlighted
    /// areas, or among all areas when none is highlighted); grey for comparisons.
    pub fn colour(&self, area: &str) -> RGBColor {
        let place = if self.highlight.is_empty() {
            self.series.keys().position(|a| a == area)
        } else {
            self.highlight.iter().position(|a| a == area)
        };
        place.map_or(theme::COMPARISON, theme::colour)
    }
}

pub(super) fn span(years: impl Iterator<Item = i32> + Clone) -> (i32, i32) {
    let min = years.clone().min().unwrap_or(0);
    (min, years.max().unwrap_or(min))
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("cannot read the indicators table: {0}")]
    Table(#[from] PolarsError),
    #[error("cannot draw {}: {message}", path.display())]
    Draw { path: PathBuf, message: String },
}

/// The indicator table's columns, read once.
pub struct Rows {
    pub(super) indicator: Vec<Option<String>>,
    pub(super) area: Vec<Option<String>>,
    pub(super) level: Vec<Option<String>>,
    pub(super) period: Vec<Option<i32>>,
    pub(super) breakdown: Vec<Option<String>>,
    pub(super) value: Vec<Option<f64>>,
    pub(super) ci_low: Vec<Option<f64>>,
    pub(super) ci_high: Vec<Option<f64>>,
    pub(super) unit: Vec<Option<String>>,
    pub(super) family: Vec<Option<String>>,
}

impl Rows {
    pub fn new(indicators: &DataFrame) -> PolarsResult<Rows> {
        Ok(Rows {
            indicator: strings(indicators, "indicator")?,
            area: strings(indicators, "area")?,
            level: strings(indicators, "level")?,
            period: ints(indicators, "period")?,
            breakdown: strings(indicators, "breakdown")?,
            value: floats(indicators, "value")?,
            ci_low: floats(indicators, "ci_low")?,
            ci_high: floats(indicators, "ci_high")?,
            unit: strings(indicators, "unit")?,
            family: strings(indicators, "family")?,
        })
    }

    pub(super) fn len(&self) -> usize {
        self.indicator.len()
    }

    /// The unit the table writes for an indicator.
    pub(super) fn unit_of(&self, id: &str) -> Option<String> {
        (0..self.len())
            .find(|&i| self.is(i, id))
            .and_then(|i| self.unit[i].clone())
    }

    pub(super) fn is(&self, i: usize, id: &str) -> bool {
        self.indicator[i].as_deref() == Some(id)
    }

    /// Area-level values of `id` (no breakdown, not per project), at the level with the most
    /// areas, so that like is compared with like (districts, not the country they are in).
    pub fn series(&self, id: &str, highlight: &[String]) -> Option<Series> {
        let mut series: BTreeMap<String, Vec<Point>> = BTreeMap::new();
        let mut levels: BTreeMap<String, String> = BTreeMap::new();
        // The unit as the table writes it: the pipeline's reporting currency, not the
        // catalogue's default.
        let (mut unit, mut family) = (None, None);
        for i in 0..self.len() {
            if self.is(i, id) && unit.is_none() {
                unit = self.unit[i].clone();
                family = self.family[i].clone();
            }
            if !self.is(i, id)
                || self.breakdown[i].is_some()
                || self.level[i].as_deref() == Some("project")
            {
                continue;
            }
            if let (Some(a), Some(p), Some(v)) = (&self.area[i], self.period[i], self.value[i]) {
                series.entry(a.clone()).or_default().push((
                    p,
                    v,
                    self.ci_low[i].zip(self.ci_high[i]),
                ));
                levels.insert(a.clone(), self.level[i].clone().unwrap_or_default());
            }
        }
        let keep = main_level(&levels)?;
        series.retain(|a, _| levels.get(a) == Some(&keep));
        let level = keep;
        if series.is_empty() {
            return None;
        }
        for points in series.values_mut() {
            points.sort_by_key(|p| p.0);
        }
        let entry = catalogue::get(id);
        let highlight = highlight
            .iter()
            .filter(|h| series.contains_key(*h))
            .cloned()
            .collect();
        Some(Series {
            indicator: id.to_string(),
            name: entry.map(|e| e.name).unwrap_or(id).to_string(),
            unit: unit.unwrap_or_default(),
            // The table's family: a custom indicator joins the family its pipeline names.
            family: family
                .or_else(|| entry.map(|e| e.family.as_str().to_string()))
                .unwrap_or_default(),
            level,
            series,
            highlight,
        })
    }
}

/// The level with the most areas; ties go to the finer level.
pub(super) fn main_level(levels: &BTreeMap<String, String>) -> Option<String> {
    const FINE_TO_COARSE: [&str; 7] = [
        "project",
        "neighbourhood",
        "district",
        "city",
        "region",
        "country",
        "all",
    ];
    let rank = |l: &str| FINE_TO_COARSE.iter().position(|f| *f == l).unwrap_or(0);
    let mut per_level: BTreeMap<&str, usize> = BTreeMap::new();
    for l in levels.values() {
        *per_level.entry(l.as_str()).or_default() += 1;
    }
    per_level
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(rank(b.0).cmp(&rank(a.0))))
        .map(|(l, _)| l.to_string())
}

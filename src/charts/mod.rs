//! Charts from the output tables alone, so that they can be re-drawn from shared Parquet files.
//! Each chart is written as PNG (slides) and SVG (print), rendered in parallel with rayon.
//!
//! Default set, one group per family: a time series and a ranked bar chart of the family's
//! headline indicator (arpr, spend_per_capita, ghg_per_capita) wherever the table has values.

pub mod bars;
pub mod theme;
pub mod timeseries;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use polars::prelude::*;
use rayon::prelude::*;

use crate::catalogue;
use crate::config::{ChartFormat, Charts};
use crate::indicators::{floats, ints, strings};

/// Headline indicators, one per family.
pub const HEADLINES: [&str; 3] = ["arpr", "spend_per_capita", "ghg_per_capita"];

/// A period, its value, and the confidence interval where there is one.
pub type Point = (i32, f64, Option<(f64, f64)>);

/// Values of one indicator for all areas (no breakdown), ready to draw.
#[derive(Debug, Clone)]
pub struct Data {
    pub indicator: String,
    pub name: String,
    pub unit: String,
    pub family: String,
    /// area → (period, value, ci)
    pub series: BTreeMap<String, Vec<Point>>,
    /// Where the numbers come from, for the subtitle.
    pub source: String,
}

impl Data {
    pub fn periods(&self) -> (i32, i32) {
        let years = self.series.values().flatten().map(|p| p.0);
        let min = years.clone().min().unwrap_or(0);
        (min, years.max().unwrap_or(min))
    }
}

/// The kinds of chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    TimeSeries,
    Ranked,
}

impl Kind {
    fn slug(self) -> &'static str {
        match self {
            Kind::TimeSeries => "timeseries",
            Kind::Ranked => "ranked",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("cannot read the indicators table: {0}")]
    Table(#[from] PolarsError),
    #[error("cannot draw {}: {message}", path.display())]
    Draw { path: PathBuf, message: String },
}

/// Pulls one indicator's area-level values (breakdown null) out of the indicators table.
pub fn data(indicators: &DataFrame, id: &str, source: &str) -> Result<Option<Data>, ChartError> {
    let ind = strings(indicators, "indicator")?;
    let area = strings(indicators, "area")?;
    let level = strings(indicators, "level")?;
    let period = ints(indicators, "period")?;
    let breakdown = strings(indicators, "breakdown")?;
    let value = floats(indicators, "value")?;
    let lo = floats(indicators, "ci_low")?;
    let hi = floats(indicators, "ci_high")?;
    let mut series: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    let mut levels: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..indicators.height() {
        if ind[i].as_deref() != Some(id) || breakdown[i].is_some() {
            continue;
        }
        if let (Some(a), Some(p), Some(v)) = (&area[i], period[i], value[i]) {
            let ci = lo[i].zip(hi[i]);
            series.entry(a.clone()).or_default().push((p, v, ci));
            levels.insert(a.clone(), level[i].clone().unwrap_or_default());
        }
    }
    // Compare like with like: keep the level with the most areas (districts rather than the
    // countries they belong to), ties going to the finer level.
    let mut per_level: BTreeMap<&str, usize> = BTreeMap::new();
    for l in levels.values() {
        *per_level.entry(l.as_str()).or_default() += 1;
    }
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
    if let Some(keep) = per_level
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(rank(b.0).cmp(&rank(a.0))))
        .map(|(l, _)| l.to_string())
    {
        series.retain(|a, _| levels.get(a).is_some_and(|l| *l == keep));
    }
    if series.is_empty() {
        return Ok(None);
    }
    for points in series.values_mut() {
        points.sort_by_key(|p| p.0);
    }
    let entry = catalogue::get(id);
    Ok(Some(Data {
        indicator: id.to_string(),
        name: entry.map(|e| e.name).unwrap_or(id).to_string(),
        unit: entry.map(|e| e.unit).unwrap_or("").to_string(),
        family: entry.map(|e| e.family.as_str()).unwrap_or("").to_string(),
        series,
        source: source.to_string(),
    }))
}

/// One file to draw.
struct Job<'a> {
    data: &'a Data,
    kind: Kind,
    format: ChartFormat,
    path: PathBuf,
}

/// Draws the default chart set into `dir`. Returns the files written, sorted.
pub fn render_all(
    indicators: &DataFrame,
    dir: &Path,
    config: &Charts,
    source: &str,
) -> Result<Vec<PathBuf>, ChartError> {
    theme::init();
    let mut all = Vec::new();
    for id in HEADLINES {
        if let Some(d) = data(indicators, id, source)? {
            all.push(d);
        }
    }
    let mut jobs = Vec::new();
    for d in &all {
        for kind in [Kind::TimeSeries, Kind::Ranked] {
            for &format in &config.formats {
                let name = format!(
                    "{}-{}-{}.{}",
                    d.family,
                    d.indicator,
                    kind.slug(),
                    format.extension()
                );
                jobs.push(Job {
                    data: d,
                    kind,
                    format,
                    path: dir.join(name),
                });
            }
        }
    }
    let size = (config.width, config.height);
    jobs.par_iter()
        .map(|job| draw(job, size))
        .collect::<Result<Vec<()>, _>>()?;
    let mut paths: Vec<PathBuf> = jobs.into_iter().map(|j| j.path).collect();
    paths.sort();
    Ok(paths)
}

fn draw(job: &Job, size: (u32, u32)) -> Result<(), ChartError> {
    let err = |e: String| ChartError::Draw {
        path: job.path.clone(),
        message: e,
    };
    match job.format {
        ChartFormat::Png => {
            let root = BitMapBackend::new(&job.path, size).into_drawing_area();
            draw_on(root, job).map_err(err)
        }
        ChartFormat::Svg => {
            let root = SVGBackend::new(&job.path, size).into_drawing_area();
            draw_on(root, job).map_err(err)
        }
    }
}

fn draw_on<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    job: &Job,
) -> Result<(), String> {
    match job.kind {
        Kind::TimeSeries => timeseries::draw(&root, job.data),
        Kind::Ranked => bars::draw(&root, job.data),
    }
    .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Title and subtitle across the top; returns the area below them.
pub fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, plotters::coord::Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (top, rest) = root.split_vertically(84);
    top.draw(&Text::new(
        title.to_string(),
        (24, 18),
        (theme::FONT, 28)
            .into_font()
            .style(FontStyle::Bold)
            .color(&theme::TEXT),
    ))?;
    top.draw(&Text::new(
        subtitle.to_string(),
        (24, 54),
        (theme::FONT, 17).into_font().color(&theme::MUTED),
    ))?;
    Ok(rest)
}

/// "2019-2023, source: ..." for the subtitle.
pub fn subtitle(d: &Data, latest_only: bool) -> String {
    let (a, b) = d.periods();
    let period = if latest_only || a == b {
        format!("{b}")
    } else {
        format!("{a}-{b}")
    };
    format!("{period} · {} · source: {}", d.unit, d.source)
}

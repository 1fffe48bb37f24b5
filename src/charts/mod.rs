//! Charts from the output tables alone, so that they can be re-drawn from shared Parquet files
//! (`cityimpact chart OUTPUT_DIR`). Each chart is written as PNG (slides) and SVG (print), all
//! rendered in parallel with rayon. One file per chart kind:
//!
//! - `timeseries.rs`: one indicator over time, a line per area; highlighted areas in colour,
//!   comparison areas grey; error bars where the table has intervals.
//! - `bars.rs`: areas ranked by one indicator in the latest period, values labelled.
//! - `mix.rs`: the financing mix per area as 100 % stacked bars.
//! - `sectors.rs`: GHG emissions by GPC sector over time, stacked, one chart per area.
//! - `scatter.rs`: cost per beneficiary against beneficiaries, per project, log axes where
//!   the spread calls for them.
//! - `theme.rs`: the embedded font, the palette, sizes and number formats.
//! - `data.rs`: the rows a chart is drawn from; `labels.rs`: titles, subtitles and legends.
//! - here: which charts a run draws, and drawing them side by side.

pub mod bars;
mod data;
pub mod effects;
pub mod index;
mod labels;
pub mod mix;
pub mod scatter;
pub mod sectors;
pub mod text;
pub mod theme;
pub mod timeseries;

use data::{main_level, span};
pub use data::{ChartError, Context, Point, Rows, Series};
pub use labels::{fit, header, legend, legend_width, subtitle};

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use polars::prelude::*;
use rayon::prelude::*;

use crate::catalogue;
use crate::config::ChartFormat;

/// One chart to draw, with the data it needs.
enum Chart {
    TimeSeries(Series),
    Ranked(Series),
    Mix(mix::Mix),
    Sectors(sectors::Sectors),
    Scatter(scatter::Scatter),
    EventStudy(effects::Effects),
    Cohorts(effects::Effects),
    IndexRanked(index::IndexChart),
    IndexHeatmap(index::IndexChart),
}

/// The tables beside the indicators that some charts draw from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outputs<'a> {
    pub effects: Option<&'a DataFrame>,
    pub index: Option<&'a DataFrame>,
    /// `projects.parquet`: one row per project, for the charts of projects.
    pub projects: Option<&'a DataFrame>,
}

impl Chart {
    fn file_stem(&self) -> String {
        match self {
            Chart::TimeSeries(s) => format!("{}-{}-timeseries", s.family, s.indicator),
            Chart::Ranked(s) => format!("{}-{}-ranked", s.family, s.indicator),
            Chart::Mix(_) => "spending-financing-mix".into(),
            Chart::Sectors(s) => format!("climate-ghg-by-sector-{}", slug(&s.area)),
            Chart::Scatter(_) => "spending-cost-per-beneficiary-scatter".into(),
            Chart::EventStudy(e) => format!("evaluation-{}-event-study", slug(&e.outcome)),
            Chart::Cohorts(e) => format!("evaluation-{}-group-time", slug(&e.outcome)),
            Chart::IndexRanked(c) => format!("index-{}-ranked", slug(&c.top)),
            Chart::IndexHeatmap(c) => format!("index-{}-heatmap", slug(&c.top)),
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        ctx: &Context,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        match self {
            Chart::TimeSeries(s) => timeseries::draw(root, s, ctx),
            Chart::Ranked(s) => bars::draw(root, s, ctx),
            Chart::Mix(m) => mix::draw(root, m, ctx),
            Chart::Sectors(s) => sectors::draw(root, s, ctx),
            Chart::Scatter(s) => scatter::draw(root, s, ctx),
            Chart::EventStudy(e) => effects::draw_event_study(root, e, ctx),
            Chart::Cohorts(e) => effects::draw_cohorts(root, e, ctx),
            Chart::IndexRanked(c) => index::draw_ranked(root, c, ctx),
            Chart::IndexHeatmap(c) => index::draw_heatmap(root, c, ctx),
        }
    }
}

/// A file-name-safe version of an area name.
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Every chart the settings ask for that the table has data for.
fn plan(indicators: &DataFrame, outputs: Outputs, ctx: &Context) -> Result<Vec<Chart>, ChartError> {
    let evaluation = outputs.effects;
    let settings = &ctx.settings;
    let rows = Rows::new(indicators)?;
    let kind = |k: &str| settings.kinds.iter().any(|x| x == k);
    let mut charts = Vec::new();
    for id in &settings.indicators {
        if let Some(mut s) = rows.series(id, &settings.highlight) {
            if let Some(title) = ctx.titles.get(id) {
                s.name = title.clone();
            }
            // A time series of one period is a column of dots: the ranking says it better.
            let (first, last) = s.periods();
            if kind("timeseries") && first < last {
                charts.push(Chart::TimeSeries(s.clone()));
            }
            if kind("ranked") {
                charts.push(Chart::Ranked(s));
            }
        }
    }
    if kind("financing-mix") {
        charts.extend(mix::data(&rows).map(Chart::Mix));
    }
    if kind("ghg-sectors") {
        charts.extend(sectors::data(&rows).into_iter().map(Chart::Sectors));
    }
    if kind("cost-scatter") {
        if let Some(projects) = outputs.projects {
            charts.extend(scatter::data(&rows, projects)?.map(Chart::Scatter));
        }
    }
    if let Some(df) = evaluation {
        let names = |id: &str| {
            let name = ctx
                .titles
                .get(id)
                .cloned()
                .or_else(|| catalogue::get(id).map(|c| c.name.to_string()))
                .unwrap_or_else(|| id.to_string());
            (name, rows.unit_of(id).unwrap_or_default())
        };
        for e in effects::data(df, &names)? {
            if kind("cohort-effects") {
                charts.push(Chart::Cohorts(e.clone()));
            }
            if kind("event-study") {
                charts.push(Chart::EventStudy(e));
            }
        }
    }
    if let Some(df) = outputs.index {
        if let Some(c) = index::data(df)? {
            if kind("index-heatmap") && !c.pillars.is_empty() {
                charts.push(Chart::IndexHeatmap(c.clone()));
            }
            if kind("index-ranked") {
                charts.push(Chart::IndexRanked(c));
            }
        }
    }
    Ok(charts)
}

/// Draws every chart into `dir`, in parallel. Returns the files written, sorted.
pub fn render_all(
    indicators: &DataFrame,
    outputs: Outputs,
    dir: &Path,
    ctx: &Context,
) -> Result<Vec<PathBuf>, ChartError> {
    theme::init();
    let charts = plan(indicators, outputs, ctx)?;
    let jobs: Vec<(&Chart, ChartFormat, PathBuf)> = charts
        .iter()
        .flat_map(|c| {
            ctx.settings.formats.iter().map(move |f| {
                (
                    c,
                    *f,
                    dir.join(format!("{}.{}", c.file_stem(), f.extension())),
                )
            })
        })
        .collect();
    let size = (ctx.settings.width, ctx.settings.height);
    jobs.par_iter()
        .map(|(chart, format, path)| draw(chart, *format, path, size, ctx))
        .collect::<Result<Vec<()>, _>>()?;
    let mut paths: Vec<PathBuf> = jobs.into_iter().map(|j| j.2).collect();
    paths.sort();
    Ok(paths)
}

fn draw(
    chart: &Chart,
    format: ChartFormat,
    path: &Path,
    size: (u32, u32),
    ctx: &Context,
) -> Result<(), ChartError> {
    let err = |message: String| ChartError::Draw {
        path: path.to_path_buf(),
        message,
    };
    match format {
        ChartFormat::Png => {
            let root = text::Png::new(path, size).into_drawing_area();
            chart.draw(&root, ctx).map_err(|e| err(e.to_string()))?;
            root.present().map_err(|e| err(e.to_string()))
        }
        ChartFormat::Svg => {
            {
                let root = SVGBackend::new(path, size).into_drawing_area();
                chart.draw(&root, ctx).map_err(|e| err(e.to_string()))?;
                root.present().map_err(|e| err(e.to_string()))?;
            }
            name_the_font(path).map_err(|e| err(e.to_string()))
        }
    }
}

/// plotters writes `font-family="sans-serif"`; name the embedded font first so that viewers
/// that have DejaVu Sans use the metrics the layout was made with.
fn name_the_font(path: &Path) -> std::io::Result<()> {
    let svg = std::fs::read_to_string(path)?;
    std::fs::write(
        path,
        svg.replace(
            "font-family=\"sans-serif\"",
            "font-family=\"DejaVu Sans, Verdana, sans-serif\"",
        ),
    )
}

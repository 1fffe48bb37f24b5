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

pub mod bars;
pub mod effects;
pub mod index;
pub mod mix;
pub mod scatter;
pub mod sectors;
pub mod text;
pub mod theme;
pub mod timeseries;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use polars::prelude::*;
use rayon::prelude::*;

use crate::catalogue;
use crate::config::{ChartFormat, Charts};
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

fn span(years: impl Iterator<Item = i32> + Clone) -> (i32, i32) {
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
    indicator: Vec<Option<String>>,
    area: Vec<Option<String>>,
    level: Vec<Option<String>>,
    period: Vec<Option<i32>>,
    breakdown: Vec<Option<String>>,
    value: Vec<Option<f64>>,
    ci_low: Vec<Option<f64>>,
    ci_high: Vec<Option<f64>>,
    unit: Vec<Option<String>>,
    family: Vec<Option<String>>,
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

    fn len(&self) -> usize {
        self.indicator.len()
    }

    /// The unit the table writes for an indicator.
    fn unit_of(&self, id: &str) -> Option<String> {
        (0..self.len())
            .find(|&i| self.is(i, id))
            .and_then(|i| self.unit[i].clone())
    }

    fn is(&self, i: usize, id: &str) -> bool {
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
fn main_level(levels: &BTreeMap<String, String>) -> Option<String> {
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

/// Title and subtitle across the top; returns the area below them. A subtitle too long for one
/// line at a readable size breaks at its last ` · ` that fits, onto a second line, rather than
/// shrinking into small print.
pub fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let room = root.dim_in_pixel().0.saturating_sub(48);
    let lines = subtitle_lines(subtitle, room);
    let (top, rest) = root.split_vertically(if lines.len() > 1 { 104 } else { 84 });
    let (title, title_size) = fit(title, 28.0, 20.0, room);
    top.draw(&Text::new(
        title,
        (24, 18),
        (theme::FONT, title_size)
            .into_font()
            .style(FontStyle::Bold)
            .color(&theme::TEXT),
    ))?;
    for (i, (line, size)) in lines.into_iter().enumerate() {
        top.draw(&Text::new(
            line,
            (24, 54 + 21 * i as i32),
            (theme::FONT, size).into_font().color(&theme::MUTED),
        ))?;
    }
    Ok(rest)
}

/// The subtitle's lines: one at 17 px down to 15 px; else two, broken at a ` · `, each fitted.
fn subtitle_lines(subtitle: &str, room: u32) -> Vec<(String, f64)> {
    let (one, size) = fit(subtitle, 17.0, 15.0, room);
    if one == subtitle {
        return vec![(one, size)];
    }
    let parts: Vec<&str> = subtitle.split(" · ").collect();
    let cut = (1..parts.len())
        .rev()
        .find(|k| theme::text_width(&parts[..*k].join(" · "), 15.0) <= room)
        .unwrap_or(1);
    if parts.len() < 2 {
        return vec![fit(subtitle, 17.0, 12.0, room)];
    }
    vec![
        fit(&parts[..cut].join(" · "), 15.0, 12.0, room),
        fit(&parts[cut..].join(" · "), 15.0, 12.0, room),
    ]
}

/// Fits a line of text into `room` pixels: a smaller font down to `min`, then shortened with
/// an ellipsis, so that no title is clipped at the canvas edge.
pub fn fit(text: &str, size: f64, min: f64, room: u32) -> (String, f64) {
    let mut size = size;
    while size > min && theme::text_width(text, size) > room {
        size -= 1.0;
    }
    if theme::text_width(text, size) <= room {
        return (text.to_string(), size);
    }
    let keep = (room as f64 / (size * 0.62)).floor() as usize;
    let short: String = text.chars().take(keep.saturating_sub(1)).collect();
    (format!("{}…", short.trim_end()), size)
}

/// "2019-2023 · % · source: …" for the subtitle.
pub fn subtitle(periods: (i32, i32), unit: &str, ctx: &Context) -> String {
    let (a, b) = periods;
    let period = if a == b {
        format!("{b}")
    } else {
        format!("{a}-{b}")
    };
    if unit.is_empty() {
        format!("{period} · source: {}", ctx.source)
    } else {
        format!("{period} · {unit} · source: {}", ctx.source)
    }
}

/// A legend of coloured swatches, one per entry, drawn down the given area.
pub fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for (i, (label, colour)) in entries.iter().enumerate() {
        let y = 30 + i as i32 * 26;
        area.draw(&Rectangle::new([(8, y - 6), (30, y + 6)], colour.filled()))?;
        area.draw(&Text::new(
            label.clone(),
            (38, y - 9),
            (theme::FONT, 16).into_font().color(&theme::TEXT),
        ))?;
    }
    Ok(())
}

/// The width a legend of these labels needs.
pub fn legend_width<'a>(labels: impl Iterator<Item = &'a str>) -> u32 {
    labels
        .map(|l| theme::text_width(l, 16.0))
        .max()
        .map_or(0, |w| w + 60)
}

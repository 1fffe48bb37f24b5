//! Charts of the composite index, from `index.parquet` alone:
//!
//! - the ranked index of the latest period: each area's nominal rank with the 5-95 % interval
//!   of its ranks over the Monte-Carlo runs (and the median rank), best first;
//! - a heat map of areas × the pillars (the aggregates just above the indicators), areas in index order,
//!   each cell shaded by its score within the column.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use polars::prelude::*;

use super::{header, theme, Context};
use crate::indicators::{floats, ints, strings};

/// One area in the latest period.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub area: String,
    pub score: f64,
    pub rank: i32,
    pub interval: Option<(f64, f64, f64)>,
    /// Pillar code → score.
    pub pillars: BTreeMap<String, f64>,
}

#[derive(Debug, Clone)]
pub struct IndexChart {
    pub top: String,
    pub period: Option<i32>,
    pub areas: Vec<Ranked>,
    pub pillars: Vec<String>,
}

/// The latest period of the index, best first.
pub fn data(index: &DataFrame) -> PolarsResult<Option<IndexChart>> {
    let area = strings(index, "area")?;
    let node = strings(index, "node")?;
    let level = ints(index, "level")?;
    let period = ints(index, "period")?;
    let score = floats(index, "score")?;
    let rank = ints(index, "rank")?;
    let (med, lo, hi) = (
        floats(index, "rank_median")?,
        floats(index, "rank_low")?,
        floats(index, "rank_high")?,
    );
    let Some(top_level) = level.iter().flatten().max().copied() else {
        return Ok(None);
    };
    // Pillars: the lowest level of aggregates (one above the indicators).
    let pillar_level = 2.min(top_level);
    let latest = period.iter().flatten().max().copied();
    let top = (0..index.height())
        .find(|&i| level[i] == Some(top_level))
        .and_then(|i| node[i].clone())
        .unwrap_or_default();
    let mut areas: BTreeMap<String, Ranked> = BTreeMap::new();
    let mut pillars: Vec<String> = Vec::new();
    for i in 0..index.height() {
        if period[i] != latest {
            continue;
        }
        let (Some(a), Some(n), Some(s)) = (&area[i], &node[i], score[i]) else {
            continue;
        };
        if level[i] == Some(top_level) {
            let Some(r) = rank[i] else { continue };
            let e = areas.entry(a.clone()).or_insert_with(|| Ranked {
                area: a.clone(),
                score: s,
                rank: r,
                interval: None,
                pillars: BTreeMap::new(),
            });
            e.score = s;
            e.rank = r;
            e.interval = match (med[i], lo[i], hi[i]) {
                (Some(m), Some(l), Some(h)) => Some((m, l, h)),
                _ => None,
            };
        } else if level[i] == Some(pillar_level) && pillar_level < top_level {
            if !pillars.contains(n) {
                pillars.push(n.clone());
            }
            areas
                .entry(a.clone())
                .or_insert_with(|| Ranked {
                    area: a.clone(),
                    score: f64::NAN,
                    rank: i32::MAX,
                    interval: None,
                    pillars: BTreeMap::new(),
                })
                .pillars
                .insert(n.clone(), s);
        }
    }
    let mut areas: Vec<Ranked> = areas.into_values().filter(|a| a.rank != i32::MAX).collect();
    if areas.is_empty() {
        return Ok(None);
    }
    areas.sort_by(|a, b| a.rank.cmp(&b.rank).then(a.area.cmp(&b.area)));
    Ok(Some(IndexChart {
        top,
        period: latest,
        areas,
        pillars,
    }))
}

/// The top node's name as the structure gives it.
fn top_name(c: &IndexChart, ctx: &Context) -> String {
    ctx.titles
        .get(&c.top)
        .cloned()
        .unwrap_or_else(|| c.top.clone())
}

fn title_period(c: &IndexChart) -> String {
    c.period.map(|p| format!(", {p}")).unwrap_or_default()
}

pub fn draw_ranked<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &IndexChart,
    ctx: &Context,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let name = top_name(c, ctx);
    let body = header(
        root,
        &format!("{name}{}: ranks and their uncertainty", title_period(c)),
        &format!(
            "dot: rank; bar: 5-95 % of ranks over the Monte-Carlo runs; ring: median rank · source: {}",
            ctx.source
        ),
    )?;
    let n = c.areas.len();
    let (_, h) = body.dim_in_pixel();
    let row = (h.saturating_sub(100) as f64 / n as f64).max(4.0);
    let size = (row * 0.8).clamp(8.0, 15.0);
    let label_w = c
        .areas
        .iter()
        .map(|a| theme::text_width(ctx.name(&a.area), size))
        .max()
        .unwrap_or(40)
        + 20;
    let mut chart = ChartBuilder::on(&body)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(label_w)
        // n segments, one per area: 0..n would add an empty row at the top.
        .build_cartesian_2d(
            0.5..(n as f64 + 0.5),
            (0..n.saturating_sub(1)).into_segmented(),
        )?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(theme::GRID.mix(0.0))
        .bold_line_style(theme::GRID)
        .y_labels(n)
        .y_label_formatter(&|seg| match seg {
            SegmentValue::CenterOf(i) => n
                .checked_sub(1 + *i)
                .and_then(|j| c.areas.get(j))
                .map(|a| ctx.name(&a.area).to_string())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|v| {
            if (v - v.round()).abs() < 1e-9 {
                format!("{}", v.round() as i64)
            } else {
                String::new()
            }
        })
        .x_labels(n.min(12))
        .x_desc("Rank (1 = best)")
        .label_style((theme::FONT, size).into_font().color(&theme::TEXT))
        .axis_desc_style((theme::FONT, 16).into_font().color(&theme::TEXT))
        .draw()?;
    for (k, a) in c.areas.iter().enumerate() {
        let y = || SegmentValue::CenterOf(n - 1 - k);
        if let Some((m, lo, hi)) = a.interval {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(lo, y()), (hi, y())],
                theme::colour(0)
                    .mix(0.55)
                    .stroke_width(((row * 0.35) as u32).clamp(2, 8)),
            )))?;
            chart.draw_series(std::iter::once(Circle::new(
                (m, y()),
                (size * 0.4) as u32,
                theme::TEXT.stroke_width(1),
            )))?;
        }
        chart.draw_series(std::iter::once(Circle::new(
            (a.rank as f64, y()),
            (size * 0.3) as u32,
            theme::colour(0).filled(),
        )))?;
    }
    Ok(())
}

/// A sequential blue for a share in [0, 1].
fn shade(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
    RGBColor(mix(239, 8), mix(243, 69), mix(255, 148))
}

pub fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &IndexChart,
    ctx: &Context,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let name = top_name(c, ctx);
    let body = header(
        root,
        &format!("{name}{}: scores by pillar", title_period(c)),
        &format!(
            "areas in index order; darker = higher within each pillar · source: {}",
            ctx.source
        ),
    )?;
    let (w, h) = body.dim_in_pixel();
    let n = c.areas.len();
    let m = c.pillars.len().max(1);
    let row = ((h.saturating_sub(90)) as f64 / n as f64).max(4.0);
    let size = (row * 0.7).clamp(7.0, 14.0);
    let label_w = c
        .areas
        .iter()
        .map(|a| theme::text_width(ctx.name(&a.area), size))
        .max()
        .unwrap_or(40) as i32
        + 24;
    let col_w = ((w as i32 - label_w - 30) / m as i32).max(10);
    let head = 60;
    let pillar_label = |p: &String| ctx.titles.get(p).cloned().unwrap_or_else(|| p.clone());
    for (j, p) in c.pillars.iter().enumerate() {
        let x = label_w + j as i32 * col_w + col_w / 2;
        let (text, s) = super::fit(&pillar_label(p), 13.0, 8.0, col_w.max(10) as u32 - 4);
        body.draw(&Text::new(
            text,
            (x, head - 14),
            (theme::FONT, s)
                .into_font()
                .color(&theme::TEXT)
                .pos(Pos::new(HPos::Center, VPos::Bottom)),
        ))?;
    }
    let ranges: Vec<(f64, f64)> = c
        .pillars
        .iter()
        .map(|p| {
            c.areas
                .iter()
                .filter_map(|a| a.pillars.get(p))
                .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)))
        })
        .collect();
    for (k, a) in c.areas.iter().enumerate() {
        let y0 = head + (k as f64 * row) as i32;
        let y1 = head + ((k + 1) as f64 * row) as i32 - 1;
        body.draw(&Text::new(
            ctx.name(&a.area).to_string(),
            (label_w - 10, (y0 + y1) / 2),
            (theme::FONT, size)
                .into_font()
                .color(&theme::TEXT)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
        for (j, p) in c.pillars.iter().enumerate() {
            let x0 = label_w + j as i32 * col_w;
            let Some(v) = a.pillars.get(p) else {
                continue;
            };
            let (lo, hi) = ranges[j];
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            body.draw(&Rectangle::new(
                [(x0 + 1, y0), (x0 + col_w - 1, y1)],
                shade(t).filled(),
            ))?;
            if row >= 14.0 && col_w >= 40 {
                let colour = if t > 0.55 { WHITE } else { theme::TEXT };
                body.draw(&Text::new(
                    theme::number_with(*v, 1),
                    (x0 + col_w / 2, (y0 + y1) / 2),
                    (theme::FONT, size.min(12.0))
                        .into_font()
                        .color(&colour)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))?;
            }
        }
    }
    Ok(())
}

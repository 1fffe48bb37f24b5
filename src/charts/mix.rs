//! The financing mix of each area in the latest period: 100 % stacked horizontal bars, one
//! colour per funding source, from the `financing_share_<source>` values.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{header, legend, legend_width, main_level, subtitle, theme, Context, Rows};

pub const SOURCES: [(&str, &str); 6] = [
    ("public", "Public budget"),
    ("eu_fund", "EU funds"),
    ("crowdfunding", "Crowdfunding"),
    ("impact_investment", "Impact investment"),
    ("philanthropy", "Philanthropy"),
    ("private", "Private"),
];

#[derive(Debug, Clone)]
pub struct Mix {
    pub period: i32,
    /// area → share per funding source (percent), in SOURCES order
    pub areas: BTreeMap<String, [f64; 6]>,
}

pub fn data(rows: &Rows) -> Option<Mix> {
    let mut latest = None;
    let mut levels = BTreeMap::new();
    for i in 0..rows.len() {
        let Some(id) = rows.indicator[i].as_deref() else {
            continue;
        };
        if id.starts_with("financing_share_")
            && rows.breakdown[i].is_none()
            && rows.level[i].as_deref() != Some("project")
        {
            latest = latest.max(rows.period[i]);
            if let Some(a) = &rows.area[i] {
                levels.insert(a.clone(), rows.level[i].clone().unwrap_or_default());
            }
        }
    }
    let period = latest?;
    let level = main_level(&levels)?;
    let mut areas: BTreeMap<String, [f64; 6]> = BTreeMap::new();
    for i in 0..rows.len() {
        let (Some(id), Some(a), Some(v)) =
            (rows.indicator[i].as_deref(), &rows.area[i], rows.value[i])
        else {
            continue;
        };
        if rows.period[i] != Some(period)
            || rows.breakdown[i].is_some()
            || levels.get(a) != Some(&level)
        {
            continue;
        }
        if let Some(k) = SOURCES
            .iter()
            .position(|(s, _)| id == format!("financing_share_{s}"))
        {
            areas.entry(a.clone()).or_insert([0.0; 6])[k] = v;
        }
    }
    (!areas.is_empty()).then_some(Mix { period, areas })
}

pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    m: &Mix,
    ctx: &Context,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let body = header(
        root,
        &format!("Financing mix of projects, {}", m.period),
        &subtitle((m.period, m.period), "% of project amounts", ctx),
    )?;
    // Only the sources that appear get a legend entry.
    let used: Vec<usize> = (0..SOURCES.len())
        .filter(|k| m.areas.values().any(|s| s[*k] > 0.0))
        .collect();
    let entries: Vec<(String, RGBColor)> = used
        .iter()
        .map(|k| (SOURCES[*k].1.to_string(), theme::colour(*k)))
        .collect();
    let legend_w = legend_width(entries.iter().map(|e| e.0.as_str()));
    let (plot, legend_area) =
        body.split_horizontally(body.dim_in_pixel().0.saturating_sub(legend_w));
    let names: Vec<&String> = m.areas.keys().rev().collect();
    let n = names.len().max(1);
    let name_w = names
        .iter()
        .map(|a| theme::text_width(ctx.name(a), 15.0))
        .max()
        .unwrap_or(40)
        + 24;
    let mut chart = ChartBuilder::on(&plot)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(name_w)
        .build_cartesian_2d(0.0..100.0, (0..n - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(theme::GRID.mix(0.0))
        .bold_line_style(theme::GRID)
        .y_labels(n)
        .y_label_formatter(&|seg| match seg {
            SegmentValue::CenterOf(i) => names
                .get(*i)
                .map(|a| ctx.name(a).to_string())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&theme::axis(0.0, 100.0, 10))
        .x_desc("% of the amount with a known funding source")
        .label_style((theme::FONT, 15).into_font().color(&theme::TEXT))
        .axis_desc_style((theme::FONT, 16).into_font().color(&theme::TEXT))
        .draw()?;
    for (i, area) in names.iter().enumerate() {
        let shares = m.areas[*area];
        let mut left = 0.0;
        for &k in &used {
            let right = (left + shares[k]).min(100.0);
            if right > left {
                let mut bar = Rectangle::new(
                    [
                        (left, SegmentValue::Exact(i)),
                        (right, SegmentValue::Exact(i + 1)),
                    ],
                    theme::colour(k).filled(),
                );
                bar.set_margin(6, 6, 0, 0);
                chart.draw_series(std::iter::once(bar))?;
            }
            left = right;
        }
    }
    legend(&legend_area, &entries)?;
    Ok(())
}

//! GHG emissions of one area by GPC sector over time, as stacked areas (BASIC rows, from the
//! `ghg_total` values broken down by sector).

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{header, legend, legend_width, subtitle, theme, Context, Rows};

pub const SECTORS: [(&str, &str); 5] = [
    ("stationary_energy", "Stationary energy"),
    ("transportation", "Transportation"),
    ("waste", "Waste"),
    ("ippu", "Industrial processes"),
    ("afolu", "Agriculture, forestry, land use"),
];

#[derive(Debug, Clone)]
pub struct Sectors {
    pub area: String,
    /// year → tonnes per sector, in SECTORS order
    pub years: BTreeMap<i32, [f64; 5]>,
}

pub fn data(rows: &Rows) -> Vec<Sectors> {
    let mut by_area: BTreeMap<String, BTreeMap<i32, [f64; 5]>> = BTreeMap::new();
    for i in 0..rows.len() {
        if !rows.is(i, "ghg_total") {
            continue;
        }
        let Some(sector) = rows.breakdown[i]
            .as_deref()
            .and_then(|b| b.strip_prefix("sector="))
        else {
            continue;
        };
        let (Some(a), Some(p), Some(v)) = (&rows.area[i], rows.period[i], rows.value[i]) else {
            continue;
        };
        if let Some(k) = SECTORS.iter().position(|(s, _)| *s == sector) {
            by_area
                .entry(a.clone())
                .or_default()
                .entry(p)
                .or_insert([0.0; 5])[k] = v;
        }
    }
    by_area
        .into_iter()
        .map(|(area, years)| Sectors { area, years })
        .collect()
}

pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &Sectors,
    ctx: &Context,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let first = *s.years.keys().next().unwrap_or(&0);
    let last = *s.years.keys().last().unwrap_or(&0);
    let body = header(
        root,
        &format!("Greenhouse gas emissions by sector, {}", ctx.name(&s.area)),
        &subtitle((first, last), "tCO2e, GPC BASIC", ctx),
    )?;
    let used: Vec<usize> = (0..SECTORS.len())
        .filter(|k| s.years.values().any(|v| v[*k] != 0.0))
        .collect();
    let entries: Vec<(String, RGBColor)> = used
        .iter()
        .map(|k| (SECTORS[*k].1.to_string(), theme::colour(*k)))
        .collect();
    let legend_w = legend_width(entries.iter().map(|e| e.0.as_str()));
    let (plot, legend_area) =
        body.split_horizontally(body.dim_in_pixel().0.saturating_sub(legend_w));
    let total = |v: &[f64; 5]| used.iter().map(|k| v[*k].max(0.0)).sum::<f64>();
    let ymax = s.years.values().map(total).fold(0.0, f64::max).max(1.0) * 1.08;
    let (x0, x1) = if first == last {
        (first - 1, last + 1)
    } else {
        (first, last)
    };
    let mut chart = ChartBuilder::on(&plot)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(theme::text_width(&theme::tick(ymax), 15.0) + 50)
        .build_cartesian_2d(x0..x1, 0.0..ymax)?;
    chart
        .configure_mesh()
        .light_line_style(theme::GRID.mix(0.0))
        .bold_line_style(theme::GRID)
        .x_labels(((x1 - x0 + 1) as usize).min(12))
        .x_label_formatter(&|y| format!("{y}"))
        .y_label_formatter(&theme::axis(0.0, ymax, 10))
        .x_desc("Year")
        .y_desc("tCO2e")
        .label_style((theme::FONT, 15).into_font().color(&theme::TEXT))
        .axis_desc_style((theme::FONT, 16).into_font().color(&theme::TEXT))
        .draw()?;
    // Draw cumulative layers from the top down, so each lower layer covers the one above it.
    for (layer, _) in used.iter().enumerate().rev() {
        let k = used[layer];
        let upto = &used[..=layer];
        let points: Vec<(i32, f64)> = s
            .years
            .iter()
            .map(|(y, v)| (*y, upto.iter().map(|j| v[*j].max(0.0)).sum()))
            .collect();
        chart.draw_series(AreaSeries::new(points, 0.0, theme::colour(k).filled()))?;
    }
    legend(&legend_area, &entries)?;
    Ok(())
}

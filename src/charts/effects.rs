//! Charts of the evaluation, from `effects.parquet` alone:
//!
//! - the event study of each outcome: the effect at each event time with its uniform band,
//!   pre-treatment periods in grey and set apart by a dashed line before event time 0, and
//!   the zero line;
//! - ATT(g,t) by cohort: each cohort's group-time effects over the periods, one colour per
//!   cohort, with their uniform bands.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;
use polars::prelude::*;

use super::{header, legend, legend_width, theme, Context};
use crate::indicators::{floats, ints, strings};

/// (x, att, band) points.
type Points = Vec<(i32, f64, Option<(f64, f64)>)>;

/// One outcome's event study and cohort effects.
#[derive(Debug, Clone)]
pub struct Effects {
    pub outcome: String,
    pub name: String,
    pub unit: String,
    pub dynamic: Points,
    /// cohort → (period, att, band)
    pub cohorts: BTreeMap<i32, Points>,
    pub overall: Option<f64>,
}

/// The Callaway & Sant'Anna estimates of every outcome in `effects`, named by `names`
/// (indicator id → (name, unit)).
pub fn data(
    effects: &DataFrame,
    names: &dyn Fn(&str) -> (String, String),
) -> PolarsResult<Vec<Effects>> {
    let outcome = strings(effects, "outcome")?;
    let estimator = strings(effects, "estimator")?;
    let aggregation = strings(effects, "aggregation")?;
    let group = ints(effects, "group")?;
    let period = ints(effects, "period")?;
    let event = ints(effects, "event_time")?;
    let att = floats(effects, "att")?;
    let lo = floats(effects, "band_low")?;
    let hi = floats(effects, "band_high")?;
    let mut out: BTreeMap<String, Effects> = BTreeMap::new();
    for i in 0..effects.height() {
        let (Some(o), Some(a)) = (&outcome[i], att[i]) else {
            continue;
        };
        if estimator[i].as_deref() != Some("cs_did") {
            continue;
        }
        let e = out.entry(o.clone()).or_insert_with(|| {
            let (name, unit) = names(o);
            // A difference of two rates is in percentage points, not per cent.
            let unit = match unit.as_str() {
                "%" => "percentage points".to_string(),
                _ => unit,
            };
            Effects {
                outcome: o.clone(),
                name,
                unit,
                dynamic: Vec::new(),
                cohorts: BTreeMap::new(),
                overall: None,
            }
        });
        let band = lo[i].zip(hi[i]);
        match (aggregation[i].as_deref(), group[i], period[i], event[i]) {
            (Some("dynamic"), None, None, Some(ev)) => e.dynamic.push((ev, a, band)),
            (Some("dynamic"), None, None, None) => e.overall = Some(a),
            (Some("group_time"), Some(g), Some(p), _) => {
                e.cohorts.entry(g).or_default().push((p, a, band))
            }
            _ => {}
        }
    }
    Ok(out
        .into_values()
        .filter(|e| !e.dynamic.is_empty())
        .collect())
}

/// The y range of points and their bands, with room, always including 0.
fn y_range(points: impl Iterator<Item = (f64, Option<(f64, f64)>)>) -> (f64, f64) {
    let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
    for (v, b) in points {
        let (a, c) = b.unwrap_or((v, v));
        lo = lo.min(a).min(v);
        hi = hi.max(c).max(v);
    }
    let pad = ((hi - lo) * 0.08).max(1e-9);
    (lo - pad, hi + pad)
}

pub fn draw_event_study<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    e: &Effects,
    ctx: &Context,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let overall = e
        .overall
        .map(|v| format!(" · average effect after treatment {}", theme::number(v)))
        .unwrap_or_default();
    let body = header(
        root,
        &format!("Effect on {} by years since treatment", e.name),
        &format!(
            "{}{overall} · uniform 95 % band · source: {}",
            e.unit, ctx.source
        ),
    )?;
    let entries = vec![
        ("Before treatment".to_string(), theme::COMPARISON),
        ("After treatment".to_string(), theme::colour(0)),
    ];
    let legend_w = legend_width(entries.iter().map(|x| x.0.as_str()));
    let (plot, legend_area) =
        body.split_horizontally(body.dim_in_pixel().0.saturating_sub(legend_w));
    let x0 = e.dynamic.iter().map(|p| p.0).min().unwrap_or(0) as f64 - 0.6;
    let x1 = e.dynamic.iter().map(|p| p.0).max().unwrap_or(0) as f64 + 0.6;
    let (y0, y1) = y_range(e.dynamic.iter().map(|p| (p.1, p.2)));
    let y_label_w = theme::text_width(&theme::tick(y1.abs().max(y0.abs())), 15.0) + 60;
    let mut chart = ChartBuilder::on(&plot)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(y_label_w)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let ticks = (x1 - x0).round() as usize + 1;
    chart
        .configure_mesh()
        .light_line_style(theme::GRID.mix(0.0))
        .bold_line_style(theme::GRID)
        .x_labels(ticks.min(16))
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{}", x.round() as i64)
            } else {
                String::new()
            }
        })
        .y_label_formatter(&theme::axis(y0, y1, 10))
        .x_desc("Years since treatment started (0 = first year)")
        .y_desc(format!("Effect ({})", e.unit))
        .label_style((theme::FONT, 15).into_font().color(&theme::TEXT))
        .axis_desc_style((theme::FONT, 16).into_font().color(&theme::TEXT))
        .draw()?;
    chart.draw_series(LineSeries::new(
        [(x0, 0.0), (x1, 0.0)],
        theme::TEXT.stroke_width(1),
    ))?;
    // A dashed line half a year before event time 0 sets the pre-treatment periods apart.
    let steps = 30;
    for k in (0..steps).step_by(2) {
        let a = y0 + (y1 - y0) * k as f64 / steps as f64;
        let b = y0 + (y1 - y0) * (k + 1) as f64 / steps as f64;
        chart.draw_series(LineSeries::new(
            [(-0.5, a), (-0.5, b)],
            theme::MUTED.stroke_width(1),
        ))?;
    }
    for (ev, v, band) in &e.dynamic {
        let colour = if *ev < 0 {
            theme::COMPARISON
        } else {
            theme::colour(0)
        };
        let x = *ev as f64;
        if let Some((lo, hi)) = band {
            chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                x,
                *lo,
                *v,
                *hi,
                colour.stroke_width(2),
                12,
            )))?;
        }
        chart.draw_series(std::iter::once(Circle::new((x, *v), 6, colour.filled())))?;
    }
    legend(&legend_area, &entries)?;
    Ok(())
}

pub fn draw_cohorts<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    e: &Effects,
    ctx: &Context,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let body = header(
        root,
        &format!("Effect on {} by cohort and year", e.name),
        &format!(
            "{} · hollow points: before treatment · uniform 95 % band · source: {}",
            e.unit, ctx.source
        ),
    )?;
    let entries: Vec<(String, RGBColor)> = e
        .cohorts
        .keys()
        .enumerate()
        .map(|(k, g)| (format!("Treated from {g}"), theme::colour(k)))
        .collect();
    let legend_w = legend_width(entries.iter().map(|x| x.0.as_str()));
    let (plot, legend_area) =
        body.split_horizontally(body.dim_in_pixel().0.saturating_sub(legend_w));
    let all = e.cohorts.values().flatten();
    let x0 = all.clone().map(|p| p.0).min().unwrap_or(0);
    let x1 = all.clone().map(|p| p.0).max().unwrap_or(0);
    let (y0, y1) = y_range(all.map(|p| (p.1, p.2)));
    let y_label_w = theme::text_width(&theme::tick(y1.abs().max(y0.abs())), 15.0) + 60;
    let mut chart = ChartBuilder::on(&plot)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(y_label_w)
        .build_cartesian_2d((x0 as f64 - 0.5)..(x1 as f64 + 0.5), y0..y1)?;
    chart
        .configure_mesh()
        .light_line_style(theme::GRID.mix(0.0))
        .bold_line_style(theme::GRID)
        .x_labels(((x1 - x0 + 1) as usize).min(14))
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-9 {
                format!("{}", x.round() as i64)
            } else {
                String::new()
            }
        })
        .y_label_formatter(&theme::axis(y0, y1, 10))
        .x_desc("Year")
        .y_desc(format!("Effect ({})", e.unit))
        .label_style((theme::FONT, 15).into_font().color(&theme::TEXT))
        .axis_desc_style((theme::FONT, 16).into_font().color(&theme::TEXT))
        .draw()?;
    chart.draw_series(LineSeries::new(
        [(x0 as f64 - 0.5, 0.0), (x1 as f64 + 0.5, 0.0)],
        theme::TEXT.stroke_width(1),
    ))?;
    let cohorts = e.cohorts.len().max(1) as f64;
    for (k, (g, points)) in e.cohorts.iter().enumerate() {
        let colour = theme::colour(k);
        // Cohorts side by side within a year, so that their bands do not hide each other.
        let shift = (k as f64 - (cohorts - 1.0) / 2.0) * 0.5 / cohorts;
        let at = |p: i32| p as f64 + shift;
        chart.draw_series(LineSeries::new(
            points.iter().filter(|p| p.0 >= *g).map(|p| (at(p.0), p.1)),
            colour.stroke_width(2),
        ))?;
        for (p, v, band) in points {
            if let Some((lo, hi)) = band {
                chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                    at(*p),
                    *lo,
                    *v,
                    *hi,
                    colour.stroke_width(2),
                    8,
                )))?;
            }
            // Before treatment: hollow; after: filled.
            let style = if *p >= *g {
                colour.filled()
            } else {
                colour.stroke_width(2)
            };
            chart.draw_series(std::iter::once(Circle::new((at(*p), *v), 5, style)))?;
        }
    }
    legend(&legend_area, &entries)?;
    Ok(())
}

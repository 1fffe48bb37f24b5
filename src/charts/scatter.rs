//! Cost per beneficiary against beneficiaries, one point per project. Axes turn logarithmic
//! when the values span more than two orders of magnitude.

use plotters::coord::Shift;
use plotters::prelude::*;
use polars::prelude::{DataFrame, PolarsResult};

use crate::catalogue;

use super::{header, span, subtitle, theme, Context, Rows};

#[derive(Debug, Clone)]
pub struct Scatter {
    pub periods: (i32, i32),
    /// (beneficiaries, cost per beneficiary)
    pub points: Vec<(f64, f64)>,
    /// The money of the cost axis, as the table writes it ("EUR per person" → "EUR").
    pub currency: String,
}

/// The projects that report beneficiaries and a cost per beneficiary, from the projects'
/// table; the currency from the unit the indicator table writes for the indicator.
pub fn data(rows: &Rows, projects: &DataFrame) -> PolarsResult<Option<Scatter>> {
    let schema = projects.schema();
    if !["beneficiaries", "cost_per_beneficiary", "period"]
        .iter()
        .all(|c| schema.contains(c))
    {
        return Ok(None);
    }
    let b = projects.column("beneficiaries")?.f64()?;
    let c = projects.column("cost_per_beneficiary")?.f64()?;
    let period = projects.column("period")?.i32()?;
    let mut points = Vec::new();
    let mut years = Vec::new();
    for ((b, c), p) in b.iter().zip(c.iter()).zip(period.iter()) {
        if let (Some(b), Some(c)) = (b, c) {
            if b > 0.0 && c > 0.0 {
                points.push((b, c));
                years.extend(p);
            }
        }
    }
    let currency = rows
        .unit_of("cost_per_beneficiary")
        .or_else(|| catalogue::get("cost_per_beneficiary").map(|e| e.unit.to_string()))
        .and_then(|u| u.split(' ').next().map(String::from))
        .unwrap_or_default();
    Ok((!points.is_empty()).then(|| Scatter {
        periods: span(years.into_iter()),
        points,
        currency,
    }))
}

/// Whether values spread over more than two orders of magnitude.
pub fn wants_log(values: impl Iterator<Item = f64> + Clone) -> bool {
    let lo = values.clone().fold(f64::MAX, f64::min);
    let hi = values.fold(0.0, f64::max);
    lo > 0.0 && hi / lo > 100.0
}

pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &Scatter,
    ctx: &Context,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let body = header(
        root,
        "Cost per beneficiary and reach of projects",
        &subtitle(s.periods, "one point per project", ctx),
    )?;
    let xs = s.points.iter().map(|p| p.0);
    let ys = s.points.iter().map(|p| p.1);
    let (xlog, ylog) = (wants_log(xs.clone()), wants_log(ys.clone()));
    let range = |v: &mut dyn Iterator<Item = f64>, log: bool| {
        let (lo, hi) = v.fold((f64::MAX, 0.0_f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
        if log {
            (lo / 1.5, hi * 1.5)
        } else {
            (0.0, hi * 1.08)
        }
    };
    let (x0, x1) = range(&mut xs.clone(), xlog);
    let (y0, y1) = range(&mut ys.clone(), ylog);
    let x_desc = if xlog {
        "Beneficiaries (persons, log scale)"
    } else {
        "Beneficiaries (persons)"
    };
    let y_desc = if ylog {
        format!("{} per beneficiary (log scale)", s.currency)
    } else {
        format!("{} per beneficiary", s.currency)
    };
    let y_label_w = theme::text_width(&theme::tick(y1), 15.0) + 50;
    macro_rules! plot {
        ($x:expr, $y:expr) => {{
            let mut chart = ChartBuilder::on(&body)
                .margin(20)
                .x_label_area_size(56)
                .y_label_area_size(y_label_w)
                .build_cartesian_2d($x, $y)?;
            chart
                .configure_mesh()
                .light_line_style(theme::GRID.mix(0.0))
                .bold_line_style(theme::GRID)
                .x_label_formatter(&|v| theme::tick(*v))
                .y_label_formatter(&|v| theme::tick(*v))
                .x_desc(x_desc)
                .y_desc(y_desc.as_str())
                .label_style((theme::FONT, 15).into_font().color(&theme::TEXT))
                .axis_desc_style((theme::FONT, 16).into_font().color(&theme::TEXT))
                .draw()?;
            chart.draw_series(
                s.points
                    .iter()
                    .map(|(x, y)| Circle::new((*x, *y), 5, theme::colour(0).mix(0.7).filled())),
            )?;
        }};
    }
    match (xlog, ylog) {
        (true, true) => plot!((x0..x1).log_scale(), (y0..y1).log_scale()),
        (true, false) => plot!((x0..x1).log_scale(), y0..y1),
        (false, true) => plot!(x0..x1, (y0..y1).log_scale()),
        (false, false) => plot!(x0..x1, y0..y1),
    }
    Ok(())
}

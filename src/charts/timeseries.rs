//! One indicator over time, one line per area. Highlighted areas are drawn in colour and named
//! in the legend; the others are grey comparisons. Error bars show confidence intervals.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{header, legend, legend_width, subtitle, theme, Context, Series};

pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    d: &Series,
    ctx: &Context,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let body = header(root, &d.name, &subtitle(d.periods(), &d.unit, ctx))?;
    let (first, last) = d.periods();
    let (x0, x1) = if first == last {
        (first - 1, last + 1)
    } else {
        (first, last)
    };
    let values = d.series.values().flatten().flat_map(|(_, v, ci)| {
        let (lo, hi) = ci.unwrap_or((*v, *v));
        [*v, lo, hi]
    });
    let ymax = values.clone().fold(f64::MIN, f64::max);
    let ymin = values.fold(f64::MAX, f64::min).min(0.0);
    let ymax = if ymax <= ymin {
        ymin + 1.0
    } else {
        ymax + 0.08 * (ymax - ymin)
    };

    // Colour for highlighted areas, in a stable order; grey for the rest.
    let coloured: Vec<&String> = d.series.keys().filter(|a| d.is_highlighted(a)).collect();
    let mut entries: Vec<(String, RGBColor)> = coloured
        .iter()
        .map(|a| (ctx.name(a).to_string(), d.colour(a)))
        .collect();
    let greyed = d.series.len() - coloured.len();
    if greyed > 0 {
        entries.push((format!("{greyed} comparison areas"), theme::COMPARISON));
    }
    // A single line needs no legend: the title names it.
    let legend_w = if d.series.len() > 1 {
        legend_width(entries.iter().map(|e| e.0.as_str()))
    } else {
        0
    };
    let (plot, legend_area) =
        body.split_horizontally(body.dim_in_pixel().0.saturating_sub(legend_w));

    let y_label_w = theme::text_width(&theme::tick(ymax), 15.0) + 50;
    let mut chart = ChartBuilder::on(&plot)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(y_label_w)
        .build_cartesian_2d(x0..x1, ymin..ymax)?;
    chart
        .configure_mesh()
        .light_line_style(theme::GRID.mix(0.0))
        .bold_line_style(theme::GRID)
        .x_labels(((x1 - x0 + 1) as usize).min(12))
        .x_label_formatter(&|y| format!("{y}"))
        .y_label_formatter(&theme::axis(ymin, ymax, 10))
        .x_desc("Year")
        .y_desc(d.unit.clone())
        .label_style((theme::FONT, 15).into_font().color(&theme::TEXT))
        .axis_desc_style((theme::FONT, 16).into_font().color(&theme::TEXT))
        .draw()?;

    // Grey lines first, so that the highlighted ones are drawn over them.
    let mut order: Vec<(&String, &Vec<super::Point>)> = d.series.iter().collect();
    order.sort_by_key(|(a, _)| d.is_highlighted(a));
    for (area, points) in order {
        let (colour, width) = if d.is_highlighted(area) {
            (d.colour(area), 3)
        } else {
            (theme::COMPARISON, 2)
        };
        chart.draw_series(LineSeries::new(
            points.iter().map(|(p, v, _)| (*p, *v)),
            colour.stroke_width(width),
        ))?;
        chart.draw_series(
            points
                .iter()
                .map(|(p, v, _)| Circle::new((*p, *v), width + 1, colour.filled())),
        )?;
        // Intervals for the highlighted areas only: for the comparisons they would be clutter.
        if !d.highlight.is_empty() && !d.highlight.contains(area.as_str()) {
            continue;
        }
        chart.draw_series(points.iter().filter_map(|(p, v, ci)| {
            ci.map(|(lo, hi)| ErrorBar::new_vertical(*p, lo, *v, hi, colour.stroke_width(1), 10))
        }))?;
    }
    if legend_w > 0 {
        legend(&legend_area, &entries)?;
    }
    Ok(())
}

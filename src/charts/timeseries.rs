//! One indicator over time, one line per area, with error bars where the table has
//! confidence intervals.

use plotters::prelude::*;

use super::{header, subtitle, theme, Data};

pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    d: &Data,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let body = header(root, &d.name, &subtitle(d, false))?;
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
        ymax * 1.08
    };

    // Legend to the right, as wide as the longest area name needs.
    let longest = d
        .series
        .keys()
        .map(|k| theme::text_width(k, 16.0))
        .max()
        .unwrap_or(0);
    let legend_w = if d.series.len() > 1 { longest + 60 } else { 0 };
    let (plot, legend) = body.split_horizontally(body.dim_in_pixel().0.saturating_sub(legend_w));

    let y_label_w = theme::text_width(&theme::number(ymax), 15.0) + 50;
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
        .y_label_formatter(&|v| theme::tick(*v))
        .x_desc("Year")
        .y_desc(d.unit.clone())
        .label_style((theme::FONT, 15).into_font().color(&theme::TEXT))
        .axis_desc_style((theme::FONT, 16).into_font().color(&theme::TEXT))
        .draw()?;

    for (i, (_area, points)) in d.series.iter().enumerate() {
        let colour = theme::colour(i);
        chart.draw_series(LineSeries::new(
            points.iter().map(|(p, v, _)| (*p, *v)),
            colour.stroke_width(3),
        ))?;
        chart.draw_series(
            points
                .iter()
                .map(|(p, v, _)| Circle::new((*p, *v), 4, colour.filled())),
        )?;
        chart.draw_series(points.iter().filter_map(|(p, _, ci)| {
            ci.map(|(lo, hi)| PathElement::new(vec![(*p, lo), (*p, hi)], colour.stroke_width(2)))
        }))?;
    }
    if legend_w > 0 {
        for (i, area) in d.series.keys().enumerate() {
            let y = 30 + i as i32 * 26;
            legend.draw(&Rectangle::new(
                [(8, y - 6), (30, y + 6)],
                theme::colour(i).filled(),
            ))?;
            legend.draw(&Text::new(
                area.clone(),
                (38, y - 9),
                (theme::FONT, 16).into_font().color(&theme::TEXT),
            ))?;
        }
    }
    Ok(())
}

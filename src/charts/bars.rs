//! Areas ranked by one indicator in the latest period, as labelled horizontal bars.

use plotters::prelude::*;

use super::{header, subtitle, theme, Data};

pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    d: &Data,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (_, latest) = d.periods();
    let mut rows: Vec<(&str, f64)> = d
        .series
        .iter()
        .filter_map(|(a, pts)| {
            pts.iter()
                .find(|p| p.0 == latest)
                .map(|p| (a.as_str(), p.1))
        })
        .collect();
    // Ascending, so that the largest bar is drawn at the top.
    rows.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(a.0)));
    let body = header(root, &format!("{}, {latest}", d.name), &subtitle(d, true))?;
    let n = rows.len().max(1);
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max);
    let min = rows.iter().map(|r| r.1).fold(0.0_f64, f64::min);
    // Room for the value label after the longest bar.
    let xmax = if max > 0.0 { max * 1.18 } else { 1.0 };
    let name_w = rows
        .iter()
        .map(|r| theme::text_width(r.0, 15.0))
        .max()
        .unwrap_or(40)
        + 24;

    let mut chart = ChartBuilder::on(&body)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(name_w)
        .build_cartesian_2d(min..xmax, (0..n - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(theme::GRID.mix(0.0))
        .bold_line_style(theme::GRID)
        .y_labels(n)
        .y_label_formatter(&|seg| match seg {
            SegmentValue::CenterOf(i) => rows.get(*i).map(|r| r.0.to_string()).unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|v| theme::tick(*v))
        .x_desc(d.unit.clone())
        .label_style((theme::FONT, 15).into_font().color(&theme::TEXT))
        .axis_desc_style((theme::FONT, 16).into_font().color(&theme::TEXT))
        .draw()?;

    let colour = theme::colour(0);
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
        let mut bar = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(i)),
                (*v, SegmentValue::Exact(i + 1)),
            ],
            colour.filled(),
        );
        bar.set_margin(6, 6, 0, 0);
        bar
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
        Text::new(
            format!(" {}", theme::number(*v)),
            (v.max(0.0), SegmentValue::CenterOf(i)),
            (theme::FONT, 15).into_font().color(&theme::TEXT).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Left,
                    plotters::style::text_anchor::VPos::Center,
                ),
            ),
        )
    }))?;
    Ok(())
}

//! Areas ranked by one indicator in the latest period, as labelled horizontal bars, with
//! error bars where the table has confidence intervals.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{header, subtitle, theme, Context, Series};

/// The thickest a bar is drawn, in pixels.
const MAX_BAR: f64 = 44.0;

/// An area, its latest value and interval.
type Bar<'a> = (&'a str, f64, Option<(f64, f64)>);

pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    d: &Series,
    ctx: &Context,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (_, latest) = d.periods();
    let mut rows: Vec<Bar> = d
        .series
        .iter()
        .filter_map(|(a, pts)| {
            pts.iter()
                .find(|p| p.0 == latest)
                .map(|p| (a.as_str(), p.1, p.2))
        })
        .collect();
    // Ascending, so that the largest bar is drawn at the top.
    rows.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(a.0)));
    let body = header(
        root,
        &format!("{}, {latest}", d.name),
        &subtitle((latest, latest), &d.unit, ctx),
    )?;
    let n = rows.len().max(1);
    let top = rows
        .iter()
        .map(|r| r.2.map_or(r.1, |c| c.1.max(r.1)))
        .fold(0.0_f64, f64::max);
    let min = rows.iter().map(|r| r.1).fold(0.0_f64, f64::min);
    // Room for the value label after the longest bar.
    // One number of decimals for all labels, set by the largest value.
    let decimals = theme::decimals_for(rows.iter().map(|r| r.1.abs()).fold(0.0, f64::max));
    let label_w = rows
        .iter()
        .map(|r| theme::text_width(&theme::number_with(r.1, decimals), 15.0))
        .max()
        .unwrap_or(40) as f64;
    let plot_w = (body.dim_in_pixel().0 as f64 - 300.0).max(200.0);
    let xmax = if top > 0.0 {
        top * (1.0 + (label_w + 16.0) / plot_w)
    } else {
        1.0
    };
    let name_w = rows
        .iter()
        .map(|r| theme::text_width(ctx.name(r.0), 15.0))
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
            SegmentValue::CenterOf(i) => rows
                .get(*i)
                .map(|r| ctx.name(r.0).to_string())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&theme::axis(min, xmax, 10))
        .x_desc(d.unit.clone())
        .label_style((theme::FONT, 15).into_font().color(&theme::TEXT))
        .axis_desc_style((theme::FONT, 16).into_font().color(&theme::TEXT))
        .draw()?;

    // A bar is at most MAX_BAR pixels thick, however few the areas: three cities must not
    // fill the chart with slabs.
    let plot_h = body.dim_in_pixel().1.saturating_sub(40 + 56) as f64;
    let pad = ((plot_h / n as f64 - MAX_BAR) / 2.0).max(6.0) as u32;
    chart.draw_series(rows.iter().enumerate().map(|(i, (area, v, _))| {
        // One colour when every area is shown alike; each highlighted area's own otherwise.
        let colour = if d.highlight.is_empty() {
            theme::colour(0)
        } else {
            d.colour(area)
        };
        let mut bar = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(i)),
                (*v, SegmentValue::Exact(i + 1)),
            ],
            colour.filled(),
        );
        bar.set_margin(pad, pad, 0, 0);
        bar
    }))?;
    chart.draw_series(rows.iter().enumerate().filter_map(|(i, (_, _, ci))| {
        ci.map(|(lo, hi)| {
            PathElement::new(
                vec![
                    (lo, SegmentValue::CenterOf(i)),
                    (hi, SegmentValue::CenterOf(i)),
                ],
                theme::TEXT.stroke_width(2),
            )
        })
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, v, ci))| {
        let end = ci.map_or(*v, |c| c.1.max(*v)).max(0.0);
        Text::new(
            format!(" {}", theme::number_with(*v, decimals)),
            (end, SegmentValue::CenterOf(i)),
            (theme::FONT, 15)
                .into_font()
                .color(&theme::TEXT)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        )
    }))?;
    Ok(())
}

//! What sits around a chart's plot: its title and subtitle (broken onto a second line rather
//! than shrunk), text fitted to its room, and its legend.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{theme, Context};

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
pub(super) fn subtitle_lines(subtitle: &str, room: u32) -> Vec<(String, f64)> {
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

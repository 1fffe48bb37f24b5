//! The look of every chart: the embedded DejaVu Sans font (no system font libraries needed),
//! a palette safe for colour-blind readers (Okabe-Ito), sizes, and number formatting.

use std::sync::Once;

use plotters::style::{register_font, FontStyle, RGBColor};

/// The font family name charts ask for; registered from embedded bytes.
pub const FONT: &str = "sans-serif";

/// Okabe & Ito (2008), "Color Universal Design": distinguishable with any colour vision.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 0, 0),       // black
    RGBColor(200, 180, 20),  // yellow, darkened to read on white
];
pub const TEXT: RGBColor = RGBColor(33, 33, 33);
pub const MUTED: RGBColor = RGBColor(110, 110, 110);
pub const GRID: RGBColor = RGBColor(225, 225, 225);
/// Comparison areas: present, but behind the highlighted ones.
pub const COMPARISON: RGBColor = RGBColor(190, 190, 190);

static FONTS: Once = Once::new();

/// Registers the embedded font once per process.
pub fn init() {
    FONTS.call_once(|| {
        // The bytes are DejaVu's own; registration only fails on a corrupt font file.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// The colour of the i-th series, cycling through the palette.
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The decimals a number of this size needs.
pub fn decimals_for(v: f64) -> usize {
    match v.abs() {
        a if a >= 1000.0 => 0,
        a if a >= 10.0 => 1,
        a if a >= 1.0 => 2,
        _ => 3,
    }
}

/// A number for a label: thousands separators, and as many decimals as its size needs.
pub fn number(v: f64) -> String {
    number_with(v, decimals_for(v))
}

/// A number with thousands separators and a fixed number of decimals, so that the labels of
/// one chart line up.
pub fn number_with(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A number for an axis tick: whole numbers without decimals.
pub fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
        number(v.round())
            .split('.')
            .next()
            .unwrap_or("0")
            .to_string()
    } else {
        number(v)
    }
}

/// The labels of a linear axis over `lo..hi` with `n` labels at most (plotters' default is
/// 10): one number of decimals for every tick, the most any of them needs, so that `0.4` does
/// not sit beside `-1` and `-1.20`. The ticks are plotters' own key points for that range.
pub fn axis(lo: f64, hi: f64, n: usize) -> impl Fn(&f64) -> String {
    use plotters::coord::ranged1d::Ranged;
    use plotters::coord::types::RangedCoordf64;
    let decimals = match lo.is_finite() && hi.is_finite() && lo < hi {
        true => RangedCoordf64::from(lo..hi)
            .key_points(n)
            .iter()
            .map(|v| decimals_needed(*v))
            .max()
            .unwrap_or(0),
        false => 0,
    };
    move |v: &f64| number_with(*v, decimals)
}

/// The fewest decimals (up to 3) that write `v` exactly.
fn decimals_needed(v: f64) -> usize {
    (0..3)
        .find(|d| {
            let scaled = v * 10f64.powi(*d as i32);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.abs().max(1.0)
        })
        .unwrap_or(3)
}

/// Roughly how wide a label is in pixels at a font size, for reserving space so that nothing
/// is clipped (DejaVu Sans averages a little under 0.6 em per character).
pub fn text_width(text: &str, size: f64) -> u32 {
    (text.chars().count() as f64 * size * 0.62).ceil() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_thousands_separators() {
        assert_eq!(number(1234567.8), "1,234,568");
        assert_eq!(number(999.94), "999.9");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(4.256), "4.26");
        assert_eq!(number(0.01234), "0.012");
        assert_eq!(number(-4500.0), "-4,500");
        assert_eq!(number(-0.0001), "0.000");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(60.0), "60");
        assert_eq!(tick(25000.0), "25,000");
        assert_eq!(tick(2.5), "2.50");
        assert_eq!(number_with(7.354, 1), "7.4");
        assert_eq!(number_with(12345.678, 2), "12,345.68");
    }

    #[test]
    fn an_axis_writes_every_tick_with_the_same_decimals() {
        // -1.6..0.45 takes ticks every 0.2 (plotters' 1-2-5 steps): one decimal for all.
        let f = axis(-1.62, 0.45, 10);
        assert_eq!(f(&0.4), "0.4");
        assert_eq!(f(&-1.0), "-1.0");
        assert_eq!(f(&-1.2), "-1.2");
        assert_eq!(f(&0.0), "0.0");
        // 0..700 000 by 100 000: no decimals, thousands separated.
        let g = axis(0.0, 735_000.0, 10);
        assert_eq!(g(&700_000.0), "700,000");
        // 0..2.5 by 0.25 would need two; plotters takes 0.5 steps with 10 labels: "2.5".
        let h = axis(0.0, 2.6, 10);
        assert_eq!(h(&2.5), "2.5");
        assert_eq!(h(&2.0), "2.0");
    }
}

//! Text in PNG charts, laid out the way a browser lays out the same chart's SVG: glyphs on one
//! baseline, each placed at its advance (with kerning and its own side bearing), at the em
//! size the SVG writes (`font-size` = size / 1.24), anchored as the SVG's `text-anchor` and
//! `dy` place it.
//!
//! plotters' own bitmap text (its `ab_glyph` feature) drops each glyph's side bearing, so
//! letters sit unevenly ("cityimp act"), and rounds each glyph's top towards zero, which moves
//! small glyphs such as the decimal point off the baseline. [`Png`] wraps the bitmap backend,
//! passes every other drawing call through, and draws text itself.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters::prelude::*;
use plotters_backend::{
    text_anchor::{HPos, VPos},
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle,
    FontTransform,
};

/// plotters' size → the em size SVG writes (plotters-svg: `font-size = size / 1.24`).
const EM_PER_SIZE: f64 = 1.0 / 1.24;
/// SVG's `dy` for a top anchor (plotters-svg), in em.
const TOP_DY_EM: f32 = 0.76;

fn font(bold: bool) -> &'static FontRef<'static> {
    static REGULAR: OnceLock<FontRef<'static>> = OnceLock::new();
    static BOLD: OnceLock<FontRef<'static>> = OnceLock::new();
    let (cell, bytes) = if bold {
        (&BOLD, dejavu::sans::bold())
    } else {
        (&REGULAR, dejavu::sans::regular())
    };
    // DejaVu's own bytes, embedded: parsing them cannot fail short of a corrupt build.
    cell.get_or_init(|| FontRef::try_from_slice(bytes).expect("the embedded DejaVu Sans parses"))
}

/// One glyph's pixels relative to the text's origin (left end of the baseline), as
/// (x, y, coverage).
pub fn rasterise(text: &str, em_px: f32, bold: bool) -> (Vec<(i32, i32, f32)>, f32, f32) {
    let font = font(bold);
    let upem = font.units_per_em().unwrap_or(2048.0);
    let scale = PxScale::from(em_px * font.height_unscaled() / upem);
    let scaled = font.as_scaled(scale);
    let mut pixels = Vec::new();
    let mut x = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        prev = Some(id);
        let glyph = id.with_scale_and_position(scale, point(x, 0.0));
        if let Some(outline) = scaled.outline_glyph(glyph) {
            // px_bounds are whole pixels around the positioned glyph; the rasteriser's
            // coordinates are relative to their corner.
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                if cov > 0.0 {
                    pixels.push((b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, cov));
                }
            });
        }
        x += scaled.h_advance(id);
    }
    let x_height = scaled
        .outline_glyph(scaled.glyph_id('x').with_scale(scale))
        .map(|o| -o.px_bounds().min.y)
        .unwrap_or(em_px * 0.55);
    (pixels, x, x_height)
}

/// A PNG chart: the bitmap backend with text drawn by [`rasterise`].
pub struct Png<'a> {
    inner: BitMapBackend<'a>,
}

impl<'a> Png<'a> {
    pub fn new(path: &'a std::path::Path, size: (u32, u32)) -> Self {
        Png {
            inner: BitMapBackend::new(path, size),
        }
    }
}

type Result<T, E> = std::result::Result<T, DrawingErrorKind<E>>;

impl DrawingBackend for Png<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), Self::ErrorType> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), Self::ErrorType> {
        self.inner.present()
    }
    fn draw_pixel(&mut self, p: BackendCoord, c: BackendColor) -> Result<(), Self::ErrorType> {
        self.inner.draw_pixel(p, c)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), Self::ErrorType> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Self::ErrorType> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Self::ErrorType> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Self::ErrorType> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Self::ErrorType> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), Self::ErrorType> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), Self::ErrorType> {
        let colour = style.color();
        if colour.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let em = (style.size() * EM_PER_SIZE) as f32;
        let (pixels, width, x_height) =
            rasterise(text, em, matches!(style.style(), FontStyle::Bold));
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        // Where the baseline sits below the anchor, as the SVG's `dy` puts it.
        let dy = match style.anchor().v_pos {
            VPos::Top => TOP_DY_EM * em,
            VPos::Center => 0.5 * x_height,
            VPos::Bottom => -0.5 * x_height,
        };
        let (dx, dy) = (dx.round() as i32, dy.round() as i32);
        let (w, h) = self.get_size();
        for (x, y, cov) in pixels {
            let (x, y) = (x + dx, y + dy);
            let (x, y) = match style.transform() {
                FontTransform::Rotate90 => (-y, x),
                FontTransform::Rotate180 => (-x, -y),
                FontTransform::Rotate270 => (y, -x),
                _ => (x, y),
            };
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                let c = BackendColor {
                    alpha: colour.alpha * f64::from(cov.min(1.0)),
                    rgb: colour.rgb,
                };
                self.inner.draw_pixel((x, y), c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lowest row of ink of a text, relative to the baseline (0 = on it).
    fn bottom(text: &str) -> i32 {
        let (px, _, _) = rasterise(text, 16.0, false);
        px.iter().map(|p| p.1).max().unwrap()
    }

    #[test]
    fn glyphs_sit_on_one_baseline() {
        // A digit, a decimal point and a lower-case x all end on the baseline, whatever their
        // height (round glyphs overshoot it by a pixel at most).
        let b = bottom("3");
        for t in [".", "x", "2", "9"] {
            assert!((bottom(t) - b).abs() <= 1, "{t}: {} vs {b}", bottom(t));
        }
        // In "32.9" the point is in the bottom quarter of the digits' height, not at
        // mid-height as plotters' own bitmap text drew it.
        let (px, _, _) = rasterise("32.9", 16.0, false);
        let (three, w3, _) = rasterise("3", 16.0, false);
        let top = three.iter().map(|p| p.1).min().unwrap();
        let (_, w32, _) = rasterise("32", 16.0, false);
        let point_rows: Vec<i32> = px
            .iter()
            .filter(|p| (p.0 as f32) > w32 && (p.0 as f32) < w32 + w3 * 0.5)
            .map(|p| p.1)
            .collect();
        let point_top = *point_rows.iter().min().unwrap();
        assert!(
            point_top as f32 > top as f32 * 0.25,
            "the point starts at {point_top}, the digits at {top} (baseline 0)"
        );
    }

    #[test]
    fn letters_advance_with_their_bearings() {
        // Text is laid out by advances: "cityimpact" is as wide as its letters' advances,
        // and the ink of "i" after "p" starts after the ink of "p" ends, with a gap.
        let (_, w, _) = rasterise("cityimpact", 16.0, false);
        let sum: f32 = "cityimpact"
            .chars()
            .map(|c| rasterise(&c.to_string(), 16.0, false).1)
            .sum();
        assert!((w - sum).abs() < 0.5, "{w} vs {sum}");
        let (p, pw, _) = rasterise("p", 16.0, false);
        let (pa, _, _) = rasterise("pa", 16.0, false);
        let p_right = p.iter().map(|q| q.0).max().unwrap();
        let a_left = pa
            .iter()
            .filter(|q| q.0 as f32 >= pw - 1.0)
            .map(|q| q.0)
            .min()
            .unwrap();
        assert!(
            a_left > p_right,
            "the a starts after the p: {a_left} > {p_right}"
        );
        // Every glyph's ink lies right of the origin: side bearings are kept, never dropped.
        let (i, _, _) = rasterise("i", 16.0, false);
        assert!(
            i.iter().map(|q| q.0).min().unwrap() >= 1,
            "the i keeps its left bearing"
        );
    }
}

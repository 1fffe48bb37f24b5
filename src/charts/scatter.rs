//! Cost per beneficiary against beneficiaries, one point per project. Axes turn logarithmic
//! when the values span more than two orders of magnitude. Above [`MAX_POINTS`] projects the
//! points are binned: a grid of cells shaded by how many projects each holds, so that the
//! chart stays readable and its SVG small (0.7 M points made a 66 MB file).

use plotters::coord::Shift;
use plotters::prelude::*;
use polars::prelude::{DataFrame, PolarsResult};

use crate::catalogue;

use super::{header, span, subtitle, theme, Context, Rows};

/// The most projects drawn as points; more are binned.
pub const MAX_POINTS: usize = 2_000;

/// The grid of a binned chart: columns and rows of cells.
const BINS: (usize, usize) = (60, 36);

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
    let grid =
        (s.points.len() > MAX_POINTS).then(|| Grid::new(&s.points, (x0, x1, xlog), (y0, y1, ylog)));
    let what = match &grid {
        None => format!(
            "{} projects, one point each",
            theme::number_with(s.points.len() as f64, 0)
        ),
        Some(g) => format!(
            "{} projects, binned: darker cells hold more ({} to {} per cell)",
            theme::number_with(s.points.len() as f64, 0),
            theme::number_with(g.min_count() as f64, 0),
            theme::number_with(g.max_count() as f64, 0),
        ),
    };
    let body = header(
        root,
        "Cost per beneficiary and reach of projects",
        &subtitle(s.periods, &what, ctx),
    )?;
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
    // Linear axes' labels, their decimals worked out once.
    let (x_ticks, y_ticks) = (theme::axis(x0, x1, 10), theme::axis(y0, y1, 10));
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
                .x_label_formatter(&|v| {
                    if xlog {
                        theme::tick(*v)
                    } else {
                        x_ticks(v)
                    }
                })
                .y_label_formatter(&|v| {
                    if ylog {
                        theme::tick(*v)
                    } else {
                        y_ticks(v)
                    }
                })
                .x_desc(x_desc)
                .y_desc(y_desc.as_str())
                .label_style((theme::FONT, 15).into_font().color(&theme::TEXT))
                .axis_desc_style((theme::FONT, 16).into_font().color(&theme::TEXT))
                .draw()?;
            match &grid {
                None => {
                    chart.draw_series(s.points.iter().map(|(x, y)| {
                        Circle::new((*x, *y), 5, theme::colour(0).mix(0.7).filled())
                    }))?;
                }
                Some(g) => {
                    chart.draw_series(
                        g.cells()
                            .map(|(a, b, shade)| Rectangle::new([a, b], shade.filled())),
                    )?;
                }
            }
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

/// Projects counted in a grid of cells, even in the axes' own scale (log or linear).
struct Grid {
    x: Edges,
    y: Edges,
    /// Row-major counts, `BINS.0` per row.
    counts: Vec<u32>,
}

/// One axis's cell edges.
struct Edges {
    lo: f64,
    hi: f64,
    log: bool,
    n: usize,
}

impl Edges {
    fn scale(&self, v: f64) -> f64 {
        if self.log {
            v.ln()
        } else {
            v
        }
    }

    /// The cell a value falls in.
    fn cell(&self, v: f64) -> usize {
        let (lo, hi) = (self.scale(self.lo), self.scale(self.hi));
        let t = (self.scale(v) - lo) / (hi - lo);
        ((t * self.n as f64).floor().max(0.0) as usize).min(self.n - 1)
    }

    /// Where cell `i` starts, in data units.
    fn edge(&self, i: usize) -> f64 {
        let (lo, hi) = (self.scale(self.lo), self.scale(self.hi));
        let v = lo + (hi - lo) * i as f64 / self.n as f64;
        if self.log {
            v.exp()
        } else {
            v
        }
    }
}

impl Grid {
    fn new(points: &[(f64, f64)], x: (f64, f64, bool), y: (f64, f64, bool)) -> Grid {
        let x = Edges {
            lo: x.0,
            hi: x.1,
            log: x.2,
            n: BINS.0,
        };
        let y = Edges {
            lo: y.0,
            hi: y.1,
            log: y.2,
            n: BINS.1,
        };
        let mut counts = vec![0u32; BINS.0 * BINS.1];
        for (px, py) in points {
            counts[y.cell(*py) * BINS.0 + x.cell(*px)] += 1;
        }
        Grid { x, y, counts }
    }

    fn max_count(&self) -> u32 {
        self.counts.iter().copied().max().unwrap_or(0)
    }

    fn min_count(&self) -> u32 {
        self.counts
            .iter()
            .copied()
            .filter(|c| *c > 0)
            .min()
            .unwrap_or(0)
    }

    /// The cells that hold projects: their corners and shade, darker for more projects on a
    /// log scale, so that a few crowded cells do not wash the rest out.
    fn cells(&self) -> impl Iterator<Item = ((f64, f64), (f64, f64), RGBColor)> + '_ {
        let (low, top) = (
            f64::from(self.min_count().max(1)).ln(),
            f64::from(self.max_count().max(1)).ln(),
        );
        let spread = top - low;
        let (light, dark) = ((222.0, 235.0, 247.0), (8.0, 48.0, 107.0));
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(move |(k, c)| {
                let (i, j) = (k % BINS.0, k / BINS.0);
                // Cells that all hold as many projects are shaded alike, mid-way.
                let t = match spread > 0.0 {
                    true => 0.15 + 0.85 * ((f64::from(*c).ln() - low) / spread).clamp(0.0, 1.0),
                    false => 0.6,
                };
                let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
                (
                    (self.x.edge(i), self.y.edge(j)),
                    (self.x.edge(i + 1), self.y.edge(j + 1)),
                    RGBColor(
                        mix(light.0, dark.0),
                        mix(light.1, dark.1),
                        mix(light.2, dark.2),
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(points: Vec<(f64, f64)>) -> String {
        let s = Scatter {
            periods: (2020, 2023),
            points,
            currency: "EUR".into(),
        };
        let ctx = Context {
            settings: crate::config::Charts {
                formats: vec![],
                width: 1200,
                height: 750,
                kinds: vec![],
                indicators: vec![],
                highlight: vec![],
            },
            source: "test".into(),
            names: Default::default(),
            titles: Default::default(),
        };
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (1200, 750)).into_drawing_area();
            draw(&root, &s, &ctx).unwrap();
            root.present().unwrap();
        }
        svg
    }

    #[test]
    fn many_projects_are_binned_into_a_small_chart_that_says_so() {
        // 200 000 projects spread over four orders of magnitude: at most 60 × 36 cells, and
        // the subtitle counts the projects and the range of counts per cell.
        let points: Vec<(f64, f64)> = (0..200_000u32)
            .map(|i| {
                let a = f64::from(i % 1000) / 1000.0;
                let b = f64::from(i / 1000) / 200.0;
                (10f64.powf(1.0 + 3.0 * a), 10f64.powf(1.0 + 3.0 * b))
            })
            .collect();
        let svg = render(points);
        assert!(svg.len() < 600_000, "{} bytes", svg.len());
        assert!(svg.contains("200,000 projects, binned"), "subtitle");
        assert!(svg.matches("<rect").count() <= 60 * 36 + 2);
        assert!(!svg.contains("<circle"));
    }

    #[test]
    fn few_projects_are_points() {
        let svg = render(vec![(10.0, 100.0), (20.0, 50.0), (30.0, 70.0)]);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("3 projects, one point each"));
    }

    #[test]
    fn every_project_falls_in_a_cell_even_at_the_edges() {
        let points = vec![(1.0, 1.0), (1000.0, 1000.0), (31.6, 31.6)];
        let g = Grid::new(&points, (1.0, 1000.0, true), (1.0, 1000.0, true));
        assert_eq!(g.counts.iter().sum::<u32>(), 3);
        // On log axes 31.6 ≈ 10^1.5 is halfway: column 30 of 60, row 18 of 36.
        assert_eq!(g.x.cell(31.7), 30);
        assert_eq!(g.y.cell(31.7), 18);
    }
}

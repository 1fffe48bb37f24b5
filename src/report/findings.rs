//! The report's key findings, first on the page: what changed and where, in sentences made
//! from the numbers. The evaluation's effects and the index's ranking lead; then, for each
//! family, its headline indicators (the charts' `indicators`): the largest change since the
//! first period, the area furthest from the average, and the highlighted areas against the
//! others, each with its uncertainty and a link to the chart or table behind it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use polars::prelude::*;
use serde_json::Value as Json;

use super::{esc, evaluation, family_title, index, tables, Names};
use crate::catalogue::{Direction, Family, Resolved};
use crate::charts::{theme, Point, Rows, Series};

/// The most headline indicators a family's findings name.
const PER_FAMILY: usize = 3;

/// What the findings are made from.
pub struct Inputs<'a> {
    pub indicators: &'a DataFrame,
    pub outputs: crate::charts::Outputs<'a>,
    pub manifest: &'a Json,
    pub catalogue: &'a Resolved,
    pub names: &'a Names,
    /// The file stems of the charts in the report, for links.
    pub charts: &'a BTreeSet<String>,
}

/// The section's HTML (empty when there is nothing to say).
pub fn section(x: &Inputs) -> PolarsResult<String> {
    let mut lead = String::new();
    let mut evaluated = BTreeSet::new();
    if let Some(effects) = x.outputs.effects {
        for (id, s) in evaluation::headlines(effects, x.manifest, x.catalogue)? {
            let _ = writeln!(
                lead,
                "<li>{s} <a href=\"#{}\">Evaluation</a></li>",
                evaluation::anchor(&id)
            );
            evaluated.insert(id);
        }
    }
    if let Some(df) = x.outputs.index {
        if let Some(s) = index::summary(df, x.manifest, x.names.areas())? {
            let sure = s.sure.map(|t| format!(" {t}")).unwrap_or_default();
            let _ = writeln!(
                lead,
                "<li>{}{sure} <a href=\"#index\">Composite index</a></li>",
                s.lead
            );
        }
    }
    let rows = Rows::new(x.indicators)?;
    let highlight: Vec<String> =
        serde_json::from_value(x.manifest["charts"]["highlight"].clone()).unwrap_or_default();
    let headline = headline_series(x, &rows, &highlight);
    let mut families = String::new();
    for family in Family::SHOWN {
        let items: Vec<String> = headline
            .iter()
            .filter(|s| s.family == family.as_str())
            .take(PER_FAMILY)
            .filter_map(|s| indicator(x, s, evaluated.contains(&s.indicator)))
            .collect();
        if !items.is_empty() {
            let _ = writeln!(
                families,
                "<h3>{}</h3>\n<ul class=\"findings\">\n{}</ul>",
                esc(family_title(family)),
                items.join("\n")
            );
        }
    }
    if lead.is_empty() && families.is_empty() {
        return Ok(String::new());
    }
    let mut h = String::from("<h2 id=\"findings\">Key findings</h2>\n");
    if !lead.is_empty() {
        let _ = writeln!(h, "<ul class=\"findings lead\">\n{lead}</ul>");
    }
    h.push_str(&families);
    h.push_str("<p class=\"meta\">Intervals are 95 % confidence intervals where the table has them; the interval of a change treats its two years as independent samples. Averages are of the areas, unweighted.</p>\n");
    Ok(h)
}

/// The series the findings are about: the charts' headline indicators (`[charts]
/// indicators`), which the analyst chose, that several areas have; a family without one has
/// no findings. Each is read from the table once.
fn headline_series(x: &Inputs, rows: &Rows, highlight: &[String]) -> Vec<Series> {
    let charted: Vec<String> =
        serde_json::from_value(x.manifest["charts"]["indicators"].clone()).unwrap_or_default();
    charted
        .iter()
        .filter_map(|id| rows.series(id, highlight))
        .filter(|s| s.series.len() >= 2)
        .collect()
}

/// How an indicator's values read in a sentence.
struct Style<'a> {
    unit: &'a str,
    decimals: usize,
    direction: Direction,
}

impl Style<'_> {
    fn value(&self, v: f64) -> String {
        let n = theme::number_with(v, self.decimals);
        match self.unit {
            "" => n,
            "%" => format!("{n} %"),
            u => format!("{n} {u}"),
        }
    }

    /// A change, signed, in its unit: a change of a rate is in percentage points.
    fn change(&self, d: f64) -> String {
        let n = theme::number_with(d.abs(), self.decimals);
        let zero = !n.chars().any(|c| c.is_ascii_digit() && c != '0');
        let sign = match (zero, d < 0.0) {
            (true, _) => "",
            (false, true) => "−",
            (false, false) => "+",
        };
        match self.unit {
            "" => format!("{sign}{n}"),
            "%" => format!("{sign}{n} percentage points"),
            u => format!("{sign}{n} {u}"),
        }
    }

    /// "an improvement" or "a worsening", by the indicator's direction.
    fn judge(&self, d: f64) -> &'static str {
        match (self.direction, d < 0.0) {
            (Direction::LowerBetter, true) | (Direction::HigherBetter, false) => ", an improvement",
            (Direction::LowerBetter, false) | (Direction::HigherBetter, true) => ", a worsening",
            (Direction::Neutral, _) => "",
        }
    }
}

/// Half the width of a 95 % interval.
fn half(p: &Point) -> Option<f64> {
    p.2.map(|(lo, hi)| (hi - lo) / 2.0)
}

/// "district"/"districts", by count.
pub(super) fn noun(level: &str, n: usize) -> String {
    let one = match level {
        "all" | "" => "area",
        l => l,
    };
    match (n, one) {
        (1, o) => o.to_string(),
        (_, "city") => "cities".to_string(),
        (_, "country") => "countries".to_string(),
        (_, o) => format!("{o}s"),
    }
}

/// One headline indicator's finding, as a list item: its largest change, the area furthest
/// from the average, and the highlighted areas against the others.
fn indicator(x: &Inputs, s: &Series, evaluated: bool) -> Option<String> {
    let entry = x.catalogue.get(&s.indicator);
    let top = s
        .series
        .values()
        .flatten()
        .map(|p| p.1.abs())
        .fold(0.0, f64::max);
    let style = Style {
        unit: &s.unit,
        decimals: theme::decimals_for(top),
        direction: entry.map_or(Direction::Neutral, |e| e.direction),
    };
    let name = |a: &str| esc(&x.names.name(a, &s.level));
    let (p0, p1) = s.periods();
    // Areas with a value in both the first and the last period.
    let pairs: Vec<(&str, &Point, &Point)> = s
        .series
        .iter()
        .filter_map(|(a, pts)| {
            let first = pts.iter().find(|p| p.0 == p0)?;
            let last = pts.iter().find(|p| p.0 == p1)?;
            Some((a.as_str(), first, last))
        })
        .collect();
    let mut text = Vec::new();
    if p0 < p1 && !pairs.is_empty() {
        text.push(movement(s, &style, &pairs, &name));
    }
    if let Some(t) = furthest(s, &style, p1, &name) {
        text.push(t);
    }
    if let Some(t) = highlighted(s, &style, &pairs, evaluated) {
        text.push(t);
    }
    if text.is_empty() {
        return None;
    }
    // The catalogue's name: a pipeline's declared series are named there too.
    let title = entry.map_or(s.name.as_str(), |e| e.name.as_str());
    Some(format!(
        "<li><strong>{}.</strong> {} {}</li>",
        esc(title),
        text.join(" "),
        link(x, s)
    ))
}

/// "From 2019 to 2023 it fell in all 9 districts; the largest change was in Noord, from
/// 4.70 % to 2.40 % (−2.30 percentage points, an improvement)."
fn movement(
    s: &Series,
    style: &Style,
    pairs: &[(&str, &Point, &Point)],
    name: &dyn Fn(&str) -> String,
) -> String {
    let (p0, p1) = s.periods();
    let down = pairs.iter().filter(|(_, a, b)| b.1 < a.1).count();
    let up = pairs.iter().filter(|(_, a, b)| b.1 > a.1).count();
    let n = pairs.len();
    let areas = noun(&s.level, n);
    let how = match (down, up) {
        (d, 0) if d == n => format!("fell in all {n} {areas}"),
        (0, u) if u == n => format!("rose in all {n} {areas}"),
        (d, u) if d >= u => format!("fell in {d} of {n} {areas} and rose in {u}"),
        (d, u) => format!("rose in {u} of {n} {areas} and fell in {d}"),
    };
    let (area, a, b) = pairs
        .iter()
        .max_by(|x, y| (x.2 .1 - x.1 .1).abs().total_cmp(&(y.2 .1 - y.1 .1).abs()))
        .expect("pairs is not empty");
    let d = b.1 - a.1;
    let uncertainty = match half(a).zip(half(b)) {
        Some((h0, h1)) => {
            let h = (h0 * h0 + h1 * h1).sqrt();
            let within = if d.abs() <= h {
                ", within its uncertainty"
            } else {
                ""
            };
            format!(
                "; 95 % interval of the change ±{}{within}",
                theme::number_with(h, style.decimals)
            )
        }
        None => "; the table gives no interval".to_string(),
    };
    format!(
        "From {p0} to {p1} it {how}; the largest change was in {}, from {} to {} ({}{}{uncertainty}).",
        name(area),
        style.value(a.1),
        style.value(b.1),
        style.change(d),
        style.judge(d),
    )
}

/// "In 2023, Nogueiró e Tenões is furthest from the average of the 9 districts: 32.9 %
/// (95 % interval 16.6 to 47.1) against 18.2 %."
fn furthest(s: &Series, style: &Style, p1: i32, name: &dyn Fn(&str) -> String) -> Option<String> {
    let latest: Vec<(&str, &Point)> = s
        .series
        .iter()
        .filter_map(|(a, pts)| Some((a.as_str(), pts.iter().find(|p| p.0 == p1)?)))
        .collect();
    if latest.len() < 3 {
        return None;
    }
    let mean = latest.iter().map(|(_, p)| p.1).sum::<f64>() / latest.len() as f64;
    let (area, p) = latest
        .iter()
        .max_by(|a, b| (a.1 .1 - mean).abs().total_cmp(&(b.1 .1 - mean).abs()))?;
    let interval = match p.2 {
        Some((lo, hi)) => {
            let includes = if lo <= mean && mean <= hi {
                "; its interval includes the average"
            } else {
                ""
            };
            format!(
                " (95 % interval {} to {}{includes})",
                theme::number_with(lo, style.decimals),
                theme::number_with(hi, style.decimals)
            )
        }
        None => String::new(),
    };
    let side = if p.1 > mean { "above" } else { "below" };
    Some(format!(
        "In {p1}, {} is furthest from the average of the {} {}: {}{interval}, {side} the average of {}.",
        name(area),
        latest.len(),
        noun(&s.level, latest.len()),
        style.value(p.1),
        style.value(mean),
    ))
}

/// "The 3 highlighted districts changed by −1.90 percentage points on average, the 6 others
/// by −0.98: a plain comparison of averages."
fn highlighted(
    s: &Series,
    style: &Style,
    pairs: &[(&str, &Point, &Point)],
    evaluated: bool,
) -> Option<String> {
    if s.highlight.is_empty() {
        return None;
    }
    let mean = |inside: bool| {
        let d: Vec<f64> = pairs
            .iter()
            .filter(|(a, _, _)| s.highlight.contains(*a) == inside)
            .map(|(_, a, b)| b.1 - a.1)
            .collect();
        (!d.is_empty()).then(|| (d.len(), d.iter().sum::<f64>() / d.len() as f64))
    };
    let ((nh, dh), (nc, dc)) = mean(true).zip(mean(false))?;
    let then = if evaluated {
        "a plain comparison of averages; the evaluation estimates the effect"
    } else {
        "a plain comparison of averages, not an estimate of an effect"
    };
    Some(format!(
        "The {nh} highlighted {} changed by {} on average, the {nc} others by {}: {then}.",
        noun(&s.level, nh),
        style.change(dh),
        style.change(dc),
    ))
}

/// A link to the chart behind a finding: its time series, else its ranking, else the table.
fn link(x: &Inputs, s: &Series) -> String {
    for kind in ["timeseries", "ranked"] {
        let stem = format!("{}-{}-{kind}", s.family, s.indicator);
        if x.charts.contains(&stem) {
            return format!("<a href=\"#chart-{stem}\">Chart</a>");
        }
    }
    match Family::parse(&s.family) {
        Some(f) => format!("<a href=\"#{}\">Table</a>", tables::anchor(f, &s.level)),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn series(highlight: &[&str]) -> Series {
        // Worked by hand. 2019 → 2023: A 10 → 6 (−4), B 8 → 7 (−1), C 5 → 6 (+1), D 9 → 8
        // (−1). Fell in 3 of 4; most in A. 2023 mean (6 + 7 + 6 + 8) / 4 = 6.75: furthest is
        // D (8, +1.25) before A and C (−0.75). A's interval of the change: half-widths 1 and
        // 2 give ±√5 = ±2.24, smaller than 4.
        let mut m = BTreeMap::new();
        let p = |y, v, ci: Option<(f64, f64)>| (y, v, ci);
        m.insert(
            "A".to_string(),
            vec![
                p(2019, 10.0, Some((9.0, 11.0))),
                p(2023, 6.0, Some((4.0, 8.0))),
            ],
        );
        m.insert(
            "B".to_string(),
            vec![p(2019, 8.0, None), p(2023, 7.0, None)],
        );
        m.insert(
            "C".to_string(),
            vec![p(2019, 5.0, None), p(2023, 6.0, None)],
        );
        m.insert(
            "D".to_string(),
            vec![p(2019, 9.0, None), p(2023, 8.0, Some((7.5, 8.5)))],
        );
        Series {
            indicator: "unemployment_rate".into(),
            name: "Unemployment rate".into(),
            unit: "%".into(),
            family: "exclusion".into(),
            level: "district".into(),
            series: m,
            highlight: highlight.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn finding(s: &Series, evaluated: bool) -> String {
        let catalogue = Resolved::new(&crate::catalogue::Settings::default());
        let names = Names::new(BTreeMap::new(), &serde_json::json!({}));
        let df = DataFrame::empty();
        let charts = BTreeSet::from(["exclusion-unemployment_rate-timeseries".to_string()]);
        let x = Inputs {
            indicators: &df,
            outputs: Default::default(),
            manifest: &serde_json::json!({}),
            catalogue: &catalogue,
            names: &names,
            charts: &charts,
        };
        indicator(&x, &s.clone(), evaluated).unwrap()
    }

    #[test]
    fn the_largest_change_and_its_interval() {
        let f = finding(&series(&[]), false);
        assert!(
            f.contains("From 2019 to 2023 it fell in 3 of 4 districts and rose in 1; the largest change was in A, from 10.0 % to 6.0 % (−4.0 percentage points, an improvement; 95 % interval of the change ±2.2)."),
            "{f}"
        );
        assert!(f.contains("<a href=\"#chart-exclusion-unemployment_rate-timeseries\">Chart</a>"));
    }

    #[test]
    fn the_area_furthest_from_the_average() {
        let f = finding(&series(&[]), false);
        assert!(
            f.contains("In 2023, D is furthest from the average of the 4 districts: 8.0 % (95 % interval 7.5 to 8.5), above the average of 6.8 %."),
            "{f}"
        );
        assert!(!f.contains("highlighted"), "{f}");
    }

    #[test]
    fn highlighted_areas_against_the_others() {
        // A and B: (−4 − 1) / 2 = −2.5; C and D: (+1 − 1) / 2 = 0.
        let f = finding(&series(&["A", "B"]), true);
        assert!(
            f.contains("The 2 highlighted districts changed by −2.5 percentage points on average, the 2 others by 0.0 percentage points: a plain comparison of averages; the evaluation estimates the effect."),
            "{f}"
        );
    }

    #[test]
    fn a_change_without_intervals_says_so() {
        let mut s = series(&[]);
        for pts in s.series.values_mut() {
            for p in pts.iter_mut() {
                p.2 = None;
            }
        }
        let f = finding(&s, false);
        assert!(
            f.contains("−4.0 percentage points, an improvement; the table gives no interval)"),
            "{f}"
        );
        assert!(f.contains("8.0 %, above the average"), "{f}");
    }
}

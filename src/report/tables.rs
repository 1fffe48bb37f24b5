//! The report's tables of latest values: for each family, one table per level of area
//! (countries, cities, districts), each holding only the indicators that level has, and none
//! wider than a page. A level with fewer areas than indicators is transposed (an indicator per
//! row); otherwise the indicators are split into tables of at most [`MAX_COLUMNS`], in the
//! catalogue's order, which keeps an indicator beside its relatives.

use std::collections::BTreeMap;
#[cfg(test)]
use std::collections::BTreeSet;
use std::fmt::Write as _;

use polars::prelude::*;

use super::{esc, Names};
use crate::catalogue::{Family, Resolved};
use crate::charts::theme;
use crate::indicators::{floats, ints, strings};

/// The most indicator columns a table takes beside the area's name: six fit an A4 page in
/// portrait at a readable size.
pub const MAX_COLUMNS: usize = 6;

/// Levels from the coarsest, the order a reader meets them in.
const COARSE_TO_FINE: [&str; 6] = [
    "all",
    "country",
    "region",
    "city",
    "district",
    "neighbourhood",
];

/// One value of the table and its flag.
type Cell = (f64, Option<String>);

/// The latest values of one level: indicator → its latest period; (area, indicator) → cell.
#[derive(Default)]
struct Level<'a> {
    latest: BTreeMap<&'a str, i32>,
    cells: BTreeMap<&'a str, BTreeMap<&'a str, Cell>>,
}

/// The family's tables as HTML (empty when the family has no area values).
pub fn latest(
    all: &DataFrame,
    family: Family,
    names: &Names,
    catalogue: &Resolved,
) -> PolarsResult<String> {
    // Only the family's area values; per-project values can be millions of rows.
    let df = &all
        .clone()
        .lazy()
        .filter(
            col("family")
                .eq(lit(family.as_str()))
                .and(col("level").neq(lit("project")))
                .and(col("breakdown").is_null()),
        )
        .collect()?;
    let ind = strings(df, "indicator")?;
    let area = strings(df, "area")?;
    let level = strings(df, "level")?;
    let period = ints(df, "period")?;
    let value = floats(df, "value")?;
    let flag = strings(df, "flag")?;
    let unit = match df.schema().contains("unit") {
        true => strings(df, "unit")?,
        false => vec![None; df.height()],
    };
    let mut units: BTreeMap<&str, &str> = BTreeMap::new();
    let mut levels: BTreeMap<&str, Level> = BTreeMap::new();
    let rows =
        (0..df.height()).filter(|&i| ind[i].as_deref().is_some_and(|id| !id.ends_with("_change")));
    for i in rows.clone() {
        let (Some(id), Some(l), Some(p)) = (ind[i].as_deref(), level[i].as_deref(), period[i])
        else {
            continue;
        };
        if let Some(u) = unit[i].as_deref() {
            units.entry(id).or_insert(u);
        }
        let e = levels.entry(l).or_default().latest.entry(id).or_insert(p);
        *e = (*e).max(p);
    }
    for i in rows {
        let (Some(id), Some(l), Some(a), Some(v)) = (
            ind[i].as_deref(),
            level[i].as_deref(),
            area[i].as_deref(),
            value[i],
        ) else {
            continue;
        };
        let lv = levels.get_mut(l).expect("every level was seen");
        if lv.latest.get(id) == period[i].as_ref() {
            lv.cells
                .entry(a)
                .or_default()
                .insert(id, (v, flag[i].clone()));
        }
    }
    // One number of decimals per indicator, at every level, set by its largest value.
    let mut top: BTreeMap<&str, f64> = BTreeMap::new();
    for lv in levels.values() {
        for row in lv.cells.values() {
            for (id, c) in row {
                let t = top.entry(id).or_insert(0.0);
                *t = t.max(c.0.abs());
            }
        }
    }
    let decimals: BTreeMap<&str, usize> = top
        .into_iter()
        .map(|(id, t)| (id, theme::decimals_for(t)))
        .collect();
    let order: Vec<&str> = catalogue.entries.iter().map(|e| e.id.as_str()).collect();
    let rank = |id: &str| order.iter().position(|o| *o == id).unwrap_or(usize::MAX);
    let mut level_order: Vec<&str> = levels.keys().copied().collect();
    level_order.sort_by_key(|l| {
        COARSE_TO_FINE
            .iter()
            .position(|c| c == l)
            .unwrap_or(COARSE_TO_FINE.len())
    });
    let t = Table {
        family,
        names,
        catalogue,
        units: &units,
        decimals: &decimals,
    };
    let mut h = String::new();
    for l in level_order {
        let lv = &levels[l];
        if lv.cells.is_empty() {
            continue;
        }
        let mut ids: Vec<&str> = lv.latest.keys().copied().collect();
        ids.sort_by_key(|id| (rank(id), *id));
        let _ = writeln!(
            h,
            "<h3 id=\"{}\">{}: latest values</h3>",
            anchor(family, l),
            esc(&plural(l, lv.cells.len()))
        );
        let areas: Vec<&str> = lv.cells.keys().copied().collect();
        if areas.len() < ids.len() && areas.len() <= MAX_COLUMNS {
            t.transposed(&mut h, l, lv, &ids, &areas);
        } else {
            for chunk in split(&ids) {
                t.wide(&mut h, l, lv, chunk, &areas);
            }
        }
    }
    if !h.is_empty() {
        h.push_str("<p class=\"meta\">Latest period of each indicator; * a flagged value (low reliability, or a flag of the source: hover to read it); – no value (hover for the reason). Indicator ids and area codes are in the tooltips.</p>\n");
    }
    Ok(h)
}

/// Where a family's table of one level starts, for links from the key findings.
pub fn anchor(family: Family, level: &str) -> String {
    format!("table-{}-{}", family.as_str(), super::slug(level))
}

/// Splits the columns into the fewest tables of at most [`MAX_COLUMNS`], of even widths
/// (13 columns give 5, 4 and 4, not 6, 6 and 1).
fn split<'a, 'b>(ids: &'b [&'a str]) -> Vec<&'b [&'a str]> {
    let tables = ids.len().div_ceil(MAX_COLUMNS).max(1);
    let (base, extra) = (ids.len() / tables, ids.len() % tables);
    let mut out = Vec::with_capacity(tables);
    let mut start = 0;
    for k in 0..tables {
        let width = base + usize::from(k < extra);
        out.push(&ids[start..start + width]);
        start += width;
    }
    out
}

/// "Districts (9)", "Cities (3)": a level's name as a heading.
pub fn plural(level: &str, n: usize) -> String {
    let name = match level {
        "all" => "all areas".to_string(),
        l => super::findings::noun(l, 2),
    };
    let mut c = name.chars();
    let name = c
        .next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default();
    format!("{name} ({n})")
}

/// What every table of a family shares.
struct Table<'a> {
    family: Family,
    names: &'a Names,
    catalogue: &'a Resolved,
    units: &'a BTreeMap<&'a str, &'a str>,
    decimals: &'a BTreeMap<&'a str, usize>,
}

impl Table<'_> {
    /// An indicator's name, with its unit and period below and its id on hover.
    fn indicator_header(&self, id: &str, period: i32, scope: &str) -> String {
        let name = self.catalogue.get(id).map_or(id, |e| e.name.as_str());
        let unit = self.units.get(id).copied().unwrap_or("");
        let small = match unit.is_empty() {
            true => format!("{period}"),
            false => format!("{}, {period}", esc(unit)),
        };
        format!(
            "<th{scope} title=\"{}\">{}<br><small>{small}</small></th>",
            esc(id),
            esc(name)
        )
    }

    fn area_header(&self, code: &str, level: &str, tag: &str) -> String {
        format!(
            "<{tag} title=\"{}\">{}</{tag}>",
            esc(code),
            esc(&self.names.name(code, level))
        )
    }

    fn cell(&self, lv: &Level, area: &str, id: &str, period: i32) -> String {
        match lv.cells.get(area).and_then(|r| r.get(id)) {
            Some((v, flag)) => {
                let text = theme::number_with(*v, self.decimals.get(id).copied().unwrap_or(2));
                match flag {
                    Some(f) => format!("<td title=\"flag: {}\">{text}*</td>", esc(f)),
                    None => format!("<td>{text}</td>"),
                }
            }
            None => format!(
                "<td title=\"{}\">–</td>",
                esc(&self.names.why_missing(id, area, period))
            ),
        }
    }

    /// Areas down, indicators across.
    fn wide(&self, h: &mut String, level: &str, lv: &Level, ids: &[&str], areas: &[&str]) {
        let _ = write!(
            h,
            "<div class=\"scroll\"><table class=\"values {}\">\n<tr><th>Area</th>",
            self.family.as_str()
        );
        for id in ids {
            h.push_str(&self.indicator_header(id, lv.latest[id], ""));
        }
        h.push_str("</tr>\n");
        for a in areas {
            h.push_str("<tr>");
            h.push_str(&self.area_header(a, level, "td"));
            for id in ids {
                h.push_str(&self.cell(lv, a, id, lv.latest[id]));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table></div>\n");
    }

    /// Indicators down, areas across: for a few areas and many indicators.
    fn transposed(&self, h: &mut String, level: &str, lv: &Level, ids: &[&str], areas: &[&str]) {
        let _ = write!(
            h,
            "<div class=\"scroll\"><table class=\"values transposed {}\">\n<tr><th>Indicator</th>",
            self.family.as_str()
        );
        for a in areas {
            h.push_str(&self.area_header(a, level, "th"));
        }
        h.push_str("</tr>\n");
        for id in ids {
            h.push_str("<tr>");
            h.push_str(&self.indicator_header(id, lv.latest[id], " scope=\"row\""));
            for a in areas {
                h.push_str(&self.cell(lv, a, id, lv.latest[id]));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table></div>\n");
    }
}

/// The anchors of the tables' headings, for tests.
#[cfg(test)]
fn levels_of(html: &str) -> BTreeSet<String> {
    html.match_indices("<h3 id=\"")
        .map(|(i, _)| {
            let rest = &html[i + 8..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::new(BTreeMap::new(), &serde_json::json!({}))
    }

    #[test]
    fn thirteen_columns_split_into_five_four_and_four() {
        let ids: Vec<&str> = (0..13).map(|_| "x").collect();
        let widths: Vec<usize> = split(&ids).iter().map(|c| c.len()).collect();
        assert_eq!(widths, [5, 4, 4]);
        let six: Vec<&str> = (0..6).map(|_| "x").collect();
        assert_eq!(split(&six).len(), 1);
    }

    #[test]
    fn each_level_has_its_own_table_and_a_column_has_one_number_of_decimals() {
        // Two districts with arpr and gini; one city with only long-term unemployment. The
        // city's table holds no empty arpr column, and the district table no empty LTU one.
        // 40.0 sets one decimal for arpr: 0.0004 is written 0.0, not 0.000. District Y has no
        // gini and shows "–" with the reason on hover.
        let df = df!(
            "indicator" => ["arpr", "arpr", "gini", "long_term_unemployment_rate"],
            "family" => ["exclusion"; 4],
            "area" => ["X", "Y", "X", "C"],
            "level" => ["district", "district", "district", "city"],
            "period" => [2021i32, 2021, 2021, 2022],
            "breakdown" => [None::<&str>; 4],
            "value" => [40.0, 0.0004, 30.0, 1.25],
            "unit" => ["%"; 4],
            "flag" => [None::<&str>, Some("low_reliability"), None, None],
        )
        .unwrap();
        let catalogue = Resolved::new(&crate::catalogue::Settings::default());
        let t = latest(&df, Family::Exclusion, &names(), &catalogue).unwrap();
        assert_eq!(
            levels_of(&t),
            BTreeSet::from([
                "table-exclusion-city".to_string(),
                "table-exclusion-district".to_string()
            ])
        );
        // Cities come before districts.
        assert!(t.find("Cities (1)").unwrap() < t.find("Districts (2)").unwrap());
        assert!(t.contains("<td>40.0</td>"), "{t}");
        assert!(
            t.contains("<td title=\"flag: low_reliability\">0.0*</td>"),
            "{t}"
        );
        assert!(t.contains(">–</td>"), "{t}");
        assert!(t.contains("<th title=\"gini\">Gini coefficient"), "{t}");
        // The one city and its one indicator: 1 area is not fewer than 1 indicator, so areas
        // go down; the city table has one indicator column.
        let city = &t[t.find("Cities (1)").unwrap()..t.find("Districts (2)").unwrap()];
        assert_eq!(city.matches("<th title=").count(), 1, "{city}");
        // arpr before gini: the catalogue's order, not the alphabet's.
        let d = &t[t.find("Districts (2)").unwrap()..];
        assert!(d.find("title=\"arpr\"").unwrap() < d.find("title=\"gini\"").unwrap());
    }

    #[test]
    fn few_areas_and_many_indicators_are_transposed() {
        // Two cities and three indicators: an indicator per row, a city per column.
        let df = df!(
            "indicator" => ["ghg_total", "ghg_total", "ghg_per_capita", "ghg_per_capita", "green_area_per_100k", "green_area_per_100k"],
            "family" => ["climate"; 6],
            "area" => ["A", "B", "A", "B", "A", "B"],
            "level" => ["city"; 6],
            "period" => [2023i32; 6],
            "breakdown" => [None::<&str>; 6],
            "value" => [1500.0, 2500.0, 3.5, 4.25, 100.0, 90.0],
            "unit" => ["tCO2e", "tCO2e", "tCO2e per person", "tCO2e per person", "ha", "ha"],
            "flag" => [None::<&str>; 6],
        )
        .unwrap();
        let catalogue = Resolved::new(&crate::catalogue::Settings::default());
        let mut names = BTreeMap::new();
        names.insert("A".to_string(), "Amersfoort".to_string());
        let t = latest(
            &df,
            Family::Climate,
            &Names::new(names, &serde_json::json!({})),
            &catalogue,
        )
        .unwrap();
        assert!(t.contains("class=\"values transposed climate\""), "{t}");
        assert!(
            t.contains("<th title=\"A\">Amersfoort</th><th title=\"B\">B</th>"),
            "{t}"
        );
        assert_eq!(t.matches("scope=\"row\"").count(), 3);
        assert!(t.contains("<td>1,500</td><td>2,500</td>"), "{t}");
    }
}

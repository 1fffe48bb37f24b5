//! What the pipeline and its sources decide for the catalogue's texts, the charts and the
//! report: units, booking, area and index names, the areas to highlight.

use polars::prelude::*;

use super::VERSION;
use crate::catalogue::{self, Family};
use crate::config::{self, Pipeline};
use crate::contracts::Table;
use crate::indicators;

/// What the pipeline decides about the catalogue's texts (units, discount rate, booking).
pub fn catalogue_settings(pipeline: &Pipeline) -> catalogue::Settings {
    let by = |spread: config::Spread| -> Vec<&str> {
        pipeline
            .sources
            .iter()
            .filter(|s| s.kind == config::SourceKind::Projects && s.spread == spread)
            .map(|s| s.name.as_str())
            .collect()
    };
    let (start, pro_rata) = (by(config::Spread::StartYear), by(config::Spread::ProRata));
    let booking = match (start.is_empty(), pro_rata.is_empty()) {
        (_, true) => "a project's amount is booked in its start year".to_string(),
        (true, false) => {
            "a project's amount is spread over its duration, pro rata by days".to_string()
        }
        (false, false) => format!(
            "a project's amount is booked in its start year (sources {}) or spread over its duration pro rata by days (sources {})",
            start.join(", "),
            pro_rata.join(", ")
        ),
    };
    let index_inputs: Vec<catalogue::Entry> = pipeline
        .index
        .iter()
        .flat_map(|i| {
            i.inputs()
                .into_iter()
                .filter(|c| catalogue::get(c).is_none() && pipeline.custom(c).is_none())
                .map(|c| {
                    let node = i.node(&c);
                    catalogue::Entry {
                        id: c.clone(),
                        family: Family::Exclusion,
                        name: node.map_or_else(|| c.clone(), |n| n.name.clone()),
                        unit: node.map_or_else(String::new, |n| n.unit.clone()),
                        direction: match node.map(|n| n.direction) {
                            Some(d) if d < 0.0 => catalogue::Direction::LowerBetter,
                            Some(_) => catalogue::Direction::HigherBetter,
                            None => catalogue::Direction::Neutral,
                        },
                        definition: format!(
                            "Passed through from city statistics for the index ({}).",
                            i.structure_path
                        ),
                        source: "declared in the index structure ([index] structure)".into(),
                        sql: None,
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let extra = pipeline
        .evaluation
        .iter()
        .flat_map(|e| &e.series)
        .map(|s| catalogue::Entry {
            id: s.id.clone(),
            // Passed through from city statistics, which the exclusion family reads.
            family: Family::Exclusion,
            name: s.name.clone(),
            unit: s.unit.clone(),
            direction: catalogue::Direction::from_config(&s.direction),
            definition: s.definition.clone(),
            source: "declared in the pipeline file ([evaluation.series])".into(),
            sql: None,
        })
        .chain(index_inputs)
        .chain(pipeline.custom.iter().map(|c| catalogue::Entry {
            id: c.id.clone(),
            family: Family::parse(&c.family).unwrap_or(Family::Custom),
            name: c.name.clone(),
            unit: c.unit.clone(),
            direction: catalogue::Direction::from_config(&c.direction),
            definition: c.definition.clone(),
            source: format!(
                "the pipeline's own SQL ([indicators.custom.{}] in {})",
                c.id,
                pipeline.file.file_name().map_or_else(
                    || pipeline.file.display().to_string(),
                    |f| f.to_string_lossy().into_owned()
                )
            ),
            sql: Some(c.sql.trim().to_string()),
        }))
        .collect();
    catalogue::Settings {
        currency: pipeline.currency.unit(),
        discount_rate: pipeline.indicators.sroi.discount_rate,
        booking,
        extra,
    }
}

/// Area code → the name a reader sees, from the `areas` sources' `name` role. A name that
/// several codes share gets its code beside it, so that no two areas look alike.
pub(super) fn area_names(
    tables: &[Table],
) -> PolarsResult<std::collections::BTreeMap<String, String>> {
    use std::collections::BTreeMap;
    let mut names = indicators::area_texts(tables, "name")?;
    let mut uses: BTreeMap<&str, usize> = BTreeMap::new();
    for n in names.values() {
        *uses.entry(n.as_str()).or_default() += 1;
    }
    let shared: std::collections::BTreeSet<String> = uses
        .into_iter()
        .filter(|(_, k)| *k > 1)
        .map(|(n, _)| n.to_string())
        .collect();
    for (code, name) in names.iter_mut() {
        if shared.contains(name.as_str()) {
            *name = format!("{name} ({code})");
        }
    }
    Ok(names)
}

/// Node code → name of the index's nodes, from its report.
pub(crate) fn index_names(report: Option<&serde_json::Value>) -> Vec<(String, String)> {
    report
        .and_then(|r| r["names"].as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The pipeline's chart settings, with the areas to highlight resolved: the ones it names, or
/// else the treated areas of its `areas` sources.
pub(super) fn chart_settings(pipeline: &Pipeline, tables: &[Table]) -> config::Charts {
    let mut settings = pipeline.charts.clone();
    if settings.highlight.is_empty() {
        for t in tables
            .iter()
            .filter(|t| t.kind == config::SourceKind::Areas)
        {
            let (Ok(area), Ok(treated)) = (t.frame.column("area"), t.frame.column("treated"))
            else {
                continue;
            };
            let (Ok(area), Ok(treated)) = (
                area.as_materialized_series().str(),
                treated.as_materialized_series().bool(),
            ) else {
                continue;
            };
            for (a, tr) in area.iter().zip(treated.iter()) {
                if let (Some(a), Some(true)) = (a, tr) {
                    if !settings.highlight.iter().any(|h| h == a) {
                        settings.highlight.push(a.to_string());
                    }
                }
            }
        }
        settings.highlight.sort();
    }
    settings
}

/// Where chart numbers come from, for their subtitles.
pub(super) fn source_note(pipeline: &Pipeline) -> String {
    format!("{} (cityimpact {VERSION})", pipeline.title)
}

//! `[charts]`: which charts to draw, how large, in which formats, and which areas stand out.

use toml::Spanned;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartFormat {
    Png,
    Svg,
}

impl ChartFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ChartFormat::Png => "png",
            ChartFormat::Svg => "svg",
        }
    }
}

/// The chart kinds cityimpact draws.
pub const CHART_KINDS: [&str; 9] = [
    "timeseries",
    "ranked",
    "financing-mix",
    "ghg-sectors",
    "cost-scatter",
    "event-study",
    "cohort-effects",
    "index-ranked",
    "index-heatmap",
];

/// `[charts]`: which charts, how large, in which formats, and which areas stand out.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Charts {
    pub formats: Vec<ChartFormat>,
    pub width: u32,
    pub height: u32,
    /// Kinds to draw, from [`CHART_KINDS`].
    pub kinds: Vec<String>,
    /// Indicators for the time series and ranked charts.
    pub indicators: Vec<String>,
    /// Areas drawn in colour; the others are grey comparisons. Empty: the treated areas of an
    /// `areas` source, or every area when there are none.
    pub highlight: Vec<String>,
}

/// `custom`: the ids of the pipeline's own indicators, which may be charted too.
pub(super) fn resolve_charts(
    ctx: &Ctx,
    raw: Option<raw::RawCharts>,
    custom: &[String],
) -> Result<Charts, ConfigError> {
    let raw = raw.unwrap_or_default();
    let mut formats = Vec::new();
    match raw.formats {
        Some(list) => {
            for f in list {
                let fmt = match f.get_ref().as_str() {
                    "png" => ChartFormat::Png,
                    "svg" => ChartFormat::Svg,
                    other => {
                        return Err(ctx.error(
                            &f,
                            format!("unknown chart format `{other}`"),
                            Some("chart formats: png, svg".into()),
                        ))
                    }
                };
                if !formats.contains(&fmt) {
                    formats.push(fmt);
                }
            }
        }
        None => formats = vec![ChartFormat::Png, ChartFormat::Svg],
    }
    let check_size = |v: Option<Spanned<u32>>, default: u32, what: &str| match v {
        Some(s) if !(200..=8000).contains(s.get_ref()) => Err(ctx.error(
            &s,
            format!("chart {what} {} is outside 200-8000 pixels", s.get_ref()),
            None,
        )),
        Some(s) => Ok(s.into_inner()),
        None => Ok(default),
    };
    let kinds = match raw.kinds {
        Some(list) => {
            let mut kinds = Vec::new();
            for k in list {
                if !CHART_KINDS.contains(&k.get_ref().as_str()) {
                    let hint = nearest(k.get_ref(), CHART_KINDS)
                        .map(|n| format!("did you mean `{n}`?"))
                        .unwrap_or_else(|| format!("chart kinds: {}", CHART_KINDS.join(", ")));
                    return Err(ctx.error(
                        &k,
                        format!("unknown chart kind `{}`", k.get_ref()),
                        Some(hint),
                    ));
                }
                kinds.push(k.into_inner());
            }
            kinds
        }
        None => CHART_KINDS.iter().map(|k| k.to_string()).collect(),
    };
    let indicators = match raw.indicators {
        Some(list) => {
            let mut ids = Vec::new();
            for id in list {
                if crate::catalogue::get(id.get_ref()).is_none() && !custom.contains(id.get_ref()) {
                    let ids = crate::catalogue::all().iter().map(|i| i.id);
                    let hint = nearest(id.get_ref(), ids.chain(custom.iter().map(String::as_str)))
                        .map(|n| format!("did you mean `{n}`?"))
                        .unwrap_or_else(|| "`cityimpact indicators` lists the catalogue".into());
                    return Err(ctx.error(
                        &id,
                        format!("`{}` is not in the indicator catalogue", id.get_ref()),
                        Some(hint),
                    ));
                }
                ids.push(id.into_inner());
            }
            ids
        }
        None => [
            "arpr",
            "unemployment_rate",
            "spend_per_capita",
            "ghg_per_capita",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    };
    Ok(Charts {
        formats,
        width: check_size(raw.width, 1200, "width")?,
        height: check_size(raw.height, 750, "height")?,
        kinds,
        indicators,
        highlight: raw.highlight.unwrap_or_default(),
    })
}

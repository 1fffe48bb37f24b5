//! What the user wrote, as serde reads it. Every table denies unknown keys, so a misspelt key
//! is an error with its span; spans are kept where a later check needs to point at a value.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::kinds::SourceKind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub pipeline: RawPipeline,
    #[serde(default)]
    pub sources: BTreeMap<String, Spanned<RawSource>>,
    pub currency: Option<RawCurrency>,
    pub indicators: Option<RawIndicators>,
    pub charts: Option<RawCharts>,
    pub checks: Option<RawChecks>,
    pub evaluation: Option<super::evaluation::RawEvaluation>,
    pub index: Option<super::index::RawIndex>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub name: Spanned<String>,
    pub title: Option<String>,
    pub out: Option<String>,
    pub periods: Option<Spanned<RawPeriods>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPeriods {
    pub from: i32,
    pub to: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub kind: Spanned<SourceKind>,
    pub path: Spanned<String>,
    pub format: Option<Spanned<String>>,
    pub separator: Option<Spanned<String>>,
    pub decimal: Option<Spanned<String>>,
    pub encoding: Option<Spanned<String>>,
    pub period: Option<Spanned<i32>>,
    pub columns: Option<Spanned<BTreeMap<String, String>>>,
    pub variables: Option<Spanned<BTreeMap<String, String>>>,
    pub filter: Option<Spanned<BTreeMap<String, String>>>,
    pub sheet: Option<Spanned<String>>,
    pub spread: Option<Spanned<String>>,
    pub social_enterprises: Option<Vec<String>>,
    pub id_space: Option<Spanned<String>>,
    pub currency: Option<Spanned<String>>,
    pub description: Option<String>,
    pub licence: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCurrency {
    pub report: Option<String>,
    #[serde(default)]
    /// A number, or a table of years to numbers.
    pub rates: BTreeMap<String, Spanned<toml::Value>>,
    pub deflator: Option<Spanned<RawDeflator>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeflator {
    pub base_year: i32,
    /// Year → price index (any base: only ratios count).
    pub index: BTreeMap<String, f64>,
    /// Where the index comes from, for the units' readers (e.g. "Eurostat HICP, prc_hicp_aind").
    pub source: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIndicators {
    /// `"all"`, `"none"` or a list of ids; read as a plain value because serde's untagged
    /// enums lose spans.
    pub exclusion: Option<Spanned<toml::Value>>,
    pub spending: Option<Spanned<toml::Value>>,
    pub climate: Option<Spanned<toml::Value>>,
    pub breakdowns: Option<Vec<Spanned<Vec<String>>>>,
    pub age_groups: Option<Vec<Spanned<String>>>,
    pub base_year: Option<i32>,
    pub bootstrap: Option<RawBootstrap>,
    pub sroi: Option<RawSroi>,
    /// `[indicators.custom.ID]`: the pipeline's own indicators.
    pub custom: Option<BTreeMap<String, Spanned<super::custom::RawCustom>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSroi {
    pub discount_rate: Option<Spanned<f64>>,
    pub deadweight: Option<Spanned<Vec<f64>>>,
    pub attribution: Option<Spanned<Vec<f64>>>,
    pub drop_off: Option<Spanned<Vec<f64>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBootstrap {
    pub replicates: Option<Spanned<u32>>,
    pub seed: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCharts {
    pub formats: Option<Vec<Spanned<String>>>,
    pub width: Option<Spanned<u32>>,
    pub height: Option<Spanned<u32>>,
    pub kinds: Option<Vec<Spanned<String>>>,
    pub indicators: Option<Vec<Spanned<String>>>,
    pub highlight: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChecks {
    pub max_reject_share: Option<Spanned<f64>>,
}

//! The pipeline file: what the user wrote (raw serde types) and the one resolved [`Pipeline`]
//! that every later stage takes. Nothing reads the file again after [`load`].
//!
//! Every mistake is reported with the file, line and column, and where a key or value is
//! misspelt, the nearest valid one.
//!
//! - `raw`: the file as serde reads it, with spans.
//! - `source`, `kinds`: `[sources.NAME]`, formats and source kinds with their roles.
//! - `indicators`, `charts`, `evaluation`, `index`: the tables of the same names.
//! - `currency`: `[currency]`, its rates and deflator.
//! - `error`: what can be wrong, and where; `spans`: file:line:column from the file's spans,
//!   and the nearest valid name; `resolve`: the file resolved into the [`Pipeline`].
//! - here: SROI settings, checks, the [`Pipeline`] and [`load`].

mod charts;
mod currency;
pub mod custom;
mod error;
pub mod evaluation;
pub mod index;
mod indicators;
pub mod kinds;
mod raw;
mod resolve;
mod source;
mod spans;

use std::path::{Path, PathBuf};

pub use charts::{ChartFormat, Charts, CHART_KINDS};
pub use currency::{Currency, Deflator, Rate};
pub use custom::CustomIndicator;
pub use error::{ConfigError, Location};
pub use evaluation::Evaluation;
pub use index::IndexSettings;
pub use indicators::{AgeGroup, Bootstrap, IndicatorSelection};
pub use kinds::SourceKind;
use raw::RawFile;
use resolve::{is_valid_name, resolve};
pub use source::{Encoding, Format, Source};
pub use spans::nearest;
use spans::Ctx;

/// How a project's amount is booked over the years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spread {
    /// All of it in the start year.
    #[default]
    StartYear,
    /// Over its duration, in proportion to the days in each year.
    ProRata,
}

/// SROI settings: the discount rate and the ranges of the sensitivity grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SroiSettings {
    pub discount_rate: f64,
    pub deadweight: Option<(f64, f64)>,
    pub attribution: Option<(f64, f64)>,
    pub drop_off: Option<(f64, f64)>,
}

impl Default for SroiSettings {
    fn default() -> Self {
        // The UK Treasury Green Book rate that the SROI guide recommends.
        SroiSettings {
            discount_rate: 0.035,
            deadweight: None,
            attribution: None,
            drop_off: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// Above this share of rejected rows in any source, the run fails with exit code 3.
    pub max_reject_share: Option<f64>,
}

/// The resolved pipeline: what every stage takes.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub title: String,
    /// The pipeline file as given on the command line.
    pub file: PathBuf,
    /// BLAKE3 of the pipeline file's bytes, hex.
    pub file_hash: String,
    /// BLAKE3 of the file's settings without `[indicators.custom]`: what the built-in
    /// families depend on, so that editing a custom query recomputes only what reads it.
    pub settings_hash: String,
    /// Where outputs go (before `--out` overrides it).
    pub out: PathBuf,
    /// Inclusive filter on the reference year.
    pub periods: Option<(i32, i32)>,
    /// Sorted by name.
    pub sources: Vec<Source>,
    pub currency: Currency,
    pub indicators: IndicatorSelection,
    pub charts: Charts,
    pub checks: Checks,
    /// `[evaluation]`, when the pipeline evaluates outcomes.
    pub evaluation: Option<Evaluation>,
    /// `[index]`, when the pipeline builds a composite index.
    pub index: Option<IndexSettings>,
    /// `[indicators.custom.ID]`, sorted by id (computed in the order their queries need).
    pub custom: Vec<CustomIndicator>,
}

impl Pipeline {
    /// Whether `id` is a series the pipeline declares (an evaluation series, or an index
    /// indicator or denominator the catalogue does not know): city statistics pass it through.
    pub fn declares(&self, id: &str) -> bool {
        self.evaluation
            .as_ref()
            .is_some_and(|e| e.series(id).is_some())
            || self.index.as_ref().is_some_and(|i| {
                i.inputs().contains(id)
                    && crate::catalogue::get(id).is_none()
                    && self.custom(id).is_none()
            })
    }

    /// The custom indicator `id`, if the pipeline defines one.
    pub fn custom(&self, id: &str) -> Option<&CustomIndicator> {
        self.custom.iter().find(|c| c.id == id)
    }

    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }

    pub fn sources_of(&self, kind: SourceKind) -> impl Iterator<Item = &Source> {
        self.sources.iter().filter(move |s| s.kind == kind)
    }

    pub fn in_periods(&self, year: i32) -> bool {
        self.periods
            .is_none_or(|(from, to)| (from..=to).contains(&year))
    }
}

/// Reads, parses, checks and resolves a pipeline file.
pub fn load(path: &Path) -> Result<Pipeline, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file_hash = blake3::hash(&bytes).to_hex().to_string();
    let text = String::from_utf8(bytes).map_err(|e| {
        let ctx = Ctx::new(path, "");
        ctx.error_at_offset(
            e.utf8_error().valid_up_to(),
            "the pipeline file is not valid UTF-8".into(),
            Some("save it as UTF-8".into()),
        )
    })?;
    let ctx = Ctx::new(path, &text);
    let raw: RawFile = toml::from_str(&text).map_err(|e| ctx.toml_error(&e))?;
    let mut pipeline = resolve(&ctx, raw, file_hash)?;
    pipeline.settings_hash = custom::settings_hash(&text);
    Ok(pipeline)
}

/// For unit tests elsewhere: a pipeline in a temporary folder with one source `p` of `kind`
/// that reads `p.csv` there.
#[cfg(test)]
pub(crate) fn one_source(kind: &str) -> (tempfile::TempDir, Pipeline) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let toml = dir.path().join("t.toml");
    std::fs::write(
        &toml,
        format!("[pipeline]\nname = \"t\"\n[sources.p]\nkind = \"{kind}\"\npath = \"p.csv\"\n"),
    )
    .expect("write the pipeline");
    let pipeline = load(&toml).expect("the pipeline loads");
    (dir, pipeline)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> Result<Pipeline, ConfigError> {
        let path = Path::new("pipelines/t.toml");
        let ctx = Ctx::new(path, text);
        let raw: RawFile = toml::from_str(text).map_err(|e| ctx.toml_error(&e))?;
        resolve(&ctx, raw, String::new())
    }

    const MINIMAL: &str =
        "[pipeline]\nname = \"t\"\n\n[sources.pop]\nkind = \"areas\"\npath = \"a.csv\"\n";

    #[test]
    fn minimal_pipeline_gets_defaults() {
        let p = load_str(MINIMAL).unwrap();
        assert_eq!(p.name, "t");
        assert_eq!(p.out, PathBuf::from("out/t"));
        assert_eq!(p.sources[0].resolved, PathBuf::from("pipelines/a.csv"));
        assert_eq!(p.sources[0].format, Format::Csv);
        assert_eq!(p.currency.report, "EUR");
        assert!(p.indicators.exclusion.contains(&"arpr".to_string()));
        assert_eq!(p.indicators.age_groups.len(), 6);
    }

    #[test]
    fn misspelt_key_names_line_column_and_nearest_key() {
        let text = MINIMAL.replace("path =", "pth =");
        let err = load_str(&text).unwrap_err();
        let ConfigError::Invalid {
            location,
            message,
            hint,
        } = err
        else {
            panic!()
        };
        assert_eq!((location.line, location.column), (6, 1), "{message}");
        assert!(message.contains("pth"), "{message}");
        assert_eq!(hint.as_deref(), Some("did you mean the key `path`?"));
    }

    #[test]
    fn misspelt_kind_suggests_nearest_value() {
        let text = MINIMAL.replace("\"areas\"", "\"area\"");
        let err = load_str(&text).unwrap_err();
        let ConfigError::Invalid { location, hint, .. } = err else {
            panic!()
        };
        assert_eq!((location.line, location.column), (5, 8));
        assert_eq!(hint.as_deref(), Some("did you mean the value `areas`?"));
    }

    #[test]
    fn unknown_role_points_at_the_role() {
        let text = format!("{MINIMAL}columns = {{ area = \"code\", populaton = \"pop\" }}\n");
        let err = load_str(&text).unwrap_err();
        let ConfigError::Invalid { location, hint, .. } = err else {
            panic!()
        };
        assert_eq!((location.line, location.column), (7, 28));
        assert_eq!(hint.as_deref(), Some("did you mean the role `population`?"));
    }

    #[test]
    fn unknown_indicator_is_an_error_with_suggestion() {
        let text = format!("{MINIMAL}\n[indicators]\nexclusion = [\"arpr\", \"gni\"]\n");
        let err = load_str(&text).unwrap_err();
        let ConfigError::Invalid { location, hint, .. } = err else {
            panic!()
        };
        assert_eq!(location.line, 9);
        assert_eq!(hint.as_deref(), Some("did you mean `gini`?"));
    }

    #[test]
    fn selection_keeps_catalogue_order() {
        let text = format!(
            "{MINIMAL}\n[indicators]\nexclusion = [\"gini\", \"arpr\"]\nclimate = \"none\"\n"
        );
        let p = load_str(&text).unwrap();
        assert_eq!(p.indicators.exclusion, vec!["arpr", "gini"]);
        assert!(p.indicators.climate.is_empty());
    }

    #[test]
    fn bad_values_are_rejected() {
        for (extra, needle) in [
            ("\n[checks]\nmax_reject_share = 1.5\n", "between 0 and 1"),
            ("\n[currency]\nrates = { GBP = -1.0 }\n", "positive"),
            (
                "\n[indicators]\nage_groups = [\"65-18\"]\n",
                "not an age group",
            ),
            (
                "\n[indicators]\nbreakdowns = [[\"sx\"]]\n",
                "unknown breakdown key",
            ),
            (
                "\n[index]\nstructure = \"no-such.csv\"\n",
                "cannot read no-such.csv",
            ),
            (
                "\n[evaluation]\noutcomes = [\"lemp\"]\n",
                "neither a catalogue indicator nor a declared series",
            ),
            (
                "\n[evaluation]\noutcomes = [\"arpr\"]\ncontrol = \"never\"\n",
                "unknown control `never`",
            ),
        ] {
            let err = load_str(&format!("{MINIMAL}{extra}")).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    /// Each source setting given wrongly, or to a kind it does not apply to, is an error at
    /// the setting's value (at the path, where the format comes from its extension), naming
    /// what is wrong.
    #[test]
    fn a_source_setting_out_of_place_is_named_where_it_is() {
        let source = |kind: &str, path: &str, setting: &str| {
            format!("[pipeline]\nname = \"t\"\n[sources.s]\nkind = \"{kind}\"\npath = \"{path}\"\n{setting}\n")
        };
        for (text, at, needle) in [
            (
                source("areas", "a.dat", "sheet = \"x\""),
                (5, 8),
                "cannot tell the format of `a.dat`",
            ),
            (
                source("areas", "a.csv", "format = \"cvs\""),
                (6, 10),
                "unknown format `cvs`",
            ),
            (
                source("projects", "p.csv", "separator = \";;\""),
                (6, 13),
                "separator `;;` must be",
            ),
            (
                source("areas", "a.csv", "variables = { X = \"y\" }"),
                (6, 13),
                "`variables` applies to city_stats sources, not to areas ones",
            ),
            (
                source("areas", "a.parquet", "filter = { age = \"T\" }"),
                (6, 10),
                "`filter` applies to text files",
            ),
            (
                source("areas", "a.csv", "decimal = \";\""),
                (6, 11),
                "decimal `;` must be",
            ),
            (
                source("areas", "a.csv", "encoding = \"ebcdic\""),
                (6, 12),
                "unknown encoding `ebcdic`",
            ),
            (
                source("areas", "a.csv", "spread = \"pro-rata\""),
                (6, 10),
                "`spread` applies to projects sources, not to areas ones",
            ),
            (
                source("projects", "p.csv", "spread = \"even\""),
                (6, 10),
                "unknown spread `even`",
            ),
            (
                source("projects", "p.csv", "currency = \"PLN\""),
                (6, 12),
                "`currency` applies to microdata sources, not to projects ones",
            ),
            (
                source("areas", "a.csv", "id_space = \"x\""),
                (6, 12),
                "`id_space` applies to projects and outcomes sources, not to areas ones",
            ),
        ] {
            let err = load_str(&text).unwrap_err();
            let ConfigError::Invalid {
                location, message, ..
            } = err
            else {
                panic!("{text}")
            };
            assert_eq!((location.line, location.column), at, "{message}");
            assert!(message.contains(needle), "{message}");
        }
    }

    /// Each index setting given wrongly is an error naming what is wrong; normalisations that
    /// need a column the structure file leaves empty name the first indicator without it.
    #[test]
    fn index_settings_out_of_place_say_what_is_wrong() {
        let index = "\n[index]\nstructure = \"../sample-data/index.csv\"\n";
        for (setting, needle) in [
            ("impute = \"modal\"", "unknown imputation `modal`"),
            ("min_availability = 1.5", "min_availability lies between 0 and 1"),
            ("outliers = { winmax = 5, skw = 2 }", "unknown key `skw` in outliers"),
            ("outliers = 3", "outliers is \"winsorise\" (COINr's default)"),
            ("weights = \"even\"", "unknown weights `even`"),
            ("uncertainty = { weights = 1.5 }", "weights is a share between 0 and 1"),
            (
                "normalise = { method = \"goalposts\" }",
                "goalpost normalisation needs GoalLow and GoalHigh for every indicator; arpr has none",
            ),
            (
                "uncertainty = { normalise = [{ method = \"distance-to-target\" }] }",
                "distance-to-target normalisation needs a Target for every indicator; arpr has none",
            ),
        ] {
            let err = load_str(&format!("{MINIMAL}{index}{setting}\n")).unwrap_err();
            assert!(err.to_string().contains(needle), "{setting}: {err}");
        }
        let p = load_str(&format!("{MINIMAL}{index}weights = \"equal\"\n")).unwrap();
        let index = p.index.expect("an index");
        assert_eq!(index.name, "city_impact", "the top node names the index");
        assert!(index.nodes.iter().all(|n| n.weight == 1.0));
    }

    #[test]
    fn age_groups_are_inclusive() {
        let g = AgeGroup::parse("18-64").unwrap();
        assert!(g.contains(18.0) && g.contains(64.0) && g.contains(64.9) && !g.contains(65.0));
        assert!(!g.contains(17.0));
        assert!(AgeGroup::parse("0-17").unwrap().contains(-1.0));
        assert!(AgeGroup::parse("65+").unwrap().contains(101.0));
        assert_eq!(g.label(), "18-64");
    }
}

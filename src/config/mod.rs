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
//! - here: errors, SROI settings, the [`Pipeline`] and [`load`].

mod charts;
mod currency;
pub mod custom;
pub mod evaluation;
pub mod index;
mod indicators;
pub mod kinds;
mod raw;
mod source;

use std::fmt;
use std::path::{Path, PathBuf};

use charts::resolve_charts;
pub use charts::{ChartFormat, Charts, CHART_KINDS};
use currency::resolve_currency;
pub use currency::{Currency, Deflator, Rate};
pub use custom::CustomIndicator;
pub use evaluation::Evaluation;
pub use index::IndexSettings;
use indicators::resolve_indicators;
pub use indicators::{AgeGroup, Bootstrap, IndicatorSelection};
pub use kinds::SourceKind;
use raw::RawFile;
use source::resolve_source;
pub use source::{Encoding, Format, Source};
use toml::Spanned;

/// A place in a file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Everything that can be wrong with a pipeline file. All of it is the user's to fix, so the
/// binary exits with code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read pipeline file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{location}: {message}")]
    Invalid {
        location: Location,
        message: String,
        hint: Option<String>,
    },
}

impl ConfigError {
    pub fn hint(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => {
                Some("check the path; pipelines usually live under pipelines/")
            }
            ConfigError::Invalid { hint, .. } => hint.as_deref(),
        }
    }
}

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

/// Turns byte spans into file:line:column and builds errors.
struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
}

impl<'a> Ctx<'a> {
    fn new(file: &'a Path, text: &'a str) -> Self {
        Ctx { file, text }
    }

    fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        Location {
            file: self.file.to_path_buf(),
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }

    fn error_at_offset(&self, offset: usize, message: String, hint: Option<String>) -> ConfigError {
        ConfigError::Invalid {
            location: self.location(offset),
            message,
            hint,
        }
    }

    fn error<T>(&self, at: &Spanned<T>, message: String, hint: Option<String>) -> ConfigError {
        self.error_at_offset(at.span().start, message, hint)
    }

    /// The location of `key` inside a spanned table, falling back to the table itself.
    fn key_offset(&self, span: std::ops::Range<usize>, key: &str) -> usize {
        let region = self.text.get(span.clone()).unwrap_or("");
        let mut from = 0;
        while let Some(i) = region[from..].find(key) {
            let at = from + i;
            let rest = region[at + key.len()..].trim_start_matches([' ', '\t', '"']);
            let boundary_before = at == 0
                || !region[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_');
            if boundary_before && rest.starts_with('=') {
                return span.start + at;
            }
            from = at + key.len();
        }
        span.start
    }

    /// The location of a quoted string value inside a spanned value.
    fn value_offset(&self, span: std::ops::Range<usize>, value: &str) -> usize {
        let region = self.text.get(span.clone()).unwrap_or("");
        region
            .find(&format!("\"{value}\""))
            .or_else(|| region.find(&format!("'{value}'")))
            .map(|i| span.start + i)
            .unwrap_or(span.start)
    }

    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let message = e.message().trim().to_string();
        let hint = suggestion_from_serde_message(&message)
            .or_else(|| Some("see docs/pipeline.md for every key".to_string()));
        self.error_at_offset(offset, message, hint)
    }
}

/// serde says "unknown field `nmae`, expected one of `name`, `title`" (or "unknown variant");
/// turn that into "did you mean `name`?".
fn suggestion_from_serde_message(message: &str) -> Option<String> {
    let what = if message.starts_with("unknown field") {
        "key"
    } else if message.starts_with("unknown variant") {
        "value"
    } else {
        return None;
    };
    let mut ticks = message.split('`').skip(1).step_by(2);
    let bad = ticks.next()?;
    let valid: Vec<&str> = ticks.collect();
    match nearest(bad, valid.iter().copied()) {
        Some(best) => Some(format!("did you mean the {what} `{best}`?")),
        None if !valid.is_empty() => Some(format!("valid {what}s: {}", valid.join(", "))),
        None => None,
    }
}

/// The candidate closest to `bad`, if it is close enough to be a plausible typo.
pub fn nearest<'c>(bad: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let bad_l = bad.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&bad_l, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn resolve(ctx: &Ctx, mut raw: RawFile, file_hash: String) -> Result<Pipeline, ConfigError> {
    let p = raw.pipeline;
    let name = p.name.get_ref().clone();
    if !is_valid_name(&name) {
        return Err(ctx.error(
            &p.name,
            format!("pipeline name `{name}` may only hold a-z, 0-9, `_` and `-`"),
            Some("the name becomes the output folder's name".into()),
        ));
    }
    let dir = ctx.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let out = match &p.out {
        // Paths in the file are relative to the file's folder; the default is relative to
        // where cityimpact runs, as the output contract says.
        Some(out) => dir.join(out),
        None => PathBuf::from("out").join(&name),
    };
    let periods = match &p.periods {
        Some(span) => {
            let r = span.get_ref();
            if r.from > r.to {
                return Err(ctx.error(
                    span,
                    format!("periods.from ({}) is after periods.to ({})", r.from, r.to),
                    None,
                ));
            }
            Some((r.from, r.to))
        }
        None => None,
    };

    if raw.sources.is_empty() {
        return Err(ctx.error_at_offset(
            0,
            "the pipeline has no sources".into(),
            Some("add at least one [sources.NAME] table with kind and path".into()),
        ));
    }
    let mut sources = Vec::new();
    for (source_name, spanned) in &raw.sources {
        sources.push(resolve_source(ctx, &dir, source_name, spanned)?);
    }

    let currency = resolve_currency(ctx, raw.currency)?;

    // A survey in another currency needs its rate, before anything is read.
    for spanned in raw.sources.values() {
        if let Some(c) = &spanned.get_ref().currency {
            if !currency.knows(c.get_ref()) {
                let code = c.get_ref().to_ascii_uppercase();
                return Err(ctx.error(
                    c,
                    format!("no exchange rate for {code}, the survey's currency"),
                    Some(format!(
                        "add {code} = <{} per {code}> to rates in [currency]",
                        currency.report
                    )),
                ));
            }
        }
    }

    let raw_custom = raw
        .indicators
        .as_mut()
        .and_then(|i| i.custom.take())
        .unwrap_or_default();
    let series: Vec<String> = raw
        .evaluation
        .as_ref()
        .map(|e| e.series.keys().cloned().collect())
        .unwrap_or_default();
    let custom = custom::resolve(ctx, &raw_custom, &|id| {
        crate::catalogue::get(id).is_some() || series.iter().any(|s| s == id)
    })?;
    let indicators = resolve_indicators(ctx, raw.indicators)?;
    let index = match raw.index {
        None => None,
        Some(i) => Some(index::resolve(ctx, &dir, i)?),
    };
    let evaluation = match raw.evaluation {
        None => None,
        Some(e) => Some(evaluation::resolve(ctx, e, &sources, &|id| {
            crate::catalogue::get(id).is_some() || custom.iter().any(|c| c.id == id)
        })?),
    };
    let custom_ids: Vec<String> = custom.iter().map(|c| c.id.clone()).collect();
    let charts = resolve_charts(ctx, raw.charts, &custom_ids)?;
    let checks = match raw.checks {
        Some(c) => {
            if let Some(share) = &c.max_reject_share {
                let v = *share.get_ref();
                if !(0.0..=1.0).contains(&v) {
                    return Err(ctx.error(
                        share,
                        format!("max_reject_share is {v}; it must lie between 0 and 1"),
                        Some(
                            "0.05 fails the run when more than 5 % of a source's rows are rejected"
                                .into(),
                        ),
                    ));
                }
            }
            Checks {
                max_reject_share: c.max_reject_share.map(|s| s.into_inner()),
            }
        }
        None => Checks::default(),
    };

    Ok(Pipeline {
        title: p.title.unwrap_or_else(|| name.clone()),
        name,
        file: ctx.file.to_path_buf(),
        file_hash,
        settings_hash: String::new(),
        out,
        periods,
        sources,
        currency,
        indicators,
        charts,
        checks,
        evaluation,
        index,
        custom,
    })
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

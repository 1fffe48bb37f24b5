//! The pipeline file: what the user wrote (raw serde types) and the one resolved [`Pipeline`]
//! that every later stage takes. Nothing reads the file again after [`load`].
//!
//! Every mistake is reported with the file, line and column, and where a key or value is
//! misspelt, the nearest valid one.

pub mod evaluation;
pub mod index;
pub mod kinds;
mod raw;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use evaluation::Evaluation;
pub use index::IndexSettings;
pub use kinds::SourceKind;
use raw::RawFile;
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

/// The file formats cityimpact reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Tsv,
    /// Eurostat's bulk-download TSV (`dimensions\TIME_PERIOD`, periods as columns).
    EurostatTsv,
    /// SDMX-CSV as Eurostat and the OECD export it (TIME_PERIOD, OBS_VALUE, OBS_FLAG).
    SdmxCsv,
    /// A JSON array of records.
    Json,
    /// One JSON record per line.
    Ndjson,
    Parquet,
    /// The 360Giving Data Standard's grant spreadsheets (CSV).
    Giving360,
    /// Open Contracting Data Standard release packages (JSON), or their flattened CSV.
    Ocds,
}

impl Format {
    pub const NAMES: [&'static str; 9] = [
        "csv",
        "tsv",
        "eurostat-tsv",
        "sdmx-csv",
        "json",
        "ndjson",
        "parquet",
        "360giving",
        "ocds",
    ];

    fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "csv" => Format::Csv,
            "tsv" => Format::Tsv,
            "eurostat-tsv" => Format::EurostatTsv,
            "sdmx-csv" => Format::SdmxCsv,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "parquet" => Format::Parquet,
            "360giving" => Format::Giving360,
            "ocds" => Format::Ocds,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::EurostatTsv => "eurostat-tsv",
            Format::SdmxCsv => "sdmx-csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
            Format::Giving360 => "360giving",
            Format::Ocds => "ocds",
        }
    }

    /// The kind of source a standard format holds, where it holds only one.
    pub fn kind(self) -> Option<SourceKind> {
        match self {
            Format::EurostatTsv | Format::SdmxCsv => Some(SourceKind::CityStats),
            Format::Giving360 => Some(SourceKind::Projects),
            Format::Ocds => Some(SourceKind::Procurement),
            _ => None,
        }
    }

    /// Columns a standard's files carry for each role, so that they need no column map.
    pub fn default_columns(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Format::SdmxCsv => &[
                ("period", "TIME_PERIOD"),
                ("value", "OBS_VALUE"),
                ("flag", "OBS_FLAG"),
                ("area", "geo"),
            ],
            Format::Giving360 => &[
                ("id", "Identifier"),
                ("title", "Title"),
                ("currency", "Currency"),
                ("amount", "Amount Awarded"),
                ("start", "Award Date"),
                ("end", "Planned Dates:End Date"),
                ("area", "Beneficiary Location:Name"),
                ("theme", "Grant Programme:Title"),
            ],
            // The flattened CSV's column names; a JSON release package is flattened to them.
            Format::Ocds => &[
                ("id", "awards/0/id"),
                ("buyer", "buyer/name"),
                ("supplier", "awards/0/suppliers/0/name"),
                ("amount", "awards/0/value/amount"),
                ("currency", "awards/0/value/currency"),
                ("date", "awards/0/date"),
                ("supplier_type", "supplier_type"),
            ],
            _ => &[],
        }
    }
}

/// One source, resolved: absolute path, format, and the role → column map filled in.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    /// The path as the pipeline file writes it (used in messages and rejects).
    pub path: String,
    /// The path on disk.
    pub resolved: PathBuf,
    pub format: Format,
    /// Field separator; `None` means the format's default.
    pub separator: Option<u8>,
    /// Numbers are written with a decimal comma (`1.234,56`).
    pub decimal_comma: bool,
    /// The file's text encoding.
    pub encoding: Encoding,
    /// A constant reference year for files without a period column.
    pub period: Option<i32>,
    /// role → the file's own column name. Roles not listed here are looked up under their own
    /// name in the file.
    pub columns: BTreeMap<String, String>,
    /// city_stats: the source's variable codes → catalogue ids.
    pub variables: BTreeMap<String, String>,
    /// projects: how a project's amount is booked over the years.
    pub spread: Spread,
    /// ocds: supplier identifiers (or names) of social enterprises.
    pub social_enterprises: Vec<String>,
    /// projects and outcomes: the set of project ids this source's ids belong to. Project ids
    /// are unique per source unless sources name the same id space; outcomes without one refer
    /// to whichever projects source has the id (it must be one).
    pub id_space: Option<String>,
    /// microdata: the currency of its incomes, converted at the pipeline's rates into the
    /// reporting currency; `None` means they are in the reporting currency already.
    pub currency: Option<String>,
    pub description: Option<String>,
    pub licence: Option<String>,
    pub url: Option<String>,
}

impl Source {
    /// The file's column for a role: mapped, or the role's own name.
    /// The file's column for a role: mapped by the pipeline, else the one a standard format
    /// gives it, else the role's own name.
    pub fn column_for<'a>(&'a self, role: &'a str) -> &'a str {
        self.columns
            .get(role)
            .map(String::as_str)
            .or_else(|| {
                self.format
                    .default_columns()
                    .iter()
                    .find(|(r, _)| *r == role)
                    .map(|(_, c)| *c)
            })
            .unwrap_or(role)
    }
}

/// Text encodings a source may declare; UTF-8 (with or without a byte-order mark) is the
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    #[default]
    Utf8,
    Latin1,
    Windows1252,
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

/// The reporting currency and conversion rates.
#[derive(Debug, Clone)]
pub struct Currency {
    pub report: String,
    /// Units of `report` per unit of each other currency.
    pub rates: BTreeMap<String, f64>,
}

impl Currency {
    /// The factor that converts an amount in `code` to the reporting currency.
    pub fn factor(&self, code: &str) -> Option<f64> {
        if code.eq_ignore_ascii_case(&self.report) {
            Some(1.0)
        } else {
            self.rates.get(&code.to_ascii_uppercase()).copied()
        }
    }
}

/// An age band, both ends inclusive; `max = None` is open-ended (`65+`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeGroup {
    pub min: u32,
    pub max: Option<u32>,
}

impl AgeGroup {
    pub fn label(&self) -> String {
        match self.max {
            Some(max) => format!("{}-{}", self.min, max),
            None => format!("{}+", self.min),
        }
    }

    /// A band starting at 0 also holds age -1 (EU-SILC's age for a child born after the
    /// income reference period).
    pub fn contains(&self, age: f64) -> bool {
        let min = if self.min == 0 { -1.0 } else { self.min as f64 };
        age >= min && self.max.is_none_or(|m| age < (m + 1) as f64)
    }

    fn parse(s: &str) -> Option<AgeGroup> {
        let s = s.trim();
        if let Some(min) = s.strip_suffix('+') {
            return Some(AgeGroup {
                min: min.trim().parse().ok()?,
                max: None,
            });
        }
        let (a, b) = s.split_once('-')?;
        let (min, max): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (min <= max).then_some(AgeGroup {
            min,
            max: Some(max),
        })
    }
}

/// Which indicators to compute, and how to break them down.
#[derive(Debug, Clone)]
pub struct IndicatorSelection {
    /// Selected ids per family, in catalogue order.
    pub exclusion: Vec<String>,
    pub spending: Vec<String>,
    pub climate: Vec<String>,
    /// Each breakdown is a sorted list of keys from `area`, `sex`, `age_group`.
    pub breakdowns: Vec<Vec<String>>,
    pub age_groups: Vec<AgeGroup>,
    /// Base year for `ghg_change_vs_base`; `None` means the first year of the source.
    pub base_year: Option<i32>,
    pub bootstrap: Bootstrap,
    pub sroi: SroiSettings,
}

/// Confidence intervals for microdata indicators, by bootstrap over households.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootstrap {
    /// 0 turns the intervals off.
    pub replicates: u32,
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            replicates: 500,
            seed: 1,
        }
    }
}

impl IndicatorSelection {
    pub fn wants(&self, id: &str) -> bool {
        [&self.exclusion, &self.spending, &self.climate]
            .iter()
            .any(|ids| ids.iter().any(|i| i == id))
    }
}

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
}

impl Pipeline {
    /// Whether `id` is a series the pipeline declares (an evaluation series, or an index
    /// indicator or denominator the catalogue does not know): city statistics pass it through.
    pub fn declares(&self, id: &str) -> bool {
        self.evaluation
            .as_ref()
            .is_some_and(|e| e.series(id).is_some())
            || self
                .index
                .as_ref()
                .is_some_and(|i| i.inputs().contains(id) && crate::catalogue::get(id).is_none())
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
    resolve(&ctx, raw, file_hash)
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

fn resolve(ctx: &Ctx, raw: RawFile, file_hash: String) -> Result<Pipeline, ConfigError> {
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

    let currency = match raw.currency {
        Some(c) => {
            let report = c
                .report
                .unwrap_or_else(|| "EUR".into())
                .to_ascii_uppercase();
            let mut rates = BTreeMap::new();
            for (code, rate) in c.rates {
                if !(rate.get_ref().is_finite() && *rate.get_ref() > 0.0) {
                    return Err(ctx.error(
                        &rate,
                        format!("the rate for {code} must be a positive number"),
                        None,
                    ));
                }
                rates.insert(code.to_ascii_uppercase(), *rate.get_ref());
            }
            Currency { report, rates }
        }
        None => Currency {
            report: "EUR".into(),
            rates: BTreeMap::new(),
        },
    };

    // A survey in another currency needs its rate, before anything is read.
    for spanned in raw.sources.values() {
        if let Some(c) = &spanned.get_ref().currency {
            if currency.factor(c.get_ref()).is_none() {
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

    let indicators = resolve_indicators(ctx, raw.indicators)?;
    let index = match raw.index {
        None => None,
        Some(i) => Some(index::resolve(ctx, &dir, i)?),
    };
    let evaluation = match raw.evaluation {
        None => None,
        Some(e) => Some(evaluation::resolve(ctx, e, &sources, &|id| {
            crate::catalogue::get(id).is_some()
        })?),
    };
    let charts = resolve_charts(ctx, raw.charts)?;
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
        out,
        periods,
        sources,
        currency,
        indicators,
        charts,
        checks,
        evaluation,
        index,
    })
}

fn resolve_source(
    ctx: &Ctx,
    dir: &Path,
    name: &str,
    spanned: &Spanned<raw::RawSource>,
) -> Result<Source, ConfigError> {
    let s = spanned.get_ref();
    if !is_valid_name(name) {
        return Err(ctx.error(
            spanned,
            format!("source name `{name}` may only hold a-z, 0-9, `_` and `-`"),
            None,
        ));
    }
    let kind = *s.kind.get_ref();
    let path = s.path.get_ref().clone();
    let format = match &s.format {
        Some(f) => Format::parse(f.get_ref()).ok_or_else(|| {
            let hint = nearest(f.get_ref(), Format::NAMES)
                .map(|n| format!("did you mean `{n}`?"))
                .unwrap_or_else(|| format!("formats: {}", Format::NAMES.join(", ")));
            ctx.error(
                f,
                format!("unknown format `{}` in source `{name}`", f.get_ref()),
                Some(hint),
            )
        })?,
        None => {
            let ext = Path::new(&path)
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            match ext.as_str() {
                "tsv" | "tab" => Format::Tsv,
                "csv" | "txt" => Format::Csv,
                "json" => Format::Json,
                "ndjson" | "jsonl" => Format::Ndjson,
                "parquet" => Format::Parquet,
                _ => {
                    return Err(ctx.error(
                        &s.path,
                        format!("cannot tell the format of `{path}` from its extension"),
                        Some(format!(
                            "add format = \"...\" to [sources.{name}] (one of {})",
                            Format::NAMES.join(", ")
                        )),
                    ))
                }
            }
        }
    };
    if format == Format::EurostatTsv && kind != SourceKind::CityStats {
        return Err(ctx.error(
            &s.kind,
            format!(
                "format eurostat-tsv holds aggregate statistics; source `{name}` is of kind {}",
                kind.as_str()
            ),
            Some("use kind = \"city_stats\" for a Eurostat bulk-download file".into()),
        ));
    }
    let separator = match &s.separator {
        Some(sep) => {
            let v = sep.get_ref();
            let byte = match v.as_str() {
                "\\t" | "\t" | "tab" => b'\t',
                other if other.len() == 1 && other.is_ascii() => other.as_bytes()[0],
                _ => {
                    return Err(ctx.error(
                        sep,
                        format!("separator `{v}` must be a single ASCII character"),
                        Some("use \",\", \";\", \"|\" or \"\\t\"".into()),
                    ))
                }
            };
            Some(byte)
        }
        None => None,
    };

    let mut columns = BTreeMap::new();
    if let Some(map) = &s.columns {
        for (role, column) in map.get_ref() {
            if !kind.all_roles().any(|r| r == role) {
                let hint = nearest(role, kind.all_roles())
                    .map(|n| format!("did you mean the role `{n}`?"))
                    .unwrap_or_else(|| {
                        format!(
                            "roles of a {} source: {}",
                            kind.as_str(),
                            kind.all_roles().collect::<Vec<_>>().join(", ")
                        )
                    });
                return Err(ctx.error_at_offset(
                    ctx.key_offset(map.span(), role),
                    format!(
                        "`{role}` is not a role of a {} source (in [sources.{name}] columns)",
                        kind.as_str()
                    ),
                    Some(hint),
                ));
            }
            columns.insert(role.clone(), column.clone());
        }
    }
    if let Some(v) = &s.variables {
        if kind != SourceKind::CityStats {
            return Err(ctx.error(
                v,
                format!(
                    "`variables` applies to city_stats sources, not to {} ones",
                    kind.as_str()
                ),
                None,
            ));
        }
    }

    let decimal_comma = match &s.decimal {
        None => false,
        Some(d) => match d.get_ref().as_str() {
            "." => false,
            "," => true,
            other => {
                return Err(ctx.error(
                    d,
                    format!("decimal `{other}` must be \".\" or \",\""),
                    Some("decimal = \",\" reads 1.234,56 as 1234.56".into()),
                ))
            }
        },
    };
    let encoding = match &s.encoding {
        None => Encoding::Utf8,
        Some(e) => match e.get_ref().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Encoding::Utf8,
            "latin-1" | "latin1" | "iso-8859-1" => Encoding::Latin1,
            "windows-1252" | "cp1252" => Encoding::Windows1252,
            other => {
                return Err(ctx.error(
                    e,
                    format!("unknown encoding `{other}`"),
                    Some("encodings: utf-8 (default), latin-1, windows-1252".into()),
                ))
            }
        },
    };
    let spread = match &s.spread {
        None => Spread::StartYear,
        Some(v) if kind != SourceKind::Projects => {
            return Err(ctx.error(
                v,
                format!(
                    "`spread` applies to projects sources, not to {} ones",
                    kind.as_str()
                ),
                None,
            ))
        }
        Some(v) => match v.get_ref().as_str() {
            "start-year" => Spread::StartYear,
            "pro-rata" => Spread::ProRata,
            other => {
                return Err(ctx.error(
                    v,
                    format!("unknown spread `{other}`"),
                    Some("write \"start-year\" (the default) or \"pro-rata\"".into()),
                ))
            }
        },
    };

    if let Some(v) = &s.currency {
        if kind != SourceKind::Microdata {
            return Err(ctx.error(
                v,
                format!(
                    "`currency` applies to microdata sources, not to {} ones",
                    kind.as_str()
                ),
                Some("projects and procurement take each row's currency from a `currency` column (columns = { currency = \"...\" })".into()),
            ));
        }
    }
    if let Some(v) = &s.id_space {
        if !matches!(kind, SourceKind::Projects | SourceKind::Outcomes) {
            return Err(ctx.error(
                v,
                format!(
                    "`id_space` applies to projects and outcomes sources, not to {} ones",
                    kind.as_str()
                ),
                None,
            ));
        }
    }

    Ok(Source {
        name: name.to_string(),
        kind,
        resolved: dir.join(&path),
        path,
        format,
        separator,
        decimal_comma,
        encoding,
        period: s.period.as_ref().map(|p| *p.get_ref()),
        columns,
        variables: s
            .variables
            .as_ref()
            .map(|v| v.get_ref().clone())
            .unwrap_or_default(),
        spread,
        social_enterprises: s.social_enterprises.clone().unwrap_or_default(),
        id_space: s.id_space.as_ref().map(|v| v.get_ref().clone()),
        currency: s
            .currency
            .as_ref()
            .map(|v| v.get_ref().to_ascii_uppercase()),
        description: s.description.clone(),
        licence: s.licence.clone(),
        url: s.url.clone(),
    })
}

const BREAKDOWN_KEYS: [&str; 3] = ["age_group", "area", "sex"];

/// Eurostat's standard age groups for EU-SILC tables: 0-17, 18-64, 65+ and 16-24, 25-49,
/// 50-64, 65+ (65+ once).
fn default_age_groups() -> Vec<AgeGroup> {
    ["0-17", "18-64", "65+", "16-24", "25-49", "50-64"]
        .iter()
        .filter_map(|s| AgeGroup::parse(s))
        .collect()
}

fn resolve_indicators(
    ctx: &Ctx,
    raw: Option<raw::RawIndicators>,
) -> Result<IndicatorSelection, ConfigError> {
    use crate::catalogue::{self, Family};
    let raw = raw.unwrap_or_default();
    let pick =
        |family: Family, sel: &Option<Spanned<toml::Value>>| -> Result<Vec<String>, ConfigError> {
            let all: Vec<String> = catalogue::ids(family).map(String::from).collect();
            let Some(sel) = sel else { return Ok(all) };
            let shape_error = || {
                ctx.error(
                    sel,
                    format!("not a selection of {} indicators", family.as_str()),
                    Some("write \"all\", \"none\", or a list of indicator ids".into()),
                )
            };
            match sel.get_ref() {
                toml::Value::String(w) if w == "all" => Ok(all),
                toml::Value::String(w) if w == "none" => Ok(Vec::new()),
                toml::Value::Array(items) => {
                    let mut ids = Vec::new();
                    for item in items {
                        let id = item.as_str().ok_or_else(shape_error)?;
                        if !all.iter().any(|a| a == id) {
                            let hint = nearest(id, all.iter().map(String::as_str))
                                .map(|n| format!("did you mean `{n}`?"))
                                .unwrap_or_else(|| {
                                    "`cityimpact indicators` lists the catalogue".into()
                                });
                            return Err(ctx.error_at_offset(
                                ctx.value_offset(sel.span(), id),
                                format!("`{id}` is not a {} indicator", family.as_str()),
                                Some(hint),
                            ));
                        }
                        ids.push(id);
                    }
                    // Catalogue order, each once.
                    Ok(all
                        .into_iter()
                        .filter(|a| ids.contains(&a.as_str()))
                        .collect())
                }
                _ => Err(shape_error()),
            }
        };
    let exclusion = pick(Family::Exclusion, &raw.exclusion)?;
    let spending = pick(Family::Spending, &raw.spending)?;
    let climate = pick(Family::Climate, &raw.climate)?;

    let breakdowns = match raw.breakdowns {
        Some(list) => {
            let mut out: Vec<Vec<String>> = Vec::new();
            for b in list {
                let mut keys: Vec<String> = Vec::new();
                for k in b.get_ref() {
                    if !BREAKDOWN_KEYS.contains(&k.as_str()) {
                        let hint = nearest(k, BREAKDOWN_KEYS)
                            .map(|n| format!("did you mean `{n}`?"))
                            .unwrap_or_else(|| {
                                format!("breakdown keys: {}", BREAKDOWN_KEYS.join(", "))
                            });
                        return Err(ctx.error(
                            &b,
                            format!("unknown breakdown key `{k}`"),
                            Some(hint),
                        ));
                    }
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
                keys.sort();
                if !keys.is_empty() && !out.contains(&keys) {
                    out.push(keys);
                }
            }
            out
        }
        None => vec![
            vec!["area".to_string()],
            vec!["sex".to_string()],
            vec!["age_group".to_string()],
        ],
    };
    let age_groups = match raw.age_groups {
        Some(list) => {
            let mut groups = Vec::new();
            for g in list {
                match AgeGroup::parse(g.get_ref()) {
                    Some(a) => groups.push(a),
                    None => {
                        return Err(ctx.error(
                            &g,
                            format!("`{}` is not an age group", g.get_ref()),
                            Some(
                                "write bands like \"18-64\" (both ends included) or \"65+\"".into(),
                            ),
                        ))
                    }
                }
            }
            groups
        }
        None => default_age_groups(),
    };
    let bootstrap = match raw.bootstrap {
        Some(b) => {
            if let Some(r) = &b.replicates {
                if *r.get_ref() > 100_000 {
                    return Err(ctx.error(
                        r,
                        format!("{} replicates is more than 100 000", r.get_ref()),
                        Some("500 to 2 000 replicates give stable 95 % intervals".into()),
                    ));
                }
            }
            Bootstrap {
                replicates: b.replicates.map(|r| r.into_inner()).unwrap_or(500),
                seed: b.seed.unwrap_or(1),
            }
        }
        None => Bootstrap::default(),
    };
    let sroi = match raw.sroi {
        Some(r) => {
            let rate = match r.discount_rate {
                Some(d) if !(0.0..1.0).contains(d.get_ref()) => {
                    return Err(ctx.error(
                        &d,
                        format!(
                            "discount_rate {} must lie in 0-1 (0.035 is 3.5 %)",
                            d.get_ref()
                        ),
                        None,
                    ))
                }
                Some(d) => d.into_inner(),
                None => 0.035,
            };
            let range = |v: Option<Spanned<Vec<f64>>>,
                         what: &str|
             -> Result<Option<(f64, f64)>, ConfigError> {
                match v {
                    None => Ok(None),
                    Some(v) => match v.get_ref().as_slice() {
                        [lo, hi]
                            if (0.0..=1.0).contains(lo) && (0.0..=1.0).contains(hi) && lo <= hi =>
                        {
                            Ok(Some((*lo, *hi)))
                        }
                        _ => Err(ctx.error(
                            &v,
                            format!(
                                "{what} must be a range [low, high] of fractions between 0 and 1"
                            ),
                            Some(format!("e.g. {what} = [0.1, 0.3]")),
                        )),
                    },
                }
            };
            SroiSettings {
                discount_rate: rate,
                deadweight: range(r.deadweight, "deadweight")?,
                attribution: range(r.attribution, "attribution")?,
                drop_off: range(r.drop_off, "drop_off")?,
            }
        }
        None => SroiSettings::default(),
    };
    Ok(IndicatorSelection {
        exclusion,
        spending,
        climate,
        breakdowns,
        age_groups,
        base_year: raw.base_year,
        bootstrap,
        sroi,
    })
}

fn resolve_charts(ctx: &Ctx, raw: Option<raw::RawCharts>) -> Result<Charts, ConfigError> {
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
                if crate::catalogue::get(id.get_ref()).is_none() {
                    let hint = nearest(id.get_ref(), crate::catalogue::all().iter().map(|i| i.id))
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

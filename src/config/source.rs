//! Sources: the formats cityimpact reads, a resolved [`Source`] (path, format, encoding, the
//! role → column map) and how a `[sources.NAME]` table becomes one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::*;

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
    /// The Arrow IPC file format (Feather v2), as pyarrow, pandas, R arrow and DuckDB write it.
    Arrow,
    /// The 360Giving Data Standard's grant spreadsheets (CSV).
    Giving360,
    /// Open Contracting Data Standard release packages (JSON), or their flattened CSV.
    Ocds,
    /// A spreadsheet: XLSX, ODS or XLS, its first sheet or the one `sheet` names.
    Spreadsheet,
}

impl Format {
    pub const NAMES: [&'static str; 11] = [
        "csv",
        "tsv",
        "eurostat-tsv",
        "sdmx-csv",
        "json",
        "ndjson",
        "parquet",
        "arrow",
        "360giving",
        "ocds",
        "xlsx",
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
            "arrow" | "ipc" | "feather" => Format::Arrow,
            "360giving" => Format::Giving360,
            "ocds" => Format::Ocds,
            "xlsx" | "ods" | "xls" | "spreadsheet" => Format::Spreadsheet,
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
            Format::Arrow => "arrow",
            Format::Giving360 => "360giving",
            Format::Ocds => "ocds",
            Format::Spreadsheet => "xlsx",
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
                ("recipient_id", "Recipient Org:Identifier"),
                ("recipient", "Recipient Org:Name"),
                ("funder_id", "Funding Org:Identifier"),
                ("funder", "Funding Org:Name"),
            ],
            // The flattened CSV's column names; a JSON package's compiled awards take them
            // (`ingest::ocds`), with `awards/0/id` the process's ocid and the award's id.
            Format::Ocds => &[
                ("id", "awards/0/id"),
                ("buyer", "buyer/name"),
                ("supplier", "awards/0/suppliers/0/name"),
                ("supplier_id", "awards/0/suppliers/0/id"),
                ("amount", "awards/0/value/amount"),
                ("currency", "awards/0/value/currency"),
                ("amount_original", "awards/0/value/amount"),
                ("currency_original", "awards/0/value/currency"),
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
    /// The spreadsheet's sheet to read (default: the first).
    pub sheet: Option<String>,
    /// Dimension (or column) → the one value kept: the slice of a multi-dimensional table
    /// (`filter = { sex = "T", age = "TOTAL" }`). Rows of other slices are not the source's.
    pub filter: BTreeMap<String, String>,
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
    /// Not declared: UTF-8, except that a JSON file that is not valid UTF-8 is read as
    /// Windows-1252 (old exporters write Latin-1 JSON; the standard allows only UTF-8).
    #[default]
    Default,
    Utf8,
    Latin1,
    Windows1252,
}

pub(super) fn resolve_source(
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
    let format = format_of(ctx, name, s)?;
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
    let separator = separator_of(ctx, s)?;
    let columns = columns_of(ctx, name, kind, s)?;
    let applies = |at: Option<std::ops::Range<usize>>, to: &[SourceKind], which: &str, hint| {
        applies_to(ctx, kind, at, to, which, hint)
    };
    applies(
        s.variables.as_ref().map(|v| v.span()),
        &[SourceKind::CityStats],
        "`variables` applies to city_stats sources",
        None,
    )?;
    if let Some(f) = &s.filter {
        if matches!(format, Format::Parquet | Format::Arrow) {
            return Err(ctx.error(
                f,
                "`filter` applies to text files (eurostat-tsv, sdmx-csv, csv, tsv, json), not to Parquet or Arrow files"
                    .into(),
                Some("filter the file when it is written, or read a CSV export".into()),
            ));
        }
    }
    let decimal_comma = decimal_comma(ctx, s)?;
    let encoding = encoding_of(ctx, s)?;
    let spread = spread_of(ctx, kind, s)?;
    applies(
        s.currency.as_ref().map(|v| v.span()),
        &[SourceKind::Microdata],
        "`currency` applies to microdata sources",
        Some("projects and procurement take each row's currency from a `currency` column (columns = { currency = \"...\" })"),
    )?;
    applies(
        s.id_space.as_ref().map(|v| v.span()),
        &[SourceKind::Projects, SourceKind::Outcomes],
        "`id_space` applies to projects and outcomes sources",
        None,
    )?;
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
        sheet: s.sheet.as_ref().map(|v| v.get_ref().clone()),
        filter: s
            .filter
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

/// An error at a setting given to a kind of source it does not apply to.
fn applies_to(
    ctx: &Ctx,
    kind: SourceKind,
    at: Option<std::ops::Range<usize>>,
    to: &[SourceKind],
    which: &str,
    hint: Option<&str>,
) -> Result<(), ConfigError> {
    match at {
        Some(span) if !to.contains(&kind) => Err(ctx.error_at_offset(
            span.start,
            format!("{which}, not to {} ones", kind.as_str()),
            hint.map(String::from),
        )),
        _ => Ok(()),
    }
}

/// The source's format: as given, or from its file's extension.
fn format_of(ctx: &Ctx, name: &str, s: &raw::RawSource) -> Result<Format, ConfigError> {
    let path = s.path.get_ref();
    Ok(match &s.format {
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
            let ext = Path::new(path)
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
                "arrow" | "feather" | "ipc" => Format::Arrow,
                "xlsx" | "xlsm" | "ods" | "xls" => Format::Spreadsheet,
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
    })
}

/// The separator a delimited file is read with, where the source gives one.
fn separator_of(ctx: &Ctx, s: &raw::RawSource) -> Result<Option<u8>, ConfigError> {
    Ok(match &s.separator {
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
    })
}

/// The role → column map, every role checked against the kind's.
fn columns_of(
    ctx: &Ctx,
    name: &str,
    kind: SourceKind,
    s: &raw::RawSource,
) -> Result<BTreeMap<String, String>, ConfigError> {
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
    Ok(columns)
}

/// Whether the file writes decimal commas (`1.234,56`).
fn decimal_comma(ctx: &Ctx, s: &raw::RawSource) -> Result<bool, ConfigError> {
    Ok(match &s.decimal {
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
    })
}

/// The text encoding the file is read in.
fn encoding_of(ctx: &Ctx, s: &raw::RawSource) -> Result<Encoding, ConfigError> {
    Ok(match &s.encoding {
        None => Encoding::Default,
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
    })
}

/// How a project's money is spread over the years it runs.
fn spread_of(ctx: &Ctx, kind: SourceKind, s: &raw::RawSource) -> Result<Spread, ConfigError> {
    applies_to(
        ctx,
        kind,
        s.spread.as_ref().map(|v| v.span()),
        &[SourceKind::Projects],
        "`spread` applies to projects sources",
        None,
    )?;
    Ok(match &s.spread {
        None => Spread::StartYear,
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
    })
}

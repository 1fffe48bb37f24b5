//! Why a file cannot be read, with the file, the place in it and what to do.

use std::path::PathBuf;

use crate::config::{Location, Source};

/// A file that cannot be read at all. The run stops before computing anything (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("source `{source_name}`: file {} does not exist", path.display())]
    Missing { source_name: String, path: PathBuf },
    #[error("source `{source_name}`: cannot read {}: {error}", path.display())]
    Io {
        source_name: String,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{location}: source `{source_name}` is not valid UTF-8 here")]
    Encoding {
        source_name: String,
        location: Location,
    },
    #[error("{location}: source `{source_name}` is not valid UTF-8 here (byte {byte} of the file, 0x{value:02X})")]
    NotUtf8 {
        source_name: String,
        location: Location,
        byte: usize,
        value: u8,
    },
    #[error("source `{source_name}`: {} has no header row", path.display())]
    NoHeader { source_name: String, path: PathBuf },
    #[error("{location}: source `{source_name}` cannot be parsed: {message}")]
    Parse {
        source_name: String,
        location: Location,
        message: String,
    },
    /// A typed columnar file (Parquet, Arrow IPC) that cannot be read, or a column of it.
    #[error("{}: source `{source_name}`: {format} {}: {message}", path.display(), column.as_ref().map(|c| format!("column `{c}`")).unwrap_or_else(|| "file".into()))]
    Typed {
        source_name: String,
        path: PathBuf,
        format: &'static str,
        column: Option<String>,
        message: String,
    },
    #[error(
        "source `{}`: {} has no column `{}` for the role `{}`",
        .0.source_name, .0.path.display(), .0.column, .0.role
    )]
    MissingColumn(Box<MissingColumn>),
    #[error("source `{}`: {} has no dimension `{}` to filter on", .0.source_name, .0.path.display(), .0.dimension)]
    FilterDimension(Box<FilterMismatch>),
    #[error("source `{}`: no row of {} has {} = \"{}\"", .0.source_name, .0.path.display(), .0.dimension, .0.value)]
    FilterValue(Box<FilterMismatch>),
    #[error(
        "source `{}`: {} holds more than one value for {} (lines {} and {}): it has several slices, and {} vary",
        .0.source_name, .0.path.display(), .0.key, .0.lines.0, .0.lines.1,
        .0.varying.iter().map(|(d, _)| format!("`{d}`")).collect::<Vec<_>>().join(", ")
    )]
    Slices(Box<Slices>),
}

/// A `filter` entry that does not fit the file: a dimension it does not have, or a value no
/// row has.
#[derive(Debug)]
pub struct FilterMismatch {
    pub source_name: String,
    pub path: PathBuf,
    pub dimension: String,
    pub value: String,
    /// The file's dimensions, or the dimension's values (the first 40).
    pub choices: Vec<String>,
    pub nearest: Option<String>,
}

/// A multi-dimensional table with more than one slice left after the source's filter.
#[derive(Debug)]
pub struct Slices {
    pub source_name: String,
    pub path: PathBuf,
    /// The first area, variable and period with two values.
    pub key: String,
    pub lines: (u64, u64),
    /// Each dimension that varies, with its values.
    pub varying: Vec<(String, Vec<String>)>,
    /// A `filter = { ... }` line that keeps one slice.
    pub suggestion: String,
}

/// A required role's column that the file does not have.
#[derive(Debug)]
pub struct MissingColumn {
    pub source_name: String,
    pub path: PathBuf,
    pub role: String,
    pub column: String,
    /// The columns the file does have.
    pub available: Vec<String>,
    pub nearest: Option<String>,
}

impl IngestError {
    /// Whether the fix is in the pipeline file (exit 2): the file is fine, the source's
    /// settings do not fit it.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            IngestError::FilterDimension(_) | IngestError::FilterValue(_) | IngestError::Slices(_)
        )
    }

    /// A file that cannot be parsed, at a line of it.
    /// The error of a piece of a file, its line counted from the top of the file: `above`
    /// lines lie before the piece.
    pub fn lines_below(mut self, above: u64) -> IngestError {
        if let IngestError::Encoding { location, .. } | IngestError::Parse { location, .. } =
            &mut self
        {
            location.line += above as usize;
        }
        self
    }

    pub fn parse(source: &Source, line: usize, message: String) -> IngestError {
        IngestError::Parse {
            source_name: source.name.clone(),
            location: Location {
                file: source.resolved.clone(),
                line,
                column: 1,
            },
            message,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            IngestError::Missing { .. } => {
                "check `path` in the source; paths are relative to the pipeline file's folder"
                    .into()
            }
            IngestError::Io { .. } => "check the file's permissions".into(),
            IngestError::Encoding { .. } | IngestError::NotUtf8 { .. } => {
                "save the file as UTF-8, or declare its encoding: encoding = \"latin-1\" or \"windows-1252\"".into()
            }
            IngestError::NoHeader { .. } => {
                "the first line must name the columns; is the file empty?".into()
            }
            IngestError::Parse { .. } => "check the quoting on that line".into(),
            IngestError::Typed { column: Some(_), .. } => "the column's type cannot be read; write it as an integer, float, decimal, string, date or timestamp column (pyarrow: table.cast(...))".into(),
            IngestError::Typed { column: None, format, .. } => format!("the file is not a {format} file cityimpact can read; open it with pyarrow to check it"),
            IngestError::MissingColumn(m) => {
                let MissingColumn {
                    role,
                    available,
                    nearest,
                    ..
                } = m.as_ref();
                // At most a line of them: a JSON file's fields can run into the hundreds.
                const SHOWN: usize = 15;
                let mut h = format!(
                    "the file's columns are: {}",
                    available
                        .iter()
                        .take(SHOWN)
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if available.len() > SHOWN {
                    h.push_str(&format!(", ... ({} in all)", available.len()));
                }
                if let Some(n) = nearest {
                    h.push_str(&format!(
                        "; the nearest is `{n}`: map it with columns = {{ {role} = \"{n}\" }}"
                    ));
                } else {
                    h.push_str(&format!(
                        "; map one with columns = {{ {role} = \"COLUMN\" }}"
                    ));
                }
                h
            }
            IngestError::FilterDimension(f) => {
                let near = f
                    .nearest
                    .as_ref()
                    .map(|n| format!("did you mean `{n}`? "))
                    .unwrap_or_default();
                format!("{near}the dimensions are: {}", f.choices.join(", "))
            }
            IngestError::FilterValue(f) => {
                let near = f
                    .nearest
                    .as_ref()
                    .map(|n| format!("did you mean \"{n}\"? "))
                    .unwrap_or_default();
                format!("{near}{} takes: {}", f.dimension, f.choices.join(", "))
            }
            IngestError::Slices(s) => {
                let values: Vec<String> = s
                    .varying
                    .iter()
                    .map(|(d, v)| {
                        let shown: Vec<&str> = v.iter().take(12).map(String::as_str).collect();
                        let more = match v.len() > 12 {
                            true => format!(", ... ({} in all)", v.len()),
                            false => String::new(),
                        };
                        format!("{d}: {}{more}", shown.join(", "))
                    })
                    .collect();
                format!(
                    "keep one slice with this line in [sources.{}] (change the values to the slice you need):\n  {}\n  the values: {}",
                    s.source_name,
                    s.suggestion,
                    values.join("; ")
                )
            }
        }
    }
}

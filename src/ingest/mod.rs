//! Reads a source as published into a [`RawTable`]: one column per role, with the line each
//! row starts on. A text file (CSV, JSON, TSV) gives text cells; a typed file (Parquet) gives
//! its columns in their own types, so numbers are never written out and parsed back. Typing
//! and checking belong to `contracts`; here a file either can be read (and every row comes
//! out, good or bad) or it cannot, and the error names the file.

mod csv;
mod eurostat;
mod json;
mod ocds;
mod parquet;
mod records;
mod sheet;
mod slices;

use std::path::{Path, PathBuf};

use polars::prelude::{BooleanChunked, DataType, NewChunkedArray, Series};

use crate::config::{Encoding, Format, Location, Source};

/// One role's cell for every row, as text in large buffers (the way Arrow keeps strings): a
/// string per cell would cost an allocation each and several times the memory on large files.
/// Pieces of a file read side by side, and the files of a glob, are joined by moving their
/// buffers, not copying them.
#[derive(Debug, Clone, Default)]
pub struct Texts {
    segments: Vec<Segment>,
    /// The first row of each segment.
    firsts: Vec<usize>,
    len: usize,
}

#[derive(Debug, Clone, Default)]
struct Segment {
    data: String,
    /// Where each cell ends in `data`; the top bit marks a missing cell (a row too short to
    /// have it, or a file of a glob without the column). Four bytes a cell rather than eight,
    /// so a segment holds at most [`SEGMENT_BYTES`].
    ends: Vec<u32>,
}

const MISSING: u32 = 1 << 31;
/// Unit tests use tiny segments, so that every table they read spans several.
const SEGMENT_BYTES: usize = if cfg!(test) { 7 } else { MISSING as usize - 1 };

impl Texts {
    /// The segment being filled, started if there is none or the last one is full.
    fn tail(&mut self, adding: usize) -> &mut Segment {
        let full = self
            .segments
            .last()
            .is_none_or(|s| !s.data.is_empty() && s.data.len() + adding > SEGMENT_BYTES);
        if full {
            self.segments.push(Segment::default());
            self.firsts.push(self.len);
        }
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    pub fn reserve(&mut self, cells: usize, bytes: usize) {
        let tail = self.tail(0);
        tail.ends.reserve(cells);
        tail.data.reserve(bytes.min(SEGMENT_BYTES));
    }

    /// The bytes of text held.
    pub fn bytes(&self) -> usize {
        self.segments.iter().map(|s| s.data.len()).sum()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, cell: Option<&str>) {
        let adding = cell.map_or(0, str::len);
        let tail = self.tail(adding);
        match cell {
            Some(s) => {
                tail.data.push_str(s);
                tail.ends.push(tail.data.len() as u32);
            }
            None => tail.ends.push(tail.data.len() as u32 | MISSING),
        }
        self.len += 1;
    }

    /// Row `i`'s cell; `None` where it is missing (or `i` is out of range).
    pub fn get(&self, i: usize) -> Option<&str> {
        let k = match self.segments.len() {
            1 => 0,
            _ => self.firsts.partition_point(|&f| f <= i).checked_sub(1)?,
        };
        let segment = self.segments.get(k)?;
        let j = i - self.firsts[k];
        let end = *segment.ends.get(j)?;
        if end & MISSING != 0 {
            return None;
        }
        let start = match j {
            0 => 0,
            _ => segment.ends[j - 1] & !MISSING,
        };
        segment.data.get(start as usize..end as usize)
    }

    /// The cells from row `i` on, in order: what reading row after row needs, without
    /// looking up each row's segment.
    pub fn iter_from(&self, i: usize) -> Cells<'_> {
        let k = self.firsts.partition_point(|&f| f <= i).saturating_sub(1);
        let j = i.saturating_sub(self.firsts.get(k).copied().unwrap_or(0));
        Cells {
            texts: self,
            segment: k,
            cell: j,
        }
    }

    fn append(&mut self, other: Texts) {
        if self.segments.last().is_some_and(|s| s.ends.is_empty()) {
            self.segments.pop();
            self.firsts.pop();
        }
        for (segment, first) in other.segments.into_iter().zip(other.firsts) {
            if !segment.ends.is_empty() {
                self.segments.push(segment);
                self.firsts.push(self.len + first);
            }
        }
        self.len += other.len;
    }

    fn push_missing(&mut self, n: usize) {
        let tail = self.tail(0);
        let end = tail.data.len() as u32 | MISSING;
        tail.ends.extend(std::iter::repeat_n(end, n));
        self.len += n;
    }
}

/// An iterator over a [`Texts`]' cells, see [`Texts::iter_from`].
pub struct Cells<'a> {
    texts: &'a Texts,
    segment: usize,
    cell: usize,
}

impl<'a> Iterator for Cells<'a> {
    type Item = Option<&'a str>;

    fn next(&mut self) -> Option<Option<&'a str>> {
        loop {
            let segment = self.texts.segments.get(self.segment)?;
            if let Some(&end) = segment.ends.get(self.cell) {
                let start = match self.cell {
                    0 => 0,
                    j => segment.ends[j - 1] & !MISSING,
                };
                self.cell += 1;
                return Some(match end & MISSING {
                    0 => segment.data.get(start as usize..end as usize),
                    _ => None,
                });
            }
            self.segment += 1;
            self.cell = 0;
        }
    }
}

/// One role's cells for every row: text as a text file gives it, or a column in the type a
/// typed file stores it in.
#[derive(Debug, Clone)]
pub enum RawColumn {
    Text(Texts),
    /// Numbers, text, booleans, dates or timestamps, as the file has them (see
    /// `parquet::cell_type`); the contract checks them without a detour through text.
    Typed(Series),
}

impl RawColumn {
    pub fn len(&self) -> usize {
        match self {
            RawColumn::Text(t) => t.len(),
            RawColumn::Typed(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cells as text: where the files of a glob disagree on a column's type, they meet as
    /// text and the contract reads each cell as it would from a CSV file.
    fn into_texts(self) -> Texts {
        match self {
            RawColumn::Text(t) => t,
            RawColumn::Typed(s) => {
                let mut t = Texts::default();
                // Every type a reader keeps casts to text (see `parquet::cell_type`).
                match s.cast(&DataType::String) {
                    Ok(text) => match text.str() {
                        Ok(ca) => ca.iter().for_each(|c| t.push(c)),
                        Err(_) => t.push_missing(s.len()),
                    },
                    Err(_) => t.push_missing(s.len()),
                }
                t
            }
        }
    }

    /// The cells of another piece or file after these.
    fn append(&mut self, other: RawColumn) {
        match (&mut *self, other) {
            (RawColumn::Text(a), RawColumn::Text(b)) => a.append(b),
            (RawColumn::Typed(a), RawColumn::Typed(b)) if a.dtype() == b.dtype() => {
                // Same type, so the append cannot fail.
                let _ = a.append(&b);
            }
            (_, b) => {
                let mut a = std::mem::replace(self, RawColumn::Text(Texts::default())).into_texts();
                a.append(b.into_texts());
                *self = RawColumn::Text(a);
            }
        }
    }

    /// `n` rows without this column (a file of a glob that lacks it).
    fn push_missing(&mut self, n: usize) {
        match self {
            RawColumn::Text(t) => t.push_missing(n),
            RawColumn::Typed(s) => {
                let _ = s.append(&Series::full_null(s.name().clone(), n, s.dtype()));
            }
        }
    }

    /// Row `i` as text (tests and messages; the contract reads typed cells as they are).
    pub fn text(&self, i: usize) -> Option<String> {
        match self {
            RawColumn::Text(t) => t.get(i).map(String::from),
            RawColumn::Typed(s) => {
                let one = s.slice(i as i64, 1).cast(&DataType::String).ok()?;
                one.str().ok()?.get(0).map(String::from)
            }
        }
    }
}

impl Default for RawColumn {
    fn default() -> Self {
        RawColumn::Text(Texts::default())
    }
}

/// A typed column of a role that some files of a glob lack (see [`RawColumn::push_missing`]).
fn missing_like(column: &RawColumn, n: usize) -> RawColumn {
    match column {
        RawColumn::Text(_) => {
            let mut t = Texts::default();
            t.push_missing(n);
            RawColumn::Text(t)
        }
        RawColumn::Typed(s) => RawColumn::Typed(Series::full_null(s.name().clone(), n, s.dtype())),
    }
}

/// A source's rows, keyed by role.
#[derive(Debug, Clone)]
pub struct RawTable {
    /// The roles present, in the order of `cells`.
    pub roles: Vec<String>,
    /// `cells[r]`: role `roles[r]` of every row.
    pub cells: Vec<RawColumn>,
    /// 1-based line where each row starts (a quoted field may span lines).
    pub lines: Vec<u64>,
    /// The file's column behind each role, for rejects and messages.
    pub columns: Vec<String>,
    /// The number of fields in the header, to report short rows.
    pub header_len: usize,
    /// Field counts of rows that differ from the header (line, count).
    pub ragged: Vec<(u64, usize)>,
    /// The file's size and BLAKE3 (hex), from the bytes that were read, for provenance.
    pub bytes: u64,
    pub blake3: String,
    /// The files the rows come from (one, or several for a glob), and each row's file.
    pub files: Vec<String>,
    pub file_of: Vec<u32>,
    /// JSON sources: where each row's record sits in its file, so that a reject names the
    /// JSON pointer of its value (`/grants/3/amountAwarded`).
    pub pointers: Option<Pointers>,
}

/// Where the rows of JSON files are, as JSON pointers (RFC 6901).
#[derive(Debug, Clone, Default)]
pub struct Pointers {
    /// Per file (as `file_of` numbers them): the array its records are in (`/grants`, `` for
    /// a top-level array); `None` for NDJSON, where the line is the record.
    pub arrays: Vec<Option<String>>,
    /// Per row: the record's place in its array.
    pub index: Vec<u32>,
    /// A file's column → where its value is inside a record (`Amount Awarded` →
    /// `/amountAwarded`).
    pub fields: std::collections::BTreeMap<String, String>,
}

impl Pointers {
    /// The JSON pointer of a row's value in a column, or of the row's record without one.
    pub fn of(&self, file: u32, row: usize, column: Option<&str>) -> Option<String> {
        let array = self.arrays.get(file as usize)?;
        let field = match column {
            Some(c) => self.fields.get(c).map(String::as_str).unwrap_or(""),
            None => "",
        };
        match array {
            Some(a) => Some(format!("{a}/{}{field}", self.index.get(row)?)),
            None => (!field.is_empty()).then(|| field.to_string()),
        }
    }

    /// One key of a record as a pointer: `~` and `/` escaped.
    pub fn escape(key: &str) -> String {
        format!("/{}", key.replace('~', "~0").replace('/', "~1"))
    }
}

impl RawTable {
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn role(&self, role: &str) -> Option<usize> {
        self.roles.iter().position(|r| r == role)
    }

    /// The file a row comes from.
    pub fn file(&self, row: usize) -> Option<&str> {
        self.file_of
            .get(row)
            .and_then(|f| self.files.get(*f as usize))
            .map(String::as_str)
    }

    /// Rows read from a later piece of the same file (same roles; lines already counted from
    /// the top of the file).
    pub fn append_rows(&mut self, other: RawTable) {
        for (c, o) in self.cells.iter_mut().zip(other.cells) {
            c.append(o);
        }
        self.lines.extend(other.lines);
        self.ragged.extend(other.ragged);
    }

    /// Keeps the rows `keep` marks and drops the roles `drop` names (positions in `roles`).
    pub fn retain(&mut self, keep: &[bool], drop: &[usize]) {
        let mut r = 0;
        self.roles.retain(|_| {
            r += 1;
            !drop.contains(&(r - 1))
        });
        let mut r = 0;
        self.columns.retain(|_| {
            r += 1;
            !drop.contains(&(r - 1))
        });
        let cells = std::mem::take(&mut self.cells);
        for (r, c) in cells.into_iter().enumerate() {
            if drop.contains(&r) {
                continue;
            }
            self.cells.push(match c {
                _ if keep.iter().all(|k| *k) => c,
                RawColumn::Text(t) => {
                    let mut out = Texts::default();
                    for (i, k) in keep.iter().enumerate() {
                        if *k {
                            out.push(t.get(i));
                        }
                    }
                    RawColumn::Text(out)
                }
                RawColumn::Typed(s) => {
                    let mask = BooleanChunked::from_slice("keep".into(), keep);
                    RawColumn::Typed(s.filter(&mask).unwrap_or(s))
                }
            });
        }
        let kept: std::collections::HashSet<u64> = self
            .lines
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(l, _)| *l)
            .collect();
        self.lines = self
            .lines
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(l, _)| *l)
            .collect();
        self.ragged.retain(|(line, _)| kept.contains(line));
        if let Some(p) = &mut self.pointers {
            let mut k = keep.iter();
            p.index.retain(|_| k.next().copied().unwrap_or(true));
        }
    }

    /// Several files' rows as one table: roles are the union, a role a file lacks is empty.
    pub fn concat(mut tables: Vec<RawTable>) -> RawTable {
        if tables.len() == 1 {
            return tables.remove(0);
        }
        let mut out = RawTable {
            roles: Vec::new(),
            cells: Vec::new(),
            lines: Vec::new(),
            columns: Vec::new(),
            header_len: 0,
            ragged: Vec::new(),
            bytes: 0,
            blake3: String::new(),
            files: Vec::new(),
            file_of: Vec::new(),
            pointers: None,
        };
        for t in &tables {
            for (r, c) in t.roles.iter().zip(&t.columns) {
                if !out.roles.contains(r) {
                    out.roles.push(r.clone());
                    out.columns.push(c.clone());
                }
            }
        }
        // Each role's column starts as the first file that has it, typed or text.
        let mut columns: Vec<Option<RawColumn>> = vec![None; out.roles.len()];
        let mut rows = 0;
        // Pointers hold when every file has them (JSON files read as one source).
        let mut pointers = tables
            .iter()
            .all(|t| t.pointers.is_some())
            .then(Pointers::default);
        for t in tables {
            if let (Some(p), Some(tp)) = (&mut pointers, &t.pointers) {
                p.arrays.extend(tp.arrays.iter().cloned());
                p.index.extend(&tp.index);
                for (k, v) in &tp.fields {
                    p.fields.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            let n = t.len();
            let file = out.files.len() as u32;
            out.files.extend(t.files);
            let mut cells: Vec<Option<RawColumn>> = t.cells.into_iter().map(Some).collect();
            for (k, role) in out.roles.iter().enumerate() {
                match t.roles.iter().position(|r| r == role) {
                    Some(i) => {
                        let c = cells[i].take().unwrap_or_default();
                        match &mut columns[k] {
                            Some(column) => column.append(c),
                            None => {
                                // Rows of earlier files that lacked the role, then this file's.
                                let mut first = missing_like(&c, rows);
                                first.append(c);
                                columns[k] = Some(first);
                            }
                        }
                    }
                    None => {
                        if let Some(column) = &mut columns[k] {
                            column.push_missing(n);
                        }
                    }
                }
            }
            rows += n;
            out.lines.extend(t.lines);
            // Lines repeat across files; ragged rows are keyed by (file, line) through the
            // row's file, so keep them per file by offsetting into a file-tagged key.
            out.ragged.extend(
                t.ragged
                    .into_iter()
                    .map(|(l, f)| (l | (file as u64) << 40, f)),
            );
            out.file_of.extend(std::iter::repeat_n(file, n));
            out.header_len = out.header_len.max(t.header_len);
            out.bytes += t.bytes;
        }
        out.cells = columns.into_iter().map(Option::unwrap_or_default).collect();
        out.pointers = pointers;
        out
    }
}

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
    #[error("{}: source `{source_name}`: Parquet {}: {message}", path.display(), column.as_ref().map(|c| format!("column `{c}`")).unwrap_or_else(|| "file".into()))]
    Parquet {
        source_name: String,
        path: PathBuf,
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
            IngestError::Parquet { column: Some(_), .. } => "the column's type cannot be read; write it as an integer, float, string, date or timestamp column (pyarrow: table.cast(...))".into(),
            IngestError::Parquet { column: None, .. } => "the file is not a Parquet file cityimpact can read; open it with pyarrow to check it".into(),
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

/// A source's files, read once: their bytes, for parsing, and their BLAKE3, for provenance
/// and for deciding whether anything changed since the last run. A glob in `path` gives
/// several files, read as one source (one file per year, say).
pub struct Loaded {
    pub files: Vec<LoadedFile>,
}

pub struct LoadedFile {
    /// As the pipeline would name it (relative to the pipeline file's folder).
    pub path: String,
    pub resolved: PathBuf,
    pub bytes: Vec<u8>,
    pub blake3: String,
}

fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

pub fn load(source: &Source) -> Result<Loaded, IngestError> {
    if !is_glob(&source.path) {
        let (bytes, blake3) = load_file(source)?;
        return Ok(Loaded {
            files: vec![LoadedFile {
                path: source.path.clone(),
                resolved: source.resolved.clone(),
                bytes,
                blake3,
            }],
        });
    }
    let pattern = source.resolved.to_string_lossy().into_owned();
    let mut paths: Vec<PathBuf> = glob::glob(&pattern)
        .map_err(|e| IngestError::Io {
            source_name: source.name.clone(),
            path: source.resolved.clone(),
            error: std::io::Error::other(format!("`{}` is not a valid glob: {e}", source.path)),
        })?
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(IngestError::Missing {
            source_name: source.name.clone(),
            path: source.resolved.clone(),
        });
    }
    let dir = Path::new(&source.path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut files = Vec::new();
    for resolved in paths {
        let one = Source {
            resolved: resolved.clone(),
            ..source.clone()
        };
        let (bytes, blake3) = load_file(&one)?;
        let name = resolved
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push(LoadedFile {
            path: dir.join(name).to_string_lossy().into_owned(),
            resolved,
            bytes,
            blake3,
        });
    }
    Ok(Loaded { files })
}

fn load_file(source: &Source) -> Result<(Vec<u8>, String), IngestError> {
    let raw = csv::load(source)?;
    // The hash is of the file as published; parsing sees it as UTF-8.
    // On all cores: for a large file hashing is a third of the time it takes to load.
    let blake3 = blake3::Hasher::new()
        .update_rayon(&raw)
        .finalize()
        .to_hex()
        .to_string();
    let bytes = match source.encoding {
        Encoding::Default if is_json_file(source, &raw) && std::str::from_utf8(&raw).is_err() => {
            let at = std::str::from_utf8(&raw)
                .err()
                .map_or(0, |e| e.valid_up_to());
            tracing::warn!(
                "source `{}`: {} is not UTF-8 (byte {at}, 0x{:02X}); read as Windows-1252. Declare encoding = \"latin-1\" or \"windows-1252\" in [sources.{}] to say so",
                source.name,
                source.resolved.display(),
                raw.get(at).copied().unwrap_or(0),
                source.name
            );
            raw.iter()
                .map(|&b| windows_1252(b))
                .collect::<String>()
                .into_bytes()
        }
        Encoding::Default | Encoding::Utf8 => raw,
        Encoding::Latin1 => raw
            .iter()
            .map(|&b| b as char)
            .collect::<String>()
            .into_bytes(),
        Encoding::Windows1252 => raw
            .iter()
            .map(|&b| windows_1252(b))
            .collect::<String>()
            .into_bytes(),
    };
    Ok((bytes, blake3))
}

/// Windows-1252 differs from Latin-1 in 0x80-0x9F only; the five bytes it leaves undefined
/// map to the same code points, as the WHATWG Encoding Standard does.
fn windows_1252(b: u8) -> char {
    const HIGH: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    match b {
        0x80..=0x9F => {
            char::from_u32(HIGH[(b - 0x80) as usize]).unwrap_or(char::REPLACEMENT_CHARACTER)
        }
        _ => b as char,
    }
}

/// Parses a source's files into text cells for every role the files provide; several files
/// (a glob) are read as one table, each row keeping its file.
pub fn parse(source: &Source, loaded: &Loaded) -> Result<RawTable, IngestError> {
    let several = loaded.files.len() > 1;
    if source.format == Format::Ocds && several && loaded.files.iter().all(|f| is_json(&f.bytes)) {
        return ocds_packages(source, loaded);
    }
    let mut tables = Vec::new();
    for file in &loaded.files {
        let one = Source {
            resolved: file.resolved.clone(),
            ..source.clone()
        };
        let mut raw = match one.format {
            Format::EurostatTsv => eurostat::read(&one, &file.bytes)?,
            Format::Json | Format::Ndjson => json::read(&one, &file.bytes)?,
            Format::Parquet => parquet::read(&one, &file.bytes)?,
            // OCDS release packages and 360Giving's standard form are JSON; their flattened
            // forms are CSV.
            Format::Ocds | Format::Giving360 if is_json(&file.bytes) => {
                json::read(&one, &file.bytes)?
            }
            // 360Giving publishes spreadsheets too; any format may be given as one.
            Format::Spreadsheet => sheet::read(&one, &file.bytes)?,
            _ if sheet::is_spreadsheet(&file.bytes) => sheet::read(&one, &file.bytes)?,
            Format::Csv | Format::Tsv | Format::SdmxCsv | Format::Giving360 | Format::Ocds => {
                csv::read(&one, &file.bytes)?
            }
        };
        slices::apply(&one, &mut raw)?;
        raw.blake3 = file.blake3.clone();
        raw.files = vec![file.path.clone()];
        raw.file_of = vec![0; raw.len()];
        tables.push(raw);
    }
    Ok(RawTable::concat(tables))
}

/// Several OCDS packages as one source: processes compiled across the files (see
/// `ocds::records_across`), each row kept with the file of its process's latest release.
fn ocds_packages(source: &Source, loaded: &Loaded) -> Result<RawTable, IngestError> {
    let one = |file: &LoadedFile| Source {
        resolved: file.resolved.clone(),
        ..source.clone()
    };
    let texts: Vec<&str> = loaded
        .files
        .iter()
        .map(|f| json::text_of(&one(f), &f.bytes))
        .collect::<Result<_, _>>()?;
    let packages: Vec<ocds::Package> = loaded
        .files
        .iter()
        .zip(&texts)
        .map(|(f, text)| ocds::package(&one(f), text))
        .collect::<Result<_, _>>()?;
    let rows = ocds::records_across(source, &packages);
    let mut tables = Vec::new();
    for (file, rows) in loaded.files.iter().zip(rows) {
        let Some(mut raw) = json::ocds_table(&one(file), rows, file.bytes.len() as u64)? else {
            continue;
        };
        slices::apply(&one(file), &mut raw)?;
        raw.blake3 = file.blake3.clone();
        raw.files = vec![file.path.clone()];
        raw.file_of = vec![0; raw.len()];
        tables.push(raw);
    }
    if tables.is_empty() {
        return Err(json::no_awards(&one(&loaded.files[0]), &packages[0]));
    }
    Ok(RawTable::concat(tables))
}

/// Whether a source's file is JSON: a JSON format, or a standard's JSON form.
fn is_json_file(source: &Source, bytes: &[u8]) -> bool {
    match source.format {
        Format::Json | Format::Ndjson => true,
        Format::Ocds | Format::Giving360 => is_json(bytes),
        _ => false,
    }
}

/// Whether a file is JSON (an object or an array) rather than text in columns.
fn is_json(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{') | Some(b'[')
    )
}

/// Reads and parses a source's file.
pub fn read(source: &Source) -> Result<RawTable, IngestError> {
    parse(source, &load(source)?)
}

#[cfg(test)]
mod tests {
    use super::{windows_1252, Texts};

    #[test]
    fn texts_keep_cells_and_missing_ones_apart() {
        let mut a = Texts::default();
        a.push(Some("ab"));
        a.push(None);
        a.push(Some(""));
        a.push(Some("é"));
        let mut b = Texts::default();
        b.push(Some("x"));
        b.push_missing(2);
        b.append(a);
        b.push(Some("z"));
        let got: Vec<Option<&str>> = (0..b.len()).map(|i| b.get(i)).collect();
        assert_eq!(
            got,
            [
                Some("x"),
                None,
                None,
                Some("ab"),
                None,
                Some(""),
                Some("é"),
                Some("z")
            ]
        );
        assert_eq!(b.len(), 8);
        assert_eq!(b.get(8), None);
        assert_eq!(Texts::default().get(0), None);
        for i in 0..=b.len() {
            let from: Vec<Option<&str>> = b.iter_from(i).collect();
            assert_eq!(from, got[i..], "from row {i}");
        }
        assert!(b.segments.len() >= 2, "{b:?}");
    }

    #[test]
    fn windows_1252_high_bytes() {
        // The euro sign, curly quotes and dashes that Excel on Windows writes.
        assert_eq!(windows_1252(0x80), '€');
        assert_eq!(windows_1252(0x93), '“');
        assert_eq!(windows_1252(0x96), '–');
        assert_eq!(windows_1252(0xE9), 'é');
        assert_eq!(windows_1252(b'a'), 'a');
    }
}

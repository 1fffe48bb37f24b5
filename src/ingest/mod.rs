//! Reads a source as published into a [`RawTable`]: one column per role, with the line each
//! row starts on. A text file (CSV, JSON, TSV) gives text cells; a typed file (Parquet, Arrow IPC) gives
//! its columns in their own types, so numbers are never written out and parsed back. Typing
//! and checking belong to `contracts`; here a file either can be read (and every row comes
//! out, good or bad) or it cannot, and the error names the file.
//!
//! - `load`: a source's files read once and hashed; `digest` and `disk`: a large text file
//!   hashed and parsed from disk through small buffers, never held whole;
//! - one reader per format: `csv`, `eurostat`, `json`, `ocds`, `sheet`, `typed` (Parquet and
//!   Arrow IPC), with `records` and `slices` shared by the text readers;
//! - `raw`: the table a reader gives; `texts`: the text buffers in it; `numbers`: a text
//!   file's number cells, typed as they are read;
//! - `error`: why a file cannot be read.

mod csv;
mod digest;
mod disk;
mod error;
mod eurostat;
mod json;
mod load;
mod numbers;
mod ocds;
mod raw;
mod records;
mod sheet;
mod slices;
mod texts;
mod typed;

pub use error::{FilterMismatch, IngestError, MissingColumn, Slices};
pub use load::{load, Content, Loaded, LoadedFile};
pub use numbers::Numbers;
pub use raw::{Lines, Pointers, RawColumn, RawTable};
pub use texts::{Cells, Texts};

use crate::config::{Format, Source};

/// Parses a source's files into text cells for every role the files provide; several files
/// (a glob) are read as one table, each row keeping its file.
pub fn parse(source: &Source, loaded: &Loaded) -> Result<RawTable, IngestError> {
    let several = loaded.files.len() > 1;
    if source.format == Format::Ocds
        && several
        && loaded.files.iter().all(|f| f.bytes().is_some_and(is_json))
    {
        return ocds_packages(source, loaded);
    }
    let mut tables = Vec::new();
    for file in &loaded.files {
        let one = Source {
            resolved: file.resolved.clone(),
            ..source.clone()
        };
        let mut raw = match &file.content {
            // Only text in columns is left on disk.
            Content::Disk(disk) => csv::read_on_disk(&one, disk)?,
            Content::Bytes(bytes) => read_bytes(&one, bytes)?,
        };
        slices::apply(&one, &mut raw)?;
        raw.blake3 = file.blake3.clone();
        raw.files = vec![file.path.clone()];
        raw.file_of = vec![0; raw.len()];
        tables.push(raw);
    }
    Ok(RawTable::concat(tables))
}

/// A file read into memory, by its format.
fn read_bytes(one: &Source, bytes: &[u8]) -> Result<RawTable, IngestError> {
    match one.format {
        Format::EurostatTsv => eurostat::read(one, bytes),
        Format::Json | Format::Ndjson => json::read(one, bytes),
        Format::Parquet => typed::read(one, bytes, typed::Container::Parquet),
        Format::Arrow => typed::read(one, bytes, typed::Container::ArrowIpc),
        // OCDS release packages and 360Giving's standard form are JSON; their flattened
        // forms are CSV.
        Format::Ocds | Format::Giving360 if is_json(bytes) => json::read(one, bytes),
        // 360Giving publishes spreadsheets too; any format may be given as one.
        Format::Spreadsheet => sheet::read(one, bytes),
        _ if sheet::is_spreadsheet(bytes) => sheet::read(one, bytes),
        Format::Csv | Format::Tsv | Format::SdmxCsv | Format::Giving360 | Format::Ocds => {
            csv::read(one, bytes)
        }
    }
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
        .map(|f| json::text_of(&one(f), f.bytes().unwrap_or_default()))
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
        let Some(mut raw) = json::ocds_table(&one(file), rows, file.size())? else {
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

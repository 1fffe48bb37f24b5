//! CSV and TSV as published: a UTF-8 byte-order mark is skipped, the separator is sniffed from
//! the header unless the pipeline sets it, quoted fields may hold separators, quotes and
//! newlines, and each row keeps the line it starts on.
//!
//! A `city_stats` file in wide layout (one column per variable code named in `variables`) is
//! turned long here, so that contracts see one layout.

use std::path::Path;

use csv::{ByteRecord, ReaderBuilder, StringRecord};

use super::records::Assembler;
use super::{IngestError, RawTable};
use crate::config::{Format, Location, Source};

const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The separator that occurs most often outside quotes in the first line.
fn sniff_separator(bytes: &[u8]) -> u8 {
    let mut counts = [0usize; CANDIDATES.len()];
    let mut quoted = false;
    for &b in bytes {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let (best, n) = counts
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, usize::MAX - i))
        .unwrap_or((0, &0));
    if *n == 0 {
        b','
    } else {
        CANDIDATES[best]
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

pub fn load(source: &Source) -> Result<Vec<u8>, IngestError> {
    std::fs::read(&source.resolved).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            IngestError::Missing {
                source_name: source.name.clone(),
                path: source.resolved.clone(),
            }
        } else {
            IngestError::Io {
                source_name: source.name.clone(),
                path: source.resolved.clone(),
                error,
            }
        }
    })
}

fn separator(source: &Source, bytes: &[u8]) -> u8 {
    source.separator.unwrap_or(match source.format {
        Format::Tsv | Format::EurostatTsv => b'\t',
        _ => sniff_separator(bytes),
    })
}

fn location(path: &Path, line: u64, column: usize) -> Location {
    Location {
        file: path.to_path_buf(),
        line: line as usize,
        column,
    }
}

fn header(source: &Source, bytes: &[u8]) -> Result<Vec<String>, IngestError> {
    let mut reader = ReaderBuilder::new()
        .delimiter(separator(source, bytes))
        .flexible(true)
        .has_headers(false)
        .from_reader(bytes);
    let mut record = ByteRecord::new();
    let got = reader
        .read_byte_record(&mut record)
        .map_err(|e| parse_error(source, &e))?;
    if !got || record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
        return Err(IngestError::NoHeader {
            source_name: source.name.clone(),
            path: source.resolved.clone(),
        });
    }
    record
        .iter()
        .enumerate()
        .map(|(i, f)| {
            std::str::from_utf8(f)
                .map(|s| s.trim().to_string())
                .map_err(|_| IngestError::Encoding {
                    source_name: source.name.clone(),
                    location: location(&source.resolved, 1, i + 1),
                })
        })
        .collect()
}

fn parse_error(source: &Source, e: &csv::Error) -> IngestError {
    let line = e.position().map(|p| p.line()).unwrap_or(1) as usize;
    IngestError::parse(source, line, e.to_string())
}

pub fn read(source: &Source, owned: &[u8]) -> Result<RawTable, IngestError> {
    let bytes = strip_bom(owned);
    let header = header(source, bytes)?;
    let mut reader = ReaderBuilder::new()
        .delimiter(separator(source, bytes))
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes);
    let mut rows = Assembler::new(source, &header)?;
    rows.reserve(bytes.iter().filter(|&&b| b == b'\n').count());
    let mut record = StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(match e.kind() {
                    csv::ErrorKind::Utf8 { pos, err } => IngestError::Encoding {
                        source_name: source.name.clone(),
                        location: location(
                            &source.resolved,
                            pos.as_ref().map(|p| p.line()).unwrap_or(1),
                            err.field() + 1,
                        ),
                    },
                    _ => parse_error(source, &e),
                })
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        // A line with nothing on it is not a row.
        if record.len() <= 1 && record.get(0).is_none_or(str::is_empty) {
            continue;
        }
        rows.push(line, record.len(), |i| record.get(i));
    }
    Ok(rows.finish(owned.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_separator_outside_quotes() {
        assert_eq!(sniff_separator(b"a;b;c\n1,5;2;3"), b';');
        assert_eq!(sniff_separator(b"\"a,b\"\tc\td\n"), b'\t');
        assert_eq!(sniff_separator(b"a|b\n"), b'|');
        assert_eq!(sniff_separator(b"single\n"), b',');
    }

    #[test]
    fn strips_a_bom() {
        assert_eq!(strip_bom(b"\xEF\xBB\xBFa,b"), b"a,b");
        assert_eq!(strip_bom(b"a,b"), b"a,b");
    }
}

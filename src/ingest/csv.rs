//! CSV and TSV as published: a UTF-8 byte-order mark is skipped, the separator is sniffed from
//! the header unless the pipeline sets it, quoted fields may hold separators, quotes and
//! newlines, and each row keeps the line it starts on.
//!
//! A `city_stats` file in wide layout (one column per variable code named in `variables`) is
//! turned long here, so that contracts see one layout.

use std::path::Path;

use csv::{ByteRecord, ReaderBuilder, StringRecord};
use rayon::prelude::*;

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
    read_file(&source.resolved).map_err(|error| {
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

/// Files above this size are read in pieces side by side.
const PARALLEL_READ: u64 = 64 << 20;

/// A file's bytes. A large file is read in pieces on all cores: copying from the page cache
/// into fresh memory is bound by page faults, which one core takes one at a time (a 1 GB file
/// took 0.75 s).
fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    read_file_from(path, PARALLEL_READ)
}

/// [`read_file`], reading in pieces from `parallel` bytes on.
fn read_file_from(path: &Path, parallel: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len < parallel {
        return std::fs::read(path);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let Ok(size) = usize::try_from(len) else {
            return std::fs::read(path);
        };
        let mut bytes = vec![0u8; size];
        let piece = size.div_ceil(2 * rayon::current_num_threads()).max(1);
        let read = bytes
            .par_chunks_mut(piece)
            .enumerate()
            .try_for_each(|(k, chunk)| file.read_exact_at(chunk, (k * piece) as u64));
        // A file that changed size while it was read is read again in one go, as it now is.
        match read.and_then(|()| file.metadata()).map(|m| m.len() == len) {
            Ok(true) => Ok(bytes),
            _ => std::fs::read(path),
        }
    }
    #[cfg(not(unix))]
    std::fs::read(path)
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

/// Files above this size are parsed in pieces, side by side.
const PARALLEL_BYTES: usize = 16 << 20;

pub fn read(source: &Source, owned: &[u8]) -> Result<RawTable, IngestError> {
    let pieces = match owned.len() >= PARALLEL_BYTES {
        true => 2 * rayon::current_num_threads(),
        false => 1,
    };
    read_in(source, owned, pieces)
}

/// Reads a file in up to `pieces` pieces side by side.
fn read_in(source: &Source, owned: &[u8], pieces: usize) -> Result<RawTable, IngestError> {
    let bytes = strip_bom(owned);
    let header = header(source, bytes)?;
    let separator = separator(source, bytes);
    let reader = Pieces {
        source,
        header: &header,
        separator,
        bytes,
    };
    let pieces = split(bytes, pieces);
    let mut table = if pieces.len() > 1 {
        let newlines: Vec<u64> = pieces
            .par_iter()
            .map(|r| newlines(&bytes[r.clone()]))
            .collect();
        let above = newlines.iter().scan(0, |sum, n| {
            let before = *sum;
            *sum += n;
            Some(before)
        });
        let pieces: Vec<_> = pieces.into_iter().zip(above).collect();
        let parsed: Vec<Result<Piece, IngestError>> = pieces
            .into_par_iter()
            .enumerate()
            .map(|(k, (range, above))| reader.parse(range, k == 0, above))
            .collect();
        reader.join(parsed)?
    } else {
        None
    };
    if table.is_none() {
        table = Some(reader.parse(0..bytes.len(), true, 0)?.table);
    }
    let mut table = table.unwrap_or_else(|| unreachable!("parsed above"));
    table.bytes = owned.len() as u64;
    Ok(table)
}

/// Up to `n` byte ranges that together cover `bytes`, each but the last ending just after a
/// newline. A newline may lie inside a quoted field; [`Pieces::join`] finds that out.
fn split(bytes: &[u8], n: usize) -> Vec<std::ops::Range<usize>> {
    let mut starts = vec![0];
    for k in 1..n {
        let target = (bytes.len() * k / n).max(*starts.last().unwrap_or(&0));
        if let Some(nl) = bytes[target..].iter().position(|&b| b == b'\n') {
            let at = target + nl + 1;
            if at < bytes.len() && Some(&at) != starts.last() {
                starts.push(at);
            }
        }
    }
    let ends = starts.iter().skip(1).copied().chain([bytes.len()]);
    starts.iter().zip(ends).map(|(&s, e)| s..e).collect()
}

/// A file's lines; memchr counts in SIMD blocks (0.20 -> 0.03 s on 571 MB).
fn newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// The line a record read by the csv crate starts on. The crate's position is where its
/// reader stood when the record began: before the `\n` of the `\r\n` that ended the row above
/// and before any blank lines, so that its line alone names the line above in a Windows file.
pub(super) fn start_line(bytes: &[u8], position: &csv::Position) -> u64 {
    let from = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    let skipped = bytes
        .get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .filter(|&&b| b == b'\n')
        .count();
    position.line() + skipped as u64
}

/// A file's rows read piece by piece.
struct Pieces<'a> {
    source: &'a Source,
    header: &'a [String],
    separator: u8,
    bytes: &'a [u8],
}

struct Piece {
    table: RawTable,
    /// The piece ended inside a quoted field, so the next piece did not start on a row.
    cut_a_field: bool,
}

impl Pieces<'_> {
    /// The rows of `bytes[range]`; `first` is the piece with the header, and `above` the lines
    /// before the piece, so that lines are counted from the top of the file.
    fn parse(
        &self,
        range: std::ops::Range<usize>,
        first: bool,
        above: u64,
    ) -> Result<Piece, IngestError> {
        let source = self.source;
        let piece = &self.bytes[range];
        let mut reader = ReaderBuilder::new()
            .delimiter(self.separator)
            .flexible(true)
            .has_headers(first)
            .from_reader(piece);
        let mut rows = Assembler::new(source, self.header)?;
        rows.reserve(newlines(piece) as usize);
        let mut record = StringRecord::new();
        let mut cut_a_field = false;
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
                                above + pos.as_ref().map_or(1, |p| start_line(piece, p)),
                                err.field() + 1,
                            ),
                        },
                        _ => {
                            let line = above + e.position().map_or(1, |p| start_line(piece, p));
                            IngestError::parse(source, line as usize, e.to_string())
                        }
                    })
                }
            }
            // Outside quotes a newline ends the row, so a field can only end with one when
            // the input ran out inside quotes.
            cut_a_field = record.iter().next_back().is_some_and(|f| f.ends_with('\n'));
            let line = above + record.position().map_or(0, |p| start_line(piece, p));
            // A line with nothing on it is not a row.
            if record.len() <= 1 && record.get(0).is_none_or(str::is_empty) {
                continue;
            }
            rows.push(line, record.len(), |i| record.get(i));
        }
        Ok(Piece {
            table: rows.finish(piece.len() as u64),
            cut_a_field,
        })
    }

    /// The pieces as one table, or `None` when a piece ended inside a quoted field (a quote
    /// the splitting could not see) and the file must be read in one go. The first error in
    /// file order is the file's error, as long as every piece before it started on a row.
    fn join(
        &self,
        parsed: Vec<Result<Piece, IngestError>>,
    ) -> Result<Option<RawTable>, IngestError> {
        let last = parsed.len().saturating_sub(1);
        let mut out: Option<RawTable> = None;
        for (k, piece) in parsed.into_iter().enumerate() {
            let piece = piece?;
            if piece.cut_a_field && k < last {
                return Ok(None);
            }
            match &mut out {
                None => out = Some(piece.table),
                Some(t) => t.append_rows(piece.table),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::RawColumn;

    #[test]
    fn sniffs_the_separator_outside_quotes() {
        assert_eq!(sniff_separator(b"a;b;c\n1,5;2;3"), b';');
        assert_eq!(sniff_separator(b"\"a,b\"\tc\td\n"), b'\t');
        assert_eq!(sniff_separator(b"a|b\n"), b'|');
        assert_eq!(sniff_separator(b"single\n"), b',');
    }

    #[test]
    fn a_file_read_in_pieces_is_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, 7, 4099] {
            let path = dir.path().join(format!("f{len}"));
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(read_file_from(&path, 0).unwrap(), bytes, "{len} bytes");
        }
        let missing = read_file_from(&dir.path().join("none"), 0).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn strips_a_bom() {
        assert_eq!(strip_bom(b"\xEF\xBB\xBFa,b"), b"a,b");
        assert_eq!(strip_bom(b"a,b"), b"a,b");
    }

    fn projects() -> (tempfile::TempDir, crate::config::Pipeline) {
        crate::config::one_source("projects")
    }

    /// Every cell of every role, with its line, to compare two readings of a file.
    fn rows(t: &RawTable) -> Vec<(u64, Vec<Option<String>>)> {
        (0..t.len())
            .map(|i| {
                let cells = t.cells.iter().map(|c| c.text(i));
                (t.lines.at(i), cells.collect())
            })
            .collect()
    }

    /// Reads `bytes` in `n` pieces: the joined table, or `None` when a piece cut a field.
    fn in_pieces(source: &Source, bytes: &[u8], n: usize) -> Option<RawTable> {
        let header = header(source, bytes).unwrap();
        let reader = Pieces {
            source,
            header: &header,
            separator: b',',
            bytes,
        };
        let parsed = split(bytes, n)
            .into_iter()
            .enumerate()
            .map(|(k, r)| {
                let above = newlines(&bytes[..r.start]);
                reader.parse(r, k == 0, above)
            })
            .collect();
        reader.join(parsed).unwrap()
    }

    /// Reads `bytes` in one piece, as a small file is read.
    fn whole(source: &Source, bytes: &[u8]) -> RawTable {
        in_pieces(source, bytes, 1).expect("one piece cuts nothing")
    }

    #[test]
    fn splits_cover_the_file_and_end_after_newlines() {
        let bytes = b"h\n1\n22\n333\n4444\n55555\n";
        for n in 1..10 {
            let pieces = split(bytes, n);
            assert_eq!(pieces.first().map(|r| r.start), Some(0));
            assert_eq!(pieces.last().map(|r| r.end), Some(bytes.len()));
            for w in pieces.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(bytes[w[0].end - 1], b'\n', "{n} pieces: {pieces:?}");
            }
        }
    }

    #[test]
    fn pieces_read_like_the_whole_file() {
        let (_dir, pipeline) = projects();
        let source = &pipeline.sources[0];
        let mut csv = String::from("id,area,amount,start,title\n");
        for i in 0..300 {
            csv.push_str(&format!("P{i},D{},{i}.5,2021-01-01,plain {i}\n", i % 7));
            if i % 50 == 0 {
                // A blank line and a short row: skipped and marked ragged, wherever they fall.
                csv.push_str(&format!("\nS{i},D1\n"));
            }
        }
        let bytes = csv.as_bytes();
        let expected = rows(&whole(source, bytes));
        assert_eq!(expected.len(), 306);
        for n in [2, 3, 7, 64] {
            let t = in_pieces(source, bytes, n).expect("no quotes, so no piece cuts a field");
            assert_eq!(rows(&t), expected, "{n} pieces");
            assert_eq!(t.ragged.len(), 6, "{n} pieces");
        }
    }

    /// The reader vouches for a text column (`RawColumn::Written`) only where every cell, in
    /// every piece, is one the contract keeps as written; one padded area in the last piece or
    /// one misspelt code takes the vouch away from that column alone.
    #[test]
    fn columns_are_vouched_for_only_where_every_cell_is_as_written() {
        let (_dir, pipeline) = projects();
        let source = &pipeline.sources[0];
        let mut csv = String::from("id,area,amount,start,funding_source\n");
        for i in 0..300 {
            let area = if i == 299 { " D1" } else { "D2" };
            let funding = if i == 7 { "EU fund" } else { "public" };
            csv.push_str(&format!(
                "P{i},{area},{i},2021-01-0{},{funding}\n",
                i % 9 + 1
            ));
        }
        let kind = |t: &RawTable, role: &str| match &t.cells[t.role(role).unwrap()] {
            RawColumn::Written(_) => "written",
            RawColumn::Typed(_) => "typed",
            RawColumn::Numbers(_) => "numbers",
            RawColumn::Text(_) => "text",
        };
        for n in [1, 2, 7] {
            let t = in_pieces(source, csv.as_bytes(), n).unwrap();
            let kinds = ["id", "area", "amount", "start", "funding_source"].map(|r| kind(&t, r));
            assert_eq!(
                kinds,
                ["written", "typed", "numbers", "written", "typed"],
                "{n} pieces"
            );
        }
    }

    #[test]
    fn a_piece_that_cuts_a_quoted_field_is_caught() {
        let (_dir, pipeline) = projects();
        let source = &pipeline.sources[0];
        // Titles that are mostly quoted newlines: many split points fall inside them.
        let mut csv = String::from("id,area,amount,start,title\n");
        for i in 0..40 {
            csv.push_str(&format!(
                "P{i},D1,1,2021-01-01,\"line one\n\nline \"\"three\"\"\n,\n\"\n"
            ));
        }
        let bytes = csv.as_bytes();
        let expected = rows(&whole(source, bytes));
        assert_eq!(expected.len(), 40);
        assert_eq!(expected[1].0, 7, "rows keep the line they start on");
        let mut caught = 0;
        for n in 2..40 {
            match in_pieces(source, bytes, n) {
                Some(t) => assert_eq!(rows(&t), expected, "{n} pieces"),
                None => caught += 1,
            }
        }
        assert!(caught > 0, "some split fell inside a quoted title");
        // Reading falls back to the file in one go.
        for n in 2..40 {
            assert_eq!(rows(&read_in(source, bytes, n).unwrap()), expected);
        }
    }

    /// A Windows file (`\r\n`) with blank lines and a quoted line break: each row keeps the line
    /// it starts on, read whole or in pieces (see [`start_line`]).
    #[test]
    fn rows_of_a_windows_file_keep_their_lines() {
        let (_dir, pipeline) = projects();
        let source = &pipeline.sources[0];
        let bytes = b"id,area,amount,start,title\r\nP1,D1,1,2021-01-01,a\r\nP2,D1,x,2021-01-01,b\r\n\r\n\r\nP3,D1,y,2021-01-01,\"c\r\nd\"\r\nP4,D1,2,2021-01-01,e";
        let whole = whole(source, bytes);
        assert_eq!(whole.lines, [2, 3, 6, 8]);
        assert_eq!(rows(&whole)[2].1[4].as_deref(), Some("c\r\nd"));
        for n in 2..6 {
            assert_eq!(
                read_in(source, bytes, n).unwrap().lines,
                whole.lines,
                "{n} pieces"
            );
        }
    }

    #[test]
    fn an_error_in_a_later_piece_names_the_line_in_the_file() {
        let (_dir, pipeline) = projects();
        let source = &pipeline.sources[0];
        let mut bytes = b"id,area,amount,start,title\n".to_vec();
        for i in 0..300 {
            bytes.extend(format!("P{i},D1,1,2021-01-01,t").as_bytes());
            if i == 250 || i == 280 {
                bytes.push(0xE9); // Latin-1 é in a file read as UTF-8
            }
            bytes.push(b'\n');
        }
        for n in [1, 2, 7] {
            let err = read_in(source, &bytes, n).unwrap_err();
            let IngestError::Encoding { location, .. } = &err else {
                panic!("{err}")
            };
            // Row 250 is on line 252 (after the header), its fifth field.
            assert_eq!((location.line, location.column), (252, 5), "{n} pieces");
        }
    }
}

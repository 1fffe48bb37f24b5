//! CSV and TSV as published: a UTF-8 byte-order mark is skipped, the separator is sniffed from
//! the header unless the pipeline sets it, quoted fields may hold separators, quotes and
//! newlines, and each row keeps the line it starts on.
//!
//! A `city_stats` file in wide layout (one column per variable code named in `variables`) is
//! turned long here, so that contracts see one layout.

use std::fs::File;
use std::ops::Range;
use std::path::Path;

use csv::{ByteRecord, ReaderBuilder, StringRecord};
use rayon::prelude::*;

use super::disk::{self, Disk};
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
    read_file(&source.resolved).map_err(|error| io_error(source, error))
}

/// A source's file that cannot be read: missing, or why not.
pub(super) fn io_error(source: &Source, error: std::io::Error) -> IngestError {
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
    let Ok(size) = usize::try_from(len) else {
        return std::fs::read(path);
    };
    let mut bytes = vec![0u8; size];
    let piece = size.div_ceil(2 * rayon::current_num_threads()).max(1);
    let read = bytes
        .par_chunks_mut(piece)
        .enumerate()
        .try_for_each(|(k, chunk)| disk::read_exact_at(&file, chunk, (k * piece) as u64));
    // A file that changed size while it was read is read again in one go, as it now is.
    match read.and_then(|()| file.metadata()).map(|m| m.len() == len) {
        Ok(true) => Ok(bytes),
        _ => std::fs::read(path),
    }
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

/// A file left on disk is read by each core in blocks of this size.
const BLOCK: usize = 256 << 10;

fn pieces_for(len: u64) -> usize {
    match len >= PARALLEL_BYTES as u64 {
        true => 2 * rayon::current_num_threads(),
        false => 1,
    }
}

pub fn read(source: &Source, owned: &[u8]) -> Result<RawTable, IngestError> {
    read_in(source, owned, pieces_for(owned.len() as u64))
}

/// Reads a file in memory in up to `pieces` pieces side by side.
fn read_in(source: &Source, owned: &[u8], pieces: usize) -> Result<RawTable, IngestError> {
    let bytes = strip_bom(owned);
    let header = header(source, bytes)?;
    let reader = Pieces {
        source,
        header: &header,
        separator: separator(source, bytes),
        origin: Origin::Memory(owned),
        block: BLOCK,
    };
    let len = owned.len() as u64;
    let ranges = split(len - bytes.len() as u64, len, pieces, |from| {
        Ok(memchr::memchr(b'\n', &owned[from as usize..]).map(|i| from + i as u64))
    })
    .map_err(|e| io_error(source, e))?;
    let mut table = reader.read(ranges)?;
    table.bytes = len;
    Ok(table)
}

/// Reads a large file left on disk (see `ingest::disk`), in pieces side by side, each
/// through a block of memory; `disk` is the file as it was when it was hashed.
pub fn read_on_disk(source: &Source, disk: &Disk) -> Result<RawTable, IngestError> {
    read_on_disk_in(source, disk, pieces_for(disk.len), BLOCK)
}

fn read_on_disk_in(
    source: &Source,
    disk: &Disk,
    pieces: usize,
    block: usize,
) -> Result<RawTable, IngestError> {
    let io = |e| io_error(source, e);
    let file = File::open(&source.resolved).map_err(io)?;
    disk.still(&file).map_err(io)?;
    let head = head_of(&file, disk.len).map_err(io)?;
    let bytes = strip_bom(&head);
    let header = header(source, bytes)?;
    let reader = Pieces {
        source,
        header: &header,
        separator: separator(source, bytes),
        origin: Origin::Disk(&file),
        block,
    };
    let bom = (head.len() - bytes.len()) as u64;
    let ranges = split(bom, disk.len, pieces, |from| {
        next_newline(&file, from, disk.len)
    })
    .map_err(io)?;
    let mut table = reader.read(ranges)?;
    // Read through the same handle: a file changed in place since it was hashed is caught
    // here, one replaced by another under its name was not read.
    disk.still(&file).map_err(io)?;
    table.bytes = disk.len;
    Ok(table)
}

/// The top of a file, up to past the end of its first row: enough for the header and the
/// separator.
fn head_of(file: &File, len: u64) -> std::io::Result<Vec<u8>> {
    let mut size: u64 = 64 << 10;
    loop {
        let mut head = vec![0u8; size.min(len) as usize];
        disk::read_exact_at(file, &mut head, 0)?;
        if head.len() as u64 == len || first_row_ends_within(strip_bom(&head)) {
            return Ok(head);
        }
        size *= 4;
    }
}

fn first_row_ends_within(bytes: &[u8]) -> bool {
    let mut reader = ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(bytes);
    let mut record = ByteRecord::new();
    matches!(reader.read_byte_record(&mut record), Ok(true))
        && (reader.position().byte() as usize) < bytes.len()
}

/// Where the first newline from `from` on is in a file of `len` bytes.
fn next_newline(file: &File, from: u64, len: u64) -> std::io::Result<Option<u64>> {
    let mut window = vec![0u8; 64 << 10];
    let mut at = from;
    while at < len {
        let n = window.len().min((len - at) as usize);
        disk::read_exact_at(file, &mut window[..n], at)?;
        if let Some(i) = memchr::memchr(b'\n', &window[..n]) {
            return Ok(Some(at + i as u64));
        }
        at += n as u64;
    }
    Ok(None)
}

/// Up to `n` byte ranges that together cover `start..len`, each but the last ending just
/// after a newline (`newline(from)` finds the first one from `from` on). A newline may lie
/// inside a quoted field; [`Pieces::join`] finds that out.
fn split(
    start: u64,
    len: u64,
    n: usize,
    mut newline: impl FnMut(u64) -> std::io::Result<Option<u64>>,
) -> std::io::Result<Vec<Range<u64>>> {
    let mut starts = vec![start];
    for k in 1..n as u64 {
        let last = *starts.last().unwrap_or(&start);
        let target = (start + (len - start) * k / n as u64).max(last);
        if let Some(nl) = newline(target)? {
            let at = nl + 1;
            if at < len && at != last {
                starts.push(at);
            }
        }
    }
    let ends = starts.iter().skip(1).copied().chain([len]);
    Ok(starts.iter().zip(ends).map(|(&s, e)| s..e).collect())
}

/// What [`Pieces::plain_rows`] read of a block.
enum Plain {
    /// Every row.
    Read,
    /// The rows before byte `at` (`lines` lines), and `header` whether the header is still to
    /// be skipped.
    From { at: usize, lines: u64, header: bool },
}

/// A block whose lines can be split without the csv crate's state machine, as text: a carriage
/// return only before a line feed (the crate ends a row at a lone one), an ASCII separator, and
/// UTF-8 throughout (checked once, not row by row, as the crate does). Most files are.
fn plain(block: &[u8], separator: u8) -> Option<&str> {
    if !separator.is_ascii() {
        return None;
    }
    let lone_return =
        memchr::memchr_iter(b'\r', block).any(|i| block.get(i + 1).is_some_and(|&b| b != b'\n'));
    if lone_return {
        return None;
    }
    std::str::from_utf8(block).ok()
}

/// Splits a line into `fields` as the csv crate reads it, where the line is plain: each field
/// either holds no quote, or is wholly in quotes with no quote inside (a text column as most
/// writers quote it). False where the crate reads the line otherwise (a quote doubled or inside
/// a field, quotes still open at the line's end).
fn split_line<'t>(line: &'t str, separator: u8, fields: &mut Vec<&'t str>) -> bool {
    // A byte at a time: fields are short, and a search call per field costs more than it finds.
    fields.clear();
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            let mut close = i + 1;
            while close < b.len() && b[close] != b'"' {
                close += 1;
            }
            if close == b.len() {
                return false;
            }
            fields.push(&line[i + 1..close]);
            match b.get(close + 1) {
                None => return true,
                Some(&c) if c == separator => i = close + 2,
                Some(_) => return false,
            }
            continue;
        }
        let mut end = i;
        while end < b.len() && b[end] != separator {
            if b[end] == b'"' {
                return false;
            }
            end += 1;
        }
        fields.push(&line[i..end]);
        if end == b.len() {
            return true;
        }
        i = end + 1;
    }
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

/// Where a file's bytes are: read into memory, or left on disk.
#[derive(Clone, Copy)]
enum Origin<'a> {
    Memory(&'a [u8]),
    Disk(&'a File),
}

/// A file's rows read piece by piece.
struct Pieces<'a> {
    source: &'a Source,
    header: &'a [String],
    separator: u8,
    origin: Origin<'a>,
    /// How much of a file on disk a piece reads at a time.
    block: usize,
}

/// A piece's rows, with lines counted from the piece's first line (1).
struct Piece {
    table: RawTable,
    /// The piece ended inside a quoted field, so the next piece did not start on a row.
    cut_a_field: bool,
    /// The piece's newlines, to number the lines of the pieces after it.
    newlines: u64,
}

/// What reading the rows of a block used up.
struct Block {
    /// Bytes read: all, or up to a row that ran on past the block.
    used: usize,
    /// The last row ended inside a quoted field.
    cut_a_field: bool,
}

impl Pieces<'_> {
    /// The rows of `ranges`, read side by side, or the whole of them in one go when a piece
    /// ended inside a quoted field (a quote the splitting could not see).
    fn read(&self, ranges: Vec<Range<u64>>) -> Result<RawTable, IngestError> {
        let whole = ranges.first().map_or(0, |r| r.start)..ranges.last().map_or(0, |r| r.end);
        if ranges.len() > 1 {
            let parsed: Vec<Result<Piece, IngestError>> = ranges
                .into_par_iter()
                .enumerate()
                .map(|(k, range)| self.parse(range, k == 0))
                .collect();
            if let Some(table) = self.join(parsed)? {
                return Ok(table);
            }
        }
        Ok(self.parse(whole, true)?.table)
    }

    /// The rows of `range`; `first` is the piece with the header.
    fn parse(&self, range: Range<u64>, first: bool) -> Result<Piece, IngestError> {
        let mut rows = Assembler::new(self.source, self.header)?;
        match self.origin {
            Origin::Memory(bytes) => {
                let piece = &bytes[range.start as usize..range.end as usize];
                let newlines = newlines(piece);
                rows.reserve(newlines as usize);
                let block = self.rows_of(piece, first, false, 0, &mut rows)?;
                Ok(Piece {
                    table: rows.finish(piece.len() as u64),
                    cut_a_field: block.cut_a_field,
                    newlines,
                })
            }
            Origin::Disk(file) => self.parse_on_disk(file, range, first, rows),
        }
    }

    /// The rows of `range` of a file on disk, a block at a time. Each block is cut after its
    /// last newline; a row that runs on past it (a quoted line break) is read again with the
    /// next block.
    fn parse_on_disk(
        &self,
        file: &File,
        range: Range<u64>,
        first: bool,
        mut rows: Assembler,
    ) -> Result<Piece, IngestError> {
        let mut buffer: Vec<u8> = Vec::with_capacity(self.block);
        let (mut at, mut above, mut header) = (range.start, 0, first);
        let mut sized = false;
        loop {
            let want = self.block.min((range.end - at) as usize);
            let old = buffer.len();
            buffer.resize(old + want, 0);
            disk::read_exact_at(file, &mut buffer[old..], at)
                .map_err(|e| io_error(self.source, e))?;
            at += want as u64;
            let more = at < range.end;
            let end = match memchr::memrchr(b'\n', &buffer[old..]) {
                _ if !more => buffer.len(),
                Some(i) => old + i + 1,
                None => continue,
            };
            if !sized {
                sized = true;
                // The rows to expect, from the first block's, a tenth more.
                let per_byte = newlines(&buffer[..end]) as f64 / end.max(1) as f64;
                rows.reserve((per_byte * (range.end - range.start) as f64 * 1.1) as usize + 16);
            }
            let block = self.rows_of(&buffer[..end], header, more, above, &mut rows)?;
            header = header && block.used == 0;
            above += newlines(&buffer[..block.used]);
            if !more {
                return Ok(Piece {
                    table: rows.finish(range.end - range.start),
                    cut_a_field: block.cut_a_field,
                    newlines: above,
                });
            }
            buffer.drain(..block.used);
        }
    }

    /// The rows of `block`, which starts on a row, pushed with their lines counted from
    /// `above` (the lines before the block in its piece); `header` skips the first row. Where
    /// `more` follows and the last row ended inside a quoted field, that row is left unread.
    fn rows_of(
        &self,
        block: &[u8],
        header: bool,
        more: bool,
        above: u64,
        rows: &mut Assembler,
    ) -> Result<Block, IngestError> {
        let (mut block, mut header, mut above) = (block, header, above);
        let mut offset = 0;
        if let Some(text) = plain(block, self.separator) {
            match self.plain_rows(text, header, above, rows) {
                Plain::Read => {
                    return Ok(Block {
                        used: block.len(),
                        cut_a_field: false,
                    })
                }
                // The rest of the block, from a row the crate must read, is read by the crate.
                Plain::From {
                    at,
                    lines,
                    header: h,
                } => {
                    (offset, header, above) = (at, h, above + lines);
                    block = &block[at..];
                }
            }
        }
        let read = self.crate_rows(block, header, more, above, rows)?;
        Ok(Block {
            used: offset + read.used,
            cut_a_field: read.cut_a_field,
        })
    }

    /// [`Pieces::rows_of`] through the csv crate.
    fn crate_rows(
        &self,
        block: &[u8],
        header: bool,
        more: bool,
        above: u64,
        rows: &mut Assembler,
    ) -> Result<Block, IngestError> {
        let mut reader = ReaderBuilder::new()
            .delimiter(self.separator)
            .flexible(true)
            .has_headers(false)
            .from_reader(block);
        let mut record = StringRecord::new();
        let (mut header, mut cut_a_field) = (header, false);
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(self.error(block, above, &e)),
            }
            // Outside quotes a newline ends the row, so a field can only end with one when
            // the input ran out inside quotes.
            cut_a_field = record.iter().next_back().is_some_and(|f| f.ends_with('\n'));
            let position = record.position();
            if cut_a_field && more {
                let used = position.map_or(0, |p| p.byte() as usize);
                return Ok(Block { used, cut_a_field });
            }
            if std::mem::take(&mut header) {
                continue;
            }
            let line = above + position.map_or(0, |p| start_line(block, p));
            // A line with nothing on it is not a row.
            if record.len() <= 1 && record.get(0).is_none_or(str::is_empty) {
                continue;
            }
            rows.push(line, record.len(), |i| record.get(i));
        }
        Ok(Block {
            used: block.len(),
            cut_a_field,
        })
    }

    /// The rows of a [`plain`] block, as the csv crate reads them: every line a row (a blank
    /// line none), its fields between separators, a field in quotes without its quotes;
    /// `header` skips the first row. A row the crate reads otherwise (a quote inside a field,
    /// a line break inside quotes) is where this stops: the rest is the crate's.
    fn plain_rows(&self, block: &str, header: bool, above: u64, rows: &mut Assembler) -> Plain {
        let mut header = header;
        let mut fields: Vec<&str> = Vec::with_capacity(self.header.len() + 1);
        let (mut line, mut start) = (above, 0);
        let ends = memchr::memchr_iter(b'\n', block.as_bytes()).chain([block.len()]);
        for end in ends {
            // Lines end at line feeds (the one after the last is the block's end, and empty
            // when the block ends with one).
            let (text, from) = (&block[start..end], start);
            start = end + 1;
            let text = text.strip_suffix('\r').unwrap_or(text);
            if text.is_empty() {
                line += 1;
                continue;
            }
            if !split_line(text, self.separator, &mut fields) {
                let lines = line - above;
                return Plain::From {
                    at: from,
                    lines,
                    header,
                };
            }
            line += 1;
            if std::mem::take(&mut header) {
                continue;
            }
            rows.push(line, fields.len(), |i| fields.get(i).copied());
        }
        Plain::Read
    }

    fn error(&self, block: &[u8], above: u64, e: &csv::Error) -> IngestError {
        let source = self.source;
        match e.kind() {
            csv::ErrorKind::Utf8 { pos, err } => IngestError::Encoding {
                source_name: source.name.clone(),
                location: location(
                    &source.resolved,
                    above + pos.as_ref().map_or(1, |p| start_line(block, p)),
                    err.field() + 1,
                ),
            },
            _ => {
                let line = above + e.position().map_or(1, |p| start_line(block, p));
                IngestError::parse(source, line as usize, e.to_string())
            }
        }
    }

    /// The pieces as one table, their lines counted from the top of the file, or `None` when
    /// a piece ended inside a quoted field and the file must be read in one go. The first
    /// error in file order is the file's error, as long as every piece before it started on
    /// a row.
    fn join(
        &self,
        parsed: Vec<Result<Piece, IngestError>>,
    ) -> Result<Option<RawTable>, IngestError> {
        let last = parsed.len().saturating_sub(1);
        let mut out: Option<RawTable> = None;
        let mut above = 0;
        for (k, piece) in parsed.into_iter().enumerate() {
            let piece = piece.map_err(|e| e.lines_below(above))?;
            if piece.cut_a_field && k < last {
                return Ok(None);
            }
            let mut table = piece.table;
            table.shift_lines(above);
            above += piece.newlines;
            match &mut out {
                None => out = Some(table),
                Some(t) => t.append_rows(table),
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

    /// A reader of `bytes` in memory, comma-separated, under `header`.
    fn in_memory<'a>(source: &'a Source, bytes: &'a [u8], header: &'a [String]) -> Pieces<'a> {
        Pieces {
            source,
            header,
            separator: b',',
            origin: Origin::Memory(bytes),
            block: BLOCK,
        }
    }

    /// Reads `bytes` in `n` pieces: the joined table, or `None` when a piece cut a field.
    fn in_pieces(source: &Source, bytes: &[u8], n: usize) -> Option<RawTable> {
        let header = header(source, bytes).unwrap();
        let reader = in_memory(source, bytes, &header);
        let parsed = split_in_memory(bytes, n)
            .into_iter()
            .enumerate()
            .map(|(k, r)| reader.parse(r, k == 0))
            .collect();
        reader.join(parsed).unwrap()
    }

    fn split_in_memory(bytes: &[u8], n: usize) -> Vec<Range<u64>> {
        let len = bytes.len() as u64;
        split(0, len, n, |from| {
            Ok(bytes[from as usize..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|i| from + i as u64))
        })
        .unwrap()
    }

    /// Reads `bytes` in one piece, as a small file is read.
    fn whole(source: &Source, bytes: &[u8]) -> RawTable {
        in_pieces(source, bytes, 1).expect("one piece cuts nothing")
    }

    /// Writes `bytes` to the source's file and reads it from disk in `pieces` pieces and
    /// blocks of `block` bytes.
    fn on_disk(source: &Source, bytes: &[u8], pieces: usize, block: usize) -> RawTable {
        std::fs::write(&source.resolved, bytes).unwrap();
        let file = File::open(&source.resolved).unwrap();
        read_on_disk_in(source, &Disk::of(&file).unwrap(), pieces, block).unwrap()
    }

    /// Reads `bytes` in one piece through the csv crate alone.
    fn by_crate(source: &Source, bytes: &[u8]) -> RawTable {
        let header = header(source, bytes).unwrap();
        let reader = in_memory(source, bytes, &header);
        let mut rows = Assembler::new(source, &header).unwrap();
        reader.crate_rows(bytes, true, false, 0, &mut rows).unwrap();
        rows.finish(bytes.len() as u64)
    }

    /// Lines split without the crate give the crate's rows, fields and lines, and a row the
    /// crate must read hands it the rest of the block with the lines counted on.
    #[test]
    fn plain_lines_read_as_the_crate_reads_them() {
        let (_dir, pipeline) = projects();
        let source = &pipeline.sources[0];
        let head = "\"id\",area,amount,start,title\r\n";
        let bodies = [
            // No quotes: CRLF, blank lines, a trailing separator, a short and a long row.
            "1,AT1,10,2020-01-01,x\r\n\r\n2,AT2,20,,\r\n3,AT3\n\n4,AT4,40,2020-01-01,y,extra\n",
            // Text in quotes, with a separator inside, an empty pair, no final newline.
            "1,\"Lower, Austria\",10,\"2020-01-01\",\"\"\n2,\"Vienna\",20,2021-01-01,\"a b\"",
            // A doubled quote, then rows after it.
            "1,AT1,10,2020-01-01,\"say \"\"hi\"\"\"\n2,AT2,20,2020-01-01,z\n",
            // A line break in quotes between plain rows.
            "1,AT1,10,2020-01-01,a\n2,AT2,20,2020-01-01,\"two\nlines\"\n\n3,AT3,30,2020-01-01,c\n",
            // A quote inside a field, and text after a closing quote.
            "1,A\"T1,10,2020-01-01,a\n2,\"AT\"2,20,2020-01-01,b\n3,AT3,30,2020-01-01,c\n",
            // A lone carriage return ends a row for the crate.
            "1,AT1,10,2020-01-01,a\r2,AT2,20,2020-01-01,b\n",
            // Blank lines before the first row.
            "\n\r\n1,AT1,10,2020-01-01,a\n",
        ];
        for body in bodies {
            let bytes = format!("{head}{body}");
            let plain = whole(source, bytes.as_bytes());
            let crate_read = by_crate(source, bytes.as_bytes());
            assert_eq!(rows(&plain), rows(&crate_read), "{body:?}");
            assert_eq!(plain.len(), crate_read.len());
        }
        // By hand: the second body's cells and lines.
        let t = whole(source, format!("{head}{}", bodies[1]).as_bytes());
        let got = rows(&t);
        assert_eq!(got[0].0, 2);
        assert_eq!(got[1].0, 3);
        assert!(got[0].1.contains(&Some("Lower, Austria".to_string())));
        // The fourth: the row after the quoted line break and a blank line is on line 6.
        let t = whole(source, format!("{head}{}", bodies[3]).as_bytes());
        assert_eq!(rows(&t).iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3, 6]);
        assert!(split_line("a,\"b,c\",", b',', &mut Vec::new()));
        assert!(!split_line("a,\"b\"\"c\"", b',', &mut Vec::new()));
    }

    #[test]
    fn splits_cover_the_file_and_end_after_newlines() {
        let bytes = b"h\n1\n22\n333\n4444\n55555\n";
        for n in 1..10 {
            let pieces = split_in_memory(bytes, n);
            assert_eq!(pieces.first().map(|r| r.start), Some(0));
            assert_eq!(pieces.last().map(|r| r.end), Some(bytes.len() as u64));
            for w in pieces.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(
                    bytes[w[0].end as usize - 1],
                    b'\n',
                    "{n} pieces: {pieces:?}"
                );
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

    /// An error's line counts from the top of the file, past the pieces and blocks before it.
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
        // In memory in 1, 2 and 7 pieces; on disk in as many, in blocks of 7, 100 and 4096
        // bytes (counted past the pieces and blocks before the row).
        std::fs::write(&source.resolved, &bytes).unwrap();
        let disk = Disk::of(&File::open(&source.resolved).unwrap()).unwrap();
        for (n, block) in [(1, 7), (2, 100), (7, 4096)] {
            for err in [
                read_in(source, &bytes, n).unwrap_err(),
                read_on_disk_in(source, &disk, n, block).unwrap_err(),
            ] {
                let IngestError::Encoding { location, .. } = &err else {
                    panic!("{err}")
                };
                // Row 250 is on line 252 (after the header), its fifth field.
                assert_eq!((location.line, location.column), (252, 5), "{n} pieces");
            }
        }
    }

    /// A file left on disk, read in pieces and in blocks down to a byte, reads as the file
    /// in memory: a byte-order mark, a header with a quoted line break, Windows line ends,
    /// blank lines, short rows and quoted line breaks falling across blocks and pieces.
    #[test]
    fn a_file_on_disk_reads_like_the_file_in_memory() {
        let (_dir, pipeline) = projects();
        let source = &pipeline.sources[0];
        let mut csv = String::from("\u{FEFF}id,area,amount,start,title,\"note\r\n(en)\"\r\n");
        for i in 0..60 {
            let title = match i % 4 {
                0 => "\"a \"\"quoted\"\"\r\nline break\"".to_string(),
                1 => format!("plain {i}"),
                2 => "\"\n\n\"".to_string(),
                _ => "\"\"".to_string(),
            };
            csv.push_str(&format!("P{i},D{},{i}.5,2021-01-01,{title},n\r\n", i % 3));
            if i % 17 == 0 {
                csv.push_str(&format!("\r\nS{i},D1\r\n"));
            }
        }
        let bytes = csv.as_bytes();
        let expected = whole(source, bytes);
        assert_eq!(expected.len(), 64);
        assert_eq!((expected.header_len, expected.lines.at(0)), (6, 3));
        for pieces in [1, 2, 3, 7] {
            for block in [1, 2, 5, 13, 64, 4096] {
                let t = on_disk(source, bytes, pieces, block);
                let at = format!("{pieces} pieces, blocks of {block}");
                assert_eq!(rows(&t), rows(&expected), "{at}");
                assert_eq!(t.ragged, expected.ragged, "{at}");
                assert_eq!(t.bytes, bytes.len() as u64, "{at}");
            }
        }
    }

    /// A file that is not the one hashed (rewritten since) is not read.
    #[test]
    fn a_file_changed_since_it_was_hashed_is_not_read() {
        let (_dir, pipeline) = projects();
        let source = &pipeline.sources[0];
        let csv = "id,area,amount,start\nP1,D1,1,2021-01-01\n";
        std::fs::write(&source.resolved, csv).unwrap();
        let disk = Disk::of(&File::open(&source.resolved).unwrap()).unwrap();
        std::fs::write(&source.resolved, format!("{csv}P2,D1,2,2021-01-01\n")).unwrap();
        let err = read_on_disk_in(source, &disk, 2, 64).unwrap_err();
        assert!(
            err.to_string().contains("changed while cityimpact read it"),
            "{err}"
        );
    }
}

//! A source as read, before its contract: one column per role, the line each row starts on,
//! and where each row comes from (its file, its JSON record).

use polars::prelude::{BooleanChunked, DataType, NewChunkedArray, Series};

use super::{Numbers, Texts};

/// One role's cells for every row: text as a text file gives it, or a column in the type a
/// typed file stores it in.
#[derive(Debug, Clone)]
pub enum RawColumn {
    Text(Texts),
    /// Numbers, text, booleans, dates or timestamps, as the file has them (see
    /// `typed::normalise`); the contract checks them without a detour through text. A text
    /// file's text roles of the kinds whose contract runs over columns are read straight into
    /// Arrow text too (see `records::typed_as_read`).
    Typed(Series),
    /// A text file's number role of those kinds, typed as it was read (see `numbers`).
    Numbers(Numbers),
    /// A text file's text role of those kinds in Arrow text, every cell of which its reader
    /// found in the form the contract keeps as it is (`contracts::AsWritten`): the contract
    /// keeps the column without reading it again.
    Written(Series),
}

impl RawColumn {
    pub fn len(&self) -> usize {
        match self {
            RawColumn::Text(t) => t.len(),
            RawColumn::Typed(s) | RawColumn::Written(s) => s.len(),
            RawColumn::Numbers(n) => n.len(),
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
            RawColumn::Numbers(n) => n.into_texts(),
            RawColumn::Typed(s) | RawColumn::Written(s) => {
                let mut t = Texts::default();
                // Every type a reader keeps casts to text (see `typed::normalise`).
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
            (RawColumn::Numbers(a), RawColumn::Numbers(b)) => a.append(b),
            (RawColumn::Written(a), RawColumn::Written(b)) if a.dtype() == b.dtype() => {
                let _ = a.append(&b);
            }
            // Cells the reader could not vouch for join them: the whole column is checked.
            (RawColumn::Written(a), b) => {
                *self = RawColumn::Typed(std::mem::take(a));
                self.append(b);
            }
            (RawColumn::Typed(_), RawColumn::Written(b)) => self.append(RawColumn::Typed(b)),
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
            RawColumn::Numbers(numbers) => numbers.push_missing(n),
            RawColumn::Typed(s) | RawColumn::Written(s) => {
                let _ = s.append(&Series::full_null(s.name().clone(), n, s.dtype()));
            }
        }
    }

    /// The column with its cells in text buffers, as a text file's other kinds are read (tests
    /// check that the contract reads both storages alike).
    #[cfg(test)]
    pub fn as_texts(&self) -> RawColumn {
        RawColumn::Text(self.clone().into_texts())
    }

    /// Row `i` as text (tests and messages; the contract reads typed cells as they are).
    pub fn text(&self, i: usize) -> Option<String> {
        match self {
            RawColumn::Text(t) => t.get(i).map(String::from),
            RawColumn::Numbers(n) => n.text(i),
            RawColumn::Typed(s) | RawColumn::Written(s) => {
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
        RawColumn::Typed(s) | RawColumn::Written(s) => {
            RawColumn::Typed(Series::full_null(s.name().clone(), n, s.dtype()))
        }
        RawColumn::Numbers(numbers) => RawColumn::Numbers(numbers.missing_like(n)),
    }
}

/// The line each row starts on, from 1. Rows on consecutive lines are counted, not listed: a
/// typed file's "line" is the row's number in the file, and most text files have one row a
/// line, so that 10 M rows do not take 80 MB to say 2, 3, 4. A row off the count (after a
/// blank line, or a quoted line break) lists them from there on.
#[derive(Debug, Clone, PartialEq)]
pub enum Lines {
    Listed(Vec<u64>),
    /// Row `i` is on line `first + i`.
    Counted {
        first: u64,
        n: usize,
    },
}

impl Default for Lines {
    fn default() -> Lines {
        Lines::Counted { first: 1, n: 0 }
    }
}

impl Lines {
    /// A typed file's `n` rows, numbered from 1.
    pub fn numbered(n: usize) -> Lines {
        Lines::Counted { first: 1, n }
    }

    pub fn len(&self) -> usize {
        match self {
            Lines::Listed(v) => v.len(),
            Lines::Counted { n, .. } => *n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`'s line.
    pub fn at(&self, i: usize) -> u64 {
        match self {
            Lines::Listed(v) => v[i],
            Lines::Counted { first, .. } => first + i as u64,
        }
    }

    /// A row after these, on `line`.
    pub fn push(&mut self, line: u64) {
        match self {
            Lines::Counted { first, n } if *n == 0 => (*first, *n) = (line, 1),
            Lines::Counted { first, n } if *first + *n as u64 == line => *n += 1,
            _ => self.listed().push(line),
        }
    }

    /// Rows after these (a later piece of the same file, or another file).
    pub fn append(&mut self, other: Lines) {
        match (&mut *self, &other) {
            (Lines::Counted { n: 0, .. }, _) => *self = other,
            (_, Lines::Counted { n: 0, .. }) => {}
            (Lines::Counted { first, n }, Lines::Counted { first: f, n: m })
                if *first + *n as u64 == *f =>
            {
                *n += m
            }
            _ => self.listed().extend(other.iter()),
        }
    }

    /// The same rows, `by` lines further down (a piece's rows, once the lines above it are
    /// counted).
    pub fn shift(&mut self, by: u64) {
        match self {
            Lines::Listed(v) => v.iter_mut().for_each(|l| *l += by),
            Lines::Counted { first, .. } => *first += by,
        }
    }

    /// The lines listed, for rows to be added or dropped one by one.
    fn listed(&mut self) -> &mut Vec<u64> {
        if let Lines::Counted { .. } = self {
            *self = Lines::Listed(self.iter().collect());
        }
        match self {
            Lines::Listed(v) => v,
            Lines::Counted { .. } => unreachable!("listed above"),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }
}

impl<const N: usize> PartialEq<[u64; N]> for Lines {
    fn eq(&self, other: &[u64; N]) -> bool {
        self.len() == N && self.iter().eq(other.iter().copied())
    }
}

/// A source's rows, keyed by role.
#[derive(Debug, Clone, Default)]
pub struct RawTable {
    /// The roles present, in the order of `cells`.
    pub roles: Vec<String>,
    /// `cells[r]`: role `roles[r]` of every row.
    pub cells: Vec<RawColumn>,
    /// 1-based line where each row starts (a quoted field may span lines).
    pub lines: Lines,
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
    /// Every row `by` lines further down.
    pub fn shift_lines(&mut self, by: u64) {
        self.lines.shift(by);
        self.ragged.iter_mut().for_each(|(line, _)| *line += by);
    }

    pub fn append_rows(&mut self, other: RawTable) {
        for (c, o) in self.cells.iter_mut().zip(other.cells) {
            c.append(o);
        }
        self.lines.append(other.lines);
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
                RawColumn::Numbers(n) => RawColumn::Numbers(n.retain(keep)),
                RawColumn::Written(s) => {
                    let mask = BooleanChunked::from_slice("keep".into(), keep);
                    RawColumn::Written(s.filter(&mask).unwrap_or(s))
                }
            });
        }
        if !keep.iter().all(|k| *k) {
            let lines = self.lines.iter().zip(keep).filter(|(_, k)| **k);
            self.lines = Lines::Listed(lines.map(|(l, _)| l).collect());
        }
        let kept: std::collections::HashSet<u64> = self.lines.iter().collect();
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
        let mut out = RawTable::default();
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
            out.lines.append(t.lines);
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

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::NamedFrom;

    fn typed(n: usize) -> RawTable {
        RawTable {
            roles: vec!["amount".into()],
            columns: vec!["amount".into()],
            cells: vec![RawColumn::Typed(Series::new("amount".into(), vec![1.0; n]))],
            lines: Lines::numbered(n),
            ..RawTable::default()
        }
    }

    /// A typed file's rows are counted, not listed, until rows are dropped or another file's
    /// rows follow; each file numbers its rows from 1.
    #[test]
    fn counted_lines_read_as_listed_ones() {
        let t = typed(3);
        assert_eq!(t.len(), 3);
        assert_eq!(t.lines, [1, 2, 3]);
        assert_eq!(t.lines.at(2), 3);
        let both = RawTable::concat(vec![typed(2), typed(3)]);
        assert_eq!(both.lines, [1, 2, 1, 2, 3]);
        let mut kept = typed(4);
        kept.retain(&[true; 4], &[]);
        assert_eq!(kept.lines, Lines::numbered(4));
        kept.retain(&[true, false, true, true], &[]);
        assert_eq!(kept.lines, Lines::Listed(vec![1, 3, 4]));
    }

    /// A text file's rows are counted while each is on the line after the one before, across
    /// the pieces it is read in, and listed from the first that is not.
    #[test]
    fn rows_on_consecutive_lines_are_counted() {
        let (mut a, mut b) = (Lines::default(), Lines::default());
        [2, 3, 4].into_iter().for_each(|l| a.push(l));
        [5, 6].into_iter().for_each(|l| b.push(l));
        a.append(b);
        assert_eq!(a, Lines::Counted { first: 2, n: 5 });
        a.push(9);
        assert_eq!(a, Lines::Listed(vec![2, 3, 4, 5, 6, 9]));
        let mut c = Lines::default();
        c.push(2);
        c.append(Lines::Counted { first: 4, n: 2 });
        assert_eq!(c, [2, 4, 5]);
    }
}

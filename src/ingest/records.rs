//! Any tabular file, once it is a header and rows of text, becomes a [`RawTable`] the same
//! way: each role is found under its mapped column (or its own name), a missing required
//! column stops the run with the columns the file does have, and a wide `city_stats` file
//! (one column per variable code) is turned long.

use polars::prelude::{IntoSeries, StringChunked};
use polars_arrow::array::MutableBinaryViewArray;

use super::{slices, IngestError, Numbers, RawColumn, RawTable, Texts};
use crate::config::{nearest, Format, Source, SourceKind};
use crate::contracts::{AsWritten, PlainNumbers};

/// Which file column feeds each role; wide city_stats columns are returned separately.
pub struct Plan {
    pub roles: Vec<String>,
    pub columns: Vec<String>,
    pub indices: Vec<usize>,
    /// Wide layout: (variable code, column index).
    pub wide: Vec<(String, usize)>,
}

pub fn plan(source: &Source, header: &[String]) -> Result<Plan, IngestError> {
    let find = |column: &str| header.iter().position(|h| h == column);
    let missing = |role: &str, column: &str| {
        IngestError::MissingColumn(Box::new(super::MissingColumn {
            source_name: source.name.clone(),
            path: source.resolved.clone(),
            role: role.to_string(),
            column: column.to_string(),
            available: header.to_vec(),
            nearest: nearest(column, header.iter().map(String::as_str)).map(String::from),
        }))
    };
    let wide: Vec<(String, usize)> =
        if source.kind == SourceKind::CityStats && find(source.column_for("variable")).is_none() {
            source
                .variables
                .keys()
                .filter_map(|code| find(code).map(|i| (code.clone(), i)))
                .collect()
        } else {
            Vec::new()
        };
    let mut p = Plan {
        roles: Vec::new(),
        columns: Vec::new(),
        indices: Vec::new(),
        wide,
    };
    // Microdata needs equivalised income, or household income and what it takes to
    // equivalise it (household and ages).
    if source.kind == SourceKind::Microdata && find(source.column_for("income")).is_none() {
        if find(source.column_for("household_income")).is_none()
            || source.columns.contains_key("income")
        {
            return Err(missing("income", source.column_for("income")));
        }
        for role in ["household", "age"] {
            if find(source.column_for(role)).is_none() {
                return Err(missing(role, source.column_for(role)));
            }
        }
    }
    for role in source.kind.all_roles() {
        let column = source.column_for(role);
        match find(column) {
            Some(i) => {
                p.roles.push(role.to_string());
                p.columns.push(column.to_string());
                p.indices.push(i);
            }
            None => {
                let required = source.kind.required_roles().contains(&role);
                let from_constant = role == "period" && source.period.is_some();
                let from_wide = !p.wide.is_empty() && (role == "variable" || role == "value");
                let mapped = source.columns.contains_key(role);
                if (required && !from_constant && !from_wide) || mapped {
                    return Err(missing(role, column));
                }
            }
        }
    }
    // A multi-dimensional table's other columns ride along as pseudo-roles, for
    // `slices::apply` to filter on and to tell slices apart; it drops them again.
    for (dim, value) in &source.filter {
        match find(dim) {
            Some(i) => p.push(&format!("{}{dim}", slices::FILTER), dim, i),
            None => return Err(slices::no_dimension(source, dim, value, header)),
        }
    }
    if source.format == Format::SdmxCsv && source.kind == SourceKind::CityStats {
        for (i, h) in header.iter().enumerate() {
            let used = p.indices.contains(&i) || source.filter.contains_key(h);
            if !used && !slices::SDMX_ATTRIBUTES.contains(&h.as_str()) {
                p.push(&format!("{}{h}", slices::DIMENSION), h, i);
            }
        }
    }
    Ok(p)
}

impl Plan {
    fn push(&mut self, role: &str, column: &str, index: usize) {
        self.roles.push(role.to_string());
        self.columns.push(column.to_string());
        self.indices.push(index);
    }
}

/// Builds a [`RawTable`] row by row from a header and each row's fields in header order.
/// Fields may be fewer than the header's (a short row); such rows are marked ragged and
/// rejected by the contract.
pub struct Assembler {
    plan: Plan,
    header_len: usize,
    table: RawTable,
    /// The roles' cells, moved into the table when it is finished.
    cells: Vec<Store>,
    /// The rows the caller expects, to size buffers after the first [`SAMPLE`] rows.
    expected: usize,
    sized: bool,
}

const SAMPLE: usize = 1024;

impl Assembler {
    pub fn new(source: &Source, header: &[String]) -> Result<Assembler, IngestError> {
        let plan = plan(source, header)?;
        let mut roles = plan.roles.clone();
        let mut columns = plan.columns.clone();
        if !plan.wide.is_empty() {
            roles.extend(["variable".to_string(), "value".to_string()]);
            columns.extend(["(column name)".to_string(), "(variable column)".to_string()]);
        }
        let arrow = typed_as_read(source) && plan.wide.is_empty();
        let cells = roles
            .iter()
            .map(|role| Store::new(source, role, arrow))
            .collect();
        // The hash is filled in by `ingest::parse` from the one it already has.
        let table = RawTable {
            roles,
            columns,
            header_len: header.len(),
            ..RawTable::default()
        };
        Ok(Assembler {
            plan,
            header_len: header.len(),
            table,
            cells,
            expected: 0,
            sized: false,
        })
    }

    /// Room for about `rows` rows, so that the buffers of large files do not regrow (and get
    /// copied) again and again. The text buffers are sized once the first rows show how long
    /// each role's cells are.
    pub fn reserve(&mut self, rows: usize) {
        self.expected = rows;
        for c in &mut self.cells {
            c.reserve(rows, 0);
        }
    }

    /// A row of `len` fields starting on `line`; `field(i)` is its i-th field, text or (from
    /// a JSON file) a number.
    pub fn push<'a, C: Cell<'a>>(&mut self, line: u64, len: usize, field: impl Fn(usize) -> C) {
        let (t, cells) = (&mut self.table, &mut self.cells);
        if !self.sized && t.lines.len() >= SAMPLE {
            self.sized = true;
            for c in cells.iter_mut() {
                // A tenth more than the sample's average, for rows longer than those at the top.
                let per_row = c.bytes() as f64 / SAMPLE as f64 * 1.1;
                c.reserve(
                    0,
                    (per_row * self.expected.saturating_sub(SAMPLE) as f64) as usize,
                );
            }
        }
        if len != self.header_len {
            t.ragged.push((line, len));
        }
        let at = |i: usize| if i < len { field(i) } else { C::none() };
        if self.plan.wide.is_empty() {
            for (cells, &i) in cells.iter_mut().zip(&self.plan.indices) {
                at(i).store(cells);
            }
            t.lines.push(line);
        } else {
            let n = self.plan.indices.len();
            for (code, i) in &self.plan.wide {
                for (cells, &j) in cells.iter_mut().zip(&self.plan.indices) {
                    at(j).store(cells);
                }
                cells[n].push(Some(code));
                at(*i).store(&mut cells[n + 1]);
                t.lines.push(line);
            }
        }
    }

    pub fn finish(mut self, bytes: u64) -> RawTable {
        self.table.bytes = bytes;
        let roles = &self.table.roles;
        self.table.cells = self
            .cells
            .into_iter()
            .zip(roles)
            .map(|(c, role)| c.finish(role))
            .collect();
        self.table
    }
}

/// Whether a source's cells are read into columns (Arrow text, and numbers typed as they are
/// read) rather than text buffers: for the kinds whose contract runs over columns (microdata,
/// projects, procurement), which keeps a text column as it is read wherever nothing in it needs trimming,
/// instead of copying every cell again, and parses a number once.
/// A multi-dimensional table's filter reads its cells one by one, from text buffers.
fn typed_as_read(source: &Source) -> bool {
    let columnar = matches!(
        source.kind,
        SourceKind::Microdata | SourceKind::Projects | SourceKind::Procurement
    );
    columnar && source.filter.is_empty()
}

/// Whether the contract keeps a role as text, so that its Arrow text can be kept as read.
fn kept_as_text(kind: SourceKind, role: &str) -> bool {
    crate::contracts::role_dtype(kind, role) == polars::prelude::DataType::String
}

/// A cell as a reader hands it over: text, or a number as a JSON file writes one.
pub trait Cell<'a>: Copy {
    /// A field the row does not have.
    fn none() -> Self;
    /// Pushes the cell onto its role's cells.
    fn store(self, cells: &mut Store);
}

impl<'a> Cell<'a> for Option<&'a str> {
    fn none() -> Self {
        None
    }
    fn store(self, cells: &mut Store) {
        cells.push(self);
    }
}

/// A JSON file's cell: a string, a number, or anything else as its JSON text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    Text(&'a str),
    Number(Number),
}

impl<'a> Cell<'a> for Option<Field<'a>> {
    fn none() -> Self {
        None
    }
    fn store(self, cells: &mut Store) {
        match self {
            None => cells.push(None),
            Some(Field::Text(s)) => cells.push(Some(s)),
            Some(Field::Number(n)) => cells.push_number(n),
        }
    }
}

/// A JSON number as serde_json reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Uint(u64),
    /// Finite: JSON has no NaN or infinity.
    Float(f64),
}

impl Number {
    /// The number as the contract reads its text: the nearest float64, as `as` converts an
    /// integer and as parsing the decimal text gives it.
    pub fn value(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Uint(u) => u as f64,
            Number::Float(x) => x,
        }
    }

    /// `f` of the number's text as `serde_json::Value` writes it (integers in digits, floats
    /// as their shortest round-trip text: `1000.0`, `1e+20`), written by serde_json itself
    /// into a buffer on the stack.
    pub fn with_text<R>(self, f: impl FnOnce(&str) -> R) -> R {
        // The longest is 24 bytes: `-1.7976931348623157e+308`.
        let mut buf = [0u8; 32];
        let left = {
            let mut w: &mut [u8] = &mut buf;
            let written = match self {
                Number::Int(i) => serde_json::to_writer(&mut w, &i),
                Number::Uint(u) => serde_json::to_writer(&mut w, &u),
                Number::Float(x) => serde_json::to_writer(&mut w, &x),
            };
            debug_assert!(written.is_ok());
            w.len()
        };
        f(std::str::from_utf8(&buf[..buf.len() - left]).unwrap_or_default())
    }
}

/// One role's cells as they are read.
pub(super) enum Store {
    Texts(Texts),
    Arrow(Arrow),
    Numbers(Numbers),
}

/// A text role's cells in Arrow text, and whether each so far is one the contract keeps as
/// written: looked at while the cell is at hand, where the contract would read the whole
/// column again (0.27 s of the 1 GB projects file's contract).
pub(super) struct Arrow {
    array: MutableBinaryViewArray<str>,
    written: Option<AsWritten>,
    all_written: bool,
}

impl Arrow {
    fn push(&mut self, cell: Option<&str>) {
        if self.all_written {
            let holds = |s: &str| self.written.is_some_and(|w| w.holds(s));
            self.all_written = cell.is_none_or(holds);
        }
        self.array.push(cell);
    }
}

impl Store {
    /// Where the contract runs over columns (`arrow`), a number role is typed as it is read
    /// and a text role goes into Arrow text; anything else into text buffers.
    fn new(source: &Source, role: &str, arrow: bool) -> Store {
        let numbers = PlainNumbers::of(source.kind, role, source.decimal_comma);
        match numbers {
            Some(rule) if arrow => Store::Numbers(Numbers::new(rule)),
            _ if arrow && kept_as_text(source.kind, role) => Store::Arrow(Arrow {
                array: MutableBinaryViewArray::new(),
                written: AsWritten::of(source.kind, role),
                all_written: true,
            }),
            _ => Store::Texts(Texts::default()),
        }
    }

    fn push(&mut self, cell: Option<&str>) {
        match self {
            Store::Texts(t) => t.push(cell),
            Store::Arrow(a) => a.push(cell),
            Store::Numbers(n) => n.push(cell),
        }
    }

    /// A number typed as it was read: a number role takes it as it is, where the contract
    /// keeps it; text takes the number's text.
    fn push_number(&mut self, n: Number) {
        match self {
            Store::Numbers(numbers) => numbers.push_number(n),
            _ => n.with_text(|s| self.push(Some(s))),
        }
    }

    fn reserve(&mut self, cells: usize, bytes: usize) {
        match self {
            Store::Texts(t) => t.reserve(cells, bytes),
            Store::Arrow(a) => a.array.reserve(cells),
            Store::Numbers(n) => n.reserve(cells),
        }
    }

    /// The text held so far in text buffers, to size them; an Arrow array's buffers grow in
    /// blocks and need no estimate.
    fn bytes(&self) -> usize {
        match self {
            Store::Texts(t) => t.bytes(),
            Store::Arrow(_) | Store::Numbers(_) => 0,
        }
    }

    fn finish(self, role: &str) -> RawColumn {
        match self {
            Store::Texts(t) => RawColumn::Text(t),
            Store::Numbers(n) => RawColumn::Numbers(n),
            Store::Arrow(a) => {
                let ca = StringChunked::with_chunk(role.into(), a.array.freeze()).into_series();
                match a.all_written {
                    true => RawColumn::Written(ca),
                    false => RawColumn::Typed(ca),
                }
            }
        }
    }
}

/// Rows as owned fields (JSON records, Parquet columns): (line or record number, fields in
/// header order).
pub fn assemble(
    source: &Source,
    header: &[String],
    rows: impl Iterator<Item = Result<(u64, Vec<Option<String>>), IngestError>>,
    bytes: u64,
) -> Result<RawTable, IngestError> {
    let mut a = Assembler::new(source, header)?;
    for row in rows {
        let (line, fields) = row?;
        a.push(line, fields.len(), |i| fields[i].as_deref());
    }
    Ok(a.finish(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A number's text is the one `serde_json::Value` writes, worked out by hand, and its value
    /// is the number that text reads back as: the contract gets the same number, and a reject
    /// quotes the same text, whether a cell came as a number or as its text.
    #[test]
    fn a_number_reads_and_writes_as_json_text_does() {
        let cases = [
            ("1e3", Number::Float(1e3), "1000.0"),
            ("2.50", Number::Float(2.5), "2.5"),
            ("1e20", Number::Float(1e20), "1e+20"),
            (
                "-1.7976931348623157e308",
                Number::Float(f64::MIN),
                "-1.7976931348623157e+308",
            ),
            ("0.1", Number::Float(0.1), "0.1"),
            ("1.5e-7", Number::Float(1.5e-7), "1.5e-7"),
            ("-7", Number::Int(-7), "-7"),
            ("12", Number::Uint(12), "12"),
            (
                "12345678901234567890",
                Number::Uint(12345678901234567890),
                "12345678901234567890",
            ),
            (
                "-9223372036854775808",
                Number::Int(i64::MIN),
                "-9223372036854775808",
            ),
        ];
        for (json, number, text) in cases {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(value.to_string(), text, "{json}");
            assert_eq!(number.with_text(|s| s.to_string()), text, "{json}");
            let read: f64 = text.parse().unwrap();
            assert_eq!(number.value().to_bits(), read.to_bits(), "{json}");
        }
    }
}

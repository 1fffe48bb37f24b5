//! Reading a role's cells, whatever file they come from: text cells as a text file gives them
//! (in text buffers, or in Arrow text and numbers typed as read for the kinds whose contract
//! runs over columns), or a typed file's column prepared once (numbers as float64, the rest as
//! Arrow text) and read row after row. A typed cell becomes text only for a reject's message.

use std::borrow::Cow;

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray, Utf8ViewArray};

use super::rules::{check_number, check_with, Rule, Value};
use crate::ingest::{Cells, Numbers, RawColumn, Texts};

/// A role's column as the contract reads it, prepared once per source: text cells as read from
/// a text file, or a typed file's column as numbers (for a number's rule) or text (for any
/// other rule). Numbers are in one chunk, so that a row is found by its index; text stays in
/// its chunks.
pub enum Prepared<'a> {
    Text(&'a Texts),
    Parsed(&'a Numbers),
    Number(Float64Chunked),
    Str(StringChunked),
}

pub fn prepare(rule: Rule, column: &RawColumn) -> PolarsResult<Prepared<'_>> {
    let s = match column {
        RawColumn::Text(t) => return Ok(Prepared::Text(t)),
        RawColumn::Numbers(n) => return Ok(Prepared::Parsed(n)),
        RawColumn::Typed(s) => s,
    };
    let numeric = s.dtype().is_primitive_numeric();
    Ok(match rule {
        Rule::Number { .. } if s.dtype() == &DataType::Float32 => {
            // A float32 holds 0.1 as 0.100000001490116…: read it as the shortest decimal that
            // gives back the same float32, the number its writer meant.
            let mut text = String::new();
            let f = s.f32()?;
            let ca: Float64Chunked = f
                .iter()
                .map(|v| {
                    v.map(|v| {
                        use std::fmt::Write;
                        text.clear();
                        let _ = write!(text, "{v}");
                        text.parse::<f64>().unwrap_or(v as f64)
                    })
                })
                .collect();
            Prepared::Number(ca.with_name(s.name().clone()))
        }
        Rule::Number { .. } if numeric => {
            Prepared::Number(s.cast(&DataType::Float64)?.f64()?.rechunk().into_owned())
        }
        // Text stays in the chunks it was read in: a row is found by walking them in order.
        _ => Prepared::Str(s.cast(&DataType::String)?.str()?.clone()),
    })
}

/// A column's cells as text, from a text file's buffers or an Arrow text column (a CSV's
/// microdata or projects, or a typed file's text).
#[derive(Clone, Copy)]
pub enum TextColumn<'a> {
    Texts(&'a Texts),
    Str(&'a StringChunked),
}

impl<'a> TextColumn<'a> {
    pub fn len(&self) -> usize {
        match self {
            TextColumn::Texts(t) => t.len(),
            TextColumn::Str(ca) => ca.len(),
        }
    }

    /// The cells from row `i` on, in order.
    pub fn iter_from(&self, i: usize) -> TextCells<'a> {
        match self {
            TextColumn::Texts(t) => TextCells::Texts(t.iter_from(i)),
            TextColumn::Str(ca) => TextCells::Str(StrCells::new(ca, i)),
        }
    }
}

/// The cells of a [`TextColumn`], row after row.
pub enum TextCells<'a> {
    Texts(Cells<'a>),
    Str(StrCells<'a>),
}

impl<'a> Iterator for TextCells<'a> {
    type Item = Option<&'a str>;

    fn next(&mut self) -> Option<Option<&'a str>> {
        match self {
            TextCells::Texts(c) => c.next(),
            TextCells::Str(c) => c.next(),
        }
    }
}

/// An Arrow text column's cells from a row on, chunk after chunk.
pub struct StrCells<'a> {
    arrays: Vec<&'a Utf8ViewArray>,
    chunk: usize,
    cell: usize,
}

impl<'a> StrCells<'a> {
    fn new(ca: &'a StringChunked, mut from: usize) -> StrCells<'a> {
        let arrays: Vec<&Utf8ViewArray> = ca.downcast_iter().collect();
        let mut chunk = 0;
        while chunk < arrays.len() && from >= arrays[chunk].len() {
            from -= arrays[chunk].len();
            chunk += 1;
        }
        StrCells {
            arrays,
            chunk,
            cell: from,
        }
    }
}

impl<'a> Iterator for StrCells<'a> {
    type Item = Option<&'a str>;

    fn next(&mut self) -> Option<Option<&'a str>> {
        loop {
            let a = self.arrays.get(self.chunk)?;
            if self.cell < a.len() {
                let v = a.get(self.cell);
                self.cell += 1;
                return Some(v);
            }
            self.chunk += 1;
            self.cell = 0;
        }
    }
}

/// One cell, as its file gave it.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Text(Option<&'a str>),
    Number(Option<f64>),
}

impl<'a> Cell<'a> {
    /// The cell as text, for a reject's `value` and for messages.
    pub fn text(&self) -> Option<Cow<'a, str>> {
        match self {
            Cell::Text(t) => t.map(Cow::Borrowed),
            Cell::Number(x) => x.map(|x| Cow::Owned(x.to_string())),
        }
    }

    pub fn check(&self, rule: Rule, decimal_comma: bool) -> Result<Option<Value<'a>>, String> {
        match (self, rule) {
            (Cell::Text(t), _) => check_with(rule, t.unwrap_or(""), decimal_comma),
            (Cell::Number(None), _) => Ok(None),
            (Cell::Number(Some(x)), Rule::Number { min, above, max }) => {
                check_number((min, above, max), *x, x).map(Some)
            }
            // Numbers are prepared only for number rules (see `prepare`).
            (Cell::Number(Some(x)), _) => {
                let text = x.to_string();
                Ok(check_with(rule, &text, false)?.map(|v| match v {
                    Value::Text(t) => Value::Text(Cow::Owned(t.into_owned())),
                    Value::Number(x) => Value::Number(x),
                    Value::Int(x) => Value::Int(x),
                    Value::Bool(x) => Value::Bool(x),
                }))
            }
        }
    }
}

/// Reads one role's cells row after row.
pub enum Cursor<'a> {
    Text(TextCells<'a>),
    Number(&'a PrimitiveArray<f64>, usize),
    /// A text file's numbers typed as read: the row, and the cells kept as text from it on.
    Parsed(&'a Numbers, usize, OddCells<'a>),
}

/// The rows of a [`Numbers`] whose cells are kept as text, with their cells.
type OddCells<'a> = std::iter::Peekable<std::iter::Zip<std::slice::Iter<'a, usize>, Cells<'a>>>;

impl<'a> Cursor<'a> {
    pub fn new(prepared: &'a Prepared<'a>, from: usize) -> Cursor<'a> {
        match prepared {
            Prepared::Text(t) => Cursor::Text(TextColumn::Texts(t).iter_from(from)),
            Prepared::Parsed(n) => {
                let k = n.odd_rows().partition_point(|&r| r < from);
                let odd = n.odd_rows()[k..].iter().zip(n.odd_from(k)).peekable();
                Cursor::Parsed(n, from, odd)
            }
            Prepared::Number(ca) => Cursor::Number(ca.downcast_as_array(), from),
            Prepared::Str(ca) => Cursor::Text(TextColumn::Str(ca).iter_from(from)),
        }
    }

    pub fn next(&mut self) -> Cell<'a> {
        match self {
            Cursor::Text(c) => Cell::Text(c.next().flatten()),
            Cursor::Number(a, i) => {
                let v = (*i < a.len() && a.is_valid(*i)).then(|| a.value(*i));
                *i += 1;
                Cell::Number(v)
            }
            Cursor::Parsed(n, i, odd) => {
                let row = *i;
                *i += 1;
                match odd.next_if(|(&r, _)| r == row) {
                    Some((_, cell)) => Cell::Text(cell),
                    None => Cell::Number(n.value(row)),
                }
            }
        }
    }
}

//! Reading a role's cells, whatever file they come from: text cells as a text file gives them
//! (in text buffers, or in Arrow text and numbers typed as read for the kinds whose contract
//! runs over columns), or a typed file's column prepared once (numbers as float64, the rest as
//! Arrow text) and read row after row. A typed cell becomes text only for a reject's message.

use std::borrow::Cow;

use num_traits::AsPrimitive;
use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray, Utf8ViewArray};
use polars_arrow::bitmap::MutableBitmap;
use rayon::prelude::*;

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
        RawColumn::Typed(s) | RawColumn::Written(s) => s,
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
        Rule::Number { .. } if numeric => Prepared::Number(float64_in_one_piece(s)?),
        // Text stays in the chunks it was read in: a row is found by walking them in order.
        _ => Prepared::Str(s.cast(&DataType::String)?.str()?.clone()),
    })
}

/// A numeric column as float64 in one piece, as the families read it. Each chunk is converted
/// straight into its place, in runs side by side: one pass over fresh memory where a cast and
/// then a copy into one piece took two (an int16 age column of 10 M rows: 85 -> 22 ms).
fn float64_in_one_piece(s: &Series) -> PolarsResult<Float64Chunked> {
    if s.n_chunks() == 1 && s.dtype() == &DataType::Float64 {
        return Ok(s.f64()?.clone());
    }
    Ok(match s.dtype() {
        DataType::Float64 => one_piece(s.f64()?),
        DataType::Int8 => one_piece(s.i8()?),
        DataType::Int16 => one_piece(s.i16()?),
        DataType::Int32 => one_piece(s.i32()?),
        DataType::Int64 => one_piece(s.i64()?),
        DataType::UInt8 => one_piece(s.u8()?),
        DataType::UInt16 => one_piece(s.u16()?),
        DataType::UInt32 => one_piece(s.u32()?),
        DataType::UInt64 => one_piece(s.u64()?),
        _ => s.cast(&DataType::Float64)?.f64()?.rechunk().into_owned(),
    }
    .with_name(s.name().clone()))
}

/// Rows converted side by side in runs of this many.
const RUN: usize = 1 << 18;

/// Pieces of `len` values in all as one float64 vector, each value converted by `convert`,
/// in runs side by side (a typed file's chunks, a text file's numbers read in pieces).
pub(super) fn joined<'a, T: Copy + Sync + 'a>(
    len: usize,
    pieces: impl Iterator<Item = &'a [T]>,
    convert: impl Fn(T) -> f64 + Sync,
) -> Vec<f64> {
    let mut values = vec![0.0; len];
    let mut rest = values.as_mut_slice();
    let mut runs = Vec::new();
    for piece in pieces {
        let (to, after) = std::mem::take(&mut rest).split_at_mut(piece.len());
        rest = after;
        runs.extend(to.chunks_mut(RUN).zip(piece.chunks(RUN)));
    }
    runs.into_par_iter()
        .for_each(|(to, from)| to.iter_mut().zip(from).for_each(|(t, f)| *t = convert(*f)));
    values
}

/// [`float64_in_one_piece`] for one numeric type; a value converts as `as` (and polars' cast)
/// converts it.
fn one_piece<T>(ca: &ChunkedArray<T>) -> Float64Chunked
where
    T: PolarsNumericType,
    T::Native: AsPrimitive<f64>,
{
    let pieces = ca.downcast_iter().map(|a| a.values().as_slice());
    let values = joined(ca.len(), pieces, |x| x.as_());
    let validity = (ca.null_count() > 0).then(|| {
        let mut bits = MutableBitmap::with_capacity(ca.len());
        for a in ca.downcast_iter() {
            match a.validity() {
                Some(v) => bits.extend_from_bitmap(v),
                None => bits.extend_constant(a.len(), true),
            }
        }
        bits.into()
    });
    Float64Chunked::from_vec_validity(PlSmallStr::EMPTY, values, validity)
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

/// A typed column being filled with the kept rows.
pub(super) enum Builder {
    Number(PrimitiveChunkedBuilder<Float64Type>),
    Int(PrimitiveChunkedBuilder<Int32Type>),
    Bool(BooleanChunkedBuilder),
    Text(StringChunkedBuilder),
}

impl Builder {
    pub(super) fn new(name: &str, rule: Rule, capacity: usize) -> Builder {
        let name = PlSmallStr::from(name);
        match rule {
            Rule::Number { .. } => Builder::Number(PrimitiveChunkedBuilder::new(name, capacity)),
            Rule::Year | Rule::Scope => Builder::Int(PrimitiveChunkedBuilder::new(name, capacity)),
            Rule::Bool => Builder::Bool(BooleanChunkedBuilder::new(name, capacity)),
            _ => Builder::Text(StringChunkedBuilder::new(name, capacity)),
        }
    }

    /// A cell of the rule's type, or a missing one (`None`, or a value of another type).
    pub(super) fn push(&mut self, v: Option<&Value>) {
        match self {
            Builder::Number(b) => b.append_option(match v {
                Some(Value::Number(x)) => Some(*x),
                _ => None,
            }),
            Builder::Int(b) => b.append_option(match v {
                Some(Value::Int(x)) => Some(*x),
                _ => None,
            }),
            Builder::Bool(b) => b.append_option(match v {
                Some(Value::Bool(x)) => Some(*x),
                _ => None,
            }),
            Builder::Text(b) => b.append_option(match v {
                Some(Value::Text(x)) => Some(x.as_ref()),
                _ => None,
            }),
        }
    }

    pub(super) fn finish(self) -> Series {
        match self {
            Builder::Number(b) => b.finish().into_series(),
            Builder::Int(b) => b.finish().into_series(),
            Builder::Bool(b) => b.finish().into_series(),
            Builder::Text(b) => b.finish().into_series(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every numeric type, in several chunks (one longer than a run) with missing values,
    /// comes out as polars' own cast to float64 gives it, in one piece.
    #[test]
    fn numbers_in_one_piece_are_polars_cast() {
        let long: Vec<Option<i64>> = (0..RUN as i64 + 5)
            .map(|i| (i % 1000 != 7).then_some(i * 7919 - 40_000))
            .collect();
        let mut s = Series::new("x".into(), &[Some(i64::MAX), None, Some(-3)]);
        s.append(&Series::new("x".into(), &long)).unwrap();
        s.append(&Series::new("x".into(), &[Some(1i64 << 53 | 1)]))
            .unwrap();
        assert_eq!(s.n_chunks(), 3);
        let types = [
            DataType::Int8,
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
            DataType::UInt8,
            DataType::UInt16,
            DataType::UInt32,
            DataType::UInt64,
            DataType::Float64,
        ];
        for dtype in types {
            // Values a narrower type cannot hold are missing after its cast, in both readings.
            let typed = s.cast(&dtype).unwrap();
            assert_eq!(typed.n_chunks(), 3, "{dtype}");
            let ours = float64_in_one_piece(&typed).unwrap();
            let theirs = typed.cast(&DataType::Float64).unwrap();
            assert_eq!(ours.chunks().len(), 1, "{dtype}");
            assert!(ours.into_series().equals_missing(&theirs), "{dtype}");
        }
        // By hand: 2^53 + 1 rounds to 2^53 as `as` rounds it; i64::MAX to 2^63.
        let ours = float64_in_one_piece(&s).unwrap();
        assert_eq!(ours.get(0), Some(9_223_372_036_854_775_808.0));
        assert_eq!(ours.get(1), None);
        assert_eq!(ours.get(s.len() - 1), Some(9_007_199_254_740_992.0));
    }
}

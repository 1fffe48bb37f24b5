//! Reading a role's cells, whatever file they come from: text cells as a text file gives them,
//! or a typed file's column prepared once (numbers as float64, the rest as Arrow text) and read
//! by index. A typed cell becomes text only for a reject's message.

use std::borrow::Cow;

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray, Utf8ViewArray};

use super::rules::{check_number, check_with, Rule, Value};
use crate::ingest::{Cells, RawColumn, Texts};

/// A role's column as the contract reads it, prepared once per source: text cells as read from
/// a text file, or a typed file's column as numbers (for a number's rule) or text (for any
/// other rule), in one chunk so that a row is found by its index.
pub enum Prepared<'a> {
    Text(&'a Texts),
    Number(Float64Chunked),
    Str(StringChunked),
}

pub fn prepare(rule: Rule, column: &RawColumn) -> PolarsResult<Prepared<'_>> {
    let s = match column {
        RawColumn::Text(t) => return Ok(Prepared::Text(t)),
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
        _ => Prepared::Str(s.cast(&DataType::String)?.str()?.rechunk().into_owned()),
    })
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
    Text(Cells<'a>),
    Number(&'a PrimitiveArray<f64>, usize),
    Str(&'a Utf8ViewArray, usize),
}

impl<'a> Cursor<'a> {
    pub fn new(prepared: &'a Prepared<'a>, from: usize) -> Cursor<'a> {
        match prepared {
            Prepared::Text(t) => Cursor::Text(t.iter_from(from)),
            Prepared::Number(ca) => Cursor::Number(ca.downcast_as_array(), from),
            Prepared::Str(ca) => Cursor::Str(ca.downcast_as_array(), from),
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
            Cursor::Str(a, i) => {
                let v = (*i < a.len() && a.is_valid(*i)).then(|| a.value(*i));
                *i += 1;
                Cell::Text(v)
            }
        }
    }
}

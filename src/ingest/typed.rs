//! Typed columnar files, Parquet and Arrow IPC (Feather v2, compressed or not): only the columns
//! the source's roles need are read (projection), in their own types. Numbers stay numbers and
//! text stays in Arrow's buffers until the contract checks them. The types writers use are
//! brought to the few the contract reads (see [`normalise`]): every integer width signed and
//! unsigned, float32/64, decimal, dictionary (categorical), string, large_string, string_view,
//! date, timestamp with or without zone, and nested values as JSON text. An error names the
//! file and the column, never a line: these files have none.

use std::collections::BTreeSet;
use std::io::Cursor;

use chrono::TimeZone as _;
use polars::prelude::*;

use super::{records, IngestError, Lines, RawColumn, RawTable};
use crate::config::Source;

/// The container a typed file comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Parquet,
    /// The Arrow IPC file format (Feather v2).
    ArrowIpc,
}

impl Container {
    pub fn name(self) -> &'static str {
        match self {
            Container::Parquet => "Parquet",
            Container::ArrowIpc => "Arrow IPC",
        }
    }

    /// The file's columns, with their Arrow types.
    fn header(self, bytes: &[u8]) -> PolarsResult<Vec<(String, ArrowDataType)>> {
        let schema = match self {
            Container::Parquet => ParquetReader::new(Cursor::new(bytes)).schema()?,
            Container::ArrowIpc => IpcReader::new(Cursor::new(bytes)).schema()?,
        };
        Ok(schema
            .iter()
            .map(|(n, f)| (n.to_string(), f.dtype().clone()))
            .collect())
    }

    fn read(self, bytes: &[u8], columns: Vec<String>) -> PolarsResult<DataFrame> {
        match self {
            Container::Parquet => ParquetReader::new(Cursor::new(bytes))
                .with_columns(Some(columns))
                .finish(),
            Container::ArrowIpc => IpcReader::new(Cursor::new(bytes))
                .with_columns(Some(columns))
                .finish(),
        }
    }
}

/// Reads the columns a source's roles need from a Parquet or Arrow IPC file.
pub fn read(source: &Source, bytes: &[u8], container: Container) -> Result<RawTable, IngestError> {
    let error_in = |column: Option<&str>, message: String| IngestError::Typed {
        source_name: source.name.clone(),
        path: source.resolved.clone(),
        format: container.name(),
        column: column.map(String::from),
        message,
    };
    let typed = guarded(|| container.header(bytes), "its footer cannot be decoded")
        .map_err(|e| error_in(None, e.to_string()))?;
    let header: Vec<String> = typed.iter().map(|(n, _)| n.clone()).collect();
    // Only the columns some role (or a wide variable code) reads.
    let wanted: BTreeSet<String> = source
        .kind
        .all_roles()
        .map(|r| source.column_for(r).to_string())
        .chain(source.variables.keys().cloned())
        .filter(|c| header.contains(c))
        .collect();
    let projected: Vec<String> = header
        .iter()
        .filter(|h| wanted.contains(*h))
        .cloned()
        .collect();
    const UNDECODABLE: &str = "the reader stopped on a value it cannot decode";
    let df = guarded(|| container.read(bytes, projected.clone()), UNDECODABLE).map_err(|e| {
        // Which column: the first that does not read on its own.
        let bad = projected
            .iter()
            .find(|c| guarded(|| container.read(bytes, vec![(*c).clone()]), UNDECODABLE).is_err());
        let view = bad.is_some_and(|c| {
            typed.iter().any(|(n, t)| {
                n == c && matches!(t, ArrowDataType::Utf8View | ArrowDataType::BinaryView)
            })
        });
        let message = match (view, container) {
            // polars 0.55's IPC reader fails on the empty buffers of compressed view columns.
            (true, Container::ArrowIpc) => format!(
                "{e}: a string_view column in a compressed Arrow file; write the column as string (pyarrow: table.cast), or the file uncompressed (compression=\"uncompressed\")"
            ),
            _ => e.to_string(),
        };
        error_in(bad.map(String::as_str), message)
    })?;
    let plan = records::plan(source, &header)?;
    if !plan.wide.is_empty() {
        return wide(
            source,
            &header,
            &projected,
            &df,
            bytes.len() as u64,
            &error_in,
        );
    }
    let mut cells = Vec::with_capacity(plan.roles.len());
    for column in &plan.columns {
        let s = df
            .column(column)
            .map_err(|e| error_in(Some(column), e.to_string()))?
            .as_materialized_series()
            .clone();
        cells.push(RawColumn::Typed(
            normalise(s).map_err(|e| error_in(Some(column), e))?,
        ));
    }
    let n = df.height();
    Ok(RawTable {
        roles: plan.roles.clone(),
        cells,
        // A row's "line" is its number in the file, from 1.
        lines: Lines::numbered(n),
        columns: plan.columns.clone(),
        header_len: header.len(),
        bytes: bytes.len() as u64,
        ..RawTable::default()
    })
}

thread_local! {
    /// Set while a reader runs under [`guarded`]: its panics are reported as errors, not printed.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a reader so that a panic inside it (a damaged file can trip an assertion deep in a
/// reader) becomes an error naming what failed: it is still the file's fault, and is reported
/// as such rather than as a crash. The panic hook stays silent for these panics only.
fn guarded<T>(f: impl FnOnce() -> PolarsResult<T>, what: &str) -> PolarsResult<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(|g| g.get()) {
                previous(info)
            }
        }));
    });
    let was = GUARDED.with(|g| g.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result.unwrap_or_else(|_| Err(PolarsError::ComputeError(what.to_string().into())))
}

/// A column in one of the types the contract reads: numbers (any width), text, booleans,
/// dates and naive timestamps. Decimals become float64; dictionaries their text; zoned
/// timestamps the wall-clock time in their zone (a grant ending at midnight in Vienna ends
/// on that day, not the day before in UTC); nested values (lists, arrays, structs) JSON text;
/// binary its text where that is UTF-8; a column of Arrow's null type an empty text column.
pub fn normalise(s: Series) -> Result<Series, String> {
    let name = s.name().clone();
    let fail = |e: PolarsError| format!("holds {} and cannot be read ({e})", s.dtype());
    let out = match s.dtype() {
        DataType::Decimal(_, scale) => decimal_as_f64(&s, *scale).map_err(fail)?,
        DataType::Datetime(unit, Some(zone)) => local_time(&s, *unit, zone).map_err(fail)?,
        DataType::Categorical(..) | DataType::Enum(..) | DataType::Time => {
            s.cast(&DataType::String).map_err(fail)?
        }
        DataType::List(_) | DataType::Array(..) | DataType::Struct(_) => {
            json_text(&s).map_err(fail)?
        }
        DataType::Binary | DataType::BinaryOffset => s.cast(&DataType::String).map_err(|_| {
            "holds binary values that are not UTF-8 text; write it as a string column".to_string()
        })?,
        DataType::Null => Series::full_null(name.clone(), s.len(), &DataType::String),
        t if t.is_primitive_numeric()
            || matches!(
                t,
                DataType::String | DataType::Boolean | DataType::Date | DataType::Datetime(..)
            ) =>
        {
            s
        }
        other => {
            return Err(format!(
                "holds {other}, which has no single value per row; write it as numbers or text"
            ))
        }
    };
    Ok(out.with_name(name))
}

/// A decimal's values as float64: the integer over 10^scale, one correctly rounded division
/// (exact for the amounts publishers write, under 2^53 in the last unit), so `1000.10` is the
/// float64 a CSV's `1000.10` parses to.
fn decimal_as_f64(s: &Series, scale: usize) -> PolarsResult<Series> {
    let ca = s.decimal()?;
    let unit = 10f64.powi(scale as i32);
    let out: Float64Chunked = ca
        .physical()
        .iter()
        .map(|v| v.map(|v| v as f64 / unit))
        .collect();
    Ok(out.into_series())
}

/// Zoned timestamps as the wall-clock time in their zone, without the zone.
fn local_time(s: &Series, unit: TimeUnit, zone: &TimeZone) -> PolarsResult<Series> {
    let tz = zone.to_chrono()?;
    let per_second: i64 = match unit {
        TimeUnit::Nanoseconds => 1_000_000_000,
        TimeUnit::Microseconds => 1_000_000,
        TimeUnit::Milliseconds => 1_000,
    };
    let ca = s.datetime()?;
    let local: Int64Chunked = ca
        .physical()
        .iter()
        .map(|v| {
            let v = v?;
            let (secs, sub) = (v.div_euclid(per_second), v.rem_euclid(per_second));
            let utc = chrono::DateTime::from_timestamp(secs, 0)?.naive_utc();
            let wall = tz.from_utc_datetime(&utc).naive_local();
            Some(wall.and_utc().timestamp() * per_second + sub)
        })
        .collect();
    Ok(local.into_datetime(unit, None).into_series())
}

/// Nested values as compact JSON text, one document per row; a missing value stays missing.
fn json_text(s: &Series) -> PolarsResult<Series> {
    let mut out: Vec<Option<String>> = Vec::with_capacity(s.len());
    for i in 0..s.len() {
        out.push(match s.get(i)?.is_null() {
            true => None,
            false => {
                let mut text = String::new();
                write_json(s, i, &mut text)?;
                Some(text)
            }
        });
    }
    Ok(StringChunked::from_iter_options(s.name().clone(), out.into_iter()).into_series())
}

/// Writes row `i` of `s` as JSON.
fn write_json(s: &Series, i: usize, out: &mut String) -> PolarsResult<()> {
    let items = |inner: Option<Series>, out: &mut String| -> PolarsResult<()> {
        let Some(inner) = inner else {
            out.push_str("null");
            return Ok(());
        };
        out.push('[');
        for j in 0..inner.len() {
            if j > 0 {
                out.push(',');
            }
            write_json(&inner, j, out)?;
        }
        out.push(']');
        Ok(())
    };
    match s.dtype() {
        DataType::List(_) => items(s.list()?.get_as_series(i), out),
        DataType::Array(..) => items(s.array()?.get_as_series(i), out),
        DataType::Struct(_) if s.get(i)?.is_null() => {
            out.push_str("null");
            Ok(())
        }
        DataType::Struct(_) => {
            out.push('{');
            for (k, field) in s.struct_()?.fields_as_series().iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::from(field.name().as_str()).to_string());
                out.push(':');
                write_json(field, i, out)?;
            }
            out.push('}');
            Ok(())
        }
        _ => {
            out.push_str(&json_scalar(s.get(i)?));
            Ok(())
        }
    }
}

/// A scalar as JSON: numbers and booleans as such (a non-finite float as null), everything
/// else (text, dates, times, decimals) as a string of its usual form.
fn json_scalar(v: AnyValue) -> String {
    use serde_json::Value as J;
    match v {
        AnyValue::Null => "null".into(),
        AnyValue::Boolean(b) => b.to_string(),
        AnyValue::String(t) => J::from(t).to_string(),
        AnyValue::StringOwned(t) => J::from(t.as_str()).to_string(),
        AnyValue::Float32(x) if x.is_finite() => x.to_string(),
        AnyValue::Float64(x) if x.is_finite() => x.to_string(),
        AnyValue::Float32(_) | AnyValue::Float64(_) => "null".into(),
        v if v.is_integer() => v.to_string(),
        v => J::from(v.str_value().as_ref()).to_string(),
    }
}

/// A wide city_stats file (one column per variable code), turned long through the text
/// assembler: such files have a row per area, so text costs nothing here.
fn wide(
    source: &Source,
    header: &[String],
    projected: &[String],
    df: &DataFrame,
    bytes: u64,
    error_in: &dyn Fn(Option<&str>, String) -> IngestError,
) -> Result<RawTable, IngestError> {
    let as_text = |c: &str| -> Result<Vec<Option<String>>, String> {
        let s = df
            .column(c)
            .map_err(|e| e.to_string())?
            .as_materialized_series()
            .clone();
        let s = normalise(s)?
            .cast(&DataType::String)
            .map_err(|e| e.to_string())?;
        let ca = s.str().map_err(|e| e.to_string())?;
        Ok(ca.iter().map(|v| v.map(String::from)).collect())
    };
    let columns: Vec<Vec<Option<String>>> = projected
        .iter()
        .map(|c| as_text(c).map_err(|e| error_in(Some(c), e)))
        .collect::<Result<_, _>>()?;
    let index: Vec<Option<usize>> = header
        .iter()
        .map(|h| projected.iter().position(|p| p == h))
        .collect();
    let rows = (0..df.height()).map(|i| {
        Ok((
            i as u64 + 1,
            index
                .iter()
                .map(|p| p.and_then(|p| columns[p][i].clone()))
                .collect(),
        ))
    });
    records::assemble(source, header, rows, bytes)
}

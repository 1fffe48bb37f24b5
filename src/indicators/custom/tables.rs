//! The tables a custom query reads: one per source, named after it, with every role of its
//! kind as a column (a role the file does not give is an empty column, so that a query
//! checked against the pipeline file runs on any of its inputs), and `indicators`, the long
//! table of the values computed before it.

use polars::prelude::*;

use crate::catalogue::Resolved;
use crate::config::{Pipeline, SourceKind};
use crate::contracts::{self, Table};
use crate::indicators::spending::Booking;
use crate::indicators::{long_frame, Value};

/// The name of the long table of computed values.
pub const INDICATORS: &str = "indicators";

/// The columns a source's table has: its kind's roles in their contract types, then
/// `period`, always (a project's amount is split over the years it is booked in).
pub fn source_schema(kind: SourceKind) -> Schema {
    let mut fields: Vec<Field> = kind
        .all_roles()
        .filter(|r| *r != "period")
        .map(|r| Field::new(r.into(), contracts::role_dtype(kind, r)))
        .collect();
    fields.push(Field::new("period".into(), DataType::Int32));
    Schema::from_iter(fields)
}

/// The columns of `indicators`: the output contract's long schema.
pub fn indicators_schema(catalogue: &Resolved) -> PolarsResult<Schema> {
    Ok(long_frame(Vec::new(), catalogue)?.schema().as_ref().clone())
}

/// A source's table: the contract's kept rows in [`source_schema`]'s columns. Projects are
/// booked as the spending family books them, one row per project row and year, `amount`
/// being the part booked in that year.
pub fn source_frame(pipeline: &Pipeline, table: &Table) -> PolarsResult<DataFrame> {
    let df = match table.kind {
        SourceKind::Projects => booked(pipeline, table)?,
        _ => table.frame.clone(),
    };
    let n = df.height();
    let columns = source_schema(table.kind)
        .iter()
        .map(|(name, dtype)| match df.column(name) {
            Ok(c) => c.cast(dtype),
            Err(_) => Ok(Column::full_null(name.clone(), n, dtype)),
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    DataFrame::new(n, columns)
}

/// A projects table as booked: each row once per year it books an amount in.
fn booked(pipeline: &Pipeline, table: &Table) -> PolarsResult<DataFrame> {
    let spread = pipeline
        .source(&table.source)
        .map(|s| s.spread)
        .unwrap_or_default();
    let booking = Booking::of(&table.frame, &|_| spread)?;
    let mut df = table.frame.take(&booking.rows)?;
    df.with_column(Column::new("period".into(), booking.periods))?;
    df.with_column(Column::new("amount".into(), booking.amounts))?;
    Ok(df)
}

/// Values as the `indicators` table holds them.
pub fn values_frame(values: &[Value], catalogue: &Resolved) -> PolarsResult<DataFrame> {
    long_frame(values.to_vec(), catalogue)
}

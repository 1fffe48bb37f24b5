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

/// The columns of [`source_schema`] a query may read: those whose names it holds as words
/// (a superset, safe to give), or all of them when it selects `*`.
pub fn columns_read(kind: SourceKind, sql: &str) -> Vec<String> {
    let schema = source_schema(kind);
    let star = sql
        .replace(' ', "")
        .to_lowercase()
        .replace("count(*)", "")
        .contains('*');
    schema
        .iter_names()
        .filter(|n| star || super::explain::find_word(sql, n).is_some())
        .map(|n| n.to_string())
        .collect()
}

/// A source's table: the contract's kept rows in [`source_schema`]'s columns, or in those of
/// `only` (the columns a query reads: building the others costs time on large sources).
/// Projects are booked as the spending family books them, one row per project row and year,
/// `amount` being the part booked in that year.
pub fn source_frame(
    pipeline: &Pipeline,
    table: &Table,
    only: Option<&[String]>,
) -> PolarsResult<DataFrame> {
    let wanted = |name: &str| only.is_none_or(|o| o.iter().any(|c| c == name));
    let df = match table.kind {
        SourceKind::Projects => booked(pipeline, table, &wanted)?,
        _ => table.frame.clone(),
    };
    let n = df.height();
    let columns = source_schema(table.kind)
        .iter()
        .filter(|(name, _)| wanted(name))
        .map(|(name, dtype)| match df.column(name) {
            Ok(c) => c.cast(dtype),
            Err(_) => Ok(Column::full_null(name.clone(), n, dtype)),
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    DataFrame::new(n, columns)
}

/// A projects table as booked: each row once per year it books an amount in, with the
/// columns `wanted` names.
fn booked(
    pipeline: &Pipeline,
    table: &Table,
    wanted: &dyn Fn(&str) -> bool,
) -> PolarsResult<DataFrame> {
    let spread = pipeline
        .source(&table.source)
        .map(|s| s.spread)
        .unwrap_or_default();
    let booking = Booking::of(&table.frame, &|_| spread)?;
    let n = booking.periods.len();
    let mut columns = Vec::new();
    for c in table.frame.columns() {
        match c.name().as_str() {
            "period" | "amount" => {}
            name if wanted(name) => columns.push(
                c.as_materialized_series()
                    .take(&booking.rows)?
                    .into_column(),
            ),
            _ => {}
        }
    }
    columns.push(Column::new("period".into(), booking.periods));
    columns.push(Column::new("amount".into(), booking.amounts));
    DataFrame::new(n, columns)
}

/// Values as the `indicators` table holds them.
pub fn values_frame(values: &[Value], catalogue: &Resolved) -> PolarsResult<DataFrame> {
    long_frame(values.to_vec(), catalogue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_reads_the_columns_it_names() {
        let sql = "SELECT area, period, SUM(amount) AS value, COUNT(*) AS n FROM projects GROUP BY area, period";
        assert_eq!(
            columns_read(SourceKind::Projects, sql),
            ["area", "amount", "period"]
        );
        // `*` reads everything; a word inside a name does not count.
        let all = columns_read(SourceKind::Projects, "SELECT * FROM projects");
        assert_eq!(all.len(), source_schema(SourceKind::Projects).len());
        assert_eq!(
            columns_read(
                SourceKind::Projects,
                "SELECT area, period, MAX(amounts) AS value FROM p"
            ),
            ["area", "period"]
        );
    }
}

//! Parquet files, reading only the columns the source's roles need (projection pushdown), in
//! their own types: numbers stay numbers and text stays in Arrow's buffers until the contract
//! checks them. An error names the file and the column, never a line: Parquet has none.

use std::collections::BTreeSet;

use polars::prelude::*;

use super::{records, IngestError, RawColumn, RawTable};
use crate::config::Source;

/// The types a role's column is kept in. Others (lists, structs, binary) are written as text
/// where polars can, or the file is refused, naming the column.
fn cell_type(dtype: &DataType) -> bool {
    dtype.is_primitive_numeric()
        || matches!(
            dtype,
            DataType::String | DataType::Boolean | DataType::Date | DataType::Datetime(..)
        )
}

pub fn read(source: &Source, bytes: &[u8]) -> Result<RawTable, IngestError> {
    let error_in = |column: Option<&str>, message: String| IngestError::Parquet {
        source_name: source.name.clone(),
        path: source.resolved.clone(),
        column: column.map(String::from),
        message,
    };
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes));
    let schema = reader.schema().map_err(|e| error_in(None, e.to_string()))?;
    let header: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
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
    let read = |columns: Vec<String>| {
        ParquetReader::new(std::io::Cursor::new(bytes))
            .with_columns(Some(columns))
            .finish()
    };
    let df = read(projected.clone()).map_err(|e| {
        // Which column: the first that does not read on its own.
        let bad = projected.iter().find(|c| read(vec![(*c).clone()]).is_err());
        error_in(bad.map(String::as_str), e.to_string())
    })?;
    let plan = records::plan(source, &header)?;
    let mut cells = Vec::with_capacity(plan.roles.len());
    for column in &plan.columns {
        let s = df
            .column(column)
            .map_err(|e| error_in(Some(column), e.to_string()))?
            .as_materialized_series()
            .clone();
        let s = match s.dtype() {
            // Instants as UTC wall-clock times: the contract reads their date.
            DataType::Datetime(unit, Some(_)) => {
                let naive = DataType::Datetime(*unit, None);
                s.cast(&naive)
                    .map_err(|e| error_in(Some(column), e.to_string()))?
            }
            _ => s,
        };
        let s = match cell_type(s.dtype()) {
            true => s,
            false => s.cast(&DataType::String).map_err(|e| {
                error_in(
                    Some(column),
                    format!(
                        "holds {}, which has no single value per row; write it as numbers or text ({e})",
                        s.dtype()
                    ),
                )
            })?,
        };
        cells.push(RawColumn::Typed(s));
    }
    let n = df.height();
    let mut table = RawTable {
        roles: plan.roles.clone(),
        cells,
        // A row's "line" is its number in the file, from 1.
        lines: (1..=n as u64).collect(),
        columns: plan.columns.clone(),
        header_len: header.len(),
        ragged: Vec::new(),
        bytes: bytes.len() as u64,
        blake3: String::new(),
        files: Vec::new(),
        file_of: Vec::new(),
        pointers: None,
    };
    if !plan.wide.is_empty() {
        table = wide(source, &header, &projected, &df, bytes.len() as u64)?;
    }
    Ok(table)
}

/// A wide city_stats file (one column per variable code), turned long through the text
/// assembler: such files have a row per area, so text costs nothing here.
fn wide(
    source: &Source,
    header: &[String],
    projected: &[String],
    df: &DataFrame,
    bytes: u64,
) -> Result<RawTable, IngestError> {
    let as_text = |c: &str| -> PolarsResult<Vec<Option<String>>> {
        let s = df
            .column(c)?
            .as_materialized_series()
            .cast(&DataType::String)?;
        Ok(s.str()?.iter().map(|v| v.map(String::from)).collect())
    };
    let columns: Vec<Vec<Option<String>>> = projected
        .iter()
        .map(|c| {
            as_text(c).map_err(|e| IngestError::Parquet {
                source_name: source.name.clone(),
                path: source.resolved.clone(),
                column: Some(c.clone()),
                message: e.to_string(),
            })
        })
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

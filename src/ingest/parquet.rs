//! Parquet files, reading only the columns the source's roles need (projection pushdown).

use std::collections::BTreeSet;

use polars::prelude::*;

use super::{records, IngestError, RawTable};
use crate::config::Source;

pub fn read(source: &Source, bytes: &[u8]) -> Result<RawTable, IngestError> {
    // A Parquet file has no lines: an error names the file, and the column where there is one.
    let error_in = |column: Option<&str>, message: String| IngestError::Parquet {
        source_name: source.name.clone(),
        path: source.resolved.clone(),
        column: column.map(String::from),
        message,
    };
    let error = |message: String| error_in(None, message);
    let cursor = std::io::Cursor::new(bytes);
    let mut reader = ParquetReader::new(cursor);
    let schema = reader.schema().map_err(|e| error(e.to_string()))?;
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
    let columns: Vec<Vec<Option<String>>> = projected
        .iter()
        .map(|c| {
            let as_text = || -> PolarsResult<Vec<Option<String>>> {
                let s = df
                    .column(c)?
                    .as_materialized_series()
                    .cast(&DataType::String)?;
                Ok(s.str()?.iter().map(|v| v.map(String::from)).collect())
            };
            as_text().map_err(|e| error_in(Some(c), e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    // The header the role plan sees is the whole schema; unread columns stay empty.
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
    records::assemble(source, &header, rows, bytes.len() as u64)
}

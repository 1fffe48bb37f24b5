//! `procurement.parquet`: every procurement source's kept rows, one per award (an OCDS package
//! compiled per process, one row per award and per contract no award names), with the
//! process and award ids, the date and where it comes from, and the amount in the reporting
//! currency beside the amount and currency as published.

use polars::prelude::*;

use crate::config::SourceKind;
use crate::contracts::Table;

/// The table's columns and their types; a column a source does not give is empty.
pub const COLUMNS: [(&str, DataType); 18] = [
    ("source", DataType::String),
    ("id", DataType::String),
    ("ocid", DataType::String),
    ("award_id", DataType::String),
    ("contract_id", DataType::String),
    ("buyer", DataType::String),
    ("supplier", DataType::String),
    ("supplier_id", DataType::String),
    ("supplier_type", DataType::String),
    ("social_enterprise", DataType::Boolean),
    ("date", DataType::String),
    ("date_from", DataType::String),
    ("period", DataType::Int32),
    ("area", DataType::String),
    ("amount", DataType::Float64),
    ("currency", DataType::String),
    ("amount_original", DataType::Float64),
    ("currency_original", DataType::String),
];

/// The procurement sources' rows in [`COLUMNS`], in source and file order.
pub fn table(tables: &[Table], report_currency: &str) -> PolarsResult<DataFrame> {
    let mut out: Option<DataFrame> = None;
    for t in tables.iter().filter(|t| t.kind == SourceKind::Procurement) {
        let df = one(t, report_currency)?;
        out = Some(match out {
            None => df,
            Some(mut all) => {
                all.vstack_mut(&df)?;
                all
            }
        });
    }
    match out {
        Some(mut df) => {
            df.rechunk_mut();
            Ok(df)
        }
        None => DataFrame::new(
            0,
            COLUMNS
                .iter()
                .map(|(name, dtype)| Column::full_null((*name).into(), 0, dtype))
                .collect(),
        ),
    }
}

fn one(t: &Table, report_currency: &str) -> PolarsResult<DataFrame> {
    let df = &t.frame;
    let n = df.height();
    let columns = COLUMNS
        .iter()
        .map(|(name, dtype)| -> PolarsResult<Column> {
            Ok(match *name {
                "source" => text("source", &t.source, n),
                // Every amount is in the reporting currency once the contract has run.
                "currency" => text("currency", report_currency, n),
                "social_enterprise" => match df.column("supplier_type") {
                    Ok(c) => c
                        .str()?
                        .equal("social_enterprise")
                        .with_name("social_enterprise".into())
                        .into_column(),
                    Err(_) => Column::full_null((*name).into(), n, dtype),
                },
                _ => match df.column(name) {
                    Ok(c) => c.cast(dtype)?,
                    Err(_) => Column::full_null((*name).into(), n, dtype),
                },
            })
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    DataFrame::new(n, columns)
}

/// A text column of `n` times `value`.
fn text(name: &str, value: &str, n: usize) -> Column {
    StringChunked::full(name.into(), value, n).into_column()
}

//! One contract per source kind: the type and the checks behind each role. A row that breaks its
//! contract becomes a [`Reject`] with the file, line, column, value and a reason a person can act
//! on; the rest becomes a typed polars frame whose columns are the role names. Nothing is
//! dropped silently: rows read = rows kept + rows rejected, for every source.
//!
//! - `rules`: the vocabulary and each role's type, bounds and cell check;
//! - `context`: what every check of a source reads, and how a reject is made;
//! - `columnar`: the contract, over typed columns, for every kind;
//! - `rows`: the same contract row by row, the reference the tests hold the columns to;
//! - `cells`: a raw column read cell by cell, whatever its storage;
//! - `reconcile`: the checks across sources;
//! - `rejects`: rejected rows and their table.

use polars::prelude::*;

use crate::config::{Pipeline, Source, SourceKind};
use crate::ingest::RawTable;

mod cells;
mod columnar;
mod context;
mod reconcile;
mod rejects;
#[cfg(test)]
mod rows;
mod rules;
#[cfg(test)]
mod tests;

pub use reconcile::reconcile;
pub use rejects::{rejects_frame, Reject};
pub use rules::{
    role_dtype, AsWritten, PlainNumbers, CITY_STAT_COUNTS, CITY_STAT_RATES, FUNDING_SOURCES,
    MAGNITUDE, SECTORS,
};

use context::Contract;

/// A source after its contract: typed rows, and the count of everything read.
#[derive(Debug, Clone)]
pub struct Table {
    pub source: String,
    pub kind: SourceKind,
    pub frame: DataFrame,
    pub rows_read: usize,
    pub rejects: Vec<Reject>,
    /// Rejected only because their period lies outside the pipeline's `periods` (a subset of
    /// `rejects`; not counted against `max_reject_share`).
    pub rows_filtered: usize,
    /// The file line of each kept row, for `areas` sources only (small tables whose rows the
    /// cross-source checks name); empty for other kinds.
    pub lines: Vec<u64>,
}

impl Table {
    pub fn rows_kept(&self) -> usize {
        self.frame.height()
    }

    /// Share of rows that broke the contract (period filtering excluded).
    pub fn reject_share(&self) -> f64 {
        if self.rows_read == 0 {
            0.0
        } else {
            (self.rejects.len() - self.rows_filtered) as f64 / self.rows_read as f64
        }
    }
}

/// Applies a source's contract to its raw rows.
pub fn apply(pipeline: &Pipeline, source: &Source, raw: &RawTable) -> Result<Table, PolarsError> {
    let contract = Contract::new(pipeline, source, raw);
    contract.by_columns()
}

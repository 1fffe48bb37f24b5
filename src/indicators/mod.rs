//! Indicator families. Each family takes contract tables and returns rows in the one long
//! indicator schema of the output contract, built here by [`long_frame`] and nowhere else.
//!
//! A value that cannot be computed (a zero denominator, a missing population) is never written
//! as NaN or infinity: the row is left out and a [`Skipped`] note says why, and the manifest
//! carries those notes.
//!
//! - `families.rs`: the families in one table (what each reads and writes, its function);
//! - `exclusion/`, `spending.rs`, `climate.rs`, `custom/`: the families;
//! - `projects/`, `sroi.rs`, `procurement.rs`: projects as units, their SROI, procurement;
//! - `stats.rs`: weighted income statistics as Eurostat defines them;
//! - `inputs.rs`: the contract tables grouped for the families;
//! - `value.rs`: what a family hands back (values, and notes on those it could not compute);
//! - `long.rs`: the long indicator table;
//! - `columns.rs`: reading a frame's columns by name, and shared polars helpers.

pub mod climate;
mod columns;
pub mod custom;
pub mod exclusion;
pub mod families;
mod inputs;
pub mod long;
pub mod procurement;
pub mod projects;
pub mod spending;
pub mod sroi;
pub mod stats;
mod value;

pub use columns::{
    collect_all, counts, floats, ints, number_column, opt_floats, opt_strings, strings, sum_of,
    text_column, year_column,
};
pub use families::compute_all;
pub use inputs::{area_texts, wanted, Inputs};
pub use long::{guard, long_frame, TableError};
pub use value::{divide, Output, Skipped, Value};

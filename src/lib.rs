//! cityimpact: measure what social innovation does for cities.
//!
//! Data flows one way: [`config`] → [`ingest`] → [`contracts`] → [`indicators`] →
//! [`evaluate`] → [`output`] and [`charts`], and [`run`] orchestrates them. The binary (`main.rs`) only parses the
//! command line and turns results into messages and exit codes.

pub mod catalogue;
pub mod charts;
pub mod config;
pub mod contracts;
pub mod evaluate;
pub mod index;
pub mod indicators;
pub mod ingest;
pub mod output;
pub mod report;
pub mod run;

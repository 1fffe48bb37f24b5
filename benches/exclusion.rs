//! Benchmark of the exclusion family on synthetic microdata (bench/gen_microdata.py), with
//! the whole population and 5 breakdowns. The peer is bench/exclusion_polars.py; run both
//! with bench/exclusion.sh, which quotes medians and their ratio.
//!
//! Usage: cargo bench --bench exclusion -- DATA.parquet REPLICATES

mod common;

use std::time::Instant;

use cityimpact::config::{self, SourceKind};
use cityimpact::contracts::Table;
use cityimpact::indicators::{exclusion, Inputs};
use cityimpact::output::parquet;

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let (Some(data), Some(replicates)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: cargo bench --bench exclusion -- DATA.parquet REPLICATES");
        std::process::exit(2);
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let toml = dir.path().join("bench.toml");
    std::fs::write(
        &toml,
        format!(
            "[pipeline]\nname = \"bench\"\n[sources.silc]\nkind = \"microdata\"\npath = \"unused.csv\"\n\
             [indicators]\nexclusion = [\"arpt\", \"arpr\", \"arpr40\", \"arpr50\", \"arpr70\", \"qsr\", \"gini\", \"rmpg\"]\n\
             spending = \"none\"\nclimate = \"none\"\n\
             breakdowns = [[\"area\"], [\"sex\"], [\"age_group\"], [\"area\", \"sex\"], [\"age_group\", \"sex\"]]\n\
             bootstrap = {{ replicates = {replicates}, seed = 1 }}\n"
        ),
    )
    .expect("write the bench pipeline");
    let pipeline = config::load(&toml).expect("the bench pipeline loads");

    let start = Instant::now();
    let frame = parquet::read(std::path::Path::new(data)).expect("read the data");
    let read = start.elapsed().as_secs_f64();
    let rows = frame.height();
    let tables = vec![Table {
        source: "silc".into(),
        kind: SourceKind::Microdata,
        frame,
        rows_read: rows,
        rejects: Vec::new(),
        rows_filtered: 0,
        lines: Vec::new(),
    }];
    let inputs = Inputs::new(&pipeline, &tables).expect("inputs");
    let t = Instant::now();
    let out = exclusion::compute(&inputs).expect("compute");
    let compute = t.elapsed().as_secs_f64();
    let base = out
        .values
        .iter()
        .filter(|v| !v.indicator.ends_with("_change"))
        .count();
    println!(
        "cityimpact rows={rows} replicates={replicates} values={base} read_s={read:.3} compute_s={compute:.3} seconds={:.3} peak_mb={:.0}",
        start.elapsed().as_secs_f64(),
        common::peak_mb()
    );
}

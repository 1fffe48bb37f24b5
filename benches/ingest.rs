//! Ingest speed: a CSV of project records read through cityimpact's ingest and contract (every
//! cell typed and checked, rejects kept), beside polars' bare CSV reader on the same file
//! (bench/ingest.sh runs both and quotes the ratio).
//!
//! Usage: cargo bench --bench ingest -- FILE.csv [RUNS]

mod common;

use std::time::Instant;

use cityimpact::config;
use cityimpact::contracts;
use cityimpact::ingest;

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let Some(file) = args.get(1) else {
        eprintln!("usage: cargo bench --bench ingest -- FILE.csv [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let toml = dir.path().join("bench.toml");
    std::fs::write(
        &toml,
        format!("[pipeline]\nname = \"bench\"\n[sources.p]\nkind = \"projects\"\npath = \"{file}\"\n[currency]\nrates = {{ PLN = 0.23 }}\n"),
    )
    .expect("write the bench pipeline");
    let pipeline = config::load(&toml).expect("the bench pipeline loads");
    let source = &pipeline.sources[0];
    for _ in 0..runs {
        let t = Instant::now();
        let loaded = ingest::load(source).expect("load");
        let load_s = t.elapsed().as_secs_f64();
        let raw = ingest::parse(source, &loaded).expect("parse");
        let parse_s = t.elapsed().as_secs_f64() - load_s;
        drop(loaded);
        let c = Instant::now();
        let table = contracts::apply(&pipeline, source, &raw).expect("contract");
        println!(
            "cityimpact rows={} kept={} rejected={} load_s={load_s:.2} parse_s={parse_s:.2} contract_s={:.2} seconds={:.2} peak_mb={:.0}",
            raw.len(),
            table.rows_kept(),
            table.rejects.len(),
            c.elapsed().as_secs_f64(),
            t.elapsed().as_secs_f64(),
            common::peak_mb()
        );
    }
}

//! Do the three indicator families gain from running side by side? Times
//! `indicators::compute_all` (rayon::join over the families) against the same three families
//! one after another, on synthetic data of a mid-sized city programme, and prints medians and
//! their ratio.
//!
//! Usage: cargo bench --bench families -- [PERSONS] [RUNS]

use std::time::{Duration, Instant};

use cityimpact::catalogue::Family;
use cityimpact::config::{self, SourceKind};
use cityimpact::contracts::Table;
use cityimpact::indicators::stats::SplitMix64;
use cityimpact::indicators::{self, climate, exclusion, spending, Inputs};
use polars::prelude::*;

fn table(source: &str, kind: SourceKind, frame: DataFrame) -> Table {
    Table {
        source: source.into(),
        kind,
        rows_read: frame.height(),
        frame,
        rejects: Vec::new(),
        rows_filtered: 0,
        lines: Vec::new(),
    }
}

fn data(persons: usize) -> Vec<Table> {
    let mut g = SplitMix64::new(2024);
    let mut u = move || (g.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let areas: Vec<String> = (0..40).map(|i| format!("D{i:02}")).collect();
    let years: Vec<i32> = (2015..2025).collect();

    let n = persons;
    let mut income = Vec::with_capacity(n);
    let mut weight = Vec::with_capacity(n);
    let mut area = Vec::with_capacity(n);
    let mut household = Vec::with_capacity(n);
    let mut period = Vec::with_capacity(n);
    let mut age = Vec::with_capacity(n);
    let mut sex = Vec::with_capacity(n);
    for i in 0..n {
        let h = i / 3;
        income.push(8000.0 + 60000.0 * u() * u());
        weight.push(50.0 + 100.0 * u());
        area.push(areas[h % areas.len()].clone());
        household.push(format!("h{h}"));
        period.push(years[(h / 997) % years.len()]);
        age.push((u() * 90.0).floor());
        sex.push(if u() < 0.5 { "male" } else { "female" });
    }
    let micro = DataFrame::new(
        n,
        vec![
            Column::new("income".into(), income),
            Column::new("weight".into(), weight),
            Column::new("area".into(), area),
            Column::new("household".into(), household),
            Column::new("period".into(), period),
            Column::new("age".into(), age),
            Column::new("sex".into(), sex),
        ],
    )
    .expect("microdata");

    let m = persons / 5;
    let sources = cityimpact::contracts::FUNDING_SOURCES;
    let (mut id, mut parea, mut amount, mut start, mut pperiod, mut fund, mut ben, mut co2) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for i in 0..m {
        let y = years[i % years.len()];
        id.push(format!("P{}", i / 2));
        parea.push(areas[(i / 2) % areas.len()].clone());
        amount.push(1000.0 + 100000.0 * u());
        start.push(format!("{y}-03-01"));
        pperiod.push(y);
        fund.push(sources[i % sources.len()]);
        ben.push((u() * 500.0).floor());
        co2.push(u() * 50.0);
    }
    let projects = DataFrame::new(
        m,
        vec![
            Column::new("id".into(), id),
            Column::new("area".into(), parea),
            Column::new("amount".into(), amount),
            Column::new("start".into(), start),
            Column::new("period".into(), pperiod),
            Column::new("funding_source".into(), fund),
            Column::new("beneficiaries".into(), ben),
            Column::new("co2e_avoided_t".into(), co2),
        ],
    )
    .expect("projects");

    let sectors = [
        "stationary_energy",
        "transportation",
        "waste",
        "ippu",
        "afolu",
    ];
    let (mut earea, mut eperiod, mut sector, mut scope, mut t) =
        (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..m {
        earea.push(areas[i % areas.len()].clone());
        eperiod.push(years[(i / areas.len()) % years.len()]);
        sector.push(sectors[i % sectors.len()]);
        scope.push((i % 3) as i32 + 1);
        t.push(1000.0 * u());
    }
    let emissions = DataFrame::new(
        m,
        vec![
            Column::new("area".into(), earea),
            Column::new("period".into(), eperiod),
            Column::new("sector".into(), sector),
            Column::new("scope".into(), scope),
            Column::new("tco2e".into(), t),
        ],
    )
    .expect("emissions");
    let areas_df = DataFrame::new(
        areas.len(),
        vec![
            Column::new("area".into(), areas.clone()),
            Column::new("population".into(), vec![50000.0; areas.len()]),
            Column::new("period".into(), vec![None::<i32>; areas.len()]),
        ],
    )
    .expect("areas");
    vec![
        table("silc", SourceKind::Microdata, micro),
        table("projects", SourceKind::Projects, projects),
        table("emissions", SourceKind::Emissions, emissions),
        table("areas", SourceKind::Areas, areas_df),
    ]
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let persons: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(500_000);
    let runs: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let toml = dir.path().join("bench.toml");
    std::fs::write(
        &toml,
        "[pipeline]\nname = \"bench\"\n[sources.x]\nkind = \"areas\"\npath = \"unused.csv\"\n\
         [indicators]\nbootstrap = { replicates = 20, seed = 1 }\n",
    )
    .expect("write the bench pipeline");
    let pipeline = config::load(&toml).expect("the bench pipeline loads");
    let tables = data(persons);
    let inputs = Inputs::new(&pipeline, &tables).expect("inputs");

    let (mut parallel, mut sequential) = (Vec::new(), Vec::new());
    let mut values = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let out = indicators::compute_all(&inputs, &Family::ALL).expect("compute_all");
        parallel.push(t.elapsed());
        values = out.iter().map(|(_, o, _)| o.values.len()).sum::<usize>();

        let t = Instant::now();
        let a = exclusion::compute(&inputs).expect("exclusion");
        let b = spending::compute(&inputs).expect("spending");
        let c = climate::compute(&inputs).expect("climate");
        sequential.push(t.elapsed());
        assert_eq!(a.values.len() + b.values.len() + c.values.len(), values);
    }
    let (p, s) = (median(parallel), median(sequential));
    println!(
        "families persons={persons} runs={runs} values={values} parallel_median_s={p:.3} sequential_median_s={s:.3} speedup={:.2}x",
        s / p
    );
}

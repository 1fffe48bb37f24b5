//! The composite index at scale: UNITS synthetic units × INDICATORS indicators in pillars of
//! five and two sub-indices, with RUNS Monte-Carlo runs (weights ± 25 %, min-max [1, 100] or
//! z-score (10, 2), arithmetic or geometric) and, with SAMPLES > 0, the variance-based
//! sensitivity; RUNS times the whole stage; prints seconds, peak memory and the median.
//!
//! Usage: cargo bench --bench index -- [UNITS] [INDICATORS] [RUNS] [SAMPLES] [REPEATS]

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use cityimpact::config::index::{
    Aggregation, Impute, IndexSettings, Node, Normalise, Outliers, Uncertainty,
};
use cityimpact::index;
use cityimpact::indicators::stats::SplitMix64;
use cityimpact::indicators::Value;

fn node(code: &str, level: u32, parent: Option<&str>, direction: f64, indicator: bool) -> Node {
    Node {
        code: code.into(),
        name: code.into(),
        level,
        parent: parent.map(String::from),
        weight: 1.0,
        direction,
        unit: String::new(),
        target: None,
        goalposts: None,
        denominator: None,
        indicator,
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let arg = |i: usize, d: usize| args.get(i).copied().unwrap_or(d);
    let (units, indicators, runs, samples, repeats) =
        (arg(0, 1000), arg(1, 50), arg(2, 1000), arg(3, 0), arg(4, 3));
    let pillars = indicators.div_ceil(5);
    let mut nodes = vec![node("Index", 4, None, 1.0, false)];
    for s in 0..2 {
        nodes.push(node(&format!("S{s}"), 3, Some("Index"), 1.0, false));
    }
    for p in 0..pillars {
        nodes.push(node(
            &format!("P{p}"),
            2,
            Some(&format!("S{}", p % 2)),
            1.0,
            false,
        ));
    }
    for i in 0..indicators {
        let dir = if i % 7 == 3 { -1.0 } else { 1.0 };
        nodes.push(node(
            &format!("x{i}"),
            1,
            Some(&format!("P{}", i / 5)),
            dir,
            true,
        ));
    }
    let mut g = SplitMix64::new(50);
    let mut u = move || (g.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut values = Vec::with_capacity(units * indicators);
    for a in 0..units {
        for i in 0..indicators {
            if u() < 0.02 {
                continue; // 2 % missing
            }
            let v = (2.0 * u() + (i % 5) as f64 * 0.3).exp();
            values.push(Value::new(
                &format!("x{i}"),
                &format!("U{a:05}"),
                "district",
                Some(2024),
                v,
            ));
        }
    }
    let settings = IndexSettings {
        name: "Index".into(),
        structure_path: "synthetic".into(),
        nodes,
        level: Some("district".into()),
        denominate: false,
        impute: Impute::Mean,
        min_availability: 0.5,
        outliers: Some(Outliers {
            winmax: 5,
            skew: 2.0,
            kurtosis: 3.5,
        }),
        normalise: Normalise::MinMax { lo: 0.0, hi: 100.0 },
        aggregate: Aggregation::Arithmetic,
        uncertainty: Some(Uncertainty {
            runs: runs as u32,
            seed: 1,
            weight_share: 0.25,
            normalise: vec![
                Normalise::MinMax { lo: 1.0, hi: 100.0 },
                Normalise::ZScore {
                    mean: 10.0,
                    sd: 2.0,
                },
            ],
            aggregate: vec![Aggregation::Arithmetic, Aggregation::Geometric],
            sensitivity_samples: samples as u32,
        }),
    };
    let mut times = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let built = index::build(&settings, &values, &BTreeMap::new(), &|_| "district".into());
        let s = t.elapsed().as_secs_f64();
        times.push(s);
        println!(
            "cityimpact index units={units} indicators={indicators} runs={runs} samples={samples} rows={} seconds={s:.3} peak_mb={:.0}",
            built.rows.len(),
            common::peak_mb()
        );
    }
    times.sort_by(f64::total_cmp);
    println!("median seconds={:.3}", times[times.len() / 2]);
}

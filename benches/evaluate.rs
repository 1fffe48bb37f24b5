//! The evaluate stage at scale: a synthetic panel of AREAS areas × PERIODS periods with
//! staggered adoption (40 % never treated, the rest in cohorts spread over the periods), the
//! whole stage (group-time effects, the four aggregations, TWFE and 2×2, the pre-test, and
//! REPLICATES multiplier-bootstrap replicates for the uniform bands), RUNS times; prints each
//! run's seconds and peak memory, and the median. With `--csv FILE` it also writes the panel
//! in mpdta's layout for a peer (bench/evaluate_peer.py, Python csdid).
//!
//! Usage: cargo bench --bench evaluate -- [AREAS] [PERIODS] [REPLICATES] [RUNS] [--csv FILE]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use cityimpact::config::evaluation::{BasePeriod, Control, Evaluation, Treatment};
use cityimpact::evaluate;
use cityimpact::indicators::stats::SplitMix64;
use cityimpact::indicators::Value;

fn panel(areas: usize, periods: i32) -> (Vec<Value>, BTreeMap<String, Option<i32>>) {
    let mut g = SplitMix64::new(10_000);
    let mut u = move || (g.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let first = 2000;
    let mut values = Vec::with_capacity(areas * periods as usize);
    let mut treatment = BTreeMap::new();
    for a in 0..areas {
        let code = format!("A{a:06}");
        // 40 % never treated; the others first treated in periods 2..PERIODS-1.
        let cohort = (u() >= 0.4).then(|| first + 2 + (u() * (periods - 3) as f64) as i32);
        let level = 10.0 + 5.0 * u();
        let trend = 0.1 * u();
        for t in 0..periods {
            let year = first + t;
            let effect = match cohort {
                Some(c) if year >= c => -0.5 - 0.1 * (year - c) as f64,
                _ => 0.0,
            };
            let y = level + trend * t as f64 + effect + (u() - 0.5);
            values.push(Value::new("lemp", &code, "district", Some(year), y));
        }
        treatment.insert(code, cohort);
    }
    (values, treatment)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let csv = args
        .iter()
        .position(|a| a == "--csv")
        .map(|i| args[i + 1].clone());
    let nums: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--csv"))
        .map(|(_, a)| a)
        .collect();
    let arg = |i: usize, d: usize| nums.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (areas, periods, replicates, runs) = (arg(0, 10_000), arg(1, 20), arg(2, 1_000), arg(3, 3));
    let (values, treatment) = panel(areas, periods as i32);
    if let Some(path) = csv {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("csv"));
        writeln!(f, "year,countyreal,lemp,first.treat").unwrap();
        for v in &values {
            let g = treatment[&v.area].unwrap_or(0);
            writeln!(
                f,
                "{},{},{},{}",
                v.period.unwrap(),
                &v.area[1..],
                v.value,
                g
            )
            .unwrap();
        }
    }
    let settings = Evaluation {
        outcomes: vec!["lemp".into()],
        treatment: Treatment::TreatedFrom,
        control: Control::NeverTreated,
        anticipation: 0,
        base_period: BasePeriod::Varying,
        replicates: replicates as u32,
        seed: 1,
        alpha: 0.05,
        series: vec![],
    };
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = evaluate::evaluate(&settings, &values, &treatment);
        let s = t.elapsed().as_secs_f64();
        times.push(s);
        println!(
            "cityimpact evaluate areas={areas} periods={periods} replicates={replicates} estimates={} seconds={s:.3} peak_mb={:.0}",
            out.effects.len(),
            common::peak_mb()
        );
    }
    times.sort_by(f64::total_cmp);
    println!("median seconds={:.3}", times[times.len() / 2]);
}

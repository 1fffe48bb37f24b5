//! Chart rendering speed: draws the sample pipeline's full chart set (PNG and SVG) several
//! times, in parallel as `cityimpact run` does, and prints charts per second (median run).
//!
//! Usage: cargo bench --bench charts -- [RUNS]

use std::path::Path;
use std::time::Instant;

use cityimpact::charts::{self, Context};
use cityimpact::output::parquet;
use cityimpact::run::{self, Options};

fn main() {
    let runs: usize = std::env::args()
        .filter(|a| a != "--bench")
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = dir.path().join("sample");
    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/sample.toml");
    let summary = run::run(
        &pipeline,
        &Options {
            out: Some(out.clone()),
            ..Options::default()
        },
        &|_| {},
    )
    .expect("the sample runs");
    let indicators = parquet::read(&out.join("indicators.parquet")).expect("indicators");
    let ctx = Context {
        settings: serde_json::from_value(summary.manifest["charts"].clone())
            .expect("chart settings"),
        source: summary.manifest["chart_source"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        names: serde_json::from_value(summary.manifest["area_names"].clone()).unwrap_or_default(),
        titles: Default::default(),
    };
    let mut times = Vec::new();
    let mut count = 0;
    for i in 0..runs {
        let target = dir.path().join(format!("charts-{i}"));
        std::fs::create_dir(&target).expect("a chart folder");
        let t = Instant::now();
        count = charts::render_all(&indicators, charts::Outputs::default(), &target, &ctx)
            .expect("charts")
            .len();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "charts files={count} runs={runs} median_s={median:.3} charts_per_s={:.1} threads={}",
        count as f64 / median,
        rayon::current_num_threads()
    );
}

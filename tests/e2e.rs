//! End to end: run the shipped pipelines through the binary and read every output back.
//! Expected values are worked out here from the input files by a separate, plain route (or
//! taken from published figures), never copied from cityimpact's own output.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cityimpact::output::parquet::read;
use common::*;
use polars::prelude::*;

/// One sample run shared by the tests in this file.
fn sample_out() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    run_once(&OUT, "pipelines/sample.toml", "sample")
}

fn csv_rows(path: &str) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(root().join(path)).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// The value of an indicator row (no breakdown).
fn value(df: &DataFrame, indicator: &str, area: &str, period: i32) -> Option<f64> {
    let out = df
        .clone()
        .lazy()
        .filter(
            col("indicator")
                .eq(lit(indicator))
                .and(col("area").eq(lit(area)))
                .and(col("period").eq(lit(period)))
                .and(col("breakdown").is_null()),
        )
        .collect()
        .unwrap();
    assert!(
        out.height() <= 1,
        "{indicator} {area} {period}: {} rows",
        out.height()
    );
    out.column("value").unwrap().f64().unwrap().get(0)
}

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn indicators_table_has_the_contract_schema_and_order() {
    let df = read(&sample_out().join("indicators.parquet")).unwrap();
    let expected = [
        ("indicator", DataType::String),
        ("family", DataType::String),
        ("area", DataType::String),
        ("level", DataType::String),
        ("period", DataType::Int32),
        ("breakdown", DataType::String),
        ("value", DataType::Float64),
        ("unit", DataType::String),
        ("numerator", DataType::Float64),
        ("denominator", DataType::Float64),
        ("n", DataType::Int64),
        ("ci_low", DataType::Float64),
        ("ci_high", DataType::Float64),
        ("flag", DataType::String),
    ];
    let schema = df.schema();
    let got: Vec<(String, DataType)> = schema
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    let want: Vec<(String, DataType)> = expected
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    assert_eq!(got, want);
    assert!(df.height() > 500, "{}", df.height());

    // Sorted by indicator, area, period, breakdown (missing first), checked pair by pair
    // with Rust's own ordering rather than with the sort that wrote the file.
    let text = |c: &str| df.column(c).unwrap().str().unwrap().clone();
    let (indicator, area, breakdown) = (text("indicator"), text("area"), text("breakdown"));
    let period = df.column("period").unwrap().i32().unwrap().clone();
    let key = |i: usize| {
        (
            indicator.get(i),
            area.get(i),
            period.get(i),
            breakdown.get(i),
        )
    };
    for i in 1..df.height() {
        assert!(
            key(i - 1) < key(i),
            "rows {} and {i} are not in contract order (or repeat a key): {:?} then {:?}",
            i - 1,
            key(i - 1),
            key(i)
        );
    }

    // No NaN or infinity anywhere; every family shows something; units come from the catalogue.
    let values = df.column("value").unwrap().f64().unwrap();
    assert!(values.iter().all(|v| v.is_some_and(f64::is_finite)));
    let ind = df.column("indicator").unwrap().str().unwrap();
    let unit = df.column("unit").unwrap().str().unwrap();
    let fam = df.column("family").unwrap().str().unwrap();
    for i in 0..df.height() {
        let Some(entry) = cityimpact::catalogue::get(ind.get(i).unwrap()) else {
            // The sample's own indicator, with the unit and family its pipeline file gives.
            assert_eq!(ind.get(i), Some("projects_per_10k"));
            assert_eq!(unit.get(i), Some("projects per 10 000 persons"));
            assert_eq!(fam.get(i), Some("spending"));
            continue;
        };
        assert_eq!(unit.get(i), Some(entry.unit));
        assert_eq!(fam.get(i), Some(entry.family.as_str()));
    }
    for family in ["exclusion", "spending", "climate"] {
        assert!(fam.iter().any(|f| f == Some(family)), "no {family} values");
    }
}

#[test]
fn spending_matches_the_project_file_summed_by_hand() {
    let df = read(&sample_out().join("indicators.parquet")).unwrap();
    // spend_total: every row's amount, converted with the pipeline's rate (PLN 0.23), booked in
    // its start year; the GBP row has no rate and is not counted.
    let mut spend: BTreeMap<(String, i32), f64> = BTreeMap::new();
    let mut public: BTreeMap<(String, i32), f64> = BTreeMap::new();
    let mut private: BTreeMap<(String, i32), f64> = BTreeMap::new();
    for r in csv_rows("sample-data/projects.csv") {
        let rate = match r["currency"].as_str() {
            "EUR" => 1.0,
            "PLN" => 0.23,
            _ => continue,
        };
        let amount: f64 = r["amount"].parse::<f64>().unwrap() * rate;
        let key = (r["district"].clone(), r["start_date"][..4].parse().unwrap());
        *spend.entry(key.clone()).or_default() += amount;
        match r["funding_source"].as_str() {
            "public" | "eu_fund" => *public.entry(key).or_default() += amount,
            _ => *private.entry(key).or_default() += amount,
        }
    }
    assert!(spend.len() > 20);
    for ((area, year), total) in &spend {
        close(
            value(&df, "spend_total", area, *year).unwrap(),
            *total,
            1e-9,
        );
        if public[&(area.clone(), *year)] > 0.0 {
            let lev = private.get(&(area.clone(), *year)).copied().unwrap_or(0.0)
                / public[&(area.clone(), *year)];
            close(
                value(&df, "leverage_ratio", area, *year).unwrap(),
                lev,
                1e-9,
            );
        }
    }
    // spend_per_capita divides by that year's population in areas.csv.
    let pop: HashMap<(String, i32), f64> = csv_rows("sample-data/areas.csv")
        .into_iter()
        .map(|r| {
            (
                (r["area_code"].clone(), r["year"].parse().unwrap()),
                r["population"].parse().unwrap(),
            )
        })
        .collect();
    let (area, year) = spend.keys().next().unwrap().clone();
    close(
        value(&df, "spend_per_capita", &area, year).unwrap(),
        spend[&(area.clone(), year)] / pop[&(area.clone(), year)],
        1e-9,
    );
}

#[test]
fn climate_follows_gpc_basic_and_basic_plus() {
    let df = read(&sample_out().join("indicators.parquet")).unwrap();
    let mut basic: BTreeMap<(String, i32), f64> = BTreeMap::new();
    let mut plus: BTreeMap<(String, i32), f64> = BTreeMap::new();
    for r in csv_rows("sample-data/emissions.csv") {
        let key = (r["city"].clone(), r["year"].parse().unwrap());
        let t: f64 = r["t_co2e"].parse().unwrap();
        let (sector, scope) = (r["gpc_sector"].as_str(), r["scope"].as_str());
        // GPC 2014, table 3.1: BASIC = stationary energy and transportation scopes 1+2,
        // waste scopes 1+3; BASIC+ adds IPPU, AFOLU (scope 1) and transboundary scope 3.
        let in_basic = matches!(
            (sector, scope),
            ("stationary_energy" | "transportation", "1" | "2") | ("waste", "1" | "3")
        );
        let in_plus = in_basic
            || matches!(
                (sector, scope),
                ("ippu" | "afolu", "1") | ("stationary_energy" | "transportation", "3")
            );
        if in_basic {
            *basic.entry(key.clone()).or_default() += t;
        }
        if in_plus {
            *plus.entry(key).or_default() += t;
        }
    }
    for ((city, year), e) in &basic {
        close(value(&df, "ghg_total", city, *year).unwrap(), *e, 1e-9);
        close(
            value(&df, "ghg_total_basic_plus", city, *year).unwrap(),
            plus[&(city.clone(), *year)],
            1e-9,
        );
        let base = basic[&(city.clone(), 2019)];
        close(
            value(&df, "ghg_change_vs_base", city, *year).unwrap(),
            100.0 * (e - base) / base,
            1e-9,
        );
    }
    assert!(basic.values().zip(plus.values()).all(|(b, p)| p > b));
}

#[test]
fn labour_rates_pass_through_with_their_flags() {
    let df = read(&sample_out().join("indicators.parquet")).unwrap();
    let rows = df
        .clone()
        .lazy()
        .filter(
            col("indicator")
                .eq(lit("unemployment_rate"))
                .and(col("area").eq(lit("PT_Braga"))),
        )
        .collect()
        .unwrap();
    let src: Vec<_> = csv_rows("sample-data/labour.csv")
        .into_iter()
        .filter(|r| r["cities"] == "PT_Braga" && r["indic_ur"] == "EC1020I")
        .collect();
    assert_eq!(rows.height(), src.len());
    let flags = rows.column("flag").unwrap().str().unwrap();
    let values = rows.column("value").unwrap().f64().unwrap();
    for (i, r) in src.iter().enumerate() {
        assert_eq!(values.get(i), Some(r["OBS_VALUE"].parse().unwrap()));
        assert_eq!(
            flags.get(i),
            if r["OBS_FLAG"].is_empty() {
                None
            } else {
                Some(r["OBS_FLAG"].as_str())
            }
        );
    }
}

#[test]
fn every_row_is_accounted_for() {
    let out = sample_out();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let rejects = read(&out.join("rejects.parquet")).unwrap();
    let mut total_rejected = 0;
    for r in manifest["rows"].as_array().unwrap() {
        let (read_, kept, rejected) = (
            r["read"].as_u64().unwrap(),
            r["kept"].as_u64().unwrap(),
            r["rejected"].as_u64().unwrap(),
        );
        assert_eq!(read_, kept + rejected, "{r}");
        total_rejected += rejected;
        // Rows read = data lines in the file (every sample file is one row per line).
        let path = root().join("sample-data").join(format!(
            "{}.csv",
            if r["source"] == "silc" {
                "silc"
            } else {
                r["source"].as_str().unwrap()
            }
        ));
        let lines = std::fs::read_to_string(path).unwrap().lines().count() as u64 - 1;
        assert_eq!(read_, lines, "{r}");
    }
    assert_eq!(rejects.height() as u64, total_rejected);
    // The planted broken rows are there, with file, line, column and an actionable reason.
    let reasons: Vec<String> = rejects
        .column("reason")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("no exchange rate for GBP; add GBP")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("`weight` (weight): 0 must be greater than 0")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("`eq_income` (income) is empty")),
        "{reasons:?}"
    );
    let silc_lines = std::fs::read_to_string(root().join("sample-data/silc.csv"))
        .unwrap()
        .lines()
        .count() as i64;
    let lines: Vec<i64> = rejects
        .column("line")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert!(
        lines.contains(&(silc_lines - 1)) && lines.contains(&silc_lines),
        "{lines:?}"
    );
}

#[test]
fn manifest_datapackage_and_charts_describe_the_run() {
    let out = sample_out();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    // Inputs with size and BLAKE3 that match the files.
    for input in manifest["inputs"].as_array().unwrap() {
        let path = root()
            .join("pipelines")
            .join(input["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(input["bytes"].as_u64().unwrap(), bytes.len() as u64);
        assert_eq!(
            input["blake3"].as_str().unwrap(),
            blake3::hash(&bytes).to_hex().as_str()
        );
    }
    // Stages with timings, families in parallel after the checks.
    let stages: Vec<&str> = manifest["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    for s in [
        "config",
        "ingest:silc",
        "checks",
        "indicators:exclusion",
        "indicators:spending",
        "indicators:climate",
        "output:tables",
        "output:charts",
    ] {
        assert!(stages.contains(&s), "{stages:?}");
    }
    // Outputs listed with hashes that match.
    for o in manifest["outputs"].as_array().unwrap() {
        let bytes = std::fs::read(out.join(o["path"].as_str().unwrap())).unwrap();
        assert_eq!(
            o["blake3"].as_str().unwrap(),
            blake3::hash(&bytes).to_hex().as_str()
        );
    }
    let dp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("datapackage.json")).unwrap())
            .unwrap();
    assert_eq!(dp["profile"], "tabular-data-package");
    let fields = dp["resources"][0]["schema"]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 14);
    assert!(dp["cityimpact:catalogue"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "arpr" && c["unit"] == "%"));
    // At least one chart per family, PNG and SVG, with titles and axis units in the SVG.
    for (family, title) in [
        ("exclusion", "At-risk-of-poverty rate"),
        ("spending", "Project spending per inhabitant"),
        ("climate", "Greenhouse gas emissions per inhabitant"),
    ] {
        let png = std::fs::read(out.join(format!(
            "charts/{family}-{}-timeseries.png",
            match family {
                "exclusion" => "arpr",
                "spending" => "spend_per_capita",
                _ => "ghg_per_capita",
            }
        )))
        .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg_name = format!(
            "charts/{family}-{}-ranked.svg",
            match family {
                "exclusion" => "arpr",
                "spending" => "spend_per_capita",
                _ => "ghg_per_capita",
            }
        );
        let svg = std::fs::read_to_string(out.join(svg_name)).unwrap();
        assert!(svg.contains(title), "{family}");
        assert!(svg.contains("width=\"1200\"") && svg.contains("height=\"750\""));
    }
}

#[test]
fn the_same_inputs_give_byte_identical_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let again = tmp.path().join("again");
    run_ok("pipelines/sample.toml", &again);
    for f in ["indicators.parquet", "rejects.parquet", "datapackage.json"] {
        assert_eq!(
            std::fs::read(sample_out().join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f} differs"
        );
    }
}

/// Runs `pipelines/eusilc.toml` (laeken's `eusilc`, read from the shared data) once for the
/// tests below; `None` when the shared data is absent (outside CI).
fn eusilc_out() -> Option<&'static Path> {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    shared_data("eusilc/eusilc.csv")?;
    Some(run_once(&OUT, "pipelines/eusilc.toml", "eusilc"))
}

fn row(df: &DataFrame, indicator: &str, breakdown: Option<&str>) -> DataFrame {
    let b = match breakdown {
        Some(b) => col("breakdown").eq(lit(b)),
        None => col("breakdown").is_null(),
    };
    let out = df
        .clone()
        .lazy()
        .filter(
            col("indicator")
                .eq(lit(indicator))
                .and(col("area").eq(lit("ALL")))
                .and(b),
        )
        .collect()
        .unwrap();
    assert_eq!(out.height(), 1, "{indicator} {breakdown:?}");
    out
}

fn get(df: &DataFrame, column: &str) -> f64 {
    df.column(column).unwrap().f64().unwrap().get(0).unwrap()
}

#[test]
fn poverty_rates_match_published_figures_for_laekens_eusilc() {
    let Some(out) = eusilc_out() else { return };
    let df = read(&out.join("indicators.parquet")).unwrap();
    // surveysd's vignette on laeken's eusilc (national threshold, personal weights rb050):
    // 14.44422 % overall, 12.02660 % men, 16.73351 % women.
    close(value(&df, "arpr", "ALL", 2006).unwrap(), 14.44422, 1e-6);
    close(
        get(&row(&df, "arpr", Some("sex=male")), "value"),
        12.02660,
        1e-6,
    );
    close(
        get(&row(&df, "arpr", Some("sex=female")), "value"),
        16.73351,
        1e-6,
    );
    // laeken's own examples for the same data (Alfons & Templ 2013): threshold 10859.24,
    // Gini 26.48962, S80/S20 3.970004.
    close(value(&df, "arpt", "ALL", 2006).unwrap(), 10859.24, 1e-6);
    close(value(&df, "gini", "ALL", 2006).unwrap(), 26.48962, 1e-6);
    close(value(&df, "qsr", "ALL", 2006).unwrap(), 3.970004, 1e-6);
    // Every region is measured against the one national threshold: the weighted rate over
    // regions, weighted by their populations, equals the national rate.
    let regions = df
        .clone()
        .lazy()
        .filter(
            col("indicator")
                .eq(lit("arpr"))
                .and(col("level").eq(lit("region")))
                .and(col("breakdown").is_null()),
        )
        .collect()
        .unwrap();
    assert_eq!(regions.height(), 9);
    let num: f64 = regions
        .column("numerator")
        .unwrap()
        .f64()
        .unwrap()
        .sum()
        .unwrap();
    let den: f64 = regions
        .column("denominator")
        .unwrap()
        .f64()
        .unwrap()
        .sum()
        .unwrap();
    close(100.0 * num / den, 14.44422, 1e-6);
}

#[test]
fn bootstrap_intervals_are_plausible_and_reproducible() {
    let Some(out) = eusilc_out() else { return };
    let df = read(&out.join("indicators.parquet")).unwrap();
    let arpr = row(&df, "arpr", None);
    let (v, lo, hi) = (
        get(&arpr, "value"),
        get(&arpr, "ci_low"),
        get(&arpr, "ci_high"),
    );
    assert!(lo < v && v < hi, "{lo} {v} {hi}");
    // surveysd publishes bootstrap standard errors of 0.36 to 0.53 points for this rate; a
    // 95 % interval is about ±1.96 standard errors.
    let se = (hi - lo) / (2.0 * 1.96);
    assert!((0.3..0.65).contains(&se), "standard error {se}");
    // Every microdata value has an interval around it, except groups too small to resample.
    let ci = df.column("ci_low").unwrap().f64().unwrap();
    let ind = df.column("indicator").unwrap().str().unwrap();
    let with_ci = (0..df.height()).filter(|&i| ci.get(i).is_some()).count();
    let micro = (0..df.height())
        .filter(|&i| !ind.get(i).unwrap().ends_with("_change"))
        .count();
    assert_eq!(with_ci, micro);
    // The same seed gives the same intervals (the tables are byte-identical), another seed
    // other intervals.
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("pipelines/eusilc.toml")).unwrap();
    let csv = shared_data("eusilc/eusilc.csv").unwrap();
    let reseeded = text.replace("../../shared/data/eusilc/eusilc.csv", csv.to_str().unwrap()).replace(
        "breakdowns = [[\"area\"], [\"sex\"], [\"age_group\"]]",
        "breakdowns = [[\"area\"], [\"sex\"], [\"age_group\"]]\nbootstrap = { replicates = 500, seed = 99 }",
    );
    assert_ne!(reseeded, text);
    std::fs::write(tmp.path().join("p.toml"), reseeded).unwrap();
    run_ok(
        tmp.path().join("p.toml").to_str().unwrap(),
        &tmp.path().join("o"),
    );
    let other = read(&tmp.path().join("o/indicators.parquet")).unwrap();
    let o = row(&other, "arpr", None);
    assert_eq!(get(&o, "value"), v);
    assert_ne!(get(&o, "ci_low"), lo);
    close(get(&o, "ci_low"), lo, 0.05);
}

#[test]
fn household_income_is_equivalised_on_the_oecd_modified_scale() {
    // eusilc.csv carries laeken's own equivalised size (eqSS, OECD-modified, from db030 and
    // age) and eqIncome. Give cityimpact household income = eqIncome × eqSS and only the
    // ages: it must equivalise back to eqIncome and find the same poverty rate.
    let Some(eusilc) = shared_data("eusilc/eusilc.csv") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut r = csv::Reader::from_path(eusilc).unwrap();
    let mut w = csv::Writer::from_path(tmp.path().join("hh.csv")).unwrap();
    w.write_record(["db030", "age", "rb090", "rb050", "hh_income"])
        .unwrap();
    let h = r.headers().unwrap().clone();
    let at = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (db030, age, sex, rb050, eqss, eqinc) = (
        at("db030"),
        at("age"),
        at("rb090"),
        at("rb050"),
        at("eqSS"),
        at("eqIncome"),
    );
    for rec in r.records() {
        let rec = rec.unwrap();
        let hh: f64 = rec[eqinc].parse::<f64>().unwrap() * rec[eqss].parse::<f64>().unwrap();
        w.write_record([
            &rec[db030],
            &rec[age],
            &rec[sex],
            &rec[rb050],
            &hh.to_string(),
        ])
        .unwrap();
    }
    w.flush().unwrap();
    std::fs::write(
        tmp.path().join("p.toml"),
        "[pipeline]\nname = \"hh\"\n[sources.silc]\nkind = \"microdata\"\npath = \"hh.csv\"\nperiod = 2006\n\
         columns = { household_income = \"hh_income\", weight = \"rb050\", household = \"db030\", sex = \"rb090\" }\n\
         [indicators]\nexclusion = [\"arpr\"]\nspending = \"none\"\nclimate = \"none\"\nbootstrap = { replicates = 0 }\n",
    )
    .unwrap();
    run_ok(
        tmp.path().join("p.toml").to_str().unwrap(),
        &tmp.path().join("o"),
    );
    let df = read(&tmp.path().join("o/indicators.parquet")).unwrap();
    close(value(&df, "arpr", "ALL", 2006).unwrap(), 14.44422, 1e-6);
    assert!(
        df.column("ci_low").unwrap().f64().unwrap().get(0).is_none(),
        "replicates = 0 turns intervals off"
    );
}

#[test]
fn the_samples_own_sql_indicator_counts_projects_by_hand() {
    let df = read(&sample_out().join("indicators.parquet")).unwrap();
    // sample-data/projects.csv: NL_AMF_Noord has two projects starting in 2019 (SI-0002 and
    // one more, several funder rows each); areas.csv gives it 64 780 inhabitants in 2019.
    let rows = csv_rows("sample-data/projects.csv");
    let started: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| r["district"] == "NL_AMF_Noord" && r["start_date"].starts_with("2019"))
        .map(|r| r["project_id"].as_str())
        .collect();
    assert_eq!(started.len(), 2);
    let v = value(&df, "projects_per_10k", "NL_AMF_Noord", 2019).unwrap();
    assert!((v - 2.0 * 10_000.0 / 64_780.0).abs() < 1e-12, "{v}");
}

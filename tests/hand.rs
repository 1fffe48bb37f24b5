//! Spending and climate indicators on a case small enough to work out by hand. Every expected
//! value below is computed in the comment beside it from the fixture, not from cityimpact.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cityimpact::output::parquet::read;
use common::*;
use polars::prelude::*;

const AREAS: &str = "area,population,green_space_m2
A,50000,1500000
B,,200000
";

// P1: three funders, 100 000 in all, 100 beneficiaries, no tonnes reported.
// P2: one funder (EU), zero beneficiaries, 250 t avoided, 2021-06-01 to 2022-05-31.
// P3: philanthropy only, in B (no population), zero tonnes.
const PROJECTS: &str = "id,area,amount,start,end,funding_source,beneficiaries,co2e_avoided_t
P1,A,60000,2021-01-01,2021-12-31,public,100,
P1,A,30000,2021-01-01,2021-12-31,crowdfunding,100,
P1,A,10000,2021-01-01,2021-12-31,impact_investment,100,
P2,A,50000,2021-06-01,2022-05-31,eu_fund,0,250
P3,B,20000,2022-03-01,,philanthropy,40,0
";

const OUTCOMES: &str =
    "project,outcome,quantity,proxy,deadweight,displacement,attribution,drop_off,duration_years
P1,jobs,10,5000,0.2,0,0.25,0.5,2
P9,ghost,1,1,,,,,
";

const EMISSIONS: &str = "area,period,sector,scope,tco2e
A,2020,stationary_energy,1,100
A,2020,stationary_energy,2,50
A,2020,stationary_energy,3,20
A,2020,transportation,1,80
A,2020,transportation,3,10
A,2020,waste,1,5
A,2020,waste,2,7
A,2020,waste,3,6
A,2020,ippu,1,30
A,2020,afolu,1,-12
A,2021,stationary_energy,1,90
A,2021,transportation,1,70
";

const PROCUREMENT: &str = "id,buyer,supplier,amount,date,supplier_type,area
C1,City A,S1,100,2021-02-01,social_enterprise,A
C2,City A,S2,300,2021-05-01,sme,A
C3,City A,S3,0,2021-07-01,other,A
";

fn pipeline(dir: &Path, spread: &str) -> PathBuf {
    for (name, text) in [
        ("areas.csv", AREAS),
        ("projects.csv", PROJECTS),
        ("outcomes.csv", OUTCOMES),
        ("emissions.csv", EMISSIONS),
        ("procurement.csv", PROCUREMENT),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let toml = format!(
        "[pipeline]\nname = \"hand\"\n\
         [sources.areas]\nkind = \"areas\"\npath = \"areas.csv\"\n\
         [sources.projects]\nkind = \"projects\"\npath = \"projects.csv\"\nspread = \"{spread}\"\n\
         [sources.outcomes]\nkind = \"outcomes\"\npath = \"outcomes.csv\"\n\
         [sources.emissions]\nkind = \"emissions\"\npath = \"emissions.csv\"\n\
         [sources.procurement]\nkind = \"procurement\"\npath = \"procurement.csv\"\n\
         [indicators]\nexclusion = \"none\"\nsroi = {{ discount_rate = 0.035, deadweight = [0.0, 0.4] }}\n"
    );
    let path = dir.join("hand.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn out() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let p = pipeline(&dir, "start-year");
        run_ok(p.to_str().unwrap(), &dir.join("out"));
        dir.join("out")
    })
}

fn indicators() -> DataFrame {
    read(&out().join("indicators.parquet")).unwrap()
}

/// The one value of an indicator for an area, period and breakdown, or None.
fn v(df: &DataFrame, id: &str, area: &str, period: i32, breakdown: Option<&str>) -> Option<f64> {
    let b = match breakdown {
        Some(b) => col("breakdown").eq(lit(b)),
        None => col("breakdown").is_null(),
    };
    let rows = df
        .clone()
        .lazy()
        .filter(
            col("indicator")
                .eq(lit(id))
                .and(col("area").eq(lit(area)))
                .and(col("period").eq(lit(period)))
                .and(b),
        )
        .collect()
        .unwrap();
    assert!(rows.height() <= 1);
    (rows.height() == 1)
        .then(|| rows.column("value").unwrap().f64().unwrap().get(0))
        .flatten()
}

fn close(a: Option<f64>, b: f64) {
    let a = a.unwrap_or_else(|| panic!("no value, expected {b}"));
    assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn project_level_indicators() {
    let df = indicators();
    // P1: 60 000 + 30 000 + 10 000 = 100 000 over 100 beneficiaries = 1 000 per beneficiary.
    close(v(&df, "cost_per_beneficiary", "P1", 2021, None), 1000.0);
    // Shares of 100 000: public 60 %, crowdfunding 30 %, impact investment 10 %.
    close(v(&df, "financing_share_public", "P1", 2021, None), 60.0);
    close(
        v(&df, "financing_share_crowdfunding", "P1", 2021, None),
        30.0,
    );
    close(
        v(&df, "financing_share_impact_investment", "P1", 2021, None),
        10.0,
    );
    // Leverage: (30 000 + 10 000) non-public / 60 000 public = 2/3.
    close(
        v(&df, "leverage_ratio", "P1", 2021, None),
        40_000.0 / 60_000.0,
    );
    // P2: 50 000 EUR for 250 t = 200 EUR per tonne; zero beneficiaries: no value.
    close(v(&df, "cost_per_tco2e_avoided", "P2", 2021, None), 200.0);
    assert_eq!(v(&df, "cost_per_beneficiary", "P2", 2021, None), None);
    // P3: 20 000 / 40 = 500; zero tonnes: 0 avoided, but no cost per tonne; no public money:
    // no leverage.
    close(v(&df, "cost_per_beneficiary", "P3", 2022, None), 500.0);
    close(v(&df, "co2e_avoided", "P3", 2022, None), 0.0);
    assert_eq!(v(&df, "cost_per_tco2e_avoided", "P3", 2022, None), None);
    assert_eq!(v(&df, "leverage_ratio", "P3", 2022, None), None);
}

#[test]
fn sroi_with_drop_off_and_discounting() {
    let df = indicators();
    // P1's outcome: 10 jobs × 5 000 × (1 − 0.2) × (1 − 0) × (1 − 0.25) = 30 000 in year 1,
    // 30 000 × (1 − 0.5) = 15 000 in year 2. PV = 30 000/1.035 + 15 000/1.035²
    // = 28 985.507… + 14 002.660… = 42 988.167…; inputs 100 000: SROI 0.42988…
    let pv = 30_000.0 / 1.035 + 15_000.0 / 1.035_f64.powi(2);
    close(v(&df, "sroi", "P1", 2021, None), pv / 100_000.0);
    // Area A in 2021 has one project with outcomes: the same ratio.
    close(v(&df, "sroi", "A", 2021, None), pv / 100_000.0);
    let projects = read(&out().join("projects.parquet")).unwrap();
    let p1 = projects
        .clone()
        .lazy()
        .filter(col("project").eq(lit("P1")))
        .collect()
        .unwrap();
    let get = |c: &str| p1.column(c).unwrap().f64().unwrap().get(0);
    close(get("sroi_present_value"), pv);
    close(get("sroi_net_present_value"), pv - 100_000.0);
    // Deadweight over [0, 0.4]: the value scales with (1 − dw)/(1 − 0.2), so the range is
    // SROI × 0.6/0.8 to SROI × 1/0.8.
    close(get("sroi_min"), pv / 100_000.0 * 0.6 / 0.8);
    close(get("sroi_max"), pv / 100_000.0 / 0.8);
    // The outcome of a project no source has is reported, not silently lost.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out().join("manifest.json")).unwrap())
            .unwrap();
    let skipped = manifest["skipped"].to_string();
    assert!(
        skipped.contains("project `P9`, which no projects source has"),
        "{skipped}"
    );
    let outcomes = read(&out().join("outcomes.parquet")).unwrap();
    assert_eq!(outcomes.height(), 1);
}

#[test]
fn area_spending() {
    let df = indicators();
    // A, 2021 (start years): P1 100 000 + P2 50 000 = 150 000; per capita / 50 000 = 3.
    close(v(&df, "spend_total", "A", 2021, None), 150_000.0);
    close(v(&df, "spend_per_capita", "A", 2021, None), 3.0);
    // Cost per beneficiary over projects with beneficiaries: P1 only, 100 000 / 100.
    close(v(&df, "cost_per_beneficiary", "A", 2021, None), 1000.0);
    // Shares of 150 000: public 60 000 (40 %), EU 50 000 (33.3 %), crowdfunding 30 000
    // (20 %), impact investment 10 000 (6.67 %). Leverage 40 000 / 110 000.
    close(v(&df, "financing_share_public", "A", 2021, None), 40.0);
    close(
        v(&df, "financing_share_eu_fund", "A", 2021, None),
        100.0 / 3.0,
    );
    close(
        v(&df, "financing_share_crowdfunding", "A", 2021, None),
        20.0,
    );
    close(
        v(&df, "leverage_ratio", "A", 2021, None),
        40_000.0 / 110_000.0,
    );
    // B has no population: spending, but no spending per capita, and the manifest says why.
    close(v(&df, "spend_total", "B", 2022, None), 20_000.0);
    assert_eq!(v(&df, "spend_per_capita", "B", 2022, None), None);
    let manifest = std::fs::read_to_string(out().join("manifest.json")).unwrap();
    assert!(
        manifest.contains("no population for this area and period"),
        "{manifest}"
    );
    // Social procurement: 100 of 100 + 300 + 0 = 25 %.
    close(v(&df, "social_procurement_share", "A", 2021, None), 25.0);
}

#[test]
fn gpc_basic_and_basic_plus() {
    let df = indicators();
    // BASIC 2020: stationary energy 1+2 (100 + 50), transportation 1+2 (80), waste 1+3
    // (5 + 6) = 241. Not: stationary energy 3 (20), transportation 3 (10), waste 2 (7),
    // IPPU (30), AFOLU (−12).
    close(v(&df, "ghg_total", "A", 2020, None), 241.0);
    // BASIC+ adds IPPU and AFOLU scope 1 and stationary energy / transportation scope 3:
    // 241 + 30 − 12 + 20 + 10 = 289. Waste scope 2 is in neither.
    close(v(&df, "ghg_total_basic_plus", "A", 2020, None), 289.0);
    // Breakdowns of BASIC: by sector, by scope, by both (keys sorted).
    close(
        v(
            &df,
            "ghg_total",
            "A",
            2020,
            Some("sector=stationary_energy"),
        ),
        150.0,
    );
    close(v(&df, "ghg_total", "A", 2020, Some("sector=waste")), 11.0);
    close(v(&df, "ghg_total", "A", 2020, Some("scope=1")), 185.0);
    close(
        v(&df, "ghg_total", "A", 2020, Some("scope=3;sector=waste")),
        6.0,
    );
    assert_eq!(v(&df, "ghg_total", "A", 2020, Some("sector=ippu")), None);
    // Per capita: 241 / 50 000. Change vs the first year: 2021 BASIC 90 + 70 = 160,
    // 100 × (160 − 241) / 241.
    close(v(&df, "ghg_per_capita", "A", 2020, None), 241.0 / 50_000.0);
    close(
        v(&df, "ghg_change_vs_base", "A", 2021, None),
        100.0 * (160.0 - 241.0) / 241.0,
    );
    close(v(&df, "ghg_change_vs_base", "A", 2020, None), 0.0);
    // Green area: 1 500 000 m² = 150 ha for 50 000 people = 300 ha per 100 000.
    close(green(&df, "A"), 300.0);
    // Tonnes avoided per area: P2's 250 t in 2021.
    close(v(&df, "co2e_avoided", "A", 2021, None), 250.0);
    close(v(&df, "cost_per_tco2e_avoided", "A", 2021, None), 200.0);
}

/// green_area_per_100k has no period here (the areas file has none).
fn green(df: &DataFrame, area: &str) -> Option<f64> {
    let rows = df
        .clone()
        .lazy()
        .filter(
            col("indicator")
                .eq(lit("green_area_per_100k"))
                .and(col("area").eq(lit(area))),
        )
        .collect()
        .unwrap();
    assert_eq!(rows.height(), 1);
    rows.column("value").unwrap().f64().unwrap().get(0)
}

#[test]
fn no_infinity_or_nan_anywhere() {
    for table in ["indicators", "projects", "outcomes"] {
        let df = read(&out().join(format!("{table}.parquet"))).unwrap();
        for c in df.columns() {
            if let Ok(f) = c.as_materialized_series().f64() {
                assert!(
                    f.iter().flatten().all(f64::is_finite),
                    "{table}.{}",
                    c.name()
                );
            }
        }
    }
}

#[test]
fn pro_rata_spreads_by_days() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), "pro-rata");
    run_ok(p.to_str().unwrap(), &dir.path().join("out"));
    let df = read(&dir.path().join("out/indicators.parquet")).unwrap();
    // P2 runs 2021-06-01 to 2022-05-31: 365 days, 214 of them in 2021 (June 30 + July 31 +
    // August 31 + September 30 + October 31 + November 30 + December 31) and 151 in 2022.
    let p2_2021 = 50_000.0 * 214.0 / 365.0;
    let p2_2022 = 50_000.0 * 151.0 / 365.0;
    // P1 lies within 2021; P3 has no end date and stays in 2022.
    close(v(&df, "spend_total", "A", 2021, None), 100_000.0 + p2_2021);
    close(v(&df, "spend_total", "A", 2022, None), p2_2022);
    close(v(&df, "spend_total", "B", 2022, None), 20_000.0);
    // The EU share of A in 2022 is all of it.
    close(v(&df, "financing_share_eu_fund", "A", 2022, None), 100.0);
}

#[test]
fn area_and_project_values_of_one_indicator_are_merged_in_order() {
    // co2e_avoided: areas A (P2's 250 t, 2021) and B (P3's 0 t, stated, 2022), and the
    // projects that state tonnes: P2 (250) and P3 (0). Sorted by area: A, B, P2, P3. The table is written a row
    // group at a time from two sources (area values, per-project columns); its order must
    // still be the contract's.
    let df = indicators()
        .lazy()
        .filter(col("indicator").eq(lit("co2e_avoided")))
        .collect()
        .unwrap();
    assert_eq!(str_column(&df, "area"), ["A", "B", "P2", "P3"]);
    let levels = str_column(&df, "level");
    assert!(levels[..2].iter().all(|l| l != "project"), "{levels:?}");
    assert_eq!(&levels[2..], ["project", "project"]);
    let values: Vec<Option<f64>> = df.column("value").unwrap().f64().unwrap().iter().collect();
    assert_eq!(values, [Some(250.0), Some(0.0), Some(250.0), Some(0.0)]);
    // Every indicator's rows are in (area, period, breakdown) order, whichever way they came.
    let all = indicators();
    let sorted = all
        .sort(
            ["indicator", "area", "period", "breakdown"],
            SortMultipleOptions::default()
                .with_nulls_last(false)
                .with_maintain_order(true),
        )
        .unwrap();
    assert!(all.equals_missing(&sorted));
}

#[test]
fn projects_without_a_value_share_one_note_per_reason() {
    // P2 states zero beneficiaries: no cost per beneficiary, and one note that names it and
    // counts it. P3 states zero tonnes: no cost per tonne.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out().join("manifest.json")).unwrap())
            .unwrap();
    let notes: Vec<&serde_json::Value> = manifest["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["projects"].is_u64())
        .collect();
    let find = |id: &str| {
        notes
            .iter()
            .find(|s| s["indicator"] == id)
            .unwrap_or_else(|| panic!("no note for {id}: {notes:?}"))
    };
    let cpb = find("cost_per_beneficiary");
    assert_eq!(cpb["area"], "P2");
    assert_eq!(cpb["projects"], 1);
    assert_eq!(cpb["reason"], "the project reports zero beneficiaries");
    let cpt = find("cost_per_tco2e_avoided");
    assert_eq!(
        (cpt["area"].as_str(), cpt["projects"].as_u64()),
        (Some("P3"), Some(1))
    );
}

//! Inputs that once put a user's data or a published number at risk: extreme magnitudes,
//! repeated and conflicting rows, inventories without scopes, small survey groups, and money in
//! another reporting currency. Every expected value is worked out in the comment beside it.

mod common;

use std::path::{Path, PathBuf};

use cityimpact::output::parquet::read;
use common::*;
use polars::prelude::*;

/// Writes `files` and a pipeline (`toml`, after a `[pipeline]` header) into a fresh folder,
/// runs it, and returns the folder and the run's output.
fn run_case(files: &[(&str, &str)], toml: &str) -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let p = dir.path().join("p.toml");
    std::fs::write(&p, format!("[pipeline]\nname = \"case\"\n{toml}")).unwrap();
    let out = dir.path().join("out");
    let o = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    (dir, o)
}

fn out(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("out")
}

fn rows(df: &DataFrame, id: &str, area: &str, breakdown: Option<&str>) -> DataFrame {
    let b = match breakdown {
        Some(b) => col("breakdown").eq(lit(b)),
        None => col("breakdown").is_null(),
    };
    df.clone()
        .lazy()
        .filter(
            col("indicator")
                .eq(lit(id))
                .and(col("area").eq(lit(area)))
                .and(b),
        )
        .collect()
        .unwrap()
}

fn one(df: &DataFrame, id: &str, area: &str, breakdown: Option<&str>) -> (f64, Option<String>) {
    let r = rows(df, id, area, breakdown);
    assert_eq!(r.height(), 1, "{id} {area} {breakdown:?}: {r}");
    (
        r.column("value").unwrap().f64().unwrap().get(0).unwrap(),
        r.column("flag")
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .map(String::from),
    )
}

fn rejects(dir: &Path) -> DataFrame {
    read(&dir.join("rejects.parquet")).unwrap()
}

fn reasons(df: &DataFrame) -> Vec<String> {
    df.column("reason")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap_or("").to_string())
        .collect()
}

/// Every float column of every table is finite.
fn assert_all_finite(dir: &Path) {
    for table in ["indicators", "projects", "outcomes"] {
        let path = dir.join(format!("{table}.parquet"));
        if !path.exists() {
            continue;
        }
        let df = read(&path).unwrap();
        for c in df.columns() {
            if let Ok(f) = c.f64() {
                assert!(
                    f.iter().flatten().all(f64::is_finite),
                    "{table}.{} holds NaN or inf",
                    c.name()
                );
            }
        }
    }
}

const NO_FAMILIES: &str =
    "spending = \"none\"\nclimate = \"none\"\nbootstrap = { replicates = 0 }\n";

/// 60 persons, one per household, unit weight, incomes 1 000 .. 60 000; `extra` rows after.
fn survey(extra: &str) -> String {
    let mut s = String::from("id,income,weight\n");
    for i in 1..=60 {
        s.push_str(&format!("{i},{},1\n", i * 1000));
    }
    s.push_str(extra);
    s
}

#[test]
fn extreme_magnitudes_are_rejected_and_no_table_holds_nan_or_inf() {
    // An income and a weight of 1e308 would overflow every sum (gini = NaN, qsr = inf):
    // rejected as beyond ±1e15, with the reason.
    let data = survey("61,1e308,1\n62,5000,1e308\n63,-1e300,1\n");
    let (dir, o) = run_case(
        &[("silc.csv", &data)],
        "[sources.silc]\nkind = \"microdata\"\npath = \"silc.csv\"\nperiod = 2020\n\
         columns = { household = \"id\" }\n[indicators]\nexclusion = \"all\"\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = rejects(&out(&dir));
    assert_eq!(r.height(), 3, "{r}");
    for reason in reasons(&r) {
        assert!(reason.contains("beyond ±1e15"), "{reason}");
    }
    let df = read(&out(&dir).join("indicators.parquet")).unwrap();
    // The 60 normal persons: median of 1 000..60 000 (60 values, W = 60, pW = 30 exactly at
    // x_30 = 30 000): (30 000 + 31 000) / 2 = 30 500; threshold 0.6 × 30 500 = 18 300;
    // 18 persons below it (1 000..18 000): 30 %.
    assert!((one(&df, "arpt", "ALL", None).0 - 18_300.0).abs() < 1e-9);
    assert!((one(&df, "arpr", "ALL", None).0 - 30.0).abs() < 1e-9);
    assert_all_finite(&out(&dir));
}

#[test]
fn large_but_sane_magnitudes_compute_without_overflow() {
    // Incomes of 1e13 .. 6e14 with weights of 1e14, near the ±1e15 bound: the products and
    // squares in the Gini stay finite. Gini and S80/S20 do not depend on the scale of incomes
    // or weights, so the survey gives the values of incomes 1 .. 60 with unit weights.
    let mut big = String::from("id,income,weight\n");
    let mut small = String::from("id,income,weight\n");
    for i in 1..=60 {
        big.push_str(&format!("{i},{},1e14\n", i as f64 * 1e13));
        small.push_str(&format!("{i},{},1\n", i));
    }
    let toml = |f: &str| {
        format!(
            "[sources.silc]\nkind = \"microdata\"\npath = \"{f}\"\nperiod = 2020\n\
             columns = {{ household = \"id\" }}\n[indicators]\nexclusion = [\"gini\", \"qsr\", \"arpr\"]\n{NO_FAMILIES}"
        )
    };
    let (b, o) = run_case(&[("silc.csv", &big)], &toml("silc.csv"));
    assert!(o.status.success(), "{}", stderr(&o));
    let (s, o) = run_case(&[("silc.csv", &small)], &toml("silc.csv"));
    assert!(o.status.success(), "{}", stderr(&o));
    let (db, ds) = (
        read(&out(&b).join("indicators.parquet")).unwrap(),
        read(&out(&s).join("indicators.parquet")).unwrap(),
    );
    // Gini of 1..60 with equal weights, by Eurostat's formula (weights cancel):
    // (2 Σ i·x_i − Σ x_i) / (n Σ x_i) − 1 with Σ x_i = 1 830, Σ i·x_i = Σ i² = 73 810:
    // (147 620 − 1 830) / (60 × 1 830) − 1 = 145 790 / 109 800 − 1 = 0.327777…
    let gini = 100.0 * (145_790.0 / 109_800.0 - 1.0);
    assert!((one(&ds, "gini", "ALL", None).0 - gini).abs() < 1e-9);
    assert!((one(&db, "gini", "ALL", None).0 - gini).abs() < 1e-9);
    assert!((one(&db, "qsr", "ALL", None).0 - one(&ds, "qsr", "ALL", None).0).abs() < 1e-9);
    assert_all_finite(&out(&b));
}

#[test]
fn eurostat_publication_rule_no_value_under_20_records_a_flag_under_50() {
    // Region S has 19 persons, M 20, L 50 (unit weights, one person per household).
    let mut s = String::from("id,income,weight,region\n");
    let mut id = 0;
    for (region, n) in [("S", 19), ("M", 20), ("L", 50)] {
        for k in 1..=n {
            id += 1;
            s.push_str(&format!("{id},{},1,{region}\n", 1000 * k));
        }
    }
    let (dir, o) = run_case(
        &[("silc.csv", &s)],
        &format!(
            "[sources.silc]\nkind = \"microdata\"\npath = \"silc.csv\"\nperiod = 2020\n\
             columns = {{ household = \"id\", area = \"region\" }}\n[indicators]\nexclusion = [\"arpr\", \"gini\"]\nbreakdowns = [[\"area\"]]\n{NO_FAMILIES}"
        ),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let df = read(&out(&dir).join("indicators.parquet")).unwrap();
    assert_eq!(
        rows(&df, "arpr", "S", None).height(),
        0,
        "19 records: not published"
    );
    assert_eq!(rows(&df, "gini", "S", None).height(), 0);
    assert_eq!(
        one(&df, "arpr", "M", None).1.as_deref(),
        Some("low_reliability")
    );
    assert_eq!(
        one(&df, "arpr", "L", None).1,
        None,
        "50 records: published as it is"
    );
    // 89 records nationally: published without a flag.
    assert_eq!(one(&df, "arpr", "ALL", None).1, None);
    // The manifest says why S has no value.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out(&dir).join("manifest.json")).unwrap()).unwrap();
    let why: Vec<&serde_json::Value> = m["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["area"] == "S" && s["indicator"] == "arpr")
        .collect();
    assert_eq!(why.len(), 1, "{:#}", m["skipped"]);
    assert!(why[0]["reason"].as_str().unwrap().contains("19 records"));
}

#[test]
fn lwi_counts_work_intensity_of_exactly_20_percent() {
    // 2021 definition: 20 % or less. Persons aged 30 with WI 0.2, 0.1, 0.5 and 0.9, 15 of each
    // (60 persons): 30 of 60 are in very-low-work-intensity households = 50 %. With the old
    // "below 20 %" it would be 25 %.
    let mut s = String::from("id,income,weight,age,wi\n");
    for i in 0..60 {
        let wi = [0.2, 0.1, 0.5, 0.9][i % 4];
        s.push_str(&format!("{i},{},1,30,{wi}\n", 1000 + i));
    }
    let (dir, o) = run_case(
        &[("silc.csv", &s)],
        &format!(
            "[sources.silc]\nkind = \"microdata\"\npath = \"silc.csv\"\nperiod = 2021\n\
             columns = {{ household = \"id\", work_intensity = \"wi\" }}\n[indicators]\nexclusion = [\"lwi\"]\n{NO_FAMILIES}"
        ),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let df = read(&out(&dir).join("indicators.parquet")).unwrap();
    assert!((one(&df, "lwi", "ALL", None).0 - 50.0).abs() < 1e-9);
}

#[test]
fn gpc_rows_without_scope_are_never_silently_basic_and_sub_sectors_add_up() {
    // Area A: stationary energy scope 1 reported by two sub-sectors (residential 60,
    // commercial 40): summed, 100, not a duplicate. An IPPU row with a blank scope (500):
    // outside BASIC whatever its scope, so A's BASIC is 100 + transport scope 1 (30) = 130,
    // unflagged. Area B: a transport row without a scope (70) could be scope 1, 2 (BASIC) or 3:
    // B's total adds it in full, 20 + 70 = 90, flagged `estimated`.
    let emissions = "area,period,sector,scope,tco2e
A,2020,stationary_energy,1,60
A,2020,stationary_energy,1,40
A,2020,transportation,1,30
A,2020,ippu,,500
B,2020,waste,1,20
B,2020,transportation,,70
";
    let (dir, o) = run_case(
        &[("ghg.csv", emissions)],
        "[sources.ghg]\nkind = \"emissions\"\npath = \"ghg.csv\"\n\
         [indicators]\nexclusion = \"none\"\nspending = \"none\"\nclimate = [\"ghg_total\", \"ghg_total_basic_plus\"]\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        rejects(&out(&dir)).height(),
        0,
        "sub-sector rows are not duplicates"
    );
    let df = read(&out(&dir).join("indicators.parquet")).unwrap();
    assert_eq!(one(&df, "ghg_total", "A", None), (130.0, None));
    assert_eq!(
        one(&df, "ghg_total", "B", None),
        (90.0, Some("estimated".to_string()))
    );
    // BASIC+: A's IPPU row without a scope cannot be placed (only IPPU scope 1 is BASIC+):
    // 130 + 500 = 630, flagged. B's transport row is BASIC+ whatever its scope: 90, unflagged.
    assert_eq!(
        one(&df, "ghg_total_basic_plus", "A", None),
        (630.0, Some("estimated".to_string()))
    );
    assert_eq!(one(&df, "ghg_total_basic_plus", "B", None), (90.0, None));
}

#[test]
fn a_repeated_outcome_is_rejected_and_counts_once() {
    // One project of 10 000; the outcome "jobs" (10 × 500, one year, nothing deducted) appears
    // twice. Counted once: PV = 5 000 / 1.035 = 4 830.92…, SROI = 0.483…
    let projects = "id,area,amount,start\nP1,A,10000,2021-01-01\n";
    let outcomes = "project,outcome,quantity,proxy\nP1,jobs,10,500\nP1,jobs,10,500\n";
    let (dir, o) = run_case(
        &[("projects.csv", projects), ("outcomes.csv", outcomes)],
        "[sources.projects]\nkind = \"projects\"\npath = \"projects.csv\"\n\
         [sources.outcomes]\nkind = \"outcomes\"\npath = \"outcomes.csv\"\n\
         [indicators]\nexclusion = \"none\"\nclimate = \"none\"\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = rejects(&out(&dir));
    assert_eq!(r.height(), 1, "{r}");
    assert_eq!(r.column("line").unwrap().i64().unwrap().get(0), Some(3));
    assert!(reasons(&r)[0].contains("line 2"), "{:?}", reasons(&r));
    let df = read(&out(&dir).join("indicators.parquet")).unwrap();
    let sroi = one(&df, "sroi", "P1", None).0;
    assert!((sroi - 5_000.0 / 1.035 / 10_000.0).abs() < 1e-12, "{sroi}");
}

#[test]
fn project_ids_are_unique_per_source_unless_the_sources_share_an_id_space() {
    // Two funders both number their grants from G1. Without an id space they are two projects:
    // each source's G1 is its own (10 000 in A, 30 000 in B), and project-level rows name them
    // by source. With a shared id space they are one project of 40 000.
    let a = "id,area,amount,start,beneficiaries\nG1,A,10000,2021-01-01,10\n";
    let b = "id,area,amount,start,beneficiaries\nG1,A,30000,2021-03-01,10\n";
    let toml = |space: &str| {
        format!(
            "[sources.city]\nkind = \"projects\"\npath = \"a.csv\"\n{space}\
             [sources.fund]\nkind = \"projects\"\npath = \"b.csv\"\n{space}\
             [indicators]\nexclusion = \"none\"\nclimate = \"none\"\nspending = [\"spend_total\", \"cost_per_beneficiary\"]\n"
        )
    };
    let (dir, o) = run_case(&[("a.csv", a), ("b.csv", b)], &toml(""));
    assert!(o.status.success(), "{}", stderr(&o));
    let df = read(&out(&dir).join("indicators.parquet")).unwrap();
    assert_eq!(one(&df, "cost_per_beneficiary", "city/G1", None).0, 1_000.0);
    assert_eq!(one(&df, "cost_per_beneficiary", "fund/G1", None).0, 3_000.0);
    // The area total agrees with its projects: 10 000 + 30 000.
    assert_eq!(one(&df, "spend_total", "A", None).0, 40_000.0);

    let (dir, o) = run_case(
        &[("a.csv", a), ("b.csv", b)],
        &toml("id_space = \"grants\"\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let df = read(&out(&dir).join("indicators.parquet")).unwrap();
    // One project: 40 000 over its 10 beneficiaries (stated once, not added).
    assert_eq!(one(&df, "cost_per_beneficiary", "G1", None).0, 4_000.0);
}

#[test]
fn a_conflicting_population_is_rejected_naming_both_rows() {
    let first = "area,population\nA,50000\nB,20000\n";
    let second = "area,population\nA,50000\nB,25000\n";
    let (dir, o) = run_case(
        &[("a1.csv", first), ("a2.csv", second)],
        "[sources.census]\nkind = \"areas\"\npath = \"a1.csv\"\nperiod = 2020\n\
         [sources.register]\nkind = \"areas\"\npath = \"a2.csv\"\nperiod = 2020\n\
         [indicators]\nexclusion = \"none\"\nspending = \"none\"\nclimate = \"none\"\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = rejects(&out(&dir));
    // A agrees in both sources; B does not: the later source's row (line 3) is rejected.
    assert_eq!(r.height(), 1, "{r}");
    assert_eq!(
        r.column("source").unwrap().str().unwrap().get(0),
        Some("register")
    );
    assert_eq!(r.column("line").unwrap().i64().unwrap().get(0), Some(3));
    let why = &reasons(&r)[0];
    assert!(why.contains("25000") && why.contains("20000"), "{why}");
    assert!(why.contains("`census` (line 3)"), "{why}");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out(&dir).join("manifest.json")).unwrap()).unwrap();
    let register = m["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "register")
        .unwrap()
        .clone();
    assert_eq!(
        (
            register["read"].as_u64(),
            register["kept"].as_u64(),
            register["rejected"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
}

#[test]
fn two_sources_giving_one_value_fail_the_run_naming_the_key() {
    let rates = "area,period,variable,value\nA,2020,unemployment_rate,7.5\n";
    let (dir, o) = run_case(
        &[
            ("l1.csv", rates),
            (
                "l2.csv",
                "area,period,variable,value\nA,2020,unemployment_rate,8.0\n",
            ),
        ],
        "[sources.lfs]\nkind = \"city_stats\"\npath = \"l1.csv\"\n\
         [sources.register]\nkind = \"city_stats\"\npath = \"l2.csv\"\n\
         [indicators]\nspending = \"none\"\nclimate = \"none\"\n",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("two values for one key"), "{err}");
    assert!(err.contains("`unemployment_rate`, area `A`"), "{err}");
    assert!(!out(&dir).join("indicators.parquet").exists());
}

#[test]
fn units_follow_the_reporting_currency() {
    let projects = "id,area,amount,start,beneficiaries\nP1,A,10000,2021-01-01,10\n";
    let (dir, o) = run_case(
        &[("projects.csv", projects)],
        "[sources.projects]\nkind = \"projects\"\npath = \"projects.csv\"\n\
         [currency]\nreport = \"PLN\"\n\
         [indicators]\nexclusion = \"none\"\nclimate = \"none\"\nsroi = { discount_rate = 0.05 }\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let df = read(&out(&dir).join("indicators.parquet")).unwrap();
    let unit = |id: &str| {
        rows(&df, id, "A", None)
            .column("unit")
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .map(String::from)
    };
    assert_eq!(unit("spend_total").as_deref(), Some("PLN"));
    assert_eq!(
        unit("cost_per_beneficiary").as_deref(),
        Some("PLN per person")
    );
    // The catalogue in the footer, the data package and the report say the same.
    let package: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out(&dir).join("datapackage.json")).unwrap())
            .unwrap();
    let cat = package["cityimpact:catalogue"].as_array().unwrap();
    let entry = |id: &str| cat.iter().find(|e| e["id"] == id).unwrap().clone();
    assert_eq!(entry("spend_per_capita")["unit"], "PLN per person");
    assert!(entry("sroi")["definition"]
        .as_str()
        .unwrap()
        .contains("discounted at 5 %"));
    let report = std::fs::read_to_string(out(&dir).join("report.html")).unwrap();
    assert!(report.contains("PLN per person"));
    assert!(!report.contains("EUR"), "no EUR anywhere in a PLN report");
}

#[test]
fn a_survey_in_another_currency_is_converted_and_says_so() {
    // Incomes in PLN at 0.25 EUR per PLN: the threshold of the 60-person survey, 18 300 PLN
    // (see above), is 4 575 EUR; rates do not change (scale-free).
    let (dir, o) = run_case(
        &[("silc.csv", &survey(""))],
        &format!(
            "[sources.silc]\nkind = \"microdata\"\npath = \"silc.csv\"\nperiod = 2020\ncurrency = \"PLN\"\n\
             columns = {{ household = \"id\" }}\n[currency]\nrates = {{ PLN = 0.25 }}\n\
             [indicators]\nexclusion = [\"arpt\", \"arpr\"]\n{NO_FAMILIES}"
        ),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let df = read(&out(&dir).join("indicators.parquet")).unwrap();
    assert!((one(&df, "arpt", "ALL", None).0 - 4_575.0).abs() < 1e-9);
    assert!((one(&df, "arpr", "ALL", None).0 - 30.0).abs() < 1e-9);
    let unit = rows(&df, "arpt", "ALL", None);
    assert_eq!(
        unit.column("unit").unwrap().str().unwrap().get(0),
        Some("EUR")
    );
    // Without the rate, the pipeline file is wrong: exit 2, naming what to add.
    let (_, o) = run_case(
        &[("silc.csv", &survey(""))],
        "[sources.silc]\nkind = \"microdata\"\npath = \"silc.csv\"\nperiod = 2020\ncurrency = \"PLN\"\n",
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("add PLN = <EUR per PLN>"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_source_that_keeps_none_of_its_rows_publishes_nothing() {
    // Dutch decimals without `decimal = ","`: every value is "not a number", so the source
    // would vanish from the tables; the run stops with exit 3 and names the source and why.
    let rates =
        "area;period;variable;value\nA;2020;unemployment_rate;7,5\nB;2020;unemployment_rate;8,25\n";
    let (dir, o) = run_case(
        &[("nl.csv", rates)],
        "[sources.cbs]\nkind = \"city_stats\"\npath = \"nl.csv\"\n[indicators]\nspending = \"none\"\nclimate = \"none\"\n",
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("source `cbs` kept none of its 2 rows"),
        "{err}"
    );
    assert!(err.contains("nl.csv:2"), "{err}");
    assert!(err.contains("set decimal = \",\" on the source"), "{err}");
    assert!(!out(&dir).join("indicators.parquet").exists());
}

#[test]
fn a_source_that_rejects_more_than_five_percent_warns_with_its_commonest_reasons() {
    // 20 rows: 2 with decimal commas and 1 with an unknown year; 3 of 20 = 15 % rejected.
    let mut rates = String::from("area;period;variable;value\n");
    for k in 0..17 {
        rates.push_str(&format!("A{k};2020;unemployment_rate;7.5\n"));
    }
    rates.push_str("B1;2020;unemployment_rate;7,5\nB2;2020;unemployment_rate;8,5\nB3;20x0;unemployment_rate;1\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nl.csv"), rates).unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        "[pipeline]\nname = \"case\"\n[sources.cbs]\nkind = \"city_stats\"\npath = \"nl.csv\"\n[indicators]\nspending = \"none\"\nclimate = \"none\"\n",
    )
    .unwrap();
    // Not quiet: a warning is for the log, which `-q` leaves to errors.
    let o = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out(&dir).to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("source `cbs` rejected 15.0 % of its 20 rows"),
        "{err}"
    );
    assert!(
        err.contains("2 × `value` (value): `…` is not a number"),
        "{err}"
    );
    assert!(
        err.contains("1 × `period` (period): `…` is not a year"),
        "{err}"
    );
    assert!(out(&dir).join("indicators.parquet").exists());
}

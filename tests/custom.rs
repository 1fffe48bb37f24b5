//! Custom indicators (`[indicators.custom.ID]`): SQL over the pipeline's tables, on a case
//! small enough to work out by hand, and a broken query for each error message. Every
//! expected value is worked out in the comment beside it from the fixture.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cityimpact::output::parquet::read;
use common::*;
use polars::prelude::*;

const AREAS: &str = "area,name,population
A,Alpha,50000
B,Beta,
";

// Start-year booking: A books 150 000 in 2021 (P1 100 000 + P2 50 000), B 20 000 in 2022.
const PROJECTS: &str = "id,area,amount,start,end,funding_source
P1,A,60000,2021-01-01,2021-12-31,public
P1,A,40000,2021-01-01,2021-12-31,crowdfunding
P2,A,50000,2021-06-01,2022-05-31,eu_fund
P3,B,20000,2022-03-01,,philanthropy
";

// A 2020: 296 t in all, 18 t of it waste (5 + 7 + 6); A 2021: 160 t, no waste.
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

const SPEND_PER_1000: &str = r#"
[indicators.custom.spend_per_1000]
name = "Project spending per 1 000 inhabitants"
unit = "EUR per 1 000 persons"
direction = "neutral"
definition = "Sum of project amounts booked in the year, per 1 000 inhabitants"
family = "spending"
sql = """
SELECT p.area, p.period, SUM(p.amount) / MAX(a.population) * 1000 AS value
FROM projects p JOIN areas a ON p.area = a.area
GROUP BY p.area, p.period
"""
"#;

const OTHERS: &str = r#"
[indicators.custom.spend_per_capita_x1000]
name = "Spending per capita, times 1 000 (from the built-in indicator)"
unit = "EUR per 1 000 persons"
sql = """
SELECT area, period, value * 1000 AS value
FROM indicators
WHERE indicator = 'spend_per_capita' AND breakdown IS NULL
"""

[indicators.custom.spend_above_1000]
name = "Spending per 1 000 inhabitants above 1 000"
unit = "EUR per 1 000 persons"
direction = "lower_better"
sql = """
SELECT area, period, value - 1000 AS value
FROM indicators WHERE indicator = 'spend_per_1000'
"""

[indicators.custom.waste_share]
name = "Share of emissions from waste"
unit = "%"
family = "climate"
sql = '''
SELECT area, period,
       100 * SUM(CASE WHEN sector = 'waste' THEN tco2e ELSE 0 END) / SUM(tco2e) AS value,
       SUM(CASE WHEN sector = 'waste' THEN tco2e ELSE 0 END) AS numerator,
       SUM(tco2e) AS denominator,
       COUNT(*) AS n
FROM emissions GROUP BY area, period
'''
"#;

fn pipeline(dir: &Path, custom: &str) -> PathBuf {
    for (name, text) in [
        ("areas.csv", AREAS),
        ("projects.csv", PROJECTS),
        ("emissions.csv", EMISSIONS),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let toml = format!(
        "[pipeline]\nname = \"custom\"\n\
         [sources.areas]\nkind = \"areas\"\npath = \"areas.csv\"\n\
         [sources.projects]\nkind = \"projects\"\npath = \"projects.csv\"\n\
         [sources.emissions]\nkind = \"emissions\"\npath = \"emissions.csv\"\n\
         [indicators]\nexclusion = \"none\"\n{custom}"
    );
    let path = dir.join("custom.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn out() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let p = pipeline(&dir, &format!("{SPEND_PER_1000}{OTHERS}"));
        run_ok(p.to_str().unwrap(), &dir.join("out"));
        dir.join("out")
    })
}

/// The rows of one indicator, area and period: (value, family, unit, numerator, denominator, n).
type Row = (f64, String, String, Option<f64>, Option<f64>, Option<i64>);

fn row(id: &str, area: &str, period: i32) -> Option<Row> {
    let df = read(&out().join("indicators.parquet")).unwrap();
    let df = df
        .lazy()
        .filter(
            col("indicator")
                .eq(lit(id))
                .and(col("area").eq(lit(area)))
                .and(col("period").eq(lit(period))),
        )
        .collect()
        .unwrap();
    assert!(df.height() <= 1, "{df}");
    if df.height() == 0 {
        return None;
    }
    let s = |c: &str| {
        df.column(c)
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .unwrap()
            .to_string()
    };
    let f = |c: &str| df.column(c).unwrap().f64().unwrap().get(0);
    Some((
        f("value").unwrap(),
        s("family"),
        s("unit"),
        f("numerator"),
        f("denominator"),
        df.column("n").unwrap().i64().unwrap().get(0),
    ))
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn a_query_over_sources_gives_hand_worked_values() {
    // A 2021: 150 000 / 50 000 × 1 000 = 3 000, in the family and unit the pipeline gives.
    let (v, family, unit, ..) = row("spend_per_1000", "A", 2021).expect("a value for A 2021");
    close(v, 3000.0);
    assert_eq!(family, "spending");
    assert_eq!(unit, "EUR per 1 000 persons");
    // B has no population: the query gives NULL, so no row, and a note in the manifest.
    assert!(row("spend_per_1000", "B", 2022).is_none());
    let manifest = std::fs::read_to_string(out().join("manifest.json")).unwrap();
    assert!(
        manifest.contains("the custom query gives no value (NULL)"),
        "{manifest}"
    );
}

#[test]
fn a_query_over_built_in_and_custom_indicators() {
    // spend_per_capita A 2021 = 150 000 / 50 000 = 3 EUR; × 1 000 = 3 000, family custom.
    let (v, family, ..) = row("spend_per_capita_x1000", "A", 2021).unwrap();
    close(v, 3000.0);
    assert_eq!(family, "custom");
    // Built on a custom indicator, which must have run first: 3 000 − 1 000.
    close(row("spend_above_1000", "A", 2021).unwrap().0, 2000.0);
}

#[test]
fn a_query_may_give_numerator_denominator_and_n() {
    // A 2020: 100 × 18 / 296, numerator 18, denominator 296, 10 rows.
    let (v, family, unit, num, den, n) = row("waste_share", "A", 2020).unwrap();
    close(v, 1800.0 / 296.0);
    assert_eq!((family.as_str(), unit.as_str()), ("climate", "%"));
    assert_eq!((num, den, n), (Some(18.0), Some(296.0), Some(10)));
    // A 2021: no waste rows, 0 of 160.
    let (v, .., n) = row("waste_share", "A", 2021).unwrap();
    assert_eq!((v, n), (0.0, Some(2)));
}

#[test]
fn custom_indicators_are_described_wherever_indicators_are() {
    let package = std::fs::read_to_string(out().join("datapackage.json")).unwrap();
    assert!(
        package.contains("Share of emissions from waste"),
        "datapackage"
    );
    let report = std::fs::read_to_string(out().join("report.html")).unwrap();
    assert!(report.contains("Project spending per 1 000 inhabitants"));
    assert!(report.contains("FROM projects p JOIN areas a ON p.area = a.area"));
    // The indicators table's footer carries the catalogue with the pipeline's own entries.
    let meta = cityimpact::output::parquet::read_footer(&out().join("indicators.parquet")).unwrap();
    let catalogue = meta
        .iter()
        .find(|(k, _)| k == "cityimpact.catalogue")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(catalogue.contains("\"id\":\"waste_share\""), "{catalogue}");

    let dir = out().parent().unwrap();
    let file = dir.join("custom.toml");
    let o = cityimpact(&["indicators", "--pipeline", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list = stdout(&o);
    assert!(list.contains("arpr "), "the catalogue is listed too");
    assert!(
        list.lines()
            .any(|l| l.starts_with("spend_above_1000") && l.contains("custom")),
        "{list}"
    );
    let o = cityimpact(&[
        "indicators",
        "--pipeline",
        file.to_str().unwrap(),
        "describe",
        "waste_share",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("family:     climate"), "{text}");
    assert!(
        text.contains("FROM emissions GROUP BY area, period"),
        "{text}"
    );
}

#[test]
fn editing_a_query_recomputes_it_and_what_reads_it_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = pipeline(dir.path(), &format!("{SPEND_PER_1000}{OTHERS}"));
    run_ok(p.to_str().unwrap(), &out);
    let edited = std::fs::read_to_string(&p)
        .unwrap()
        .replace("MAX(a.population) * 1000", "MAX(a.population) * 2000");
    std::fs::write(&p, edited).unwrap();
    // The plan says so before the run.
    let plan = stdout(&cityimpact(&[
        "plan",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let planned = |stage: &str| {
        plan.lines()
            .find(|l| l.starts_with(&format!("{stage} ")))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("no stage {stage} in: {plan}"))
    };
    assert_eq!(planned("indicators:spending"), "skip");
    assert_eq!(planned("indicators:custom:spend_per_1000"), "RUN");
    assert_eq!(planned("indicators:custom:spend_above_1000"), "RUN");
    assert_eq!(planned("indicators:custom:waste_share"), "skip");
    run_ok(p.to_str().unwrap(), &out);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let status = |stage: &str| {
        m["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == stage)
            .map(|s| s["status"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no stage {stage}"))
    };
    assert_eq!(status("indicators:spending"), "reused");
    assert_eq!(status("indicators:climate"), "reused");
    assert_eq!(status("indicators:custom:spend_per_1000"), "ran");
    assert_eq!(status("indicators:custom:spend_above_1000"), "ran");
    assert_eq!(status("indicators:custom:waste_share"), "reused");
    assert_eq!(status("indicators:custom:spend_per_capita_x1000"), "reused");
    // 150 000 / 50 000 × 2 000 = 6 000, and 6 000 − 1 000 downstream; reused values kept.
    let df = read(&out.join("indicators.parquet")).unwrap();
    let value = |id: &str, period: i32| {
        let r = df
            .clone()
            .lazy()
            .filter(
                col("indicator")
                    .eq(lit(id))
                    .and(col("area").eq(lit("A")))
                    .and(col("period").eq(lit(period))),
            )
            .collect()
            .unwrap();
        r.column("value").unwrap().f64().unwrap().get(0).unwrap()
    };
    close(value("spend_per_1000", 2021), 6000.0);
    close(value("spend_above_1000", 2021), 5000.0);
    close(value("waste_share", 2020), 1800.0 / 296.0);
}

/// Runs `custom` in the pipeline and gives the exit code and stderr; `needle` is a piece of
/// the pipeline file the error must point at (its line, worked out from the file's text).
fn fails(custom: &str, needle: &str, messages: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), custom);
    let text = std::fs::read_to_string(&p).unwrap();
    let line = text[..text.find(needle).expect("the needle is in the file")]
        .matches('\n')
        .count()
        + 1;
    for command in ["validate", "run"] {
        let mut args = vec![command, p.to_str().unwrap()];
        let out = dir.path().join("out");
        if command == "run" {
            args.extend(["--out", out.to_str().unwrap()]);
        }
        let o = cityimpact(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains(&format!("custom.toml:{line}:")),
            "{command}: expected line {line} in: {err}"
        );
        for m in messages {
            assert!(err.contains(m), "{command}: expected `{m}` in: {err}");
        }
        assert!(
            !out.join("indicators.parquet").exists(),
            "nothing is published"
        );
    }
}

fn one(sql: &str) -> String {
    format!("\n[indicators.custom.broken]\nname = \"Broken\"\nunit = \"EUR\"\nsql = \"\"\"\n{sql}\n\"\"\"\n")
}

#[test]
fn a_query_that_does_not_parse() {
    fails(
        &one("SELECT area, period, SUM(amount) AS value\nFORM projects GROUP BY area, period"),
        "FORM projects",
        &["custom indicator `broken`", "does not parse"],
    );
}

#[test]
fn a_table_that_does_not_exist() {
    fails(
        &one("SELECT area, period, SUM(amount) AS value\nFROM projets GROUP BY area, period"),
        "projets",
        &[
            "table `projets` that does not exist",
            "did you mean the table `projects`?",
        ],
    );
}

#[test]
fn a_column_that_does_not_exist() {
    fails(
        &one("SELECT area, period,\nSUM(amout) AS value FROM projects GROUP BY area, period"),
        "SUM(amout)",
        &["column `amout` does not exist", "did you mean `amount`?"],
    );
}

#[test]
fn a_column_of_an_alias_that_does_not_exist() {
    fails(
        &one("SELECT p.area, p.period, SUM(p.amount) / MAX(a.populaton) AS value\nFROM projects p JOIN areas a ON p.area = a.area GROUP BY p.area, p.period"),
        "a.populaton",
        &["column `populaton` does not exist in `a` (table `areas`)", "did you mean `population`?"],
    );
}

#[test]
fn a_result_without_a_value() {
    fails(
        &one("SELECT area, period, SUM(amount) AS total FROM projects GROUP BY area, period"),
        "SELECT area, period, SUM(amount) AS total",
        &["returns a column `total`"],
    );
    fails(
        &one("SELECT area, period FROM projects"),
        "SELECT area, period FROM",
        &["returns no `value` column"],
    );
}

#[test]
fn a_result_column_with_a_near_name() {
    fails(
        &one("SELECT area, period,\nSUM(amount) AS valeu FROM projects GROUP BY area, period"),
        "SUM(amount) AS valeu",
        &["returns a column `valeu`", "did you mean `value`?"],
    );
}

#[test]
fn a_value_that_is_not_a_number() {
    fails(
        &one("SELECT area, period,\narea AS value FROM emissions"),
        "area AS value",
        &["`value` column is str, not a number"],
    );
}

#[test]
fn queries_that_read_each_other_in_a_cycle() {
    let custom = r#"
[indicators.custom.first]
name = "First"
unit = "EUR"
sql = "SELECT area, period, value FROM indicators WHERE indicator = 'second'"

[indicators.custom.second]
name = "Second"
unit = "EUR"
sql = "SELECT area, period, value FROM indicators WHERE indicator = 'first'"
"#;
    fails(
        custom,
        "[indicators.custom.first]",
        &["`first` → `second` → `first`", "cycle"],
    );
}

#[test]
fn an_id_the_catalogue_has_already() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        "\n[indicators.custom.arpr]\nname = \"Mine\"\nunit = \"%\"\nsql = \"SELECT 1\"\n",
    );
    let o = cityimpact(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("has the id of a catalogue indicator"),
        "{}",
        stderr(&o)
    );
}

/// Errors only the data can show: the query is sound, its values are not.
fn fails_on_data(sql: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &one(sql));
    let o = cityimpact(&["validate", p.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "the query itself is sound: {}",
        stderr(&o)
    );
    let out = dir.path().join("out");
    let o = cityimpact(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("custom indicator `broken`"), "{err}");
    assert!(err.contains(message), "expected `{message}` in: {err}");
    assert!(
        !out.join("indicators.parquet").exists(),
        "nothing is published"
    );
}

#[test]
fn infinity_and_nan_are_errors() {
    // 2021 has no waste: 0 / 0 is NaN; 1 / 0 is infinity.
    fails_on_data(
        "SELECT area, period, SUM(CASE WHEN sector = 'waste' THEN tco2e ELSE 0 END) / SUM(CASE WHEN sector = 'waste' THEN tco2e ELSE 0 END) AS value FROM emissions GROUP BY area, period",
        "gives value NaN for area `A`, period 2021",
    );
    fails_on_data(
        "SELECT area, period, 1.0 / (COUNT(*) - COUNT(*)) AS value FROM emissions GROUP BY area, period",
        "gives value inf",
    );
}

#[test]
fn duplicate_keys_are_errors() {
    fails_on_data(
        "SELECT area, period, tco2e AS value FROM emissions",
        "more than one row for area `A`, period 2020",
    );
}

/// estimator, aggregation, group, period, ATT.
type Estimate = (String, String, Option<i32>, Option<i32>, Option<f64>);

#[test]
fn a_custom_indicator_can_be_an_evaluated_outcome() {
    // A custom copy of the unemployment rate must be estimated exactly as the rate itself:
    // the same areas, periods and values go into the same estimators.
    let dir = tempfile::tempdir().unwrap();
    let p = sample_variant(dir.path(), |text| {
        text.replace(
            "outcomes = [\"arpr\", \"unemployment_rate\"]",
            "outcomes = [\"arpr\", \"unemployment_rate\", \"unemployment_copy\"]",
        )
        .replace(
            "[evaluation]",
            "[indicators.custom.unemployment_copy]\nname = \"Unemployment rate (a copy)\"\nunit = \"%\"\n\
             direction = \"lower_better\"\nsql = \"SELECT area, period, value FROM indicators WHERE indicator = 'unemployment_rate' AND breakdown IS NULL\"\n\n[evaluation]",
        )
    });
    let out = dir.path().join("out");
    run_ok(p.to_str().unwrap(), &out);
    let effects = read(&out.join("effects.parquet")).unwrap();
    let att = |outcome: &str| -> Vec<Estimate> {
        let df = effects
            .clone()
            .lazy()
            .filter(col("outcome").eq(lit(outcome)))
            .sort_by_exprs(
                [
                    col("estimator"),
                    col("aggregation"),
                    col("group"),
                    col("period"),
                    col("event_time"),
                ],
                SortMultipleOptions::default(),
            )
            .collect()
            .unwrap();
        let s = |c: &str| {
            df.column(c)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|v| v.unwrap_or("").to_string())
                .collect::<Vec<_>>()
        };
        let i = |c: &str| {
            df.column(c)
                .unwrap()
                .i32()
                .unwrap()
                .iter()
                .collect::<Vec<_>>()
        };
        let (est, agg, g, t) = (s("estimator"), s("aggregation"), i("group"), i("period"));
        let a: Vec<Option<f64>> = df.column("att").unwrap().f64().unwrap().iter().collect();
        (0..df.height())
            .map(|k| (est[k].clone(), agg[k].clone(), g[k], t[k], a[k]))
            .collect()
    };
    let (copy, rate) = (att("unemployment_copy"), att("unemployment_rate"));
    assert!(!copy.is_empty(), "the custom outcome is evaluated");
    assert_eq!(copy, rate);
}

#[test]
fn a_custom_indicator_can_be_an_index_input() {
    // x3c = 10 − x2: A 5, B 9, C 7, D 5; min-max (x − 5) / 4 · 100: A 0, B 100, C 50, D 0.
    // P1 = mean(x1, x2 scores) as in tests/index.rs: A 0, B 62.5, C 50, D 50. P2 = x3c.
    // Top = mean(P1, P2): A 0, B 81.25, C 50, D 25.
    let structure = "iCode,iName,Level,Parent,Direction,Weight,Unit,Target,Denominator,Type
x1,First,1,P1,1,1,count,,,Indicator
x2,Second (lower is better),1,P1,-1,1,count,,,Indicator
x3c,Ten minus the second,1,P2,1,1,count,,,Indicator
P1,Pillar one,2,Top,1,1,score,,,Aggregate
P2,Pillar two,2,Top,1,1,score,,,Aggregate
Top,The index,3,,1,1,score,,,Aggregate
";
    let data = "area,period,variable,value
A,2020,x1,10
B,2020,x1,20
C,2020,x1,30
D,2020,x1,50
A,2020,x2,5
B,2020,x2,1
C,2020,x2,3
D,2020,x2,5
";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("structure.csv"), structure).unwrap();
    std::fs::write(dir.path().join("data.csv"), data).unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        "[pipeline]\nname = \"hand\"\n[sources.stats]\nkind = \"city_stats\"\npath = \"data.csv\"\n\
         [indicators]\nexclusion = \"none\"\nspending = \"none\"\nclimate = \"none\"\n\
         [indicators.custom.x3c]\nname = \"Ten minus the second\"\nunit = \"count\"\n\
         sql = \"SELECT area, period, 10 - value AS value FROM indicators WHERE indicator = 'x2'\"\n\
         [index]\nstructure = \"structure.csv\"\noutliers = \"none\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    run_ok(p.to_str().unwrap(), &out);
    let df = read(&out.join("index.parquet")).unwrap();
    let df = df
        .lazy()
        .filter(col("node").eq(lit("Top")))
        .sort(["area"], SortMultipleOptions::default())
        .collect()
        .unwrap();
    let score: Vec<f64> = df
        .column("score")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!(score.len(), 4, "{df}");
    for (got, want) in score.iter().zip([0.0, 81.25, 50.0, 25.0]) {
        close(*got, want);
    }
}

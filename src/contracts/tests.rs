//! The contract's checks, cell by cell and a file both ways.

use chrono::NaiveDate;
use polars::prelude::*;

use super::context::{rows_per_part, Contract};
use super::rules::{check, check_with, parse_date, Rule, Value, ANY, NON_NEGATIVE, POSITIVE};
use super::*;

/// A microdata CSV checked column by column (as `apply` does) and row by row: the same
/// kept rows, values and rejects, for cells the plain parse reads and cells it leaves to
/// the row contract's check (spaces, `+`, exponents, `inf`, `NaN`, commas, empty cells).
#[test]
fn csv_microdata_by_columns_equals_by_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("hid,region,income,weight,age\n");
    let incomes = [
        "100", " 250.5 ", "+3", "1e3", "inf", "NaN", "\"1,5\"", "", "-7", "2e16", "abc", "0.1",
    ];
    let regions = ["AT1", " AT2", "", "AT1 ", "AT3"];
    let weights = ["1", "0", "2.5", " 3", "", "-1", "4"];
    for i in 0..600 {
        let (inc, reg, w) = (
            incomes[i % incomes.len()],
            regions[i % regions.len()],
            weights[i % weights.len()],
        );
        csv.push_str(&format!("{},{reg},{inc},{w},{}\n", i / 3, i % 140));
    }
    std::fs::write(dir.path().join("p.csv"), &csv).unwrap();
    let toml = dir.path().join("t.toml");
    std::fs::write(
        &toml,
        "[pipeline]\nname = \"t\"\n[sources.p]\nkind = \"microdata\"\npath = \"p.csv\"\n\
         period = 2020\ncolumns = { household = \"hid\", area = \"region\" }\n",
    )
    .unwrap();
    let pipeline = crate::config::load(&toml).unwrap();
    let source = &pipeline.sources[0];
    let raw = crate::ingest::read(source).unwrap();
    let by_columns = apply(&pipeline, source, &raw).unwrap();
    let by_rows = Contract::new(&pipeline, source, &raw).by_rows().unwrap();
    assert!(columnar::applies(&Contract::new(&pipeline, source, &raw)));
    assert_eq!(by_columns.rows_read, 600);
    assert!(by_columns.frame.height() > 0 && !by_columns.rejects.is_empty());
    for c in ["income", "weight", "age", "area", "household", "period"] {
        let (a, b) = (
            by_columns.frame.column(c).unwrap(),
            by_rows.frame.column(c).unwrap(),
        );
        assert!(
            a.as_materialized_series()
                .equals_missing(b.as_materialized_series()),
            "{c}"
        );
    }
    let rejects = |t: &Table| -> Vec<_> {
        t.rejects
            .iter()
            .map(|r| (r.line, r.column.clone(), r.value.clone(), r.reason.clone()))
            .collect()
    };
    assert_eq!(rejects(&by_columns), rejects(&by_rows));
    assert_eq!(
        by_columns.frame.height() + by_columns.rejects.len(),
        by_columns.rows_read
    );
}

#[test]
fn numbers_respect_bounds() {
    assert!(check(POSITIVE, "0").is_err());
    assert!(check(POSITIVE, "0.1").is_ok());
    assert!(check(NON_NEGATIVE, "-1").is_err());
    assert!(check(NON_NEGATIVE, "NaN").is_err());
    assert!(check(NON_NEGATIVE, "inf").is_err());
    assert!(matches!(check(ANY, " -3.5 "), Ok(Some(Value::Number(x))) if x == -3.5));
    assert!(matches!(check(ANY, ""), Ok(None)));
}

#[test]
fn decimal_comma_numbers() {
    assert!(
        matches!(check_with(ANY, "1.234,56", true), Ok(Some(Value::Number(x))) if x == 1234.56)
    );
    assert!(matches!(check_with(ANY, "-0,5", true), Ok(Some(Value::Number(x))) if x == -0.5));
    // Years and texts are left alone.
    assert!(matches!(
        check_with(Rule::Year, "2021", true),
        Ok(Some(Value::Int(2021)))
    ));
    assert!(
        matches!(check_with(Rule::Text, "a.b,c", true), Ok(Some(Value::Text(t))) if t == "a.b,c")
    );
}

#[test]
fn dates_take_iso_forms() {
    assert_eq!(
        parse_date("2021-03-01"),
        NaiveDate::from_ymd_opt(2021, 3, 1)
    );
    assert_eq!(
        parse_date("2021-03-01T00:00:00Z"),
        NaiveDate::from_ymd_opt(2021, 3, 1)
    );
    assert_eq!(parse_date("2021"), NaiveDate::from_ymd_opt(2021, 1, 1));
    assert_eq!(parse_date("01/03/2021"), None);
    assert_eq!(parse_date("2021-02-30"), None);
}

#[test]
fn enumerations_suggest_the_nearest_value() {
    let err = check(Rule::OneOf(&FUNDING_SOURCES), "crowdfundng").unwrap_err();
    assert!(err.contains("did you mean `crowdfunding`?"), "{err}");
    assert!(
        matches!(check(Rule::OneOf(&FUNDING_SOURCES), "EU fund"), Ok(Some(Value::Text(s))) if s == "eu_fund")
    );
    assert!(matches!(check(Rule::Sex, "2"), Ok(Some(Value::Text(s))) if s == "female"));
}

#[test]
fn rows_checked_in_parts_keep_file_order() {
    // 3000 contracts: more rows than one part, so parts are checked side by side; a
    // duplicate id far from its first row, and broken rows in several parts.
    let (dir, pipeline) = crate::config::one_source("procurement");
    let mut csv = String::from("id,buyer,supplier,amount,date\n");
    let mut expected_sum = 0.0;
    for i in 0..3000 {
        let id = if i == 2500 { 10 } else { i };
        let amount = if i % 700 == 3 {
            "-5".to_string()
        } else {
            format!("{i}.25")
        };
        csv.push_str(&format!("C{id},city,firm{i},{amount},2021-05-01\n"));
        if i % 700 != 3 && i != 2500 {
            expected_sum += i as f64 + 0.25;
        }
    }
    std::fs::write(dir.path().join("p.csv"), csv).unwrap();
    let source = &pipeline.sources[0];
    let raw = crate::ingest::read(source).unwrap();
    assert!(rows_per_part(raw.len()) < raw.len());
    let table = apply(&pipeline, source, &raw).unwrap();
    let lines: Vec<i64> = table.rejects.iter().map(|r| r.line).collect();
    // Row i is on line i + 2; the negative amounts sit at rows 3, 703, 1403, 2103, 2803.
    assert_eq!(lines, [5, 705, 1405, 2105, 2502, 2805]);
    assert_eq!(
        &*table.rejects[4].reason,
        "duplicate contract id `C10`: the same row key was already read at line 12"
    );
    assert_eq!(table.rows_read, 3000);
    assert_eq!(table.rows_kept(), 3000 - 6);
    let amounts = table.frame.column("amount").unwrap().f64().unwrap();
    assert_eq!(amounts.sum(), Some(expected_sum));
    let suppliers = table.frame.column("supplier").unwrap().str().unwrap();
    assert_eq!(suppliers.get(0), Some("firm0"));
    assert_eq!(suppliers.get(2994 - 1), Some("firm2999"));
}

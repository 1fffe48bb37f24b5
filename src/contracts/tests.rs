//! The contract's checks, cell by cell and a file both ways.

use chrono::NaiveDate;
use polars::prelude::*;

use super::context::Contract;
use super::rows::rows_per_part;
use super::rules::{check, check_with, parse_date, Rule, Value, ANY, NON_NEGATIVE, POSITIVE};
use super::*;
use crate::ingest::RawColumn;

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
    assert_eq!(by_columns.rows_read, 600);
    assert!(by_columns.frame.height() > 0 && !by_columns.rejects.is_empty());
    assert_same_tables(&by_columns, &by_rows);
    assert_same_tables(&by_columns, &from_text_buffers(&pipeline, &raw));
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

/// The same columns, values (nulls included) and rejects, checked both ways.
/// The column contract of the same cells held in text buffers (how a microdata or projects
/// source with a `filter`, or a glob of CSV and Parquet files, is read) rather than the Arrow
/// text a CSV's text roles are read into, and the numbers it types as it reads them.
fn from_text_buffers(pipeline: &crate::config::Pipeline, raw: &RawTable) -> Table {
    let arrow = |c: &RawColumn| matches!(c, RawColumn::Typed(_) | RawColumn::Written(_));
    assert!(raw.cells.iter().any(arrow) && !raw.cells.iter().all(arrow));
    assert!(raw.cells.iter().any(|c| matches!(c, RawColumn::Numbers(_))));
    let texts = RawTable {
        cells: raw.cells.iter().map(RawColumn::as_texts).collect(),
        ..raw.clone()
    };
    apply(pipeline, &pipeline.sources[0], &texts).unwrap()
}

fn assert_same_tables(by_columns: &Table, by_rows: &Table) {
    let names = by_rows.frame.get_column_names();
    assert_eq!(by_columns.frame.get_column_names(), names);
    for c in names {
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
    assert_eq!(rejects_of(by_columns), rejects_of(by_rows));
}

/// The column contract's table held to the row contract's and to the same cells' from text
/// buffers, with as many rows filtered out, and every row read either kept or rejected.
fn assert_both_ways(
    pipeline: &crate::config::Pipeline,
    raw: &RawTable,
    by_columns: &Table,
    by_rows: &Table,
) {
    assert_same_tables(by_columns, by_rows);
    assert_same_tables(by_columns, &from_text_buffers(pipeline, raw));
    assert_eq!(by_columns.rows_filtered, by_rows.rows_filtered);
    assert_eq!(
        by_columns.frame.height() + by_columns.rejects.len(),
        by_columns.rows_read
    );
}

/// Why the row on `line` was rejected, if it was.
fn reason_at(table: &Table, line: i64) -> Option<String> {
    let r = table.rejects.iter().find(|r| r.line == line);
    r.map(|r| r.reason.to_string())
}

/// The rows of a table, and its rejects, as (line, column, value, reason).
fn rejects_of(t: &Table) -> Vec<(i64, Option<String>, Option<String>, String)> {
    t.rejects
        .iter()
        .map(|r| {
            let text = |s: &Option<std::sync::Arc<str>>| s.as_deref().map(String::from);
            (
                r.line,
                text(&r.column),
                text(&r.value),
                r.reason.to_string(),
            )
        })
        .collect()
}

/// A projects CSV checked column by column (as `apply` does) and row by row: the same kept rows,
/// values and rejects, for every rule a project row can break (its shape, each cell, dates in
/// order, the currency and its year's rate, the pipeline's periods). Several of the rejects
/// are worked out by hand below.
#[test]
fn csv_projects_by_columns_equals_by_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,district,amount,start,end,funding_source,currency\n");
    let amounts = ["1000", " 250.5 ", "-5", "", "abc", "1e3", "12"];
    let starts = [
        "2021-03-01",
        "2020-12-31T23:00:00Z",
        "2022",
        "01/03/2021",
        "2021-02-30",
        "",
        "2018-06-01",
        "2024-01-01",
    ];
    let ends = ["2022-01-01", "", "2020-01-01", " 2023-05-05 "];
    let funding = ["public", "EU fund", "crowdfundng", "", "impact_investment"];
    let currencies = ["EUR", "PLN", "", "SEK", "USD"];
    for i in 0..900 {
        let pick = |xs: &[&'static str], k: usize| xs[(i / k) % xs.len()];
        let id = if i % 97 == 5 {
            String::new()
        } else {
            format!("P{i}")
        };
        let row = format!(
            "{id},D{},{},{},{},{},{}",
            i % 4,
            pick(&amounts, 1),
            pick(&starts, 3),
            pick(&ends, 2),
            pick(&funding, 5),
            pick(&currencies, 7)
        );
        csv.push_str(&row);
        // Every 50th row is short a field, every 77th has one too many.
        match i % 77 == 3 {
            true => csv.push_str(",x\n"),
            false if i % 50 == 7 => csv.truncate(csv.rfind(',').unwrap() + 1 - 1),
            false => {}
        }
        if !csv.ends_with('\n') {
            csv.push('\n');
        }
    }
    std::fs::write(dir.path().join("p.csv"), &csv).unwrap();
    let toml = dir.path().join("t.toml");
    std::fs::write(
        &toml,
        "[pipeline]\nname = \"t\"\nperiods = { from = 2019, to = 2023 }\n\
         [sources.p]\nkind = \"projects\"\npath = \"p.csv\"\ncolumns = { area = \"district\" }\n\
         [currency]\nrates = { PLN = 0.25, SEK = { 2021 = 0.1 } }\n",
    )
    .unwrap();
    let pipeline = crate::config::load(&toml).unwrap();
    let source = &pipeline.sources[0];
    let raw = crate::ingest::read(source).unwrap();
    assert!(!raw.ragged.is_empty());
    let by_columns = apply(&pipeline, source, &raw).unwrap();
    let by_rows = Contract::new(&pipeline, source, &raw).by_rows().unwrap();
    assert_eq!(by_columns.rows_read, 900);
    assert!(
        by_columns.frame.height() > 50,
        "{}",
        by_columns.frame.height()
    );
    assert_both_ways(&pipeline, &raw, &by_columns, &by_rows);
    // Worked out by hand from the generator above (line = row + 2; role order = column order).
    let by_line = |line: i64| reason_at(&by_columns, line);
    let not_a_date = |s: &str| {
        format!("`start` (start): `{s}` is not a date (write it as YYYY-MM-DD, ISO 8601)")
    };
    let expected: [(i64, Option<String>); 14] = [
        (2, None),
        (3, None),
        (4, Some("`amount` (amount): -5 must not be below 0".into())),
        (
            5,
            Some(
                "the row has 8 fields but the header has 7; check for an unquoted separator".into(),
            ),
        ),
        (7, Some("`id` (id) is empty; every row needs it".into())),
        (
            9,
            Some(
                "the row has 6 fields but the header has 7; check for an unquoted separator".into(),
            ),
        ),
        // A bare year starts on 1 January: an end on that day is not before it.
        (10, None),
        (14, Some(not_a_date("2021-02-30"))),
        (
            17,
            Some("`start` (start) is empty; every row needs it".into()),
        ),
        (
            22,
            Some("period 2018 is outside the pipeline's periods 2019-2023".into()),
        ),
        (
            23,
            Some("the end date 2020-01-01 is before the start date 2024-01-01".into()),
        ),
        (
            29,
            Some(
                "no SEK rate for 2020; add 2020 = <EUR per SEK> to rates.SEK in [currency]".into(),
            ),
        ),
        (36, Some(not_a_date("01/03/2021"))),
        (
            70,
            Some("no exchange rate for USD; add USD = <EUR per USD> to rates in [currency]".into()),
        ),
    ];
    for (line, why) in expected {
        assert_eq!(by_line(line), why, "line {line}");
    }
    let frame = &by_columns.frame;
    let ids = frame.column("id").unwrap().str().unwrap();
    let amounts = frame.column("amount").unwrap().f64().unwrap();
    let row = |id: &str| (0..ids.len()).find(|&k| ids.get(k) == Some(id)).unwrap();
    // P8: 250.5 PLN at 0.25; P26: 1e3 SEK at 2021's 0.1; P6: 12 EUR.
    assert_eq!(amounts.get(row("P8")), Some(62.625));
    assert_eq!(amounts.get(row("P26")), Some(100.0));
    assert_eq!(amounts.get(row("P6")), Some(12.0));
    let periods = frame.column("period").unwrap().i32().unwrap();
    assert_eq!(periods.get(row("P8")), Some(2022));
    let starts = frame.column("start").unwrap().str().unwrap();
    assert_eq!(starts.get(row("P6")), Some("2022-01-01"));
    let currency = frame.column("currency").unwrap().str().unwrap();
    assert!(currency.iter().all(|c| c == Some("EUR")));
}

/// A procurement CSV checked column by column (as `apply` does) and row by row: the same kept
/// rows, values and rejects, duplicates of a contract id included. The first rows are worked
/// out by hand; the rest mix every rule.
#[test]
fn csv_procurement_by_columns_equals_by_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("contract_id,buyer,supplier,value,award_date,currency,city\n");
    for row in [
        "C1,City,S1,1000,2021-03-01,EUR,A",
        "C2,City,S2,400,2021-05-01,PLN,A",
        "C1,City,S3,50,2021-06-01,EUR,A",
        "C3,City,S4,10,2018-01-01,EUR,A",
        "C3,City,S5,20,2021-01-01,EUR,A",
        "C4,City,S6,-5,2021-01-01,EUR,A",
        "C4,City,S7,30,2020-02-01,SEK,A",
        "C4,City,S8,30,2021-02-01,SEK,A",
        "C5,City,S9,5,2021-02-30,EUR,A",
        "C2,City,S2,400,2021-05-01,PLN,A",
    ] {
        csv.push_str(row);
        csv.push('\n');
    }
    let dates = ["2021-03-01", "2017-05-05", "", "2022-13-01", "2020-06-30"];
    let currencies = ["EUR", "PLN", "", "SEK", "USD"];
    for i in 0..600 {
        let id = match i % 97 {
            5 => String::new(),
            _ => format!("G{}", i % 250),
        };
        let value = if i % 31 == 4 {
            "x".to_string()
        } else {
            i.to_string()
        };
        let (date, currency) = (dates[(i / 3) % 5], currencies[(i / 7) % 5]);
        csv.push_str(&format!("{id},City,S{i},{value},{date},{currency},B\n"));
    }
    std::fs::write(dir.path().join("p.csv"), &csv).unwrap();
    let toml = dir.path().join("t.toml");
    std::fs::write(
        &toml,
        "[pipeline]\nname = \"t\"\nperiods = { from = 2019, to = 2023 }\n\
         [sources.p]\nkind = \"procurement\"\npath = \"p.csv\"\n\
         columns = { id = \"contract_id\", amount = \"value\", date = \"award_date\", area = \"city\" }\n\
         [currency]\nrates = { PLN = 0.25, SEK = { 2021 = 0.1 } }\n",
    )
    .unwrap();
    let pipeline = crate::config::load(&toml).unwrap();
    let source = &pipeline.sources[0];
    let raw = crate::ingest::read(source).unwrap();
    let by_columns = apply(&pipeline, source, &raw).unwrap();
    let by_rows = Contract::new(&pipeline, source, &raw).by_rows().unwrap();
    assert_both_ways(&pipeline, &raw, &by_columns, &by_rows);
    assert_eq!(by_columns.rows_read, 610);
    let by_line = |line: i64| reason_at(&by_columns, line);
    let duplicate = |id: &str, line: u64| {
        format!("duplicate contract id `{id}`: the same row key was already read at line {line}")
    };
    let expected: [(i64, Option<String>); 10] = [
        (2, None),
        (3, None),
        (4, Some(duplicate("C1", 2))),
        (5, Some("period 2018 is outside the pipeline's periods 2019-2023".into())),
        // The row above was filtered out, so this is the first C3 read.
        (6, None),
        (7, Some("`value` (amount): -5 must not be below 0".into())),
        (
            8,
            Some("no SEK rate for 2020; add 2020 = <EUR per SEK> to rates.SEK in [currency]".into()),
        ),
        // The two C4 rows above were rejected, so this is the first C4 kept.
        (9, None),
        (
            10,
            Some("`award_date` (date): `2021-02-30` is not a date (write it as YYYY-MM-DD, ISO 8601)".into()),
        ),
        (11, Some(duplicate("C2", 3))),
    ];
    for (line, why) in expected {
        assert_eq!(by_line(line), why, "line {line}");
    }
    let frame = &by_columns.frame;
    let ids = frame.column("id").unwrap().str().unwrap();
    let amounts = frame.column("amount").unwrap().f64().unwrap();
    // C2: 400 PLN at 0.25; C4: 30 SEK at 2021's 0.1.
    let firsts: Vec<_> = (0..4).map(|k| (ids.get(k), amounts.get(k))).collect();
    assert_eq!(
        firsts,
        [
            (Some("C1"), Some(1000.0)),
            (Some("C2"), Some(100.0)),
            (Some("C3"), Some(20.0)),
            (Some("C4"), Some(3.0))
        ]
    );
    let currency = frame.column("currency").unwrap().str().unwrap();
    assert!(currency.iter().all(|c| c == Some("EUR")));
}

/// The plain form of a date the column contract keeps without chrono is exactly the form the
/// row contract keeps as it is: every day, month and year around the edges, against chrono.
#[test]
fn plain_dates_are_the_dates_chrono_reads() {
    use super::rules::plain_date;
    for y in [1899, 1900, 1901, 1999, 2000, 2004, 2023, 2024, 2100, 2101] {
        for m in 0..=13 {
            for d in 0..=32 {
                let s = format!("{y:04}-{m:02}-{d:02}");
                let chrono =
                    NaiveDate::from_ymd_opt(y, m, d).is_some() && (1900..=2100).contains(&y);
                assert_eq!(plain_date(&s), chrono, "{s}");
            }
        }
    }
    assert!(!plain_date(" 2021-03-01"));
    assert!(!plain_date("2021-3-01"));
    assert!(!plain_date("2021-03-01T00:00"));
}

/// A source's one period, outside the pipeline's: every row is left out for it, once looked up.
#[test]
fn a_source_period_outside_the_pipelines_leaves_every_row_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.csv"), "income,weight\n10,1\n20,1\n,1\n").unwrap();
    let toml = dir.path().join("t.toml");
    for (period, kept, filtered) in [(2019, 0, 2), (2020, 2, 0)] {
        std::fs::write(
            &toml,
            format!(
                "[pipeline]\nname = \"t\"\nperiods = {{ from = 2020, to = 2021 }}\n\
                 [sources.p]\nkind = \"microdata\"\npath = \"p.csv\"\nperiod = {period}\n"
            ),
        )
        .unwrap();
        let pipeline = crate::config::load(&toml).unwrap();
        let source = &pipeline.sources[0];
        let raw = crate::ingest::read(source).unwrap();
        let t = apply(&pipeline, source, &raw).unwrap();
        // The row without an income is rejected for that first, whatever its period.
        assert_eq!(
            (t.frame.height(), t.rows_filtered),
            (kept, filtered),
            "{period}"
        );
        assert_eq!(t.rejects.len(), 3 - kept, "{period}");
        let last = t.rejects.last().unwrap();
        assert_eq!(last.line, 4);
        assert!(last.reason.contains("is empty"), "{}", last.reason);
        let outside = &t.rejects[0].reason;
        assert_eq!(
            outside.contains("outside the pipeline's periods"),
            kept == 0
        );
        let periods: Vec<Option<i32>> = t
            .frame
            .column("period")
            .unwrap()
            .i32()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(periods, vec![Some(period); kept]);
    }
}

/// One source of `kind` from `csv`, checked column by column (as `apply` does) and row by row.
fn small_table_both_ways(kind: &str, extra: &str, csv: &str) -> (Table, Table) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.csv"), csv).unwrap();
    let toml = dir.path().join("t.toml");
    std::fs::write(
        &toml,
        format!(
            "[pipeline]\nname = \"t\"\nperiods = {{ from = 2019, to = 2023 }}\n\
             [sources.s]\nkind = \"{kind}\"\npath = \"s.csv\"\n{extra}\n"
        ),
    )
    .unwrap();
    let pipeline = crate::config::load(&toml).unwrap();
    let source = &pipeline.sources[0];
    let raw = crate::ingest::read(source).unwrap();
    let by_columns = apply(&pipeline, source, &raw).unwrap();
    let by_rows = Contract::new(&pipeline, source, &raw).by_rows().unwrap();
    assert_same_tables(&by_columns, &by_rows);
    assert_eq!(by_columns.rows_filtered, by_rows.rows_filtered);
    assert_eq!(by_columns.lines, by_rows.lines);
    assert_eq!(
        by_columns.frame.height() + by_columns.rejects.len(),
        by_columns.rows_read
    );
    (by_columns, by_rows)
}

/// City statistics, long and wide, inventories, areas and outcomes, checked both ways: the
/// same kept rows, values, rejects and (for areas) lines, for every rule their rows can break.
/// The reasons of the first rows are worked out by hand.
#[test]
fn small_tables_by_columns_equal_by_rows() {
    let map = "variables = { UR = \"unemployment_rate\", POP = \"labour_force\", G = \"gdp\" }";
    let (t, _) = small_table_both_ways(
        "city_stats",
        map,
        "area,period,variable,value\n\
         A,2020,UR,5.5\n\
         A,2020,UR,6\n\
         A,2020,XX,1\n\
         A,2020,G,1\n\
         A,2020,UR,101\n\
         A,2020,POP,-3\n\
         A,2018,POP,10\n\
         A,2021,POP,\n\
         A,2021,POP,12\n\
         A,2021\n",
    );
    let duplicate = "duplicate `unemployment_rate` for area `A` in period `2020`: the same row key was already read at line 2";
    let expected = [
        (2, None),
        (3, Some(duplicate.to_string())),
        (4, Some("variable `XX` is not mapped to an indicator; add it to `variables` in [sources.s], e.g. { XX = \"unemployment_rate\" }".into())),
        (5, Some(format!("variable `G` maps to `gdp`, which a city_stats source cannot give; use a rate ({}) or a count ({})", CITY_STAT_RATES.join(", "), CITY_STAT_COUNTS.join(", ")))),
        (6, Some("unemployment_rate is a percentage; 101 lies outside 0-100".into())),
        (7, Some("labour_force is a count of persons; -3 is negative".into())),
        (8, Some("period 2018 is outside the pipeline's periods 2019-2023".into())),
        (9, Some("`value` (value) is empty; every row needs it".into())),
        (10, None),
    ];
    for (line, why) in expected {
        assert_eq!(reason_at(&t, line), why, "line {line}");
    }
    let variables = t.frame.column("variable").unwrap().str().unwrap();
    assert_eq!(variables.get(0), Some("unemployment_rate"));

    // Wide: one column per variable; an empty cell, and a value out of range, is named by its
    // variable's column.
    let (t, _) = small_table_both_ways(
        "city_stats",
        map,
        "area,period,UR,POP\nA,2020,5,100\nB,2020,,200\nA,2020,7,300\nC,2020,150,10\n",
    );
    assert_eq!(
        reason_at(&t, 3),
        Some("`UR` is empty: this area has no value of UR".into())
    );
    assert_eq!(
        reason_at(&t, 5),
        Some("unemployment_rate is a percentage; 150 lies outside 0-100".into())
    );
    let columns = |line: i64| -> Vec<Option<&str>> {
        (t.rejects.iter())
            .filter(|r| r.line == line)
            .map(|r| r.column.as_deref())
            .collect()
    };
    assert_eq!(columns(3), [Some("UR")]);
    assert_eq!(columns(5), [Some("UR")]);

    let (t, _) = small_table_both_ways(
        "emissions",
        "",
        "area,period,sector,subsector,scope,tco2e\n\
         A,2020,transportation,road,1,10\n\
         A,2020,transportation,road,1,11\n\
         A,2020,transportation,rail,1,12\n\
         A,2020,transportation,rail,9,13\n\
         A,2020,waste,,2,-1\n\
         A,2017,waste,landfill,3,4\n",
    );
    assert_eq!(
        reason_at(&t, 3),
        Some("duplicate emissions row for area `A`, period `2020`, sector `transportation`, sub-sector `road`, scope `1`: the same row key was already read at line 2".into())
    );
    assert_eq!(reason_at(&t, 4), None);

    let (t, _) = small_table_both_ways(
        "areas",
        "",
        "area,period,name,population\nA,2020,Alpha,100\nB,2020,Beta,-5\nA,2020,Again,7\nA,2021,Alpha,101\nC,2016,Gamma,1\n",
    );
    assert_eq!(t.lines, vec![2, 5], "the lines of the kept areas");
    assert_eq!(
        reason_at(&t, 4),
        Some(
            "duplicate area `A` in period `2020`: the same row key was already read at line 2"
                .into()
        )
    );

    let (t, _) = small_table_both_ways(
        "outcomes",
        "",
        "project,outcome,quantity,proxy,period\nP1,jobs,3,100,2020\nP1,jobs,4,100,2020\nP1,jobs,4,100,2021\nP2,homes,x,5,2020\n",
    );
    assert_eq!(
        reason_at(&t, 3),
        Some("duplicate outcome `jobs` of project `P1` in period `2020`: the same row key was already read at line 2".into())
    );
}

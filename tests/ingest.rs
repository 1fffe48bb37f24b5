//! Files as they are published: Eurostat's bulk TSV, Latin-1 with decimal commas, and no
//! panic on any input, however broken.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use cityimpact::config;
use cityimpact::contracts;
use cityimpact::indicators::stats::SplitMix64;
use cityimpact::ingest;
use cityimpact::output::parquet::read;
use common::*;
use polars::prelude::*;

#[test]
fn eurostat_bulk_tsv_reads_values_flags_and_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.toml");
    std::fs::write(
        &p,
        format!(
            "[pipeline]\nname = \"es\"\n[sources.labour]\nkind = \"city_stats\"\nformat = \"eurostat-tsv\"\npath = \"{}\"\n\
             variables = {{ EC1020I = \"unemployment_rate\", EC1168I = \"youth_unemployment_rate\" }}\n\
             [indicators]\nspending = \"none\"\nclimate = \"none\"\nbootstrap = {{ replicates = 0 }}\n",
            root().join("tests/fixtures/eurostat/urb_clma.tsv").display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    run_ok(p.to_str().unwrap(), &out);
    let df = read(&out.join("indicators.parquet")).unwrap();
    let rows = df
        .lazy()
        .filter(col("indicator").eq(lit("unemployment_rate")))
        .collect()
        .unwrap();
    // NL012C: 3.4, 4.6, 3.9 (p), 2022 missing; PL005C: 4.1, 2020 missing (flag c), 4.3, 3.8 (e).
    let got: Vec<(String, i32, f64, Option<String>)> = (0..rows.height())
        .map(|i| {
            (
                rows.column("area")
                    .unwrap()
                    .str()
                    .unwrap()
                    .get(i)
                    .unwrap()
                    .to_string(),
                rows.column("period")
                    .unwrap()
                    .i32()
                    .unwrap()
                    .get(i)
                    .unwrap(),
                rows.column("value").unwrap().f64().unwrap().get(i).unwrap(),
                rows.column("flag")
                    .unwrap()
                    .str()
                    .unwrap()
                    .get(i)
                    .map(String::from),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("NL012C".into(), 2019, 3.4, None),
            ("NL012C".into(), 2020, 4.6, None),
            ("NL012C".into(), 2021, 3.9, Some("p".into())),
            ("PL005C".into(), 2019, 4.1, None),
            ("PL005C".into(), 2021, 4.3, None),
            ("PL005C".into(), 2022, 3.8, Some("e".into())),
        ]
    );
    // Missing values are no observation, not rejects.
    assert_eq!(read(&out.join("rejects.parquet")).unwrap().height(), 0);
}

#[test]
fn latin1_with_decimal_commas() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.toml");
    std::fs::write(
        &p,
        format!(
            "[pipeline]\nname = \"de\"\n[sources.gemeinden]\nkind = \"areas\"\npath = \"{}\"\nencoding = \"latin-1\"\ndecimal = \",\"\n\
             columns = {{ area = \"Gemeinde\", period = \"Jahr\", population = \"Bevölkerung\", green_space_m2 = \"Grünfläche_m2\" }}\n\
             [indicators]\nexclusion = \"none\"\nspending = \"none\"\n",
            root().join("tests/fixtures/latin1/gemeinden.csv").display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    run_ok(p.to_str().unwrap(), &out);
    let df = read(&out.join("indicators.parquet")).unwrap();
    let area = df
        .column("area")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let value = df.column("value").unwrap().f64().unwrap().get(0).unwrap();
    // Köln-Mülheim sorts before Zürich-Süd: 2 000 000 m² = 200 ha for 148 021 people,
    // 200 × 100 000 / 148 021 ha per 100 000.
    assert_eq!(area, "Köln-Mülheim");
    assert!(
        (value - 200.0 * 100_000.0 / 148_021.0).abs() < 1e-9,
        "{value}"
    );
    // Without the declared encoding, the file is refused with a message that says what to do.
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("encoding = \"latin-1\"\n", "");
    std::fs::write(
        &p,
        text.replace("Bevölkerung", "Bev")
            .replace("Grünfläche_m2", "G"),
    )
    .unwrap();
    let o = cityimpact(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not valid UTF-8") && stderr(&o).contains("encoding = \"latin-1\""),
        "{}",
        stderr(&o)
    );
}

/// Mutates a file's bytes: flips, deletions, insertions of the characters CSV parsers trip on,
/// and truncation.
fn mutate(bytes: &[u8], g: &mut SplitMix64) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let specials = [
        b'"', b',', b';', b'\n', b'\r', b'\t', 0xFF, 0xC3, b':', b'-', b'.', b'e',
    ];
    for _ in 0..1 + g.below(8) {
        if b.is_empty() {
            break;
        }
        let at = g.below(b.len() as u64) as usize;
        match g.below(4) {
            0 => b[at] = g.next_u64() as u8,
            1 => {
                b.remove(at);
            }
            2 => b.insert(at, specials[g.below(specials.len() as u64) as usize]),
            _ => b.truncate(at),
        }
    }
    b
}

#[test]
fn no_input_makes_ingest_or_contracts_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let mut g = SplitMix64::new(2026);
    let seeds = [
        ("projects", "sample-data/projects.csv", "csv"),
        ("silc", "sample-data/silc.csv", "csv"),
        ("emissions", "sample-data/emissions.csv", "csv"),
        (
            "labour",
            "tests/fixtures/eurostat/urb_clma.tsv",
            "eurostat-tsv",
        ),
    ];
    let mut cases = 0;
    for (kind, path, format) in seeds {
        let original = std::fs::read(root().join(path)).unwrap();
        // Keep the big file small: its first 60 lines are enough to mutate.
        let original: Vec<u8> = original
            .split(|b| *b == b'\n')
            .take(60)
            .collect::<Vec<_>>()
            .join(&b'\n');
        let kind = match kind {
            "silc" => "microdata",
            "labour" => "city_stats",
            k => k,
        };
        let columns = match kind {
            "projects" => "columns = { id = \"project_id\", area = \"district\", start = \"start_date\", end = \"end_date\" }",
            "microdata" => "columns = { income = \"eq_income\", weight = \"weight\", area = \"district\", household = \"hh_id\", period = \"year\" }",
            "emissions" => "columns = { area = \"city\", period = \"year\", sector = \"gpc_sector\", tco2e = \"t_co2e\" }",
            _ => "variables = { EC1020I = \"unemployment_rate\" }",
        };
        for i in 0..150 {
            let data = if i == 0 {
                Vec::new()
            } else {
                mutate(&original, &mut g)
            };
            let file = tmp.path().join(format!("{kind}-{i}.dat"));
            std::fs::write(&file, &data).unwrap();
            let toml = tmp.path().join(format!("{kind}-{i}.toml"));
            std::fs::write(
                &toml,
                format!(
                    "[pipeline]\nname = \"fuzz\"\n[sources.s]\nkind = \"{kind}\"\nformat = \"{format}\"\npath = \"{}\"\n{columns}\n[currency]\nrates = {{ PLN = 0.23 }}\n",
                    file.display()
                ),
            )
            .unwrap();
            let pipeline = config::load(&toml).unwrap();
            let source = &pipeline.sources[0];
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                ingest::read(source)
                    .map(|raw| contracts::apply(&pipeline, source, &raw).map(|t| (raw.len(), t)))
            }));
            let result = outcome.unwrap_or_else(|_| panic!("panic on {}", file.display()));
            // A file that can be read at all accounts for every row.
            if let Ok(Ok((read_rows, table))) = result {
                assert_eq!(
                    read_rows,
                    table.rows_kept() + table.rejects.len(),
                    "{}",
                    file.display()
                );
            }
            cases += 1;
        }
    }
    assert_eq!(cases, 600);
}

/// Reads a source through ingest and its contract, from a pipeline text.
fn table(toml: &str) -> (contracts::Table, usize) {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.toml");
    std::fs::write(&p, toml.replace("ROOT", root().to_str().unwrap())).unwrap();
    let pipeline = config::load(&p).unwrap();
    let source = &pipeline.sources[0];
    let raw = ingest::read(source).unwrap_or_else(|e| panic!("{e}"));
    let n = raw.len();
    (contracts::apply(&pipeline, source, &raw).unwrap(), n)
}

fn column_strings(t: &contracts::Table, c: &str) -> Vec<Option<String>> {
    t.frame
        .column(c)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.map(String::from))
        .collect()
}

fn column_floats(t: &contracts::Table, c: &str) -> Vec<Option<f64>> {
    t.frame.column(c).unwrap().f64().unwrap().iter().collect()
}

#[test]
fn ocds_release_package_maps_to_procurement_without_a_column_map() {
    // The OCDS worked example: one award of 11 000 000 GBP by the London Borough of Barnet to
    // AnyCorp Cycle Provision (GB-COH-11111111), dated 2010-05-10.
    let Some(package) = shared_data("ocds/ocds-213czf-000-00001-04-award.json") else {
        return;
    };
    let (t, read) = table(&format!(
        "[pipeline]\nname = \"o\"\n[sources.contracts]\nkind = \"procurement\"\nformat = \"ocds\"\n\
         path = \"{}\"\nsocial_enterprises = [\"GB-COH-11111111\"]\n\
         [currency]\nrates = {{ GBP = 1.17 }}\n",
        package.display()
    ));
    assert_eq!((read, t.rows_kept()), (1, 1));
    assert_eq!(
        column_strings(&t, "buyer"),
        [Some("London Borough of Barnet".into())]
    );
    assert_eq!(
        column_strings(&t, "supplier"),
        [Some("AnyCorp Cycle Provision".into())]
    );
    assert_eq!(
        column_strings(&t, "supplier_type"),
        [Some("social_enterprise".into())]
    );
    assert_eq!(column_floats(&t, "amount"), [Some(11_000_000.0 * 1.17)]);
    assert_eq!(
        t.frame.column("period").unwrap().i32().unwrap().get(0),
        Some(2010)
    );
}

#[test]
fn giving360_grants_need_no_column_map() {
    let (t, read) = table(
        "[pipeline]\nname = \"g\"\n[sources.grants]\nkind = \"projects\"\nformat = \"360giving\"\n\
         path = \"ROOT/tests/fixtures/360giving/grants.csv\"\n[currency]\nrates = { GBP = 1.17 }\n",
    );
    // Three grants: two kept, one rejected for its date (15/09/2022 is not ISO 8601).
    assert_eq!((read, t.rows_kept(), t.rejects.len()), (3, 2, 1));
    assert_eq!(
        column_strings(&t, "id"),
        [
            Some("360G-cityfund-001".into()),
            Some("360G-cityfund-002".into())
        ]
    );
    assert_eq!(
        column_strings(&t, "area"),
        [Some("Barnet".into()), Some("Camden".into())]
    );
    assert_eq!(
        column_floats(&t, "amount"),
        [Some(12000.0 * 1.17), Some(8500.5 * 1.17)]
    );
    let r = &t.rejects[0];
    assert_eq!(
        (r.line, r.column.as_deref(), r.value.as_deref()),
        (4, Some("Award Date"), Some("15/09/2022"))
    );
    assert!(r.reason.contains("not a date"), "{}", r.reason);
}

#[test]
fn json_ndjson_and_parquet_records() {
    for (format, file) in [("json", "projects.json"), ("parquet", "projects.parquet")] {
        let (t, read) = table(&format!(
            "[pipeline]\nname = \"j\"\n[sources.p]\nkind = \"projects\"\nformat = \"{format}\"\npath = \"ROOT/tests/fixtures/formats/{file}\"\n"
        ));
        assert_eq!((read, t.rows_kept()), (2, 2), "{format}");
        assert_eq!(
            column_floats(&t, "amount"),
            [Some(1000.0), Some(500.5)],
            "{format}"
        );
        assert_eq!(
            column_strings(&t, "funding_source"),
            [Some("public".into()), Some("crowdfunding".into())],
            "{format}"
        );
    }
    // NDJSON: the broken third line is rejected with its line number; the fourth lacks a
    // funding source, which is optional.
    let (t, read) = table("[pipeline]\nname = \"n\"\n[sources.p]\nkind = \"projects\"\npath = \"ROOT/tests/fixtures/formats/projects.ndjson\"\n");
    assert_eq!((read, t.rows_kept(), t.rejects.len()), (4, 3, 1));
    assert_eq!(t.rejects[0].line, 3);
    assert!(
        t.rejects[0].reason.contains("not a record"),
        "{}",
        t.rejects[0].reason
    );
}

#[test]
fn sdmx_csv_reads_with_only_the_area_and_variable_named() {
    let (t, read) = table(
        "[pipeline]\nname = \"s\"\n[sources.l]\nkind = \"city_stats\"\nformat = \"sdmx-csv\"\npath = \"ROOT/tests/fixtures/formats/urb_clma.sdmx.csv\"\n\
         columns = { area = \"cities\", variable = \"indic_ur\" }\nvariables = { EC1020I = \"unemployment_rate\" }\n",
    );
    assert_eq!((read, t.rows_kept()), (2, 2));
    assert_eq!(column_floats(&t, "value"), [Some(3.9), Some(3.5)]);
    assert_eq!(column_strings(&t, "flag"), [Some("p".into()), None]);
    assert_eq!(
        column_strings(&t, "variable"),
        [
            Some("unemployment_rate".into()),
            Some("unemployment_rate".into())
        ]
    );
}

#[test]
fn a_glob_reads_one_file_per_year_as_one_source() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("sample-data/emissions.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let mut per_year: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for l in lines {
        per_year
            .entry(l.split(',').nth(1).unwrap().to_string())
            .or_default()
            .push(l);
    }
    for (year, rows) in &per_year {
        let mut body = format!("{header}\n{}\n", rows.join("\n"));
        if year == "2021" {
            body.push_str("PT_Braga,2021,waste,9,1.0\n"); // scope 9: rejected
        }
        std::fs::write(tmp.path().join(format!("emissions-{year}.csv")), body).unwrap();
    }
    let toml = "[pipeline]\nname = \"g\"\n[sources.e]\nkind = \"emissions\"\npath = \"emissions-*.csv\"\n\
                columns = { area = \"city\", period = \"year\", sector = \"gpc_sector\", tco2e = \"t_co2e\" }\n";
    std::fs::write(tmp.path().join("p.toml"), toml).unwrap();
    let pipeline = config::load(&tmp.path().join("p.toml")).unwrap();
    let source = &pipeline.sources[0];
    let raw = ingest::read(source).unwrap();
    let t = contracts::apply(&pipeline, source, &raw).unwrap();
    // Every row of every year's file, plus the planted one.
    assert_eq!(raw.len(), text.lines().count() - 1 + 1);
    assert_eq!(
        (t.rows_kept(), t.rejects.len()),
        (text.lines().count() - 1, 1)
    );
    let r = &t.rejects[0];
    // The reject names its own file and its line in that file.
    let rows_2021 = per_year["2021"].len() as i64;
    assert_eq!((&*r.file, r.line), ("emissions-2021.csv", rows_2021 + 2));
    // The manifest lists each file with its hash.
    let out = tmp.path().join("out");
    run_ok(tmp.path().join("p.toml").to_str().unwrap(), &out);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let files: Vec<&str> = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        per_year
            .keys()
            .map(|y| format!("emissions-{y}.csv"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn every_broken_file_gives_its_exact_error_or_reject() {
    let dir = root().join("tests/fixtures/bad");
    let expected = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for line in expected.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (file, kind, format, expect, at, column, message) =
            (f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
        let format_line = if format.is_empty() {
            String::new()
        } else {
            format!("format = \"{format}\"\n")
        };
        let toml = format!(
            "[pipeline]\nname = \"bad\"\n[sources.s]\nkind = \"{kind}\"\npath = \"{}\"\n{format_line}",
            dir.join(file).display()
        );
        let p = tmp.path().join("p.toml");
        std::fs::write(&p, toml).unwrap();
        let pipeline = config::load(&p).unwrap();
        let source = &pipeline.sources[0];
        let result = ingest::read(source);
        match expect {
            "error" => {
                let e = result
                    .err()
                    .unwrap_or_else(|| panic!("{file}: read, but should not be readable"));
                assert!(
                    e.to_string().contains(message) || e.hint().contains(message),
                    "{file}: {e} / {}",
                    e.hint()
                );
                assert!(
                    e.to_string().contains(file),
                    "{file}: the error must name the file: {e}"
                );
            }
            _ => {
                let raw = result.unwrap_or_else(|e| panic!("{file}: {e}"));
                let t = contracts::apply(&pipeline, source, &raw).unwrap();
                assert_eq!(t.rejects.len(), 1, "{file}: {:?}", t.rejects);
                assert_eq!(
                    t.rows_kept() + 1,
                    raw.len(),
                    "{file}: every other row is kept"
                );
                let r = &t.rejects[0];
                assert_eq!(r.line.to_string(), at, "{file}: line");
                assert_eq!(r.column.as_deref().unwrap_or(""), column, "{file}: column");
                assert_eq!(&*r.reason, message, "{file}: reason");
                assert!(r.file.ends_with(file), "{file}: {}", r.file);
            }
        }
        checked += 1;
    }
    assert!(checked >= 30, "{checked} broken files");
}

#[test]
fn ocds_flattened_csv_uses_the_same_column_names() {
    let (t, read) = table(
        "[pipeline]\nname = \"f\"\n[sources.c]\nkind = \"procurement\"\nformat = \"ocds\"\n\
         path = \"ROOT/tests/fixtures/formats/ocds-flat.csv\"\n[currency]\nrates = { PLN = 0.23 }\n",
    );
    assert_eq!((read, t.rows_kept()), (2, 2));
    assert_eq!(
        column_strings(&t, "supplier_type"),
        [Some("social_enterprise".into()), Some("other".into())]
    );
    assert_eq!(
        column_floats(&t, "amount"),
        [Some(400_000.0 * 0.23), Some(1_000_000.0 * 0.23)]
    );
}

#[test]
fn parquet_small_integers_and_float32_as_pyarrow_writes_them() {
    // int16 ages, int8 item counts, uint8 sex codes and float32 weights (pyarrow, pandas and R
    // arrow write small numbers so) are read as their values.
    let (t, read) = table(
        "[pipeline]\nname = \"p\"\n[sources.silc]\nkind = \"microdata\"\nformat = \"parquet\"\n\
         path = \"ROOT/tests/fixtures/formats/small-ints.parquet\"\nperiod = 2020\n\
         columns = { income = \"eqIncome\", weight = \"rb050\", household = \"db030\", area = \"db040\", sex = \"rb090\", deprivation_items = \"items\" }\n",
    );
    assert_eq!((read, t.rows_kept()), (4, 4), "{:?}", t.rejects);
    assert_eq!(
        column_floats(&t, "age"),
        [Some(34.0), Some(36.0), Some(7.0), Some(70.0)]
    );
    assert_eq!(
        column_floats(&t, "deprivation_items"),
        [Some(0.0), Some(1.0), Some(9.0), Some(2.0)]
    );
    assert_eq!(
        column_floats(&t, "weight"),
        [Some(120.0), Some(120.0), Some(80.5), Some(99.0)]
    );
    assert_eq!(
        column_strings(&t, "sex"),
        [
            Some("male".into()),
            Some("female".into()),
            Some("male".into()),
            Some("female".into())
        ]
    );
}

#[test]
fn parquet_columns_are_checked_in_their_own_types() {
    // tests/fixtures/formats/typed.parquet (pyarrow): int64 ids, large_string areas, date32
    // starts, UTC timestamps as ends, a dictionary-encoded funding source, uint32
    // beneficiaries and float32 tonnes. Row 2 has a negative amount, row 4 no area.
    let (t, read) = table(
        "[pipeline]\nname = \"t\"\n[sources.p]\nkind = \"projects\"\nformat = \"parquet\"\n\
         path = \"ROOT/tests/fixtures/formats/typed.parquet\"\n",
    );
    assert_eq!((read, t.rows_kept(), t.rejects.len()), (4, 2, 2));
    assert_eq!(
        column_strings(&t, "id"),
        [Some("101".into()), Some("103".into())]
    );
    assert_eq!(
        column_strings(&t, "start"),
        [Some("2021-03-01".into()), Some("2021-06-30".into())]
    );
    // The timestamp's date; an end before the start would have been rejected.
    assert_eq!(
        column_strings(&t, "end"),
        [Some("2022-03-01".into()), Some("2021-12-31".into())]
    );
    assert_eq!(column_floats(&t, "amount"), [Some(1000.0), Some(2500.25)]);
    assert_eq!(column_floats(&t, "beneficiaries"), [Some(12.0), Some(40.0)]);
    // float32 0.1 is read as the 0.1 its writer meant, not 0.10000000149011612.
    assert_eq!(column_floats(&t, "co2e_avoided_t"), [Some(0.1), Some(1.5)]);
    assert_eq!(
        column_strings(&t, "funding_source"),
        [Some("public".into()), Some("public".into())]
    );
    // Rejects name the row (Parquet has no lines), the column and the value.
    let r = &t.rejects[0];
    assert_eq!(
        (r.line, r.column.as_deref(), r.value.as_deref()),
        (2, Some("amount"), Some("-5"))
    );
    assert!(r.reason.contains("must not be below 0"), "{}", r.reason);
    let r = &t.rejects[1];
    assert_eq!(
        (r.line, r.column.as_deref(), r.value.as_deref()),
        (4, Some("area"), None)
    );
    assert!(r.reason.contains("is empty"), "{}", r.reason);
}

/// `tests/fixtures/formats/types.{parquet,arrow}` (see `make_types.py` beside them): four
/// projects in the types publishers' tools write. Row 4 has no area and is rejected.
fn check_every_type(t: &contracts::Table, read: usize) {
    assert_eq!(
        (read, t.rows_kept(), t.rejects.len()),
        (4, 3, 1),
        "{:?}",
        t.rejects
    );
    let r = &t.rejects[0];
    assert_eq!((r.line, r.column.as_deref()), (4, Some("area")));
    // uint64 beyond int64's range, as its digits.
    assert_eq!(
        column_strings(t, "id"),
        [
            Some("1".into()),
            Some("2".into()),
            Some("18446744073709551615".into())
        ]
    );
    // A dictionary (pandas categorical) gives its text.
    assert_eq!(
        column_strings(t, "area"),
        [
            Some("Noord".into()),
            Some("Zuid".into()),
            Some("Noord".into())
        ]
    );
    // decimal128(12, 2): the float64 the text 1000.10 parses to.
    assert_eq!(
        column_floats(t, "amount"),
        [Some(1000.10), Some(2500.25), Some(0.07)]
    );
    assert_eq!(
        column_floats(t, "beneficiaries"),
        [Some(12.0), Some(3.0), Some(40.0)]
    );
    // A naive timestamp's date; a zoned one's date on its own wall clock: 2021-12-31T23:30Z is
    // 00:30 on 2022-01-01 in Vienna (UTC+1 in winter), 2022-06-30T12:00Z 14:00 (UTC+2).
    assert_eq!(
        column_strings(t, "start"),
        [
            Some("2021-03-01".into()),
            Some("2022-01-15".into()),
            Some("2021-06-30".into())
        ]
    );
    assert_eq!(
        column_strings(t, "end"),
        [Some("2022-01-01".into()), Some("2022-06-30".into()), None]
    );
    // Nested values as compact JSON text; a missing one stays missing.
    assert_eq!(
        column_strings(t, "theme"),
        [
            Some(r#"["housing","energy \"retrofit\""]"#.into()),
            Some("[]".into()),
            None
        ]
    );
    assert_eq!(
        column_strings(t, "funder"),
        [
            Some(r#"{"id":"GB-1","name":"Fund"}"#.into()),
            None,
            Some(r#"{"id":"GB-2","name":null}"#.into())
        ]
    );
    // Arrow's null type: empty cells.
    assert_eq!(column_strings(t, "title"), [None, None, None]);
    // large_string (Parquet) and string_view (Arrow IPC).
    assert_eq!(
        column_strings(t, "recipient"),
        [Some("Wijkcoop".into()), Some("Buurtzorg".into()), None]
    );
}

#[test]
fn parquet_in_every_type_publishers_write() {
    let (t, read) = table(
        "[pipeline]\nname = \"t\"\n[sources.p]\nkind = \"projects\"\n\
         path = \"ROOT/tests/fixtures/formats/types.parquet\"\n",
    );
    check_every_type(&t, read);
}

#[test]
fn arrow_ipc_in_every_type_publishers_write() {
    // Feather v2 with pyarrow's default LZ4 compression, and uncompressed with string_view
    // text; the format is told by the extension.
    for file in ["types.arrow", "types-view.arrow"] {
        let (t, read) = table(&format!(
            "[pipeline]\nname = \"t\"\n[sources.p]\nkind = \"projects\"\n\
             path = \"ROOT/tests/fixtures/formats/{file}\"\n"
        ));
        check_every_type(&t, read);
    }
}

/// `cityimpact run` of a pipeline in `dir` with one projects source at `path` (relative to
/// `dir`, or absolute), into `dir/o`: it must fail with exit code 1; gives what it printed.
fn failed_run_of_projects(dir: &std::path::Path, path: &str) -> String {
    std::fs::write(
        dir.join("p.toml"),
        format!("[pipeline]\nname = \"b\"\n[sources.p]\nkind = \"projects\"\npath = \"{path}\"\n"),
    )
    .unwrap();
    let o = cityimpact(&[
        "run",
        dir.join("p.toml").to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    stderr(&o)
}

#[test]
fn a_column_the_arrow_reader_cannot_decode_is_named_not_a_crash() {
    // polars 0.55's IPC reader panics on the empty buffers of a compressed string_view
    // column: the run reports the column and what to do, and prints no panic.
    let dir = tempfile::tempdir().unwrap();
    let file = root().join("tests/fixtures/formats/view-lz4.arrow");
    let err = failed_run_of_projects(dir.path(), &file.to_string_lossy());
    assert!(
        err.contains("view-lz4.arrow") && err.contains("Arrow IPC column `recipient`"),
        "{err}"
    );
    assert!(err.contains("write the column as string"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!dir.path().join("o/indicators.parquet").exists());
}

#[test]
fn microdata_from_arrow_ipc_is_read_as_from_parquet() {
    // The same eight persons as silc-checks.parquet, written as Arrow IPC (uncompressed and
    // Zstandard) by polars: the same kept rows, values and rejects.
    let tmp = tempfile::tempdir().unwrap();
    let persons = read(&root().join("tests/fixtures/formats/silc-checks.parquet")).unwrap();
    for (name, compression) in [
        ("plain.arrow", None),
        ("zstd.feather", Some(IpcCompression::default())),
    ] {
        let mut df = persons.clone();
        let file = std::fs::File::create(tmp.path().join(name)).unwrap();
        IpcWriter::new(file)
            .with_compression(compression)
            .finish(&mut df)
            .unwrap();
    }
    let pipeline = |path: &str| {
        format!(
            "[pipeline]\nname = \"c\"\nperiods = {{ from = 2020, to = 2021 }}\n[sources.silc]\nkind = \"microdata\"\n\
             path = \"{path}\"\n\
             columns = {{ household = \"hid\", area = \"region\", weight = \"weight\", period = \"year\" }}\n"
        )
    };
    let (parquet, n) = table(&pipeline("ROOT/tests/fixtures/formats/silc-checks.parquet"));
    for name in ["plain.arrow", "zstd.feather"] {
        let (arrow, m) = table(&pipeline(tmp.path().join(name).to_str().unwrap()));
        assert_eq!((m, arrow.rows_kept()), (n, parquet.rows_kept()), "{name}");
        assert!(arrow.frame.equals_missing(&parquet.frame), "{name}");
        assert_eq!(arrow.rejects.len(), parquet.rejects.len(), "{name}");
        for (a, p) in arrow.rejects.iter().zip(&parquet.rejects) {
            assert_eq!(
                (a.line, &a.column, &a.value, &a.reason),
                (p.line, &p.column, &p.value, &p.reason),
                "{name}"
            );
        }
    }
}

#[test]
fn typed_microdata_is_checked_by_column_as_text_is_by_row() {
    // The same eight persons as Parquet (typed columns, checked column by column) and as CSV
    // (text, checked row by row): the same kept rows, values and rejects. By hand: rows 1, 2
    // and 5 are kept (row 5 has no area, which is optional; row 3's area "AT2 " is trimmed);
    // row 3 has no income, row 4 an age of 200 (and a sex of "x"), row 6 a weight of 0, row 7 an
    // income of 1e16, and row 8 is from 2019, outside the pipeline's periods.
    let pipeline = |format: &str| {
        format!(
            "[pipeline]\nname = \"c\"\nperiods = {{ from = 2020, to = 2021 }}\n[sources.silc]\nkind = \"microdata\"\nformat = \"{format}\"\n\
             path = \"ROOT/tests/fixtures/formats/silc-checks.{format}\"\n\
             columns = {{ household = \"hid\", area = \"region\", weight = \"weight\", period = \"year\" }}\n"
        )
    };
    let (typed, read) = table(&pipeline("parquet"));
    let (text, _) = table(&pipeline("csv"));
    assert_eq!((read, typed.rows_kept(), typed.rejects.len()), (8, 3, 5));
    assert_eq!(typed.rows_filtered, 1);
    assert_eq!(
        column_floats(&typed, "income"),
        [Some(21000.5), Some(21000.5), Some(9000.0)]
    );
    assert_eq!(
        column_strings(&typed, "area"),
        [Some("AT1".into()), Some("AT1".into()), None]
    );
    for c in ["income", "weight", "age"] {
        assert_eq!(column_floats(&typed, c), column_floats(&text, c), "{c}");
    }
    for c in ["area", "sex"] {
        assert_eq!(column_strings(&typed, c), column_strings(&text, c), "{c}");
    }
    let periods = |t: &cityimpact::contracts::Table| -> Vec<Option<i32>> {
        t.frame
            .column("period")
            .unwrap()
            .i32()
            .unwrap()
            .iter()
            .collect()
    };
    assert_eq!(periods(&typed), [Some(2020), Some(2020), Some(2021)]);
    assert_eq!(periods(&typed), periods(&text));
    // Household ids written as integers stay integers; as text they are text.
    let households = typed.frame.column("household").unwrap();
    assert_eq!(
        households.i64().unwrap().iter().collect::<Vec<_>>(),
        [Some(1), Some(1), Some(3)]
    );
    // Rejects: a Parquet row's number is its line; the CSV has a header line above.
    let rejects = |t: &cityimpact::contracts::Table, offset: i64| -> Vec<_> {
        t.rejects
            .iter()
            .map(|r| {
                (
                    r.line - offset,
                    r.column.clone(),
                    r.value.clone(),
                    r.reason.clone(),
                )
            })
            .collect()
    };
    // The same rejects, except that a cell's text is the file's own: the CSV wrote `1e+16`,
    // the Parquet file holds the number.
    let (got, csv) = (rejects(&typed, 0), rejects(&text, 1));
    assert_eq!(got.len(), csv.len());
    for (a, b) in got.iter().zip(&csv) {
        assert_eq!((a.0, &a.1), (b.0, &b.1));
        if a.0 != 7 {
            assert_eq!((&a.2, &a.3), (&b.2, &b.3));
        }
    }
    assert_eq!(csv[3].2.as_deref(), Some("1e+16"));
    assert_eq!(
        got.iter()
            .map(|r| (r.0, r.1.as_deref(), r.2.as_deref()))
            .collect::<Vec<_>>(),
        [
            (3, Some("income"), None),
            // The first failing column in role order; its sex "x" fails too.
            (4, Some("age"), Some("200")),
            (6, Some("weight"), Some("0")),
            (7, Some("income"), Some("10000000000000000")),
            (8, None, Some("2019")),
        ]
    );
}

#[test]
fn a_typed_file_that_cannot_be_read_names_the_file_not_a_line() {
    for (name, bytes, what) in [
        (
            "bad.parquet",
            &b"PAR1 this is not parquet PAR1"[..],
            "Parquet file",
        ),
        (
            "bad.arrow",
            &b"ARROW1\0\0 not an ipc file ARROW1"[..],
            "Arrow IPC file",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let err = failed_run_of_projects(dir.path(), name);
        assert!(err.contains(name) && err.contains(what), "{err}");
        assert!(
            !err.contains("quoting") && !err.contains("panicked"),
            "{err}"
        );
    }
}

/// area, period, value, flag.
type Observation = (String, i32, f64, Option<String>);

/// A `city_stats` pipeline over one Eurostat file with `extra` source keys; gives the run's
/// output and the values of `indicator` as (area, period, value, flag).
fn eurostat_run(file: &str, format: &str, extra: &str) -> (std::process::Output, Vec<Observation>) {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.toml");
    std::fs::write(
        &p,
        format!(
            "[pipeline]\nname = \"es\"\n[sources.labour]\nkind = \"city_stats\"\nformat = \"{format}\"\npath = \"{file}\"\n{extra}\n\
             [indicators]\nspending = \"none\"\nclimate = \"none\"\nbootstrap = {{ replicates = 0 }}\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    if !o.status.success() {
        return (o, Vec::new());
    }
    let df = read(&out.join("indicators.parquet")).unwrap();
    let df = df
        .lazy()
        .filter(col("indicator").eq(lit("unemployment_rate")))
        .collect()
        .unwrap();
    let s = |c: &str, i: usize| {
        df.column(c)
            .unwrap()
            .str()
            .unwrap()
            .get(i)
            .map(String::from)
    };
    let rows = (0..df.height())
        .map(|i| {
            (
                s("area", i).unwrap(),
                df.column("period").unwrap().i32().unwrap().get(i).unwrap(),
                df.column("value").unwrap().f64().unwrap().get(i).unwrap(),
                s("flag", i),
            )
        })
        .collect();
    (o, rows)
}

#[test]
fn a_multi_dimensional_eurostat_table_needs_a_filter_and_says_which() {
    let file = root().join("tests/fixtures/eurostat/urb_clma_sex.tsv");
    let file = file.to_str().unwrap();
    let vars = "variables = { EC1020I = \"unemployment_rate\" }";
    // Without a filter, NL012C 2020 has four values (F, M, T in PC; T in THS): exit 2, the
    // varying dimensions with their values, and a line to copy.
    let (o, _) = eurostat_run(file, "eurostat-tsv", vars);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("area `NL012C`, variable `EC1020I`, period 2020 (lines 2 and 3)"),
        "{err}"
    );
    assert!(err.contains("`sex`, `unit` vary"), "{err}");
    assert!(
        err.contains("filter = { sex = \"T\", unit = \"PC\" }"),
        "{err}"
    );
    assert!(err.contains("sex: F, M, T; unit: PC, THS"), "{err}");
    // The slice sex = T, unit = PC: NL012C 4.6 and 3.9 (p); PL005C 2020 missing (flag c), 4.3.
    let (o, mut rows) = eurostat_run(
        file,
        "eurostat-tsv",
        &format!("{vars}\nfilter = {{ sex = \"T\", unit = \"PC\" }}"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    assert_eq!(
        rows,
        vec![
            ("NL012C".into(), 2020, 4.6, None),
            ("NL012C".into(), 2021, 3.9, Some("p".into())),
            ("PL005C".into(), 2021, 4.3, None),
        ]
    );
    // A value no row has, and a dimension the table does not have, are named.
    let (o, _) = eurostat_run(
        file,
        "eurostat-tsv",
        &format!("{vars}\nfilter = {{ sex = \"X\", unit = \"PC\" }}"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("has sex = \"X\"") && stderr(&o).contains("sex takes: F, M, T"),
        "{}",
        stderr(&o)
    );
    let (o, _) = eurostat_run(
        file,
        "eurostat-tsv",
        &format!("{vars}\nfilter = {{ sexe = \"T\" }}"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `sex`?"), "{}", stderr(&o));
}

#[test]
fn an_sdmx_csv_table_is_filtered_to_one_slice() {
    let file = root().join("tests/fixtures/eurostat/une_rt_a.csv");
    let file = file.to_str().unwrap();
    let map = "columns = { variable = \"age\" }\nvariables = { \"Y15-74\" = \"unemployment_rate\", \"Y15-24\" = \"youth_unemployment_rate\" }";
    let (o, _) = eurostat_run(file, "sdmx-csv", map);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("area `NL`, variable `Y15-74`, period 2021 (lines 2 and 3)"),
        "{err}"
    );
    assert!(
        err.contains("`unit`, `sex` vary") || err.contains("`sex`, `unit` vary"),
        "{err}"
    );
    assert!(
        err.contains("unit = \"PC_ACT\"") && err.contains("sex = \"T\""),
        "{err}"
    );
    // sex = T, unit = PC_ACT: NL 4.2, PL 3.4 (b).
    let (o, mut rows) = eurostat_run(
        file,
        "sdmx-csv",
        &format!("{map}\nfilter = {{ sex = \"T\", unit = \"PC_ACT\" }}"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        rows,
        vec![
            ("NL".into(), 2021, 4.2, None),
            ("PL".into(), 2021, 3.4, Some("b".into())),
        ]
    );
}

#[test]
fn eurostats_own_six_dimension_table_as_a_third_party_rewrote_it() {
    let Some(file) = shared_data("real/eurostat/estat_ilc_di03.csv") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.toml");
    let write = |extra: &str| {
        std::fs::write(
            &p,
            format!(
                "[pipeline]\nname = \"es\"\n[sources.income]\nkind = \"city_stats\"\nformat = \"eurostat-tsv\"\npath = \"{}\"\ncolumns = {{ variable = \"statinfo\" }}\n{extra}\n",
                file.display()
            ),
        )
        .unwrap();
    };
    write("");
    let o = cityimpact(&["validate", p.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("`age`, `sex`, `unit` vary"), "{err}");
    assert!(
        err.contains("filter = { age = \"TOTAL\", sex = \"T\", unit = \"EUR\" }"),
        "{err}"
    );
    write("filter = { age = \"TOTAL\", sex = \"T\", unit = \"EUR\" }");
    let o = cityimpact(&["validate", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn giving360_json_reads_as_the_flat_form_does() {
    let (t, read) = table(
        "[pipeline]\nname = \"g\"\n[sources.grants]\nkind = \"projects\"\nformat = \"360giving\"\n\
         path = \"ROOT/tests/fixtures/360giving/grants.json\"\n[currency]\nrates = { GBP = 1.17 }\n",
    );
    // Three grants: two kept, the third rejected for having no beneficiary location.
    assert_eq!((read, t.rows_kept(), t.rejects.len()), (3, 2, 1));
    assert_eq!(
        column_strings(&t, "id"),
        [
            Some("360G-cityfund-001".into()),
            Some("360G-cityfund-002".into())
        ]
    );
    // The first location, recipient and funder of each grant.
    assert_eq!(
        column_strings(&t, "area"),
        [Some("Barnet".into()), Some("Camden".into())]
    );
    assert_eq!(
        column_strings(&t, "recipient_id"),
        [Some("GB-CHC-1000001".into()), Some("GB-COH-2000002".into())]
    );
    assert_eq!(
        column_strings(&t, "funder"),
        [Some("City Fund".into()), Some("City Fund".into())]
    );
    assert_eq!(
        column_floats(&t, "amount"),
        [Some(12000.0 * 1.17), Some(8500.5 * 1.17)]
    );
    // The award date's day, and the planned end where the grant has one.
    assert_eq!(
        column_strings(&t, "start"),
        [Some("2022-04-01".into()), Some("2022-09-15".into())]
    );
    assert_eq!(column_strings(&t, "end"), [Some("2023-03-31".into()), None]);
    let r = &t.rejects[0];
    // The third grant (a record number, as contract.md has it for JSON); its missing
    // location is named by its JSON pointer, as a reader finds it with `jq '.grants[2]'`.
    assert_eq!(r.line, 3, "the third grant");
    assert_eq!(
        r.column.as_deref(),
        Some("/grants/2/beneficiaryLocation/0/name"),
        "{r:?}"
    );
    assert!(
        r.reason.contains("the grant has no beneficiary location"),
        "{}",
        r.reason
    );
}

#[test]
fn a_real_funders_360giving_json() {
    let Some(file) = shared_data("real/360giving/powertochange_a002400000nO46WAAS.json") else {
        return;
    };
    // What the file says, read here without cityimpact: each grant's first location code, and
    // whether its planned end comes before its award date (a reject).
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let grants = doc["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 870);
    let day = |v: &serde_json::Value| v.as_str().map(|s| s[..10].to_string());
    let kept = grants
        .iter()
        .filter(|g| g.pointer("/beneficiaryLocation/0/geoCode").is_some())
        .filter(|g| {
            let end = g.pointer("/plannedDates/0/endDate").and_then(day);
            end.is_none_or(|e| Some(e) >= day(&g["awardDate"]))
        })
        .count();
    let (t, read) = table(&format!(
        "[pipeline]\nname = \"g\"\n[sources.grants]\nkind = \"projects\"\nformat = \"360giving\"\npath = \"{}\"\n\
         columns = {{ area = \"Beneficiary Location:Geographic Code\" }}\n[currency]\nreport = \"GBP\"\n",
        file.display()
    ));
    assert_eq!((read, t.rows_kept()), (870, kept));
    // The first grant, field by field as published.
    let g = &grants[0];
    let first = column_strings(&t, "id")
        .iter()
        .position(|id| id.as_deref() == g["id"].as_str())
        .unwrap();
    let at = |c: &str| column_strings(&t, c)[first].clone();
    assert_eq!(
        at("recipient_id").as_deref(),
        g.pointer("/recipientOrganization/0/id")
            .and_then(|v| v.as_str())
    );
    assert_eq!(at("funder").as_deref(), Some("Power to Change Trust"));
    assert_eq!(
        at("area").as_deref(),
        g.pointer("/beneficiaryLocation/0/geoCode")
            .and_then(|v| v.as_str())
    );
    assert_eq!(
        column_floats(&t, "amount")[first],
        g["amountAwarded"].as_f64()
    );
}

#[test]
fn amounts_are_converted_at_their_own_years_rate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.csv"),
        "id,area,amount,start,currency\nP1,A,100,2018-05-01,GBP\nP2,A,100,2019-05-01,GBP\n\
         P3,A,100,2017-05-01,GBP\nP4,A,50,2019-01-01,EUR\nP5,A,10,2019-02-01,PLN\n",
    )
    .unwrap();
    let (t, read) = table(&format!(
        "[pipeline]\nname = \"r\"\n[sources.p]\nkind = \"projects\"\npath = \"{}\"\n\
         [currency]\nrates = {{ GBP = {{ 2018 = 1.13, 2019 = 1.14 }}, PLN = 0.23 }}\n",
        dir.path().join("p.csv").display()
    ));
    // 2018: 100 × 1.13; 2019: 100 × 1.14; euros as they are; PLN at its one rate. 2017 has no
    // GBP rate: rejected, saying which year to add.
    assert_eq!(read, 5);
    assert_eq!(
        column_floats(&t, "amount"),
        [
            Some(100.0 * 1.13),
            Some(100.0 * 1.14),
            Some(50.0),
            Some(10.0 * 0.23)
        ]
    );
    assert_eq!(t.rejects.len(), 1);
    let r = &t.rejects[0];
    assert_eq!(r.line, 4);
    assert!(
        r.reason
            .contains("no GBP rate for 2017; add 2017 = <EUR per GBP> to rates.GBP"),
        "{}",
        r.reason
    );
}

#[test]
fn a_rate_is_a_positive_number_or_one_per_year() {
    for (rates, ok) in [
        ("{ GBP = 1.13 }", true),
        ("{ GBP = 2 }", true),
        ("{ GBP = { 2018 = 1.13 } }", true),
        ("{ GBP = -1 }", false),
        ("{ GBP = { 2018 = 0 } }", false),
        ("{ GBP = { twenty = 1.1 } }", false),
        ("{ GBP = \"1.1\" }", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(
            &p,
            format!("[pipeline]\nname = \"r\"\n[sources.p]\nkind = \"projects\"\npath = \"p.csv\"\n[currency]\nrates = {rates}\n"),
        )
        .unwrap();
        let loaded = config::load(&p);
        assert_eq!(loaded.is_ok(), ok, "{rates}: {:?}", loaded.err());
        if let Err(e) = loaded {
            assert!(
                e.to_string()
                    .contains("must be a positive number, or one per year"),
                "{e}"
            );
        }
    }
}

#[test]
fn survey_incomes_are_converted_at_their_years_rate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.csv"),
        "weight,income,period\n1,100,2019\n1,100,2020\n1,100,2018\n",
    )
    .unwrap();
    let (t, read) = table(&format!(
        "[pipeline]\nname = \"r\"\n[sources.m]\nkind = \"microdata\"\npath = \"{}\"\ncurrency = \"PLN\"\n\
         [currency]\nrates = {{ PLN = {{ 2019 = 0.23, 2020 = 0.22 }} }}\n",
        dir.path().join("m.csv").display()
    ));
    assert_eq!(read, 3);
    assert_eq!(
        column_floats(&t, "income"),
        [Some(100.0 * 0.23), Some(100.0 * 0.22)]
    );
    assert_eq!(t.rejects.len(), 1);
    assert!(
        t.rejects[0].reason.contains("no PLN rate for 2018"),
        "{}",
        t.rejects[0].reason
    );
}

#[test]
fn survey_incomes_from_parquet_are_converted_at_their_years_rate() {
    // The same survey as a typed file, checked column by column.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.parquet");
    let mut df = df!(
        "weight" => [1.0, 1.0, 1.0],
        "income" => [100.0, 100.0, 100.0],
        "period" => [2019i32, 2020, 2018]
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let (t, read) = table(&format!(
        "[pipeline]\nname = \"r\"\n[sources.m]\nkind = \"microdata\"\npath = \"{}\"\ncurrency = \"PLN\"\n\
         [currency]\nrates = {{ PLN = {{ 2019 = 0.23, 2020 = 0.22 }} }}\n",
        path.display()
    ));
    assert_eq!(read, 3);
    assert_eq!(
        column_floats(&t, "income"),
        [Some(100.0 * 0.23), Some(100.0 * 0.22)]
    );
    assert_eq!(t.rejects.len(), 1);
    assert!(
        t.rejects[0].reason.contains("no PLN rate for 2018"),
        "{}",
        t.rejects[0].reason
    );
}

#[test]
fn ocds_releases_are_compiled_per_process_with_one_row_per_award() {
    let (t, read) = table(
        "[pipeline]\nname = \"o\"\n[sources.c]\nkind = \"procurement\"\nformat = \"ocds\"\n\
         path = \"ROOT/tests/fixtures/formats/ocds-releases.json\"\nsocial_enterprises = [\"Green Kitchen Coop\"]\n\
         [currency]\nrates = { PLN = 0.23 }\n",
    );
    // Process A compiles to awards 1 and 2; process B to award 1 and contract B-c9 (no award
    // names it). Award ids repeat across processes, so the key is the ocid and the award id.
    assert_eq!((read, t.rows_kept(), t.rejects.len()), (4, 4, 0));
    assert_eq!(
        column_strings(&t, "id"),
        [
            Some("ocds-x1-A/1".into()),
            Some("ocds-x1-A/2".into()),
            Some("ocds-x1-B/1".into()),
            Some("ocds-x1-B/contract:B-c9".into()),
        ]
    );
    // A/1: the later release's 900 EUR replaces the early 0; its own date. A/2: no value or
    // date of its own, so its contract's 400 PLN (× 0.23) and dateSigned. B's buyer comes
    // from its parties; B-c9 has no date of its own: the release's.
    assert_eq!(
        column_floats(&t, "amount"),
        [Some(900.0), Some(400.0 * 0.23), Some(120.5), Some(75.0)]
    );
    assert_eq!(
        column_floats(&t, "amount_original"),
        [Some(900.0), Some(400.0), Some(120.5), Some(75.0)]
    );
    assert_eq!(
        column_strings(&t, "currency_original"),
        [
            Some("EUR".into()),
            Some("PLN".into()),
            Some("EUR".into()),
            Some("EUR".into())
        ]
    );
    assert_eq!(
        column_strings(&t, "date_from"),
        [
            Some("award".into()),
            Some("contract".into()),
            Some("release".into()),
            Some("release".into())
        ]
    );
    assert_eq!(
        column_strings(&t, "date"),
        [
            Some("2023-02-20".into()),
            Some("2023-04-02".into()),
            Some("2022-11-05".into()),
            Some("2022-11-05".into())
        ]
    );
    assert_eq!(
        column_strings(&t, "buyer"),
        vec![Some("Gemeente Amersfoort".to_string()); 4]
    );
    // A supplier without an id is kept by name, and named as a social enterprise by name.
    assert_eq!(
        column_strings(&t, "supplier_id"),
        [
            None,
            Some("NL-KVK-222".into()),
            Some("NL-KVK-333".into()),
            None
        ]
    );
    assert_eq!(
        column_strings(&t, "supplier_type"),
        [
            Some("social_enterprise".into()),
            Some("other".into()),
            Some("other".into()),
            Some("other".into())
        ]
    );
}

#[test]
fn real_ocds_packages_from_three_publishers() {
    // Mexico City (OCDS 1.0, two releases per process, one file in ISO-8859-1) and Paraguay
    // (1.1, a contract and no award), read as one source; and Mexico's federal record packages.
    let Some(one) = shared_data("real/ocds/release-package-1.json") else {
        return;
    };
    let dir = one.parent().unwrap();
    let (t, read) = table(&format!(
        "[pipeline]\nname = \"o\"\n[sources.c]\nkind = \"procurement\"\nformat = \"ocds\"\npath = \"{}/release-package*.json\"\n\
         [currency]\nreport = \"MXN\"\nrates = {{ USD = 17.7526, PYG = 0.0023 }}\n",
        dir.display()
    ));
    // What the files hold, read here: the distinct ocids of the release packages, each with
    // one award (or, for Paraguay, one contract and no award).
    let mut ocids = std::collections::BTreeSet::new();
    for f in [
        "release-package-1.json",
        "release-package-2.json",
        "release-package_1.1-2.json",
    ] {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap();
        for r in doc["releases"].as_array().unwrap() {
            ocids.insert(r["ocid"].as_str().unwrap().to_string());
        }
    }
    let latin1 = std::fs::read(dir.join("release-package_encoding-iso-8859-1.json")).unwrap();
    let latin1: String = latin1.iter().map(|&b| b as char).collect();
    let doc: serde_json::Value = serde_json::from_str(&latin1).unwrap();
    for r in doc["releases"].as_array().unwrap() {
        ocids.insert(r["ocid"].as_str().unwrap().to_string());
    }
    assert_eq!((read, t.rows_kept()), (ocids.len(), ocids.len()));
    // The USD award of DRM-065: 75 464.96 USD at the pipeline's rate.
    let ids = column_strings(&t, "id");
    let k = ids
        .iter()
        .position(|i| i.as_deref() == Some("OCDS-87SD3T-AD-SF-DRM-065-2015/1"))
        .unwrap();
    assert_eq!(column_floats(&t, "amount")[k], Some(75464.96 * 17.7526));
    assert_eq!(
        column_strings(&t, "currency_original")[k].as_deref(),
        Some("USD")
    );
    // Paraguay's contract is a row of its own, dated when it was signed.
    let p = ids
        .iter()
        .position(|i| i.as_deref().is_some_and(|i| i.contains("/contract:")))
        .unwrap();
    assert_eq!(
        column_strings(&t, "date_from")[p].as_deref(),
        Some("contract")
    );

    // Record packages: the compiled release's awards, every one of them.
    for f in ["record-package-1.json", "record-package-2.json"] {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap();
        let awards: usize = doc["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["compiledRelease"]["awards"]
                    .as_array()
                    .map_or(0, Vec::len)
            })
            .sum();
        let (t, read) = table(&format!(
            "[pipeline]\nname = \"o\"\n[sources.c]\nkind = \"procurement\"\nformat = \"ocds\"\npath = \"{}\"\n\
             [currency]\nreport = \"MXN\"\n",
            dir.join(f).display()
        ));
        assert!(awards >= 1, "{f}");
        assert!(read >= awards, "{f}: {read} rows for {awards} awards");
        assert_eq!(t.rows_kept() + t.rejects.len(), read, "{f}");
    }
}

#[test]
fn giving360_spreadsheets_read_as_the_csv_does() {
    for ext in ["xlsx", "ods"] {
        let (t, read) = table(&format!(
            "[pipeline]\nname = \"g\"\n[sources.grants]\nkind = \"projects\"\nformat = \"360giving\"\n\
             path = \"ROOT/tests/fixtures/360giving/grants.{ext}\"\nsheet = \"Grants\"\n[currency]\nrates = {{ GBP = 1.17 }}\n"
        ));
        // As from grants.csv: two kept, one rejected for its date (15/09/2022), on the
        // spreadsheet's row 4.
        assert_eq!((read, t.rows_kept(), t.rejects.len()), (3, 2, 1), "{ext}");
        assert_eq!(
            column_strings(&t, "id"),
            [
                Some("360G-cityfund-001".into()),
                Some("360G-cityfund-002".into())
            ],
            "{ext}"
        );
        assert_eq!(
            column_floats(&t, "amount"),
            [Some(12000.0 * 1.17), Some(8500.5 * 1.17)],
            "{ext}"
        );
        assert_eq!(
            column_strings(&t, "start"),
            [Some("2022-04-01".into()), Some("2022-09-15".into())],
            "{ext}: dates as ISO"
        );
        let r = &t.rejects[0];
        assert_eq!(
            (r.line, r.value.as_deref()),
            (4, Some("15/09/2022")),
            "{ext}"
        );
    }
    // The first sheet is read unless one is named; a sheet that is not there is named with
    // the workbook's sheets.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    let file = root().join("tests/fixtures/360giving/grants.xlsx");
    for (sheet, message) in [
        ("", "has no column `Identifier`"),
        (
            "sheet = \"Grant\"\n",
            "did you mean `Grants`? its sheets: About, Grants",
        ),
    ] {
        std::fs::write(
            &p,
            format!(
                "[pipeline]\nname = \"g\"\n[sources.grants]\nkind = \"projects\"\nformat = \"360giving\"\npath = \"{}\"\n{sheet}",
                file.display()
            ),
        )
        .unwrap();
        let o = cityimpact(&["validate", p.to_str().unwrap()]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(message), "{}", stderr(&o));
    }
}

#[test]
fn a_deflator_brings_every_amount_to_base_year_prices() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.csv"),
        "id,area,amount,start,currency\nP1,A,100,2019-05-01,EUR\nP2,A,100,2020-05-01,EUR\n\
         P3,A,100,2021-03-01,GBP\nP4,A,100,2018-01-01,EUR\n",
    )
    .unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        format!(
            "[pipeline]\nname = \"d\"\n[sources.p]\nkind = \"projects\"\npath = \"{}\"\n\
             [indicators]\nexclusion = \"none\"\nclimate = \"none\"\n\
             [currency]\nrates = {{ GBP = {{ 2021 = 1.16 }} }}\n\
             deflator = {{ base_year = 2020, index = {{ 2019 = 98.0, 2020 = 100.0, 2021 = 102.5 }}, source = \"Eurostat HICP (prc_hicp_aind), invented values\" }}\n",
            dir.path().join("p.csv").display()
        ),
    )
    .unwrap();
    let (t, rows) = table(&std::fs::read_to_string(&p).unwrap());
    // 2019: 100 × 100 / 98; 2020: as it is; 2021: 100 GBP × 1.16 × 100 / 102.5. 2018 has no
    // index value: rejected, saying what to add.
    assert_eq!(rows, 4);
    assert_eq!(
        column_floats(&t, "amount"),
        [
            Some(100.0 * (100.0 / 98.0)),
            Some(100.0),
            Some(100.0 * 1.16 * (100.0 / 102.5))
        ]
    );
    assert_eq!(t.rejects.len(), 1);
    assert!(
        t.rejects[0].reason.contains("no value for 2018"),
        "{}",
        t.rejects[0].reason
    );
    // The units say so.
    let out = dir.path().join("out");
    run_ok(p.to_str().unwrap(), &out);
    let df = read(&out.join("indicators.parquet")).unwrap();
    let units: std::collections::BTreeSet<String> = df
        .lazy()
        .filter(col("indicator").eq(lit("spend_total")))
        .collect()
        .unwrap()
        .column("unit")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(String::from)
        .collect();
    assert_eq!(units.into_iter().collect::<Vec<_>>(), ["EUR (2020 prices)"]);
}

#[test]
fn ocds_releases_of_one_process_in_two_files_are_compiled_together() {
    let (t, read) = table(
        "[pipeline]\nname = \"o\"\n[sources.c]\nkind = \"procurement\"\nformat = \"ocds\"\n\
         path = \"ROOT/tests/fixtures/formats/ocds-split/*.json\"\n[currency]\nrates = { PLN = 0.23 }\n",
    );
    // As from the one package: A's releases merge across the files (900 EUR, not the first
    // release's 0), and A's rows go with b.json, which holds its latest release; B stays
    // with a.json, which comes first.
    assert_eq!((read, t.rows_kept(), t.rejects.len()), (4, 4, 0));
    assert_eq!(
        column_strings(&t, "id"),
        [
            Some("ocds-x1-B/1".into()),
            Some("ocds-x1-B/contract:B-c9".into()),
            Some("ocds-x1-A/1".into()),
            Some("ocds-x1-A/2".into()),
        ]
    );
    assert_eq!(
        column_floats(&t, "amount"),
        [Some(120.5), Some(75.0), Some(900.0), Some(400.0 * 0.23)]
    );
}

#[test]
fn json_rejects_name_the_record_and_the_json_pointer() {
    // The records are under "data" (after another array, "notes"); the second record's
    // amount is not a number. Its line is its record number (contract.md: JSON rows are
    // numbered, NDJSON rows are lines).
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("p.json");
    std::fs::write(
        &file,
        "{\"notes\": [\"[not] a \\\"record\\\"\"],\n \"data\": [\n  {\"id\": \"P1\", \"area\": \"A\", \"amount\": 10, \"start\": \"2021-01-01\", \"funding_source\": \"public\"},\n  {\"id\": \"P2\",\n   \"area\": \"A\", \"amount\": \"ten\", \"start\": \"2021-02-01\", \"funding_source\": \"public\"}\n ]}\n",
    )
    .unwrap();
    let ndjson = tmp.path().join("p.ndjson");
    std::fs::write(
        &ndjson,
        "{\"id\": \"P1\", \"area\": \"A\", \"amount\": 10, \"start\": \"2021-01-01\", \"funding_source\": \"public\"}\n{\"id\": \"P2\", \"area\": \"A\", \"amount\": \"ten\", \"start\": \"2021-02-01\", \"funding_source\": \"public\"}\n",
    )
    .unwrap();
    for (path, format, line, pointer) in [
        (&file, "json", 2, "/data/1/amount"),
        (&ndjson, "ndjson", 2, "/amount"),
    ] {
        let (t, read) = table(&format!(
            "[pipeline]\nname = \"j\"\n[sources.p]\nkind = \"projects\"\nformat = \"{format}\"\npath = \"{}\"\n",
            path.display()
        ));
        assert_eq!(
            (read, t.rows_kept(), t.rejects.len()),
            (2, 1, 1),
            "{format}"
        );
        let r = &t.rejects[0];
        assert_eq!(r.line, line, "{format}");
        assert_eq!(r.column.as_deref(), Some(pointer), "{format}");
        assert_eq!(r.value.as_deref(), Some("ten"), "{format}");
    }
}

#[test]
fn a_wide_json_file_names_each_rows_record() {
    // Two records, each two variables wide: four rows. A's youth rate (150) and B's rate (-3)
    // are out of range; each reject names its own record and the variable's key in it, by
    // number and by pointer.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.json");
    std::fs::write(
        &file,
        r#"{"data": [{"area": "A", "period": 2021, "EC1020I": 5.0, "EC1168I": 150},
 {"area": "B", "period": 2021, "EC1020I": -3, "EC1168I": 12}]}"#,
    )
    .unwrap();
    let (t, read) = table(&format!(
        "[pipeline]\nname = \"w\"\n[sources.s]\nkind = \"city_stats\"\nformat = \"json\"\npath = \"{}\"\n\
         variables = {{ EC1020I = \"unemployment_rate\", EC1168I = \"youth_unemployment_rate\" }}\n",
        file.display()
    ));
    assert_eq!((read, t.rows_kept(), t.rejects.len()), (4, 2, 2));
    let got: Vec<_> = t
        .rejects
        .iter()
        .map(|r| (r.line, r.column.as_deref(), r.value.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (1, Some("/data/0/EC1168I"), Some("150")),
            (2, Some("/data/1/EC1020I"), Some("-3")),
        ]
    );
}

#[test]
fn a_json_record_outside_the_periods_is_named_by_its_pointer() {
    // Both projects start in 2021; a pipeline of 2022-2023 leaves them out, and each reject
    // names its record as the JSON pointer into the top-level array.
    let (t, read) = table(
        "[pipeline]\nname = \"j\"\nperiods = { from = 2022, to = 2023 }\n[sources.p]\nkind = \"projects\"\n\
         path = \"ROOT/tests/fixtures/formats/projects.json\"\n",
    );
    assert_eq!((read, t.rows_kept(), t.rows_filtered), (2, 0, 2));
    let got: Vec<_> = t
        .rejects
        .iter()
        .map(|r| (r.line, r.column.as_deref(), r.value.as_deref()))
        .collect();
    assert_eq!(
        got,
        [(1, Some("/0"), Some("2021")), (2, Some("/1"), Some("2021"))]
    );
    assert!(t.rejects[0]
        .reason
        .contains("outside the pipeline's periods 2022-2023"));
}

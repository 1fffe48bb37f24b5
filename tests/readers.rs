//! pyarrow, DuckDB and pandas read every table and see the metadata. CI installs them
//! (.ci/run); elsewhere the test says loudly that it skipped, and under CI it never skips.

mod common;

use std::process::Command;

use common::*;

#[test]
fn pyarrow_and_duckdb_read_every_table() {
    let probe = Command::new("python3")
        .args(["-c", "import pyarrow, duckdb, pandas"])
        .output();
    let available = probe.as_ref().is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have pyarrow, duckdb and pandas (.ci/run installs them)"
        );
        eprintln!("\n*** SKIPPED: pyarrow/duckdb/pandas are not installed; run `python3 -m pip install -r tests/requirements.txt` ***\n");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sample");
    run_ok("pipelines/sample.toml", &out);
    let o = Command::new("python3")
        .arg(root().join("tests/read_outputs.py"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("2 passed, 0 failed"), "{}", stdout(&o));
}

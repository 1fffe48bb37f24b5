//! Helpers shared by the integration tests: run the real binary from the project root.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cityimpact ARGS` in the project root.
pub fn cityimpact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cityimpact"))
        .args(args)
        .current_dir(root())
        .env_remove("CITYIMPACT_LOG")
        .output()
        .expect("the cityimpact binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs a pipeline into `out` and asserts it succeeded.
pub fn run_ok(pipeline: &str, out: &Path) -> Output {
    let o = cityimpact(&["run", pipeline, "--out", out.to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "run failed: {}", stderr(&o));
    o
}

/// Writes a pipeline file into `dir` with the sample's sources, plus `extra` TOML.
pub fn sample_variant(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(root().join("pipelines/sample.toml")).unwrap();
    let text = text.replace(
        "../sample-data/",
        &format!("{}/sample-data/", root().display()),
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// Runs a pipeline once per test binary, into a folder that outlives the tests, and returns
/// the output folder: for tests that only read the outputs.
pub fn run_once(cell: &'static OnceLock<PathBuf>, pipeline: &str, name: &str) -> &'static Path {
    cell.get_or_init(|| {
        let out = tempfile::tempdir().unwrap().keep().join(name);
        run_ok(pipeline, &out);
        out
    })
}

/// A file of the team's shared public data (`../shared/data/` beside the project, or
/// `$CITYIMPACT_SHARED/data/`). Data from public repositories is never copied into the
/// project. When it is absent the test says so loudly and skips; under CI it fails instead.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let shared = std::env::var_os("CITYIMPACT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"));
    let path = shared.join("data").join(relative);
    if path.is_file() {
        return Some(path.canonicalize().unwrap_or(path));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI needs the shared data: {} is missing (set CITYIMPACT_SHARED to the shared folder)",
        path.display()
    );
    eprintln!(
        "\n*** SKIPPED: {} is missing; this test needs the team's shared data (../shared/data, or set CITYIMPACT_SHARED) ***\n",
        path.display()
    );
    None
}

/// A string column of a frame, every value present.
pub fn str_column(df: &polars::prelude::DataFrame, name: &str) -> Vec<String> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap().to_string())
        .collect()
}

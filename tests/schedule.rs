//! Running on a schedule: nothing to do when nothing changed, only what changed recomputed,
//! one run at a time, crash-safe publishing under SIGKILL and SIGTERM, logs for machines, a
//! summary line for Airflow, and a history of runs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cityimpact::output::parquet::read;
use common::*;

/// The sample pipeline with absolute paths, optionally made slow (many bootstrap replicates).
fn pipeline(dir: &Path, replicates: u32) -> PathBuf {
    let data = dir.join("data");
    if !data.exists() {
        std::fs::create_dir(&data).unwrap();
        for f in std::fs::read_dir(root().join("sample-data")).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "csv") {
                std::fs::copy(&f, data.join(f.file_name().unwrap())).unwrap();
            }
        }
    }
    let text = std::fs::read_to_string(root().join("pipelines/sample.toml"))
        .unwrap()
        .replace("../sample-data/", &format!("{}/", data.display()))
        .replace("replicates = 500", &format!("replicates = {replicates}"));
    let path = dir.join(format!("p{replicates}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cityimpact"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `child` holds the lock on `out` (its pid is in the lock file).
fn wait_for_lock(out: &Path, child: &Child) {
    let lock = cityimpact::run::Lock::path(out);
    let start = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains(&format!("pid {}", child.id())))
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap()
}

/// Every output the manifest lists is there with the hash it gives, and the tables read.
fn assert_intact(out: &Path) {
    let m = manifest(out);
    for o in m["outputs"].as_array().unwrap() {
        let bytes = std::fs::read(out.join(o["path"].as_str().unwrap())).unwrap();
        assert_eq!(
            o["blake3"].as_str().unwrap(),
            blake3::hash(&bytes).to_hex().as_str(),
            "{o}"
        );
    }
    assert!(read(&out.join("indicators.parquet")).unwrap().height() > 0);
}

fn last_json_line(stdout: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stdout);
    let last = text.lines().last().expect("a summary line");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{last}: {e}"))
}

#[test]
fn an_unchanged_run_does_nothing_and_force_does_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), 50);
    let out = tmp.path().join("out");
    let first = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(last_json_line(&first.stdout)["status"], "published");
    let before = manifest(&out);

    let second = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(second.status.code(), Some(0));
    let summary = last_json_line(&second.stdout);
    assert_eq!(summary["status"], "up-to-date");
    assert!(
        stderr(&second).contains("up to date"),
        "{}",
        stderr(&second)
    );
    assert_eq!(
        manifest(&out)["finished"],
        before["finished"],
        "nothing was published"
    );
    assert_history_footer(&out, before["run_id"].as_str().unwrap());

    let forced = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert!(forced.status.success());
    let m = manifest(&out);
    assert_ne!(m["finished"], before["finished"]);
    for s in m["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["stage"].as_str().unwrap().starts_with("indicators:"))
    {
        assert_eq!(
            (s["status"].as_str(), s["reason"].as_str()),
            (Some("ran"), Some("--force")),
            "{s}"
        );
    }
    // Three runs in the history, in order, none rewritten.
    let runs = read(&out.join("runs.parquet")).unwrap();
    let status: Vec<&str> = runs
        .column("status")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap())
        .collect();
    assert_eq!(status, ["published", "up-to-date", "published"]);
}

#[test]
fn a_changed_input_recomputes_only_the_families_that_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), 50);
    let out = tmp.path().join("out");
    run_ok(p.to_str().unwrap(), &out);
    // Change one emissions value.
    let path = tmp.path().join("data/emissions.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text.replacen(",stationary_energy,1,", ",stationary_energy,1,1", 1);
    assert_ne!(text, changed);
    std::fs::write(&path, changed).unwrap();

    let plan = cityimpact(&["plan", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let plan = stdout(&plan);
    assert!(plan.contains("indicators:climate         RUN"), "{plan}");
    assert!(plan.contains("indicators:exclusion       skip"), "{plan}");

    run_ok(p.to_str().unwrap(), &out);
    let m = manifest(&out);
    let status = |stage: &str| {
        m["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == stage)
            .unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("indicators:climate"), "ran");
    assert_eq!(status("indicators:exclusion"), "reused");
    assert_eq!(status("indicators:spending"), "reused");
    // Reusing gives exactly what recomputing gives.
    let full = tmp.path().join("full");
    let o = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        full.to_str().unwrap(),
        "--force",
        "-q",
    ]);
    assert!(o.status.success());
    assert_eq!(
        std::fs::read(out.join("indicators.parquet")).unwrap(),
        std::fs::read(full.join("indicators.parquet")).unwrap()
    );
}

#[test]
fn a_second_run_waits_or_stops_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), 8000);
    let out = tmp.path().join("out");
    let mut first = spawn(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    // Wait until the first run holds the lock.
    wait_for_lock(&out, &first);
    let second = cityimpact(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let first_done = first.try_wait().unwrap().is_some();
    if !first_done {
        assert_eq!(second.status.code(), Some(4), "{}", stderr(&second));
        assert!(
            stderr(&second).contains(&format!("pid {} started", first.id())),
            "{}",
            stderr(&second)
        );
    }
    // With --wait, the second run waits for the first and then finds nothing to do.
    let waited = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--wait",
        "120",
        "--json",
    ]);
    assert_eq!(waited.status.code(), Some(0), "{}", stderr(&waited));
    assert!(first.wait().unwrap().success());
    assert_eq!(last_json_line(&waited.stdout)["status"], "up-to-date");
}

#[test]
fn sigkill_at_any_moment_leaves_the_last_good_outputs_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let fast = pipeline(tmp.path(), 50);
    let slow = pipeline(tmp.path(), 4000);
    let out = tmp.path().join("out");
    run_ok(fast.to_str().unwrap(), &out);
    // Kill forced runs at moments spread over the run, drawn from a fixed seed.
    let mut g = cityimpact::indicators::stats::SplitMix64::new(7);
    for _ in 0..8 {
        let delay = Duration::from_millis(g.below(2500));
        let mut child = spawn(&[
            "run",
            slow.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--force",
            "-q",
        ]);
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        assert_intact(&out);
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            names.iter().all(|n| !n.starts_with('.')),
            "temporary files inside the outputs: {names:?}"
        );
    }
    // The next run cleans up what the killed ones left beside the folder.
    run_ok(fast.to_str().unwrap(), &out);
    let beside: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("staging"))
        .collect();
    assert!(beside.is_empty(), "{beside:?}");
    // Even a run with nothing to do cleans them up (it holds the lock).
    std::fs::create_dir(tmp.path().join(".out.staging-left-by-a-kill")).unwrap();
    run_ok(fast.to_str().unwrap(), &out);
    assert!(!tmp.path().join(".out.staging-left-by-a-kill").exists());
}

#[test]
fn sigterm_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let fast = pipeline(tmp.path(), 50);
    let slow = pipeline(tmp.path(), 20000);
    let out = tmp.path().join("out");
    run_ok(fast.to_str().unwrap(), &out);
    let mut child = spawn(&[
        "run",
        slow.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--force",
    ]);
    // Stop it while it computes: once it holds the lock, the bootstrap has seconds to go.
    wait_for_lock(&out, &child);
    std::thread::sleep(Duration::from_millis(300));
    let staging = || {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("staging"))
    };
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_eq!(status.code(), Some(130));
    assert!(!staging(), "the staging folder is removed");
    assert_intact(&out);
}

#[test]
fn logs_for_machines_and_a_history_of_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), 50);
    let out = tmp.path().join("out");
    let o = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--log-format",
        "json",
    ]);
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(!err.trim().is_empty());
    for line in err.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{line}"
        );
    }
    // -q prints nothing on success; CITYIMPACT_LOG=debug adds the stage lines.
    let q = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--force",
        "-q",
    ]);
    assert_eq!(stderr(&q), "");
    let d = Command::new(env!("CARGO_BIN_EXE_cityimpact"))
        .args([
            "run",
            p.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--force",
        ])
        .env("CITYIMPACT_LOG", "debug")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        stderr(&d).contains("stage indicators:exclusion ran"),
        "{}",
        stderr(&d)
    );
    assert!(
        !stderr(&d).contains('\u{1b}'),
        "no colour codes with NO_COLOR or off a terminal"
    );
    // A failed run is in the history too, with its exit code and message; --json says so.
    std::fs::remove_file(tmp.path().join("data/areas.csv")).unwrap();
    let f = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(f.status.code(), Some(1));
    let summary = last_json_line(&f.stdout);
    assert_eq!(
        (summary["status"].as_str(), summary["exit_code"].as_u64()),
        (Some("error"), Some(1))
    );
    let runs = read(&out.join("runs.parquet")).unwrap();
    let last = runs.height() - 1;
    assert_eq!(
        runs.column("status").unwrap().str().unwrap().get(last),
        Some("failed")
    );
    assert_eq!(
        runs.column("exit_code").unwrap().i32().unwrap().get(last),
        Some(1)
    );
    assert!(runs
        .column("message")
        .unwrap()
        .str()
        .unwrap()
        .get(last)
        .unwrap()
        .contains("areas.csv"));
    assert_intact(&out);
    // The failed run appended in place and kept the published run's provenance.
    assert_history_footer(&out, manifest(&out)["run_id"].as_str().unwrap());
}

/// runs.parquet, rewritten in place by a run that published nothing, still carries the
/// contract's footer keys, and they describe the published outputs.
fn assert_history_footer(out: &std::path::Path, run_id: &str) {
    let footer = cityimpact::output::parquet::read_footer(&out.join("runs.parquet")).unwrap();
    let get = |k: &str| {
        footer
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    for key in [
        "cityimpact.version",
        "cityimpact.contract",
        "cityimpact.pipeline",
        "cityimpact.inputs",
    ] {
        assert!(get(key).is_some(), "runs.parquet lost {key}: {footer:?}");
    }
    assert_eq!(get("cityimpact.run_id"), Some(run_id));
}

#[test]
fn the_plan_names_every_table_a_run_writes() {
    // `cityimpact plan` says which stage writes what; after a run of the sample pipeline,
    // every Parquet table in the output folder is named by some stage (runs.parquet, the
    // history, is written by the run itself).
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), 50);
    let out = tmp.path().join("out");
    run_ok(p.to_str().unwrap(), &out);
    let options = cityimpact::run::Options {
        out: Some(out.clone()),
        ..Default::default()
    };
    let planned = cityimpact::run::plan(&p, &options).unwrap();
    let named: Vec<&str> = planned
        .iter()
        .flat_map(|s| s.writes.iter().map(String::as_str))
        .collect();
    let mut tables = 0;
    for f in std::fs::read_dir(&out).unwrap() {
        let name = f.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".parquet") && name != "runs.parquet" {
            tables += 1;
            assert!(
                named.contains(&name.as_str()),
                "{name} is not in the plan: {named:?}"
            );
        }
    }
    // indicators, rejects, projects, outcomes, procurement, effects and the index's three.
    assert_eq!(tables, 9);
    // The tables the families reach are written by the tables stage.
    let tables_stage = planned.iter().find(|s| s.stage == "output:tables").unwrap();
    assert!(tables_stage
        .writes
        .iter()
        .any(|w| w == "procurement.parquet"));
}

//! Every exit code of the output contract, through the real binary.

mod common;

use std::fs::OpenOptions;

use common::*;

#[test]
fn exit_0_when_the_run_publishes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = cityimpact(&[
        "run",
        "pipelines/sample.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.join("indicators.parquet").is_file());
    // The end of the run prints the row counts of every source.
    assert!(stderr(&o).contains("rejected"), "{}", stderr(&o));
}

#[test]
fn exit_1_when_an_input_cannot_be_read_names_the_file_and_keeps_the_last_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let good = sample_variant(tmp.path(), |t| t);
    run_ok(good.to_str().unwrap(), &out);
    let before = std::fs::read(out.join("indicators.parquet")).unwrap();

    let bad = sample_variant(tmp.path(), |t| {
        t.replace("emissions.csv", "emissions-2024.csv")
    });
    let o = cityimpact(&["run", bad.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("emissions-2024.csv") && err.contains("does not exist"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(
        std::fs::read(out.join("indicators.parquet")).unwrap(),
        before
    );
    // No staging folder is left behind.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(left.iter().all(|n| !n.contains("staging")), "{left:?}");
}

#[test]
fn exit_1_for_a_missing_column_lists_the_columns_and_the_nearest() {
    let tmp = tempfile::tempdir().unwrap();
    let p = sample_variant(tmp.path(), |t| {
        t.replace("tco2e = \"t_co2e\"", "tco2e = \"t_co2\"")
    });
    let o = cityimpact(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        tmp.path().join("o").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("no column `t_co2` for the role `tco2e`"),
        "{err}"
    );
    assert!(err.contains("the nearest is `t_co2e`"), "{err}");
    assert!(
        err.contains("city, year, gpc_sector, scope, t_co2e"),
        "{err}"
    );
}

#[test]
fn exit_2_for_a_misspelt_key_with_line_column_and_suggestion() {
    let tmp = tempfile::tempdir().unwrap();
    let p = sample_variant(tmp.path(), |t| {
        t.replace("max_reject_share", "max_rejects_share")
    });
    let o = cityimpact(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let line = std::fs::read_to_string(&p)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("max_rejects_share"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!(
            "pipeline.toml:{line}:1: unknown field `max_rejects_share`"
        )),
        "{err}"
    );
    assert!(
        err.contains("did you mean the key `max_reject_share`?"),
        "{err}"
    );
}

#[test]
fn exit_2_for_a_wrong_command_line() {
    let o = cityimpact(&["run", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    let o = cityimpact(&["indicators", "describe", "gni"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `gini`?"));
    let o = cityimpact(&["run", "pipelines/no-such.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("pipelines/no-such.toml"));
}

#[test]
fn exit_3_when_a_check_fails_and_nothing_is_published() {
    let tmp = tempfile::tempdir().unwrap();
    // The sample has a few broken rows on purpose; a zero tolerance must fail the run.
    let p = sample_variant(tmp.path(), |t| {
        t.replace("max_reject_share = 0.05", "max_reject_share = 0.0")
    });
    let out = tmp.path().join("out");
    let o = cityimpact(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("source `projects` rejected"), "{err}");
    assert!(err.contains("no exchange rate for GBP"), "{err}");
    // Nothing is published: the folder holds only the history, which records the failure.
    assert!(
        !out.join("indicators.parquet").exists(),
        "a failed check must not publish"
    );
    let runs = cityimpact::output::parquet::read(&out.join("runs.parquet")).unwrap();
    assert_eq!(
        runs.column("status").unwrap().str().unwrap().get(0),
        Some("checks-failed")
    );
    assert_eq!(
        runs.column("exit_code").unwrap().i32().unwrap().get(0),
        Some(3)
    );
}

#[test]
fn exit_4_when_another_run_holds_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let lock_path = cityimpact::run::Lock::path(&out);
    let held = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    held.try_lock().unwrap();
    std::fs::write(&lock_path, "pid 4242 started 2026-11-28T23:00:00Z\n").unwrap();
    let o = cityimpact(&[
        "run",
        "pipelines/sample.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("pid 4242 started 2026-11-28T23:00:00Z"),
        "{}",
        stderr(&o)
    );
    drop(held);
    let o = cityimpact(&[
        "run",
        "pipelines/sample.toml",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "the lock is free once its holder is gone: {}",
        stderr(&o)
    );
}

#[test]
fn help_on_every_command_has_an_example() {
    for args in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["validate", "--help"],
        vec!["indicators", "--help"],
        vec!["indicators", "describe", "--help"],
    ] {
        let o = cityimpact(&args);
        assert_eq!(o.status.code(), Some(0));
        assert!(stdout(&o).contains("Example"), "{args:?}: {}", stdout(&o));
    }
}

#[test]
fn validate_checks_sources_without_computing() {
    let o = cityimpact(&["validate", "pipelines/sample.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let rows = std::fs::read_to_string(root().join("sample-data/silc.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert!(
        text.contains("source silc") && text.contains(&format!("{rows} rows")),
        "{text}"
    );
    assert!(text.ends_with("pipelines/sample.toml: ok\n"), "{text}");

    let tmp = tempfile::tempdir().unwrap();
    let p = sample_variant(tmp.path(), |t| {
        t.replace("income = \"eq_income\"", "income = \"eq_incme\"")
    });
    let o = cityimpact(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the nearest is `eq_income`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn indicators_lists_and_describes_the_catalogue() {
    let o = cityimpact(&["indicators"]);
    assert_eq!(o.status.code(), Some(0));
    let list = stdout(&o);
    for entry in cityimpact::catalogue::all() {
        assert!(list.contains(entry.id), "{} missing", entry.id);
    }
    let o = cityimpact(&["indicators", "describe", "gini"]);
    let text = stdout(&o);
    assert!(text.contains("unit:       %"), "{text}");
    assert!(text.contains("direction:  lower is better"), "{text}");
    assert!(text.contains("EU-SILC 131-rev/04"), "{text}");
}

/// A user's folder holds files that cityimpact did not write; publishing swaps the whole
/// folder, so it must refuse, say why, and leave every file as it was.
fn assert_refused_and_intact(o: &std::process::Output, folder: &std::path::Path) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    let err = stderr(o);
    assert!(err.contains("will not publish into"), "{err}");
    assert!(err.contains("chapter1.docx"), "names what is there: {err}");
    let names: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["chapter1.docx".to_string()],
        "nothing added or removed"
    );
    assert_eq!(
        std::fs::read_to_string(folder.join("chapter1.docx")).unwrap(),
        "two years of work"
    );
}

#[test]
fn exit_2_and_nothing_lost_when_out_is_a_folder_of_the_users() {
    let tmp = tempfile::tempdir().unwrap();
    let thesis = tmp.path().join("thesis");
    std::fs::create_dir(&thesis).unwrap();
    std::fs::write(thesis.join("chapter1.docx"), "two years of work").unwrap();

    // --out on the command line
    let o = cityimpact(&[
        "run",
        "pipelines/sample.toml",
        "--out",
        thesis.to_str().unwrap(),
    ]);
    assert_refused_and_intact(&o, &thesis);

    // `out =` in the pipeline file
    let p = sample_variant(tmp.path(), |t| {
        t.replacen(
            "[pipeline]\n",
            &format!("[pipeline]\nout = \"{}\"\n", thesis.display()),
            1,
        )
    });
    let o = cityimpact(&["run", p.to_str().unwrap()]);
    assert_refused_and_intact(&o, &thesis);

    // `cityimpact chart` replaces charts/ and report.html: only in a published folder.
    let o = cityimpact(&["chart", thesis.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds no cityimpact output"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_dir(&thesis).unwrap().count(), 1);

    // A file where the folder should be is not replaced either.
    let file = tmp.path().join("notes.txt");
    std::fs::write(&file, "keep").unwrap();
    let o = cityimpact(&[
        "run",
        "pipelines/sample.toml",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
}

#[test]
fn an_empty_folder_a_failed_runs_history_and_an_earlier_output_may_be_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    run_ok("pipelines/sample.toml", &empty);
    // An earlier output: published again (forced), the manifest says it is ours.
    let o = cityimpact(&[
        "run",
        "pipelines/sample.toml",
        "--out",
        empty.to_str().unwrap(),
        "--force",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // A run that failed its checks leaves only its history; the next run may publish there.
    let out = tmp.path().join("out");
    let strict = sample_variant(tmp.path(), |t| {
        t.replace("max_reject_share = 0.05", "max_reject_share = 0.0")
    });
    let o = cityimpact(&[
        "run",
        strict.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    run_ok("pipelines/sample.toml", &out);
    assert!(out.join("indicators.parquet").is_file());
}

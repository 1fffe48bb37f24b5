//! One outcome evaluated: its group-time effects and their aggregations, the pre-test, the
//! TWFE and 2×2 comparisons, all inferred together; and the report of how it was done.

use serde::Serialize;

use super::aggregate::{self, Estimate};
use super::att::{self, Cell};
use super::effects::{row, Effect};
use super::inference::{self, Bootstrap, FEW_CLUSTERS};
use super::panel::Panel;
use super::twfe;
use crate::config::evaluation::Evaluation;

/// How one outcome was evaluated: everything a reader needs beside the estimates.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutcomeReport {
    pub outcome: String,
    pub areas: usize,
    pub treated_areas: usize,
    pub never_treated_areas: usize,
    pub periods: Vec<i32>,
    pub cohorts: Vec<i32>,
    pub balanced: bool,
    /// The Wald pre-test of parallel trends over the pre-treatment cells.
    pub pre_test: Option<PreTest>,
    pub bootstrap_weights: &'static str,
    /// Fewer than 30 areas: analytic intervals are unreliable, p-values come from the
    /// bootstrap.
    pub few_clusters: bool,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PreTest {
    pub statistic: f64,
    pub df: usize,
    pub p_value: f64,
    pub cells: usize,
}

/// One estimate waiting for its inference: which estimator, against which controls, and its
/// own flag.
struct Candidate {
    estimator: &'static str,
    control: String,
    estimate: Estimate,
    flag: Option<String>,
}

/// Evaluates `outcome` on its panel: its rows of `effects.parquet` and its report.
pub(super) fn evaluate(
    settings: &Evaluation,
    outcome: &str,
    panel: Panel,
) -> (Vec<Effect>, OutcomeReport) {
    let cohorts = panel.cohorts();
    let mut report = report(outcome, &panel, &cohorts);
    if cohorts.is_empty() || report.treated_areas == report.areas {
        report.notes.push(if cohorts.is_empty() {
            format!("no area is treated within the periods of {outcome}: nothing to evaluate")
        } else {
            format!("every area of {outcome} is treated: there is nothing to compare with")
        });
        return (Vec::new(), report);
    }
    let design = att::Design {
        control: settings.control,
        base_period: settings.base_period,
        anticipation: settings.anticipation,
    };
    let cells = att::group_time(&panel, design);
    let control = settings.control.as_str();
    let mut rows = not_estimable(outcome, control, &cells, &mut report);
    let gt = aggregate::cells(&panel, &cells);
    report.pre_test = pre_test(settings, &gt, &mut report.notes);
    let mut all: Vec<Candidate> = Vec::new();
    for estimate in gt.iter().cloned() {
        let flag = estimate.reference.then(|| "reference".to_string());
        all.push(Candidate {
            estimator: "cs_did",
            control: control.to_string(),
            estimate,
            flag,
        });
    }
    for estimate in aggregate::all(&panel, &gt) {
        all.push(Candidate {
            estimator: "cs_did",
            control: control.to_string(),
            estimate,
            flag: None,
        });
    }
    all.extend(comparisons(settings, &panel, &cohorts, &mut report.notes));
    rows.extend(inferred(settings, outcome, all, &mut report));
    (rows, report)
}

/// The outcome's report before anything is estimated: its panel's shape and notes.
fn report(outcome: &str, panel: &Panel, cohorts: &[i32]) -> OutcomeReport {
    let n = panel.n();
    OutcomeReport {
        outcome: outcome.to_string(),
        areas: n,
        treated_areas: panel.cohort.iter().filter(|c| c.is_some()).count(),
        never_treated_areas: panel.cohort.iter().filter(|c| c.is_none()).count(),
        periods: panel.periods.clone(),
        cohorts: cohorts.to_vec(),
        balanced: panel.balanced(),
        pre_test: None,
        bootstrap_weights: "",
        few_clusters: n < FEW_CLUSTERS,
        notes: panel.notes.clone(),
    }
}

/// A flagged row, and a note saying why, for each group-time cell that has no value.
fn not_estimable(
    outcome: &str,
    control: &str,
    cells: &[Cell],
    report: &mut OutcomeReport,
) -> Vec<Effect> {
    let mut rows = Vec::new();
    for c in cells.iter().filter(|c| c.att.is_none()) {
        report.notes.push(format!(
            "ATT({}, {}) has no value: {}",
            c.group,
            c.period,
            c.reason.clone().unwrap_or_default()
        ));
        let mut row = Effect::blank(outcome, "cs_did", control, "group_time");
        row.group = Some(c.group);
        row.period = Some(c.period);
        row.event_time = Some(c.event_time());
        row.n_treated = c.n_treated as i64;
        row.n_control = c.n_control as i64;
        row.flag = Some("not_estimable".into());
        rows.push(row);
    }
    rows
}

/// The Wald pre-test of parallel trends over the pre-treatment cells (anticipation periods
/// left out), or a note saying why it has no value.
fn pre_test(settings: &Evaluation, gt: &[Estimate], notes: &mut Vec<String>) -> Option<PreTest> {
    let delta = settings.anticipation as i32;
    let pre: Vec<&Estimate> = gt
        .iter()
        .filter(|e| !e.reference && e.period.zip(e.group).is_some_and(|(t, g)| t < g - delta))
        .collect();
    let test = inference::pre_test(&pre).map(|(w, df, p)| PreTest {
        statistic: w,
        df,
        p_value: p,
        cells: pre.len(),
    });
    if test.is_none() && !pre.is_empty() {
        notes.push(
            "the pre-test has no value: the pre-treatment cells' covariance is singular".into(),
        );
    }
    test
}

/// The TWFE estimate over all untreated area-periods and each cohort's 2×2 DiD against the
/// never treated, with notes on what makes them unreliable or impossible.
fn comparisons(
    settings: &Evaluation,
    panel: &Panel,
    cohorts: &[i32],
    notes: &mut Vec<String>,
) -> Vec<Candidate> {
    let mut all = Vec::new();
    if let Some((estimate, negative)) = twfe::twfe(panel) {
        let mut flags = Vec::new();
        if cohorts.len() > 1 {
            flags.push("staggered");
            notes.push(format!(
                "adoption is staggered ({} cohorts): the TWFE estimate weighs group-time effects implicitly{}; prefer the Callaway & Sant'Anna aggregations",
                cohorts.len(),
                if negative > 0 {
                    format!(", and {negative} treated area-periods get a negative weight")
                } else {
                    String::new()
                }
            ));
        }
        if negative > 0 {
            flags.push("negative_weights");
        }
        all.push(Candidate {
            estimator: "twfe",
            control: "all_untreated".into(),
            estimate,
            flag: (!flags.is_empty()).then(|| flags.join(";")),
        });
    }
    for g in cohorts {
        match twfe::two_by_two(panel, *g, settings.anticipation) {
            Ok(estimate) => all.push(Candidate {
                estimator: "did_2x2",
                control: "never_treated".into(),
                estimate,
                flag: None,
            }),
            Err(why) => notes.push(format!("2x2 DiD of cohort {g}: {why}")),
        }
    }
    all
}

/// Every estimate's row, inferred together so that the bootstrap draws are shared.
fn inferred(
    settings: &Evaluation,
    outcome: &str,
    all: Vec<Candidate>,
    report: &mut OutcomeReport,
) -> Vec<Effect> {
    let estimates: Vec<Estimate> = all.iter().map(|a| a.estimate.clone()).collect();
    let boot = Bootstrap {
        replicates: settings.replicates,
        seed: settings.seed,
        alpha: settings.alpha,
    };
    let (inferred, weights) = inference::infer(&estimates, boot);
    report.bootstrap_weights = weights.as_str();
    all.into_iter()
        .zip(inferred)
        .map(|(c, inf)| {
            row(
                outcome,
                c.estimator,
                c.control,
                &c.estimate,
                c.flag,
                inf,
                report.few_clusters,
            )
        })
        .collect()
}

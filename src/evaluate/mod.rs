//! The evaluate stage: did the areas where a city funded social innovation change more than
//! comparable areas? It reads the long indicator values and each area's first treated period,
//! and writes `effects.parquet`, one row per estimate.
//!
//! - `panel.rs`: one outcome as areas × periods with each area's cohort, and what was left out;
//! - `att.rs`: Callaway & Sant'Anna group-time effects ATT(g,t) and their influence functions;
//! - `aggregate.rs`: R `did::aggte`'s simple, group, dynamic and calendar aggregations;
//! - `inference.rs`: analytic and bootstrap inference, uniform bands, the pre-test;
//! - `twfe.rs`: two-way fixed effects and the 2×2 DiD, for comparison;
//! - `dist.rs`: normal and chi-square distributions, a small linear solver.
//!
//! Nothing is implicit: the control group, base period, anticipation, bootstrap weights and
//! panel handling of every outcome are returned beside its estimates, for the manifest, the
//! table's footer and the report.

pub mod aggregate;
pub mod att;
pub mod dist;
pub mod inference;
pub mod panel;
pub mod twfe;

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use crate::config::evaluation::Evaluation;
use crate::indicators::Value;
use aggregate::Estimate;
use inference::{Bootstrap, Inferred, FEW_CLUSTERS};
use panel::Panel;

/// One row of `effects.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub outcome: String,
    pub estimator: &'static str,
    pub control_group: String,
    pub aggregation: &'static str,
    pub group: Option<i32>,
    pub period: Option<i32>,
    pub event_time: Option<i32>,
    pub att: Option<f64>,
    pub se: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub band_low: Option<f64>,
    pub band_high: Option<f64>,
    pub p_value: Option<f64>,
    pub n_treated: i64,
    pub n_control: i64,
    pub flag: Option<String>,
}

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

/// The settings every estimate of the run used, as written beside the results.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Settings {
    pub estimator: &'static str,
    pub control_group: &'static str,
    pub base_period: &'static str,
    pub anticipation: u32,
    pub panel: &'static str,
    pub bootstrap_replicates: u32,
    pub bootstrap_seed: u64,
    pub alpha: f64,
    pub treatment: String,
    pub clustering: &'static str,
}

/// The stage's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    pub effects: Vec<Effect>,
    pub settings: Settings,
    pub outcomes: Vec<OutcomeReport>,
}

pub fn settings(e: &Evaluation) -> Settings {
    Settings {
        estimator: "Callaway & Sant'Anna (2021), unconditional parallel trends; TWFE and 2x2 DiD for comparison",
        control_group: e.control.as_str(),
        base_period: e.base_period.as_str(),
        anticipation: e.anticipation,
        panel: "an area missing a period is left out of the cells that need that period",
        bootstrap_replicates: e.replicates,
        bootstrap_seed: e.seed,
        alpha: e.alpha,
        treatment: match &e.treatment {
            crate::config::evaluation::Treatment::TreatedFrom => {
                "first treated year from the areas sources' treated_from (empty or 0 = never)".into()
            }
            crate::config::evaluation::Treatment::FirstProject { min_amount } => format!(
                "start year of the area's first project of at least {min_amount} in the reporting currency"
            ),
        },
        clustering: "by area (the unit of the panel)",
    }
}

/// Evaluates every outcome of `settings` on the long indicator `values`, with each area's
/// first treated period (`None` = never treated).
pub fn evaluate(
    settings: &Evaluation,
    values: &[Value],
    treatment: &BTreeMap<String, Option<i32>>,
) -> Evaluated {
    let mut effects = Vec::new();
    let mut outcomes = Vec::new();
    for outcome in &settings.outcomes {
        let panel = Panel::build(outcome, values, treatment, settings.anticipation);
        let (rows, report) = one(settings, outcome, panel);
        effects.extend(rows);
        outcomes.push(report);
    }
    effects.sort_by(|a, b| {
        (
            &a.outcome,
            a.estimator,
            a.aggregation,
            a.group,
            a.period,
            a.event_time,
        )
            .cmp(&(
                &b.outcome,
                b.estimator,
                b.aggregation,
                b.group,
                b.period,
                b.event_time,
            ))
    });
    Evaluated {
        effects,
        settings: self::settings(settings),
        outcomes,
    }
}

fn one(settings: &Evaluation, outcome: &str, panel: Panel) -> (Vec<Effect>, OutcomeReport) {
    let cohorts = panel.cohorts();
    let n = panel.n();
    let mut report = OutcomeReport {
        outcome: outcome.to_string(),
        areas: n,
        treated_areas: panel.cohort.iter().filter(|c| c.is_some()).count(),
        never_treated_areas: panel.cohort.iter().filter(|c| c.is_none()).count(),
        periods: panel.periods.clone(),
        cohorts: cohorts.clone(),
        balanced: panel.balanced(),
        pre_test: None,
        bootstrap_weights: "",
        few_clusters: n < FEW_CLUSTERS,
        notes: panel.notes.clone(),
    };
    if cohorts.is_empty() || report.treated_areas == n {
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
    let mut rows = Vec::new();
    let base = |estimator: &'static str, control: &str, aggregation: &'static str| Effect {
        outcome: outcome.to_string(),
        estimator,
        control_group: control.to_string(),
        aggregation,
        group: None,
        period: None,
        event_time: None,
        att: None,
        se: None,
        ci_low: None,
        ci_high: None,
        band_low: None,
        band_high: None,
        p_value: None,
        n_treated: 0,
        n_control: 0,
        flag: None,
    };
    let control = settings.control.as_str();
    for c in cells.iter().filter(|c| c.att.is_none()) {
        report.notes.push(format!(
            "ATT({}, {}) has no value: {}",
            c.group,
            c.period,
            c.reason.clone().unwrap_or_default()
        ));
        let mut row = base("cs_did", control, "group_time");
        row.group = Some(c.group);
        row.period = Some(c.period);
        row.event_time = Some(c.event_time());
        row.n_treated = c.n_treated as i64;
        row.n_control = c.n_control as i64;
        row.flag = Some("not_estimable".into());
        rows.push(row);
    }
    let gt = aggregate::cells(&panel, &cells);
    let delta = settings.anticipation as i32;
    let pre: Vec<&Estimate> = gt
        .iter()
        .filter(|e| !e.reference && e.period.zip(e.group).is_some_and(|(t, g)| t < g - delta))
        .collect();
    report.pre_test = inference::pre_test(&pre).map(|(w, df, p)| PreTest {
        statistic: w,
        df,
        p_value: p,
        cells: pre.len(),
    });
    if report.pre_test.is_none() && !pre.is_empty() {
        report.notes.push(
            "the pre-test has no value: the pre-treatment cells' covariance is singular".into(),
        );
    }
    // Every estimate of this outcome, inferred together: (estimator, control, estimate, flag).
    let mut all: Vec<(&'static str, String, Estimate, Option<String>)> = Vec::new();
    for e in gt.iter().cloned() {
        let flag = e.reference.then(|| "reference".to_string());
        all.push(("cs_did", control.to_string(), e, flag));
    }
    for e in aggregate::all(&panel, &gt) {
        all.push(("cs_did", control.to_string(), e, None));
    }
    if let Some((e, negative)) = twfe::twfe(&panel) {
        let mut flags = Vec::new();
        if cohorts.len() > 1 {
            flags.push("staggered");
            report.notes.push(format!(
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
        let flag = (!flags.is_empty()).then(|| flags.join(";"));
        all.push(("twfe", "all_untreated".into(), e, flag));
    }
    for g in &cohorts {
        match twfe::two_by_two(&panel, *g, settings.anticipation) {
            Ok(e) => all.push(("did_2x2", "never_treated".into(), e, None)),
            Err(why) => report.notes.push(format!("2x2 DiD of cohort {g}: {why}")),
        }
    }
    let estimates: Vec<Estimate> = all.iter().map(|a| a.2.clone()).collect();
    let boot = Bootstrap {
        replicates: settings.replicates,
        seed: settings.seed,
        alpha: settings.alpha,
    };
    let (inferred, weights) = inference::infer(&estimates, boot);
    report.bootstrap_weights = weights.as_str();
    for ((estimator, control, e, flag), inf) in all.into_iter().zip(inferred) {
        rows.push(row(
            outcome,
            estimator,
            control,
            &e,
            flag,
            inf,
            report.few_clusters,
        ));
    }
    (rows, report)
}

fn row(
    outcome: &str,
    estimator: &'static str,
    control_group: String,
    e: &Estimate,
    flag: Option<String>,
    inf: Inferred,
    few_clusters: bool,
) -> Effect {
    let mut flags: Vec<String> = flag.into_iter().collect();
    if e.aggregation == "group_time" && !e.reference && (e.n_treated < 2 || e.n_control < 2) {
        flags.push("low_reliability".into());
    }
    if few_clusters {
        flags.push("few_clusters".into());
    }
    Effect {
        outcome: outcome.to_string(),
        estimator,
        control_group,
        aggregation: e.aggregation,
        group: e.group,
        period: e.period,
        event_time: e.event_time,
        att: Some(e.att),
        se: inf.se,
        ci_low: inf.ci.map(|c| c.0),
        ci_high: inf.ci.map(|c| c.1),
        band_low: inf.band.map(|b| b.0),
        band_high: inf.band.map(|b| b.1),
        p_value: inf.p_value,
        n_treated: e.n_treated as i64,
        n_control: e.n_control as i64,
        flag: (!flags.is_empty()).then(|| flags.join(";")),
    }
}

/// `effects.parquet` as a frame, in the rows' order.
pub fn effects_frame(effects: &[Effect]) -> PolarsResult<DataFrame> {
    let n = effects.len();
    let s = |name: &str, f: &dyn Fn(&Effect) -> Option<String>| {
        Column::new(name.into(), effects.iter().map(f).collect::<Vec<_>>())
    };
    let i = |name: &str, f: &dyn Fn(&Effect) -> Option<i32>| {
        Column::new(name.into(), effects.iter().map(f).collect::<Vec<_>>())
    };
    let x = |name: &str, f: &dyn Fn(&Effect) -> Option<f64>| {
        Column::new(name.into(), effects.iter().map(f).collect::<Vec<_>>())
    };
    let c = |name: &str, f: &dyn Fn(&Effect) -> i64| {
        Column::new(name.into(), effects.iter().map(f).collect::<Vec<_>>())
    };
    DataFrame::new(
        n,
        vec![
            s("outcome", &|e| Some(e.outcome.clone())),
            s("estimator", &|e| Some(e.estimator.to_string())),
            s("control_group", &|e| Some(e.control_group.clone())),
            s("aggregation", &|e| Some(e.aggregation.to_string())),
            i("group", &|e| e.group),
            i("period", &|e| e.period),
            i("event_time", &|e| e.event_time),
            x("att", &|e| e.att),
            x("se", &|e| e.se),
            x("ci_low", &|e| e.ci_low),
            x("ci_high", &|e| e.ci_high),
            x("band_low", &|e| e.band_low),
            x("band_high", &|e| e.band_high),
            x("p_value", &|e| e.p_value),
            c("n_treated", &|e| e.n_treated),
            c("n_control", &|e| e.n_control),
            s("flag", &|e| e.flag.clone()),
        ],
    )
}

/// What `cityimpact evaluate` lists: each estimator and aggregation, what it is, its source.
pub struct Method {
    pub id: &'static str,
    pub kind: &'static str,
    pub name: &'static str,
    pub definition: &'static str,
    pub source: &'static str,
}

const CS: &str = "Callaway, B. and Sant'Anna, P. H. C. (2021), Difference-in-Differences with multiple time periods, Journal of Econometrics 225(2), 200-230; R package did (aggte)";

pub const METHODS: &[Method] = &[
    Method { id: "cs_did", kind: "estimator", name: "Callaway & Sant'Anna group-time effects",
        definition: "ATT(g,t) for each cohort g (areas first treated in g) and period t: the mean change of g's areas from the base period minus that of the control areas (never treated, or not yet treated), under unconditional parallel trends. Base period: the last before g minus anticipation after treatment; before it the previous period (varying) or the same (universal, whose own cell is exactly 0). Analytic standard errors from the influence functions, clustered by area; uniform bands by multiplier bootstrap; a Wald pre-test over the pre-treatment cells (anticipation periods left out).", source: CS },
    Method { id: "simple", kind: "aggregation", name: "Overall effect (simple)",
        definition: "The post-treatment ATT(g,t) averaged with weights proportional to cohort size; the estimated weights enter the influence function.", source: CS },
    Method { id: "group", kind: "aggregation", name: "Effect by cohort",
        definition: "Each cohort's average over its post-treatment periods; overall: their cohort-size weighted average.", source: CS },
    Method { id: "dynamic", kind: "aggregation", name: "Event study",
        definition: "The effect at each event time e = t − g, averaged over the cohorts observed at e with cohort-size weights; overall: the mean over e ≥ 0.", source: CS },
    Method { id: "calendar", kind: "aggregation", name: "Effect by calendar period",
        definition: "Each period's average over the cohorts treated by then, cohort-size weighted; overall: the mean over those periods.", source: CS },
    Method { id: "twfe", kind: "estimator", name: "Two-way fixed effects (for comparison)",
        definition: "β of Y_it = α_i + λ_t + β D_it + ε_it, D_it = 1 from the first treated period; clustered by area (G/(G−1)). With staggered adoption its implicit weights on group-time effects can be negative: flagged staggered and negative_weights.", source: "de Chaisemartin, C. and D'Haultfœuille, X. (2020), Two-way fixed effects estimators with heterogeneous treatment effects, American Economic Review 110(9); Goodman-Bacon, A. (2021), Journal of Econometrics 225(2)" },
    Method { id: "did_2x2", kind: "estimator", name: "2×2 difference-in-differences (for comparison)",
        definition: "Per cohort: each area's mean from treatment on minus its mean before (anticipation periods left out), cohort against never-treated areas; the standard error of a difference of two means.", source: "Card, D. and Krueger, A. B. (1994), American Economic Review 84(4)" },
    Method { id: "few_clusters", kind: "inference", name: "Few areas: wild bootstrap with Webb weights",
        definition: "Below 30 areas, analytic intervals are flagged few_clusters and p-values come from the multiplier bootstrap with Webb's six-point weights: the share of draws at least as far from the estimate as the estimate is from 0.", source: "Webb, M. D. (2014/2023), Reworking wild bootstrap-based inference for clustered errors, Canadian Journal of Economics 56(3); Cameron, Gelbach and Miller (2008), Review of Economics and Statistics 90(3)" },
];

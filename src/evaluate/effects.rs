//! The rows of `effects.parquet`, one per estimate, and the table as a frame.

use polars::prelude::*;

use super::aggregate::Estimate;
use super::inference::Inferred;

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

impl Effect {
    /// An estimate's row before its figures are filled in.
    pub(super) fn blank(
        outcome: &str,
        estimator: &'static str,
        control: &str,
        aggregation: &'static str,
    ) -> Effect {
        Effect {
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
        }
    }
}

/// An estimate's row with its inference, and the flags a reader should see: its own, low
/// reliability of a group-time cell with fewer than two areas on a side, few clusters.
pub(super) fn row(
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

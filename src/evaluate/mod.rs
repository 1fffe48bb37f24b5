//! The evaluate stage: did the areas where a city funded social innovation change more than
//! comparable areas? It reads the long indicator values and each area's first treated period,
//! and writes `effects.parquet`, one row per estimate.
//!
//! - `panel.rs`: one outcome as areas × periods with each area's cohort, and what was left out;
//! - `outcome.rs`: one outcome evaluated, every estimate inferred together, and its report;
//! - `att.rs`: Callaway & Sant'Anna group-time effects ATT(g,t) and their influence functions;
//! - `aggregate.rs`: R `did::aggte`'s simple, group, dynamic and calendar aggregations;
//! - `inference.rs`: analytic and bootstrap inference, uniform bands, the pre-test;
//! - `twfe.rs`: two-way fixed effects and the 2×2 DiD, for comparison;
//! - `dist.rs`: normal and chi-square distributions, a small linear solver;
//! - `effects.rs`: the rows of `effects.parquet` and its frame;
//! - `settings.rs`: the settings written beside the results;
//! - `methods.rs`: what `cityimpact evaluate` lists.
//!
//! Nothing is implicit: the control group, base period, anticipation, bootstrap weights and
//! panel handling of every outcome are returned beside its estimates, for the manifest, the
//! table's footer and the report.

pub mod aggregate;
pub mod att;
pub mod dist;
mod effects;
pub mod inference;
mod methods;
mod outcome;
pub mod panel;
mod settings;
pub mod twfe;

use std::collections::BTreeMap;

use crate::config::evaluation::Evaluation;
use crate::indicators::Value;
use panel::Panel;

pub use effects::{effects_frame, Effect};
pub use methods::{Method, METHODS};
pub use outcome::{OutcomeReport, PreTest};
pub use settings::{settings, Settings};

/// The stage's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    pub effects: Vec<Effect>,
    pub settings: Settings,
    pub outcomes: Vec<OutcomeReport>,
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
        let (rows, report) = outcome::evaluate(settings, outcome, panel);
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

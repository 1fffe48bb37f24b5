//! The settings every estimate of a run used, written beside the results.

use serde::Serialize;

use crate::config::evaluation::Evaluation;

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

/// The settings of `e` as a reader sees them.
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

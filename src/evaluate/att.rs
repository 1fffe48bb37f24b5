//! Callaway & Sant'Anna (2021) group-time average treatment effects ATT(g,t) under
//! unconditional parallel trends, with each estimate's influence function.
//!
//! For cohort g (areas first treated in g) and period t, with base period b:
//! ATT(g,t) = mean over g's areas of (Y_t − Y_b) − mean over the control areas of (Y_t − Y_b).
//! In post-treatment periods (t ≥ g), b is the last period before g − anticipation. Before
//! treatment, b is t's previous period (`varying`, R `did`'s default) or the same b as after
//! (`universal`, where the cell t = b is the reference, exactly 0). Controls are the
//! never-treated areas, or those not yet treated by max(t, b) + anticipation.
//!
//! The influence function of a cell, scaled as R `did` scales it over all n areas, is
//! n (ΔY_i − m_treated) / n_treated for a treated area and −n (ΔY_i − m_control) / n_control
//! for a control; its analytic standard error is √(Σ IF²) / n, clustered by area.

use super::panel::Panel;
use crate::config::evaluation::{BasePeriod, Control};

/// One group-time cell.
#[derive(Debug, Clone)]
pub struct Cell {
    pub group: i32,
    pub period: i32,
    pub base: i32,
    pub att: Option<f64>,
    pub n_treated: usize,
    pub n_control: usize,
    /// (unit, influence) for the units in the cell; the others are 0.
    pub inf: Vec<(u32, f64)>,
    /// The universal base period's own cell: 0 by construction.
    pub reference: bool,
    /// Why a cell has no estimate.
    pub reason: Option<String>,
}

impl Cell {
    pub fn event_time(&self) -> i32 {
        self.period - self.group
    }
}

/// The control rule and base period of an estimation.
#[derive(Debug, Clone, Copy)]
pub struct Design {
    pub control: Control,
    pub base_period: BasePeriod,
    pub anticipation: u32,
}

/// Every ATT(g,t) of the panel, cohorts ascending, periods ascending within a cohort.
pub fn group_time(panel: &Panel, design: Design) -> Vec<Cell> {
    let periods = &panel.periods;
    let delta = design.anticipation as i32;
    let mut cells = Vec::new();
    for g in panel.cohorts() {
        // The last period before treatment (and anticipation) starts.
        let Some(b_post) = periods.iter().rposition(|p| *p + delta < g) else {
            continue;
        };
        let start = match design.base_period {
            BasePeriod::Varying => 1,
            BasePeriod::Universal => 0,
        };
        for t in start..periods.len() {
            let post = periods[t] >= g;
            let b = match design.base_period {
                BasePeriod::Universal => b_post,
                BasePeriod::Varying if post => b_post,
                BasePeriod::Varying => t - 1,
            };
            if design.base_period == BasePeriod::Universal && t == b_post {
                cells.push(Cell {
                    group: g,
                    period: periods[t],
                    base: periods[b],
                    att: Some(0.0),
                    n_treated: 0,
                    n_control: 0,
                    inf: Vec::new(),
                    reference: true,
                    reason: None,
                });
                continue;
            }
            cells.push(cell(panel, design, g, t, b));
        }
    }
    cells
}

fn cell(panel: &Panel, design: Design, g: i32, t: usize, b: usize) -> Cell {
    let (pt, pb) = (panel.periods[t], panel.periods[b]);
    let horizon = pt.max(pb) + design.anticipation as i32;
    let is_control = |c: Option<i32>| match (design.control, c) {
        (_, None) => true,
        (Control::NotYetTreated, Some(c)) => c > horizon && c != g,
        (Control::NeverTreated, Some(_)) => false,
    };
    let mut treated: Vec<(u32, f64)> = Vec::new();
    let mut control: Vec<(u32, f64)> = Vec::new();
    for u in 0..panel.n() {
        let c = panel.cohort[u];
        let side = if c == Some(g) {
            &mut treated
        } else if is_control(c) {
            &mut control
        } else {
            continue;
        };
        if let (Some(yt), Some(yb)) = (panel.at(u, t), panel.at(u, b)) {
            side.push((u as u32, yt - yb));
        }
    }
    let (nt, nc) = (treated.len(), control.len());
    let mut out = Cell {
        group: g,
        period: pt,
        base: pb,
        att: None,
        n_treated: nt,
        n_control: nc,
        inf: Vec::new(),
        reference: false,
        reason: None,
    };
    if nt == 0 || nc == 0 {
        out.reason = Some(match (nt, nc) {
            (0, _) => format!("no area of cohort {g} has both {pb} and {pt}"),
            _ => format!(
                "no {} area has both {pb} and {pt}",
                design.control.as_str().replace('_', "-")
            ),
        });
        return out;
    }
    let mean = |v: &[(u32, f64)]| v.iter().map(|x| x.1).sum::<f64>() / v.len() as f64;
    let (mt, mc) = (mean(&treated), mean(&control));
    let n = panel.n() as f64;
    out.att = Some(mt - mc);
    out.inf = treated
        .iter()
        .map(|(u, d)| (*u, n * (d - mt) / nt as f64))
        .chain(control.iter().map(|(u, d)| (*u, -n * (d - mc) / nc as f64)))
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two treated areas (cohort 2021) and two never treated, 2020-2021: the textbook 2×2.
    fn two_by_two() -> Panel {
        Panel {
            units: vec!["T1".into(), "T2".into(), "C1".into(), "C2".into()],
            periods: vec![2020, 2021],
            //        2020        2021
            y: [10.0, 14.0, 20.0, 26.0, 5.0, 6.0, 7.0, 10.0]
                .into_iter()
                .map(Some)
                .collect(),
            cohort: vec![Some(2021), Some(2021), None, None],
            notes: vec![],
        }
    }

    #[test]
    fn the_two_by_two_by_hand() {
        // Treated changes 4 and 6 (mean 5), controls 1 and 3 (mean 2): ATT = 3.
        let design = Design {
            control: Control::NeverTreated,
            base_period: BasePeriod::Varying,
            anticipation: 0,
        };
        let cells = group_time(&two_by_two(), design);
        assert_eq!(cells.len(), 1);
        let c = &cells[0];
        assert_eq!((c.group, c.period, c.base), (2021, 2021, 2020));
        assert_eq!(c.att, Some(3.0));
        assert_eq!((c.n_treated, c.n_control), (2, 2));
        // IF: n = 4; treated 4·(4−5)/2 = −2, 4·(6−5)/2 = 2; controls −4·(1−2)/2 = 2, −2.
        let inf: Vec<f64> = c.inf.iter().map(|x| x.1).collect();
        assert_eq!(inf, vec![-2.0, 2.0, 2.0, -2.0]);
        // SE = √(Σ IF²) / n = √16 / 4 = 1 = √(σ²_t/n_t + σ²_c/n_c) = √(1/2 + 1/2).
        let se = c.inf.iter().map(|x| x.1 * x.1).sum::<f64>().sqrt() / 4.0;
        assert_eq!(se, 1.0);
    }

    #[test]
    fn universal_base_has_an_exact_zero_reference() {
        let mut p = two_by_two();
        p.periods = vec![2019, 2020, 2021];
        p.y = [
            9.0, 10.0, 14.0, 18.0, 20.0, 26.0, 5.0, 5.0, 6.0, 8.0, 7.0, 10.0,
        ]
        .into_iter()
        .map(Some)
        .collect();
        let design = Design {
            control: Control::NeverTreated,
            base_period: BasePeriod::Universal,
            anticipation: 0,
        };
        let cells = group_time(&p, design);
        // 2019 vs base 2020, the reference 2020, and 2021 vs 2020.
        assert_eq!(cells.len(), 3);
        assert!(cells[1].reference && cells[1].att == Some(0.0));
        // 2019 − 2020: treated −1 and −2 (mean −1.5), controls 0 and +1 (mean 0.5): −2.
        assert_eq!(cells[0].att, Some(-2.0));
        assert_eq!(cells[2].att, Some(3.0));
    }
}

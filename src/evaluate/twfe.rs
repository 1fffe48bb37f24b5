//! The two estimators people compare Callaway & Sant'Anna with.
//!
//! - Two-way fixed effects: Y_it = α_i + λ_t + β D_it + ε_it with D_it = 1 from the area's
//!   first treated period on, by the within transformation (alternating projections, exact for
//!   a balanced panel after one sweep). Standard errors clustered by area with the G / (G − 1)
//!   correction. With staggered adoption β weighs the group-time effects with weights that can
//!   be negative (de Chaisemartin & D'Haultfœuille 2020): each treated observation's weight is
//!   its residualised treatment D̃_it / Σ D̃²; the row is flagged `staggered`, and
//!   `negative_weights` when some of those weights are below zero.
//! - The 2×2 difference-in-differences per cohort: each area's mean after treatment starts
//!   minus its mean before (anticipation periods left out), treated cohort against the
//!   never-treated areas, with the standard error of a difference of two means.

use super::aggregate::Estimate;
use super::panel::Panel;

/// TWFE's β with its influence function (for inference like every other estimate) and the
/// number of treated observations with a negative implicit weight.
pub fn twfe(panel: &Panel) -> Option<(Estimate, usize)> {
    let (n, t) = (panel.n(), panel.periods.len());
    let d: Vec<Option<f64>> = (0..n * t)
        .map(|k| {
            let (u, p) = (k / t, k % t);
            panel.y[k]?;
            Some(match panel.cohort[u] {
                Some(g) if panel.periods[p] >= g => 1.0,
                _ => 0.0,
            })
        })
        .collect();
    let y_tilde = demean(panel, &panel.y);
    let d_tilde = demean(panel, &d);
    let (mut sdd, mut sdy) = (0.0, 0.0);
    for k in 0..n * t {
        if let (Some(a), Some(b)) = (d_tilde[k], y_tilde[k]) {
            sdd += a * a;
            sdy += a * b;
        }
    }
    if sdd <= 1e-12 {
        return None;
    }
    let beta = sdy / sdd;
    // Cluster scores s_i = Σ_t D̃ ê; V = c Σ s_i² / (Σ D̃²)², c = G / (G − 1). As an influence
    // function over n areas, IF_i = √c · n s_i / Σ D̃², so that √(Σ IF²) / n is the CR1 error.
    let c = if n > 1 {
        n as f64 / (n as f64 - 1.0)
    } else {
        1.0
    };
    let mut inf = vec![0.0; n];
    let mut negative = 0;
    for (u, slot) in inf.iter_mut().enumerate() {
        let mut s = 0.0;
        for p in 0..t {
            let k = u * t + p;
            if let (Some(a), Some(b)) = (d_tilde[k], y_tilde[k]) {
                s += a * (b - beta * a);
                if d[k] == Some(1.0) && a < -1e-12 {
                    negative += 1;
                }
            }
        }
        *slot = c.sqrt() * n as f64 * s / sdd;
    }
    let treated = (0..n).filter(|&u| panel.cohort[u].is_some()).count();
    Some((
        Estimate {
            aggregation: "simple",
            group: None,
            period: None,
            event_time: None,
            att: beta,
            inf,
            n_treated: treated,
            n_control: n - treated,
            band: None,
            reference: false,
            members: vec![],
        },
        negative,
    ))
}

/// Removes area and period means until they no longer change (one sweep when balanced).
fn demean(panel: &Panel, x: &[Option<f64>]) -> Vec<Option<f64>> {
    let (n, t) = (panel.n(), panel.periods.len());
    let mut z: Vec<Option<f64>> = x
        .iter()
        .zip(&panel.y)
        .map(|(v, y)| if y.is_some() { *v } else { None })
        .collect();
    let sweeps = if panel.balanced() { 1 } else { 10_000 };
    for _ in 0..sweeps {
        let mut change: f64 = 0.0;
        for u in 0..n {
            let row = &mut z[u * t..(u + 1) * t];
            let (s, c) = row
                .iter()
                .flatten()
                .fold((0.0, 0.0), |(s, c), v| (s + v, c + 1.0));
            if c > 0.0 {
                let m = s / c;
                change = change.max(m.abs());
                row.iter_mut().flatten().for_each(|v| *v -= m);
            }
        }
        for p in 0..t {
            let (mut s, mut c) = (0.0, 0.0);
            for u in 0..n {
                if let Some(v) = z[u * t + p] {
                    s += v;
                    c += 1.0;
                }
            }
            if c > 0.0 {
                let m = s / c;
                change = change.max(m.abs());
                for u in 0..n {
                    if let Some(v) = z[u * t + p].as_mut() {
                        *v -= m;
                    }
                }
            }
        }
        if change < 1e-13 {
            break;
        }
    }
    z
}

/// The 2×2 DiD of cohort `g` against the never-treated areas: (estimate, or why there is none).
pub fn two_by_two(panel: &Panel, g: i32, anticipation: u32) -> Result<Estimate, String> {
    let n = panel.n();
    let before = |p: i32| p + (anticipation as i32) < g;
    let change = |u: usize| -> Option<f64> {
        let (mut pre, mut npre, mut post, mut npost) = (0.0, 0.0, 0.0, 0.0);
        for (k, p) in panel.periods.iter().enumerate() {
            if let Some(y) = panel.at(u, k) {
                if before(*p) {
                    pre += y;
                    npre += 1.0;
                } else if *p >= g {
                    post += y;
                    npost += 1.0;
                }
            }
        }
        (npre > 0.0 && npost > 0.0).then(|| post / npost - pre / npre)
    };
    let treated: Vec<(usize, f64)> = (0..n)
        .filter(|&u| panel.cohort[u] == Some(g))
        .filter_map(|u| change(u).map(|c| (u, c)))
        .collect();
    let control: Vec<(usize, f64)> = (0..n)
        .filter(|&u| panel.cohort[u].is_none())
        .filter_map(|u| change(u).map(|c| (u, c)))
        .collect();
    if treated.is_empty() || control.is_empty() {
        return Err(if treated.is_empty() {
            format!("no area of cohort {g} has periods both before and after {g}")
        } else {
            "no never-treated area has periods both before and after treatment".to_string()
        });
    }
    let mean = |v: &[(usize, f64)]| v.iter().map(|x| x.1).sum::<f64>() / v.len() as f64;
    let (mt, mc) = (mean(&treated), mean(&control));
    let (nt, nc, nf) = (treated.len() as f64, control.len() as f64, n as f64);
    let mut inf = vec![0.0; n];
    for (u, c) in &treated {
        inf[*u] = nf * (c - mt) / nt;
    }
    for (u, c) in &control {
        inf[*u] = -nf * (c - mc) / nc;
    }
    Ok(Estimate {
        aggregation: "group",
        group: Some(g),
        period: None,
        event_time: None,
        att: mt - mc,
        inf,
        n_treated: treated.len(),
        n_control: control.len(),
        band: None,
        reference: false,
        members: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::inference::analytic_se;

    fn panel(y: &[f64], cohort: Vec<Option<i32>>, periods: Vec<i32>) -> Panel {
        Panel {
            units: (0..cohort.len()).map(|i| format!("A{i}")).collect(),
            periods,
            y: y.iter().map(|v| Some(*v)).collect(),
            cohort,
            notes: vec![],
        }
    }

    #[test]
    fn twfe_equals_the_two_by_two_without_staggering() {
        // Two periods, two treated and two controls: TWFE's β is the 2×2 DiD, 3 (see att.rs).
        let p = panel(
            &[10.0, 14.0, 20.0, 26.0, 5.0, 6.0, 7.0, 10.0],
            vec![Some(2021), Some(2021), None, None],
            vec![2020, 2021],
        );
        let (e, negative) = twfe(&p).unwrap();
        assert!((e.att - 3.0).abs() < 1e-12, "{}", e.att);
        assert_eq!(negative, 0);
        let b = two_by_two(&p, 2021, 0).unwrap();
        assert!((b.att - 3.0).abs() < 1e-12);
        // Difference of means: √(σ²_t/n_t + σ²_c/n_c) with σ² = 1 in both groups = 1.
        assert!((analytic_se(&b.inf) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_two_by_two_averages_all_periods_before_and_after() {
        // Cohort 2022, periods 2020-2023. Treated area: before (1 + 3) / 2 = 2, after
        // (8 + 10) / 2 = 9, change 7. Control: before (2 + 2) / 2 = 2, after (3 + 5) / 2 = 4,
        // change 2. ATT = 5.
        let p = panel(
            &[1.0, 3.0, 8.0, 10.0, 2.0, 2.0, 3.0, 5.0],
            vec![Some(2022), None],
            vec![2020, 2021, 2022, 2023],
        );
        assert!((two_by_two(&p, 2022, 0).unwrap().att - 5.0).abs() < 1e-12);
        // One period of anticipation leaves 2021 out of "before": treated 1 → 9 (8), control
        // 2 → 4 (2): ATT = 6.
        assert!((two_by_two(&p, 2022, 1).unwrap().att - 6.0).abs() < 1e-12);
    }

    #[test]
    fn staggered_adoption_gives_negative_weights() {
        // Early cohort 2021, late cohort 2023, no never-treated, four periods: the early
        // cohort's late periods act as controls for the late cohort, so some treated
        // observations get negative weight (Goodman-Bacon 2021's example).
        let y: Vec<f64> = (0..8).map(|k| k as f64).collect();
        let p = panel(
            &y,
            vec![Some(2021), Some(2023)],
            vec![2020, 2021, 2022, 2023],
        );
        let (_, negative) = twfe(&p).unwrap();
        assert!(negative > 0);
    }
}

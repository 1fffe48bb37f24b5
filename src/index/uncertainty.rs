//! The index's uncertainty and sensitivity, as the JRC's COINr analyses them.
//!
//! - Monte Carlo: each run draws every aggregate's weight uniformly within ± a share of its
//!   value, a normalisation and an aggregation method from the given sets, and recomputes the
//!   whole index; runs are seeded from the pipeline and their number, run in parallel, and
//!   their drawn parameters are kept so that any run can be replayed. Per unit and node: the
//!   median rank and the 5-95 % interval of ranks.
//! - Variance-based sensitivity (Saltelli 2010 sampling): with the mean absolute rank change
//!   of the top node against the nominal ranks as output, the first-order index (Saltelli's
//!   estimator) and the total index (Jansen's) of each uncertain input.

use rayon::prelude::*;

use super::compute::{ranks, scores, Tree};
use super::treat::Column;
use crate::config::index::{Aggregation, Normalise, Uncertainty};
use crate::indicators::stats::SplitMix64;

/// One run's drawn parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Draw {
    pub run: u32,
    /// (node position, weight) of every perturbed aggregate weight.
    pub weights: Vec<(usize, f64)>,
    pub normalise: Normalise,
    pub aggregate: Aggregation,
}

/// The aggregates whose weight is uncertain: every node but the top one above the
/// indicators.
pub fn perturbed(tree: &Tree) -> Vec<usize> {
    let top = tree.len() - 1;
    (tree.indicators..tree.len())
        .filter(|&i| i != top)
        .collect()
}

fn uniform(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A run's parameters from `k` uniforms in [0, 1): one per perturbed weight, then the
/// normalisation, then the aggregation.
fn from_uniforms(run: u32, u: &[f64], base: &[f64], moved: &[usize], un: &Uncertainty) -> Draw {
    let s = un.weight_share;
    let weights = moved
        .iter()
        .zip(u)
        .map(|(&i, x)| (i, base[i] * (1.0 - s + 2.0 * s * x)))
        .collect();
    let pick = |x: f64, n: usize| ((x * n as f64) as usize).min(n - 1);
    Draw {
        run,
        weights,
        normalise: un.normalise[pick(u[moved.len()], un.normalise.len())],
        aggregate: un.aggregate[pick(u[moved.len() + 1], un.aggregate.len())],
    }
}

/// The scores of every node under a draw.
pub fn replay(tree: &Tree, treated: &[Column], base: &[f64], d: &Draw) -> Vec<Column> {
    let mut w = base.to_vec();
    for (i, x) in &d.weights {
        w[*i] = *x;
    }
    scores(tree, treated, &w, d.normalise, d.aggregate).0
}

/// One run's ranks: per aggregate (by position from `tree.indicators`), per unit.
pub type RunRanks = Vec<Vec<Option<u32>>>;

/// Monte-Carlo runs: the draws, and for each run the ranks of every aggregate (by position
/// from `tree.indicators`) over the units.
pub fn monte_carlo(
    tree: &Tree,
    treated: &[Column],
    base: &[f64],
    un: &Uncertainty,
) -> (Vec<Draw>, Vec<RunRanks>) {
    let moved = perturbed(tree);
    let k = moved.len() + 2;
    let results: Vec<(Draw, RunRanks)> = (0..un.runs)
        .into_par_iter()
        .map(|r| {
            let mut rng = SplitMix64::stream(un.seed, r as u64);
            let u: Vec<f64> = (0..k).map(|_| uniform(&mut rng)).collect();
            let d = from_uniforms(r, &u, base, &moved, un);
            let s = replay(tree, treated, base, &d);
            let r: RunRanks = s[tree.indicators..].iter().map(ranks).collect();
            (d, r)
        })
        .collect();
    results.into_iter().unzip()
}

/// R's default quantile (type 7: linear between order statistics) of sorted values.
pub fn quantile7(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The inputs of the sensitivity analysis, by name.
pub fn inputs(tree: &Tree) -> Vec<String> {
    let mut names: Vec<String> = perturbed(tree)
        .iter()
        .map(|&i| format!("weight:{}", tree.codes[i]))
        .collect();
    names.push("normalisation".into());
    names.push("aggregation".into());
    names
}

/// First-order and total sensitivity indices of each input (in [`inputs`] order) for the
/// mean absolute rank change of the top node against `nominal`, from `n` base samples
/// (n (k + 2) runs).
pub fn sensitivity(
    tree: &Tree,
    treated: &[Column],
    base: &[f64],
    nominal: &[Option<u32>],
    un: &Uncertainty,
    n: u32,
) -> Vec<(f64, f64)> {
    let moved = perturbed(tree);
    let k = moved.len() + 2;
    let mut rng = SplitMix64::stream(un.seed ^ 0x5a17_e111, 0);
    let a: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..k).map(|_| uniform(&mut rng)).collect())
        .collect();
    let b: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..k).map(|_| uniform(&mut rng)).collect())
        .collect();
    let top = tree.len() - 1;
    let output = |u: &[f64]| -> f64 {
        let d = from_uniforms(0, u, base, &moved, un);
        let r = ranks(&replay(tree, treated, base, &d)[top]);
        let shifts: Vec<f64> = r
            .iter()
            .zip(nominal)
            .filter_map(|(x, y)| Some((x.as_ref()?.abs_diff(*y.as_ref()?)) as f64))
            .collect();
        if shifts.is_empty() {
            0.0
        } else {
            shifts.iter().sum::<f64>() / shifts.len() as f64
        }
    };
    let ya: Vec<f64> = a.par_iter().map(|u| output(u)).collect();
    let yb: Vec<f64> = b.par_iter().map(|u| output(u)).collect();
    let all: Vec<f64> = ya.iter().chain(&yb).copied().collect();
    let m = all.iter().sum::<f64>() / all.len() as f64;
    let v = all.iter().map(|y| (y - m) * (y - m)).sum::<f64>() / all.len() as f64;
    (0..k)
        .map(|i| {
            let yab: Vec<f64> = (0..n as usize)
                .into_par_iter()
                .map(|j| {
                    let mut u = a[j].clone();
                    u[i] = b[j][i];
                    output(&u)
                })
                .collect();
            if v <= 0.0 {
                return (0.0, 0.0);
            }
            let nn = n as f64;
            let first = (0..n as usize)
                .map(|j| yb[j] * (yab[j] - ya[j]))
                .sum::<f64>()
                / nn
                / v;
            let total = (0..n as usize)
                .map(|j| (ya[j] - yab[j]).powi(2))
                .sum::<f64>()
                / (2.0 * nn)
                / v;
            (first, total)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_7_quantiles() {
        // R: quantile(c(1, 2, 3, 4, 10), c(0.05, 0.5, 0.95)) = 1.2, 3, 8.8.
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert!((quantile7(&x, 0.05) - 1.2).abs() < 1e-12);
        assert_eq!(quantile7(&x, 0.5), 3.0);
        assert!((quantile7(&x, 0.95) - 8.8).abs() < 1e-12);
    }
}

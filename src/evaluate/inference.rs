//! Inference for the estimates, clustered by area (the unit of the panel):
//!
//! - analytic standard errors from the influence functions, √(Σ IF²) / n, and pointwise
//!   normal intervals;
//! - a seeded multiplier bootstrap of the influence functions (R `did`'s `mboot`), replicates
//!   in parallel: each estimate's bootstrap standard error is its draws' interquartile range
//!   over that of the normal, and a uniform band over a set of estimates (all ATT(g,t), all
//!   event times, ...) takes the 1 − α quantile of the largest studentised draw in the set;
//! - with fewer than 30 areas, Webb's six-point weights instead of Rademacher's two (with
//!   few clusters two-point weights take too few distinct values), and p-values from the
//!   bootstrap (the share of draws at least as far from the estimate as it is from 0);
//! - a Wald pre-test of parallel trends over the pre-treatment cells: W = a' V⁻¹ a with
//!   V = Σ_i IF_i IF_i' / n², chi-square with as many degrees of freedom as cells.

use rayon::prelude::*;

use super::aggregate::Estimate;
use super::dist;
use crate::indicators::stats::SplitMix64;

/// Below this many areas, analytic intervals are flagged and p-values come from the bootstrap.
pub const FEW_CLUSTERS: usize = 30;

/// The multiplier weights of the bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    /// ±1 with equal probability.
    Rademacher,
    /// ±√(1/2), ±1, ±√(3/2), each with probability 1/6 (Webb 2014).
    Webb,
}

impl Weights {
    pub fn as_str(self) -> &'static str {
        match self {
            Weights::Rademacher => "rademacher",
            Weights::Webb => "webb",
        }
    }

    fn draw(self, rng: &mut SplitMix64) -> f64 {
        match self {
            Weights::Rademacher => {
                if rng.next_u64() >> 63 == 0 {
                    -1.0
                } else {
                    1.0
                }
            }
            Weights::Webb => {
                const W: [f64; 6] = [
                    -1.224_744_871_391_589,
                    -1.0,
                    -std::f64::consts::FRAC_1_SQRT_2,
                    std::f64::consts::FRAC_1_SQRT_2,
                    1.0,
                    1.224_744_871_391_589,
                ];
                W[rng.below(6) as usize]
            }
        }
    }
}

/// What inference gives each estimate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inferred {
    pub se: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub band: Option<(f64, f64)>,
    pub p_value: Option<f64>,
}

/// Settings of the bootstrap.
#[derive(Debug, Clone, Copy)]
pub struct Bootstrap {
    pub replicates: u32,
    pub seed: u64,
    pub alpha: f64,
}

/// The analytic standard error of an estimate: √(Σ IF²) / n.
pub fn analytic_se(inf: &[f64]) -> f64 {
    inf.iter().map(|x| x * x).sum::<f64>().sqrt() / inf.len().max(1) as f64
}

/// Standard errors, intervals, uniform bands and p-values for `estimates`, all over the same
/// n areas.
pub fn infer(estimates: &[Estimate], boot: Bootstrap) -> (Vec<Inferred>, Weights) {
    let n = estimates.first().map_or(0, |e| e.inf.len());
    let weights = if n < FEW_CLUSTERS {
        Weights::Webb
    } else {
        Weights::Rademacher
    };
    let z = dist::norm_quantile(1.0 - boot.alpha / 2.0);
    let mut out: Vec<Inferred> = estimates
        .iter()
        .map(|e| {
            if e.reference {
                return Inferred {
                    se: None,
                    ci: None,
                    band: None,
                    p_value: None,
                };
            }
            let se = analytic_se(&e.inf);
            Inferred {
                se: Some(se),
                ci: Some((e.att - z * se, e.att + z * se)),
                band: None,
                p_value: (se > 0.0).then(|| dist::two_sided_p(e.att / se)),
            }
        })
        .collect();
    if boot.replicates == 0 || n == 0 {
        return (out, weights);
    }
    let draws = draws(estimates, n, boot, weights);
    let b = draws.len();
    let k = estimates.len();
    let root_n = (n as f64).sqrt();
    // Bootstrap standard deviation of each estimate's √n-scaled draws.
    let iqr_normal = dist::norm_quantile(0.75) - dist::norm_quantile(0.25);
    let sigma: Vec<f64> = (0..k)
        .map(|j| {
            let mut col: Vec<f64> = draws.iter().map(|d| d[j]).collect();
            col.sort_by(f64::total_cmp);
            (dist::quantile_type1(&col, 0.75) - dist::quantile_type1(&col, 0.25)) / iqr_normal
        })
        .collect();
    // Uniform bands, one per set of estimates.
    let mut sets: Vec<&'static str> = estimates.iter().filter_map(|e| e.band).collect();
    sets.sort_unstable();
    sets.dedup();
    for set in sets {
        let members: Vec<usize> = (0..k)
            .filter(|&j| estimates[j].band == Some(set) && !estimates[j].reference)
            .collect();
        let live: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&j| sigma[j] > 0.0)
            .collect();
        let mut max_t: Vec<f64> = draws
            .iter()
            .map(|d| {
                live.iter()
                    .map(|&j| (d[j] / sigma[j]).abs())
                    .fold(0.0, f64::max)
            })
            .collect();
        max_t.sort_by(f64::total_cmp);
        let crit = dist::quantile_type1(&max_t, 1.0 - boot.alpha);
        for &j in &members {
            let half = crit * sigma[j] / root_n;
            out[j].band = Some((estimates[j].att - half, estimates[j].att + half));
        }
    }
    if weights == Weights::Webb {
        for (j, e) in estimates.iter().enumerate() {
            if e.reference {
                continue;
            }
            let far = draws
                .iter()
                .filter(|d| (d[j] / root_n).abs() >= e.att.abs())
                .count();
            out[j].p_value = Some((far as f64 + 1.0) / (b as f64 + 1.0));
        }
    }
    (out, weights)
}

/// Replicates drawn together: each estimate's influence function is read once per block, not
/// once per replicate (at 10 000 areas and 400 estimates it is 32 MB).
const BLOCK: usize = 16;

/// `replicates` draws of √n · mean_i(v_i IF_i) for every estimate, blocks of replicates side
/// by side; each replicate has its own generator seeded from the pipeline's seed and its
/// number, so the draws do not depend on the blocking or the scheduling.
fn draws(estimates: &[Estimate], n: usize, boot: Bootstrap, weights: Weights) -> Vec<Vec<f64>> {
    let root_n = (n as f64).sqrt();
    let b = boot.replicates as usize;
    let blocks: Vec<usize> = (0..b).step_by(BLOCK).collect();
    let per_block: Vec<Vec<Vec<f64>>> = blocks
        .par_iter()
        .map(|&start| {
            let r = BLOCK.min(b - start);
            // Weights unit-major: v[i * BLOCK + j] for replicate start + j.
            let mut v = vec![0.0; n * BLOCK];
            for j in 0..r {
                let mut rng = SplitMix64::stream(boot.seed, (start + j) as u64);
                for i in 0..n {
                    v[i * BLOCK + j] = weights.draw(&mut rng);
                }
            }
            let mut out = vec![vec![0.0; estimates.len()]; r];
            for (k, e) in estimates.iter().enumerate() {
                let mut acc = [0.0f64; BLOCK];
                for (x, vi) in e.inf.iter().zip(v.chunks_exact(BLOCK)) {
                    if *x != 0.0 {
                        for (a, w) in acc.iter_mut().zip(vi) {
                            *a += x * w;
                        }
                    }
                }
                for j in 0..r {
                    out[j][k] = acc[j] / root_n;
                }
            }
            out
        })
        .collect();
    per_block.into_iter().flatten().collect()
}

/// The Wald pre-test of parallel trends over `pre` (pre-treatment group-time estimates):
/// (statistic, degrees of freedom, p-value), or `None` when there are none or their
/// covariance is singular.
pub fn pre_test(pre: &[&Estimate]) -> Option<(f64, usize, f64)> {
    let k = pre.len();
    if k == 0 {
        return None;
    }
    let n = pre[0].inf.len() as f64;
    let mut v = vec![0.0; k * k];
    for a in 0..k {
        for b in a..k {
            let s: f64 = pre[a].inf.iter().zip(&pre[b].inf).map(|(x, y)| x * y).sum();
            v[a * k + b] = s / (n * n);
            v[b * k + a] = s / (n * n);
        }
    }
    let att: Vec<f64> = pre.iter().map(|e| e.att).collect();
    let x = dist::solve(v, att.clone())?;
    let w: f64 = att.iter().zip(&x).map(|(a, b)| a * b).sum();
    Some((w, k, dist::chi2_sf(w, k as f64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(att: f64, inf: Vec<f64>) -> Estimate {
        Estimate {
            aggregation: "group_time",
            group: Some(2021),
            period: Some(2021),
            event_time: Some(0),
            att,
            inf,
            n_treated: 1,
            n_control: 1,
            band: Some("group_time"),
            reference: false,
            members: vec![],
        }
    }

    #[test]
    fn webb_weights_have_mean_zero_and_variance_one() {
        let mut rng = SplitMix64::new(7);
        let draws: Vec<f64> = (0..60_000).map(|_| Weights::Webb.draw(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|x| x * x).sum::<f64>() / draws.len() as f64;
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }

    #[test]
    fn the_pre_test_of_one_cell_is_its_squared_t_statistic() {
        // One pre-period cell, att 0.5, IF over 4 areas with Σ IF² = 16: se = √16 / 4 = 1, so
        // W = (0.5 / 1)² = 0.25, and p = P(χ²₁ > 0.25) = 0.617075077467 (tables).
        let e = est(0.5, vec![2.0, -2.0, 2.0, -2.0]);
        let (w, df, p) = pre_test(&[&e]).unwrap();
        assert!((w - 0.25).abs() < 1e-12 && df == 1);
        assert!((p - 0.617_075_077_467_4).abs() < 1e-9, "{p}");
    }

    #[test]
    fn same_seed_same_bands() {
        let es: Vec<Estimate> = (0..3)
            .map(|j| {
                est(
                    0.1 * j as f64,
                    (0..40).map(|i| ((i * 7 + j) % 5) as f64 - 2.0).collect(),
                )
            })
            .collect();
        let boot = Bootstrap {
            replicates: 200,
            seed: 3,
            alpha: 0.05,
        };
        let (a, w) = infer(&es, boot);
        let (b, _) = infer(&es, boot);
        assert_eq!(a, b);
        assert_eq!(w, Weights::Rademacher);
        // The uniform band is wider than each pointwise interval of the same set.
        for x in &a {
            let (lo, hi) = x.band.unwrap();
            let (clo, chi) = x.ci.unwrap();
            assert!(hi - lo > 0.9 * (chi - clo), "{x:?}");
        }
    }
}

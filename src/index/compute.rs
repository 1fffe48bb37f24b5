//! One pass of the index: normalise every treated indicator, aggregate up the hierarchy with
//! the given weights and method, and rank. The Monte-Carlo runs call it with drawn settings.

use super::treat::Column;
use crate::config::index::{Aggregation, Node, Normalise};

/// The hierarchy, resolved to positions once: indicators first (in `Tree::indicators`
/// order), then aggregates by level, each with its children's positions.
#[derive(Debug, Clone)]
pub struct Tree {
    pub codes: Vec<String>,
    pub levels: Vec<u32>,
    pub indicators: usize,
    /// For each aggregate (position ≥ `indicators`): (child position, weight).
    pub children: Vec<Vec<(usize, f64)>>,
    pub directions: Vec<f64>,
    pub targets: Vec<Option<f64>>,
    pub goalposts: Vec<Option<(f64, f64)>>,
}

impl Tree {
    pub fn new(nodes: &[Node]) -> Tree {
        let mut order: Vec<&Node> = nodes.iter().filter(|n| n.indicator).collect();
        let mut aggregates: Vec<&Node> = nodes.iter().filter(|n| !n.indicator).collect();
        aggregates.sort_by_key(|n| n.level);
        let indicators = order.len();
        order.extend(aggregates);
        let children = order[indicators..]
            .iter()
            .map(|a| {
                order
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.parent.as_deref() == Some(a.code.as_str()))
                    .map(|(i, n)| (i, n.weight))
                    .collect()
            })
            .collect();
        Tree {
            codes: order.iter().map(|n| n.code.clone()).collect(),
            levels: order.iter().map(|n| n.level).collect(),
            indicators,
            children,
            directions: order.iter().map(|n| n.direction).collect(),
            targets: order.iter().map(|n| n.target).collect(),
            goalposts: order.iter().map(|n| n.goalposts).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

/// An indicator normalised over the units, in the direction "higher is better".
pub fn normalise(x: &Column, direction: f64, target: Option<f64>, how: Normalise) -> Column {
    normalise_with_goalposts(x, direction, target, None, how)
}

/// [`normalise`], with the indicator's goalposts (worst, best) for goalpost normalisation.
pub fn normalise_with_goalposts(
    x: &Column,
    direction: f64,
    target: Option<f64>,
    goalposts: Option<(f64, f64)>,
    how: Normalise,
) -> Column {
    if let (Normalise::Goalposts, Some((worst, best))) = (how, goalposts) {
        return x
            .iter()
            .map(|y| {
                y.map(|y| {
                    if best != worst {
                        ((y - worst) / (best - worst) * 100.0).clamp(0.0, 100.0)
                    } else {
                        50.0
                    }
                })
            })
            .collect();
    }
    let v: Vec<f64> = x.iter().flatten().map(|y| y * direction).collect();
    if v.is_empty() {
        return x.clone();
    }
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(*y), b.max(*y)));
    match how {
        Normalise::MinMax { lo: a, hi: b } => x
            .iter()
            .map(|y| {
                y.map(|y| {
                    if hi > lo {
                        (y * direction - lo) / (hi - lo) * (b - a) + a
                    } else {
                        (a + b) / 2.0
                    }
                })
            })
            .collect(),
        Normalise::ZScore { mean, sd } => {
            let n = v.len() as f64;
            let m = v.iter().sum::<f64>() / n;
            let s = (v.iter().map(|y| (y - m) * (y - m)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
            x.iter()
                .map(|y| {
                    y.map(|y| {
                        if s > 0.0 {
                            (y * direction - m) / s * sd + mean
                        } else {
                            mean
                        }
                    })
                })
                .collect()
        }
        Normalise::Rank => ranks_up(x, direction),
        Normalise::Goalposts => x.clone(),
        Normalise::Target => {
            let t = target.unwrap_or(hi) * direction;
            x.iter()
                .map(|y| {
                    y.map(|y| {
                        if t > lo {
                            ((y * direction - lo) / (t - lo) * 100.0).min(100.0)
                        } else {
                            100.0
                        }
                    })
                })
                .collect()
        }
    }
}

/// Why a unit has no score in a node.
pub const NOT_POSITIVE: &str = "geometric_needs_positive";

/// The weighted mean of present values by `how`; `Err` when the geometric or harmonic mean
/// meets a value that is not positive.
pub fn mean(values: &[(f64, f64)], how: Aggregation) -> Result<Option<f64>, &'static str> {
    let w: f64 = values.iter().map(|v| v.1).sum();
    if values.is_empty() || w <= 0.0 {
        return Ok(None);
    }
    match how {
        Aggregation::Arithmetic => Ok(Some(values.iter().map(|(x, wi)| x * wi).sum::<f64>() / w)),
        Aggregation::Geometric => {
            if values.iter().any(|(x, _)| *x <= 0.0) {
                return Err(NOT_POSITIVE);
            }
            Ok(Some(
                (values.iter().map(|(x, wi)| wi * x.ln()).sum::<f64>() / w).exp(),
            ))
        }
        Aggregation::Harmonic => {
            if values.iter().any(|(x, _)| *x <= 0.0) {
                return Err(NOT_POSITIVE);
            }
            Ok(Some(w / values.iter().map(|(x, wi)| wi / x).sum::<f64>()))
        }
    }
}

/// Scores of every node (indicators normalised, aggregates aggregated), unit-wise; with the
/// reasons for units that have none in an aggregate. `weights` overrides each node's weight
/// as a child (by position).
pub fn scores(
    tree: &Tree,
    treated: &[Column],
    weights: &[f64],
    normalise_with: Normalise,
    aggregate: Aggregation,
) -> (Vec<Column>, Vec<Vec<Option<&'static str>>>) {
    let units = treated.first().map_or(0, |c| c.len());
    let mut s: Vec<Column> = Vec::with_capacity(tree.len());
    for (i, x) in treated.iter().enumerate() {
        s.push(normalise_with_goalposts(
            x,
            tree.directions[i],
            tree.targets[i],
            tree.goalposts[i],
            normalise_with,
        ));
    }
    let mut why: Vec<Vec<Option<&'static str>>> = vec![vec![None; units]; tree.len()];
    for (a, kids) in tree.children.iter().enumerate() {
        let mut col = vec![None; units];
        for (u, slot) in col.iter_mut().enumerate() {
            let vals: Vec<(f64, f64)> = kids
                .iter()
                .filter_map(|(k, _)| s[*k][u].map(|x| (x, weights[*k])))
                .collect();
            match mean(&vals, aggregate) {
                Ok(v) => *slot = v,
                Err(reason) => why[tree.indicators + a][u] = Some(reason),
            }
        }
        s.push(col);
    }
    (s, why)
}

/// Ranks of a column, 1 = highest score, ties at their best rank; units without a score have
/// none. One sort: the Monte-Carlo runs rank every node of every run.
pub fn ranks(x: &Column) -> Vec<Option<u32>> {
    let mut order: Vec<(f64, usize)> = x
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (v, i)))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = vec![None; x.len()];
    let mut rank = 0u32;
    for (k, (v, i)) in order.iter().enumerate() {
        if k == 0 || *v != order[k - 1].0 {
            rank = k as u32 + 1;
        }
        out[*i] = Some(rank);
    }
    out
}

/// Ranks from the bottom (1 = lowest), ties at their lowest rank, as R's
/// `rank(ties = "min")`; for rank normalisation.
fn ranks_up(x: &Column, direction: f64) -> Column {
    let mut order: Vec<(f64, usize)> = x
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (v * direction, i)))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = vec![None; x.len()];
    let mut rank = 0.0;
    for (k, (v, i)) in order.iter().enumerate() {
        if k == 0 || *v != order[k - 1].0 {
            rank = k as f64 + 1.0;
        }
        out[*i] = Some(rank);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisations_by_hand() {
        let x: Column = vec![Some(2.0), Some(4.0), None, Some(10.0)];
        // min-max [0, 100]: (x − 2) / 8 · 100.
        assert_eq!(
            normalise(&x, 1.0, None, Normalise::MinMax { lo: 0.0, hi: 100.0 }),
            vec![Some(0.0), Some(25.0), None, Some(100.0)]
        );
        // Lower is better: −x, so 10 → 0 and 2 → 100.
        assert_eq!(
            normalise(&x, -1.0, None, Normalise::MinMax { lo: 0.0, hi: 100.0 }),
            vec![Some(100.0), Some(75.0), None, Some(0.0)]
        );
        // z-score: mean 16/3, sd √((11.11 + 1.78 + 21.78)/2) = √(52/3); scaled to mean 10, sd 2.
        let z = normalise(
            &x,
            1.0,
            None,
            Normalise::ZScore {
                mean: 10.0,
                sd: 2.0,
            },
        );
        let sd = (52.0f64 / 3.0).sqrt();
        assert!((z[0].unwrap() - (10.0 + 2.0 * (2.0 - 16.0 / 3.0) / sd)).abs() < 1e-12);
        // Goalposts 0 (worst) and 8 (best): x / 8 · 100, clipped: 25, 50, –, 100.
        let g = normalise_with_goalposts(&x, 1.0, None, Some((0.0, 8.0)), Normalise::Goalposts);
        assert_eq!(g, vec![Some(25.0), Some(50.0), None, Some(100.0)]);
        // Lower is better with goalposts 10 (worst) and 2 (best): (10 − x) / 8 · 100.
        let g = normalise_with_goalposts(&x, -1.0, None, Some((10.0, 2.0)), Normalise::Goalposts);
        assert_eq!(g, vec![Some(100.0), Some(75.0), None, Some(0.0)]);
        // Distance to a target of 8: (x − 2) / 6 · 100, capped at 100.
        let t = normalise(&x, 1.0, Some(8.0), Normalise::Target);
        assert!((t[1].unwrap() - 100.0 / 3.0).abs() < 1e-12);
        assert_eq!(t[3], Some(100.0));
    }

    #[test]
    fn means_by_hand() {
        let v = [(1.0, 1.0), (4.0, 1.0), (16.0, 2.0)];
        // arithmetic (1 + 4 + 32) / 4; geometric (1 · 4 · 256)^(1/4) = 1024^(1/4); harmonic
        // 4 / (1 + 1/4 + 2/16).
        assert_eq!(mean(&v, Aggregation::Arithmetic), Ok(Some(9.25)));
        let g = mean(&v, Aggregation::Geometric).unwrap().unwrap();
        assert!((g - 1024f64.powf(0.25)).abs() < 1e-12);
        let h = mean(&v, Aggregation::Harmonic).unwrap().unwrap();
        assert!((h - 4.0 / 1.375).abs() < 1e-12);
        assert_eq!(
            mean(&[(0.0, 1.0)], Aggregation::Geometric),
            Err(NOT_POSITIVE)
        );
    }

    #[test]
    fn rank_normalisation_counts_from_the_bottom() {
        let x: Column = vec![Some(3.0), Some(1.0), None, Some(3.0), Some(2.0)];
        assert_eq!(
            normalise(&x, 1.0, None, Normalise::Rank),
            vec![Some(3.0), Some(1.0), None, Some(3.0), Some(2.0)]
        );
    }

    #[test]
    fn ranks_on_unrounded_scores() {
        assert_eq!(
            ranks(&vec![Some(64.804), Some(64.819), None, Some(64.804)]),
            vec![Some(2), Some(1), None, Some(2)]
        );
    }
}

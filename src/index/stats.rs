//! Statistics of the index's nodes, as the JRC handbook asks for them: data availability,
//! each node's correlation with its parent, and Cronbach's alpha of each aggregate's children.

use serde_json::json;

use super::compute::Tree;
use super::treat::Column;

/// For every node and unit, how many indicators under the node have a value.
pub fn indicators_under(tree: &Tree, treated: &[Column]) -> Vec<Vec<usize>> {
    let units = treated.first().map_or(0, |c| c.len());
    let mut counts: Vec<Vec<usize>> = treated
        .iter()
        .map(|c| c.iter().map(|v| usize::from(v.is_some())).collect())
        .collect();
    for kids in &tree.children {
        let mut c = vec![0; units];
        for (k, _) in kids {
            for (u, slot) in c.iter_mut().enumerate() {
                *slot += counts[*k][u];
            }
        }
        counts.push(c);
    }
    counts
}

/// Pearson's correlation over the units where both have a value; `None` below 3 pairs or
/// without spread.
pub fn correlation(a: &Column, b: &Column) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
        .collect();
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |(s, t), (x, y)| (s + x, t + y));
    let (mx, my) = (mx / n, my / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Cronbach's alpha of `items` over the units where every item has a value:
/// k / (k − 1) · (1 − Σ var(item) / var(Σ items)).
pub fn cronbach_alpha(items: &[&Column]) -> Option<f64> {
    let k = items.len();
    if k < 2 {
        return None;
    }
    let units = items[0].len();
    let rows: Vec<Vec<f64>> = (0..units)
        .filter_map(|u| items.iter().map(|c| c[u]).collect::<Option<Vec<f64>>>())
        .collect();
    if rows.len() < 2 {
        return None;
    }
    let var = |v: &[f64]| {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    };
    let item_var: f64 = (0..k)
        .map(|i| var(&rows.iter().map(|r| r[i]).collect::<Vec<_>>()))
        .sum();
    let total = var(&rows
        .iter()
        .map(|r| r.iter().sum::<f64>())
        .collect::<Vec<_>>());
    (total > 0.0).then(|| k as f64 / (k as f64 - 1.0) * (1.0 - item_var / total))
}

/// Per node: level, availability (share of units with a score), correlation with its parent
/// (between levels), and for aggregates the mean correlation among their children (within a
/// level) and their Cronbach's alpha.
pub fn nodes(tree: &Tree, scores: &[Column], top_name: &str) -> Vec<serde_json::Value> {
    let top = tree.len() - 1;
    let parent_of = |n: usize| -> Option<usize> {
        tree.children
            .iter()
            .position(|kids| kids.iter().any(|(k, _)| *k == n))
            .map(|a| a + tree.indicators)
    };
    (0..tree.len())
        .map(|n| {
            let col = &scores[n];
            let availability =
                col.iter().filter(|v| v.is_some()).count() as f64 / col.len().max(1) as f64;
            let alpha = (n >= tree.indicators).then(|| {
                let kids: Vec<&Column> = tree.children[n - tree.indicators]
                    .iter()
                    .map(|(k, _)| &scores[*k])
                    .collect();
                cronbach_alpha(&kids)
            });
            // Within the level: the mean correlation between the node's children.
            let within = (n >= tree.indicators).then(|| {
                let kids = &tree.children[n - tree.indicators];
                let mut r = Vec::new();
                for (a, (i, _)) in kids.iter().enumerate() {
                    for (j, _) in &kids[a + 1..] {
                        r.extend(correlation(&scores[*i], &scores[*j]));
                    }
                }
                (!r.is_empty()).then(|| r.iter().sum::<f64>() / r.len() as f64)
            });
            json!({
                "node": if n == top { top_name.to_string() } else { tree.codes[n].clone() },
                "mean_correlation_of_children": within.flatten(),
                "level": tree.levels[n],
                "availability": availability,
                "correlation_with_parent": parent_of(n).and_then(|p| correlation(col, &scores[p])),
                "cronbach_alpha": alpha.flatten(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cronbach_and_correlation_by_hand() {
        // Items (1, 2, 3) and (2, 4, 6): variances 1 and 4, sums (3, 6, 9) variance 9:
        // alpha = 2 · (1 − 5/9) = 8/9; the items correlate perfectly.
        let a: Column = vec![Some(1.0), Some(2.0), Some(3.0)];
        let b: Column = vec![Some(2.0), Some(4.0), Some(6.0)];
        assert!((cronbach_alpha(&[&a, &b]).unwrap() - 8.0 / 9.0).abs() < 1e-12);
        assert!((correlation(&a, &b).unwrap() - 1.0).abs() < 1e-12);
    }
}

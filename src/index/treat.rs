//! Data treatment before normalisation: denominators, imputation, and COINr's outlier
//! treatment. Columns are one indicator over the units; `None` is a missing value.

use crate::config::index::Outliers;

pub type Column = Vec<Option<f64>>;

/// Skewness as R `e1071::skewness(type = 2)` and Excel's SKEW define it, over the values
/// present; `None` below 3 values or without spread.
pub fn skew(x: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    if x.len() < 3 {
        return None;
    }
    let m = x.iter().sum::<f64>() / n;
    let (m2, m3) = x.iter().fold((0.0, 0.0), |(a, b), v| {
        let d = v - m;
        (a + d * d, b + d * d * d)
    });
    if m2 == 0.0 {
        return None;
    }
    let y = n.sqrt() * m3 / m2.powf(1.5);
    Some(y * (n * (n - 1.0)).sqrt() / (n - 2.0))
}

/// Excess kurtosis as `e1071::kurtosis(type = 2)` and Excel's KURT define it; `None` below 4
/// values or without spread.
pub fn kurtosis(x: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    if x.len() < 4 {
        return None;
    }
    let m = x.iter().sum::<f64>() / n;
    let (m2, m4) = x.iter().fold((0.0, 0.0), |(a, b), v| {
        let d = (v - m) * (v - m);
        (a + d, b + d * d)
    });
    if m2 == 0.0 {
        return None;
    }
    let r = n * m4 / (m2 * m2);
    Some(((n + 1.0) * (r - 3.0) + 6.0) * (n - 1.0) / ((n - 2.0) * (n - 3.0)))
}

fn present(x: &Column) -> Vec<f64> {
    x.iter().flatten().copied().collect()
}

/// COINr's check: a column fails when |skewness| > `skew` and kurtosis > `kurtosis`.
fn passes(x: &Column, o: &Outliers) -> bool {
    let v = present(x);
    match (skew(&v), kurtosis(&v)) {
        (Some(s), Some(k)) => !(s.abs() > o.skew && k > o.kurtosis),
        _ => true,
    }
}

/// How a column was treated.
#[derive(Debug, Clone, PartialEq)]
pub enum Treatment {
    None,
    /// Points winsorised (high or low).
    Winsorised(usize),
    /// Winsorisation was not enough: log(x − min + 0.01 (max − min)) of the original values.
    Log,
}

/// COINr's default treatment: while the column fails the check and fewer than `winmax`
/// points are winsorised, the extreme value on the side of the skew (with its ties) takes the
/// next value in; if the column still fails, the original values are log-transformed.
pub fn outliers(x: &Column, o: &Outliers) -> (Column, Treatment) {
    if passes(x, o) {
        return (x.clone(), Treatment::None);
    }
    let mut w = x.clone();
    let mut n = 0;
    loop {
        let v = present(&w);
        let high = skew(&v).unwrap_or(0.0) >= 0.0;
        let extreme = if high {
            v.iter().copied().fold(f64::MIN, f64::max)
        } else {
            v.iter().copied().fold(f64::MAX, f64::min)
        };
        let rest = v.iter().copied().filter(|y| *y != extreme);
        let next = if high {
            rest.fold(f64::MIN, f64::max)
        } else {
            rest.fold(f64::MAX, f64::min)
        };
        if !next.is_finite() || next == f64::MIN || next == f64::MAX {
            break;
        }
        // As COINr counts it: the points at the extreme now, ties and earlier ones included.
        n = 0;
        for y in w.iter_mut().flatten() {
            if *y == extreme {
                *y = next;
                n += 1;
            }
        }
        if passes(&w, o) || n >= o.winmax {
            break;
        }
    }
    if passes(&w, o) {
        return (w, Treatment::Winsorised(n));
    }
    let v = present(x);
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(*y), b.max(*y)));
    let shift = 0.01 * (hi - lo);
    let logged = x.iter().map(|y| y.map(|y| (y - lo + shift).ln())).collect();
    (logged, Treatment::Log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_and_kurtosis_as_excel() {
        // 1, 2, 3, 4, 10: mean 4, deviations −3, −2, −1, 0, 6; Σd² = 50, Σd³ = 180, Σd⁴ = 1394.
        // skew = √5 · 180 / 50^1.5 · √(5 · 4) / 3 = 1.2 √2 = 1.697056…;
        // r = 5 · 1394 / 50² = 2.788, kurtosis = (6 (r − 3) + 6) · 4 / (3 · 2) = 3.152.
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert!(
            (skew(&x).unwrap() - 1.2 * 2f64.sqrt()).abs() < 1e-12,
            "{:?}",
            skew(&x)
        );
        assert!(
            (kurtosis(&x).unwrap() - 3.152).abs() < 1e-12,
            "{:?}",
            kurtosis(&x)
        );
    }

    #[test]
    fn winsorises_the_outlier_into_the_next_value() {
        // 1..10 and one 100: skew 3.26 and kurtosis 10.7 fail; winsorising 100 to 10 passes
        // (skew −0.13).
        let mut x: Column = (1..=10).map(|v| Some(v as f64)).collect();
        x.push(Some(100.0));
        x.push(None);
        let o = Outliers {
            winmax: 5,
            skew: 2.0,
            kurtosis: 3.5,
        };
        let (t, how) = outliers(&x, &o);
        assert_eq!(how, Treatment::Winsorised(1));
        assert_eq!(t[10], Some(10.0));
        assert_eq!(t[11], None);
        assert_eq!(&t[..10], &x[..10]);
    }
}

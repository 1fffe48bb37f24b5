//! The distributions and the bit of linear algebra the evaluation's inference needs: the normal
//! CDF and quantile, the chi-square tail, and solving a small symmetric system. Pure
//! functions, accurate to about 1e-14, with their own tests.

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularised lower incomplete gamma function P(a, x), by its series below a + 1 and its
/// continued fraction above (Numerical Recipes, 6.2).
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let front = (-x + a * x.ln() - ln_gamma(a)).exp();
    if x < a + 1.0 {
        let (mut sum, mut term, mut n) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        (sum * front).min(1.0)
    } else {
        1.0 - gamma_q_fraction(a, x) * front
    }
}

/// Q(a, x) / (e^-x x^a / Γ(a)) by Lentz's continued fraction.
fn gamma_q_fraction(a: f64, x: f64) -> f64 {
    let tiny = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / tiny;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..10_000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < tiny {
            d = tiny;
        }
        c = b + an / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// P(X > x) for a chi-square variable with `df` degrees of freedom.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let a = df / 2.0;
    let h = x / 2.0;
    if h < a + 1.0 {
        1.0 - gamma_p(a, h)
    } else {
        gamma_q_fraction(a, h) * (-h + a * h.ln() - ln_gamma(a)).exp()
    }
}

/// The standard normal CDF, through erf(z) = P(1/2, z²) so that both tails keep their digits.
pub fn norm_cdf(x: f64) -> f64 {
    let tail = 0.5 * upper_half(x.abs());
    if x >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// erfc(|x| / √2): the two-sided normal tail beyond |x|.
fn upper_half(z: f64) -> f64 {
    let h = z * z / 2.0;
    if h < 1.5 {
        1.0 - gamma_p(0.5, h)
    } else {
        gamma_q_fraction(0.5, h) * (-h + 0.5 * h.ln() - ln_gamma(0.5)).exp()
    }
}

/// Two-sided p-value of a standard normal statistic.
pub fn two_sided_p(z: f64) -> f64 {
    upper_half(z.abs()).min(1.0)
}

/// The standard normal quantile: Acklam's rational approximation, polished by two Newton
/// steps on [`norm_cdf`].
pub fn norm_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let low = 0.02425;
    let mut x = if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    for _ in 0..2 {
        let density = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        if density > 0.0 {
            x -= (norm_cdf(x) - p) / density;
        }
    }
    x
}

/// Solves `a x = b` for a small dense system (row-major `a`, n × n) by Gaussian elimination
/// with partial pivoting; `None` when `a` is singular to working precision.
pub fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    let scale = a.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    if scale == 0.0 {
        return None;
    }
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() <= scale * 1e-12 {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(pivot * n + k, col * n + k);
            }
            b.swap(pivot, col);
        }
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            if f != 0.0 {
                for k in col..n {
                    a[row * n + k] -= f * a[col * n + k];
                }
                b[row] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let mut s = b[row];
        for k in row + 1..n {
            s -= a[row * n + k] * x[k];
        }
        x[row] = s / a[row * n + row];
    }
    Some(x)
}

/// The empirical quantile of R's `quantile(type = 1)`: the smallest value whose share of
/// values at or below it reaches `p`. `sorted` must be sorted ascending and not empty.
pub fn quantile_type1(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let k = ((n as f64 * p).ceil() as usize).clamp(1, n);
    sorted[k - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_values_from_tables() {
        // Φ(1.959963984540054) = 0.975; Φ(0) = 0.5; Φ(-3) = 0.0013498980316301 (tables).
        assert!((norm_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-14);
        assert_eq!(norm_cdf(0.0), 0.5);
        assert!((norm_cdf(-3.0) - 0.001_349_898_031_630_1).abs() < 1e-15);
        assert!((norm_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((norm_quantile(0.75) - 0.674_489_750_196_081_7).abs() < 1e-12);
        assert!((norm_quantile(1e-6) + 4.753_424_308_822_899).abs() < 1e-9);
        assert!((two_sided_p(1.959_963_984_540_054) - 0.05).abs() < 1e-14);
    }

    #[test]
    fn chi_square_tails_from_tables() {
        // Critical values: P(χ²₁ > 3.841458820694124) = 0.05, P(χ²₅ > 11.0704976935164) =
        // 0.05, P(χ²₉ > 21.66599433346194) = 0.01; P(χ²₂ > x) = e^(−x/2) exactly.
        assert!((chi2_sf(3.841_458_820_694_124, 1.0) - 0.05).abs() < 1e-13);
        assert!((chi2_sf(11.070_497_693_516_4, 5.0) - 0.05).abs() < 1e-13);
        assert!((chi2_sf(21.665_994_333_461_94, 9.0) - 0.01).abs() < 1e-13);
        for x in [0.1, 1.0, 5.0, 30.0] {
            assert!((chi2_sf(x, 2.0) - (-x / 2.0).exp()).abs() < 1e-14, "{x}");
        }
    }

    #[test]
    fn solves_and_refuses_singular_systems() {
        // 2x + y = 5, x + 3y = 10 → x = 1, y = 3.
        let x = solve(vec![2.0, 1.0, 1.0, 3.0], vec![5.0, 10.0]).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-15 && (x[1] - 3.0).abs() < 1e-15);
        assert!(solve(vec![1.0, 2.0, 2.0, 4.0], vec![1.0, 2.0]).is_none());
    }

    #[test]
    fn type_1_quantiles_are_order_statistics() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_type1(&x, 0.25), 1.0);
        assert_eq!(quantile_type1(&x, 0.26), 2.0);
        assert_eq!(quantile_type1(&x, 0.95), 4.0);
    }
}

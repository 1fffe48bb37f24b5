//! Weighted income statistics exactly as Eurostat defines them (EU-SILC 131-rev/04): weighted
//! quantiles without interpolation, the Gini coefficient, the S80/S20 ratio, poverty rates and
//! the relative median poverty gap. Pure functions over an income distribution, tested by hand.

use std::borrow::Cow;

/// An income distribution: incomes sorted ascending, with their weights. Persons of weight
/// zero (not drawn in a bootstrap replicate) may stay in: they add exactly nothing to any sum,
/// and the quantiles step over them, so a replicate re-weights one sorted slice instead of
/// copying the persons it drew.
#[derive(Debug, Clone)]
pub struct Distribution<'a> {
    x: Cow<'a, [f64]>,
    w: Cow<'a, [f64]>,
    /// Running sums of the weights, added in order from the first person: every quantile is
    /// a binary search in them, and every sum of the poorest persons' weights a look-up.
    cum: Cow<'a, [f64]>,
    total: f64,
}

fn running(w: &[f64]) -> Vec<f64> {
    let mut c = 0.0;
    w.iter()
        .map(|w| {
            c += w;
            c
        })
        .collect()
}

impl Distribution<'static> {
    /// Builds a distribution from (income, weight) pairs. Pairs with a non-finite income or a
    /// negative weight are the contracts' business and must not reach here.
    pub fn new(mut pairs: Vec<(f64, f64)>) -> Self {
        // Stable sort: ties keep input order, so results do not depend on the sort algorithm.
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (x, w): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        let total = w.iter().sum();
        Distribution {
            x: Cow::Owned(x),
            cum: Cow::Owned(running(&w)),
            w: Cow::Owned(w),
            total,
        }
    }
}

impl<'a> Distribution<'a> {
    /// A distribution over incomes already sorted ascending and their weights (of the same
    /// length; zero for a person left out).
    pub fn from_sorted(x: &'a [f64], w: &'a [f64]) -> Self {
        debug_assert!(x.windows(2).all(|p| p[0] <= p[1]));
        debug_assert_eq!(x.len(), w.len());
        Self::with_weights(x, Cow::Borrowed(w))
    }

    /// A distribution over sorted incomes and weights already owned (a replicate's).
    pub fn with_weights(x: &'a [f64], w: Cow<'a, [f64]>) -> Self {
        debug_assert_eq!(x.len(), w.len());
        let cum = running(&w);
        // `Iterator::sum` adds in order from the first too: the last running sum is the total.
        let total = cum.last().copied().unwrap_or_else(|| w.iter().sum());
        Distribution {
            x: Cow::Borrowed(x),
            w,
            cum: Cow::Owned(cum),
            total,
        }
    }

    /// The persons with a positive weight.
    pub fn len(&self) -> usize {
        self.w.iter().filter(|w| **w > 0.0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.total <= 0.0
    }

    pub fn total_weight(&self) -> f64 {
        self.total
    }

    /// The income of the first person of positive weight after position `j`.
    fn next_weighted(&self, j: usize) -> Option<f64> {
        (j + 1..self.x.len())
            .find(|&k| self.w[k] > 0.0)
            .map(|k| self.x[k])
    }

    /// Eurostat's weighted quantile: with cumulative weight shares r_j = W_j / W, take the first
    /// j with r_j ≥ p; if r_j = p exactly, the quantile is (x_j + x_{j+1}) / 2, otherwise x_j.
    /// The shares are compared as fractions of the total, as laeken's `weightedQuantile` does,
    /// so that exact ties (e.g. equal weights and an even count at the median) are found.
    pub fn quantile(&self, p: f64) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        let first = self.w.iter().position(|w| *w > 0.0)?;
        let last = self.w.iter().rposition(|w| *w > 0.0)?;
        if p <= 0.0 {
            return Some(self.x[first]);
        }
        if p >= 1.0 {
            return Some(self.x[last]);
        }
        // The first j whose share reaches p. Shares only grow, and a person of weight zero
        // shares the share of the one before, so that j always has a positive weight.
        let j = self.cum[..=last].partition_point(|c| c / self.total < p);
        if j > last {
            return Some(self.x[last]);
        }
        let share = self.cum[j] / self.total;
        Some(match self.next_weighted(j) {
            Some(next) if share == p => (self.x[j] + next) / 2.0,
            _ => self.x[j],
        })
    }

    /// The weight of the first `k` persons, summed as `Iterator::sum` would from the first.
    fn weight_of_first(&self, k: usize) -> f64 {
        match k {
            0 => self.w[..0].iter().sum(),
            k => self.cum[k - 1],
        }
    }

    pub fn median(&self) -> Option<f64> {
        self.quantile(0.5)
    }

    /// Total weight of persons with income strictly below `threshold`.
    pub fn weight_below(&self, threshold: f64) -> f64 {
        self.weight_of_first(self.x.partition_point(|x| *x < threshold))
    }

    /// Weighted share (0-100) of persons with income strictly below `threshold`.
    pub fn percent_below(&self, threshold: f64) -> f64 {
        100.0 * self.weight_below(threshold) / self.total
    }

    /// The sub-distribution of persons with income strictly below `threshold`.
    pub fn below(&self, threshold: f64) -> Distribution<'_> {
        let k = self.x.partition_point(|x| *x < threshold);
        Distribution {
            x: Cow::Borrowed(&self.x[..k]),
            w: Cow::Borrowed(&self.w[..k]),
            cum: Cow::Borrowed(&self.cum[..k]),
            total: self.w[..k].iter().sum(),
        }
    }

    /// Gini coefficient in percent:
    /// 100 × [(2 Σ w_i x_i W_i − Σ w_i² x_i) / (W Σ w_i x_i) − 1].
    pub fn gini(&self) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        let (mut a, mut b, mut wx) = (0.0, 0.0, 0.0);
        for ((x, w), cum) in self.x.iter().zip(self.w.iter()).zip(self.cum.iter()) {
            a += w * x * cum;
            b += w * w * x;
            wx += w * x;
        }
        if wx == 0.0 {
            return None;
        }
        Some(100.0 * ((2.0 * a - b) / (self.total * wx) - 1.0))
    }

    /// S80/S20: weighted income of persons above the 80th percentile over that of persons at or
    /// below the 20th percentile. `None` when the bottom quintile's income is not positive,
    /// where the ratio has no meaning.
    pub fn qsr(&self) -> Option<f64> {
        let q20 = self.quantile(0.2)?;
        let q80 = self.quantile(0.8)?;
        // The incomes are sorted: the top is a suffix and the bottom a prefix, each summed in
        // order from 0.
        let income = |r: std::ops::Range<usize>| {
            let mut sum = 0.0;
            for (x, w) in self.x[r.clone()].iter().zip(&self.w[r]) {
                sum += w * x;
            }
            sum
        };
        let n = self.x.len();
        let top = income(self.x.partition_point(|x| *x <= q80)..n);
        let bottom = income(0..self.x.partition_point(|x| *x <= q20));
        (bottom > 0.0).then_some(top / bottom)
    }

    /// Relative median at-risk-of-poverty gap in percent, for a given threshold:
    /// 100 × (threshold − median income of the persons below it) / threshold.
    pub fn rmpg(&self, threshold: f64) -> Option<f64> {
        let poor = self.below(threshold);
        let m = poor.median()?;
        (threshold > 0.0).then(|| 100.0 * (threshold - m) / threshold)
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, well-tested generator. Each bootstrap
/// replicate gets its own, seeded from the pipeline's seed and the replicate's number, so the
/// draws do not depend on how threads are scheduled.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// A generator for stream `stream` of `seed` (e.g. one per replicate).
    pub fn stream(seed: u64, stream: u64) -> Self {
        let mut g = SplitMix64(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        g.next_u64();
        g
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in 0..n (multiply-shift; the bias is below 2^-32 for n < 2^32).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// The p-th percentile of `values` with linear interpolation between order statistics
/// (Hyndman & Fan type 7, numpy's default). `values` need not be sorted.
pub fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let h = (values.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    Some(values[lo] + (h - lo as f64) * (values[hi] - values[lo]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // Seeded with 0, the reference C implementation (Vigna, splitmix64.c) first gives
        // 0xE220A8397B1DCDAF, a value published in many test suites; the seed 1234567 values
        // come from a separate Python transcription of the same C code.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut g = SplitMix64::new(1234567);
        assert_eq!(g.next_u64(), 6457827717110365317);
        assert_eq!(g.next_u64(), 3203168211198807973);
        let mut g = SplitMix64::new(7);
        assert!((0..1000).all(|_| g.below(10) < 10));
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], 25) = 1.75; 97.5 -> 3.925.
        assert_eq!(percentile(&mut [4.0, 1.0, 3.0, 2.0], 0.25), Some(1.75));
        assert!((percentile(&mut [4.0, 1.0, 3.0, 2.0], 0.975).unwrap() - 3.925).abs() < 1e-12);
        assert_eq!(percentile(&mut [5.0], 0.5), Some(5.0));
        assert_eq!(percentile(&mut [], 0.5), None);
    }

    #[test]
    fn zero_weights_are_left_out() {
        // Weight 0 on 20: as if only 10 and 30 were there; median (10 + 30)/2 = 20 exactly
        // because share 0.5 is reached at 10.
        let d = Distribution::from_sorted(&[10.0, 20.0, 30.0], &[1.0, 0.0, 1.0]);
        assert_eq!(d.len(), 2);
        assert_eq!(d.median(), Some(20.0));
        // Zero weights at either end do not become the extremes.
        let d = Distribution::from_sorted(&[1.0, 10.0, 30.0, 99.0], &[0.0, 1.0, 1.0, 0.0]);
        assert_eq!(d.quantile(0.0), Some(10.0));
        assert_eq!(d.quantile(1.0), Some(30.0));
        assert_eq!(d.quantile(0.2), Some(10.0));
    }

    fn equal(xs: &[f64]) -> Distribution<'static> {
        Distribution::new(xs.iter().map(|&x| (x, 1.0)).collect())
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn median_of_an_even_count_averages_the_middle_pair() {
        // Shares 0.25, 0.5, 0.75, 1: r_2 = 0.5 exactly, so (20 + 30) / 2.
        close(equal(&[10.0, 20.0, 30.0, 40.0]).median().unwrap(), 25.0);
    }

    #[test]
    fn median_of_an_odd_count_is_the_middle_value() {
        // Shares 1/3, 2/3: first ≥ 0.5 is j = 2.
        close(equal(&[30.0, 10.0, 20.0]).median().unwrap(), 20.0);
    }

    #[test]
    fn weights_move_the_quantile_without_interpolation() {
        // Weights 1, 1, 2 on 10, 20, 30: shares 0.25, 0.5, 1.
        let d = Distribution::new(vec![(10.0, 1.0), (20.0, 1.0), (30.0, 2.0)]);
        close(d.median().unwrap(), 25.0); // r_2 = 0.5 exactly
        close(d.quantile(0.3).unwrap(), 20.0); // first share ≥ 0.3 is 0.5
        close(d.quantile(0.2).unwrap(), 10.0);
        // An interpolating quantile would give 22.5 for the weighted median of 10, 20, 30, 30
        // at p = 0.5 with type 7; the Eurostat rule gives 25.
        let d = Distribution::new(vec![(10.0, 3.0), (20.0, 1.0)]);
        close(d.median().unwrap(), 10.0); // share 0.75 ≥ 0.5 at j = 1
    }

    #[test]
    fn ties_at_the_quantile() {
        // 5, 5, 5, 9: shares 0.25, 0.5 (exact) -> (5 + 5) / 2 = 5.
        close(equal(&[5.0, 5.0, 9.0, 5.0]).median().unwrap(), 5.0);
        // Percent below a threshold equal to tied incomes counts none of them ("below").
        close(equal(&[5.0, 5.0, 9.0, 5.0]).percent_below(5.0), 0.0);
        close(equal(&[5.0, 5.0, 9.0, 5.0]).percent_below(5.000001), 75.0);
    }

    #[test]
    fn single_person() {
        let d = equal(&[1000.0]);
        close(d.median().unwrap(), 1000.0);
        close(d.percent_below(600.0), 0.0);
        close(d.gini().unwrap(), 0.0); // (2·1000·1 − 1000)/(1·1000) − 1 = 0
        assert_eq!(d.rmpg(600.0), None); // nobody below the line: no gap to measure
        assert!(Distribution::new(vec![]).median().is_none());
    }

    #[test]
    fn gini_by_hand() {
        // x = 1, 2, 3, 4 with unit weights: W_i = 1..4, Σ w x W = 1+4+9+16 = 30, Σ w² x = 10,
        // W = 4, Σ w x = 10: 100 × ((60 − 10)/(40) − 1) = 25.
        close(equal(&[4.0, 1.0, 3.0, 2.0]).gini().unwrap(), 25.0);
        // Everyone equal: 0. One person has it all (0, 0, 0, 8): Σ w x W = 32, Σ w² x = 8,
        // 100 × ((64 − 8)/32 − 1) = 75.
        close(equal(&[3.0, 3.0, 3.0]).gini().unwrap(), 0.0);
        close(equal(&[0.0, 0.0, 0.0, 8.0]).gini().unwrap(), 75.0);
        // A weight of 2 is two persons: (1, w=2), (3, w=1) ≡ 1, 1, 3 with unit weights.
        // Unit weights: Σ w x W = 1 + 2 + 9 = 12, Σ w² x = 5, W = 3, Σ w x = 5:
        // 100 × ((24 − 5)/15 − 1) = 26.666… Weighted: Σ w x W = 2·1·2 + 1·3·3 = 13,
        // Σ w² x = 4 + 3 = 7: 100 × ((26 − 7)/15 − 1) = 26.666…
        close(
            Distribution::new(vec![(1.0, 2.0), (3.0, 1.0)])
                .gini()
                .unwrap(),
            equal(&[1.0, 1.0, 3.0]).gini().unwrap(),
        );
        close(
            Distribution::new(vec![(1.0, 2.0), (3.0, 1.0)])
                .gini()
                .unwrap(),
            100.0 * (19.0 / 15.0 - 1.0),
        );
    }

    #[test]
    fn gini_with_negative_and_zero_incomes() {
        // Eurostat keeps negative incomes in the distribution. x = −2, 0, 2, 6 (unit weights):
        // Σ x W = −2·1 + 0 + 2·3 + 6·4 = 28, Σ x = 6, W = 4: 100 × ((56 − 6)/24 − 1) = 108.33…
        close(
            equal(&[-2.0, 0.0, 2.0, 6.0]).gini().unwrap(),
            100.0 * (50.0 / 24.0 - 1.0),
        );
        assert!(equal(&[0.0, 0.0]).gini().is_none());
    }

    #[test]
    fn poverty_rate_and_gap_by_hand() {
        // Ten persons with incomes 100..1000 step 100, unit weights. Median: share 0.5 at
        // x_5 = 500 exactly, so (500 + 600)/2 = 550; threshold 0.6 × 550 = 330.
        let d = equal(&(1..=10).map(|i| 100.0 * i as f64).collect::<Vec<_>>());
        let t = 0.6 * d.median().unwrap();
        close(t, 330.0);
        // Below 330: 100, 200, 300 -> 30 %.
        close(d.percent_below(t), 30.0);
        // Median of the poor (100, 200, 300) is 200: gap 100 × (330 − 200)/330.
        close(d.rmpg(t).unwrap(), 100.0 * 130.0 / 330.0);
    }

    #[test]
    fn quintile_share_ratio_by_hand() {
        // Incomes 1..10, unit weights. q20: share 0.2 exactly at x_2 -> (2 + 3)/2 = 2.5;
        // q80: share 0.8 exactly at x_8 -> (8 + 9)/2 = 8.5. Top: 9 + 10 = 19; bottom (≤ 2.5):
        // 1 + 2 = 3. S80/S20 = 19/3.
        let d = equal(&(1..=10).map(|i| i as f64).collect::<Vec<_>>());
        close(d.qsr().unwrap(), 19.0 / 3.0);
        // A bottom quintile with no income has no ratio.
        assert!(equal(&[0.0, 0.0, 0.0, 5.0, 10.0]).qsr().is_none());
    }
}

//! Social Return on Investment, as the SROI Network's guide (2012) computes it: each outcome's
//! yearly value is quantity × financial proxy, less deadweight, displacement and attribution;
//! after the first year it falls by the drop-off rate; each year is discounted, and the present
//! value of all outcomes is set against the value of the inputs.
//!
//! Pure functions, tested by hand.

/// One outcome of a project, as the `outcomes` source gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub quantity: f64,
    /// Value of one unit, in the reporting currency.
    pub proxy: f64,
    pub deadweight: f64,
    pub displacement: f64,
    pub attribution: f64,
    pub drop_off: f64,
    /// Years the outcome lasts (1 = the first year only).
    pub years: u32,
}

/// Adjustments that replace each outcome's own, for a sensitivity grid.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Override {
    pub deadweight: Option<f64>,
    pub attribution: Option<f64>,
    pub drop_off: Option<f64>,
}

impl Outcome {
    /// Present value at discount rate `r`: Σ_{t=1..T} value_t / (1 + r)^t, with
    /// value_1 = q × proxy × (1 − deadweight)(1 − displacement)(1 − attribution) and
    /// value_t = value_{t−1} × (1 − drop_off).
    pub fn present_value(&self, r: f64, o: Override) -> f64 {
        let deadweight = o.deadweight.unwrap_or(self.deadweight);
        let attribution = o.attribution.unwrap_or(self.attribution);
        let drop_off = o.drop_off.unwrap_or(self.drop_off);
        let mut value = self.quantity
            * self.proxy
            * (1.0 - deadweight)
            * (1.0 - self.displacement)
            * (1.0 - attribution);
        let mut pv = 0.0;
        for t in 1..=self.years.max(1) {
            if t > 1 {
                value *= 1.0 - drop_off;
            }
            pv += value / (1.0 + r).powi(t as i32);
        }
        pv
    }
}

/// A project's SROI: present value, net present value, and the ratio to its inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sroi {
    pub inputs: f64,
    pub present_value: f64,
    pub net_present_value: f64,
    /// `None` where the inputs are zero (no ratio).
    pub ratio: Option<f64>,
}

pub fn sroi(outcomes: &[Outcome], inputs: f64, r: f64, o: Override) -> Sroi {
    let present_value: f64 = outcomes.iter().map(|x| x.present_value(r, o)).sum();
    Sroi {
        inputs,
        present_value,
        net_present_value: present_value - inputs,
        ratio: super::divide(present_value, inputs),
    }
}

/// Ranges for the sensitivity grid; a missing range keeps each outcome's own value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ranges {
    pub deadweight: Option<(f64, f64)>,
    pub attribution: Option<(f64, f64)>,
    pub drop_off: Option<(f64, f64)>,
}

impl Ranges {
    pub fn is_empty(&self) -> bool {
        self.deadweight.is_none() && self.attribution.is_none() && self.drop_off.is_none()
    }
}

/// Points of a range for the grid: five evenly spaced values, ends included.
fn steps(range: Option<(f64, f64)>) -> Vec<Option<f64>> {
    match range {
        None => vec![None],
        Some((lo, hi)) => (0..5)
            .map(|i| Some(lo + (hi - lo) * i as f64 / 4.0))
            .collect(),
    }
}

/// The lowest and highest SROI over the grid of the given ranges.
pub fn sroi_range(outcomes: &[Outcome], inputs: f64, r: f64, ranges: Ranges) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for deadweight in steps(ranges.deadweight) {
        for attribution in steps(ranges.attribution) {
            for drop_off in steps(ranges.drop_off) {
                let o = Override {
                    deadweight,
                    attribution,
                    drop_off,
                };
                let s = sroi(outcomes, inputs, r, o).ratio?;
                lo = lo.min(s);
                hi = hi.max(s);
            }
        }
    }
    lo.is_finite().then_some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(
        q: f64,
        proxy: f64,
        dw: f64,
        disp: f64,
        attr: f64,
        drop: f64,
        years: u32,
    ) -> Outcome {
        Outcome {
            quantity: q,
            proxy,
            deadweight: dw,
            displacement: disp,
            attribution: attr,
            drop_off: drop,
            years,
        }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn one_year_without_adjustments_is_discounted_once() {
        // 10 × 1 000 = 10 000, discounted one year at 3.5 %: 10 000 / 1.035.
        let o = outcome(10.0, 1000.0, 0.0, 0.0, 0.0, 0.0, 1);
        close(
            o.present_value(0.035, Override::default()),
            10_000.0 / 1.035,
        );
    }

    #[test]
    fn drop_off_and_discounting_over_three_years() {
        // 100 people into work, proxy 2 000 EUR; deadweight 20 %, displacement 10 %,
        // attribution 25 %: year 1 = 100 × 2 000 × 0.8 × 0.9 × 0.75 = 108 000.
        // Drop-off 30 %: year 2 = 75 600, year 3 = 52 920.
        // At 3.5 %: 108 000/1.035 + 75 600/1.035² + 52 920/1.035³
        //         = 104 347.826… + 70 573.409… + 47 730.808… = 222 652.04…
        let o = outcome(100.0, 2000.0, 0.2, 0.1, 0.25, 0.3, 3);
        let expected =
            108_000.0 / 1.035 + 75_600.0 / 1.035_f64.powi(2) + 52_920.0 / 1.035_f64.powi(3);
        close(o.present_value(0.035, Override::default()), expected);
        assert!((expected - 222_652.04).abs() < 0.01, "{expected}");
        // Inputs 50 000: SROI = 4.453…, NPV = 172 652.04…
        let s = sroi(&[o], 50_000.0, 0.035, Override::default());
        close(s.ratio.unwrap(), expected / 50_000.0);
        close(s.net_present_value, expected - 50_000.0);
    }

    #[test]
    fn several_outcomes_add_up() {
        let a = outcome(1.0, 100.0, 0.0, 0.0, 0.0, 0.0, 1);
        let b = outcome(2.0, 100.0, 0.5, 0.0, 0.0, 0.0, 2);
        // a: 100/1.1; b: 100/1.1 + 100/1.21 (no drop-off).
        let s = sroi(&[a, b], 100.0, 0.1, Override::default());
        close(s.present_value, 100.0 / 1.1 + 100.0 / 1.1 + 100.0 / 1.21);
    }

    #[test]
    fn zero_inputs_give_no_ratio() {
        let s = sroi(
            &[outcome(1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1)],
            0.0,
            0.035,
            Override::default(),
        );
        assert_eq!(s.ratio, None);
        assert!(sroi_range(
            &[outcome(1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1)],
            0.0,
            0.035,
            Ranges::default()
        )
        .is_none());
    }

    #[test]
    fn the_range_spans_the_grid() {
        // One outcome, one year, r = 0: SROI = 1 000 × (1 − dw)(1 − attr) / 100.
        // dw in [0.1, 0.3], attribution in [0, 0.5]: max at (0.1, 0) = 9, min at (0.3, 0.5) = 3.5.
        let o = outcome(1.0, 1000.0, 0.2, 0.0, 0.2, 0.0, 1);
        let ranges = Ranges {
            deadweight: Some((0.1, 0.3)),
            attribution: Some((0.0, 0.5)),
            drop_off: None,
        };
        let (lo, hi) = sroi_range(&[o], 100.0, 0.0, ranges).unwrap();
        close(lo, 3.5);
        close(hi, 9.0);
    }
}

//! What a family hands back: indicator values, and notes on the values it could not compute.

/// One indicator value; the fields are the contract's columns less `family` and `unit`, which
/// come from the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub indicator: String,
    pub area: String,
    pub level: String,
    pub period: Option<i32>,
    pub breakdown: Option<String>,
    pub value: f64,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub n: Option<i64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub flag: Option<String>,
}

impl Value {
    pub fn new(indicator: &str, area: &str, level: &str, period: Option<i32>, value: f64) -> Self {
        Value {
            indicator: indicator.to_string(),
            area: area.to_string(),
            level: level.to_string(),
            period,
            breakdown: None,
            value,
            numerator: None,
            denominator: None,
            n: None,
            ci_low: None,
            ci_high: None,
            flag: None,
        }
    }

    pub fn ratio(mut self, numerator: f64, denominator: f64) -> Self {
        self.numerator = Some(numerator);
        self.denominator = Some(denominator);
        self
    }

    pub fn n(mut self, n: usize) -> Self {
        self.n = Some(n as i64);
        self
    }

    pub fn breakdown(mut self, breakdown: Option<String>) -> Self {
        self.breakdown = breakdown;
        self
    }

    pub fn flag(mut self, flag: Option<String>) -> Self {
        self.flag = flag;
        self
    }
}

/// A value that was not computed, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub indicator: String,
    pub area: String,
    pub period: Option<i32>,
    pub reason: String,
    /// A note for many projects at once: how many there are (`area` then names the first few
    /// and `period` is empty). A city with a million grants gets one note per reason, not a
    /// million; `projects.parquet` has every project's row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projects: Option<usize>,
}

/// What a family hands back.
#[derive(Debug, Default)]
pub struct Output {
    pub values: Vec<Value>,
    pub skipped: Vec<Skipped>,
}

impl Output {
    /// Adds `value` when it is finite; otherwise records why it is missing.
    pub fn push_checked(
        &mut self,
        v: Option<Value>,
        id: &str,
        area: &str,
        period: Option<i32>,
        why: &str,
    ) {
        match v {
            Some(v) if v.value.is_finite() => self.values.push(v),
            _ => self.skipped.push(Skipped {
                indicator: id.to_string(),
                area: area.to_string(),
                period,
                reason: why.to_string(),
                projects: None,
            }),
        }
    }
}

/// `numerator / denominator`, or `None` where that is not a number (zero, missing).
pub fn divide(numerator: f64, denominator: f64) -> Option<f64> {
    let q = numerator / denominator;
    (denominator != 0.0 && q.is_finite()).then_some(q)
}

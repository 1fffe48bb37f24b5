//! `[currency]`: the reporting currency, exchange rates (fixed or per year) and the deflator
//! that brings every amount to one base year's prices.

use std::collections::BTreeMap;

use toml::Spanned;

use super::{raw, ConfigError, Ctx};

/// The reporting currency and conversion rates.
#[derive(Debug, Clone)]
pub struct Currency {
    pub report: String,
    /// Units of `report` per unit of each other currency.
    pub rates: BTreeMap<String, Rate>,
    /// Prices of one base year for every amount, where the pipeline gives a price index.
    pub deflator: Option<Deflator>,
}

/// A price index per year: an amount of year y is multiplied by index(base) / index(y).
#[derive(Debug, Clone, PartialEq)]
pub struct Deflator {
    pub base_year: i32,
    pub index: BTreeMap<i32, f64>,
    pub source: Option<String>,
}

impl Deflator {
    fn factor(&self, year: i32) -> Option<f64> {
        Some(self.index.get(&self.base_year)? / self.index.get(&year)?)
    }
}

/// An exchange rate: one for every year, or one per year (`GBP = { 2018 = 1.13 }`).
#[derive(Debug, Clone, PartialEq)]
pub enum Rate {
    Fixed(f64),
    ByYear(BTreeMap<i32, f64>),
}

impl Currency {
    /// The factor that converts an amount in `code` of `year` to the reporting currency: the
    /// year's own rate where rates are given per year.
    pub fn factor(&self, code: &str, year: Option<i32>) -> Option<f64> {
        let rate = match code.eq_ignore_ascii_case(&self.report) {
            true => 1.0,
            false => match self.rates.get(&code.to_ascii_uppercase())? {
                Rate::Fixed(r) => *r,
                Rate::ByYear(by) => *by.get(&year?)?,
            },
        };
        match &self.deflator {
            Some(d) => Some(rate * d.factor(year?)?),
            None => Some(rate),
        }
    }

    /// Whether every amount must go through [`Currency::factor`], even one in the reporting
    /// currency: with a deflator it changes too.
    pub fn deflates(&self) -> bool {
        self.deflator.is_some()
    }

    /// The currency a survey's incomes go through [`Currency::factor`] from: its own, or, with
    /// a deflator, the reporting one; `None` when they stay as they are.
    pub fn of_survey<'a>(&'a self, survey: Option<&'a str>) -> Option<&'a str> {
        match (survey, self.deflates()) {
            (Some(c), _) => Some(c),
            (None, true) => Some(self.report.as_str()),
            (None, false) => None,
        }
    }

    /// The reporting currency as units name it: `EUR`, or `EUR (2020 prices)`.
    pub fn unit(&self) -> String {
        match &self.deflator {
            Some(d) => format!("{} ({} prices)", self.report, d.base_year),
            None => self.report.clone(),
        }
    }

    /// Whether there is any rate for `code`.
    pub fn knows(&self, code: &str) -> bool {
        code.eq_ignore_ascii_case(&self.report)
            || self.rates.contains_key(&code.to_ascii_uppercase())
    }
}

/// `[currency]` as the file writes it, checked; EUR without rates where it is absent.
pub(super) fn resolve_currency(
    ctx: &Ctx,
    currency: Option<raw::RawCurrency>,
) -> Result<Currency, ConfigError> {
    Ok(match currency {
        Some(c) => {
            let report = c
                .report
                .unwrap_or_else(|| "EUR".into())
                .to_ascii_uppercase();
            let mut rates = BTreeMap::new();
            for (code, rate) in c.rates {
                rates.insert(code.to_ascii_uppercase(), resolve_rate(ctx, &code, &rate)?);
            }
            let deflator = match &c.deflator {
                Some(d) => Some(resolve_deflator(ctx, d)?),
                None => None,
            };
            Currency {
                report,
                rates,
                deflator,
            }
        }
        None => Currency {
            report: "EUR".into(),
            rates: BTreeMap::new(),
            deflator: None,
        },
    })
}

/// `[currency] deflator = { base_year = 2020, index = { 2019 = 98.1, 2020 = 100.0 } }`.
fn resolve_deflator(ctx: &Ctx, d: &Spanned<raw::RawDeflator>) -> Result<Deflator, ConfigError> {
    let r = d.get_ref();
    let wrong = |message: String| {
        ctx.error(
            d,
            message,
            Some("write deflator = { base_year = 2020, index = { 2019 = 98.1, 2020 = 100.0, 2021 = 102.6 } }".into()),
        )
    };
    let mut index = BTreeMap::new();
    for (year, v) in &r.index {
        let y: i32 = year
            .parse()
            .ok()
            .filter(|y| (1900..=2100).contains(y))
            .ok_or_else(|| wrong(format!("`{year}` in the deflator's index is not a year")))?;
        if !(v.is_finite() && *v > 0.0) {
            return Err(wrong(format!(
                "the deflator's index for {y} must be a positive number"
            )));
        }
        index.insert(y, *v);
    }
    if !index.contains_key(&r.base_year) {
        return Err(wrong(format!(
            "the deflator's index has no value for its base year {}",
            r.base_year
        )));
    }
    Ok(Deflator {
        base_year: r.base_year,
        index,
        source: r.source.clone(),
    })
}

/// A rate as the file writes it: a positive number, or a table of years to positive numbers.
fn resolve_rate(ctx: &Ctx, code: &str, rate: &Spanned<toml::Value>) -> Result<Rate, ConfigError> {
    let positive = |v: &toml::Value| {
        let x = v.as_float().or_else(|| v.as_integer().map(|i| i as f64))?;
        (x.is_finite() && x > 0.0).then_some(x)
    };
    let wrong = || {
        ctx.error(
            rate,
            format!("the rate for {code} must be a positive number, or one per year"),
            Some(format!(
                "write {code} = 1.13, or {code} = {{ 2018 = 1.13, 2019 = 1.14 }}"
            )),
        )
    };
    match rate.get_ref() {
        toml::Value::Table(years) => {
            let mut by = BTreeMap::new();
            for (year, v) in years {
                let y: i32 = year
                    .parse()
                    .ok()
                    .filter(|y| (1900..=2100).contains(y))
                    .ok_or_else(wrong)?;
                by.insert(y, positive(v).ok_or_else(wrong)?);
            }
            if by.is_empty() {
                return Err(wrong());
            }
            Ok(Rate::ByYear(by))
        }
        v => positive(v).map(Rate::Fixed).ok_or_else(wrong),
    }
}

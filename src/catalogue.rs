//! The indicator catalogue: every indicator cityimpact can compute, with its unit, direction,
//! definition and source. This is data, not code paths: `cityimpact indicators` lists it,
//! `datapackage.json` and the `indicators` table's metadata carry it, and each family looks up
//! its units here so a unit is written in one place only.
//!
//! The definitions follow `shared/design/indicators.md`, which cites the official sources.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The three indicator families the catalogue computes, and `custom`: a pipeline's own
/// indicators (`[indicators.custom.ID]`) that join none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Exclusion,
    Spending,
    Climate,
    Custom,
}

impl Family {
    /// The families the catalogue computes.
    pub const ALL: [Family; 3] = [Family::Exclusion, Family::Spending, Family::Climate];
    /// Every family a value may carry, in the order a report shows them.
    pub const SHOWN: [Family; 4] = [
        Family::Exclusion,
        Family::Spending,
        Family::Climate,
        Family::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Exclusion => "exclusion",
            Family::Spending => "spending",
            Family::Climate => "climate",
            Family::Custom => "custom",
        }
    }

    pub fn parse(s: &str) -> Option<Family> {
        Family::SHOWN.into_iter().find(|f| f.as_str() == s)
    }
}

/// Whether a higher value is better, worse, or neither (a level, not a judgement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    HigherBetter,
    LowerBetter,
    Neutral,
}

impl Direction {
    /// As a pipeline file writes it (`higher_better`, `lower_better`, `neutral`), which config
    /// has checked.
    pub fn from_config(s: &str) -> Direction {
        match s {
            "higher_better" => Direction::HigherBetter,
            "lower_better" => Direction::LowerBetter,
            _ => Direction::Neutral,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::HigherBetter => "higher is better",
            Direction::LowerBetter => "lower is better",
            Direction::Neutral => "neither (a level)",
        }
    }
}

/// One catalogue entry.
#[derive(Debug, Clone, Serialize)]
pub struct Indicator {
    pub id: &'static str,
    pub family: Family,
    pub name: &'static str,
    pub unit: &'static str,
    pub direction: Direction,
    pub definition: &'static str,
    pub source: &'static str,
}

const SILC: &str =
    "Eurostat, Common cross-sectional EU indicators based on EU-SILC (EU-SILC 131-rev/04)";
const AROPE: &str =
    "Eurostat, Glossary: At risk of poverty or social exclusion (AROPE), 2021 definition";
const ILO: &str = "ILO, Resolution concerning statistics of work, employment and labour underutilization (19th ICLS, 2013)";
const GPC: &str = "WRI, C40, ICLEI, Global Protocol for Community-Scale Greenhouse Gas Emission Inventories (GPC), 2014";
const ISO37120: &str = "ISO 37120:2018, Sustainable cities and communities: Indicators for city services and quality of life";
const SROI: &str = "The SROI Network, A guide to Social Return on Investment, 2012";
const CITYIMPACT: &str = "cityimpact definition (docs/indicators.md, shipped with cityimpact)";

use Direction::*;
use Family::*;

/// The whole catalogue, in the order `cityimpact indicators` lists it.
const BASE: &[Indicator] = &[
    Indicator { id: "arpt", family: Exclusion, name: "At-risk-of-poverty threshold", unit: "EUR", direction: Neutral,
        definition: "60 % of the weighted median equivalised disposable income (Eurostat weighted quantile), computed once per period on the whole population of the source.", source: SILC },
    Indicator { id: "arpr", family: Exclusion, name: "At-risk-of-poverty rate", unit: "%", direction: LowerBetter,
        definition: "Weighted share of persons whose equivalised disposable income is below the at-risk-of-poverty threshold (60 % of the national median); breakdowns use the national threshold.", source: SILC },
    Indicator { id: "arpr40", family: Exclusion, name: "At-risk-of-poverty rate, 40 % of median", unit: "%", direction: LowerBetter,
        definition: "Weighted share of persons with equivalised disposable income below 40 % of the national weighted median.", source: SILC },
    Indicator { id: "arpr50", family: Exclusion, name: "At-risk-of-poverty rate, 50 % of median", unit: "%", direction: LowerBetter,
        definition: "Weighted share of persons with equivalised disposable income below 50 % of the national weighted median.", source: SILC },
    Indicator { id: "arpr70", family: Exclusion, name: "At-risk-of-poverty rate, 70 % of median", unit: "%", direction: LowerBetter,
        definition: "Weighted share of persons with equivalised disposable income below 70 % of the national weighted median.", source: SILC },
    Indicator { id: "qsr", family: Exclusion, name: "Income quintile share ratio S80/S20", unit: "ratio", direction: LowerBetter,
        definition: "Weighted total equivalised income of persons above the 80th percentile divided by that of persons at or below the 20th percentile (Eurostat weighted quantiles).", source: SILC },
    Indicator { id: "gini", family: Exclusion, name: "Gini coefficient of equivalised disposable income", unit: "%", direction: LowerBetter,
        definition: "100 × [(2 Σ w_i x_i W_i − Σ w_i² x_i) / (W Σ w_i x_i) − 1], incomes x sorted ascending, weights w, cumulative weights W_i, total W.", source: SILC },
    Indicator { id: "rmpg", family: Exclusion, name: "Relative median at-risk-of-poverty gap", unit: "%", direction: LowerBetter,
        definition: "100 × (threshold − weighted median income of persons below the threshold) / threshold, with the national threshold.", source: SILC },
    Indicator { id: "smsd", family: Exclusion, name: "Severe material and social deprivation rate", unit: "%", direction: LowerBetter,
        definition: "Weighted share of persons lacking at least 7 of the 13 material and social deprivation items.", source: AROPE },
    Indicator { id: "lwi", family: Exclusion, name: "Persons in households with very low work intensity", unit: "%", direction: LowerBetter,
        definition: "Weighted share of persons aged 0-64 living in households whose working-age members worked 20 % or less of their potential (work intensity of 0.20 or less; 2021 definition).", source: AROPE },
    Indicator { id: "arope", family: Exclusion, name: "At risk of poverty or social exclusion", unit: "%", direction: LowerBetter,
        definition: "Weighted share of persons at risk of poverty, or severely materially and socially deprived, or in a very-low-work-intensity household; each person counted once.", source: AROPE },
    Indicator { id: "unemployment_rate", family: Exclusion, name: "Unemployment rate", unit: "%", direction: LowerBetter,
        definition: "Unemployed persons aged 15-74 / labour force (employed + unemployed) aged 15-74; passed through when the source publishes the rate.", source: ILO },
    Indicator { id: "youth_unemployment_rate", family: Exclusion, name: "Youth unemployment rate", unit: "%", direction: LowerBetter,
        definition: "Unemployed persons aged 15-24 / labour force aged 15-24.", source: ILO },
    Indicator { id: "long_term_unemployment_rate", family: Exclusion, name: "Long-term unemployment rate", unit: "%", direction: LowerBetter,
        definition: "Persons unemployed for 12 months or more / labour force.", source: ILO },
    Indicator { id: "neet_rate", family: Exclusion, name: "Young people neither in employment nor in education or training", unit: "%", direction: LowerBetter,
        definition: "Persons aged 15-29 neither employed nor in education or training / population aged 15-29.", source: ILO },
    Indicator { id: "spend_total", family: Spending, name: "Total project spending", unit: "EUR", direction: Neutral,
        definition: "Sum of project amounts (all funding sources, in the reporting currency) per area and period; {booking}.", source: CITYIMPACT },
    Indicator { id: "spend_per_capita", family: Spending, name: "Project spending per inhabitant", unit: "EUR per person", direction: Neutral,
        definition: "spend_total / population of the area (from the `areas` source).", source: CITYIMPACT },
    Indicator { id: "cost_per_beneficiary", family: Spending, name: "Cost per beneficiary", unit: "EUR per person", direction: LowerBetter,
        definition: "Project amount / beneficiaries; per area, total amount / total beneficiaries of the projects that report beneficiaries.", source: SROI },
    Indicator { id: "financing_share_public", family: Spending, name: "Financing share: public budget", unit: "%", direction: Neutral,
        definition: "Share of the project amount financed from the public budget.", source: CITYIMPACT },
    Indicator { id: "financing_share_eu_fund", family: Spending, name: "Financing share: EU funds", unit: "%", direction: Neutral,
        definition: "Share of the project amount financed from EU funds.", source: CITYIMPACT },
    Indicator { id: "financing_share_crowdfunding", family: Spending, name: "Financing share: crowdfunding", unit: "%", direction: Neutral,
        definition: "Share of the project amount raised by crowdfunding.", source: CITYIMPACT },
    Indicator { id: "financing_share_impact_investment", family: Spending, name: "Financing share: impact investment", unit: "%", direction: Neutral,
        definition: "Share of the project amount from impact investment.", source: CITYIMPACT },
    Indicator { id: "financing_share_philanthropy", family: Spending, name: "Financing share: philanthropy", unit: "%", direction: Neutral,
        definition: "Share of the project amount from philanthropy (foundations, donations).", source: CITYIMPACT },
    Indicator { id: "financing_share_private", family: Spending, name: "Financing share: private", unit: "%", direction: Neutral,
        definition: "Share of the project amount from other private money.", source: CITYIMPACT },
    Indicator { id: "leverage_ratio", family: Spending, name: "Leverage of public money", unit: "ratio", direction: HigherBetter,
        definition: "Non-public money (crowdfunding + impact_investment + philanthropy + private) per unit of public money (public + eu_fund).", source: CITYIMPACT },
    Indicator { id: "procurement_total", family: Spending, name: "Total procurement", unit: "EUR", direction: Neutral,
        definition: "Sum of procurement amounts awarded (in the reporting currency) per buyer's area and period, an award's period being the year of its date; the city's purchasing power.", source: CITYIMPACT },
    Indicator { id: "social_procurement_share", family: Spending, name: "Social procurement share", unit: "%", direction: HigherBetter,
        definition: "Procurement amount awarded to social enterprises / all procurement amount of the buyer.", source: CITYIMPACT },
    Indicator { id: "sroi", family: Spending, name: "Social return on investment", unit: "ratio", direction: HigherBetter,
        definition: "Present value of outcomes (quantity × proxy × (1 − deadweight)(1 − displacement)(1 − attribution), with drop-off after the first year, discounted at {discount}) / value of inputs.", source: SROI },
    Indicator { id: "ghg_total", family: Climate, name: "Greenhouse gas emissions (GPC BASIC)", unit: "tCO2e", direction: LowerBetter,
        definition: "Emissions per area and period at GPC BASIC level: scopes 1 and 2 of stationary energy and transportation, scopes 1 and 3 of waste; sub-sector rows are summed. Where rows lack the sector or scope that would place them, the value adds them in full and carries the flag `estimated` (an upper bound of BASIC).", source: GPC },
    Indicator { id: "ghg_total_basic_plus", family: Climate, name: "Greenhouse gas emissions (GPC BASIC+)", unit: "tCO2e", direction: LowerBetter,
        definition: "BASIC plus IPPU and AFOLU (scope 1) and scope 3 of stationary energy and transportation.", source: GPC },
    Indicator { id: "ghg_per_capita", family: Climate, name: "Greenhouse gas emissions per inhabitant", unit: "tCO2e per person", direction: LowerBetter,
        definition: "ghg_total (BASIC) / population of the area.", source: GPC },
    Indicator { id: "ghg_change_vs_base", family: Climate, name: "Change in emissions since the base year", unit: "%", direction: LowerBetter,
        definition: "100 × (E_t − E_base) / E_base, with E the BASIC total and the base year the first year of the source (or `base_year` in the pipeline).", source: GPC },
    Indicator { id: "co2e_avoided", family: Climate, name: "Emissions avoided by projects", unit: "tCO2e", direction: HigherBetter,
        definition: "Sum of tonnes of CO2e avoided by projects per area and period.", source: GPC },
    Indicator { id: "cost_per_tco2e_avoided", family: Climate, name: "Cost per tonne of CO2e avoided", unit: "EUR per tCO2e", direction: LowerBetter,
        definition: "Project amount / tCO2e avoided, over the projects that report avoided emissions.", source: CITYIMPACT },
    Indicator { id: "green_area_per_100k", family: Climate, name: "Green area per 100 000 inhabitants", unit: "ha per 100 000 persons", direction: HigherBetter,
        definition: "Green area in hectares per 100 000 population (ISO 37120 indicator 8.7 / 19.1).", source: ISO37120 },
];

/// The suffix of a derived year-on-year change indicator (`arpr_change`).
pub const CHANGE: &str = "_change";

/// The whole catalogue: the base indicators, then the year-on-year change of every exclusion
/// indicator (`<id>_change`), in percentage points for rates and in the base unit otherwise.
pub fn all() -> &'static [Indicator] {
    static ALL: OnceLock<Vec<Indicator>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all = BASE.to_vec();
        for base in BASE.iter().filter(|i| i.family == Family::Exclusion) {
            // Built once per process; leaking gives the entries the same 'static life as BASE.
            let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
            all.push(Indicator {
                id: leak(format!("{}{CHANGE}", base.id)),
                family: Family::Exclusion,
                name: leak(format!("{}: change on the previous year", base.name)),
                unit: if base.unit == "%" { "percentage points" } else { base.unit },
                direction: base.direction,
                definition: leak(format!(
                    "Value of `{}` in a year minus its value in the year before, for the same area and breakdown; only where both years have a value.",
                    base.id
                )),
                source: base.source,
            });
        }
        all
    })
}

/// What a pipeline decides about its indicators' texts: the reporting currency of every
/// money unit, the SROI discount rate, and how project amounts are booked over the years.
#[derive(Debug, Clone)]
pub struct Settings {
    pub currency: String,
    pub discount_rate: f64,
    /// How each projects source books its amounts, e.g. "a project's amount is booked in its
    /// start year".
    pub booking: String,
    /// Series the pipeline declares (`[evaluation.series]`), listed after the catalogue.
    pub extra: Vec<Entry>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            currency: "EUR".into(),
            discount_rate: 0.035,
            booking: "a project's amount is booked in its start year".into(),
            extra: Vec::new(),
        }
    }
}

/// A catalogue entry as one pipeline computes it: its money units in the pipeline's reporting
/// currency and its definition stating the pipeline's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub family: Family,
    pub name: String,
    pub unit: String,
    pub direction: Direction,
    pub definition: String,
    pub source: String,
    /// A custom indicator's query, as the pipeline file gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

/// The catalogue as a pipeline computes it, indexed by id.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

impl Resolved {
    pub fn new(settings: &Settings) -> Resolved {
        let percent = settings.discount_rate * 100.0;
        let discount = format!("{} %", trim_number(percent));
        let mut entries: Vec<Entry> = all()
            .iter()
            .map(|i| Entry {
                id: i.id.to_string(),
                family: i.family,
                name: i.name.to_string(),
                unit: money_unit(i.unit, &settings.currency),
                direction: i.direction,
                definition: i
                    .definition
                    .replace("{discount}", &discount)
                    .replace("{booking}", &settings.booking),
                source: i.source.to_string(),
                sql: None,
            })
            .collect();
        entries.extend(settings.extra.iter().cloned());
        Resolved::from_entries(entries)
    }

    /// A catalogue read back from an output (the `indicators` table's metadata).
    pub fn from_entries(entries: Vec<Entry>) -> Resolved {
        let index = entries
            .iter()
            .enumerate()
            .map(|(k, e)| (e.id.clone(), k))
            .collect();
        Resolved { entries, index }
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.index.get(id).map(|&k| &self.entries[k])
    }

    /// The unit of an indicator, "" for an id the catalogue does not have.
    pub fn unit(&self, id: &str) -> &str {
        self.get(id).map(|e| e.unit.as_str()).unwrap_or("")
    }
}

/// A unit with its money in `currency`: the catalogue writes money units in EUR.
fn money_unit(unit: &str, currency: &str) -> String {
    unit.split(' ')
        .map(|w| if w == "EUR" { currency } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// 3.5 -> "3.5", 3 -> "3".
fn trim_number(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Looks an indicator up by id.
pub fn get(id: &str) -> Option<&'static Indicator> {
    // Looked up for every indicator value written (millions with per-project values).
    static INDEX: OnceLock<HashMap<&'static str, &'static Indicator>> = OnceLock::new();
    INDEX
        .get_or_init(|| all().iter().map(|i| (i.id, i)).collect())
        .get(id)
        .copied()
}

/// The selectable ids of one family, in catalogue order (derived changes are not selected
/// on their own: they follow their base indicator).
pub fn ids(family: Family) -> impl Iterator<Item = &'static str> {
    BASE.iter()
        .filter(move |i| i.family == family)
        .map(|i| i.id)
}

/// The catalogue entry's unit. Panics only on a programming error (an id missing from the
/// catalogue), which the catalogue test rules out for every id the families emit.
pub fn unit(id: &str) -> &'static str {
    get(id)
        .map(|i| i.unit)
        .unwrap_or_else(|| panic!("indicator `{id}` is missing from the catalogue"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_lowercase() {
        let mut seen = HashSet::new();
        for i in all() {
            assert!(seen.insert(i.id), "duplicate id {}", i.id);
            assert!(
                i.id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                i.id
            );
            assert!(!i.definition.is_empty() && !i.source.is_empty());
        }
    }

    #[test]
    fn percentages_use_the_percent_unit() {
        assert_eq!(unit("arpr"), "%");
        assert_eq!(unit("gini"), "%");
        assert_eq!(unit("ghg_per_capita"), "tCO2e per person");
        assert!(get("no_such_indicator").is_none());
        assert_eq!(unit("arpr_change"), "percentage points");
        assert_eq!(unit("arpt_change"), "EUR");
        assert_eq!(
            get("gini_change").map(|i| i.family),
            Some(Family::Exclusion)
        );
        assert!(get("ghg_total_change").is_none());
    }

    #[test]
    fn texts_follow_the_pipeline() {
        let c = Resolved::new(&Settings {
            currency: "PLN".into(),
            discount_rate: 0.05,
            booking: "a project's amount is spread over its duration by days".into(),
            extra: Vec::new(),
        });
        assert_eq!(c.unit("arpt"), "PLN");
        assert_eq!(c.unit("spend_per_capita"), "PLN per person");
        assert_eq!(c.unit("cost_per_tco2e_avoided"), "PLN per tCO2e");
        assert_eq!(c.unit("arpt_change"), "PLN");
        assert_eq!(c.unit("arpr"), "%");
        let sroi = &c.get("sroi").unwrap().definition;
        assert!(sroi.contains("discounted at 5 %"), "{sroi}");
        assert!(!sroi.contains("3.5"), "{sroi}");
        let spend = &c.get("spend_total").unwrap().definition;
        assert!(
            spend.contains("spread over its duration by days"),
            "{spend}"
        );
        assert!(!spend.contains("start year"), "{spend}");
        // The defaults say what the defaults do.
        let d = Resolved::new(&Settings::default());
        assert!(d
            .get("sroi")
            .unwrap()
            .definition
            .contains("discounted at 3.5 %"));
        assert_eq!(d.unit("arpt"), "EUR");
    }

    #[test]
    fn sources_cite_only_what_ships_or_is_published() {
        for i in Resolved::new(&Settings::default()).entries {
            assert!(!i.source.contains("shared/"), "{}: {}", i.id, i.source);
            assert!(!i.definition.contains('{'), "{}: {}", i.id, i.definition);
        }
    }
}

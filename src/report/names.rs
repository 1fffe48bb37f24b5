//! What a reader sees instead of codes: area names from the `areas` sources, country names for
//! country codes that have none, and the reason a value is missing, from the manifest.

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// Eurostat's country codes (ISO 3166-1 alpha-2, with `EL` for Greece and `UK`) of the EU,
/// EFTA and candidate countries, and their English names.
const COUNTRIES: [(&str, &str); 41] = [
    ("AL", "Albania"),
    ("AT", "Austria"),
    ("BA", "Bosnia and Herzegovina"),
    ("BE", "Belgium"),
    ("BG", "Bulgaria"),
    ("CH", "Switzerland"),
    ("CY", "Cyprus"),
    ("CZ", "Czechia"),
    ("DE", "Germany"),
    ("DK", "Denmark"),
    ("EE", "Estonia"),
    ("EL", "Greece"),
    ("ES", "Spain"),
    ("FI", "Finland"),
    ("FR", "France"),
    ("GB", "United Kingdom"),
    ("GE", "Georgia"),
    ("GR", "Greece"),
    ("HR", "Croatia"),
    ("HU", "Hungary"),
    ("IE", "Ireland"),
    ("IS", "Iceland"),
    ("IT", "Italy"),
    ("LI", "Liechtenstein"),
    ("LT", "Lithuania"),
    ("LU", "Luxembourg"),
    ("LV", "Latvia"),
    ("MD", "Moldova"),
    ("ME", "Montenegro"),
    ("MK", "North Macedonia"),
    ("MT", "Malta"),
    ("NL", "Netherlands"),
    ("NO", "Norway"),
    ("PL", "Poland"),
    ("PT", "Portugal"),
    ("RO", "Romania"),
    ("RS", "Serbia"),
    ("SE", "Sweden"),
    ("SI", "Slovenia"),
    ("SK", "Slovakia"),
    ("TR", "Türkiye"),
];

/// Area names and the reasons for missing values, as the report reads them.
pub struct Names {
    areas: BTreeMap<String, String>,
    /// (indicator, area, period) → why it has no value
    skipped: BTreeMap<(String, String, i64), String>,
}

impl Names {
    pub fn new(areas: BTreeMap<String, String>, manifest: &Json) -> Names {
        let skipped = manifest["skipped"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                Some((
                    (
                        s["indicator"].as_str()?.to_string(),
                        s["area"].as_str()?.to_string(),
                        s["period"].as_i64()?,
                    ),
                    s["reason"].as_str()?.to_string(),
                ))
            })
            .collect();
        Names { areas, skipped }
    }

    /// The areas' names, for the parts of the report that take a plain map.
    pub fn areas(&self) -> &BTreeMap<String, String> {
        &self.areas
    }

    /// The name of an area of a level: its own, else a country's name for a country code,
    /// else the code.
    pub fn name(&self, code: &str, level: &str) -> String {
        if let Some(n) = self.areas.get(code) {
            return n.clone();
        }
        if level == "country" {
            if let Ok(i) = COUNTRIES.binary_search_by(|(c, _)| c.cmp(&code)) {
                return COUNTRIES[i].1.to_string();
            }
        }
        code.to_string()
    }

    /// Why an indicator has no value for an area in a period.
    pub fn why_missing(&self, indicator: &str, area: &str, period: i32) -> String {
        self.skipped
            .get(&(indicator.to_string(), area.to_string(), i64::from(period)))
            .cloned()
            .unwrap_or_else(|| {
                "not computed for this area in this period (its sources have no data for it)"
                    .to_string()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_sorted_for_the_search_and_named() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        let n = Names::new(BTreeMap::new(), &serde_json::json!({}));
        assert_eq!(n.name("NL", "country"), "Netherlands");
        assert_eq!(n.name("EL", "country"), "Greece");
        // A two-letter code of another level is not taken for a country.
        assert_eq!(n.name("NL", "district"), "NL");
    }

    #[test]
    fn a_missing_value_says_why_from_the_manifest() {
        let m = serde_json::json!({"skipped": [{"indicator": "cost_per_beneficiary",
            "area": "PL_GDN_Srodmiescie", "period": 2022,
            "reason": "no project here reports beneficiaries"}]});
        let n = Names::new(BTreeMap::new(), &m);
        assert_eq!(
            n.why_missing("cost_per_beneficiary", "PL_GDN_Srodmiescie", 2022),
            "no project here reports beneficiaries"
        );
        assert!(n
            .why_missing("cost_per_beneficiary", "PL_GDN_Srodmiescie", 2023)
            .starts_with("not computed"));
    }
}

//! Source kinds and the roles each one takes. Roles are part of the pipeline file's language
//! (a `columns` table maps roles to a file's own column names), so they live with the config;
//! `contracts` adds the types and checks behind each role.

use serde::Deserialize;

/// What a source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Microdata,
    CityStats,
    Projects,
    Procurement,
    Emissions,
    Areas,
    Outcomes,
}

impl SourceKind {
    pub const ALL: [SourceKind; 7] = [
        SourceKind::Microdata,
        SourceKind::CityStats,
        SourceKind::Projects,
        SourceKind::Procurement,
        SourceKind::Emissions,
        SourceKind::Areas,
        SourceKind::Outcomes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Microdata => "microdata",
            SourceKind::CityStats => "city_stats",
            SourceKind::Projects => "projects",
            SourceKind::Procurement => "procurement",
            SourceKind::Emissions => "emissions",
            SourceKind::Areas => "areas",
            SourceKind::Outcomes => "outcomes",
        }
    }

    /// Roles a file of this kind must provide (directly or through `columns`).
    pub fn required_roles(self) -> &'static [&'static str] {
        match self {
            // `income` (equivalised) or, to equivalise here, `household_income` with `household` and
            // `age`: ingest checks that one of the two is there.
            SourceKind::Microdata => &["weight"],
            SourceKind::CityStats => &["area", "period", "variable", "value"],
            SourceKind::Projects => &["id", "area", "amount", "start"],
            SourceKind::Procurement => &["id", "buyer", "supplier", "amount", "date"],
            SourceKind::Emissions => &["area", "period", "tco2e"],
            SourceKind::Areas => &["area"],
            SourceKind::Outcomes => &["project", "outcome", "quantity", "proxy"],
        }
    }

    /// Roles a file of this kind may provide.
    pub fn optional_roles(self) -> &'static [&'static str] {
        match self {
            SourceKind::Microdata => &[
                "income",
                "household_income",
                "area",
                "country",
                "household",
                "age",
                "sex",
                "period",
                "deprivation_items",
                "work_intensity",
            ],
            SourceKind::CityStats => &["flag"],
            SourceKind::Projects => &[
                "end",
                "funding_source",
                "beneficiaries",
                "co2e_avoided_t",
                "theme",
                "currency",
                "title",
                "recipient_id",
                "recipient",
                "funder_id",
                "funder",
            ],
            SourceKind::Procurement => &[
                "supplier_type",
                "area",
                "currency",
                "supplier_id",
                "ocid",
                "award_id",
                "contract_id",
                "date_from",
                "amount_original",
                "currency_original",
            ],
            SourceKind::Emissions => &["sector", "subsector", "scope"],
            SourceKind::Areas => &[
                "name",
                "level",
                "parent",
                "population",
                "green_space_m2",
                "treated",
                "treated_from",
                "group",
                "period",
            ],
            SourceKind::Outcomes => &[
                "deadweight",
                "displacement",
                "attribution",
                "drop_off",
                "duration_years",
                "period",
            ],
        }
    }

    pub fn all_roles(self) -> impl Iterator<Item = &'static str> {
        self.required_roles()
            .iter()
            .chain(self.optional_roles())
            .copied()
    }
}

//! The indicator families in one table: the source kinds each reads, the tables its values
//! reach, and its compute function. The planner, incremental runs, [`compute_all`] and the
//! docs (`docs/indicators.md`, tested against [`markdown`]) read this table; nothing else
//! lists the families by hand.

use polars::prelude::*;
use rayon::prelude::*;

use super::{climate, exclusion, spending, Inputs, Output};
use crate::catalogue::Family;
use crate::config::SourceKind;

/// A family of built-in indicators, declared beside what it needs.
pub struct FamilyDef {
    pub family: Family,
    /// The source kinds whose files its values depend on: a change in one of them computes
    /// the family again; a change elsewhere reuses its last values.
    pub reads: &'static [SourceKind],
    /// The output tables that carry its results.
    pub writes: &'static [&'static str],
    /// Computes its values from the contract tables.
    pub compute: fn(&Inputs) -> PolarsResult<Output>,
}

/// Every built-in family, in the order runs, plans and reports list them. Custom indicators
/// are not here: their queries name the sources they read (`run::custom`).
pub const FAMILIES: [FamilyDef; 3] = [
    FamilyDef {
        family: Family::Exclusion,
        reads: &[
            SourceKind::Microdata,
            SourceKind::CityStats,
            SourceKind::Areas,
        ],
        writes: &["indicators.parquet"],
        compute: exclusion::compute,
    },
    FamilyDef {
        family: Family::Spending,
        reads: &[
            SourceKind::Projects,
            SourceKind::Outcomes,
            SourceKind::Procurement,
            SourceKind::Areas,
        ],
        writes: &[
            "indicators.parquet",
            "projects.parquet",
            "outcomes.parquet",
            "procurement.parquet",
        ],
        compute: spending::compute,
    },
    FamilyDef {
        family: Family::Climate,
        reads: &[
            SourceKind::Emissions,
            SourceKind::Projects,
            SourceKind::Areas,
        ],
        writes: &["indicators.parquet", "projects.parquet"],
        compute: climate::compute,
    },
];

/// The declaration of a built-in family; `None` for custom indicators.
pub fn def(family: Family) -> Option<&'static FamilyDef> {
    FAMILIES.iter().find(|d| d.family == family)
}

/// The source kinds a family reads (none for custom indicators, whose queries say).
pub fn reads(family: Family) -> &'static [SourceKind] {
    def(family).map_or(&[], |d| d.reads)
}

/// Every table the families' results reach, each once, in the table's order.
pub fn tables_written() -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for t in FAMILIES.iter().flat_map(|d| d.writes) {
        if !out.contains(t) {
            out.push(t);
        }
    }
    out
}

/// Runs the given families side by side and returns their values, with the time each took,
/// in the table's order. The families do not depend on each other; exclusion's own
/// parallelism (groups of persons) runs on rayon, the others' polars queries on polars' pool.
pub fn compute_all(
    inputs: &Inputs,
    families: &[Family],
) -> PolarsResult<Vec<(Family, Output, std::time::Duration)>> {
    let chosen: Vec<&FamilyDef> = FAMILIES
        .iter()
        .filter(|d| families.contains(&d.family))
        .collect();
    chosen
        .par_iter()
        .with_max_len(1)
        .map(|d| {
            let start = std::time::Instant::now();
            (d.compute)(inputs).map(|o| (d.family, o, start.elapsed()))
        })
        .collect()
}

/// The table as Markdown, for the docs: family, what it reads, what it writes.
pub fn markdown() -> String {
    let mut s =
        String::from("| family | reads sources of kind | its results reach |\n|---|---|---|\n");
    for d in &FAMILIES {
        let reads: Vec<String> = d
            .reads
            .iter()
            .map(|k| format!("`{}`", k.as_str()))
            .collect();
        let writes: Vec<String> = d.writes.iter().map(|t| format!("`{t}`")).collect();
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            d.family.as_str(),
            reads.join(", "),
            writes.join(", ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_family_is_declared_once() {
        let declared: Vec<Family> = FAMILIES.iter().map(|d| d.family).collect();
        assert_eq!(declared, Family::ALL);
        assert!(def(Family::Custom).is_none());
        assert!(reads(Family::Custom).is_empty());
    }

    #[test]
    fn the_docs_carry_the_table() {
        let docs =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/indicators.md"))
                .unwrap();
        assert!(
            docs.contains(&markdown()),
            "docs/indicators.md must carry the families' table as `families::markdown()` writes it:\n{}",
            markdown()
        );
    }

    #[test]
    fn the_tables_written_are_each_named_once() {
        assert_eq!(
            tables_written(),
            [
                "indicators.parquet",
                "projects.parquet",
                "outcomes.parquet",
                "procurement.parquet"
            ]
        );
    }
}

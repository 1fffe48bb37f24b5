//! `datapackage.json`: a Frictionless Data Package (tabular-data-package profile) that
//! describes every table's fields, types and units, the sources with their licences, and the
//! indicator catalogue.

use polars::prelude::*;
use serde_json::{json, Value};

use super::{Provenance, CONTRACT_VERSION};
use crate::catalogue;
use crate::config::Pipeline;

/// Field descriptions of the contract's tables.
fn describe(table: &str, field: &str) -> &'static str {
    match (table, field) {
        ("indicators", "indicator") => "catalogue id of the indicator (see cityimpact:catalogue)",
        ("indicators", "family") => "exclusion, spending, climate, or custom (a pipeline's own indicator that joins none of them)",
        ("indicators", "area") => {
            "the area as the input names it; ALL for the whole population of the source"
        }
        ("indicators", "level") => {
            "what the area is: all, country, region, city, district, project"
        }
        ("indicators", "period") => "reference year; null where the source has no time dimension",
        ("indicators", "breakdown") => {
            "sub-population as key=value pairs joined by ';', keys sorted"
        }
        ("indicators", "value") => "the value, in `unit`; percentages are 0 to 100",
        ("indicators", "unit") => "unit of `value`",
        ("indicators", "numerator") => "what was divided, where the indicator is a ratio",
        ("indicators", "denominator") => "what it was divided by",
        ("indicators", "n") => "number of input records behind the value",
        ("indicators", "ci_low") => "lower end of the 95 % confidence interval",
        ("indicators", "ci_high") => "upper end of the 95 % confidence interval",
        ("indicators", "flag") => {
            "low_reliability, estimated, provisional, or a flag carried from the source"
        }
        ("effects", "outcome") => "the evaluated indicator or declared series",
        ("effects", "estimator") => {
            "cs_did (Callaway & Sant'Anna 2021), twfe (two-way fixed effects) or did_2x2"
        }
        ("effects", "control_group") => "never_treated, not_yet_treated, or all_untreated (TWFE)",
        ("effects", "aggregation") => {
            "group_time, simple, group, dynamic (event study) or calendar"
        }
        ("effects", "group") => "the cohort: first treated period; null in an overall row",
        ("effects", "period") => "the period; null in an overall row",
        ("effects", "event_time") => "period minus cohort; null where none",
        ("effects", "att") => "average treatment effect on the treated, in the outcome's unit",
        ("effects", "se") => {
            "analytic standard error from the influence functions, clustered by area"
        }
        ("effects", "ci_low") => "lower end of the pointwise (1 - alpha) interval",
        ("effects", "ci_high") => "upper end of the pointwise (1 - alpha) interval",
        ("effects", "band_low") => {
            "lower end of the uniform (simultaneous) band, multiplier bootstrap"
        }
        ("effects", "band_high") => {
            "upper end of the uniform (simultaneous) band, multiplier bootstrap"
        }
        ("effects", "p_value") => {
            "two-sided p-value: normal, or wild bootstrap (Webb weights) below 30 areas"
        }
        ("effects", "n_treated") => "treated areas behind the estimate",
        ("effects", "n_control") => "control areas behind the estimate",
        ("effects", "flag") => {
            "reference, not_estimable, low_reliability, few_clusters, staggered, negative_weights"
        }
        ("rejects", "source") => "the source's name in the pipeline file",
        ("rejects", "file") => "the file, as the pipeline file names it",
        ("rejects", "line") => "1-based line where the row starts",
        ("rejects", "column") => "the column at fault",
        ("rejects", "value") => "the offending value, as read",
        ("rejects", "reason") => "why the row was not used, and what to do",
        _ => "",
    }
}

fn frictionless_type(dtype: &DataType) -> &'static str {
    match dtype {
        DataType::String => "string",
        DataType::Boolean => "boolean",
        DataType::Float32 | DataType::Float64 => "number",
        d if d.is_integer() => "integer",
        _ => "any",
    }
}

fn resource(name: &str, df: &DataFrame, description: &str) -> Value {
    let fields: Vec<Value> = df
        .schema()
        .iter()
        .map(|(field, dtype)| {
            json!({
                "name": field.as_str(),
                "type": frictionless_type(dtype),
                "description": describe(name, field.as_str()),
            })
        })
        .collect();
    json!({
        "name": name,
        "profile": "tabular-data-resource",
        "path": format!("{name}.parquet"),
        "format": "parquet",
        "mediatype": "application/vnd.apache.parquet",
        "description": description,
        // Tables hold nulls, never NaN. Readers that go through pandas (Frictionless's own
        // Parquet reader among them) show a null in an integer column as NaN, printed `nan`;
        // naming it a missing value keeps such readers from calling it a type error.
        "schema": { "fields": fields, "missingValues": ["", "nan"] },
    })
}

/// The data package for a run's tables.
pub fn build(
    pipeline: &Pipeline,
    provenance: &Provenance,
    catalogue: &catalogue::Resolved,
    tables: &[(&str, &DataFrame, &str)],
) -> Value {
    let sources: Vec<Value> = pipeline
        .sources
        .iter()
        .map(|s| {
            let mut v = json!({ "title": s.name, "path": s.path, "kind": s.kind.as_str() });
            if let Some(d) = &s.description {
                v["description"] = json!(d);
            }
            if let Some(l) = &s.licence {
                v["licence"] = json!(l);
            }
            if let Some(u) = &s.url {
                v["url"] = json!(u);
            }
            v
        })
        .collect();
    json!({
        "profile": "tabular-data-package",
        "name": pipeline.name,
        "title": pipeline.title,
        "version": CONTRACT_VERSION,
        "created_by": format!("cityimpact {}", provenance.version),
        "cityimpact:run_id": provenance.run_id,
        "sources": sources,
        "licenses": [{
            "name": "see-sources",
            "title": "Each table derives from the sources listed; their licences apply"
        }],
        "resources": tables.iter().map(|(n, df, d)| resource(n, df, d)).collect::<Vec<_>>(),
        "cityimpact:catalogue": catalogue.entries,
    })
}

//! City statistics' rules across cells, over columns: a variable must map to an indicator a
//! city_stats source can give (a rate, a count of persons, or one the pipeline declares), a
//! rate lies within 0-100 and a count is not negative; the variable's code becomes the
//! indicator it maps to. Only rows whose cells passed are looked at, each rule giving the reject
//! the row contract gives. In a wide file an empty value is named by its variable's column.

use polars::prelude::*;

use super::super::context::Contract;
use super::super::rules::{CITY_STAT_COUNTS, CITY_STAT_RATES};
use super::super::Reject;
use super::Rejected;

/// The name a wide file's value column goes by (see `ingest::records`).
const WIDE_VALUE: &str = "(variable column)";

impl Contract<'_> {
    /// Checks each kept row's variable and value, and maps the variables to indicators.
    pub(super) fn city_stats_checks(
        &self,
        columns: &mut [Series],
        bad: &mut Rejected,
    ) -> PolarsResult<()> {
        let at = &self.at;
        let n = self.raw.len();
        let value = match at.value {
            Some(r) if columns[r].dtype() == &DataType::Float64 => Some(columns[r].f64()?.clone()),
            _ => None,
        };
        let variable = match at.variable {
            Some(r) if columns[r].dtype() == &DataType::String => Some(columns[r].str()?.clone()),
            _ => None,
        };
        let mut found: Vec<(usize, Reject)> = Vec::new();
        let mut ids: Vec<Option<String>> = Vec::with_capacity(n);
        for row in 0..n {
            let code = variable.as_ref().and_then(|v| v.get(row));
            let v = value.as_ref().and_then(|v| v.get(row));
            if !bad.ok[row] {
                ids.push(code.map(String::from));
                continue;
            }
            if let Some(code) = code {
                match self.stat_rule(row, code, v) {
                    Ok(id) => ids.push(Some(id.to_string())),
                    Err(reject) => {
                        found.push((row, reject));
                        ids.push(Some(code.to_string()));
                        continue;
                    }
                }
            } else {
                ids.push(None);
            }
            let missing = match at.value {
                None => true,
                Some(_) if value.is_some() => v.is_none(),
                Some(r) => columns[r].get(row).map_or(true, |c| c.is_null()),
            };
            if missing {
                let column = self.source.column_for("value");
                found.push((
                    row,
                    self.reject(row, Some(column), None, "the value is missing"),
                ));
            }
        }
        bad.extend(found);
        if let (Some(r), Some(_)) = (at.variable, &variable) {
            columns[r] =
                StringChunked::from_iter_options(columns[r].name().clone(), ids.into_iter())
                    .into_series();
        }
        Ok(())
    }

    /// The indicator a row's variable maps to, or the reject its variable or value earns.
    fn stat_rule<'c>(
        &'c self,
        row: usize,
        code: &'c str,
        value: Option<f64>,
    ) -> Result<&'c str, Reject> {
        let source = self.source;
        let mapped = source.variables.get(code);
        let id: &str = mapped.map(String::as_str).unwrap_or(code);
        let is_rate = CITY_STAT_RATES.contains(&id);
        let declared = self.pipeline.declares(id);
        if !is_rate && !declared && !CITY_STAT_COUNTS.contains(&id) {
            let why = if mapped.is_some() {
                format!(
                    "variable `{code}` maps to `{id}`, which a city_stats source cannot give; use a rate ({}) or a count ({})",
                    CITY_STAT_RATES.join(", "),
                    CITY_STAT_COUNTS.join(", ")
                )
            } else {
                format!("variable `{code}` is not mapped to an indicator; add it to `variables` in [sources.{}], e.g. {{ {code} = \"unemployment_rate\" }}", source.name)
            };
            return Err(self.reject(row, Some(source.column_for("variable")), Some(code), why));
        }
        if let Some(v) = value {
            let why = if is_rate && !(0.0..=100.0).contains(&v) {
                Some(format!("{id} is a percentage; {v} lies outside 0-100"))
            } else if !is_rate && !declared && v < 0.0 {
                Some(format!("{id} is a count of persons; {v} is negative"))
            } else {
                None
            };
            if let Some(why) = why {
                let column = source.column_for("value");
                return Err(self.reject(row, Some(column), Some(&v.to_string()), why));
            }
        }
        Ok(id)
    }

    /// Where a required cell is empty in a wide file's value column, the column is the
    /// variable's own and the reason says which: as the row contract names it.
    pub(super) fn wide_empty(&self, row: usize, role: usize, why: String) -> (String, String) {
        let column = self.raw.columns[role].clone();
        let code = self.at.variable.and_then(|v| self.raw.cells[v].text(row));
        match code {
            Some(code) if column == WIDE_VALUE && why == self.empty_why[role] => {
                let why = format!("`{code}` is empty: this area has no value of {code}");
                (code, why)
            }
            _ => (column, why),
        }
    }
}

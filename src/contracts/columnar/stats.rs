//! City statistics' rules across cells, over columns (`rules::city_stat`): a variable must map
//! to an indicator a city_stats source can give, a rate lies within 0-100 and a count is not
//! negative; the variable's code becomes the indicator it maps to. Only rows whose cells passed are looked at, each rule giving the reject
//! the row contract gives. In a wide file an empty value is named by its variable's column.

use polars::prelude::*;

use super::super::context::{Contract, WIDE_VALUE};
use super::super::rules::city_stat;
use super::super::Reject;
use super::Rejected;

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
        match city_stat(source, self.pipeline, code, value) {
            Ok(()) => Ok(source.variables.get(code).map_or(code, String::as_str)),
            Err((role, text, why)) => {
                Err(self.reject(row, Some(self.stat_column(role, code)), Some(&text), why))
            }
        }
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

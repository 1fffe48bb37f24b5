//! The keys that must be unique within a source, over columns: among the rows kept so far, in
//! row order, a row whose key an earlier one has is a duplicate, with the reason the row
//! contract gives ([`key_of`] makes the keys of both).

use polars::prelude::*;
use rayon::prelude::*;

use super::super::context::At;
use super::super::context::Contract;
use super::Rejected;
use crate::config::SourceKind;

impl Contract<'_> {
    /// Rejects each row, of those kept so far, whose key an earlier such row has.
    pub(super) fn unique_keys(
        &self,
        columns: &[Series],
        period: &Int32Chunked,
        bad: &mut Rejected,
    ) -> PolarsResult<()> {
        let (kind, at) = (self.source.kind, &self.at);
        if !has_key(kind, at) {
            return Ok(());
        }
        // The roles the key reads, and their cells as text: texts as they are, integers written
        // out, anything else empty.
        let read = std::cell::RefCell::new(Vec::new());
        key_of(
            kind,
            at,
            |r| {
                read.borrow_mut().extend(r);
                String::new()
            },
            None,
        );
        let read = read.into_inner();
        let texts: Vec<Option<StringChunked>> = (0..columns.len())
            .map(|r| match columns[r].dtype() {
                _ if !read.contains(&r) => Ok(None),
                DataType::String => columns[r].str().cloned().map(Some),
                d if d.is_integer() => Ok(Some(columns[r].cast(&DataType::String)?.str()?.clone())),
                _ => Ok(None),
            })
            .collect::<PolarsResult<_>>()?;
        let cells: Vec<Option<Vec<Option<&str>>>> = texts
            .iter()
            .map(|t| t.as_ref().map(|t| t.iter().collect()))
            .collect();
        // Each kept row's key, made side by side; then the first row of each, in row order.
        let keys: Vec<Option<String>> = (0..period.len())
            .into_par_iter()
            .map(|row| {
                let text = |r: Option<usize>| {
                    let cell = r.and_then(|r| cells[r].as_ref()).and_then(|c| c[row]);
                    cell.unwrap_or_default().to_string()
                };
                bad.ok[row]
                    .then(|| key_of(kind, at, text, period.get(row)))
                    .flatten()
            })
            .collect();
        let mut seen: PlHashMap<&str, u64> = PlHashMap::new();
        let mut duplicates = Vec::new();
        for (row, key) in keys.iter().enumerate() {
            let Some(key) = key.as_deref() else {
                continue;
            };
            match seen.get(key) {
                None => {
                    seen.insert(key, self.raw.lines.at(row));
                }
                Some(first) => {
                    let why = format!(
                        "duplicate {key}: the same row key was already read at line {first}"
                    );
                    duplicates.push((row, self.reject(row, None, Some(key), why)));
                }
            }
        }
        for (row, reject) in duplicates {
            bad.add(row, || reject);
        }
        Ok(())
    }
}

/// Whether a kind's rows have a key that must be unique within a source.
pub(in crate::contracts) fn has_key(kind: SourceKind, at: &At) -> bool {
    key_of(kind, at, |_| String::new(), None).is_some()
}

/// The key that must be unique within a source, where the kind has one, from the text of a
/// row's cells by role (a text as it is, an integer written out, anything else empty).
pub(in crate::contracts) fn key_of(
    kind: SourceKind,
    at: &At,
    text: impl Fn(Option<usize>) -> String,
    period: Option<i32>,
) -> Option<String> {
    let p = period.map(|p| p.to_string()).unwrap_or_default();
    match kind {
        SourceKind::Areas => Some(format!("area `{}` in period `{p}`", text(at.area))),
        SourceKind::CityStats => Some(format!(
            "`{}` for area `{}` in period `{p}`",
            text(at.variable),
            text(at.area)
        )),
        SourceKind::Procurement => Some(format!("contract id `{}`", text(at.id))),
        // Inventories are often reported by sub-sector, several rows per sector and scope, and
        // those rows add up; only a sub-sector named twice is a duplicate.
        SourceKind::Emissions if at.subsector.is_some() => Some(format!(
            "emissions row for area `{}`, period `{p}`, sector `{}`, sub-sector `{}`, scope `{}`",
            text(at.area),
            text(at.sector),
            text(at.subsector),
            text(at.scope)
        )),
        // The same outcome of a project twice would count its value twice.
        SourceKind::Outcomes => Some(format!(
            "outcome `{}` of project `{}` in period `{p}`",
            text(at.outcome),
            text(at.project)
        )),
        _ => None,
    }
}

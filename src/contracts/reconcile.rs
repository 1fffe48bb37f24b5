//! Checks across sources that no single source can make.

use std::collections::HashMap;

use polars::prelude::*;

use crate::config::{Pipeline, SourceKind};

use super::{Reject, Table};

/// Checks across sources that no single source can make: two `areas` sources that give one
/// area and period different populations. The later source's row is rejected with a reason
/// naming the row it contradicts; rows that agree stay. Runs after every contract, in the
/// pipeline's source order, so the result does not depend on which source finished first.
pub fn reconcile(pipeline: &Pipeline, tables: &mut [Table]) -> PolarsResult<()> {
    type Seen = (f64, String, u64);
    let mut first: HashMap<(String, Option<i32>), Seen> = HashMap::new();
    for t in tables.iter_mut().filter(|t| t.kind == SourceKind::Areas) {
        if !t.frame.schema().contains("population") || t.lines.len() != t.frame.height() {
            continue;
        }
        let file = pipeline
            .sources
            .iter()
            .find(|s| s.name == t.source)
            .map(|s| s.path.clone())
            .unwrap_or_default();
        let area = t.frame.column("area")?.str()?.clone();
        let period = t.frame.column("period")?.i32()?.clone();
        let population = t.frame.column("population")?.f64()?.clone();
        let mut keep = vec![true; t.frame.height()];
        for (i, k) in keep.iter_mut().enumerate() {
            let (Some(a), Some(pop)) = (area.get(i), population.get(i)) else {
                continue;
            };
            let key = (a.to_string(), period.get(i));
            match first.get(&key) {
                Some((seen, by, line)) if *seen != pop => {
                    *k = false;
                    let when = key.1.map(|p| format!(" in {p}")).unwrap_or_default();
                    t.rejects.push(Reject {
                        source: t.source.as_str().into(),
                        file: file.as_str().into(),
                        line: t.lines[i] as i64,
                        column: Some("population".into()),
                        value: Some(pop.to_string().into()),
                        reason: format!(
                            "area `{a}`{when} has population {pop} here but {seen} in source `{by}` (line {line}); keep one population per area and period"
                        ).into(),
                    });
                }
                Some(_) => {}
                None => {
                    first.insert(key, (pop, t.source.clone(), t.lines[i]));
                }
            }
        }
        if keep.contains(&false) {
            t.frame = t
                .frame
                .filter(&BooleanChunked::from_slice("keep".into(), &keep))?;
            t.lines = t
                .lines
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(l, _)| *l)
                .collect();
            t.rejects.sort_by_key(|r| r.line);
        }
    }
    Ok(())
}

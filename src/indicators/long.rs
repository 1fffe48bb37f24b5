//! The long indicator table, built here and nowhere else: the families' area values (few,
//! held as [`Value`]s) and the per-project values (many, held as column blocks, see
//! [`super::projects::values`]) merged in the contract's order and written in row groups as
//! they are merged, so that a city with millions of projects never holds the whole table.

use polars::prelude::*;

use super::projects::values::{Block, Blocks};
use super::{Skipped, Value};
use crate::catalogue;
use crate::output::parquet::RowGroups;

/// Why the long table cannot be written as computed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("two values for one key of the long table: {key}")]
    Duplicate { key: String },
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

/// The last guard before the long table: a value with a number that is not finite (an overflow
/// the contracts' bounds should rule out) is left out with a note, never written; and every
/// (indicator, area, level, period, breakdown) holds one value, whatever the sources gave.
pub fn guard(values: Vec<Value>, skipped: &mut Vec<Skipped>) -> Result<Vec<Value>, TableError> {
    let finite = |v: &Value| {
        v.value.is_finite()
            && [v.numerator, v.denominator, v.ci_low, v.ci_high]
                .iter()
                .all(|x| x.is_none_or(f64::is_finite))
    };
    let (kept, broken): (Vec<Value>, Vec<Value>) = values.into_iter().partition(finite);
    skipped.extend(broken.into_iter().map(|v| Skipped {
        indicator: v.indicator,
        area: v.area,
        period: v.period,
        reason: "the computation did not give a finite number (an overflow); please report it with the pipeline file"
            .into(),
        projects: None,
    }));
    let mut seen = std::collections::HashSet::with_capacity(kept.len());
    for v in &kept {
        let key = (
            v.indicator.as_str(),
            v.area.as_str(),
            v.level.as_str(),
            v.period,
            v.breakdown.as_deref(),
        );
        if !seen.insert(key) {
            let period = v
                .period
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into());
            return Err(TableError::Duplicate {
                key: format!(
                    "indicator `{}`, area `{}` ({}), period {period}, breakdown `{}`",
                    v.indicator,
                    v.area,
                    v.level,
                    v.breakdown.as_deref().unwrap_or("-")
                ),
            });
        }
    }
    Ok(kept)
}

/// The area values in the contract's columns, units from the pipeline's catalogue, sorted by
/// indicator, area, period, breakdown (nulls first) so that runs are reproducible.
pub fn long_frame(values: Vec<Value>, entries: &catalogue::Resolved) -> PolarsResult<DataFrame> {
    let n = values.len();
    let family = |id: &str| {
        entries
            .get(id)
            .map(|i| i.family.as_str())
            .unwrap_or("unknown")
    };
    // Columns borrow the values' texts: with per-project values there are millions.
    let col_str = |name: &str, f: &dyn Fn(&Value) -> &str| {
        Column::new(name.into(), values.iter().map(f).collect::<Vec<_>>())
    };
    let col_opt_str = |name: &str, f: &dyn Fn(&Value) -> Option<&str>| {
        Column::new(name.into(), values.iter().map(f).collect::<Vec<_>>())
    };
    let col_opt_f64 = |name: &str, f: &dyn Fn(&Value) -> Option<f64>| {
        Column::new(name.into(), values.iter().map(f).collect::<Vec<_>>())
    };
    let mut df = DataFrame::new(
        n,
        vec![
            col_str("indicator", &|v| &v.indicator),
            col_str("family", &|v| family(&v.indicator)),
            col_str("area", &|v| &v.area),
            col_str("level", &|v| &v.level),
            Column::new(
                "period".into(),
                values.iter().map(|v| v.period).collect::<Vec<_>>(),
            ),
            col_opt_str("breakdown", &|v| v.breakdown.as_deref()),
            Column::new(
                "value".into(),
                values.iter().map(|v| v.value).collect::<Vec<_>>(),
            ),
            Column::new(
                "unit".into(),
                values
                    .iter()
                    .map(|v| entries.unit(&v.indicator))
                    .collect::<Vec<_>>(),
            ),
            col_opt_f64("numerator", &|v| v.numerator),
            col_opt_f64("denominator", &|v| v.denominator),
            Column::new("n".into(), values.iter().map(|v| v.n).collect::<Vec<_>>()),
            col_opt_f64("ci_low", &|v| v.ci_low),
            col_opt_f64("ci_high", &|v| v.ci_high),
            col_opt_str("flag", &|v| v.flag.as_deref()),
        ],
    )?;
    // The contract's order. polars' multi-column sort (row-encoded, on all cores) orders
    // strings byte by byte and puts missing periods and breakdowns first, as Rust's own
    // ordering of the values would, and keeps ties in the order the families gave them.
    df.sort_in_place(
        ["indicator", "area", "period", "breakdown"],
        SortMultipleOptions::default()
            .with_nulls_last(false)
            .with_maintain_order(true)
            .with_multithreaded(true),
    )?;
    Ok(df)
}

/// A run of rows of the long table: area values (rows of the area frame) or one block's.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Areas(std::ops::Range<usize>),
    Projects(usize, std::ops::Range<usize>),
}

/// (area, period, breakdown): the order within one indicator.
type Key<'a> = (&'a str, Option<i32>, Option<&'a str>);

/// The area frame's columns that order it, and its levels for the duplicate check.
struct AreaKeys {
    indicator: StringChunked,
    area: StringChunked,
    level: StringChunked,
    period: Int32Chunked,
    breakdown: StringChunked,
}

impl AreaKeys {
    fn new(df: &DataFrame) -> PolarsResult<AreaKeys> {
        let text = |c: &str| -> PolarsResult<StringChunked> {
            Ok(df.column(c)?.str()?.rechunk().into_owned())
        };
        Ok(AreaKeys {
            indicator: text("indicator")?,
            area: text("area")?,
            level: text("level")?,
            period: df.column("period")?.i32()?.rechunk().into_owned(),
            breakdown: text("breakdown")?,
        })
    }

    fn key(&self, i: usize) -> Key<'_> {
        (
            self.area.get(i).unwrap_or(""),
            self.period.get(i),
            self.breakdown.get(i),
        )
    }

    /// The end of the run of rows from `start` that share its indicator.
    fn run_end(&self, start: usize) -> usize {
        let id = self.indicator.get(start);
        (start..self.indicator.len())
            .find(|&i| self.indicator.get(i) != id)
            .unwrap_or(self.indicator.len())
    }
}

/// The pieces of the long table in the contract's order: indicators in order; within one,
/// area values and per-project values merged by (area, period, breakdown), an area value
/// first where the two tie (as the families always listed them).
fn plan(areas: &DataFrame, blocks: &Blocks) -> Result<Vec<Piece>, TableError> {
    let keys = AreaKeys::new(areas)?;
    let mut pieces = Vec::new();
    let (mut a, mut b) = (0, 0);
    while a < areas.height() || b < blocks.blocks.len() {
        let area_id = (a < areas.height()).then(|| keys.indicator.get(a).unwrap_or(""));
        let block = blocks.blocks.get(b);
        match (area_id, block) {
            (Some(id), Some(block)) if id == block.indicator => {
                let end = keys.run_end(a);
                merge(&keys, a..end, blocks, b, &mut pieces)?;
                (a, b) = (end, b + 1);
            }
            (Some(id), block) if block.is_none_or(|bl| id < bl.indicator.as_str()) => {
                let end = keys.run_end(a);
                pieces.push(Piece::Areas(a..end));
                a = end;
            }
            (_, Some(block)) => {
                pieces.push(Piece::Projects(b, 0..block.rows.len()));
                b += 1;
            }
            (_, None) => break,
        }
    }
    Ok(pieces)
}

/// One indicator's area rows `range` and block `b`, merged.
fn merge(
    keys: &AreaKeys,
    range: std::ops::Range<usize>,
    blocks: &Blocks,
    b: usize,
    pieces: &mut Vec<Piece>,
) -> Result<(), TableError> {
    let block: &Block = &blocks.blocks[b];
    let project_key =
        |j: usize| -> Key<'_> { (blocks.id(block, j), blocks.period(block, j), None) };
    let (mut i, mut j) = (range.start, 0);
    let mut push = |piece: Piece| match (pieces.last_mut(), &piece) {
        (Some(Piece::Areas(r)), Piece::Areas(n)) if r.end == n.start => r.end = n.end,
        (Some(Piece::Projects(pb, r)), Piece::Projects(nb, n)) if pb == nb && r.end == n.start => {
            r.end = n.end
        }
        _ => pieces.push(piece),
    };
    while i < range.end || j < block.rows.len() {
        let area_first = j == block.rows.len() || (i < range.end && keys.key(i) <= project_key(j));
        if i < range.end
            && j < block.rows.len()
            && keys.key(i) == project_key(j)
            && keys.level.get(i) == Some("project")
        {
            return Err(TableError::Duplicate {
                key: format!(
                    "indicator `{}`, area `{}` (project), period {}, breakdown `-`",
                    block.indicator,
                    project_key(j).0,
                    project_key(j)
                        .1
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
            });
        }
        if area_first {
            push(Piece::Areas(i..i + 1));
            i += 1;
        } else {
            push(Piece::Projects(b, j..j + 1));
            j += 1;
        }
    }
    Ok(())
}

/// Writes the long table to `path`: the area frame (see [`long_frame`]) and the blocks
/// merged in order, a row group at a time. Returns the rows written.
pub fn write(
    path: &std::path::Path,
    areas: &DataFrame,
    blocks: &Blocks,
    entries: &catalogue::Resolved,
    metadata: &[(String, String)],
) -> Result<usize, TableError> {
    let pieces = plan(areas, blocks)?;
    let mut groups = RowGroups::create(path, areas, metadata)?;
    for piece in pieces {
        match piece {
            Piece::Areas(r) => groups.push(areas.slice(r.start as i64, r.len()))?,
            Piece::Projects(b, r) => {
                // A block's slice is made only when it is written, a row group at a time.
                let block = &blocks.blocks[b];
                let mut at = r.start;
                while at < r.end {
                    let end = (at + groups.room()).min(r.end);
                    groups.push(blocks.frame(block, at..end, entries)?)?;
                    at = end;
                }
            }
        }
    }
    Ok(groups.finish()?)
}

//! The long indicator table, built here and nowhere else: the families' area values (few,
//! held as [`Value`]s) and the per-project values (many, held as column blocks, see
//! [`super::projects::values`]) merged in the contract's order and written in row groups as
//! they are merged, so that a city with millions of projects never holds the whole table.

use polars::prelude::*;

use super::projects::values::{Block, Blocks};
use super::{text_column, year_column, Skipped, Value};
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

/// A run of rows of the long table: area values (rows of the area frame) or a block's.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Areas(std::ops::Range<usize>),
    Projects(std::ops::Range<usize>),
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
        let text = |c: &str| text_column(df, c);
        Ok(AreaKeys {
            indicator: text("indicator")?,
            area: text("area")?,
            level: text("level")?,
            period: year_column(df, "period")?,
            breakdown: text("breakdown")?,
        })
    }

    fn len(&self) -> usize {
        self.indicator.len()
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
        (start..self.len())
            .find(|&i| self.indicator.get(i) != id)
            .unwrap_or(self.len())
    }
}

/// One indicator's area rows `range` and per-project block, merged by (area, period,
/// breakdown); an area value comes first where the two tie, as the families always listed
/// them.
fn merge(
    keys: &AreaKeys,
    range: std::ops::Range<usize>,
    blocks: &Blocks,
    block: &Block,
) -> Result<Vec<Piece>, TableError> {
    let project_key =
        |j: usize| -> Key<'_> { (blocks.id(block, j), blocks.period(block, j), None) };
    let mut pieces: Vec<Piece> = Vec::new();
    let mut push = |piece: Piece| match (pieces.last_mut(), &piece) {
        (Some(Piece::Areas(r)), Piece::Areas(n))
        | (Some(Piece::Projects(r)), Piece::Projects(n))
            if r.end == n.start =>
        {
            r.end = n.end
        }
        _ => pieces.push(piece),
    };
    let (mut i, mut j) = (range.start, 0);
    while i < range.end || j < block.rows.len() {
        let both = i < range.end && j < block.rows.len();
        if both && keys.key(i) == project_key(j) && keys.level.get(i) == Some("project") {
            let (area, period, _) = project_key(j);
            return Err(TableError::Duplicate {
                key: format!(
                    "indicator `{}`, area `{area}` (project), period {}, breakdown `-`",
                    block.indicator,
                    period.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                ),
            });
        }
        if j == block.rows.len() || (i < range.end && keys.key(i) <= project_key(j)) {
            push(Piece::Areas(i..i + 1));
            i += 1;
        } else {
            push(Piece::Projects(j..j + 1));
            j += 1;
        }
    }
    Ok(pieces)
}

/// Writes the long table to `path` in the contract's order: indicators in order; within
/// one, the area frame's rows (see [`long_frame`]) and the per-project block merged. One
/// block is computed at a time and its rows are made into columns a row group at a time.
/// Returns the rows written.
pub fn write(
    path: &std::path::Path,
    areas: &DataFrame,
    blocks: &Blocks,
    entries: &catalogue::Resolved,
    metadata: &[(String, String)],
) -> Result<usize, TableError> {
    let keys = AreaKeys::new(areas)?;
    let names = blocks.indicators();
    let mut groups = RowGroups::create(path, areas, metadata)?;
    let (mut a, mut b) = (0, 0);
    while a < keys.len() || b < names.len() {
        let area_id = (a < keys.len()).then(|| keys.indicator.get(a).unwrap_or(""));
        let (pieces, block) = match (area_id, names.get(b)) {
            (Some(id), Some(name)) if id == name => {
                let end = keys.run_end(a);
                let block = blocks.block(b);
                let pieces = merge(&keys, a..end, blocks, &block)?;
                (a, b) = (end, b + 1);
                (pieces, Some(block))
            }
            (Some(id), name) if name.is_none_or(|n| id < n.as_str()) => {
                let end = keys.run_end(a);
                let pieces = vec![Piece::Areas(a..end)];
                a = end;
                (pieces, None)
            }
            _ => {
                let block = blocks.block(b);
                b += 1;
                (vec![Piece::Projects(0..block.rows.len())], Some(block))
            }
        };
        for piece in pieces {
            match (piece, &block) {
                (Piece::Areas(r), _) => groups.push(areas.slice(r.start as i64, r.len()))?,
                (Piece::Projects(r), Some(block)) => {
                    let mut at = r.start;
                    while at < r.end {
                        let end = (at + groups.room()).min(r.end);
                        groups.push(blocks.frame(block, at..end, entries)?)?;
                        at = end;
                    }
                }
                (Piece::Projects(_), None) => {}
            }
        }
    }
    Ok(groups.finish()?)
}

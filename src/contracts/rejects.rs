//! Rejected rows: what each holds and the `rejects` table they become.

use std::sync::Arc;

use polars::prelude::*;

/// An input row that was not used, and why. The texts that many rejects share (the source,
/// the file, the column, a reason without the row's value) are shared, not copied: a source
/// can reject millions of rows for lying outside the pipeline's periods.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub source: Arc<str>,
    pub file: Arc<str>,
    pub line: i64,
    pub column: Option<Arc<str>>,
    pub value: Option<Arc<str>>,
    pub reason: Arc<str>,
}

/// The rejects of all sources as the contract's `rejects` table.
pub fn rejects_frame(rejects: &[&Reject]) -> PolarsResult<DataFrame> {
    let n = rejects.len();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "source".into(),
                rejects.iter().map(|r| &*r.source).collect::<Vec<_>>(),
            ),
            Column::new(
                "file".into(),
                rejects.iter().map(|r| &*r.file).collect::<Vec<_>>(),
            ),
            Column::new(
                "line".into(),
                rejects.iter().map(|r| r.line).collect::<Vec<_>>(),
            ),
            Column::new(
                "column".into(),
                rejects
                    .iter()
                    .map(|r| r.column.as_deref())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "value".into(),
                rejects
                    .iter()
                    .map(|r| r.value.as_deref())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "reason".into(),
                rejects.iter().map(|r| &*r.reason).collect::<Vec<_>>(),
            ),
        ],
    )
}

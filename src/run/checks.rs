//! The data checks after the contracts: a source that keeps none of its rows, or rejects more
//! than `[checks] max_reject_share` of them, fails the run (exit 3); one that rejects more than
//! 5 % is warned of, with its commonest reasons.

use super::RunError;
use crate::config::Pipeline;
use crate::contracts::Table;

/// `[checks]`: a source that rejects more than its share fails the run (exit 3).
/// The data checks: no source may lose every row to its contract (whatever
/// `max_reject_share` says: a source that keeps nothing would publish tables without it), and
/// none may reject more than `[checks] max_reject_share` of its rows.
pub(super) fn check(pipeline: &Pipeline, tables: &[Table]) -> Result<(), RunError> {
    let first_reject = |t: &Table| {
        t.rejects
            .iter()
            .find(|r| !r.reason.starts_with("period "))
            .map(|r| format!("; first: {}:{}: {}", r.file, r.line, r.reason))
            .unwrap_or_default()
    };
    let mut failures: Vec<String> = tables
        .iter()
        .filter(|t| t.rows_read > 0 && t.rows_kept() == 0 && t.rows_filtered < t.rows_read)
        .map(|t| {
            format!(
                "  source `{}` kept none of its {} rows{}",
                t.source,
                t.rows_read,
                first_reject(t)
            )
        })
        .collect();
    if let Some(max) = pipeline.checks.max_reject_share {
        failures.extend(
            tables
                .iter()
                .filter(|t| t.rows_kept() > 0 && t.reject_share() > max)
                .map(|t| {
                    format!(
                        "  source `{}` rejected {:.1} % of its {} rows (max_reject_share = {:.1} %){}",
                        t.source,
                        100.0 * t.reject_share(),
                        t.rows_read,
                        100.0 * max,
                        first_reject(t)
                    )
                }),
        );
    }
    if failures.is_empty() {
        warn_of_rejects(tables);
        Ok(())
    } else {
        Err(RunError::Checks { failures })
    }
}

/// The share of a source's rows whose rejection is worth a warning, with its commonest reasons.
const WARN_REJECT_SHARE: f64 = 0.05;

/// Warns of every source that rejected more than 5 % of its rows (period filtering aside),
/// with its three commonest reasons: a run that publishes may still have lost much of a file.
fn warn_of_rejects(tables: &[Table]) {
    for t in tables
        .iter()
        .filter(|t| t.reject_share() > WARN_REJECT_SHARE)
    {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for r in t
            .rejects
            .iter()
            .filter(|r| !r.reason.starts_with("period "))
        {
            *counts.entry(reason_class(&r.reason)).or_default() += 1;
        }
        let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let commonest: Vec<String> = counts
            .iter()
            .take(3)
            .map(|(reason, n)| format!("{n} × {reason}"))
            .collect();
        tracing::warn!(
            "source `{}` rejected {:.1} % of its {} rows (rejects.parquet has each); the commonest reasons: {}",
            t.source,
            100.0 * t.reject_share(),
            t.rows_read,
            commonest.join("; ")
        );
    }
}

/// A reason with the values it quotes left out, so that rows rejected for the same reason
/// count together: "`value` (value): `4,5` is not a number" → "`value` (value): `…` is not a
/// number". A reason that starts with a quoted name keeps it: it is the file's column.
fn reason_class(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    for (k, part) in reason.split('`').enumerate() {
        if k > 0 {
            out.push('`');
        }
        let masked = k % 2 == 1 && !(k == 1 && reason.starts_with('`'));
        out.push_str(if masked { "…" } else { part });
    }
    out
}

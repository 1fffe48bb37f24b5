//! The file as serde read it, resolved into the one [`Pipeline`] every later stage takes:
//! names checked, paths made absolute, each table resolved by its own module.

use super::charts::resolve_charts;
use super::currency::resolve_currency;
use super::indicators::resolve_indicators;
use super::raw::RawFile;
use super::source::resolve_source;
use super::*;

pub(super) fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

pub(super) fn resolve(
    ctx: &Ctx,
    mut raw: RawFile,
    file_hash: String,
) -> Result<Pipeline, ConfigError> {
    let p = raw.pipeline;
    let name = p.name.get_ref().clone();
    if !is_valid_name(&name) {
        return Err(ctx.error(
            &p.name,
            format!("pipeline name `{name}` may only hold a-z, 0-9, `_` and `-`"),
            Some("the name becomes the output folder's name".into()),
        ));
    }
    let dir = ctx.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let out = match &p.out {
        // Paths in the file are relative to the file's folder; the default is relative to
        // where cityimpact runs, as the output contract says.
        Some(out) => dir.join(out),
        None => PathBuf::from("out").join(&name),
    };
    let periods = match &p.periods {
        Some(span) => {
            let r = span.get_ref();
            if r.from > r.to {
                return Err(ctx.error(
                    span,
                    format!("periods.from ({}) is after periods.to ({})", r.from, r.to),
                    None,
                ));
            }
            Some((r.from, r.to))
        }
        None => None,
    };

    if raw.sources.is_empty() {
        return Err(ctx.error_at_offset(
            0,
            "the pipeline has no sources".into(),
            Some("add at least one [sources.NAME] table with kind and path".into()),
        ));
    }
    let mut sources = Vec::new();
    for (source_name, spanned) in &raw.sources {
        sources.push(resolve_source(ctx, &dir, source_name, spanned)?);
    }

    let currency = resolve_currency(ctx, raw.currency)?;

    // A survey in another currency needs its rate, before anything is read.
    for spanned in raw.sources.values() {
        if let Some(c) = &spanned.get_ref().currency {
            if !currency.knows(c.get_ref()) {
                let code = c.get_ref().to_ascii_uppercase();
                return Err(ctx.error(
                    c,
                    format!("no exchange rate for {code}, the survey's currency"),
                    Some(format!(
                        "add {code} = <{} per {code}> to rates in [currency]",
                        currency.report
                    )),
                ));
            }
        }
    }

    let raw_custom = raw
        .indicators
        .as_mut()
        .and_then(|i| i.custom.take())
        .unwrap_or_default();
    let series: Vec<String> = raw
        .evaluation
        .as_ref()
        .map(|e| e.series.keys().cloned().collect())
        .unwrap_or_default();
    let custom = custom::resolve(ctx, &raw_custom, &|id| {
        crate::catalogue::get(id).is_some() || series.iter().any(|s| s == id)
    })?;
    let indicators = resolve_indicators(ctx, raw.indicators)?;
    let index = match raw.index {
        None => None,
        Some(i) => Some(index::resolve(ctx, &dir, i)?),
    };
    let evaluation = match raw.evaluation {
        None => None,
        Some(e) => Some(evaluation::resolve(ctx, e, &sources, &|id| {
            crate::catalogue::get(id).is_some() || custom.iter().any(|c| c.id == id)
        })?),
    };
    let custom_ids: Vec<String> = custom.iter().map(|c| c.id.clone()).collect();
    let charts = resolve_charts(ctx, raw.charts, &custom_ids)?;
    let checks = match raw.checks {
        Some(c) => {
            if let Some(share) = &c.max_reject_share {
                let v = *share.get_ref();
                if !(0.0..=1.0).contains(&v) {
                    return Err(ctx.error(
                        share,
                        format!("max_reject_share is {v}; it must lie between 0 and 1"),
                        Some(
                            "0.05 fails the run when more than 5 % of a source's rows are rejected"
                                .into(),
                        ),
                    ));
                }
            }
            Checks {
                max_reject_share: c.max_reject_share.map(|s| s.into_inner()),
            }
        }
        None => Checks::default(),
    };

    Ok(Pipeline {
        title: p.title.unwrap_or_else(|| name.clone()),
        name,
        file: ctx.file.to_path_buf(),
        file_hash,
        settings_hash: String::new(),
        out,
        periods,
        sources,
        currency,
        indicators,
        charts,
        checks,
        evaluation,
        index,
        custom,
    })
}

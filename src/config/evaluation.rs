//! `[evaluation]`: which outcome series to evaluate, how an area's treatment start is known,
//! and how the difference-in-differences estimators are set up. Every choice has a default
//! that is written beside the results, so nothing about an estimate is implicit.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{nearest, ConfigError, Ctx, Source, SourceKind};

/// How an area's first treated period is known.
#[derive(Debug, Clone, PartialEq)]
pub enum Treatment {
    /// The `treated_from` role of the `areas` sources: a year; empty or 0 = never treated.
    TreatedFrom,
    /// The start year of the area's first project of at least `min_amount`.
    FirstProject { min_amount: f64 },
}

/// Which areas a treated cohort is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    NeverTreated,
    NotYetTreated,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Control::NeverTreated => "never_treated",
            Control::NotYetTreated => "not_yet_treated",
        }
    }
}

/// The period each group-time effect is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasePeriod {
    /// Pre-treatment cells compare each period with the one before (R `did`'s default).
    Varying,
    /// Every cell compares with the last period before treatment (minus anticipation).
    Universal,
}

impl BasePeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            BasePeriod::Varying => "varying",
            BasePeriod::Universal => "universal",
        }
    }
}

/// An outcome series the catalogue does not know, declared in the pipeline file and passed
/// through from a `city_stats` source under its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub id: String,
    pub name: String,
    pub unit: String,
    /// `higher_better`, `lower_better` or `neutral`.
    pub direction: String,
    pub definition: String,
}

/// The resolved `[evaluation]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub outcomes: Vec<String>,
    pub treatment: Treatment,
    pub control: Control,
    /// Periods before its start in which treatment may already act.
    pub anticipation: u32,
    pub base_period: BasePeriod,
    /// Multiplier bootstrap replicates for uniform bands and few-cluster p-values.
    pub replicates: u32,
    pub seed: u64,
    /// 1 − confidence level of every interval and band.
    pub alpha: f64,
    pub series: Vec<Series>,
}

impl Evaluation {
    pub fn series(&self, id: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.id == id)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvaluation {
    pub outcomes: Spanned<Vec<String>>,
    pub treatment: Option<Spanned<String>>,
    pub min_amount: Option<Spanned<f64>>,
    pub control: Option<Spanned<String>>,
    pub anticipation: Option<Spanned<u32>>,
    pub base_period: Option<Spanned<String>>,
    pub bootstrap: Option<RawEvalBootstrap>,
    pub alpha: Option<Spanned<f64>>,
    #[serde(default)]
    pub series: BTreeMap<String, Spanned<RawSeries>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvalBootstrap {
    pub replicates: Option<Spanned<u32>>,
    pub seed: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSeries {
    pub name: String,
    pub unit: String,
    pub direction: Spanned<String>,
    pub definition: Option<String>,
}

/// One of `allowed`, or an error at the value naming the nearest.
pub(super) fn choose<'a>(
    ctx: &Ctx,
    v: &Spanned<String>,
    key: &str,
    allowed: &[&'a str],
) -> Result<&'a str, ConfigError> {
    let s = v.get_ref().as_str();
    allowed.iter().find(|a| **a == s).copied().ok_or_else(|| {
        let near = nearest(s, allowed.iter().copied())
            .map(|n| format!("did you mean `{n}`? "))
            .unwrap_or_default();
        ctx.error(
            v,
            format!("unknown {key} `{s}`"),
            Some(format!("{near}{key} is one of: {}", allowed.join(", "))),
        )
    })
}

pub(super) fn resolve(
    ctx: &Ctx,
    raw: RawEvaluation,
    sources: &[Source],
    is_indicator: &dyn Fn(&str) -> bool,
) -> Result<Evaluation, ConfigError> {
    let mut series = Vec::new();
    for (id, s) in &raw.series {
        let r = s.get_ref();
        let direction = choose(
            ctx,
            &r.direction,
            "direction",
            &["higher_better", "lower_better", "neutral"],
        )?;
        if is_indicator(id) {
            return Err(ctx.error(
                s,
                format!("series `{id}` is a catalogue indicator already"),
                Some("remove the [evaluation.series] entry; catalogue ids need none".into()),
            ));
        }
        series.push(Series {
            id: id.clone(),
            name: r.name.clone(),
            unit: r.unit.clone(),
            direction: direction.to_string(),
            definition: r.definition.clone().unwrap_or_else(|| {
                format!("{}, as the pipeline's city statistics give it.", r.name)
            }),
        });
    }
    let outcomes = raw.outcomes.get_ref().clone();
    if outcomes.is_empty() {
        return Err(ctx.error(
            &raw.outcomes,
            "[evaluation] names no outcomes".into(),
            Some("outcomes = [\"arpr\", \"unemployment_rate\"]".into()),
        ));
    }
    for o in &outcomes {
        if !is_indicator(o) && !series.iter().any(|s| &s.id == o) {
            return Err(ctx.error(
                &raw.outcomes,
                format!("outcome `{o}` is neither a catalogue indicator nor a declared series"),
                Some(format!(
                    "declare it: [evaluation.series.{o}] with name, unit and direction (`cityimpact indicators` lists the catalogue)"
                )),
            ));
        }
    }
    let treatment = match &raw.treatment {
        None => Treatment::TreatedFrom,
        Some(t) => match choose(ctx, t, "treatment", &["treated_from", "first_project"])? {
            "first_project" => Treatment::FirstProject {
                min_amount: raw.min_amount.as_ref().map(|m| *m.get_ref()).unwrap_or(0.0),
            },
            _ => Treatment::TreatedFrom,
        },
    };
    let control = match &raw.control {
        None => Control::NeverTreated,
        Some(c) => match choose(ctx, c, "control", &["never_treated", "not_yet_treated"])? {
            "not_yet_treated" => Control::NotYetTreated,
            _ => Control::NeverTreated,
        },
    };
    let base_period = match &raw.base_period {
        None => BasePeriod::Varying,
        Some(b) => match choose(ctx, b, "base_period", &["varying", "universal"])? {
            "universal" => BasePeriod::Universal,
            _ => BasePeriod::Varying,
        },
    };
    let alpha = match &raw.alpha {
        None => 0.05,
        Some(a) if (0.0..0.5).contains(a.get_ref()) && *a.get_ref() > 0.0 => *a.get_ref(),
        Some(a) => {
            return Err(ctx.error(
                a,
                format!("alpha {} must lie between 0 and 0.5", a.get_ref()),
                Some("0.05 gives 95 % intervals".into()),
            ))
        }
    };
    let (replicates, seed) = match &raw.bootstrap {
        None => (999, 1),
        Some(b) => (
            b.replicates.as_ref().map(|r| *r.get_ref()).unwrap_or(999),
            b.seed.unwrap_or(1),
        ),
    };
    let has = |kind: SourceKind| sources.iter().any(|s| s.kind == kind);
    let at = raw
        .treatment
        .as_ref()
        .map(|t| t.span().start)
        .unwrap_or(raw.outcomes.span().start);
    match treatment {
        Treatment::TreatedFrom if !has(SourceKind::Areas) => {
            return Err(ctx.error_at_offset(
                at,
                "the evaluation needs each area's first treated year, and the pipeline has no `areas` source".into(),
                Some("add an areas source with a `treated_from` column (a year; empty or 0 = never treated), or set treatment = \"first_project\"".into()),
            ))
        }
        Treatment::FirstProject { .. } if !has(SourceKind::Projects) => {
            return Err(ctx.error_at_offset(
                at,
                "treatment = \"first_project\" needs a projects source".into(),
                None,
            ))
        }
        _ => {}
    }
    Ok(Evaluation {
        outcomes,
        treatment,
        control,
        anticipation: raw.anticipation.map(|a| a.into_inner()).unwrap_or(0),
        base_period,
        replicates,
        seed,
        alpha,
        series,
    })
}

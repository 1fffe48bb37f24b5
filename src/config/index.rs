//! `[index]`: a composite index built the way the OECD/JRC handbook and COINr build one. The
//! hierarchy (indicators → pillars → … → index) comes from a structure file in COINr's
//! `iMeta` layout, keyed by indicator code; every step has a setting here, and the whole
//! specification is checked before anything is computed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{nearest, ConfigError, Ctx};

/// One node of the hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub code: String,
    pub name: String,
    /// 1 for indicators, growing to the top node.
    pub level: u32,
    pub parent: Option<String>,
    pub weight: f64,
    /// +1 higher is better, −1 lower is better (indicators).
    pub direction: f64,
    pub unit: String,
    pub target: Option<f64>,
    /// Goalposts (worst, best) for goalpost normalisation: the structure's `GoalLow` and
    /// `GoalHigh`, in the indicator's own direction.
    pub goalposts: Option<(f64, f64)>,
    pub denominator: Option<String>,
    pub indicator: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Normalise {
    MinMax {
        lo: f64,
        hi: f64,
    },
    ZScore {
        mean: f64,
        sd: f64,
    },
    Rank,
    /// Distance to each indicator's target (the structure's `Target`), 0-100, capped at 100.
    Target,
    /// Each indicator between its goalposts (`GoalLow` → 0, `GoalHigh` → 100), clipped.
    Goalposts,
}

impl Normalise {
    pub fn label(&self) -> String {
        match self {
            Normalise::MinMax { lo, hi } => format!("min-max [{lo}, {hi}]"),
            Normalise::ZScore { mean, sd } => format!("z-score (mean {mean}, sd {sd})"),
            Normalise::Rank => "rank".into(),
            Normalise::Target => "distance to target".into(),
            Normalise::Goalposts => "goalposts".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Arithmetic,
    Geometric,
    Harmonic,
}

impl Aggregation {
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Arithmetic => "arithmetic",
            Aggregation::Geometric => "geometric",
            Aggregation::Harmonic => "harmonic",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Impute {
    None,
    Mean,
    Median,
    /// The mean of the unit's group (an `areas` source's `group` role).
    GroupMean,
}

/// COINr's default outlier treatment: winsorise up to `winmax` points while |skewness| >
/// `skew` and kurtosis > `kurtosis`; where that is not enough, a log of the original values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outliers {
    pub winmax: usize,
    pub skew: f64,
    pub kurtosis: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Uncertainty {
    pub runs: u32,
    pub seed: u64,
    /// Aggregate weights are drawn uniformly within ± this share of their value.
    pub weight_share: f64,
    pub normalise: Vec<Normalise>,
    pub aggregate: Vec<Aggregation>,
    /// Saltelli base sample size for the variance-based sensitivity (0: none).
    pub sensitivity_samples: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexSettings {
    /// The top node's code (the structure's highest level).
    pub name: String,
    pub structure_path: String,
    pub nodes: Vec<Node>,
    pub level: Option<String>,
    pub denominate: bool,
    pub impute: Impute,
    pub min_availability: f64,
    pub outliers: Option<Outliers>,
    pub normalise: Normalise,
    pub aggregate: Aggregation,
    pub uncertainty: Option<Uncertainty>,
}

impl IndexSettings {
    pub fn node(&self, code: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.code == code)
    }

    /// Codes the index reads from the pipeline's values: indicators and denominators.
    pub fn inputs(&self) -> BTreeSet<String> {
        let mut s: BTreeSet<String> = BTreeSet::new();
        for n in self.nodes.iter().filter(|n| n.indicator) {
            s.insert(n.code.clone());
            if let Some(d) = &n.denominator {
                s.insert(d.clone());
            }
        }
        s
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIndex {
    pub structure: Spanned<String>,
    pub name: Option<String>,
    pub level: Option<String>,
    pub denominate: Option<bool>,
    pub impute: Option<Spanned<String>>,
    pub min_availability: Option<Spanned<f64>>,
    pub outliers: Option<Spanned<toml::Value>>,
    pub normalise: Option<Spanned<RawNormalise>>,
    pub aggregate: Option<Spanned<String>>,
    pub weights: Option<Spanned<String>>,
    pub uncertainty: Option<RawUncertainty>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNormalise {
    pub method: String,
    pub range: Option<[f64; 2]>,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUncertainty {
    pub runs: Option<u32>,
    pub seed: Option<u64>,
    pub weights: Option<Spanned<f64>>,
    pub normalise: Option<Vec<Spanned<RawNormalise>>>,
    pub aggregate: Option<Vec<Spanned<String>>>,
    pub sensitivity: Option<u32>,
}

fn normalise(ctx: &Ctx, r: &Spanned<RawNormalise>) -> Result<Normalise, ConfigError> {
    let v = r.get_ref();
    let methods = [
        "min-max",
        "z-score",
        "rank",
        "distance-to-target",
        "goalposts",
    ];
    match v.method.as_str() {
        "min-max" => {
            let [lo, hi] = v.range.unwrap_or([0.0, 100.0]);
            if lo >= hi || lo.is_nan() || hi.is_nan() {
                return Err(ctx.error(r, format!("min-max range [{lo}, {hi}] is empty"), None));
            }
            Ok(Normalise::MinMax { lo, hi })
        }
        "z-score" => {
            let sd = v.sd.unwrap_or(1.0);
            if sd <= 0.0 {
                return Err(ctx.error(r, format!("z-score sd {sd} must be positive"), None));
            }
            Ok(Normalise::ZScore {
                mean: v.mean.unwrap_or(0.0),
                sd,
            })
        }
        "rank" => Ok(Normalise::Rank),
        "distance-to-target" => Ok(Normalise::Target),
        "goalposts" => Ok(Normalise::Goalposts),
        other => Err(ctx.error(
            r,
            format!("unknown normalisation `{other}`"),
            Some(format!(
                "{}methods: {}",
                nearest(other, methods)
                    .map(|n| format!("did you mean `{n}`? "))
                    .unwrap_or_default(),
                methods.join(", ")
            )),
        )),
    }
}

fn aggregation(ctx: &Ctx, s: &Spanned<String>) -> Result<Aggregation, ConfigError> {
    match s.get_ref().as_str() {
        "arithmetic" => Ok(Aggregation::Arithmetic),
        "geometric" => Ok(Aggregation::Geometric),
        "harmonic" => Ok(Aggregation::Harmonic),
        other => Err(ctx.error(
            s,
            format!("unknown aggregation `{other}`"),
            Some("arithmetic, geometric or harmonic".into()),
        )),
    }
}

/// Reads the structure file (COINr's `iMeta` columns: `iCode, iName, Level, Parent,
/// Direction, Weight, Unit, Target, Denominator, Type`) and checks it as a tree.
fn structure(path: &Path, shown: &str) -> Result<Vec<Node>, String> {
    // Rows may leave trailing columns out (an aggregate has no goalposts).
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    let headers = r.headers().map_err(|e| format!("{shown}: {e}"))?.clone();
    let at = |name: &str| headers.iter().position(|h| h == name);
    let need = ["iCode", "Level", "Parent", "Type"];
    for n in need {
        if at(n).is_none() {
            return Err(format!(
                "{shown} has no column {n}; a structure file has COINr's iMeta columns: iCode, iName, Level, Parent, Direction, Weight, Unit, Target, Denominator, Type"
            ));
        }
    }
    let mut nodes = Vec::new();
    for (k, rec) in r.records().enumerate() {
        let line = k + 2;
        let rec = rec.map_err(|e| format!("{shown}:{line}: {e}"))?;
        let get = |name: &str| {
            at(name)
                .and_then(|i| rec.get(i))
                .map(str::trim)
                .unwrap_or("")
        };
        let kind = get("Type");
        if kind != "Indicator" && kind != "Aggregate" {
            continue;
        }
        let num = |name: &str, default: f64| -> Result<f64, String> {
            match get(name) {
                "" => Ok(default),
                s => s
                    .parse::<f64>()
                    .map_err(|_| format!("{shown}:{line}: column {name}: `{s}` is not a number")),
            }
        };
        let code = get("iCode").to_string();
        if code.is_empty() {
            return Err(format!("{shown}:{line}: a node without an iCode"));
        }
        let direction = num("Direction", 1.0)?;
        if direction != 1.0 && direction != -1.0 {
            return Err(format!("{shown}:{line}: Direction of {code} is {direction}; it is 1 (higher is better) or -1"));
        }
        let weight = num("Weight", 1.0)?;
        if weight < 0.0 || weight.is_nan() {
            return Err(format!("{shown}:{line}: Weight of {code} is negative"));
        }
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        nodes.push(Node {
            name: opt(get("iName")).unwrap_or_else(|| code.clone()),
            code,
            level: num("Level", 1.0)? as u32,
            parent: opt(get("Parent")),
            weight,
            direction,
            unit: get("Unit").to_string(),
            target: opt(get("Target")).and_then(|t| t.parse().ok()),
            goalposts: match (get("GoalLow"), get("GoalHigh")) {
                ("", "") => None,
                (lo, hi) => Some((
                    lo.parse::<f64>()
                        .map_err(|_| format!("{shown}:{line}: GoalLow `{lo}` is not a number"))?,
                    hi.parse::<f64>()
                        .map_err(|_| format!("{shown}:{line}: GoalHigh `{hi}` is not a number"))?,
                )),
            },
            denominator: opt(get("Denominator")),
            indicator: kind == "Indicator",
        });
    }
    let codes: BTreeSet<&str> = nodes.iter().map(|n| n.code.as_str()).collect();
    if codes.len() != nodes.len() {
        return Err(format!("{shown}: an iCode appears twice"));
    }
    for n in &nodes {
        match &n.parent {
            Some(p) => match nodes.iter().find(|m| &m.code == p) {
                None => {
                    let near = nearest(p, codes.iter().copied())
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                    return Err(format!(
                        "{shown}: the parent `{p}` of {} is not a node{near}",
                        n.code
                    ));
                }
                Some(m) if m.indicator || m.level <= n.level => {
                    return Err(format!("{shown}: {} cannot be the parent of {}: a parent is an aggregate one level up or more", m.code, n.code));
                }
                _ => {}
            },
            None if n.indicator => {
                return Err(format!("{shown}: indicator {} has no parent", n.code))
            }
            None => {}
        }
    }
    let tops: Vec<&Node> = nodes.iter().filter(|n| n.parent.is_none()).collect();
    if tops.len() != 1 {
        return Err(format!(
            "{shown}: the hierarchy needs exactly one top node (an aggregate without a parent); it has {}",
            tops.len()
        ));
    }
    for n in nodes.iter().filter(|n| !n.indicator) {
        if !nodes.iter().any(|m| m.parent.as_deref() == Some(&n.code)) {
            return Err(format!("{shown}: aggregate {} has no children", n.code));
        }
    }
    Ok(nodes)
}

pub(super) fn resolve(ctx: &Ctx, dir: &Path, raw: RawIndex) -> Result<IndexSettings, ConfigError> {
    let shown = raw.structure.get_ref().clone();
    let path: PathBuf = dir.join(&shown);
    let mut nodes = structure(&path, &shown).map_err(|m| {
        ctx.error(
            &raw.structure,
            m,
            Some("the structure file lists every indicator and aggregate with its parent".into()),
        )
    })?;
    let top = nodes
        .iter()
        .find(|n| n.parent.is_none())
        .map(|n| n.code.clone())
        .unwrap_or_default();
    let impute = impute(ctx, raw.impute.as_ref())?;
    let min_availability = min_availability(ctx, raw.min_availability.as_ref())?;
    let outliers = outliers(ctx, raw.outliers.as_ref())?;
    let normalise_main = match &raw.normalise {
        None => Normalise::MinMax { lo: 0.0, hi: 100.0 },
        Some(n) => normalise(ctx, n)?,
    };
    let aggregate = match &raw.aggregate {
        None => Aggregation::Arithmetic,
        Some(a) => aggregation(ctx, a)?,
    };
    let uncertainty = match raw.uncertainty {
        None => None,
        Some(u) => Some(uncertainty(ctx, u, normalise_main, aggregate)?),
    };
    let uses = |m: Normalise| {
        normalise_main == m
            || uncertainty
                .as_ref()
                .is_some_and(|u| u.normalise.contains(&m))
    };
    let missing = |what: &str, lacks: &dyn Fn(&Node) -> bool, nodes: &[Node]| match nodes
        .iter()
        .find(|n| n.indicator && lacks(n))
    {
        Some(n) => Err(ctx.error(
            &raw.structure,
            format!("{what} for every indicator; {} has none", n.code),
            None,
        )),
        None => Ok(()),
    };
    if uses(Normalise::Goalposts) {
        missing(
            "goalpost normalisation needs GoalLow and GoalHigh",
            &|n| n.goalposts.is_none(),
            &nodes,
        )?;
    }
    if let Some(w) = &raw.weights {
        weights(ctx, w, &mut nodes)?;
    }
    if uses(Normalise::Target) {
        missing(
            "distance-to-target normalisation needs a Target",
            &|n| n.target.is_none(),
            &nodes,
        )?;
    }
    Ok(IndexSettings {
        name: raw.name.unwrap_or(top),
        structure_path: shown,
        nodes,
        level: raw.level,
        denominate: raw.denominate.unwrap_or(true),
        impute,
        min_availability,
        outliers,
        normalise: normalise_main,
        aggregate,
        uncertainty,
    })
}

/// How missing values are imputed; none by default.
fn impute(ctx: &Ctx, raw: Option<&Spanned<String>>) -> Result<Impute, ConfigError> {
    Ok(match raw {
        None => Impute::None,
        Some(s) => match s.get_ref().as_str() {
            "none" => Impute::None,
            "mean" => Impute::Mean,
            "median" => Impute::Median,
            "group-mean" => Impute::GroupMean,
            other => {
                return Err(ctx.error(
                    s,
                    format!("unknown imputation `{other}`"),
                    Some(
                        "none, mean, median or group-mean (the areas source's `group` role)".into(),
                    ),
                ))
            }
        },
    })
}

/// The share of indicators a unit needs data for to get a score; half by default.
fn min_availability(ctx: &Ctx, raw: Option<&Spanned<f64>>) -> Result<f64, ConfigError> {
    Ok(match raw {
        None => 0.5,
        Some(a) if (0.0..=1.0).contains(a.get_ref()) => *a.get_ref(),
        Some(a) => return Err(ctx.error(a, "min_availability lies between 0 and 1".into(), None)),
    })
}

/// COINr's outlier treatment: winsorise (its default thresholds, or the file's), or none.
fn outliers(
    ctx: &Ctx,
    raw: Option<&Spanned<toml::Value>>,
) -> Result<Option<Outliers>, ConfigError> {
    Ok(match raw {
        None => Some(Outliers { winmax: 5, skew: 2.0, kurtosis: 3.5 }),
        Some(v) => match v.get_ref() {
            toml::Value::String(s) if s == "none" => None,
            toml::Value::String(s) if s == "winsorise" => Some(Outliers { winmax: 5, skew: 2.0, kurtosis: 3.5 }),
            toml::Value::Table(t) => {
                let f = |k: &str, d: f64| t.get(k).and_then(|x| x.as_float().or(x.as_integer().map(|i| i as f64))).unwrap_or(d);
                if let Some(k) = t.keys().find(|k| !["winmax", "skew", "kurtosis"].contains(&k.as_str())) {
                    return Err(ctx.error(v, format!("unknown key `{k}` in outliers"), Some("winmax, skew, kurtosis".into())));
                }
                Some(Outliers { winmax: f("winmax", 5.0) as usize, skew: f("skew", 2.0), kurtosis: f("kurtosis", 3.5) })
            }
            _ => {
                return Err(ctx.error(
                    v,
                    "outliers is \"winsorise\" (COINr's default), \"none\", or { winmax, skew, kurtosis }".into(),
                    None,
                ))
            }
        },
    })
}

/// The Monte-Carlo settings: the weights' share, and the normalisations and aggregations to
/// draw from (the index's own where none are listed).
fn uncertainty(
    ctx: &Ctx,
    u: RawUncertainty,
    normalise_main: Normalise,
    aggregate: Aggregation,
) -> Result<Uncertainty, ConfigError> {
    let weight_share = match &u.weights {
        None => 0.25,
        Some(w) if (0.0..1.0).contains(w.get_ref()) => *w.get_ref(),
        Some(w) => {
            return Err(ctx.error(
                w,
                "weights is a share between 0 and 1 (0.25 = ±25 %)".into(),
                None,
            ))
        }
    };
    let mut norms = Vec::new();
    for n in u.normalise.iter().flatten() {
        norms.push(normalise(ctx, n)?);
    }
    if norms.is_empty() {
        norms.push(normalise_main);
    }
    let mut aggs = Vec::new();
    for a in u.aggregate.iter().flatten() {
        aggs.push(aggregation(ctx, a)?);
    }
    if aggs.is_empty() {
        aggs.push(aggregate);
    }
    Ok(Uncertainty {
        runs: u.runs.unwrap_or(1000),
        seed: u.seed.unwrap_or(1),
        weight_share,
        normalise: norms,
        aggregate: aggs,
        sensitivity_samples: u.sensitivity.unwrap_or(0),
    })
}

/// The structure's weights, or equal weights within every node.
fn weights(ctx: &Ctx, w: &Spanned<String>, nodes: &mut [Node]) -> Result<(), ConfigError> {
    match w.get_ref().as_str() {
        // Equal weights within every node: the structure's Weight column is set aside.
        "equal" => nodes.iter_mut().for_each(|n| n.weight = 1.0),
        "structure" => {}
        other => {
            return Err(ctx.error(
                w,
                format!("unknown weights `{other}`"),
                Some(
                    "\"structure\" (the structure file's Weight column, the default) or \"equal\""
                        .into(),
                ),
            ))
        }
    }
    Ok(())
}

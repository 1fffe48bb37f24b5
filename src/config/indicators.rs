//! `[indicators]`: which indicators to compute, their breakdowns and age groups, and the
//! bootstrap that gives them intervals.

use toml::Spanned;

use super::*;

/// An age band, both ends inclusive; `max = None` is open-ended (`65+`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeGroup {
    pub min: u32,
    pub max: Option<u32>,
}

impl AgeGroup {
    pub fn label(&self) -> String {
        match self.max {
            Some(max) => format!("{}-{}", self.min, max),
            None => format!("{}+", self.min),
        }
    }

    /// A band starting at 0 also holds age -1 (EU-SILC's age for a child born after the
    /// income reference period).
    pub fn contains(&self, age: f64) -> bool {
        let min = if self.min == 0 { -1.0 } else { self.min as f64 };
        age >= min && self.max.is_none_or(|m| age < (m + 1) as f64)
    }

    pub(super) fn parse(s: &str) -> Option<AgeGroup> {
        let s = s.trim();
        if let Some(min) = s.strip_suffix('+') {
            return Some(AgeGroup {
                min: min.trim().parse().ok()?,
                max: None,
            });
        }
        let (a, b) = s.split_once('-')?;
        let (min, max): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (min <= max).then_some(AgeGroup {
            min,
            max: Some(max),
        })
    }
}

/// Which indicators to compute, and how to break them down.
#[derive(Debug, Clone)]
pub struct IndicatorSelection {
    /// Selected ids per family, in catalogue order.
    pub exclusion: Vec<String>,
    pub spending: Vec<String>,
    pub climate: Vec<String>,
    /// Each breakdown is a sorted list of keys from `area`, `sex`, `age_group`.
    pub breakdowns: Vec<Vec<String>>,
    pub age_groups: Vec<AgeGroup>,
    /// Base year for `ghg_change_vs_base`; `None` means the first year of the source.
    pub base_year: Option<i32>,
    pub bootstrap: Bootstrap,
    pub sroi: SroiSettings,
}

/// Confidence intervals for microdata indicators, by bootstrap over households.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootstrap {
    /// 0 turns the intervals off.
    pub replicates: u32,
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            replicates: 500,
            seed: 1,
        }
    }
}

impl IndicatorSelection {
    pub fn wants(&self, id: &str) -> bool {
        [&self.exclusion, &self.spending, &self.climate]
            .iter()
            .any(|ids| ids.iter().any(|i| i == id))
    }
}

const BREAKDOWN_KEYS: [&str; 3] = ["age_group", "area", "sex"];

/// Eurostat's standard age groups for EU-SILC tables: 0-17, 18-64, 65+ and 16-24, 25-49,
/// 50-64, 65+ (65+ once).
fn default_age_groups() -> Vec<AgeGroup> {
    ["0-17", "18-64", "65+", "16-24", "25-49", "50-64"]
        .iter()
        .filter_map(|s| AgeGroup::parse(s))
        .collect()
}

pub(super) fn resolve_indicators(
    ctx: &Ctx,
    raw: Option<raw::RawIndicators>,
) -> Result<IndicatorSelection, ConfigError> {
    use crate::catalogue::Family;
    let raw = raw.unwrap_or_default();
    Ok(IndicatorSelection {
        exclusion: selection(ctx, Family::Exclusion, &raw.exclusion)?,
        spending: selection(ctx, Family::Spending, &raw.spending)?,
        climate: selection(ctx, Family::Climate, &raw.climate)?,
        breakdowns: breakdowns(ctx, raw.breakdowns)?,
        age_groups: age_groups(ctx, raw.age_groups)?,
        base_year: raw.base_year,
        bootstrap: bootstrap(ctx, raw.bootstrap)?,
        sroi: sroi(ctx, raw.sroi)?,
    })
}

/// A family's selection (`"all"`, `"none"` or a list of ids) in catalogue order, each once.
fn selection(
    ctx: &Ctx,
    family: crate::catalogue::Family,
    sel: &Option<Spanned<toml::Value>>,
) -> Result<Vec<String>, ConfigError> {
    use crate::catalogue;
    let all: Vec<String> = catalogue::ids(family).map(String::from).collect();
    let Some(sel) = sel else { return Ok(all) };
    let shape_error = || {
        ctx.error(
            sel,
            format!("not a selection of {} indicators", family.as_str()),
            Some("write \"all\", \"none\", or a list of indicator ids".into()),
        )
    };
    match sel.get_ref() {
        toml::Value::String(w) if w == "all" => Ok(all),
        toml::Value::String(w) if w == "none" => Ok(Vec::new()),
        toml::Value::Array(items) => {
            let mut ids = Vec::new();
            for item in items {
                let id = item.as_str().ok_or_else(shape_error)?;
                if !all.iter().any(|a| a == id) {
                    let hint = nearest(id, all.iter().map(String::as_str))
                        .map(|n| format!("did you mean `{n}`?"))
                        .unwrap_or_else(|| "`cityimpact indicators` lists the catalogue".into());
                    return Err(ctx.error_at_offset(
                        ctx.value_offset(sel.span(), id),
                        format!("`{id}` is not a {} indicator", family.as_str()),
                        Some(hint),
                    ));
                }
                ids.push(id);
            }
            // Catalogue order, each once.
            Ok(all
                .into_iter()
                .filter(|a| ids.contains(&a.as_str()))
                .collect())
        }
        _ => Err(shape_error()),
    }
}

/// The breakdowns, each a sorted set of known keys, each once; area, sex and age group by
/// default.
fn breakdowns(
    ctx: &Ctx,
    raw: Option<Vec<Spanned<Vec<String>>>>,
) -> Result<Vec<Vec<String>>, ConfigError> {
    Ok(match raw {
        Some(list) => {
            let mut out: Vec<Vec<String>> = Vec::new();
            for b in list {
                let mut keys: Vec<String> = Vec::new();
                for k in b.get_ref() {
                    if !BREAKDOWN_KEYS.contains(&k.as_str()) {
                        let hint = nearest(k, BREAKDOWN_KEYS)
                            .map(|n| format!("did you mean `{n}`?"))
                            .unwrap_or_else(|| {
                                format!("breakdown keys: {}", BREAKDOWN_KEYS.join(", "))
                            });
                        return Err(ctx.error(
                            &b,
                            format!("unknown breakdown key `{k}`"),
                            Some(hint),
                        ));
                    }
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
                keys.sort();
                if !keys.is_empty() && !out.contains(&keys) {
                    out.push(keys);
                }
            }
            out
        }
        None => vec![
            vec!["area".to_string()],
            vec!["sex".to_string()],
            vec!["age_group".to_string()],
        ],
    })
}

/// The age groups of the age breakdown, or the default bands.
fn age_groups(ctx: &Ctx, raw: Option<Vec<Spanned<String>>>) -> Result<Vec<AgeGroup>, ConfigError> {
    Ok(match raw {
        Some(list) => {
            let mut groups = Vec::new();
            for g in list {
                match AgeGroup::parse(g.get_ref()) {
                    Some(a) => groups.push(a),
                    None => {
                        return Err(ctx.error(
                            &g,
                            format!("`{}` is not an age group", g.get_ref()),
                            Some(
                                "write bands like \"18-64\" (both ends included) or \"65+\"".into(),
                            ),
                        ))
                    }
                }
            }
            groups
        }
        None => default_age_groups(),
    })
}

/// The bootstrap's replicates (at most 100 000) and seed.
fn bootstrap(ctx: &Ctx, raw: Option<raw::RawBootstrap>) -> Result<Bootstrap, ConfigError> {
    Ok(match raw {
        Some(b) => {
            if let Some(r) = &b.replicates {
                if *r.get_ref() > 100_000 {
                    return Err(ctx.error(
                        r,
                        format!("{} replicates is more than 100 000", r.get_ref()),
                        Some("500 to 2 000 replicates give stable 95 % intervals".into()),
                    ));
                }
            }
            Bootstrap {
                replicates: b.replicates.map(|r| r.into_inner()).unwrap_or(500),
                seed: b.seed.unwrap_or(1),
            }
        }
        None => Bootstrap::default(),
    })
}

/// SROI's discount rate and the ranges its sensitivity draws from.
fn sroi(ctx: &Ctx, raw: Option<raw::RawSroi>) -> Result<SroiSettings, ConfigError> {
    Ok(match raw {
        Some(r) => {
            let rate = match r.discount_rate {
                Some(d) if !(0.0..1.0).contains(d.get_ref()) => {
                    return Err(ctx.error(
                        &d,
                        format!(
                            "discount_rate {} must lie in 0-1 (0.035 is 3.5 %)",
                            d.get_ref()
                        ),
                        None,
                    ))
                }
                Some(d) => d.into_inner(),
                None => 0.035,
            };
            let range = |v: Option<Spanned<Vec<f64>>>,
                         what: &str|
             -> Result<Option<(f64, f64)>, ConfigError> {
                match v {
                    None => Ok(None),
                    Some(v) => match v.get_ref().as_slice() {
                        [lo, hi]
                            if (0.0..=1.0).contains(lo) && (0.0..=1.0).contains(hi) && lo <= hi =>
                        {
                            Ok(Some((*lo, *hi)))
                        }
                        _ => Err(ctx.error(
                            &v,
                            format!(
                                "{what} must be a range [low, high] of fractions between 0 and 1"
                            ),
                            Some(format!("e.g. {what} = [0.1, 0.3]")),
                        )),
                    },
                }
            };
            SroiSettings {
                discount_rate: rate,
                deadweight: range(r.deadweight, "deadweight")?,
                attribution: range(r.attribution, "attribution")?,
                drop_off: range(r.drop_off, "drop_off")?,
            }
        }
        None => SroiSettings::default(),
    })
}

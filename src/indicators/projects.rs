//! Projects as units: a project's funding rows (one per funder) merged by id, its outcomes
//! attached, and its own indicators: cost per beneficiary, financing mix, leverage, tonnes
//! avoided and their cost, and SROI with its sensitivity range. Built once per run (in
//! [`super::Inputs`]) and shared by the spending and climate families and `projects.parquet`.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::sroi::{self, Outcome, Override, Ranges, Sroi};
use super::{divide, floats, ints, opt_floats, opt_strings, strings, Skipped, Value};
use crate::config::{Pipeline, SourceKind, SroiSettings};
use crate::contracts::{Table, FUNDING_SOURCES};

/// Public money, for leverage; the other funding sources are non-public.
pub const PUBLIC: [&str; 2] = ["public", "eu_fund"];

/// An outcome as the `outcomes` source names it.
#[derive(Debug, Clone)]
pub struct NamedOutcome {
    pub name: String,
    pub outcome: Outcome,
    pub period: Option<i32>,
}

#[derive(Debug, Clone, Default)]
pub struct Project {
    pub id: String,
    pub source: String,
    pub title: Option<String>,
    pub area: String,
    pub theme: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    /// The start year.
    pub period: Option<i32>,
    pub amount: f64,
    /// Amount per funding source, for rows that name one.
    pub by_source: BTreeMap<String, f64>,
    pub rows: usize,
    pub beneficiaries: Option<f64>,
    pub co2e_avoided: Option<f64>,
    pub outcomes: Vec<NamedOutcome>,
    pub sroi: Option<Sroi>,
    pub sroi_range: Option<(f64, f64)>,
}

impl Project {
    pub fn known_amount(&self) -> f64 {
        self.by_source.values().sum()
    }

    pub fn public(&self) -> f64 {
        PUBLIC.iter().filter_map(|s| self.by_source.get(*s)).sum()
    }

    pub fn non_public(&self) -> f64 {
        self.known_amount() - self.public()
    }

    pub fn cost_per_beneficiary(&self) -> Option<f64> {
        divide(self.amount, self.beneficiaries?)
    }

    pub fn cost_per_tco2e(&self) -> Option<f64> {
        divide(self.amount, self.co2e_avoided?)
    }

    pub fn leverage(&self) -> Option<f64> {
        divide(self.non_public(), self.public())
    }

    pub fn share(&self, source: &str) -> Option<f64> {
        divide(
            100.0 * self.by_source.get(source).copied().unwrap_or(0.0),
            self.known_amount(),
        )
    }
}

/// The columns of the projects sources that area-level figures read, and their types.
const AREA_COLUMNS: [(&str, DataType); 9] = [
    ("id", DataType::String),
    ("area", DataType::String),
    ("period", DataType::Int32),
    ("amount", DataType::Float64),
    ("start", DataType::String),
    ("end", DataType::String),
    ("funding_source", DataType::String),
    ("beneficiaries", DataType::Float64),
    ("co2e_avoided_t", DataType::Float64),
];

/// Every projects source's rows as one table, so that an area's totals count each of its
/// projects once, whichever source holds it: ids qualified by their id space where there are
/// several (two sources' `P1` are two projects unless they share an id space), and the
/// optional columns any source has, empty where a source has not. `spreads` gives each row's
/// source booking. `None` without projects sources.
pub fn merged(
    pipeline: &Pipeline,
    tables: &[Table],
) -> PolarsResult<Option<(Table, Vec<crate::config::Spread>)>> {
    let sources: Vec<&Table> = tables
        .iter()
        .filter(|t| t.kind == SourceKind::Projects)
        .collect();
    let Some(first) = sources.first() else {
        return Ok(None);
    };
    let spaces: std::collections::BTreeSet<&str> = sources
        .iter()
        .map(|t| id_space(pipeline, &t.source))
        .collect();
    let present: Vec<&(&str, DataType)> = AREA_COLUMNS
        .iter()
        .filter(|(c, _)| sources.iter().any(|t| t.frame.schema().contains(c)))
        .collect();
    let mut frame: Option<DataFrame> = None;
    let mut spreads = Vec::new();
    let (mut rows_read, mut rows_filtered) = (0, 0);
    for t in &sources {
        let n = t.frame.height();
        let mut columns = Vec::with_capacity(present.len());
        for (name, dtype) in &present {
            let c = match t.frame.column(name) {
                Ok(c) if *name == "id" && spaces.len() > 1 => {
                    let space = id_space(pipeline, &t.source);
                    let ids: Vec<Option<String>> = c
                        .str()?
                        .iter()
                        .map(|id| id.map(|id| format!("{space}\u{1f}{id}")))
                        .collect();
                    Column::new("id".into(), ids)
                }
                Ok(c) => c.cast(dtype)?,
                Err(_) => Column::full_null((*name).into(), n, dtype),
            };
            columns.push(c);
        }
        let df = DataFrame::new(n, columns)?;
        frame = Some(match frame {
            None => df,
            Some(mut all) => {
                all.vstack_mut(&df)?;
                all
            }
        });
        let spread = pipeline
            .source(&t.source)
            .map(|s| s.spread)
            .unwrap_or_default();
        spreads.extend(std::iter::repeat_n(spread, n));
        rows_read += t.rows_read;
        rows_filtered += t.rows_filtered;
    }
    let table = Table {
        source: first.source.clone(),
        kind: SourceKind::Projects,
        frame: frame.unwrap_or_default(),
        rows_read,
        rejects: Vec::new(),
        rows_filtered,
        lines: Vec::new(),
    };
    Ok(Some((table, spreads)))
}

/// A source's id space: the one it names, else its own name (ids are unique per source).
fn id_space<'a>(pipeline: &'a Pipeline, source: &'a str) -> &'a str {
    pipeline
        .sources
        .iter()
        .find(|s| s.name == source)
        .and_then(|s| s.id_space.as_deref())
        .unwrap_or(source)
}

/// Merges project rows by id within their id space (a source, unless sources share one) and
/// attaches outcomes. Outcomes for a project that no projects source has, or that several
/// id spaces have, are reported as skipped. A project id found in several id spaces is named
/// `SPACE/ID` in the outputs, so that project-level values stay one per project.
pub fn collect(
    pipeline: &Pipeline,
    tables: &[Table],
    settings: &SroiSettings,
) -> PolarsResult<(Vec<Project>, Vec<Skipped>)> {
    let mut projects: BTreeMap<(String, String), Project> = BTreeMap::new();
    for t in tables.iter().filter(|t| t.kind == SourceKind::Projects) {
        let space = id_space(pipeline, &t.source);
        let df = &t.frame;
        let id = strings(df, "id")?;
        let area = strings(df, "area")?;
        let amount = floats(df, "amount")?;
        let period = ints(df, "period")?;
        let start = strings(df, "start")?;
        let end = opt_strings(df, "end")?;
        let title = opt_strings(df, "title")?;
        let theme = opt_strings(df, "theme")?;
        let funding = opt_strings(df, "funding_source")?;
        let ben = opt_floats(df, "beneficiaries")?;
        let co2 = opt_floats(df, "co2e_avoided_t")?;
        let at = |v: &Option<Vec<Option<String>>>, i: usize| v.as_ref().and_then(|v| v[i].clone());
        let atf = |v: &Option<Vec<Option<f64>>>, i: usize| v.as_ref().and_then(|v| v[i]);
        for i in 0..df.height() {
            let (Some(pid), Some(a), Some(x)) = (&id[i], &area[i], amount[i]) else {
                continue;
            };
            let p = projects
                .entry((space.to_string(), pid.clone()))
                .or_insert_with(|| Project {
                    id: pid.clone(),
                    source: t.source.clone(),
                    area: a.clone(),
                    ..Project::default()
                });
            p.rows += 1;
            p.amount += x;
            if let Some(f) = at(&funding, i) {
                *p.by_source.entry(f).or_default() += x;
            }
            // The earliest start and latest end over the project's rows.
            if p.start.is_none() || start[i] < p.start {
                p.start = start[i].clone();
                p.period = period[i];
            }
            if let Some(e) = at(&end, i) {
                if p.end.as_ref().is_none_or(|cur| &e > cur) {
                    p.end = Some(e);
                }
            }
            p.title = p.title.take().or_else(|| at(&title, i));
            p.theme = p.theme.take().or_else(|| at(&theme, i));
            // Beneficiaries and tonnes belong to the project: the largest stated, once.
            if let Some(b) = atf(&ben, i) {
                p.beneficiaries = Some(p.beneficiaries.map_or(b, |cur| cur.max(b)));
            }
            if let Some(c) = atf(&co2, i) {
                p.co2e_avoided = Some(p.co2e_avoided.map_or(c, |cur| cur.max(c)));
            }
        }
    }

    // id → the id spaces that have it.
    let mut spaces: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (space, id) in projects.keys() {
        spaces.entry(id.clone()).or_default().push(space.clone());
    }
    let mut skipped = Vec::new();
    for t in tables.iter().filter(|t| t.kind == SourceKind::Outcomes) {
        let named_space = pipeline
            .sources
            .iter()
            .find(|s| s.name == t.source)
            .and_then(|s| s.id_space.clone());
        let df = &t.frame;
        let project = strings(df, "project")?;
        let name = strings(df, "outcome")?;
        let quantity = floats(df, "quantity")?;
        let proxy = floats(df, "proxy")?;
        let period = ints(df, "period")?;
        let opt = |c: &str| opt_floats(df, c);
        let (dw, disp, attr, drop, years) = (
            opt("deadweight")?,
            opt("displacement")?,
            opt("attribution")?,
            opt("drop_off")?,
            opt("duration_years")?,
        );
        let atf = |v: &Option<Vec<Option<f64>>>, i: usize| v.as_ref().and_then(|v| v[i]);
        for i in 0..df.height() {
            let (Some(pid), Some(n), Some(q), Some(x)) =
                (&project[i], &name[i], quantity[i], proxy[i])
            else {
                continue;
            };
            let outcome = Outcome {
                quantity: q,
                proxy: x,
                deadweight: atf(&dw, i).unwrap_or(0.0),
                displacement: atf(&disp, i).unwrap_or(0.0),
                attribution: atf(&attr, i).unwrap_or(0.0),
                drop_off: atf(&drop, i).unwrap_or(0.0),
                years: atf(&years, i).map(|y| y.round() as u32).unwrap_or(1),
            };
            let found = spaces.get(pid).map(Vec::as_slice).unwrap_or_default();
            let space = match &named_space {
                Some(s) => found.iter().find(|f| *f == s),
                None if found.len() == 1 => found.first(),
                None => None,
            };
            let Some(p) = space.and_then(|s| projects.get_mut(&(s.clone(), pid.clone()))) else {
                let reason = match (&named_space, found.len()) {
                    (None, n) if n > 1 => format!(
                        "source `{}` has an outcome for project `{pid}`, which the id spaces {} all have; set `id_space` on [sources.{}] to say which",
                        t.source,
                        found.join(", "),
                        t.source
                    ),
                    (Some(s), _) => format!(
                        "source `{}` has an outcome for project `{pid}`, which id space `{s}` does not have",
                        t.source
                    ),
                    _ => format!(
                        "source `{}` has an outcome for project `{pid}`, which no projects source has",
                        t.source
                    ),
                };
                skipped.push(Skipped {
                    indicator: "sroi".into(),
                    area: pid.clone(),
                    period: period[i],
                    reason,
                    projects: None,
                });
                continue;
            };
            p.outcomes.push(NamedOutcome {
                name: n.clone(),
                outcome,
                period: period[i],
            });
        }
    }

    let ranges = Ranges {
        deadweight: settings.deadweight,
        attribution: settings.attribution,
        drop_off: settings.drop_off,
    };
    for p in projects.values_mut() {
        if p.outcomes.is_empty() {
            continue;
        }
        let outcomes: Vec<Outcome> = p.outcomes.iter().map(|o| o.outcome.clone()).collect();
        p.sroi = Some(sroi::sroi(
            &outcomes,
            p.amount,
            settings.discount_rate,
            Override::default(),
        ));
        if !ranges.is_empty() {
            p.sroi_range = sroi::sroi_range(&outcomes, p.amount, settings.discount_rate, ranges);
        }
    }
    let projects = projects
        .into_iter()
        .map(|((space, id), mut p)| {
            if spaces.get(&id).is_some_and(|s| s.len() > 1) {
                p.id = format!("{space}/{id}");
            }
            p
        })
        .collect();
    Ok((projects, skipped))
}

/// Project ids a note names before it only counts the rest.
const NAMED: usize = 5;

/// Projects without a value for the same reason: (indicator, reason), then how many and the
/// first few ids.
type Missing = ((String, &'static str), (usize, Vec<String>));

/// Project-level indicator values (level `project`, the project id as the area), and one
/// note per indicator and reason for the projects that have no value.
pub fn values(projects: &[Project], want: &dyn Fn(&str) -> bool) -> (Vec<Value>, Vec<Skipped>) {
    let mut values = Vec::new();
    let mut missing: Vec<Missing> = Vec::new();
    let mut push =
        |id: &str, p: &Project, v: Option<f64>, ratio: Option<(f64, f64)>, why: &'static str| {
            if !want(id) {
                return;
            }
            match v {
                Some(v) if v.is_finite() => {
                    let mut value = Value::new(id, &p.id, "project", p.period, v).n(p.rows);
                    if let Some((num, den)) = ratio {
                        value = value.ratio(num, den);
                    }
                    values.push(value)
                }
                _ => {
                    let at = match missing.iter().position(|((i, w), _)| i == id && *w == why) {
                        Some(at) => at,
                        None => {
                            missing.push(((id.to_string(), why), (0, Vec::new())));
                            missing.len() - 1
                        }
                    };
                    let (count, named) = &mut missing[at].1;
                    *count += 1;
                    if named.len() < NAMED {
                        named.push(p.id.clone());
                    }
                }
            }
        };
    for p in projects {
        if let Some(b) = p.beneficiaries {
            push(
                "cost_per_beneficiary",
                p,
                p.cost_per_beneficiary(),
                Some((p.amount, b)),
                "the project reports zero beneficiaries",
            );
        }
        if !p.by_source.is_empty() {
            for s in FUNDING_SOURCES {
                let amount = p.by_source.get(s).copied().unwrap_or(0.0);
                push(
                    &format!("financing_share_{s}"),
                    p,
                    p.share(s),
                    Some((amount, p.known_amount())),
                    "the project's amount is zero",
                );
            }
            push(
                "leverage_ratio",
                p,
                p.leverage(),
                Some((p.non_public(), p.public())),
                "the project has no public money to lever",
            );
        }
        if let Some(t) = p.co2e_avoided {
            push("co2e_avoided", p, Some(t), None, "");
            push(
                "cost_per_tco2e_avoided",
                p,
                p.cost_per_tco2e(),
                Some((p.amount, t)),
                "the project avoids zero tonnes",
            );
        }
        if let Some(s) = p.sroi {
            push(
                "sroi",
                p,
                s.ratio,
                Some((s.present_value, s.inputs)),
                "the project's inputs are zero",
            );
        }
    }
    let skipped = missing
        .into_iter()
        .map(|((indicator, reason), (count, named))| {
            let more = count - named.len();
            let mut area = named.join(", ");
            if more > 0 {
                area.push_str(&format!(" and {more} more"));
            }
            Skipped {
                indicator,
                area,
                period: None,
                reason: reason.to_string(),
                projects: Some(count),
            }
        })
        .collect();
    (values, skipped)
}

/// `projects.parquet`: one row per project with its own indicators.
pub fn table(projects: &[Project]) -> PolarsResult<DataFrame> {
    let n = projects.len();
    let s = |name: &str, f: &dyn Fn(&Project) -> Option<String>| {
        Column::new(name.into(), projects.iter().map(f).collect::<Vec<_>>())
    };
    let x = |name: &str, f: &dyn Fn(&Project) -> Option<f64>| {
        Column::new(
            name.into(),
            projects
                .iter()
                .map(|p| f(p).filter(|v| v.is_finite()))
                .collect::<Vec<_>>(),
        )
    };
    let mut columns = vec![
        s("project", &|p| Some(p.id.clone())),
        s("source", &|p| Some(p.source.clone())),
        s("title", &|p| p.title.clone()),
        s("area", &|p| Some(p.area.clone())),
        s("theme", &|p| p.theme.clone()),
        Column::new(
            "period".into(),
            projects.iter().map(|p| p.period).collect::<Vec<_>>(),
        ),
        s("start", &|p| p.start.clone()),
        s("end", &|p| p.end.clone()),
        Column::new(
            "funding_rows".into(),
            projects.iter().map(|p| p.rows as i64).collect::<Vec<_>>(),
        ),
        x("amount", &|p| Some(p.amount)),
    ];
    for src in FUNDING_SOURCES {
        columns.push(x(&format!("amount_{src}"), &|p| {
            p.by_source.get(src).copied()
        }));
    }
    for src in FUNDING_SOURCES {
        columns.push(x(&format!("financing_share_{src}"), &|p| {
            if p.by_source.is_empty() {
                None
            } else {
                p.share(src)
            }
        }));
    }
    columns.extend([
        x("leverage_ratio", &|p| {
            if p.by_source.is_empty() {
                None
            } else {
                p.leverage()
            }
        }),
        x("beneficiaries", &|p| p.beneficiaries),
        x("cost_per_beneficiary", &|p| p.cost_per_beneficiary()),
        x("co2e_avoided", &|p| p.co2e_avoided),
        x("cost_per_tco2e_avoided", &|p| p.cost_per_tco2e()),
        x("sroi_inputs", &|p| p.sroi.map(|s| s.inputs)),
        x("sroi_present_value", &|p| p.sroi.map(|s| s.present_value)),
        x("sroi_net_present_value", &|p| {
            p.sroi.map(|s| s.net_present_value)
        }),
        x("sroi", &|p| p.sroi.and_then(|s| s.ratio)),
        x("sroi_min", &|p| p.sroi_range.map(|r| r.0)),
        x("sroi_max", &|p| p.sroi_range.map(|r| r.1)),
    ]);
    DataFrame::new(n, columns)
}

/// `outcomes.parquet`: one row per project outcome with its present value.
pub fn outcomes_table(projects: &[Project], discount_rate: f64) -> PolarsResult<DataFrame> {
    let rows: Vec<(&Project, &NamedOutcome)> = projects
        .iter()
        .flat_map(|p| p.outcomes.iter().map(move |o| (p, o)))
        .collect();
    let f = |name: &str, g: &dyn Fn(&Outcome) -> f64| {
        Column::new(
            name.into(),
            rows.iter().map(|(_, o)| g(&o.outcome)).collect::<Vec<_>>(),
        )
    };
    DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "project".into(),
                rows.iter().map(|(p, _)| p.id.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "outcome".into(),
                rows.iter()
                    .map(|(_, o)| o.name.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "period".into(),
                rows.iter().map(|(_, o)| o.period).collect::<Vec<_>>(),
            ),
            f("quantity", &|o| o.quantity),
            f("proxy", &|o| o.proxy),
            f("deadweight", &|o| o.deadweight),
            f("displacement", &|o| o.displacement),
            f("attribution", &|o| o.attribution),
            f("drop_off", &|o| o.drop_off),
            Column::new(
                "duration_years".into(),
                rows.iter()
                    .map(|(_, o)| o.outcome.years as i32)
                    .collect::<Vec<_>>(),
            ),
            f("present_value", &|o| {
                o.present_value(discount_rate, Override::default())
            }),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(id: &str, public: f64, private: f64) -> Project {
        let mut by_source = BTreeMap::new();
        by_source.insert("public".to_string(), public);
        by_source.insert("private".to_string(), private);
        Project {
            id: id.into(),
            area: "D1".into(),
            period: Some(2021),
            amount: public + private,
            by_source,
            rows: 2,
            ..Project::default()
        }
    }

    #[test]
    fn projects_without_a_value_share_one_note_per_reason() {
        // Seven privately funded projects have no leverage ratio (nothing public to lever);
        // one has 100 public and 300 private: leverage 3.
        let mut projects: Vec<Project> = (1..=7)
            .map(|i| project(&format!("P{i}"), 0.0, 50.0))
            .collect();
        projects.push(project("Q", 100.0, 300.0));
        let (got, skipped) = values(&projects, &|id| id == "leverage_ratio");
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].area.as_str(), got[0].value), ("Q", 3.0));
        assert_eq!(
            skipped,
            [Skipped {
                indicator: "leverage_ratio".into(),
                area: "P1, P2, P3, P4, P5 and 2 more".into(),
                period: None,
                reason: "the project has no public money to lever".into(),
                projects: Some(7),
            }]
        );
        // A note for one project names it and nothing more.
        let (_, one) = values(&projects[..1], &|id| id == "leverage_ratio");
        assert_eq!((one[0].area.as_str(), one[0].projects), ("P1", Some(1)));
    }
}

//! Funding rows merged into projects. The rows are sorted by id once; each project is a run of
//! equal ids, and its fields come from one pass over the run's rows. Text fields are taken
//! from the rows' columns by position, so no String is made per project.

use std::collections::{BTreeMap, HashMap, HashSet};

use polars::prelude::*;

use super::super::sroi::{self, Outcome, Override, Ranges, Sroi};
use super::super::{divide, floats, ints, opt_floats, strings, Skipped};
use super::super::{number_column, text_column, year_column};
use super::{id_space, known_amount, public_amount, NamedOutcome, Projects, Rows, SPACE_SEPARATOR};
use crate::config::{Pipeline, SourceKind, SroiSettings};
use crate::contracts::{Table, FUNDING_SOURCES};

/// The texts a project takes from the first of its rows that has them: its title and theme,
/// and the recipient and funder a grant names (360Giving).
const FIRST_TEXTS: [&str; 6] = [
    "title",
    "theme",
    "recipient_id",
    "recipient",
    "funder_id",
    "funder",
];

/// The merged rows' columns, each in one chunk for access by position.
struct Cells {
    id: StringChunked,
    area: StringChunked,
    amount: Float64Chunked,
    period: Int32Chunked,
    start: StringChunked,
    end: Option<StringChunked>,
    /// The [`FIRST_TEXTS`] columns.
    firsts: [Option<StringChunked>; FIRST_TEXTS.len()],
    funding: Option<StringChunked>,
    beneficiaries: Option<Float64Chunked>,
    co2e: Option<Float64Chunked>,
}

impl Cells {
    fn new(df: &DataFrame) -> PolarsResult<Cells> {
        let text = |c: &str| text_column(df, c);
        let opt_text = |c: &str| df.schema().contains(c).then(|| text(c)).transpose();
        let number = |c: &str| number_column(df, c);
        let opt_number = |c: &str| df.schema().contains(c).then(|| number(c)).transpose();
        Ok(Cells {
            id: text("id")?,
            area: text("area")?,
            amount: number("amount")?,
            period: year_column(df, "period")?,
            start: text("start")?,
            end: opt_text("end")?,
            firsts: [
                opt_text(FIRST_TEXTS[0])?,
                opt_text(FIRST_TEXTS[1])?,
                opt_text(FIRST_TEXTS[2])?,
                opt_text(FIRST_TEXTS[3])?,
                opt_text(FIRST_TEXTS[4])?,
                opt_text(FIRST_TEXTS[5])?,
            ],
            funding: opt_text("funding_source")?,
            beneficiaries: opt_number("beneficiaries")?,
            co2e: opt_number("co2e_avoided_t")?,
        })
    }
}

/// A row position in [`Acc`]: polars' own index type, with its largest value for "none".
/// Projects are many (7 M in a gigabyte of grants), so an `Acc` is kept small: four bytes a
/// row position instead of sixteen for an `Option<usize>`.
type Row = IdxSize;
const NO_ROW: Row = IdxSize::MAX;

fn row(r: Row) -> Option<usize> {
    (r != NO_ROW).then_some(r as usize)
}

/// One project while its rows are read: positions of the rows that give its texts, and its
/// sums. Every field is a number, so a run of projects costs no allocation.
struct Acc {
    first: Row,
    start: Row,
    end: Row,
    /// The first row with each of [`FIRST_TEXTS`].
    firsts: [Row; FIRST_TEXTS.len()],
    rows: u32,
    amount: f64,
    /// The amount per funding source, where `funded` has the source's bit.
    by_source: [f64; FUNDING_SOURCES.len()],
    funded: u8,
    beneficiaries: Option<f64>,
    co2e: Option<f64>,
    /// The area figures' view: the earliest period of the rows, and the amount summed in
    /// sorted order (as [`super::super::sum_of`] sums, so that the figures do not depend on
    /// the order of the rows).
    min_period: Option<i32>,
    sorted_amount: f64,
}

impl Acc {
    fn new(row: usize) -> Acc {
        Acc {
            first: row as Row,
            start: row as Row,
            end: NO_ROW,
            firsts: [NO_ROW; FIRST_TEXTS.len()],
            rows: 0,
            amount: 0.0,
            by_source: [0.0; FUNDING_SOURCES.len()],
            funded: 0,
            beneficiaries: None,
            co2e: None,
            min_period: None,
            sorted_amount: 0.0,
        }
    }

    fn add(&mut self, c: &Cells, r: usize, x: f64) {
        fn text(col: &Option<StringChunked>, r: usize) -> Option<&str> {
            col.as_ref().and_then(|c| c.get(r))
        }
        fn number(col: &Option<Float64Chunked>, r: usize) -> Option<f64> {
            col.as_ref().and_then(|c| c.get(r))
        }
        self.rows += 1;
        self.amount += x;
        if let Some(p) = c.period.get(r) {
            self.min_period = Some(self.min_period.map_or(p, |m| m.min(p)));
        }
        if let Some(f) = text(&c.funding, r) {
            if let Some(k) = FUNDING_SOURCES.iter().position(|s| *s == f) {
                self.by_source[k] += x;
                self.funded |= 1 << k;
            }
        }
        // The earliest start and latest end over the project's rows.
        let current = c.start.get(self.start as usize);
        if current.is_none() || c.start.get(r) < current {
            self.start = r as Row;
        }
        if let Some(e) = text(&c.end, r) {
            if row(self.end).is_none_or(|cur| Some(e) > text(&c.end, cur)) {
                self.end = r as Row;
            }
        }
        for (first, column) in self.firsts.iter_mut().zip(&c.firsts) {
            if *first == NO_ROW && text(column, r).is_some() {
                *first = r as Row;
            }
        }
        // Beneficiaries and tonnes belong to the project: the largest stated, once.
        if let Some(b) = number(&c.beneficiaries, r) {
            self.beneficiaries = Some(self.beneficiaries.map_or(b, |cur| cur.max(b)));
        }
        if let Some(t) = number(&c.co2e, r) {
            self.co2e = Some(self.co2e.map_or(t, |cur| cur.max(t)));
        }
    }

    /// The amount from funding source `k`, where a row named it.
    fn source(&self, k: usize) -> Option<f64> {
        (self.funded & (1 << k) != 0).then_some(self.by_source[k])
    }

    fn known_amount(&self) -> f64 {
        known_amount(|k| self.source(k))
    }

    fn public(&self) -> f64 {
        public_amount(|k| self.source(k))
    }

    fn funded(&self) -> bool {
        self.funded != 0
    }

    fn share(&self, k: usize) -> Option<f64> {
        if !self.funded() {
            return None;
        }
        divide(100.0 * self.source(k).unwrap_or(0.0), self.known_amount())
    }

    fn leverage(&self) -> Option<f64> {
        if !self.funded() {
            return None;
        }
        let public = self.public();
        divide(self.known_amount() - public, public)
    }
}

/// The projects in the order of their (merged, space-qualified) ids.
fn accumulate(c: &Cells) -> PolarsResult<Vec<Acc>> {
    let order = c.id.arg_sort(SortOptions {
        descending: false,
        nulls_last: true,
        multithreaded: true,
        maintain_order: true,
        limit: None,
    });
    let order = order.rechunk();
    let order = order.cont_slice()?;
    // Where each run of equal ids ends, found in one pass: the runs bound the loop below,
    // and their count sizes the projects, allocated once rather than grown (and copied) by
    // doubling.
    let mut ends: Vec<usize> = (1..order.len())
        .filter(|&i| c.id.get(order[i - 1] as usize) != c.id.get(order[i] as usize))
        .collect();
    ends.extend((!order.is_empty()).then_some(order.len()));
    let mut projects = Vec::with_capacity(ends.len());
    let mut amounts = Vec::new();
    let mut begin = 0;
    for end in ends {
        let run = &order[begin..end];
        begin = end;
        if c.id.get(run[0] as usize).is_none() {
            break; // nulls come last
        }
        let mut acc: Option<Acc> = None;
        amounts.clear();
        for &r in run {
            let r = r as usize;
            let (Some(_), Some(x)) = (c.area.get(r), c.amount.get(r)) else {
                continue;
            };
            acc.get_or_insert_with(|| Acc::new(r)).add(c, r, x);
            amounts.push(x);
        }
        if let Some(mut acc) = acc {
            amounts.sort_by(f64::total_cmp);
            acc.sorted_amount = amounts.iter().copied().reduce(|s, x| s + x).unwrap_or(0.0);
            projects.push(acc);
        }
    }
    Ok(projects)
}

/// Merges project rows by id within their id space (a source, unless sources share one) and
/// attaches outcomes. Outcomes for a project that no projects source has, or that several
/// id spaces have, are reported as skipped. A project id found in several id spaces is named
/// `SPACE/ID` in the outputs, so that project-level values stay one per project.
pub fn collect(
    pipeline: &Pipeline,
    tables: &[Table],
    rows: Option<&Rows>,
    settings: &SroiSettings,
) -> PolarsResult<(Projects, Vec<Skipped>)> {
    let empty;
    let rows = match rows {
        Some(rows) => rows,
        None => {
            empty = Rows::empty();
            &empty
        }
    };
    let cells = Cells::new(&rows.table.frame)?;
    let projects = accumulate(&cells)?;
    // The columns the sums were read from go now (with 7 M projects every column counts);
    // the texts stay, to be taken below.
    let Cells {
        id,
        area,
        amount,
        period,
        start: starts,
        end,
        firsts: first_texts,
        funding,
        beneficiaries,
        co2e,
    } = cells;
    let stated = (beneficiaries.is_some(), co2e.is_some());
    drop((amount, funding, beneficiaries, co2e));
    let at = |f: &dyn Fn(&Acc) -> Row| -> IdxCa {
        projects
            .iter()
            .map(|p| row(f(p)).map(|r| r as IdxSize))
            .collect()
    };
    let first = at(&|p| p.first);
    let keys = id.take(&first)?;
    drop(id);
    let (ids, raw, spaces) = project_ids(pipeline, rows, &keys);
    let (outcomes, skipped) = attach_outcomes(pipeline, tables, &raw, &spaces)?;
    drop((keys, raw, spaces));

    let ranges = Ranges {
        deadweight: settings.deadweight,
        attribution: settings.attribution,
        drop_off: settings.drop_off,
    };
    let sroi = project_sroi(&projects, &outcomes, settings.discount_rate, ranges);
    let numbers = figures(&projects, &sroi);
    // Each project's area, taken once for both tables.
    let project_area = area.take(&first)?.into_column();
    drop(area);
    let areas = area_view(project_area.clone(), stated, &projects)?;
    // The rows the texts are taken from; the projects' sums go before the texts are taken,
    // so that the two are not held at once (a gigabyte each at 7 M projects).
    let start = at(&|p| p.start);
    let end_rows = at(&|p| p.end);
    let firsts: Vec<IdxCa> = (0..FIRST_TEXTS.len())
        .map(|k| at(&|p| p.firsts[k]))
        .collect();
    let n = projects.len();
    drop(projects);
    let text = |col: &Option<StringChunked>, name: &str, idx: &IdxCa| -> PolarsResult<Column> {
        Ok(match col {
            Some(c) => c.take(idx)?.with_name(name.into()).into_column(),
            None => Column::full_null(name.into(), n, &DataType::String),
        })
    };
    let source = rows
        .source_column()
        .as_materialized_series()
        .take(&first)?
        .into_column();
    let mut columns = vec![
        ids.into_column(),
        source,
        text(&first_texts[0], "title", &firsts[0])?,
        project_area,
        text(&first_texts[1], "theme", &firsts[1])?,
        text(&first_texts[2], "recipient_id", &firsts[2])?,
        text(&first_texts[3], "recipient", &firsts[3])?,
        text(&first_texts[4], "funder_id", &firsts[4])?,
        text(&first_texts[5], "funder", &firsts[5])?,
        period.take(&start)?.into_column(),
        starts.take(&start)?.into_column(),
        text(&end, "end", &end_rows)?,
    ];
    columns.extend(numbers);
    let frame = DataFrame::new(n, columns)?;
    Ok((
        Projects {
            frame,
            outcomes,
            areas,
        },
        skipped,
    ))
}

/// Each project's SROI (by its place among the projects) and its sensitivity range.
type SroiOf = BTreeMap<usize, (Sroi, Option<(f64, f64)>)>;

/// Each project's own figures as columns, in `projects.parquet`'s order: its funding rows,
/// amounts by funding source and their shares, leverage, beneficiaries and tonnes avoided and
/// what each cost, and its SROI with the sensitivity range. A value that is not a number
/// (a division by zero) is missing.
fn figures(projects: &[Acc], sroi: &SroiOf) -> Vec<Column> {
    let x = |name: &str, f: &dyn Fn(usize, &Acc) -> Option<f64>| {
        projects
            .iter()
            .enumerate()
            .map(|(i, p)| f(i, p).filter(|v| v.is_finite()))
            .collect::<Float64Chunked>()
            .with_name(name.into())
            .into_column()
    };
    let mut numbers = vec![
        Column::new(
            "funding_rows".into(),
            projects
                .iter()
                .map(|p| i64::from(p.rows))
                .collect::<Vec<_>>(),
        ),
        x("amount", &|_, p| Some(p.amount)),
    ];
    for (k, src) in FUNDING_SOURCES.iter().enumerate() {
        numbers.push(x(&format!("amount_{src}"), &|_, p| p.source(k)));
    }
    for (k, src) in FUNDING_SOURCES.iter().enumerate() {
        numbers.push(x(&format!("financing_share_{src}"), &|_, p| p.share(k)));
    }
    let s = |i: usize| sroi.get(&i);
    numbers.extend([
        x("leverage_ratio", &|_, p| p.leverage()),
        x("beneficiaries", &|_, p| p.beneficiaries),
        x("cost_per_beneficiary", &|_, p| {
            p.beneficiaries.and_then(|b| divide(p.amount, b))
        }),
        x("co2e_avoided", &|_, p| p.co2e),
        x("cost_per_tco2e_avoided", &|_, p| {
            p.co2e.and_then(|t| divide(p.amount, t))
        }),
        x("sroi_inputs", &|i, _| s(i).map(|s| s.0.inputs)),
        x("sroi_present_value", &|i, _| {
            s(i).map(|s| s.0.present_value)
        }),
        x("sroi_net_present_value", &|i, _| {
            s(i).map(|s| s.0.net_present_value)
        }),
        x("sroi", &|i, _| s(i).and_then(|s| s.0.ratio)),
        x("sroi_min", &|i, _| s(i).and_then(|s| s.1).map(|r| r.0)),
        x("sroi_max", &|i, _| s(i).and_then(|s| s.1).map(|r| r.1)),
    ]);
    numbers
}

/// Each project as the area figures count it: area, earliest period, amount (summed in
/// sorted order), and beneficiaries and tonnes where the rows have them.
fn area_view(
    area: Column,
    (beneficiaries, co2e): (bool, bool),
    projects: &[Acc],
) -> PolarsResult<DataFrame> {
    let mut columns = vec![
        area,
        Column::new(
            "period".into(),
            projects.iter().map(|p| p.min_period).collect::<Vec<_>>(),
        ),
        Column::new(
            "amount".into(),
            projects.iter().map(|p| p.sorted_amount).collect::<Vec<_>>(),
        ),
    ];
    if beneficiaries {
        columns.push(Column::new(
            "beneficiaries".into(),
            projects.iter().map(|p| p.beneficiaries).collect::<Vec<_>>(),
        ));
    }
    if co2e {
        columns.push(Column::new(
            "co2e_avoided_t".into(),
            projects.iter().map(|p| p.co2e).collect::<Vec<_>>(),
        ));
    }
    DataFrame::new(projects.len(), columns)
}

/// The id spaces of the projects: one for all, or each its own.
enum Spaces {
    One(String),
    Each(Vec<String>),
}

impl Spaces {
    fn get(&self, row: usize) -> &str {
        match self {
            Spaces::One(s) => s,
            Spaces::Each(v) => &v[row],
        }
    }
}

/// Each project's id as the outputs write it, its id as its source gives it, and its id
/// space. A merged id is `SPACE␟ID` where there are several spaces; the output is `ID`, or
/// `SPACE/ID` where several spaces have the id.
fn project_ids(
    pipeline: &Pipeline,
    rows: &Rows,
    keys: &StringChunked,
) -> (StringChunked, StringChunked, Spaces) {
    let mut names: Vec<&str> = rows
        .sources
        .iter()
        .map(|(s, _)| id_space(pipeline, s))
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.len() < 2 {
        let space = names.first().map(|s| s.to_string()).unwrap_or_default();
        let ids = keys.clone().with_name("project".into());
        return (ids, keys.clone(), Spaces::One(space));
    }
    fn split(k: Option<&str>) -> (&str, &str) {
        k.unwrap_or("")
            .split_once(SPACE_SEPARATOR)
            .unwrap_or(("", ""))
    }
    let raw: StringChunked = keys.iter().map(|k| Some(split(k).1)).collect();
    let spaces = Spaces::Each(keys.iter().map(|k| split(k).0.to_string()).collect());
    let mut count: HashMap<&str, usize> = HashMap::new();
    for id in raw.iter().flatten() {
        *count.entry(id).or_default() += 1;
    }
    let ids: StringChunked = raw
        .iter()
        .enumerate()
        .map(|(row, id)| {
            let id = id.unwrap_or("");
            Some(if count[id] > 1 {
                format!("{}/{id}", spaces.get(row))
            } else {
                id.to_string()
            })
        })
        .collect();
    (ids.with_name("project".into()), raw, spaces)
}

/// The projects that outcomes name: raw id → (id space, row) of every project with that id.
#[derive(Default)]
struct Owners(HashMap<String, Vec<(String, usize)>>);

impl Owners {
    /// Finds the owners of the ids that the outcomes name, in one pass over the projects.
    fn find(raw: &StringChunked, spaces: &Spaces, wanted: &HashSet<String>) -> Owners {
        let mut owners = Owners::default();
        for (row, id) in raw.iter().enumerate() {
            if let Some(id) = id.filter(|id| wanted.contains(*id)) {
                owners
                    .0
                    .entry(id.to_string())
                    .or_default()
                    .push((spaces.get(row).to_string(), row));
            }
        }
        owners
    }
}

/// Outcomes by the row of their project.
type Attached = Vec<(usize, NamedOutcome)>;

/// Each outcome attached to its project (by its row in the projects' frame), in project
/// order; the outcomes that find no single project, as notes.
fn attach_outcomes(
    pipeline: &Pipeline,
    tables: &[Table],
    raw: &StringChunked,
    spaces: &Spaces,
) -> PolarsResult<(Attached, Vec<Skipped>)> {
    let outcome_tables: Vec<&Table> = tables
        .iter()
        .filter(|t| t.kind == SourceKind::Outcomes)
        .collect();
    let mut wanted = HashSet::new();
    for t in &outcome_tables {
        wanted.extend(strings(&t.frame, "project")?.into_iter().flatten());
    }
    let owners = Owners::find(raw, spaces, &wanted);
    let mut attached = Vec::new();
    let mut skipped = Vec::new();
    for t in outcome_tables {
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
            let found = owners.0.get(pid).map(Vec::as_slice).unwrap_or_default();
            let owner = match &named_space {
                Some(s) => found.iter().find(|f| &f.0 == s),
                None if found.len() == 1 => found.first(),
                None => None,
            };
            let Some((_, row)) = owner else {
                let found: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
                skipped.push(Skipped {
                    indicator: "sroi".into(),
                    area: pid.clone(),
                    period: period[i],
                    reason: unmatched(&t.source, pid, named_space.as_deref(), &found),
                    projects: None,
                });
                continue;
            };
            attached.push((
                *row,
                NamedOutcome {
                    name: n.clone(),
                    outcome,
                    period: period[i],
                },
            ));
        }
    }
    // Project order; a project's outcomes in the order the sources give them.
    attached.sort_by_key(|(row, _)| *row);
    Ok((attached, skipped))
}

/// Why an outcome found no project.
fn unmatched(source: &str, pid: &str, named_space: Option<&str>, found: &[&str]) -> String {
    match (named_space, found.len()) {
        (None, n) if n > 1 => format!(
            "source `{source}` has an outcome for project `{pid}`, which the id spaces {} all have; set `id_space` on [sources.{source}] to say which",
            found.join(", "),
        ),
        (Some(s), _) => format!(
            "source `{source}` has an outcome for project `{pid}`, which id space `{s}` does not have"
        ),
        _ => format!("source `{source}` has an outcome for project `{pid}`, which no projects source has"),
    }
}

/// SROI and its sensitivity range for the projects with outcomes, by project row.
fn project_sroi(
    projects: &[Acc],
    outcomes: &[(usize, NamedOutcome)],
    discount_rate: f64,
    ranges: Ranges,
) -> SroiOf {
    let mut out = BTreeMap::new();
    for run in outcomes.chunk_by(|a, b| a.0 == b.0) {
        let row = run[0].0;
        let list: Vec<Outcome> = run.iter().map(|(_, o)| o.outcome.clone()).collect();
        let amount = projects[row].amount;
        let s = sroi::sroi(&list, amount, discount_rate, Override::default());
        let range = if ranges.is_empty() {
            None
        } else {
            sroi::sroi_range(&list, amount, discount_rate, ranges)
        };
        out.insert(row, (s, range));
    }
    out
}

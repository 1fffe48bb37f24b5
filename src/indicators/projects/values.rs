//! The per-project values of the long table (level `project`, the project id as the area),
//! taken from the columns of [`Projects::frame`] as one block per indicator, and one note per
//! indicator and reason for the projects without a value.
//!
//! A block holds only positions and numbers; the long table's text columns are taken from
//! the projects' columns when a slice of the block is written (see
//! [`crate::indicators::long`]).

use std::ops::Range;

use polars::prelude::*;

use super::{known_amount, public_amount, Projects};
use crate::catalogue;
use crate::contracts::FUNDING_SOURCES;
use crate::indicators::Skipped;

/// What a per-project indicator measures.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Measure {
    CostPerBeneficiary,
    Share(usize),
    Leverage,
    Co2e,
    CostPerTonne,
    Sroi,
}

impl Measure {
    /// In the order a project's values were always listed, which orders the notes.
    fn all() -> Vec<Measure> {
        let mut all = vec![Measure::CostPerBeneficiary];
        all.extend((0..FUNDING_SOURCES.len()).map(Measure::Share));
        all.extend([
            Measure::Leverage,
            Measure::Co2e,
            Measure::CostPerTonne,
            Measure::Sroi,
        ]);
        all
    }

    fn id(self) -> String {
        match self {
            Measure::CostPerBeneficiary => "cost_per_beneficiary".into(),
            Measure::Share(k) => format!("financing_share_{}", FUNDING_SOURCES[k]),
            Measure::Leverage => "leverage_ratio".into(),
            Measure::Co2e => "co2e_avoided".into(),
            Measure::CostPerTonne => "cost_per_tco2e_avoided".into(),
            Measure::Sroi => "sroi".into(),
        }
    }

    fn why_missing(self) -> &'static str {
        match self {
            Measure::CostPerBeneficiary => "the project reports zero beneficiaries",
            Measure::Share(_) => "the project's amount is zero",
            Measure::Leverage => "the project has no public money to lever",
            Measure::Co2e => "",
            Measure::CostPerTonne => "the project avoids zero tonnes",
            Measure::Sroi => "the project's inputs are zero",
        }
    }
}

/// The number columns of the projects' frame that the measures read.
struct Numbers {
    amount: Float64Chunked,
    by_source: Vec<Float64Chunked>,
    beneficiaries: Float64Chunked,
    co2e: Float64Chunked,
    sroi_inputs: Float64Chunked,
    sroi_present_value: Float64Chunked,
    /// The value column of each measure, as `projects.parquet` has it.
    values: Vec<Float64Chunked>,
}

impl Numbers {
    fn new(projects: &Projects, measures: &[Measure]) -> PolarsResult<Numbers> {
        let n = |c: &str| projects.numbers(c);
        Ok(Numbers {
            amount: n("amount")?,
            by_source: FUNDING_SOURCES
                .iter()
                .map(|s| n(&format!("amount_{s}")))
                .collect::<PolarsResult<_>>()?,
            beneficiaries: n("beneficiaries")?,
            co2e: n("co2e_avoided")?,
            sroi_inputs: n("sroi_inputs")?,
            sroi_present_value: n("sroi_present_value")?,
            values: measures
                .iter()
                .map(|m| n(&m.id()))
                .collect::<PolarsResult<_>>()?,
        })
    }

    fn funded(&self, r: usize) -> bool {
        self.by_source.iter().any(|c| c.get(r).is_some())
    }

    fn known(&self, r: usize) -> f64 {
        known_amount(|k| self.by_source[k].get(r))
    }

    fn public(&self, r: usize) -> f64 {
        public_amount(|k| self.by_source[k].get(r))
    }

    /// Whether the measure applies to the project at all (a project without beneficiaries
    /// has no cost per beneficiary and no note about it either), and its (numerator,
    /// denominator).
    fn applies(&self, m: Measure, r: usize) -> Option<Option<(f64, f64)>> {
        let amount = self.amount.get(r).unwrap_or(0.0);
        match m {
            Measure::CostPerBeneficiary => self.beneficiaries.get(r).map(|b| Some((amount, b))),
            Measure::Share(k) => self
                .funded(r)
                .then(|| Some((self.by_source[k].get(r).unwrap_or(0.0), self.known(r)))),
            Measure::Leverage => self.funded(r).then(|| {
                let public = self.public(r);
                Some((self.known(r) - public, public))
            }),
            Measure::Co2e => self.co2e.get(r).map(|_| None),
            Measure::CostPerTonne => self.co2e.get(r).map(|t| Some((amount, t))),
            Measure::Sroi => self
                .sroi_inputs
                .get(r)
                .map(|inputs| Some((self.sroi_present_value.get(r).unwrap_or(0.0), inputs))),
        }
    }
}

/// One indicator's per-project values.
#[derive(Debug, Clone)]
pub struct Block {
    pub indicator: String,
    /// Rows of the projects' frame that have a value, in the order of the project ids.
    pub rows: Vec<IdxSize>,
    pub value: Vec<f64>,
    pub numerator: Option<Vec<f64>>,
    pub denominator: Option<Vec<f64>>,
}

/// Every per-project value, computed one indicator at a time (see [`Blocks::block`]), with
/// the projects' columns their text is taken from.
#[derive(Default)]
pub struct Blocks {
    /// Sorted by indicator id.
    measures: Vec<Measure>,
    numbers: Option<Numbers>,
    /// The projects' rows in the order of their ids.
    order: Vec<IdxSize>,
    ids: StringChunked,
    periods: Int32Chunked,
    funding_rows: Int64Chunked,
}

impl Blocks {
    /// The indicators, sorted.
    pub fn indicators(&self) -> Vec<String> {
        self.measures.iter().map(|m| m.id()).collect()
    }

    /// The values of the `k`-th indicator.
    pub fn block(&self, k: usize) -> Block {
        let m = self.measures[k];
        let mut block = Block {
            indicator: m.id(),
            rows: Vec::new(),
            value: Vec::new(),
            numerator: None,
            denominator: None,
        };
        let Some(numbers) = &self.numbers else {
            return block;
        };
        let values = &numbers.values[k];
        let (mut num, mut den) = (Vec::new(), Vec::new());
        for &r in &self.order {
            let r = r as usize;
            let Some(ratio) = numbers.applies(m, r) else {
                continue;
            };
            if let Some(v) = values.get(r) {
                block.rows.push(r as IdxSize);
                block.value.push(v);
                if let Some((a, b)) = ratio {
                    num.push(a);
                    den.push(b);
                }
            }
        }
        if m != Measure::Co2e {
            block.numerator = Some(num);
            block.denominator = Some(den);
        }
        block
    }

    /// The project id of a block's row (the long table's `area`).
    pub fn id(&self, block: &Block, i: usize) -> &str {
        self.ids.get(block.rows[i] as usize).unwrap_or("")
    }

    pub fn period(&self, block: &Block, i: usize) -> Option<i32> {
        self.periods.get(block.rows[i] as usize)
    }

    /// Rows `range` of a block in the long table's columns.
    pub fn frame(
        &self,
        block: &Block,
        range: Range<usize>,
        entries: &catalogue::Resolved,
    ) -> PolarsResult<DataFrame> {
        let n = range.len();
        let idx = IdxCa::from_vec("".into(), block.rows[range.clone()].to_vec());
        let text = |name: &str, v: &str| Column::new(name.into(), vec![v; n]);
        let none_f64 = |name: &str| Column::full_null(name.into(), n, &DataType::Float64);
        let ratio = |name: &str, v: &Option<Vec<f64>>| match v {
            Some(v) => Column::new(name.into(), &v[range.clone()]),
            None => none_f64(name),
        };
        let family = entries
            .get(&block.indicator)
            .map(|i| i.family.as_str())
            .unwrap_or("unknown");
        DataFrame::new(
            n,
            vec![
                text("indicator", &block.indicator),
                text("family", family),
                self.ids.take(&idx)?.with_name("area".into()).into_column(),
                text("level", "project"),
                self.periods
                    .take(&idx)?
                    .with_name("period".into())
                    .into_column(),
                Column::full_null("breakdown".into(), n, &DataType::String),
                Column::new("value".into(), &block.value[range.clone()]),
                text("unit", entries.unit(&block.indicator)),
                ratio("numerator", &block.numerator),
                ratio("denominator", &block.denominator),
                self.funding_rows
                    .take(&idx)?
                    .with_name("n".into())
                    .into_column(),
                none_f64("ci_low"),
                none_f64("ci_high"),
                Column::full_null("flag".into(), n, &DataType::String),
            ],
        )
    }
}

/// Project ids a note names before it only counts the rest.
const NAMED: usize = 5;

/// Projects without a value for one reason: the first project's row (which orders the notes),
/// how many, and the first few ids.
struct Missing {
    first: (usize, usize),
    count: usize,
    named: Vec<String>,
}

/// The per-project values of the indicators `want` takes, and one note per indicator and
/// reason for the projects that have no value.
pub fn blocks(
    projects: &Projects,
    want: &dyn Fn(&str) -> bool,
) -> PolarsResult<(Blocks, Vec<Skipped>)> {
    // By id, the order of the long table; `listed` orders the notes of one project.
    let listed = Measure::all();
    let mut measures: Vec<Measure> = listed.iter().copied().filter(|m| want(&m.id())).collect();
    measures.sort_by_key(|m| m.id());
    if projects.is_empty() || measures.is_empty() {
        return Ok((Blocks::default(), Vec::new()));
    }
    let ids = projects.texts("project")?;
    let numbers = Numbers::new(projects, &measures)?;
    let mut missing: Vec<(Measure, Missing)> = measures
        .iter()
        .zip(&numbers.values)
        .filter_map(|(m, values)| {
            let slot = listed.iter().position(|l| l == m).unwrap_or(0);
            missing_values(&numbers, *m, values, &ids, slot).map(|n| (*m, n))
        })
        .collect();
    missing.sort_by_key(|(_, note)| note.first);
    let skipped = missing
        .into_iter()
        .map(|(m, note)| {
            let more = note.count - note.named.len();
            let mut area = note.named.join(", ");
            if more > 0 {
                area.push_str(&format!(" and {more} more"));
            }
            Skipped {
                indicator: m.id(),
                area,
                period: None,
                reason: m.why_missing().to_string(),
                projects: Some(note.count),
            }
        })
        .collect();
    let blocks = Blocks {
        measures,
        numbers: Some(numbers),
        order: id_order(&ids),
        ids,
        periods: projects.periods()?,
        funding_rows: projects
            .frame
            .column("funding_rows")?
            .i64()?
            .rechunk()
            .into_owned(),
    };
    Ok((blocks, skipped))
}

/// The projects that a measure applies to but that have no value, in frame order.
fn missing_values(
    numbers: &Numbers,
    m: Measure,
    values: &Float64Chunked,
    ids: &StringChunked,
    slot: usize,
) -> Option<Missing> {
    let mut note: Option<Missing> = None;
    for r in 0..values.len() {
        if values.get(r).is_some() || numbers.applies(m, r).is_none() {
            continue;
        }
        let note = note.get_or_insert(Missing {
            first: (r, slot),
            count: 0,
            named: Vec::new(),
        });
        note.count += 1;
        if note.named.len() < NAMED {
            note.named.push(ids.get(r).unwrap_or("").to_string());
        }
    }
    note
}

/// Rows of the projects in the order of their ids as written (the frame is in the order of
/// (id space, id), which differs only where ids carry their space).
fn id_order(ids: &StringChunked) -> Vec<IdxSize> {
    let sorted = ids.iter().zip(ids.iter().skip(1)).all(|(a, b)| a <= b);
    if sorted {
        return (0..ids.len() as IdxSize).collect();
    }
    let order = ids.arg_sort(SortOptions {
        maintain_order: true,
        multithreaded: true,
        ..Default::default()
    });
    order.into_no_null_iter().collect()
}

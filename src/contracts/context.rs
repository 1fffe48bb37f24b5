//! What every check of a source reads, whichever way its rows are checked: the pipeline, the
//! source and its raw table, each role's rule, where the roles sit, and how a reject is made
//! (its texts shared, its column a JSON pointer in a JSON file).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::config::{Format, Pipeline, Source, SourceKind};
use crate::ingest::RawTable;

#[cfg(test)]
use super::cells::Prepared;
use super::rules::{rule, Rule};
use super::Reject;

/// The name a wide file's value column goes by (see `ingest::records`).
pub(super) const WIDE_VALUE: &str = "(variable column)";

/// Where the roles that cross-row and cross-field rules read sit in a raw table, looked up
/// once rather than by name on every row.
pub(super) struct At {
    pub(super) period: Option<usize>,
    pub(super) start: Option<usize>,
    pub(super) end: Option<usize>,
    pub(super) date: Option<usize>,
    pub(super) currency: Option<usize>,
    pub(super) amount: Option<usize>,
    pub(super) variable: Option<usize>,
    pub(super) value: Option<usize>,
    pub(super) income: Option<usize>,
    pub(super) household_income: Option<usize>,
    pub(super) household: Option<usize>,
    pub(super) age: Option<usize>,
    pub(super) area: Option<usize>,
    pub(super) id: Option<usize>,
    pub(super) sector: Option<usize>,
    pub(super) subsector: Option<usize>,
    pub(super) scope: Option<usize>,
    pub(super) project: Option<usize>,
    pub(super) outcome: Option<usize>,
}

impl At {
    fn new(raw: &RawTable) -> At {
        At {
            period: raw.role("period"),
            start: raw.role("start"),
            end: raw.role("end"),
            date: raw.role("date"),
            currency: raw.role("currency"),
            amount: raw.role("amount"),
            variable: raw.role("variable"),
            value: raw.role("value"),
            income: raw.role("income"),
            household_income: raw.role("household_income"),
            household: raw.role("household"),
            age: raw.role("age"),
            area: raw.role("area"),
            id: raw.role("id"),
            sector: raw.role("sector"),
            subsector: raw.role("subsector"),
            scope: raw.role("scope"),
            project: raw.role("project"),
            outcome: raw.role("outcome"),
        }
    }
}

/// Everything a row check reads, shared by the runs of rows checked side by side.
pub(super) struct Contract<'a> {
    pub(super) pipeline: &'a Pipeline,
    pub(super) source: &'a Source,
    pub(super) raw: &'a RawTable,
    pub(super) rules: Vec<Rule>,
    pub(super) required: Vec<bool>,
    pub(super) at: At,
    pub(super) ragged: HashMap<u64, usize>,
    /// Each role's column, ready to be read row by row (by the row contract).
    #[cfg(test)]
    pub(super) prepared: Vec<Prepared<'a>>,
    /// Microdata: the roles a row needs beyond its own rules, see [`microdata_needs`].
    pub(super) needs: Vec<Need>,
    /// Why an empty cell of each role rejects its row, where the role is required.
    pub(super) empty_why: Vec<String>,
    /// The texts rejects share.
    pub(super) shared: Mutex<HashSet<Arc<str>>>,
    /// The source's name and each of its files (by `RawTable::file_of`), shared by its
    /// rejects without a lock.
    source_name: Arc<str>,
    files: Vec<Arc<str>>,
}

/// A period's reject texts, kept once per run of rows checked on one core: the value (the
/// period) and the reason. A source can reject millions of rows for their period.
pub(super) type Outside = HashMap<i32, (Arc<str>, Arc<str>)>;

/// A role a row cannot do without (its position in the raw table, if the file has it) and the
/// reason given when it is empty.
pub(super) type Need = (&'static str, Option<usize>, String);

/// What a microdata row needs: its equivalised income, or what equivalising household income
/// takes (the household income, the household and every member's age).
fn microdata_needs(source: &Source, at: &At) -> Vec<Need> {
    if source.kind != SourceKind::Microdata {
        return Vec::new();
    }
    if let Some(i) = at.income {
        let c = source.column_for("income");
        return vec![(
            "income",
            Some(i),
            format!("`{c}` (income) is empty; every row needs it"),
        )];
    }
    [
        ("household_income", at.household_income),
        ("household", at.household),
        ("age", at.age),
    ]
    .into_iter()
    .map(|(role, r)| {
        let c = source.column_for(role);
        let why = format!("`{c}` ({role}) is empty; it is needed to equivalise household income");
        (role, r, why)
    })
    .collect()
}

/// Why an empty cell of a required role rejects its row. A grant without a location is named as
/// such, with the mapping to codes where the file gives them.
fn empty_reason(source: &Source, role: &str, column: &str) -> String {
    match (role, source.format) {
        ("area", Format::Giving360) if column == "Beneficiary Location:Name" => format!("the grant has no beneficiary location (`{column}` is empty); if the file gives codes, map them: columns = {{ area = \"Beneficiary Location:Geographic Code\" }}"),
        ("area", Format::Giving360) => format!("the grant has no beneficiary location (`{column}` is empty)"),
        _ => format!("`{column}` ({role}) is empty; every row needs it"),
    }
}

/// Why a row of period `p` is left out, when the pipeline's periods do not include it.
pub(super) fn outside_periods(pipeline: &Pipeline, p: i32) -> Option<String> {
    let (from, to) = pipeline.periods.unwrap_or((p, p));
    (!pipeline.in_periods(p))
        .then(|| format!("period {p} is outside the pipeline's periods {from}-{to}"))
}

impl<'a> Contract<'a> {
    pub(super) fn new(
        pipeline: &'a Pipeline,
        source: &'a Source,
        raw: &'a RawTable,
    ) -> Contract<'a> {
        let kind = source.kind;
        let at = At::new(raw);
        Contract {
            pipeline,
            source,
            raw,
            rules: raw.roles.iter().map(|r| rule(kind, r)).collect(),
            required: raw
                .roles
                .iter()
                .map(|r| kind.required_roles().contains(&r.as_str()))
                .collect(),
            needs: microdata_needs(source, &at),
            empty_why: (raw.roles.iter().zip(&raw.columns))
                .map(|(role, column)| empty_reason(source, role, column))
                .collect(),
            at,
            ragged: raw.ragged.iter().copied().collect(),
            #[cfg(test)]
            prepared: Vec::new(),
            shared: Mutex::new(HashSet::new()),
            source_name: source.name.as_str().into(),
            files: match raw.files.is_empty() {
                true => vec![source.path.as_str().into()],
                false => raw.files.iter().map(|f| f.as_str().into()).collect(),
            },
        }
    }
}

impl<'a> Contract<'a> {
    /// The column a city statistic's broken cell is named by: in a wide file the variable's
    /// own column (its code, where its value sits), else the role's column.
    pub(super) fn stat_column<'c>(&'c self, role: &'c str, code: &'c str) -> &'c str {
        let wide = self
            .at
            .value
            .is_some_and(|r| self.raw.columns[r] == WIDE_VALUE);
        match wide {
            true => code,
            false => self.source.column_for(role),
        }
    }

    pub(super) fn reject(
        &self,
        row: usize,
        column: Option<&str>,
        value: Option<&str>,
        reason: impl Into<Arc<str>>,
    ) -> Reject {
        self.reject_shared(row, column, value.map(Arc::from), reason.into())
    }

    /// A reject whose value and reason are already shared texts. In a JSON file the column
    /// is the value's JSON pointer (`/grants/3/amountAwarded`), or the record's without one.
    fn reject_shared(
        &self,
        row: usize,
        column: Option<&str>,
        value: Option<Arc<str>>,
        reason: Arc<str>,
    ) -> Reject {
        let pointer = self.raw.pointers.as_ref().and_then(|p| {
            let file = self.raw.file_of.get(row).copied().unwrap_or(0);
            p.of(file, row, column)
        });
        let file = self.raw.file_of.get(row).copied().unwrap_or(0) as usize;
        Reject {
            source: self.source_name.clone(),
            file: self.files.get(file).unwrap_or(&self.files[0]).clone(),
            line: self.raw.lines.at(row) as i64,
            column: match pointer {
                Some(p) => Some(p.into()),
                None => column.map(|c| self.share(c)),
            },
            value,
            reason,
        }
    }

    /// A row too short or too long for the header (or a JSON line that is no record): it is
    /// rejected before any of its cells is read.
    pub(super) fn ragged_reject(&self, row: usize) -> Option<Reject> {
        if self.ragged.is_empty() {
            return None;
        }
        // Ragged rows are keyed by line and file (see RawTable::concat).
        let file = self.raw.file_of.get(row).copied().unwrap_or(0) as u64;
        let &fields = self.ragged.get(&(self.raw.lines.at(row) | file << 40))?;
        let why = match fields {
            0 => "this line is not a record (not valid JSON, or not an object); fix or remove it"
                .to_string(),
            _ => format!(
                "the row has {fields} fields but the header has {}; check for an unquoted separator",
                self.raw.header_len
            ),
        };
        Some(self.reject(row, None, None, why))
    }

    /// A row of `period`, when the pipeline's periods leave it out; its value and reason are
    /// the same for every such row of the period, and are kept once in `seen`.
    pub(super) fn reject_outside(
        &self,
        row: usize,
        period: i32,
        seen: &mut Outside,
    ) -> Option<Reject> {
        if self.pipeline.in_periods(period) {
            return None;
        }
        let (value, why) = seen.entry(period).or_insert_with(|| {
            let why = outside_periods(self.pipeline, period).unwrap_or_default();
            (period.to_string().into(), self.share(&why))
        });
        Some(self.reject_shared(row, None, Some(value.clone()), why.clone()))
    }

    /// A text many rejects hold, kept once.
    fn share(&self, text: &str) -> Arc<str> {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        match shared.get(text) {
            Some(s) => s.clone(),
            None => {
                let s: Arc<str> = text.into();
                shared.insert(s.clone());
                s
            }
        }
    }
}

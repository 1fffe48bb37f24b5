//! JSON arrays of records, NDJSON (one record per line), 360Giving's JSON form and OCDS
//! packages (compiled by `ocds`), as records under the column names of their flat CSV forms.
//! Nested values are kept as JSON text.

use std::borrow::{Borrow, Cow};
use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::records::{Assembler, Field, Number};
use super::{IngestError, Pointers, RawTable};
use crate::config::{Format, Location, Source};

/// A record and its line (or record number); `None` for one that is not an object.
type Record = (u64, Option<Map<String, Value>>);

/// A record's keys and cells, as [`cell`] makes them, in the order the record holds them.
type Fields<'a> = Vec<(Cow<'a, str>, Option<Cell<'a>>)>;

/// A record's cell: a string (borrowed where the file writes it without escapes), a number
/// as it was read, or anything else (`true`, a nested value) as its JSON text. A number goes
/// into its column as the number it is; its text is made only where a cell needs one.
#[derive(Debug, Clone, PartialEq)]
enum Cell<'a> {
    Text(Cow<'a, str>),
    Number(Number),
}

impl Cell<'_> {
    fn field(&self) -> Field<'_> {
        match self {
            Cell::Text(s) => Field::Text(s),
            Cell::Number(n) => Field::Number(*n),
        }
    }
}

/// A record read as its fields, and its line (or record number).
type Row<'a> = (u64, Option<Fields<'a>>);

/// The fields of a record in its JSON text, read without making it a value: strings are
/// borrowed where the file writes them without escapes; `None` when the text is not an object.
fn fields_in(text: &str) -> Option<Fields<'_>> {
    serde_json::from_str::<borrowed::Record>(text)
        .ok()
        .map(|r| r.0)
}

/// The fields of a record already read into a value (360Giving's grants, OCDS awards).
fn fields_of(record: &Map<String, Value>) -> Fields<'_> {
    record
        .iter()
        .map(|(k, v)| (Cow::Borrowed(k.as_str()), cell(v)))
        .collect()
}

/// The rows of records already read into values.
fn rows_of(records: &[Record]) -> Vec<Row<'_>> {
    records
        .par_iter()
        .map(|(line, r)| (*line, r.as_ref().map(fields_of)))
        .collect()
}

/// A value as a cell: a string as it is, a number as its number, anything else (a nested
/// value) as its JSON text.
fn cell(v: &Value) -> Option<Cell<'_>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Cell::Text(Cow::Borrowed(s))),
        Value::Number(n) => Some(Cell::Number(number(n))),
        other => Some(Cell::Text(Cow::Owned(other.to_string()))),
    }
}

/// A number of a value as serde_json holds it: a non-negative integer, a negative one, or a
/// float (always finite).
fn number(n: &serde_json::Number) -> Number {
    match (n.as_u64(), n.as_i64(), n.as_f64()) {
        (Some(u), _, _) => Number::Uint(u),
        (None, Some(i), _) => Number::Int(i),
        (None, None, x) => Number::Float(x.unwrap_or(f64::NAN)),
    }
}

/// The records of a JSON file, each as its text: a top-level array, or the first array inside
/// a top-level object (`{"data": [...]}`, keys in sorted order), with that array's key. Reading
/// the file checks all of its syntax without building its values.
fn array_of<'t>(
    source: &Source,
    utf8: &'t str,
) -> Result<(Option<String>, Vec<&'t RawValue>), IngestError> {
    let syntax = |e: serde_json::Error| IngestError::parse(source, e.line(), e.to_string());
    let doc: &RawValue = serde_json::from_str(utf8).map_err(syntax)?;
    let text = doc.get();
    let array = |raw: &'t RawValue| serde_json::from_str::<Vec<&RawValue>>(raw.get());
    if text.starts_with('[') {
        return Ok((None, array(doc).map_err(syntax)?));
    }
    if !text.starts_with('{') {
        return Err(IngestError::parse(
            source,
            1,
            "the JSON is not an array of records".into(),
        ));
    }
    let object: BTreeMap<String, &RawValue> = serde_json::from_str(text).map_err(syntax)?;
    // At most a line of its keys, never the file.
    let keys: Vec<String> = object.keys().take(12).cloned().collect();
    for (k, v) in object {
        if v.get().starts_with('[') {
            return Ok((Some(k), array(v).map_err(syntax)?));
        }
    }
    Err(IngestError::parse(
        source,
        1,
        format!(
            "the JSON holds no array of records: its top-level object has {}",
            match keys.is_empty() {
                true => "no keys".to_string(),
                false => format!("the keys {}", keys.join(", ")),
            }
        ),
    ))
}

/// The table of records given as their texts (an NDJSON file's lines, a JSON array's items).
/// Most files give every record the keys of their first record, or fewer: the records are
/// then assembled as they are read, with the first record's keys as the header, and none is
/// held. A record with a key the first lacks sends the file the long way: every record's
/// fields held until the header is known.
fn table_of_texts(
    source: &Source,
    texts: &[(u64, &str)],
    bytes: u64,
) -> Result<RawTable, IngestError> {
    if let Some(table) = as_read(source, texts, bytes) {
        return Ok(table);
    }
    let rows: Vec<Row> = texts
        .par_iter()
        .map(|&(line, text)| (line, fields_in(text)))
        .collect();
    table(source, &rows, bytes)
}

/// The table assembled as the records are read, with the keys of the first record as the
/// header (as [`header_of`] would order them); `None` where a record has a key the first
/// lacks, or the first has none a table could be read under.
fn as_read(source: &Source, texts: &[(u64, &str)], bytes: u64) -> Option<RawTable> {
    let first = texts.iter().find_map(|(_, text)| fields_in(text))?;
    let mut keys: Vec<&str> = first.iter().map(|(k, _)| k.as_ref()).collect();
    keys.sort_unstable();
    keys.dedup();
    let header: Vec<String> = keys.into_iter().map(String::from).collect();
    // A column the first record lacks may come later: the long way says what is missing.
    if header.is_empty() || Assembler::new(source, &header).is_err() {
        return None;
    }
    let runs: Vec<Option<RawTable>> = texts
        .par_chunks(run_of(texts.len()))
        .map(|texts| {
            let rows = texts.iter().map(|&(line, text)| (line, fields_in(text)));
            assemble(source, &header, rows, texts.len(), bytes)
                .ok()
                .flatten()
        })
        .collect();
    join(runs.into_iter().collect::<Option<Vec<_>>>()?)
}

/// Header (keys in order of first appearance) and rows from records, assembled in runs of
/// records side by side, each cell pushed from the record as it is.
fn table(source: &Source, rows: &[Row], bytes: u64) -> Result<RawTable, IngestError> {
    let header = header_of(rows);
    if header.is_empty() {
        return Err(IngestError::NoHeader {
            source_name: source.name.clone(),
            path: source.resolved.clone(),
        });
    }
    let runs: Vec<Option<RawTable>> = rows
        .par_chunks(run_of(rows.len()))
        .map(|run| {
            let fields = run.iter().map(|(line, r)| (*line, r.as_ref()));
            assemble(source, &header, fields, run.len(), bytes)
        })
        .collect::<Result<_, IngestError>>()?;
    // The header holds every record's keys, so every run is assembled; were one not, the file
    // would be refused rather than read without its rows.
    let runs: Vec<RawTable> = runs.into_iter().collect::<Option<_>>().ok_or_else(|| {
        IngestError::parse(
            source,
            1,
            "a record has a key outside the file's header".into(),
        )
    })?;
    match join(runs) {
        Some(table) => Ok(table),
        None => Ok(Assembler::new(source, &header)?.finish(bytes)),
    }
}

/// One run of records assembled under `header`; `None` for a record with a key the header
/// lacks.
fn assemble<'r, F: Borrow<Fields<'r>>>(
    source: &Source,
    header: &[String],
    rows: impl Iterator<Item = (u64, Option<F>)>,
    len: usize,
    bytes: u64,
) -> Result<Option<RawTable>, IngestError> {
    let place: HashMap<&str, usize> = (0..).zip(header).map(|(i, h)| (h.as_str(), i)).collect();
    let mut table = Assembler::new(source, header)?;
    table.reserve(len);
    let mut last: Option<F> = None;
    // Each header column's field in the record: the same for a record with the last one's keys.
    let mut slots: Vec<Option<usize>> = vec![None; header.len()];
    for (line, record) in rows {
        // A record that is not an object is a row with no fields: the contract rejects it.
        let Some(r) = record.as_ref().map(Borrow::borrow) else {
            table.push(line, 0, |_| None::<Field>);
            continue;
        };
        if !last.as_ref().is_some_and(|l| same_keys(l.borrow(), r)) {
            slots.iter_mut().for_each(|s| *s = None);
            // A key given twice keeps its last value, as a JSON object does.
            for (j, (k, _)) in r.iter().enumerate() {
                match place.get(k.as_ref()) {
                    Some(&p) => slots[p] = Some(j),
                    None => return Ok(None),
                }
            }
        }
        table.push(line, header.len(), |i| {
            slots[i].and_then(|j| r[j].1.as_ref().map(Cell::field))
        });
        last = record;
    }
    Ok(Some(table.finish(bytes)))
}

/// Runs of rows joined in order; `None` for no runs.
fn join(runs: Vec<RawTable>) -> Option<RawTable> {
    let mut runs = runs.into_iter();
    let mut table = runs.next()?;
    runs.for_each(|t| table.append_rows(t));
    Some(table)
}

/// Records per run read on one core: one run per core (the records are alike).
fn run_of(records: usize) -> usize {
    records.div_ceil(rayon::current_num_threads()).max(4096)
}

fn same_keys(a: &Fields, b: &Fields) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0)
}

/// The keys of the records in order of first appearance, each record's in sorted order (as a
/// JSON object read into a value gives them): each run's in its own order, side by side, then
/// the runs' lists in file order. Most records have the keys of the record before them, which
/// one comparison of the key lists finds.
fn header_of(rows: &[Row]) -> Vec<String> {
    let runs: Vec<Vec<&str>> = rows
        .par_chunks(run_of(rows.len()))
        .map(|rows| {
            let mut keys: Vec<&str> = Vec::new();
            let mut last: Option<&Fields> = None;
            for r in rows.iter().filter_map(|(_, r)| r.as_ref()) {
                if last.is_some_and(|l| same_keys(l, r)) {
                    continue;
                }
                let mut sorted: Vec<&str> = r.iter().map(|(k, _)| k.as_ref()).collect();
                sorted.sort_unstable();
                for k in sorted {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
                last = Some(r);
            }
            keys
        })
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    runs.into_iter()
        .flatten()
        .filter(|k| seen.insert(k))
        .map(String::from)
        .collect()
}

/// The file as text, or an error at its first byte that is not UTF-8.
pub fn text_of<'b>(source: &Source, bytes: &'b [u8]) -> Result<&'b str, IngestError> {
    std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).map_err(|e| {
        let bom = if bytes.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let at = bom + e.valid_up_to();
        let before = &bytes[..at];
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        IngestError::NotUtf8 {
            source_name: source.name.clone(),
            location: Location {
                file: source.resolved.clone(),
                line: before.iter().filter(|b| **b == b'\n').count() + 1,
                column: String::from_utf8_lossy(&before[line_start..])
                    .chars()
                    .count()
                    + 1,
            },
            byte: at,
            value: bytes.get(at).copied().unwrap_or(0),
        }
    })
}

/// OCDS award rows as a table, numbered in order; `None` when there are none.
pub fn ocds_table(
    source: &Source,
    rows: Vec<Map<String, Value>>,
    bytes: u64,
) -> Result<Option<RawTable>, IngestError> {
    if rows.is_empty() {
        return Ok(None);
    }
    let records: Vec<Record> = (1..).zip(rows.into_iter().map(Some)).collect();
    table(source, &rows_of(&records), bytes).map(Some)
}

/// An OCDS package with nothing to read, named with what it does hold.
pub fn no_awards(source: &Source, package: &super::ocds::Package) -> IngestError {
    let (releases, records) = package.counts();
    IngestError::parse(
        source,
        1,
        format!(
            "the OCDS package holds no award or contract to read ({releases} releases, {records} records)"
        ),
    )
}

pub fn read(source: &Source, bytes: &[u8]) -> Result<RawTable, IngestError> {
    let utf8 = text_of(source, bytes)?;
    // The array the records are in, for their JSON pointers; none for NDJSON, where the line
    // is the record. A record's line in `rejects.parquet` is its number (contract.md).
    let mut array: Option<Option<String>> = None;
    let mut titles = false;
    let size = bytes.len() as u64;
    let mut raw = match source.format {
        Format::Ndjson => {
            // A line that is not a JSON object is kept as a row without fields, so that it is
            // rejected with its line number rather than lost.
            let lines: Vec<(u64, &str)> = (1..)
                .zip(utf8.lines())
                .filter(|(_, line)| !line.trim().is_empty())
                .collect();
            table_of_texts(source, &lines, size)?
        }
        Format::Ocds => {
            let package = super::ocds::package(source, utf8)?;
            let rows = super::ocds::records(source, &package);
            return ocds_table(source, rows, size)?.ok_or_else(|| no_awards(source, &package));
        }
        Format::Giving360 => {
            let doc: Value = serde_json::from_str(utf8)
                .map_err(|e| IngestError::parse(source, e.line(), e.to_string()))?;
            array = Some(doc.is_object().then(|| "grants".to_string()));
            titles = true;
            // 360Giving's grants are values (their fields found by JSON pointer); their rows
            // borrow them.
            let grants = giving360_records(source, doc)?;
            table(source, &rows_of(&grants), size)?
        }
        _ => {
            let (key, items) = array_of(source, utf8)?;
            array = Some(key);
            // The file's syntax was checked whole; each record is read side by side.
            let items: Vec<(u64, &str)> = (1..).zip(items.iter().map(|r| r.get())).collect();
            table_of_texts(source, &items, size)?
        }
    };
    // A wide file's variables are keys of their own, which its rejects name.
    let fields = (raw.columns.iter())
        .chain(source.variables.keys())
        .map(|c| {
            let pointer = match titles {
                true => GIVING360_TITLES
                    .iter()
                    .find(|(t, _)| t == c)
                    .map(|(_, p)| p.to_string())
                    .unwrap_or_else(|| format!("/{c}")),
                false => Pointers::escape(c),
            };
            (c.clone(), pointer)
        })
        .collect();
    raw.pointers = Some(Pointers {
        arrays: vec![array.map(|k| k.map(|k| Pointers::escape(&k)).unwrap_or_default())],
        // A record's number is its line: a wide file's rows of one record share it.
        index: raw
            .lines
            .iter()
            .map(|l| l.saturating_sub(1) as u32)
            .collect(),
        fields,
    });
    Ok(raw)
}

/// The 360Giving flat CSV's column titles and where the standard's JSON form keeps each
/// (the first item of an array: a grant's first recipient, funder, location and programme).
const GIVING360_TITLES: [(&str, &str); 15] = [
    ("Identifier", "/id"),
    ("Title", "/title"),
    ("Description", "/description"),
    ("Currency", "/currency"),
    ("Amount Awarded", "/amountAwarded"),
    ("Award Date", "/awardDate"),
    ("Planned Dates:Start Date", "/plannedDates/0/startDate"),
    ("Planned Dates:End Date", "/plannedDates/0/endDate"),
    ("Recipient Org:Identifier", "/recipientOrganization/0/id"),
    ("Recipient Org:Name", "/recipientOrganization/0/name"),
    ("Funding Org:Identifier", "/fundingOrganization/0/id"),
    ("Funding Org:Name", "/fundingOrganization/0/name"),
    ("Beneficiary Location:Name", "/beneficiaryLocation/0/name"),
    (
        "Beneficiary Location:Geographic Code",
        "/beneficiaryLocation/0/geoCode",
    ),
    ("Grant Programme:Title", "/grantProgramme/0/title"),
];

/// The grants of a 360Giving JSON file (`{"grants": [...]}`), each as a record with the flat
/// CSV's column titles, so that the same column map reads both forms, and with every other
/// field under its JSON pointer without the leading slash (`recipientOrganization/0/postalCode`,
/// `recipientDistrictGeoCode`) for a map to name.
fn giving360_records(source: &Source, doc: Value) -> Result<Vec<Record>, IngestError> {
    let grants = match doc {
        Value::Object(mut o) => match o.remove("grants") {
            Some(Value::Array(a)) => a,
            _ => {
                let keys: Vec<String> = o.keys().take(12).cloned().collect();
                return Err(IngestError::parse(
                    source,
                    1,
                    format!(
                        "the 360Giving JSON has no array at /grants (its keys: {})",
                        keys.join(", ")
                    ),
                ));
            }
        },
        Value::Array(a) => a,
        _ => {
            return Err(IngestError::parse(
                source,
                1,
                "the 360Giving JSON is not an object with a `grants` array".into(),
            ))
        }
    };
    Ok(grants
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            let record = g.is_object().then(|| {
                let mut r = serde_json::Map::new();
                // Every title, empty where the grant has none: a grant without a location is
                // then a row rejected for that, not a file without the column.
                for (title, pointer) in GIVING360_TITLES {
                    let v = g.pointer(pointer).cloned().unwrap_or(Value::Null);
                    r.insert(title.to_string(), v);
                }
                flatten("", &g, &mut r);
                r
            });
            (i as u64 + 1, record)
        })
        .collect())
}

/// Every scalar inside `v` under its path (`a/0/b`).
fn flatten(path: &str, v: &Value, out: &mut serde_json::Map<String, Value>) {
    let join = |k: &str| match path.is_empty() {
        true => k.to_string(),
        false => format!("{path}/{k}"),
    };
    match v {
        Value::Object(o) => o.iter().for_each(|(k, v)| flatten(&join(k), v, out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| flatten(&join(&i.to_string()), v, out)),
        Value::Null => {}
        scalar => {
            out.entry(path.to_string())
                .or_insert_with(|| scalar.clone());
        }
    }
}

/// Records read straight from their text into [`Fields`], with the cells a value would give
/// ([`cell`]): a string as it is, a number as it was read, `null` as no cell, anything else
/// as its JSON text.
mod borrowed {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
    use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;

    use super::{Cell, Fields, Number};

    pub struct Record<'a>(pub Fields<'a>);

    struct Text<'a>(Cow<'a, str>);

    /// A field's cell as read, `None` for `null`.
    struct Slot<'a>(Option<Cell<'a>>);

    impl<'de> Deserialize<'de> for Record<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Fields;
            impl<'de> Visitor<'de> for Fields {
                type Value = Record<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record<'de>, A::Error> {
                    let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
                    while let Some(Text(key)) = map.next_key()? {
                        let Slot(value) = map.next_value()?;
                        fields.push((key, value));
                    }
                    Ok(Record(fields))
                }
            }
            d.deserialize_map(Fields)
        }
    }

    impl<'de> Deserialize<'de> for Text<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Key;
            impl<'de> Visitor<'de> for Key {
                type Value = Text<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a key")
                }
                fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Borrowed(v)))
                }
                fn visit_str<E: Error>(self, v: &str) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Owned(v.to_owned())))
                }
                fn visit_string<E: Error>(self, v: String) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Owned(v)))
                }
            }
            d.deserialize_str(Key)
        }
    }

    impl<'de> Deserialize<'de> for Slot<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Any)
        }
    }

    /// Any value as a cell. Numbers are kept as they were read (as `serde_json::Value` keeps
    /// them), nested values written as it writes them, so that a cell reads the same whichever
    /// way its record was read.
    struct Any;

    fn owned<'a, E>(text: String) -> Result<Slot<'a>, E> {
        Ok(Slot(Some(Cell::Text(Cow::Owned(text)))))
    }

    fn number<'a, E>(n: Number) -> Result<Slot<'a>, E> {
        Ok(Slot(Some(Cell::Number(n))))
    }

    impl<'de> Visitor<'de> for Any {
        type Value = Slot<'de>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Slot<'de>, E> {
            Ok(Slot(Some(Cell::Text(Cow::Borrowed(v)))))
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Slot<'de>, E> {
            owned(v.to_owned())
        }
        fn visit_string<E: Error>(self, v: String) -> Result<Slot<'de>, E> {
            owned(v)
        }
        fn visit_bool<E: Error>(self, v: bool) -> Result<Slot<'de>, E> {
            let text = if v { "true" } else { "false" };
            Ok(Slot(Some(Cell::Text(Cow::Borrowed(text)))))
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<Slot<'de>, E> {
            // serde_json hands a non-negative integer to `visit_u64`; `Value` holds it so.
            match u64::try_from(v) {
                Ok(u) => number(Number::Uint(u)),
                Err(_) => number(Number::Int(v)),
            }
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Slot<'de>, E> {
            number(Number::Uint(v))
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<Slot<'de>, E> {
            // JSON has no NaN or infinity; `Value` would make one `null`.
            match v.is_finite() {
                true => number(Number::Float(v)),
                false => Ok(Slot(None)),
            }
        }
        fn visit_unit<E: Error>(self) -> Result<Slot<'de>, E> {
            Ok(Slot(None))
        }
        fn visit_none<E: Error>(self) -> Result<Slot<'de>, E> {
            Ok(Slot(None))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Slot<'de>, A::Error> {
            owned(Value::deserialize(MapAccessDeserializer::new(map))?.to_string())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Slot<'de>, A::Error> {
            owned(Value::deserialize(SeqAccessDeserializer::new(seq))?.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell's text, as the table's text columns take it.
    fn as_text(c: &Cell) -> String {
        match c {
            Cell::Text(s) => s.to_string(),
            Cell::Number(n) => n.with_text(|s| s.to_string()),
        }
    }

    /// A record read from its text gives the cells its value gives, worked out by hand: numbers
    /// as `serde_json::Value` writes them, nested values as compact JSON, escapes undone in keys
    /// and strings, `null` as no cell, a key given twice keeping its last value.
    #[test]
    fn a_record_read_from_its_text_gives_the_cells_of_its_value() {
        let text = r#"{"b": 1e3, "a": "caf\u00e9 \"x\"", "n": null, "big": 12345678901234567890,
            "t\u0069tle": true, "nested": {"k": [1, 2.50, false]}, "b": 2.50, "neg": -7}"#;
        let fields = fields_in(text).expect("an object");
        let mut read: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (k, v) in &fields {
            read.insert(k.to_string(), v.as_ref().map(as_text));
        }
        let value: Value = serde_json::from_str(text).unwrap();
        let object = value.as_object().unwrap();
        let as_value: BTreeMap<String, Option<String>> = object
            .iter()
            .map(|(k, v)| (k.clone(), cell(v).as_ref().map(as_text)))
            .collect();
        assert_eq!(read, as_value);
        let by_hand = [
            ("a", Some("café \"x\"")),
            ("b", Some("2.5")),
            ("big", Some("12345678901234567890")),
            ("n", None),
            ("neg", Some("-7")),
            ("nested", Some(r#"{"k":[1,2.5,false]}"#)),
            ("title", Some("true")),
        ];
        let by_hand: BTreeMap<String, Option<String>> = by_hand
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(String::from)))
            .collect();
        assert_eq!(read, by_hand);
        // The first `b` is kept in the fields, and the table keeps the last.
        assert_eq!(fields.iter().filter(|(k, _)| k == "b").count(), 2);
        for not_a_record in ["[1, 2]", "\"text\"", "{\"a\": ", "3"] {
            assert!(fields_in(not_a_record).is_none(), "{not_a_record}");
        }
    }

    /// Keys in order of first appearance, each record's sorted, across runs read side by side.
    #[test]
    fn the_header_is_the_keys_in_order_of_first_appearance() {
        let texts = [
            "{\"z\": 1, \"a\": 2}",
            "{\"a\": 1, \"z\": 2}",
            "[]",
            "{\"m\": 1}",
        ];
        let mut rows: Vec<Row> = Vec::new();
        for i in 0..20_000u64 {
            let text = match i {
                0 => texts[0],
                15_000 => texts[3],
                _ if i % 7 == 0 => texts[2],
                _ => texts[1],
            };
            rows.push((i + 1, fields_in(text)));
        }
        assert_eq!(header_of(&rows), ["a", "z", "m"]);
    }

    /// A table's roles, each role's cells as text, its lines and its ragged rows.
    type View = (
        Vec<String>,
        Vec<Vec<Option<String>>>,
        Vec<u64>,
        Vec<(u64, usize)>,
    );

    fn view(t: &RawTable) -> View {
        let cells = (t.cells.iter())
            .map(|c| (0..t.len()).map(|i| c.text(i)).collect())
            .collect();
        (
            t.roles.clone(),
            cells,
            t.lines.iter().collect(),
            t.ragged.clone(),
        )
    }

    /// Records whose keys are all among the first record's are assembled as they are read;
    /// a later key, or a required column the first record lacks, sends the file the long way.
    /// Both ways give the table worked out by hand.
    #[test]
    fn records_read_as_they_come_give_the_table_the_long_way_gives() {
        let (_dir, pipeline) = crate::config::one_source("projects");
        let source = pipeline.sources[0].clone();
        let texts = [
            r#"{"id": "P1", "amount": 5, "area": "D1", "start": "2021-01-01"}"#,
            r#"{"area": "D2", "id": "P2", "amount": 2.50, "start": "2021-02-01", "amount": -1}"#,
            "[1]",
            r#"{"id": "P3", "amount": 1e3}"#,
        ];
        let long_way = |texts: &[(u64, &str)]| {
            let rows: Vec<Row> = texts.iter().map(|&(l, t)| (l, fields_in(t))).collect();
            view(&table(&source, &rows, 0).unwrap())
        };
        let numbered: Vec<(u64, &str)> = (1..).zip(texts).collect();
        let fast = as_read(&source, &numbered, 0).expect("every key is the first record's");
        let fast = view(&fast);
        assert_eq!(fast, long_way(&numbered));
        assert_eq!(fast, view(&table_of_texts(&source, &numbered, 0).unwrap()));
        let s = |v: &[Option<&str>]| v.iter().map(|c| c.map(String::from)).collect::<Vec<_>>();
        let (roles, cells, lines, ragged) = &fast;
        let at = |role: &str| &cells[roles.iter().position(|r| r == role).unwrap()];
        assert_eq!(at("id"), &s(&[Some("P1"), Some("P2"), None, Some("P3")]));
        // The second record's `amount` is given twice: the last, -1, is kept (as text, for
        // the contract to reject); 1e3 is the number 1000.
        assert_eq!(
            at("amount"),
            &s(&[Some("5"), Some("-1"), None, Some("1000")])
        );
        assert_eq!(lines, &[1, 2, 3, 4]);
        assert_eq!(ragged, &[(3, 0)]);

        // A later key the first record lacks.
        let later = [texts[0], r#"{"id": "P2", "title": "t"}"#];
        let numbered: Vec<(u64, &str)> = (1..).zip(later).collect();
        assert!(as_read(&source, &numbered, 0).is_none());
        let (roles, cells, ..) = view(&table_of_texts(&source, &numbered, 0).unwrap());
        let title = roles.iter().position(|r| r == "title").unwrap();
        assert_eq!(cells[title], s(&[None, Some("t")]));
        // A required column (`start`) only a later record has.
        let late = [r#"{"id": "P1", "amount": 5, "area": "D1"}"#, texts[1]];
        let numbered: Vec<(u64, &str)> = (1..).zip(late).collect();
        assert!(as_read(&source, &numbered, 0).is_none());
        let (roles, cells, ..) = view(&table_of_texts(&source, &numbered, 0).unwrap());
        let start = roles.iter().position(|r| r == "start").unwrap();
        assert_eq!(cells[start], s(&[None, Some("2021-02-01")]));
    }
}

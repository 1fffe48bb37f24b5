//! JSON arrays of records, NDJSON (one record per line), 360Giving's JSON form and OCDS
//! packages (compiled by `ocds`), as records under the column names of their flat CSV forms.
//! Nested values are kept as JSON text.

use serde_json::Value;

use super::{records, IngestError, Pointers, RawTable};
use crate::config::{Format, Location, Source};

/// A record and its line (or record number); `None` for one that is not an object.
type Record = (u64, Option<serde_json::Map<String, Value>>);

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The records of a JSON file: a top-level array, or the first array inside a top-level object
/// (`{"data": [...]}`), with that array's key.
fn array_of(source: &Source, doc: Value) -> Result<(Option<String>, Vec<Value>), IngestError> {
    match doc {
        Value::Array(a) => Ok((None, a)),
        Value::Object(o) => {
            // At most a line of its keys, never the file.
            let keys: Vec<String> = o.keys().take(12).cloned().collect();
            o.into_iter()
                .find_map(|(k, v)| match v {
                    Value::Array(a) => Some((Some(k), a)),
                    _ => None,
                })
                .ok_or_else(|| {
                    IngestError::parse(
                        source,
                        1,
                        format!(
                            "the JSON holds no array of records: its top-level object has {}",
                            match keys.is_empty() {
                                true => "no keys".to_string(),
                                false => format!("the keys {}", keys.join(", ")),
                            }
                        ),
                    )
                })
        }
        _ => Err(IngestError::parse(
            source,
            1,
            "the JSON is not an array of records".into(),
        )),
    }
}

/// Header (keys in order of first appearance) and rows from records.
fn table(source: &Source, records: Vec<Record>, bytes: u64) -> Result<RawTable, IngestError> {
    let mut header: Vec<String> = Vec::new();
    for (_, r) in &records {
        for k in r.iter().flat_map(|r| r.keys()) {
            if !header.contains(k) {
                header.push(k.clone());
            }
        }
    }
    if header.is_empty() {
        return Err(IngestError::NoHeader {
            source_name: source.name.clone(),
            path: source.resolved.clone(),
        });
    }
    let rows = records.into_iter().map(|(line, r)| {
        // A record that is not an object is a row with no fields: the contract rejects it.
        let fields = match r {
            Some(r) => header.iter().map(|h| r.get(h).and_then(text)).collect(),
            None => Vec::new(),
        };
        Ok((line, fields))
    });
    let h = header.clone();
    records::assemble(source, &h, rows, bytes)
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
    rows: Vec<serde_json::Map<String, Value>>,
    bytes: u64,
) -> Result<Option<RawTable>, IngestError> {
    if rows.is_empty() {
        return Ok(None);
    }
    let records = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i as u64 + 1, Some(r)))
        .collect();
    table(source, records, bytes).map(Some)
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
    let records: Vec<Record> = match source.format {
        Format::Ndjson => {
            let mut out = Vec::new();
            for (i, line) in utf8.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                // A line that is not a JSON object is kept as a row without fields, so that it
                // is rejected with its line number rather than lost.
                out.push((
                    i as u64 + 1,
                    serde_json::from_str::<Value>(line)
                        .ok()
                        .and_then(|v| v.as_object().cloned()),
                ));
            }
            out
        }
        Format::Ocds => {
            let package = super::ocds::package(source, utf8)?;
            let rows = super::ocds::records(source, &package);
            return ocds_table(source, rows, bytes.len() as u64)?
                .ok_or_else(|| no_awards(source, &package));
        }
        Format::Giving360 => {
            let doc: Value = serde_json::from_str(utf8)
                .map_err(|e| IngestError::parse(source, e.line(), e.to_string()))?;
            array = Some(doc.is_object().then(|| "grants".to_string()));
            titles = true;
            giving360_records(source, doc)?
        }
        _ => {
            let doc: Value = serde_json::from_str(utf8)
                .map_err(|e| IngestError::parse(source, e.line(), e.to_string()))?;
            let (key, items) = array_of(source, doc)?;
            array = Some(key);
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i as u64 + 1, v.as_object().cloned()))
                .collect()
        }
    };
    let n = records.len();
    let mut raw = table(source, records, bytes.len() as u64)?;
    let fields = raw
        .columns
        .iter()
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
        index: (0..n as u32).collect(),
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

//! JSON arrays of records, NDJSON (one record per line), and OCDS release packages flattened
//! to the column names of the standard's flattened CSV. Nested values are kept as JSON text.

use serde_json::Value;

use super::{records, IngestError, RawTable};
use crate::config::{Format, Location, Source};

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The records of a JSON file: a top-level array, or the first array inside a top-level object
/// (`{"data": [...]}`).
fn array_of(source: &Source, doc: Value) -> Result<Vec<Value>, IngestError> {
    match doc {
        Value::Array(a) => Ok(a),
        Value::Object(o) => o
            .into_iter()
            .find_map(|(_, v)| match v {
                Value::Array(a) => Some(a),
                _ => None,
            })
            .ok_or_else(|| {
                IngestError::parse(source, 1, "the JSON holds no array of records".into())
            }),
        _ => Err(IngestError::parse(
            source,
            1,
            "the JSON is not an array of records".into(),
        )),
    }
}

/// Header (keys in order of first appearance) and rows from records.
fn table(
    source: &Source,
    records: Vec<(u64, Option<serde_json::Map<String, Value>>)>,
    bytes: u64,
) -> Result<RawTable, IngestError> {
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

pub fn read(source: &Source, bytes: &[u8]) -> Result<RawTable, IngestError> {
    let utf8 =
        std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).map_err(|e| {
            IngestError::Encoding {
                source_name: source.name.clone(),
                location: Location {
                    file: source.resolved.clone(),
                    line: bytes[..e.valid_up_to()]
                        .iter()
                        .filter(|b| **b == b'\n')
                        .count()
                        + 1,
                    column: 1,
                },
            }
        })?;
    let records: Vec<(u64, Option<serde_json::Map<String, Value>>)> = match source.format {
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
            let doc: Value = serde_json::from_str(utf8)
                .map_err(|e| IngestError::parse(source, e.line(), e.to_string()))?;
            ocds_records(source, &doc)
        }
        _ => {
            let doc: Value = serde_json::from_str(utf8)
                .map_err(|e| IngestError::parse(source, e.line(), e.to_string()))?;
            array_of(source, doc)?
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i as u64 + 1, v.as_object().cloned()))
                .collect()
        }
    };
    table(source, records, bytes.len() as u64)
}

/// One record per award of every release (a record package's compiled releases too), with the
/// flattened CSV's column names. An award with several suppliers takes the first one.
fn ocds_records(
    source: &Source,
    doc: &Value,
) -> Vec<(u64, Option<serde_json::Map<String, Value>>)> {
    let releases: Vec<&Value> = match doc.get("releases").and_then(Value::as_array) {
        Some(r) => r.iter().collect(),
        None => doc
            .get("records")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|r| r.get("compiledRelease")).collect())
            .unwrap_or_default(),
    };
    let mut out = Vec::new();
    let mut n = 0;
    for release in releases {
        for award in release
            .get("awards")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            n += 1;
            let mut r = serde_json::Map::new();
            let mut put = |k: &str, v: Option<&Value>| {
                if let Some(v) = v {
                    r.insert(k.to_string(), v.clone());
                }
            };
            put("ocid", release.get("ocid"));
            put("id", release.get("id"));
            put("buyer/id", release.pointer("/buyer/id"));
            put("buyer/name", release.pointer("/buyer/name"));
            put("awards/0/id", award.get("id"));
            put("awards/0/date", award.get("date"));
            put("awards/0/value/amount", award.pointer("/value/amount"));
            put("awards/0/value/currency", award.pointer("/value/currency"));
            let supplier = award.pointer("/suppliers/0");
            put(
                "awards/0/suppliers/0/id",
                supplier.and_then(|s| s.get("id")),
            );
            put(
                "awards/0/suppliers/0/name",
                supplier.and_then(|s| s.get("name")),
            );
            if !source.social_enterprises.is_empty() {
                let id = supplier
                    .and_then(|s| s.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let name = supplier
                    .and_then(|s| s.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let social = source
                    .social_enterprises
                    .iter()
                    .any(|x| x == id || x == name);
                r.insert(
                    "supplier_type".into(),
                    Value::from(if social { "social_enterprise" } else { "other" }),
                );
            }
            out.push((n, Some(r)));
        }
    }
    out
}

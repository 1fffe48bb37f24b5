//! OCDS packages as publishers release them: release packages are compiled per contracting
//! process (`ocid`) by the standard's merge rules, record packages give their
//! `compiledRelease` (or their releases, compiled here), and each compiled process becomes one
//! row per award, plus one per contract that no award in the package names. OCDS 1.0 packages
//! (no `version`) read as 1.1 ones do.
//!
//! The rows carry the flattened CSV's column names for the roles (`awards/0/id`, `buyer/name`,
//! `awards/0/value/amount`, ...), so one column map fits both forms, and the procurement
//! table's own fields (`ocid`, `award_id`, `contract_id`, `date_from`, ...).

use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::IngestError;
use crate::config::Source;

/// A package as slices of its text: each release and record is parsed only when its process
/// is compiled, and dropped after, so that memory holds the file's text, an index of its
/// releases and one process at a time, not a tree of the whole package.
#[derive(serde::Deserialize, Default)]
pub struct Package<'a> {
    #[serde(borrow, default)]
    releases: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    records: Option<Vec<&'a RawValue>>,
}

impl Package<'_> {
    /// (releases, records), for a message about a package with nothing to read.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.releases.as_ref().map_or(0, Vec::len),
            self.records.as_ref().map_or(0, Vec::len),
        )
    }
}

/// Reads a package's outline: where its releases and records are in the text.
pub fn package<'a>(source: &Source, text: &'a str) -> Result<Package<'a>, IngestError> {
    serde_json::from_str(text).map_err(|e| {
        IngestError::parse(
            source,
            e.line(),
            format!("not an OCDS release or record package: {e}"),
        )
    })
}

/// What grouping needs of a release: its `ocid` and `date`, read without the rest.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    ocid: Option<&'a RawValue>,
    #[serde(borrow, default)]
    date: Option<&'a RawValue>,
}

/// A JSON string's text (an `ocid`, a date); anything else, or a string with escapes, read
/// in full.
fn raw_text(raw: Option<&RawValue>) -> std::borrow::Cow<'_, str> {
    let Some(raw) = raw else {
        return "".into();
    };
    let t = raw.get();
    match t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => inner.into(),
        _ => match serde_json::from_str::<Value>(t) {
            Ok(Value::String(s)) => s.into(),
            _ => "".into(),
        },
    }
}

/// One release of a group: its date, the file it is in, and its text.
type Release<'a> = (std::borrow::Cow<'a, str>, usize, &'a RawValue);

/// A compiled process's rows, each a record of the flattened names.
pub fn records(source: &Source, package: &Package) -> Vec<Map<String, Value>> {
    records_across(source, std::slice::from_ref(package))
        .pop()
        .unwrap_or_default()
}

/// The rows of several packages read as one source (a glob): releases of one `ocid` are
/// compiled together whichever files hold them, and each process's rows go to the file of
/// its latest release. Gives each file's rows, in file order; processes in the order their
/// `ocid` first appears.
pub fn records_across(source: &Source, packages: &[Package]) -> Vec<Vec<Map<String, Value>>> {
    let mut out = vec![Vec::new(); packages.len()];
    // Record packages are compiled already; their processes stay with their file.
    for (f, p) in packages.iter().enumerate() {
        for record in p.records.iter().flatten() {
            if let Some(compiled) = from_record(record) {
                rows(source, &compiled, &mut out[f]);
            }
        }
    }
    let mut order: Vec<std::borrow::Cow<str>> = Vec::new();
    let mut by_ocid: HashMap<std::borrow::Cow<str>, Vec<Release>> = HashMap::new();
    for (f, p) in packages.iter().enumerate() {
        for r in p.releases.iter().flatten() {
            let head: Head = serde_json::from_str(r.get()).unwrap_or(Head {
                ocid: None,
                date: None,
            });
            let ocid = raw_text(head.ocid);
            if !by_ocid.contains_key(&ocid) {
                order.push(ocid.clone());
            }
            by_ocid
                .entry(ocid)
                .or_default()
                .push((raw_text(head.date), f, r));
        }
    }
    for ocid in order {
        let mut group = by_ocid.remove(&ocid).unwrap_or_default();
        // A stable sort: releases of the same date keep the package's order.
        group.sort_by(|a, b| a.0.cmp(&b.0));
        // The file of the latest release; of two as late, the later file.
        let file = group
            .iter()
            .max_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)))
            .map_or(0, |r| r.1);
        let compiled = compile_sorted(
            group
                .iter()
                .filter_map(|r| serde_json::from_str(r.2.get()).ok()),
        );
        rows(source, &compiled, &mut out[file]);
    }
    out
}

/// A record's process: its `compiledRelease`, else its releases compiled.
fn from_record(record: &RawValue) -> Option<Value> {
    let mut r: Value = serde_json::from_str(record.get()).ok()?;
    match r.get_mut("compiledRelease").map(Value::take) {
        Some(c) if c.is_object() => Some(c),
        _ => match r.get_mut("releases").map(Value::take) {
            Some(Value::Array(rs)) => Some(compile(
                rs.into_iter().filter(|r| r.get("ocid").is_some()).collect(),
            )),
            _ => None,
        },
    }
}

/// One process's releases merged in date order: the latest release wins field by field.
pub fn compile(mut releases: Vec<Value>) -> Value {
    // A stable sort: releases of the same date keep the package's order.
    releases.sort_by(|a, b| date_of(a).cmp(date_of(b)));
    compile_sorted(releases.into_iter())
}

/// Releases already in date order, merged.
fn compile_sorted(releases: impl Iterator<Item = Value>) -> Value {
    let mut compiled = Value::Object(Map::new());
    for r in releases {
        merge(&mut compiled, r);
    }
    compiled
}

fn date_of(v: &Value) -> &str {
    v.get("date").and_then(Value::as_str).unwrap_or("")
}

/// OCDS's merge: objects merge key by key (a null removes the key), arrays of objects that
/// all have an `id` merge item by id, and anything else is replaced by the later value.
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(&k);
                } else if let Some(old) = a.get_mut(&k) {
                    merge(old, v);
                } else {
                    a.insert(k, v);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if identified(a) && identified(&b) => {
            for item in b {
                let id = item.get("id").map(id_text);
                match a.iter_mut().find(|x| x.get("id").map(id_text) == id) {
                    Some(old) => merge(old, item),
                    None => a.push(item),
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Whether every item is an object with an `id` (an empty array counts).
fn identified(items: &[Value]) -> bool {
    items
        .iter()
        .all(|i| i.get("id").is_some_and(|id| !id.is_null()))
}

/// An id as text: publishers write ids as strings or numbers.
fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The rows of one compiled process: one per award, one per contract no award names.
fn rows(source: &Source, c: &Value, out: &mut Vec<Map<String, Value>>) {
    let ocid = c.get("ocid").and_then(Value::as_str).unwrap_or("");
    let list = |k: &str| {
        c.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (awards, contracts) = (list("awards"), list("contracts"));
    let award_ids: Vec<String> = awards
        .iter()
        .filter_map(|a| a.get("id").map(id_text))
        .collect();
    for a in &awards {
        let award_id = a.get("id").map(id_text);
        let contract = contracts.iter().find(|k| {
            k.get("awardID").map(id_text).is_some() && k.get("awardID").map(id_text) == award_id
        });
        let value = a
            .get("value")
            .filter(|v| v.get("amount").is_some_and(|x| !x.is_null()))
            .or_else(|| contract.and_then(|k| k.get("value")));
        let (date, from) = match (a.get("date"), contract.and_then(|k| k.get("dateSigned"))) {
            (Some(d), _) if !d.is_null() => (Some(d), "award"),
            (_, Some(d)) if !d.is_null() => (Some(d), "contract"),
            _ => (c.get("date"), "release"),
        };
        let supplier = a.pointer("/suppliers/0");
        let key = format!("{ocid}/{}", award_id.clone().unwrap_or_default());
        out.push(row(Row {
            source,
            process: c,
            key,
            award_id,
            contract_id: contract.and_then(|k| k.get("id")).map(id_text),
            value,
            date,
            from,
            supplier,
            contract,
        }));
    }
    for k in &contracts {
        let named = k
            .get("awardID")
            .map(id_text)
            .is_some_and(|a| award_ids.contains(&a));
        if named {
            continue;
        }
        let contract_id = k.get("id").map(id_text);
        let (date, from) = match k.get("dateSigned") {
            Some(d) if !d.is_null() => (Some(d), "contract"),
            _ => (c.get("date"), "release"),
        };
        let key = format!(
            "{ocid}/contract:{}",
            contract_id.clone().unwrap_or_default()
        );
        out.push(row(Row {
            source,
            process: c,
            key,
            award_id: None,
            contract_id,
            value: k.get("value"),
            date,
            from,
            supplier: None,
            contract: Some(k),
        }));
    }
}

/// What one row is made of.
struct Row<'a> {
    source: &'a Source,
    process: &'a Value,
    /// `ocid/award id`, or `ocid/contract:id` for a contract without an award: unique in a
    /// package, unlike award ids, which publishers number from 1 in every process.
    key: String,
    award_id: Option<String>,
    contract_id: Option<String>,
    value: Option<&'a Value>,
    date: Option<&'a Value>,
    /// Where the date comes from: `award`, `contract` (dateSigned) or `release`.
    from: &'static str,
    supplier: Option<&'a Value>,
    /// The award's contract, or the contract of a row without an award.
    contract: Option<&'a Value>,
}

/// The name of the first party with `role`.
fn party<'v>(c: &'v Value, role: &str) -> Option<&'v Value> {
    c.get("parties")?.as_array()?.iter().find_map(|p| {
        let has = p
            .get("roles")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|x| x == role));
        has.then(|| p.get("name")).flatten()
    })
}

fn row(r: Row) -> Map<String, Value> {
    let c = r.process;
    let mut m = Map::new();
    // Every column, empty where the process has no value: a row without a buyer is then a
    // reject with that reason, not a file without the column.
    let mut put = |k: &str, v: Option<Value>| {
        m.insert(k.to_string(), v.unwrap_or(Value::Null));
    };
    let text = |s: Option<String>| s.map(Value::from);
    // OCDS 1.0 names the buyer at the top; 1.1 also lists it among the parties; a package
    // with contracts only may name it as the payer of the contract's transactions.
    let buyer = c
        .pointer("/buyer/name")
        .or_else(|| party(c, "buyer"))
        .or_else(|| c.pointer("/tender/procuringEntity/name"))
        .or_else(|| {
            r.contract
                .and_then(|k| k.pointer("/implementation/transactions/0/payer/name"))
        })
        .cloned();
    let buyer_id = c
        .pointer("/buyer/id")
        .or_else(|| c.pointer("/buyer/identifier/id"))
        .cloned();
    // A contract without an award names its supplier as the payee of its transactions, or
    // the process lists it among its parties.
    let supplier_name = r
        .supplier
        .and_then(|s| s.get("name"))
        .or_else(|| {
            r.contract
                .and_then(|k| k.pointer("/implementation/transactions/0/payee/name"))
        })
        .or_else(|| match r.award_id {
            None => party(c, "supplier"),
            Some(_) => None,
        })
        .cloned();
    let supplier_id = r
        .supplier
        .and_then(|s| s.get("id").or_else(|| s.pointer("/identifier/id")))
        .map(id_text);
    // amount and currency are also the original ones (`amount_original`, `currency_original`).
    let amount = r.value.and_then(|v| v.get("amount")).cloned();
    let currency = r.value.and_then(|v| v.get("currency")).cloned();
    put("ocid", c.get("ocid").cloned());
    put("awards/0/id", Some(Value::from(r.key)));
    put("award_id", text(r.award_id));
    put("contract_id", text(r.contract_id));
    put("buyer/id", buyer_id);
    put("buyer/name", buyer);
    put("awards/0/suppliers/0/name", supplier_name.clone());
    put("awards/0/suppliers/0/id", text(supplier_id.clone()));
    put("awards/0/value/amount", amount);
    put("awards/0/value/currency", currency);
    put("awards/0/date", r.date.cloned());
    put("date_from", Some(Value::from(r.from)));
    if !r.source.social_enterprises.is_empty() {
        let name = supplier_name
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let id = supplier_id.unwrap_or_default();
        let social = r
            .source
            .social_enterprises
            .iter()
            .any(|x| (!id.is_empty() && *x == id) || (!name.is_empty() && *x == name));
        put(
            "supplier_type",
            Some(Value::from(if social {
                "social_enterprise"
            } else {
                "other"
            })),
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_latest_release_wins_field_by_field_and_arrays_merge_by_id() {
        let first = json!({"ocid": "o", "date": "2020-01-01", "tag": ["tender"],
            "buyer": {"name": "City"},
            "awards": [{"id": "1", "value": {"amount": 0.0, "currency": null}, "status": "pending"}]});
        let later = json!({"ocid": "o", "date": "2020-03-01", "tag": ["award"],
            "awards": [{"id": "1", "value": {"amount": 500.0, "currency": "EUR"}},
                       {"id": "2", "value": {"amount": 7.0, "currency": "EUR"}}]});
        // Given in the wrong order: the date decides.
        let c = compile(vec![later, first]);
        assert_eq!(c["buyer"]["name"], "City", "kept from the earlier release");
        assert_eq!(
            c["tag"],
            json!(["award"]),
            "replaced: not an array of objects with ids"
        );
        assert_eq!(c["awards"].as_array().unwrap().len(), 2);
        assert_eq!(c["awards"][0]["value"]["amount"], 500.0);
        assert_eq!(c["awards"][0]["value"]["currency"], "EUR");
        assert_eq!(
            c["awards"][0]["status"], "pending",
            "a field the later release omits"
        );
    }

    #[test]
    fn a_null_removes_a_field() {
        let a = json!({"ocid": "o", "date": "1", "tender": {"title": "x", "status": "active"}});
        let b = json!({"ocid": "o", "date": "2", "tender": {"status": null}});
        let c = compile(vec![a, b]);
        assert_eq!(c["tender"], json!({"title": "x"}));
    }

    fn source() -> Source {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(
            &file,
            "[pipeline]\nname = \"o\"\n[sources.c]\nkind = \"procurement\"\nformat = \"ocds\"\npath = \"c.json\"\n",
        )
        .unwrap();
        let p = crate::config::load(&file).unwrap();
        p.source("c").unwrap().clone()
    }

    #[test]
    fn a_package_is_read_release_by_release_in_the_order_ocids_first_appear() {
        // Process B appears first; A's releases are out of date order and one has an escaped
        // ocid, which names the same process.
        let text = r#"{"version": "1.1", "extensions": [], "releases": [
            {"ocid": "B", "date": "2021-01-01", "awards": [{"id": "1", "value": {"amount": 5, "currency": "EUR"}}]},
            {"ocid": "A", "date": "2021-05-01", "awards": [{"id": "1", "value": {"amount": 9, "currency": "EUR"}}]},
            {"ocid": "\u0041", "date": "2021-02-01", "buyer": {"name": "City"},
             "awards": [{"id": "1", "value": {"amount": 1, "currency": "EUR"}, "status": "pending"}]}
        ]}"#;
        let source = source();
        let p = package(&source, text).unwrap();
        assert_eq!(p.counts(), (3, 0));
        let rows = records(&source, &p);
        let ids: Vec<&str> = rows
            .iter()
            .map(|r| r["awards/0/id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["B/1", "A/1"]);
        // A/1: the May release's 9 wins over February's 1; February's status stays.
        assert_eq!(rows[1]["awards/0/value/amount"], json!(9));
        assert_eq!(rows[1]["buyer/name"], json!("City"));
    }

    #[test]
    fn a_text_that_is_no_package_says_so_with_its_line() {
        let source = source();
        let e = package(&source, "{\n\"releases\": 5}").err().unwrap();
        assert!(
            e.to_string()
                .contains("not an OCDS release or record package"),
            "{e}"
        );
        assert!(e.to_string().contains(":2"), "{e}");
    }
}

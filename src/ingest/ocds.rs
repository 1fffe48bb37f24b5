//! OCDS packages as publishers release them: release packages are compiled per contracting
//! process (`ocid`) by the standard's merge rules, record packages give their
//! `compiledRelease` (or their releases, compiled here), and each compiled process becomes one
//! row per award, plus one per contract that no award in the package names. OCDS 1.0 packages
//! (no `version`) read as 1.1 ones do.
//!
//! The rows carry the flattened CSV's column names for the roles (`awards/0/id`, `buyer/name`,
//! `awards/0/value/amount`, ...), so one column map fits both forms, and the procurement
//! table's own fields (`ocid`, `award_id`, `contract_id`, `date_from`, ...).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::config::Source;

/// A compiled process's rows, each a record of the flattened names.
pub fn records(source: &Source, doc: &Value) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    for compiled in processes(doc) {
        rows(source, &compiled, &mut out);
    }
    out
}

/// The rows of several packages read as one source (a glob): releases of one `ocid` are
/// compiled together whichever files hold them, and each process's rows go to the file of
/// its latest release. Gives each file's rows, in file order.
pub fn records_across(source: &Source, docs: &[Value]) -> Vec<Vec<Map<String, Value>>> {
    let mut out = vec![Vec::new(); docs.len()];
    // Record packages are compiled already; their processes stay with their file.
    let mut releases: Vec<(usize, &Value)> = Vec::new();
    for (f, doc) in docs.iter().enumerate() {
        match doc.get("releases").and_then(Value::as_array) {
            Some(rs) => releases.extend(rs.iter().map(|r| (f, r))),
            None => {
                for compiled in processes(doc) {
                    rows(source, &compiled, &mut out[f]);
                }
            }
        }
    }
    let mut order: Vec<&str> = Vec::new();
    let mut by_ocid: BTreeMap<&str, Vec<(usize, &Value)>> = BTreeMap::new();
    for (f, r) in releases {
        let ocid = r.get("ocid").and_then(Value::as_str).unwrap_or("");
        if !by_ocid.contains_key(ocid) {
            order.push(ocid);
        }
        by_ocid.entry(ocid).or_default().push((f, r));
    }
    for ocid in order {
        let group = by_ocid.remove(ocid).unwrap_or_default();
        // The file of the latest release; of two as late, the later file.
        let file = group
            .iter()
            .max_by(|a, b| date_of(a.1).cmp(date_of(b.1)).then(a.0.cmp(&b.0)))
            .map_or(0, |(f, _)| *f);
        let compiled = compile(group.into_iter().map(|(_, r)| r).collect());
        rows(source, &compiled, &mut out[file]);
    }
    out
}

/// Every contracting process of the package, compiled: releases grouped by `ocid` in the order
/// each `ocid` first appears; a record's `compiledRelease` as it is.
fn processes(doc: &Value) -> Vec<Value> {
    if let Some(records) = doc.get("records").and_then(Value::as_array) {
        return records
            .iter()
            .filter_map(|r| match r.get("compiledRelease") {
                Some(c) if c.is_object() => Some(c.clone()),
                _ => r
                    .get("releases")
                    .and_then(Value::as_array)
                    .map(|rs| compile(rs.iter().filter(|r| r.get("ocid").is_some()).collect())),
            })
            .collect();
    }
    let releases = doc
        .get("releases")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut order: Vec<&str> = Vec::new();
    let mut by_ocid: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for r in releases {
        let ocid = r.get("ocid").and_then(Value::as_str).unwrap_or("");
        if !by_ocid.contains_key(ocid) {
            order.push(ocid);
        }
        by_ocid.entry(ocid).or_default().push(r);
    }
    order
        .into_iter()
        .map(|ocid| compile(by_ocid.remove(ocid).unwrap_or_default()))
        .collect()
}

/// One process's releases merged in date order: the latest release wins field by field.
pub fn compile(mut releases: Vec<&Value>) -> Value {
    // A stable sort: releases of the same date keep the package's order.
    releases.sort_by(|a, b| date_of(a).cmp(date_of(b)));
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
fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(k);
                } else if let Some(old) = a.get_mut(k) {
                    merge(old, v);
                } else {
                    a.insert(k.clone(), v.clone());
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if identified(a) && identified(b) => {
            for item in b {
                let id = item.get("id").map(id_text);
                match a.iter_mut().find(|x| x.get("id").map(id_text) == id) {
                    Some(old) => merge(old, item),
                    None => a.push(item.clone()),
                }
            }
        }
        (slot, v) => *slot = v.clone(),
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
        let c = compile(vec![&later, &first]);
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
        let c = compile(vec![&a, &b]);
        assert_eq!(c["tender"], json!({"title": "x"}));
    }
}
